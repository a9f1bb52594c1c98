//! Engine tests for redemptions, weighted votes and shared chat (fake clock).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::test_support::{IrcModeration, chat_id, delete, timeout};
use super::*;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn events(engine: &mut Engine) -> Vec<Event> {
    std::iter::from_fn(|| engine.poll_event()).collect()
}

fn map(entries: &[TallyEntry]) -> BTreeMap<String, u64> {
    entries
        .iter()
        .map(|e| (e.choice.label(), e.count))
        .collect()
}

fn labels(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

fn weighted_vote(bits_per_vote: u64, cap: u32) -> VoteConfig {
    let mut v = VoteConfig::new("move", ["up", "down", "left"]);
    v.bits_per_vote = Some(bits_per_vote);
    v.max_weight_per_user = Some(cap);
    v
}

fn engine(votes: Vec<VoteConfig>, rewards: Vec<RewardConfig>) -> Engine {
    let mut config = EngineConfig::new("the_bot");
    config.votes = votes;
    config.rewards = rewards;
    config.seed = Some(7);
    Engine::new(config).unwrap()
}

fn cheer(login: &str, id: &str, text: &str, bits: u64) -> ChatMessage<'static> {
    let mut m = chat_id(login, id, text);
    m.bits = Some(bits);
    m
}

fn closed(e: &mut Engine, at: Instant) -> VoteResult {
    e.close_round("move", at).unwrap()
}

#[test]
fn bits_weigh_ballots_up_to_the_cap_and_the_winner_is_weighted() {
    let mut e = engine(vec![weighted_vote(100, 3)], vec![]);
    let t = Instant::now();
    e.start(t);
    e.handle_chat(&cheer("ann", "1", "Cheer500 up", 500), t); // 1 + 5, capped at 3
    e.handle_chat(&chat_id("bob", "2", "down"), t);
    e.handle_chat(&chat_id("cid", "3", "down"), t);
    e.handle_chat(&cheer("dee", "4", "Cheer99 left", 99), t); // below one step: 1
    let live = e.tally("move", t).unwrap();
    assert_eq!(
        live.weighted.as_deref().map(map),
        Some(labels(&[("up", 3), ("down", 2), ("left", 1)]))
    );
    assert_eq!(live.leader.unwrap().label(), "up");
    let r = closed(&mut e, t + secs(1.0));
    assert_eq!(
        map(&r.tally),
        labels(&[("up", 1), ("down", 2), ("left", 1)])
    );
    assert_eq!(
        r.weighted.as_deref().map(map),
        Some(labels(&[("up", 3), ("down", 2), ("left", 1)]))
    );
    assert_eq!(r.voters, 4);
    assert_eq!(r.winner.unwrap().label(), "up", "chosen on weighted totals");
}

#[test]
fn unweighted_votes_keep_their_shapes() {
    let mut e = engine(vec![VoteConfig::new("move", ["up", "down"])], vec![]);
    let t = Instant::now();
    e.start(t);
    e.handle_chat(&cheer("ann", "1", "Cheer500 up", 500), t);
    e.handle_chat(&chat_id("bob", "2", "down"), t);
    e.handle_chat(&chat_id("cid", "3", "down"), t);
    assert_eq!(e.tally("move", t).unwrap().weighted, None);
    let r = closed(&mut e, t);
    assert_eq!(r.weighted, None);
    assert_eq!(map(&r.tally), labels(&[("up", 1), ("down", 2)]));
    assert_eq!(r.winner.unwrap().label(), "down");
    assert!(!e.vote("move").unwrap().is_weighted());
}

#[test]
fn a_cheer_before_the_ballot_is_kept_for_the_round_and_one_after_raises_it() {
    let mut e = engine(vec![weighted_vote(100, 10)], vec![]);
    let t = Instant::now();
    e.start(t);
    e.handle_chat(&cheer("ann", "1", "Cheer100 Cheer100 gl hf", 200), t); // no ballot
    e.handle_chat(&chat_id("bob", "2", "left"), t);
    assert_eq!(e.vote("move").unwrap().voters(), 1);
    e.handle_chat(&chat_id("ann", "3", "up"), t + secs(1.0)); // weighs 3
    e.handle_chat(&cheer("bob", "4", "Cheer300", 300), t + secs(2.0)); // left: 1 -> 4
    let w = e.vote("move").unwrap().weighted_tally().unwrap();
    assert_eq!(map(&w), labels(&[("up", 3), ("left", 4)]));
    // The next round starts from nothing.
    closed(&mut e, t + secs(3.0));
    e.start_vote("move", t + secs(3.0)).ok();
    e.handle_chat(&chat_id("ann", "5", "up"), t + secs(4.0));
    let w = e.vote("move").unwrap().weighted_tally().unwrap();
    assert_eq!(map(&w), labels(&[("up", 1)]));
}

