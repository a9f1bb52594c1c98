//! The outgoing chat queue: pacing by Twitch's limits plus a margin, re-sending what Twitch refused, and a
//! view of the queue for the game (see the [parent module](super) for the rules).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::backoff::NoticeBackoff;
use super::{
    RateLimitConfig, SendError, SlidingWindow, normalize_channel, sanitize_text, split_message,
};

#[derive(Debug, Clone)]
struct Queued {
    /// Enqueue order, to put a refused message back in its place.
    seq: u64,
    channel: String,
    text: String,
    reply_to: Option<String>,
    /// Times sent so far (refused each time).
    tries: u32,
}

/// A message sent and not yet answered: Twitch answers each PRIVMSG with a `USERSTATE` carrying the new
/// message's `id` (accepted) or a refusal `NOTICE`, in order per channel.
#[derive(Debug, Clone)]
struct InFlight {
    msg: Queued,
    sent: Instant,
    /// The channel's duplicate-filter state before this message (restored if Twitch refuses it: Twitch
    /// compares with the last message it accepted).
    before: Option<(String, bool)>,
}

/// An unanswered message is taken as delivered after this long (a server that never answers).
const IN_FLIGHT_TIMEOUT: Duration = Duration::from_secs(10);
/// Most unanswered messages remembered (100 per 30 s is the most Twitch takes).
const MAX_IN_FLIGHT: usize = 256;

#[derive(Debug, Clone)]
struct ChannelHistory {
    last_sent: Instant,
    last_text: String,
    marked: bool,
}

/// Why Twitch refused a message the bot sent (from the NOTICE's `msg-id`), as far as re-sending goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `msg_ratelimit`: too fast for the account or the channel gap. Re-sent after a pause.
    RateLimited,
    /// `msg_slowmode`: the channel's slow mode; re-sent after `wait` (the NOTICE's "in N seconds").
    SlowMode {
        /// How long Twitch said to wait, when its text says.
        wait: Option<Duration>,
    },
    /// Anything that re-sending cannot fix (`msg_duplicate`, `msg_banned`, followers-only, ...): the words
    /// say why.
    Final(String),
}

/// A message given up on: Twitch refused it for good, or [`RateLimitConfig::max_tries`] times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedMessage {
    /// The channel login.
    pub channel: String,
    /// The message text (one piece of a split message).
    pub text: String,
    /// Why, in words.
    pub reason: String,
}

/// One channel in a [`ChatStatus`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelStatus {
    /// Channel login.
    pub channel: String,
    /// Messages queued for it (pieces of split messages count one each).
    pub queued: usize,
    /// Milliseconds until its next queued message may go out (0: now); absent when none is queued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_send_ms: Option<u64>,
    /// The bot is moderator or broadcaster there (100 per 30 s, no channel gap).
    pub moderator: bool,
    /// The channel's slow mode in seconds (0: off).
    pub slow_mode_secs: u64,
}

/// A view of the outgoing chat queue (the `chat_status` event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatStatus {
    /// Messages queued in all channels.
    pub queued: usize,
    /// The queue's capacity; a `say` that does not fit whole is refused.
    pub capacity: usize,
    /// Messages sent whose answer from Twitch has not arrived yet.
    pub in_flight: usize,
    /// Milliseconds until the next queued message may go out (0: now); absent when nothing is queued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_send_ms: Option<u64>,
    /// Messages sent in the current 30 s window.
    pub sent_in_window: usize,
    /// The non-moderator allowance per window now (20, or less after repeated `msg_ratelimit`).
    pub allowance: usize,
    /// The moderator/broadcaster allowance per window now (100, or less).
    pub moderator_allowance: usize,
    /// Milliseconds left of a pause after `msg_ratelimit`; absent when not paused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_ms: Option<u64>,
    /// `msg_ratelimit` notices in the last 30 s.
    pub recent_rate_limits: usize,
    /// The margin kept over every limit, in milliseconds.
    pub margin_ms: u64,
    /// Per channel (channels with queued messages, a known slow mode, or moderator status), by name.
    pub channels: Vec<ChannelStatus>,
}

/// The outgoing chat queue and Twitch's sending rules (see the [module docs](super)).
#[derive(Debug, Clone)]
pub struct ChatLimiter {
    config: RateLimitConfig,
    queue: VecDeque<Queued>,
    next_seq: u64,
    in_flight: VecDeque<InFlight>,
    window: SlidingWindow,
    channels: HashMap<String, ChannelHistory>,
    privileged: HashSet<String>,
    slow_mode: HashMap<String, Duration>,
    /// Channels held after `msg_slowmode` until this time.
    held: HashMap<String, Instant>,
    backoff: NoticeBackoff,
}

