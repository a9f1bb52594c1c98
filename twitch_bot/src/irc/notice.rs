//! `NOTICE #channel|* :text`: the result of an action, or an error (with a `msg-id` tag).

use super::line::channel_login;
use super::{ParseError, RawLine};

/// A `NOTICE`. Important `msg-id`s for a bot: `msg_ratelimit`, `msg_duplicate`, `msg_slowmode`,
/// `msg_timedout`, `msg_banned`, `msg_channel_suspended`, `msg_followersonly`, `msg_subsonly`,
/// `msg_emoteonly`, `msg_r9k`, `msg_rejected`, `msg_rejected_mandatory`.
///
/// ```
/// use twitch_bot::irc::{parse_line, ServerMessage};
/// let ServerMessage::Notice(n) = parse_line(":tmi.twitch.tv NOTICE * :Login authentication failed").unwrap() else { panic!() };
/// assert!(n.is_auth_failure());
/// assert_eq!((n.channel, n.msg_id), (None, None));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The channel's login, `None` for `*` (a connection-wide notice, e.g. a login failure).
    pub channel: Option<String>,
    /// The `msg-id` tag, e.g. `msg_ratelimit`.
    pub msg_id: Option<String>,
    /// The human-readable text.
    pub text: String,
}

impl Notice {
    /// True for Twitch's two login failures (`Login authentication failed`, `Improperly formatted auth`).
    /// Both are fatal: the server closes the connection and reconnecting with the same token cannot help.
    pub fn is_auth_failure(&self) -> bool {
        self.channel.is_none()
            && (self.text == "Login authentication failed"
                || self.text == "Improperly formatted auth"
                || self.text.starts_with("Login unsuccessful"))
    }

    /// What this NOTICE means for the bot's own chat, when it is one of Twitch's refusals
    /// (`msg_ratelimit`, `msg_banned`, `msg_channel_suspended`, ...); `None` for anything else.
    ///
    /// ```
    /// use twitch_bot::irc::{parse_line, ChatRefusal, ServerMessage};
    /// let line = "@msg-id=msg_timedout :tmi.twitch.tv NOTICE #chan :You are timed out for 597 more seconds.";
    /// let ServerMessage::Notice(n) = parse_line(line).unwrap() else { panic!() };
    /// assert_eq!(n.chat_refusal(), Some(ChatRefusal::TimedOut { remaining_secs: Some(597) }));
    /// ```
    pub fn chat_refusal(&self) -> Option<ChatRefusal> {
        Some(match self.msg_id.as_deref()? {
            "msg_ratelimit" => ChatRefusal::RateLimited,
            "msg_duplicate" => ChatRefusal::Duplicate,
            "msg_slowmode" => ChatRefusal::SlowMode,
            "msg_timedout" => ChatRefusal::TimedOut {
                remaining_secs: first_number(&self.text),
            },
            "msg_banned" => ChatRefusal::Banned,
            "msg_channel_suspended" | "msg_channel_blocked" | "tos_ban" | "invalid_user" => {
                ChatRefusal::ChannelUnavailable
            }
            "msg_requires_verified_phone_number" | "msg_verified_email" => {
                ChatRefusal::VerificationRequired
            }
            id if id.starts_with("msg_followersonly") => ChatRefusal::FollowersOnly,
            "msg_subsonly" => ChatRefusal::SubsOnly,
            "msg_emoteonly" => ChatRefusal::EmoteOnly,
            _ => return None,
        })
    }
}

/// The first run of ASCII digits in `text` as a number (`"timed out for 597 more seconds"` gives 597).
pub(crate) fn first_number(text: &str) -> Option<u64> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let digits: &str = &text[start..];
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

/// Why Twitch refused (or will refuse) the bot's chat in a channel, from a NOTICE's `msg-id`
/// (see [`Notice::chat_refusal`]). [`ChatRefusal::is_lasting`] tells which ones make further
/// messages to that channel pointless until something changes outside the bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatRefusal {
    /// `msg_ratelimit`: we sent too fast (the account's or the channel's limit).
    RateLimited,
    /// `msg_duplicate`: the same text as our previous message in this channel within 30 s.
    Duplicate,
    /// `msg_slowmode`: the channel's slow mode; we sent before the interval passed.
    SlowMode,
    /// `msg_timedout`: the bot is timed out in this channel.
    TimedOut {
        /// Seconds left, as Twitch's text states them (`None` when the text has no number).
        remaining_secs: Option<u64>,
    },
    /// `msg_banned`: the bot is banned from talking in this channel.
    Banned,
    /// `msg_channel_suspended`, `msg_channel_blocked`, `tos_ban`, `invalid_user`: the channel cannot be
    /// joined or talked in.
    ChannelUnavailable,
    /// `msg_requires_verified_phone_number`, `msg_verified_email`: the channel wants a verified account.
    VerificationRequired,
    /// `msg_followersonly*`: followers-only mode.
    FollowersOnly,
    /// `msg_subsonly`: subscribers-only mode.
    SubsOnly,
    /// `msg_emoteonly`: emote-only mode.
    EmoteOnly,
}

