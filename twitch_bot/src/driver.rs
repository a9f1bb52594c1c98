//! The driver: sockets, timers and the one task that moves data between them, the sans-IO
//! [`Session`] and the ChatPlay [`Engine`].
//!
//! ```text
//!  websockets reader task ──OnMessage(&str)──► bounded frame channel ──► Session::handle_frame
//!                                                                            │ poll_event
//!  game (stdin / Bot) ──► request channel ──► driver ◄───────────────────────┘
//!                                               │ Engine::handle_* / poll_event
//!  Session::poll_transmit ──► WebsocketClient::send_text          Outbox ──► stdout / Bot::try_recv
//! ```
//!
//! The driver is one task on the bot's [`runtime`] (one worker thread). The socket is connected with
//! [`websockets::create_client_with`] and its `OnMessage` handler, called via `spawn_blocking` since it blocks
//! until the handshake is done; the `websockets` crate then runs the connection's reader and writer tasks on
//! the same runtime, so a frame goes from the handler to the driver without crossing threads.
//!
//! **Staying up.** Any close, error, missed PONG or server `RECONNECT` ends the link; the driver waits a
//! [`crate::backoff`] delay (a `reconnecting` event says how long), connects again, logs in and re-joins every
//! channel. The session and the engine live for the whole run, so an open round keeps its ballots across a
//! reconnect, and lines the server replays are recognised by their message `id` and counted once.
//!
//! **Back-pressure.** The frame channel holds [`FRAME_QUEUE`] frames of at most [`MAX_FRAME`] bytes. When
//! the driver falls behind, the `OnMessage` handler waits (on the socket's reader task), so the socket is
//! not read and TCP slows the server down: memory stays bounded and no chat line is dropped. The driver
//! itself stops taking frames while the [`Outbox`] backlog is full (see [`crate::outbox`]).

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::backoff::Backoff;
use crate::bot::{BotError, ConnectionState, Request};
use crate::chatplay::{self, Engine};
use crate::config::{Config, Token};
use crate::events::{Control, Event, Tally};
use crate::outbox::Outbox;
use crate::session::{self, Session};

/// Frames buffered between the socket's reader task and the driver.
pub const FRAME_QUEUE: usize = 64;
/// Largest WebSocket message accepted from the server (Twitch frames are a few KiB).
pub const MAX_FRAME: usize = 128 * 1024;
/// How long shutdown waits for a stalled event reader to take the last events.
const DRAIN_WAIT: Duration = Duration::from_secs(10);
/// How long shutdown waits for the server to acknowledge the close.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// Worker threads of the bot's runtime.
///
/// One worker runs the driver task together with the socket's reader and writer tasks (the `websockets`
/// crate runs a connection on the runtime that calls `create_client`), so handing a frame from the
/// `OnMessage` handler to the driver is a task wake-up on the same thread, not a cross-thread wake-up.
pub const RUNTIME_WORKERS: usize = 1;

/// Builds the runtime [`run`] expects: multi-threaded (so `websockets::create_client_with` runs the
/// connection on it) with [`RUNTIME_WORKERS`] worker(s) and a small blocking pool (for connecting).
/// Spawn [`run`] on it with `tokio::spawn` so it shares the worker with the socket's tasks. The environment
/// variable `TWITCH_BOT_WORKERS` overrides the worker count (a tuning knob; 1 measured as good as 2 on a
/// 2-core machine, with less memory).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let workers = std::env::var("TWITCH_BOT_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(RUNTIME_WORKERS);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .max_blocking_threads(2)
        .thread_name("twitch_bot-rt")
        .enable_all()
        .build()
}

/// What the driver needs: the validated config and the token (read from the environment by the caller).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The configuration.
    pub config: Config,
    /// The OAuth token; `None` for anonymous.
    pub token: Option<Token>,
    /// Where to send the engine's keyword table once it exists (for [`crate::bot::Bot::keywords`]).
    pub keywords_to: Option<std::sync::mpsc::SyncSender<chatplay::Keywords>>,
}

/// What the socket's handlers pass to the driver.
#[derive(Debug)]
enum Incoming {
    Frame(String),
    Closed { code: u16, reason: String },
    Error(String),
}

/// An open WebSocket and the channel its handlers feed.
struct Link {
    client: websockets::WebsocketClient,
    incoming: mpsc::Receiver<Incoming>,
}

