//! JOIN pacing: Twitch allows 20 JOINs per 10 s per account, counted by arrival time over a sliding window.
//!
//! [`JoinPacer`] keeps a sliding window of `joins_per_window` per `join_window + margin`, and spreads the
//! JOINs evenly, one every `(join_window + margin) / joins_per_window` (0.5125 s by default), instead of a
//! burst of 20 and then another burst as soon as the window passed: with bursts, two bursts can land inside
//! one 10 s span of the server's clock after a little jitter. [`JoinBudget`] is a shared handle to one
//! pacer, so that the two sessions of a connection handover draw on the same account budget.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use twitch_bot::rate_limit::{JoinPacer, RateLimitConfig};
//! let mut p = JoinPacer::new(&RateLimitConfig::default());
//! let t0 = Instant::now();
//! assert!(p.try_take(t0));
//! assert!(!p.try_take(t0), "spread out, not a burst");
//! assert_eq!(p.next_free(t0), Some(t0 + Duration::from_micros(512_500)));
//! ```

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{RateLimitConfig, SlidingWindow};

/// The JOIN schedule of one account (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct JoinPacer {
    window: SlidingWindow,
    spacing: Duration,
    last: Option<Instant>,
}

impl JoinPacer {
    /// A pacer for `config`'s JOIN limit and margin.
    pub fn new(config: &RateLimitConfig) -> Self {
        let span = config.join_window + config.margin;
        let limit = config.joins_per_window.max(1);
        JoinPacer {
            window: SlidingWindow::new(limit, span),
            spacing: span / u32::try_from(limit).unwrap_or(u32::MAX),
            last: None,
        }
    }

    /// When the next JOIN may go out: `None` if now.
    pub fn next_free(&mut self, now: Instant) -> Option<Instant> {
        let spaced = self.last.map(|l| l + self.spacing).filter(|t| *t > now);
        match (self.window.next_free(now), spaced) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// True (and counted) when a JOIN may go out at `now`.
    pub fn try_take(&mut self, now: Instant) -> bool {
        if self.next_free(now).is_some() || !self.window.try_take(now) {
            return false;
        }
        self.last = Some(now);
        true
    }
}

/// A shared handle to one account's [`JoinPacer`] (cloning shares it).
#[derive(Debug, Clone)]
pub struct JoinBudget(Arc<Mutex<JoinPacer>>);

impl JoinBudget {
    /// A fresh budget for `config`.
    pub fn new(config: &RateLimitConfig) -> Self {
        JoinBudget(Arc::new(Mutex::new(JoinPacer::new(config))))
    }

    /// The pacer (a poisoned lock is recovered: the pacer holds only timestamps).
    pub fn lock(&self) -> MutexGuard<'_, JoinPacer> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_more_than_twenty_in_any_ten_seconds_and_evenly_spread() {
        let config = RateLimitConfig::default();
        let mut p = JoinPacer::new(&config);
        let t0 = Instant::now();
        let mut sent = Vec::new();
        let mut now = t0;
        // Asked for 100 JOINs at once, polled every 10 ms with a late timer now and then.
        while sent.len() < 100 {
            if p.try_take(now) {
                sent.push(now);
            }
            now += Duration::from_millis(if sent.len() % 7 == 0 { 37 } else { 10 });
        }
        for (i, t) in sent.iter().enumerate() {
            let in_window = sent[i..]
                .iter()
                .take_while(|u| **u - *t < config.join_window + config.margin)
                .count();
            assert!(in_window <= 20, "{in_window} JOINs within 10.25 s");
        }
        for w in sent.windows(2) {
            assert!(
                w[1] - w[0] >= Duration::from_millis(512),
                "spread: {:?}",
                w[1] - w[0]
            );
        }
    }
}
