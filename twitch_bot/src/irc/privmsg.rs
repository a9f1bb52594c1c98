//! `PRIVMSG #channel :text`: a chat message.

use super::badges::has_badge;
use super::line::channel_login;
use super::{Badge, Emote, ParseError, RawLine, parse_badges, parse_emotes, parse_u64_tag};

/// The message a reply answers (the `reply-parent-*` tags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyParent {
    /// `reply-parent-msg-id`.
    pub message_id: String,
    /// `reply-parent-user-id`.
    pub user_id: Option<String>,
    /// `reply-parent-user-login`.
    pub login: Option<String>,
    /// `reply-parent-display-name`.
    pub display_name: Option<String>,
    /// `reply-parent-msg-body`.
    pub body: Option<String>,
}

/// A chat message (`PRIVMSG #channel :text`).
///
/// ```
/// use twitch_bot::irc::{parse_line, ServerMessage};
/// let line = "@badges=moderator/1;display-name=Ann;emotes=25:0-4;id=abc;mod=1;tmi-sent-ts=1594545155039;user-id=7 \
///             :ann!ann@ann.tmi.twitch.tv PRIVMSG #Chan :\x01ACTION Kappa up\x01";
/// let ServerMessage::Privmsg(msg) = parse_line(line).unwrap() else { panic!() };
/// assert_eq!((msg.channel.as_str(), msg.login.as_str(), msg.display_name.as_str()), ("chan", "ann", "Ann"));
/// assert_eq!((msg.text.as_str(), msg.is_action), ("Kappa up", true));
/// assert_eq!(msg.emotes[0].code, "Kappa");
/// assert!(msg.is_moderator);
/// assert_eq!(msg.server_timestamp_ms, Some(1594545155039));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Privmsg {
    /// The channel's login: lowercase, without `#`.
    pub channel: String,
    /// The sender's login (from the prefix `nick!nick@nick.tmi.twitch.tv`).
    pub login: String,
    /// The sender's `user-id` tag (stable across renames); `None` without tags.
    pub user_id: Option<String>,
    /// The `display-name` tag, or the login when the tag is missing or empty.
    pub display_name: String,
    /// The text, without line ending, with a `\x01ACTION ...\x01` wrapper removed.
    pub text: String,
    /// True when the message was a `/me` action.
    pub is_action: bool,
    /// The `badges` tag.
    pub badges: Vec<Badge>,
    /// The `badge-info` tag.
    pub badge_info: Vec<Badge>,
    /// The `color` tag (`#RRGGBB`), `None` when empty.
    pub color: Option<String>,
    /// Moderator (`mod=1` or a `moderator` badge).
    pub is_moderator: bool,
    /// Subscriber (`subscriber=1` or a `subscriber`/`founder` badge).
    pub is_subscriber: bool,
    /// VIP (a `vip` tag other than `0`, or a `vip` badge).
    pub is_vip: bool,
    /// The channel's broadcaster (`broadcaster` badge).
    pub is_broadcaster: bool,
    /// Emotes, sorted by position, clamped to the text.
    pub emotes: Vec<Emote>,
    /// Bits cheered, if any.
    pub bits: Option<u64>,
    /// The message's `id` tag (a UUID).
    pub message_id: Option<String>,
    /// `tmi-sent-ts`: server time, Unix milliseconds.
    pub server_timestamp_ms: Option<u64>,
    /// The message this one replies to.
    pub reply_parent: Option<ReplyParent>,
    /// `first-msg=1`: the user's first message in this channel.
    pub first_message: bool,
    /// `historical=1`: a backlog line the server replays (not said now); ChatPlay ignores it.
    pub historical: bool,
}

/// Removes a CTCP `\x01ACTION ...\x01` wrapper (a `/me`), including the empty `\x01ACTION\x01`.
///
/// ```
/// use twitch_bot::irc::unwrap_action;
/// assert_eq!(unwrap_action("\x01ACTION waves\x01"), ("waves", true));
/// assert_eq!(unwrap_action("\x01ACTION\x01"), ("", true));
/// assert_eq!(unwrap_action("plain"), ("plain", false));
/// ```
pub fn unwrap_action(text: &str) -> (&str, bool) {
    if text == "\x01ACTION\x01" {
        return ("", true);
    }
    match text
        .strip_prefix("\x01ACTION ")
        .and_then(|t| t.strip_suffix('\x01'))
    {
        Some(inner) => (inner, true),
        None => (text, false),
    }
}

