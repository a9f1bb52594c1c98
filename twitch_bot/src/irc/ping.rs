//! `PING [params]`: a keep-alive from the server, to be answered with a `PONG` carrying the same parameters.

use super::{ParseError, RawLine};

/// A `PING`. Twitch sends `PING :tmi.twitch.tv` about every five minutes; the answer is
/// [`Ping::pong`], which echoes every parameter.
///
/// ```
/// use twitch_bot::irc::{parse_line, ServerMessage};
/// let ServerMessage::Ping(p) = parse_line("PING :tmi.twitch.tv").unwrap() else { panic!() };
/// assert_eq!(p.pong(), "PONG :tmi.twitch.tv");
/// let ServerMessage::Ping(p) = parse_line(":tmi.twitch.tv PING test :abc def").unwrap() else { panic!() };
/// assert_eq!(p.pong(), "PONG test :abc def");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ping {
    /// The parameters, to be echoed in the PONG.
    pub params: Vec<String>,
}

impl Ping {
    /// The PONG line answering this PING (no line ending), parameters echoed, control characters
    /// removed so a hostile PING cannot inject a second command.
    pub fn pong(&self) -> String {
        let mut out = String::from("PONG");
        let n = self.params.len();
        for (i, p) in self.params.iter().enumerate() {
            let p: String = p.chars().filter(|c| !c.is_control()).collect();
            if i + 1 == n {
                out.push_str(" :");
            } else {
                out.push(' ');
            }
            out.push_str(&p);
        }
        out
    }

    /// The last parameter (the token the server expects back), if any.
    pub fn argument(&self) -> Option<&str> {
        self.params.last().map(String::as_str)
    }
}

impl TryFrom<&RawLine<'_>> for Ping {
    type Error = ParseError;

    fn try_from(line: &RawLine<'_>) -> Result<Self, ParseError> {
        Ok(Ping {
            params: line.params.iter().map(|p| (*p).to_owned()).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_ping_and_hostile_ping() {
        assert_eq!(Ping { params: vec![] }.pong(), "PONG");
        let p = Ping {
            params: vec!["x\r\nPRIVMSG #c :owned".into()],
        };
        assert!(!p.pong().contains(['\r', '\n']));
    }
}
