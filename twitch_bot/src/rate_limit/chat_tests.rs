//! Fake-clock tests of [`ChatLimiter`]: the limits with their margin, re-sending refused messages, and the
//! back-off timeline.

use super::*;
use proptest::prelude::*;

const S: Duration = Duration::from_secs(1);

fn limiter() -> ChatLimiter {
    ChatLimiter::new(RateLimitConfig::default())
}

fn margin() -> Duration {
    RateLimitConfig::default().margin
}

/// Drains everything sendable at `now`.
fn drain(l: &mut ChatLimiter, now: Instant) -> Vec<String> {
    std::iter::from_fn(|| l.poll(now)).collect()
}

#[test]
fn twenty_per_thirty_seconds_sliding_plus_margin() {
    let mut l = limiter();
    let t0 = Instant::now();
    // 25 channels so the per-channel gap does not interfere.
    for i in 0..25 {
        l.enqueue(&format!("c{i}"), "hi", None).unwrap();
    }
    assert_eq!(drain(&mut l, t0).len(), 20);
    assert_eq!(l.next_ready(t0), Some(t0 + 30 * S + margin()));
    assert_eq!(drain(&mut l, t0 + 30 * S).len(), 0, "not at exactly 30 s");
    assert_eq!(drain(&mut l, t0 + 30 * S + margin()).len(), 5);
}

#[test]
fn sliding_not_fixed_window() {
    let mut l = limiter();
    let t0 = Instant::now();
    for i in 0..20 {
        l.enqueue(&format!("c{i}"), "hi", None).unwrap();
        assert!(l.poll(t0 + i * S).is_some());
    }
    l.enqueue("x", "late", None).unwrap();
    // The first message (t0) leaves the window at t0 + 30 s + margin.
    assert_eq!(l.next_ready(t0 + 20 * S), Some(t0 + 30 * S + margin()));
}

#[test]
fn moderators_get_one_hundred_and_no_gap() {
    let mut l = limiter();
    let t0 = Instant::now();
    l.set_privileged("modded", true);
    for i in 0..100 {
        l.enqueue("modded", &format!("m{i}"), None).unwrap();
    }
    assert_eq!(
        drain(&mut l, t0).len(),
        100,
        "no channel gap, 100 per window"
    );
    l.set_privileged("modded", false);
    l.enqueue("modded", "x", None).unwrap();
    assert_eq!(l.poll(t0 + 29 * S), None);
}

#[test]
fn the_channel_gap_has_the_margin_and_other_channels_flow() {
    let mut l = limiter();
    let t0 = Instant::now();
    l.enqueue("a", "1", None).unwrap();
    l.enqueue("a", "2", None).unwrap();
    l.enqueue("b", "3", None).unwrap();
    assert_eq!(
        drain(&mut l, t0),
        ["PRIVMSG #a :1", "PRIVMSG #b :3"],
        "b is not held behind a"
    );
    assert_eq!(
        l.poll(t0 + S),
        None,
        "1.000 s is too close for the server's clock"
    );
    assert_eq!(l.poll(t0 + S + margin() - Duration::from_millis(1)), None);
    assert_eq!(l.poll(t0 + S + margin()).as_deref(), Some("PRIVMSG #a :2"));
}

/// Sends through the limiter with the server seeing each line up to `jitter` late (0 for the first of two
/// lines, `jitter` for... every pattern from a small generator), and checks the server's own rules: 1 s per
/// channel, 20 per 30 s, on arrival times.
fn server_violations(jitter_ms: &[u64], margin: Duration) -> usize {
    let mut l = ChatLimiter::new(RateLimitConfig {
        margin,
        max_queue: 1000,
        ..RateLimitConfig::default()
    });
    let t0 = Instant::now();
    for i in 0..60 {
        l.enqueue("a", &format!("m{i}"), None).unwrap();
    }
    let mut arrivals: Vec<Instant> = Vec::new();
    let mut now = t0;
    let mut k = 0;
    while arrivals.len() < 60 && now < t0 + 600 * S {
        while l.poll(now).is_some() {
            let j = jitter_ms[k % jitter_ms.len()];
            k += 1;
            // Order is kept (TCP): a line never arrives before the previous one.
            let arrival =
                (now + Duration::from_millis(j)).max(arrivals.last().copied().unwrap_or(t0));
            arrivals.push(arrival);
            l.on_accepted("a");
        }
        now += Duration::from_millis(7);
    }
    assert_eq!(arrivals.len(), 60);
    let gap = arrivals.windows(2).filter(|w| w[1] - w[0] < S).count();
    let window = (0..arrivals.len())
        .filter(|&i| {
            arrivals[i..]
                .iter()
                .take_while(|u| **u - arrivals[i] < 30 * S)
                .count()
                > 20
        })
        .count();
    gap + window
}