#[test]
fn a_changed_ballot_carries_its_weight_and_moderation_removes_it() {
    let mut e = engine(vec![weighted_vote(50, 5)], vec![]);
    let t = Instant::now();
    e.start(t);
    e.handle_chat(&cheer("ann", "a1", "cheer100 up", 100), t); // 3
    e.handle_chat(&chat_id("bob", "b1", "up"), t); // 1
    e.handle_chat(&chat_id("cid", "c1", "left"), t); // 1
    e.handle_chat(&chat_id("ann", "a2", "down"), t); // ann's 3 moves to down
    let weighted = |e: &Engine| map(&e.vote("move").unwrap().weighted_tally().unwrap());
    assert_eq!(weighted(&e), labels(&[("up", 1), ("down", 3), ("left", 1)]));
    e.handle_clear_chat(&timeout("ann"), t); // her ballot and its weight go
    assert_eq!(weighted(&e), labels(&[("up", 1), ("left", 1)]));
    e.handle_clear_msg(&delete("cid", "c1"), t);
    assert_eq!(weighted(&e), labels(&[("up", 1)]));
    // Ann votes again after her timeout: her bits of this round still count.
    e.handle_chat(&chat_id("ann", "a3", "left"), t);
    assert_eq!(weighted(&e), labels(&[("up", 1), ("left", 3)]));
    let r = closed(&mut e, t);
    assert_eq!((r.voters, r.winner.unwrap().label()), (2, "left".into()));
}

#[test]
fn hostile_bits_saturate_at_the_cap_without_overflow() {
    let mut e = engine(vec![weighted_vote(1, weight::MAX_WEIGHT_PER_USER)], vec![]);
    let t = Instant::now();
    e.start(t);
    for (i, bits) in [u64::MAX, u64::MAX, 1, u64::from(u32::MAX)]
        .into_iter()
        .enumerate()
    {
        e.handle_chat(&cheer("ann", &format!("m{i}"), "Cheer1 up", bits), t);
    }
    for i in 0..3 {
        e.handle_chat(
            &cheer(&format!("u{i}"), &format!("x{i}"), "up", u64::MAX),
            t,
        );
    }
    let r = closed(&mut e, t);
    assert_eq!(
        r.weighted.as_deref().map(map),
        Some(labels(&[(
            "up",
            4 * u64::from(weight::MAX_WEIGHT_PER_USER)
        )]))
    );
    assert_eq!(r.voters, 4);
}

#[test]
fn weighted_votes_are_validated() {
    let cases: Vec<(Option<u64>, Option<u32>, Mode, &str)> = vec![
        (
            Some(100),
            None,
            Mode::Democracy,
            "needs max_weight_per_user",
        ),
        (None, Some(3), Mode::Democracy, "needs bits_per_vote"),
        (Some(0), Some(3), Mode::Democracy, "bits_per_vote 0"),
        (
            Some(2_000_000),
            Some(3),
            Mode::Democracy,
            "bits_per_vote 2000000",
        ),
        (Some(100), Some(0), Mode::Democracy, "max_weight_per_user 0"),
        (Some(100), Some(3), Mode::Anarchy, "democracy votes only"),
    ];
    for (bits, cap, mode, want) in cases {
        let mut v = VoteConfig::new("move", ["up"]);
        v.bits_per_vote = bits;
        v.max_weight_per_user = cap;
        v.mode = mode;
        let err = v.validate().unwrap_err().to_string();
        assert!(err.contains(want), "{err:?} should contain {want:?}");
    }
}

