//! Outgoing rate limits: Twitch's PRIVMSG and JOIN buckets, the duplicate filter, and wire hygiene.
//!
//! Twitch silently drops (or, repeated, locks out) a bot that sends too fast. [`ChatLimiter`] holds
//! outgoing chat messages in a bounded queue and releases each one only when Twitch would accept it:
//!
//! | rule | default |
//! |---|---|
//! | messages per 30 s (sliding window), channels where the bot is neither moderator nor broadcaster | 20 |
//! | messages per 30 s in channels where it is moderator or broadcaster (learned from `USERSTATE`) | 100 |
//! | minimum gap between two messages in one channel, when not a moderator | 1 s, or the channel's slow mode (`ROOMSTATE slow=N`) |
//! | the same text again in one channel within 30 s | `" \u{E0000}"` appended (alternating) to pass Twitch's duplicate filter |
//! | text longer than 500 characters | split at the last space before 500 (by characters, not bytes) |
//! | CR, LF, and other control characters in text | replaced by a space (CR, LF, tab) or removed: no IRC injection |
//! | `NOTICE msg_ratelimit` from Twitch | pause 5 s, doubling up to 60 s while the notices continue, **and** halve the per-30-s allowance (see below) |
//! | queue full (default 100 lines) | [`SendError::QueueFull`]: the caller is told, nothing grows without bound |
//!
//! A `msg_ratelimit` means Twitch's limit for this account is lower than the table assumes (an unknown
//! or unverified account may get less, and a non-moderator message also counts against the moderator
//! bucket), so after the pause the limiter does not run straight back into it: the allowance of the bucket
//! the notice's channel uses (moderator/broadcaster or not; both for a notice without channel) is halved,
//! again on each further notice (never below 1), and doubles back after each
//! [`RateLimitConfig::rate_recovery`] (30 s) without a further notice: one notice costs 30 s at 10
//! messages per 30 s, two cost 30 s at 5 then 30 s at 10.
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
//! assert_eq!(limiter.poll(t0), None); // 1 s between messages in one channel
//! assert_eq!(limiter.next_ready(t0), Some(t0 + Duration::from_secs(1)));
//! assert_eq!(limiter.poll(t0 + Duration::from_secs(1)).as_deref(), Some("PRIVMSG #game :second"));
//! ```

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

/// Limits and sizes for [`ChatLimiter`] and the JOIN limiter; the defaults follow Twitch's documented limits.
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
    /// How long Twitch remembers a message for its duplicate filter (30 s).
    pub duplicate_window: Duration,
    /// Maximum characters in one message; longer texts are split (Twitch: 500).
    pub max_message_chars: usize,
    /// Maximum queued messages (after splitting); beyond it [`SendError::QueueFull`].
    pub max_queue: usize,
    /// JOINs per [`RateLimitConfig::join_window`] (Twitch: 20 per 10 s for normal accounts).
    pub joins_per_window: usize,
    /// The sliding window for JOINs (10 s).
    pub join_window: Duration,
    /// First pause after a `msg_ratelimit` NOTICE; doubles on each further one.
    pub backoff_initial: Duration,
    /// Longest pause after repeated `msg_ratelimit` NOTICEs.
    pub backoff_max: Duration,
    /// After a `msg_ratelimit` the allowance is halved; each quiet period this long (no further notice)
    /// doubles it back, up to the configured limit (default 30 s).
    pub rate_recovery: Duration,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            messages_per_window: 20,
            privileged_messages_per_window: 100,
            window: Duration::from_secs(30),
            channel_interval: Duration::from_secs(1),
            duplicate_window: Duration::from_secs(30),
            max_message_chars: 500,
            max_queue: 100,
            joins_per_window: 20,
            join_window: Duration::from_secs(10),
            backoff_initial: Duration::from_secs(5),
            backoff_max: Duration::from_secs(60),
            rate_recovery: Duration::from_secs(30),
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

