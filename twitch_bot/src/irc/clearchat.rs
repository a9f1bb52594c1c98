//! `CLEARCHAT #channel [:login]`: the whole chat cleared, or one user timed out or banned.

use super::line::channel_login;
use super::{ParseError, RawLine, parse_u64_tag};

/// `CLEARCHAT`: the whole chat cleared, or one user timed out or banned.
///
/// ```
/// use twitch_bot::irc::{parse_line, ServerMessage};
/// let line = "@ban-duration=600;room-id=1;target-user-id=9;tmi-sent-ts=5 :tmi.twitch.tv CLEARCHAT #chan :spammer";
/// let ServerMessage::ClearChat(c) = parse_line(line).unwrap() else { panic!() };
/// assert_eq!(c.target_login.as_deref(), Some("spammer"));
/// assert_eq!(c.ban_duration_secs, Some(600));
/// assert!(c.is_timeout());
/// assert!(!c.historical);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearChat {
    /// The channel's login, lowercase, without `#`.
    pub channel: String,
    /// The user's login when one user was timed out or banned; `None` when the chat was cleared.
    pub target_login: Option<String>,
    /// `target-user-id`.
    pub target_user_id: Option<String>,
    /// `ban-duration` in seconds for a timeout; `None` for a permanent ban or a clear.
    pub ban_duration_secs: Option<u64>,
    /// `tmi-sent-ts`.
    pub server_timestamp_ms: Option<u64>,
    /// `historical=1`: a backlog line the server replays (not done now); ChatPlay and the session ignore it.
    pub historical: bool,
}

impl ClearChat {
    /// True when one user was timed out (a ban with a duration).
    pub fn is_timeout(&self) -> bool {
        self.target_login.is_some() && self.ban_duration_secs.is_some()
    }

    /// True when one user was banned permanently.
    pub fn is_permanent_ban(&self) -> bool {
        self.target_login.is_some() && self.ban_duration_secs.is_none()
    }

    /// True when the whole chat was cleared.
    pub fn is_chat_cleared(&self) -> bool {
        self.target_login.is_none()
    }
}

impl TryFrom<&RawLine<'_>> for ClearChat {
    type Error = ParseError;

    fn try_from(line: &RawLine<'_>) -> Result<Self, ParseError> {
        Ok(ClearChat {
            channel: channel_login(line.param(0, "channel")?),
            target_login: line
                .params
                .get(1)
                .filter(|l| !l.is_empty())
                .map(|l| l.to_ascii_lowercase()),
            target_user_id: line.tags.get_nonempty("target-user-id"),
            ban_duration_secs: parse_u64_tag(line, "ban-duration")?,
            server_timestamp_ms: parse_u64_tag(line, "tmi-sent-ts")?,
            historical: line.tags.flag("historical"),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::irc::{ServerMessage, parse_line};

    #[test]
    fn kinds() {
        let lines = [
            (
                "@room-id=1;target-user-id=2;tmi-sent-ts=3 :tmi.twitch.tv CLEARCHAT #p :weeb123",
                false,
                true,
                false,
            ),
            (
                "@room-id=40286300;tmi-sent-ts=1594561392337 :tmi.twitch.tv CLEARCHAT #randers",
                false,
                false,
                true,
            ),
        ];
        for (line, timeout, ban, cleared) in lines {
            let ServerMessage::ClearChat(c) = parse_line(line).unwrap() else {
                panic!("{line}")
            };
            assert_eq!(
                (c.is_timeout(), c.is_permanent_ban(), c.is_chat_cleared()),
                (timeout, ban, cleared)
            );
        }
    }
}
