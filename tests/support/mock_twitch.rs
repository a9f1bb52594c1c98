//! A mock Twitch chat server (IRC over WebSocket) for end-to-end tests.
//!
//! It behaves like `irc-ws.chat.twitch.tv` as far as a chat bot can tell (see
//! `twitch-irc.md` sections 1 and 6 of the project's reference notes):
//!
//! - listens on `127.0.0.1:0` (OS-assigned port), over `ws://` or `wss://` with a [`TestCa`];
//! - echoes the WebSocket sub-protocol `irc` only if the client offered it;
//! - accepts `CAP`/`PASS`/`NICK` in any order and with or without CRLF, several per frame;
//!   `PASS` is optional for `justinfan*` nicks and must start with `oauth:` otherwise;
//! - answers `CAP REQ` with `CAP * ACK` (known caps) or `NAK`, login with `001`..`376` and
//!   `GLOBALUSERSTATE` (carrying the bot's `user-id`), `JOIN` with the `JOIN` echo, `353`/`366`,
//!   `USERSTATE` and `ROOMSTATE`, `PART` with its echo, `PING` with `PONG`, each `PRIVMSG` the
//!   bot sends with a `USERSTATE`; replies go out several lines per frame, with tags;
//! - a configured bad token gets `NOTICE * :Login authentication failed` and the connection is
//!   closed;
//! - records every line the client sends (and opens/closes with the close code) with a
//!   timestamp, so tests can assert on PONGs, JOINs, PARTs, PRIVMSG rate and close codes.
//!
//! Tests script it: [`MockTwitch::send_chat`], [`MockTwitch::inject`], [`MockTwitch::ping`],
//! [`MockTwitch::send_reconnect`], [`MockTwitch::drop_connections`] (TCP close without a close
//! frame), [`MockTwitch::wait_for_line`] and friends.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use e2e::mock_twitch::{MockOptions, MockTwitch};
//! let server = MockTwitch::start(MockOptions::default()).await.unwrap();
//! assert!(server.url().starts_with("ws://127.0.0.1:"));
//! assert!(server.connections().is_empty());
//! # });
//! ```

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_tungstenite::tungstenite::handshake::server::{Request, Response};
use async_tungstenite::tungstenite::http::HeaderValue;
use async_tungstenite::tungstenite::protocol::CloseFrame;
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::{Message, Utf8Bytes};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::tls::{TestCa, TestCaError};

/// How deep the per-connection outgoing queue is (frames). Senders wait when it is full, so a
/// flood is paced by the client's reading speed and memory stays bounded.
const OUT_QUEUE: usize = 256;

/// The IRC capabilities the mock acknowledges.
const KNOWN_CAPS: [&str; 3] = [
    "twitch.tv/tags",
    "twitch.tv/commands",
    "twitch.tv/membership",
];

/// Errors of the mock server and of its waiting helpers.
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    /// Binding the listener failed.
    #[error("mock server I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Generating the test CA failed.
    #[error(transparent)]
    Tls(#[from] TestCaError),
    /// A wait helper gave up.
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(Duration, String),
    /// No open connection could take the message.
    #[error("no open connection has joined #{0}")]
    NotJoined(String),
}

/// How the mock server behaves.
#[derive(Debug, Clone)]
pub struct MockOptions {
    /// Serve `wss://` with a freshly generated test CA instead of `ws://`.
    pub tls: bool,
    /// A token (with or without `oauth:`) whose login fails with
    /// `NOTICE * :Login authentication failed` followed by a close.
    pub bad_token: Option<String>,
    /// The `user-id` the mock gives a logged-in (non-anonymous) bot in `GLOBALUSERSTATE`.
    pub bot_user_id: String,
    /// Answer the client's `PING`s (turn off to simulate a dead server).
    pub answer_pings: bool,
    /// Enforce Twitch's chat limits by the mock's own arrival clock, per account (nick) across
    /// connections, like Twitch does (see [`crate::mock_limits`]): for a non-moderator 20 `PRIVMSG`s
    /// per 30 s, 1 s between two in one channel, the channel's slow mode, no identical message in a
    /// channel within 30 s; for a moderator 100 per 30 s. A violation is answered with `NOTICE
    /// msg_ratelimit` (or `msg_slowmode`, `msg_duplicate`) and counted (see
    /// [`MockTwitch::rate_limit_violations`]).
    pub enforce_rate_limits: bool,
    /// Delay every frame, in both directions, by a random 0 to `jitter` (order kept, like TCP): the
    /// limits above are then judged on the delayed arrival times. `None` (the default): no delay.
    pub jitter: Option<Duration>,
    /// Channels where the bot is a moderator (`mod=1` in its `USERSTATE`s, moderator limits).
    pub moderator_channels: Vec<String>,
    /// Channels in slow mode: `(channel, seconds)` (`ROOMSTATE slow=N`, enforced for non-moderators).
    pub slow_mode: Vec<(String, u64)>,
    /// Accept only logins whose token passes this check (e.g. valid now at the mock identity server);
    /// others get `NOTICE * :Login authentication failed` and a close.
    pub token_check: Option<crate::mock_id::TokenCheck>,
    /// The port to listen on; 0 (the default) lets the OS pick. A test that stops a server and
    /// starts another on the same port (an outage) passes the first one's port here.
    pub port: u16,
}

impl Default for MockOptions {
    fn default() -> Self {
        Self {
            tls: false,
            bad_token: None,
            bot_user_id: "900001".to_string(),
            answer_pings: true,
            enforce_rate_limits: true,
            jitter: None,
            moderator_channels: Vec::new(),
            slow_mode: Vec::new(),
            token_check: None,
            port: 0,
        }
    }
}

/// Something a client did, as seen by the mock, with the time it was seen.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The connection number (1, 2, ... in accept order).
    pub conn: u64,
    /// When the mock saw it.
    pub at: Instant,
    /// What happened.
    pub what: ClientEvent,
}

