//! Ballots per second through the vote engine: normalise + match + tally, from realistic chat.
//!
//! The chat is generated deterministically: 200 000 messages from 50 000 users (user ids and
//! UUID message ids as Twitch sends them), about 70 % valid ballots in every accepted form
//! (plain, upper case, `!`/`+` prefixes, `!vote x`, repeat suffixes, invisible padding such as
//! " \u{E0000}", `/me`), 30 % ordinary chat (long lines, emoji, near misses like `up down`).
//! Each measured batch feeds all messages to a fresh engine with one open democracy round, so
//! every user's first ballot pays for interning its user id, and replays are not involved.
//!
//! Each case is measured twice: `cpu/...` with the benchmark thread's own CPU time (Linux
//! `/proc/thread-self/schedstat`, nanoseconds), which time spent waiting for a core on a busy
//! machine does not inflate, and `wall/...` with criterion's usual wall-clock time.
//!
//! Throughput is in chat messages per second (`Melem/s`); the `mix:` line printed first says
//! which share of them are ballots (about 70 %), to turn it into ballots per second.
//! `democracy_default_limits` uses the default limits (100 000 remembered ids), so the id
//! memory's generation swap happens during the batch.
//!
//! Run: `cargo bench -p twitch_bot --bench vote`. The floor is 2 million ballots per second
//! on one core (the engine is single-threaded).

use std::hint::black_box;
use std::time::Instant;

use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use twitch_bot::chatplay::ChatMessage;
use twitch_bot::chatplay::{Engine, EngineConfig, Mode, VoteConfig};
use twitch_bot::irc::Privmsg;

const MESSAGES: usize = 200_000;
const USERS: u64 = 50_000;

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() as usize) % items.len()]
    }
}

const OPTIONS: [&str; 8] = ["up", "down", "left", "right", "a", "b", "start", "select"];

fn text(rng: &mut Lcg) -> String {
    let option = rng.pick(&OPTIONS);
    let digit = 1 + rng.next() % 9;
    match rng.next() % 20 {
        0..=5 => option.to_owned(),
        6 => option.to_uppercase(),
        7 => format!("!{option}"),
        8 => format!("+{option}"),
        9 => format!("!vote {option}"),
        10 | 11 => format!("{option}{digit}"),
        12 => format!("{option} \u{E0000}"),
        13 => format!("\u{200B}{}\u{200D}", option.to_uppercase()),
        // 14: the IRC layer already unwrapped /me, but raw text may still carry it
        14 => format!("\x01ACTION {option}\x01"),
        15 => rng
            .pick(&[
                "lol that was so close KEKW",
                "who is winning the vote right now?",
                "PogChamp PogChamp PogChamp",
                "😂😂😂 this chat is wild",
                "Привет всем, как дела?",
                "日本語のメッセージです",
            ])
            .to_owned(),
        16 => format!("{option} {}", rng.pick(&OPTIONS)),
        17 => format!("{option}10"),
        18 => "this is a much longer chat message that rambles on about the game and the streamer and everything else going on right now".to_owned(),
        _ => format!("go {option}!"),
    }
}

fn chat(rng: &mut Lcg, i: usize) -> Privmsg {
    let user = rng.next() % USERS;
    let login = format!("viewer_{user}");
    Privmsg {
        channel: "somechannel".into(),
        login: login.clone(),
        user_id: Some((100_000_000 + user).to_string()),
        display_name: login,
        text: text(rng),
        is_action: false,
        badges: vec![],
        badge_info: vec![],
        color: None,
        is_moderator: false,
        is_subscriber: false,
        is_vip: false,
        is_broadcaster: false,
        emotes: vec![],
        bits: None,
        message_id: Some(format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            rng.next() as u32,
            i % 0xffff,
            rng.next() % 0xfff,
            rng.next() % 0xfff,
            i
        )),
        server_timestamp_ms: None,
        reply_parent: None,
        first_message: false,
        historical: false,
    }
}

fn engine(mode: Mode) -> Engine {
    let mut vote = VoteConfig::new("move", OPTIONS);
    vote.max_repeat = 9;
    vote.window_secs = 3600.0;
    vote.mode = mode;
    let mut config = EngineConfig::new("the_bot");
    config.votes.push(vote);
    config.seed = Some(1);
    config.max_remembered_ids = 1_000_000;
    config.event_capacity = 1_000_000;
    let mut engine = Engine::new(config).expect("valid config");
    engine.start(Instant::now());
    while engine.poll_event().is_some() {}
    engine
}

