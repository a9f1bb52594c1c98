//! Let a live Twitch chat play a game: chat votes and commands become game input.
//!
//! `twitch_bot` connects to Twitch chat (IRC over WebSocket, through the `websockets` crate's
//! [`create_client_with`](websockets::create_client_with) and its `OnMessage` handler), parses chat, runs fair
//! votes ("Twitch Plays": democracy and anarchy) and chat commands, and hands the results to a game, either
//! as JSON lines on stdout (the `twitch_bot` program: run it as a child process) or in-process through
//! [`bot::Bot`].
//!
//! # A game loop, in-process
//!
//! ```no_run
//! use twitch_bot::{bot::Bot, config::Config, events::Event};
//!
//! let mut bot = Bot::start(Config::load("config/bot.toml")?)?; // returns at once; connects in the background
//! let mut position = (0i32, 0i32);
//! for _frame in 0..10_000 {
//!     while let Some(event) = bot.try_recv() {                  // never blocks the game
//!         match event {
//!             Event::VoteClosed { winner: Some(input), .. } => match input.as_str() {
//!                 "up" => position.1 -= 1,
//!                 "down" => position.1 += 1,
//!                 _ => {}
//!             },
//!             Event::Command { command, user, .. } => println!("{user} used !{command}"),
//!             _ => {}
//!         }
//!     }
//!     std::thread::sleep(std::time::Duration::from_millis(16)); // draw the frame here
//! }
//! bot.shutdown()?; // open rounds close with their results; channels parted; socket closed with 1000
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Live vote bars for an overlay
//!
//! A `tally` event carries a vote's live count, in option order: ask for one with [`bot::Bot::request_tally`]
//! (stdin: `{"op":"tally","vote":"move"}`), or set `tally_interval_secs` on the vote and the bot reports every
//! that many seconds while a round is open:
//!
//! ```text
//! {"type":"tally","vote":"move","round":3,"open":true,"tally":{"up":5,"left":2},"voters":7,"remaining_ms":8400}
//! ```
//!
//! A complete example game is `examples/grid_walker.rs`; `twitch_bot --demo` shows the program against a
//! built-in simulated chat.
//!
//! # Layout
//!
//! | module | holds |
//! |---|---|
//! | [`irc`] | frame splitting, IRCv3 tags, typed Twitch messages |
//! | [`session`] | the sans-IO Twitch session (login, PING/PONG, joins, rate limits, RECONNECT) |
//! | [`eventsub`] | EventSub over WebSocket: wire types, Helix shapes, the sans-IO session (welcome window, keepalive, reconnect overlap, revocations, de-duplication) |
//! | [`rate_limit`] | the outgoing-chat limiter: Twitch's message and JOIN rates, slow mode, duplicates, splitting |
//! | [`chatplay`] | the sans-IO ChatPlay engine: keywords, commands, votes |
//! | [`config`] | the TOML configuration (strict; errors name file, line and key) |
//! | [`events`] | the JSON event and control-line contract |
//! | [`driver`] | the async glue: socket, timers, reconnects, shutdown (received frames reach it through the private `inbox` module) |
//! | [`lifecycle`] | what the game and the driver say to each other: requests, connection state, stop reason |
//! | [`bot`] | the in-process handle around the driver |
//! | [`outbox`], [`stdio`], [`backoff`] | bounded event delivery, the program's pipes, reconnect delays |
//! | [`output`] | keyboard output: `[[key]]` bindings, the sans-IO key planner, the OS back-end (enigo) |
//! | [`demo`] | the built-in Twitch-like chat server with simulated viewers |
//! | [`server`] | the local HTTP + WebSocket server: the OBS overlay, the `/ws` API for games, metrics |
//! | [`auth`] | Twitch accounts: `twitch_bot login` (device code flow), the token store, refresh and hourly validation |
//! | [`secret`] | the secrets the bot holds, blanked from every log line (dependencies' too) |
//!
//! # Guarantees
//!
//! - **Threads.** [`bot::Bot::start`] runs the bot on a thread of its own with a one-worker tokio runtime
//!   ([`driver::runtime`]) that also runs the socket (plus a small blocking pool used while connecting).
//!   Nothing runs on the game's thread (except keyword handlers it registered as queued), and
//!   no [`bot::Bot`] method blocks except [`bot::Bot::shutdown`], [`bot::Bot::wait`] and the `*_recv` waits.
//! - **Staying up.** Any close, error or missed PONG leads to a reconnect with backoff (1 s doubling to 60 s,
//!   jittered, reset after a stable minute), re-joining every channel. A server `RECONNECT` opens the new
//!   connection while the old one keeps reading, and closes the old one once the new one has joined, so no
//!   chat is lost (see [`driver`]). An open round keeps its ballots across a reconnect; lines seen twice are
//!   recognised by message id and counted once.
//! - **Bounded memory.** Every queue is bounded. When the event reader falls behind, `input`, `command` and
//!   `tally` events are dropped and counted (a `dropped` event reports how many); `vote_closed` and every other
//!   event are never dropped (see [`outbox`]). When the driver falls behind, the socket is not read (TCP
//!   back-pressure), so no chat line is lost.
//! - **Errors.** Hostile input (network, config, chat, stdin) never panics: bad config fails before connecting
//!   with file, line and key; bad stdin lines become `error` events; a rejected login stops the bot with
//!   [`bot::BotError::AuthFailed`] (the program exits with code 2). The OAuth token is only read from the
//!   environment and never logged: [`config::Token`] masks it, and the program's log writer blanks every
//!   registered secret, even in dependencies' trace output ([`secret`]).

pub mod auth;
pub mod backoff;
pub mod bot;
pub mod chatplay;
pub mod config;
pub mod demo;
pub mod driver;
pub mod events;
pub mod eventsub;
mod inbox;
pub mod irc;
pub mod lifecycle;
pub mod outbox;
pub mod output;
pub mod rate_limit;
pub mod secret;
pub mod server;
pub mod session;
pub mod stdio;