/// One thing a client did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// The WebSocket handshake completed; `protocols` are the sub-protocols the client offered.
    Opened {
        /// `Sec-WebSocket-Protocol` values offered by the client.
        protocols: Vec<String>,
    },
    /// One IRC line the client sent (without CR/LF; tags kept).
    Line(String),
    /// The client sent a binary frame (Twitch clients never should).
    Binary(usize),
    /// The connection ended.
    Closed {
        /// The close frame the client sent: `Some((code, reason))`, or `None` when the TCP
        /// connection ended without a close frame.
        close: Option<(u16, String)>,
        /// `true` when the mock ended it (drop, login failure), `false` when the client did.
        by_server: bool,
    },
}

/// A snapshot of one connection's state.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// The connection number.
    pub id: u64,
    /// The nick the client logged in with, once `NICK` was seen.
    pub nick: Option<String>,
    /// Whether the login completed (001..376 sent).
    pub logged_in: bool,
    /// Channels (without `#`) this connection has joined.
    pub channels: BTreeSet<String>,
    /// Whether the connection is still open.
    pub open: bool,
    /// The sub-protocol the mock echoed, if any.
    pub subprotocol: Option<String>,
}

/// A chat message to inject (a tagged `PRIVMSG` as Twitch sends it).
///
/// ```
/// use e2e::mock_twitch::Chat;
/// let line = Chat::new("chan", "alice", "101", "up").id("m-1").moderator().to_line();
/// assert!(line.contains(";id=m-1;"));
/// assert!(line.contains(";mod=1;"));
/// assert!(line.ends_with(":alice!alice@alice.tmi.twitch.tv PRIVMSG #chan :up"));
/// ```
#[derive(Debug, Clone)]
pub struct Chat {
    /// Channel without `#`.
    pub channel: String,
    /// The sender's login.
    pub login: String,
    /// The sender's user id.
    pub user_id: String,
    /// The text.
    pub text: String,
    /// The message id (`id` tag); a fresh UUID-like id when `None`.
    pub id: Option<String>,
    /// `badges` tag value, e.g. `moderator/1`.
    pub badges: String,
    /// The `mod` tag.
    pub is_mod: bool,
    /// The `tmi-sent-ts` tag (Unix ms); now when `None`.
    pub sent_ts: Option<u64>,
    /// Extra raw tags appended as `key=value` (already escaped).
    pub extra_tags: Vec<(String, String)>,
}

impl Chat {
    /// A plain viewer's message.
    pub fn new(channel: &str, login: &str, user_id: &str, text: &str) -> Self {
        Self {
            channel: channel.trim_start_matches('#').to_string(),
            login: login.to_string(),
            user_id: user_id.to_string(),
            text: text.to_string(),
            id: None,
            badges: String::new(),
            is_mod: false,
            sent_ts: None,
            extra_tags: Vec::new(),
        }
    }

    /// Sets the message id.
    pub fn id(mut self, id: &str) -> Self {
        self.id = Some(id.to_string());
        self
    }

    /// Marks the sender a moderator (`mod=1`, `badges=moderator/1`, `user-type=mod`).
    pub fn moderator(mut self) -> Self {
        self.is_mod = true;
        self.badges = "moderator/1".to_string();
        self
    }

    /// Marks the sender the broadcaster (`badges=broadcaster/1`).
    pub fn broadcaster(mut self) -> Self {
        self.badges = "broadcaster/1".to_string();
        self
    }

    /// Adds a raw tag.
    pub fn tag(mut self, key: &str, value: &str) -> Self {
        self.extra_tags.push((key.to_string(), value.to_string()));
        self
    }

    /// The message id, generating one into `self` if none was set.
    pub fn ensure_id(&mut self) -> String {
        self.id.get_or_insert_with(fresh_msg_id).clone()
    }

    /// Renders the IRC line (no CRLF), tags in Twitch's order.
    pub fn to_line(&self) -> String {
        let id = self.id.clone().unwrap_or_else(fresh_msg_id);
        let ts = self.sent_ts.unwrap_or_else(now_ms);
        let display = display_name(&self.login);
        let mut line = format!(
            "@badge-info=;badges={badges};color=#1E90FF;display-name={display};emotes=;first-msg=0;flags=;id={id};mod={m};returning-chatter=0;room-id={room};subscriber=0;tmi-sent-ts={ts};turbo=0;user-id={uid};user-type={ut}",
            badges = self.badges,
            m = u8::from(self.is_mod),
            room = room_id(&self.channel),
            uid = self.user_id,
            ut = if self.is_mod { "mod" } else { "" },
        );
        for (k, v) in &self.extra_tags {
            line.push(';');
            line.push_str(k);
            line.push('=');
            line.push_str(v);
        }
        line.push_str(&format!(
            " :{l}!{l}@{l}.tmi.twitch.tv PRIVMSG #{c} :{t}",
            l = self.login,
            c = self.channel,
            t = self.text
        ));
        line
    }
}

/// A Twitch-like room id for a channel (stable per name).
pub fn room_id(channel: &str) -> u64 {
    let mut h: u64 = 1469598103934665603;
    for b in channel.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(1099511628211);
    }
    10_000_000 + h % 90_000_000
}

fn display_name(login: &str) -> String {
    let mut c = login.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Unix time in milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

static MSG_COUNTER: AtomicU64 = AtomicU64::new(1);

/// A fresh UUID-shaped message id (unique within the process).
pub fn fresh_msg_id() -> String {
    let n = MSG_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "e2e0{:04x}-1b2c-4d3e-8f40-{:012x}",
        std::process::id() & 0xffff,
        n
    )
}

/// What the writer task of a connection is told to do.
enum Out {
    Frame(String),
    /// Close with a close frame.
    Close(u16, String),
    /// Drop the TCP connection without a close frame.
    Drop,
}

struct Conn {
    tx: mpsc::Sender<Out>,
    info: ConnInfo,
    caps: BTreeSet<String>,
    pass: Option<String>,
}