/// Hands an item from a socket handler to the driver, waiting for room when the driver is behind.
fn deliver(tx: &mpsc::Sender<Incoming>, item: Incoming) {
    match tx.try_send(item) {
        Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
        Err(mpsc::error::TrySendError::Full(item)) => match tokio::runtime::Handle::try_current() {
            // The websockets runtime is multi-threaded: wait here, off the runtime's scheduler.
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                let _ = tokio::task::block_in_place(|| tx.blocking_send(item));
            }
            Ok(_) => warn!("frame queue full on a current-thread runtime; a frame was dropped"),
            Err(_) => {
                let _ = tx.blocking_send(item);
            }
        },
    }
}

/// Connects with `websockets::create_client_with` (blocking until the handshake; run on the blocking pool).
fn spawn_connect(
    url: String,
    ca_file: Option<std::path::PathBuf>,
) -> JoinHandle<Result<Link, websockets::Error>> {
    tokio::task::spawn_blocking(move || {
        let (tx, incoming) = mpsc::channel(FRAME_QUEUE);
        let (tx_close, tx_error) = (tx.clone(), tx.clone());
        let mut options = websockets::ClientOptions::new()
            .max_message_size(MAX_FRAME)
            .on_close(move |code, reason| {
                deliver(
                    &tx_close,
                    Incoming::Closed {
                        code,
                        reason: reason.to_owned(),
                    },
                )
            })
            .on_error(move |e| deliver(&tx_error, Incoming::Error(e.to_string())));
        if let Some(ca) = ca_file {
            options = options.add_ca_pem_file(ca);
        }
        let kind = if url.starts_with("wss://") {
            websockets::WebsocketType::Secure
        } else {
            websockets::WebsocketType::NonSecure
        };
        let on_message = move |frame: &str| deliver(&tx, Incoming::Frame(frame.to_owned()));
        let client = websockets::create_client_with(&url, on_message, kind, options)?;
        Ok(Link { client, incoming })
    })
}

/// The driver's state besides the link.
struct Core {
    settings: Settings,
    session: Session,
    engine: Engine,
    outbox: Outbox,
    state: watch::Sender<ConnectionState>,
    backoff: Backoff,
    /// Set when the server rejected the login: the run ends with this error.
    fatal: Option<BotError>,
    /// The link must be dropped (server RECONNECT, missed PONG): the reason.
    drop_link: Option<String>,
    /// Channels confirmed joined (for the parts at shutdown).
    joined: Vec<String>,
    /// Whether auto-start votes were started (on the first join).
    auto_started: bool,
}

