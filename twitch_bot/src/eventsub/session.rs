//! The EventSub WebSocket session: a sans-IO state machine (frames, HTTP results and clock ticks in; things to
//! do and events out).
//!
//! [`Session`] decides which WebSocket connections (links) to open and close, when to create subscriptions and
//! which notifications are new. It touches no socket, no HTTP client and no clock: the driver feeds it what
//! happened with the current [`Instant`] (and, for message age, the wall clock), then drains what to do.
//! Methods come in the same four kinds as [`crate::session::Session`]:
//!
//! - `handle_*`: [`Session::handle_opened`], [`Session::handle_text`], [`Session::handle_closed`],
//!   [`Session::handle_subscribed`], [`Session::handle_timeout`];
//! - requests: [`Session::start`];
//! - `poll_*`: [`Session::poll_event`] (what to do or what happened, in order) and [`Session::poll_timeout`];
//! - getters: [`Session::session_id`], [`Session::stats`], [`Session::open_links`], ...
//!
//! After **every** `handle_*` or request, drain `poll_event` until `None` and re-arm the timer from
//! `poll_timeout`.
//!
//! ```
//! use std::time::{Duration, Instant, SystemTime};
//! use twitch_bot::eventsub::session::{Event, Session, SessionConfig, SubscriptionSpec};
//!
//! let spec = SubscriptionSpec::chat("channel.chat.message", "1971641", "2914196");
//! let mut session = Session::new(SessionConfig::new("wss://eventsub.wss.twitch.tv/ws", vec![spec]));
//! let (t0, wall) = (Instant::now(), SystemTime::now());
//! session.start(t0);
//! let Some(Event::Connect { link, url }) = session.poll_event() else { panic!() };
//! assert_eq!(url, "wss://eventsub.wss.twitch.tv/ws");
//!
//! session.handle_opened(link, t0);
//! let welcome = r#"{"metadata":{"message_id":"1","message_type":"session_welcome",
//!     "message_timestamp":"2022-10-19T14:56:51.634234626Z"},"payload":{"session":{"id":"AQoQ",
//!     "status":"connected","keepalive_timeout_seconds":10,"reconnect_url":null}}}"#;
//! session.handle_text(link, welcome, t0, wall);
//! let events: Vec<Event> = std::iter::from_fn(|| session.poll_event()).collect();
//! // Subscribe at once: the welcome's keepalive_timeout_seconds is also the window to subscribe in.
//! let Some(Event::Subscribe { session_id, requests }) = events.iter().find(|e| matches!(e, Event::Subscribe { .. })).cloned()
//! else { panic!() };
//! assert_eq!(session_id, "AQoQ");
//! assert_eq!(requests[0].1.transport.session_id, "AQoQ");
//! // The next timer is the end of that window (10 s); once a subscription is created (reported with
//! // `handle_subscribed`), it is the keepalive deadline: no message for 10 s + margin means a dead link.
//! assert_eq!(session.poll_timeout(), Some(t0 + Duration::from_secs(10)));
//! ```
//!
//! # Rules
//!
//! - **Welcome window.** A link must deliver `session_welcome` within [`SessionConfig::welcome_timeout`] of being
//!   asked for. On a fresh session every subscription of the plan is asked for at once ([`Event::Subscribe`]);
//!   if none is created within the welcome's `keepalive_timeout_seconds` (Twitch then closes the link with 4003)
//!   the session reports [`Event::SubscribeWindowMissed`].
//! - **Keepalive.** Any message resets a link's silence timer; no message for `keepalive_timeout_seconds` plus
//!   [`SessionConfig::keepalive_margin`] means the link is dead: [`Event::Close`], [`Event::Disconnected`], and
//!   after the backoff delay ([`crate::backoff`]) a new [`Event::Connect`] to the configured URL, whose welcome
//!   starts a fresh session and subscribes again.
//! - **Reconnect overlap.** On `session_reconnect` the session asks for a second link to `reconnect_url` and
//!   keeps reading the old one. When the new link's welcome arrives it becomes the current link
//!   ([`Event::Switched`]), the old one is closed, and nothing is subscribed again (subscriptions carry over).
//!   Notifications from the old link that arrive after the switch are still read; duplicates are dropped by id.
//!   If the new link fails (no welcome within [`SessionConfig::reconnect_grace`]), the session falls back to a
//!   fresh connection and subscribes again. At most 3 links are ever open: Twitch's limit per user and client.
//! - **Revocation.** Reported as [`Event::Revoked`]; subscribed again once only when that can help
//!   ([`RevocationReason::retry_can_help`]), never after `authorization_revoked`.
//! - **At least once.** Notifications (and revocations) are de-duplicated on `metadata.message_id` over the last
//!   [`SessionConfig::dedup_capacity`] ids (bounded memory); a message older than
//!   [`SessionConfig::max_message_age`] (10 minutes) is dropped. Both are counted in [`Stats`].
//! - **Limits.** [`plan_subscriptions`] refuses a plan of more than [`MAX_SUBSCRIPTIONS_PER_SESSION`]
//!   subscriptions or a cost above the limit. Failed subscription requests become [`Event::SubscriptionFailed`]
//!   with the typed reason (403 names the missing scope; 409 and 429 are not retried).
//! - Hostile input never panics: a frame that is not an EventSub message is [`Event::BadMessage`] (and still
//!   proves the link alive); memory is bounded by the plan and the de-duplication window.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::backoff::Backoff;
use crate::chatplay::MessageKey;
use crate::chatplay::dedup::RecentIds;

