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
//! - Outgoing chat is bounded ([`RateLimitConfig::max_queue`]); a full queue is an error, not growth.
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

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use crate::chatplay::{ChatMessage, Moderation};
use crate::irc::Login;
use crate::irc::chat::{chat_message, fast_chat_message};
use crate::irc::{
    CapKind, ChatRefusal, ClearChat, ClearMsg, Notice, Numeric, ParseError, Privmsg, RawLine,
    ServerMessage, split_frame,
};
use crate::rate_limit::{
    ChatLimiter, ChatStatus, JoinBudget, RateLimitConfig, Refusal, SendError, normalize_channel,
};

/// A secret (the OAuth token). Its `Debug` never shows the value, so it cannot leak into logs.
///
/// ```
/// use twitch_bot::session::Secret;
/// let token = Secret::new("oauth:abc123");
/// assert_eq!(format!("{token:?}"), "Secret(***)");
/// assert_eq!(token.expose_secret(), "oauth:abc123");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself: only for putting it on the wire.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Masks the token in a `PASS` line (for logging outgoing lines); other lines are returned as they are.
///
/// ```
/// use twitch_bot::session::redact_line;
/// assert_eq!(redact_line("PASS oauth:abc123"), "PASS ***");
/// assert_eq!(redact_line("NICK bot"), "NICK bot");
/// ```
pub fn redact_line(line: &str) -> std::borrow::Cow<'_, str> {
    if line
        .get(..4)
        .is_some_and(|verb| verb.eq_ignore_ascii_case("PASS"))
    {
        std::borrow::Cow::Borrowed("PASS ***")
    } else {
        std::borrow::Cow::Borrowed(line)
    }
}

/// Everything [`Session::new`] needs: who to log in as, where to go, and the timing knobs.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The login (a [`Login`], so it cannot carry CR, LF or NUL onto the `NICK` line). Ignored when
    /// `token` is `None` (anonymous `justinfan…`).
    pub nick: Login,
    /// The OAuth user access token (scopes `chat:read chat:edit`), with or without `oauth:`.
    /// `None` logs in anonymously, read-only.
    pub token: Option<Secret>,
    /// Channels to join after login (any case, with or without `#`).
    pub channels: Vec<String>,
    /// Send our own PING after this long without any line from the server (default 60 s).
    pub ping_after_idle: Duration,
    /// Ask for a reconnect when our PING got no PONG within this (default 10 s).
    pub pong_timeout: Duration,
    /// Ask for a reconnect when `001` has not arrived this long after connecting (default 20 s).
    pub login_timeout: Duration,
    /// Report [`Event::JoinFailed`] when a JOIN is unconfirmed this long after being sent (default 10 s).
    pub join_timeout: Duration,
    /// After an unconfirmed JOIN, wait this long and send it again, once per entry (default 10 s, 30 s,
    /// 60 s: four JOINs in all); after the last one the join has failed for good (until a reconnect or
    /// a new [`Session::join`]). Retries go through the JOIN rate limit like any JOIN.
    pub join_retry_delays: Vec<Duration>,
    /// Chat and JOIN rate limits.
    pub rate_limits: RateLimitConfig,
}

impl SessionConfig {
    /// A config for `nick` with `token` (`None`: anonymous) and the default knobs, no channels.
    pub fn new(nick: Login, token: Option<Secret>) -> Self {
        SessionConfig {
            nick,
            token,
            channels: Vec::new(),
            ping_after_idle: Duration::from_secs(60),
            pong_timeout: Duration::from_secs(10),
            login_timeout: Duration::from_secs(20),
            join_timeout: Duration::from_secs(10),
            join_retry_delays: [10, 30, 60].map(Duration::from_secs).to_vec(),
            rate_limits: RateLimitConfig::default(),
        }
    }

    /// An anonymous, read-only config (`justinfan<random digits>`).
    pub fn anonymous() -> Self {
        SessionConfig::new(Login::new("justinfan").expect("a valid login"), None)
    }
}

/// Why the session asks the driver to reconnect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReconnectReason {
    /// The server sent `RECONNECT` (it is about to restart).
    ServerRequested,
    /// Our PING got no PONG in time: the connection is dead even if the socket looks open.
    PongTimeout,
    /// No `001` welcome in time after connecting.
    LoginTimeout,
}

/// Where the session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// No connection (before [`Session::handle_connected`], or after [`Session::handle_disconnected`]).
    Disconnected,
    /// Connected, login sent, waiting for `001`.
    LoggingIn,
    /// Logged in: joins and chat flow.
    LoggedIn,
    /// Login refused: final. Do not reconnect with the same token.
    AuthFailed,
}

