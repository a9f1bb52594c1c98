//! Let a live Twitch chat play a game. (Docs come with issues 3 to 5.)

pub mod backoff;
pub mod bot;
pub mod chatplay;
pub mod config;
pub mod demo;
pub mod driver;
pub mod events;
pub mod irc;
pub mod outbox;
pub mod rate_limit;
pub mod session;
pub mod stdio;
