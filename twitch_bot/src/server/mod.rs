//! The local HTTP + WebSocket server (`[server]` in the config, `--demo`): an overlay page for an OBS Browser
//! Source, and a WebSocket API for games in any language.
//!
//! | route | what |
//! |---|---|
//! | `GET /overlay` | the vote overlay (HTML/CSS/JS embedded in the binary; nothing loaded from elsewhere) |
//! | `GET /ws` | WebSocket: a `snapshot`, then every event the program prints on stdout, in order, plus live `tally` pushes; accepts the stdin control ops |
//! | `GET /metrics` | Prometheus text |
//! | `GET /healthz` | 200 when logged in and every channel is joined, 503 otherwise; JSON says why |
//!
//! The handlers only translate: events come from the stdout writer's tap ([`Server::tap`], fanned out by
//! [`hub`]), ops and snapshots go to the driver as [`Request`]s. The server runs on a thread and a
//! one-thread runtime of its own, so a busy client never takes time from the driver.
//!
//! **Security.** An upgrade to `/ws` whose `Origin` is neither one of the bot's own origins
//! (`http://<listen>`, `http://localhost:<port>`, `http://127.0.0.1:<port>`, `http://[::1]:<port>`) nor in
//! `allowed_origins` gets 403 (cross-site WebSocket hijacking); a request without `Origin` (a game, not a
//! browser) is allowed. With `secret_env` set (required when `listen` is not loopback) every request must
//! carry the secret, as `Authorization: Bearer <secret>` or `?secret=<secret>` (for the OBS URL), or gets 401;
//! it is compared in constant time and registered with [`crate::secret`], so it never reaches the logs.
//! WebSocket messages from clients are capped at [`MAX_CLIENT_MESSAGE`] bytes; request heads are capped by
//! hyper (431 past the limit).

pub mod config;
mod http;
pub mod hub;
pub mod snapshot;
mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

pub use config::ServerConfig;
pub use snapshot::Snapshot;

use crate::bot::Request;
use crate::stdio::EventTap;

/// Largest WebSocket message a client may send (an op is a few hundred bytes).
pub const MAX_CLIENT_MESSAGE: usize = 64 * 1024;
/// Most `/ws` clients at once; further upgrades get 503.
pub const MAX_CLIENTS: usize = 512;
/// How often live tallies are pushed while a round is open (at most 10 per second per vote).
pub const TALLY_EVERY: Duration = Duration::from_millis(100);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// `secret_env` names a variable that is unset or empty.
    #[error(
        "server.secret_env names {0}, but that environment variable is not set or empty (export {0}=<a long random string>)"
    )]
    NoSecret(String),
    /// The secret is too short to be a secret.
    #[error("the secret in {0} is shorter than {min} characters", min = MIN_SECRET)]
    ShortSecret(String),
    /// The server's thread could not be started.
    #[error("cannot start the server thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// Shortest secret accepted.
pub const MIN_SECRET: usize = 16;

/// Reads the secret named by `config.secret_env` (if any) and registers it with [`crate::secret`].
pub fn read_secret(config: &ServerConfig) -> Result<Option<String>, ServerError> {
    let Some(var) = &config.secret_env else {
        return Ok(None);
    };
    let value = std::env::var(var).unwrap_or_default();
    let value = value.trim();
    if value.is_empty() {
        return Err(ServerError::NoSecret(var.clone()));
    }
    if value.chars().count() < MIN_SECRET {
        return Err(ServerError::ShortSecret(var.clone()));
    }
    crate::secret::register(value);
    Ok(Some(value.to_owned()))
}

/// What the handlers share.
struct App {
    hub: Arc<hub::Hub>,
    requests: mpsc::Sender<Request>,
    secret: Option<String>,
    /// Allowed `Origin` values, lowercase.
    origins: Vec<String>,
    /// The channels the config wants joined (for `/healthz`).
    channels: Vec<String>,
}

impl App {
    /// Asks the driver for a snapshot; `None` when it is gone or does not answer in time.
    async fn snapshot(&self) -> Option<Snapshot> {
        let (tx, rx) = oneshot::channel();
        self.requests
            .send_timeout(Request::Snapshot(tx), Duration::from_secs(5))
            .await
            .ok()?;
        tokio::time::timeout(Duration::from_secs(5), rx)
            .await
            .ok()?
            .ok()
    }
}