impl TryFrom<&RawLine<'_>> for Privmsg {
    type Error = ParseError;

    fn try_from(line: &RawLine<'_>) -> Result<Self, ParseError> {
        let channel = channel_login(line.param(0, "channel")?);
        let raw_text = line.param(1, "message text")?;
        let login = line.require_nick()?.to_ascii_lowercase();
        let tags = &line.tags;
        let (text, is_action) = unwrap_action(raw_text);
        let badges = parse_badges(tags, "badges");
        let badge_info = parse_badges(tags, "badge-info");
        let reply_parent = tags
            .get_nonempty("reply-parent-msg-id")
            .map(|message_id| ReplyParent {
                message_id,
                user_id: tags.get_nonempty("reply-parent-user-id"),
                login: tags.get_nonempty("reply-parent-user-login"),
                display_name: tags.get_nonempty("reply-parent-display-name"),
                body: tags.get("reply-parent-msg-body").map(|b| b.into_owned()),
            });
        Ok(Privmsg {
            display_name: tags
                .get_nonempty("display-name")
                .unwrap_or_else(|| login.clone()),
            user_id: tags.get_nonempty("user-id"),
            is_action,
            color: tags.get_nonempty("color"),
            is_moderator: tags.flag("mod") || has_badge(&badges, "moderator"),
            is_subscriber: tags.flag("subscriber")
                || has_badge(&badges, "subscriber")
                || has_badge(&badges, "founder"),
            is_vip: matches!(tags.get_raw("vip"), Some(v) if v != "0") || has_badge(&badges, "vip"),
            is_broadcaster: has_badge(&badges, "broadcaster"),
            emotes: parse_emotes(tags, text),
            bits: parse_u64_tag(line, "bits")?,
            message_id: tags.get_nonempty("id"),
            server_timestamp_ms: parse_u64_tag(line, "tmi-sent-ts")?,
            first_message: tags.flag("first-msg"),
            historical: tags.flag("historical"),
            text: text.to_owned(),
            badges,
            badge_info,
            reply_parent,
            channel,
            login,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::irc::{ServerMessage, parse_line};

    fn privmsg(line: &str) -> Privmsg {
        match parse_line(line) {
            Ok(ServerMessage::Privmsg(m)) => m,
            other => panic!("not a PRIVMSG: {other:?}"),
        }
    }

    #[test]
    fn real_line_with_emotes_unsorted_in_the_tag() {
        let m = privmsg(
            "@badge-info=subscriber/22;badges=moderator/1,subscriber/12;color=#19E6E6;display-name=randers;emotes=1902:6-10,29-33,35-39/499:45-46,48-49/490:51-52/25:0-4,12-16,18-22;flags=;id=f9c5774b-faa7-4378-b1af-c4e08b532dc2;mod=1;room-id=11148817;subscriber=1;tmi-sent-ts=1594556065407;turbo=0;user-id=40286300;user-type=mod :randers!randers@randers.tmi.twitch.tv PRIVMSG #pajlada :Kappa Keepo Kappa Kappa test Keepo Keepo 123 :) :) :P",
        );
        let codes: Vec<_> = m.emotes.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(
            codes,
            [
                "Kappa", "Keepo", "Kappa", "Kappa", "Keepo", "Keepo", ":)", ":)", ":P"
            ]
        );
        assert!(m.is_moderator && m.is_subscriber && !m.is_vip && !m.is_broadcaster);
        assert_eq!(m.badge_info[0].version, "22");
        assert_eq!(m.color.as_deref(), Some("#19E6E6"));
    }

    #[test]
    fn empty_action_and_missing_tags() {
        let m = privmsg(":a!a@a.tmi.twitch.tv PRIVMSG #c :\x01ACTION\x01");
        assert_eq!((m.text.as_str(), m.is_action), ("", true));
        assert_eq!(m.display_name, "a", "display name falls back to the login");
        assert_eq!(m.user_id, None);
        assert!(m.badges.is_empty() && m.emotes.is_empty());
    }

    #[test]
    fn reply_parent_fields() {
        let m = privmsg(
            r"@reply-parent-display-name=Retoon;reply-parent-msg-body=hello\sthere;reply-parent-msg-id=6b13e51b;reply-parent-user-id=37940952;reply-parent-user-login=retoon;id=x :leftswing!leftswing@leftswing.tmi.twitch.tv PRIVMSG #retoon :@Retoon yes",
        );
        let parent = m.reply_parent.unwrap();
        assert_eq!(parent.message_id, "6b13e51b");
        assert_eq!(parent.body.as_deref(), Some("hello there"));
        assert_eq!(parent.login.as_deref(), Some("retoon"));
    }

    #[test]
    fn bad_numbers_are_named() {
        let err = parse_line("@bits=lots :a!a@a PRIVMSG #c :cheer").unwrap_err();
        assert_eq!(
            err,
            ParseError::BadTag {
                tag: "bits",
                value: "lots".into()
            }
        );
        let err = parse_line("PRIVMSG #c :no source").unwrap_err();
        assert!(matches!(err, ParseError::MissingSource { .. }));
        let err = parse_line(":a!a@a PRIVMSG #c").unwrap_err();
        assert!(err.to_string().contains("message text"), "{err}");
    }
}
