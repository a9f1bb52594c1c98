//! A mock Twitch EventSub WebSocket server plus the Helix endpoints around it, for end-to-end tests.
//!
//! Both listen on `127.0.0.1` with TLS from a [`TestCa`] and follow Twitch's documented shapes (see
//! `twitch_bot::eventsub::wire` and `::helix` for the notes):
//!
//! - **WSS** `wss://localhost:PORT/ws?keepalive_timeout_seconds=N`: a `session_welcome` with a fresh session id
//!   and the keepalive clamped to [`MockEventSubOptions::keepalive_range`] (Twitch: 10..=600); a
//!   `session_keepalive` after every `N` seconds without a message (switchable); notifications for the
//!   session's enabled subscriptions; `session_reconnect` with a `reconnect_url` whose connection gets a
//!   welcome for the same session (subscriptions carry over; the old connection is closed with 4004 after
//!   [`MockEventSubOptions::reconnect_grace`]); revocations. It closes with 4003 when a session has no
//!   subscription within its welcome's keepalive seconds, and with 4001 when the client sends a message.
//!   A connection that ends disables its session's subscriptions (`websocket_disconnected`).
//! - **HTTPS** `https://localhost:PORT/helix`: `POST/GET/DELETE /eventsub/subscriptions`, `GET /users`,
//!   `POST /chat/messages`, checking `Authorization: Bearer` and `Client-Id` and answering errors as Helix
//!   does (`{"error","status","message"}`): 400 (bad body, session not connected), 401 (bad token), 403
//!   (the token lacks the type's scope), 409 (same type and condition exist), 429 (cost limit), plus scripted
//!   failures ([`MockEventSub::fail_next_subscription`], [`MockEventSub::drop_next_chat`]).
//!
//! Everything clients do is recorded; tests wait on it with [`MockEventSub::wait_until`].
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use e2e::mock_eventsub::{MockEventSub, MockEventSubOptions};
//! let mock = MockEventSub::start(MockEventSubOptions::default()).await.unwrap();
//! assert!(mock.ws_url().starts_with("wss://localhost:"));
//! assert!(mock.api_url().ends_with("/helix"));
//! # });
//! ```

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_tungstenite::tungstenite::Message;
use async_tungstenite::tungstenite::handshake::server::{Request, Response};
use async_tungstenite::tungstenite::protocol::CloseFrame;
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::tls::{TestCa, TestCaError};

/// Largest request body the Helix endpoints read.
const MAX_BODY: usize = 64 * 1024;

/// Errors of the mock and its waiting helpers.
#[derive(Debug, thiserror::Error)]
pub enum MockEventSubError {
    /// Binding failed.
    #[error("mock EventSub I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The test CA could not be made.
    #[error(transparent)]
    Tls(#[from] TestCaError),
    /// A wait gave up.
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(Duration, String),
    /// The connection is not open.
    #[error("connection {0} is not open")]
    NotOpen(u64),
}

/// How the mock behaves.
#[derive(Debug, Clone)]
pub struct MockEventSubOptions {
    /// The client id the Helix endpoints expect in `Client-Id`.
    pub client_id: String,
    /// The access token they expect in `Authorization: Bearer`.
    pub token: String,
    /// The token's user id.
    pub user_id: String,
    /// The token's login.
    pub user_login: String,
    /// The token's scopes.
    pub scopes: Vec<String>,
    /// Known users (`login`, `id`) for `GET /users`; the token's user is always known.
    pub users: Vec<(String, String)>,
    /// Keepalive seconds accepted (a request outside is clamped, as Twitch does); Twitch's is 10..=600.
    pub keepalive_range: (u64, u64),
    /// How long an old connection stays open after `session_reconnect` (Twitch: 30 s).
    pub reconnect_grace: Duration,
    /// Close with 4003 a session without a subscription after its welcome's keepalive seconds.
    pub enforce_subscribe_window: bool,
    /// `max_total_cost` (Twitch: 10 for a user's WebSocket subscriptions).
    pub max_total_cost: u64,
}

impl Default for MockEventSubOptions {
    fn default() -> Self {
        MockEventSubOptions {
            client_id: "mockclientid0123456789".to_string(),
            token: "mockaccesstoken0123456789".to_string(),
            user_id: "900001".to_string(),
            user_login: "mockbot".to_string(),
            scopes: vec!["user:read:chat".to_string(), "user:write:chat".to_string()],
            users: Vec::new(),
            keepalive_range: (10, 600),
            reconnect_grace: Duration::from_secs(30),
            enforce_subscribe_window: true,
            max_total_cost: 10,
        }
    }
}

/// A subscription the mock holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockSubscription {
    /// Its id.
    pub id: String,
    /// Its type.
    pub kind: String,
    /// Its version.
    pub version: String,
    /// Its condition.
    pub condition: BTreeMap<String, String>,
    /// The session it delivers to.
    pub session_id: String,
    /// `enabled`, `websocket_disconnected`, `authorization_revoked`, ...
    pub status: String,
    /// Its cost.
    pub cost: u64,
    /// When it was created (RFC 3339).
    pub created_at: String,
}

