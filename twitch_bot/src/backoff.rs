//! Reconnect delays: exponential backoff with jitter, reset after a stable connection.
//!
//! Attempt `n` (from 1) waits a delay drawn uniformly from `[0.5 * b, b]` where `b = min(1 s * 2^(n-1), 60 s)`,
//! but never less than 1 s: 1 s, 1–2 s, 2–4 s, 4–8 s, ..., 30–60 s. The jitter spreads many bots restarting at once
//! (Twitch limits logins to 20 per 10 s per account). A connection that stayed up for [`STABLE_AFTER`] resets the
//! count, so a bot that was fine for an hour retries after about a second, not a minute.
//!
//! The schedule is a pure function ([`delay_for`]) so it can be tested without a clock.
//!
//! ```
//! use std::time::Duration;
//! use twitch_bot::backoff::delay_for;
//!
//! assert_eq!(delay_for(1, 0.0), Duration::from_secs(1));
//! assert_eq!(delay_for(4, 1.0), Duration::from_secs(8));
//! assert_eq!(delay_for(30, 1.0), Duration::from_secs(60));
//! ```

use std::time::{Duration, Instant};

/// The shortest delay.
pub const MIN_DELAY: Duration = Duration::from_secs(1);
/// The longest delay.
pub const MAX_DELAY: Duration = Duration::from_secs(60);
/// A connection up this long counts as stable and resets the attempt count.
pub const STABLE_AFTER: Duration = Duration::from_secs(60);

/// The delay before attempt `attempt` (1-based; 0 is treated as 1), for a jitter value `jitter` in `[0, 1]`
/// (0 gives the shortest delay of the attempt's range, 1 the longest).
pub fn delay_for(attempt: u32, jitter: f64) -> Duration {
    let exp = attempt.saturating_sub(1).min(16);
    let ceiling = MIN_DELAY.saturating_mul(1 << exp).min(MAX_DELAY);
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        1.0
    };
    ceiling
        .mul_f64(0.5 + 0.5 * jitter)
        .clamp(MIN_DELAY, MAX_DELAY)
}

/// Counts attempts and hands out delays; the driver owns one for the whole run.
#[derive(Debug, Default)]
pub struct Backoff {
    attempt: u32,
    connected_at: Option<Instant>,
}

impl Backoff {
    /// A fresh schedule (next attempt is 1).
    pub fn new() -> Backoff {
        Backoff::default()
    }

    /// Call when a connection is established (logged in).
    pub fn handle_connected(&mut self, now: Instant) {
        self.connected_at = Some(now);
    }

    /// Call when the connection is lost; returns `(attempt, delay)` for the next try. A connection that was up
    /// for [`STABLE_AFTER`] or longer starts the count again at 1.
    pub fn handle_disconnected(&mut self, now: Instant, jitter: f64) -> (u32, Duration) {
        if let Some(at) = self.connected_at.take()
            && now.saturating_duration_since(at) >= STABLE_AFTER
        {
            self.attempt = 0;
        }
        self.attempt = self.attempt.saturating_add(1);
        (self.attempt, delay_for(self.attempt, jitter))
    }

    /// The number of the last attempt handed out (0 before any).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }
}
