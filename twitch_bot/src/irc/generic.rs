//! Any IRC line, owned: the catch-all for messages the typed parser does not model.

use std::collections::BTreeMap;

use super::RawLine;

/// An IRC line with its parts owned (tags unescaped, last duplicate wins) and the raw line kept.
/// [`ServerMessage::Unknown`](super::ServerMessage::Unknown) holds one, so a new Twitch message never
/// breaks the bot.
///
/// ```
/// use twitch_bot::irc::IrcMessage;
/// let m = IrcMessage::parse(":jtv MODE #chan +o ann").unwrap();
/// assert_eq!((m.verb.as_str(), m.params.len()), ("MODE", 3));
/// assert_eq!(m.raw, ":jtv MODE #chan +o ann");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IrcMessage {
    /// The line as received (without a line ending).
    pub raw: String,
    /// The tags, unescaped.
    pub tags: BTreeMap<String, String>,
    /// The source, without `:`.
    pub source: Option<String>,
    /// The verb as sent.
    pub verb: String,
    /// The parameters, the trailing one without `:`.
    pub params: Vec<String>,
}

impl IrcMessage {
    /// Parses one line into an owned message.
    ///
    /// # Errors
    /// As [`RawLine::parse`].
    pub fn parse(line: &str) -> Result<Self, super::ParseError> {
        RawLine::parse(line).map(|l| IrcMessage::from(&l))
    }
}

impl From<&RawLine<'_>> for IrcMessage {
    fn from(line: &RawLine<'_>) -> Self {
        IrcMessage {
            raw: line.raw.to_owned(),
            tags: line.tags.to_map(),
            source: line.source.map(str::to_owned),
            verb: line.verb.to_owned(),
            params: line.params.iter().map(|p| (*p).to_owned()).collect(),
        }
    }
}
