//! The Twitch chat session: a sans-IO state machine (lines and clock ticks in, lines and events out).
//!
//! [`Session`] knows the whole protocol (login, capabilities, joins, keep-alive, reconnect requests,
//! rate limits) and touches no socket and no clock: the driver feeds it what arrived and the current
//! [`Instant`], then drains what it must do. Methods come in four kinds, as in `quinn-proto`:
//!
//! - `handle_*`: something happened: [`Session::handle_connected`], [`Session::handle_frame`]
//!   (or [`Session::handle_frame_with`], which hands chat to a callback as the ChatPlay engine's
//!   transport-neutral [`ChatInput`] instead of queuing it as events), [`Session::handle_timeout`],
//!   [`Session::handle_disconnected`];
//! - requests: [`Session::join`], [`Session::part`], [`Session::say`], [`Session::reply`];
//! - `poll_*`: what to do now: [`Session::poll_transmit`] (a line to send as one WebSocket text frame),
//!   [`Session::poll_timeout`] (when to call `handle_timeout`), [`Session::poll_event`] (what happened);
//! - getters: [`Session::state`], [`Session::nick`], [`Session::joined_channels`], ...
//!
//! After **every** `handle_*` or request, drain `poll_transmit` and `poll_event` until `None` and
//! re-arm the timer from `poll_timeout`.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use twitch_bot::session::{Event, Secret, Session, SessionConfig};
//!
//! let mut config = SessionConfig::new("mybot".parse()?, Some(Secret::new("oauth:abc123")));
//! config.channels = vec!["#SomeStreamer".into()];
//! let mut session = Session::new(config);
//! let t0 = Instant::now();
//!
//! session.handle_connected(t0);
//! let mut sent = Vec::new();
//! while let Some(line) = session.poll_transmit(t0) { sent.push(line); }
//! assert_eq!(sent[0], "CAP REQ :twitch.tv/tags twitch.tv/commands twitch.tv/membership");
//! assert_eq!(sent[1], "PASS oauth:abc123");
//! assert_eq!(sent[2], "NICK mybot");
//!
//! // The server welcomes us (two lines in one frame), we join, it confirms.
//! session.handle_frame(":tmi.twitch.tv CAP * ACK :twitch.tv/tags twitch.tv/commands twitch.tv/membership\r\n\
//!                       :tmi.twitch.tv 001 mybot :Welcome, GLHF!\r\n", t0);
//! assert_eq!(session.poll_transmit(t0).as_deref(), Some("JOIN #somestreamer"));
//! session.handle_frame(":mybot!mybot@mybot.tmi.twitch.tv JOIN #somestreamer", t0);
//!
//! let events: Vec<Event> = std::iter::from_fn(|| session.poll_event()).collect();
//! assert!(events.contains(&Event::LoggedIn { nick: "mybot".into() }));
//! assert!(events.contains(&Event::Joined { channel: "somestreamer".into() }));
//!
//! session.say("somestreamer", "hello chat").unwrap();
//! assert_eq!(session.poll_transmit(t0).as_deref(), Some("PRIVMSG #somestreamer :hello chat"));
//!
//! // The server pings: the answer is immediate, whatever else is in the frame.
//! let t1 = t0 + Duration::from_secs(300);
//! session.handle_frame("PING :tmi.twitch.tv", t1);
//! assert_eq!(session.poll_transmit(t1).as_deref(), Some("PONG :tmi.twitch.tv"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Guarantees
//! - No I/O, no threads, no clock reads, no panics on any input; every rule is unit-tested with a fake clock.
//! - Lines from [`Session::poll_transmit`] are single IRC lines without line ending, free of CR/LF.
//!   The `PASS` line carries the token: log lines through [`redact_line`], never raw.
//! - Outgoing chat follows [`rate_limit`](crate::rate_limit)'s rules, including a channel's slow mode
//!   learned from `ROOMSTATE` and the moderator rate learned from `USERSTATE`.
//! - Outgoing chat is bounded ([`RateLimitConfig::max_queue`](crate::rate_limit::RateLimitConfig::max_queue)); a full queue is an error, not growth.
//! - [`Event::AuthFailed`] is final: the driver must stop, not reconnect in a loop.
//! - After `NOTICE msg_ratelimit` output pauses (5 s, doubling) **and** runs at half the allowance,
//!   recovering step by step after 30 s without a further notice (see [`rate_limit`](crate::rate_limit)).
//! - An unconfirmed JOIN is retried ([`SessionConfig::join_retry_delays`]: 10 s, 30 s, 60 s) within the
//!   JOIN limit; every failure is an [`Event::JoinFailed`] saying whether it is retried or final.
//!   [`Session::part`] cancels retries; a reconnect re-joins every channel except those Twitch refused.
//! - Where Twitch refuses the bot's chat for good (banned, channel suspended, verification required) or for
//!   a while (timed out, learned from `NOTICE msg_timedout` or a `CLEARCHAT` naming the bot), queued chat
//!   for that channel is dropped and [`Session::say`] returns [`SendError::ChannelBlocked`] instead of
//!   spending the rate budget; [`Session::join`] for the channel lifts a lasting stop.

