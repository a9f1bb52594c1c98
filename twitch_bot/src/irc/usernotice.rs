//! `USERNOTICE #channel [:text]`: subs, resubs, gifts, raids, announcements, rituals...

use std::collections::BTreeMap;

use super::badges::has_badge;
use super::emotes::parse_emotes_shifted;
use super::line::channel_login;
use super::{
    Badge, Emote, ParseError, RawLine, parse_badges, parse_emotes, parse_u64_tag, unwrap_action,
};

/// A `USERNOTICE`: an event in a channel (the kind is in [`Usernotice::msg_id`]).
///
/// New kinds appear without notice, so the kind is a string and every `msg-param-*` tag is kept.
///
/// ```
/// use twitch_bot::irc::{parse_line, ServerMessage};
/// let line = r"@display-name=Gutrin;login=gutrin;msg-id=resub;msg-param-cumulative-months=2;system-msg=Gutrin\ssubscribed!;user-id=1 :tmi.twitch.tv USERNOTICE #chan :hi";
/// let ServerMessage::Usernotice(n) = parse_line(line).unwrap() else { panic!() };
/// assert_eq!(n.msg_id, "resub");
/// assert_eq!(n.param("cumulative-months"), Some("2"));
/// assert_eq!(n.system_message.as_deref(), Some("Gutrin subscribed!"));
/// assert_eq!(n.text.as_deref(), Some("hi"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usernotice {
    /// The channel's login, lowercase, without `#`.
    pub channel: String,
    /// `msg-id`: `sub`, `resub`, `subgift`, `submysterygift`, `raid`, `announcement`, `ritual`, ...
    pub msg_id: String,
    /// The `login` tag: the user the event is about.
    pub login: Option<String>,
    /// `user-id`.
    pub user_id: Option<String>,
    /// `display-name`, or the login when missing or empty.
    pub display_name: Option<String>,
    /// `system-msg`: Twitch's human-readable text for the event (unescaped; may contain newlines).
    pub system_message: Option<String>,
    /// The user's own message, if they wrote one, with a `\x01ACTION ...\x01` wrapper removed.
    pub text: Option<String>,
    /// True when the user's message was a `/me` (Twitch's emote indices, which count the wrapper's
    /// `ACTION `, are shifted back so they point into [`Usernotice::text`]).
    pub is_action: bool,
    /// Every `msg-param-*` tag, keyed without the `msg-param-` prefix, values unescaped.
    pub params: BTreeMap<String, String>,
    /// The `badges` tag.
    pub badges: Vec<Badge>,
    /// The `badge-info` tag.
    pub badge_info: Vec<Badge>,
    /// The `color` tag, `None` when empty.
    pub color: Option<String>,
    /// `mod=1` or a `moderator` badge.
    pub is_moderator: bool,
    /// Emotes in [`Usernotice::text`], sorted and clamped.
    pub emotes: Vec<Emote>,
    /// The `id` tag.
    pub message_id: Option<String>,
    /// `room-id`.
    pub room_id: Option<String>,
    /// `tmi-sent-ts`.
    pub server_timestamp_ms: Option<u64>,
}

impl Usernotice {
    /// One `msg-param-*` value, by its name without the prefix (e.g. `"cumulative-months"`).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

impl TryFrom<&RawLine<'_>> for Usernotice {
    type Error = ParseError;

    fn try_from(line: &RawLine<'_>) -> Result<Self, ParseError> {
        let tags = &line.tags;
        let msg_id = tags.get_nonempty("msg-id").ok_or(ParseError::MissingTag {
            verb: "USERNOTICE",
            tag: "msg-id",
        })?;
        let raw_text = line.params.get(1).copied();
        let (text, is_action) = match raw_text.map(unwrap_action) {
            Some((t, a)) => (Some(t), a),
            None => (None, false),
        };
        let emotes = match (raw_text, is_action) {
            // Twitch's indices count from after the leading \x01: "ACTION " is 7 code points.
            (Some(_), true) => parse_emotes_shifted(tags, text.unwrap_or(""), "ACTION ".len()),
            (Some(raw), false) => parse_emotes(tags, raw),
            (None, _) => Vec::new(),
        };
        let login = tags.get_nonempty("login");
        let badges = parse_badges(tags, "badges");
        let params = tags
            .iter_raw()
            .filter_map(|(k, v)| {
                k.strip_prefix("msg-param-")
                    .map(|name| (name.to_owned(), super::unescape_tag_value(v).into_owned()))
            })
            .collect();
        Ok(Usernotice {
            channel: channel_login(line.param(0, "channel")?),
            msg_id,
            display_name: tags.get_nonempty("display-name").or_else(|| login.clone()),
            login,
            user_id: tags.get_nonempty("user-id"),
            system_message: tags.get("system-msg").map(|s| s.into_owned()),
            emotes,
            is_action,
            text: text.map(str::to_owned),
            params,
            is_moderator: tags.flag("mod") || has_badge(&badges, "moderator"),
            badges,
            badge_info: parse_badges(tags, "badge-info"),
            color: tags.get_nonempty("color"),
            message_id: tags.get_nonempty("id"),
            room_id: tags.get_nonempty("room-id"),
            server_timestamp_ms: parse_u64_tag(line, "tmi-sent-ts")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::irc::{ParseError, parse_line};

    #[test]
    fn msg_id_is_required() {
        assert_eq!(
            parse_line(":tmi.twitch.tv USERNOTICE #c"),
            Err(ParseError::MissingTag {
                verb: "USERNOTICE",
                tag: "msg-id"
            })
        );
    }
}