impl MockSubscription {
    fn to_json(&self) -> Value {
        json!({
            "id": self.id, "status": self.status, "type": self.kind, "version": self.version,
            "cost": self.cost, "condition": self.condition,
            "transport": {"method": "websocket", "session_id": self.session_id},
            "created_at": self.created_at,
        })
    }
}

/// One WebSocket connection, as the mock sees it.
#[derive(Debug, Clone)]
pub struct MockConn {
    /// Its number (1, 2, ... in accept order).
    pub id: u64,
    /// The request path and query.
    pub uri: String,
    /// Its session id.
    pub session_id: String,
    /// The keepalive seconds of its welcome.
    pub keepalive_secs: u64,
    /// Whether it is open.
    pub open: bool,
    /// How it ended: the close code sent or received (`None`: open, or ended without a close frame).
    pub close_code: Option<u16>,
    /// Whether the mock ended it.
    pub closed_by_server: bool,
    /// Text frames the mock sent on it, in order.
    pub sent: Vec<String>,
}

/// One Helix request.
#[derive(Debug, Clone)]
pub struct HelixRecord {
    /// The method.
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// The body (text).
    pub body: String,
    /// The status answered.
    pub status: u16,
    /// When the request arrived (the mock's clock: what Twitch's rate limits are kept against).
    pub at: std::time::Instant,
}

/// Everything the mock knows; read it with [`MockEventSub::state`] or wait on it with
/// [`MockEventSub::wait_until`].
#[derive(Debug, Default, Clone)]
pub struct MockState {
    /// Connections in accept order.
    pub conns: Vec<MockConn>,
    /// Every subscription ever created (revoked and disconnected ones keep their status).
    pub subscriptions: Vec<MockSubscription>,
    /// Every Helix request.
    pub requests: Vec<HelixRecord>,
    /// Chat messages sent through `POST /chat/messages` and accepted (`broadcaster_id`, `message`).
    pub chat: Vec<(String, String)>,
    /// The connection each session delivers to now.
    pub session_conn: HashMap<String, u64>,
    fail_next: HashMap<String, (u16, String)>,
    drop_next_chat: Option<(String, String)>,
}

impl MockState {
    /// The connection numbered `id`.
    pub fn conn(&self, id: u64) -> Option<&MockConn> {
        self.conns.iter().find(|c| c.id == id)
    }

    /// Enabled subscriptions.
    pub fn enabled(&self) -> impl Iterator<Item = &MockSubscription> {
        self.subscriptions.iter().filter(|s| s.status == "enabled")
    }

    /// Helix requests whose path starts with `prefix` (after `/helix`).
    pub fn requests_to(&self, method: &str, prefix: &str) -> Vec<&HelixRecord> {
        self.requests
            .iter()
            .filter(|r| r.method == method && r.uri.starts_with(&format!("/helix{prefix}")))
            .collect()
    }
}

enum Out {
    Frame(String),
    Close(u16, String),
    Drop,
}

