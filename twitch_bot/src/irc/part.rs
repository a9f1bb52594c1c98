//! `PART #channel`: a user left.

use super::line::channel_login;
use super::{ParseError, RawLine};

/// A `PART`: `login` left `channel`.
///
/// ```
/// use twitch_bot::irc::{parse_line, ServerMessage};
/// let ServerMessage::Part(m) = parse_line(":ann!ann@ann.tmi.twitch.tv PART #Chan").unwrap() else { panic!() };
/// assert_eq!((m.channel.as_str(), m.login.as_str()), ("chan", "ann"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The channel's login, lowercase, without `#`.
    pub channel: String,
    /// The user's login.
    pub login: String,
}

impl TryFrom<&RawLine<'_>> for Part {
    type Error = ParseError;

    fn try_from(line: &RawLine<'_>) -> Result<Self, ParseError> {
        Ok(Part {
            channel: channel_login(line.param(0, "channel")?),
            login: line.require_nick()?.to_ascii_lowercase(),
        })
    }
}
