//! Every rule of the EventSub session on a fake clock.

use std::time::{Duration, Instant, SystemTime};

use super::*;
use crate::eventsub::events::types;
use crate::eventsub::helix::classify_create_error;

const SEC: Duration = Duration::from_secs(1);

fn wall0() -> SystemTime {
    // 2024-02-24T17:17:49Z: the messages below are stamped relative to it.
    UNIX_EPOCH + Duration::from_secs(1_708_795_069)
}

/// RFC 3339 for `wall0() + offset_secs`.
fn stamp(offset_secs: i64) -> String {
    let secs = 1_708_795_069 + offset_secs;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // civil_from_days (Howard Hinnant)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.123456789Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn welcome(session_id: &str, keepalive: u64) -> String {
    format!(
        r#"{{"metadata":{{"message_id":"w-{session_id}","message_type":"session_welcome","message_timestamp":"{}"}},
        "payload":{{"session":{{"id":"{session_id}","status":"connected","connected_at":"{}",
        "keepalive_timeout_seconds":{keepalive},"reconnect_url":null}}}}}}"#,
        stamp(0),
        stamp(0)
    )
}

fn keepalive(id: &str) -> String {
    format!(
        r#"{{"metadata":{{"message_id":"{id}","message_type":"session_keepalive","message_timestamp":"{}"}},"payload":{{}}}}"#,
        stamp(0)
    )
}

fn reconnect(url: &str) -> String {
    format!(
        r#"{{"metadata":{{"message_id":"r","message_type":"session_reconnect","message_timestamp":"{}"}},
        "payload":{{"session":{{"id":"S1","status":"reconnecting","keepalive_timeout_seconds":null,
        "reconnect_url":"{url}","connected_at":"{}"}}}}}}"#,
        stamp(0),
        stamp(0)
    )
}

fn chat(id: &str, text: &str, age_secs: i64) -> String {
    format!(
        r#"{{"metadata":{{"message_id":"{id}","message_type":"notification","message_timestamp":"{}",
        "subscription_type":"channel.chat.message","subscription_version":"1"}},
        "payload":{{"subscription":{{"id":"s","status":"enabled","type":"channel.chat.message","version":"1","cost":0,
        "condition":{{"broadcaster_user_id":"100","user_id":"900"}},"transport":{{"method":"websocket","session_id":"S1"}},
        "created_at":"{}"}},"event":{{"broadcaster_user_id":"100","broadcaster_user_login":"chan",
        "broadcaster_user_name":"Chan","chatter_user_id":"7","chatter_user_login":"alice","chatter_user_name":"Alice",
        "message_id":"m-{id}","message":{{"text":"{text}","fragments":[{{"type":"text","text":"{text}"}}]}},
        "color":"","badges":[],"message_type":"text","cheer":null,"reply":null,
        "channel_points_custom_reward_id":null}}}}}}"#,
        stamp(-age_secs),
        stamp(-age_secs)
    )
}

fn revocation(id: &str, kind: &str, status: &str) -> String {
    format!(
        r#"{{"metadata":{{"message_id":"{id}","message_type":"revocation","message_timestamp":"{}",
        "subscription_type":"{kind}","subscription_version":"1"}},
        "payload":{{"subscription":{{"id":"s","status":"{status}","type":"{kind}","version":"1","cost":0,
        "condition":{{"broadcaster_user_id":"100","user_id":"900"}},"transport":{{"method":"websocket","session_id":"S1"}},
        "created_at":"{}"}}}}}}"#,
        stamp(0),
        stamp(0)
    )
}

fn specs() -> Vec<SubscriptionSpec> {
    plan_subscriptions(&PlanRequest {
        reader_user_id: "900".into(),
        channels: vec![ChannelIds {
            login: "chan".into(),
            user_id: "100".into(),
        }],
        redemptions: false,
        cheers: false,
        max_total_cost: 10,
    })
    .unwrap()
}

struct Harness {
    s: Session,
    t0: Instant,
}

impl Harness {
    fn new() -> Self {
        let s = Session::new(SessionConfig::new("wss://eventsub.test/ws", specs()));
        Harness {
            s,
            t0: Instant::now(),
        }
    }

    fn at(&self, secs: f64) -> Instant {
        self.t0 + Duration::from_secs_f64(secs)
    }