struct Shared {
    opts: MockEventSubOptions,
    state: Mutex<MockState>,
    changed: watch::Sender<u64>,
    keepalives: AtomicBool,
    senders: Mutex<HashMap<u64, mpsc::Sender<Out>>>,
    next_conn: AtomicU64,
    next_id: AtomicU64,
    ws_port: u16,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, MockState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn senders(&self) -> MutexGuard<'_, HashMap<u64, mpsc::Sender<Out>>> {
        self.senders.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn bump(&self) {
        self.changed.send_modify(|n| *n += 1);
    }
    fn fresh_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!(
            "e5b0{:04x}-7a1c-4d2e-9f30-{n:012x}",
            std::process::id() & 0xffff
        )
    }
    fn metadata(&self, message_type: &str, sub: Option<&MockSubscription>) -> Value {
        let mut m = json!({
            "message_id": self.fresh_id(),
            "message_type": message_type,
            "message_timestamp": rfc3339(SystemTime::now()),
        });
        if let Some(sub) = sub {
            m["subscription_type"] = json!(sub.kind);
            m["subscription_version"] = json!(sub.version);
        }
        m
    }
    /// Queues a frame on `conn` and records it.
    fn send(&self, conn: u64, text: String) -> bool {
        let tx = self.senders().get(&conn).cloned();
        let Some(tx) = tx else { return false };
        if tx.try_send(Out::Frame(text.clone())).is_err() {
            return false;
        }
        if let Some(c) = self.lock().conns.iter_mut().find(|c| c.id == conn) {
            c.sent.push(text);
        }
        self.bump();
        true
    }
}

/// The running mock. Dropping it stops both listeners and drops every connection.
pub struct MockEventSub {
    shared: Arc<Shared>,
    ws_addr: SocketAddr,
    api_addr: SocketAddr,
    ca: TestCa,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for MockEventSub {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        for tx in self.shared.senders().values() {
            let _ = tx.try_send(Out::Drop);
        }
    }
}

impl std::fmt::Debug for MockEventSub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockEventSub")
            .field("ws", &self.ws_addr)
            .field("api", &self.api_addr)
            .finish()
    }
}

