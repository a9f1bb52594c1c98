//! The driver: sockets, timers and the one task that moves data between them, the sans-IO
//! [`Session`] and the ChatPlay [`Engine`].
//!
//! ```text
//!  websockets reader task ──OnMessage(&str)──► bounded inbox (a batch) ──► Session::handle_frame
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
//! **Staying up.** Any close, error, missed PONG (see `connection.ping_idle_secs` and `pong_timeout_secs`)
//! or login timeout ends the link; the driver waits a [`crate::backoff`] delay, connects again, logs in and
//! re-joins every channel. Events: `disconnected {reason}`, then `reconnecting {attempt >= 1, delay_ms,
//! reason}` (the same reason), then `connected` and `joined` per channel once back. The session and the
//! engine live for the whole run, so an open round keeps its ballots across a reconnect, and lines the server
//! replays are recognised by their message `id` and counted once.
//!
//! **Server `RECONNECT`: overlap, not a gap.** Twitch sends `RECONNECT` about 30 s before it closes a
//! connection. The driver then opens a *new* connection (a new [`Session`] with the same config, wanting the
//! same channels) while the old one keeps being read, logs in and re-joins there. Both feed the one ChatPlay
//! [`Engine`], which de-duplicates by message `id`, so a message that arrives on both links counts once and a
//! message on either link is not lost. The new connection becomes the main one when it is logged in and
//! every channel is joined (or its join failed), or at the latest [`HANDOVER_LIMIT`] after `RECONNECT` if it
//! is logged in by then; the old connection is then closed with code 1000 and still read until the server
//! closes it (at most a few seconds), so chat already on its way counts too. If the old connection ends
//! first, the new one takes over at once (still logging in: chat waits for it).
//!
//! Outgoing chat goes to exactly one link: the old one until the switch, then the new one. At the switch
//! the messages still queued by the rate limiter, and its history (Twitch counts per account, not per
//! connection), move to the new session ([`Session::take_chat_from`]); lines already handed to the old
//! socket are sent before its close frame. Nothing is sent twice.
//!
//! Events for a handover: `reconnecting {attempt: 0, delay_ms: 0, reason}` when the new connection is
//! opened, `connected` when it is logged in and `joined` per channel joined on it; **no** `disconnected`
//! (chat never stopped). If the new connection fails (connect error, close, its own login timeout, or not
//! logged in within [`HANDOVER_LIMIT`]), both links are dropped and the usual path follows:
//! `disconnected {reason}` (naming `RECONNECT` and why the new connection failed), `reconnecting` with
//! backoff. A `RECONNECT` received on the old link during a handover changes nothing.
//!
//! **Live tallies.** The driver owns the clock of the periodic `tally` events (the engine is sans-IO and only
//! answers [`Engine::tally`] for a given `now`): for each vote with `tally_interval_secs` set, a timer is
//! armed when a round opens (first report one interval later), re-armed after each report on the same cadence
//! (a late report is not followed by a burst: the next one is a whole interval later) and disarmed when the
//! round closes, so no `tally` with `open: true` follows that round's `vote_closed`. A `tally` control op is
//! answered at once, whether a round is open or not.
//!
//! **Back-pressure.** The `OnMessage` handler appends each frame (at most [`MAX_FRAME`] bytes) to a per-socket
//! inbox of at most [`INBOX_BYTES`] bytes, and the driver takes everything buffered at once (one wake-up and
//! no allocation per frame: the emptied buffer is swapped back in). When the driver falls behind, the
//! handler waits (on the socket's reader task), so the socket is not read and TCP slows the server down:
//! memory stays bounded and no chat line is dropped. The driver itself stops taking frames while the
//! [`Outbox`] backlog is full (see [`crate::outbox`]).

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::backoff::Backoff;
use crate::bot::{BotError, ConnectionState, Request};
use crate::chatplay::{self, Engine};
use crate::config::{Config, Token};
use crate::events::{Control, Event, Tally};
use crate::inbox::{InboxReceiver, Incoming};
use crate::outbox::Outbox;
use crate::session::{self, Session};

