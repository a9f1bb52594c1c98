//! Outgoing rate limits: Twitch's PRIVMSG and JOIN limits, the duplicate filter, and wire hygiene.
//!
//! Twitch counts what **its** clock sees: the arrival time of each line. A limiter that spaces messages at
//! exactly the limit by its own clock loses to any jitter (a late timer, a stalled write, the network), so
//! every rule below is kept with a [`RateLimitConfig::margin`] on top (default 250 ms; measured against the
//! mock's 0–50 ms jitter, the closest two messages of one channel arrived 1.210 s apart).
//!
//! | rule | default | where |
//! |---|---|---|
//! | messages per 30 s (sliding window), channels where the bot is neither moderator nor broadcaster | 20 (window 30 s + margin) | [`ChatLimiter`] |
//! | messages per 30 s where it is moderator or broadcaster (only once a `USERSTATE` says `mod=1`, or the channel is the bot's own) | 100 | [`ChatLimiter`] |
//! | gap between two messages in one channel, not a moderator: also the first two after a join | 1 s + margin, or the channel's slow mode (`ROOMSTATE slow=N`) + margin | [`ChatLimiter`] |
//! | the same text again in one channel within 30 s | `" \u{E0000}"` appended (alternating) to pass Twitch's duplicate filter | [`ChatLimiter`] |
//! | text longer than 500 characters | split at the last space before 500 (by characters, not bytes) | [`split_message`] |
//! | CR, LF, and other control characters in text | replaced by a space (CR, LF, tab) or removed: no IRC injection | [`sanitize_text`] |
//! | a message refused with `msg_ratelimit` / `msg_slowmode` | put back at the head of its channel's queue and sent again after the pause; dropped (reported) after [`RateLimitConfig::max_tries`] sends | [`ChatLimiter::on_refused`] |
//! | a message refused with `msg_duplicate`, `msg_banned`, ... | dropped and reported: sending it again cannot help | [`ChatLimiter::on_refused`] |
//! | `msg_ratelimit` | pause 2 s, doubling per further notice within 30 s; the allowance is cut only on repeated notices, and grows back within a minute (see [`backoff`]) | [`ChatLimiter`] |
//! | queue full (default 100 lines after splitting) | the **new** message is refused whole ([`SendError::QueueFull`]); what is queued is kept | [`ChatLimiter::enqueue`] |
//! | JOINs | 20 per 10 s + margin (sliding), spread evenly: one every (10 s + margin) / 20 | [`JoinPacer`] |
//!
//! The JOIN history belongs to the account, not to one connection: the driver's handover session shares the
//! old session's [`JoinBudget`], as the chat limiter moves with the queue.
//!
//! Time is passed in as [`Instant`]; nothing here sleeps or reads the clock.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use twitch_bot::rate_limit::{ChatLimiter, RateLimitConfig};
//!
//! let mut limiter = ChatLimiter::new(RateLimitConfig::default());
//! let t0 = Instant::now();
//! limiter.enqueue("Game", "first", None).unwrap();
//! limiter.enqueue("game", "second", None).unwrap();
//! assert_eq!(limiter.poll(t0).as_deref(), Some("PRIVMSG #game :first"));
//! assert_eq!(limiter.poll(t0), None); // 1 s (+ margin) between messages in one channel
//! let gap = Duration::from_secs(1) + limiter.config().margin;
//! assert_eq!(limiter.next_ready(t0), Some(t0 + gap));
//! assert_eq!(limiter.poll(t0 + gap).as_deref(), Some("PRIVMSG #game :second"));
//! ```

pub mod backoff;
mod chat;
mod join;

