//! EventSub WebSocket messages as Twitch sends them: the envelope, the session object, the subscription object.
//!
//! [`parse_message`] turns one WebSocket text frame into a [`Message`]. It never panics: input larger than
//! [`MAX_MESSAGE_BYTES`], JSON that is not an EventSub envelope, a missing field or a bad timestamp is a
//! [`WireError`] naming what was wrong. A `message_type` Twitch may add later is [`Message::Unknown`], not an
//! error, and a notification for a subscription type this crate does not model is
//! [`NotificationEvent::Other`](super::events::NotificationEvent::Other).
//!
//! # The shapes (Twitch's EventSub WebSocket reference, `dev.twitch.tv/docs/eventsub/websocket-reference`)
//!
//! Every message is `{"metadata": {...}, "payload": {...}}`. `metadata` always holds `message_id` (a resent
//! message keeps its id: delivery is *at least once*), `message_type` and `message_timestamp` (RFC 3339, UTC,
//! nanosecond precision). Notifications and revocations add `subscription_type` and `subscription_version`.
//!
//! | `message_type` | `payload` |
//! |---|---|
//! | `session_welcome` | `session`: `id`, `status` = `connected`, `connected_at`, `keepalive_timeout_seconds` (also the number of seconds left to subscribe: a session with no subscription after it is closed with code 4003), `reconnect_url` = null |
//! | `session_keepalive` | `{}`: nothing arrived for `keepalive_timeout_seconds`; silence beyond that means the connection is gone |
//! | `notification` | `subscription` (`id`, `status`, `type`, `version`, `cost`, `condition`, `transport` {`method`: `websocket`, `session_id`}, `created_at`) and `event` (per type, see [`events`](super::events)) |
//! | `session_reconnect` | `session` with `status` = `reconnecting`, `keepalive_timeout_seconds` = null and `reconnect_url`: connect there, keep the old connection until the new one's welcome, then close it; subscriptions carry over; the old connection is closed by Twitch (4004) 30 s after the reconnect message |
//! | `revocation` | `subscription` with `status` saying why: `authorization_revoked`, `user_removed`, `version_removed` (and `moderator_removed`, `beta_maintenance` for some types); no more notifications for it |
//!
//! The query parameter `keepalive_timeout_seconds` takes 10 to 600 (out-of-range numbers are clamped by
//! Twitch). Close codes: 4000 internal error, 4001 client sent inbound traffic, 4002 failed ping-pong,
//! 4003 connection unused (no subscription in time), 4004 reconnect grace time expired, 4005 network timeout,
//! 4006 network error, 4007 invalid reconnect.
//!
//! Limits: 3 WebSocket connections per user and client id; 300 enabled subscriptions per connection; a
//! subscription's `cost` counts against `max_total_cost` (0 for subscriptions whose condition names the
//! authorized user, 1 otherwise).
//!
//! Example, as in Twitch's reference:
//!
//! ```
//! use twitch_bot::eventsub::wire::{parse_message, Message};
//! let text = r#"{"metadata":{"message_id":"96a3f3b5-5dec-4eed-908e-e11ee657416c",
//!   "message_type":"session_welcome","message_timestamp":"2022-10-19T14:56:51.634234626Z"},
//!   "payload":{"session":{"id":"AQoQILE98gtqShGmLD7AM6yJThAB","status":"connected",
//!   "connected_at":"2022-10-19T14:56:51.616329898Z","keepalive_timeout_seconds":10,"reconnect_url":null}}}"#;
//! let Message::Welcome { session, .. } = parse_message(text).unwrap() else { panic!() };
//! assert_eq!(session.id, "AQoQILE98gtqShGmLD7AM6yJThAB");
//! assert_eq!(session.keepalive_timeout_seconds, Some(10));
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::events::NotificationEvent;

