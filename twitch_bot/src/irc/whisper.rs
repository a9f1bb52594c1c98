//! `WHISPER <you> :text`: a private message to the bot (receive only; Twitch removed sending over IRC).

use super::{Badge, Emote, ParseError, RawLine, parse_badges, parse_emotes, unwrap_action};

/// A received whisper.
///
/// ```
/// use twitch_bot::irc::{parse_line, ServerMessage};
/// let line = "@display-name=randers;emotes=25:22-26;message-id=1;thread-id=4_5;user-id=40286300 :randers!randers@randers.tmi.twitch.tv WHISPER bot :hello, this is a test Kappa";
/// let ServerMessage::Whisper(w) = parse_line(line).unwrap() else { panic!() };
/// assert_eq!((w.login.as_str(), w.recipient.as_str()), ("randers", "bot"));
/// assert_eq!(w.emotes[0].code, "Kappa");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Whisper {
    /// The recipient's login (the bot).
    pub recipient: String,
    /// The sender's login.
    pub login: String,
    /// `user-id` of the sender.
    pub user_id: Option<String>,
    /// `display-name`, or the login.
    pub display_name: String,
    /// The text (a `/me` wrapper removed).
    pub text: String,
    /// True for a `/me` whisper.
    pub is_action: bool,
    /// `badges`.
    pub badges: Vec<Badge>,
    /// `color`, `None` when empty.
    pub color: Option<String>,
    /// Emotes, sorted and clamped.
    pub emotes: Vec<Emote>,
    /// `message-id`.
    pub message_id: Option<String>,
    /// `thread-id`.
    pub thread_id: Option<String>,
}

impl TryFrom<&RawLine<'_>> for Whisper {
    type Error = ParseError;

    fn try_from(line: &RawLine<'_>) -> Result<Self, ParseError> {
        let tags = &line.tags;
        let login = line.require_nick()?.to_ascii_lowercase();
        let (text, is_action) = unwrap_action(line.param(1, "message text")?);
        Ok(Whisper {
            recipient: line.param(0, "recipient")?.to_ascii_lowercase(),
            display_name: tags
                .get_nonempty("display-name")
                .unwrap_or_else(|| login.clone()),
            login,
            user_id: tags.get_nonempty("user-id"),
            is_action,
            badges: parse_badges(tags, "badges"),
            color: tags.get_nonempty("color"),
            emotes: parse_emotes(tags, text),
            text: text.to_owned(),
            message_id: tags.get_nonempty("message-id"),
            thread_id: tags.get_nonempty("thread-id"),
        })
    }
}