use super::events::NotificationEvent;
use super::helix::{CreateSubscription, CreatedSubscription, SubscribeFailure};
use super::wire::{
    Message, RevocationReason, SessionInfo, Subscription, WireError, parse_message,
    parse_rfc3339_ms,
};

/// Twitch's limit of enabled subscriptions per WebSocket session.
pub const MAX_SUBSCRIPTIONS_PER_SESSION: usize = 300;
/// Twitch's limit of WebSocket connections per user and client id.
pub const MAX_LINKS: usize = 3;
/// Twitch's default and smallest/largest keepalive timeouts (seconds).
pub const KEEPALIVE_RANGE: std::ops::RangeInclusive<u64> = 10..=600;

/// A WebSocket connection the session asked for, numbered from 1.
pub type LinkId = u64;

/// How the session behaves. [`SessionConfig::new`] gives Twitch's values.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Where to connect (with `?keepalive_timeout_seconds=` already added, see [`eventsub_url`]).
    pub url: String,
    /// The subscriptions to create on every fresh session (see [`plan_subscriptions`]).
    pub subscriptions: Vec<SubscriptionSpec>,
    /// Extra silence allowed beyond `keepalive_timeout_seconds` before a link counts as dead (5 s).
    pub keepalive_margin: Duration,
    /// How long a link may take from being asked for to its welcome (15 s).
    pub welcome_timeout: Duration,
    /// How long the old link is kept after `session_reconnect` while the new one comes up (30 s, Twitch's
    /// grace time before it closes the old link with 4004).
    pub reconnect_grace: Duration,
    /// Messages older than this are dropped (10 minutes).
    pub max_message_age: Duration,
    /// How many recent message ids are remembered for de-duplication (the memory holds at most twice this).
    pub dedup_capacity: usize,
    /// Seed of the backoff jitter (the driver passes a random one; tests a fixed one).
    pub jitter_seed: u64,
}

impl SessionConfig {
    /// Twitch's values for `url` and `subscriptions`.
    pub fn new(url: impl Into<String>, subscriptions: Vec<SubscriptionSpec>) -> Self {
        SessionConfig {
            url: url.into(),
            subscriptions,
            keepalive_margin: Duration::from_secs(5),
            welcome_timeout: Duration::from_secs(15),
            reconnect_grace: Duration::from_secs(30),
            max_message_age: Duration::from_secs(600),
            dedup_capacity: 4096,
            jitter_seed: 0x9E37_79B9_7F4A_7C15,
        }
    }
}

/// Identifies one subscription request, so its result can be matched (and ignored if its session is gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubTicket {
    generation: u64,
    index: usize,
}

/// Why a link was given up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkFailure {
    /// No welcome in time.
    WelcomeTimeout,
    /// Silence beyond keepalive + margin.
    KeepaliveTimeout,
    /// The connection closed (close code, if any).
    Closed(Option<u16>),
}

/// A new notification (not a duplicate, not stale).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The link it came on.
    pub link: LinkId,
    /// `metadata.message_id`.
    pub message_id: String,
    /// `metadata.message_timestamp` in Unix milliseconds.
    pub timestamp_ms: i64,
    /// The subscription type.
    pub subscription_type: String,
    /// The event.
    pub event: NotificationEvent,
}