mod types;

pub use types::{
    ChatInput, Event, JoinStatus, ReconnectReason, Secret, SessionConfig, SessionState, redact_line,
};

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use crate::irc::chat::{chat_message, fast_chat_message};
use crate::irc::{
    CapKind, ChatRefusal, ClearChat, Notice, Numeric, ParseError, RawLine, ServerMessage,
    split_frame,
};
use crate::rate_limit::{
    ChatLimiter, ChatStatus, JoinBudget, Refusal, SendError, normalize_channel,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChannelState {
    /// Wanted, JOIN not sent yet (waiting for login or the JOIN rate limit); `failures` attempts so far.
    Pending { failures: usize },
    /// JOIN sent at this time.
    Joining { sent: Instant, failures: usize },
    /// Confirmed.
    Joined,
    /// Attempt `failures` timed out; JOIN again at `at`.
    RetryWait { at: Instant, failures: usize },
    /// Gave up: all attempts timed out (retried after a reconnect), or Twitch `refused` the channel
    /// (kept until [`Session::join`] asks again).
    Failed { refused: bool },
}

impl ChannelState {
    const NEW: ChannelState = ChannelState::Pending { failures: 0 };

    /// True when a JOIN should go out now (rate limit permitting).
    fn is_due(self, now: Instant) -> bool {
        match self {
            ChannelState::Pending { .. } => true,
            ChannelState::RetryWait { at, .. } => at <= now,
            _ => false,
        }
    }

    /// The state after a (re)connect: everything is joined again, except refused channels.
    fn after_reconnect(self) -> ChannelState {
        match self {
            ChannelState::Failed { refused: true } => self,
            _ => ChannelState::NEW,
        }
    }
}

/// Why and until when the session does not send chat to a channel.
#[derive(Debug, Clone)]
struct ChatBlock {
    reason: String,
    /// `None`: until [`Session::join`] or [`Session::part`] for the channel.
    until: Option<Instant>,
}

/// The Twitch chat session state machine. See the [module docs](self).
///
/// Its `Debug` output masks the token, including the queued `PASS` line.
pub struct Session {
    config: SessionConfig,
    nick: String,
    anonymous: bool,
    state: SessionState,
    now: Option<Instant>,
    connected_at: Option<Instant>,
    last_received: Option<Instant>,
    ping_sent: Option<Instant>,
    ping_counter: u64,
    channels: BTreeMap<String, ChannelState>,
    blocked: BTreeMap<String, ChatBlock>,
    /// The account's JOIN schedule, shared with a handover's new session ([`Session::share_join_budget`]).
    join_budget: JoinBudget,
    limiter: ChatLimiter,
    transmit: VecDeque<String>,
    events: VecDeque<Event>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let transmit: Vec<_> = self.transmit.iter().map(|l| redact_line(l)).collect();
        f.debug_struct("Session")
            .field("nick", &self.nick)
            .field("anonymous", &self.anonymous)
            .field("state", &self.state)
            .field("channels", &self.channels)
            .field("ping_sent", &self.ping_sent)
            .field("queued_messages", &self.limiter.queued())
            .field("transmit", &transmit)
            .field("events", &self.events.len())
            .field("config", &self.config)
            .finish()
    }
}

impl Session {
    /// A new, disconnected session. Channels in the config that are not valid Twitch logins are
    /// reported as [`Event::JoinFailed`] at once.
    pub fn new(config: SessionConfig) -> Self {
        let anonymous = config.token.is_none();
        let nick = if anonymous {
            format!("justinfan{}", rand::random_range(10_000u32..100_000_000))
        } else {
            config.nick.to_string()
        };
        let mut session = Session {
            join_budget: JoinBudget::new(&config.rate_limits),
            limiter: ChatLimiter::new(config.rate_limits.clone()),
            nick,
            anonymous,
            state: SessionState::Disconnected,
            now: None,
            connected_at: None,
            last_received: None,
            ping_sent: None,
            ping_counter: 0,
            channels: BTreeMap::new(),
            blocked: BTreeMap::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            config,
        };
        for channel in session.config.channels.clone() {
            if let Err(error) = session.join(&channel) {
                session.events.push_back(Event::JoinFailed {
                    channel,
                    reason: error.to_string(),
                });
            }
        }
        session
    }

