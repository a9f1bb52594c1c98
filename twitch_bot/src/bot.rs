//! The bot in-process: [`Bot::start`] runs the whole bot (connection, reconnects, session, ChatPlay engine) on
//! its own thread and hands back a [`Bot`] to steer it and to take its [`Event`]s: the same events the
//! `twitch_bot` program prints as JSON lines.
//!
//! This is the TwitchChatPlay gem's request API done right: connecting never blocks the caller, several
//! channels can be joined, the connection state is a value you can read ([`Bot::state`]) and its changes are
//! events (`connected`, `disconnected`, `reconnecting`), and messages are rate limited and sanitised.
//!
//! ```no_run
//! use twitch_bot::bot::Bot;
//! use twitch_bot::config::Config;
//! use twitch_bot::events::Event;
//!
//! let mut bot = Bot::start(Config::load("config/bot.toml")?)?;
//! loop {
//!     // Once per game frame: take what chat decided, never blocking.
//!     while let Some(event) = bot.try_recv() {
//!         if let Event::VoteClosed { winner: Some(input), .. } = event {
//!             println!("chat says: {input}");
//!         }
//!     }
//!     # break;
//! }
//! bot.shutdown()?; // closes open rounds (their results arrive as events), parts, closes the socket
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::chatplay::Keywords;
use crate::config::{Config, Token};
use crate::driver::{self, Settings};
use crate::events::{Control, Event};
pub use crate::lifecycle::{BotError, ConnectionState, REQUEST_QUEUE, Request};
use crate::outbox::Outbox;

/// A running bot. Dropping it shuts the bot down (without waiting); prefer [`Bot::shutdown`].
#[derive(Debug)]
pub struct Bot {
    requests: mpsc::Sender<Request>,
    events: mpsc::Receiver<Event>,
    state: watch::Receiver<ConnectionState>,
    thread: Option<JoinHandle<Result<(), BotError>>>,
    keywords: Keywords,
    /// Events taken off the channel while [`Bot::shutdown`] waited (so the bot could deliver its results).
    leftover: std::collections::VecDeque<Event>,
}

impl Bot {
    /// Starts the bot on its own thread with the token from the environment variable named by
    /// `connection.token_env`. Returns at once; connecting happens in the background.
    pub fn start(config: Config) -> Result<Bot, BotError> {
        let token = config.token();
        Bot::start_with_token(config, token)
    }

    /// Starts the bot with an explicit token (`None`: anonymous unless `nick` is set, which then fails the
    /// login).
    pub fn start_with_token(config: Config, token: Option<Token>) -> Result<Bot, BotError> {
        let (requests, requests_rx) = mpsc::channel(REQUEST_QUEUE);
        let (outbox, events) = Outbox::channel();
        let (state_tx, state) = watch::channel(ConnectionState::Connecting);
        let (keywords_to, keywords_rx) = std::sync::mpsc::sync_channel(1);
        let settings = Settings {
            config,
            token,
            keywords_to: Some(keywords_to),
            tokens: None,
        };
        let thread = std::thread::Builder::new()
            .name("twitch_bot".into())
            .spawn(move || {
                let rt = driver::runtime().map_err(BotError::Start)?;
                let state = state_tx.clone();
                let result = rt.block_on(async move {
                    tokio::spawn(driver::run(settings, requests_rx, outbox, state))
                        .await
                        .map_err(|_| BotError::Panicked)?
                });
                // A connect attempt still blocking in the pool must not delay the stop.
                rt.shutdown_timeout(Duration::from_millis(500));
                state_tx.send_replace(ConnectionState::Stopped);
                result
            })
            .map_err(BotError::Start)?;
        // The engine is built first thing on the bot's thread (no I/O): wait for its keyword table, or for the
        // thread's error if the configuration cannot be used.
        let keywords = match keywords_rx.recv() {
            Ok(k) => k,
            Err(_) => {
                return Err(match thread.join() {
                    Ok(Err(e)) => e,
                    Ok(Ok(())) => BotError::Stopped,
                    Err(_) => BotError::Panicked,
                });
            }
        };
        Ok(Bot {
            keywords,
            requests,
            events,
            state,
            thread: Some(thread),
            leftover: Default::default(),
        })
    }