/// What the driver must do, or what happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Open a WebSocket link to `url`; report it with `link` in every `handle_*`.
    Connect {
        /// The link's number.
        link: LinkId,
        /// Where to.
        url: String,
    },
    /// Close this link (normal closure); nothing more from it is needed.
    Close {
        /// The link.
        link: LinkId,
    },
    /// Create these subscriptions now (`POST /eventsub/subscriptions`, one per request) and report each with
    /// [`Session::handle_subscribed`] and its ticket.
    Subscribe {
        /// The session id they are for.
        session_id: String,
        /// The requests.
        requests: Vec<(SubTicket, CreateSubscription)>,
    },
    /// A fresh session started (subscriptions follow in [`Event::Subscribe`]).
    Welcomed {
        /// The link.
        link: LinkId,
        /// The session id.
        session_id: String,
        /// The keepalive period Twitch chose.
        keepalive: Duration,
    },
    /// After `session_reconnect`: the new link is now the current one; subscriptions carried over.
    Switched {
        /// The old link (closed).
        from: Option<LinkId>,
        /// The new link.
        to: LinkId,
        /// The session id.
        session_id: String,
    },
    /// Twitch asked to reconnect; a second link is being opened.
    Reconnecting {
        /// The current link.
        link: LinkId,
    },
    /// The new link of a reconnect failed; the old one is kept while it lasts.
    ReconnectFailed {
        /// The new link.
        link: LinkId,
        /// Why.
        reason: LinkFailure,
    },
    /// The current link is gone; a fresh connection follows after `retry_in` (then subscriptions are made again).
    Disconnected {
        /// The link.
        link: LinkId,
        /// Why.
        reason: LinkFailure,
        /// The backoff delay.
        retry_in: Duration,
    },
    /// A new notification.
    Notification(Box<Notification>),
    /// A subscription was created.
    Subscribed {
        /// The subscription type.
        kind: String,
        /// `total_cost` after it.
        total_cost: u64,
        /// `max_total_cost`.
        max_total_cost: u64,
    },
    /// A subscription request failed (403 names the missing scope; 409 and 429 are not retried).
    SubscriptionFailed(SubscribeFailure),
    /// No subscription was created within the welcome's window.
    SubscribeWindowMissed {
        /// The session id.
        session_id: String,
    },
    /// Twitch revoked a subscription.
    Revoked {
        /// The subscription type.
        kind: String,
        /// Why.
        reason: RevocationReason,
        /// Whether it is being asked for again (once, only where that can help).
        retrying: bool,
    },
    /// A frame that is not a usable EventSub message (the link stays up).
    BadMessage {
        /// The link.
        link: LinkId,
        /// What was wrong.
        error: WireError,
    },
}

/// Counters of what the session dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Notifications or revocations seen before (same `message_id`).
    pub duplicates: u64,
    /// Messages older than `max_message_age`.
    pub stale: u64,
    /// Frames that were not EventSub messages.
    pub bad_messages: u64,
    /// Messages with an unknown `message_type`, or out of place (a second welcome).
    pub ignored: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    AwaitingWelcome,
    Live { keepalive: Duration },
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    id: LinkId,
    phase: Phase,
    deadline: Instant,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum SubState {
    /// Not asked for on this session.
    Idle,
    Pending,
    Active,
    Failed {
        permanent: bool,
    },
    Revoked {
        final_: bool,
    },
    /// Taken out of the plan (a `part`): never asked for again.
    Removed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Primary,
    Successor,
    Retiring,
}

/// The EventSub session (see the [module docs](self)).
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    primary: Option<Slot>,
    successor: Option<Slot>,
    retiring: Option<LinkId>,
    reconnect_at: Option<Instant>,
    session_id: Option<String>,
    generation: u64,
    subs: Vec<SubState>,
    /// Per subscription: already asked for again after a revocation on this session.
    revoke_retried: Vec<bool>,
    window: Option<Instant>,
    next_link: LinkId,
    backoff: Backoff,
    rng: u64,
    dedup: RecentIds,
    stats: Stats,
    events: VecDeque<Event>,
}

