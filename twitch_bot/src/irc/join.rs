//! `JOIN #channel`: a user joined (the bot's own JOIN echo confirms its join; other users' JOINs need the membership capability).

use super::line::channel_login;
use super::{ParseError, RawLine};

/// A `JOIN`: `login` joined (the bot's own JOIN echo confirms its join; other users' JOINs need the membership capability) `channel`.
///
/// ```
/// use twitch_bot::irc::{parse_line, ServerMessage};
/// let ServerMessage::Join(m) = parse_line(":ann!ann@ann.tmi.twitch.tv JOIN #Chan").unwrap() else { panic!() };
/// assert_eq!((m.channel.as_str(), m.login.as_str()), ("chan", "ann"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Join {
    /// The channel's login, lowercase, without `#`.
    pub channel: String,
    /// The user's login.
    pub login: String,
}

impl TryFrom<&RawLine<'_>> for Join {
    type Error = ParseError;

    fn try_from(line: &RawLine<'_>) -> Result<Self, ParseError> {
        Ok(Join {
            channel: channel_login(line.param(0, "channel")?),
            login: line.require_nick()?.to_ascii_lowercase(),
        })
    }
}
