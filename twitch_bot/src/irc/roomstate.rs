//! `ROOMSTATE #channel`: the chat room's settings, full on join, partial on change.

use super::line::channel_login;
use super::{ParseError, RawLine, parse_u64_tag};

/// Followers-only mode (`followers-only` tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowersOnly {
    /// `-1`: anyone may chat.
    Disabled,
    /// `N >= 0`: followers of at least N minutes may chat.
    Enabled {
        /// Minimum follow age in minutes (0 = any follower).
        minutes: u64,
    },
}

/// A `ROOMSTATE`. On join every field is set; on a change Twitch sends only the changed setting (and
/// `room-id`), so every field is an `Option`: `None` means "not in this update", not "off".
///
/// ```
/// use twitch_bot::irc::{parse_line, ServerMessage};
/// let ServerMessage::RoomState(r) = parse_line("@room-id=4;slow=5 :tmi.twitch.tv ROOMSTATE #chan").unwrap() else { panic!() };
/// assert_eq!(r.slow_mode_secs, Some(5));
/// assert_eq!(r.emote_only, None); // not part of this update
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomState {
    /// The channel's login, lowercase, without `#`.
    pub channel: String,
    /// `room-id`: the channel's user id.
    pub room_id: Option<String>,
    /// `emote-only`.
    pub emote_only: Option<bool>,
    /// `followers-only`.
    pub followers_only: Option<FollowersOnly>,
    /// `r9k` (unique-chat mode).
    pub r9k: Option<bool>,
    /// `slow`: seconds between messages (0 = off).
    pub slow_mode_secs: Option<u64>,
    /// `subs-only`.
    pub subscribers_only: Option<bool>,
}

fn bool_tag(line: &RawLine<'_>, tag: &'static str) -> Result<Option<bool>, ParseError> {
    match line.tags.get_raw(tag) {
        None => Ok(None),
        Some("0") => Ok(Some(false)),
        Some("1") => Ok(Some(true)),
        Some(other) => Err(ParseError::BadTag {
            tag,
            value: other.to_owned(),
        }),
    }
}

impl TryFrom<&RawLine<'_>> for RoomState {
    type Error = ParseError;

    fn try_from(line: &RawLine<'_>) -> Result<Self, ParseError> {
        let followers_only = match line.tags.get_raw("followers-only") {
            None => None,
            Some("-1") => Some(FollowersOnly::Disabled),
            Some(_) => Some(FollowersOnly::Enabled {
                minutes: parse_u64_tag(line, "followers-only")?.unwrap_or(0),
            }),
        };
        Ok(RoomState {
            channel: channel_login(line.param(0, "channel")?),
            room_id: line.tags.get_nonempty("room-id"),
            emote_only: bool_tag(line, "emote-only")?,
            followers_only,
            r9k: bool_tag(line, "r9k")?,
            slow_mode_secs: parse_u64_tag(line, "slow")?,
            subscribers_only: bool_tag(line, "subs-only")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::irc::{ServerMessage, parse_line};

    fn room(line: &str) -> Result<RoomState, ParseError> {
        match parse_line(line)? {
            ServerMessage::RoomState(r) => Ok(r),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn followers_only_minutes_and_bad_flags() {
        let r = room("@followers-only=10;room-id=1 :tmi.twitch.tv ROOMSTATE #c").unwrap();
        assert_eq!(
            r.followers_only,
            Some(FollowersOnly::Enabled { minutes: 10 })
        );
        let r = room("@followers-only=0 :tmi.twitch.tv ROOMSTATE #c").unwrap();
        assert_eq!(
            r.followers_only,
            Some(FollowersOnly::Enabled { minutes: 0 })
        );
        assert_eq!(
            room("@r9k=yes :tmi.twitch.tv ROOMSTATE #c"),
            Err(ParseError::BadTag {
                tag: "r9k",
                value: "yes".into()
            })
        );
        assert!(matches!(
            room("@followers-only=-5 :tmi.twitch.tv ROOMSTATE #c"),
            Err(ParseError::BadTag {
                tag: "followers-only",
                ..
            })
        ));
    }
}
