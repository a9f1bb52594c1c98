//! Building chat messages in tests.

use crate::irc::{ClearChat, ClearMsg, Privmsg};

/// A chat message from `login` (user id `id-<login>`) without a message id.
pub(crate) fn chat(login: &str, text: &str) -> Privmsg {
    Privmsg {
        channel: "chan".into(),
        login: login.into(),
        user_id: Some(format!("id-{login}")),
        display_name: login.into(),
        text: text.into(),
        is_action: false,
        badges: vec![],
        badge_info: vec![],
        color: None,
        is_moderator: false,
        is_subscriber: false,
        is_vip: false,
        is_broadcaster: false,
        emotes: vec![],
        bits: None,
        message_id: None,
        server_timestamp_ms: None,
        reply_parent: None,
        first_message: false,
        historical: false,
    }
}

/// A chat message with a message id.
pub(crate) fn chat_id(login: &str, id: &str, text: &str) -> Privmsg {
    let mut m = chat(login, text);
    m.message_id = Some(id.into());
    m
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
