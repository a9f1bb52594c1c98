//! EventSub notifications → what the engine reads: the transport-neutral [`chatplay::ChatMessage`] and
//! [`chatplay::Moderation`], and [`chatplay::Redemption`].
//!
//! | notification | becomes |
//! |---|---|
//! | `channel.chat.message` | [`ChatMessage`](chatplay::ChatMessage): `broadcaster_user_login` → channel, `chatter_user_*` → sender, badges `broadcaster`/`moderator`/`vip`/`subscriber`/`founder` → [`Roles`], `cheer.bits` → `bits`, `channel_points_custom_reward_id` → `custom_reward_id`, `source_broadcaster_user_id` (when another channel's) → `source_channel_id`, a `/me` action → `is_action` |
//! | `channel.chat.message_delete` | [`Moderation::DeleteMessage`] |
//! | `channel.chat.clear_user_messages` | [`Moderation::ClearUser`] (by user id, then login) |
//! | `channel.chat.clear` | [`Moderation::ClearChannel`] |
//! | `channel.channel_points_custom_reward_redemption.add` | [`Redemption`](chatplay::Redemption), with the reward's title |
//!
//! **One cheer or redemption never counts twice.** Bits weights come only from the chat message's
//! `cheer.bits`: the bot does not subscribe to `channel.cheer`, which reports the same Bits again. When the
//! redemption subscription is on, a chat message carrying a `channel_points_custom_reward_id` is not passed
//! to the engine ([`chat_counts`]): the redemption event carries the same input text, and is the one that
//! also covers rewards without text.

use std::borrow::Cow;

use crate::chatplay::{self, Moderation, Roles};

use super::events::{ChatMessage, NotificationEvent, Redemption};

/// What one notification means for the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapped<'a> {
    /// A chat message.
    Chat(chatplay::ChatMessage<'a>),
    /// A moderation action.
    Moderation(Moderation<'a>),
    /// A channel-points redemption.
    Redemption(chatplay::Redemption<'a>),
    /// Nothing the engine reads (another type).
    Nothing,
}

/// Maps one notification event (see the [module docs](self)).
pub fn map(event: &NotificationEvent) -> Mapped<'_> {
    match event {
        NotificationEvent::ChatMessage(m) => Mapped::Chat(chat_message(m)),
        NotificationEvent::MessageDelete(d) => Mapped::Moderation(Moderation::DeleteMessage {
            channel: Cow::Borrowed(&d.broadcaster_user_login),
            message_id: Cow::Borrowed(&d.message_id),
        }),
        NotificationEvent::ClearUserMessages(c) => Mapped::Moderation(Moderation::ClearUser {
            channel: Cow::Borrowed(&c.broadcaster_user_login),
            user_id: Some(Cow::Borrowed(&c.target_user_id)),
            login: Some(Cow::Borrowed(&c.target_user_login)),
        }),
        NotificationEvent::ChatClear(c) => Mapped::Moderation(Moderation::ClearChannel {
            channel: Cow::Borrowed(&c.broadcaster_user_login),
        }),
        NotificationEvent::Redemption(r) => Mapped::Redemption(redemption(r)),
        NotificationEvent::Cheer(_) | NotificationEvent::Other { .. } => Mapped::Nothing,
    }
}

/// Whether a mapped chat message goes to the engine: not when it carries a reward id while the redemption
/// subscription is on (the redemption event is the one that counts; see the [module docs](self)).
pub fn chat_counts(message: &chatplay::ChatMessage<'_>, redemptions_subscribed: bool) -> bool {
    !(redemptions_subscribed && message.custom_reward_id.is_some())
}

/// `channel.chat.message` → [`chatplay::ChatMessage`], borrowing the text.
pub fn chat_message(m: &ChatMessage) -> chatplay::ChatMessage<'_> {
    let (text, is_action) = match action_text(&m.message.text) {
        Some(inner) => (inner, true),
        None => (m.message.text.as_str(), m.message_type == "action"),
    };
    let display_name = if m.chatter_user_name.is_empty() {
        &m.chatter_user_login
    } else {
        &m.chatter_user_name
    };
    let mut msg = chatplay::ChatMessage::new(
        Cow::Borrowed(m.broadcaster_user_login.as_str()),
        Cow::Borrowed(m.chatter_user_login.as_str()),
        Cow::Borrowed(text),
    );
    msg.display_name = Cow::Borrowed(display_name);
    msg.channel_id = Some(Cow::Borrowed(&m.broadcaster_user_id));
    msg.user_id = Some(Cow::Borrowed(&m.chatter_user_id));
    msg.message_id = Some(Cow::Borrowed(&m.message_id));
    msg.is_action = is_action;
    msg.roles = Roles {
        moderator: m.has_badge("moderator"),
        broadcaster: m.has_badge("broadcaster") || m.chatter_user_id == m.broadcaster_user_id,
        vip: m.has_badge("vip"),
        subscriber: m.has_badge("subscriber") || m.has_badge("founder"),
    };
    msg.bits = m.cheer.as_ref().map(|c| c.bits).filter(|&b| b > 0);
    msg.custom_reward_id = m
        .channel_points_custom_reward_id
        .as_deref()
        .filter(|id| !id.is_empty())
        .map(Cow::Borrowed);
    msg.source_channel_id = m
        .is_from_shared_chat()
        .then(|| m.source_broadcaster_user_id.as_deref().map(Cow::Borrowed))
        .flatten();
    msg
}