/// The largest text frame [`parse_message`] reads (256 KiB). A chat message is at most 500 characters; even
/// split into one fragment per character with emote metadata it stays far below this.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// Why a text frame is not an EventSub message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The frame is larger than [`MAX_MESSAGE_BYTES`].
    #[error("EventSub message of {len} bytes is larger than the {max}-byte limit")]
    TooLarge {
        /// The frame's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The frame is not JSON of the expected shape (serde's message names the field, line and column).
    #[error("EventSub message is not valid ({what}): {detail}")]
    Shape {
        /// Which part was being read: `envelope`, `session_welcome payload`, a subscription type, ...
        what: String,
        /// serde's description.
        detail: String,
    },
    /// `metadata.message_timestamp` is not an RFC 3339 UTC time.
    #[error("EventSub message has a bad message_timestamp {0:?}")]
    BadTimestamp(String),
    /// A notification or revocation lacks `subscription_type` in its metadata.
    #[error("EventSub {0} message has no metadata.subscription_type")]
    MissingSubscriptionType(&'static str),
}

impl WireError {
    fn shape(what: impl Into<String>, err: serde_json::Error) -> Self {
        WireError::Shape {
            what: what.into(),
            detail: err.to_string(),
        }
    }
}

/// `metadata`, common to every message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Metadata {
    /// Unique per message; a resent message keeps it.
    pub message_id: String,
    /// `session_welcome`, `session_keepalive`, `notification`, `session_reconnect`, `revocation`.
    pub message_type: String,
    /// When Twitch sent it (RFC 3339).
    pub message_timestamp: String,
    /// Notifications and revocations: the subscription type, e.g. `channel.chat.message`.
    #[serde(default)]
    pub subscription_type: Option<String>,
    /// Notifications and revocations: the subscription type's version, e.g. `1`.
    #[serde(default)]
    pub subscription_version: Option<String>,
}

/// `payload.session` of a welcome or reconnect message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct SessionInfo {
    /// The session id: `transport.session_id` of every subscription request.
    pub id: String,
    /// `connected` (welcome) or `reconnecting` (reconnect).
    pub status: String,
    /// Welcome: the keepalive period and the time left to subscribe. Reconnect: null.
    #[serde(default)]
    pub keepalive_timeout_seconds: Option<u64>,
    /// Reconnect: where to connect. Welcome: null.
    #[serde(default)]
    pub reconnect_url: Option<String>,
    /// When the connection was made (RFC 3339).
    #[serde(default)]
    pub connected_at: Option<String>,
}

/// `transport` of a subscription object.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Transport {
    /// `websocket` here (`webhook`, `conduit` elsewhere).
    pub method: String,
    /// The WebSocket session the subscription delivers to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Webhook transports only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
}

/// A subscription object, as in notifications, revocations and Helix responses.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Subscription {
    /// The subscription id.
    pub id: String,
    /// `enabled`, or why it stopped (`authorization_revoked`, `user_removed`, `version_removed`, ...).
    pub status: String,
    /// The subscription type, e.g. `channel.chat.message`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The type's version.
    pub version: String,
    /// The cost against `max_total_cost`.
    #[serde(default)]
    pub cost: u64,
    /// The condition, e.g. `{"broadcaster_user_id": "1337", "user_id": "9001"}`.
    #[serde(default)]
    pub condition: BTreeMap<String, String>,
    /// Where notifications go.
    pub transport: Transport,
    /// When it was created (RFC 3339).
    #[serde(default)]
    pub created_at: Option<String>,
}

/// Why a subscription was revoked (`subscription.status` of a revocation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationReason {
    /// The user revoked the authorization (or changed their password): final until a new login.
    AuthorizationRevoked,
    /// The user in the condition no longer exists: final.
    UserRemoved,
    /// The subscription type or version is no longer supported: final for this build.
    VersionRemoved,
    /// The moderator that authorized it is no longer a moderator: final.
    ModeratorRemoved,
    /// Any other status (for example `beta_maintenance`): subscribing again may help.
    Other(String),
}

impl RevocationReason {
    /// Reads a revocation status.
    pub fn from_status(status: &str) -> Self {
        match status {
            "authorization_revoked" => RevocationReason::AuthorizationRevoked,
            "user_removed" => RevocationReason::UserRemoved,
            "version_removed" => RevocationReason::VersionRemoved,
            "moderator_removed" => RevocationReason::ModeratorRemoved,
            other => RevocationReason::Other(other.to_string()),
        }
    }

