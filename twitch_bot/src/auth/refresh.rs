//! When to refresh and validate the user access token, sans-IO.
//!
//! Twitch's rules, as the [`Refresher`] applies them:
//!
//! - **Before expiry.** A token lives `expires_in` seconds (about four hours); the refresher asks for a
//!   refresh at [`REFRESH_AT`] (90 %) of that lifetime, so a reconnect near the end never presents an
//!   expired token.
//! - **When refused.** A chat login refused with "Login authentication failed", or a 401 from the API, asks
//!   for a refresh at once ([`Refresher::handle_auth_failure`]); the caller then tries once more with the new
//!   token. A second refusal before a successful login ([`Refresher::handle_logged_in`]) is final.
//! - **Hourly validation.** Twitch requires apps to call `GET /oauth2/validate` at start and every hour
//!   ([`VALIDATE_EVERY`]). A 401 there means the token is no longer valid: refresh.
//! - **Revoked.** A refresh the server rejects (the user disconnected the app, the refresh token expired or
//!   was used already) is final: [`Refresher::fatal`] says why, and the bot stops (exit code 2) asking the
//!   user to run `twitch_bot login`.
//! - **Unreachable.** A network error or a 5xx is retried with a growing delay ([`RETRY_MIN`] doubling to
//!   [`RETRY_MAX`]); the current token stays in use meanwhile.
//!
//! A token that cannot be refreshed (from `connection.token_env`) is only validated: when it has expired the
//! refresher reports [`Refresher::take_expired_warning`] once, for the log.
//!
//! The driver asks [`Refresher::poll_timeout`] when to wake, [`Refresher::poll_job`] what to do (one HTTP
//! request at a time), and feeds the answers back.

use std::time::{Duration, Instant};

use crate::auth::http::{RefreshAnswer, ValidateAnswer};

/// Fraction of a token's lifetime after which it is refreshed.
pub const REFRESH_AT: f64 = 0.9;
/// How often the token is validated (Twitch requires at least hourly).
pub const VALIDATE_EVERY: Duration = Duration::from_secs(3600);
/// First retry delay after the identity server could not be reached.
pub const RETRY_MIN: Duration = Duration::from_secs(2);
/// Longest retry delay.
pub const RETRY_MAX: Duration = Duration::from_secs(60);
/// Longest token lifetime honoured when scheduling (a hostile `expires_in` cannot overflow the clock).
const MAX_LIFETIME: Duration = Duration::from_secs(90 * 86_400);

/// An HTTP request the driver should make now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// `POST {id_url}/token` with `grant_type=refresh_token`; answer with [`Refresher::handle_refreshed`].
    Refresh,
    /// `GET {id_url}/validate`; answer with [`Refresher::handle_validated`].
    Validate,
}

/// The refresh and validation schedule. See the [module docs](self).
#[derive(Debug)]
pub struct Refresher {
    can_refresh: bool,
    refresh_at: Option<Instant>,
    validate_at: Option<Instant>,
    in_flight: Option<Job>,
    retried_after_failure: bool,
    refresh_retries: u32,
    validate_retries: u32,
    fatal: Option<String>,
    expired_warning: bool,
}

impl Refresher {
    /// A schedule for a token obtained (or loaded) at `now` that expires `lifetime` from now (`None`:
    /// unknown). `can_refresh`: a refresh token is at hand. The first validation is due at once.
    pub fn new(can_refresh: bool, lifetime: Option<Duration>, now: Instant) -> Refresher {
        let mut r = Refresher {
            can_refresh,
            refresh_at: None,
            validate_at: Some(now),
            in_flight: None,
            retried_after_failure: false,
            refresh_retries: 0,
            validate_retries: 0,
            fatal: None,
            expired_warning: false,
        };
        r.schedule_refresh(lifetime, now);
        r
    }

    fn schedule_refresh(&mut self, lifetime: Option<Duration>, now: Instant) {
        self.refresh_at = match (self.can_refresh, lifetime) {
            (true, Some(l)) => Some(now + l.min(MAX_LIFETIME).mul_f64(REFRESH_AT)),
            _ => None,
        };
    }