struct Shared {
    opts: MockOptions,
    answer_pings: AtomicBool,
    /// While set, JOINs are recorded but not answered; they wait in `held_joins`.
    hold_joins: AtomicBool,
    /// JOINs held back: (connection, channel).
    held_joins: Mutex<Vec<(u64, String)>>,
    log: Mutex<Vec<Recorded>>,
    changed: watch::Sender<u64>,
    conns: Mutex<HashMap<u64, Conn>>,
    next_conn: AtomicU64,
    violations: AtomicU64,
    join_violations: AtomicU64,
    /// Chat and JOIN limits per account (nick), judged on arrival times.
    limits: Mutex<HashMap<String, crate::mock_limits::Account>>,
    /// State of the jitter's random numbers (xorshift).
    rng: AtomicU64,
}

impl Shared {
    /// A random delay in `0..=jitter` (zero without jitter).
    fn jitter(&self) -> Duration {
        let Some(max) = self.opts.jitter else {
            return Duration::ZERO;
        };
        let mut x = self.rng.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.store(x, Ordering::Relaxed);
        let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(x % nanos.saturating_add(1))
    }
    fn lock_limits(&self) -> MutexGuard<'_, HashMap<String, crate::mock_limits::Account>> {
        self.limits.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn is_moderator(&self, channel: &str) -> bool {
        self.opts.moderator_channels.iter().any(|c| c == channel)
    }
    fn slow_secs(&self, channel: &str) -> u64 {
        self.opts
            .slow_mode
            .iter()
            .find(|(c, _)| c == channel)
            .map_or(0, |(_, s)| *s)
    }
}

impl Shared {
    fn lock_conns(&self) -> MutexGuard<'_, HashMap<u64, Conn>> {
        self.conns.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn lock_log(&self) -> MutexGuard<'_, Vec<Recorded>> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn record(&self, conn: u64, at: Instant, what: ClientEvent) {
        self.lock_log().push(Recorded { conn, at, what });
        self.changed.send_modify(|n| *n += 1);
    }
}

/// The running mock server. Dropping it stops accepting; open connections are dropped too.
pub struct MockTwitch {
    shared: Arc<Shared>,
    addr: SocketAddr,
    ca: Option<TestCa>,
    accept: JoinHandle<()>,
}

impl Drop for MockTwitch {
    fn drop(&mut self) {
        self.accept.abort();
        for c in self.shared.lock_conns().values() {
            let _ = c.tx.try_send(Out::Drop);
        }
    }
}

impl std::fmt::Debug for MockTwitch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockTwitch")
            .field("addr", &self.addr)
            .finish()
    }
}

