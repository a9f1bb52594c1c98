//! Three-digit numeric replies: `001` (welcome: logged in), `353`/`366` (names), `421` (unknown command)...

use super::{ParseError, RawLine};

/// A numeric reply such as `001`, `353`, `366` or `421`.
///
/// ```
/// use twitch_bot::irc::{parse_line, ServerMessage};
/// let ServerMessage::Numeric(n) = parse_line(":tmi.twitch.tv 421 bot WHO :Unknown command").unwrap() else { panic!() };
/// assert_eq!(n.code, 421);
/// assert_eq!(n.params, ["bot", "WHO", "Unknown command"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Numeric {
    /// The code, e.g. 1 for `001`.
    pub code: u16,
    /// The parameters; the first is normally the bot's nick.
    pub params: Vec<String>,
}

impl Numeric {
    /// `001`: the welcome, sent when the login succeeded.
    pub const WELCOME: u16 = 1;
    /// `353`: a names list.
    pub const NAMES: u16 = 353;
    /// `366`: end of a names list.
    pub const END_OF_NAMES: u16 = 366;
    /// `421`: unknown command.
    pub const UNKNOWN_COMMAND: u16 = 421;

    /// The last parameter (usually the human-readable text).
    pub fn text(&self) -> Option<&str> {
        self.params.last().map(String::as_str)
    }
}

impl TryFrom<&RawLine<'_>> for Numeric {
    type Error = ParseError;

    fn try_from(line: &RawLine<'_>) -> Result<Self, ParseError> {
        let code = parse_numeric(line.verb).ok_or_else(|| ParseError::MissingParam {
            verb: line.verb.to_owned(),
            what: "three-digit numeric verb",
        })?;
        Ok(Numeric {
            code,
            params: line.params.iter().map(|p| (*p).to_owned()).collect(),
        })
    }
}

/// `Some(code)` when `verb` is exactly three ASCII digits.
pub(crate) fn parse_numeric(verb: &str) -> Option<u16> {
    let b = verb.as_bytes();
    if b.len() == 3 && b.iter().all(u8::is_ascii_digit) {
        Some(b.iter().fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0')))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::irc::{ServerMessage, parse_line};

    #[test]
    fn only_three_digits_are_numerics() {
        assert_eq!(parse_numeric("001"), Some(1));
        assert_eq!(parse_numeric("366"), Some(366));
        for verb in ["1234", "12", "0x1", "١٢٣"] {
            assert_eq!(parse_numeric(verb), None, "{verb}");
        }
        assert!(matches!(
            parse_line(":tmi.twitch.tv 1234 bot :x").unwrap(),
            ServerMessage::Unknown(_)
        ));
        let ServerMessage::Numeric(n) = parse_line(":tmi.twitch.tv 376 bot :>").unwrap() else {
            panic!()
        };
        assert_eq!((n.code, n.text()), (376, Some(">")));
    }
}
