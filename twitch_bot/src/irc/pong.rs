//! `PONG`: the server's answer to the bot's own `PING`.

use super::{ParseError, RawLine};

/// A `PONG`. Twitch answers `PING x` with `:tmi.twitch.tv PONG tmi.twitch.tv :x`.
///
/// ```
/// use twitch_bot::irc::{parse_line, ServerMessage};
/// let ServerMessage::Pong(p) = parse_line(":tmi.twitch.tv PONG tmi.twitch.tv :test").unwrap() else { panic!() };
/// assert_eq!(p.argument(), Some("test"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pong {
    /// The parameters.
    pub params: Vec<String>,
}

impl Pong {
    /// The last parameter: the token of the PING it answers.
    pub fn argument(&self) -> Option<&str> {
        self.params.last().map(String::as_str)
    }
}

impl TryFrom<&RawLine<'_>> for Pong {
    type Error = ParseError;

    fn try_from(line: &RawLine<'_>) -> Result<Self, ParseError> {
        Ok(Pong {
            params: line.params.iter().map(|p| (*p).to_owned()).collect(),
        })
    }
}
