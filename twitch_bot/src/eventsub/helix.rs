//! The Helix calls EventSub needs, as request bodies and typed answers (no HTTP here: the driver sends them).
//!
//! | call | body / query | success | errors |
//! |---|---|---|---|
//! | `POST {api_url}/eventsub/subscriptions` | [`CreateSubscription`]: `type`, `version`, `condition`, `transport` {`method`: `websocket`, `session_id`} | 202 with `data` [subscription], `total`, `total_cost`, `max_total_cost` ([`CreatedSubscription`]) | 400 bad request (e.g. a session id that is not connected), 401 bad token, 403 missing scope or not authorized for that channel, 409 the same type and condition already exist, 429 too many subscriptions of that type and condition, or the cost limit reached |
//! | `GET {api_url}/users?login=a&login=b` (up to 100) | | 200 with `data` [{`id`, `login`, `display_name`, ...}] ([`Users`]); unknown logins are simply missing | 400, 401 |
//! | `POST {api_url}/chat/messages` | [`SendChatMessage`]: `broadcaster_id`, `sender_id`, `message`, optional `reply_parent_message_id` | 200 with `data[0]` {`message_id`, `is_sent`, `drop_reason` {`code`, `message`} or null} ([`SentMessage`]) | 400, 401, 403 (not allowed to chat there), 422 (message too large), 429 |
//!
//! Every error answer is `{"error": "Conflict", "status": 409, "message": "subscription already exists"}`
//! ([`HelixError`]). [`classify_create_error`] turns an error answer of a subscription request into a
//! [`SubscribeFailure`], which says whether trying again can help.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::events::types;
use super::wire::Subscription;

/// The largest Helix answer body read (1 MiB): a `users` answer for 100 logins is about 100 KiB.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The body of `POST /eventsub/subscriptions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateSubscription {
    /// The subscription type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its version.
    pub version: String,
    /// Its condition.
    pub condition: BTreeMap<String, String>,
    /// `{"method": "websocket", "session_id": ...}`.
    pub transport: CreateTransport,
}

/// `transport` of a subscription request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateTransport {
    /// `websocket`.
    pub method: String,
    /// The session id from the welcome message.
    pub session_id: String,
}

/// The 202 answer of `POST /eventsub/subscriptions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedSubscription {
    /// The created subscription (one).
    pub data: Vec<Subscription>,
    /// Subscriptions of this client id and user.
    #[serde(default)]
    pub total: u64,
    /// Their total cost.
    #[serde(default)]
    pub total_cost: u64,
    /// The cost limit.
    #[serde(default)]
    pub max_total_cost: u64,
}

/// The answer of `GET /users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Users {
    /// One entry per login found.
    pub data: Vec<User>,
}

/// One user of a `users` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The user id.
    pub id: String,
    /// The login.
    pub login: String,
    /// The display name.
    #[serde(default)]
    pub display_name: String,
}

/// The body of `POST /chat/messages`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendChatMessage {
    /// The channel's user id.
    pub broadcaster_id: String,
    /// The bot's user id.
    pub sender_id: String,
    /// The text (at most 500 characters).
    pub message: String,
    /// The message replied to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_parent_message_id: Option<String>,
}

/// The 200 answer of `POST /chat/messages`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentMessages {
    /// One entry.
    pub data: Vec<SentMessage>,
}

/// One entry of a `chat/messages` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentMessage {
    /// The new message's id (empty when dropped).
    #[serde(default)]
    pub message_id: String,
    /// Whether Twitch sent it.
    pub is_sent: bool,
    /// Why not.
    #[serde(default)]
    pub drop_reason: Option<DropReason>,
}

/// `drop_reason` of a message Twitch did not send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropReason {
    /// A code such as `followers_only_mode` or `msg_duplicate`.
    pub code: String,
    /// A sentence for people.
    pub message: String,
}

/// A Helix error answer: `{"error": "Conflict", "status": 409, "message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelixError {
    /// The HTTP reason phrase.
    #[serde(default)]
    pub error: String,
    /// The HTTP status.
    #[serde(default)]
    pub status: u16,
    /// Twitch's explanation.
    #[serde(default)]
    pub message: String,
}

/// Why a Helix answer could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HelixParseError {
    /// The body is larger than [`MAX_BODY_BYTES`].
    #[error("Helix answer of {0} bytes is larger than the limit")]
    TooLarge(usize),
    /// The body is not the documented JSON.
    #[error("Helix answer to {call} is not valid: {detail}")]
    Shape {
        /// Which call.
        call: &'static str,
        /// serde's description.
        detail: String,
    },
}

/// Reads a Helix JSON answer of `call`.
pub fn parse_body<T: serde::de::DeserializeOwned>(
    call: &'static str,
    body: &[u8],
) -> Result<T, HelixParseError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(HelixParseError::TooLarge(body.len()));
    }
    serde_json::from_slice(body).map_err(|e| HelixParseError::Shape {
        call,
        detail: e.to_string(),
    })
}