    // ---- getters ----

    /// The nick used to log in (`justinfan…` when anonymous).
    pub fn nick(&self) -> &str {
        &self.nick
    }

    /// True for an anonymous, read-only session.
    pub fn is_anonymous(&self) -> bool {
        self.anonymous
    }

    /// Where the session is.
    pub fn state(&self) -> SessionState {
        self.state
    }

    /// Channels whose join is confirmed on this connection.
    pub fn joined_channels(&self) -> impl Iterator<Item = &str> {
        self.channels
            .iter()
            .filter(|(_, s)| **s == ChannelState::Joined)
            .map(|(c, _)| c.as_str())
    }

    /// Every channel the session wants to be in (joined or not).
    pub fn wanted_channels(&self) -> impl Iterator<Item = &str> {
        self.channels.keys().map(String::as_str)
    }

    /// Where `channel`'s join stands (`None` when the channel is not wanted or not a valid name).
    ///
    /// ```
    /// use twitch_bot::session::{JoinStatus, Session, SessionConfig, Secret};
    /// let mut session = Session::new(SessionConfig::new("bot".parse().unwrap(), Some(Secret::new("t"))));
    /// session.join("#Chan").unwrap();
    /// assert_eq!(session.join_status("chan"), Some(JoinStatus::Pending));
    /// assert_eq!(session.join_status("other"), None);
    /// ```
    pub fn join_status(&self, channel: &str) -> Option<JoinStatus> {
        let channel = normalize_channel(channel).ok()?;
        Some(match *self.channels.get(&channel)? {
            ChannelState::Pending { .. } => JoinStatus::Pending,
            ChannelState::Joining { .. } => JoinStatus::Joining,
            ChannelState::Joined => JoinStatus::Joined,
            ChannelState::RetryWait { at, .. } => JoinStatus::RetryAt(at),
            ChannelState::Failed { .. } => JoinStatus::Failed,
        })
    }

    /// Why chat to `channel` is not sent (the bot is banned, timed out, the channel is suspended...),
    /// or `None` when it is.
    pub fn chat_blocked(&self, channel: &str) -> Option<&str> {
        let channel = normalize_channel(channel).ok()?;
        let block = self.blocked.get(&channel)?;
        let active = match (block.until, self.now) {
            (Some(until), Some(now)) => now < until,
            _ => true,
        };
        active.then_some(block.reason.as_str())
    }

    /// Chat messages waiting for the rate limiter.
    pub fn queued_messages(&self) -> usize {
        self.limiter.queued()
    }

    // ---- handle_* ----

    /// The transport is connected: queues `CAP REQ`, `PASS` (if not anonymous), `NICK`.
    /// Call it again after every reconnect; wanted channels are re-joined after login.
    pub fn handle_connected(&mut self, now: Instant) {
        self.now = Some(now);
        self.transmit.clear();
        self.state = SessionState::LoggingIn;
        self.connected_at = Some(now);
        self.last_received = Some(now);
        self.ping_sent = None;
        for state in self.channels.values_mut() {
            *state = state.after_reconnect();
        }
        self.transmit
            .push_back("CAP REQ :twitch.tv/tags twitch.tv/commands twitch.tv/membership".into());
        if let Some(token) = &self.config.token {
            let token = token.expose_secret().trim();
            let token = token.strip_prefix("oauth:").unwrap_or(token);
            let token: String = token
                .chars()
                .filter(|c| !c.is_control() && *c != ' ')
                .collect();
            self.transmit.push_back(format!("PASS oauth:{token}"));
        }
        self.transmit.push_back(format!("NICK {}", self.nick));
        tracing::info!(nick = %self.nick, anonymous = self.anonymous, "connected; logging in");
        self.events.push_back(Event::Connected);
    }

    /// Replaces the token sent by the next [`handle_connected`](Self::handle_connected) (a refreshed one).
    /// Ignored for an anonymous session.
    pub fn set_token(&mut self, token: Secret) {
        if !self.anonymous {
            self.config.token = Some(token);
        }
    }