#[test]
fn the_margin_absorbs_jitter_that_breaks_exact_pacing() {
    // The first line of each pair arrives 50 ms late, the next on time: an exact 1.000 s pacer loses.
    let jitter = [50, 0, 50, 0, 13, 0];
    assert!(
        server_violations(&jitter, Duration::ZERO) > 0,
        "exact pacing is broken by jitter"
    );
    assert_eq!(server_violations(&jitter, margin()), 0);
}

#[test]
fn slow_mode_spaces_messages_unless_moderator() {
    let mut l = limiter();
    let t0 = Instant::now();
    l.set_slow_mode("a", 10 * S);
    l.enqueue("a", "1", None).unwrap();
    l.enqueue("a", "2", None).unwrap();
    assert!(l.poll(t0).is_some());
    assert_eq!(l.next_ready(t0), Some(t0 + 10 * S + margin()));
    assert_eq!(l.poll(t0 + 10 * S), None);
    l.set_privileged("a", true);
    assert!(l.poll(t0 + 9 * S).is_some(), "moderators are exempt");
    l.set_privileged("a", false);
    l.set_slow_mode("a", Duration::ZERO);
    l.enqueue("a", "3", None).unwrap();
    assert!(
        l.poll(t0 + 10 * S + margin()).is_some(),
        "back to the 1 s gap"
    );
}

#[test]
fn duplicates_alternate_the_marker_within_thirty_seconds() {
    let mut l = limiter();
    let t0 = Instant::now();
    for _ in 0..3 {
        l.enqueue("a", "vote up", None).unwrap();
    }
    let sent: Vec<_> = (0..3).map(|i| l.poll(t0 + i * 2 * S).unwrap()).collect();
    assert_eq!(sent[0], "PRIVMSG #a :vote up");
    assert_eq!(sent[1], "PRIVMSG #a :vote up \u{E0000}");
    assert_eq!(sent[2], "PRIVMSG #a :vote up");
    l.enqueue("a", "vote up", None).unwrap();
    assert_eq!(
        l.poll(t0 + 40 * S).as_deref(),
        Some("PRIVMSG #a :vote up"),
        "after 30 s no marker is needed"
    );
}

#[test]
fn long_text_is_split_by_characters_at_words() {
    let mut l = limiter();
    // 200 words of 5 characters (6 bytes) plus spaces: 1199 characters.
    let text: Vec<String> = (0..200).map(|i| format!("w{i:03}é")).collect();
    let text = text.join(" ");
    assert_eq!(l.enqueue("a", &text, None).unwrap(), 3);
    let t0 = Instant::now();
    let lines: Vec<_> = (0..3).map(|i| l.poll(t0 + i * 2 * S).unwrap()).collect();
    for line in &lines {
        let body = line.strip_prefix("PRIVMSG #a :").unwrap();
        assert!(body.chars().count() <= 500);
        assert!(body.ends_with('é'), "split at a word boundary: {body:?}");
        assert!(body.starts_with('w'), "split at a word boundary: {body:?}");
    }
}

#[test]
fn injection_is_impossible() {
    let mut l = limiter();
    assert!(matches!(
        l.enqueue("a\r\nJOIN #b", "x", None),
        Err(SendError::InvalidChannel(_))
    ));
    assert!(matches!(
        l.enqueue("a", "x", Some("id\r\nQUIT")),
        Err(SendError::InvalidReplyId(_))
    ));
    assert_eq!(
        l.enqueue("a", "\r\n\x01", None),
        Err(SendError::EmptyMessage)
    );
    l.enqueue("#A", "hi\r\nPRIVMSG #b :owned", Some("abc-123"))
        .unwrap();
    let line = l.poll(Instant::now()).unwrap();
    assert_eq!(
        line,
        "@reply-parent-msg-id=abc-123 PRIVMSG #a :hi  PRIVMSG #b :owned"
    );
    assert!(!line.contains(['\r', '\n']));
}