#[test]
fn rewards_are_validated() {
    let votes = [VoteConfig::new("move", ["up", "down"])];
    let cases: Vec<(RewardConfig, &str)> = vec![
        (
            RewardConfig {
                id: Some("a".into()),
                title: Some("b".into()),
                vote: None,
                option: None,
            },
            "exactly one of `id` and `title`",
        ),
        (
            RewardConfig {
                id: None,
                title: None,
                vote: None,
                option: None,
            },
            "exactly one",
        ),
        (RewardConfig::by_id(" "), "must not be empty"),
        (RewardConfig::by_title("a\nb"), "control characters"),
        (
            RewardConfig::by_id("r").vote("jump"),
            "no vote is named \"jump\"",
        ),
        (
            RewardConfig::by_id("r").option("up"),
            "`option` needs `vote`",
        ),
        (
            RewardConfig::by_id("r").vote("move").option("sideways"),
            "has no option \"sideways\"",
        ),
    ];
    for (reward, want) in cases {
        let mut c = EngineConfig::new("bot");
        c.votes.extend(votes.iter().cloned());
        c.rewards.push(reward);
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains(want), "{err:?} should contain {want:?}");
    }
    let mut c = EngineConfig::new("bot");
    c.votes.extend(votes.iter().cloned());
    c.rewards.push(RewardConfig::by_title("Hydrate"));
    c.rewards.push(RewardConfig::by_title(" HYDRATE "));
    assert!(
        c.validate()
            .unwrap_err()
            .to_string()
            .contains("listed twice")
    );
    c.rewards.pop();
    c.rewards
        .push(RewardConfig::by_id("r-1").vote("MOVE").option("Down"));
    assert_eq!(c.validate(), Ok(()));
}

fn redemptions(events: &[Event]) -> Vec<&RedemptionEvent> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Redemption(r) => Some(r),
            _ => None,
        })
        .collect()
}

#[test]
fn a_redemption_gives_its_event_and_a_ballot_once() {
    let mut e = engine(
        vec![VoteConfig::new("move", ["up", "down"])],
        vec![
            RewardConfig::by_title("Pick a Move").vote("move"),
            RewardConfig::by_id("r-down").vote("move").option("down"),
            RewardConfig::by_id("r-event"),
        ],
    );
    let t = Instant::now();
    e.start(t);
    events(&mut e);
    let mut r = Redemption::new("chan", "ann", "uuid-of-pick", "  UP ");
    r.reward_title = Some("pick a move".into());
    r.user_id = Some("1".into());
    r.redemption_id = Some("red-1".into());
    e.handle_redemption(&r, t);
    e.handle_redemption(&r, t); // delivered twice (EventSub is at-least-once): once
    let mut fixed = Redemption::new("chan", "bob", "r-down", "whatever I like");
    fixed.redemption_id = Some("red-2".into());
    e.handle_redemption(&fixed, t);
    let mut plain = Redemption::new("chan", "cid", "r-event", "");
    plain.redemption_id = Some("red-3".into());
    e.handle_redemption(&plain, t);
    let mut unknown = Redemption::new("chan", "dee", "r-other", "up");
    unknown.redemption_id = Some("red-4".into());
    e.handle_redemption(&unknown, t); // no [[reward]] names it: nothing
    let mut own = Redemption::new("chan", "THE_BOT", "r-down", "");
    own.redemption_id = Some("red-5".into());
    e.handle_redemption(&own, t); // the bot's own: nothing
    let evs = events(&mut e);
    let got: Vec<(&str, &str, &str, &str)> = redemptions(&evs)
        .iter()
        .map(|r| {
            (
                r.user.as_str(),
                r.reward.as_str(),
                r.reward_id.as_str(),
                r.input.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("ann", "pick a move", "uuid-of-pick", "  UP "),
            ("bob", "r-down", "r-down", "whatever I like"),
            ("cid", "r-event", "r-event", ""),
        ]
    );
    assert_eq!(redemptions(&evs)[0].user_id.as_deref(), Some("1"));
    let v = e.vote("move").unwrap();
    assert_eq!(map(&v.tally()), labels(&[("up", 1), ("down", 1)]));
    assert_eq!(v.voters(), 2);
}

#[test]
fn a_redemption_into_an_anarchy_vote_is_an_input() {
    let mut v = VoteConfig::new("button", ["a", "b"]);
    v.mode = Mode::Anarchy;
    let mut e = engine(vec![v], vec![RewardConfig::by_id("r").vote("button")]);
    let t = Instant::now();
    e.start(t);
    let mut r = Redemption::new("chan", "ann", "r", "B");
    r.redemption_id = Some("x".into());
    e.handle_redemption(&r, t);
    let evs = events(&mut e);
    let order: Vec<&str> = evs
        .iter()
        .filter_map(|e| match e {
            Event::Redemption(_) => Some("redemption"),
            Event::Input(i) if i.choice.label() == "b" => Some("input b"),
            _ => None,
        })
        .collect();
    assert_eq!(order, ["redemption", "input b"]);
}

#[test]
fn a_reward_tagged_chat_message_is_the_redemption_only() {
    let mut e = engine(
        vec![VoteConfig::new("move", ["up", "down"])],
        vec![RewardConfig::by_id("r-1").vote("move")],
    );
    // A command and a keyword handler on the redemption's text, to see neither fires for it.
    let mut c = EngineConfig::new("the_bot");
    c.votes.push(VoteConfig::new("move", ["up", "down"]));
    c.commands.push(CommandConfig::new("hype", ["!hype"]));
    c.rewards.push(RewardConfig::by_id("r-1").vote("move"));
    let mut e2 = Engine::new(c).unwrap();
    let t = Instant::now();
    for engine in [&mut e, &mut e2] {
        engine.start(t);
        events(engine);
    }
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = hits.clone();
    e2.keywords()
        .register("!hype", move |_| {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        })
        .unwrap();
    let mut m = chat_id("ann", "m-1", "!hype");
    m.custom_reward_id = Some("r-1".into());
    e2.handle_chat(&m, t);
    e2.handle_chat(&m, t); // replayed: once
    let evs = events(&mut e2);
    assert_eq!(redemptions(&evs).len(), 1);
    assert!(
        !evs.iter().any(|e| matches!(e, Event::Command(_))),
        "{evs:?}"
    );
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "no keyword"
    );
    // A valid ballot as the redemption's input: counted once, as the redemption's ballot.
    let mut m = chat_id("bob", "m-2", "DOWN");
    m.custom_reward_id = Some("r-1".into());
    e.handle_chat(&m, t);
    e.handle_chat(&m, t);
    // The message's deletion removes the redemption's ballot, as for any ballot.
    let mut m3 = chat_id("cid", "m-3", "up");
    m3.custom_reward_id = Some("r-1".into());
    e.handle_chat(&m3, t);
    e.handle_clear_msg(&delete("cid", "m-3"), t);
    // A reward no [[reward]] names: ordinary chat, a ballot like any other.
    let mut other = chat_id("dee", "m-4", "up");
    other.custom_reward_id = Some("r-unknown".into());
    e.handle_chat(&other, t);
    assert_eq!(redemptions(&events(&mut e)).len(), 2);
    let v = e.vote("move").unwrap();
    assert_eq!(map(&v.tally()), labels(&[("up", 1), ("down", 1)]));
    assert_eq!(v.voters(), 2);
    // The same message without the reward id is a command and a keyword hit.
    e2.handle_chat(&chat_id("ann", "m-9", "!hype"), t);
    assert!(
        events(&mut e2)
            .iter()
            .any(|e| matches!(e, Event::Command(_)))
    );
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
}