    /// When [`poll_job`](Self::poll_job) has something next; `None` while a request is in flight or after
    /// a fatal error.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.in_flight.is_some() || self.fatal.is_some() {
            return None;
        }
        [self.refresh_at, self.validate_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// The request to make now, if one is due (a refresh before a validation).
    pub fn poll_job(&mut self, now: Instant) -> Option<Job> {
        if self.in_flight.is_some() || self.fatal.is_some() {
            return None;
        }
        let job = if self.refresh_at.is_some_and(|t| t <= now) {
            Job::Refresh
        } else if self.validate_at.is_some_and(|t| t <= now) {
            Job::Validate
        } else {
            return None;
        };
        self.in_flight = Some(job);
        Some(job)
    }

    /// A refresh is due or under way: a new connection should wait for it rather than log in with a token
    /// about to be replaced.
    pub fn refresh_pending(&self, now: Instant) -> bool {
        self.fatal.is_none()
            && (self.in_flight == Some(Job::Refresh) || self.refresh_at.is_some_and(|t| t <= now))
    }

    /// The answer to a [`Job::Refresh`].
    pub fn handle_refreshed(&mut self, answer: &RefreshAnswer, now: Instant) {
        if self.in_flight == Some(Job::Refresh) {
            self.in_flight = None;
        }
        match answer {
            RefreshAnswer::Granted(tokens) => {
                self.refresh_retries = 0;
                self.can_refresh = tokens.refresh_token.is_some() || self.can_refresh;
                self.schedule_refresh(tokens.expires_in, now);
            }
            RefreshAnswer::Rejected(message) => {
                self.fatal = Some(format!(
                    "the refresh token was rejected (\"{message}\"): the authorization was revoked or has expired"
                ));
                self.refresh_at = None;
                self.validate_at = None;
            }
            RefreshAnswer::Unreachable(_) => {
                self.refresh_at = Some(now + retry_delay(self.refresh_retries));
                self.refresh_retries = self.refresh_retries.saturating_add(1);
            }
        }
    }

    /// The answer to a [`Job::Validate`].
    pub fn handle_validated(&mut self, answer: &ValidateAnswer, now: Instant) {
        if self.in_flight == Some(Job::Validate) {
            self.in_flight = None;
        }
        match answer {
            ValidateAnswer::Valid(v) => {
                self.validate_retries = 0;
                self.validate_at = Some(now + VALIDATE_EVERY);
                // The server knows best how long the token has left: never refresh later than it says.
                if let Some(left) = v.expires_in
                    && self.can_refresh
                {
                    let due = now + left.min(MAX_LIFETIME).mul_f64(REFRESH_AT);
                    self.refresh_at = Some(self.refresh_at.map_or(due, |t| t.min(due)));
                }
            }
            ValidateAnswer::Invalid => {
                self.validate_retries = 0;
                self.validate_at = Some(now + VALIDATE_EVERY);
                if self.can_refresh {
                    self.refresh_at = Some(now);
                } else {
                    self.expired_warning = true;
                }
            }
            ValidateAnswer::Unreachable(_) => {
                self.validate_at = Some(now + retry_delay(self.validate_retries));
                self.validate_retries = self.validate_retries.saturating_add(1);
            }
        }
    }

    /// The chat server (or the API) refused the token. `Ok`: a refresh is due at once, try once more after
    /// it; `Err`: final (the token cannot be refreshed, or this is the second refusal in a row), with why.
    pub fn handle_auth_failure(&mut self, now: Instant) -> Result<(), String> {
        if let Some(f) = &self.fatal {
            return Err(f.clone());
        }
        if !self.can_refresh {
            return Err("the token was refused and cannot be refreshed".into());
        }
        if self.retried_after_failure {
            return Err("the token was refused again right after a refresh".into());
        }
        self.retried_after_failure = true;
        if self.in_flight != Some(Job::Refresh) {
            self.refresh_at = Some(now);
        }
        Ok(())
    }

    /// A login with the current token succeeded: a later refusal gets its one retry again.
    pub fn handle_logged_in(&mut self) {
        self.retried_after_failure = false;
    }

    /// Why the token can no longer be used, once that is final.
    pub fn fatal(&self) -> Option<&str> {
        self.fatal.as_deref()
    }

    /// `true` once after a validation found a token that cannot be refreshed no longer valid.
    pub fn take_expired_warning(&mut self) -> bool {
        std::mem::take(&mut self.expired_warning)
    }
}