/// The calling thread's CPU time (falls back to wall time where schedstat is missing).
struct ThreadCpu;

fn thread_cpu_now() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map(Duration::from_nanos)
        .unwrap_or_else(|| START.with(|t| t.elapsed()))
}

thread_local! {
    static START: Instant = Instant::now();
}

impl Measurement for ThreadCpu {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu_now()
    }
    fn end(&self, start: Duration) -> Duration {
        thread_cpu_now().saturating_sub(start)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        static WALL: WallTime = WallTime;
        WALL.formatter()
    }
}

fn messages() -> Vec<Privmsg> {
    let mut rng = Lcg(42);
    (0..MESSAGES).map(|i| chat(&mut rng, i)).collect()
}

fn cpu(c: &mut Criterion<ThreadCpu>) {
    run(c, "cpu");
}

fn wall(c: &mut Criterion) {
    run(c, "wall");
}

fn run<M: Measurement>(c: &mut Criterion<M>, label: &str) {
    let messages = messages();
    let now = Instant::now();

    // Sanity: report the mix once (not timed).
    let mut e = engine(Mode::Democracy);
    for m in &messages {
        e.handle_chat(&ChatMessage::from(m), now);
    }
    let v = e.vote("move").expect("vote");
    let (holders, inputs) = (v.voters(), v.tally().len());
    // Voter limiting off: every ballot message counts, so `voters()` is the number of ballots.
    let mut e = engine(Mode::Democracy);
    e.vote_mut("move").expect("vote").set_voter_limiting(false);
    for m in &messages {
        e.handle_chat(&ChatMessage::from(m), now);
    }
    let ballots = e.vote("move").expect("vote").voters();
    eprintln!(
        "mix: {} messages, {ballots} of them ballots ({:.1} %), {holders} users holding a ballot, \
         {inputs} distinct inputs tallied (ballots/s = messages/s x {:.3})",
        messages.len(),
        100.0 * ballots as f64 / messages.len() as f64,
        ballots as f64 / messages.len() as f64,
    );

    let mut group = c.benchmark_group(label);
    group.throughput(Throughput::Elements(MESSAGES as u64));
    group.sample_size(20);
    group.bench_function("democracy_mixed_chat", |b| {
        b.iter_batched(
            || engine(Mode::Democracy),
            |mut e| {
                for m in &messages {
                    e.handle_chat(&ChatMessage::from(black_box(m)), now);
                }
                e
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("anarchy_mixed_chat", |b| {
        b.iter_batched(
            || engine(Mode::Anarchy),
            |mut e| {
                for m in &messages {
                    e.handle_chat(&ChatMessage::from(black_box(m)), now);
                    while let Some(ev) = e.poll_event() {
                        black_box(ev);
                    }
                }
                e
            },
            BatchSize::PerIteration,
        )
    });
    // The default limits (100 000 remembered ids): the id memory rotates its generations once
    // during the batch, so that cost is included.
    group.bench_function("democracy_default_limits", |b| {
        b.iter_batched(
            || {
                let mut vote = VoteConfig::new("move", OPTIONS);
                vote.max_repeat = 9;
                vote.window_secs = 3600.0;
                let mut config = EngineConfig::new("the_bot");
                config.votes.push(vote);
                config.seed = Some(1);
                let mut e = Engine::new(config).expect("valid config");
                e.start(now);
                while e.poll_event().is_some() {}
                e
            },
            |mut e| {
                for m in &messages {
                    e.handle_chat(&ChatMessage::from(black_box(m)), now);
                }
                e
            },
            BatchSize::PerIteration,
        )
    });
    // The same messages replayed into an engine that has seen them (a reconnect replay): every
    // ballot is recognised by its id and ignored.
    group.bench_function("democracy_replayed_chat", |b| {
        b.iter_batched(
            || {
                let mut e = engine(Mode::Democracy);
                for m in &messages {
                    e.handle_chat(&ChatMessage::from(m), now);
                }
                e
            },
            |mut e| {
                for m in &messages {
                    e.handle_chat(&ChatMessage::from(black_box(m)), now);
                }
                e
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group! {
    name = cpu_time;
    config = Criterion::default().with_measurement(ThreadCpu);
    targets = cpu
}
criterion_group!(wall_time, wall);
criterion_main!(cpu_time, wall_time);