fn shared(login: &str, id: &str, text: &str, source: Option<&str>) -> ChatMessage<'static> {
    let mut m = chat_id(login, id, text);
    m.channel_id = Some("100".into());
    m.source_channel_id = source.map(|s| s.to_owned().into());
    m
}

#[test]
fn shared_chat_from_other_channels_is_ignored_unless_counted() {
    for count_shared_chat in [false, true] {
        let mut c = EngineConfig::new("the_bot");
        c.votes.push(weighted_vote(100, 5));
        let mut anarchy = VoteConfig::new("button", ["a"]);
        anarchy.mode = Mode::Anarchy;
        c.votes.push(anarchy);
        c.commands.push(CommandConfig::new("jump", ["!jump"]));
        c.rewards.push(RewardConfig::by_id("r").vote("move"));
        c.count_shared_chat = count_shared_chat;
        let mut e = Engine::new(c).unwrap();
        let t = Instant::now();
        e.start(t);
        events(&mut e);
        e.handle_chat(&shared("own", "1", "up", None), t);
        e.handle_chat(&shared("own2", "2", "down", Some("100")), t); // its own channel: counts
        e.handle_chat(&shared("guest", "3", "left", Some("200")), t);
        e.handle_chat(&shared("guest", "4", "!jump", Some("200")), t);
        e.handle_chat(&shared("guest", "5", "a", Some("200")), t);
        let mut m = shared("guest2", "6", "Cheer500", Some("200"));
        m.bits = Some(500);
        e.handle_chat(&m, t);
        e.handle_chat(&shared("guest2", "7", "up", Some("200")), t);
        let mut r = shared("guest3", "8", "down", Some("200"));
        r.custom_reward_id = Some("r".into());
        e.handle_chat(&r, t);
        let evs = events(&mut e);
        let commands = evs
            .iter()
            .filter(|e| matches!(e, Event::Command(_)))
            .count();
        let inputs = evs.iter().filter(|e| matches!(e, Event::Input(_))).count();
        let v = e.vote("move").unwrap();
        if count_shared_chat {
            assert_eq!((commands, inputs, redemptions(&evs).len()), (1, 1, 1));
            assert_eq!(
                map(&v.tally()),
                labels(&[("up", 2), ("down", 2), ("left", 1)])
            );
            assert_eq!(
                map(&v.weighted_tally().unwrap()),
                labels(&[("up", 6), ("down", 2), ("left", 1)])
            );
        } else {
            assert_eq!(
                (commands, inputs, redemptions(&evs).len()),
                (0, 0, 0),
                "{evs:?}"
            );
            assert_eq!(map(&v.tally()), labels(&[("up", 1), ("down", 1)]));
            assert_eq!(
                map(&v.weighted_tally().unwrap()),
                labels(&[("up", 1), ("down", 1)])
            );
        }
    }
}