impl Session {
    /// A session that has not connected yet (call [`Session::start`]).
    pub fn new(config: SessionConfig) -> Self {
        let subs = vec![SubState::Idle; config.subscriptions.len()];
        Session {
            dedup: RecentIds::new(config.dedup_capacity.max(1)),
            rng: config.jitter_seed | 1,
            config,
            primary: None,
            successor: None,
            retiring: None,
            reconnect_at: None,
            session_id: None,
            generation: 0,
            revoke_retried: vec![false; subs.len()],
            subs,
            window: None,
            next_link: 1,
            backoff: Backoff::new(),
            stats: Stats::default(),
            events: VecDeque::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The current session id (after a welcome).
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// What was dropped so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The links the session considers open (current, new, closing), at most [`MAX_LINKS`].
    pub fn open_links(&self) -> Vec<LinkId> {
        self.primary
            .iter()
            .chain(self.successor.iter())
            .map(|s| s.id)
            .chain(self.retiring)
            .collect()
    }

    /// Adds `specs` to the plan (a `join`): asked for at once on a live session, and on every fresh session
    /// after. Specs already in the plan are skipped; returns how many were added.
    ///
    /// # Errors
    /// [`PlanError::TooManySubscriptions`] when the plan would hold more than
    /// [`MAX_SUBSCRIPTIONS_PER_SESSION`] (nothing is added).
    pub fn add_subscriptions(&mut self, specs: Vec<SubscriptionSpec>) -> Result<usize, PlanError> {
        let live = |s: &SubState| *s != SubState::Removed;
        let new: Vec<SubscriptionSpec> = specs
            .into_iter()
            .filter(|spec| {
                !self
                    .config
                    .subscriptions
                    .iter()
                    .zip(&self.subs)
                    .any(|(have, state)| have == spec && live(state))
            })
            .collect();
        let count = self.subs.iter().filter(|s| live(s)).count() + new.len();
        if count > MAX_SUBSCRIPTIONS_PER_SESSION {
            return Err(PlanError::TooManySubscriptions {
                count,
                per_channel: new.len(),
                max: MAX_SUBSCRIPTIONS_PER_SESSION,
            });
        }
        let mut requests = Vec::new();
        for spec in &new {
            let index = self.config.subscriptions.len();
            self.config.subscriptions.push(spec.clone());
            self.revoke_retried.push(false);
            match &self.session_id {
                Some(session_id) => {
                    self.subs.push(SubState::Pending);
                    requests.push((
                        SubTicket {
                            generation: self.generation,
                            index,
                        },
                        spec.request(session_id),
                    ));
                }
                None => self.subs.push(SubState::Idle),
            }
        }
        if let (false, Some(session_id)) = (requests.is_empty(), self.session_id.clone()) {
            self.events.push_back(Event::Subscribe {
                session_id,
                requests,
            });
        }
        Ok(new.len())
    }

    /// Takes the subscriptions `remove` selects out of the plan (a `part`): never asked for again, and a
    /// result still on its way is ignored. Deleting the ones Twitch already created is the driver's job
    /// (`DELETE /eventsub/subscriptions`). Returns how many were removed.
    pub fn remove_subscriptions(&mut self, remove: impl Fn(&SubscriptionSpec) -> bool) -> usize {
        let mut n = 0;
        for (spec, state) in self.config.subscriptions.iter().zip(self.subs.iter_mut()) {
            if *state != SubState::Removed && remove(spec) {
                *state = SubState::Removed;
                n += 1;
            }
        }
        n
    }

    /// How many subscriptions of the plan are created on the current session.
    pub fn active_subscriptions(&self) -> usize {
        self.subs.iter().filter(|s| **s == SubState::Active).count()
    }

    /// Asks for the first link.
    pub fn start(&mut self, now: Instant) {
        if self.primary.is_none() && self.reconnect_at.is_none() {
            self.connect_primary(now);
        }
    }

    /// The driver opened `link` (WebSocket handshake done): the welcome timer starts now.
    pub fn handle_opened(&mut self, link: LinkId, now: Instant) {
        let timeout = self.config.welcome_timeout;
        for slot in [self.primary.as_mut(), self.successor.as_mut()]
            .into_iter()
            .flatten()
        {
            if slot.id == link && slot.phase == Phase::AwaitingWelcome {
                slot.deadline = now + timeout;
            }
        }
    }

    /// A text frame arrived on `link`. `wall` is the wall clock, for the age of messages.
    pub fn handle_text(&mut self, link: LinkId, text: &str, now: Instant, wall: SystemTime) {
        let Some(role) = self.role(link) else {
            return; // a link already given up
        };
        // Any frame proves the link alive.
        self.touch(role, now);
        let message = match parse_message(text) {
            Ok(m) => m,
            Err(error) => {
                self.stats.bad_messages += 1;
                self.events.push_back(Event::BadMessage { link, error });
                return;
            }
        };
        let wall_ms = wall
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        match message {
            Message::Welcome { session, .. } => self.on_welcome(role, link, session, now),
            Message::Keepalive { .. } => {}
            Message::Reconnect { session, .. } => self.on_reconnect(role, link, session, now),
            Message::Notification {
                metadata,
                subscription,
                event,
            } => {
                let Some(timestamp_ms) =
                    self.fresh(&metadata.message_id, &metadata.message_timestamp, wall_ms)
                else {
                    return;
                };
                let _ = subscription;
                self.events
                    .push_back(Event::Notification(Box::new(Notification {
                        link,
                        message_id: metadata.message_id,
                        timestamp_ms,
                        subscription_type: metadata.subscription_type.unwrap_or_default(),
                        event: *event,
                    })));
            }
            Message::Revocation {
                metadata,
                subscription,
            } => {
                if self
                    .fresh(&metadata.message_id, &metadata.message_timestamp, wall_ms)
                    .is_some()
                {
                    self.on_revocation(subscription);
                }
            }
            Message::Unknown { .. } => self.stats.ignored += 1,
        }
    }

    /// `link` closed (by either side, or failed to connect); `code` is the close code if there was one.
    pub fn handle_closed(&mut self, link: LinkId, code: Option<u16>, now: Instant) {
        match self.role(link) {
            Some(Role::Primary) => {
                self.primary = None;
                if self.successor.is_none() {
                    self.lost(link, LinkFailure::Closed(code), now);
                }
                // Otherwise the new link of a reconnect carries on.
            }
            Some(Role::Successor) => {
                self.successor = None;
                self.events.push_back(Event::ReconnectFailed {
                    link,
                    reason: LinkFailure::Closed(code),
                });
                if self.primary.is_none() {
                    self.lost(link, LinkFailure::Closed(code), now);
                }
            }
            Some(Role::Retiring) => self.retiring = None,
            None => {}
        }
    }

    /// The result of one subscription request of an [`Event::Subscribe`].
    pub fn handle_subscribed(
        &mut self,
        ticket: SubTicket,
        result: Result<CreatedSubscription, SubscribeFailure>,
        _now: Instant,
    ) {
        if ticket.generation != self.generation {
            return; // for a session that is gone
        }
        let Some(state) = self.subs.get_mut(ticket.index) else {
            return;
        };
        if *state == SubState::Removed {
            return; // parted meanwhile
        }
        match result {
            Ok(created) => {
                *state = SubState::Active;
                self.window = None; // the session is in use: Twitch will not close it with 4003
                self.events.push_back(Event::Subscribed {
                    kind: self.config.subscriptions[ticket.index].kind.clone(),
                    total_cost: created.total_cost,
                    max_total_cost: created.max_total_cost,
                });
            }
            Err(failure) => {
                *state = SubState::Failed {
                    permanent: matches!(failure, SubscribeFailure::MissingScope { .. }),
                };
                self.events.push_back(Event::SubscriptionFailed(failure));
            }
        }
    }

    /// Time passed: call when [`Session::poll_timeout`]'s instant is reached (calling early is harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(at) = self.reconnect_at
            && now >= at
        {
            self.reconnect_at = None;
            self.connect_primary(now);
        }
        if let Some(slot) = self.successor
            && now >= slot.deadline
        {
            self.successor = None;
            self.events.push_back(Event::Close { link: slot.id });
            self.events.push_back(Event::ReconnectFailed {
                link: slot.id,
                reason: failure_of(slot.phase),
            });
            if self.primary.is_none() {
                self.lost(slot.id, failure_of(slot.phase), now);
            }
        }
        if let Some(slot) = self.primary
            && now >= slot.deadline
        {
            self.primary = None;
            self.events.push_back(Event::Close { link: slot.id });
            if self.successor.is_none() {
                self.lost(slot.id, failure_of(slot.phase), now);
            }
        }
        if let Some(at) = self.window
            && now >= at
        {
            self.window = None;
            let none_created = !self.subs.contains(&SubState::Active);
            if none_created && let Some(session_id) = self.session_id.clone() {
                self.events
                    .push_back(Event::SubscribeWindowMissed { session_id });
            }
        }
    }

    /// The next thing to do or report.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When to call [`Session::handle_timeout`] next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.reconnect_at,
            self.primary.map(|s| s.deadline),
            self.successor.map(|s| s.deadline),
            self.window,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn role(&self, link: LinkId) -> Option<Role> {
        if self.primary.is_some_and(|s| s.id == link) {
            Some(Role::Primary)
        } else if self.successor.is_some_and(|s| s.id == link) {
            Some(Role::Successor)
        } else if self.retiring == Some(link) {
            Some(Role::Retiring)
        } else {
            None
        }
    }

    fn touch(&mut self, role: Role, now: Instant) {
        let margin = self.config.keepalive_margin;
        let slot = match role {
            Role::Primary => self.primary.as_mut(),
            Role::Successor => self.successor.as_mut(),
            Role::Retiring => None,
        };
        if let Some(slot) = slot
            && let Phase::Live { keepalive } = slot.phase
        {
            // While a reconnect is under way the old link keeps at least its grace time.
            slot.deadline = slot.deadline.max(now + keepalive + margin);
        }
    }

    fn new_link(&mut self) -> LinkId {
        let id = self.next_link;
        self.next_link += 1;
        id
    }

    fn connect_primary(&mut self, now: Instant) {
        let link = self.new_link();
        self.primary = Some(Slot {
            id: link,
            phase: Phase::AwaitingWelcome,
            deadline: now + self.config.welcome_timeout,
        });
        self.events.push_back(Event::Connect {
            link,
            url: self.config.url.clone(),
        });
    }

    /// The current link is gone and no reconnect link can take over: start again after the backoff delay.
    fn lost(&mut self, link: LinkId, reason: LinkFailure, now: Instant) {
        self.session_id = None;
        self.window = None;
        self.generation += 1; // results of the old session's requests are ignored
        for state in &mut self.subs {
            if !matches!(
                state,
                SubState::Failed { permanent: true }
                    | SubState::Revoked { final_: true }
                    | SubState::Removed
            ) {
                *state = SubState::Idle;
            }
        }
        self.revoke_retried.fill(false);
        let jitter = self.next_jitter();
        let (_, retry_in) = self.backoff.handle_disconnected(now, jitter);
        self.reconnect_at = Some(now + retry_in);
        self.events.push_back(Event::Disconnected {
            link,
            reason,
            retry_in,
        });
    }

    fn next_jitter(&mut self) -> f64 {
        // xorshift64*: good enough to spread reconnects, and reproducible in tests.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let x = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    fn on_welcome(&mut self, role: Role, link: LinkId, session: SessionInfo, now: Instant) {
        let keepalive = Duration::from_secs(
            session
                .keepalive_timeout_seconds
                .unwrap_or(*KEEPALIVE_RANGE.start())
                .clamp(1, *KEEPALIVE_RANGE.end()),
        );
        let live = Phase::Live { keepalive };
        let deadline = now + keepalive + self.config.keepalive_margin;
        match role {
            Role::Primary
                if self
                    .primary
                    .is_some_and(|s| s.phase == Phase::AwaitingWelcome) =>
            {
                self.primary = Some(Slot {
                    id: link,
                    phase: live,
                    deadline,
                });
                self.backoff.handle_connected(now);
                self.generation += 1;
                self.session_id = Some(session.id.clone());
                self.window = Some(now + keepalive);
                self.events.push_back(Event::Welcomed {
                    link,
                    session_id: session.id.clone(),
                    keepalive,
                });
                let generation = self.generation;
                let mut requests = Vec::new();
                for (index, state) in self.subs.iter_mut().enumerate() {
                    if *state == SubState::Idle {
                        *state = SubState::Pending;
                        requests.push((
                            SubTicket { generation, index },
                            self.config.subscriptions[index].request(&session.id),
                        ));
                    }
                }
                if !requests.is_empty() {
                    self.events.push_back(Event::Subscribe {
                        session_id: session.id,
                        requests,
                    });
                }
            }
            Role::Successor
                if self
                    .successor
                    .is_some_and(|s| s.phase == Phase::AwaitingWelcome) =>
            {
                self.successor = None;
                let old = self.primary.take().map(|s| s.id);
                if let Some(old) = old {
                    // A link still retiring from an earlier switch was already told to close.
                    self.retiring = Some(old);
                    self.events.push_back(Event::Close { link: old });
                }
                self.primary = Some(Slot {
                    id: link,
                    phase: live,
                    deadline,
                });
                self.backoff.handle_connected(now);
                self.session_id = Some(session.id.clone());
                self.events.push_back(Event::Switched {
                    from: old,
                    to: link,
                    session_id: session.id,
                });
            }
            _ => self.stats.ignored += 1,
        }
    }

    fn on_reconnect(&mut self, role: Role, link: LinkId, session: SessionInfo, now: Instant) {
        let live = self
            .primary
            .is_some_and(|s| matches!(s.phase, Phase::Live { .. }));
        if role != Role::Primary || !live || self.successor.is_some() {
            self.stats.ignored += 1;
            return;
        }
        let Some(url) = session.reconnect_url.filter(|u| self.acceptable_url(u)) else {
            self.stats.bad_messages += 1;
            self.events.push_back(Event::BadMessage {
                link,
                error: WireError::Shape {
                    what: "session_reconnect payload".to_string(),
                    detail: "reconnect_url is missing or not a wss:// URL".to_string(),
                },
            });
            return;
        };
        if self.retiring.is_some() {
            // Stay within Twitch's 3 links: the link retiring from an earlier switch was already told to close.
            self.retiring = None;
        }
        let grace = now + self.config.reconnect_grace;
        if let Some(primary) = self.primary.as_mut() {
            primary.deadline = primary.deadline.max(grace + self.config.keepalive_margin);
        }
        let new = self.new_link();
        self.successor = Some(Slot {
            id: new,
            phase: Phase::AwaitingWelcome,
            deadline: grace,
        });
        self.events.push_back(Event::Reconnecting { link });
        self.events.push_back(Event::Connect { link: new, url });
    }

    /// `wss://` always; `ws://` only when the configured URL is `ws://` too (local tests).
    fn acceptable_url(&self, url: &str) -> bool {
        url.len() <= 2048
            && !url.chars().any(char::is_control)
            && (url.starts_with("wss://")
                || (url.starts_with("ws://") && self.config.url.starts_with("ws://")))
    }

    /// De-duplication and age: `Some(timestamp)` when the message is new and fresh.
    fn fresh(&mut self, message_id: &str, timestamp: &str, wall_ms: i64) -> Option<i64> {
        let ts = parse_rfc3339_ms(timestamp)?; // checked by the parser already
        let max_age = i64::try_from(self.config.max_message_age.as_millis()).unwrap_or(i64::MAX);
        if wall_ms.saturating_sub(ts) > max_age {
            self.stats.stale += 1;
            return None;
        }
        if !self.dedup.insert(&MessageKey::from_id(Some(message_id))) {
            self.stats.duplicates += 1;
            return None;
        }
        Some(ts)
    }

    fn on_revocation(&mut self, subscription: Subscription) {
        let reason = RevocationReason::from_status(&subscription.status);
        let index = self
            .config
            .subscriptions
            .iter()
            .zip(&self.subs)
            .position(|(s, state)| *state != SubState::Removed && s.matches(&subscription));
        let mut retrying = false;
        if let Some(index) = index {
            retrying = reason.retry_can_help() && !self.revoke_retried[index];
            self.subs[index] = SubState::Revoked {
                final_: !reason.retry_can_help(),
            };
            if retrying && let Some(session_id) = self.session_id.clone() {
                self.revoke_retried[index] = true;
                self.subs[index] = SubState::Pending;
                let request = self.config.subscriptions[index].request(&session_id);
                self.events.push_back(Event::Revoked {
                    kind: subscription.kind,
                    reason,
                    retrying,
                });
                self.events.push_back(Event::Subscribe {
                    session_id,
                    requests: vec![(
                        SubTicket {
                            generation: self.generation,
                            index,
                        },
                        request,
                    )],
                });
                return;
            }
            retrying = false;
        }
        self.events.push_back(Event::Revoked {
            kind: subscription.kind.chars().take(100).collect(),
            reason,
            retrying,
        });
    }
}

fn failure_of(phase: Phase) -> LinkFailure {
    match phase {
        Phase::AwaitingWelcome => LinkFailure::WelcomeTimeout,
        Phase::Live { .. } => LinkFailure::KeepaliveTimeout,
    }
}

mod plan;
#[cfg(test)]
mod tests;

pub use plan::{
    ChannelIds, PlanError, PlanRequest, SubscriptionSpec, eventsub_url, plan_subscriptions,
};