    /// The next event if one is waiting; never blocks (call it every game frame).
    pub fn try_recv(&mut self) -> Option<Event> {
        self.leftover
            .pop_front()
            .or_else(|| self.events.try_recv().ok())
    }

    /// Waits for the next event; `None` once the bot has stopped and every event was taken. Do not call from
    /// inside an async runtime (use [`Bot::events`]).
    pub fn blocking_recv(&mut self) -> Option<Event> {
        self.leftover
            .pop_front()
            .or_else(|| self.events.blocking_recv())
    }

    /// Waits up to `timeout` for the next event. Do not call from inside an async runtime.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Option<Event> {
        let deadline = std::time::Instant::now() + timeout;
        if let Some(e) = self.leftover.pop_front() {
            return Some(e);
        }
        loop {
            match self.events.try_recv() {
                Ok(e) => return Some(e),
                Err(mpsc::error::TryRecvError::Disconnected) => return None,
                Err(mpsc::error::TryRecvError::Empty) => {}
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return None;
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(5)));
        }
    }

    /// The event receiver itself, for async code (`bot.events().recv().await`).
    pub fn events(&mut self) -> &mut mpsc::Receiver<Event> {
        &mut self.events
    }

    /// The keyword table of the bot's ChatPlay engine (the TwitchChatPlay gem's keyword API): register
    /// handlers for chat keywords from any thread. `Delivery::Inline` handlers run on the bot's thread as
    /// messages arrive; queued ones ([`Keywords::register_queued`]) run when the game calls
    /// [`Keywords::run_queued`] on its own thread, once per frame.
    ///
    /// ```no_run
    /// # let mut bot = twitch_bot::bot::Bot::start(twitch_bot::config::Config::demo())?;
    /// let token = bot.keywords().register_queued("!hello", |hit| println!("hello from {}", hit.message.login))?;
    /// // each frame:
    /// bot.keywords().run_queued();
    /// bot.keywords().unregister(token);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn keywords(&self) -> &Keywords {
        &self.keywords
    }

    /// The connection state now.
    pub fn state(&self) -> ConnectionState {
        *self.state.borrow()
    }

    fn request(&self, r: Request) -> Result<(), BotError> {
        self.requests.try_send(r).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => BotError::Busy,
            mpsc::error::TrySendError::Closed(_) => BotError::Stopped,
        })
    }

    /// Joins a channel (a leading `#` and upper case are fine). Confirmed by a `joined` event.
    pub fn join(&self, channel: &str) -> Result<(), BotError> {
        self.request(Request::Control(Control::Join {
            channel: channel.to_owned(),
        }))
    }

    /// Leaves a channel. Confirmed by a `parted` event.
    pub fn leave(&self, channel: &str) -> Result<(), BotError> {
        self.request(Request::Control(Control::Part {
            channel: channel.to_owned(),
        }))
    }

    /// Posts `text` in `channel` (rate limited, line breaks replaced, cut at 500 characters; logged-in bots only).
    pub fn say(&self, channel: &str, text: &str) -> Result<(), BotError> {
        self.request(Request::Control(Control::Say {
            channel: channel.to_owned(),
            text: text.to_owned(),
        }))
    }

    /// Opens a round of the vote named `vote` now (a `vote_opened` event follows).
    pub fn start_vote(&self, vote: &str) -> Result<(), BotError> {
        self.request(Request::Control(Control::StartVote {
            vote: vote.to_owned(),
        }))
    }

    /// Closes the open round of `vote` now (a `vote_closed` event with the result follows).
    pub fn stop_vote(&self, vote: &str) -> Result<(), BotError> {
        self.request(Request::Control(Control::StopVote {
            vote: vote.to_owned(),
        }))
    }

    /// Asks for the live tally of `vote` (for an overlay's vote bars): a [`Event::Tally`] follows, or an
    /// [`Event::Error`] of kind `vote` when there is no such vote. For reports at a steady pace while a round is
    /// open, set the vote's `tally_interval_secs` instead of polling.
    ///
    /// ```no_run
    /// # use twitch_bot::{bot::Bot, config::Config, events::Event};
    /// # let mut bot = Bot::start(Config::load("config/bot.toml")?)?;
    /// bot.request_tally("move")?;
    /// while let Some(event) = bot.recv_timeout(std::time::Duration::from_secs(1)) {
    ///     if let Event::Tally { tally, remaining_ms, .. } = event {
    ///         for (input, ballots) in &tally.0 {
    ///             println!("{input}: {ballots} ({remaining_ms} ms left)");
    ///         }
    ///         break;
    ///     }
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn request_tally(&self, vote: &str) -> Result<(), BotError> {
        self.request(Request::Control(Control::Tally {
            vote: vote.to_owned(),
        }))
    }

    /// Stops the bot gracefully and waits for it: open rounds close with their results, channels are parted,
    /// the socket is closed with code 1000. Events still queued can be taken with [`Bot::try_recv`] afterwards.
    /// Returns the reason the bot stopped, if it was an error (e.g. [`BotError::AuthFailed`]).
    pub fn shutdown(&mut self) -> Result<(), BotError> {
        let _ = self.requests.try_send(Request::Shutdown);
        // That is refused when the request queue is full; closing the handle's end of it stops the driver
        // all the same, once it has handled what is queued (later requests get `BotError::Stopped`).
        drop(std::mem::replace(&mut self.requests, mpsc::channel(1).0));
        // Keep taking events while the bot finishes, so it never waits for room to deliver the results.
        while self.thread.as_ref().is_some_and(|t| !t.is_finished()) {
            let mut got = false;
            while let Ok(e) = self.events.try_recv() {
                self.leftover.push_back(e);
                got = true;
            }
            if !got {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        let result = self.wait();
        while let Ok(e) = self.events.try_recv() {
            self.leftover.push_back(e);
        }
        result
    }

    /// Waits until the bot stops on its own (a fatal error) or after [`Bot::shutdown`]. Keep taking events
    /// meanwhile from another thread, or the bot may wait for room to deliver results.
    pub fn wait(&mut self) -> Result<(), BotError> {
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| BotError::Panicked)?,
            None => Ok(()),
        }
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.requests.try_send(Request::Shutdown);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shutdown_ends_the_bot_even_when_the_request_queue_is_full() {
        // A full request queue: the driver is behind (e.g. a burst of say/tally requests).
        let (requests, mut requests_rx) = mpsc::channel(2);
        requests.try_send(Request::InputClosed).unwrap();
        requests.try_send(Request::InputClosed).unwrap();
        let (events_tx, events) = mpsc::channel(1);
        let (_state_tx, state) = watch::channel(ConnectionState::Connected);
        // Stands in for the driver: it catches up only once `shutdown` has asked to stop (it is taking
        // events by then), then handles requests until `Shutdown` or the end of the channel, like `run`.
        let thread = std::thread::spawn(move || {
            events_tx
                .blocking_send(Event::error("test", "one"))
                .unwrap();
            events_tx
                .blocking_send(Event::error("test", "two"))
                .unwrap();
            while let Some(r) = requests_rx.blocking_recv() {
                if matches!(r, Request::Shutdown) {
                    break;
                }
            }
            Ok(())
        });
        let mut bot = Bot {
            requests,
            events,
            state,
            thread: Some(thread),
            keywords: Keywords::new(),
            leftover: Default::default(),
        };
        let (done_tx, done) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let result = bot.shutdown().is_ok();
            let _ = done_tx.send((result, bot.leftover.len()));
        });
        assert_eq!(
            done.recv_timeout(Duration::from_secs(10)),
            Ok((true, 2)),
            "Bot::shutdown did not return: the stop request was lost to the full queue"
        );
    }
}
