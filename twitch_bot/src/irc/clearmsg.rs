//! `CLEARMSG #channel :text`: one message deleted by a moderator.

use super::line::channel_login;
use super::{ParseError, RawLine, parse_u64_tag};

/// `CLEARMSG`: one message deleted.
///
/// ```
/// use twitch_bot::irc::{parse_line, ServerMessage};
/// let line = "@login=ann;room-id=;target-msg-id=3c92;tmi-sent-ts=1 :tmi.twitch.tv CLEARMSG #chan :bad words";
/// let ServerMessage::ClearMsg(c) = parse_line(line).unwrap() else { panic!() };
/// assert_eq!((c.target_message_id.as_str(), c.text.as_str()), ("3c92", "bad words"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearMsg {
    /// The channel's login, lowercase, without `#`.
    pub channel: String,
    /// The `login` tag: whose message was deleted.
    pub login: Option<String>,
    /// `target-msg-id`: the deleted message's `id`.
    pub target_message_id: String,
    /// The deleted message's text.
    pub text: String,
    /// `tmi-sent-ts`.
    pub server_timestamp_ms: Option<u64>,
    /// `historical=1`: a backlog line the server replays (not done now); ChatPlay and the session ignore it.
    pub historical: bool,
}

impl TryFrom<&RawLine<'_>> for ClearMsg {
    type Error = ParseError;

    fn try_from(line: &RawLine<'_>) -> Result<Self, ParseError> {
        let target_message_id =
            line.tags
                .get_nonempty("target-msg-id")
                .ok_or(ParseError::MissingTag {
                    verb: "CLEARMSG",
                    tag: "target-msg-id",
                })?;
        Ok(ClearMsg {
            channel: channel_login(line.param(0, "channel")?),
            login: line.tags.get_nonempty("login"),
            target_message_id,
            text: line.params.get(1).copied().unwrap_or("").to_owned(),
            server_timestamp_ms: parse_u64_tag(line, "tmi-sent-ts")?,
            historical: line.tags.flag("historical"),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::irc::{ParseError, parse_line};

    #[test]
    fn target_id_is_required() {
        assert_eq!(
            parse_line(":tmi.twitch.tv CLEARMSG #c :text"),
            Err(ParseError::MissingTag {
                verb: "CLEARMSG",
                tag: "target-msg-id"
            })
        );
    }
}