impl MockTwitch {
    /// Starts the server on `127.0.0.1:0`. Must be called inside a tokio runtime.
    pub async fn start(opts: MockOptions) -> Result<Self, MockError> {
        let listener = TcpListener::bind(("127.0.0.1", opts.port)).await?;
        let addr = listener.local_addr()?;
        let ca = if opts.tls {
            Some(TestCa::generate()?)
        } else {
            None
        };
        let acceptor = match &ca {
            Some(ca) => Some(ca.acceptor()?),
            None => None,
        };
        let (changed, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            answer_pings: AtomicBool::new(opts.answer_pings),
            hold_joins: AtomicBool::new(false),
            held_joins: Mutex::new(Vec::new()),
            opts,
            log: Mutex::new(Vec::new()),
            changed,
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            violations: AtomicU64::new(0),
            join_violations: AtomicU64::new(0),
            limits: Mutex::new(HashMap::new()),
            rng: AtomicU64::new(
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0x9E37_79B9_7F4A_7C15, |d| d.as_nanos() as u64)
                    | 1,
            ),
        });
        let s = shared.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                let s = s.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    match acceptor {
                        Some(acc) => {
                            if let Ok(tls) = acc.accept(tcp).await {
                                serve(s, tls).await;
                            }
                        }
                        None => serve(s, tcp).await,
                    }
                });
            }
        });
        Ok(Self {
            shared,
            addr,
            ca,
            accept,
        })
    }

    /// The URL to put in the bot's `server` key: `ws://127.0.0.1:PORT` or
    /// `wss://localhost:PORT` (the certificate is for `localhost` and `127.0.0.1`).
    pub fn url(&self) -> String {
        match self.ca {
            Some(_) => format!("wss://localhost:{}", self.addr.port()),
            None => format!("ws://127.0.0.1:{}", self.addr.port()),
        }
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The test CA's `ca.pem` (only for a TLS server).
    pub fn ca_file(&self) -> Option<PathBuf> {
        self.ca.as_ref().map(TestCa::ca_file)
    }

    /// The test CA (only for a TLS server).
    pub fn test_ca(&self) -> Option<&TestCa> {
        self.ca.as_ref()
    }

    /// Turns answering the client's `PING`s on or off.
    pub fn set_answer_pings(&self, on: bool) {
        self.shared.answer_pings.store(on, Ordering::SeqCst);
    }

    /// Holds JOINs back (recorded, not answered: the client waits for its join) while `on`;
    /// turning it off answers the held JOINs, in order, on their connections (if still open).
    pub async fn hold_joins(&self, on: bool) {
        self.shared.hold_joins.store(on, Ordering::SeqCst);
        if on {
            return;
        }
        let held = std::mem::take(
            &mut *self
                .shared
                .held_joins
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        let mut sends = Vec::new();
        {
            let mut conns = self.shared.lock_conns();
            for (id, ch) in held {
                if let Some(conn) = conns.get_mut(&id).filter(|c| c.info.open) {
                    let nick = conn.info.nick.clone().unwrap_or_else(|| "*".to_string());
                    sends.push((conn.tx.clone(), answer_join(&self.shared, conn, &nick, ch)));
                }
            }
        }
        for (tx, out) in sends {
            let _ = tx.send(out).await;
        }
    }

    /// Sends a [`Chat`] (one frame) on connection `conn` only, which must be open and have
    /// joined the chat's channel; returns its message id.
    pub async fn send_chat_on(&self, conn: u64, mut chat: Chat) -> Result<String, MockError> {
        let id = chat.ensure_id();
        let ch = chat.channel.trim_start_matches('#').to_ascii_lowercase();
        let target = self
            .shared
            .lock_conns()
            .get(&conn)
            .filter(|c| c.info.open && c.info.channels.contains(&ch))
            .map(|c| c.tx.clone());
        let sent = match target {
            Some(tx) => tx
                .send(Out::Frame(frame_of(&[chat.to_line()])))
                .await
                .is_ok(),
            None => false,
        };
        if sent {
            Ok(id)
        } else {
            Err(MockError::NotJoined(format!("{ch} on connection {conn}")))
        }
    }

    /// Sends `PING :<token>` on connection `conn` only and waits for its `PONG` on that
    /// connection: everything sent on `conn` before has been read by the client by then.
    pub async fn sync_conn(
        &self,
        conn: u64,
        token: &str,
        timeout: Duration,
    ) -> Result<(), MockError> {
        let mark = self.mark();
        let tx = self
            .shared
            .lock_conns()
            .get(&conn)
            .filter(|c| c.info.open)
            .map(|c| c.tx.clone());
        let Some(tx) = tx else {
            return Err(MockError::NotJoined(format!(
                "(connection {conn} is not open)"
            )));
        };
        let _ = tx.send(Out::Frame(format!("PING :{token}\r\n"))).await;
        self.wait_for_since(
            mark,
            &format!("PONG {token} on connection {conn}"),
            timeout,
            |r| {
                r.conn == conn
                    && matches!(&r.what, ClientEvent::Line(l)
                    if irc_command(l) == "PONG" && irc_params(l).last() == Some(&token))
            },
        )
        .await
        .map(|_| ())
    }

    /// How many of the client's PRIVMSGs broke Twitch's limits (see
    /// [`MockOptions::enforce_rate_limits`]).
    pub fn rate_limit_violations(&self) -> u64 {
        self.shared.violations.load(Ordering::SeqCst)
    }

    /// JOINs that arrived while the account already had 20 JOINs in the last 10 s (by arrival time).
    pub fn join_violations(&self) -> u64 {
        self.shared.join_violations.load(Ordering::SeqCst)
    }

    /// Snapshot of every connection so far (open or not), in accept order.
    pub fn connections(&self) -> Vec<ConnInfo> {
        let mut v: Vec<ConnInfo> = self
            .shared
            .lock_conns()
            .values()
            .map(|c| c.info.clone())
            .collect();
        v.sort_by_key(|c| c.id);
        v
    }

    /// Everything recorded so far.
    pub fn log(&self) -> Vec<Recorded> {
        self.shared.lock_log().clone()
    }

    /// The number of records so far; pass it to the `*_since` helpers to look only at what
    /// happens afterwards.
    pub fn mark(&self) -> usize {
        self.shared.lock_log().len()
    }

    /// Every line clients sent, as `(conn, time, line)`.
    pub fn lines(&self) -> Vec<(u64, Instant, String)> {
        self.shared
            .lock_log()
            .iter()
            .filter_map(|r| match &r.what {
                ClientEvent::Line(l) => Some((r.conn, r.at, l.clone())),
                _ => None,
            })
            .collect()
    }

    /// Lines clients sent whose IRC command (after tags and prefix) is `command`.
    pub fn lines_with_command(&self, command: &str) -> Vec<(u64, Instant, String)> {
        self.lines()
            .into_iter()
            .filter(|(_, _, l)| irc_command(l).eq_ignore_ascii_case(command))
            .collect()
    }

    /// Waits for a record at index `since` or later that matches `pred`.
    pub async fn wait_for_since(
        &self,
        since: usize,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Recorded) -> bool,
    ) -> Result<Recorded, MockError> {
        let mut rx = self.shared.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        let mut from = since;
        loop {
            rx.borrow_and_update();
            {
                let log = self.shared.lock_log();
                if let Some(r) = log.iter().skip(from).find(|r| pred(r)) {
                    return Ok(r.clone());
                }
                from = log.len().max(since);
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                _ => return Err(MockError::Timeout(timeout, what.to_string())),
            }
        }
    }

    /// Waits for a client line (recorded at `since` or later) matching `pred`; returns the
    /// connection and the line.
    pub async fn wait_for_line_since(
        &self,
        since: usize,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Result<(u64, String), MockError> {
        let r = self
            .wait_for_since(
                since,
                "a client line",
                timeout,
                |r| matches!(&r.what, ClientEvent::Line(l) if pred(l)),
            )
            .await?;
        match r.what {
            ClientEvent::Line(l) => Ok((r.conn, l)),
            _ => unreachable!("the predicate only accepts lines"),
        }
    }

    /// Waits for any client line (since the start) matching `pred`.
    pub async fn wait_for_line(
        &self,
        pred: impl Fn(&str) -> bool,
        timeout: Duration,
    ) -> Result<(u64, String), MockError> {
        self.wait_for_line_since(0, timeout, pred).await
    }

    /// Waits until a connection numbered above `after_conn` has logged in and joined `#channel`
    /// (the JOIN echo, 353/366, USERSTATE and ROOMSTATE were queued before this returns).
    /// Returns the connection number.
    pub async fn wait_for_join(
        &self,
        channel: &str,
        after_conn: u64,
        timeout: Duration,
    ) -> Result<u64, MockError> {
        let ch = channel.trim_start_matches('#').to_ascii_lowercase();
        let r = self
            .wait_for_since(0, &format!("a JOIN of #{ch}"), timeout, |r| {
                r.conn > after_conn
                    && matches!(&r.what, ClientEvent::Line(l)
                        if irc_command(l).eq_ignore_ascii_case("JOIN")
                            && irc_params(l).first().is_some_and(|p| {
                                p.split(',').any(|c| c.trim_start_matches('#').eq_ignore_ascii_case(&ch))
                            }))
            })
            .await?;
        Ok(r.conn)
    }

    /// Waits for the end of connection `conn`; returns the close frame (`None` = no close frame).
    pub async fn wait_for_close(
        &self,
        conn: u64,
        timeout: Duration,
    ) -> Result<(Option<(u16, String)>, bool), MockError> {
        let r = self
            .wait_for_since(0, &format!("connection {conn} to close"), timeout, |r| {
                r.conn == conn && matches!(r.what, ClientEvent::Closed { .. })
            })
            .await?;
        match r.what {
            ClientEvent::Closed { close, by_server } => Ok((close, by_server)),
            _ => unreachable!("the predicate only accepts closes"),
        }
    }

    /// Senders of every open, logged-in connection that joined `channel` (all open logged-in
    /// connections when `channel` is `None`).
    fn targets(&self, channel: Option<&str>) -> Vec<mpsc::Sender<Out>> {
        self.shared
            .lock_conns()
            .values()
            .filter(|c| c.info.open && c.info.logged_in)
            .filter(|c| channel.is_none_or(|ch| c.info.channels.contains(ch)))
            .map(|c| c.tx.clone())
            .collect()
    }

    async fn send_to(&self, targets: Vec<mpsc::Sender<Out>>, frame: String) -> usize {
        let mut n = 0;
        for t in targets {
            if t.send(Out::Frame(frame.clone())).await.is_ok() {
                n += 1;
            }
        }
        n
    }

    /// Sends one frame made of `lines` (joined with CRLF, CRLF-terminated like Twitch) to every
    /// open connection that joined `channel`. Returns how many connections got it.
    pub async fn send_lines_to_channel(
        &self,
        channel: &str,
        lines: &[String],
    ) -> Result<usize, MockError> {
        let ch = channel.trim_start_matches('#').to_ascii_lowercase();
        let targets = self.targets(Some(&ch));
        if targets.is_empty() {
            return Err(MockError::NotJoined(ch));
        }
        Ok(self.send_to(targets, frame_of(lines)).await)
    }

    /// Sends a viewer's chat message to the channel; returns its message id.
    pub async fn send_chat(
        &self,
        channel: &str,
        user: &str,
        user_id: &str,
        text: &str,
    ) -> Result<String, MockError> {
        self.send_chat_msg(Chat::new(channel, user, user_id, text))
            .await
    }

    /// Sends a [`Chat`] (one frame); returns its message id.
    pub async fn send_chat_msg(&self, mut chat: Chat) -> Result<String, MockError> {
        let id = chat.ensure_id();
        self.send_lines_to_channel(&chat.channel.clone(), &[chat.to_line()])
            .await?;
        Ok(id)
    }

    /// Sends several chat messages in ONE frame (all must be for the same channel); returns ids.
    pub async fn send_chats(&self, chats: Vec<Chat>) -> Result<Vec<String>, MockError> {
        let Some(channel) = chats.first().map(|c| c.channel.clone()) else {
            return Ok(Vec::new());
        };
        let mut ids = Vec::new();
        let mut lines = Vec::new();
        for mut c in chats {
            ids.push(c.ensure_id());
            lines.push(c.to_line());
        }
        self.send_lines_to_channel(&channel, &lines).await?;
        Ok(ids)
    }

    /// Sends a raw frame (exactly as given; add `\r\n` yourself) to every open logged-in
    /// connection. Returns how many got it.
    pub async fn inject(&self, raw: &str) -> usize {
        let targets = self.targets(None);
        self.send_to(targets, raw.to_string()).await
    }

    /// `CLEARCHAT #channel :login` for a timeout (`ban-duration`) of `user_id`.
    pub async fn timeout_user(
        &self,
        channel: &str,
        login: &str,
        user_id: &str,
        secs: u32,
    ) -> Result<usize, MockError> {
        let ch = channel.trim_start_matches('#');
        let line = format!(
            "@ban-duration={secs};room-id={};target-user-id={user_id};tmi-sent-ts={} :tmi.twitch.tv CLEARCHAT #{ch} :{login}",
            room_id(ch),
            now_ms()
        );
        self.send_lines_to_channel(ch, &[line]).await
    }

    /// `CLEARMSG` deleting message `msg_id` (room-id empty, as Twitch really sends it).
    pub async fn delete_message(
        &self,
        channel: &str,
        login: &str,
        msg_id: &str,
        text: &str,
    ) -> Result<usize, MockError> {
        let ch = channel.trim_start_matches('#');
        let line = format!(
            "@login={login};room-id=;target-msg-id={msg_id};tmi-sent-ts={} :tmi.twitch.tv CLEARMSG #{ch} :{text}",
            now_ms()
        );
        self.send_lines_to_channel(ch, &[line]).await
    }

    /// `NOTICE #channel` with `msg-id=msg_ratelimit`.
    pub async fn send_ratelimit_notice(&self, channel: &str) -> Result<usize, MockError> {
        let ch = channel.trim_start_matches('#');
        let line = format!(
            "@msg-id=msg_ratelimit :tmi.twitch.tv NOTICE #{ch} :Your message was not sent because you are sending messages too quickly."
        );
        self.send_lines_to_channel(ch, &[line]).await
    }

    /// Sends `PING :<token>` to every open connection.
    pub async fn ping(&self, token: &str) -> usize {
        self.inject(&format!("PING :{token}\r\n")).await
    }

    /// Sends `:tmi.twitch.tv RECONNECT` to every open connection (they stay open; Twitch closes
    /// them itself later, see [`MockTwitch::close_connections`]).
    pub async fn send_reconnect(&self) -> usize {
        self.inject(":tmi.twitch.tv RECONNECT\r\n").await
    }

    /// Ends every open connection abruptly: the TCP connection is closed without a close frame.
    pub async fn drop_connections(&self) -> usize {
        let targets: Vec<_> = self
            .shared
            .lock_conns()
            .values()
            .filter(|c| c.info.open)
            .map(|c| c.tx.clone())
            .collect();
        let n = targets.len();
        for t in targets {
            let _ = t.send(Out::Drop).await;
        }
        n
    }

    /// Closes every open connection with a close frame (`code`, `reason`).
    pub async fn close_connections(&self, code: u16, reason: &str) -> usize {
        let targets: Vec<_> = self
            .shared
            .lock_conns()
            .values()
            .filter(|c| c.info.open)
            .map(|c| c.tx.clone())
            .collect();
        let n = targets.len();
        for t in targets {
            let _ = t.send(Out::Close(code, reason.to_string())).await;
        }
        n
    }

    /// Closes every open connection except `keep` with a close frame (as Twitch does with the
    /// old connection some time after a RECONNECT).
    pub async fn close_connections_except(&self, keep: u64, code: u16, reason: &str) -> usize {
        let targets: Vec<_> = self
            .shared
            .lock_conns()
            .values()
            .filter(|c| c.info.open && c.info.id != keep)
            .map(|c| c.tx.clone())
            .collect();
        let n = targets.len();
        for t in targets {
            let _ = t.send(Out::Close(code, reason.to_string())).await;
        }
        n
    }

    /// Ends connection `conn` abruptly (TCP close without a close frame). Returns whether it was
    /// open.
    pub async fn drop_connection(&self, conn: u64) -> bool {
        let target = self
            .shared
            .lock_conns()
            .get(&conn)
            .filter(|c| c.info.open)
            .map(|c| c.tx.clone());
        match target {
            Some(t) => t.send(Out::Drop).await.is_ok(),
            None => false,
        }
    }

    /// A sender that pushes raw frames to connection `conn` in order, waiting when the client
    /// does not keep up (for load generators). `None` if the connection is gone.
    pub fn frame_sender(&self, conn: u64) -> Option<FrameSender> {
        self.shared
            .lock_conns()
            .get(&conn)
            .filter(|c| c.info.open)
            .map(|c| FrameSender { tx: c.tx.clone() })
    }
}

/// Pushes frames to one connection, in order, paced by the client (see
/// [`MockTwitch::frame_sender`]).
#[derive(Clone)]
pub struct FrameSender {
    tx: mpsc::Sender<Out>,
}

impl std::fmt::Debug for FrameSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FrameSender")
    }
}

