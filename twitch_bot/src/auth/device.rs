//! The Device Code Grant Flow, sans-IO: when to poll the token endpoint, and what each answer means.
//!
//! Twitch's flow (RFC 8628): `POST {id_url}/device` gives a `device_code`, a `user_code`, a
//! `verification_uri`, `expires_in` and `interval`. The user opens the URL and approves; meanwhile the
//! program polls `POST {id_url}/token` with `grant_type=urn:ietf:params:oauth:grant-type:device_code` and
//! gets `{"status":400,"message":"authorization_pending"}` until the user approves (then the tokens),
//! `slow_down` when it polls too fast (the interval grows by 5 s), `expired_token` once the code expired,
//! or `invalid device code`.
//!
//! [`DeviceFlow`] holds those rules and no socket and no clock: the driver asks [`DeviceFlow::poll_timeout`]
//! when to wake, calls [`DeviceFlow::poll_request`] (`true`: send one token request now) and feeds the
//! answer to [`DeviceFlow::handle_answer`], until [`DeviceFlow::outcome`] is set.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use twitch_bot::auth::device::{DeviceFlow, Outcome};
//! use twitch_bot::auth::http::TokenAnswer;
//!
//! let t0 = Instant::now();
//! let mut flow = DeviceFlow::new(Duration::from_secs(5), Duration::from_secs(1800), t0);
//! assert!(flow.poll_request(t0));                       // the first poll goes at once
//! flow.handle_answer(TokenAnswer::Pending, t0);
//! assert_eq!(flow.poll_timeout(), Some(t0 + Duration::from_secs(5)));
//! assert!(!flow.poll_request(t0 + Duration::from_secs(4)));
//! assert!(flow.poll_request(t0 + Duration::from_secs(5)));
//! flow.handle_answer(TokenAnswer::SlowDown, t0 + Duration::from_secs(5));
//! assert_eq!(flow.poll_timeout(), Some(t0 + Duration::from_secs(15))); // 5 s + 5 s more
//! # assert!(flow.outcome().is_none());
//! # let _ = Outcome::Expired;
//! ```

use std::time::{Duration, Instant};

use crate::auth::http::{TokenAnswer, Tokens};

/// How much `slow_down` adds to the polling interval (RFC 8628 §3.5).
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// The shortest interval honoured, whatever the server says (a zero interval would be a busy loop).
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// The longest interval honoured (a hostile or broken server cannot park the login for hours).
pub const MAX_INTERVAL: Duration = Duration::from_secs(60);

/// The longest device-code lifetime honoured (Twitch gives 30 minutes).
pub const MAX_EXPIRES_IN: Duration = Duration::from_secs(3600);

/// How the flow ended.
#[derive(Debug)]
pub enum Outcome {
    /// The user approved: the tokens.
    Authorized(Tokens),
    /// The device code expired before the user approved (`expired_token`, or `expires_in` passed).
    Expired,
    /// The server refused the flow (`invalid device code`, `access_denied`, ...): its message.
    Refused(String),
}

/// The polling state machine. See the [module docs](self).
#[derive(Debug)]
pub struct DeviceFlow {
    interval: Duration,
    deadline: Instant,
    next_poll: Instant,
    in_flight: bool,
    polls: u32,
    outcome: Option<Outcome>,
}

impl DeviceFlow {
    /// A flow whose device code was issued at `now` with the server's `interval` and `expires_in`.
    pub fn new(interval: Duration, expires_in: Duration, now: Instant) -> DeviceFlow {
        DeviceFlow {
            interval: interval.clamp(MIN_INTERVAL, MAX_INTERVAL),
            deadline: now + expires_in.min(MAX_EXPIRES_IN),
            next_poll: now,
            in_flight: false,
            polls: 0,
            outcome: None,
        }
    }