pub use crate::inbox::INBOX_BYTES;
/// Largest WebSocket message accepted from the server (Twitch frames are a few KiB).
pub const MAX_FRAME: usize = 128 * 1024;
/// How long shutdown waits for a stalled event reader to take the last events.
const DRAIN_WAIT: Duration = Duration::from_secs(10);
/// How long shutdown waits for the server to acknowledge the close.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// How long a handover after a server `RECONNECT` may take: the new connection must be logged in by then,
/// or the bot falls back to the normal reconnect; if it is logged in but some joins are still unconfirmed,
/// it switches anyway. Twitch closes the old connection itself about 30 s after `RECONNECT`.
pub const HANDOVER_LIMIT: Duration = Duration::from_secs(30);
/// How long a replaced connection is still read after its close frame was sent (chat already on its way
/// still counts), before it is dropped.
const RETIRE_WAIT: Duration = Duration::from_secs(5);

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

/// An open WebSocket and what its handlers feed.
struct Link {
    client: websockets::WebsocketClient,
    incoming: InboxReceiver,
}

/// The `tally` event for a live tally.
pub(crate) fn tally_event(live: chatplay::LiveTally) -> Event {
    Event::Tally {
        vote: live.vote,
        round: live.round,
        open: live.open,
        tally: Tally(
            live.tally
                .iter()
                .map(|e| (e.choice.label(), e.count))
                .collect(),
        ),
        voters: live.voters,
        remaining_ms: if live.open {
            live.remaining.as_millis() as u64
        } else {
            0
        },
    }
}

/// Connects with `websockets::create_client_with` (blocking until the handshake; run on the blocking pool).
fn spawn_connect(
    url: String,
    ca_file: Option<std::path::PathBuf>,
) -> JoinHandle<Result<Link, websockets::Error>> {
    tokio::task::spawn_blocking(move || {
        let (incoming, feed) = crate::inbox::channel();
        let (feed_close, feed_error) = (feed.clone(), feed.clone());
        let mut options = websockets::ClientOptions::new()
            .max_message_size(MAX_FRAME)
            .on_close(move |code, reason| {
                feed_close.end(Incoming::Closed {
                    code,
                    reason: reason.to_owned(),
                })
            })
            .on_error(move |e| feed_error.end(Incoming::Error(e.to_string())));
        if let Some(ca) = ca_file {
            options = options.add_ca_pem_file(ca);
        }
        let kind = if url.starts_with("wss://") {
            websockets::WebsocketType::Secure
        } else {
            websockets::WebsocketType::NonSecure
        };
        let on_message = move |frame: &str| feed.frame(frame);
        let client = websockets::create_client_with(&url, on_message, kind, options)?;
        Ok(Link { client, incoming })
    })
}

/// A second connection opened after a server `RECONNECT`, while the old one keeps reading.
///
/// Its socket (connecting or open) lives in the driver loop next to the main link, like the main link's.
struct Handover {
    /// A new session with the same config, wanting the same channels as the main one.
    session: Session,
    /// Until then the old connection is kept; see [`HANDOVER_LIMIT`].
    until: Instant,
    /// Channels whose join failed on the new connection (they do not hold the switch back).
    failed: Vec<String>,
    /// The new connection cannot be used (connect failed, closed, asked for a reconnect itself): why.
    broken: Option<String>,
}

impl Handover {
    /// Logged in, and every wanted channel joined (or given up on).
    fn ready(&self) -> bool {
        self.session.state() == session::SessionState::LoggedIn
            && self.session.wanted_channels().all(|c| {
                self.failed.iter().any(|f| f == c) || self.session.joined_channels().any(|j| j == c)
            })
    }
}

/// A replaced connection, closed with 1000 and read until the server's close (or [`RETIRE_WAIT`]).
struct Retiring {
    /// Its session: only the chat it still parses is used (the engine de-duplicates by message `id`).
    session: Session,
    /// Dropped at this time even if the server has not closed it.
    until: Instant,
}

/// Which session an event comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The main session: outgoing chat goes here.
    Main,
    /// The new session of a handover after `RECONNECT`.
    Handover,
    /// A replaced session whose socket is closing: only chat is taken from it.
    Retiring,
}

