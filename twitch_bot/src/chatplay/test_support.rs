//! Building chat messages in tests.

use std::time::Instant;

use super::{ChatMessage, Engine};
use crate::irc::{ClearChat, ClearMsg};

/// A chat message from `login` (user id `id-<login>`) in `chan`, without a message id.
pub(crate) fn chat(login: &str, text: &str) -> ChatMessage<'static> {
    let mut m = ChatMessage::new("chan", login.to_owned(), text.to_owned());
    m.user_id = Some(format!("id-{login}").into());
    m
}

/// A chat message with a message id.
pub(crate) fn chat_id(login: &str, id: &str, text: &str) -> ChatMessage<'static> {
    let mut m = chat(login, text);
    m.message_id = Some(id.to_owned().into());
    m
}

/// Feeding the engine IRC's moderation lines the way the bot does (through the IRC side's
/// conversion into [`Moderation`](super::Moderation)).
pub(crate) trait IrcModeration {
    fn handle_clear_chat(&mut self, clear: &ClearChat, now: Instant);
    fn handle_clear_msg(&mut self, clear: &ClearMsg, now: Instant);
}

impl IrcModeration for Engine {
    fn handle_clear_chat(&mut self, clear: &ClearChat, now: Instant) {
        match clear.moderation() {
            Some(m) => self.handle_moderation(&m, now),
            None => self.handle_timeout(now),
        }
    }

    fn handle_clear_msg(&mut self, clear: &ClearMsg, now: Instant) {
        match clear.moderation() {
            Some(m) => self.handle_moderation(&m, now),
            None => self.handle_timeout(now),
        }
    }
}

/// A CLEARCHAT of one user.
pub(crate) fn timeout(login: &str) -> ClearChat {
    ClearChat {
        channel: "chan".into(),
        target_login: Some(login.into()),
        target_user_id: Some(format!("id-{login}")),
        ban_duration_secs: Some(600),
        server_timestamp_ms: None,
        historical: false,
    }
}

/// A CLEARMSG of one message.
pub(crate) fn delete(login: &str, id: &str) -> ClearMsg {
    ClearMsg {
        channel: "chan".into(),
        login: Some(login.into()),
        target_message_id: id.into(),
        text: String::new(),
        server_timestamp_ms: None,
        historical: false,
    }
}