    /// Whether subscribing again can help. Not after `authorization_revoked` (the token no longer grants it),
    /// `user_removed`, `version_removed` or `moderator_removed`: asking again would fail the same way.
    pub fn retry_can_help(&self) -> bool {
        matches!(self, RevocationReason::Other(_))
    }

    /// The status as Twitch spells it.
    pub fn as_str(&self) -> &str {
        match self {
            RevocationReason::AuthorizationRevoked => "authorization_revoked",
            RevocationReason::UserRemoved => "user_removed",
            RevocationReason::VersionRemoved => "version_removed",
            RevocationReason::ModeratorRemoved => "moderator_removed",
            RevocationReason::Other(s) => s,
        }
    }
}

/// One EventSub WebSocket message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// `session_welcome`: the first message on a connection.
    Welcome {
        /// The metadata.
        metadata: Metadata,
        /// The session.
        session: SessionInfo,
    },
    /// `session_keepalive`.
    Keepalive {
        /// The metadata.
        metadata: Metadata,
    },
    /// `notification`: an event of a subscription.
    Notification {
        /// The metadata (with `subscription_type`).
        metadata: Metadata,
        /// The subscription it belongs to.
        subscription: Subscription,
        /// The event, typed.
        event: Box<NotificationEvent>,
    },
    /// `session_reconnect`: connect to `session.reconnect_url`.
    Reconnect {
        /// The metadata.
        metadata: Metadata,
        /// The session, with `reconnect_url`.
        session: SessionInfo,
    },
    /// `revocation`: a subscription ended.
    Revocation {
        /// The metadata (with `subscription_type`).
        metadata: Metadata,
        /// The subscription, whose `status` says why.
        subscription: Subscription,
    },
    /// A `message_type` this crate does not know (Twitch may add some).
    Unknown {
        /// The metadata.
        metadata: Metadata,
    },
}

impl Message {
    /// The metadata of any message.
    pub fn metadata(&self) -> &Metadata {
        match self {
            Message::Welcome { metadata, .. }
            | Message::Keepalive { metadata }
            | Message::Notification { metadata, .. }
            | Message::Reconnect { metadata, .. }
            | Message::Revocation { metadata, .. }
            | Message::Unknown { metadata } => metadata,
        }
    }
}

#[derive(Deserialize)]
struct Envelope {
    metadata: Metadata,
    #[serde(default)]
    payload: serde_json::Value,
}

#[derive(Deserialize)]
struct SessionPayload {
    session: SessionInfo,
}

#[derive(Deserialize)]
struct NotificationPayload {
    subscription: Subscription,
    #[serde(default)]
    event: serde_json::Value,
}

#[derive(Deserialize)]
struct RevocationPayload {
    subscription: Subscription,
}

/// Parses one WebSocket text frame (see the [module docs](self) for the shapes).
pub fn parse_message(text: &str) -> Result<Message, WireError> {
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(WireError::TooLarge {
            len: text.len(),
            max: MAX_MESSAGE_BYTES,
        });
    }
    let envelope: Envelope =
        serde_json::from_str(text).map_err(|e| WireError::shape("envelope", e))?;
    let Envelope { metadata, payload } = envelope;
    if parse_rfc3339_ms(&metadata.message_timestamp).is_none() {
        return Err(WireError::BadTimestamp(truncate(
            &metadata.message_timestamp,
        )));
    }
    Ok(match metadata.message_type.as_str() {
        "session_welcome" => {
            let p: SessionPayload = serde_json::from_value(payload)
                .map_err(|e| WireError::shape("session_welcome payload", e))?;
            Message::Welcome {
                metadata,
                session: p.session,
            }
        }
        "session_keepalive" => Message::Keepalive { metadata },
        "session_reconnect" => {
            let p: SessionPayload = serde_json::from_value(payload)
                .map_err(|e| WireError::shape("session_reconnect payload", e))?;
            Message::Reconnect {
                metadata,
                session: p.session,
            }
        }
        "notification" => {
            let kind = metadata
                .subscription_type
                .clone()
                .ok_or(WireError::MissingSubscriptionType("notification"))?;
            let p: NotificationPayload = serde_json::from_value(payload)
                .map_err(|e| WireError::shape("notification payload", e))?;
            let event = NotificationEvent::parse(&kind, p.event)?;
            Message::Notification {
                metadata,
                subscription: p.subscription,
                event: Box::new(event),
            }
        }
        "revocation" => {
            if metadata.subscription_type.is_none() {
                return Err(WireError::MissingSubscriptionType("revocation"));
            }
            let p: RevocationPayload = serde_json::from_value(payload)
                .map_err(|e| WireError::shape("revocation payload", e))?;
            Message::Revocation {
                metadata,
                subscription: p.subscription,
            }
        }
        _ => Message::Unknown { metadata },
    })
}