    fn drain(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.s.poll_event()).collect()
    }

    fn text(&mut self, link: LinkId, text: &str, at: f64) -> Vec<Event> {
        let now = self.at(at);
        self.s.handle_text(link, text, now, wall0());
        self.drain()
    }

    fn tick(&mut self, at: f64) -> Vec<Event> {
        self.s.handle_timeout(self.at(at));
        self.drain()
    }

    /// Start, open link 1 and welcome it as `S1`; returns the Subscribe event's requests.
    fn up(&mut self) -> Vec<(SubTicket, CreateSubscription)> {
        self.s.start(self.t0);
        let events = self.drain();
        assert_eq!(
            events,
            vec![Event::Connect {
                link: 1,
                url: "wss://eventsub.test/ws".into()
            }]
        );
        self.s.handle_opened(1, self.t0);
        let events = self.text(1, &welcome("S1", 10), 0.0);
        assert!(
            matches!(&events[0], Event::Welcomed { link: 1, session_id, keepalive }
            if session_id == "S1" && *keepalive == 10 * SEC)
        );
        subscribe_requests(&events, "S1")
    }

    fn accept_all(&mut self, requests: &[(SubTicket, CreateSubscription)]) {
        for (ticket, request) in requests {
            self.s
                .handle_subscribed(*ticket, Ok(created(request)), self.t0);
        }
        let events = self.drain();
        assert_eq!(events.len(), requests.len());
        assert!(events.iter().all(|e| matches!(e, Event::Subscribed { .. })));
    }
}

fn created(request: &CreateSubscription) -> CreatedSubscription {
    CreatedSubscription {
        data: vec![Subscription {
            id: "sub".into(),
            status: "enabled".into(),
            kind: request.kind.clone(),
            version: request.version.clone(),
            cost: 0,
            condition: request.condition.clone(),
            transport: crate::eventsub::wire::Transport {
                method: "websocket".into(),
                session_id: Some(request.transport.session_id.clone()),
                callback: None,
            },
            created_at: None,
        }],
        total: 1,
        total_cost: 0,
        max_total_cost: 10,
    }
}