impl MockEventSub {
    /// Starts both listeners on `127.0.0.1:0` with a fresh test CA. Needs a tokio runtime.
    pub async fn start(opts: MockEventSubOptions) -> Result<Self, MockEventSubError> {
        let ca = TestCa::generate()?;
        let acceptor = ca.acceptor()?;
        let ws_listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let api_listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let (ws_addr, api_addr) = (ws_listener.local_addr()?, api_listener.local_addr()?);
        let (changed, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            opts,
            state: Mutex::new(MockState::default()),
            changed,
            keepalives: AtomicBool::new(true),
            senders: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            next_id: AtomicU64::new(1),
            ws_port: ws_addr.port(),
        });
        let (s, acc) = (shared.clone(), acceptor.clone());
        let ws_task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = ws_listener.accept().await else {
                    continue;
                };
                let (s, acc) = (s.clone(), acc.clone());
                tokio::spawn(async move {
                    if let Ok(tls) = acc.accept(tcp).await {
                        serve_ws(s, tls).await;
                    }
                });
            }
        });
        let s = shared.clone();
        let api_task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = api_listener.accept().await else {
                    continue;
                };
                let (s, acc) = (s.clone(), acceptor.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acc.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |req| {
                        let s = s.clone();
                        async move { Ok::<_, std::convert::Infallible>(helix(s, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Ok(MockEventSub {
            shared,
            ws_addr,
            api_addr,
            ca,
            tasks: vec![ws_task, api_task],
        })
    }

    /// The bot's `eventsub_url`: `wss://localhost:PORT/ws`.
    pub fn ws_url(&self) -> String {
        format!("wss://localhost:{}/ws", self.ws_addr.port())
    }

    /// The bot's `api_url`: `https://localhost:PORT/helix`.
    pub fn api_url(&self) -> String {
        format!("https://localhost:{}/helix", self.api_addr.port())
    }

    /// The test CA file to trust.
    pub fn ca_file(&self) -> PathBuf {
        self.ca.ca_file()
    }

    /// The test CA.
    pub fn test_ca(&self) -> &TestCa {
        &self.ca
    }

    /// The options.
    pub fn options(&self) -> &MockEventSubOptions {
        &self.shared.opts
    }

    /// A snapshot of everything.
    pub fn state(&self) -> MockState {
        self.shared.lock().clone()
    }

    /// Turns the keepalive messages on or off (off: a client should declare the connection dead).
    pub fn set_keepalives(&self, on: bool) {
        self.shared.keepalives.store(on, Ordering::SeqCst);
        self.shared.bump();
    }

    /// The next `POST /eventsub/subscriptions` for `kind` is answered with `status` and `message`.
    pub fn fail_next_subscription(&self, kind: &str, status: u16, message: &str) {
        self.shared
            .lock()
            .fail_next
            .insert(kind.to_string(), (status, message.to_string()));
    }

    /// The next `POST /chat/messages` is answered `is_sent: false` with this `drop_reason`.
    pub fn drop_next_chat(&self, code: &str, message: &str) {
        self.shared.lock().drop_next_chat = Some((code.to_string(), message.to_string()));
    }

    /// Waits until `pred` holds for the state (checked at once and after every change).
    pub async fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&MockState) -> bool,
    ) -> Result<MockState, MockEventSubError> {
        let mut rx = self.shared.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            rx.borrow_and_update();
            {
                let state = self.shared.lock();
                if pred(&state) {
                    return Ok(state.clone());
                }
            }
            if tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_err()
            {
                return Err(MockEventSubError::Timeout(timeout, what.to_string()));
            }
        }
    }

    /// Sends a notification of `kind` with `event` to every session with an enabled subscription of that
    /// type for `event.broadcaster_user_id`; returns `(connection, frame)` for each (resend a frame with
    /// [`MockEventSub::send_raw`] to simulate Twitch's at-least-once delivery).
    pub fn notify(&self, kind: &str, event: Value) -> Vec<(u64, String)> {
        let broadcaster = event["broadcaster_user_id"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let targets: Vec<(MockSubscription, u64)> = {
            let state = self.shared.lock();
            state
                .enabled()
                .filter(|s| {
                    s.kind == kind
                        && s.condition.get("broadcaster_user_id").map(String::as_str)
                            == Some(&broadcaster)
                })
                .filter_map(|s| {
                    state
                        .session_conn
                        .get(&s.session_id)
                        .map(|c| (s.clone(), *c))
                })
                .collect()
        };
        let mut sent = Vec::new();
        for (sub, conn) in targets {
            let frame = json!({
                "metadata": self.shared.metadata("notification", Some(&sub)),
                "payload": {"subscription": sub.to_json(), "event": event},
            })
            .to_string();
            if self.shared.send(conn, frame.clone()) {
                sent.push((conn, frame));
            }
        }
        sent
    }

    /// Sends `text` as it is on connection `conn`.
    pub fn send_raw(&self, conn: u64, text: &str) -> Result<(), MockEventSubError> {
        if self.shared.send(conn, text.to_string()) {
            Ok(())
        } else {
            Err(MockEventSubError::NotOpen(conn))
        }
    }

    /// Sends `session_reconnect` on `conn`; its `reconnect_url` opens a connection for the same session.
    pub fn send_reconnect(&self, conn: u64) -> Result<String, MockEventSubError> {
        let (session_id, connected_at) = {
            let state = self.shared.lock();
            let c = state
                .conn(conn)
                .filter(|c| c.open)
                .ok_or(MockEventSubError::NotOpen(conn))?;
            (c.session_id.clone(), rfc3339(SystemTime::now()))
        };
        let url = format!(
            "wss://localhost:{}/ws?reconnect={session_id}",
            self.shared.ws_port
        );
        let frame = json!({
            "metadata": self.shared.metadata("session_reconnect", None),
            "payload": {"session": {"id": session_id, "status": "reconnecting",
                "keepalive_timeout_seconds": null, "reconnect_url": url, "connected_at": connected_at}},
        })
        .to_string();
        self.send_raw(conn, &frame)?;
        let (shared, grace) = (self.shared.clone(), self.shared.opts.reconnect_grace);
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            let tx = shared.senders().get(&conn).cloned();
            if let Some(tx) = tx {
                let _ = tx
                    .send(Out::Close(4004, "reconnect grace time expired".into()))
                    .await;
            }
        });
        Ok(url)
    }

    /// Revokes every enabled subscription of `kind` with `status` (`authorization_revoked`, `user_removed`,
    /// `version_removed`, ...) and sends the revocation messages; returns how many were revoked.
    pub fn revoke(&self, kind: &str, status: &str) -> usize {
        let revoked: Vec<(MockSubscription, Option<u64>)> = {
            let mut state = self.shared.lock();
            let mut out = Vec::new();
            let conns = state.session_conn.clone();
            for s in state.subscriptions.iter_mut() {
                if s.kind == kind && s.status == "enabled" {
                    s.status = status.to_string();
                    out.push((s.clone(), conns.get(&s.session_id).copied()));
                }
            }
            out
        };
        for (sub, conn) in &revoked {
            if let Some(conn) = conn {
                let frame = json!({
                    "metadata": self.shared.metadata("revocation", Some(sub)),
                    "payload": {"subscription": sub.to_json()},
                })
                .to_string();
                self.shared.send(*conn, frame);
            }
        }
        revoked.len()
    }

    /// Closes connection `conn` with a close frame.
    pub fn close(&self, conn: u64, code: u16, reason: &str) {
        if let Some(tx) = self.shared.senders().get(&conn) {
            let _ = tx.try_send(Out::Close(code, reason.to_string()));
        }
    }

    /// Drops connection `conn` without a close frame.
    pub fn drop_conn(&self, conn: u64) {
        if let Some(tx) = self.shared.senders().get(&conn) {
            let _ = tx.try_send(Out::Drop);
        }
    }
}