/// Chat as [`Session::handle_frame_with`] hands it on: the ChatPlay engine's transport-neutral
/// input, borrowed from the frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatInput<'a> {
    /// A `PRIVMSG`.
    Message(ChatMessage<'a>),
    /// A `CLEARCHAT` or `CLEARMSG` (not a backlog replay).
    Moderation(Moderation<'a>),
}

/// Something the driver or the application should know. Drain with [`Session::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The connection is up and the login lines are queued.
    Connected,
    /// `001` arrived: logged in as `nick`.
    LoggedIn {
        /// The nick the server welcomed.
        nick: String,
    },
    /// The server refused capabilities (`CAP NAK`): tags or commands are missing, so badges, ids and
    /// moderation events will be absent. The session goes on.
    CapabilitiesDenied {
        /// The refused capabilities.
        capabilities: Vec<String>,
    },
    /// A channel join was confirmed (own JOIN echo or its ROOMSTATE).
    Joined {
        /// The channel login.
        channel: String,
    },
    /// A JOIN failed: reported for **each** failed attempt. `reason` says what happened and what
    /// follows: `"...; retrying in 30 s"` (a retry is scheduled, see
    /// [`SessionConfig::join_retry_delays`]), `"...; giving up"` after the last attempt, or
    /// `"...; not retrying"` when Twitch refused the channel (`NOTICE msg_channel_suspended`,
    /// `msg_channel_blocked`, `tos_ban`, `invalid_user`), which also stays failed across reconnects.
    /// [`Session::join_status`] tells the same as a value.
    JoinFailed {
        /// The channel login.
        channel: String,
        /// What happened.
        reason: String,
    },
    /// We left a channel.
    Parted {
        /// The channel login.
        channel: String,
    },
    /// A chat message.
    Chat(Privmsg),
    /// Chat cleared, or a user timed out or banned.
    ClearChat(ClearChat),
    /// One message deleted.
    ClearMsg(ClearMsg),
    /// A NOTICE (other than the login failures, `msg_ratelimit`, and join failures, which have their own events).
    /// Chat refusals ([`Notice::chat_refusal`]) are also logged with the channel and reason; after
    /// `msg_banned`, `msg_requires_verified_phone_number` or a channel-unavailable notice the session stops
    /// sending to that channel ([`SendError::ChannelBlocked`]), after `msg_timedout` until the timeout ends.
    Notice(Notice),
    /// Any other server message (USERNOTICE, ROOMSTATE, USERSTATE, WHISPER, other users' JOIN/PART,
    /// numerics, unknown lines...).
    Message(ServerMessage),
    /// A line that could not be parsed (it is logged and skipped; the session goes on).
    InvalidLine {
        /// The line (shortened to 200 bytes).
        line: String,
        /// What was wrong.
        error: ParseError,
    },
    /// The driver should close this connection and connect again, then call
    /// [`Session::handle_connected`]; channels are re-joined automatically.
    ReconnectWanted {
        /// Why.
        reason: ReconnectReason,
    },
    /// Login refused (`Login authentication failed`, `Improperly formatted auth`). Final: stop,
    /// fix the token; reconnecting will not help.
    AuthFailed {
        /// Twitch's text.
        reason: String,
    },
    /// Twitch refused a chat message for good (`msg_duplicate`, `msg_banned`, ...) or after
    /// [`RateLimitConfig::max_tries`] sends: it was not delivered and will not be sent again.
    ChatDropped {
        /// The channel login.
        channel: String,
        /// The message (one piece of a split message).
        text: String,
        /// Why, in words.
        reason: String,
    },
    /// Twitch said we sent too fast (`NOTICE msg_ratelimit`); output is paused, and the refused message
    /// is sent again after the pause (see [`crate::rate_limit::backoff`]).
    RateLimited {
        /// The channel of the notice, if any.
        channel: Option<String>,
        /// Twitch's text.
        text: String,
    },
    /// The connection is gone ([`Session::handle_disconnected`]).
    Disconnected,
}