impl FrameSender {
    /// Queues one text frame; waits while the queue is full. `false` once the connection is gone.
    pub async fn send(&self, frame: String) -> bool {
        self.tx.send(Out::Frame(frame)).await.is_ok()
    }
}

/// Joins lines into one Twitch-style frame (each line CRLF-terminated).
pub fn frame_of(lines: &[String]) -> String {
    let mut f = String::with_capacity(lines.iter().map(|l| l.len() + 2).sum());
    for l in lines {
        f.push_str(l);
        f.push_str("\r\n");
    }
    f
}

/// The IRC command of a line (after optional tags and prefix).
pub fn irc_command(line: &str) -> &str {
    let rest = strip_tags_prefix(line);
    rest.split(' ').next().unwrap_or("")
}

fn strip_tags_prefix(line: &str) -> &str {
    let mut rest = line.trim_start();
    if rest.starts_with('@') {
        rest = rest.split_once(' ').map_or("", |(_, r)| r).trim_start();
    }
    if rest.starts_with(':') {
        rest = rest.split_once(' ').map_or("", |(_, r)| r).trim_start();
    }
    rest
}

/// The parameters of an IRC line (the trailing one without its `:`).
pub fn irc_params(line: &str) -> Vec<&str> {
    let rest = strip_tags_prefix(line);
    let mut it = rest.splitn(2, ' ');
    let _cmd = it.next();
    let mut rest = it.next().unwrap_or("");
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start_matches(' ');
        if rest.is_empty() {
            break;
        }
        if let Some(t) = rest.strip_prefix(':') {
            params.push(t);
            break;
        }
        match rest.split_once(' ') {
            Some((p, r)) => {
                params.push(p);
                rest = r;
            }
            None => {
                params.push(rest);
                break;
            }
        }
    }
    params
}

