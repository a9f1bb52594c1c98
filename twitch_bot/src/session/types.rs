//! The session's public vocabulary: the token wrapper, the configuration, the state, and what
//! the session hands out (chat input and events).

use std::fmt;
use std::time::{Duration, Instant};

use crate::chatplay::{ChatMessage, Moderation};
use crate::irc::{ClearChat, ClearMsg, Login, Notice, ParseError, Privmsg, ServerMessage};
use crate::rate_limit::RateLimitConfig;

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

/// Everything [`Session::new`](super::Session::new) needs: who to log in as, where to go, and the timing knobs.
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
    /// a new [`Session::join`](super::Session::join)). Retries go through the JOIN rate limit like any JOIN.
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
    /// No connection (before [`Session::handle_connected`](super::Session::handle_connected), or after [`Session::handle_disconnected`](super::Session::handle_disconnected)).
    Disconnected,
    /// Connected, login sent, waiting for `001`.
    LoggingIn,
    /// Logged in: joins and chat flow.
    LoggedIn,
    /// Login refused: final. Do not reconnect with the same token.
    AuthFailed,
}

/// Chat as [`Session::handle_frame_with`](super::Session::handle_frame_with) hands it on: the ChatPlay engine's transport-neutral
/// input, borrowed from the frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatInput<'a> {
    /// A `PRIVMSG`.
    Message(ChatMessage<'a>),
    /// A `CLEARCHAT` or `CLEARMSG` (not a backlog replay).
    Moderation(Moderation<'a>),
}

/// Something the driver or the application should know. Drain with [`Session::poll_event`](super::Session::poll_event).
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
    /// [`Session::join_status`](super::Session::join_status) tells the same as a value.
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
    /// [`Session::handle_connected`](super::Session::handle_connected); channels are re-joined automatically.
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
    /// The connection is gone ([`Session::handle_disconnected`](super::Session::handle_disconnected)).
    Disconnected,
}

/// Where one channel's join stands (see [`Session::join_status`](super::Session::join_status)).
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
    /// channel (not joined again until [`Session::join`](super::Session::join) asks for it).
    Failed,
}
