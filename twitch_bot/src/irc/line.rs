//! The IRC message grammar: `[@tags] [:source] VERB [params...] [:trailing]`, borrowed from the line.
//!
//! This is the layer the ircdocs `msg-split` suite checks. Following RFC 1459 (as that suite does),
//! one **or more** spaces separate the parts; a parameter starting with `:` is the trailing one and
//! keeps its spaces. Nothing is copied: [`RawLine`] borrows every part from the input.

use super::{ParseError, RawTags};

/// One IRC line split into its parts, borrowed from the input.
///
/// ```
/// use twitch_bot::irc::RawLine;
/// let line = RawLine::parse(r"@display-name=Riot\sGames :riotgames!riotgames@riotgames.tmi.twitch.tv PRIVMSG #riotgames :hi :)").unwrap();
/// assert_eq!(line.verb, "PRIVMSG");
/// assert_eq!(line.source, Some("riotgames!riotgames@riotgames.tmi.twitch.tv"));
/// assert_eq!(line.source_nick(), Some("riotgames"));
/// assert_eq!(line.params, ["#riotgames", "hi :)"]);
/// assert_eq!(line.tags.get("display-name").as_deref(), Some("Riot Games"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLine<'a> {
    /// The whole line as given (without a line ending).
    pub raw: &'a str,
    /// The tags, values still escaped until read.
    pub tags: RawTags<'a>,
    /// The source (prefix) without its leading `:`, e.g. `tmi.twitch.tv` or `nick!nick@nick.tmi.twitch.tv`.
    pub source: Option<&'a str>,
    /// The verb (command or three-digit numeric) exactly as sent; compare case-insensitively.
    pub verb: &'a str,
    /// The parameters, the trailing one without its `:`.
    pub params: Vec<&'a str>,
}

impl<'a> RawLine<'a> {
    /// Splits one line (a trailing CR/LF is ignored) into tags, source, verb and parameters.
    ///
    /// # Errors
    /// [`ParseError::Empty`] for an empty or blank line, [`ParseError::MissingVerb`] when there is
    /// no verb after the tags or source.
    pub fn parse(line: &'a str) -> Result<Self, ParseError> {
        let raw = line.trim_end_matches(['\r', '\n']);
        let mut rest = raw.trim_start_matches(' ');
        if rest.is_empty() {
            return Err(ParseError::Empty);
        }
        let mut tags = RawTags::default();
        if let Some(after) = rest.strip_prefix('@') {
            let (section, tail) = after.split_once(' ').unwrap_or((after, ""));
            tags = RawTags::parse(section);
            rest = tail.trim_start_matches(' ');
        }
        let mut source = None;
        if let Some(after) = rest.strip_prefix(':') {
            let (src, tail) = after.split_once(' ').unwrap_or((after, ""));
            source = Some(src);
            rest = tail.trim_start_matches(' ');
        }
        let (verb, tail) = rest.split_once(' ').unwrap_or((rest, ""));
        if verb.is_empty() {
            return Err(ParseError::MissingVerb {
                line: truncate_for_error(raw),
            });
        }
        let mut params = Vec::with_capacity(4);
        let mut rest = tail;
        loop {
            rest = rest.trim_start_matches(' ');
            if rest.is_empty() {
                break;
            }
            if let Some(trailing) = rest.strip_prefix(':') {
                params.push(trailing);
                break;
            }
            let (param, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            params.push(param);
            rest = tail;
        }
        Ok(RawLine {
            raw,
            tags,
            source,
            verb,
            params,
        })
    }

    /// The nick part of the source (`nick` in `nick!user@host`), or the whole source without `!`.
    pub fn source_nick(&self) -> Option<&'a str> {
        self.source
            .map(|s| s.split_once('!').map_or(s, |(nick, _)| nick))
            .filter(|nick| !nick.is_empty())
    }

    /// Parameter `index`, or a [`ParseError::MissingParam`] naming the verb and what was expected.
    pub fn param(&self, index: usize, what: &'static str) -> Result<&'a str, ParseError> {
        self.params
            .get(index)
            .copied()
            .ok_or_else(|| ParseError::MissingParam {
                verb: self.verb.to_owned(),
                what,
            })
    }

    /// The source nick, or a [`ParseError::MissingSource`] naming the verb.
    pub fn require_nick(&self) -> Result<&'a str, ParseError> {
        self.source_nick().ok_or_else(|| ParseError::MissingSource {
            verb: self.verb.to_owned(),
        })
    }
}

/// A short copy of a bad line for an error message (hostile input may be huge).
pub(crate) fn truncate_for_error(line: &str) -> String {
    const MAX: usize = 200;
    if line.len() <= MAX {
        return line.to_owned();
    }
    let mut end = MAX;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &line[..end])
}

/// A channel parameter as a channel login: without the leading `#`, ASCII-lowercased.
pub(crate) fn channel_login(param: &str) -> String {
    param
        .strip_prefix('#')
        .unwrap_or(param)
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiple_spaces_separate() {
        let line = RawLine::parse(":gravel.mozilla.org 432  #momo :Erroneous Nickname: x").unwrap();
        assert_eq!(line.verb, "432");
        assert_eq!(line.params, ["#momo", "Erroneous Nickname: x"]);
    }

    #[test]
    fn errors_name_the_problem() {
        assert_eq!(RawLine::parse(""), Err(ParseError::Empty));
        assert_eq!(RawLine::parse("   \r\n"), Err(ParseError::Empty));
        assert!(matches!(
            RawLine::parse("@a=b :source"),
            Err(ParseError::MissingVerb { .. })
        ));
        let long = "é".repeat(1000);
        let err = RawLine::parse(&format!("@{long}")).unwrap_err();
        assert!(err.to_string().len() < 300, "error text is bounded");
    }

    #[test]
    fn source_nick() {
        let line = RawLine::parse(":a!b@c JOIN #x").unwrap();
        assert_eq!(line.source_nick(), Some("a"));
        let line = RawLine::parse(":tmi.twitch.tv PING").unwrap();
        assert_eq!(line.source_nick(), Some("tmi.twitch.tv"));
        let line = RawLine::parse("PING").unwrap();
        assert_eq!(line.source_nick(), None);
    }
}
