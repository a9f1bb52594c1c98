//! The driver's core without sockets: handover bookkeeping and timer order.

use super::*;
use link::Links;

/// A driver core for `config` (no sockets), and the event reader's end.
fn core(config: &str) -> (Core, mpsc::Receiver<Event>) {
    let config = Config::from_toml_str(config, "test.toml").expect("test config");
    let settings = Settings {
        config,
        token: None,
        keywords_to: None,
        tokens: None,
    };
    let (outbox, events) = Outbox::channel();
    let state = watch::channel(ConnectionState::Connecting).0;
    let core = Core::new(settings, outbox, state).expect("test core");
    (core, events)
}

fn drain(events: &mut mpsc::Receiver<Event>) -> Vec<Event> {
    std::iter::from_fn(|| events.try_recv().ok()).collect()
}

/// (type, round) of vote events, in order.
fn rounds(events: &[Event]) -> Vec<(&'static str, u64)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::VoteOpened { round, .. } => Some(("vote_opened", *round)),
            Event::VoteClosed { round, .. } => Some(("vote_closed", *round)),
            Event::Tally { round, .. } => Some(("tally", *round)),
            _ => None,
        })
        .collect()
}

/// Connects `session` and logs it in at `now` (anonymous: the welcome is enough).
fn log_in(session: &mut Session, now: Instant) {
    session.handle_connected(now);
    session.handle_frame(":tmi.twitch.tv 001 justinfan123 :Welcome, GLHF!", now);
}

#[test]
fn a_handover_does_not_restart_the_stable_connection_clock_of_the_backoff() {
    let (mut core, _events) = core("[connection]\nchannels = [\"chan\"]\n");
    let t0 = Instant::now();
    let secs = |s| t0 + Duration::from_secs(s);
    // Two failed attempts, then a connection that stays up for long.
    core.link_lost("refused".into(), t0);
    core.link_lost("refused".into(), secs(1));
    assert_eq!(core.backoff.attempt(), 2);
    log_in(&mut core.session, secs(3));
    core.pump(None, None, secs(3));
    assert_eq!(core.session.state(), session::SessionState::LoggedIn);
    // 100 s later: RECONNECT, and the new connection logs in and takes over (chat never stopped).
    let mut config = session_config(&core.settings);
    config.channels = Vec::new();
    let mut new = Session::new(config);
    log_in(&mut new, secs(103));
    core.handover = Some(Handover {
        session: new,
        until: secs(103) + HANDOVER_LIMIT,
        failed: Vec::new(),
        broken: None,
    });
    core.pump(None, None, secs(103));
    core.promote(&mut Links::default(), secs(103));
    // The new connection drops soon after: chat had been up for 100 s, so the count starts again.
    core.link_lost("closed".into(), secs(110));
    assert_eq!(core.backoff.attempt(), 1, "the backoff was not reset");
}

#[test]
fn a_live_tally_due_with_the_round_end_never_precedes_the_next_rounds_vote_opened() {
    // An auto vote whose window is a whole number of tally intervals: the last report of a round
    // falls due together with the round's end.
    let (mut core, mut events) = core(
        "[[vote]]\nname = \"move\"\noptions = [\"up\", \"down\"]\nstart = \"auto\"\n\
         window_secs = 1.0\ntally_interval_secs = 0.5\n",
    );
    let t0 = Instant::now();
    core.chat.engine.start(t0);
    core.pump(None, None, t0);
    for at in [t0 + Duration::from_millis(500), t0 + Duration::from_secs(1)] {
        core.chat.engine_timers(at);
        core.pump(None, None, at);
    }
    assert_eq!(
        rounds(&drain(&mut events)),
        [
            ("vote_opened", 1),
            ("tally", 1),
            ("vote_closed", 1),
            ("vote_opened", 2)
        ],
        "a tally of round 2 before its vote_opened, or a report at the round's end"
    );
}
