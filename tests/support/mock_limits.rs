//! Twitch's chat and JOIN limits as the mock server enforces them: per account, by the arrival time of
//! each line on the mock's own clock (Twitch's rules, `twitch-irc.md` section 1.5):
//!
//! | rule | non-moderator | moderator / broadcaster |
//! |---|---|---|
//! | `PRIVMSG`s per 30 s (sliding) | 20 (counting non-moderator messages) | 100 (counting all) |
//! | gap between two messages in one channel | 1 s (`msg_ratelimit`) | none |
//! | slow mode (`ROOMSTATE slow=N`) | N s (`msg_slowmode`) | exempt |
//! | identical to the last accepted message in the channel within 30 s (spaces normalised) | `msg_duplicate` | exempt |
//! | JOINs per 10 s (sliding) | 20 | 20 |
//!
//! ```
//! use std::time::{Duration, Instant};
//! use e2e::mock_limits::{Account, Refusal, Rules};
//! let mut a = Account::default();
//! let t = Instant::now();
//! let plain = Rules { moderator: false, slow_secs: 0 };
//! assert!(a.privmsg(t, "chan", "hi", plain, true).is_ok());
//! let early = t + Duration::from_millis(999);
//! assert_eq!(a.privmsg(early, "chan", "ho", plain, true), Err(Refusal::RateLimited));
//! assert_eq!(a.privmsg(t + Duration::from_secs(1), "chan", " hi ", plain, true), Err(Refusal::Duplicate));
//! ```

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(30);
const JOIN_WINDOW: Duration = Duration::from_secs(10);
const CHANNEL_GAP: Duration = Duration::from_secs(1);

/// How the account stands in one channel.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// Moderator or broadcaster there.
    pub moderator: bool,
    /// The channel's slow mode in seconds (0: off).
    pub slow_secs: u64,
}

/// Why a `PRIVMSG` is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Too many in 30 s, or less than 1 s after the last one in the channel.
    RateLimited,
    /// Inside the channel's slow mode; the number is the seconds left (rounded up).
    SlowMode(u64),
    /// The same text as the last accepted message in the channel, within 30 s.
    Duplicate,
}

impl Refusal {
    /// The NOTICE's `msg-id`.
    pub fn msg_id(&self) -> &'static str {
        match self {
            Refusal::RateLimited => "msg_ratelimit",
            Refusal::SlowMode(_) => "msg_slowmode",
            Refusal::Duplicate => "msg_duplicate",
        }
    }

    /// The NOTICE's text, as Twitch words it.
    pub fn text(&self) -> String {
        match self {
            Refusal::RateLimited => {
                "Your message was not sent because you are sending messages too quickly.".into()
            }
            Refusal::SlowMode(n) => format!(
                "This room is in slow mode and you are sending messages too quickly. You will be able to talk again in {n} seconds."
            ),
            Refusal::Duplicate => {
                "Your message was not sent because it is identical to the previous one you sent, less than 30 seconds ago.".into()
            }
        }
    }
}

/// One account's history (the mock keeps one per nick, across connections).
#[derive(Debug, Default)]
pub struct Account {
    all: VecDeque<Instant>,
    plain: VecDeque<Instant>,
    last: HashMap<String, (Instant, String)>,
    joins: VecDeque<Instant>,
}

fn expire(q: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while q
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= window)
    {
        q.pop_front();
    }
}

fn normalise(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Account {
    /// Judges a `PRIVMSG` arriving at `at`; an accepted one is recorded. With `enforce` off every
    /// message is accepted.
    ///
    /// # Errors
    /// The [`Refusal`] Twitch would answer with.
    pub fn privmsg(
        &mut self,
        at: Instant,
        channel: &str,
        text: &str,
        rules: Rules,
        enforce: bool,
    ) -> Result<(), Refusal> {
        expire(&mut self.all, at, WINDOW);
        expire(&mut self.plain, at, WINDOW);
        if enforce {
            if self.all.len() >= 100 {
                return Err(Refusal::RateLimited);
            }
            if !rules.moderator {
                if self.plain.len() >= 20 {
                    return Err(Refusal::RateLimited);
                }
                if let Some((last, last_text)) = self.last.get(channel) {
                    let since = at.saturating_duration_since(*last);
                    if since < CHANNEL_GAP {
                        return Err(Refusal::RateLimited);
                    }
                    let slow = Duration::from_secs(rules.slow_secs);
                    if since < slow {
                        let left = (slow - since).as_secs_f64().ceil() as u64;
                        return Err(Refusal::SlowMode(left.max(1)));
                    }
                    if since < WINDOW && normalise(last_text) == normalise(text) {
                        return Err(Refusal::Duplicate);
                    }
                }
            }
        }
        self.all.push_back(at);
        if !rules.moderator {
            self.plain.push_back(at);
        }
        self.last.insert(channel.to_owned(), (at, text.to_owned()));
        Ok(())
    }

    /// Records `n` channels joined at `at`; true when that broke the 20-per-10-s JOIN limit.
    pub fn join(&mut self, at: Instant, n: usize) -> bool {
        expire(&mut self.joins, at, JOIN_WINDOW);
        for _ in 0..n {
            self.joins.push_back(at);
        }
        self.joins.len() > 20
    }
}