/// The text for a close seen on a socket.
fn closed_reason(code: u16, reason: &str) -> String {
    let sep = if reason.is_empty() { "" } else { " " };
    format!("closed by the server ({code}{sep}{reason})")
}

/// Why a link ended, from what its inbox delivered instead of a frame.
fn end_reason(end: Option<Incoming>) -> String {
    match end {
        Some(Incoming::Closed { code, reason }) => closed_reason(code, &reason),
        Some(Incoming::Error(e)) => format!("connection error: {e}"),
        Some(Incoming::Frame(_)) | None => "connection ended".to_owned(),
    }
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
    /// The link must be dropped (close, error, missed PONG, failed handover): the reason.
    drop_link: Option<String>,
    /// The server sent `RECONNECT` on the main link: a handover should start (the reason in words).
    handover_wanted: Option<String>,
    /// The handover in progress, if any.
    handover: Option<Handover>,
    /// The replaced session, while its socket closes.
    retiring: Option<Retiring>,
    /// Channels confirmed joined (for the parts at shutdown).
    joined: Vec<String>,
    /// Whether auto-start votes were started (on the first join).
    auto_started: bool,
    /// The votes with `tally_interval_secs` set: their periodic `tally` events.
    live_tallies: Vec<LiveTallyTimer>,
}

