//! What the game and the driver say to each other: [`Request`]s in, the [`ConnectionState`] and the reason
//! the bot stopped ([`BotError`]) out.
//!
//! These types sit below both [`crate::bot`] (the in-process handle) and [`crate::driver`] (the task that runs
//! the connection), so each of those depends on this module and neither on the other's internals; `bot`
//! re-exports them, which is where users find them (`twitch_bot::bot::BotError`).

use crate::events::{Control, ControlError, Event};

/// Capacity of the request channel (game → bot). A full channel makes the request methods return
/// [`BotError::Busy`] instead of blocking the game.
pub const REQUEST_QUEUE: usize = 256;

/// Where the connection stands. Changes also arrive as events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// Connecting or logging in (first attempt).
    Connecting,
    /// Logged in; channels are joined or being joined.
    Connected,
    /// The connection was lost; waiting to try again.
    Reconnecting,
    /// The bot has stopped (shutdown, or a fatal error such as a rejected login).
    Stopped,
}

/// Why the bot could not start, stopped, or refused a request.
#[derive(Debug, thiserror::Error)]
pub enum BotError {
    /// The server rejected the login. The message says what to fix.
    #[error("authentication failed: {0}")]
    AuthFailed(String),
    /// The configuration cannot be used (e.g. an unreadable CA file).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The bot's thread or runtime could not be started.
    #[error("cannot start the bot: {0}")]
    Start(#[source] std::io::Error),
    /// The bot has stopped; requests go nowhere.
    #[error("the bot has stopped")]
    Stopped,
    /// Too many requests are waiting; try again next frame.
    #[error("the bot is busy (request queue full); try again later")]
    Busy,
    /// The bot's thread panicked (a bug).
    #[error("the bot's thread panicked")]
    Panicked,
}

/// What the game asks of the driver (internal plumbing, public for the program's stdin reader).
#[derive(Debug)]
pub enum Request {
    /// A control operation.
    Control(Control),
    /// A control line that could not be parsed (answered with an `error` event).
    BadControl(ControlError),
    /// Close open rounds with their results, part the channels, close the socket with 1000, stop.
    Shutdown,
    /// The control input (stdin) reached its end.
    InputClosed,
    /// Emit this event (from a helper outside the driver, e.g. the keyboard output's `keys` events).
    Emit(Event),
    /// A control operation whose outcome is wanted: `Ok`, or the reason it was refused (then no `error`
    /// event is emitted; the asker reports it). Used by the local server's `/ws` ops with an `id`.
    Op(Control, tokio::sync::oneshot::Sender<Result<(), String>>),
    /// The engine's and the connection's state now, for the local server's `snapshot` (emits nothing).
    Snapshot(tokio::sync::oneshot::Sender<crate::server::Snapshot>),
}