/// Serves one accepted (plain or TLS) stream.
// The handshake callback's error type (an HTTP response) is fixed by tungstenite.
#[allow(clippy::result_large_err)]
async fn serve<S>(shared: Arc<Shared>, stream: S)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let offered = Arc::new(Mutex::new(Vec::<String>::new()));
    let echoed = Arc::new(Mutex::new(None::<String>));
    let (o2, e2) = (offered.clone(), echoed.clone());
    let callback = move |req: &Request, mut resp: Response| {
        let protos: Vec<String> = req
            .headers()
            .get_all("sec-websocket-protocol")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect();
        if protos.iter().any(|p| p == "irc") {
            resp.headers_mut()
                .insert("sec-websocket-protocol", HeaderValue::from_static("irc"));
            *e2.lock().unwrap_or_else(|p| p.into_inner()) = Some("irc".to_string());
        }
        *o2.lock().unwrap_or_else(|p| p.into_inner()) = protos;
        Ok(resp)
    };
    let Ok(ws) = async_tungstenite::tokio::accept_hdr_async(stream, callback).await else {
        return;
    };
    let id = shared.next_conn.fetch_add(1, Ordering::SeqCst);
    let (tx, mut rx) = mpsc::channel::<Out>(OUT_QUEUE);
    let protocols = offered.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let subprotocol = echoed.lock().unwrap_or_else(|p| p.into_inner()).clone();
    shared.lock_conns().insert(
        id,
        Conn {
            tx: tx.clone(),
            info: ConnInfo {
                id,
                nick: None,
                logged_in: false,
                channels: BTreeSet::new(),
                open: true,
                subprotocol,
            },
            caps: BTreeSet::new(),
            pass: None,
        },
    );
    shared.record(id, Instant::now(), ClientEvent::Opened { protocols });

    let (mut sink, mut stream) = ws.split();
    // The reader handles the client's lines and queues replies; it reports how it ended.
    let reader_shared = shared.clone();
    let reader_tx = tx.clone();
    // With jitter, frames are handled by a second task at their (delayed, ordered) arrival time.
    let (jit_tx, mut jit_rx) = mpsc::unbounded_channel::<(Instant, Utf8Bytes)>();
    let jit_shared = shared.clone();
    let jit_out = tx.clone();
    let jitter_task = tokio::spawn(async move {
        while let Some((due, text)) = jit_rx.recv().await {
            tokio::time::sleep_until(due.into()).await;
            handle_text(&jit_shared, id, &text, &jit_out).await;
        }
    });
    let mut reader = tokio::spawn(async move {
        let mut last_due = Instant::now();
        while let Some(msg) = stream.next().await {
            match msg {
                Ok(Message::Text(t)) if reader_shared.opts.jitter.is_some() => {
                    last_due = last_due.max(Instant::now() + reader_shared.jitter());
                    let _ = jit_tx.send((last_due, t));
                }
                Ok(Message::Text(t)) => handle_text(&reader_shared, id, &t, &reader_tx).await,
                Ok(Message::Binary(b)) => {
                    reader_shared.record(id, Instant::now(), ClientEvent::Binary(b.len()))
                }
                Ok(Message::Close(frame)) => {
                    return Some(frame.map(|f| (u16::from(f.code), f.reason.to_string())));
                }
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    });
    drop(tx);

    let mut last_out = Instant::now();
    let ended = loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(Out::Frame(f)) => {
                    if shared.opts.jitter.is_some() {
                        last_out = last_out.max(Instant::now() + shared.jitter());
                        tokio::time::sleep_until(last_out.into()).await;
                    }
                    if sink.send(Message::Text(Utf8Bytes::from(f))).await.is_err() {
                        // The client is gone; the reader will report how.
                    }
                }
                Some(Out::Close(code, reason)) => {
                    let _ = sink
                        .send(Message::Close(Some(CloseFrame {
                            code: CloseCode::from(code),
                            reason: Utf8Bytes::from(reason.clone()),
                        })))
                        .await;
                    // Wait (briefly) for the client's close reply, then report.
                    let reply = tokio::time::timeout(Duration::from_secs(5), &mut reader).await;
                    let close = match reply {
                        Ok(Ok(Some(Some(c)))) => Some(c),
                        _ => Some((code, reason)),
                    };
                    break ClientEvent::Closed { close, by_server: true };
                }
                Some(Out::Drop) | None => {
                    reader.abort();
                    break ClientEvent::Closed { close: None, by_server: true };
                }
            },
            res = &mut reader => {
                let close = res.ok().flatten().flatten();
                // Let tungstenite finish the closing handshake (it queued the close reply).
                let _ = tokio::time::timeout(Duration::from_secs(2), SinkExt::flush(&mut sink)).await;
                break ClientEvent::Closed { close, by_server: false };
            }
        }
    };
    drop(sink);
    jitter_task.abort();
    if let Some(c) = shared.lock_conns().get_mut(&id) {
        c.info.open = false;
    }
    shared.record(id, Instant::now(), ended);
}

