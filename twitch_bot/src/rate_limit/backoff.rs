//! The reaction to `NOTICE msg_ratelimit`, scaled to the evidence.
//!
//! One notice is most likely jitter (a line that arrived a few milliseconds early by Twitch's clock): the
//! limiter pauses briefly ([`RateLimitConfig::backoff_initial`], 2 s) and then sends at the full rate again.
//! Only repeated notices inside one window ([`RateLimitConfig::window`], 30 s) are evidence that the
//! account's real limit is lower than assumed; each one then also cuts the allowance of the bucket the
//! notice's channel uses by a quarter (100 % → 75 % → 50 % → 25 %, never lower), and doubles the pause (up to
//! [`RateLimitConfig::backoff_max`]). Each [`RateLimitConfig::rate_recovery`] (15 s) without a further notice
//! gives a quarter back, so the deepest cut is gone 45 s after the last notice: within a minute of clean
//! sending.
//!
//! | notices within 30 s | pause | allowance (20 per 30 s account) |
//! |---|---|---|
//! | 1 | 2 s | 20 |
//! | 2 | 4 s | 15, then 20 after 15 s quiet |
//! | 3 | 8 s | 10, 15 after 15 s, 20 after 30 s |
//! | 4 or more | 16 s, then 30 s | 5, ..., 20 after 45 s |
//!
//! ```
//! use std::time::{Duration, Instant};
//! use twitch_bot::rate_limit::{RateLimitConfig, backoff::NoticeBackoff};
//! let config = RateLimitConfig::default();
//! let mut b = NoticeBackoff::default();
//! let t0 = Instant::now();
//! assert_eq!(b.on_notice(t0, &[0], &config), Duration::from_secs(2));
//! assert_eq!(b.level(0, t0), 0, "one notice: a pause, no cut");
//! assert_eq!(b.on_notice(t0 + Duration::from_secs(3), &[0], &config), Duration::from_secs(4));
//! assert_eq!(b.level(0, t0 + Duration::from_secs(3)), 1, "a repeat within 30 s: cut by a quarter");
//! assert_eq!(b.level(0, t0 + Duration::from_secs(18)), 0, "grown back after 15 s without a notice");
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::RateLimitConfig;

/// The deepest cut: three quarters of the allowance.
pub const MAX_LEVEL: u32 = 3;

/// A bucket's cut: `level` quarters at `since` (the last notice), one undone per recovery step after it.
#[derive(Debug, Clone, Copy)]
struct Cut {
    level: u32,
    since: Instant,
    step: Duration,
}

impl Cut {
    fn steps(&self, now: Instant) -> u32 {
        let elapsed = now.saturating_duration_since(self.since);
        let steps = elapsed.as_nanos() / self.step.as_nanos().max(1);
        u32::try_from(steps).unwrap_or(u32::MAX)
    }

    fn at(&self, now: Instant) -> u32 {
        self.level.saturating_sub(self.steps(now))
    }

    fn next_step(&self, now: Instant) -> Option<Instant> {
        (self.at(now) > 0).then(|| {
            let done = self.steps(now).saturating_add(1);
            self.since + self.step.saturating_mul(done)
        })
    }
}

/// Pause and allowance cuts after `msg_ratelimit` notices (see the [module docs](self)). Buckets are
/// `0` (non-moderator) and `1` (moderator/broadcaster).
#[derive(Debug, Clone, Default)]
pub struct NoticeBackoff {
    /// Notice times within the last window (the evidence).
    recent: VecDeque<Instant>,
    paused_until: Option<Instant>,
    cuts: [Option<Cut>; 2],
}

/// Most notices remembered (more than enough to reach the longest pause and the deepest cut).
const MAX_RECENT: usize = 32;

impl NoticeBackoff {
    /// Records a notice at `now` for `buckets`; returns the pause it starts.
    pub fn on_notice(
        &mut self,
        now: Instant,
        buckets: &[usize],
        config: &RateLimitConfig,
    ) -> Duration {
        while self
            .recent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= config.window)
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= MAX_RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(now);
        let repeats = u32::try_from(self.recent.len() - 1).unwrap_or(u32::MAX);
        let pause = config
            .backoff_initial
            .saturating_mul(1u32 << repeats.min(16))
            .min(config.backoff_max.max(config.backoff_initial));
        let until = now + pause;
        self.paused_until = Some(self.paused_until.map_or(until, |p| p.max(until)));
        if repeats > 0 {
            for &b in buckets {
                let Some(slot) = self.cuts.get_mut(b) else {
                    continue;
                };
                let level = slot.map_or(0, |c| c.at(now));
                *slot = Some(Cut {
                    level: (level + 1).min(MAX_LEVEL),
                    since: now,
                    step: config.rate_recovery,
                });
            }
        }
        pause
    }

    /// The end of the pause, if one is still running at `now`.
    pub fn paused_until(&self, now: Instant) -> Option<Instant> {
        self.paused_until.filter(|p| *p > now)
    }

    /// The cut (in quarters, 0 to [`MAX_LEVEL`]) of `bucket` at `now`.
    pub fn level(&self, bucket: usize, now: Instant) -> u32 {
        self.cuts
            .get(bucket)
            .copied()
            .flatten()
            .map_or(0, |c| c.at(now))
    }

    /// When a cut of any of `buckets` next grows back, if one is in force at `now`.
    pub fn next_step(&self, buckets: &[usize], now: Instant) -> Option<Instant> {
        buckets
            .iter()
            .filter_map(|b| self.cuts.get(*b).copied().flatten())
            .filter_map(|c| c.next_step(now))
            .min()
    }

    /// `base` cut by `level` quarters (never below 1).
    pub fn cut(base: usize, level: u32) -> usize {
        let quarters = 4 - level.min(MAX_LEVEL) as usize;
        (base * quarters / 4).max(1).min(base.max(1))
    }

    /// Notices counted in the window ending at `now` (for the status view).
    pub fn recent(&self, now: Instant, window: Duration) -> usize {
        self.recent
            .iter()
            .filter(|t| now.saturating_duration_since(**t) < window)
            .count()
    }
}
