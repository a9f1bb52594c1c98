//! The in-process API: `Bot::start` against the built-in demo chat (a real WebSocket on 127.0.0.1, through
//! the same code path as Twitch), events taken without blocking, requests, graceful shutdown.

use std::time::{Duration, Instant};

use twitch_bot::bot::{Bot, ConnectionState};
use twitch_bot::config::{Config, Token};
use twitch_bot::demo::{BackgroundDemo, DEMO_TOKEN};
use twitch_bot::events::Event;

/// Failure guard only.
const GUARD: Duration = Duration::from_secs(60);

fn next_matching(bot: &mut Bot, what: &str, mut pred: impl FnMut(&Event) -> bool) -> Event {
    let deadline = Instant::now() + GUARD;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no {what} within {GUARD:?}");
        if let Some(e) = bot.recv_timeout(left)
            && pred(&e)
        {
            return e;
        }
    }
}

#[test]
fn bot_in_process_runs_rounds_obeys_requests_and_shuts_down_with_results() {
    let demo = BackgroundDemo::start().unwrap();
    let mut config = Config::demo();
    config.connection.server = demo.url().to_owned();
    let mut bot = Bot::start_with_token(config, Some(Token::new(DEMO_TOKEN))).unwrap();

    next_matching(&mut bot, "connected", |e| {
        matches!(e, Event::Connected { .. })
    });
    assert_eq!(bot.state(), ConnectionState::Connected);
    next_matching(&mut bot, "joined", |e| matches!(e, Event::Joined { .. }));

    // A request the engine refuses is answered with an error event, and the bot goes on.
    bot.start_vote("no_such_vote").unwrap();
    let e = next_matching(&mut bot, "error", |e| matches!(e, Event::Error { .. }));
    let Event::Error { kind, message } = e else {
        unreachable!()
    };
    assert_eq!(kind, "vote");
    assert!(message.contains("no_such_vote"), "{message}");

    // Rounds close with a winner from the simulated viewers.
    let closed = next_matching(
        &mut bot,
        "vote_closed with a winner",
        |e| matches!(e, Event::VoteClosed { vote, winner: Some(_), .. } if vote == "move"),
    );
    let Event::VoteClosed {
        winner: Some(w),
        tally,
        voters,
        ..
    } = closed
    else {
        unreachable!()
    };
    assert!(
        tally.0.iter().any(|(k, _)| *k == w),
        "winner {w} in tally {tally:?}"
    );
    assert_eq!(tally.0.iter().map(|(_, n)| n).sum::<u64>(), voters);

    // The live tally on request (an overlay's vote bars): the round after the closed one (auto start) or
    // still the closed one, consistent counts; an unknown vote is a `vote` error.
    bot.request_tally("move").unwrap();
    let live = next_matching(
        &mut bot,
        "tally",
        |e| matches!(e, Event::Tally { vote, .. } if vote == "move"),
    );
    let Event::Tally {
        round,
        open,
        tally,
        voters,
        remaining_ms,
        ..
    } = live
    else {
        unreachable!()
    };
    assert!(round >= 1, "{round}");
    assert_eq!(tally.0.iter().map(|(_, n)| n).sum::<u64>(), voters);
    assert!(remaining_ms <= 3000, "{remaining_ms}");
    assert!(open || remaining_ms == 0);
    bot.request_tally("no_such_vote").unwrap();
    let e = next_matching(&mut bot, "error", |e| matches!(e, Event::Error { .. }));
    assert!(
        matches!(&e, Event::Error { kind, message } if kind == "vote" && message.contains("no_such_vote")),
        "{e:?}"
    );

    // Keyword handlers registered from the game's thread, run on it (queued) each "frame".
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let sink = hits.clone();
    let token = bot
        .keywords()
        .register_queued("!jump", move |hit| {
            assert_eq!(hit.message.text.split_whitespace().next(), Some("!jump"));
            sink.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        })
        .unwrap();
    let deadline = Instant::now() + GUARD;
    while hits.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        assert!(
            Instant::now() < deadline,
            "no !jump keyword hit within {GUARD:?}"
        );
        bot.keywords().run_queued();
        let _ = bot.recv_timeout(Duration::from_millis(20)); // the frame's wait
    }
    assert!(bot.keywords().unregister(token));

    // stop_vote closes the open round now.
    bot.stop_vote("move").unwrap();
    next_matching(
        &mut bot,
        "vote_closed after stop_vote",
        |e| matches!(e, Event::VoteClosed { vote, .. } if vote == "move"),
    );

    // Shutdown: the still-open anarchy round closes with its result; the events are all delivered.
    bot.shutdown().unwrap();
    assert_eq!(bot.state(), ConnectionState::Stopped);
    let mut rest = Vec::new();
    while let Some(e) = bot.try_recv() {
        rest.push(e);
    }
    assert!(
        rest.iter()
            .any(|e| matches!(e, Event::VoteClosed { vote, .. } if vote == "button")),
        "{rest:?}"
    );
    assert!(
        bot.start_vote("move").is_err(),
        "requests after shutdown fail"
    );
}