    /// When the driver must call [`poll_request`](Self::poll_request) next; `None` while a request is
    /// in flight or once the flow is over.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.outcome.is_some() || self.in_flight {
            return None;
        }
        Some(self.next_poll.min(self.deadline))
    }

    /// `true`: send one token request now (and feed its answer to [`handle_answer`](Self::handle_answer)).
    /// Past the deadline the flow ends with [`Outcome::Expired`] instead.
    pub fn poll_request(&mut self, now: Instant) -> bool {
        if self.outcome.is_some() || self.in_flight {
            return false;
        }
        if now >= self.deadline {
            self.outcome = Some(Outcome::Expired);
            return false;
        }
        if now < self.next_poll {
            return false;
        }
        self.in_flight = true;
        self.polls += 1;
        true
    }

    /// The answer to the request [`poll_request`](Self::poll_request) asked for.
    ///
    /// A transport error (the server could not be reached) counts as `authorization_pending`: the next poll
    /// comes one interval later, until the deadline.
    pub fn handle_answer(&mut self, answer: TokenAnswer, now: Instant) {
        self.in_flight = false;
        match answer {
            TokenAnswer::Granted(tokens) => self.outcome = Some(Outcome::Authorized(tokens)),
            TokenAnswer::Pending | TokenAnswer::Unreachable(_) => {
                self.next_poll = now + self.interval
            }
            TokenAnswer::SlowDown => {
                self.interval = (self.interval + SLOW_DOWN_STEP).min(MAX_INTERVAL);
                self.next_poll = now + self.interval;
            }
            TokenAnswer::Expired => self.outcome = Some(Outcome::Expired),
            TokenAnswer::Refused(message) => self.outcome = Some(Outcome::Refused(message)),
        }
    }

    /// How the flow ended, once it has.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// Takes the outcome (the tokens) out.
    pub fn take_outcome(&mut self) -> Option<Outcome> {
        self.outcome.take()
    }

    /// The interval now in force (grown by `slow_down`).
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// When the device code expires.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Token requests asked for so far.
    pub fn polls(&self) -> u32 {
        self.polls
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn tokens() -> Tokens {
        Tokens {
            access_token: "access-token-xyz".into(),
            refresh_token: Some("refresh-token-xyz".into()),
            expires_in: Some(Duration::from_secs(3600)),
            scopes: vec!["chat:read".into()],
        }
    }

    #[test]
    fn pending_three_times_then_granted() {
        let t0 = Instant::now();
        let mut f = DeviceFlow::new(5 * S, 1800 * S, t0);
        let mut now = t0;
        for _ in 0..3 {
            assert_eq!(f.poll_timeout(), Some(now));
            assert!(f.poll_request(now));
            assert_eq!(
                f.poll_timeout(),
                None,
                "nothing while a request is in flight"
            );
            assert!(!f.poll_request(now), "one request at a time");
            f.handle_answer(TokenAnswer::Pending, now);
            assert!(!f.poll_request(now + 4 * S));
            now += 5 * S;
        }
        assert!(f.poll_request(now));
        f.handle_answer(TokenAnswer::Granted(tokens()), now);
        assert!(
            matches!(f.outcome(), Some(Outcome::Authorized(t)) if t.access_token == "access-token-xyz")
        );
        assert_eq!(f.polls(), 4);
        assert_eq!(f.poll_timeout(), None);
        assert!(!f.poll_request(now + 100 * S));
    }

    #[test]
    fn slow_down_adds_five_seconds_each_time() {
        let t0 = Instant::now();
        let mut f = DeviceFlow::new(5 * S, 1800 * S, t0);
        assert!(f.poll_request(t0));
        f.handle_answer(TokenAnswer::SlowDown, t0);
        assert_eq!(f.interval(), 10 * S);
        assert_eq!(f.poll_timeout(), Some(t0 + 10 * S));
        assert!(f.poll_request(t0 + 10 * S));
        f.handle_answer(TokenAnswer::SlowDown, t0 + 10 * S);
        assert_eq!(f.poll_timeout(), Some(t0 + 25 * S));
        // The interval stays grown after a pending answer.
        assert!(f.poll_request(t0 + 25 * S));
        f.handle_answer(TokenAnswer::Pending, t0 + 25 * S);
        assert_eq!(f.poll_timeout(), Some(t0 + 40 * S));
    }

    #[test]
    fn the_deadline_ends_the_flow_without_a_request() {
        let t0 = Instant::now();
        let mut f = DeviceFlow::new(5 * S, 12 * S, t0);
        assert!(f.poll_request(t0));
        f.handle_answer(TokenAnswer::Pending, t0);
        assert!(f.poll_request(t0 + 5 * S));
        f.handle_answer(TokenAnswer::Pending, t0 + 5 * S);
        assert!(f.poll_request(t0 + 10 * S));
        f.handle_answer(TokenAnswer::Pending, t0 + 10 * S);
        // The next poll would be at 15 s, past the 12 s deadline: wake at the deadline, and stop.
        assert_eq!(f.poll_timeout(), Some(t0 + 12 * S));
        assert!(!f.poll_request(t0 + 12 * S));
        assert!(matches!(f.outcome(), Some(Outcome::Expired)));
    }

    #[test]
    fn server_errors_end_or_continue_the_flow() {
        let t0 = Instant::now();
        let mut f = DeviceFlow::new(5 * S, 100 * S, t0);
        assert!(f.poll_request(t0));
        f.handle_answer(TokenAnswer::Expired, t0);
        assert!(matches!(f.outcome(), Some(Outcome::Expired)));

        let mut f = DeviceFlow::new(5 * S, 100 * S, t0);
        assert!(f.poll_request(t0));
        f.handle_answer(TokenAnswer::Refused("invalid device code".into()), t0);
        assert!(matches!(f.outcome(), Some(Outcome::Refused(m)) if m == "invalid device code"));

        let mut f = DeviceFlow::new(5 * S, 100 * S, t0);
        assert!(f.poll_request(t0));
        f.handle_answer(TokenAnswer::Unreachable("connection refused".into()), t0);
        assert!(f.outcome().is_none());
        assert_eq!(f.poll_timeout(), Some(t0 + 5 * S));
    }

    #[test]
    fn hostile_intervals_are_clamped() {
        let t0 = Instant::now();
        let f = DeviceFlow::new(Duration::ZERO, 100 * S, t0);
        assert_eq!(f.interval(), MIN_INTERVAL);
        let mut f = DeviceFlow::new(
            Duration::from_secs(1 << 40),
            Duration::from_secs(1 << 30),
            t0,
        );
        assert_eq!(f.interval(), MAX_INTERVAL);
        assert!(f.poll_request(t0));
        f.handle_answer(TokenAnswer::SlowDown, t0);
        assert_eq!(f.interval(), MAX_INTERVAL);
    }
}
