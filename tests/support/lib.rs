//! Support for the workspace end-to-end tests.
//!
//! - [`mock_twitch`]: a mock Twitch chat server (IRC over WebSocket, `ws://` and `wss://`)
//!   that behaves like `irc-ws.chat.twitch.tv`, records everything a client sends and can be
//!   scripted by tests (chat, moderation, PING, RECONNECT, drops, login failure).
//! - [`mock_id`]: a mock Twitch identity server (`id.twitch.tv/oauth2`: device flow, refresh,
//!   validate, revoke) over HTTPS, with tokens that expire after a few seconds.
//! - [`mock_eventsub`]: a mock Twitch EventSub WebSocket server (`wss://`) plus its Helix endpoints
//!   (`https://`: subscriptions, users, chat messages), following Twitch's documented shapes and errors.
//! - [`tls`]: a throwaway test CA made with `rcgen` at test time.
//! - [`bot`]: runs the real `twitch_bot` binary with a generated config, reads its JSON events
//!   from stdout, writes stdin control lines, sends signals and checks exit codes.
//!
//! The tests themselves live in `tests/mock_server.rs` (the mock against a raw client) and
//! `tests/bot_e2e.rs` (the bot against the mock); the end-to-end throughput benchmark is
//! `tests/benches/e2e_throughput.rs` (`cargo bench -p e2e --bench e2e_throughput`).
//!
//! Everything here is async and needs a tokio runtime (the tests use `#[tokio::test]`).

#![warn(missing_docs)]

pub mod bot;
pub mod mock_eventsub;
pub mod mock_id;
pub mod mock_limits;
pub mod mock_twitch;
pub mod tls;