pub use chat::{ChannelStatus, ChatLimiter, ChatStatus, DroppedMessage, Refusal};
pub use join::{JoinBudget, JoinPacer};

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Limits and sizes for [`ChatLimiter`] and [`JoinPacer`]; the defaults follow Twitch's documented limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Messages per [`RateLimitConfig::window`] when not moderator/broadcaster (Twitch: 20).
    pub messages_per_window: usize,
    /// Messages per window in channels where the bot is moderator or broadcaster (Twitch: 100).
    pub privileged_messages_per_window: usize,
    /// The sliding window for messages (Twitch: 30 s).
    pub window: Duration,
    /// Minimum gap between two messages in one channel when not a moderator (Twitch: 1 s).
    pub channel_interval: Duration,
    /// Added to every gap and window above (and to the JOIN window), so that the server's arrival clock
    /// still sees the limits kept when a line is delayed by scheduling or the network (default 250 ms;
    /// the mock's 0–50 ms jitter plus a loaded machine's late timers stay well inside it).
    pub margin: Duration,
    /// How long Twitch remembers a message for its duplicate filter (30 s).
    pub duplicate_window: Duration,
    /// Maximum characters in one message; longer texts are split (Twitch: 500).
    pub max_message_chars: usize,
    /// Maximum queued messages (after splitting); beyond it [`SendError::QueueFull`].
    pub max_queue: usize,
    /// How many times one message is sent when Twitch keeps refusing it with `msg_ratelimit` or
    /// `msg_slowmode` (default 5); then it is dropped and reported.
    pub max_tries: u32,
    /// JOINs per [`RateLimitConfig::join_window`] (Twitch: 20 per 10 s for normal accounts).
    pub joins_per_window: usize,
    /// The sliding window for JOINs (10 s).
    pub join_window: Duration,
    /// Pause after a first `msg_ratelimit`; doubles for each further one within [`RateLimitConfig::window`]
    /// (default 2 s).
    pub backoff_initial: Duration,
    /// Longest pause after repeated `msg_ratelimit` NOTICEs (default 30 s).
    pub backoff_max: Duration,
    /// A cut allowance (repeated notices) grows back one step (a quarter of the limit) per this long
    /// without a further notice (default 15 s: the deepest cut is undone 45 s after the last notice).
    pub rate_recovery: Duration,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            messages_per_window: 20,
            privileged_messages_per_window: 100,
            window: Duration::from_secs(30),
            channel_interval: Duration::from_secs(1),
            margin: Duration::from_millis(250),
            duplicate_window: Duration::from_secs(30),
            max_message_chars: 500,
            max_queue: 100,
            max_tries: 5,
            joins_per_window: 20,
            join_window: Duration::from_secs(10),
            backoff_initial: Duration::from_secs(2),
            backoff_max: Duration::from_secs(30),
            rate_recovery: Duration::from_secs(15),
        }
    }
}

/// Why a message could not be queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The outgoing queue holds [`RateLimitConfig::max_queue`] messages already; try again later.
    #[error("outgoing chat queue is full ({capacity} messages); message not queued")]
    QueueFull {
        /// The queue's capacity.
        capacity: usize,
    },
    /// Not a valid Twitch channel login (letters, digits, `_`; 1 to 25 characters; `#` allowed in front).
    #[error("invalid channel name {0:?}: expected a Twitch login (a-z, 0-9, _)")]
    InvalidChannel(String),
    /// Nothing left to send after removing control characters and surrounding spaces.
    #[error("empty chat message")]
    EmptyMessage,
    /// A reply's parent message id has characters a Twitch message id never has.
    #[error("invalid reply parent message id {0:?}")]
    InvalidReplyId(String),
    /// Twitch refuses the bot's chat in this channel (banned, timed out, channel suspended, ...), so the
    /// message is not queued: see `Session::chat_blocked`.
    #[error("not sending to #{channel}: {reason}")]
    ChannelBlocked {
        /// The channel login.
        channel: String,
        /// Why (e.g. "the bot is banned in this channel").
        reason: String,
    },
    /// The session is logged in anonymously (`justinfan…`), which cannot send chat.
    #[error(
        "anonymous (justinfan) sessions cannot send chat messages; configure a login and token"
    )]
    Anonymous,
}

/// Normalises a channel name: strips one leading `#`, lowercases, and checks it is a Twitch login.
///
/// ```
/// use twitch_bot::rate_limit::normalize_channel;
/// assert_eq!(normalize_channel(" #Some_Streamer ").unwrap(), "some_streamer");
/// assert!(normalize_channel("evil\r\nPRIVMSG #x :hi").is_err());
/// ```
///
/// # Errors
/// [`SendError::InvalidChannel`] for anything that is not 1 to 25 of `a-z 0-9 _`.
pub fn normalize_channel(name: &str) -> Result<String, SendError> {
    let trimmed = name.trim();
    let login = trimmed
        .strip_prefix('#')
        .unwrap_or(trimmed)
        .to_ascii_lowercase();
    let valid = (1..=25).contains(&login.len())
        && login
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if valid {
        Ok(login)
    } else {
        Err(SendError::InvalidChannel(
            name.chars().filter(|c| !c.is_control()).take(40).collect(),
        ))
    }
}