#[test]
fn full_queue_refuses_the_newest_whole() {
    let mut l = ChatLimiter::new(RateLimitConfig {
        max_queue: 3,
        ..RateLimitConfig::default()
    });
    for i in 0..3 {
        l.enqueue("a", &format!("{i}"), None).unwrap();
    }
    assert_eq!(
        l.enqueue("a", "4", None),
        Err(SendError::QueueFull { capacity: 3 })
    );
    assert_eq!(l.queued(), 3);
    let mut l = ChatLimiter::new(RateLimitConfig {
        max_queue: 2,
        max_message_chars: 5,
        ..RateLimitConfig::default()
    });
    assert!(l.enqueue("a", "aaaa bbbb cccc", None).is_err());
    assert_eq!(l.queued(), 0);
}

#[test]
fn dropping_a_channel_keeps_the_others() {
    let mut l = limiter();
    l.enqueue("a", "1", None).unwrap();
    l.enqueue("b", "2", None).unwrap();
    l.enqueue("a", "3 four", Some("id-1")).unwrap();
    assert_eq!(l.drop_channel("a"), 2);
    assert_eq!(l.queued(), 1);
    assert_eq!(l.poll(Instant::now()).as_deref(), Some("PRIVMSG #b :2"));
}

#[test]
fn a_refused_message_goes_back_to_the_head_of_its_channel() {
    let mut l = limiter();
    let t0 = Instant::now();
    let gap = S + margin();
    for t in ["one", "two", "three"] {
        l.enqueue("a", t, None).unwrap();
    }
    l.enqueue("b", "other", None).unwrap();
    assert_eq!(drain(&mut l, t0), ["PRIVMSG #a :one", "PRIVMSG #b :other"]);
    l.on_accepted("b");
    // Twitch refuses "one": it is not lost, and it goes before "two".
    let dropped = l.on_refused(t0 + S / 10, Some("a"), Refusal::RateLimited);
    assert_eq!(dropped, None);
    assert_eq!(l.queued(), 3);
    let pause_end = t0 + S / 10 + RateLimitConfig::default().backoff_initial;
    assert_eq!(l.next_ready(t0 + S / 10), Some(pause_end));
    assert_eq!(l.poll(pause_end).as_deref(), Some("PRIVMSG #a :one"));
    l.on_accepted("a");
    assert_eq!(l.poll(pause_end + gap).as_deref(), Some("PRIVMSG #a :two"));
    l.on_accepted("a");
    assert_eq!(
        l.poll(pause_end + 2 * gap).as_deref(),
        Some("PRIVMSG #a :three")
    );
}

#[test]
fn two_refusals_in_a_row_keep_the_order() {
    let mut l = limiter();
    let t0 = Instant::now();
    l.set_privileged("a", true);
    for t in ["1", "2", "3"] {
        l.enqueue("a", t, None).unwrap();
    }
    assert_eq!(drain(&mut l, t0).len(), 3);
    for _ in 0..2 {
        assert_eq!(
            l.on_refused(t0, Some("a"), Refusal::SlowMode { wait: None }),
            None
        );
    }
    l.on_accepted("a");
    let later = t0 + 60 * S;
    assert_eq!(drain(&mut l, later), ["PRIVMSG #a :1", "PRIVMSG #a :2"]);
}

#[test]
fn refused_too_often_or_for_good_is_dropped_with_a_reason() {
    let mut l = limiter();
    let t0 = Instant::now();
    l.enqueue("a", "stubborn", None).unwrap();
    let mut now = t0;
    let max = RateLimitConfig::default().max_tries;
    for attempt in 1..=max {
        now += 60 * S;
        assert!(l.poll(now).is_some(), "attempt {attempt} sent");
        let dropped = l.on_refused(now, Some("a"), Refusal::RateLimited);
        if attempt < max {
            assert_eq!(dropped, None);
        } else {
            let d = dropped.expect("dropped after the last try");
            assert_eq!((d.channel.as_str(), d.text.as_str()), ("a", "stubborn"));
            assert!(d.reason.contains("5 times"), "{}", d.reason);
        }
    }
    assert_eq!(l.queued(), 0);
    l.enqueue("a", "same again", None).unwrap();
    now += 60 * S;
    assert!(l.poll(now).is_some());
    let d = l
        .on_refused(now, Some("a"), Refusal::Final("msg_duplicate".into()))
        .unwrap();
    assert_eq!(d.reason, "msg_duplicate");
    assert_eq!(l.queued(), 0, "not re-sent");
}

