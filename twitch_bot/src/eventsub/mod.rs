//! Twitch EventSub over WebSocket: Twitch's preferred way for a bot to read chat, plus channel-point
//! redemptions and cheers.
//!
//! - [`wire`]: the WebSocket messages (welcome, keepalive, notification, reconnect, revocation) and a short
//!   summary of Twitch's shapes and limits;
//! - [`events`]: the `event` objects of the subscription types the bot uses (chat message, delete, clears,
//!   redemption, cheer);
//! - [`helix`]: the Helix calls around it (create subscription, users, send chat message) and their errors;
//! - [`session`]: the sans-IO session (welcome window, keepalive, reconnect overlap, revocations,
//!   de-duplication, subscription planning), tested on a fake clock;
//! - [`map`]: notifications → the engine's transport-neutral chat message, moderation and redemption;
//! - [`api`]: the thin HTTPS driver for those Helix calls (reqwest; a 401 refreshes the token once);
//! - [`driver`]: the thin async driver that runs it all with `connection.transport = "eventsub"`;
//! - [`check`]: what `--check` says about the EventSub settings.
//!
//! Like [`crate::session`] for IRC, `wire`, `events`, `helix`, `session` and `map` touch no socket and no
//! clock; `api` and `driver` are the I/O around them.

pub mod api;
pub mod check;
pub mod driver;
pub mod events;
pub mod helix;
pub mod map;
pub mod session;
pub mod wire;