/// The periodic `tally` event of one vote with `tally_interval_secs` set.
///
/// Armed when a round of the vote opens (first report one interval later: `vote_opened` already shows the
/// empty start), disarmed when it closes (`vote_closed` carries the final count). A late timer (the driver was
/// busy) fires once and re-arms from now, so a stall never turns into a burst of reports.
#[derive(Debug)]
struct LiveTallyTimer {
    vote: String,
    every: Duration,
    /// When the next report is due; `None` while no round is open.
    next: Option<Instant>,
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
        handover_wanted: None,
        handover: None,
        retiring: None,
        joined: Vec::new(),
        auto_started: false,
        live_tallies: live_tally_timers(&settings.config),
        settings,
    };
    // The link: at most one of `retry_at` (waiting to connect), `connecting`, `up` is set.
    let mut retry_at: Option<Instant> = Some(Instant::now());
    let mut connecting: Option<JoinHandle<Result<Link, websockets::Error>>> = None;
    let mut up: Option<Link> = None;
    // A handover's new link (only while `core.handover` is set), and a replaced link being closed (only
    // while `core.retiring` is set).
    let mut new_connecting: Option<JoinHandle<Result<Link, websockets::Error>>> = None;
    let mut new_up: Option<Link> = None;
    let mut old: Option<Link> = None;

    loop {
        let now = Instant::now();
        // Timers: the sessions' (PING, login, joins, rate limits), the engine's (round ends), the retry,
        // the handover's limits and the periodic live tallies.
        let deadline = [
            core.session.poll_timeout(),
            core.engine.poll_timeout(),
            retry_at,
            core.handover
                .as_mut()
                .and_then(|h| h.session.poll_timeout()),
            core.handover.as_ref().map(|h| h.until),
            core.retiring.as_ref().map(|r| r.until),
            core.live_tallies.iter().filter_map(|t| t.next).min(),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(now + Duration::from_secs(3600));
        let room = !core.outbox.is_backlogged();
        let take_frames = up.is_some() && room;
        let take_new = new_up.is_some() && room;
        let take_old = old.is_some() && room;

        tokio::select! {
            biased;
            r = requests.recv() => match r {
                Some(Request::Shutdown) | None => break,
                Some(Request::InputClosed) => debug!("control input closed"),
                Some(Request::BadControl(e)) => core.outbox.emit(Event::error("bad_control", e.to_string())),
                Some(Request::Control(c)) => core.handle_control(c, Instant::now()),
                Some(Request::Op(c, reply)) => {
                    let result = core.control(c, Instant::now()).map_err(|e| match e {
                        Event::Error { message, .. } => message,
                        other => other.kind().to_owned(),
                    });
                    let _ = reply.send(result);
                }
                Some(Request::Snapshot(reply)) => {
                    let _ = reply.send(core.snapshot(Instant::now()));
                }
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
                    Some(Incoming::Frame(f)) => {
                        core.session.handle_frame(&f, now);
                        if let Some(l) = up.as_mut() {
                            l.incoming.recycle(f);
                        }
                    }
                    end => core.drop_link = Some(end_reason(end)),
                }
            }
            res = async { new_connecting.as_mut().expect("guarded").await }, if new_connecting.is_some() => {
                new_connecting = None;
                let now = Instant::now();
                if let Some(h) = core.handover.as_mut() {
                    match res {
                        Ok(Ok(l)) => {
                            info!("handover: new WebSocket open; logging in there");
                            h.session.handle_connected(now);
                            new_up = Some(l);
                        }
                        Ok(Err(e)) => h.broken = Some(format!("connect failed: {e}")),
                        Err(e) => h.broken = Some(format!("connect task failed: {e}")),
                    }
                }
            }
            inc = async { new_up.as_mut().expect("guarded").incoming.recv().await }, if take_new => {
                let now = Instant::now();
                if let Some(h) = core.handover.as_mut() {
                    match inc {
                        Some(Incoming::Frame(f)) => {
                            h.session.handle_frame(&f, now);
                            if let Some(l) = new_up.as_mut() {
                                l.incoming.recycle(f);
                            }
                        }
                        end => h.broken = Some(end_reason(end)),
                    }
                }
            }
            inc = async { old.as_mut().expect("guarded").incoming.recv().await }, if take_old => {
                let now = Instant::now();
                match inc {
                    Some(Incoming::Frame(f)) => {
                        if let Some(r) = core.retiring.as_mut() {
                            r.session.handle_frame(&f, now);
                        }
                    }
                    // Closed, failed or gone: nothing more will come from it.
                    _ => {
                        debug!("replaced connection closed");
                        core.retiring = None;
                        old = None;
                    }
                }
            }
            () = tokio::time::sleep_until(deadline.into()) => {
                let now = Instant::now();
                if core.session.poll_timeout().is_some_and(|t| t <= now) {
                    core.session.handle_timeout(now);
                }
                if let Some(h) = core.handover.as_mut()
                    && h.session.poll_timeout().is_some_and(|t| t <= now)
                {
                    h.session.handle_timeout(now);
                }
                if core.retiring.as_ref().is_some_and(|r| r.until <= now) {
                    debug!("replaced connection did not close in time; dropping it");
                    core.retiring = None;
                    old = None;
                }
                core.engine_timers(now);
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
        let now = Instant::now();
        core.pump(up.as_mut(), new_up.as_mut(), now);

        // A server RECONNECT on the main link: open the new connection now, keep the old one reading.
        if let Some(reason) = core.handover_wanted.take()
            && up.is_some()
            && core.handover.is_none()
        {
            let mut config = session_config(&core.settings);
            config.channels = core.session.wanted_channels().map(str::to_owned).collect();
            info!(%reason, "handover: opening a new connection while the old one keeps reading");
            core.handover = Some(Handover {
                session: Session::new(config),
                until: now + HANDOVER_LIMIT,
                failed: Vec::new(),
                broken: None,
            });
            new_connecting = Some(spawn_connect(
                core.settings.config.connection.server.clone(),
                core.settings.config.connection.ca_file.clone(),
            ));
            core.outbox.emit(Event::Reconnecting {
                attempt: 0,
                delay_ms: 0,
                reason,
            });
        }

        // The handover failed (or is not logged in within the limit): the normal path, for both links.
        let failed = core.handover.as_ref().and_then(|h| match &h.broken {
            Some(b) => Some(b.clone()),
            None if now >= h.until && h.session.state() != session::SessionState::LoggedIn => Some(
                format!("not logged in within {} s", HANDOVER_LIMIT.as_secs()),
            ),
            None => None,
        });
        if let Some(why) = failed {
            warn!(%why, "handover: the new connection failed; reconnecting the usual way");
            core.handover = None;
            if let Some(l) = new_up.take() {
                let _ = l.client.close(1000, "");
            }
            if let Some(task) = new_connecting.take() {
                task.abort();
            }
            core.drop_link.get_or_insert_with(|| {
                format!(
                    "the server asked to reconnect (RECONNECT) and the new connection failed: {why}"
                )
            });
        } else if core
            .handover
            .as_ref()
            .is_some_and(|h| h.ready() || now >= h.until)
            || (core.handover.is_some() && core.drop_link.is_some())
        {
            // Ready (or the old link ended first): the new connection becomes the main one.
            if let Some(reason) = core.drop_link.take() {
                info!(%reason, "handover: the old connection ended before the new one was ready");
            }
            core.promote(
                &mut up,
                &mut connecting,
                &mut new_up,
                &mut new_connecting,
                &mut old,
                now,
            );
            core.pump(up.as_mut(), None, now);
        }

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

    if core.handover.take().is_some() {
        if let Some(l) = new_up.take() {
            let _ = l.client.close(1000, "");
        }
        if let Some(task) = new_connecting.take() {
            task.abort();
        }
    }
    drop(old);
    core.shutdown(up, connecting).await
}

/// A timer per vote with `tally_interval_secs` set (validated with the config, so out-of-range values
/// cannot reach here; they would count as off).
fn live_tally_timers(config: &Config) -> Vec<LiveTallyTimer> {
    config
        .votes
        .iter()
        .filter_map(|v| {
            let every = v.tally_interval().ok().flatten()?;
            Some(LiveTallyTimer {
                vote: v.name.clone(),
                every,
                next: None,
            })
        })
        .collect()
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
        if let Err(e) = self.control(c, now) {
            self.outbox.emit(e);
        }
    }

    /// Carries out a control op; a refusal comes back as the `error` event to report.
    fn control(&mut self, c: Control, now: Instant) -> Result<(), Event> {
        match c {
            Control::StartVote { vote } => self
                .engine
                .start_vote(&vote, now)
                .map(|_| ())
                .map_err(|e| Event::error("vote", format!("start_vote {vote:?}: {e}"))),
            Control::StopVote { vote } => match self.engine.stop_vote(&vote, now) {
                Ok(Some(_)) => Ok(()),
                Ok(None) => Err(Event::error(
                    "vote",
                    format!(
                        "stop_vote {vote:?}: no round is open (automatic rounds are stopped until start_vote)"
                    ),
                )),
                Err(e) => Err(Event::error("vote", format!("stop_vote {vote:?}: {e}"))),
            },
            Control::Tally { vote } => match self.engine.tally(&vote, now) {
                Some(live) => {
                    self.outbox.emit(tally_event(live));
                    Ok(())
                }
                // The same words as start_vote/stop_vote for an unknown vote.
                None => Err(Event::error(
                    "vote",
                    format!(
                        "tally {vote:?}: {}",
                        chatplay::VoteError::UnknownVote(vote.clone())
                    ),
                )),
            },
            Control::Say { channel, text } => self.say(&channel, &text),
            // During a handover the new session follows, so that it wants the same channels at the switch.
            Control::Join { channel } => {
                self.session
                    .join(&channel)
                    .map_err(|e| Event::error("join", format!("join {channel:?}: {e}")))?;
                if let Some(h) = self.handover.as_mut() {
                    let _ = h.session.join(&channel);
                }
                Ok(())
            }
            Control::Part { channel } => {
                self.session
                    .part(&channel)
                    .map_err(|e| Event::error("part", format!("part {channel:?}: {e}")))?;
                if let Some(h) = self.handover.as_mut() {
                    let _ = h.session.part(&channel);
                }
                Ok(())
            }
        }
    }

    /// The state the local server's `snapshot` shows (see [`crate::server::snapshot`]).
    fn snapshot(&self, now: Instant) -> crate::server::Snapshot {
        crate::server::Snapshot {
            after: self.outbox.sequence(),
            state: *self.state.borrow(),
            channels: self.joined.clone(),
            votes: crate::server::snapshot::votes(&self.engine, now),
            chat_queued: self.session.queued_messages() as u64,
        }
    }

    /// The engine's due round ends, then the live tallies due.
    fn engine_timers(&mut self, now: Instant) {
        // Only when due: the engine's first handle_timeout would open the auto rounds, which must wait
        // for the first join.
        if self.engine.poll_timeout().is_some_and(|t| t <= now) {
            self.engine.handle_timeout(now);
        }
        // The engine's events before the live tallies: a round that just closed disarms its timer (its
        // vote_closed carries the final count), and the next auto round's vote_opened re-arms it one
        // interval later; otherwise a report due at the round's end would show the *next* round before
        // its vote_opened.
        while let Some(ev) = self.engine.poll_event() {
            self.on_engine_event(ev, now);
        }
        self.live_tallies_due(now);
    }

    /// Emits the `tally` event of every vote whose periodic report is due and whose round is still open, and
    /// re-arms its timer.
    fn live_tallies_due(&mut self, now: Instant) {
        for t in &mut self.live_tallies {
            let Some(due) = t.next.filter(|&d| d <= now) else {
                continue;
            };
            match self.engine.tally(&t.vote, now).filter(|l| l.open) {
                Some(live) => {
                    self.outbox.emit(tally_event(live));
                    // On time: keep the cadence; late: one report now, the next a whole interval later.
                    let next = due + t.every;
                    t.next = Some(if next > now { next } else { now + t.every });
                }
                None => t.next = None,
            }
        }
    }

    fn say(&mut self, channel: &str, text: &str) -> Result<(), Event> {
        if self.settings.config.connection.nick.is_none() {
            return Err(Event::error(
                "send",
                "cannot post in chat anonymously: set connection.nick and the token variable",
            ));
        }
        self.session
            .say(channel, text)
            .map_err(|e| Event::error("send", format!("say in {channel:?}: {e}")))
    }

    fn pump_session_only(&mut self, now: Instant) {
        while let Some(ev) = self.session.poll_event() {
            self.on_session_event(ev, now, Role::Main);
        }
    }

    /// Drains the sessions' and the engine's outputs until all are quiet: the main session's lines go to
    /// `link`, a handover's to `new_link`; a retiring session's lines are dropped (its socket is closing).
    fn pump(&mut self, mut link: Option<&mut Link>, mut new_link: Option<&mut Link>, now: Instant) {
        loop {
            let mut busy = false;
            while let Some(ev) = self.session.poll_event() {
                busy = true;
                self.on_session_event(ev, now, Role::Main);
            }
            while let Some(ev) = self.handover.as_mut().and_then(|h| h.session.poll_event()) {
                busy = true;
                self.on_session_event(ev, now, Role::Handover);
            }
            while let Some(ev) = self.retiring.as_mut().and_then(|r| r.session.poll_event()) {
                busy = true;
                self.on_session_event(ev, now, Role::Retiring);
            }
            while let Some(ev) = self.engine.poll_event() {
                busy = true;
                self.on_engine_event(ev, now);
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
            if let Some(l) = new_link.as_deref_mut()
                && let Some(h) = self.handover.as_mut()
            {
                while let Some(line) = h.session.poll_transmit() {
                    busy = true;
                    if let Err(e) = l.client.send_text(line) {
                        h.broken.get_or_insert_with(|| format!("send failed: {e}"));
                    }
                }
            }
            if let Some(r) = self.retiring.as_mut() {
                while r.session.poll_transmit().is_some() {}
            }
            if !busy {
                break;
            }
        }
    }

    /// Ends a handover: the new connection (open or still connecting) becomes the main one, with the old
    /// session's queued outgoing chat and rate-limit history; the old connection is closed with 1000 and read
    /// until the server closes it (see [`Retiring`]).
    fn promote(
        &mut self,
        up: &mut Option<Link>,
        connecting: &mut Option<JoinHandle<Result<Link, websockets::Error>>>,
        new_up: &mut Option<Link>,
        new_connecting: &mut Option<JoinHandle<Result<Link, websockets::Error>>>,
        old: &mut Option<Link>,
        now: Instant,
    ) {
        let Some(h) = self.handover.take() else {
            return;
        };
        // Whatever the old session still has to send (a PONG, chat the limiter released) goes out first.
        self.pump(up.as_mut(), None, now);
        self.drop_link = None;
        let mut old_session = std::mem::replace(&mut self.session, h.session);
        self.session.take_chat_from(&mut old_session);
        if let Some(l) = up.take() {
            let _ = l.client.close(1000, "");
            *old = Some(l);
            self.retiring = Some(Retiring {
                session: old_session,
                until: now + RETIRE_WAIT,
            });
        }
        *up = new_up.take();
        *connecting = new_connecting.take();
        self.joined = self.session.joined_channels().map(str::to_owned).collect();
        info!(
            open = up.is_some(),
            queued_chat = self.session.queued_messages(),
            "handover: the new connection is now the main one; the old one is closed with 1000"
        );
    }

    fn on_session_event(&mut self, ev: session::Event, now: Instant, role: Role) {
        if role == Role::Retiring {
            // Only the chat still arriving on a closing connection matters; the rest is about that socket.
            match ev {
                session::Event::Chat(m) => self.engine.handle_privmsg(&m, now),
                session::Event::ClearChat(c) => self.engine.handle_clear_chat(&c, now),
                session::Event::ClearMsg(c) => self.engine.handle_clear_msg(&c, now),
                other => debug!(?other, "replaced connection: event ignored"),
            }
            return;
        }
        match ev {
            session::Event::Connected
            | session::Event::Disconnected
            | session::Event::Message(_) => {}
            session::Event::LoggedIn { nick } => {
                let server = self.settings.config.connection.server.clone();
                debug!(%server, %nick, "logged in");
                // A handover's new connection logging in while the main one is up does not restart the
                // clock of a stable connection: chat never stopped.
                if role == Role::Main || self.session.state() != session::SessionState::LoggedIn {
                    self.backoff.handle_connected(now);
                }
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
                warn!(%channel, %reason, ?role, "join failed");
                if role == Role::Handover
                    && let Some(h) = self.handover.as_mut()
                {
                    h.failed.push(channel.clone());
                }
                self.outbox.emit(Event::error(
                    "join",
                    format!("cannot join {channel}: {reason}"),
                ));
            }
            // The main session reports the part; the handover's echo of the same part is not news.
            session::Event::Parted { channel } if role == Role::Handover => {
                debug!(%channel, "handover: parted on the new connection too")
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
                let server_requested = reason == session::ReconnectReason::ServerRequested;
                let reason = match reason {
                    session::ReconnectReason::ServerRequested => {
                        "the server asked to reconnect (RECONNECT)"
                    }
                    session::ReconnectReason::PongTimeout => "no PONG from the server in time",
                    session::ReconnectReason::LoginTimeout => {
                        "no login confirmation from the server in time"
                    }
                };
                match role {
                    Role::Handover => {
                        if let Some(h) = self.handover.as_mut() {
                            h.broken.get_or_insert_with(|| reason.to_owned());
                        }
                    }
                    // A RECONNECT on the main link: overlap (at most one handover at a time; a second
                    // RECONNECT on the old link during one changes nothing).
                    _ if server_requested => {
                        if self.handover.is_none() {
                            self.handover_wanted
                                .get_or_insert_with(|| reason.to_owned());
                        } else {
                            debug!("RECONNECT again during a handover: ignored");
                        }
                    }
                    _ => {
                        self.drop_link.get_or_insert_with(|| reason.to_owned());
                    }
                }
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

    fn on_engine_event(&mut self, ev: chatplay::Event, now: Instant) {
        match ev {
            chatplay::Event::VoteOpened(o) => {
                if let Some(t) = self.live_tallies.iter_mut().find(|t| t.vote == o.vote) {
                    t.next = Some(now + t.every);
                }
                info!(vote = %o.vote, round = o.round, window_ms = o.window.as_millis() as u64, "round opened");
                self.outbox.emit(Event::VoteOpened {
                    vote: o.vote,
                    round: o.round,
                    options: o.options,
                    window_ms: o.window.as_millis() as u64,
                });
            }
            chatplay::Event::VoteClosed(r) => {
                if let Some(t) = self.live_tallies.iter_mut().find(|t| t.vote == r.vote) {
                    t.next = None;
                }
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
                    refused_ballots: r.refused_ballots,
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
        self.pump(up.as_mut(), None, now);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A driver core for `config` (no sockets), and the event reader's end.
    fn core(config: &str) -> (Core, mpsc::Receiver<Event>) {
        let config = Config::from_toml_str(config, "test.toml").expect("test config");
        let settings = Settings {
            config,
            token: None,
            keywords_to: None,
        };
        let session = Session::new(session_config(&settings));
        let engine = Engine::new(settings.config.engine_config(session.nick())).unwrap();
        let (outbox, events) = Outbox::channel();
        let core = Core {
            session,
            engine,
            outbox,
            state: watch::channel(ConnectionState::Connecting).0,
            backoff: Backoff::new(),
            fatal: None,
            drop_link: None,
            handover_wanted: None,
            handover: None,
            retiring: None,
            joined: Vec::new(),
            auto_started: false,
            live_tallies: live_tally_timers(&settings.config),
            settings,
        };
        (core, events)
    }

    fn drain(events: &mut mpsc::Receiver<Event>) -> Vec<Event> {
        std::iter::from_fn(|| events.try_recv().ok()).collect()
    }

    /// (type, round) of vote events, in order.
    fn rounds(events: &[Event]) -> Vec<(&'static str, u64)> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::VoteOpened { round, .. } => Some(("vote_opened", *round)),
                Event::VoteClosed { round, .. } => Some(("vote_closed", *round)),
                Event::Tally { round, .. } => Some(("tally", *round)),
                _ => None,
            })
            .collect()
    }

    /// Connects `session` and logs it in at `now` (anonymous: the welcome is enough).
    fn log_in(session: &mut Session, now: Instant) {
        session.handle_connected(now);
        session.handle_frame(":tmi.twitch.tv 001 justinfan123 :Welcome, GLHF!", now);
    }

    #[test]
    fn a_handover_does_not_restart_the_stable_connection_clock_of_the_backoff() {
        let (mut core, _events) = core("[connection]\nchannels = [\"chan\"]\n");
        let t0 = Instant::now();
        let secs = |s| t0 + Duration::from_secs(s);
        // Two failed attempts, then a connection that stays up for long.
        core.link_lost("refused".into(), t0);
        core.link_lost("refused".into(), secs(1));
        assert_eq!(core.backoff.attempt(), 2);
        log_in(&mut core.session, secs(3));
        core.pump(None, None, secs(3));
        assert_eq!(core.session.state(), session::SessionState::LoggedIn);
        // 100 s later: RECONNECT, and the new connection logs in and takes over (chat never stopped).
        let mut config = session_config(&core.settings);
        config.channels = Vec::new();
        let mut new = Session::new(config);
        log_in(&mut new, secs(103));
        core.handover = Some(Handover {
            session: new,
            until: secs(103) + HANDOVER_LIMIT,
            failed: Vec::new(),
            broken: None,
        });
        core.pump(None, None, secs(103));
        core.promote(
            &mut None,
            &mut None,
            &mut None,
            &mut None,
            &mut None,
            secs(103),
        );
        // The new connection drops soon after: chat had been up for 100 s, so the count starts again.
        core.link_lost("closed".into(), secs(110));
        assert_eq!(core.backoff.attempt(), 1, "the backoff was not reset");
    }

    #[test]
    fn a_live_tally_due_with_the_round_end_never_precedes_the_next_rounds_vote_opened() {
        // An auto vote whose window is a whole number of tally intervals: the last report of a round
        // falls due together with the round's end.
        let (mut core, mut events) = core(
            "[[vote]]\nname = \"move\"\noptions = [\"up\", \"down\"]\nstart = \"auto\"\n\
             window_secs = 1.0\ntally_interval_secs = 0.5\n",
        );
        let t0 = Instant::now();
        core.engine.start(t0);
        core.pump(None, None, t0);
        for at in [t0 + Duration::from_millis(500), t0 + Duration::from_secs(1)] {
            core.engine_timers(at);
            core.pump(None, None, at);
        }
        assert_eq!(
            rounds(&drain(&mut events)),
            [
                ("vote_opened", 1),
                ("tally", 1),
                ("vote_closed", 1),
                ("vote_opened", 2)
            ],
            "a tally of round 2 before its vote_opened, or a report at the round's end"
        );
    }
}