fn action_text(text: &str) -> Option<&str> {
    let inner = text.strip_prefix("\u{1}ACTION ")?;
    Some(inner.strip_suffix('\u{1}').unwrap_or(inner))
}

/// `channel.channel_points_custom_reward_redemption.add` → [`chatplay::Redemption`] (borrowing from `r`).
pub fn redemption(r: &Redemption) -> chatplay::Redemption<'_> {
    chatplay::Redemption {
        channel: Cow::Borrowed(&r.broadcaster_user_login),
        channel_id: Some(Cow::Borrowed(&r.broadcaster_user_id)),
        login: Cow::Borrowed(&r.user_login),
        display_name: Cow::Borrowed(if r.user_name.is_empty() {
            &r.user_login
        } else {
            &r.user_name
        }),
        user_id: Some(Cow::Borrowed(&r.user_id)),
        redemption_id: Some(Cow::Borrowed(&r.id)),
        reward_id: Cow::Borrowed(&r.reward.id),
        reward_title: Some(Cow::Borrowed(&r.reward.title)),
        input: Cow::Borrowed(&r.user_input),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eventsub::events::types;

    fn chat(json: &str) -> NotificationEvent {
        NotificationEvent::parse(types::CHAT_MESSAGE, serde_json::from_str(json).unwrap()).unwrap()
    }

    /// Twitch's documented example of `channel.chat.message`, with a cheer, badges, a reward and a shared
    /// chat source added.
    const FULL: &str = r##"{"broadcaster_user_id":"1971641","broadcaster_user_login":"streamer",
        "broadcaster_user_name":"streamer","chatter_user_id":"4145994","chatter_user_login":"viewer32",
        "chatter_user_name":"Viewer32","message_id":"cc106a89-1814-919d-454c-f4f2f970aae7",
        "message":{"text":"Cheer100 up","fragments":[{"type":"cheermote","text":"Cheer100",
        "cheermote":{"prefix":"cheer","bits":100,"tier":1},"emote":null,"mention":null},
        {"type":"text","text":" up","cheermote":null,"emote":null,"mention":null}]},
        "color":"#00FF7F","badges":[{"set_id":"moderator","id":"1","info":""},
        {"set_id":"subscriber","id":"12","info":"16"},{"set_id":"sub-gifter","id":"1","info":""}],
        "message_type":"text","cheer":{"bits":100},"reply":null,
        "channel_points_custom_reward_id":"92af127c-7326-4483-a52b-b0da0be61c01",
        "source_broadcaster_user_id":"112233","source_broadcaster_user_login":"partner",
        "source_broadcaster_user_name":"Partner","source_message_id":"e03f6d5d-8ec8-4c63-b473-9e5fe61e289b",
        "source_badges":null}"##;

    #[test]
    fn a_chat_message_maps_every_field() {
        let ev = chat(FULL);
        let Mapped::Chat(m) = map(&ev) else { panic!() };
        assert_eq!(m.channel, "streamer");
        assert_eq!(m.channel_id.as_deref(), Some("1971641"));
        assert_eq!((&*m.login, &*m.display_name), ("viewer32", "Viewer32"));
        assert_eq!(m.user_id.as_deref(), Some("4145994"));
        assert_eq!(
            m.message_id.as_deref(),
            Some("cc106a89-1814-919d-454c-f4f2f970aae7")
        );
        assert_eq!(m.text, "Cheer100 up");
        assert!(!m.is_action);
        assert_eq!(
            m.roles,
            Roles {
                moderator: true,
                broadcaster: false,
                vip: false,
                subscriber: true
            }
        );
        assert_eq!(m.bits, Some(100));
        assert_eq!(
            m.custom_reward_id.as_deref(),
            Some("92af127c-7326-4483-a52b-b0da0be61c01")
        );
        assert_eq!(m.source_channel_id.as_deref(), Some("112233"));
        assert!(!m.historical);
        // With the redemption subscription on, the reward's chat message is not counted (the redemption is).
        assert!(!chat_counts(&m, true));
        assert!(chat_counts(&m, false));
    }

    #[test]
    fn plain_messages_have_no_extras_and_the_broadcaster_is_privileged() {
        let ev = chat(
            r#"{"broadcaster_user_id":"1","broadcaster_user_login":"chan","chatter_user_id":"1",
            "chatter_user_login":"chan","chatter_user_name":"","message_id":"m1",
            "message":{"text":"hi","fragments":[]},"badges":null,"cheer":null,
            "channel_points_custom_reward_id":null,"source_broadcaster_user_id":"1"}"#,
        );
        let Mapped::Chat(m) = map(&ev) else { panic!() };
        assert_eq!(&*m.display_name, "chan");
        assert!(m.roles.broadcaster && m.roles.is_privileged());
        assert_eq!(
            (
                m.bits,
                m.custom_reward_id.as_deref(),
                m.source_channel_id.as_deref()
            ),
            (None, None, None)
        );
        assert!(chat_counts(&m, true));
    }

    #[test]
    fn actions_are_unwrapped() {
        for (text, kind, want) in [
            ("\u{1}ACTION up\u{1}", "text", "up"),
            ("up", "action", "up"),
        ] {
            let json = format!(
                r#"{{"broadcaster_user_id":"1","broadcaster_user_login":"c","chatter_user_id":"2",
                "chatter_user_login":"u","message_id":"m","message":{{"text":{},"fragments":[]}},
                "message_type":"{kind}"}}"#,
                serde_json::to_string(text).unwrap()
            );
            let ev = chat(&json);
            let Mapped::Chat(m) = map(&ev) else { panic!() };
            assert_eq!((&*m.text, m.is_action), (want, true));
        }
    }

    #[test]
    fn moderation_and_redemptions() {
        let parse = |kind: &str, json: &str| {
            NotificationEvent::parse(kind, serde_json::from_str(json).unwrap()).unwrap()
        };
        let ev = parse(
            types::MESSAGE_DELETE,
            r#"{"broadcaster_user_id":"1","broadcaster_user_login":"c","broadcaster_user_name":"c",
            "target_user_id":"7","target_user_login":"x","target_user_name":"x","message_id":"m9"}"#,
        );
        assert_eq!(
            map(&ev),
            Mapped::Moderation(Moderation::DeleteMessage {
                channel: "c".into(),
                message_id: "m9".into()
            })
        );
        let ev = parse(
            types::CLEAR_USER_MESSAGES,
            r#"{"broadcaster_user_id":"1","broadcaster_user_login":"c","target_user_id":"7","target_user_login":"x"}"#,
        );
        assert_eq!(
            map(&ev),
            Mapped::Moderation(Moderation::ClearUser {
                channel: "c".into(),
                user_id: Some("7".into()),
                login: Some("x".into())
            })
        );
        let ev = parse(
            types::CHAT_CLEAR,
            r#"{"broadcaster_user_id":"1","broadcaster_user_login":"c"}"#,
        );
        assert_eq!(
            map(&ev),
            Mapped::Moderation(Moderation::ClearChannel {
                channel: "c".into()
            })
        );
        let ev = parse(
            types::REDEMPTION_ADD,
            r#"{"id":"r1","broadcaster_user_id":"1","broadcaster_user_login":"c","broadcaster_user_name":"C",
            "user_id":"7","user_login":"x","user_name":"X","user_input":"","status":"unfulfilled",
            "reward":{"id":"w1","title":"Jump","cost":100,"prompt":""},"redeemed_at":"2020-07-15T17:16:03.17106713Z"}"#,
        );
        let Mapped::Redemption(r) = map(&ev) else {
            panic!()
        };
        assert_eq!(
            (
                &*r.channel,
                &*r.login,
                &*r.display_name,
                r.reward_title.as_deref().unwrap_or(""),
                &*r.input
            ),
            ("c", "x", "X", "Jump", "")
        );
        // channel.cheer is not an input: the chat message's cheer.bits is.
        let ev = parse(
            types::CHEER,
            r#"{"is_anonymous":false,"user_id":"7","user_login":"x","broadcaster_user_id":"1",
            "broadcaster_user_login":"c","message":"hi","bits":1000}"#,
        );
        assert_eq!(map(&ev), Mapped::Nothing);
    }
}
