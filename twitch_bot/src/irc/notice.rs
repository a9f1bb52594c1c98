//! `NOTICE #channel|* :text`: the result of an action, or an error (with a `msg-id` tag).

use super::line::channel_login;
use super::{ParseError, RawLine};

/// A `NOTICE`. Important `msg-id`s for a bot: `msg_ratelimit`, `msg_duplicate`, `msg_slowmode`,
/// `msg_timedout`, `msg_banned`, `msg_channel_suspended`, `msg_followersonly`, `msg_subsonly`,
/// `msg_emoteonly`, `msg_r9k`, `msg_rejected`, `msg_rejected_mandatory`.
///
/// ```
/// use twitch_bot::irc::{parse_line, ServerMessage};
/// let ServerMessage::Notice(n) = parse_line(":tmi.twitch.tv NOTICE * :Login authentication failed").unwrap() else { panic!() };
/// assert!(n.is_auth_failure());
/// assert_eq!((n.channel, n.msg_id), (None, None));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The channel's login, `None` for `*` (a connection-wide notice, e.g. a login failure).
    pub channel: Option<String>,
    /// The `msg-id` tag, e.g. `msg_ratelimit`.
    pub msg_id: Option<String>,
    /// The human-readable text.
    pub text: String,
}

impl Notice {
    /// True for Twitch's two login failures (`Login authentication failed`, `Improperly formatted auth`).
    /// Both are fatal: the server closes the connection and reconnecting with the same token cannot help.
    pub fn is_auth_failure(&self) -> bool {
        self.channel.is_none()
            && (self.text == "Login authentication failed"
                || self.text == "Improperly formatted auth"
                || self.text.starts_with("Login unsuccessful"))
    }
}

impl TryFrom<&RawLine<'_>> for Notice {
    type Error = ParseError;

    fn try_from(line: &RawLine<'_>) -> Result<Self, ParseError> {
        let target = line.param(0, "target")?;
        Ok(Notice {
            channel: (target != "*" && !target.is_empty()).then(|| channel_login(target)),
            msg_id: line.tags.get_nonempty("msg-id"),
            text: line.params.get(1).copied().unwrap_or("").to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::irc::{ServerMessage, parse_line};

    #[test]
    fn channel_notice_is_not_an_auth_failure() {
        let ServerMessage::Notice(n) = parse_line(
            "@msg-id=msg_ratelimit :tmi.twitch.tv NOTICE #Chan :Login authentication failed",
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(n.channel.as_deref(), Some("chan"));
        assert_eq!(n.msg_id.as_deref(), Some("msg_ratelimit"));
        assert!(
            !n.is_auth_failure(),
            "only connection-wide (*) notices end the login"
        );
        assert!(matches!(
            parse_line(":tmi.twitch.tv NOTICE"),
            Err(ParseError::MissingParam { .. })
        ));
    }
}
