//! `GLOBALUSERSTATE`: the bot's own account, sent once after login.

use super::userstate::emote_sets;
use super::{Badge, ParseError, RawLine, parse_badges};

/// A `GLOBALUSERSTATE`: who the bot is logged in as.
///
/// ```
/// use twitch_bot::irc::{parse_line, ServerMessage};
/// let line = "@badges=premium/1;color=;display-name=randers;emote-sets=;user-id=40286300;user-type= :tmi.twitch.tv GLOBALUSERSTATE";
/// let ServerMessage::GlobalUserState(g) = parse_line(line).unwrap() else { panic!() };
/// assert_eq!(g.user_id.as_deref(), Some("40286300"));
/// assert_eq!(g.color, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalUserState {
    /// `user-id`: the bot account's id.
    pub user_id: Option<String>,
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
}

impl TryFrom<&RawLine<'_>> for GlobalUserState {
    type Error = ParseError;

    fn try_from(line: &RawLine<'_>) -> Result<Self, ParseError> {
        let tags = &line.tags;
        Ok(GlobalUserState {
            user_id: tags.get_nonempty("user-id"),
            display_name: tags.get_nonempty("display-name"),
            color: tags.get_nonempty("color"),
            badges: parse_badges(tags, "badges"),
            badge_info: parse_badges(tags, "badge-info"),
            emote_sets: emote_sets(line),
        })
    }
}