fn retry_delay(retries: u32) -> Duration {
    RETRY_MIN
        .saturating_mul(1u32 << retries.min(10))
        .min(RETRY_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::http::{Tokens, Validation};

    const S: Duration = Duration::from_secs(1);

    fn granted(lifetime: u64) -> RefreshAnswer {
        RefreshAnswer::Granted(Tokens {
            access_token: "new-access-token".into(),
            refresh_token: Some("new-refresh-token".into()),
            expires_in: Some(Duration::from_secs(lifetime)),
            scopes: vec![],
        })
    }

    fn valid(left: Option<u64>) -> ValidateAnswer {
        ValidateAnswer::Valid(Validation {
            client_id: "cid".into(),
            login: "bot".into(),
            user_id: "1".into(),
            scopes: vec![],
            expires_in: left.map(Duration::from_secs),
        })
    }

    #[test]
    fn validates_at_start_then_hourly_and_refreshes_at_ninety_percent() {
        let t0 = Instant::now();
        let mut r = Refresher::new(true, Some(1000 * S), t0);
        assert_eq!(r.poll_timeout(), Some(t0));
        assert_eq!(r.poll_job(t0), Some(Job::Validate));
        assert_eq!(r.poll_job(t0), None, "one request at a time");
        r.handle_validated(&valid(Some(1000)), t0);
        assert_eq!(r.poll_timeout(), Some(t0 + 900 * S));
        assert_eq!(r.poll_job(t0 + 899 * S), None);
        assert!(!r.refresh_pending(t0 + 899 * S));
        assert!(r.refresh_pending(t0 + 900 * S));
        assert_eq!(r.poll_job(t0 + 900 * S), Some(Job::Refresh));
        r.handle_refreshed(&granted(10_000), t0 + 900 * S);
        // Validation comes first now (an hour after the last), the refresh at 900 + 9000 s.
        assert_eq!(r.poll_timeout(), Some(t0 + 3600 * S));
        assert_eq!(r.poll_job(t0 + 3600 * S), Some(Job::Validate));
        r.handle_validated(&valid(Some(7300)), t0 + 3600 * S);
        assert_eq!(r.poll_timeout(), Some(t0 + 7200 * S));
        assert_eq!(r.poll_job(t0 + 7200 * S), Some(Job::Validate));
        r.handle_validated(&valid(None), t0 + 7200 * S);
        assert_eq!(r.poll_timeout(), Some(t0 + 9900 * S));
        assert!(r.fatal().is_none());
    }

    #[test]
    fn a_short_validated_lifetime_brings_the_refresh_forward() {
        let t0 = Instant::now();
        let mut r = Refresher::new(true, Some(14_000 * S), t0);
        assert_eq!(r.poll_job(t0), Some(Job::Validate));
        r.handle_validated(&valid(Some(100)), t0);
        assert_eq!(r.poll_timeout(), Some(t0 + 90 * S));
    }

    #[test]
    fn a_login_failure_refreshes_at_once_and_is_retried_once() {
        let t0 = Instant::now();
        let mut r = Refresher::new(true, Some(1000 * S), t0);
        assert_eq!(r.poll_job(t0), Some(Job::Validate));
        r.handle_validated(&valid(Some(1000)), t0);
        let t1 = t0 + 10 * S;
        assert_eq!(r.handle_auth_failure(t1), Ok(()));
        assert!(r.refresh_pending(t1));
        assert_eq!(r.poll_job(t1), Some(Job::Refresh));
        assert!(r.refresh_pending(t1), "still pending while in flight");
        r.handle_refreshed(&granted(1000), t1);
        assert!(!r.refresh_pending(t1));
        // Refused again before any successful login: final.
        assert!(r.handle_auth_failure(t1 + S).is_err());
        // After a successful login a refusal gets its retry again.
        let mut r = Refresher::new(true, Some(1000 * S), t0);
        assert_eq!(r.handle_auth_failure(t1), Ok(()));
        assert_eq!(r.poll_job(t1), Some(Job::Refresh));
        r.handle_refreshed(&granted(1000), t1);
        r.handle_logged_in();
        assert_eq!(r.handle_auth_failure(t1 + S), Ok(()));
    }

    #[test]
    fn a_rejected_refresh_is_final() {
        let t0 = Instant::now();
        let mut r = Refresher::new(true, Some(10 * S), t0);
        assert_eq!(r.poll_job(t0), Some(Job::Validate));
        r.handle_validated(&valid(Some(10)), t0);
        assert_eq!(r.poll_job(t0 + 9 * S), Some(Job::Refresh));
        r.handle_refreshed(
            &RefreshAnswer::Rejected("Invalid refresh token".into()),
            t0 + 9 * S,
        );
        assert!(r.fatal().unwrap().contains("Invalid refresh token"));
        assert_eq!(r.poll_timeout(), None);
        assert_eq!(r.poll_job(t0 + 10_000 * S), None);
        assert!(!r.refresh_pending(t0 + 10 * S));
        assert!(r.handle_auth_failure(t0 + 10 * S).is_err());
    }

    #[test]
    fn an_invalid_token_found_by_validation_is_refreshed() {
        let t0 = Instant::now();
        let mut r = Refresher::new(true, None, t0);
        assert_eq!(r.poll_job(t0), Some(Job::Validate));
        r.handle_validated(&ValidateAnswer::Invalid, t0);
        assert_eq!(r.poll_job(t0), Some(Job::Refresh));
    }

    #[test]
    fn unreachable_server_is_retried_with_a_growing_delay() {
        let t0 = Instant::now();
        let mut r = Refresher::new(true, Some(10 * S), t0);
        assert_eq!(r.poll_job(t0), Some(Job::Validate));
        r.handle_validated(&ValidateAnswer::Unreachable("down".into()), t0);
        assert_eq!(r.poll_timeout(), Some(t0 + 2 * S));
        let mut now = t0 + 9 * S;
        let mut delays = Vec::new();
        for _ in 0..7 {
            // The refresh is due before the validation retry; refresh first.
            let job = r.poll_job(now);
            if job == Some(Job::Validate) {
                r.handle_validated(&valid(None), now);
                continue;
            }
            assert_eq!(job, Some(Job::Refresh));
            r.handle_refreshed(&RefreshAnswer::Unreachable("down".into()), now);
            let next = r.refresh_at.unwrap();
            delays.push((next - now).as_secs());
            now = next;
        }
        assert_eq!(&delays[..6], &[2, 4, 8, 16, 32, 60]);
        assert!(r.fatal().is_none());
    }

    #[test]
    fn a_token_without_refresh_is_only_validated_and_warned_about() {
        let t0 = Instant::now();
        let mut r = Refresher::new(false, Some(100 * S), t0);
        assert_eq!(r.poll_job(t0), Some(Job::Validate));
        r.handle_validated(&valid(Some(100)), t0);
        assert_eq!(r.poll_timeout(), Some(t0 + VALIDATE_EVERY));
        assert_eq!(r.poll_job(t0 + VALIDATE_EVERY), Some(Job::Validate));
        r.handle_validated(&ValidateAnswer::Invalid, t0 + VALIDATE_EVERY);
        assert!(r.take_expired_warning());
        assert!(!r.take_expired_warning());
        assert!(r.handle_auth_failure(t0 + VALIDATE_EVERY).is_err());
    }
}
