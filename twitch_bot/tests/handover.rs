//! A connection handover after `RECONNECT` (what the driver does with two sessions): the new session
//! takes over the old one's queued chat and rate-limit history, so every message is sent once, in
//! order, and the pace Twitch counts per account is kept across the switch.

use std::time::{Duration, Instant};

use twitch_bot::session::{Secret, Session, SessionConfig, SessionState};

fn logged_in(t: Instant) -> Session {
    let mut config = SessionConfig::new("mybot", Some(Secret::new("oauth:abc123")));
    config.channels = vec!["chan".into()];
    let mut s = Session::new(config);
    s.handle_connected(t);
    s.handle_frame(":tmi.twitch.tv 001 mybot :Welcome, GLHF!\r\n", t);
    s.handle_frame(":mybot!mybot@mybot.tmi.twitch.tv JOIN #chan\r\n", t);
    assert_eq!(s.state(), SessionState::LoggedIn);
    while s.poll_transmit(t).is_some() {}
    while s.poll_event().is_some() {}
    s
}

/// Chat lines `s` sends at `now`.
fn chat_at(s: &mut Session, now: Instant) -> Vec<String> {
    s.handle_timeout(now);
    std::iter::from_fn(|| s.poll_transmit(now))
        .filter(|l| l.starts_with("PRIVMSG"))
        .collect()
}

#[test]
fn queued_chat_and_its_pace_move_to_the_new_session() {
    let t0 = Instant::now();
    let mut old = logged_in(t0);
    for i in 1..=4 {
        old.say("chan", &format!("message {i}")).unwrap();
    }
    let first = chat_at(&mut old, t0);
    assert_eq!(first, ["PRIVMSG #chan :message 1"]);
    let queued = old.queued_messages();
    assert_eq!(queued, 3, "the rest waits for the rate limiter");

    let mut new = logged_in(t0);
    new.take_chat_from(&mut old);
    assert_eq!(old.queued_messages(), 0);
    assert_eq!(new.queued_messages(), queued);

    // Nothing more from the old session, ever; the new one keeps the pace (not a burst at t0).
    let mut sent = first;
    assert!(
        chat_at(&mut new, t0).is_empty(),
        "no burst right after the switch"
    );
    let mut now = t0;
    for _ in 0..100 {
        now += Duration::from_millis(100);
        assert!(chat_at(&mut old, now).is_empty());
        sent.extend(chat_at(&mut new, now));
    }
    assert_eq!(
        sent,
        (1..=4)
            .map(|i| format!("PRIVMSG #chan :message {i}"))
            .collect::<Vec<_>>(),
        "each message once, in order"
    );
}
