//! The driver: sockets, timers and the one task that moves data between them, the sans-IO
//! [`Session`] and the ChatPlay [`Engine`].
//!
//! ```text
//!  websockets reader task ──OnMessage(&str)──► bounded inbox (a batch) ──► Session::handle_frame_with
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
//!
//! **Layout.** This file holds the loop ([`run`]) and the state it carries; [`link`] manages the connections
//! (connect, reconnect, the handover after `RECONNECT`, moving lines between sockets and sessions), [`timers`]
//! the clocks that are not a session's (the engine's round ends, the live tallies), and [`dispatch`] what the
//! driver does with each session event, engine event and control request.

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use crate::backoff::Backoff;
use crate::chatplay;
use crate::config::{Config, Login, Token};
use crate::events::Event;
use crate::inbox::Incoming;
use crate::lifecycle::{BotError, ConnectionState, Request};
use crate::outbox::Outbox;
use crate::session::{self, Session};

mod chat_core;
mod dispatch;
mod link;
#[cfg(test)]
mod tests;
mod timers;

pub use crate::inbox::{INBOX_BYTES, MAX_FRAME};
pub(crate) use chat_core::ChatCore;
pub use link::HANDOVER_LIMIT;
use link::{Handover, Links, Retiring, end_reason, spawn_connect};
pub(crate) use timers::tally_event;

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

/// The environment variable that overrides [`RUNTIME_WORKERS`].
pub const WORKERS_ENV: &str = "TWITCH_BOT_WORKERS";
/// Largest accepted [`WORKERS_ENV`].
pub const MAX_WORKERS: usize = 64;

/// Builds the runtime [`run`] expects: multi-threaded (so `websockets::create_client_with` runs the
/// connection on it) with [`RUNTIME_WORKERS`] worker(s) and a small blocking pool (for connecting).
/// Spawn [`run`] on it with `tokio::spawn` so it shares the worker with the socket's tasks. The environment
/// variable `TWITCH_BOT_WORKERS` overrides the worker count (a tuning knob; 1 measured as good as 2 on a
/// 2-core machine, with less memory).
///
/// # Errors
/// [`BotError::Config`] naming the variable and its value when `TWITCH_BOT_WORKERS` is set but not a whole
/// number from 1 to [`MAX_WORKERS`]; [`BotError::Start`] when the runtime cannot be built.
pub fn runtime() -> Result<tokio::runtime::Runtime, BotError> {
    let workers = runtime_workers(std::env::var_os(WORKERS_ENV).as_deref())?;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .max_blocking_threads(2)
        .thread_name("twitch_bot-rt")
        .enable_all()
        .build()
        .map_err(BotError::Start)
}

/// The worker count for the value of `TWITCH_BOT_WORKERS` (`None`: unset, [`RUNTIME_WORKERS`]).
fn runtime_workers(value: Option<&std::ffi::OsStr>) -> Result<usize, BotError> {
    let Some(value) = value else {
        return Ok(RUNTIME_WORKERS);
    };
    match value.to_str().map(|v| v.trim().parse::<usize>()) {
        Some(Ok(n)) if (1..=MAX_WORKERS).contains(&n) => Ok(n),
        _ => Err(BotError::Config(format!(
            "environment variable {WORKERS_ENV} is {value:?}: it must be a whole number of worker threads \
             from 1 to {MAX_WORKERS} (or unset, for {RUNTIME_WORKERS})"
        ))),
    }
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
    /// A managed token (refreshed while the bot runs): taken at every connect instead of `token`, and told
    /// about refused logins (see [`crate::auth::source`]).
    pub tokens: Option<crate::auth::TokenSource>,
}