/// Handles the lines of one text frame that arrived now, sending the replies.
async fn handle_text(shared: &Shared, id: u64, text: &str, out: &mpsc::Sender<Out>) {
    let at = Instant::now();
    for line in text.split(['\r', '\n']).filter(|l| !l.is_empty()) {
        let replies = handle_line(shared, id, line, at);
        for r in replies {
            if out.send(r).await.is_err() {
                break;
            }
        }
        shared.record(id, at, ClientEvent::Line(line.to_string()));
    }
}

/// Confirms a JOIN of `ch` on `conn` (echo, 353/366, USERSTATE, ROOMSTATE, like Twitch).
fn answer_join(shared: &Shared, conn: &mut Conn, nick: &str, ch: String) -> Out {
    let tags = conn.caps.contains("twitch.tv/tags");
    let commands = conn.caps.contains("twitch.tv/commands");
    let mut lines = vec![
        format!(":{nick}!{nick}@{nick}.tmi.twitch.tv JOIN #{ch}"),
        format!(":{nick}.tmi.twitch.tv 353 {nick} = #{ch} :{nick}"),
        format!(":{nick}.tmi.twitch.tv 366 {nick} #{ch} :End of /NAMES list"),
    ];
    if tags && commands {
        lines.push(format!(
            "@badge-info=;{};color=;display-name={};emote-sets=0;{};subscriber=0;user-type={} :tmi.twitch.tv USERSTATE #{ch}",
            mod_tags(shared, &ch).0,
            display_name(nick),
            mod_tags(shared, &ch).1,
            mod_tags(shared, &ch).2,
        ));
        lines.push(format!(
            "@emote-only=0;followers-only=-1;r9k=0;room-id={};slow={};subs-only=0 :tmi.twitch.tv ROOMSTATE #{ch}",
            room_id(&ch),
            shared.slow_secs(&ch)
        ));
    }
    conn.info.channels.insert(ch);
    Out::Frame(frame_of(&lines))
}

