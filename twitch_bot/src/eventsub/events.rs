//! The `event` objects of the subscription types the bot uses (Twitch's EventSub subscription types reference).
//!
//! | type (version 1) | condition | scope (user token) | event |
//! |---|---|---|---|
//! | `channel.chat.message` | `broadcaster_user_id`, `user_id` (the reader) | `user:read:chat` | [`ChatMessage`] |
//! | `channel.chat.message_delete` | `broadcaster_user_id`, `user_id` | `user:read:chat` | [`MessageDelete`]: `target_user_*`, `message_id` |
//! | `channel.chat.clear_user_messages` | `broadcaster_user_id`, `user_id` | `user:read:chat` | [`ClearUserMessages`]: `target_user_*` (ban or timeout) |
//! | `channel.chat.clear` | `broadcaster_user_id`, `user_id` | `user:read:chat` | [`ChatClear`] |
//! | `channel.channel_points_custom_reward_redemption.add` | `broadcaster_user_id` (optional `reward_id`) | `channel:read:redemptions` (the broadcaster's own) | [`Redemption`] |
//! | `channel.cheer` | `broadcaster_user_id` | `bits:read` (the broadcaster's own) | [`Cheer`] |
//!
//! `channel.chat.message`'s event: `broadcaster_user_id`/`_login`/`_name`, `chatter_user_id`/`_login`/`_name`,
//! `message_id`, `message` {`text`, `fragments` [{`type`: `text`|`cheermote`|`emote`|`mention`, `text`, ...}]},
//! `message_type` (`text`, `channel_points_highlighted`, `channel_points_sub_only`, `user_intro`,
//! `power_ups_gigantified_emote`, `power_ups_message_effect`), `badges` [{`set_id`, `id`, `info`}], `cheer`
//! {`bits`} or null, `color`, `reply` or null, `channel_points_custom_reward_id` or null, and in a shared chat
//! session `source_broadcaster_user_id`/`_login`/`_name`, `source_message_id`, `source_badges` (null outside
//! one: the message was sent in this channel).
//!
//! Every field the bot does not need is ignored, and every optional field may be null or missing, so a new
//! field from Twitch never breaks parsing.

use serde::Deserialize;

use super::wire::{WireError, shape_error};

/// `channel.chat.message`: a chat message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ChatMessage {
    /// The channel's user id.
    pub broadcaster_user_id: String,
    /// The channel's login.
    pub broadcaster_user_login: String,
    /// The channel's display name.
    #[serde(default)]
    pub broadcaster_user_name: String,
    /// The sender's user id.
    pub chatter_user_id: String,
    /// The sender's login.
    pub chatter_user_login: String,
    /// The sender's display name.
    #[serde(default)]
    pub chatter_user_name: String,
    /// The message's UUID (what `channel.chat.message_delete` names).
    pub message_id: String,
    /// The text and its fragments.
    pub message: ChatText,
    /// `text`, `channel_points_highlighted`, ...
    #[serde(default)]
    pub message_type: String,
    /// The sender's badges in this channel.
    #[serde(default, deserialize_with = "null_as_default")]
    pub badges: Vec<Badge>,
    /// Bits cheered in this message.
    #[serde(default)]
    pub cheer: Option<CheerInfo>,
    /// The name colour (`#RRGGBB`, may be empty).
    #[serde(default, deserialize_with = "null_as_default")]
    pub color: String,
    /// The custom channel-points reward redeemed with this message (rewards that take text).
    #[serde(default)]
    pub channel_points_custom_reward_id: Option<String>,
    /// Shared chat: the channel the message was sent in (null or missing: this channel).
    #[serde(default)]
    pub source_broadcaster_user_id: Option<String>,
    /// Shared chat: that channel's login.
    #[serde(default)]
    pub source_broadcaster_user_login: Option<String>,
    /// Shared chat: the message's id in that channel.
    #[serde(default)]
    pub source_message_id: Option<String>,
}