    /// A WebSocket text frame arrived (one or more lines).
    pub fn handle_frame(&mut self, frame: &str, now: Instant) {
        self.handle_frame_inner(frame, now, None);
    }

    /// As [`Session::handle_frame`], but chat goes to `chat` as it is read, in line order, as
    /// the ChatPlay engine's transport-neutral input: each `PRIVMSG` as a [`ChatMessage`](crate::chatplay::ChatMessage) built
    /// straight from the line (borrowing from `frame`, without the [`Privmsg`](crate::irc::Privmsg) and its lists),
    /// each `CLEARCHAT`/`CLEARMSG` as a [`Moderation`](crate::chatplay::Moderation) (none for a backlog replay). No
    /// [`Event::Chat`], [`Event::ClearChat`] or [`Event::ClearMsg`] is queued; everything else
    /// is as with `handle_frame`. This is the bot's hot path: a line of chat costs no copy.
    ///
    /// ```
    /// use std::time::Instant;
    /// use twitch_bot::session::{ChatInput, Session, SessionConfig};
    /// let mut session = Session::new(SessionConfig::anonymous());
    /// session.handle_connected(Instant::now());
    /// let mut texts = Vec::new();
    /// session.handle_frame_with(
    ///     "@id=1;user-id=7 :ann!ann@ann.tmi.twitch.tv PRIVMSG #chan :UP\r\nPING :x",
    ///     Instant::now(),
    ///     &mut |input| if let ChatInput::Message(m) = input { texts.push(m.text.into_owned()) },
    /// );
    /// assert_eq!(texts, ["UP"]);
    /// ```
    pub fn handle_frame_with(
        &mut self,
        frame: &str,
        now: Instant,
        chat: &mut dyn FnMut(ChatInput<'_>),
    ) {
        self.handle_frame_inner(frame, now, Some(chat));
    }

    fn handle_frame_inner(
        &mut self,
        frame: &str,
        now: Instant,
        mut chat: Option<&mut dyn FnMut(ChatInput<'_>)>,
    ) {
        self.now = Some(now);
        if self.state == SessionState::Disconnected || self.state == SessionState::AuthFailed {
            tracing::debug!("frame ignored: no live session");
            return;
        }
        self.last_received = Some(now);
        for line in split_frame(frame) {
            if let Err(error) = self.handle_line(line, now, chat.as_deref_mut()) {
                tracing::warn!(%error, "unparsable line skipped");
                self.events.push_back(Event::InvalidLine {
                    line: line.chars().take(200).collect(),
                    error,
                });
            }
            if self.state == SessionState::AuthFailed {
                break;
            }
        }
        self.schedule(now);
    }

    fn handle_line(
        &mut self,
        line: &str,
        now: Instant,
        chat: Option<&mut (dyn FnMut(ChatInput<'_>) + '_)>,
    ) -> Result<(), ParseError> {
        let Some(chat) = chat else {
            self.handle_message(ServerMessage::try_from(&RawLine::parse(line)?)?, now);
            return Ok(());
        };
        // Chat of the usual shape skips the general grammar; any other line takes it.
        if let Some(message) = fast_chat_message(line) {
            chat(ChatInput::Message(message));
            return Ok(());
        }
        let raw = RawLine::parse(line)?;
        if raw.verb.eq_ignore_ascii_case("PRIVMSG") {
            chat(ChatInput::Message(chat_message(&raw)?));
            return Ok(());
        }
        match ServerMessage::try_from(&raw)? {
            ServerMessage::ClearChat(c) => {
                self.note_clear_chat(&c, now);
                if let Some(m) = c.moderation() {
                    chat(ChatInput::Moderation(m));
                }
            }
            ServerMessage::ClearMsg(c) => {
                if let Some(m) = c.moderation() {
                    chat(ChatInput::Moderation(m));
                }
            }
            other => self.handle_message(other, now),
        }
        Ok(())
    }

    /// A timer set from [`Session::poll_timeout`] fired (calling it early or late is harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = Some(now);
        match self.state {
            SessionState::Disconnected | SessionState::AuthFailed => return,
            SessionState::LoggingIn => {
                if let Some(at) = self.connected_at
                    && now >= at + self.config.login_timeout
                {
                    tracing::warn!("no welcome from the server in time; asking for a reconnect");
                    self.connected_at = None;
                    self.events.push_back(Event::ReconnectWanted {
                        reason: ReconnectReason::LoginTimeout,
                    });
                }
                return;
            }
            SessionState::LoggedIn => {}
        }
        // Keep-alive.
        if let Some(sent) = self.ping_sent {
            if now >= sent + self.config.pong_timeout {
                tracing::warn!("no PONG in time; asking for a reconnect");
                self.ping_sent = None;
                self.events.push_back(Event::ReconnectWanted {
                    reason: ReconnectReason::PongTimeout,
                });
            }
        } else if let Some(last) = self.last_received
            && now >= last + self.config.ping_after_idle
        {
            self.ping_counter += 1;
            self.transmit
                .push_back(format!("PING :twitch_bot-{}", self.ping_counter));
            self.ping_sent = Some(now);
        }
        // Join timeouts: retry after the next delay, or give up after the last.
        let timeout = self.config.join_timeout;
        let delays = &self.config.join_retry_delays;
        let attempts = delays.len() + 1;
        let mut failed = Vec::new();
        for (channel, state) in &mut self.channels {
            if let ChannelState::Joining { sent, failures } = *state
                && now >= sent + timeout
            {
                let failures = failures + 1;
                let retry = delays
                    .get(failures - 1)
                    .and_then(|d| Some((*d, now.checked_add(*d)?)));
                *state = match retry {
                    Some((_, at)) => ChannelState::RetryWait { at, failures },
                    None => ChannelState::Failed { refused: false },
                };
                let retry = retry.map(|(delay, _)| delay);
                failed.push((channel.clone(), failures, retry));
            }
        }
        for (channel, failures, retry) in failed {
            let then = match retry {
                Some(delay) => format!("retrying in {} s", delay.as_secs()),
                None => "giving up".to_owned(),
            };
            let reason = format!(
                "no JOIN or ROOMSTATE within {} s (attempt {failures} of {attempts}); {then}",
                timeout.as_secs()
            );
            tracing::warn!(%channel, %reason, "join not confirmed in time");
            self.events.push_back(Event::JoinFailed { channel, reason });
        }
        self.schedule(now);
    }

    /// The transport closed (or failed). Pending protocol lines are dropped; queued chat is kept for
    /// the next connection; channels will be re-joined.
    pub fn handle_disconnected(&mut self, now: Instant) {
        self.now = Some(now);
        self.transmit.clear();
        if self.state != SessionState::AuthFailed {
            self.state = SessionState::Disconnected;
        }
        self.ping_sent = None;
        self.connected_at = None;
        for state in self.channels.values_mut() {
            *state = state.after_reconnect();
        }
        self.events.push_back(Event::Disconnected);
    }

    // ---- requests ----

    /// Wants `channel` joined (any case, with or without `#`); sent when logged in, within the JOIN
    /// rate limit, and retried when unconfirmed ([`SessionConfig::join_retry_delays`]). Joining a
    /// channel already wanted does nothing, except after a final [`Event::JoinFailed`], when it tries
    /// again. It also lifts a stop on chat to that channel ([`Session::chat_blocked`]), e.g. after the
    /// bot was unbanned.
    ///
    /// # Errors
    /// [`SendError::InvalidChannel`] when it is not a Twitch login.
    pub fn join(&mut self, channel: &str) -> Result<(), SendError> {
        let channel = normalize_channel(channel)?;
        if let Some(block) = self.blocked.remove(&channel) {
            tracing::info!(%channel, reason = %block.reason, "join asked again: chat to the channel resumes");
        }
        let state = self.channels.entry(channel).or_insert(ChannelState::NEW);
        if let ChannelState::Failed { .. } = *state {
            // Asked again after a final failure: try again.
            *state = ChannelState::NEW;
        }
        if let Some(now) = self.now {
            self.schedule(now);
        }
        Ok(())
    }

    /// Leaves `channel` (and stops wanting it; scheduled JOIN retries are cancelled). [`Event::Parted`]
    /// follows the server's echo, or at once if no JOIN was in flight or confirmed.
    ///
    /// # Errors
    /// [`SendError::InvalidChannel`] when it is not a Twitch login.
    pub fn part(&mut self, channel: &str) -> Result<(), SendError> {
        let channel = normalize_channel(channel)?;
        self.blocked.remove(&channel);
        match self.channels.remove(&channel) {
            Some(ChannelState::Joined | ChannelState::Joining { .. })
                if self.state == SessionState::LoggedIn =>
            {
                self.transmit.push_back(format!("PART #{channel}"));
            }
            _ => self.events.push_back(Event::Parted { channel }),
        }
        Ok(())
    }

    /// Queues a chat message to `channel` (rate-limited, sanitized, split over 500 characters).
    ///
    /// # Errors
    /// [`SendError::Anonymous`] for an anonymous session; otherwise as [`ChatLimiter::enqueue`],
    /// notably [`SendError::QueueFull`].
    /// Returns the number of pieces queued (more than 1 when the text was split).
    pub fn say(&mut self, channel: &str, text: &str) -> Result<usize, SendError> {
        self.send(channel, text, None)
    }

    /// Queues a reply to the message `parent_id` (a [`Privmsg::message_id`](crate::irc::Privmsg::message_id)) in `channel`.
    ///
    /// # Errors
    /// As [`Session::say`], plus [`SendError::InvalidReplyId`].
    pub fn reply(
        &mut self,
        channel: &str,
        parent_id: &str,
        text: &str,
    ) -> Result<usize, SendError> {
        self.send(channel, text, Some(parent_id))
    }

    fn send(
        &mut self,
        channel: &str,
        text: &str,
        reply_to: Option<&str>,
    ) -> Result<usize, SendError> {
        if self.anonymous {
            return Err(SendError::Anonymous);
        }
        let channel = normalize_channel(channel)?;
        if let Some(reason) = self.chat_blocked(&channel) {
            return Err(SendError::ChannelBlocked {
                reason: reason.to_owned(),
                channel,
            });
        }
        self.blocked.remove(&channel); // expired, if any
        self.limiter.enqueue(&channel, text, reply_to)
    }

    /// Chat messages queued for `channel` (any case, with or without `#`; 0 for an invalid name).
    pub fn queued_in(&self, channel: &str) -> usize {
        normalize_channel(channel).map_or(0, |c| self.limiter.queued_in(&c))
    }

    /// A view of the outgoing chat queue at `now` (the `chat_status` event).
    pub fn chat_status(&mut self, now: Instant) -> ChatStatus {
        self.limiter.status(now)
    }

    /// Makes this session draw its JOINs from `other`'s budget: Twitch counts JOINs per account, so the
    /// new connection of a handover must not start with a fresh 20-per-10-s window.
    pub fn share_join_budget(&mut self, other: &Session) {
        self.join_budget = other.join_budget.clone();
    }

    /// Takes over `old`'s outgoing chat (its queued messages and its rate-limit history, which Twitch
    /// counts per account, not per connection) for a connection handover after `RECONNECT`; `old` is left
    /// with this session's (empty) queue.
    pub fn take_chat_from(&mut self, old: &mut Session) {
        std::mem::swap(&mut self.limiter, &mut old.limiter);
    }

    // ---- poll_* ----

    /// The next line to send at `now` (one WebSocket text frame, no line ending), or `None`.
    /// Protocol lines (PONG, login, JOIN) come before chat; chat only when logged in and the rate
    /// limiter allows it.
    ///
    /// `now` is the time the line is written: the limiter counts its gaps from it. (Counting from the
    /// last input's time instead let a `say` after a quiet spell go out stamped with an older time, and
    /// the next message followed it 0.117 s later on the server's clock.)
    pub fn poll_transmit(&mut self, now: Instant) -> Option<String> {
        if self.now.is_none_or(|t| t < now) {
            self.now = Some(now);
        }
        if let Some(line) = self.transmit.pop_front() {
            return Some(line);
        }
        if self.state != SessionState::LoggedIn {
            return None;
        }
        self.schedule(now);
        if let Some(line) = self.transmit.pop_front() {
            return Some(line);
        }
        self.limiter.poll(now)
    }

    /// When [`Session::handle_timeout`] should next be called, or `None` when nothing is timed.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let now = self.now?;
        let mut next: Option<Instant> = None;
        let mut at = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        match self.state {
            SessionState::Disconnected | SessionState::AuthFailed => return None,
            SessionState::LoggingIn => {
                if let Some(c) = self.connected_at {
                    at(c + self.config.login_timeout);
                }
                return next;
            }
            SessionState::LoggedIn => {}
        }
        match (self.ping_sent, self.last_received) {
            (Some(sent), _) => at(sent + self.config.pong_timeout),
            (None, Some(last)) => at(last + self.config.ping_after_idle),
            (None, None) => {}
        }
        for state in self.channels.values() {
            match *state {
                ChannelState::Joining { sent, .. } => at(sent + self.config.join_timeout),
                ChannelState::RetryWait { at: retry, .. } if retry > now => at(retry),
                _ => {}
            }
        }
        if self.channels.values().any(|s| s.is_due(now))
            && let Some(free) = self.join_budget.lock().next_free(now)
        {
            at(free);
        }
        if let Some(ready) = self.limiter.next_ready(now) {
            at(ready.max(now));
        }
        next
    }

    /// The next event, or `None`.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    // ---- internals ----

    /// Sends pending JOINs that fit in the JOIN window.
    fn schedule(&mut self, now: Instant) {
        if self.state != SessionState::LoggedIn {
            return;
        }
        let due: Vec<(String, usize)> = self
            .channels
            .iter()
            .filter(|(_, s)| s.is_due(now))
            .map(|(c, s)| {
                let failures = match *s {
                    ChannelState::Pending { failures }
                    | ChannelState::RetryWait { failures, .. } => failures,
                    _ => 0,
                };
                (c.clone(), failures)
            })
            .collect();
        let budget = self.join_budget.clone();
        let mut pacer = budget.lock();
        for (channel, failures) in due {
            if !pacer.try_take(now) {
                break;
            }
            self.transmit.push_back(format!("JOIN #{channel}"));
            self.channels.insert(
                channel,
                ChannelState::Joining {
                    sent: now,
                    failures,
                },
            );
        }
    }

    /// Marks `channel` joined. Our own JOIN echo counts even for a channel we did not ask for (the
    /// server says we are in it); a ROOMSTATE only confirms a channel we want.
    fn confirm_join(&mut self, channel: &str, own_echo: bool) {
        let state = match self.channels.get_mut(channel) {
            Some(state) => state,
            None if own_echo => self
                .channels
                .entry(channel.to_owned())
                .or_insert(ChannelState::NEW),
            None => return,
        };
        if *state != ChannelState::Joined {
            *state = ChannelState::Joined;
            tracing::info!(%channel, "joined");
            self.events.push_back(Event::Joined {
                channel: channel.to_owned(),
            });
        }
    }

    fn handle_message(&mut self, message: ServerMessage, now: Instant) {
        match message {
            ServerMessage::Ping(ping) => self.transmit.push_back(ping.pong()),
            ServerMessage::Pong(_) => self.ping_sent = None,
            ServerMessage::Reconnect => {
                tracing::info!("server asked for a reconnect");
                self.events.push_back(Event::ReconnectWanted {
                    reason: ReconnectReason::ServerRequested,
                });
            }
            ServerMessage::Numeric(n) if n.code == Numeric::WELCOME => {
                if let Some(nick) = n.params.first() {
                    self.nick = nick.to_ascii_lowercase();
                }
                self.state = SessionState::LoggedIn;
                self.connected_at = None;
                tracing::info!(nick = %self.nick, "logged in");
                self.events.push_back(Event::LoggedIn {
                    nick: self.nick.clone(),
                });
                self.schedule(now);
            }
            ServerMessage::Cap(cap) if cap.kind == CapKind::Nak => {
                tracing::warn!(capabilities = ?cap.capabilities,
                    "server refused capabilities; continuing without them (no tags or moderation events)");
                self.events.push_back(Event::CapabilitiesDenied {
                    capabilities: cap.capabilities,
                });
            }
            ServerMessage::Notice(notice) => self.handle_notice(notice, now),
            ServerMessage::Join(join) if join.login == self.nick => {
                self.confirm_join(&join.channel, true);
            }
            ServerMessage::Part(part) if part.login == self.nick => {
                if self.channels.get(&part.channel) != Some(&ChannelState::Joined) {
                    self.channels.remove(&part.channel);
                }
                self.events.push_back(Event::Parted {
                    channel: part.channel,
                });
            }
            ServerMessage::RoomState(room) => {
                self.confirm_join(&room.channel, false);
                if let Some(secs) = room.slow_mode_secs {
                    self.limiter
                        .set_slow_mode(&room.channel, Duration::from_secs(secs));
                }
                self.events
                    .push_back(Event::Message(ServerMessage::RoomState(room)));
            }
            ServerMessage::UserState(user) => {
                let privileged = user.is_privileged() || user.channel == self.nick;
                self.limiter.set_privileged(&user.channel, privileged);
                if user.sent_message_id.is_some() {
                    // The answer to a PRIVMSG we sent (a join's USERSTATE has no id).
                    self.limiter.on_accepted(&user.channel);
                }
                self.events
                    .push_back(Event::Message(ServerMessage::UserState(user)));
            }
            ServerMessage::Privmsg(msg) => self.events.push_back(Event::Chat(msg)),
            ServerMessage::ClearChat(c) => {
                self.note_clear_chat(&c, now);
                self.events.push_back(Event::ClearChat(c));
            }
            ServerMessage::ClearMsg(c) => self.events.push_back(Event::ClearMsg(c)),
            other => self.events.push_back(Event::Message(other)),
        }
    }

    /// A CLEARCHAT naming the bot: we were timed out or banned, so stop sending there instead
    /// of burning the budget.
    fn note_clear_chat(&mut self, c: &ClearChat, now: Instant) {
        if !self.anonymous && !c.historical && c.target_login.as_deref() == Some(self.nick.as_str())
        {
            let (reason, until) = match c.ban_duration_secs {
                Some(secs) => (
                    format!("the bot is timed out for {secs} s"),
                    now.checked_add(Duration::from_secs(secs)),
                ),
                None => ("the bot is banned in this channel".to_owned(), None),
            };
            self.block_chat(&c.channel, reason, until);
        }
    }

    fn handle_notice(&mut self, notice: Notice, now: Instant) {
        // Twitch sends login failures only during the login; once logged in, such a line is not ours to obey.
        if notice.is_auth_failure() && self.state == SessionState::LoggingIn {
            tracing::error!(reason = %notice.text, "Twitch refused the login; not reconnecting");
            self.state = SessionState::AuthFailed;
            self.transmit.clear();
            self.limiter.clear();
            self.events.push_back(Event::AuthFailed {
                reason: notice.text,
            });
            return;
        }
        let Some(refusal) = notice.chat_refusal() else {
            self.events.push_back(Event::Notice(notice));
            return;
        };
        let resend = match refusal {
            ChatRefusal::RateLimited => Refusal::RateLimited,
            ChatRefusal::SlowMode => Refusal::SlowMode {
                wait: crate::irc::first_number(&notice.text).map(Duration::from_secs),
            },
            other => Refusal::Final(format!(
                "{other} ({})",
                notice.msg_id.as_deref().unwrap_or("notice")
            )),
        };
        let dropped = self
            .limiter
            .on_refused(now, notice.channel.as_deref(), resend);
        if let Some(d) = dropped {
            tracing::warn!(channel = %d.channel, reason = %d.reason, "chat message dropped");
            self.events.push_back(Event::ChatDropped {
                channel: d.channel,
                text: d.text,
                reason: d.reason,
            });
        }
        if refusal == ChatRefusal::RateLimited {
            self.events.push_back(Event::RateLimited {
                channel: notice.channel,
                text: notice.text,
            });
            return;
        }
        let Some(channel) = notice.channel.clone() else {
            tracing::warn!(%refusal, text = %notice.text, "Twitch refused chat");
            self.events.push_back(Event::Notice(notice));
            return;
        };
        tracing::warn!(%channel, %refusal, msg_id = ?notice.msg_id, text = %notice.text, "Twitch refused chat");
        let until = match refusal {
            ChatRefusal::TimedOut {
                remaining_secs: Some(secs),
            } => Some(now.checked_add(Duration::from_secs(secs))),
            r if r.is_lasting() => Some(None),
            _ => None,
        };
        if let Some(until) = until {
            self.block_chat(&channel, refusal.to_string(), until);
        }
        if refusal == ChatRefusal::ChannelUnavailable
            && self
                .channels
                .get(&channel)
                .is_some_and(|s| *s != ChannelState::Joined)
        {
            self.channels
                .insert(channel.clone(), ChannelState::Failed { refused: true });
            let id = notice.msg_id.as_deref().unwrap_or("notice");
            self.events.push_back(Event::JoinFailed {
                channel,
                reason: format!("{} ({id}); not retrying", notice.text),
            });
            return;
        }
        self.events.push_back(Event::Notice(notice));
    }

    /// Stops chat to `channel` (until `until`, or until [`Session::join`]/[`Session::part`] for
    /// `None`) and drops what is queued for it.
    fn block_chat(&mut self, channel: &str, reason: String, until: Option<Instant>) {
        let dropped = self.limiter.drop_channel(channel);
        tracing::warn!(%channel, %reason, ?until, dropped, "not sending chat to this channel");
        self.blocked
            .insert(channel.to_owned(), ChatBlock { reason, until });
    }
}

#[cfg(test)]
mod pacing_tests;
#[cfg(test)]
mod tests;