#[derive(Debug, Clone)]
struct Queued {
    channel: String,
    text: String,
    reply_to: Option<String>,
}

/// How far a bucket's allowance is cut after `msg_ratelimit` notices: `halvings` at `since`, one
/// halving undone per [`RateLimitConfig::rate_recovery`] after that.
#[derive(Debug, Clone, Copy)]
struct Reduction {
    halvings: u32,
    since: Instant,
}

/// Most halvings counted (20 >> 5 is already below 1, the floor).
const MAX_HALVINGS: u32 = 7;

impl Reduction {
    /// Recovery steps completed at `now`.
    fn steps(&self, now: Instant, step: Duration) -> u32 {
        let elapsed = now.saturating_duration_since(self.since);
        let steps = elapsed.as_nanos() / step.as_nanos().max(1);
        u32::try_from(steps).unwrap_or(u32::MAX)
    }

    /// Halvings still in force at `now`.
    fn at(&self, now: Instant, step: Duration) -> u32 {
        self.halvings.saturating_sub(self.steps(now, step))
    }

    /// When the next halving is undone, if one is still in force at `now`.
    fn next_step(&self, now: Instant, step: Duration) -> Option<Instant> {
        (self.at(now, step) > 0).then(|| {
            let done = self.steps(now, step).saturating_add(1);
            self.since + step.saturating_mul(done)
        })
    }
}

#[derive(Debug, Clone)]
struct ChannelHistory {
    last_sent: Instant,
    last_text: String,
    marked: bool,
}

/// The outgoing chat queue and Twitch's sending rules (see the module docs).
#[derive(Debug, Clone)]
pub struct ChatLimiter {
    config: RateLimitConfig,
    queue: VecDeque<Queued>,
    window: SlidingWindow,
    channels: HashMap<String, ChannelHistory>,
    privileged: HashSet<String>,
    slow_mode: HashMap<String, Duration>,
    paused_until: Option<Instant>,
    backoff: Duration,
    /// Cuts to the non-moderator (`[0]`) and moderator (`[1]`) allowances after `msg_ratelimit`.
    reductions: [Option<Reduction>; 2],
}

/// The invisible character (U+E0000, TAG SPACE... unassigned tag) appended to dodge the duplicate filter.
const DUPLICATE_MARKER: &str = " \u{E0000}";