/// Handles one client line; returns what to send back (in order).
fn handle_line(shared: &Shared, id: u64, line: &str, at: Instant) -> Vec<Out> {
    let cmd = irc_command(line).to_ascii_uppercase();
    let params = irc_params(line);
    let mut conns = shared.lock_conns();
    let Some(conn) = conns.get_mut(&id) else {
        return Vec::new();
    };
    let nick = conn.info.nick.clone().unwrap_or_else(|| "*".to_string());
    let mut out = Vec::new();
    match cmd.as_str() {
        "CAP" => {
            // Clients send `CAP REQ :caps` / `CAP LS` / `CAP END` (no `*` target).
            let sub = params.first().map(|s| s.to_ascii_uppercase());
            match sub.as_deref() {
                Some("REQ") => {
                    let req = params.get(1).copied().unwrap_or("");
                    let wanted: Vec<&str> = req.split(' ').filter(|c| !c.is_empty()).collect();
                    if wanted.iter().all(|c| KNOWN_CAPS.contains(c)) {
                        conn.caps.extend(wanted.iter().map(|c| c.to_string()));
                        out.push(Out::Frame(format!(":tmi.twitch.tv CAP * ACK :{req}\r\n")));
                    } else {
                        out.push(Out::Frame(format!(":tmi.twitch.tv CAP * NAK :{req}\r\n")));
                    }
                }
                Some("LS") => out.push(Out::Frame(format!(
                    ":tmi.twitch.tv CAP * LS :{}\r\n",
                    KNOWN_CAPS.join(" ")
                ))),
                _ => {}
            }
        }
        "PASS" => {
            conn.pass = params.first().map(|s| s.to_string());
            try_login(shared, conn, &mut out);
        }
        "NICK" => {
            conn.info.nick = params.first().map(|s| s.to_ascii_lowercase());
            try_login(shared, conn, &mut out);
        }
        "JOIN" if conn.info.logged_in => {
            let n = params
                .first()
                .map_or(0, |p| p.split(',').filter(|c| !c.is_empty()).count());
            if shared
                .lock_limits()
                .entry(nick.clone())
                .or_default()
                .join(at, n)
            {
                shared.join_violations.fetch_add(1, Ordering::SeqCst);
            }
            for ch in params
                .first()
                .copied()
                .unwrap_or("")
                .split(',')
                .map(|c| c.trim_start_matches('#').to_ascii_lowercase())
                .filter(|c| !c.is_empty())
            {
                if shared.hold_joins.load(Ordering::SeqCst) {
                    shared
                        .held_joins
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((id, ch));
                } else {
                    out.push(answer_join(shared, conn, &nick, ch));
                }
            }
        }
        "PART" if conn.info.logged_in => {
            for ch in params
                .first()
                .copied()
                .unwrap_or("")
                .split(',')
                .map(|c| c.trim_start_matches('#').to_ascii_lowercase())
                .filter(|c| !c.is_empty())
            {
                conn.info.channels.remove(&ch);
                out.push(Out::Frame(format!(
                    ":{nick}!{nick}@{nick}.tmi.twitch.tv PART #{ch}\r\n"
                )));
            }
        }
        "PING" => {
            if shared.answer_pings.load(Ordering::SeqCst) {
                let reply = match params.first() {
                    Some(p) => format!(":tmi.twitch.tv PONG tmi.twitch.tv :{p}\r\n"),
                    None => "PONG :tmi.twitch.tv\r\n".to_string(),
                };
                out.push(Out::Frame(reply));
            }
        }
        "PONG" => {}
        "PRIVMSG" if conn.info.logged_in => {
            // Twitch answers every PRIVMSG of a logged-in user with USERSTATE; anonymous
            // (justinfan) messages are silently dropped.
            if !conn
                .info
                .nick
                .as_deref()
                .unwrap_or("")
                .starts_with("justinfan")
                && let Some(ch) = params.first()
            {
                let key = ch.trim_start_matches('#').to_ascii_lowercase();
                let text = params.get(1).copied().unwrap_or("");
                let rules = crate::mock_limits::Rules {
                    moderator: shared.is_moderator(&key),
                    slow_secs: shared.slow_secs(&key),
                };
                let verdict = shared
                    .lock_limits()
                    .entry(nick.clone())
                    .or_default()
                    .privmsg(at, &key, text, rules, shared.opts.enforce_rate_limits);
                if let Err(refusal) = verdict {
                    shared.violations.fetch_add(1, Ordering::SeqCst);
                    out.push(Out::Frame(format!(
                        "@msg-id={} :tmi.twitch.tv NOTICE {ch} :{}\r\n",
                        refusal.msg_id(),
                        refusal.text()
                    )));
                    return out;
                }
                let (badges, modtag, utype) = mod_tags(shared, &key);
                out.push(Out::Frame(format!(
                    "@badge-info=;{badges};color=;display-name={};emote-sets=0;id={};{modtag};subscriber=0;user-type={utype} :tmi.twitch.tv USERSTATE {ch}\r\n",
                    display_name(&nick),
                    fresh_msg_id()
                )));
            }
        }
        _ if !conn.info.logged_in => {}
        other => out.push(Out::Frame(format!(
            ":tmi.twitch.tv 421 {nick} {other} :Unknown command\r\n"
        ))),
    }
    out
}

/// The bot's `badges`, `mod` and `user-type` tags in `channel` (moderator or not).
fn mod_tags(shared: &Shared, channel: &str) -> (&'static str, &'static str, &'static str) {
    if shared.is_moderator(channel) {
        ("badges=moderator/1", "mod=1", "mod")
    } else {
        ("badges=", "mod=0", "")
    }
}

/// Completes the login once NICK (and PASS unless anonymous) were seen.
fn try_login(shared: &Shared, conn: &mut Conn, out: &mut Vec<Out>) {
    if conn.info.logged_in {
        return;
    }
    let Some(nick) = conn.info.nick.clone() else {
        return;
    };
    let anonymous = nick.starts_with("justinfan");
    if !anonymous {
        let Some(pass) = conn.pass.clone() else {
            return; // wait for PASS
        };
        let Some(token) = pass.strip_prefix("oauth:") else {
            out.push(Out::Frame(
                ":tmi.twitch.tv NOTICE * :Improperly formatted auth\r\n".to_string(),
            ));
            out.push(Out::Close(1000, String::new()));
            return;
        };
        let refused = shared
            .opts
            .token_check
            .as_ref()
            .is_some_and(|check| !check.accepts(token));
        if refused
            || shared
                .opts
                .bad_token
                .as_ref()
                .is_some_and(|bad| bad.trim_start_matches("oauth:") == token)
        {
            out.push(Out::Frame(
                ":tmi.twitch.tv NOTICE * :Login authentication failed\r\n".to_string(),
            ));
            out.push(Out::Close(1000, String::new()));
            return;
        }
    }
    conn.info.logged_in = true;
    let mut lines = vec![
        format!(":tmi.twitch.tv 001 {nick} :Welcome, GLHF!"),
        format!(":tmi.twitch.tv 002 {nick} :Your host is tmi.twitch.tv"),
        format!(":tmi.twitch.tv 003 {nick} :This server is rather new"),
        format!(":tmi.twitch.tv 004 {nick} :-"),
        format!(":tmi.twitch.tv 375 {nick} :-"),
        format!(":tmi.twitch.tv 372 {nick} :You are in a maze of twisty passages, all alike."),
        format!(":tmi.twitch.tv 376 {nick} :>"),
    ];
    if conn.caps.contains("twitch.tv/tags") && conn.caps.contains("twitch.tv/commands") {
        let uid = if anonymous {
            String::new()
        } else {
            shared.opts.bot_user_id.clone()
        };
        lines.push(format!(
            "@badge-info=;badges=;color=;display-name={};emote-sets=0;turbo=0;user-id={uid};user-type= :tmi.twitch.tv GLOBALUSERSTATE",
            display_name(&nick)
        ));
    }
    out.push(Out::Frame(frame_of(&lines)));
}