impl ChatMessage {
    /// Whether the message was sent in another channel of a shared chat session (and only shown here).
    ///
    /// ```
    /// # use twitch_bot::eventsub::events::*;
    /// let mut m: ChatMessage = serde_json::from_str(r#"{"broadcaster_user_id":"1","broadcaster_user_login":"a",
    ///   "chatter_user_id":"2","chatter_user_login":"b","message_id":"m","message":{"text":"hi","fragments":[]}}"#).unwrap();
    /// assert!(!m.is_from_shared_chat());
    /// m.source_broadcaster_user_id = Some("1".into());
    /// assert!(!m.is_from_shared_chat()); // sent here, in a shared session
    /// m.source_broadcaster_user_id = Some("3".into());
    /// assert!(m.is_from_shared_chat());
    /// ```
    pub fn is_from_shared_chat(&self) -> bool {
        self.source_broadcaster_user_id
            .as_deref()
            .is_some_and(|source| !source.is_empty() && source != self.broadcaster_user_id)
    }

    /// Whether a badge with this `set_id` is present (`broadcaster`, `moderator`, `vip`, `subscriber`, ...).
    pub fn has_badge(&self, set_id: &str) -> bool {
        self.badges.iter().any(|b| b.set_id == set_id)
    }

    /// Bits cheered in this message (0 without a cheer).
    pub fn bits(&self) -> u64 {
        self.cheer.as_ref().map_or(0, |c| c.bits)
    }
}

/// `message` of a chat message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ChatText {
    /// The whole text.
    pub text: String,
    /// The text in parts (text, emote, cheermote, mention), in order.
    #[serde(default, deserialize_with = "null_as_default")]
    pub fragments: Vec<Fragment>,
}

/// One part of a chat message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Fragment {
    /// `text`, `cheermote`, `emote` or `mention`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The part's text.
    #[serde(default)]
    pub text: String,
}

/// A chat badge.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Badge {
    /// The badge set, e.g. `moderator`, `subscriber`.
    pub set_id: String,
    /// The version in the set.
    #[serde(default)]
    pub id: String,
    /// Extra information (subscriber months).
    #[serde(default, deserialize_with = "null_as_default")]
    pub info: String,
}

/// `cheer` of a chat message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CheerInfo {
    /// The number of Bits.
    pub bits: u64,
}

/// `channel.chat.message_delete`: a moderator removed one message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MessageDelete {
    /// The channel's user id.
    pub broadcaster_user_id: String,
    /// The channel's login.
    pub broadcaster_user_login: String,
    /// Whose message it was.
    pub target_user_id: String,
    /// Their login.
    pub target_user_login: String,
    /// The removed message's id.
    pub message_id: String,
}

/// `channel.chat.clear_user_messages`: a user was banned or timed out; all their messages go.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ClearUserMessages {
    /// The channel's user id.
    pub broadcaster_user_id: String,
    /// The channel's login.
    pub broadcaster_user_login: String,
    /// The banned or timed-out user's id.
    pub target_user_id: String,
    /// Their login.
    pub target_user_login: String,
}

/// `channel.chat.clear`: a moderator cleared the whole chat.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ChatClear {
    /// The channel's user id.
    pub broadcaster_user_id: String,
    /// The channel's login.
    pub broadcaster_user_login: String,
}

/// `channel.channel_points_custom_reward_redemption.add`: a viewer redeemed a custom reward.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Redemption {
    /// The redemption's id.
    pub id: String,
    /// The channel's user id.
    pub broadcaster_user_id: String,
    /// The channel's login.
    pub broadcaster_user_login: String,
    /// The viewer's user id.
    pub user_id: String,
    /// The viewer's login.
    pub user_login: String,
    /// The viewer's display name.
    #[serde(default)]
    pub user_name: String,
    /// What the viewer typed (empty for rewards without text).
    #[serde(default, deserialize_with = "null_as_default")]
    pub user_input: String,
    /// `unfulfilled`, `fulfilled`, `canceled`, `unknown`.
    #[serde(default)]
    pub status: String,
    /// The reward, as it was when redeemed.
    pub reward: Reward,
    /// When (RFC 3339).
    #[serde(default)]
    pub redeemed_at: String,
}