/// The driver's state besides the link.
struct Core {
    settings: Settings,
    session: Session,
    /// The engine side, shared with the EventSub driver.
    chat: ChatCore,
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
    if settings.config.connection.transport == crate::config::Transport::EventSub {
        return crate::eventsub::driver::run(settings, requests, outbox, state).await;
    }
    let mut settings = settings;
    let keywords_to = settings.keywords_to.take();
    let mut core = Core::new(settings, outbox, state)?;
    if let Some(to) = keywords_to {
        let _ = to.send(core.chat.engine.keywords().clone());
    }
    let mut links = Links {
        retry_at: Some(Instant::now()),
        ..Links::default()
    };
    let token_source = core.settings.tokens.clone();
    let mut token_changes = token_source.as_ref().map(|t| t.subscribe());

    loop {
        let now = Instant::now();
        let deadline = core.next_deadline(&links, now);
        let room = !core.chat.outbox.is_backlogged();
        let Links {
            retry_at,
            connecting,
            up,
            new_connecting,
            new_up,
            old,
        } = &mut links;
        let take_frames = up.is_some() && room;
        let take_new = new_up.is_some() && room;
        let take_old = old.is_some() && room;

        tokio::select! {
            biased;
            r = requests.recv() => match r {
                Some(Request::Shutdown) | None => break,
                Some(Request::InputClosed) => debug!("control input closed"),
                Some(Request::BadControl(e)) => core.chat.outbox.emit(Event::error("bad_control", e.to_string())),
                Some(Request::Control(c)) => core.handle_control(c, Instant::now()),
                Some(Request::Emit(e)) => core.chat.outbox.emit(e),
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
            () = core.chat.outbox.room(), if core.chat.outbox.is_pending() => core.chat.outbox.flush(),
            Ok(()) = async { token_changes.as_mut().expect("guarded").changed().await }, if token_changes.is_some() => {
                if let Some(why) = token_source.as_ref().and_then(|t| t.fatal()) {
                    core.fatal = Some(BotError::AuthFailed(why));
                }
            }
            res = async { connecting.as_mut().expect("guarded").await }, if connecting.is_some() => {
                *connecting = None;
                let now = Instant::now();
                match res {
                    Ok(Ok(l)) => {
                        info!(server = %core.settings.config.connection.server, "WebSocket open; logging in");
                        if let Some(t) = &token_source {
                            core.session.set_token(session::Secret::new(t.current().secret()));
                        }
                        core.session.handle_connected(now);
                        *up = Some(l);
                    }
                    Ok(Err(e)) => *retry_at = Some(core.link_lost(format!("connect failed: {e}"), now)),
                    Err(e) => *retry_at = Some(core.link_lost(format!("connect task failed: {e}"), now)),
                }
            }
            inc = async { up.as_mut().expect("guarded").incoming.recv().await }, if take_frames => {
                let now = Instant::now();
                match inc {
                    Some(Incoming::Frame(f)) => {
                        let engine = &mut core.chat.engine;
                        core.session.handle_frame_with(&f, now, &mut |c| dispatch::feed(engine, c, now));
                        if let Some(l) = up.as_mut() {
                            l.incoming.recycle(f);
                        }
                    }
                    end => core.drop_link = Some(end_reason(end)),
                }
            }
            res = async { new_connecting.as_mut().expect("guarded").await }, if new_connecting.is_some() => {
                *new_connecting = None;
                let now = Instant::now();
                if let Some(h) = core.handover.as_mut() {
                    match res {
                        Ok(Ok(l)) => {
                            info!("handover: new WebSocket open; logging in there");
                            h.session.handle_connected(now);
                            *new_up = Some(l);
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
                            let engine = &mut core.chat.engine;
                            h.session.handle_frame_with(&f, now, &mut |c| dispatch::feed(engine, c, now));
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
                            let engine = &mut core.chat.engine;
                            r.session.handle_frame_with(&f, now, &mut |c| dispatch::feed(engine, c, now));
                        }
                    }
                    // Closed, failed or gone: nothing more will come from it.
                    _ => {
                        debug!("replaced connection closed");
                        core.retiring = None;
                        *old = None;
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
                    *old = None;
                }
                core.chat.engine_timers(now);
                if retry_at.is_some_and(|t| t <= now)
                    && token_source.as_ref().is_some_and(|t| t.refresh_pending(now))
                {
                    // Log in with the token being refreshed, not the one it replaces.
                    *retry_at = Some(now + Duration::from_millis(50));
                } else if retry_at.is_some_and(|t| t <= now) {
                    *retry_at = None;
                    core.set_state(if core.backoff.attempt() == 0 {
                        ConnectionState::Connecting
                    } else {
                        ConnectionState::Reconnecting
                    });
                    *connecting = Some(spawn_connect(
                        core.settings.config.connection.server.clone(),
                        core.settings.config.connection.ca_file.clone(),
                    ));
                }
            }
        }

        // Move everything the state machines produced, then start, end or give up a handover.
        let now = Instant::now();
        core.pump(links.up.as_mut(), links.new_up.as_mut(), now);
        core.handover_step(&mut links, now);

        if let Some(reason) = core.drop_link.take()
            && let Some(l) = links.up.take()
        {
            let _ = l.client.close(1000, "");
            links.retry_at = Some(core.link_lost(reason, Instant::now()));
        }
        if core.fatal.is_some() {
            break;
        }
    }

    if core.handover.take().is_some() {
        if let Some(l) = links.new_up.take() {
            let _ = l.client.close(1000, "");
        }
        if let Some(task) = links.new_connecting.take() {
            task.abort();
        }
    }
    drop(links.old);
    core.shutdown(links.up, links.connecting).await
}

fn session_config(settings: &Settings) -> session::SessionConfig {
    let connection = &settings.config.connection;
    let token = match &settings.tokens {
        Some(t) => Some(t.current()),
        None => settings.token.clone(),
    };
    let mut c = match (&connection.nick, &token) {
        (Some(nick), token) => session::SessionConfig::new(
            nick.clone(),
            token.as_ref().map(|t| session::Secret::new(t.secret())),
        ),
        (None, _) => session::SessionConfig::anonymous(),
    };
    c.channels = connection.channels.iter().map(Login::to_string).collect();
    c.ping_after_idle = connection.ping_idle;
    c.pong_timeout = connection.pong_timeout;
    c
}

impl Core {
    /// The IRC driver's state for `settings`, not connected yet.
    fn new(
        settings: Settings,
        outbox: Outbox,
        state: watch::Sender<ConnectionState>,
    ) -> Result<Core, BotError> {
        let session = Session::new(session_config(&settings));
        let can_say = settings.config.connection.nick.is_some();
        let chat = ChatCore::new(&settings.config, session.nick(), can_say, outbox, state)?;
        Ok(Core {
            session,
            chat,
            backoff: Backoff::new(),
            fatal: None,
            drop_link: None,
            handover_wanted: None,
            handover: None,
            retiring: None,
            settings,
        })
    }

    fn set_state(&self, s: ConnectionState) {
        self.chat.set_state(s);
    }

    /// Graceful end: close open rounds (results out), part, close with 1000, deliver every event.
    async fn shutdown(
        mut self,
        mut up: Option<link::Link>,
        connecting: Option<link::ConnectTask>,
    ) -> Result<(), BotError> {
        let now = Instant::now();
        let fatal = self.fatal.take();
        if let Some(e) = &fatal {
            self.chat
                .outbox
                .emit(Event::error("auth_failed", e.to_string()));
        }
        // Even after a fatal error: results of open rounds are never silently lost.
        {
            info!("shutting down: closing open rounds");
            self.chat.close_rounds(&self.settings.config, now);
            for ch in self.chat.joined.clone() {
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
        if tokio::time::timeout(DRAIN_WAIT, self.chat.outbox.drain())
            .await
            .is_err()
        {
            warn!(
                undelivered = self.chat.outbox.pending(),
                "the event reader did not take the last events within {DRAIN_WAIT:?}; stopping anyway"
            );
        }
        match fatal {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