impl ChatRefusal {
    /// True when messages to the channel will keep being refused until something outside the bot changes
    /// (a ban, a suspension, an account verification): the session stops sending there.
    /// Timeouts end by themselves and are handled with their duration.
    pub fn is_lasting(self) -> bool {
        matches!(
            self,
            ChatRefusal::Banned
                | ChatRefusal::ChannelUnavailable
                | ChatRefusal::VerificationRequired
        )
    }
}

impl std::fmt::Display for ChatRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChatRefusal::RateLimited => f.write_str("sending too fast (rate limit)"),
            ChatRefusal::Duplicate => f.write_str("same message twice within 30 s"),
            ChatRefusal::SlowMode => f.write_str("slow mode: sending too soon"),
            ChatRefusal::TimedOut {
                remaining_secs: Some(s),
            } => write!(f, "the bot is timed out for {s} more seconds"),
            ChatRefusal::TimedOut { .. } => f.write_str("the bot is timed out"),
            ChatRefusal::Banned => f.write_str("the bot is banned in this channel"),
            ChatRefusal::ChannelUnavailable => {
                f.write_str("the channel is suspended or unavailable")
            }
            ChatRefusal::VerificationRequired => {
                f.write_str("the channel requires a verified phone number or e-mail")
            }
            ChatRefusal::FollowersOnly => f.write_str("followers-only mode"),
            ChatRefusal::SubsOnly => f.write_str("subscribers-only mode"),
            ChatRefusal::EmoteOnly => f.write_str("emote-only mode"),
        }
    }
}

impl TryFrom<&RawLine<'_>> for Notice {
    type Error = ParseError;

    fn try_from(line: &RawLine<'_>) -> Result<Self, ParseError> {
        let target = line.param(0, "target")?;
        Ok(Notice {
            channel: (target != "*" && !target.is_empty()).then(|| channel_login(target)),
            msg_id: line.tags.get_nonempty("msg-id"),
            text: line.params.get(1).copied().unwrap_or("").to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::irc::{ServerMessage, parse_line};

    #[test]
    fn channel_notice_is_not_an_auth_failure() {
        let ServerMessage::Notice(n) = parse_line(
            "@msg-id=msg_ratelimit :tmi.twitch.tv NOTICE #Chan :Login authentication failed",
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(n.channel.as_deref(), Some("chan"));
        assert_eq!(n.msg_id.as_deref(), Some("msg_ratelimit"));
        assert!(
            !n.is_auth_failure(),
            "only connection-wide (*) notices end the login"
        );
        assert!(matches!(
            parse_line(":tmi.twitch.tv NOTICE"),
            Err(ParseError::MissingParam { .. })
        ));
    }

    #[test]
    fn chat_refusals_are_classified() {
        let refusal = |id: &str, text: &str| {
            let line = format!("@msg-id={id} :tmi.twitch.tv NOTICE #c :{text}");
            let ServerMessage::Notice(n) = parse_line(&line).unwrap() else {
                panic!()
            };
            n.chat_refusal()
        };
        assert_eq!(
            refusal("msg_timedout", "You are timed out for 12 more seconds."),
            Some(ChatRefusal::TimedOut {
                remaining_secs: Some(12)
            })
        );
        assert_eq!(
            refusal("msg_timedout", "You are timed out."),
            Some(ChatRefusal::TimedOut {
                remaining_secs: None
            })
        );
        assert_eq!(
            refusal("msg_timedout", "for 99999999999999999999999 seconds"),
            Some(ChatRefusal::TimedOut {
                remaining_secs: None
            }),
            "an overflowing number is no number, not a panic"
        );
        assert_eq!(
            refusal("msg_followersonly_zero", "x"),
            Some(ChatRefusal::FollowersOnly)
        );
        assert_eq!(
            refusal("msg_channel_suspended", "x"),
            Some(ChatRefusal::ChannelUnavailable)
        );
        assert_eq!(refusal("host_on", "x"), None);
        let lasting: Vec<&str> = [
            "msg_ratelimit",
            "msg_duplicate",
            "msg_slowmode",
            "msg_timedout",
            "msg_banned",
            "msg_channel_suspended",
            "msg_requires_verified_phone_number",
            "msg_followersonly",
            "msg_subsonly",
            "msg_emoteonly",
        ]
        .into_iter()
        .filter(|id| refusal(id, "x").unwrap().is_lasting())
        .collect();
        assert_eq!(
            lasting,
            [
                "msg_banned",
                "msg_channel_suspended",
                "msg_requires_verified_phone_number"
            ]
        );
    }
}