/// Why a subscription request failed, and whether asking again can help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubscribeFailure {
    /// 403: the token lacks the scope the type needs (or the user may not read that channel's events).
    #[error(
        "Twitch refused the {kind} subscription (403 Forbidden: {message}); the token needs the scope {scope}: run `twitch_bot login` with it"
    )]
    MissingScope {
        /// The subscription type.
        kind: String,
        /// The scope it needs.
        scope: String,
        /// Twitch's explanation.
        message: String,
    },
    /// 409: the same type and condition already exist (another session of this user has them).
    #[error(
        "Twitch refused the {kind} subscription (409 Conflict: {message}); another EventSub session of this account already has it"
    )]
    Conflict {
        /// The subscription type.
        kind: String,
        /// Twitch's explanation.
        message: String,
    },
    /// 429: too many subscriptions of this type and condition, or the cost limit is reached.
    #[error(
        "Twitch refused the {kind} subscription (429 Too Many Requests: {message}); the account's subscription or cost limit is reached"
    )]
    TooMany {
        /// The subscription type.
        kind: String,
        /// Twitch's explanation.
        message: String,
    },
    /// 401: the token is not valid (the driver refreshes it and asks once more).
    #[error("Twitch refused the {kind} subscription (401 Unauthorized: {message})")]
    Unauthorized {
        /// The subscription type.
        kind: String,
        /// Twitch's explanation.
        message: String,
    },
    /// Any other status (400, 5xx, ...).
    #[error("Twitch refused the {kind} subscription ({status}: {message})")]
    Other {
        /// The subscription type.
        kind: String,
        /// The HTTP status.
        status: u16,
        /// Twitch's explanation (or the start of the body).
        message: String,
    },
    /// The request did not get an answer (connection failed, timed out).
    #[error("the {kind} subscription request failed: {detail}")]
    Transport {
        /// The subscription type.
        kind: String,
        /// What went wrong.
        detail: String,
    },
}