fn subscribe_requests(events: &[Event], session: &str) -> Vec<(SubTicket, CreateSubscription)> {
    let subs: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Subscribe {
                session_id,
                requests,
            } => {
                assert_eq!(session_id, session);
                Some(requests.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(subs.len(), 1, "one Subscribe expected in {events:?}");
    subs.into_iter().next().unwrap()
}

fn chat_texts(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Notification(n) => match &n.event {
                NotificationEvent::ChatMessage(m) => Some(m.message.text.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

#[test]
fn welcome_subscribes_at_once_with_the_session_id() {
    let mut h = Harness::new();
    let requests = h.up();
    let kinds: Vec<&str> = requests.iter().map(|(_, r)| r.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "channel.chat.message",
            "channel.chat.message_delete",
            "channel.chat.clear_user_messages",
            "channel.chat.clear"
        ]
    );
    for (_, r) in &requests {
        assert_eq!(r.transport.method, "websocket");
        assert_eq!(r.transport.session_id, "S1");
        assert_eq!(r.condition["broadcaster_user_id"], "100");
        assert_eq!(r.condition["user_id"], "900");
    }
    h.accept_all(&requests);
    assert_eq!(h.s.active_subscriptions(), 4);
    assert_eq!(h.s.session_id(), Some("S1"));
}

#[test]
fn no_welcome_in_time_reconnects_with_backoff() {
    let mut h = Harness::new();
    h.s.start(h.t0);
    h.drain();
    h.s.handle_opened(1, h.at(1.0));
    // The welcome timer starts when the link opened: 1 s + 15 s.
    assert_eq!(h.s.poll_timeout(), Some(h.at(16.0)));
    assert!(h.tick(15.9).is_empty());
    let events = h.tick(16.0);
    assert_eq!(events[0], Event::Close { link: 1 });
    let Event::Disconnected {
        link: 1,
        reason: LinkFailure::WelcomeTimeout,
        retry_in,
    } = events[1]
    else {
        panic!("{events:?}");
    };
    assert_eq!(retry_in, SEC, "first retry is 1 s");
    assert!(h.tick(16.9).is_empty());
    assert_eq!(
        h.tick(17.0),
        vec![Event::Connect {
            link: 2,
            url: "wss://eventsub.test/ws".into()
        }]
    );
    // Failing again doubles the ceiling (1-2 s).
    let events = h.tick(17.0 + 15.0);
    let Event::Disconnected { retry_in, .. } = events[1] else {
        panic!("{events:?}");
    };
    assert!(retry_in >= SEC && retry_in <= 2 * SEC, "{retry_in:?}");
}

#[test]
fn any_message_resets_the_keepalive_timer() {
    let mut h = Harness::new();
    let requests = h.up();
    h.accept_all(&requests);
    // keepalive 10 s + margin 5 s.
    assert_eq!(h.s.poll_timeout(), Some(h.at(15.0)));
    h.text(1, &keepalive("k1"), 9.0);
    assert_eq!(h.s.poll_timeout(), Some(h.at(24.0)));
    assert_eq!(chat_texts(&h.text(1, &chat("n1", "up", 0), 20.0)), ["up"]);
    assert_eq!(h.s.poll_timeout(), Some(h.at(35.0)));
    // Even a frame that is not an EventSub message shows the link is alive.
    let events = h.text(1, "not json", 30.0);
    assert!(matches!(events[0], Event::BadMessage { link: 1, .. }));
    assert_eq!(h.s.poll_timeout(), Some(h.at(45.0)));
    assert!(h.tick(44.999).is_empty());
}

#[test]
fn silence_beyond_keepalive_and_margin_reconnects_and_subscribes_again() {
    let mut h = Harness::new();
    let requests = h.up();
    h.accept_all(&requests);
    let events = h.tick(15.0);
    assert_eq!(events[0], Event::Close { link: 1 });
    let Event::Disconnected {
        link: 1,
        reason: LinkFailure::KeepaliveTimeout,
        retry_in,
    } = events[1]
    else {
        panic!("{events:?}");
    };
    assert_eq!(h.s.session_id(), None);
    let reconnect_at = 15.0 + retry_in.as_secs_f64();
    assert_eq!(
        h.tick(reconnect_at),
        vec![Event::Connect {
            link: 2,
            url: "wss://eventsub.test/ws".into()
        }]
    );
    // Frames from the dead link are ignored.
    assert!(h.text(1, &chat("late", "late", 0), reconnect_at).is_empty());
    h.s.handle_opened(2, h.at(reconnect_at));
    let events = h.text(2, &welcome("S2", 10), reconnect_at + 0.1);
    let again = subscribe_requests(&events, "S2");
    assert_eq!(again.len(), 4, "a fresh session subscribes again");
    // A late answer to the dead session's request is ignored.
    h.s.handle_subscribed(
        requests[0].0,
        Ok(created(&requests[0].1)),
        h.at(reconnect_at),
    );
    assert!(h.drain().is_empty());
    assert_eq!(h.s.active_subscriptions(), 0);
    h.accept_all(&again);
    assert_eq!(h.s.active_subscriptions(), 4);
}

#[test]
fn the_subscribe_window_is_reported_when_missed() {
    let mut h = Harness::new();
    let requests = h.up();
    // Nothing created within the welcome's 10 s.
    let events = h.tick(10.0);
    assert_eq!(
        events,
        vec![Event::SubscribeWindowMissed {
            session_id: "S1".into()
        }]
    );
    // With one created in time, nothing is reported.
    let mut h = Harness::new();
    let requests2 = h.up();
    h.s.handle_subscribed(requests2[0].0, Ok(created(&requests2[0].1)), h.at(2.0));
    h.drain();
    assert!(h.tick(10.0).is_empty());
    drop(requests);
}

#[test]
fn session_reconnect_switches_on_the_new_welcome_without_loss_double_or_resubscribing() {
    let mut h = Harness::new();
    let requests = h.up();
    h.accept_all(&requests);
    let mut seen = chat_texts(&h.text(1, &chat("n1", "a", 0), 1.0));
    let events = h.text(1, &reconnect("wss://eventsub.test/ws?reconnect=1"), 2.0);
    assert_eq!(
        events,
        vec![
            Event::Reconnecting { link: 1 },
            Event::Connect {
                link: 2,
                url: "wss://eventsub.test/ws?reconnect=1".into()
            }
        ]
    );
    assert_eq!(h.s.open_links(), vec![1, 2]);
    // The old link keeps delivering until the switch.
    seen.extend(chat_texts(&h.text(1, &chat("n2", "b", 0), 3.0)));
    h.s.handle_opened(2, h.at(3.0));
    let events = h.text(2, &welcome("S1", 10), 4.0);
    assert_eq!(
        events,
        vec![
            Event::Close { link: 1 },
            Event::Switched {
                from: Some(1),
                to: 2,
                session_id: "S1".into()
            }
        ],
        "no Subscribe after a reconnect"
    );
    assert_eq!(h.s.open_links(), vec![2, 1], "the old link is closing");
    // Twitch resends n2 on the new link: counted once. n3 is new. A late n4 on the old link still counts.
    seen.extend(chat_texts(&h.text(2, &chat("n2", "b", 0), 5.0)));
    seen.extend(chat_texts(&h.text(2, &chat("n3", "c", 0), 5.0)));
    seen.extend(chat_texts(&h.text(1, &chat("n4", "d", 0), 5.0)));
    assert_eq!(seen, ["a", "b", "c", "d"]);
    assert_eq!(h.s.stats().duplicates, 1);
    h.s.handle_closed(1, Some(1000), h.at(6.0));
    assert!(
        h.drain().is_empty(),
        "closing the old link is not a disconnect"
    );
    assert_eq!(h.s.open_links(), vec![2]);
    assert_eq!(h.s.active_subscriptions(), 4);
    // The new link's keepalive rules from its welcome.
    assert_eq!(h.s.poll_timeout(), Some(h.at(5.0 + 15.0)));
}

#[test]
fn the_old_link_closing_before_the_new_welcome_is_not_a_disconnect() {
    let mut h = Harness::new();
    let requests = h.up();
    h.accept_all(&requests);
    h.text(1, &reconnect("wss://eventsub.test/new"), 1.0);
    h.s.handle_closed(1, Some(4004), h.at(2.0));
    assert!(h.drain().is_empty());
    let events = h.text(2, &welcome("S1", 10), 3.0);
    assert_eq!(
        events,
        vec![Event::Switched {
            from: None,
            to: 2,
            session_id: "S1".into()
        }]
    );
    assert_eq!(h.s.active_subscriptions(), 4);
}

#[test]
fn a_failed_reconnect_falls_back_to_a_fresh_session() {
    let mut h = Harness::new();
    let requests = h.up();
    h.accept_all(&requests);
    h.text(1, &reconnect("wss://eventsub.test/new"), 1.0);
    // The old link's timer is stretched to the grace time (30 s + margin), the new one's is 30 s.
    assert_eq!(h.s.poll_timeout(), Some(h.at(31.0)));
    let events = h.tick(31.0);
    assert_eq!(
        events,
        vec![
            Event::Close { link: 2 },
            Event::ReconnectFailed {
                link: 2,
                reason: LinkFailure::WelcomeTimeout
            }
        ]
    );
    assert_eq!(h.s.open_links(), vec![1]);
    // Twitch closes the old link (4004): now a fresh connection to the configured URL.
    h.s.handle_closed(1, Some(4004), h.at(32.0));
    let events = h.drain();
    let Event::Disconnected {
        link: 1,
        reason: LinkFailure::Closed(Some(4004)),
        retry_in,
    } = events[0]
    else {
        panic!("{events:?}");
    };
    let at = 32.0 + retry_in.as_secs_f64();
    assert_eq!(
        h.tick(at),
        vec![Event::Connect {
            link: 3,
            url: "wss://eventsub.test/ws".into()
        }]
    );
    let events = h.text(3, &welcome("S3", 10), at);
    assert_eq!(subscribe_requests(&events, "S3").len(), 4);
}

#[test]
fn a_reconnect_url_that_is_not_wss_is_refused() {
    let mut h = Harness::new();
    let requests = h.up();
    h.accept_all(&requests);
    for url in [
        "http://evil.example/ws",
        "ws://plain.example/ws",
        "wss://a\\u0000b",
    ] {
        let events = h.text(1, &reconnect(url), 1.0);
        assert!(
            matches!(events[..], [Event::BadMessage { link: 1, .. }]),
            "{url}: {events:?}"
        );
    }
    assert_eq!(h.s.open_links(), vec![1]);
}

#[test]
fn never_more_than_three_links() {
    let mut h = Harness::new();
    let requests = h.up();
    h.accept_all(&requests);
    for (link, round) in (1..).zip(0..5) {
        let t = 1.0 + f64::from(round);
        h.text(link, &reconnect("wss://eventsub.test/again"), t);
        assert!(h.s.open_links().len() <= MAX_LINKS);
        h.text(link + 1, &welcome("S1", 10), t + 0.5);
        assert!(h.s.open_links().len() <= MAX_LINKS);
    }
    assert_eq!(h.s.active_subscriptions(), 4);
}

#[test]
fn revocations_are_reported_and_retried_only_where_that_helps() {
    let mut h = Harness::new();
    let requests = h.up();
    h.accept_all(&requests);
    let events = h.text(
        1,
        &revocation("v1", "channel.chat.message", "authorization_revoked"),
        1.0,
    );
    assert_eq!(
        events,
        vec![Event::Revoked {
            kind: "channel.chat.message".into(),
            reason: RevocationReason::AuthorizationRevoked,
            retrying: false
        }]
    );
    assert_eq!(h.s.active_subscriptions(), 3);
    // Maintenance: asked for again, once.
    let events = h.text(
        1,
        &revocation("v2", "channel.chat.clear", "beta_maintenance"),
        2.0,
    );
    assert!(matches!(&events[0], Event::Revoked { retrying: true, .. }));
    let again = subscribe_requests(&events, "S1");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].1.kind, "channel.chat.clear");
    h.accept_all(&again);
    let events = h.text(
        1,
        &revocation("v3", "channel.chat.clear", "beta_maintenance"),
        3.0,
    );
    assert!(
        matches!(
            &events[..],
            [Event::Revoked {
                retrying: false,
                ..
            }]
        ),
        "{events:?}"
    );
    // The same revocation resent is counted once.
    assert!(
        h.text(
            1,
            &revocation("v3", "channel.chat.clear", "beta_maintenance"),
            3.0
        )
        .is_empty()
    );
    // A fresh session after a disconnect does not ask for the authorization_revoked one again.
    let events = h.tick(100.0);
    let Event::Disconnected { retry_in, .. } = events[1] else {
        panic!("{events:?}");
    };
    let at = 100.0 + retry_in.as_secs_f64();
    h.tick(at);
    let events = h.text(2, &welcome("S2", 10), at);
    let kinds: Vec<String> = subscribe_requests(&events, "S2")
        .into_iter()
        .map(|(_, r)| r.kind)
        .collect();
    assert!(
        !kinds.contains(&"channel.chat.message".to_string()),
        "{kinds:?}"
    );
    assert_eq!(kinds.len(), 3);
}

#[test]
fn duplicates_are_dropped_within_a_bounded_window() {
    let mut config = SessionConfig::new("wss://eventsub.test/ws", specs());
    config.dedup_capacity = 8;
    let mut h = Harness {
        s: Session::new(config),
        t0: Instant::now(),
    };
    let requests = h.up();
    h.accept_all(&requests);
    assert_eq!(chat_texts(&h.text(1, &chat("same", "up", 0), 1.0)), ["up"]);
    assert!(chat_texts(&h.text(1, &chat("same", "up", 0), 1.0)).is_empty());
    assert_eq!(h.s.stats().duplicates, 1);
    for i in 0..1000 {
        h.text(1, &chat(&format!("id-{i}"), "x", 0), 2.0);
    }
    assert!(h.s.dedup.len() < 16, "memory bounded: {}", h.s.dedup.len());
    // The last 8 are still recognised.
    assert!(chat_texts(&h.text(1, &chat("id-999", "x", 0), 3.0)).is_empty());
}

#[test]
fn messages_older_than_ten_minutes_are_dropped() {
    let mut h = Harness::new();
    let requests = h.up();
    h.accept_all(&requests);
    assert_eq!(chat_texts(&h.text(1, &chat("fresh", "a", 599), 1.0)), ["a"]);
    assert!(chat_texts(&h.text(1, &chat("old", "b", 601), 1.0)).is_empty());
    assert_eq!(h.s.stats().stale, 1);
    // A stale revocation is ignored too.
    let old_revocation = revocation("vr", "channel.chat.clear", "authorization_revoked")
        .replace(&stamp(0), &stamp(-700));
    assert!(h.text(1, &old_revocation, 1.0).is_empty());
    assert_eq!(h.s.stats().stale, 2);
}

#[test]
fn subscription_failures_are_clear_events_not_loops() {
    let mut h = Harness::new();
    let requests = h.up();
    let body = |status: u16, message: &str| {
        format!(r#"{{"error":"x","status":{status},"message":"{message}"}}"#).into_bytes()
    };
    h.s.handle_subscribed(
        requests[0].0,
        Err(classify_create_error(
            &requests[0].1.kind,
            403,
            &body(403, "subscription missing proper authorization"),
        )),
        h.t0,
    );
    h.s.handle_subscribed(
        requests[1].0,
        Err(classify_create_error(
            &requests[1].1.kind,
            409,
            &body(409, "subscription already exists"),
        )),
        h.t0,
    );
    h.s.handle_subscribed(
        requests[2].0,
        Err(classify_create_error(
            &requests[2].1.kind,
            429,
            &body(429, "too many"),
        )),
        h.t0,
    );
    h.s.handle_subscribed(requests[3].0, Ok(created(&requests[3].1)), h.t0);
    let events = h.drain();
    let Event::SubscriptionFailed(SubscribeFailure::MissingScope { scope, kind, .. }) = &events[0]
    else {
        panic!("{events:?}");
    };
    assert_eq!(
        (scope.as_str(), kind.as_str()),
        ("user:read:chat", "channel.chat.message")
    );
    assert!(matches!(
        events[1],
        Event::SubscriptionFailed(SubscribeFailure::Conflict { .. })
    ));
    assert!(matches!(
        events[2],
        Event::SubscriptionFailed(SubscribeFailure::TooMany { .. })
    ));
    assert!(matches!(events[3], Event::Subscribed { .. }));
    // Nothing is asked again on this session, however long it runs.
    for t in 1..30 {
        let events = h.text(1, &keepalive(&format!("k{t}")), f64::from(t));
        assert!(events.is_empty(), "{events:?}");
        assert!(h.tick(f64::from(t)).is_empty());
    }
    // A fresh session asks again for 409 and 429 (the old session's subscriptions are gone) but not for
    // a missing scope.
    let events = h.tick(100.0);
    let Event::Disconnected { retry_in, .. } = events[1] else {
        panic!("{events:?}");
    };
    let at = 100.0 + retry_in.as_secs_f64();
    h.tick(at);
    let events = h.text(2, &welcome("S2", 10), at);
    assert_eq!(subscribe_requests(&events, "S2").len(), 3);
}

#[test]
fn out_of_place_messages_are_ignored() {
    let mut h = Harness::new();
    let requests = h.up();
    h.accept_all(&requests);
    // A second welcome on a live link.
    assert!(h.text(1, &welcome("S9", 10), 1.0).is_empty());
    assert_eq!(h.s.session_id(), Some("S1"));
    // An unknown message type.
    assert!(
        h.text(
            1,
            &keepalive("k").replace("session_keepalive", "session_nap"),
            1.0
        )
        .is_empty()
    );
    assert_eq!(h.s.stats().ignored, 2);
    // A frame on a link the session never asked for.
    assert!(h.text(77, &chat("z", "z", 0), 1.0).is_empty());
}

#[test]
fn plan_limits() {
    let channels = |n: usize| {
        (0..n)
            .map(|i| ChannelIds {
                login: format!("c{i}"),
                user_id: format!("{}", 1000 + i),
            })
            .collect::<Vec<_>>()
    };
    let request = |n: usize, extras: bool| PlanRequest {
        reader_user_id: "900".into(),
        channels: channels(n),
        redemptions: extras,
        cheers: extras,
        max_total_cost: 10,
    };
    assert_eq!(plan_subscriptions(&request(75, false)).unwrap().len(), 300);
    assert!(matches!(
        plan_subscriptions(&request(76, false)),
        Err(PlanError::TooManySubscriptions {
            count: 304,
            per_channel: 4,
            max: 300
        })
    ));
    assert_eq!(
        plan_subscriptions(&request(0, false)),
        Err(PlanError::NoChannels)
    );
    // Redemptions and cheers of another channel cost 1 each: 6 channels x 2 = 12 > 10.
    let err = plan_subscriptions(&request(6, true)).unwrap_err();
    assert_eq!(err, PlanError::TooCostly { cost: 12, max: 10 });
    // On the broadcaster's own account they cost nothing.
    let mut own = request(1, true);
    own.reader_user_id = "1000".into();
    let plan = plan_subscriptions(&own).unwrap();
    assert_eq!(plan.len(), 6);
    assert!(plan.iter().all(|s| s.cost_for("1000") == 0));
}

mod hostile {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn no_input_panics_and_memory_stays_bounded(frames in proptest::collection::vec(any::<String>(), 0..40),
                                                    ticks in proptest::collection::vec(0u64..100_000, 0..20)) {
            let mut h = Harness::new();
            let requests = h.up();
            h.accept_all(&requests);
            for (i, frame) in frames.iter().enumerate() {
                h.text(1, frame, i as f64 * 0.1);
            }
            for t in ticks {
                h.tick(t as f64 / 10.0);
            }
            prop_assert!(h.s.open_links().len() <= MAX_LINKS);
        }

        #[test]
        fn mangled_documented_messages_never_panic(cut in 0usize..2000, byte in any::<u8>()) {
            let mut h = Harness::new();
            let requests = h.up();
            h.accept_all(&requests);
            for base in [chat("n", "t", 0), welcome("S2", 10), reconnect("wss://x/y"),
                         revocation("r", "channel.chat.clear", "user_removed")] {
                let mut bytes = base.into_bytes();
                let at = cut % bytes.len();
                bytes[at] = byte;
                let text = String::from_utf8_lossy(&bytes).into_owned();
                h.text(1, &text, 1.0);
                let mut half = text.len() / 2;
                while !text.is_char_boundary(half) {
                    half -= 1;
                }
                h.text(1, &text[..half], 1.0);
            }
        }
    }
}

#[test]
fn join_adds_subscriptions_at_once_and_part_keeps_them_out_of_every_later_session() {
    let mut h = Harness::new();
    let requests = h.up();
    h.accept_all(&requests);
    let other = |kind: &str| SubscriptionSpec::chat(kind, "200", "900");
    let join = vec![other(types::CHAT_MESSAGE), other(types::MESSAGE_DELETE)];
    // Live session: asked for at once; a second join of the same specs adds nothing.
    assert_eq!(h.s.add_subscriptions(join.clone()), Ok(2));
    let added = subscribe_requests(&h.drain(), "S1");
    assert_eq!(added.len(), 2);
    assert_eq!(added[0].1.condition["broadcaster_user_id"], "200");
    assert_eq!(h.s.add_subscriptions(join), Ok(0));
    assert!(h.drain().is_empty());
    // Part the first channel while the second's answers are on their way: the first's four never come
    // back; the second's results still count.
    assert_eq!(
        h.s.remove_subscriptions(|s| s.condition["broadcaster_user_id"] == "100"),
        4
    );
    h.accept_all(&added);
    assert_eq!(h.s.active_subscriptions(), 2);
    // A fresh session (after a lost link) asks only for what is still in the plan.
    let _ = h.tick(16.0); // keepalive 10 s + margin 5 s: lost
    let events = h.tick(100.0); // after the backoff: connect again
    let Some(Event::Connect { link, .. }) = events
        .iter()
        .find(|e| matches!(e, Event::Connect { .. }))
        .cloned()
    else {
        panic!("no reconnect in {events:?}")
    };
    h.s.handle_opened(link, h.at(100.0));
    let events = h.text(link, &welcome("S2", 10), 100.0);
    let again = subscribe_requests(&events, "S2");
    let channels: Vec<&str> = again
        .iter()
        .map(|(_, r)| r.condition["broadcaster_user_id"].as_str())
        .collect();
    assert_eq!(channels, ["200", "200"]);
}

#[test]
fn a_join_beyond_the_per_session_limit_is_refused_whole() {
    let mut h = Harness::new();
    let many: Vec<SubscriptionSpec> = (0..MAX_SUBSCRIPTIONS_PER_SESSION - 3)
        .map(|i| SubscriptionSpec::chat(types::CHAT_MESSAGE, &format!("x{i}"), "900"))
        .collect();
    assert!(matches!(
        h.s.add_subscriptions(many),
        Err(PlanError::TooManySubscriptions { .. })
    ));
    assert!(h.drain().is_empty());
}