/// The running server.
pub struct Server {
    addr: SocketAddr,
    hub: Arc<hub::Hub>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("addr", &self.addr).finish()
    }
}

impl Server {
    /// Binds `config.listen` and serves on a thread of its own. `requests` is the driver's request channel;
    /// `channels` the channels the config wants joined. Install [`Server::tap`] in the stdout writer.
    pub fn start(
        config: &ServerConfig,
        requests: mpsc::Sender<Request>,
        channels: Vec<String>,
    ) -> Result<Server, ServerError> {
        let secret = read_secret(config)?;
        let hub = Arc::new(hub::Hub::default());
        let (bound_tx, bound_rx) = std::sync::mpsc::sync_channel(1);
        let listen = config.listen;
        let allowed = config.allowed_origins.clone();
        let thread_hub = hub.clone();
        std::thread::Builder::new()
            .name("twitch_bot-server".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = bound_tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    let listener = match bind(listen) {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = bound_tx.send(Err(e));
                            return;
                        }
                    };
                    let addr = match listener.local_addr() {
                        Ok(a) => a,
                        Err(e) => {
                            let _ = bound_tx.send(Err(e));
                            return;
                        }
                    };
                    let port = addr.port();
                    let mut origins = vec![
                        format!("http://{addr}"),
                        format!("http://localhost:{port}"),
                        format!("http://127.0.0.1:{port}"),
                        format!("http://[::1]:{port}"),
                    ];
                    origins.extend(allowed);
                    let app = Arc::new(App {
                        hub: thread_hub,
                        requests,
                        secret,
                        origins,
                        channels,
                    });
                    let _ = bound_tx.send(Ok(addr));
                    serve(app, listener).await;
                });
            })
            .map_err(ServerError::Thread)?;
        let addr = bound_rx
            .recv()
            .unwrap_or_else(|_| Err(std::io::Error::other("the server thread ended")))
            .map_err(|source| ServerError::Bind {
                addr: config.listen,
                source,
            })?;
        Ok(Server { addr, hub })
    }

    /// The address the server listens on (with the real port when `listen` had port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The overlay's URL.
    pub fn overlay_url(&self) -> String {
        format!("http://{}/overlay", self.addr)
    }

    /// The stdout writer's tap that feeds `/ws` clients (see [`crate::stdio::EventTap`]).
    pub fn tap(&self) -> EventTap {
        let hub = self.hub.clone();
        Box::new(move |e| hub.publish(e))
    }
}

/// Send buffer of each client socket: with small messages a deep kernel buffer only hides a client that
/// stopped reading (and holds memory per client); past it the client's queue fills and the client is closed.
const SOCKET_SEND_BUFFER: u32 = 64 * 1024;

fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    // Accepted sockets inherit it.
    socket.set_send_buffer_size(SOCKET_SEND_BUFFER)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

async fn serve(app: Arc<App>, listener: tokio::net::TcpListener) {
    tokio::spawn(push_tallies(app.clone()));
    let router = http::router(app);
    if let Err(e) = axum::serve(listener, router).await {
        warn!(error = %e, "server stopped");
    }
}

/// While clients are connected: every [`TALLY_EVERY`], the open rounds' live tallies to every client
/// (coalesced per client by the hub).
async fn push_tallies(app: Arc<App>) {
    let mut tick = tokio::time::interval(TALLY_EVERY);
    // What was last pushed per vote, so an unchanged count is not sent again.
    let mut last: std::collections::HashMap<String, (u64, crate::events::Tally, u64)> =
        Default::default();
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        if app.hub.clients() == 0 {
            continue;
        }
        let Some(snap) = app.snapshot().await else {
            debug!("server: no snapshot for the live tallies");
            continue;
        };
        let mut tallies = Vec::new();
        for (vote, event) in snap.open_tallies() {
            let crate::events::Event::Tally {
                round,
                tally,
                voters,
                ..
            } = event
            else {
                continue;
            };
            let key = (*round, tally.clone(), *voters);
            if last.get(vote) == Some(&key) {
                continue;
            }
            last.insert(vote.to_owned(), key);
            tallies.push((
                Arc::from(vote),
                Arc::from(serde_json::to_string(event).unwrap_or_default()),
            ));
        }
        app.hub.publish_tallies(snap.after, tallies);
    }
}