/// The invisible character (U+E0000, TAG SPACE... unassigned tag) appended to dodge the duplicate filter.
const DUPLICATE_MARKER: &str = " \u{E0000}";

fn ms_until(at: Instant, now: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(now).as_millis()).unwrap_or(u64::MAX)
}

impl ChatLimiter {
    /// A limiter with `config`'s limits and an empty queue.
    pub fn new(config: RateLimitConfig) -> Self {
        let largest = config
            .messages_per_window
            .max(config.privileged_messages_per_window);
        ChatLimiter {
            window: SlidingWindow::new(largest, config.window + config.margin),
            config,
            queue: VecDeque::new(),
            next_seq: 0,
            in_flight: VecDeque::new(),
            channels: HashMap::new(),
            privileged: HashSet::new(),
            slow_mode: HashMap::new(),
            held: HashMap::new(),
            backoff: NoticeBackoff::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RateLimitConfig {
        &self.config
    }

    /// Queues `text` for `channel` (optionally as a reply to message `reply_to`): sanitized, split at
    /// [`RateLimitConfig::max_message_chars`]. All pieces are queued or none. Returns the number of pieces.
    ///
    /// # Errors
    /// [`SendError::InvalidChannel`], [`SendError::EmptyMessage`], [`SendError::InvalidReplyId`], or
    /// [`SendError::QueueFull`] when the pieces do not fit in the queue (the queue keeps what it has: the
    /// drop rule is "refuse the newest").
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
            self.next_seq += 1;
            self.queue.push_back(Queued {
                seq: self.next_seq,
                channel: channel.clone(),
                text,
                reply_to: reply_to.clone(),
                tries: 0,
            });
        }
        Ok(n)
    }

    /// Messages waiting.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Messages waiting for `channel` (a normalised login).
    pub fn queued_in(&self, channel: &str) -> usize {
        self.queue.iter().filter(|m| m.channel == channel).count()
    }

    /// Drops every queued message (e.g. when the session fails for good). Returns how many.
    pub fn clear(&mut self) -> usize {
        let n = self.queue.len();
        self.queue.clear();
        self.in_flight.clear();
        n
    }

    /// Records whether the bot is moderator or broadcaster in `channel` (from `USERSTATE`). Until this
    /// says so, a channel gets the strict (non-moderator) limits.
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
    /// channel are spaced by at least `interval` + margin (and never less than
    /// [`RateLimitConfig::channel_interval`] + margin). Zero turns it off.
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

    /// Twitch accepted the oldest unanswered message to `channel` (a `USERSTATE` with the new message's id).
    pub fn on_accepted(&mut self, channel: &str) {
        if let Some(i) = self.in_flight.iter().position(|f| f.msg.channel == channel) {
            self.in_flight.remove(i);
        }
    }

    /// Twitch refused the oldest unanswered message to `channel` (or, for `None`, said `msg_ratelimit`
    /// connection-wide). A `msg_ratelimit` starts the back-off ([`super::backoff`]); a refused message
    /// that re-sending can fix goes back to the head of its channel's queue, otherwise (or after
    /// [`RateLimitConfig::max_tries`] sends) it is returned as dropped.
    pub fn on_refused(
        &mut self,
        now: Instant,
        channel: Option<&str>,
        refusal: Refusal,
    ) -> Option<DroppedMessage> {
        match &refusal {
            Refusal::RateLimited => {
                self.on_rate_limit_notice(now, channel);
            }
            Refusal::SlowMode { wait } => {
                if let Some(c) = channel {
                    let slow = self.slow_mode.get(c).copied().unwrap_or_default();
                    let wait = wait.unwrap_or(slow.max(self.config.channel_interval));
                    self.held
                        .insert(c.to_owned(), now + wait + self.config.margin);
                }
            }
            Refusal::Final(_) => {}
        }
        let channel = channel?;
        let i = self
            .in_flight
            .iter()
            .position(|f| f.msg.channel == channel)?;
        let InFlight { msg, before, .. } = self.in_flight.remove(i)?;
        let later_sent = self.in_flight.iter().any(|f| f.msg.channel == msg.channel);
        if !later_sent && let Some(h) = self.channels.get_mut(&msg.channel) {
            (h.last_text, h.marked) = before.unwrap_or_default();
        }
        let reason = match refusal {
            Refusal::Final(reason) => reason,
            _ if msg.tries >= self.config.max_tries => format!(
                "refused {} times (rate limit or slow mode); giving up",
                msg.tries
            ),
            _ => {
                tracing::info!(channel = %msg.channel, tries = msg.tries, "refused message re-queued");
                self.requeue(msg);
                return None;
            }
        };
        Some(DroppedMessage {
            channel: msg.channel,
            text: msg.text,
            reason,
        })
    }

