//! Twitch EventSub over WebSocket: Twitch's preferred way for a bot to read chat, plus channel-point
//! redemptions and cheers.
//!
//! - [`wire`]: the WebSocket messages (welcome, keepalive, notification, reconnect, revocation) and a short
//!   summary of Twitch's shapes and limits;
//! - [`events`]: the `event` objects of the subscription types the bot uses (chat message, delete, clears,
//!   redemption, cheer);
//! - [`helix`]: the Helix calls around it (create subscription, users, send chat message) and their errors;
//! - [`session`]: the sans-IO session (welcome window, keepalive, reconnect overlap, revocations,
//!   de-duplication, subscription planning), tested on a fake clock.
//!
//! Like [`crate::session`] for IRC, nothing here touches a socket or a clock.

pub mod events;
pub mod helix;
pub mod session;
pub mod wire;