/// `reward` of a redemption.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Reward {
    /// The reward's id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its cost in channel points.
    #[serde(default)]
    pub cost: u64,
    /// Its prompt.
    #[serde(default, deserialize_with = "null_as_default")]
    pub prompt: String,
}

/// `channel.cheer`: a viewer cheered Bits.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Cheer {
    /// Whether the cheer was anonymous (then the user fields are null).
    #[serde(default)]
    pub is_anonymous: bool,
    /// The viewer's user id (null when anonymous).
    #[serde(default)]
    pub user_id: Option<String>,
    /// The viewer's login (null when anonymous).
    #[serde(default)]
    pub user_login: Option<String>,
    /// The channel's user id.
    pub broadcaster_user_id: String,
    /// The channel's login.
    pub broadcaster_user_login: String,
    /// The message sent with the cheer.
    #[serde(default, deserialize_with = "null_as_default")]
    pub message: String,
    /// The number of Bits.
    pub bits: u64,
}

/// The event of a notification, by subscription type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotificationEvent {
    /// `channel.chat.message`.
    ChatMessage(ChatMessage),
    /// `channel.chat.message_delete`.
    MessageDelete(MessageDelete),
    /// `channel.chat.clear_user_messages`.
    ClearUserMessages(ClearUserMessages),
    /// `channel.chat.clear`.
    ChatClear(ChatClear),
    /// `channel.channel_points_custom_reward_redemption.add`.
    Redemption(Redemption),
    /// `channel.cheer`.
    Cheer(Cheer),
    /// Any other subscription type (the event is not kept).
    Other {
        /// The subscription type.
        subscription_type: String,
    },
}

impl NotificationEvent {
    /// Types `event` by `subscription_type`.
    pub(crate) fn parse(
        subscription_type: &str,
        event: serde_json::Value,
    ) -> Result<Self, WireError> {
        fn typed<T: serde::de::DeserializeOwned>(
            kind: &str,
            event: serde_json::Value,
        ) -> Result<T, WireError> {
            serde_json::from_value(event).map_err(|e| shape_error(&format!("{kind} event"), e))
        }
        let k = subscription_type;
        Ok(match k {
            types::CHAT_MESSAGE => NotificationEvent::ChatMessage(typed(k, event)?),
            types::MESSAGE_DELETE => NotificationEvent::MessageDelete(typed(k, event)?),
            types::CLEAR_USER_MESSAGES => NotificationEvent::ClearUserMessages(typed(k, event)?),
            types::CHAT_CLEAR => NotificationEvent::ChatClear(typed(k, event)?),
            types::REDEMPTION_ADD => NotificationEvent::Redemption(typed(k, event)?),
            types::CHEER => NotificationEvent::Cheer(typed(k, event)?),
            other => NotificationEvent::Other {
                subscription_type: other.chars().take(100).collect(),
            },
        })
    }
}

/// The subscription type names, as Twitch spells them.
pub mod types {
    /// A chat message.
    pub const CHAT_MESSAGE: &str = "channel.chat.message";
    /// One message removed.
    pub const MESSAGE_DELETE: &str = "channel.chat.message_delete";
    /// A user's messages removed (ban, timeout).
    pub const CLEAR_USER_MESSAGES: &str = "channel.chat.clear_user_messages";
    /// The whole chat cleared.
    pub const CHAT_CLEAR: &str = "channel.chat.clear";
    /// A custom channel-points reward redeemed.
    pub const REDEMPTION_ADD: &str = "channel.channel_points_custom_reward_redemption.add";
    /// Bits cheered.
    pub const CHEER: &str = "channel.cheer";