/// One step of the weighted-vote property test.
#[derive(Debug, Clone)]
enum Step {
    /// User `u` sends message `id` with this option (or no ballot) and these bits.
    Say {
        u: u8,
        option: Option<u8>,
        bits: u64,
    },
    /// User `u` is timed out.
    Timeout { u: u8 },
    /// Message `id` (the n-th message sent) is deleted.
    Delete { n: usize },
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        6 => (0u8..6, proptest::option::of(0u8..3), prop_oneof![3 => Just(0u64), 2 => 0u64..700, 1 => Just(u64::MAX)])
            .prop_map(|(u, option, bits)| Step::Say { u, option, bits }),
        1 => (0u8..6).prop_map(|u| Step::Timeout { u }),
        1 => (0usize..40).prop_map(|n| Step::Delete { n }),
    ];
    prop::collection::vec(step, 1..40)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The weighted totals always equal the model's: each user holding a ballot adds
    /// `min(cap, 1 + bits / 100)` for the bits they cheered this round.
    #[test]
    fn weighted_totals_follow_the_model(steps in steps(), cap in 1u32..6) {
        const OPTIONS: [&str; 3] = ["up", "down", "left"];
        let mut e = engine(vec![weighted_vote(100, cap)], vec![]);
        let t = Instant::now();
        e.start(t);
        // Per user: bits (saturating u32, as kept), held ballot (option, message number).
        let mut bits = [0u32; 6];
        let mut held: [Option<(u8, usize)>; 6] = [None; 6];
        let mut sent: Vec<(u8, String)> = Vec::new();
        for step in &steps {
            match *step {
                Step::Say { u, option, bits: b } => {
                    let n = sent.len();
                    let id = format!("m{n}");
                    let text = option.map_or("hello".to_owned(), |o| OPTIONS[usize::from(o)].to_owned());
                    let mut m = chat_id(&format!("u{u}"), &id, &text);
                    m.bits = (b > 0).then_some(b);
                    e.handle_chat(&m, t);
                    sent.push((u, id));
                    bits[usize::from(u)] = weight::add_bits(bits[usize::from(u)], b);
                    if let Some(o) = option {
                        held[usize::from(u)] = Some((o, n));
                    }
                }
                Step::Timeout { u } => {
                    e.handle_clear_chat(&timeout(&format!("u{u}")), t);
                    held[usize::from(u)] = None;
                }
                Step::Delete { n } => {
                    let Some((u, id)) = sent.get(n).cloned() else { continue };
                    e.handle_clear_msg(&delete(&format!("u{u}"), &id), t);
                    if held[usize::from(u)].is_some_and(|(_, m)| m == n) {
                        held[usize::from(u)] = None;
                    }
                }
            }
        }
        let mut want: BTreeMap<String, u64> = BTreeMap::new();
        let mut ballots: BTreeMap<String, u64> = BTreeMap::new();
        for (u, h) in held.iter().enumerate() {
            if let Some((o, _)) = h {
                let w = (1 + u64::from(bits[u]) / 100).min(u64::from(cap));
                *want.entry(OPTIONS[usize::from(*o)].to_owned()).or_default() += w;
                *ballots.entry(OPTIONS[usize::from(*o)].to_owned()).or_default() += 1;
            }
        }
        let v = e.vote("move").unwrap();
        prop_assert_eq!(map(&v.weighted_tally().unwrap()), want.clone());
        prop_assert_eq!(map(&v.tally()), ballots);
        let r = e.close_round("move", t).unwrap();
        if let Some(winner) = r.winner {
            let best = want.values().copied().max().unwrap_or(0);
            prop_assert_eq!(want.get(&winner.label()).copied(), Some(best));
        } else {
            prop_assert!(want.is_empty());
        }
    }
}
