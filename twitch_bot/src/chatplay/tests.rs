//! Engine-level tests: rounds, fairness, modes, moderation, and the property tests.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::test_support::{IrcModeration, chat, chat_id, delete, timeout};
use super::*;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn engine_with(vote: VoteConfig) -> Engine {
    let mut config = EngineConfig::new("the_bot");
    config.votes.push(vote);
    config.seed = Some(7);
    Engine::new(config).unwrap()
}

fn events(engine: &mut Engine) -> Vec<Event> {
    std::iter::from_fn(|| engine.poll_event()).collect()
}

fn closed(events: &[Event]) -> Vec<&VoteResult> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::VoteClosed(r) => Some(r),
            _ => None,
        })
        .collect()
}

fn tally_map(entries: &[TallyEntry]) -> BTreeMap<String, u64> {
    entries
        .iter()
        .map(|e| (e.choice.label(), e.count))
        .collect()
}

fn labels(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

#[test]
fn a_democracy_round_opens_counts_and_closes_with_a_result() {
    let mut v = VoteConfig::new("move", ["up", "down", "left"]);
    v.window_secs = 12.5;
    v.max_repeat = 9;
    let mut e = engine_with(v);
    let t = Instant::now();
    e.start(t);
    let opened = events(&mut e);
    match &opened[..] {
        [Event::VoteOpened(o)] => {
            assert_eq!(
                (o.vote.as_str(), o.round, o.window),
                ("move", 1, secs(12.5))
            );
            assert_eq!(o.options, ["up", "down", "left"]);
            assert_eq!(o.closes_at, t + secs(12.5));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(e.poll_timeout(), Some(t + secs(12.5)));
    e.handle_chat(&chat_id("a", "1", "up"), t + secs(1.0));
    e.handle_chat(&chat_id("b", "2", "Up2"), t + secs(1.0));
    e.handle_chat(
        &chat_id("c", "3", "\x01ACTION !vote up2\x01"),
        t + secs(1.0),
    );
    e.handle_chat(&chat_id("d", "4", "down"), t + secs(1.0));
    e.handle_chat(&chat_id("x", "5", "up down"), t + secs(1.0));
    let live = e.tally("move", t + secs(2.5)).unwrap();
    assert_eq!(live.remaining, secs(10.0));
    assert_eq!(live.voters, 4);
    assert_eq!(live.leader.unwrap().label(), "up2");
    e.handle_timeout(t + secs(12.4));
    assert!(events(&mut e).is_empty(), "not due yet");
    e.handle_timeout(t + secs(12.5));
    let ev = events(&mut e);
    let r = closed(&ev)[0];
    assert_eq!((r.round, r.voters), (1, 4));
    assert_eq!(r.winner.as_ref().unwrap().label(), "up2");
    // tally in option order, then repeat order
    let order: Vec<String> = r.tally.iter().map(|e| e.choice.label()).collect();
    assert_eq!(order, ["up", "up2", "down"]);
    assert_eq!(
        tally_map(&r.tally),
        labels(&[("up", 1), ("up2", 2), ("down", 1)])
    );
    assert!(
        matches!(&ev[1], Event::VoteOpened(o) if o.round == 2),
        "auto: back to back"
    );
    assert_eq!(e.tally("move", t + secs(13.0)).unwrap().voters, 0);
}

#[test]
fn last_valid_ballot_wins_and_invalid_messages_change_nothing() {
    let mut e = engine_with(VoteConfig::new("move", ["up", "down"]));
    let t = Instant::now();
    e.start(t);
    e.handle_chat(&chat_id("a", "1", "up"), t);
    e.handle_chat(&chat_id("a", "2", "down"), t);
    e.handle_chat(&chat_id("a", "3", "lol up"), t);
    e.handle_chat(&chat_id("a", "4", "up3"), t); // no repeats in this vote
    let v = e.vote("move").unwrap();
    assert_eq!(v.ballot_of(Some("id-a"), "a").unwrap().option, "down");
    assert_eq!(tally_map(&v.tally()), labels(&[("down", 1)]));
    assert_eq!(v.voters(), 1);
}

#[test]
fn replayed_lines_after_a_reconnect_count_once_and_the_round_survives() {
    let mut e = engine_with(VoteConfig::new("move", ["up", "down"]));
    let t = Instant::now();
    e.start(t);
    let lines = [
        chat_id("a", "b34ccfc7-4977-403a-8a94-33c6bac34fb8", "up"),
        chat_id("a", "m2", "down"),
    ];
    for l in &lines {
        e.handle_chat(l, t + secs(1.0));
    }
    // the connection drops; the server replays both lines: the older one must not win back
    for l in &lines {
        e.handle_chat(l, t + secs(5.0));
    }
    let v = e.vote("move").unwrap();
    assert_eq!(v.ballot_of(Some("id-a"), "a").unwrap().option, "down");
    assert_eq!(v.voters(), 1);
    // a replay in the next round is still recognised
    e.handle_timeout(t + secs(20.0));
    e.handle_chat(&lines[0], t + secs(21.0));
    assert_eq!(e.vote("move").unwrap().voters(), 0);
}

#[test]
fn the_bot_and_users_without_tags() {
    let mut e = engine_with(VoteConfig::new("move", ["up", "down"]));
    let t = Instant::now();
    e.start(t);
    e.handle_chat(&chat("the_bot", "up"), t);
    e.handle_chat(&chat("The_Bot", "up"), t);
    assert_eq!(e.vote("move").unwrap().voters(), 0, "the bot never votes");
    let mut anon = chat("x", "up");
    anon.user_id = None;
    e.handle_chat(&anon, t);
    anon.text = "down".into();
    e.handle_chat(&anon, t);
    let v = e.vote("move").unwrap();
    assert_eq!(v.voters(), 1, "keyed by login without a user-id tag");
    assert_eq!(v.ballot_of(None, "x").unwrap().option, "down");
}

#[test]
fn numeric_and_other_user_ids_are_distinct_voters() {
    let mut e = engine_with(VoteConfig::new("move", ["up", "down"]));
    let t = Instant::now();
    e.start(t);
    for (id, text) in [
        ("123", "up"),
        ("0123", "up"),
        ("123", "down"),
        ("abc", "up"),
    ] {
        let mut m = chat("someone", text);
        m.user_id = Some(id.into());
        e.handle_chat(&m, t);
    }
    let v = e.vote("move").unwrap();
    assert_eq!(v.voters(), 3);
    assert_eq!(v.ballot_of(Some("123"), "someone").unwrap().option, "down");
    let mut ban = timeout("someone");
    ban.target_user_id = Some("123".into());
    e.handle_clear_chat(&ban, t);
    assert_eq!(
        tally_map(&e.vote("move").unwrap().tally()),
        labels(&[("up", 2)])
    );
}

#[test]
fn clearchat_and_clearmsg_remove_ballots() {
    let mut e = engine_with(VoteConfig::new("move", ["up", "down"]));
    let t = Instant::now();
    e.start(t);
    e.handle_chat(&chat_id("a", "1", "up"), t);
    e.handle_chat(&chat_id("b", "2", "up"), t);
    e.handle_chat(&chat_id("c", "3", "down"), t);
    e.handle_clear_chat(&timeout("a"), t);
    assert_eq!(
        tally_map(&e.vote("move").unwrap().tally()),
        labels(&[("up", 1), ("down", 1)])
    );
    // deleting c's message removes c's ballot
    e.handle_clear_msg(&delete("c", "3"), t);
    assert_eq!(
        tally_map(&e.vote("move").unwrap().tally()),
        labels(&[("up", 1)])
    );
    // b changes their mind; deleting b's OLD message leaves the new ballot
    e.handle_chat(&chat_id("b", "4", "down"), t);
    e.handle_clear_msg(&delete("b", "2"), t);
    assert_eq!(
        tally_map(&e.vote("move").unwrap().tally()),
        labels(&[("down", 1)])
    );
    // a replay of a deleted message does not bring the ballot back
    e.handle_clear_msg(&delete("b", "4"), t);
    e.handle_chat(&chat_id("b", "4", "down"), t);
    assert_eq!(e.vote("move").unwrap().voters(), 0);
    // a timed-out user may vote again once back (their new ballot counts)
    e.handle_chat(&chat_id("a", "5", "down"), t);
    assert_eq!(e.vote("move").unwrap().voters(), 1);
    // clearing the whole chat removes nothing
    e.handle_clear_chat(
        &crate::irc::ClearChat {
            channel: "chan".into(),
            target_login: None,
            target_user_id: None,
            ban_duration_secs: None,
            server_timestamp_ms: None,
            historical: false,
        },
        t,
    );
    assert_eq!(e.vote("move").unwrap().voters(), 1);
    // a CLEARCHAT naming only the login still finds a user keyed by id
    let mut by_login = timeout("a");
    by_login.target_user_id = None;
    e.handle_clear_chat(&by_login, t);
    assert_eq!(e.vote("move").unwrap().voters(), 0);
}

#[test]
fn ties_go_to_the_first_listed_or_a_seeded_random_pick() {
    let t = Instant::now();
    let run = |tie: TieBreak, seed: u64| {
        let mut v = VoteConfig::new("move", ["up", "down", "left"]);
        v.tie = tie;
        let mut config = EngineConfig::new("bot");
        config.votes.push(v);
        config.seed = Some(seed);
        let mut e = Engine::new(config).unwrap();
        e.start(t);
        let mut winners = Vec::new();
        for round in 0..30u32 {
            let at = t + secs(20.0 * f64::from(round));
            e.handle_chat(&chat(&format!("x{round}"), "left"), at);
            e.handle_chat(&chat(&format!("y{round}"), "down"), at);
            let r = e.close_round("move", at).unwrap();
            winners.push(r.winner.unwrap().option);
        }
        winners
    };
    assert!(run(TieBreak::First, 1).iter().all(|w| w == "down"));
    let a = run(TieBreak::Random, 1);
    assert_eq!(a, run(TieBreak::Random, 1), "same seed, same picks");
    assert!(
        a.contains(&"down".to_owned()) && a.contains(&"left".to_owned()),
        "{a:?}"
    );
    assert!(!a.contains(&"up".to_owned()), "only the tied can win");
}

#[test]
fn min_voters_and_empty_rounds() {
    let t = Instant::now();
    let mut v = VoteConfig::new("move", ["up", "down"]);
    v.min_voters = 3;
    let mut e = engine_with(v);
    e.start(t);
    e.handle_chat(&chat("a", "down"), t);
    e.handle_chat(&chat("b", "down"), t);
    let r = e.close_round("move", t).unwrap();
    assert_eq!((r.winner, r.voters), (None, 2));
    assert_eq!(tally_map(&r.tally), labels(&[("down", 2)]));
    // min_voters 0 is refused: a round without ballots never has a winner
    let mut v = VoteConfig::new("move", ["up", "down"]);
    v.min_voters = 0;
    let mut config = EngineConfig::new("the_bot");
    config.votes.push(v);
    let e = Engine::new(config).unwrap_err();
    assert!(matches!(e, ConfigError::ZeroMinVoters { .. }), "{e}");
    assert!(e.to_string().contains("min_voters"), "{e}");
    // min_voters 1, one option disabled, nobody voted: no winner
    let mut e = engine_with(VoteConfig::new("move", ["up", "down"]));
    e.start(t);
    e.vote_mut("move")
        .unwrap()
        .set_option_enabled("up", false)
        .unwrap();
    let r = e.close_round("move", t).unwrap();
    assert_eq!((r.winner, r.voters), (None, 0));
    assert!(r.tally.is_empty());
}

#[test]
fn anarchy_passes_inputs_on_at_once_with_a_per_user_cooldown() {
    let mut v = VoteConfig::new("move", ["up", "down"]);
    v.mode = Mode::Anarchy;
    v.max_repeat = 3;
    v.anarchy_cooldown_secs = 1.5;
    let mut e = engine_with(v);
    let t = Instant::now();
    e.start(t);
    events(&mut e);
    e.handle_chat(&chat_id("a", "1", "up2"), t);
    e.handle_chat(&chat_id("a", "2", "down"), t + secs(1.0)); // cooling down
    e.handle_chat(&chat_id("b", "3", "down"), t + secs(1.0));
    e.handle_chat(&chat_id("b", "3", "down"), t + secs(1.1)); // replay
    e.handle_chat(&chat_id("a", "4", "!down"), t + secs(1.5));
    let inputs: Vec<(String, u8, String)> = events(&mut e)
        .into_iter()
        .map(|ev| match ev {
            Event::Input(i) => {
                assert_eq!(
                    (i.vote.as_str(), i.round, i.channel.as_str()),
                    ("move", 1, "chan")
                );
                assert_eq!(i.user_id, Some(format!("id-{}", i.user)));
                (i.choice.option, i.choice.repeat, i.user)
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        inputs,
        [
            ("up".to_owned(), 2, "a".to_owned()),
            ("down".to_owned(), 1, "b".to_owned()),
            ("down".to_owned(), 1, "a".to_owned())
        ]
    );
    let r = e.close_round("move", t + secs(2.0)).unwrap();
    assert_eq!(
        r.winner, None,
        "anarchy has no winner: inputs were applied already"
    );
    assert_eq!(r.voters, 2);
    assert_eq!(tally_map(&r.tally), labels(&[("up2", 1), ("down", 2)]));
}

#[test]
fn command_started_votes_and_moderator_control() {
    let mut v = VoteConfig::new("boss", ["fight", "flee", "start"]);
    v.start = Start::Command;
    v.window_secs = 0.5;
    let mut e = engine_with(v);
    let t = Instant::now();
    e.start(t);
    assert!(events(&mut e).is_empty(), "command votes wait");
    e.handle_chat(&chat("a", "fight"), t);
    assert_eq!(e.vote("boss").unwrap().voters(), 0, "no round open");
    e.handle_chat(&chat("pleb", "!vote start boss"), t);
    assert!(events(&mut e).is_empty(), "not a moderator");
    let mut m = chat("mod", "!VOTE start BOSS");
    m.roles.moderator = true;
    e.handle_chat(&m, t);
    assert!(matches!(&events(&mut e)[..], [Event::VoteOpened(o)] if o.round == 1));
    // `!vote start` alone is a ballot for the option "start"
    e.handle_chat(&chat("b", "!vote start"), t);
    assert_eq!(
        e.vote("boss")
            .unwrap()
            .ballot_of(Some("id-b"), "b")
            .unwrap()
            .option,
        "start"
    );
    e.handle_timeout(t + secs(0.5));
    let ev = events(&mut e);
    assert_eq!(ev.len(), 1, "command votes do not reopen: {ev:?}");
    assert_eq!(closed(&ev)[0].winner.as_ref().unwrap().option, "start");
    assert_eq!(e.poll_timeout(), None);
    // the broadcaster stops a vote early
    assert_eq!(e.start_vote("boss", t + secs(1.0)), Ok(2));
    let mut b = chat("owner", "!vote stop boss");
    b.roles.broadcaster = true;
    e.handle_chat(&b, t + secs(1.1));
    assert!(
        matches!(&events(&mut e)[..], [Event::VoteOpened(_), Event::VoteClosed(r)] if r.round == 2)
    );
    assert!(!e.vote("boss").unwrap().is_open());
}

#[test]
fn stopping_an_auto_vote_and_restarting_it() {
    let mut e = engine_with(VoteConfig::new("move", ["up"]));
    let t = Instant::now();
    e.start(t);
    assert!(e.stop_vote("move", t).unwrap().is_some());
    e.handle_timeout(t + secs(100.0));
    assert!(!e.vote("move").unwrap().is_open());
    assert_eq!(e.start_vote("move", t + secs(100.0)), Ok(2));
    e.handle_timeout(t + secs(120.0));
    assert_eq!(e.vote("move").unwrap().round(), 3, "back to back again");
    assert!(matches!(
        e.start_vote("nope", t),
        Err(VoteError::UnknownVote(_))
    ));
}

#[test]
fn commands_come_out_as_events() {
    let mut config = EngineConfig::new("bot");
    config.commands.push(CommandConfig::new("jump", ["!jump"]));
    config.votes.push(VoteConfig::new("move", ["jump"]));
    let mut e = Engine::new(config).unwrap();
    let t = Instant::now();
    e.start(t);
    events(&mut e);
    e.handle_chat(&chat("a", "!jump  high "), t);
    e.handle_chat(&chat("bot", "!jump"), t);
    let ev = events(&mut e);
    assert_eq!(ev.len(), 1);
    match &ev[0] {
        Event::Command(c) => {
            assert_eq!(
                (
                    c.command.as_str(),
                    c.channel.as_str(),
                    c.user.as_str(),
                    c.args.as_str()
                ),
                ("jump", "chan", "a", "high")
            );
        }
        other => panic!("{other:?}"),
    }
    // "!jump  high" is no ballot; a bare "!jump" is both a command and a ballot for "jump"
    assert_eq!(e.vote("move").unwrap().voters(), 0);
    e.handle_chat(&chat("c", "!jump"), t);
    assert!(matches!(&events(&mut e)[..], [Event::Command(c)] if c.args.is_empty()));
    assert_eq!(e.vote("move").unwrap().voters(), 1);
}

#[test]
fn keywords_see_chat_through_the_engine() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let mut e = engine_with(VoteConfig::new("move", ["up"]));
    let n = Arc::new(AtomicUsize::new(0));
    let m = n.clone();
    e.keywords()
        .register("!hi", move |hit| {
            assert_eq!(hit.message.login, "a");
            m.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    e.handle_chat(&chat("a", "!hi there"), Instant::now());
    assert_eq!(n.load(Ordering::SeqCst), 1);
}

#[test]
fn legacy_operations() {
    let mut v = VoteConfig::new("move", ["up", "down"]);
    v.max_repeat = 2;
    let mut e = engine_with(v);
    let t = Instant::now();
    e.start(t);
    e.handle_chat(&chat("a", "up2"), t);
    e.handle_chat(&chat("b", "down"), t);
    let vote = e.vote_mut("move").unwrap();
    assert!(vote.option_exists("UP") && !vote.option_exists("left"));
    vote.add_option("left").unwrap();
    assert!(matches!(vote.add_option("!x"), Err(VoteError::Config(_))));
    assert_eq!(vote.option_count("up"), Some(1));
    vote.configure_option("left", 4, true).unwrap();
    assert_eq!(
        vote.top(2)
            .iter()
            .map(|e| (e.choice.label(), e.count))
            .collect::<Vec<_>>(),
        [("left".to_owned(), 4), ("up2".to_owned(), 1)]
    );
    vote.set_option_enabled("left", false).unwrap();
    assert_eq!(vote.option_enabled("left"), Some(false));
    vote.set_enabled_all(true);
    vote.set_count_all(0);
    let mut visited = Vec::new();
    vote.visit(|name, count, enabled| visited.push((name.to_owned(), count, enabled)));
    assert_eq!(
        visited,
        [
            ("up".to_owned(), 0, true),
            ("down".to_owned(), 0, true),
            ("left".to_owned(), 0, true)
        ]
    );
    vote.set_count_all(0); // idempotent
    // remove an option: its voters lose their ballot; later options keep theirs
    let mut e = engine_with(VoteConfig::new("move", ["up", "down", "left"]));
    e.start(t);
    e.handle_chat(&chat("a", "up"), t);
    e.handle_chat(&chat("b", "left"), t);
    let vote = e.vote_mut("move").unwrap();
    vote.remove_option("up").unwrap();
    assert_eq!(vote.voters(), 1);
    assert_eq!(vote.ballot_of(Some("id-b"), "b").unwrap().option, "left");
    assert_eq!(vote.ballot_of(Some("id-a"), "a"), None);
    vote.remove_option("down").unwrap();
    assert!(matches!(
        vote.remove_option("left"),
        Err(VoteError::LastOption { .. })
    ));
    e.handle_chat(&chat("a", "left"), t);
    assert_eq!(
        tally_map(&e.vote("move").unwrap().tally()),
        labels(&[("left", 2)])
    );
    // an added option with a longer name is matched
    e.vote_mut("move")
        .unwrap()
        .add_option("a-much-longer-option-name")
        .unwrap();
    e.handle_chat(&chat("c", "!vote a-much-longer-option-name"), t);
    assert_eq!(e.vote("move").unwrap().voters(), 3);
}

#[test]
fn voter_limiting_and_reset_voted_list() {
    let mut e = engine_with(VoteConfig::new("move", ["up", "down"]));
    let t = Instant::now();
    e.start(t);
    e.handle_chat(&chat("a", "up"), t);
    e.vote_mut("move").unwrap().reset_voted_list();
    e.handle_chat(&chat("a", "down"), t);
    let v = e.vote("move").unwrap();
    assert_eq!(
        tally_map(&v.tally()),
        labels(&[("up", 1), ("down", 1)]),
        "the first ballot stays counted"
    );
    assert_eq!(v.voters(), 2);
    e.vote_mut("move").unwrap().set_voter_limiting(false);
    for _ in 0..3 {
        e.handle_chat(&chat("b", "up"), t);
    }
    let v = e.vote("move").unwrap();
    assert_eq!(tally_map(&v.tally()), labels(&[("up", 4), ("down", 1)]));
    assert_eq!(v.voters(), 5);
    assert!(!v.voter_limiting());
}

#[test]
fn disabled_options_take_no_ballots_and_cannot_win() {
    let mut e = engine_with(VoteConfig::new("move", ["up", "down"]));
    let t = Instant::now();
    e.start(t);
    e.handle_chat(&chat("a", "up"), t);
    e.handle_chat(&chat("b", "up"), t);
    e.handle_chat(&chat("c", "down"), t);
    e.vote_mut("move")
        .unwrap()
        .set_option_enabled("up", false)
        .unwrap();
    e.handle_chat(&chat("d", "up"), t);
    let r = e.close_round("move", t).unwrap();
    assert_eq!(tally_map(&r.tally), labels(&[("up", 2), ("down", 1)]));
    assert_eq!(r.winner.unwrap().option, "down");
    assert_eq!(r.voters, 3);
}

#[test]
fn late_calls_close_the_round_before_counting() {
    let mut e = engine_with(VoteConfig::new("move", ["up", "down"]));
    let t = Instant::now();
    e.start(t);
    e.handle_chat(&chat("a", "up"), t + secs(19.9));
    e.handle_chat(&chat("b", "down"), t + secs(20.0)); // after the deadline: next round
    let ev = events(&mut e);
    let r = closed(&ev)[0];
    assert_eq!(tally_map(&r.tally), labels(&[("up", 1)]));
    assert_eq!(e.vote("move").unwrap().voters(), 1);
    assert_eq!(e.vote("move").unwrap().round(), 2);
}

#[test]
fn hostile_text_never_panics() {
    let mut v = VoteConfig::new("move", ["up", "é", "日本"]);
    v.max_repeat = 9;
    let mut e = engine_with(v);
    let t = Instant::now();
    e.start(t);
    let nasty = [
        "\u{0}",
        "\x01",
        "\x01ACTION",
        "\x01ACTION\x01",
        "é9",
        "日本9",
        "日本\u{E0000}9",
        "\u{FEFF}",
        "up\u{301}",
        "İ",
        "ǅ",
        "\u{10FFFF}",
        "!vote \u{200B}",
        "+",
        "!",
        "9",
        "up\r\n",
    ];
    for (i, text) in nasty.iter().enumerate() {
        e.handle_chat(&chat(&format!("u{i}"), text), t);
    }
    let v = e.vote("move").unwrap();
    assert_eq!(
        tally_map(&v.tally()),
        labels(&[("é9", 1), ("日本9", 2), ("up", 1)]),
    );
}

#[test]
fn the_event_queue_is_bounded() {
    let mut v = VoteConfig::new("move", ["up"]);
    v.mode = Mode::Anarchy;
    let mut config = EngineConfig::new("bot");
    config.votes.push(v);
    config.event_capacity = 10;
    let mut e = Engine::new(config).unwrap();
    let t = Instant::now();
    for i in 0..50 {
        e.handle_chat(&chat(&format!("u{i}"), "up"), t);
    }
    assert_eq!(events(&mut e).len(), 10);
    assert_eq!(e.dropped_events(), 41); // 1 opened + 50 inputs - 10 kept
}

#[test]
fn the_engine_moves_between_threads_and_keywords_are_shared() {
    fn send<T: Send>() {}
    fn send_sync<T: Send + Sync + Clone>() {}
    send::<Engine>();
    send_sync::<Keywords>();
}

#[test]
fn votes_can_be_added_and_removed_at_run_time() {
    let mut e = engine_with(VoteConfig::new("move", ["up"]));
    let t = Instant::now();
    e.start(t);
    events(&mut e);
    e.add_vote(VoteConfig::new("boss", ["a-very-long-option-name"]), t)
        .unwrap();
    assert!(matches!(&events(&mut e)[..], [Event::VoteOpened(o)] if o.vote == "boss"));
    e.handle_chat(&chat("a", "!vote A-Very-Long-Option-Name"), t);
    assert_eq!(e.vote("boss").unwrap().voters(), 1);
    let r = e.remove_vote("boss", t).unwrap().unwrap();
    assert_eq!(r.winner.unwrap().option, "a-very-long-option-name");
    assert!(e.vote("boss").is_none());
    assert!(matches!(
        e.remove_vote("boss", t),
        Err(VoteError::UnknownVote(_))
    ));
    let mut bad = VoteConfig::new("x", ["y"]);
    bad.window_secs = -1.0;
    assert!(e.add_vote(bad, t).is_err());
}

#[test]
fn historical_backlog_lines_fire_nothing() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let mut config = EngineConfig::new("bot");
    config.commands.push(CommandConfig::new("jump", ["!jump"]));
    config.votes.push(VoteConfig::new("move", ["up", "jump"]));
    let mut anarchy = VoteConfig::new("pad", ["a", "b"]);
    anarchy.mode = Mode::Anarchy;
    config.votes.push(anarchy);
    let mut e = Engine::new(config).unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    e.keywords()
        .register("!hi", move |_| {
            h.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    let t = Instant::now();
    e.start(t);
    events(&mut e);
    let old = |login: &str, id: &str, text: &str| {
        let mut m = chat_id(login, id, text);
        m.historical = true;
        m
    };
    let mut moderator = old("mo", "h5", "!vote stop move");
    moderator.roles.moderator = true;
    for m in [
        old("a", "h1", "up"),
        old("b", "h2", "!jump"),
        old("c", "h3", "a"),
        old("d", "h4", "!hi"),
        moderator,
    ] {
        e.handle_chat(&m, t + secs(1.0));
    }
    assert!(events(&mut e).is_empty(), "no command, input or control");
    assert_eq!(hits.load(Ordering::SeqCst), 0, "no keyword");
    assert_eq!(e.vote("move").unwrap().voters(), 0);
    assert_eq!(e.vote("pad").unwrap().voters(), 0);
    assert!(
        e.vote("move").unwrap().is_open(),
        "!vote stop was not obeyed"
    );
    // the same users live: everything counts, and the backlog's ids did not block them
    e.handle_chat(&chat_id("a", "h1", "up"), t + secs(2.0));
    e.handle_chat(&chat_id("c", "h3", "a"), t + secs(2.0));
    e.handle_chat(&chat_id("d", "h4", "!hi"), t + secs(2.0));
    assert_eq!(e.vote("move").unwrap().voters(), 1);
    assert!(matches!(&events(&mut e)[..], [Event::Input(i)] if i.user == "c"));
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

fn capped(max_voters: usize, mode: Mode) -> Engine {
    let mut v = VoteConfig::new("move", ["up", "down"]);
    v.max_voters = max_voters;
    v.mode = mode;
    v.window_secs = 10.0;
    engine_with(v)
}

#[test]
fn a_full_vote_refuses_new_voters_but_known_ones_may_change() {
    let mut e = capped(2, Mode::Democracy);
    let t = Instant::now();
    e.start(t);
    e.handle_chat(&chat_id("a", "1", "up"), t);
    e.handle_chat(&chat_id("b", "2", "up"), t);
    e.handle_chat(&chat_id("c", "3", "down"), t); // refused
    e.handle_chat(&chat_id("c", "3", "down"), t); // its replay: a replay, not a second refusal
    e.handle_chat(&chat_id("d", "4", "down"), t); // refused
    e.handle_chat(&chat_id("a", "5", "down"), t); // a changes her ballot
    e.handle_clear_chat(&timeout("b"), t); // b timed out: his record stays, no room is made
    e.handle_chat(&chat_id("c", "6", "down"), t); // still refused
    assert_eq!(e.vote("move").unwrap().refused_ballots(), 3);
    events(&mut e);
    e.handle_timeout(t + secs(10.0));
    let ev = events(&mut e);
    let r = closed(&ev)[0];
    assert_eq!(r.voters, 1);
    assert_eq!(tally_map(&r.tally), labels(&[("down", 1)]));
    assert_eq!(r.refused_ballots, 3);
    // round 2: records of round 1 are dropped to make room, new voters count again
    let t2 = t + secs(11.0);
    for (user, id) in [("c", "7"), ("d", "8")] {
        e.handle_chat(&chat_id(user, id, "down"), t2);
    }
    e.handle_chat(&chat_id("a", "9", "up"), t2); // refused now: c and d hold the room
    e.handle_chat(&chat_id("c", "10", "up"), t2); // c may change
    let r = e.close_round("move", t2).unwrap();
    assert_eq!((r.voters, r.refused_ballots), (2, 1));
    assert_eq!(tally_map(&r.tally), labels(&[("up", 1), ("down", 1)]));
}

#[test]
fn a_full_anarchy_vote_passes_on_no_input_from_new_users() {
    let mut v = VoteConfig::new("pad", ["a", "b"]);
    v.max_voters = 1;
    v.mode = Mode::Anarchy;
    v.anarchy_cooldown_secs = 30.0;
    v.window_secs = 10.0;
    let mut e = engine_with(v);
    let t = Instant::now();
    e.start(t);
    events(&mut e);
    e.handle_chat(&chat_id("x", "1", "a"), t);
    e.handle_chat(&chat_id("y", "2", "b"), t); // refused
    let users: Vec<String> = events(&mut e)
        .into_iter()
        .filter_map(|ev| match ev {
            Event::Input(i) => Some(i.user),
            _ => None,
        })
        .collect();
    assert_eq!(users, ["x"]);
    // next round: x's cooldown still runs, so x's record is kept and y is still refused
    let t2 = t + secs(10.0);
    e.handle_timeout(t2);
    events(&mut e);
    e.handle_chat(&chat_id("y", "3", "b"), t2);
    assert!(
        events(&mut e)
            .iter()
            .all(|ev| !matches!(ev, Event::Input(_)))
    );
    assert_eq!(e.vote("pad").unwrap().refused_ballots(), 1);
    // once x's cooldown is over, its record can go: y gets in
    let t3 = t + secs(31.0);
    e.handle_chat(&chat_id("y", "4", "b"), t3);
    assert!(
        events(&mut e)
            .iter()
            .any(|ev| matches!(ev, Event::Input(i) if i.user == "y"))
    );
}

#[test]
fn ballots_from_every_channel_count_together_unless_filtered() {
    let from = |channel: &str, login: &str, id: &str, text: &str| {
        let mut m = chat_id(login, id, text);
        m.channel = channel.to_owned().into();
        m
    };
    let mut config = EngineConfig::new("bot");
    config.votes.push(VoteConfig::new("all", ["up", "down"]));
    let mut only_a = VoteConfig::new("only_a", ["up", "down"]);
    only_a.channels = vec!["#Chan_A".into()];
    config.votes.push(only_a);
    let mut e = Engine::new(config).unwrap();
    let t = Instant::now();
    e.start(t);
    e.handle_chat(&from("chan_a", "ann", "1", "up"), t);
    e.handle_chat(&from("chan_b", "bob", "2", "down"), t);
    e.handle_chat(&from("chan_b", "ann", "3", "down"), t); // ann again, elsewhere
    let all = e.close_round("all", t).unwrap();
    assert_eq!(all.voters, 2, "one ballot per user across channels");
    assert_eq!(tally_map(&all.tally), labels(&[("down", 2)]));
    let a = e.close_round("only_a", t).unwrap();
    assert_eq!((a.voters, a.refused_ballots), (1, 0));
    assert_eq!(tally_map(&a.tally), labels(&[("up", 1)]));
}

#[test]
fn max_voters_and_channels_are_validated() {
    let mut v = VoteConfig::new("move", ["up"]);
    assert_eq!(v.max_voters, DEFAULT_MAX_VOTERS);
    v.max_voters = 0;
    assert_eq!(
        v.validate().unwrap_err().to_string(),
        "vote \"move\": max_voters must be at least 1"
    );
    v.max_voters = 1;
    for bad in ["", "#", "two words", "#a,b"] {
        v.channels = vec![bad.into()];
        assert!(
            matches!(v.validate(), Err(ConfigError::BadChannel { ref channel, .. }) if channel == bad),
            "{bad:?}"
        );
    }
    v.channels = vec!["#Some_Chan".into(), "other1".into()];
    assert!(v.validate().is_ok());
}

// ----- property tests -----

/// One step of a generated chat.
#[derive(Debug, Clone)]
enum Step {
    /// user, text index, message id
    Say(u8, u8, u16),
    /// replay the n-th message said so far (mod len)
    Replay(u16),
    Timeout(u8),
    /// delete the n-th message said so far
    Delete(u16),
}

const TEXTS: [&str; 10] = [
    "up",
    "down",
    "left",
    "UP ",
    "!down",
    "+left\u{E0000}",
    "!vote up",
    "up2",
    "lol",
    "up down",
];
const OPTS: [&str; 3] = ["up", "down", "left"];

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        prop_oneof![
            6 => (0u8..12, 0u8..10, any::<u16>()).prop_map(|(u, t, id)| Step::Say(u, t, id)),
            2 => any::<u16>().prop_map(Step::Replay),
            1 => (0u8..12).prop_map(Step::Timeout),
            1 => any::<u16>().prop_map(Step::Delete),
        ],
        0..120,
    )
}

/// An independent model of the rules: user -> (option, message id of the current ballot).
#[derive(Default)]
struct Model {
    ballots: BTreeMap<u8, (usize, String)>,
    seen: std::collections::BTreeSet<String>,
    /// `max_voters`, if any: users with a record (one round: records are never dropped)
    /// and the ballots refused.
    cap: Option<usize>,
    known: std::collections::BTreeSet<u8>,
    refused: u64,
}

impl Model {
    fn say(&mut self, user: u8, text: &str, id: &str) {
        let option = match text
            .trim_matches(|c: char| c.is_whitespace() || c == '\u{E0000}')
            .to_lowercase()
            .as_str()
        {
            "up" | "!vote up" => Some(0),
            "down" | "!down" => Some(1),
            "+left" | "left" => Some(2),
            _ => None,
        };
        // An id counts once, whatever the line was (the same id is the same message).
        if !self.seen.insert(id.to_owned()) {
            return;
        }
        if let Some(option) = option {
            if let Some(cap) = self.cap
                && !self.known.contains(&user)
                && self.known.len() >= cap
            {
                self.refused += 1;
                return;
            }
            self.known.insert(user);
            self.ballots.insert(user, (option, id.to_owned()));
        }
    }

    fn tally(&self) -> BTreeMap<String, u64> {
        let mut t = BTreeMap::new();
        for (option, _) in self.ballots.values() {
            *t.entry(OPTS[*option].to_owned()).or_insert(0) += 1;
        }
        t
    }
}

fn run(steps: &[Step], e: &mut Engine, model: &mut Model, t: Instant) -> Vec<(u8, String, String)> {
    let mut said: Vec<(u8, String, String)> = Vec::new();
    for step in steps {
        match step {
            Step::Say(u, text, id) => {
                let line = (*u, TEXTS[usize::from(*text)].to_owned(), format!("id{id}"));
                e.handle_chat(&chat_id(&format!("u{u}"), &line.2, &line.1), t);
                model.say(line.0, &line.1, &line.2);
                said.push(line);
            }
            Step::Replay(n) if !said.is_empty() => {
                let (u, text, id) = said[usize::from(*n) % said.len()].clone();
                e.handle_chat(&chat_id(&format!("u{u}"), &id, &text), t);
                model.say(u, &text, &id);
            }
            Step::Timeout(u) => {
                e.handle_clear_chat(&timeout(&format!("u{u}")), t);
                model.ballots.remove(u);
            }
            Step::Delete(n) if !said.is_empty() => {
                let (u, _, id) = said[usize::from(*n) % said.len()].clone();
                e.handle_clear_msg(&delete(&format!("u{u}"), &id), t);
                // The ballot that message id cast goes, if still its user's current one (with
                // generated ids, another user's line may have cast it first).
                model.ballots.retain(|_, (_, cur)| *cur != id);
            }
            _ => {}
        }
        // Invariant after every step: the tally sums to the number of users holding a ballot.
        let v = e.vote("move").unwrap();
        let sum: u64 = v.tally().iter().map(|e| e.count).sum();
        assert_eq!(sum, v.voters());
        assert_eq!(v.voters(), model.ballots.len() as u64);
    }
    said
}

fn fresh() -> Engine {
    let mut v = VoteConfig::new("move", OPTS);
    v.window_secs = 1000.0;
    engine_with(v)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The tally always sums to the number of users holding a ballot, and matches an
    /// independent model of the rules (last ballot wins, ids once, moderation).
    #[test]
    fn tally_matches_the_model(steps in steps()) {
        let t = Instant::now();
        let mut e = fresh();
        e.start(t);
        let mut model = Model::default();
        run(&steps, &mut e, &mut model, t);
        prop_assert_eq!(tally_map(&e.vote("move").unwrap().tally()), model.tally());
    }

    /// With a small `max_voters`, the tally still matches the model, which refuses users past
    /// the cap (known users may change), and counts the refusals exactly.
    #[test]
    fn a_capped_vote_matches_the_model(cap in 1usize..6, steps in steps()) {
        let t = Instant::now();
        let mut v = VoteConfig::new("move", OPTS);
        v.window_secs = 1000.0;
        v.max_voters = cap;
        let mut e = engine_with(v);
        e.start(t);
        let mut model = Model { cap: Some(cap), ..Model::default() };
        run(&steps, &mut e, &mut model, t);
        let v = e.vote("move").unwrap();
        prop_assert_eq!(tally_map(&v.tally()), model.tally());
        prop_assert_eq!(v.refused_ballots(), model.refused);
        prop_assert!(v.voters() <= cap as u64);
    }

    /// Replaying every message a second time (after everything) changes nothing.
    #[test]
    fn replaying_changes_nothing(steps in steps()) {
        let t = Instant::now();
        let mut e = fresh();
        e.start(t);
        let mut model = Model::default();
        let said = run(&steps, &mut e, &mut model, t);
        let before = e.tally("move", t).unwrap();
        for (u, text, id) in &said {
            e.handle_chat(&chat_id(&format!("u{u}"), id, text), t);
        }
        prop_assert_eq!(e.tally("move", t).unwrap(), before);
    }

    /// A user who already holds a ballot never increases the total by voting again.
    #[test]
    fn ballot_changes_never_increase_the_total(
        others in prop::collection::vec((0u8..20, 0usize..3), 0..40),
        changes in prop::collection::vec(0usize..10, 1..20),
    ) {
        let t = Instant::now();
        let mut e = fresh();
        e.start(t);
        for (i, (u, o)) in others.iter().enumerate() {
            e.handle_chat(&chat_id(&format!("o{u}"), &format!("o{i}"), OPTS[*o]), t);
        }
        e.handle_chat(&chat_id("me", "first", "up"), t);
        let total = e.vote("move").unwrap().voters();
        for (i, text) in changes.iter().enumerate() {
            e.handle_chat(&chat_id("me", &format!("c{i}"), TEXTS[*text]), t);
            prop_assert_eq!(e.vote("move").unwrap().voters(), total);
        }
    }

    /// Hostile chat never panics the engine, and normalisation's output is in canonical form.
    #[test]
    fn arbitrary_chat_never_panics(
        lines in prop::collection::vec((".{0,40}", proptest::option::of(".{0,40}"), proptest::option::of("[0-9a-f-]{0,40}")), 1..30),
    ) {
        let mut v = VoteConfig::new("move", OPTS);
        v.max_repeat = 9;
        let mut e = engine_with(v);
        let t = Instant::now();
        e.start(t);
        for (text, user_id, id) in &lines {
            let mut m = chat("someone", text);
            m.user_id = user_id.clone().map(Into::into);
            m.message_id = id.clone().map(Into::into);
            e.handle_chat(&m, t);
            let n = normalize::normalized(text);
            prop_assert!(!n.starts_with(' ') && !n.ends_with(' ') && !n.contains("  "));
            prop_assert!(!n.chars().any(normalize::is_invisible));
        }
        let v = e.vote("move").unwrap();
        prop_assert_eq!(v.tally().iter().map(|e| e.count).sum::<u64>(), v.voters());
    }

    /// The result does not depend on the order other users voted in (or on hash order).
    #[test]
    fn result_is_independent_of_the_order_of_users(
        ballots in prop::collection::vec((0u16..200, 0usize..3), 1..80),
        seed in any::<u64>(),
    ) {
        let t = Instant::now();
        let result = |order: &[(u16, usize)]| {
            let mut e = fresh();
            e.start(t);
            for (i, (u, o)) in order.iter().enumerate() {
                // one ballot per user here, so the users' order is all that changes
                e.handle_chat(&chat_id(&format!("user{u}"), &format!("{u}-{i}"), OPTS[*o]), t);
            }
            let r = e.close_round("move", t).unwrap();
            (r.winner, r.tally, r.voters)
        };
        let mut unique: BTreeMap<u16, usize> = BTreeMap::new();
        for (u, o) in &ballots {
            unique.entry(*u).or_insert(*o);
        }
        let forward: Vec<(u16, usize)> = unique.iter().map(|(u, o)| (*u, *o)).collect();
        let mut shuffled = forward.clone();
        // a seeded Fisher-Yates shuffle
        let mut s = seed | 1;
        for i in (1..shuffled.len()).rev() {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            shuffled.swap(i, (s % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(result(&forward), result(&shuffled));
    }
}

#[test]
fn historical_clears_remove_no_ballot() {
    let mut e = Engine::new({
        let mut c = EngineConfig::new("bot");
        c.votes.push(VoteConfig::new("move", ["up", "down"]));
        c
    })
    .unwrap();
    let t = Instant::now();
    e.start(t);
    e.handle_chat(&chat_id("a", "1", "up"), t);
    e.handle_chat(&chat_id("b", "2", "down"), t);
    // a backlog replay of an old timeout of `a` and an old deletion of `b`'s message: not about this round
    let mut old_timeout = timeout("a");
    old_timeout.historical = true;
    e.handle_clear_chat(&old_timeout, t);
    let mut old_delete = delete("b", "2");
    old_delete.historical = true;
    e.handle_clear_msg(&old_delete, t);
    assert_eq!(e.vote("move").unwrap().voters(), 2);
    // the same clears live do remove them
    e.handle_clear_chat(&timeout("a"), t);
    e.handle_clear_msg(&delete("b", "2"), t);
    assert_eq!(e.vote("move").unwrap().voters(), 0);
}

#[test]
fn a_message_seen_twice_fires_keywords_commands_and_inputs_once() {
    // During a RECONNECT handover the same message arrives on both connections (same id).
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let mut config = EngineConfig::new("bot");
    config.commands.push(CommandConfig::new("jump", ["!jump"])); // no cooldowns
    let mut anarchy = VoteConfig::new("move", ["up", "down"]);
    anarchy.mode = Mode::Anarchy; // no input cooldown
    config.votes.push(anarchy);
    config.votes.push(VoteConfig::new("pick", ["up", "down"]));
    let mut e = Engine::new(config).unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    e.keywords()
        .register("!jump", move |_| {
            h.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    let t = Instant::now();
    e.start(t);
    events(&mut e);
    for _ in 0..2 {
        e.handle_chat(
            &chat_id("a", "6d3bc4a2-54a5-4a3c-9f57-4a1c1f0e2b11", "!jump"),
            t,
        );
        e.handle_chat(
            &chat_id("b", "0c1f2b7e-8a55-4c9e-b6a2-1d2e3f4a5b6c", "up"),
            t,
        );
    }
    let ev = events(&mut e);
    let commands = ev.iter().filter(|e| matches!(e, Event::Command(_))).count();
    let inputs = ev.iter().filter(|e| matches!(e, Event::Input(_))).count();
    assert_eq!(commands, 1, "command fired twice: {ev:?}");
    assert_eq!(inputs, 1, "anarchy input passed on twice: {ev:?}");
    assert_eq!(hits.load(Ordering::SeqCst), 1, "keyword handler ran twice");
    assert_eq!(e.vote("pick").unwrap().voters(), 1);
    // Messages without an id cannot be recognised: each one counts.
    e.handle_chat(&chat("c", "!jump"), t);
    e.handle_chat(&chat("c", "!jump"), t);
    let commands = events(&mut e)
        .iter()
        .filter(|e| matches!(e, Event::Command(_)))
        .count();
    assert_eq!(commands, 2);
}

#[test]
fn clearchat_and_clearmsg_act_only_on_ballots_cast_in_their_own_channel() {
    let mut config = EngineConfig::new("the_bot");
    config.votes.push(VoteConfig::new("all", ["up", "down"]));
    let mut only_a = VoteConfig::new("only_a", ["up", "down"]);
    only_a.channels = vec!["a".into()];
    config.votes.push(only_a);
    let mut e = Engine::new(config).unwrap();
    let t = Instant::now();
    e.start(t);
    let in_channel = |channel: &str, mut m: ChatMessage<'static>| {
        m.channel = channel.to_owned().into();
        m
    };
    e.handle_chat(&in_channel("a", chat_id("u", "1", "up")), t);
    e.handle_chat(&in_channel("a", chat_id("w", "2", "down")), t);
    let voters = |e: &Engine| {
        (
            e.vote("all").unwrap().voters(),
            e.vote("only_a").unwrap().voters(),
        )
    };
    assert_eq!(voters(&e), (2, 2));
    // A timeout and a deletion in channel b say nothing about ballots cast in channel a.
    let mut ban_in_b = timeout("u");
    ban_in_b.channel = "b".into();
    e.handle_clear_chat(&ban_in_b, t);
    let mut by_login_in_b = timeout("u");
    by_login_in_b.channel = "b".into();
    by_login_in_b.target_user_id = None;
    e.handle_clear_chat(&by_login_in_b, t);
    let mut delete_in_b = delete("w", "2");
    delete_in_b.channel = "b".into();
    e.handle_clear_msg(&delete_in_b, t);
    assert_eq!(
        voters(&e),
        (2, 2),
        "a moderation in b removed ballots cast in a"
    );
    // In channel a they do.
    let mut ban_in_a = timeout("u");
    ban_in_a.channel = "a".into();
    e.handle_clear_chat(&ban_in_a, t);
    assert_eq!(voters(&e), (1, 1));
    let mut delete_in_a = delete("w", "2");
    delete_in_a.channel = "a".into();
    e.handle_clear_msg(&delete_in_a, t);
    assert_eq!(voters(&e), (0, 0));
    // A user voting in both channels holds one ballot: the channel of the last one counts.
    e.handle_chat(&in_channel("a", chat_id("x", "3", "up")), t);
    e.handle_chat(&in_channel("b", chat_id("x", "4", "down")), t);
    let mut ban_x_in_a = timeout("x");
    ban_x_in_a.channel = "a".into();
    e.handle_clear_chat(&ban_x_in_a, t);
    assert_eq!(
        e.vote("all").unwrap().voters(),
        1,
        "the ballot was cast in b"
    );
}

#[test]
fn options_colliding_with_the_repeat_suffix_are_refused_naming_both() {
    let mut v = VoteConfig::new("move", ["up", "down", "up2"]);
    v.max_repeat = 2;
    let e = v.validate().unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(e, ConfigError::RepeatSuffixCollision { .. }),
        "{text}"
    );
    assert!(
        text.contains("\"up2\"") && text.contains("\"up\""),
        "{text}"
    );
    // No repeats: `up2` is just an option. A digit above max_repeat never reads as a repeat.
    v.max_repeat = 1;
    assert!(v.validate().is_ok());
    let mut v = VoteConfig::new("move", ["UP", "up3"]);
    v.max_repeat = 2;
    assert!(v.validate().is_ok());
    v.max_repeat = 3;
    assert!(v.validate().is_err(), "case-insensitive: UP and up3");
}

#[test]
fn a_message_holding_several_commands_runs_none() {
    let mut config = EngineConfig::new("bot");
    config.commands.push(CommandConfig::new("jump", ["!jump"]));
    config.commands.push(CommandConfig::new("duck", ["!duck"]));
    let mut e = Engine::new(config).unwrap();
    let t = Instant::now();
    for text in [
        "!jump !jump",
        "!jump !JUMP !jump",
        "!jump !duck",
        "!duck please !jump",
    ] {
        e.handle_chat(&chat("a", text), t);
        assert!(events(&mut e).is_empty(), "{text:?} ran a command");
    }
    // Other words, even with a `!`, are arguments.
    e.handle_chat(&chat("a", "!jump high !now"), t);
    assert!(matches!(&events(&mut e)[..], [Event::Command(c)] if c.args == "high !now"));
}