/// A `channel.chat.message` event as Twitch sends it, with a fresh `message_id`.
pub fn chat_event(
    broadcaster: (&str, &str),
    chatter: (&str, &str),
    text: &str,
    message_id: &str,
) -> Value {
    json!({
        "broadcaster_user_id": broadcaster.0, "broadcaster_user_login": broadcaster.1,
        "broadcaster_user_name": broadcaster.1,
        "chatter_user_id": chatter.0, "chatter_user_login": chatter.1, "chatter_user_name": chatter.1,
        "message_id": message_id,
        "message": {"text": text, "fragments": [
            {"type": "text", "text": text, "cheermote": null, "emote": null, "mention": null}]},
        "color": "#00FF7F", "badges": [], "message_type": "text", "cheer": null, "reply": null,
        "channel_points_custom_reward_id": null, "source_broadcaster_user_id": null,
        "source_broadcaster_user_login": null, "source_broadcaster_user_name": null,
        "source_message_id": null, "source_badges": null,
    })
}

/// Unix-epoch RFC 3339 with nanoseconds, as Twitch writes timestamps.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_nanos()
    )
}

fn query_param(uri: &str, key: &str) -> Option<String> {
    let query = uri.split_once('?')?.1;
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| v.to_string())
    })
}

// The handshake callback's error type is tungstenite's (an HTTP response), not ours to shrink.
#[allow(clippy::result_large_err)]
async fn serve_ws<S>(shared: Arc<Shared>, stream: S)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let uri = Arc::new(Mutex::new(String::new()));
    let u2 = uri.clone();
    let callback = move |req: &Request, resp: Response| {
        *u2.lock().unwrap_or_else(|p| p.into_inner()) = req.uri().to_string();
        Ok(resp)
    };
    let Ok(ws) = async_tungstenite::tokio::accept_hdr_async(stream, callback).await else {
        return;
    };
    let uri = uri.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let (lo, hi) = shared.opts.keepalive_range;
    let keepalive = query_param(&uri, "keepalive_timeout_seconds")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(10)
        .clamp(lo, hi);
    let id = shared.next_conn.fetch_add(1, Ordering::SeqCst);
    let reconnect_of = query_param(&uri, "reconnect");
    let session_id = match &reconnect_of {
        Some(s) if shared.lock().session_conn.contains_key(s) => s.clone(),
        _ => format!("AgoQmock{id:08}"),
    };
    let (tx, mut rx) = mpsc::channel::<Out>(1024);
    shared.senders().insert(id, tx);
    {
        let mut state = shared.lock();
        state.conns.push(MockConn {
            id,
            uri: uri.clone(),
            session_id: session_id.clone(),
            keepalive_secs: keepalive,
            open: true,
            close_code: None,
            closed_by_server: false,
            sent: Vec::new(),
        });
        // A reconnect's connection takes over its session's deliveries once welcomed (now).
        state.session_conn.insert(session_id.clone(), id);
    }
    let welcome = json!({
        "metadata": shared.metadata("session_welcome", None),
        "payload": {"session": {"id": session_id, "status": "connected",
            "connected_at": rfc3339(SystemTime::now()), "keepalive_timeout_seconds": keepalive,
            "reconnect_url": null}},
    })
    .to_string();
    let (mut sink, mut stream) = ws.split();
    let welcomed = sink.send(Message::text(welcome.clone())).await.is_ok();
    if let Some(c) = shared.lock().conns.iter_mut().find(|c| c.id == id) {
        c.sent.push(welcome);
    }
    shared.bump();
    let period = Duration::from_secs(keepalive);
    let window_end = tokio::time::Instant::now() + period;
    let mut window_checked = reconnect_of.is_some() || !shared.opts.enforce_subscribe_window;
    let mut last_sent = tokio::time::Instant::now();
    let ended: (Option<u16>, bool) = if !welcomed {
        (None, false)
    } else {
        loop {
            let keepalive_at = last_sent + period;
            let wake = if window_checked {
                keepalive_at
            } else {
                keepalive_at.min(window_end)
            };
            tokio::select! {
                out = rx.recv() => match out {
                    Some(Out::Frame(text)) => {
                        if sink.send(Message::text(text)).await.is_err() {
                            break (None, false);
                        }
                        last_sent = tokio::time::Instant::now();
                    }
                    Some(Out::Close(code, reason)) => {
                        let _ = sink.send(Message::Close(Some(CloseFrame { code: CloseCode::from(code), reason: reason.into() }))).await;
                        break (Some(code), true);
                    }
                    Some(Out::Drop) | None => {
                        break (None, true);
                    }
                },
                msg = stream.next() => match msg {
                    Some(Ok(Message::Text(_) | Message::Binary(_))) => {
                        // Twitch: "client sent inbound traffic".
                        let _ = sink.send(Message::Close(Some(CloseFrame { code: CloseCode::from(4001), reason: "client sent inbound traffic".into() }))).await;
                        break (Some(4001), true);
                    }
                    Some(Ok(Message::Close(frame))) => {
                        let _ = sink.send(Message::Close(frame.clone())).await;
                        break (frame.map(|f| u16::from(f.code)), false);
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => {
                        break (None, false);
                    }
                },
                _ = tokio::time::sleep_until(wake) => {
                    if !window_checked && tokio::time::Instant::now() >= window_end {
                        window_checked = true;
                        let subscribed = shared.lock().subscriptions.iter().any(|s| s.session_id == session_id);
                        if !subscribed {
                            let _ = sink.send(Message::Close(Some(CloseFrame { code: CloseCode::from(4003), reason: "connection unused".into() }))).await;
                            break (Some(4003), true);
                        }
                    } else if tokio::time::Instant::now() >= keepalive_at {
                        if shared.keepalives.load(Ordering::SeqCst) {
                            let frame = json!({"metadata": shared.metadata("session_keepalive", None), "payload": {}}).to_string();
                            if sink.send(Message::text(frame.clone())).await.is_err() {
                                break (None, false);
                            }
                            if let Some(c) = shared.lock().conns.iter_mut().find(|c| c.id == id) {
                                c.sent.push(frame);
                            }
                            shared.bump();
                        }
                        last_sent = tokio::time::Instant::now();
                    }
                }
            }
        }
    };
    shared.senders().remove(&id);
    {
        let mut state = shared.lock();
        if let Some(c) = state.conns.iter_mut().find(|c| c.id == id) {
            c.open = false;
            c.close_code = ended.0;
            c.closed_by_server = ended.1;
        }
        // A session whose delivering connection ends loses its subscriptions.
        if state.session_conn.get(&session_id) == Some(&id) {
            state.session_conn.remove(&session_id);
            for s in state.subscriptions.iter_mut() {
                if s.session_id == session_id && s.status == "enabled" {
                    s.status = "websocket_disconnected".to_string();
                }
            }
        }
    }
    shared.bump();
}