    /// The scope a user token needs for a subscription type (`None` for a type this crate does not use).
    ///
    /// ```
    /// use twitch_bot::eventsub::events::types;
    /// assert_eq!(types::required_scope(types::CHEER), Some("bits:read"));
    /// ```
    pub fn required_scope(kind: &str) -> Option<&'static str> {
        match kind {
            CHAT_MESSAGE | MESSAGE_DELETE | CLEAR_USER_MESSAGES | CHAT_CLEAR => {
                Some("user:read:chat")
            }
            REDEMPTION_ADD => Some("channel:read:redemptions"),
            CHEER => Some("bits:read"),
            _ => None,
        }
    }
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eventsub::wire::{Message, parse_message};

    /// Wraps a documented `payload` (subscription + event) into a notification envelope.
    fn notification(kind: &str, payload: &str) -> String {
        format!(
            r#"{{"metadata":{{"message_id":"befa7b53-d79d-478f-86b9-120f112b044e","message_type":"notification",
            "message_timestamp":"2023-11-06T18:11:47.492253549Z","subscription_type":"{kind}",
            "subscription_version":"1"}},"payload":{payload}}}"#
        )
    }

    fn event_of(kind: &str, payload: &str) -> NotificationEvent {
        match parse_message(&notification(kind, payload)).unwrap() {
            Message::Notification { event, .. } => *event,
            other => panic!("not a notification: {other:?}"),
        }
    }

    // Twitch's example for channel.chat.message (EventSub subscription types reference).
    pub(crate) const CHAT_MESSAGE_PAYLOAD: &str = r##"{
        "subscription": {
            "id": "0b7f3361-672b-4d39-b307-dd5b576c9b27",
            "status": "enabled",
            "type": "channel.chat.message",
            "version": "1",
            "condition": {"broadcaster_user_id": "1971641", "user_id": "2914196"},
            "transport": {"method": "websocket", "session_id": "AgoQHR3s6Mb4T8GFB1l3DlPfiRIGY2VsbC1h"},
            "created_at": "2023-11-06T18:11:47.492253549Z",
            "cost": 0
        },
        "event": {
            "broadcaster_user_id": "1971641",
            "broadcaster_user_login": "streamer",
            "broadcaster_user_name": "streamer",
            "chatter_user_id": "4145994",
            "chatter_user_login": "viewer32",
            "chatter_user_name": "viewer32",
            "message_id": "cc106a89-1814-919d-454c-f4f2f970aae7",
            "message": {
                "text": "Hi chat",
                "fragments": [
                    {"type": "text", "text": "Hi chat", "cheermote": null, "emote": null, "mention": null}
                ]
            },
            "color": "#00FF7F",
            "badges": [
                {"set_id": "moderator", "id": "1", "info": ""},
                {"set_id": "subscriber", "id": "12", "info": "16"},
                {"set_id": "sub-gifter", "id": "1", "info": ""}
            ],
            "message_type": "text",
            "cheer": null,
            "reply": null,
            "channel_points_custom_reward_id": null,
            "source_broadcaster_user_id": null,
            "source_broadcaster_user_login": null,
            "source_broadcaster_user_name": null,
            "source_message_id": null,
            "source_badges": null
        }
    }"##;

    #[test]
    fn chat_message_as_documented() {
        let NotificationEvent::ChatMessage(m) = event_of(types::CHAT_MESSAGE, CHAT_MESSAGE_PAYLOAD)
        else {
            panic!("not a chat message");
        };
        assert_eq!(m.broadcaster_user_login, "streamer");
        assert_eq!(m.chatter_user_login, "viewer32");
        assert_eq!(m.chatter_user_id, "4145994");
        assert_eq!(m.message_id, "cc106a89-1814-919d-454c-f4f2f970aae7");
        assert_eq!(m.message.text, "Hi chat");
        assert_eq!(m.message.fragments[0].kind, "text");
        assert!(m.has_badge("moderator"));
        assert!(!m.has_badge("vip"));
        assert_eq!(m.bits(), 0);
        assert!(!m.is_from_shared_chat());
    }

    #[test]
    fn shared_chat_message_as_documented() {
        let payload = CHAT_MESSAGE_PAYLOAD
            .replace(
                r#""source_broadcaster_user_id": null"#,
                r#""source_broadcaster_user_id": "112233""#,
            )
            .replace(
                r#""source_broadcaster_user_login": null"#,
                r#""source_broadcaster_user_login": "streamer33""#,
            )
            .replace(
                r#""source_message_id": null"#,
                r#""source_message_id": "e03f6d5d-8ec8-4c63-b473-9e5fe61e289b""#,
            )
            .replace(
                r#""source_badges": null"#,
                r#""source_badges": [{"set_id": "subscriber", "id": "3", "info": "3"}]"#,
            );
        let NotificationEvent::ChatMessage(m) = event_of(types::CHAT_MESSAGE, &payload) else {
            panic!("not a chat message");
        };
        assert!(m.is_from_shared_chat());
        assert_eq!(
            m.source_broadcaster_user_login.as_deref(),
            Some("streamer33")
        );
    }

    #[test]
    fn cheer_and_reward_in_chat_message() {
        let payload = CHAT_MESSAGE_PAYLOAD
            .replace(r#""cheer": null"#, r#""cheer": {"bits": 100}"#)
            .replace(
                r#""channel_points_custom_reward_id": null"#,
                r#""channel_points_custom_reward_id": "9001""#,
            );
        let NotificationEvent::ChatMessage(m) = event_of(types::CHAT_MESSAGE, &payload) else {
            panic!("not a chat message");
        };
        assert_eq!(m.bits(), 100);
        assert_eq!(m.channel_points_custom_reward_id.as_deref(), Some("9001"));
    }

    #[test]
    fn message_delete_as_documented() {
        let payload = r#"{
            "subscription": {"id": "f1c2a387-161a-49f9-a165-0f21d7a4e1c4", "type": "channel.chat.message_delete",
                "version": "1", "status": "enabled", "cost": 0,
                "condition": {"broadcaster_user_id": "1337", "user_id": "9001"},
                "transport": {"method": "webhook", "callback": "https://example.com/webhooks/callback"},
                "created_at": "2023-04-11T10:11:12.123Z"},
            "event": {"broadcaster_user_id": "1337", "broadcaster_user_name": "Cool_User",
                "broadcaster_user_login": "cool_user", "target_user_id": "7734", "target_user_name": "Uncool_viewer",
                "target_user_login": "uncool_viewer", "message_id": "ab24e0b0-2260-4bac-94e4-05eedd4ecd0e"}
        }"#;
        let NotificationEvent::MessageDelete(d) = event_of(types::MESSAGE_DELETE, payload) else {
            panic!("not a delete");
        };
        assert_eq!(d.target_user_login, "uncool_viewer");
        assert_eq!(d.message_id, "ab24e0b0-2260-4bac-94e4-05eedd4ecd0e");
    }

    #[test]
    fn clear_user_messages_and_clear_as_documented() {
        let payload = r#"{
            "subscription": {"id": "f1c2a387-161a-49f9-a165-0f21d7a4e1c4", "type": "channel.chat.clear_user_messages",
                "version": "1", "status": "enabled", "cost": 0,
                "condition": {"broadcaster_user_id": "1337", "user_id": "9001"},
                "transport": {"method": "webhook", "callback": "https://example.com/webhooks/callback"},
                "created_at": "2023-04-11T10:11:12.123Z"},
            "event": {"broadcaster_user_id": "1337", "broadcaster_user_name": "Cool_User",
                "broadcaster_user_login": "cool_user", "target_user_id": "7734", "target_user_name": "Uncool_viewer",
                "target_user_login": "uncool_viewer"}
        }"#;
        let NotificationEvent::ClearUserMessages(c) = event_of(types::CLEAR_USER_MESSAGES, payload)
        else {
            panic!("not a clear_user_messages");
        };
        assert_eq!(c.target_user_id, "7734");
        let payload = r#"{
            "subscription": {"id": "f1c2a387-161a-49f9-a165-0f21d7a4e1c4", "type": "channel.chat.clear",
                "version": "1", "status": "enabled", "cost": 0,
                "condition": {"broadcaster_user_id": "1337", "user_id": "9001"},
                "transport": {"method": "webhook", "callback": "https://example.com/webhooks/callback"},
                "created_at": "2023-04-11T10:11:12.123Z"},
            "event": {"broadcaster_user_id": "1337", "broadcaster_user_name": "Cool_User",
                "broadcaster_user_login": "cool_user"}
        }"#;
        let NotificationEvent::ChatClear(c) = event_of(types::CHAT_CLEAR, payload) else {
            panic!("not a clear");
        };
        assert_eq!(c.broadcaster_user_login, "cool_user");
    }

    #[test]
    fn redemption_as_documented() {
        let payload = r#"{
            "subscription": {"id": "f1c2a387-161a-49f9-a165-0f21d7a4e1c4",
                "type": "channel.channel_points_custom_reward_redemption.add", "version": "1",
                "status": "enabled", "cost": 0, "condition": {"broadcaster_user_id": "1337"},
                "transport": {"method": "webhook", "callback": "https://example.com/webhooks/callback"},
                "created_at": "2019-11-16T10:11:12.123Z"},
            "event": {"id": "17fa2df1-ad76-4804-bfa5-a40ef63efe63", "broadcaster_user_id": "1337",
                "broadcaster_user_login": "cool_user", "broadcaster_user_name": "Cool_User", "user_id": "9001",
                "user_login": "cooler_user", "user_name": "Cooler_User", "user_input": "pogchamp",
                "status": "unfulfilled",
                "reward": {"id": "92af127c-7326-4483-a52b-b0da0be61c01", "title": "title", "cost": 100,
                    "prompt": "reward prompt"},
                "redeemed_at": "2020-07-15T17:16:03.17106713Z"}
        }"#;
        let NotificationEvent::Redemption(r) = event_of(types::REDEMPTION_ADD, payload) else {
            panic!("not a redemption");
        };
        assert_eq!(r.user_login, "cooler_user");
        assert_eq!(r.user_input, "pogchamp");
        assert_eq!(r.reward.title, "title");
        assert_eq!(r.reward.id, "92af127c-7326-4483-a52b-b0da0be61c01");
    }

    #[test]
    fn cheer_as_documented_and_anonymous() {
        let payload = r#"{
            "subscription": {"id": "f1c2a387-161a-49f9-a165-0f21d7a4e1c4", "type": "channel.cheer",
                "version": "1", "status": "enabled", "cost": 0, "condition": {"broadcaster_user_id": "1337"},
                "transport": {"method": "webhook", "callback": "https://example.com/webhooks/callback"},
                "created_at": "2019-11-16T10:11:12.123Z"},
            "event": {"is_anonymous": false, "user_id": "1234", "user_login": "cool_user",
                "user_name": "Cool_User", "broadcaster_user_id": "1337", "broadcaster_user_login": "cooler_user",
                "broadcaster_user_name": "Cooler_User", "message": "pogchamp", "bits": 1000}
        }"#;
        let NotificationEvent::Cheer(c) = event_of(types::CHEER, payload) else {
            panic!("not a cheer");
        };
        assert_eq!((c.bits, c.user_login.as_deref()), (1000, Some("cool_user")));
        let anonymous = payload
            .replace(r#""is_anonymous": false"#, r#""is_anonymous": true"#)
            .replace(r#""user_id": "1234""#, r#""user_id": null"#)
            .replace(r#""user_login": "cool_user""#, r#""user_login": null"#);
        let NotificationEvent::Cheer(c) = event_of(types::CHEER, &anonymous) else {
            panic!("not a cheer");
        };
        assert!(c.is_anonymous && c.user_id.is_none());
    }

    #[test]
    fn a_malformed_event_names_its_type_and_field() {
        let payload = CHAT_MESSAGE_PAYLOAD.replace(r#""chatter_user_login": "viewer32","#, "");
        let err = parse_message(&notification(types::CHAT_MESSAGE, &payload)).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("channel.chat.message event"), "{text}");
        assert!(text.contains("chatter_user_login"), "{text}");
        let payload = CHAT_MESSAGE_PAYLOAD.replace(r#""cheer": null"#, r#""cheer": {"bits": -5}"#);
        assert!(parse_message(&notification(types::CHAT_MESSAGE, &payload)).is_err());
    }
}
