//! The driver: sockets, timers and tasks around the session and the ChatPlay engine (being wired).

use tokio::sync::{mpsc, watch};

use crate::bot::{BotError, ConnectionState, Request};
use crate::config::{Config, Token};
use crate::outbox::Outbox;

/// What the driver needs: the validated config and the token.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The configuration.
    pub config: Config,
    /// The OAuth token; `None` for anonymous.
    pub token: Option<Token>,
}

/// Runs the bot (not wired yet).
pub async fn run(
    _settings: Settings,
    _requests: mpsc::Receiver<Request>,
    _outbox: Outbox,
    _state: watch::Sender<ConnectionState>,
) -> Result<(), BotError> {
    Err(BotError::Config("driver not wired yet".into()))
}