fn answer(status: u16, body: Value) -> hyper::Response<Full<Bytes>> {
    let mut resp = hyper::Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}

fn error(status: u16, message: &str) -> (u16, Value) {
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    (
        status,
        json!({"error": reason, "status": status, "message": message}),
    )
}

fn required_scope(kind: &str) -> Option<&'static str> {
    match kind {
        "channel.chat.message"
        | "channel.chat.message_delete"
        | "channel.chat.clear_user_messages"
        | "channel.chat.clear" => Some("user:read:chat"),
        "channel.channel_points_custom_reward_redemption.add" => Some("channel:read:redemptions"),
        "channel.cheer" => Some("bits:read"),
        _ => None,
    }
}

async fn helix(shared: Arc<Shared>, req: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
    let at = std::time::Instant::now();
    let method = req.method().clone();
    let uri = req.uri().to_string();
    let authorized = {
        let h = req.headers();
        let bearer = h
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let client = h.get("client-id").and_then(|v| v.to_str().ok());
        (
            bearer == Some(shared.opts.token.as_str()),
            client == Some(shared.opts.client_id.as_str()),
        )
    };
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let body_text = String::from_utf8_lossy(&body).into_owned();
    let path = uri.split('?').next().unwrap_or("").to_string();
    let (status, value) = match authorized {
        (false, _) => error(401, "Invalid OAuth token"),
        (true, false) => error(401, "Client ID and OAuth token do not match"),
        (true, true) => route(&shared, &method, &path, &uri, &body),
    };
    shared.lock().requests.push(HelixRecord {
        method: method.to_string(),
        uri,
        body: body_text,
        status,
        at,
    });
    shared.bump();
    if status == 204 {
        let mut resp = hyper::Response::new(Full::new(Bytes::new()));
        *resp.status_mut() = StatusCode::NO_CONTENT;
        return resp;
    }
    answer(status, value)
}