pub(crate) fn shape_error(what: &str, err: serde_json::Error) -> WireError {
    WireError::shape(what, err)
}

/// At most 64 bytes of `s` (cut at a character boundary), for error messages.
fn truncate(s: &str) -> String {
    let mut end = s.len().min(64);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// Reads an RFC 3339 time (`2022-10-19T14:56:51.634234626Z`, or with a `+hh:mm`/`-hh:mm` offset) as
/// milliseconds since the Unix epoch. `None` for anything else (no panic, no overflow).
///
/// ```
/// use twitch_bot::eventsub::wire::parse_rfc3339_ms;
/// assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:01.5Z"), Some(1500));
/// assert_eq!(parse_rfc3339_ms("2022-10-19T14:56:51.634234626Z"), Some(1_666_191_411_634));
/// assert_eq!(parse_rfc3339_ms("2022-10-19T16:56:51+02:00"), Some(1_666_191_411_000));
/// assert_eq!(parse_rfc3339_ms("yesterday"), None);
/// ```
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b.len() > 40 {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = b.get(range)?;
        digits.iter().try_fold(0i64, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
        })
    };
    if b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 3 {
                millis = millis * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        let digits = i - start;
        if digits == 0 {
            return None;
        }
        for _ in digits..3 {
            millis *= 10;
        }
    }
    let offset_minutes = match b.get(i..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let d = |c: &u8| c.is_ascii_digit().then(|| i64::from(c - b'0'));
            let minutes = (d(h1)? * 10 + d(h2)?) * 60 + d(m1)? * 10 + d(m2)?;
            if *sign == b'+' { minutes } else { -minutes }
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The examples of Twitch's EventSub WebSocket reference, as published.
    pub(crate) const WELCOME: &str = r#"{
        "metadata": {
          "message_id": "96a3f3b5-5dec-4eed-908e-e11ee657416c",
          "message_type": "session_welcome",
          "message_timestamp": "2022-10-19T14:56:51.634234626Z"
        },
        "payload": {
          "session": {
            "id": "AQoQILE98gtqShGmLD7AM6yJThAB",
            "status": "connected",
            "connected_at": "2022-10-19T14:56:51.616329898Z",
            "keepalive_timeout_seconds": 10,
            "reconnect_url": null
          }
        }
    }"#;

    const KEEPALIVE: &str = r#"{
        "metadata": {
          "message_id": "84c1e79a-2a4b-4c13-ba0b-4312293e9308",
          "message_type": "session_keepalive",
          "message_timestamp": "2023-07-19T10:11:12.634234626Z"
        },
        "payload": {}
    }"#;

    const RECONNECT: &str = r#"{
        "metadata": {
          "message_id": "84c1e79a-2a4b-4c13-ba0b-4312293e9308",
          "message_type": "session_reconnect",
          "message_timestamp": "2022-11-18T09:10:11.634234626Z"
        },
        "payload": {
          "session": {
            "id": "AQoQexAWVYKSTIu4ec_2VAxyuhAB",
            "status": "reconnecting",
            "keepalive_timeout_seconds": null,
            "reconnect_url": "wss://eventsub.wss.twitch.tv?...",
            "connected_at": "2022-11-16T10:11:12.634234626Z"
          }
        }
    }"#;

    const REVOCATION: &str = r#"{
        "metadata": {
          "message_id": "84c1e79a-2a4b-4c13-ba0b-4312293e9308",
          "message_type": "revocation",
          "message_timestamp": "2022-11-16T10:11:12.464757833Z",
          "subscription_type": "channel.follow",
          "subscription_version": "1"
        },
        "payload": {
          "subscription": {
            "id": "f1c2a387-161a-49f9-a165-0f21d7a4e1c4",
            "status": "authorization_revoked",
            "type": "channel.follow",
            "version": "1",
            "cost": 1,
            "condition": {
              "broadcaster_user_id": "12826"
            },
            "transport": {
              "method": "websocket",
              "session_id": "AQoQexAWVYKSTIu4ec_2VAxyuhAB"
            },
            "created_at": "2022-11-16T09:11:12.464757833Z"
          }
        }
    }"#;

    const NOTIFICATION_FOLLOW: &str = r#"{
        "metadata": {
          "message_id": "befa7b53-d79d-478f-86b9-120f112b044e",
          "message_type": "notification",
          "message_timestamp": "2022-11-16T10:11:12.464757833Z",
          "subscription_type": "channel.follow",
          "subscription_version": "1"
        },
        "payload": {
          "subscription": {
            "id": "f1c2a387-161a-49f9-a165-0f21d7a4e1c4",
            "status": "enabled",
            "type": "channel.follow",
            "version": "1",
            "cost": 1,
            "condition": {
              "broadcaster_user_id": "12826"
            },
            "transport": {
              "method": "websocket",
              "session_id": "AQoQexAWVYKSTIu4ec_2VAxyuhAB"
            },
            "created_at": "2022-11-16T10:11:12.464757833Z"
          },
          "event": {
            "user_id": "1337",
            "user_login": "awesome_user",
            "user_name": "Awesome_User",
            "broadcaster_user_id": "12826",
            "broadcaster_user_login": "twitch",
            "broadcaster_user_name": "Twitch",
            "followed_at": "2023-07-15T18:16:11.17106713Z"
          }
        }
    }"#;

    #[test]
    fn welcome_as_documented() {
        let Message::Welcome { metadata, session } = parse_message(WELCOME).unwrap() else {
            panic!("not a welcome");
        };
        assert_eq!(metadata.message_id, "96a3f3b5-5dec-4eed-908e-e11ee657416c");
        assert_eq!(session.id, "AQoQILE98gtqShGmLD7AM6yJThAB");
        assert_eq!(session.status, "connected");
        assert_eq!(session.keepalive_timeout_seconds, Some(10));
        assert_eq!(session.reconnect_url, None);
    }

    #[test]
    fn keepalive_as_documented() {
        let msg = parse_message(KEEPALIVE).unwrap();
        assert!(matches!(msg, Message::Keepalive { .. }));
        assert_eq!(msg.metadata().message_type, "session_keepalive");
    }

    #[test]
    fn reconnect_as_documented() {
        let Message::Reconnect { session, .. } = parse_message(RECONNECT).unwrap() else {
            panic!("not a reconnect");
        };
        assert_eq!(session.status, "reconnecting");
        assert_eq!(session.keepalive_timeout_seconds, None);
        assert_eq!(
            session.reconnect_url.as_deref(),
            Some("wss://eventsub.wss.twitch.tv?...")
        );
    }

    #[test]
    fn revocation_as_documented() {
        let Message::Revocation {
            metadata,
            subscription,
        } = parse_message(REVOCATION).unwrap()
        else {
            panic!("not a revocation");
        };
        assert_eq!(
            metadata.subscription_type.as_deref(),
            Some("channel.follow")
        );
        assert_eq!(
            RevocationReason::from_status(&subscription.status),
            RevocationReason::AuthorizationRevoked
        );
        assert!(!RevocationReason::AuthorizationRevoked.retry_can_help());
        assert!(!RevocationReason::from_status("user_removed").retry_can_help());
        assert!(!RevocationReason::from_status("version_removed").retry_can_help());
        assert!(RevocationReason::from_status("beta_maintenance").retry_can_help());
        assert_eq!(subscription.condition["broadcaster_user_id"], "12826");
        assert_eq!(
            subscription.transport.session_id.as_deref(),
            Some("AQoQexAWVYKSTIu4ec_2VAxyuhAB")
        );
    }

    #[test]
    fn a_type_not_modelled_is_other_not_an_error() {
        let Message::Notification {
            event,
            subscription,
            ..
        } = parse_message(NOTIFICATION_FOLLOW).unwrap()
        else {
            panic!("not a notification");
        };
        assert_eq!(subscription.kind, "channel.follow");
        assert!(matches!(
            *event,
            NotificationEvent::Other { ref subscription_type } if subscription_type == "channel.follow"
        ));
    }

    #[test]
    fn an_unknown_message_type_is_kept() {
        let text = WELCOME.replace("session_welcome", "session_teleport");
        let msg = parse_message(&text).unwrap();
        assert!(
            matches!(msg, Message::Unknown { ref metadata } if metadata.message_type == "session_teleport")
        );
    }

    #[test]
    fn hostile_input_gives_typed_errors() {
        let too_big = "x".repeat(MAX_MESSAGE_BYTES + 1);
        assert!(matches!(
            parse_message(&too_big),
            Err(WireError::TooLarge { .. })
        ));
        for bad in [
            "",
            "null",
            "[]",
            "{}",
            "{\"metadata\":{}}",
            "{\"metadata\":{\"message_id\":1}}",
            "\u{0}",
            "{\"metadata\":",
        ] {
            let err = parse_message(bad).unwrap_err();
            assert!(
                matches!(err, WireError::Shape { ref what, .. } if what == "envelope"),
                "{bad:?}: {err}"
            );
        }
        // A welcome without its session.
        let text = WELCOME.replace("\"session\"", "\"sesion\"");
        let err = parse_message(&text).unwrap_err();
        assert!(err.to_string().contains("session_welcome payload"), "{err}");
        assert!(err.to_string().contains("session"), "{err}");
        // A notification without subscription_type.
        let text = NOTIFICATION_FOLLOW.replace("\"subscription_type\": \"channel.follow\",", "");
        assert_eq!(
            parse_message(&text).unwrap_err(),
            WireError::MissingSubscriptionType("notification")
        );
        // Bad timestamps.
        for ts in [
            "2022-13-19T14:56:51Z",
            "2022-10-19 14:56:51Z",
            "2022-10-19T14:56:51",
            "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}",
        ] {
            let text = KEEPALIVE.replace("2023-07-19T10:11:12.634234626Z", ts);
            assert!(
                matches!(parse_message(&text), Err(WireError::BadTimestamp(_))),
                "{ts}"
            );
        }
        // Deep nesting is refused by serde_json's recursion limit, not a stack overflow.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse_message(&deep).is_err());
        // Wrong types where strings belong.
        let text = WELCOME.replace("\"AQoQILE98gtqShGmLD7AM6yJThAB\"", "42");
        assert!(parse_message(&text).is_err());
        let text = WELCOME.replace("10,", "-1,");
        assert!(parse_message(&text).is_err());
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_ms("2000-03-01T00:00:00Z"),
            Some(951_868_800_000)
        );
        assert_eq!(
            parse_rfc3339_ms("2019-11-16T10:11:12.123Z"),
            Some(1_573_899_072_123)
        );
        assert_eq!(
            parse_rfc3339_ms("2019-11-16T10:11:12.1Z"),
            Some(1_573_899_072_100)
        );
        assert_eq!(parse_rfc3339_ms("2019-11-16T10:11:12.Z"), None);
        assert_eq!(parse_rfc3339_ms("2019-11-16T10:11:12+0100"), None);
        assert_eq!(
            parse_rfc3339_ms("2019-11-16T10:11:12.123456789012345678901Z"),
            None
        );
    }
}
