//! Link management: opening a connection, losing it, and the handover after a server `RECONNECT` (a second
//! connection opened while the old one keeps reading, then the switch), plus moving lines between the
//! sockets and their sessions ([`Core::pump`]). See the [driver's docs](super) for the behaviour.

use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::{Core, session_config};
use crate::events::Event;
use crate::inbox::{InboxReceiver, Incoming, MAX_FRAME};
use crate::lifecycle::ConnectionState;
use crate::session::{self, Session};

/// How long a handover after a server `RECONNECT` may take: the new connection must be logged in by then,
/// or the bot falls back to the normal reconnect; if it is logged in but some joins are still unconfirmed,
/// it switches anyway. Twitch closes the old connection itself about 30 s after `RECONNECT`.
pub const HANDOVER_LIMIT: Duration = Duration::from_secs(30);
/// How long a replaced connection is still read after its close frame was sent (chat already on its way
/// still counts), before it is dropped.
const RETIRE_WAIT: Duration = Duration::from_secs(5);

/// An open WebSocket and what its handlers feed.
pub(super) struct Link {
    pub(super) client: websockets::WebsocketClient,
    pub(super) incoming: InboxReceiver,
}

/// A connection being opened (`websockets::create_client_with` on the blocking pool).
pub(super) type ConnectTask = JoinHandle<Result<Link, websockets::Error>>;

/// The driver's sockets.
///
/// The main link: at most one of `retry_at` (waiting to connect), `connecting`, `up` is set. A handover's new
/// link (`new_connecting`, `new_up`: only while `Core::handover` is set), and a replaced link being closed
/// (`old`: only while `Core::retiring` is set).
#[derive(Default)]
pub(super) struct Links {
    /// When to connect the main link again.
    pub(super) retry_at: Option<Instant>,
    /// The main link, connecting.
    pub(super) connecting: Option<ConnectTask>,
    /// The main link, open.
    pub(super) up: Option<Link>,
    /// A handover's new link, connecting.
    pub(super) new_connecting: Option<ConnectTask>,
    /// A handover's new link, open.
    pub(super) new_up: Option<Link>,
    /// A replaced link, closed with 1000 and still read.
    pub(super) old: Option<Link>,
}

