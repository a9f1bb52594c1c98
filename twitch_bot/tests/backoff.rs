//! The reconnect schedule: 1 s doubling to 60 s, jittered within [half, full], reset after a stable minute.

use std::time::{Duration, Instant};
use twitch_bot::backoff::{Backoff, MAX_DELAY, MIN_DELAY, STABLE_AFTER, delay_for};

#[test]
fn schedule_doubles_from_one_second_to_sixty() {
    let full: Vec<u64> = (1..=9)
        .map(|n| delay_for(n, 1.0).as_millis() as u64)
        .collect();
    assert_eq!(
        full,
        [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]
    );
    let low: Vec<u64> = (1..=8)
        .map(|n| delay_for(n, 0.0).as_millis() as u64)
        .collect();
    assert_eq!(low, [1000, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
}

#[test]
fn jitter_stays_in_range_for_any_input() {
    for attempt in [0, 1, 2, 5, 7, 100, u32::MAX] {
        for jitter in [-1.0, 0.0, 0.3, 0.999, 1.0, 7.0, f64::NAN, f64::INFINITY] {
            let d = delay_for(attempt, jitter);
            assert!(
                d >= MIN_DELAY && d <= MAX_DELAY,
                "attempt {attempt} jitter {jitter}: {d:?}"
            );
        }
    }
    assert_eq!(delay_for(0, 1.0), delay_for(1, 1.0));
}

#[test]
fn attempts_count_up_and_reset_after_a_stable_minute() {
    let t0 = Instant::now();
    let mut b = Backoff::new();
    assert_eq!(b.handle_disconnected(t0, 1.0), (1, Duration::from_secs(1)));
    assert_eq!(b.handle_disconnected(t0, 1.0), (2, Duration::from_secs(2)));
    // A connection that drops after a few seconds does not reset the count.
    b.handle_connected(t0);
    assert_eq!(
        b.handle_disconnected(t0 + Duration::from_secs(5), 1.0),
        (3, Duration::from_secs(4))
    );
    // One that stayed up for a minute does.
    b.handle_connected(t0);
    assert_eq!(
        b.handle_disconnected(t0 + STABLE_AFTER, 1.0),
        (1, Duration::from_secs(1))
    );
    assert_eq!(b.attempt(), 1);
}