/// Makes chat text safe for one IRC line: CR, LF and tab become spaces, other control characters are
/// removed, surrounding whitespace is trimmed.
///
/// ```
/// use twitch_bot::rate_limit::sanitize_text;
/// assert_eq!(sanitize_text(" hi\r\nQUIT :bye\x07 "), "hi  QUIT :bye");
/// ```
pub fn sanitize_text(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .filter_map(|c| match c {
            '\r' | '\n' | '\t' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect();
    cleaned.trim().to_owned()
}

/// Splits `text` into pieces of at most `max_chars` characters, at the last space before the limit
/// when there is one (the space is dropped), otherwise hard at the limit. Counts characters, not bytes.
///
/// ```
/// use twitch_bot::rate_limit::split_message;
/// assert_eq!(split_message("aaa bbb ccc", 7), ["aaa bbb", "ccc"]);
/// assert_eq!(split_message("ééééé", 2), ["éé", "éé", "é"]);
/// ```
pub fn split_message(text: &str, max_chars: usize) -> Vec<String> {
    let max_chars = max_chars.max(1);
    let mut pieces = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(' ');
        if rest.is_empty() {
            break;
        }
        // Byte index just past `max_chars` characters, or the end.
        let Some((limit, next)) = rest.char_indices().nth(max_chars) else {
            pieces.push(rest.to_owned());
            break;
        };
        // Look at the first `max_chars` characters plus the next one (a space there is a clean cut).
        let cut = match rest[..limit + next.len_utf8()].rfind(' ') {
            Some(space) if space > 0 => space,
            _ => limit,
        };
        pieces.push(rest[..cut].trim_end_matches(' ').to_owned());
        rest = &rest[cut..];
    }
    pieces
}

/// Counts events in a sliding window: `try_take(now)` succeeds at most `limit` times per `window`.
///
/// ```
/// use std::time::{Duration, Instant};
/// use twitch_bot::rate_limit::SlidingWindow;
/// let mut w = SlidingWindow::new(2, Duration::from_secs(10));
/// let t = Instant::now();
/// assert!(w.try_take(t) && w.try_take(t) && !w.try_take(t));
/// assert_eq!(w.next_free(t), Some(t + Duration::from_secs(10)));
/// assert!(w.try_take(t + Duration::from_secs(10)));
/// ```
#[derive(Debug, Clone)]
pub struct SlidingWindow {
    limit: usize,
    window: Duration,
    sent: VecDeque<Instant>,
}

impl SlidingWindow {
    /// A window allowing `limit` events per `window`.
    pub fn new(limit: usize, window: Duration) -> Self {
        SlidingWindow {
            limit,
            window,
            sent: VecDeque::with_capacity(limit.min(1024)),
        }
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&first) = self.sent.front() {
            if now.saturating_duration_since(first) >= self.window {
                self.sent.pop_front();
            } else {
                break;
            }
        }
    }

    /// Events counted in the window ending at `now`.
    pub fn used(&mut self, now: Instant) -> usize {
        self.expire(now);
        self.sent.len()
    }

    /// True (and counted) when one more event fits under `limit` (which may be lower than the
    /// window's own limit, e.g. the non-moderator rate on a shared history).
    pub fn try_take_with_limit(&mut self, now: Instant, limit: usize) -> bool {
        self.expire(now);
        if self.sent.len() < limit {
            self.sent.push_back(now);
            // Never hold more than the largest limit ever needed.
            while self.sent.len() > self.limit.max(limit) {
                self.sent.pop_front();
            }
            true
        } else {
            false
        }
    }

    /// True (and counted) when one more event fits.
    pub fn try_take(&mut self, now: Instant) -> bool {
        self.try_take_with_limit(now, self.limit)
    }

    /// When the next event fits under `limit`: `None` if it fits now.
    pub fn next_free_with_limit(&mut self, now: Instant, limit: usize) -> Option<Instant> {
        self.expire(now);
        if self.sent.len() < limit {
            return None;
        }
        // The event that must expire is the (len - limit)th oldest.
        let idx = self.sent.len() - limit;
        self.sent.get(idx).map(|t| *t + self.window)
    }

    /// When the next event fits: `None` if it fits now.
    pub fn next_free(&mut self, now: Instant) -> Option<Instant> {
        self.next_free_with_limit(now, self.limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn split_pieces_fit_and_keep_the_words(text in "[a-zé ]{0,300}", max in 1usize..60) {
            let pieces = split_message(&text, max);
            for p in &pieces {
                prop_assert!(p.chars().count() <= max);
                prop_assert!(!p.is_empty());
            }
            let words: Vec<&str> = text.split(' ').filter(|w| !w.is_empty()).collect();
            let joined = pieces.join(" ");
            let rejoined: Vec<&str> = joined.split(' ').filter(|w| !w.is_empty()).collect();
            // Words longer than `max` are cut; otherwise the words are unchanged.
            if words.iter().all(|w| w.chars().count() <= max) {
                prop_assert_eq!(rejoined, words);
            }
        }
    }

    #[test]
    fn sliding_window_counts_by_arrival() {
        let mut w = SlidingWindow::new(2, Duration::from_secs(10));
        let t = Instant::now();
        assert!(w.try_take(t));
        assert!(w.try_take(t + Duration::from_secs(5)));
        assert!(!w.try_take(t + Duration::from_secs(9)));
        assert_eq!(
            w.next_free(t + Duration::from_secs(9)),
            Some(t + Duration::from_secs(10))
        );
        assert_eq!(w.used(t + Duration::from_secs(10)), 1);
    }
}
