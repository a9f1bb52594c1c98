//! `USERSTATE #channel`: the bot's own state in a channel (on join and after each message it sends).

use super::badges::has_badge;
use super::line::channel_login;
use super::{Badge, ParseError, RawLine, parse_badges};

/// A `USERSTATE`: the bot's badges in one channel. The rate limiter learns from it whether the bot
/// may send at the moderator rate there ([`UserState::is_privileged`]).
///
/// ```
/// use twitch_bot::irc::{parse_line, ServerMessage};
/// let line = "@badges=moderator/1;display-name=Bot;mod=1;user-type=mod :tmi.twitch.tv USERSTATE #chan";
/// let ServerMessage::UserState(u) = parse_line(line).unwrap() else { panic!() };
/// assert!(u.is_moderator && u.is_privileged());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserState {
    /// The channel's login, lowercase, without `#`.
    pub channel: String,
    /// `display-name`.
    pub display_name: Option<String>,
    /// `color`, `None` when empty.
    pub color: Option<String>,
    /// `badges`.
    pub badges: Vec<Badge>,
    /// `badge-info`.
    pub badge_info: Vec<Badge>,
    /// `emote-sets`.
    pub emote_sets: Vec<String>,
    /// `mod=1` or a `moderator` badge.
    pub is_moderator: bool,
    /// A `broadcaster` badge.
    pub is_broadcaster: bool,
    /// A `vip` badge.
    pub is_vip: bool,
    /// `subscriber=1` or a `subscriber`/`founder` badge.
    pub is_subscriber: bool,
    /// `id`: the id of the message the bot just sent, when this USERSTATE answers one.
    pub sent_message_id: Option<String>,
}

impl UserState {
    /// Moderator or broadcaster: Twitch allows 100 messages per 30 s and no per-channel delay.
    pub fn is_privileged(&self) -> bool {
        self.is_moderator || self.is_broadcaster
    }
}

pub(crate) fn emote_sets(line: &RawLine<'_>) -> Vec<String> {
    line.tags
        .get("emote-sets")
        .map(|v| {
            v.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

impl TryFrom<&RawLine<'_>> for UserState {
    type Error = ParseError;

    fn try_from(line: &RawLine<'_>) -> Result<Self, ParseError> {
        let tags = &line.tags;
        let badges = parse_badges(tags, "badges");
        Ok(UserState {
            channel: channel_login(line.param(0, "channel")?),
            display_name: tags.get_nonempty("display-name"),
            color: tags.get_nonempty("color"),
            is_moderator: tags.flag("mod") || has_badge(&badges, "moderator"),
            is_broadcaster: has_badge(&badges, "broadcaster"),
            is_vip: has_badge(&badges, "vip"),
            is_subscriber: tags.flag("subscriber")
                || has_badge(&badges, "subscriber")
                || has_badge(&badges, "founder"),
            badges,
            badge_info: parse_badges(tags, "badge-info"),
            emote_sets: emote_sets(line),
            sent_message_id: tags.get_nonempty("id"),
        })
    }
}
