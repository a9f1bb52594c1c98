//! The ChatPlay engine: keyword handlers, chat commands and fair votes ("Twitch Plays").
//!
//! What Lumberyard's TwitchChatPlay gem offered (keywords) and its legacy ChatPlay gem's votes,
//! without their bugs: a thread-safe keyword table with tokens and per-keyword switches, chat
//! commands with cooldowns and a moderators-only flag, and timed vote rounds in democracy or
//! anarchy mode with fair, replay-proof counting.
//!
//! The engine is **pure logic with an injected clock**, and **blind to transports**: it reads
//! transport-neutral chat ([`ChatMessage`], [`Moderation`]; the IRC side converts `PRIVMSG`,
//! `CLEARCHAT` and `CLEARMSG` into them in [`irc::chat`](crate::irc::chat)) and the current
//! [`Instant`](std::time::Instant), and produces [`Event`]s. Redemptions of channel-points
//! rewards come in as [`Redemption`]s (or, over IRC, as chat messages carrying a reward id). It never blocks, sleeps, spawns or does I/O, so every rule is tested
//! without a network, and the bot program and a game can both drive it.
//!
//! # A game loop in 20 lines
//!
//! ```
//! use std::time::{Duration, Instant};
//! use twitch_bot::chatplay::{Engine, EngineConfig, Event, VoteConfig};
//! use twitch_bot::chatplay::ChatMessage;
//! // What a transport hands the engine (the IRC side builds it from a PRIVMSG line).
//! fn chat(user: &str, id: &str, text: &str) -> ChatMessage<'static> {
//!     let mut msg = ChatMessage::new("chan", user.to_owned(), text.to_owned());
//!     msg.user_id = Some(format!("id-{user}").into());
//!     msg.message_id = Some(id.to_owned().into());
//!     msg
//! }
//!
//! let mut vote = VoteConfig::new("move", ["up", "down", "left", "right"]);
//! vote.window_secs = 20.0;
//! let mut config = EngineConfig::new("my_bot");
//! config.votes.push(vote);
//! let mut engine = Engine::new(config)?;
//!
//! let t0 = Instant::now();
//! engine.start(t0); // round 1 opens
//! engine.handle_chat(&chat("ann", "m1", "UP"), t0 + Duration::from_secs(1));
//! engine.handle_chat(&chat("bob", "m2", "!vote down"), t0 + Duration::from_secs(2));
//! engine.handle_chat(&chat("cid", "m3", "+up \u{E0000}"), t0 + Duration::from_secs(3));
//! engine.handle_chat(&chat("cid", "m3", "+up \u{E0000}"), t0 + Duration::from_secs(4)); // replay: ignored
//! engine.handle_chat(&chat("dee", "m4", "up and away"), t0 + Duration::from_secs(5)); // not a ballot
//!
//! engine.handle_timeout(t0 + Duration::from_secs(20)); // round 1 closes, round 2 opens
//! while let Some(event) = engine.poll_event() {
//!     if let Event::VoteClosed(result) = event {
//!         assert_eq!(result.winner.unwrap().label(), "up");
//!         assert_eq!(result.voters, 3);
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Parts
//!
//! | module | holds |
//! |---|---|
//! | [`engine`] | [`Engine`]: the sans-IO state machine (`handle_*` in, `poll_*` out) |
//! | [`message`] | [`ChatMessage`] and [`Moderation`]: what a transport hands the engine |
//! | [`config`] | [`VoteConfig`], [`CommandConfig`], [`EngineConfig`] and their validation |
//! | [`vote`] | [`Vote`]: options (legacy gem operations), rounds, ballots, tally, fairness rules |
//! | [`normalize`] | what a message is reduced to before matching |
//! | [`ballot`] | which normalised messages are ballots |
//! | [`commands`] | `!name args` with cooldowns and a moderators-only flag |
//! | [`keywords`] | [`Keywords`]: the thread-safe keyword handler table and game-loop queue |
//! | [`event`] | [`Event`] and the result types |
//! | [`queue`] | [`BoundedQueue`]: the drop-newest bounded queue |
//! | [`dedup`] | message-id memory against replays |
//! | [`reward`] | [`Redemption`] and [`RewardConfig`]: channel-points rewards as game input |
//! | [`weight`] | weighted votes: bits add weight to a ballot, up to a cap |
//!
//! # Guarantees
//!
//! * **Threads.** [`Engine`] is `Send`: own it on one thread (the driver's task or the game
//!   loop). [`Keywords`] is `Send + Sync` and shared: change it from any thread while messages
//!   arrive; handlers run inline or on the game loop (see [`keywords`]).
//! * **Blocking.** Nothing blocks except the keyword table's short lock, never held while a
//!   handler runs.
//! * **Memory.** Bounded: the event queue and the keyword queue drop the newest when full (and
//!   count it), the message-id memory forgets its oldest generation of ids, voters and cooldown
//!   entries of inactive users are pruned, and each vote holds at most `max_voters` voter
//!   records (new voters past it are refused and counted, see [`vote`]). The ballot hot path allocates only for a user's first ballot in
//!   a while (the user id) and never for rejected messages.
//! * **Errors.** Configuration errors are [`ConfigError`], vote operations [`VoteError`], keyword
//!   registration [`KeywordError`]; hostile chat never panics and is simply not a ballot.
//! * **Determinism.** Results do not depend on hash order or on the order other users voted in;
//!   random tie-breaks come from a seeded RNG whose seed is logged.

pub mod ballot;
pub mod bot_config;
pub mod commands;
pub mod config;
mod count;
pub mod dedup;
pub mod engine;
pub mod event;
mod fasthash;
pub mod keywords;
pub mod message;
pub mod normalize;
pub mod queue;
pub mod reward;
pub mod vote;
pub mod weight;

#[cfg(test)]
mod reward_tests;
#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;

pub use commands::Commands;
pub use config::{
    CommandConfig, ConfigError, DEFAULT_MAX_VOTERS, EngineConfig, MAX_TALLY_INTERVAL_SECS,
    MIN_TALLY_INTERVAL_SECS, Mode, Start, TieBreak, VoteConfig,
};
pub use dedup::MessageKey;
pub use engine::Engine;
pub use event::{
    AnarchyInput, Choice, CommandInvocation, Event, LiveTally, RedemptionEvent, RoundOpened,
    TallyEntry, VoteResult,
};
pub use keywords::{
    Delivery, KeywordError, KeywordHandler, KeywordHit, KeywordToken, Keywords, MatchMode,
    RawHandler,
};
pub use message::{ChatMessage, Moderation, Roles};
pub use queue::BoundedQueue;
pub use reward::{Redemption, RewardConfig};
pub use vote::{Vote, VoteError};