#[test]
fn slow_mode_refusal_holds_the_channel_for_the_time_twitch_names() {
    let mut l = limiter();
    let t0 = Instant::now();
    l.enqueue("a", "x", None).unwrap();
    l.enqueue("b", "y", None).unwrap();
    assert_eq!(drain(&mut l, t0).len(), 2);
    l.on_refused(t0, Some("a"), Refusal::SlowMode { wait: Some(7 * S) });
    assert_eq!(l.next_ready(t0), Some(t0 + 7 * S + margin()));
    l.enqueue("b", "z", None).unwrap();
    assert_eq!(
        l.poll(t0 + 2 * S).as_deref(),
        Some("PRIVMSG #b :z"),
        "other channels flow"
    );
}

#[test]
fn one_violation_pauses_briefly_and_keeps_the_full_rate() {
    let mut l = ChatLimiter::new(RateLimitConfig {
        max_queue: 1000,
        ..RateLimitConfig::default()
    });
    let t0 = Instant::now();
    l.on_rate_limit_notice(t0, Some("c0"));
    for i in 0..40 {
        l.enqueue(&format!("c{i}"), "hi", None).unwrap();
    }
    assert_eq!(drain(&mut l, t0 + S).len(), 0, "paused");
    assert_eq!(
        drain(&mut l, t0 + 2 * S).len(),
        20,
        "then the full 20, not 10 or 2"
    );
    assert_eq!(l.limit_for("c0", t0 + 2 * S), 20);
}

#[test]
fn backoff_timeline_cuts_on_repeats_and_recovers_within_a_minute() {
    let mut l = ChatLimiter::new(RateLimitConfig {
        max_queue: 1000,
        ..RateLimitConfig::default()
    });
    let t0 = Instant::now();
    // (time of notice, pause it starts, allowance right after)
    let timeline = [(0, 2, 20), (3, 4, 15), (8, 8, 10), (17, 16, 5), (34, 8, 5)];
    for (at, pause, allowance) in timeline {
        let now = t0 + at * S;
        l.on_rate_limit_notice(now, Some("a"));
        assert_eq!(l.next_ready(now), None, "empty queue");
        l.enqueue("zz", "probe", None).unwrap();
        assert_eq!(
            l.next_ready(now),
            Some(now + pause * S),
            "pause after the notice at {at} s"
        );
        l.drop_channel("zz");
        assert_eq!(
            l.limit_for("a", now),
            allowance,
            "allowance after the notice at {at} s"
        );
    }
    // The last notice at 34 s; three quarters back at 15 s steps: full at 79 s (45 s later).
    let last = t0 + 34 * S;
    let expect = [(14, 5), (15, 10), (30, 15), (44, 15), (45, 20)];
    for (after, allowance) in expect {
        assert_eq!(
            l.limit_for("a", last + after * S),
            allowance,
            "{after} s after the last"
        );
    }
    // Back at the full rate: 40 messages in 40 channels from 80 s on go 20 per 30 s again.
    for i in 0..40 {
        l.enqueue(&format!("c{i}"), "hi", None).unwrap();
    }
    let start = t0 + 80 * S;
    assert_eq!(drain(&mut l, start).len(), 20);
    assert_eq!(drain(&mut l, start + 30 * S + margin()).len(), 20);
}

#[test]
fn the_cut_follows_the_bucket_of_the_notice_channel() {
    let mut l = limiter();
    let t0 = Instant::now();
    l.set_privileged("modded", true);
    l.on_rate_limit_notice(t0, Some("plain"));
    l.on_rate_limit_notice(t0, Some("plain"));
    assert_eq!(l.limit_for("plain", t0), 15);
    assert_eq!(
        l.limit_for("modded", t0),
        100,
        "a non-moderator notice leaves the moderator rate"
    );
    let mut l = limiter();
    l.set_privileged("modded", true);
    for _ in 0..4 {
        l.on_rate_limit_notice(t0, Some("modded"));
    }
    assert_eq!(l.limit_for("modded", t0), 25);
    assert_eq!(l.limit_for("plain", t0), 20);
}