    /// Puts `msg` back before every later message of its channel (after earlier ones put back already).
    fn requeue(&mut self, msg: Queued) {
        let later = self
            .queue
            .iter()
            .position(|m| m.channel == msg.channel && m.seq > msg.seq);
        let at = later.unwrap_or_else(|| {
            self.queue
                .iter()
                .rposition(|m| m.channel == msg.channel)
                .map_or(0, |i| i + 1)
        });
        if self.queue.len() >= self.config.max_queue {
            // The queue filled up meanwhile: the refused message still goes first (it is older than
            // everything of its channel), the bound is exceeded by at most the messages in flight.
            tracing::debug!("queue full while re-queueing a refused message");
        }
        self.queue.insert(at, msg);
    }

    /// Twitch said `msg_ratelimit` (in `channel`, or connection-wide for `None`): pause, and on repeated
    /// notices cut the allowance of that channel's bucket (both buckets for `None`); see [`super::backoff`].
    pub fn on_rate_limit_notice(&mut self, now: Instant, channel: Option<&str>) {
        let buckets: &[usize] = match channel {
            Some(c) if self.is_privileged(c) => &[1],
            Some(_) => &[0],
            None => &[0, 1],
        };
        let pause = self.backoff.on_notice(now, buckets, &self.config);
        tracing::warn!(
            ?pause,
            channel = channel.unwrap_or("*"),
            limit = self.limit_for(channel.unwrap_or(""), now),
            "Twitch reported msg_ratelimit; pausing chat output"
        );
    }

    fn bucket(&self, channel: &str) -> usize {
        usize::from(self.is_privileged(channel))
    }

    /// The messages-per-window allowance for `channel` at `now`, after any cut for repeated
    /// `msg_ratelimit` notices.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use twitch_bot::rate_limit::{ChatLimiter, RateLimitConfig};
    /// let mut limiter = ChatLimiter::new(RateLimitConfig::default());
    /// let t0 = Instant::now();
    /// assert_eq!(limiter.limit_for("chan", t0), 20);
    /// limiter.on_rate_limit_notice(t0, Some("chan"));
    /// assert_eq!(limiter.limit_for("chan", t0), 20, "one notice: a pause only");
    /// limiter.on_rate_limit_notice(t0 + Duration::from_secs(2), Some("chan"));
    /// assert_eq!(limiter.limit_for("chan", t0 + Duration::from_secs(2)), 15);
    /// assert_eq!(limiter.limit_for("chan", t0 + Duration::from_secs(17)), 20);
    /// ```
    pub fn limit_for(&self, channel: &str, now: Instant) -> usize {
        self.bucket_limit(self.bucket(channel), now)
    }

    /// A bucket's allowance at `now`. A non-moderator message also counts against the moderator
    /// bucket, so a cut there lowers both.
    fn bucket_limit(&self, bucket: usize, now: Instant) -> usize {
        let privileged = NoticeBackoff::cut(
            self.config.privileged_messages_per_window,
            self.backoff.level(1, now),
        );
        if bucket == 1 {
            privileged
        } else {
            NoticeBackoff::cut(self.config.messages_per_window, self.backoff.level(0, now))
                .min(privileged)
        }
    }

    /// When the message at queue index `i` may be sent (`now` if now).
    fn ready_at(&mut self, i: usize, now: Instant) -> Instant {
        let channel = self.queue[i].channel.clone();
        let limit = self.limit_for(&channel, now);
        let mut at = self.window.next_free_with_limit(now, limit).unwrap_or(now);
        // A cut allowance grows back at the next recovery step: the message may fit then.
        let b = self.bucket(&channel);
        let buckets: &[usize] = if b == 0 { &[0, 1] } else { &[1] };
        if let Some(step_at) = self.backoff.next_step(buckets, now).filter(|s| *s < at) {
            let grown = self.bucket_limit(b, step_at);
            let free = self
                .window
                .next_free_with_limit(now, grown)
                .unwrap_or(now)
                .max(step_at);
            at = at.min(free);
        }
        if !self.is_privileged(&channel) {
            if let Some(h) = self.channels.get(&channel) {
                let slow = self.slow_mode.get(&channel).copied().unwrap_or_default();
                at = at
                    .max(h.last_sent + self.config.channel_interval.max(slow) + self.config.margin);
            }
            if let Some(held) = self.held.get(&channel) {
                at = at.max(*held);
            }
        }
        if let Some(p) = self.backoff.paused_until(now) {
            at = at.max(p);
        }
        at
    }