fn route(shared: &Shared, method: &Method, path: &str, uri: &str, body: &[u8]) -> (u16, Value) {
    match (method, path) {
        (&Method::POST, "/helix/eventsub/subscriptions") => create_subscription(shared, body),
        (&Method::GET, "/helix/eventsub/subscriptions") => {
            let state = shared.lock();
            let data: Vec<Value> = state
                .subscriptions
                .iter()
                .filter(|s| s.status == "enabled")
                .map(MockSubscription::to_json)
                .collect();
            let total_cost: u64 = state.enabled().map(|s| s.cost).sum();
            (
                200,
                json!({"data": data, "total": data.len(), "total_cost": total_cost,
                    "max_total_cost": shared.opts.max_total_cost, "pagination": {}}),
            )
        }
        (&Method::DELETE, "/helix/eventsub/subscriptions") => {
            let Some(id) = query_param(uri, "id") else {
                return error(400, "Missing required parameter \"id\"");
            };
            let mut state = shared.lock();
            let before = state.subscriptions.len();
            state.subscriptions.retain(|s| s.id != id);
            if state.subscriptions.len() < before {
                (204, Value::Null)
            } else {
                error(404, "subscription not found")
            }
        }
        (&Method::GET, "/helix/users") => {
            let query = uri.split_once('?').map_or("", |q| q.1);
            let logins: Vec<String> = query
                .split('&')
                .filter_map(|kv| kv.strip_prefix("login="))
                .map(str::to_ascii_lowercase)
                .collect();
            if logins.len() > 100 {
                return error(
                    400,
                    "The number of login and id query parameters exceeds 100",
                );
            }
            let me = (shared.opts.user_login.clone(), shared.opts.user_id.clone());
            let known: Vec<&(String, String)> = std::iter::once(&me)
                .chain(shared.opts.users.iter())
                .collect();
            let data: Vec<Value> = if logins.is_empty() {
                vec![user_json(&me)]
            } else {
                logins
                    .iter()
                    .filter_map(|l| known.iter().find(|(login, _)| login == l))
                    .map(|u| user_json(u))
                    .collect()
            };
            (200, json!({ "data": data }))
        }
        (&Method::POST, "/helix/chat/messages") => {
            let Ok(v) = serde_json::from_slice::<Value>(body) else {
                return error(400, "The request body is not valid JSON");
            };
            let (Some(b), Some(sender), Some(message)) = (
                v["broadcaster_id"].as_str(),
                v["sender_id"].as_str(),
                v["message"].as_str(),
            ) else {
                return error(400, "Missing required parameter");
            };
            if sender != shared.opts.user_id {
                return error(403, "The sender must be the user in the access token");
            }
            if !shared.opts.scopes.iter().any(|s| s == "user:write:chat") {
                return error(401, "Missing scope: user:write:chat");
            }
            if message.chars().count() > 500 {
                return error(422, "The message is too large");
            }
            let mut state = shared.lock();
            if let Some((code, text)) = state.drop_next_chat.take() {
                return (
                    200,
                    json!({"data": [{"message_id": "", "is_sent": false,
                        "drop_reason": {"code": code, "message": text}}]}),
                );
            }
            state.chat.push((b.to_string(), message.to_string()));
            let id = shared.fresh_id();
            (
                200,
                json!({"data": [{"message_id": id, "is_sent": true, "drop_reason": null}]}),
            )
        }
        _ => error(404, "Not Found"),
    }
}

