//! `CAP * ACK|NAK :caps`: the answer to the capability request.

use super::{ParseError, RawLine};

/// The CAP subcommand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CapKind {
    /// `ACK`: the capabilities were granted.
    Ack,
    /// `NAK`: the capabilities were refused (Twitch then sends no tags or commands).
    Nak,
    /// Any other subcommand (`LS`, `LIST`, ...), as sent.
    Other(String),
}

/// A `CAP` reply.
///
/// ```
/// use twitch_bot::irc::{parse_line, CapKind, ServerMessage};
/// let ServerMessage::Cap(c) = parse_line(":tmi.twitch.tv CAP * ACK :twitch.tv/tags twitch.tv/commands").unwrap() else { panic!() };
/// assert_eq!(c.kind, CapKind::Ack);
/// assert_eq!(c.capabilities, ["twitch.tv/tags", "twitch.tv/commands"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cap {
    /// ACK, NAK or other.
    pub kind: CapKind,
    /// The capabilities named.
    pub capabilities: Vec<String>,
}

impl TryFrom<&RawLine<'_>> for Cap {
    type Error = ParseError;

    fn try_from(line: &RawLine<'_>) -> Result<Self, ParseError> {
        let sub = line.param(1, "CAP subcommand")?;
        let kind = if sub.eq_ignore_ascii_case("ACK") {
            CapKind::Ack
        } else if sub.eq_ignore_ascii_case("NAK") {
            CapKind::Nak
        } else {
            CapKind::Other(sub.to_owned())
        };
        let capabilities = line
            .params
            .get(2)
            .map(|c| {
                c.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Ok(Cap { kind, capabilities })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::irc::{ServerMessage, parse_line};

    #[test]
    fn nak_and_other_subcommands() {
        let ServerMessage::Cap(c) =
            parse_line(":tmi.twitch.tv CAP * NAK :twitch.tv/bogus").unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (c.kind, c.capabilities),
            (CapKind::Nak, vec!["twitch.tv/bogus".to_owned()])
        );
        let ServerMessage::Cap(c) = parse_line(":tmi.twitch.tv CAP * LS").unwrap() else {
            panic!()
        };
        assert_eq!(
            (c.kind, c.capabilities.len()),
            (CapKind::Other("LS".into()), 0)
        );
        assert!(matches!(
            parse_line(":tmi.twitch.tv CAP *"),
            Err(ParseError::MissingParam { .. })
        ));
    }
}