    /// Forgets answers that never came (taken as delivered).
    fn expire_in_flight(&mut self, now: Instant) {
        while self
            .in_flight
            .front()
            .is_some_and(|f| now.saturating_duration_since(f.sent) >= IN_FLIGHT_TIMEOUT)
        {
            self.in_flight.pop_front();
        }
        self.held.retain(|_, until| *until > now);
    }

    /// The next message that may go out at `now`, as a full IRC line (no line ending), or `None`.
    /// Messages of one channel keep their order; a channel held by its gap does not hold others.
    /// `now` must be the time the line is written: the gaps are counted from it.
    pub fn poll(&mut self, now: Instant) -> Option<String> {
        self.expire_in_flight(now);
        if self.backoff.paused_until(now).is_some() {
            return None;
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
        let mut msg = self.queue.remove(pick?)?;
        let limit = self.limit_for(&msg.channel, now);
        if !self.window.try_take_with_limit(now, limit) {
            // Cannot happen (ready_at checked it), but never send over the limit.
            self.queue.push_front(msg);
            return None;
        }
        let mut text = msg.text.clone();
        let history = self.channels.get(&msg.channel);
        let duplicate = history.is_some_and(|h| {
            h.last_text == text
                && now.saturating_duration_since(h.last_sent)
                    < self.config.duplicate_window + self.config.margin
        });
        let marked = duplicate && !history.is_some_and(|h| h.marked);
        let before = history.map(|h| (h.last_text.clone(), h.marked));
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
                last_text: msg.text.clone(),
                marked,
            },
        );
        let line = match &msg.reply_to {
            Some(id) => format!("@reply-parent-msg-id={id} PRIVMSG #{} :{text}", msg.channel),
            None => format!("PRIVMSG #{} :{text}", msg.channel),
        };
        msg.tries += 1;
        if self.in_flight.len() >= MAX_IN_FLIGHT {
            self.in_flight.pop_front();
        }
        self.in_flight.push_back(InFlight {
            msg,
            sent: now,
            before,
        });
        Some(line)
    }

    /// When [`ChatLimiter::poll`] will next have a message, `None` when the queue is empty.
    pub fn next_ready(&mut self, now: Instant) -> Option<Instant> {
        (0..self.queue.len()).map(|i| self.ready_at(i, now)).min()
    }

    /// A view of the queue at `now` (see [`ChatStatus`]).
    pub fn status(&mut self, now: Instant) -> ChatStatus {
        self.expire_in_flight(now);
        let mut per: BTreeMap<String, (usize, Option<Instant>)> = BTreeMap::new();
        for c in self.privileged.iter().chain(self.slow_mode.keys()) {
            per.entry(c.clone()).or_default();
        }
        for i in 0..self.queue.len() {
            let ready = self.ready_at(i, now);
            let entry = per.entry(self.queue[i].channel.clone()).or_default();
            entry.0 += 1;
            if entry.1.is_none() {
                // The first queued message of a channel is the next to go there.
                entry.1 = Some(ready);
            }
        }
        let channels = per
            .into_iter()
            .map(|(channel, (queued, next))| ChannelStatus {
                moderator: self.is_privileged(&channel),
                slow_mode_secs: self.slow_mode.get(&channel).map_or(0, Duration::as_secs),
                next_send_ms: next.map(|t| ms_until(t, now)),
                queued,
                channel,
            })
            .collect();
        let next = self.next_ready(now);
        ChatStatus {
            queued: self.queue.len(),
            capacity: self.config.max_queue,
            in_flight: self.in_flight.len(),
            next_send_ms: next.map(|t| ms_until(t, now)),
            sent_in_window: self.window.used(now),
            allowance: self.bucket_limit(0, now),
            moderator_allowance: self.bucket_limit(1, now),
            paused_ms: self.backoff.paused_until(now).map(|t| ms_until(t, now)),
            recent_rate_limits: self.backoff.recent(now, self.config.window),
            margin_ms: u64::try_from(self.config.margin.as_millis()).unwrap_or(u64::MAX),
            channels,
        }
    }
}

#[cfg(test)]
#[path = "chat_tests.rs"]
mod tests;