fn user_json((login, id): &(String, String)) -> Value {
    json!({"id": id, "login": login, "display_name": login, "type": "", "broadcaster_type": "",
        "description": "", "profile_image_url": "", "offline_image_url": "", "view_count": 0,
        "created_at": "2016-12-14T20:32:28Z"})
}

fn create_subscription(shared: &Shared, body: &[u8]) -> (u16, Value) {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return error(400, "The request body is not valid JSON");
    };
    let (Some(kind), Some(version), Some(condition), Some(method)) = (
        v["type"].as_str(),
        v["version"].as_str(),
        v["condition"].as_object(),
        v["transport"]["method"].as_str(),
    ) else {
        return error(
            400,
            "The type, version, condition and transport fields are required",
        );
    };
    let condition: BTreeMap<String, String> = condition
        .iter()
        .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
        .collect();
    if method != "websocket" {
        return error(400, "The transport method is not supported by this mock");
    }
    let Some(session_id) = v["transport"]["session_id"].as_str() else {
        return error(400, "The transport's session_id field is required");
    };
    let Some(scope) = required_scope(kind) else {
        return error(400, "The subscription type is not supported");
    };
    if version != "1" {
        return error(
            400,
            "The version is not supported for this subscription type",
        );
    }
    let mut state = shared.lock();
    if let Some((status, message)) = state.fail_next.remove(kind) {
        return error(status, &message);
    }
    if !state.session_conn.contains_key(session_id) {
        return error(
            400,
            "websocket transport session does not exist or has already disconnected",
        );
    }
    if !shared.opts.scopes.iter().any(|s| s == scope) {
        return error(403, "subscription missing proper authorization");
    }
    let me = &shared.opts.user_id;
    let broadcaster = condition.get("broadcaster_user_id");
    if kind.starts_with("channel.chat.") && condition.get("user_id") != Some(me) {
        return error(
            403,
            "The user_id in the condition must match the user in the access token",
        );
    }
    if !kind.starts_with("channel.chat.") && broadcaster != Some(me) {
        return error(403, "subscription missing proper authorization");
    }
    if state
        .enabled()
        .any(|s| s.kind == kind && s.condition == condition)
    {
        return error(409, "subscription already exists");
    }
    let on_session = state
        .enabled()
        .filter(|s| s.session_id == session_id)
        .count();
    if on_session >= 300 {
        return error(
            429,
            "The session already has the maximum number of enabled subscriptions",
        );
    }
    let cost = u64::from(condition.get("user_id") != Some(me) && broadcaster != Some(me));
    let total_cost: u64 = state.enabled().map(|s| s.cost).sum::<u64>() + cost;
    if total_cost > shared.opts.max_total_cost {
        return error(429, "The request exceeds the total cost limit");
    }
    let sub = MockSubscription {
        id: shared.fresh_id(),
        kind: kind.to_string(),
        version: version.to_string(),
        condition,
        session_id: session_id.to_string(),
        status: "enabled".to_string(),
        cost,
        created_at: rfc3339(SystemTime::now()),
    };
    let data = sub.to_json();
    state.subscriptions.push(sub);
    let total = state.enabled().count();
    (
        202,
        json!({"data": [data], "total": total, "total_cost": total_cost,
            "max_total_cost": shared.opts.max_total_cost}),
    )
}