#[test]
fn status_shows_the_queue() {
    let mut l = limiter();
    let t0 = Instant::now();
    l.set_privileged("m", true);
    l.set_slow_mode("s", 3 * S);
    l.enqueue("a", "1", None).unwrap();
    l.enqueue("a", "2", None).unwrap();
    assert!(l.poll(t0).is_some());
    let st = l.status(t0);
    assert_eq!((st.queued, st.in_flight, st.capacity), (1, 1, 100));
    assert_eq!(st.next_send_ms, Some(1250));
    assert_eq!(
        (st.sent_in_window, st.allowance, st.moderator_allowance),
        (1, 20, 100)
    );
    let names: Vec<_> = st.channels.iter().map(|c| c.channel.as_str()).collect();
    assert_eq!(names, ["a", "m", "s"]);
    assert_eq!(st.channels[0].next_send_ms, Some(1250));
    assert!(st.channels[1].moderator);
    assert_eq!(st.channels[2].slow_mode_secs, 3);
    let json = serde_json::to_string(&st).unwrap();
    assert!(json.contains("\"queued\":1"), "{json}");
}

proptest! {
    #[test]
    fn outgoing_privmsg_round_trips_through_the_parser(text in "\\PC{1,80}", chan in "[a-z0-9_]{1,25}") {
        let mut l = limiter();
        let Ok(_) = l.enqueue(&chan, &text, None) else { return Ok(()) };
        let line = l.poll(Instant::now()).unwrap();
        let raw = crate::irc::RawLine::parse(&line).unwrap();
        prop_assert_eq!(raw.verb, "PRIVMSG");
        prop_assert_eq!(raw.params[0], format!("#{chan}"));
        prop_assert_eq!(raw.params[1], sanitize_text(&text));
    }

    #[test]
    fn never_more_than_twenty_in_any_thirty_seconds_plus_margin(gaps in proptest::collection::vec(0u64..3000, 1..80)) {
        let mut l = ChatLimiter::new(RateLimitConfig { max_queue: 1000, ..RateLimitConfig::default() });
        let t0 = Instant::now();
        let mut now = t0;
        let mut sent = Vec::new();
        for (i, g) in gaps.iter().enumerate() {
            now += Duration::from_millis(*g);
            l.enqueue(&format!("c{}", i % 7), &format!("m{i}"), None).unwrap();
            while l.poll(now).is_some() {
                sent.push(now);
            }
        }
        for (i, t) in sent.iter().enumerate() {
            let in_window = sent[i..].iter().take_while(|u| **u - *t < 30 * S + margin()).count();
            prop_assert!(in_window <= 20);
        }
    }

    #[test]
    fn refusals_never_lose_or_reorder_a_message(refuse in proptest::collection::vec(any::<bool>(), 1..40)) {
        let mut l = ChatLimiter::new(RateLimitConfig { max_queue: 1000, max_tries: 100, ..RateLimitConfig::default() });
        let t0 = Instant::now();
        let n = refuse.len();
        for i in 0..n {
            l.enqueue("a", &format!("m{i}"), None).unwrap();
        }
        let mut delivered = Vec::new();
        let mut now = t0;
        let mut k = 0;
        while delivered.len() < n && now < t0 + Duration::from_secs(100_000) {
            now += S / 2;
            if let Some(line) = l.poll(now) {
                if k < refuse.len() && refuse[k] {
                    prop_assert_eq!(l.on_refused(now, Some("a"), Refusal::RateLimited), None);
                } else {
                    l.on_accepted("a");
                    delivered.push(line.trim_start_matches("PRIVMSG #a :").trim_end_matches(" \u{E0000}").to_owned());
                }
                k += 1;
            }
        }
        let want: Vec<String> = (0..n).map(|i| format!("m{i}")).collect();
        prop_assert_eq!(delivered, want);
    }
}