/// Connects with `websockets::create_client_with` (blocking until the handshake; run on the blocking pool).
pub(super) fn spawn_connect(
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
pub(super) struct Handover {
    /// A new session with the same config, wanting the same channels as the main one.
    pub(super) session: Session,
    /// Until then the old connection is kept; see [`HANDOVER_LIMIT`].
    pub(super) until: Instant,
    /// Channels whose join failed on the new connection (they do not hold the switch back).
    pub(super) failed: Vec<String>,
    /// The new connection cannot be used (connect failed, closed, asked for a reconnect itself): why.
    pub(super) broken: Option<String>,
}

impl Handover {
    /// Logged in, and every wanted channel joined (or given up on).
    pub(super) fn ready(&self) -> bool {
        self.session.state() == session::SessionState::LoggedIn
            && self.session.wanted_channels().all(|c| {
                self.failed.iter().any(|f| f == c) || self.session.joined_channels().any(|j| j == c)
            })
    }
}

/// A replaced connection, closed with 1000 and read until the server's close (or [`RETIRE_WAIT`]).
pub(super) struct Retiring {
    /// Its session: only the chat it still parses is used (the engine de-duplicates by message `id`).
    pub(super) session: Session,
    /// Dropped at this time even if the server has not closed it.
    pub(super) until: Instant,
}

/// Which session an event comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
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
pub(super) fn end_reason(end: Option<Incoming>) -> String {
    match end {
        Some(Incoming::Closed { code, reason }) => closed_reason(code, &reason),
        Some(Incoming::Error(e)) => format!("connection error: {e}"),
        Some(Incoming::Frame(_)) | None => "connection ended".to_owned(),
    }
}

impl Core {
    /// The link is gone: tell the session, emit `disconnected` + `reconnecting`, schedule the retry.
    pub(super) fn link_lost(&mut self, reason: String, now: Instant) -> Instant {
        warn!(%reason, "disconnected");
        self.session.handle_disconnected(now);
        self.pump_session_only(now);
        self.chat.joined.clear();
        self.chat.outbox.emit(Event::Disconnected {
            reason: reason.clone(),
        });
        let (attempt, delay) = self.backoff.handle_disconnected(now, rand::random::<f64>());
        info!(attempt, delay_ms = delay.as_millis() as u64, "reconnecting");
        self.chat.outbox.emit(Event::Reconnecting {
            attempt,
            delay_ms: delay.as_millis() as u64,
            reason,
        });
        self.set_state(ConnectionState::Reconnecting);
        now + delay
    }

    /// After each turn of the loop: a server RECONNECT on the main link opens the new connection (the old one
    /// keeps reading); a handover that failed (or is not logged in within the limit) drops both links the
    /// usual way; a ready one (or one whose old link ended first) becomes the main link.
    pub(super) fn handover_step(&mut self, links: &mut Links, now: Instant) {
        // A server RECONNECT on the main link: open the new connection now, keep the old one reading.
        if let Some(reason) = self.handover_wanted.take()
            && links.up.is_some()
            && self.handover.is_none()
        {
            let mut config = session_config(&self.settings);
            config.channels = self.session.wanted_channels().map(str::to_owned).collect();
            info!(%reason, "handover: opening a new connection while the old one keeps reading");
            let mut session = Session::new(config);
            session.share_join_budget(&self.session); // Twitch counts JOINs per account
            self.handover = Some(Handover {
                session,
                until: now + HANDOVER_LIMIT,
                failed: Vec::new(),
                broken: None,
            });
            links.new_connecting = Some(spawn_connect(
                self.settings.config.connection.server.clone(),
                self.settings.config.connection.ca_file.clone(),
            ));
            self.chat.outbox.emit(Event::Reconnecting {
                attempt: 0,
                delay_ms: 0,
                reason,
            });
        }

        // The handover failed (or is not logged in within the limit): the normal path, for both links.
        let failed = self.handover.as_ref().and_then(|h| match &h.broken {
            Some(b) => Some(b.clone()),
            None if now >= h.until && h.session.state() != session::SessionState::LoggedIn => Some(
                format!("not logged in within {} s", HANDOVER_LIMIT.as_secs()),
            ),
            None => None,
        });
        if let Some(why) = failed {
            warn!(%why, "handover: the new connection failed; reconnecting the usual way");
            self.handover = None;
            if let Some(l) = links.new_up.take() {
                let _ = l.client.close(1000, "");
            }
            if let Some(task) = links.new_connecting.take() {
                task.abort();
            }
            self.drop_link.get_or_insert_with(|| {
                format!(
                    "the server asked to reconnect (RECONNECT) and the new connection failed: {why}"
                )
            });
        } else if self
            .handover
            .as_ref()
            .is_some_and(|h| h.ready() || now >= h.until)
            || (self.handover.is_some() && self.drop_link.is_some())
        {
            // Ready (or the old link ended first): the new connection becomes the main one.
            if let Some(reason) = self.drop_link.take() {
                info!(%reason, "handover: the old connection ended before the new one was ready");
            }
            self.promote(links, now);
            self.pump(links.up.as_mut(), None, now);
        }
    }

    pub(super) fn pump_session_only(&mut self, now: Instant) {
        while let Some(ev) = self.session.poll_event() {
            self.on_session_event(ev, now, Role::Main);
        }
    }

    /// Drains the sessions' and the engine's outputs until all are quiet: the main session's lines go to
    /// `link`, a handover's to `new_link`; a retiring session's lines are dropped (its socket is closing).
    pub(super) fn pump(
        &mut self,
        mut link: Option<&mut Link>,
        mut new_link: Option<&mut Link>,
        now: Instant,
    ) {
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
            busy |= self.chat.pump_engine(now);
            for (channel, text) in std::mem::take(&mut self.chat.announcements) {
                let _ = self.session.say(&channel, &text);
            }
            if let Some(l) = link.as_deref_mut() {
                while let Some(line) = self.session.poll_transmit(Instant::now()) {
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
                while let Some(line) = h.session.poll_transmit(Instant::now()) {
                    busy = true;
                    if let Err(e) = l.client.send_text(line) {
                        h.broken.get_or_insert_with(|| format!("send failed: {e}"));
                    }
                }
            }
            if let Some(r) = self.retiring.as_mut() {
                while r.session.poll_transmit(Instant::now()).is_some() {}
            }
            if !busy {
                break;
            }
        }
    }

    /// Ends a handover: the new connection (open or still connecting) becomes the main one, with the old
    /// session's queued outgoing chat and rate-limit history; the old connection is closed with 1000 and read
    /// until the server closes it (see [`Retiring`]).
    pub(super) fn promote(&mut self, links: &mut Links, now: Instant) {
        let Links {
            connecting,
            up,
            new_connecting,
            new_up,
            old,
            ..
        } = links;
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
        self.chat.joined = self.session.joined_channels().map(str::to_owned).collect();
        info!(
            open = up.is_some(),
            queued_chat = self.session.queued_messages(),
            "handover: the new connection is now the main one; the old one is closed with 1000"
        );
    }
}