impl ChatLimiter {
    /// A limiter with `config`'s limits and an empty queue.
    pub fn new(config: RateLimitConfig) -> Self {
        let largest = config
            .messages_per_window
            .max(config.privileged_messages_per_window);
        ChatLimiter {
            window: SlidingWindow::new(largest, config.window),
            backoff: config.backoff_initial,
            config,
            queue: VecDeque::new(),
            channels: HashMap::new(),
            privileged: HashSet::new(),
            slow_mode: HashMap::new(),
            paused_until: None,
            reductions: [None, None],
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RateLimitConfig {
        &self.config
    }

    /// Queues `text` for `channel` (optionally as a reply to message `reply_to`): sanitized, split at
    /// [`RateLimitConfig::max_message_chars`]. All pieces are queued or none.
    ///
    /// # Errors
    /// [`SendError::InvalidChannel`], [`SendError::EmptyMessage`], [`SendError::InvalidReplyId`], or
    /// [`SendError::QueueFull`] when the pieces do not fit in the queue.
    pub fn enqueue(
        &mut self,
        channel: &str,
        text: &str,
        reply_to: Option<&str>,
    ) -> Result<usize, SendError> {
        let channel = normalize_channel(channel)?;
        let reply_to = match reply_to {
            Some(id) => {
                let ok = !id.is_empty()
                    && id.len() <= 64
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                if !ok {
                    return Err(SendError::InvalidReplyId(
                        id.chars().filter(|c| !c.is_control()).take(70).collect(),
                    ));
                }
                Some(id.to_owned())
            }
            None => None,
        };
        let text = sanitize_text(text);
        if text.is_empty() {
            return Err(SendError::EmptyMessage);
        }
        let pieces = split_message(&text, self.config.max_message_chars);
        if self.queue.len() + pieces.len() > self.config.max_queue {
            return Err(SendError::QueueFull {
                capacity: self.config.max_queue,
            });
        }
        let n = pieces.len();
        for text in pieces {
            self.queue.push_back(Queued {
                channel: channel.clone(),
                text,
                reply_to: reply_to.clone(),
            });
        }
        Ok(n)
    }

    /// Messages waiting.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Drops every queued message (e.g. when the session fails for good). Returns how many.
    pub fn clear(&mut self) -> usize {
        let n = self.queue.len();
        self.queue.clear();
        n
    }

    /// Records whether the bot is moderator or broadcaster in `channel` (from `USERSTATE`).
    pub fn set_privileged(&mut self, channel: &str, privileged: bool) {
        if privileged {
            self.privileged.insert(channel.to_owned());
        } else {
            self.privileged.remove(channel);
        }
    }

    /// True when `channel` is sent to at the moderator rate.
    pub fn is_privileged(&self, channel: &str) -> bool {
        self.privileged.contains(channel)
    }

    /// Records a channel's slow mode (`ROOMSTATE slow=N`): when not a moderator, messages in that
    /// channel are spaced by at least `interval` (and never less than
    /// [`RateLimitConfig::channel_interval`]). Zero turns it off.
    pub fn set_slow_mode(&mut self, channel: &str, interval: Duration) {
        if interval.is_zero() {
            self.slow_mode.remove(channel);
        } else {
            self.slow_mode.insert(channel.to_owned(), interval);
        }
    }

    /// Drops every queued message for `channel` (e.g. the bot is banned there). Returns how many.
    pub fn drop_channel(&mut self, channel: &str) -> usize {
        let before = self.queue.len();
        self.queue.retain(|m| m.channel != channel);
        before - self.queue.len()
    }

    /// Twitch said `msg_ratelimit` (in `channel`, or connection-wide for `None`): pause sending, longer
    /// each time it repeats, and halve the allowance of the bucket that channel uses (both buckets for
    /// `None`); see the module docs for the recovery.
    pub fn on_rate_limit_notice(&mut self, now: Instant, channel: Option<&str>) {
        let until = now + self.backoff;
        self.paused_until = Some(self.paused_until.map_or(until, |p| p.max(until)));
        let buckets: &[usize] = match channel {
            Some(c) if self.is_privileged(c) => &[1],
            Some(_) => &[0],
            None => &[0, 1],
        };
        let step = self.config.rate_recovery;
        for &b in buckets {
            let halvings = self.reductions[b].map_or(0, |r| r.at(now, step));
            self.reductions[b] = Some(Reduction {
                halvings: (halvings + 1).min(MAX_HALVINGS),
                since: now,
            });
        }
        tracing::warn!(pause = ?self.backoff, channel = channel.unwrap_or("*"),
            limit = self.limit_for(channel.unwrap_or(""), now),
            "Twitch reported msg_ratelimit; pausing chat output and lowering the rate");
        self.backoff = (self.backoff * 2).min(self.config.backoff_max);
    }

    fn bucket(&self, channel: &str) -> usize {
        usize::from(self.is_privileged(channel))
    }

    /// The messages-per-window allowance for `channel` at `now`, after any `msg_ratelimit` cut.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use twitch_bot::rate_limit::{ChatLimiter, RateLimitConfig};
    /// let mut limiter = ChatLimiter::new(RateLimitConfig::default());
    /// let t0 = Instant::now();
    /// assert_eq!(limiter.limit_for("chan", t0), 20);
    /// limiter.on_rate_limit_notice(t0, Some("chan"));
    /// assert_eq!(limiter.limit_for("chan", t0), 10);
    /// assert_eq!(limiter.limit_for("chan", t0 + Duration::from_secs(30)), 20);
    /// ```
    pub fn limit_for(&self, channel: &str, now: Instant) -> usize {
        self.bucket_limit(self.bucket(channel), now)
    }

    /// A bucket's allowance at `now`. A non-moderator message also counts against the moderator
    /// bucket, so a cut there lowers both.
    fn bucket_limit(&self, bucket: usize, now: Instant) -> usize {
        let cut = |b: usize, base: usize| {
            let halvings = self.reductions[b].map_or(0, |r| r.at(now, self.config.rate_recovery));
            Self::cut(base, halvings)
        };
        let privileged = cut(1, self.config.privileged_messages_per_window);
        if bucket == 1 {
            privileged
        } else {
            cut(0, self.config.messages_per_window).min(privileged)
        }
    }

    fn cut(base: usize, halvings: u32) -> usize {
        base.checked_shr(halvings).unwrap_or(0).max(1).min(base)
    }

    /// When the message at queue index `i` may be sent (`now` if now).
    fn ready_at(&mut self, i: usize, now: Instant) -> Instant {
        let channel = self.queue[i].channel.clone();
        let limit = self.limit_for(&channel, now);
        let mut at = self.window.next_free_with_limit(now, limit).unwrap_or(now);
        // A cut allowance grows back at the next recovery step: the message may fit then.
        let b = self.bucket(&channel);
        if let Some(step_at) = self.reductions[b..]
            .iter()
            .flatten()
            .filter_map(|r| r.next_step(now, self.config.rate_recovery))
            .min()
            .filter(|s| *s < at)
        {
            let grown = self.bucket_limit(b, step_at);
            let free = self
                .window
                .next_free_with_limit(now, grown)
                .unwrap_or(now)
                .max(step_at);
            at = at.min(free);
        }
        if !self.is_privileged(&channel)
            && let Some(h) = self.channels.get(&channel)
        {
            let slow = self.slow_mode.get(&channel).copied().unwrap_or_default();
            at = at.max(h.last_sent + self.config.channel_interval.max(slow));
        }
        if let Some(p) = self.paused_until {
            at = at.max(p);
        }
        at
    }

    /// The next message that may go out at `now`, as a full IRC line (no line ending), or `None`.
    /// Messages of one channel keep their order; a channel held by its 1 s gap does not hold others.
    pub fn poll(&mut self, now: Instant) -> Option<String> {
        if let Some(p) = self.paused_until {
            if now < p {
                return None;
            }
            self.paused_until = None;
        }
        let mut blocked: Vec<String> = Vec::new();
        let mut pick = None;
        for i in 0..self.queue.len() {
            if blocked.contains(&self.queue[i].channel) {
                continue;
            }
            if self.ready_at(i, now) <= now {
                pick = Some(i);
                break;
            }
            blocked.push(self.queue[i].channel.clone());
        }
        let msg = self.queue.remove(pick?)?;
        let limit = self.limit_for(&msg.channel, now);
        if !self.window.try_take_with_limit(now, limit) {
            // Cannot happen (ready_at checked it), but never send over the limit.
            self.queue.push_front(msg);
            return None;
        }
        // Sending works: forget earlier back-off escalation once a window passed quietly.
        if self.paused_until.is_none() && self.window.used(now) <= 1 {
            self.backoff = self.config.backoff_initial;
        }
        let mut text = msg.text;
        let history = self.channels.get(&msg.channel);
        let duplicate = history.is_some_and(|h| {
            h.last_text == text
                && now.saturating_duration_since(h.last_sent) < self.config.duplicate_window
        });
        let marked = duplicate && !history.is_some_and(|h| h.marked);
        let base = text.clone();
        if marked {
            if text.chars().count() + 2 <= self.config.max_message_chars {
                text.push_str(DUPLICATE_MARKER);
            } else {
                tracing::debug!("duplicate message too long for the marker; sent as is");
            }
        }
        self.channels.insert(
            msg.channel.clone(),
            ChannelHistory {
                last_sent: now,
                last_text: base,
                marked,
            },
        );
        Some(match msg.reply_to {
            Some(id) => format!("@reply-parent-msg-id={id} PRIVMSG #{} :{text}", msg.channel),
            None => format!("PRIVMSG #{} :{text}", msg.channel),
        })
    }

    /// When [`ChatLimiter::poll`] will next have a message, `None` when the queue is empty.
    pub fn next_ready(&mut self, now: Instant) -> Option<Instant> {
        (0..self.queue.len()).map(|i| self.ready_at(i, now)).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const S: Duration = Duration::from_secs(1);

    fn limiter() -> ChatLimiter {
        ChatLimiter::new(RateLimitConfig::default())
    }

    /// Drains everything sendable at `now`.
    fn drain(l: &mut ChatLimiter, now: Instant) -> Vec<String> {
        std::iter::from_fn(|| l.poll(now)).collect()
    }

    #[test]
    fn twenty_per_thirty_seconds_sliding() {
        let mut l = limiter();
        let t0 = Instant::now();
        // 25 channels so the 1 s per-channel gap does not interfere.
        for i in 0..25 {
            l.enqueue(&format!("c{i}"), "hi", None).unwrap();
        }
        assert_eq!(drain(&mut l, t0).len(), 20);
        assert_eq!(l.next_ready(t0), Some(t0 + 30 * S));
        assert_eq!(drain(&mut l, t0 + 29 * S).len(), 0);
        assert_eq!(drain(&mut l, t0 + 30 * S).len(), 5);
    }

    #[test]
    fn sliding_not_fixed_window() {
        let mut l = limiter();
        let t0 = Instant::now();
        for i in 0..20 {
            l.enqueue(&format!("c{i}"), "hi", None).unwrap();
            assert!(l.poll(t0 + i * S).is_some());
        }
        l.enqueue("x", "late", None).unwrap();
        // The first message (t0) expires at t0+30; a fixed window reset would allow it earlier or later.
        assert_eq!(l.next_ready(t0 + 20 * S), Some(t0 + 30 * S));
    }

    #[test]
    fn moderators_get_one_hundred_and_no_gap() {
        let mut l = limiter();
        let t0 = Instant::now();
        l.set_privileged("modded", true);
        for i in 0..105 {
            l.enqueue("modded", &format!("m{i}"), None)
                .unwrap_or_else(|_| {
                    // queue is 100: drain some first
                    assert!(i >= 100);
                    0
                });
        }
        assert_eq!(drain(&mut l, t0).len(), 100, "no 1 s gap, 100 per window");
        l.set_privileged("modded", false);
        l.enqueue("modded", "x", None).unwrap();
        assert_eq!(l.poll(t0 + 29 * S), None);
    }

    #[test]
    fn one_second_per_channel_but_other_channels_flow() {
        let mut l = limiter();
        let t0 = Instant::now();
        l.enqueue("a", "1", None).unwrap();
        l.enqueue("a", "2", None).unwrap();
        l.enqueue("b", "3", None).unwrap();
        assert_eq!(
            drain(&mut l, t0),
            ["PRIVMSG #a :1", "PRIVMSG #b :3"],
            "b is not held behind a"
        );
        assert_eq!(l.poll(t0 + S / 2), None);
        assert_eq!(l.poll(t0 + S).as_deref(), Some("PRIVMSG #a :2"));
    }

    #[test]
    fn slow_mode_spaces_messages_unless_moderator() {
        let mut l = limiter();
        let t0 = Instant::now();
        l.set_slow_mode("a", 10 * S);
        l.enqueue("a", "1", None).unwrap();
        l.enqueue("a", "2", None).unwrap();
        assert!(l.poll(t0).is_some());
        assert_eq!(l.next_ready(t0), Some(t0 + 10 * S));
        assert_eq!(l.poll(t0 + 9 * S), None);
        l.set_privileged("a", true);
        assert!(l.poll(t0 + 9 * S).is_some(), "moderators are exempt");
        l.set_privileged("a", false);
        l.set_slow_mode("a", Duration::ZERO);
        l.enqueue("a", "3", None).unwrap();
        assert!(l.poll(t0 + 10 * S).is_some(), "back to the 1 s gap");
    }

    #[test]
    fn duplicates_alternate_the_marker_within_thirty_seconds() {
        let mut l = limiter();
        let t0 = Instant::now();
        for _ in 0..3 {
            l.enqueue("a", "vote up", None).unwrap();
        }
        let sent: Vec<_> = (0..3).map(|i| l.poll(t0 + i * S).unwrap()).collect();
        assert_eq!(sent[0], "PRIVMSG #a :vote up");
        assert_eq!(sent[1], "PRIVMSG #a :vote up \u{E0000}");
        assert_eq!(sent[2], "PRIVMSG #a :vote up");
        l.enqueue("a", "vote up", None).unwrap();
        assert_eq!(
            l.poll(t0 + 40 * S).as_deref(),
            Some("PRIVMSG #a :vote up"),
            "after 30 s no marker is needed"
        );
    }

    #[test]
    fn long_text_is_split_by_characters_at_words() {
        let mut l = limiter();
        // 200 words of 5 characters (6 bytes) plus spaces: 1199 characters.
        let text: Vec<String> = (0..200).map(|i| format!("w{i:03}é")).collect();
        let text = text.join(" ");
        assert_eq!(l.enqueue("a", &text, None).unwrap(), 3);
        let t0 = Instant::now();
        let lines: Vec<_> = (0..3).map(|i| l.poll(t0 + i * S).unwrap()).collect();
        for line in &lines {
            let body = line.strip_prefix("PRIVMSG #a :").unwrap();
            assert!(body.chars().count() <= 500);
            assert!(body.ends_with('é'), "split at a word boundary: {body:?}");
            assert!(body.starts_with('w'), "split at a word boundary: {body:?}");
        }
    }

    #[test]
    fn injection_is_impossible() {
        let mut l = limiter();
        assert!(matches!(
            l.enqueue("a\r\nJOIN #b", "x", None),
            Err(SendError::InvalidChannel(_))
        ));
        assert!(matches!(
            l.enqueue("a", "x", Some("id\r\nQUIT")),
            Err(SendError::InvalidReplyId(_))
        ));
        assert_eq!(
            l.enqueue("a", "\r\n\x01", None),
            Err(SendError::EmptyMessage)
        );
        l.enqueue("#A", "hi\r\nPRIVMSG #b :owned", Some("abc-123"))
            .unwrap();
        let line = l.poll(Instant::now()).unwrap();
        assert_eq!(
            line,
            "@reply-parent-msg-id=abc-123 PRIVMSG #a :hi  PRIVMSG #b :owned"
        );
        assert!(!line.contains(['\r', '\n']));
    }

    #[test]
    fn full_queue_is_reported_and_bounded() {
        let mut l = ChatLimiter::new(RateLimitConfig {
            max_queue: 3,
            ..RateLimitConfig::default()
        });
        for i in 0..3 {
            l.enqueue("a", &format!("{i}"), None).unwrap();
        }
        assert_eq!(
            l.enqueue("a", "4", None),
            Err(SendError::QueueFull { capacity: 3 })
        );
        assert_eq!(l.queued(), 3);
        // A split message that does not fit is refused whole.
        let mut l = ChatLimiter::new(RateLimitConfig {
            max_queue: 2,
            max_message_chars: 5,
            ..RateLimitConfig::default()
        });
        assert!(l.enqueue("a", "aaaa bbbb cccc", None).is_err());
        assert_eq!(l.queued(), 0);
    }

    #[test]
    fn rate_limit_notice_backs_off_and_escalates() {
        let mut l = limiter();
        let t0 = Instant::now();
        l.on_rate_limit_notice(t0, Some("a"));
        l.enqueue("a", "x", None).unwrap();
        assert_eq!(l.poll(t0 + 4 * S), None);
        assert_eq!(l.next_ready(t0), Some(t0 + 5 * S));
        l.on_rate_limit_notice(t0 + 5 * S, Some("a"));
        assert_eq!(
            l.next_ready(t0 + 5 * S),
            Some(t0 + 15 * S),
            "doubled to 10 s"
        );
        assert!(l.poll(t0 + 15 * S).is_some());
    }

    #[test]
    fn rate_limit_notice_halves_the_allowance_until_a_quiet_period() {
        let mut l = limiter();
        let t0 = Instant::now();
        l.on_rate_limit_notice(t0, Some("c0"));
        for i in 0..25 {
            l.enqueue(&format!("c{i}"), "hi", None).unwrap();
        }
        assert_eq!(drain(&mut l, t0 + 4 * S).len(), 0, "paused 5 s");
        assert_eq!(drain(&mut l, t0 + 5 * S).len(), 10, "then 10, not 20");
        // 10 in the window: at 10 per 30 s the next fits at t0+35, but the cut ends at t0+30.
        assert_eq!(l.next_ready(t0 + 5 * S), Some(t0 + 30 * S));
        assert_eq!(drain(&mut l, t0 + 29 * S).len(), 0);
        assert_eq!(l.limit_for("c0", t0 + 30 * S), 20);
        assert_eq!(drain(&mut l, t0 + 30 * S).len(), 10, "full allowance again");
        assert_eq!(l.next_ready(t0 + 30 * S), Some(t0 + 35 * S));
        assert_eq!(drain(&mut l, t0 + 35 * S).len(), 5);
    }

    #[test]
    fn repeated_notices_cut_further_and_recover_step_by_step() {
        let mut l = limiter();
        let t0 = Instant::now();
        l.on_rate_limit_notice(t0, Some("a"));
        l.on_rate_limit_notice(t0 + 20 * S, Some("a"));
        // Two halvings in force, counted from the last notice.
        assert_eq!(l.limit_for("a", t0 + 20 * S), 5);
        assert_eq!(l.limit_for("a", t0 + 49 * S), 5);
        assert_eq!(l.limit_for("a", t0 + 50 * S), 10);
        assert_eq!(l.limit_for("a", t0 + 79 * S), 10);
        assert_eq!(l.limit_for("a", t0 + 80 * S), 20);
        // A notice during the recovery cuts from where the allowance is.
        l.on_rate_limit_notice(t0 + 60 * S, Some("a"));
        assert_eq!(l.limit_for("a", t0 + 60 * S), 5);
        // Never below one message per window, however many notices.
        for i in 0..20 {
            l.on_rate_limit_notice(t0 + 61 * S + i * S / 10, None);
        }
        assert_eq!(l.limit_for("a", t0 + 63 * S), 1);
        assert_eq!(l.limit_for("m", t0 + 63 * S), 1);
        l.set_privileged("m", true);
        assert_eq!(l.limit_for("m", t0 + 63 * S), 1);
    }

    #[test]
    fn the_cut_follows_the_bucket_of_the_notice_channel() {
        let mut l = limiter();
        let t0 = Instant::now();
        l.set_privileged("modded", true);
        l.on_rate_limit_notice(t0, Some("plain"));
        assert_eq!(l.limit_for("plain", t0), 10);
        assert_eq!(
            l.limit_for("modded", t0),
            100,
            "a non-moderator notice leaves the moderator rate"
        );
        let mut l = limiter();
        l.set_privileged("modded", true);
        l.on_rate_limit_notice(t0, Some("modded"));
        assert_eq!(l.limit_for("modded", t0), 50);
        assert_eq!(l.limit_for("plain", t0), 20);
        l.on_rate_limit_notice(t0 + S, Some("modded"));
        l.on_rate_limit_notice(t0 + 2 * S, Some("modded"));
        assert_eq!(l.limit_for("modded", t0 + 2 * S), 12);
        assert_eq!(
            l.limit_for("plain", t0 + 2 * S),
            12,
            "non-moderator messages count against the moderator bucket too"
        );
        let mut l = limiter();
        l.set_privileged("modded", true);
        l.on_rate_limit_notice(t0, None);
        assert_eq!(
            (l.limit_for("modded", t0), l.limit_for("plain", t0)),
            (50, 10)
        );
    }

    #[test]
    fn dropping_a_channel_keeps_the_others() {
        let mut l = limiter();
        l.enqueue("a", "1", None).unwrap();
        l.enqueue("b", "2", None).unwrap();
        l.enqueue("a", "3 four", Some("id-1")).unwrap();
        assert_eq!(l.drop_channel("a"), 2);
        assert_eq!(l.queued(), 1);
        assert_eq!(l.poll(Instant::now()).as_deref(), Some("PRIVMSG #b :2"));
    }

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

        #[test]
        fn outgoing_privmsg_round_trips_through_the_parser(text in "\\PC{1,80}", chan in "[a-z0-9_]{1,25}") {
            let mut l = limiter();
            let Ok(_) = l.enqueue(&chan, &text, None) else { return Ok(()) };
            let line = l.poll(Instant::now()).unwrap();
            let raw = crate::irc::RawLine::parse(&line).unwrap();
            prop_assert_eq!(raw.verb, "PRIVMSG");
            prop_assert_eq!(raw.params[0], format!("#{chan}"));
            prop_assert_eq!(raw.params[1], sanitize_text(&text));
        }

        #[test]
        fn after_a_notice_never_more_than_the_cut_allowance(gaps in proptest::collection::vec(0u64..2000, 1..60)) {
            let mut l = ChatLimiter::new(RateLimitConfig { max_queue: 1000, ..RateLimitConfig::default() });
            let t0 = Instant::now();
            l.on_rate_limit_notice(t0, Some("c0"));
            let mut now = t0;
            let mut sent = Vec::new();
            for (i, g) in gaps.iter().enumerate() {
                now += Duration::from_millis(*g);
                l.enqueue(&format!("c{}", i % 7), &format!("m{i}"), None).unwrap();
                while l.poll(now).is_some() {
                    sent.push(now);
                }
            }
            // Until the cut ends (t0+30 s), at most 10 in any 30 s.
            let before: Vec<_> = sent.iter().filter(|t| **t < t0 + Duration::from_secs(30)).collect();
            prop_assert!(before.len() <= 10, "{} sent during the cut", before.len());
            prop_assert!(sent.first().is_none_or(|t| *t >= t0 + Duration::from_secs(5)), "paused 5 s");
        }

        #[test]
        fn never_more_than_twenty_in_any_thirty_seconds(gaps in proptest::collection::vec(0u64..3000, 1..80)) {
            let mut l = ChatLimiter::new(RateLimitConfig { max_queue: 1000, ..RateLimitConfig::default() });
            let t0 = Instant::now();
            let mut now = t0;
            let mut sent = Vec::new();
            for (i, g) in gaps.iter().enumerate() {
                now += Duration::from_millis(*g);
                l.enqueue(&format!("c{}", i % 7), &format!("m{i}"), None).unwrap();
                while l.poll(now).is_some() {
                    sent.push(now);
                }
            }
            for (i, t) in sent.iter().enumerate() {
                let in_window = sent[i..].iter().take_while(|u| **u - *t < Duration::from_secs(30)).count();
                prop_assert!(in_window <= 20);
            }
        }
    }
}