impl SubscribeFailure {
    /// Whether asking again later (on this or a new session) can help: only server errors and transport
    /// failures. 400, 403, 409 and 429 would fail the same way, so the bot reports them instead of looping.
    pub fn retry_can_help(&self) -> bool {
        match self {
            SubscribeFailure::Transport { .. } => true,
            SubscribeFailure::Other { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// The subscription type.
    pub fn kind(&self) -> &str {
        match self {
            SubscribeFailure::MissingScope { kind, .. }
            | SubscribeFailure::Conflict { kind, .. }
            | SubscribeFailure::TooMany { kind, .. }
            | SubscribeFailure::Unauthorized { kind, .. }
            | SubscribeFailure::Other { kind, .. }
            | SubscribeFailure::Transport { kind, .. } => kind,
        }
    }
}

/// Classifies the error answer (`status`, `body`) of a `POST /eventsub/subscriptions` for type `kind`.
///
/// ```
/// use twitch_bot::eventsub::helix::{classify_create_error, SubscribeFailure};
/// let body = br#"{"error":"Forbidden","status":403,"message":"subscription missing proper authorization"}"#;
/// let failure = classify_create_error("channel.cheer", 403, body);
/// assert!(matches!(failure, SubscribeFailure::MissingScope { ref scope, .. } if scope == "bits:read"));
/// assert!(failure.to_string().contains("bits:read"));
/// ```
pub fn classify_create_error(kind: &str, status: u16, body: &[u8]) -> SubscribeFailure {
    let message = match parse_body::<HelixError>("eventsub/subscriptions", body) {
        Ok(e) if !e.message.is_empty() => clip(&e.message),
        _ => clip(&String::from_utf8_lossy(&body[..body.len().min(200)])),
    };
    let kind = kind.to_string();
    match status {
        403 => SubscribeFailure::MissingScope {
            scope: types::required_scope(&kind)
                .unwrap_or("(unknown)")
                .to_string(),
            kind,
            message,
        },
        409 => SubscribeFailure::Conflict { kind, message },
        429 => SubscribeFailure::TooMany { kind, message },
        401 => SubscribeFailure::Unauthorized { kind, message },
        status => SubscribeFailure::Other {
            kind,
            status,
            message,
        },
    }
}

/// At most 200 characters, control characters replaced (the text goes into events and logs).
fn clip(s: &str) -> String {
    s.chars()
        .take(200)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_request_body_is_the_documented_shape() {
        let body = CreateSubscription {
            kind: types::CHAT_MESSAGE.into(),
            version: "1".into(),
            condition: [
                ("broadcaster_user_id".to_string(), "1971641".to_string()),
                ("user_id".to_string(), "2914196".to_string()),
            ]
            .into(),
            transport: CreateTransport {
                method: "websocket".into(),
                session_id: "AQoQexAWVYKSTIu4ec_2VAxyuhAB".into(),
            },
        };
        let json: serde_json::Value = serde_json::to_value(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "type": "channel.chat.message", "version": "1",
                "condition": {"broadcaster_user_id": "1971641", "user_id": "2914196"},
                "transport": {"method": "websocket", "session_id": "AQoQexAWVYKSTIu4ec_2VAxyuhAB"}
            })
        );
    }

    #[test]
    fn created_answer_as_documented() {
        // Twitch's example answer (for a WebSocket transport).
        let body = br#"{"data":[{"id":"26b1c993-bfcf-44d9-b876-379dacafe75a","status":"enabled",
            "type":"channel.chat.message","version":"1","condition":{"broadcaster_user_id":"1971641","user_id":"2914196"},
            "created_at":"2020-11-10T14:32:18.730260295Z","transport":{"method":"websocket",
            "session_id":"AQoQexAWVYKSTIu4ec_2VAxyuhAB","connected_at":"2022-11-10T14:32:18.730260295Z"},"cost":0}],
            "total":1,"total_cost":0,"max_total_cost":10000}"#;
        let created: CreatedSubscription = parse_body("eventsub/subscriptions", body).unwrap();
        assert_eq!(created.data[0].status, "enabled");
        assert_eq!(
            (created.total, created.total_cost, created.max_total_cost),
            (1, 0, 10000)
        );
    }

    #[test]
    fn users_and_sent_messages_as_documented() {
        let body = br#"{"data":[{"id":"141981764","login":"twitchdev","display_name":"TwitchDev","type":"",
            "broadcaster_type":"partner","description":"Supporting third-party developers","profile_image_url":"",
            "offline_image_url":"","view_count":5980557,"created_at":"2016-12-14T20:32:28Z"}]}"#;
        let users: Users = parse_body("users", body).unwrap();
        assert_eq!(users.data[0].id, "141981764");
        let sent: SentMessages = parse_body(
            "chat/messages",
            br#"{"data":[{"message_id":"abc-123-def","is_sent":true,"drop_reason":null}]}"#,
        )
        .unwrap();
        assert!(sent.data[0].is_sent);
        let dropped: SentMessages = parse_body(
            "chat/messages",
            br#"{"data":[{"message_id":"","is_sent":false,"drop_reason":{"code":"msg_duplicate",
                "message":"Your message is identical to the one you sent within the last 30 seconds."}}]}"#,
        )
        .unwrap();
        assert_eq!(
            dropped.data[0].drop_reason.as_ref().unwrap().code,
            "msg_duplicate"
        );
    }

    #[test]
    fn error_answers_are_classified() {
        let answer = |status: u16, error: &str, message: &str| {
            serde_json::to_vec(&HelixError {
                error: error.into(),
                status,
                message: message.into(),
            })
            .unwrap()
        };
        let f = classify_create_error(
            types::CHAT_MESSAGE,
            409,
            &answer(409, "Conflict", "subscription already exists"),
        );
        assert!(matches!(f, SubscribeFailure::Conflict { .. }));
        assert!(!f.retry_can_help());
        let f = classify_create_error(types::CHEER, 429, &answer(429, "Too Many Requests", "x"));
        assert!(matches!(f, SubscribeFailure::TooMany { .. }) && !f.retry_can_help());
        let f = classify_create_error(types::REDEMPTION_ADD, 403, &answer(403, "Forbidden", "no"));
        assert!(f.to_string().contains("channel:read:redemptions"), "{f}");
        assert!(!f.retry_can_help());
        let f = classify_create_error(
            types::CHAT_MESSAGE,
            401,
            &answer(401, "Unauthorized", "Invalid OAuth token"),
        );
        assert!(matches!(f, SubscribeFailure::Unauthorized { .. }));
        let f = classify_create_error(types::CHAT_MESSAGE, 503, b"<html>\n\x07 gateway</html>");
        assert!(f.retry_can_help());
        assert!(!f.to_string().contains('\x07'));
        let f = classify_create_error(
            types::CHAT_MESSAGE,
            400,
            &answer(
                400,
                "Bad Request",
                "session does not exist or has already disconnected",
            ),
        );
        assert!(matches!(f, SubscribeFailure::Other { status: 400, .. }) && !f.retry_can_help());
    }

    #[test]
    fn hostile_bodies_are_errors_not_panics() {
        assert!(matches!(
            parse_body::<Users>("users", &vec![b' '; MAX_BODY_BYTES + 1]),
            Err(HelixParseError::TooLarge(_))
        ));
        for body in [&b""[..], b"{", b"{\"data\":{}}", b"\xff\xfe", b"[[[[[[[[[["] {
            assert!(parse_body::<Users>("users", body).is_err());
        }
        let f = classify_create_error("x", 403, &[0xff; 10_000]);
        assert!(f.to_string().len() < 1000);
    }
}