/// Runs the bot until a [`Request::Shutdown`] (or the request channel closing) or a fatal error.
///
/// Returns `Err(BotError::AuthFailed)` when the server rejects the login.
pub async fn run(
    settings: Settings,
    mut requests: mpsc::Receiver<Request>,
    outbox: Outbox,
    state: watch::Sender<ConnectionState>,
) -> Result<(), BotError> {
    let mut settings = settings;
    let session = Session::new(session_config(&settings));
    let engine = Engine::new(settings.config.engine_config(session.nick()))
        .map_err(|e| BotError::Config(e.to_string()))?;
    if let Some(to) = settings.keywords_to.take() {
        let _ = to.send(engine.keywords().clone());
    }
    let mut core = Core {
        session,
        engine,
        outbox,
        state,
        backoff: Backoff::new(),
        fatal: None,
        drop_link: None,
        joined: Vec::new(),
        auto_started: false,
        settings,
    };
    // The link: at most one of `retry_at` (waiting to connect), `connecting`, `up` is set.
    let mut retry_at: Option<Instant> = Some(Instant::now());
    let mut connecting: Option<JoinHandle<Result<Link, websockets::Error>>> = None;
    let mut up: Option<Link> = None;

    loop {
        let now = Instant::now();
        // Timers: the session's (PING, login, joins, rate limits), the engine's (round ends) and the retry.
        let deadline = [
            core.session.poll_timeout(),
            core.engine.poll_timeout(),
            retry_at,
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(now + Duration::from_secs(3600));
        let take_frames = up.is_some() && !core.outbox.is_backlogged();

        tokio::select! {
            biased;
            r = requests.recv() => match r {
                Some(Request::Shutdown) | None => break,
                Some(Request::InputClosed) => debug!("control input closed"),
                Some(Request::BadControl(e)) => core.outbox.emit(Event::error("bad_control", e.to_string())),
                Some(Request::Control(c)) => core.handle_control(c, Instant::now()),
            },
            () = core.outbox.room(), if core.outbox.is_pending() => core.outbox.flush(),
            res = async { connecting.as_mut().expect("guarded").await }, if connecting.is_some() => {
                connecting = None;
                let now = Instant::now();
                match res {
                    Ok(Ok(l)) => {
                        info!(server = %core.settings.config.connection.server, "WebSocket open; logging in");
                        core.session.handle_connected(now);
                        up = Some(l);
                    }
                    Ok(Err(e)) => retry_at = Some(core.link_lost(format!("connect failed: {e}"), now)),
                    Err(e) => retry_at = Some(core.link_lost(format!("connect task failed: {e}"), now)),
                }
            }
            inc = async { up.as_mut().expect("guarded").incoming.recv().await }, if take_frames => {
                let now = Instant::now();
                match inc {
                    Some(Incoming::Frame(f)) => core.session.handle_frame(&f, now),
                    Some(Incoming::Closed { code, reason }) => {
                        let sep = if reason.is_empty() { "" } else { " " };
                        core.drop_link = Some(format!("closed by the server ({code}{sep}{reason})"));
                    }
                    Some(Incoming::Error(e)) => core.drop_link = Some(format!("connection error: {e}")),
                    None => core.drop_link = Some("connection ended".to_owned()),
                }
            }
            () = tokio::time::sleep_until(deadline.into()) => {
                let now = Instant::now();
                if core.session.poll_timeout().is_some_and(|t| t <= now) {
                    core.session.handle_timeout(now);
                }
                // Only when due: the engine's first handle_timeout would open the auto rounds, which must wait
                // for the first join.
                if core.engine.poll_timeout().is_some_and(|t| t <= now) {
                    core.engine.handle_timeout(now);
                }
                if retry_at.is_some_and(|t| t <= now) {
                    retry_at = None;
                    core.set_state(if core.backoff.attempt() == 0 {
                        ConnectionState::Connecting
                    } else {
                        ConnectionState::Reconnecting
                    });
                    connecting = Some(spawn_connect(
                        core.settings.config.connection.server.clone(),
                        core.settings.config.connection.ca_file.clone(),
                    ));
                }
            }
        }

        // Move everything the state machines produced.
        core.pump(up.as_mut(), Instant::now());
        if let Some(reason) = core.drop_link.take()
            && let Some(l) = up.take()
        {
            let _ = l.client.close(1000, "");
            retry_at = Some(core.link_lost(reason, Instant::now()));
        }
        if core.fatal.is_some() {
            break;
        }
    }

    core.shutdown(up, connecting).await
}

fn session_config(settings: &Settings) -> session::SessionConfig {
    let connection = &settings.config.connection;
    let mut c = match (&connection.nick, &settings.token) {
        (Some(nick), token) => session::SessionConfig::new(
            nick.clone(),
            token.as_ref().map(|t| session::Secret::new(t.secret())),
        ),
        (None, _) => session::SessionConfig::anonymous(),
    };
    c.channels = connection.channels.clone();
    c.ping_after_idle = connection.ping_idle;
    c.pong_timeout = connection.pong_timeout;
    c
}

impl Core {
    fn set_state(&self, s: ConnectionState) {
        self.state.send_if_modified(|old| {
            let changed = *old != s;
            *old = s;
            changed
        });
    }

    /// The link is gone: tell the session, emit `disconnected` + `reconnecting`, schedule the retry.
    fn link_lost(&mut self, reason: String, now: Instant) -> Instant {
        warn!(%reason, "disconnected");
        self.session.handle_disconnected(now);
        self.pump_session_only(now);
        self.joined.clear();
        self.outbox.emit(Event::Disconnected {
            reason: reason.clone(),
        });
        let (attempt, delay) = self.backoff.handle_disconnected(now, rand::random::<f64>());
        info!(attempt, delay_ms = delay.as_millis() as u64, "reconnecting");
        self.outbox.emit(Event::Reconnecting {
            attempt,
            delay_ms: delay.as_millis() as u64,
            reason,
        });
        self.set_state(ConnectionState::Reconnecting);
        now + delay
    }

    fn handle_control(&mut self, c: Control, now: Instant) {
        match c {
            Control::StartVote { vote } => {
                if let Err(e) = self.engine.start_vote(&vote, now) {
                    self.outbox.emit(Event::error("vote", format!("start_vote {vote:?}: {e}")));
                }
            }
            Control::StopVote { vote } => match self.engine.stop_vote(&vote, now) {
                Ok(Some(_)) => {}
                Ok(None) => self.outbox.emit(Event::error(
                    "vote",
                    format!("stop_vote {vote:?}: no round is open (automatic rounds are stopped until start_vote)"),
                )),
                Err(e) => self.outbox.emit(Event::error("vote", format!("stop_vote {vote:?}: {e}"))),
            },
            Control::Say { channel, text } => self.say(&channel, &text),
            Control::Join { channel } => {
                if let Err(e) = self.session.join(&channel) {
                    self.outbox.emit(Event::error("join", format!("join {channel:?}: {e}")));
                }
            }
            Control::Part { channel } => {
                if let Err(e) = self.session.part(&channel) {
                    self.outbox.emit(Event::error("part", format!("part {channel:?}: {e}")));
                }
            }
        }
    }

    fn say(&mut self, channel: &str, text: &str) {
        if self.settings.config.connection.nick.is_none() {
            self.outbox.emit(Event::error(
                "send",
                "cannot post in chat anonymously: set connection.nick and the token variable",
            ));
            return;
        }
        if let Err(e) = self.session.say(channel, text) {
            self.outbox
                .emit(Event::error("send", format!("say in {channel:?}: {e}")));
        }
    }

    fn pump_session_only(&mut self, now: Instant) {
        while let Some(ev) = self.session.poll_event() {
            self.on_session_event(ev, now);
        }
    }

    /// Drains the session's and the engine's outputs until both are quiet.
    fn pump(&mut self, mut link: Option<&mut Link>, now: Instant) {
        loop {
            let mut busy = false;
            while let Some(ev) = self.session.poll_event() {
                busy = true;
                self.on_session_event(ev, now);
            }
            while let Some(ev) = self.engine.poll_event() {
                busy = true;
                self.on_engine_event(ev);
            }
            if let Some(l) = link.as_deref_mut() {
                while let Some(line) = self.session.poll_transmit() {
                    busy = true;
                    if let Err(e) = l.client.send_text(line) {
                        self.drop_link
                            .get_or_insert_with(|| format!("send failed: {e}"));
                    }
                }
            }
            if !busy {
                break;
            }
        }
    }

    fn on_session_event(&mut self, ev: session::Event, now: Instant) {
        match ev {
            session::Event::Connected
            | session::Event::Disconnected
            | session::Event::Message(_) => {}
            session::Event::LoggedIn { nick } => {
                let server = self.settings.config.connection.server.clone();
                debug!(%server, %nick, "logged in");
                self.backoff.handle_connected(now);
                self.set_state(ConnectionState::Connected);
                self.outbox.emit(Event::Connected { server });
            }
            session::Event::CapabilitiesDenied { capabilities } => {
                let message = format!(
                    "the server refused capabilities {capabilities:?}: user ids, badges and moderation events may be missing"
                );
                self.outbox.emit(Event::error("capabilities", message));
            }
            session::Event::Joined { channel } => {
                if !self.joined.contains(&channel) {
                    self.joined.push(channel.clone());
                }
                self.outbox.emit(Event::Joined { channel });
                if !self.auto_started {
                    self.auto_started = true;
                    self.engine.start(now);
                }
            }
            session::Event::JoinFailed { channel, reason } => {
                warn!(%channel, %reason, "join failed");
                self.outbox.emit(Event::error(
                    "join",
                    format!("cannot join {channel}: {reason}"),
                ));
            }
            session::Event::Parted { channel } => {
                self.joined.retain(|c| *c != channel);
                self.outbox.emit(Event::Parted { channel });
            }
            session::Event::Chat(m) => self.engine.handle_privmsg(&m, now),
            session::Event::ClearChat(c) => self.engine.handle_clear_chat(&c, now),
            session::Event::ClearMsg(c) => self.engine.handle_clear_msg(&c, now),
            session::Event::Notice(n) => {
                info!(channel = ?n.channel, msg_id = ?n.msg_id, text = %n.text, "server notice");
                let id = n.msg_id.as_deref().unwrap_or("notice");
                self.outbox
                    .emit(Event::error("notice", format!("{id}: {}", n.text)));
            }
            session::Event::InvalidLine { line, error } => {
                debug!(%line, %error, "invalid line skipped")
            }
            session::Event::RateLimited { channel, text } => {
                warn!(?channel, %text, "rate limited by Twitch");
                self.outbox.emit(Event::error("rate_limited", text));
            }
            session::Event::ReconnectWanted { reason } => {
                let reason = match reason {
                    session::ReconnectReason::ServerRequested => {
                        "the server asked to reconnect (RECONNECT)"
                    }
                    session::ReconnectReason::PongTimeout => "no PONG from the server in time",
                    session::ReconnectReason::LoginTimeout => {
                        "no login confirmation from the server in time"
                    }
                };
                self.drop_link.get_or_insert_with(|| reason.to_owned());
            }
            session::Event::AuthFailed { reason } => {
                let var = &self.settings.config.connection.token_env;
                self.fatal = Some(BotError::AuthFailed(format!(
                    "the server said \"{reason}\". Check the token in the environment variable {var}: a user \
                     access token for connection.nick with scopes chat:read and chat:edit (e.g. {var}=oauth:abc...); \
                     or remove connection.nick to join anonymously"
                )));
            }
        }
    }

    fn on_engine_event(&mut self, ev: chatplay::Event) {
        match ev {
            chatplay::Event::VoteOpened(o) => {
                info!(vote = %o.vote, round = o.round, window_ms = o.window.as_millis() as u64, "round opened");
                self.outbox.emit(Event::VoteOpened {
                    vote: o.vote,
                    round: o.round,
                    options: o.options,
                    window_ms: o.window.as_millis() as u64,
                });
            }
            chatplay::Event::VoteClosed(r) => {
                let tally = Tally(
                    r.tally
                        .iter()
                        .map(|e| (e.choice.label(), e.count))
                        .collect(),
                );
                info!(
                    vote = %r.vote, round = r.round,
                    winner = r.winner.as_ref().map(|w| w.label()).as_deref().unwrap_or("none"),
                    voters = r.voters,
                    tally = %tally.0.iter().map(|(k, v)| format!("{k}:{v}")).collect::<Vec<_>>().join(" "),
                    "round closed"
                );
                if r.announce && self.settings.config.connection.nick.is_some() {
                    let text = r.announcement();
                    for ch in self.joined.clone() {
                        let _ = self.session.say(&ch, &text);
                    }
                }
                self.outbox.emit(Event::VoteClosed {
                    vote: r.vote,
                    round: r.round,
                    winner: r.winner.map(|w| w.label()),
                    tally,
                    voters: r.voters,
                });
            }
            chatplay::Event::Input(i) => self.outbox.emit(Event::Input {
                vote: i.vote,
                input: i.choice.option,
                repeat: u32::from(i.choice.repeat),
                user: i.user,
                user_id: i.user_id.unwrap_or_default(),
            }),
            chatplay::Event::Command(c) => self.outbox.emit(Event::Command {
                command: c.command,
                channel: c.channel,
                user: c.user,
                user_id: c.user_id.unwrap_or_default(),
                args: c.args,
            }),
        }
    }

    /// Graceful end: close open rounds (results out), part, close with 1000, deliver every event.
    async fn shutdown(
        mut self,
        mut up: Option<Link>,
        connecting: Option<JoinHandle<Result<Link, websockets::Error>>>,
    ) -> Result<(), BotError> {
        let now = Instant::now();
        let fatal = self.fatal.take();
        if let Some(e) = &fatal {
            self.outbox.emit(Event::error("auth_failed", e.to_string()));
        }
        // Even after a fatal error: results of open rounds are never silently lost.
        {
            info!("shutting down: closing open rounds");
            for v in self
                .settings
                .config
                .votes
                .iter()
                .map(|v| v.name.clone())
                .collect::<Vec<_>>()
            {
                let _ = self.engine.stop_vote(&v, now);
            }
            for ch in self.joined.clone() {
                let _ = self.session.part(&ch);
            }
        }
        self.pump(up.as_mut(), now);
        if let Some(l) = up {
            let _ = l.client.close(1000, "");
            let closed = tokio::time::timeout(CLOSE_WAIT, l.client.closed()).await;
            debug!(?closed, "socket closed");
        }
        if let Some(task) = connecting {
            task.abort();
        }
        self.set_state(ConnectionState::Stopped);
        if tokio::time::timeout(DRAIN_WAIT, self.outbox.drain())
            .await
            .is_err()
        {
            warn!(
                undelivered = self.outbox.pending(),
                "the event reader did not take the last events within {DRAIN_WAIT:?}; stopping anyway"
            );
        }
        match fatal {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