/// Where one channel's join stands (see [`Session::join_status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinStatus {
    /// Wanted; the JOIN waits for the login or the JOIN rate limit.
    Pending,
    /// JOIN sent, not confirmed yet.
    Joining,
    /// Confirmed on this connection.
    Joined,
    /// An attempt failed; the JOIN is sent again at this time.
    RetryAt(Instant),
    /// Given up: every attempt timed out (joined again after a reconnect), or Twitch refused the
    /// channel (not joined again until [`Session::join`] asks for it).
    Failed,
}

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
    /// the ChatPlay engine's transport-neutral input: each `PRIVMSG` as a [`ChatMessage`] built
    /// straight from the line (borrowing from `frame`, without the [`Privmsg`] and its lists),
    /// each `CLEARCHAT`/`CLEARMSG` as a [`Moderation`] (none for a backlog replay). No
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

    /// Queues a reply to the message `parent_id` (a [`Privmsg::message_id`]) in `channel`.
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
#[path = "session_pacing_tests.rs"]
mod pacing_tests;

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn config(channels: &[&str]) -> SessionConfig {
        let mut c = SessionConfig::new("Bot".parse().unwrap(), Some(Secret::new("abc123")));
        c.channels = channels.iter().map(|s| s.to_string()).collect();
        c
    }

    #[test]
    fn no_code_path_puts_cr_lf_or_nul_on_the_wire() {
        // The nick is a Login: an injection attempt is refused where the value is made, so it cannot
        // reach `SessionConfig` (or `Config`) through the library API.
        for evil in ["bot\r\nJOIN #evil", "bot\0", "bot\nQUIT"] {
            assert!(Login::new(evil).is_err(), "{evil:?}");
            assert!(evil.parse::<Login>().is_err(), "{evil:?}");
        }
        // Everything else that reaches a line is checked or cleaned on the way in.
        let mut c = SessionConfig::new("Bot".parse().unwrap(), Some(Secret::new("abc\r\n123")));
        c.channels = vec!["chan\r\nPART #x".into(), "ok".into()];
        let mut s = Session::new(c);
        let t0 = Instant::now();
        s.handle_connected(t0);
        s.handle_frame(":tmi.twitch.tv 001 bot :Welcome\r\nPING :a\0b", t0);
        assert!(s.join("x\ny").is_err());
        s.handle_frame(":bot!bot@bot.tmi.twitch.tv JOIN #ok", t0);
        s.say("ok", "hi\r\nQUIT\0").unwrap();
        let lines = transmitted(&mut s);
        assert!(lines.contains(&"NICK bot".to_owned()), "{lines:?}");
        for l in &lines {
            assert!(!l.contains(['\r', '\n', '\0']), "{l:?}");
        }
    }

    fn transmitted(s: &mut Session) -> Vec<String> {
        // At the time of the last input (as the driver polls right after each one).
        let now = s.now.unwrap_or_else(Instant::now);
        std::iter::from_fn(|| s.poll_transmit(now)).collect()
    }

    fn events(s: &mut Session) -> Vec<Event> {
        std::iter::from_fn(|| s.poll_event()).collect()
    }

    /// Connected and welcomed at `t0`, all output drained.
    fn logged_in(channels: &[&str], t0: Instant) -> Session {
        let mut s = Session::new(config(channels));
        s.handle_connected(t0);
        s.handle_frame(":tmi.twitch.tv 001 bot :Welcome, GLHF!", t0);
        transmitted(&mut s);
        events(&mut s);
        s
    }

    #[test]
    fn login_lines_and_token_forms() {
        for token in ["abc123", "oauth:abc123", " oauth:abc123\r\n"] {
            let mut c = config(&[]);
            c.token = Some(Secret::new(token));
            let mut s = Session::new(c);
            s.handle_connected(Instant::now());
            assert_eq!(
                transmitted(&mut s),
                [
                    "CAP REQ :twitch.tv/tags twitch.tv/commands twitch.tv/membership",
                    "PASS oauth:abc123",
                    "NICK bot"
                ]
            );
            assert_eq!(events(&mut s), [Event::Connected]);
        }
    }

    #[test]
    fn anonymous_login_has_no_pass_and_cannot_send() {
        let mut s = Session::new(SessionConfig::anonymous());
        assert!(s.is_anonymous());
        let nick = s.nick().to_owned();
        let digits = nick.strip_prefix("justinfan").unwrap();
        assert!(!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
        s.handle_connected(Instant::now());
        let lines = transmitted(&mut s);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1], format!("NICK {nick}"));
        assert_eq!(s.say("chan", "hi"), Err(SendError::Anonymous));
    }

    #[test]
    fn token_never_in_debug_output() {
        let mut s = Session::new(config(&["a"]));
        s.handle_connected(Instant::now());
        let debug = format!("{s:?} {:?}", config(&[]));
        assert!(!debug.contains("abc123"), "{debug}");
        assert_eq!(redact_line("PASS oauth:abc123"), "PASS ***");
    }

    #[test]
    fn logged_in_on_001_then_joins_and_confirms() {
        let t0 = Instant::now();
        let mut s = Session::new(config(&["#ChanA", "chanb"]));
        s.handle_connected(t0);
        transmitted(&mut s);
        assert_eq!(s.state(), SessionState::LoggingIn);
        assert!(s.say("chana", "too early").is_ok(), "queued until login");
        assert_eq!(transmitted(&mut s), Vec::<String>::new());
        s.handle_frame(
            ":tmi.twitch.tv 001 bot :Welcome, GLHF!\r\n:tmi.twitch.tv 002 bot :x",
            t0,
        );
        assert_eq!(s.state(), SessionState::LoggedIn);
        assert_eq!(
            transmitted(&mut s),
            ["JOIN #chana", "PRIVMSG #chana :too early"]
        );
        // JOINs are spread out (one per 10.25 s / 20).
        s.handle_timeout(t0 + S);
        assert_eq!(transmitted(&mut s), ["JOIN #chanb"]);
        s.handle_frame(":bot!bot@bot.tmi.twitch.tv JOIN #chana", t0);
        s.handle_frame("@room-id=1;slow=0 :tmi.twitch.tv ROOMSTATE #chanb", t0);
        let ev = events(&mut s);
        assert!(ev.contains(&Event::LoggedIn { nick: "bot".into() }));
        assert!(ev.contains(&Event::Joined {
            channel: "chana".into()
        }));
        assert!(ev.contains(&Event::Joined {
            channel: "chanb".into()
        }));
        assert_eq!(s.joined_channels().collect::<Vec<_>>(), ["chana", "chanb"]);
    }

    #[test]
    fn auth_failure_is_final() {
        for text in ["Login authentication failed", "Improperly formatted auth"] {
            let t0 = Instant::now();
            let mut s = Session::new(config(&["a"]));
            s.handle_connected(t0);
            transmitted(&mut s);
            s.say("a", "queued").unwrap();
            s.handle_frame(&format!(":tmi.twitch.tv NOTICE * :{text}\r\nPING :x"), t0);
            assert_eq!(s.state(), SessionState::AuthFailed);
            let ev = events(&mut s);
            assert_eq!(
                ev.last(),
                Some(&Event::AuthFailed {
                    reason: text.into()
                })
            );
            assert!(
                !ev.iter()
                    .any(|e| matches!(e, Event::ReconnectWanted { .. }))
            );
            assert_eq!(transmitted(&mut s), Vec::<String>::new());
            assert_eq!(s.poll_timeout(), None, "no timers after a final failure");
            s.handle_timeout(t0 + 100 * S);
            assert!(events(&mut s).is_empty());
        }
    }

    #[test]
    fn cap_nak_degrades_with_an_event() {
        let t0 = Instant::now();
        let mut s = logged_in(&[], t0);
        s.handle_frame(":tmi.twitch.tv CAP * NAK :twitch.tv/tags", t0);
        assert_eq!(
            events(&mut s),
            [Event::CapabilitiesDenied {
                capabilities: vec!["twitch.tv/tags".into()]
            }]
        );
        assert_eq!(s.state(), SessionState::LoggedIn);
    }

    #[test]
    fn every_ping_is_answered_whatever_the_framing() {
        let t0 = Instant::now();
        let mut s = logged_in(&[], t0);
        s.handle_frame("PING :tmi.twitch.tv", t0);
        assert_eq!(transmitted(&mut s), ["PONG :tmi.twitch.tv"]);
        s.handle_frame(
            "@id=1 :a!a@a PRIVMSG #x :hi\r\nPING :one\nPING two\r\n:tmi.twitch.tv PING test :abc def\r\n",
            t0,
        );
        assert_eq!(
            transmitted(&mut s),
            ["PONG :one", "PONG :two", "PONG test :abc def"]
        );
        // A PING before login is answered too.
        let mut s = Session::new(config(&[]));
        s.handle_connected(t0);
        transmitted(&mut s);
        s.handle_frame("PING :early", t0);
        assert_eq!(transmitted(&mut s), ["PONG :early"]);
    }

    #[test]
    fn own_ping_when_quiet_and_reconnect_without_pong() {
        let t0 = Instant::now();
        let mut s = logged_in(&[], t0);
        assert_eq!(s.poll_timeout(), Some(t0 + 60 * S));
        s.handle_frame(":a!a@a PRIVMSG #x :traffic", t0 + 30 * S);
        assert_eq!(
            s.poll_timeout(),
            Some(t0 + 90 * S),
            "traffic resets the idle timer"
        );
        s.handle_timeout(t0 + 90 * S);
        assert_eq!(transmitted(&mut s), ["PING :twitch_bot-1"]);
        assert_eq!(s.poll_timeout(), Some(t0 + 100 * S));
        // A PONG in time: no reconnect.
        s.handle_frame(
            ":tmi.twitch.tv PONG tmi.twitch.tv :twitch_bot-1",
            t0 + 95 * S,
        );
        s.handle_timeout(t0 + 100 * S);
        events(&mut s);
        // Quiet again, PING, and this time no PONG.
        s.handle_timeout(t0 + 155 * S);
        assert_eq!(transmitted(&mut s), ["PING :twitch_bot-2"]);
        s.handle_timeout(t0 + 164 * S);
        assert!(events(&mut s).is_empty());
        s.handle_timeout(t0 + 165 * S);
        assert_eq!(
            events(&mut s),
            [Event::ReconnectWanted {
                reason: ReconnectReason::PongTimeout
            }]
        );
    }

    #[test]
    fn reconnect_from_server_and_rejoin_after_reconnect() {
        let t0 = Instant::now();
        let mut s = logged_in(&["a", "b"], t0);
        s.handle_frame(
            ":bot!bot@bot.tmi.twitch.tv JOIN #a\r\n:bot!bot@bot.tmi.twitch.tv JOIN #b",
            t0,
        );
        s.handle_frame(":tmi.twitch.tv RECONNECT", t0);
        let ev = events(&mut s);
        assert_eq!(
            ev.last(),
            Some(&Event::ReconnectWanted {
                reason: ReconnectReason::ServerRequested
            })
        );
        s.handle_disconnected(t0 + S);
        assert_eq!(s.joined_channels().count(), 0);
        s.handle_connected(t0 + 20 * S);
        s.handle_frame(":tmi.twitch.tv 001 bot :Welcome", t0 + 20 * S);
        let lines = transmitted(&mut s);
        assert!(lines.ends_with(&["JOIN #a".to_string()]), "{lines:?}");
        s.handle_timeout(t0 + 21 * S);
        assert_eq!(transmitted(&mut s), ["JOIN #b"]);
    }

    #[test]
    fn login_timeout_asks_for_reconnect() {
        let t0 = Instant::now();
        let mut s = Session::new(config(&[]));
        s.handle_connected(t0);
        events(&mut s);
        assert_eq!(s.poll_timeout(), Some(t0 + 20 * S));
        s.handle_timeout(t0 + 20 * S);
        assert_eq!(
            events(&mut s),
            [Event::ReconnectWanted {
                reason: ReconnectReason::LoginTimeout
            }]
        );
    }

    #[test]
    fn joins_are_limited_to_twenty_per_ten_seconds_and_spread() {
        let t0 = Instant::now();
        let names: Vec<String> = (0..45).map(|i| format!("chan{i:02}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut s = logged_in(&[], t0);
        for r in &refs {
            s.join(r).unwrap();
        }
        let mut sent = Vec::new();
        let mut now = t0;
        while now < t0 + 30 * S {
            if s.poll_timeout().is_some_and(|t| t <= now) {
                s.handle_timeout(now);
            }
            while let Some(j) = s.poll_transmit(now) {
                // Confirmed at once (so no retry mixes in).
                s.handle_frame(&format!(":bot!bot@bot.tmi.twitch.tv {j}"), now);
                sent.push(now);
            }
            now += Duration::from_millis(10);
        }
        assert_eq!(sent.len(), 45);
        for (i, t) in sent.iter().enumerate() {
            assert!(sent[i..].iter().take_while(|u| **u - *t < 10 * S).count() <= 20);
        }
        let spacing = (10 * S + RateLimitConfig::default().margin) / 20;
        assert!(sent.windows(2).all(|w| w[1] - w[0] >= spacing));
        assert!(
            *sent.last().unwrap() - t0 < 44 * spacing + S,
            "no long stalls"
        );
    }

    #[test]
    fn unconfirmed_join_times_out_and_bad_names_are_refused() {
        let t0 = Instant::now();
        let mut s = logged_in(&["ghost"], t0);
        assert_eq!(s.poll_timeout(), Some(t0 + 10 * S));
        s.handle_timeout(t0 + 10 * S);
        let ev = events(&mut s);
        assert!(matches!(&ev[..], [Event::JoinFailed { channel, .. }] if channel == "ghost"));
        assert!(s.join("bad name\r\nQUIT").is_err());
        let s = Session::new(config(&["no spaces allowed"]));
        let mut s = s;
        assert!(matches!(events(&mut s)[..], [Event::JoinFailed { .. }]));
    }

    /// A logged-in session whose own keep-alive stays out of the way (for long join timelines).
    fn quiet_logged_in(channels: &[&str], t0: Instant) -> Session {
        let mut c = config(channels);
        c.ping_after_idle = Duration::from_secs(100_000);
        let mut s = Session::new(c);
        s.handle_connected(t0);
        s.handle_frame(":tmi.twitch.tv 001 bot :Welcome, GLHF!", t0);
        transmitted(&mut s);
        events(&mut s);
        s
    }

    fn join_failures(ev: &[Event]) -> Vec<(String, String)> {
        ev.iter()
            .filter_map(|e| match e {
                Event::JoinFailed { channel, reason } => Some((channel.clone(), reason.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn unconfirmed_join_is_retried_with_backoff_then_given_up() {
        let t0 = Instant::now();
        let mut s = quiet_logged_in(&["ghost"], t0);
        // (time the attempt times out, next JOIN time, reason suffix)
        let steps = [
            (10, Some(20), "(attempt 1 of 4); retrying in 10 s"),
            (30, Some(60), "(attempt 2 of 4); retrying in 30 s"),
            (70, Some(130), "(attempt 3 of 4); retrying in 60 s"),
            (140, None, "(attempt 4 of 4); giving up"),
        ];
        for (fail_at, retry_at, suffix) in steps {
            assert_eq!(s.poll_timeout(), Some(t0 + fail_at * S));
            s.handle_timeout(t0 + (fail_at - 1) * S);
            assert!(events(&mut s).is_empty(), "not before the timeout");
            s.handle_timeout(t0 + fail_at * S);
            let failures = join_failures(&events(&mut s));
            assert_eq!(failures.len(), 1, "each failure is reported");
            assert_eq!(failures[0].0, "ghost");
            assert!(failures[0].1.ends_with(suffix), "{:?}", failures[0].1);
            assert!(
                failures[0]
                    .1
                    .starts_with("no JOIN or ROOMSTATE within 10 s")
            );
            assert_eq!(transmitted(&mut s), Vec::<String>::new());
            let Some(retry_at) = retry_at else { break };
            assert_eq!(
                s.join_status("ghost"),
                Some(JoinStatus::RetryAt(t0 + retry_at * S))
            );
            assert_eq!(s.poll_timeout(), Some(t0 + retry_at * S));
            s.handle_timeout(t0 + retry_at * S);
            assert_eq!(transmitted(&mut s), ["JOIN #ghost"]);
            assert_eq!(s.join_status("ghost"), Some(JoinStatus::Joining));
        }
        assert_eq!(s.join_status("ghost"), Some(JoinStatus::Failed));
        assert_eq!(
            s.poll_timeout(),
            Some(t0 + 100_000 * S),
            "only the keep-alive is left"
        );
        s.handle_timeout(t0 + 1000 * S);
        assert_eq!(transmitted(&mut s), Vec::<String>::new());
        // Asking again starts over; so does a reconnect.
        s.join("ghost").unwrap();
        assert_eq!(transmitted(&mut s), ["JOIN #ghost"]);
        s.handle_disconnected(t0 + 1001 * S);
        s.handle_connected(t0 + 1002 * S);
        s.handle_frame(":tmi.twitch.tv 001 bot :Welcome", t0 + 1002 * S);
        assert!(transmitted(&mut s).contains(&"JOIN #ghost".to_string()));
        s.handle_timeout(t0 + 1012 * S);
        assert!(
            join_failures(&events(&mut s))[0]
                .1
                .contains("(attempt 1 of 4)")
        );
    }

    #[test]
    fn a_late_confirmation_or_a_part_cancels_the_retry() {
        let t0 = Instant::now();
        let mut s = quiet_logged_in(&["slow", "leaving"], t0);
        s.handle_timeout(t0 + S);
        assert_eq!(transmitted(&mut s), ["JOIN #slow"]);
        s.handle_timeout(t0 + 11 * S);
        assert_eq!(join_failures(&events(&mut s)).len(), 2);
        s.handle_frame("@room-id=1 :tmi.twitch.tv ROOMSTATE #slow", t0 + 12 * S);
        s.part("leaving").unwrap();
        let ev = events(&mut s);
        assert!(ev.contains(&Event::Joined {
            channel: "slow".into()
        }));
        assert!(ev.contains(&Event::Parted {
            channel: "leaving".into()
        }));
        assert_eq!(
            transmitted(&mut s),
            Vec::<String>::new(),
            "no PART for a channel not joined"
        );
        assert_eq!(s.join_status("leaving"), None);
        assert_eq!(
            s.poll_timeout(),
            Some(t0 + 100_012 * S),
            "no retry timer left (only the keep-alive, from the last line received)"
        );
        s.handle_timeout(t0 + 20 * S);
        s.handle_timeout(t0 + 200 * S);
        assert_eq!(transmitted(&mut s), Vec::<String>::new());
        assert!(events(&mut s).is_empty());
        assert_eq!(s.joined_channels().collect::<Vec<_>>(), ["slow"]);
    }

    #[test]
    fn retries_never_exceed_twenty_joins_in_ten_seconds() {
        let t0 = Instant::now();
        let names: Vec<String> = (0..33).map(|i| format!("ghost{i:02}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut s = quiet_logged_in(&[], t0);
        for r in &refs {
            s.join(r).unwrap();
        }
        let mut joins: Vec<(Instant, String)> = Vec::new();
        let mut failures = Vec::new();
        let mut now = t0;
        // Drive the session by its own timer, as the driver does, until nothing but the keep-alive is left.
        for _ in 0..10_000 {
            joins.extend(transmitted(&mut s).into_iter().map(|l| (now, l)));
            failures.extend(join_failures(&events(&mut s)));
            match s.poll_timeout() {
                Some(t) if t < t0 + 1000 * S => now = t,
                _ => break,
            }
            s.handle_timeout(now);
        }
        for (i, (t, _)) in joins.iter().enumerate() {
            let in_window = joins[i..]
                .iter()
                .take_while(|(u, _)| *u - *t < 10 * S)
                .count();
            assert!(
                in_window <= 20,
                "{in_window} JOINs within 10 s from {:?}",
                *t - t0
            );
        }
        for name in &names {
            let sent = joins
                .iter()
                .filter(|(_, l)| *l == format!("JOIN #{name}"))
                .count();
            assert_eq!(sent, 4, "{name}: one JOIN and three retries");
            let reasons: Vec<_> = failures.iter().filter(|(c, _)| c == name).collect();
            assert_eq!(reasons.len(), 4);
            assert!(reasons[3].1.ends_with("giving up"));
            assert_eq!(s.join_status(name), Some(JoinStatus::Failed));
        }
        assert_eq!(joins.len(), 33 * 4, "nothing but JOINs: {joins:?}");
    }

    #[test]
    fn the_whole_corpus_in_one_frame() {
        let t0 = Instant::now();
        let mut s = logged_in(&[], t0);
        let corpus = include_str!("../tests/data/corpus.txt");
        // Without the two login-failure NOTICEs (they end the session), every line gives an event or a PONG.
        let frame: String = corpus
            .lines()
            .filter(|l| !l.contains("NOTICE * :"))
            .map(|l| format!("{l}\r\n"))
            .collect();
        s.handle_frame(&frame, t0);
        assert_eq!(transmitted(&mut s), ["PONG", "PONG test :abc def"]);
        let ev = events(&mut s);
        assert!(!ev.iter().any(|e| matches!(e, Event::InvalidLine { .. })));
        let chats = ev.iter().filter(|e| matches!(e, Event::Chat(_))).count();
        assert_eq!(chats, 11);
        // 64 lines - 2 login failures - 2 PINGs - 1 PONG = 59 events (RECONNECT asks for a reconnect).
        assert_eq!(ev.len(), 59);
        assert!(ev.contains(&Event::ReconnectWanted {
            reason: ReconnectReason::ServerRequested
        }));
    }

    #[test]
    fn suspended_channel_notice_fails_the_join() {
        let t0 = Instant::now();
        let mut s = quiet_logged_in(&["gone"], t0);
        s.handle_frame(
            "@msg-id=msg_channel_suspended :tmi.twitch.tv NOTICE #gone :This channel has been suspended.",
            t0,
        );
        let ev = events(&mut s);
        assert!(
            matches!(&ev[..], [Event::JoinFailed { channel, reason }]
                if channel == "gone" && reason == "This channel has been suspended. (msg_channel_suspended); not retrying"),
            "{ev:?}"
        );
        assert_eq!(s.join_status("gone"), Some(JoinStatus::Failed));
        // No retry, no chat there, and not re-joined after a reconnect: Twitch's answer was final.
        s.handle_timeout(t0 + 100 * S);
        assert_eq!(transmitted(&mut s), Vec::<String>::new());
        assert!(matches!(
            s.say("gone", "hello?"),
            Err(SendError::ChannelBlocked { channel, .. }) if channel == "gone"
        ));
        s.handle_disconnected(t0 + 101 * S);
        s.handle_connected(t0 + 102 * S);
        s.handle_frame(":tmi.twitch.tv 001 bot :Welcome", t0 + 102 * S);
        assert!(!transmitted(&mut s).contains(&"JOIN #gone".to_string()));
        // Unless asked again.
        s.join("#Gone").unwrap();
        assert_eq!(transmitted(&mut s), ["JOIN #gone"]);
        assert!(s.say("gone", "back").is_ok());
    }

    #[test]
    fn suspension_during_a_retry_wait_ends_the_retries() {
        let t0 = Instant::now();
        let mut s = quiet_logged_in(&["gone"], t0);
        s.handle_timeout(t0 + 10 * S);
        events(&mut s);
        s.handle_frame(
            "@msg-id=msg_channel_suspended :tmi.twitch.tv NOTICE #gone :This channel has been suspended.",
            t0 + 11 * S,
        );
        assert!(
            join_failures(&events(&mut s))[0]
                .1
                .ends_with("not retrying")
        );
        s.handle_timeout(t0 + 20 * S);
        assert_eq!(transmitted(&mut s), Vec::<String>::new());
    }

    #[test]
    fn banned_or_timed_out_stops_chat_to_that_channel_only() {
        let t0 = Instant::now();
        let mut s = quiet_logged_in(&["a", "b"], t0);
        s.handle_frame(
            ":bot!bot@bot.tmi.twitch.tv JOIN #a\r\n:bot!bot@bot.tmi.twitch.tv JOIN #b",
            t0,
        );
        events(&mut s);
        for i in 0..3 {
            s.say("a", &format!("a{i}")).unwrap();
        }
        s.say("b", "b0").unwrap();
        s.say("b", "b1").unwrap();
        assert_eq!(transmitted(&mut s), ["PRIVMSG #a :a0", "PRIVMSG #b :b0"]);
        s.handle_frame(
            "@msg-id=msg_banned :tmi.twitch.tv NOTICE #a :You are permanently banned from talking in a.",
            t0,
        );
        let ev = events(&mut s);
        assert!(
            matches!(&ev[..], [Event::ChatDropped { text, .. }, Event::Notice(n)] if text == "a0" && n.channel.as_deref() == Some("a") && n.msg_id.as_deref() == Some("msg_banned")),
            "{ev:?}"
        );
        assert_eq!(s.queued_messages(), 1, "a1, a2 dropped; b1 kept");
        assert_eq!(
            s.chat_blocked("#A"),
            Some("the bot is banned in this channel")
        );
        assert_eq!(
            s.say("a", "x"),
            Err(SendError::ChannelBlocked {
                channel: "a".into(),
                reason: "the bot is banned in this channel".into()
            })
        );
        s.handle_timeout(t0 + 100 * S);
        assert_eq!(transmitted(&mut s), ["PRIVMSG #b :b1"]);
        assert_eq!(
            s.joined_channels().count(),
            2,
            "a banned bot still reads the channel"
        );
        // Asking to join again lifts the stop (e.g. after an unban).
        s.join("a").unwrap();
        assert_eq!(s.chat_blocked("a"), None);
        s.say("a", "unbanned").unwrap();

        // A timeout: stopped for the stated time, then sending resumes by itself.
        let t1 = t0 + 200 * S;
        s.handle_frame(
            "@msg-id=msg_timedout :tmi.twitch.tv NOTICE #b :You are timed out for 10 more seconds.",
            t1,
        );
        assert!(matches!(
            s.say("b", "x"),
            Err(SendError::ChannelBlocked { .. })
        ));
        s.handle_timeout(t1 + 9 * S);
        assert!(s.say("b", "x").is_err());
        s.handle_timeout(t1 + 10 * S);
        assert_eq!(s.chat_blocked("b"), None);
        s.say("b", "after").unwrap();

        // The same learned from CLEARCHAT naming the bot; someone else's timeout changes nothing.
        let t2 = t0 + 300 * S;
        s.handle_frame("@ban-duration=5 :tmi.twitch.tv CLEARCHAT #b :someone", t2);
        assert_eq!(s.chat_blocked("b"), None);
        // A replayed backlog CLEARCHAT of the bot is old news, not a timeout now.
        s.handle_frame(
            "@ban-duration=5;historical=1 :tmi.twitch.tv CLEARCHAT #b :bot",
            t2,
        );
        assert_eq!(s.chat_blocked("b"), None);
        s.handle_frame("@ban-duration=5 :tmi.twitch.tv CLEARCHAT #b :bot", t2);
        assert_eq!(s.chat_blocked("b"), Some("the bot is timed out for 5 s"));
        s.handle_timeout(t2 + 5 * S);
        assert_eq!(s.chat_blocked("b"), None);
        s.handle_frame(":tmi.twitch.tv CLEARCHAT #b :bot", t2 + 5 * S);
        assert_eq!(
            s.chat_blocked("b"),
            Some("the bot is banned in this channel")
        );
        // Hostile durations do not overflow the clock: a ban for ever.
        s.handle_frame(
            "@ban-duration=18446744073709551615 :tmi.twitch.tv CLEARCHAT #a :bot",
            t2,
        );
        s.handle_frame(
            "@msg-id=msg_timedout :tmi.twitch.tv NOTICE #a :You are timed out for 18446744073709551615 more seconds.",
            t2,
        );
        assert!(s.chat_blocked("a").is_some());
        // Parting forgets the stop.
        s.part("b").unwrap();
        assert_eq!(s.chat_blocked("b"), None);
    }

    #[test]
    fn other_chat_refusals_are_reported_and_sending_goes_on() {
        let t0 = Instant::now();
        for id in [
            "msg_duplicate",
            "msg_slowmode",
            "msg_followersonly",
            "msg_followersonly_zero",
            "msg_subsonly",
            "msg_emoteonly",
            "msg_timedout", // without a duration in the text: reported only
        ] {
            let mut s = logged_in(&["a"], t0);
            s.handle_frame(
                &format!("@msg-id={id} :tmi.twitch.tv NOTICE #a :Your message was not sent."),
                t0,
            );
            let ev = events(&mut s);
            assert!(
                matches!(&ev[..], [Event::Notice(n)] if n.channel.as_deref() == Some("a") && n.msg_id.as_deref() == Some(id)),
                "{id}: {ev:?}"
            );
            assert_eq!(s.chat_blocked("a"), None, "{id}");
            s.say("a", "still talking").unwrap();
            // Slow mode holds the channel for its interval (1 s unknown) + margin, then sending goes on.
            s.handle_timeout(t0 + 2 * S);
            assert_eq!(transmitted(&mut s), ["PRIVMSG #a :still talking"], "{id}");
        }
        // A verified-phone requirement does not go away by itself: stop sending there.
        let mut s = logged_in(&["a"], t0);
        s.handle_frame(
            "@msg-id=msg_requires_verified_phone_number :tmi.twitch.tv NOTICE #a :A verified phone number is required to chat in this channel.",
            t0,
        );
        assert!(matches!(&events(&mut s)[..], [Event::Notice(_)]));
        assert!(matches!(
            s.say("a", "x"),
            Err(SendError::ChannelBlocked { .. })
        ));
    }

    #[test]
    fn part_sends_and_reports() {
        let t0 = Instant::now();
        let mut s = logged_in(&["a"], t0);
        s.handle_frame(":bot!bot@bot.tmi.twitch.tv JOIN #a", t0);
        events(&mut s);
        s.part("#A").unwrap();
        assert_eq!(transmitted(&mut s), ["PART #a"]);
        s.handle_frame(":bot!bot@bot.tmi.twitch.tv PART #a", t0);
        assert_eq!(
            events(&mut s),
            [Event::Parted {
                channel: "a".into()
            }]
        );
        assert_eq!(s.wanted_channels().count(), 0);
        s.part("never").unwrap();
        assert_eq!(
            events(&mut s),
            [Event::Parted {
                channel: "never".into()
            }]
        );
    }

    #[test]
    fn chat_flows_through_the_limiter_with_moderator_rates_from_userstate() {
        let t0 = Instant::now();
        let mut s = logged_in(&["a"], t0);
        for i in 0..3 {
            s.say("a", &format!("m{i}")).unwrap();
        }
        assert_eq!(transmitted(&mut s), ["PRIVMSG #a :m0"]);
        let t1 = t0 + S + RateLimitConfig::default().margin;
        assert_eq!(s.poll_timeout(), Some(t1));
        s.handle_timeout(t1);
        assert_eq!(transmitted(&mut s), ["PRIVMSG #a :m1"]);
        // Now we learn we are a moderator: no per-channel gap.
        s.handle_frame(
            "@badges=moderator/1;mod=1 :tmi.twitch.tv USERSTATE #a",
            t0 + S,
        );
        s.say("a", "m3").unwrap();
        assert_eq!(transmitted(&mut s), ["PRIVMSG #a :m2", "PRIVMSG #a :m3"]);
        s.reply("a", "abc-1", "yes").unwrap();
        assert_eq!(
            transmitted(&mut s),
            ["@reply-parent-msg-id=abc-1 PRIVMSG #a :yes"]
        );
    }

    #[test]
    fn slow_mode_from_roomstate_spaces_our_messages() {
        let t0 = Instant::now();
        let mut s = logged_in(&["a"], t0);
        s.handle_frame("@room-id=1;slow=5 :tmi.twitch.tv ROOMSTATE #a", t0);
        s.say("a", "1").unwrap();
        s.say("a", "2").unwrap();
        assert_eq!(transmitted(&mut s), ["PRIVMSG #a :1"]);
        let t1 = t0 + 5 * S + RateLimitConfig::default().margin;
        assert_eq!(s.poll_timeout(), Some(t1));
        s.handle_timeout(t1);
        assert_eq!(transmitted(&mut s), ["PRIVMSG #a :2"]);
    }

    #[test]
    fn rate_limit_notice_pauses_output() {
        let t0 = Instant::now();
        let mut s = logged_in(&["a"], t0);
        s.handle_frame(
            "@msg-id=msg_ratelimit :tmi.twitch.tv NOTICE #a :Your message was not sent because you are sending messages too quickly.",
            t0,
        );
        assert!(
            matches!(&events(&mut s)[..], [Event::RateLimited { channel: Some(c), .. }] if c == "a")
        );
        s.say("a", "x").unwrap();
        assert_eq!(transmitted(&mut s), Vec::<String>::new());
        s.handle_timeout(t0 + 5 * S);
        assert_eq!(transmitted(&mut s), ["PRIVMSG #a :x"]);
    }

    #[test]
    fn full_queue_is_an_error() {
        let t0 = Instant::now();
        let mut c = config(&["a"]);
        c.rate_limits.max_queue = 2;
        let mut s = Session::new(c);
        s.handle_connected(t0);
        s.say("a", "1").unwrap();
        s.say("a", "2").unwrap();
        assert_eq!(s.say("a", "3"), Err(SendError::QueueFull { capacity: 2 }));
        assert_eq!(s.queued_messages(), 2);
    }

    #[test]
    fn events_for_every_kind_and_bad_lines() {
        let t0 = Instant::now();
        let mut s = logged_in(&["a"], t0);
        s.handle_frame(
            "@id=1;user-id=2 :u!u@u PRIVMSG #a :hello\r\n\
             @ban-duration=5 :tmi.twitch.tv CLEARCHAT #a :u\r\n\
             @target-msg-id=1 :tmi.twitch.tv CLEARMSG #a :hello\r\n\
             @msg-id=msg_duplicate :tmi.twitch.tv NOTICE #a :dup\r\n\
             @msg-id=raid :tmi.twitch.tv USERNOTICE #a\r\n\
             :u!u@u PRIVMSG #a\r\n\
             :tmi.twitch.tv HOSTTARGET #a :- 0",
            t0,
        );
        let ev = events(&mut s);
        assert!(matches!(&ev[0], Event::Chat(m) if m.text == "hello"));
        assert!(matches!(&ev[1], Event::ClearChat(c) if c.ban_duration_secs == Some(5)));
        assert!(matches!(&ev[2], Event::ClearMsg(c) if c.target_message_id == "1"));
        assert!(matches!(&ev[3], Event::Notice(n) if n.msg_id.as_deref() == Some("msg_duplicate")));
        assert!(matches!(
            &ev[4],
            Event::Message(ServerMessage::Usernotice(_))
        ));
        assert!(matches!(&ev[5], Event::InvalidLine { .. }));
        assert!(
            matches!(&ev[6], Event::Message(ServerMessage::Unknown(m)) if m.verb == "HOSTTARGET")
        );
        assert_eq!(ev.len(), 7);
    }
}
