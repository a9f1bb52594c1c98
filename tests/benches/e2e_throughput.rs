//! End-to-end throughput and footprint of the real `twitch_bot` binary.
//!
//! `cargo bench -p e2e --bench e2e_throughput` (a plain `main`, not run by `cargo test`).
//!
//! A local mock Twitch server (the e2e crate's) pushes realistic tagged `PRIVMSG` ballots, 10
//! lines per WebSocket frame, as fast as the client reads them (the mock's queue is bounded, so
//! TCP back-pressure paces it), into the bot configured with one democracy vote opened from
//! stdin. How we know every line was consumed: the flood is followed (on the same connection, in
//! order) by `PING :bench-end`; when the bot's `PONG :bench-end` arrives, every line before it has
//! been read and handled by its session. Then `stop_vote` closes the round and its `vote_closed`
//! must show exactly the expected tally (each of U distinct users' LAST ballot; last vote wins),
//! which proves the ballots were tallied, not just read.
//!
//! Baseline, measured in the same run: the same frames pushed by the same mock into a minimal
//! in-process async-tungstenite client that only splits lines and answers the final PING. The
//! ratio bot/baseline says how close the bot gets to what this machine can push through a
//! WebSocket at all.
//!
//! Footprint: the bot's VmRSS idle after connecting and joining, and sampled every 100 ms during a
//! long flood (lines generated on the fly, 10k users voting over and over).
//!
//! Realistic chat (see `chat_mix.rs`): 200,000 lines with Twitch's full tag set (badges with
//! versions, `badge-info`, emotes, `client-nonce`, reply-parent tags), 5,000 voters, about 30% of
//! ballots spelled differently (case, `!vote up`, `!up`, `+up`, spaces, a trailing U+E0000,
//! `/me up`) and about 2% lines that are not ballots. Measured for the bot, the raw reader and
//! tmi.js 1.8.5 (see `tmijs.rs`; installed by the bench into `.peers/tmijs`, skipped with a note
//! without npm), in `E2E_BENCH_ROUNDS` rounds that alternate which client goes first; the table
//! gives the range over rounds and the bot/tmi.js ratio of each round.
//!
//! Environment: `E2E_BENCH_LINES` (default 1,000,000), `E2E_BENCH_FLOOD_SECS` (default 10),
//! `E2E_BENCH_USERS` (default 50,000); `E2E_BENCH_REAL_LINES` (default 200,000),
//! `E2E_BENCH_REAL_USERS` (default 5,000), `E2E_BENCH_ROUNDS` (default 3);
//! `E2E_BENCH_ONLY=uniform|realistic|footprint` runs one part, `E2E_BENCH_SCHEMES=ws|wss` one
//! transport of the realistic part; `E2E_BENCH_BASELINE_ONLY=1`
//! measures only the uniform baseline.

mod chat_mix;
mod tmijs;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_tungstenite::tungstenite::{Message, Utf8Bytes};
use e2e::bot::{BotConfig, BotProcess, VoteSpec, rss_kib};
use e2e::mock_twitch::{MockOptions, MockTwitch, irc_command, irc_params, room_id};
use futures_util::StreamExt;
use serde_json::{Value, json};

const CHANNEL: &str = "benchroom";
const OPTIONS: [&str; 4] = ["up", "down", "left", "right"];
const LINES_PER_FRAME: usize = 10;
const T: Duration = Duration::from_secs(30);

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One realistic Twitch PRIVMSG line (tags in Twitch's order).
fn chat_line(i: usize, user: usize, option: &str, ts: u64) -> String {
    format!(
        "@badge-info=;badges=;client-nonce=6a1b2c3d4e5f60718293a4b5c6d7e8f9;color=#1E90FF;display-name=Viewer{user};emotes=;first-msg=0;flags=;id={:08x}-7d2e-4c1a-9b3f-{:012x};mod=0;returning-chatter=0;room-id={};subscriber=0;tmi-sent-ts={ts};turbo=0;user-id={};user-type= :viewer{user}!viewer{user}@viewer{user}.tmi.twitch.tv PRIVMSG #{CHANNEL} :{option}",
        i >> 16,
        i,
        room_id(CHANNEL),
        1_000_000 + user,
    )
}

/// Pre-renders `n` lines from `users` users into frames; returns the frames and the expected
/// tally (each user's last ballot).
fn make_frames(n: usize, users: usize) -> (Vec<String>, [u64; 4]) {
    let ts = e2e::mock_twitch::now_ms();
    let mut last = vec![usize::MAX; users];
    let mut frames = Vec::with_capacity(n / LINES_PER_FRAME + 1);
    let mut frame = String::new();
    for i in 0..n {
        let user = i % users;
        // Vary each user's choice from pass to pass so "last vote wins" is exercised.
        let opt = (i / users + user) % OPTIONS.len();
        last[user] = opt;
        frame.push_str(&chat_line(i, user, OPTIONS[opt], ts));
        frame.push_str("\r\n");
        if (i + 1) % LINES_PER_FRAME == 0 {
            frames.push(std::mem::take(&mut frame));
        }
    }
    if !frame.is_empty() {
        frames.push(frame);
    }
    let mut tally = [0u64; 4];
    for l in last.into_iter().filter(|&o| o != usize::MAX) {
        tally[l] += 1;
    }
    (frames, tally)
}

struct Run {
    lines: usize,
    secs_to_pong: f64,
    secs_to_closed: f64,
    verified: String,
    /// CPU seconds (user + system) the client process spent from the first frame to the end
    /// marker; `None` for the in-process baseline.
    cpu_secs: Option<f64>,
}

impl Run {
    fn lps(&self) -> f64 {
        self.lines as f64 / self.secs_to_pong
    }

    /// CPU microseconds per line.
    fn cpu_us(&self) -> Option<f64> {
        self.cpu_secs.map(|c| c * 1e6 / self.lines as f64)
    }
}

/// With `E2E_BENCH_PERF=DIR`, records a `perf` CPU profile of the bot during each flood into
/// `DIR/bot-{ws,wss}-N.data` (`perf record -e cpu-clock`; for finding where the time goes, not
/// for the figures, which it lowers).
fn perf_attach(pid: u32, tls: bool) -> Option<std::process::Child> {
    let dir = std::env::var("E2E_BENCH_PERF").ok()?;
    let scheme = if tls { "wss" } else { "ws" };
    let n =
        (0..).find(|n| !std::path::Path::new(&format!("{dir}/bot-{scheme}-{n}.data")).exists())?;
    let child = std::process::Command::new("perf")
        .args([
            "record",
            "-q",
            "-e",
            "cpu-clock",
            "-F",
            "4000",
            "--call-graph",
            "dwarf,16384",
            "-p",
        ])
        .arg(pid.to_string())
        .arg("-o")
        .arg(format!("{dir}/bot-{scheme}-{n}.data"))
        .spawn()
        .ok()?;
    std::thread::sleep(Duration::from_millis(300));
    Some(child)
}

fn perf_detach(perf: Option<std::process::Child>) {
    if let Some(mut child) = perf {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let _ = child.wait();
    }
}

/// CPU seconds (user + system) process `pid` has used so far (Linux `/proc/<pid>/stat`).
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let (utime, stime): (u64, u64) = (f.get(11)?.parse().ok()?, f.get(12)?.parse().ok()?);
    // SAFETY: sysconf has no preconditions.
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some((utime + stime) as f64 / tick)
}

async fn start_bot(server: &MockTwitch, window: f64) -> BotProcess {
    let mut cfg = BotConfig::new(&server.url(), &[CHANNEL]).vote(VoteSpec {
        window_secs: window,
        ..VoteSpec::democracy("flood", &OPTIONS)
    });
    if let Some(ca) = server.ca_file() {
        cfg = cfg.ca_file(ca);
    }
    // Logs only for problems: per-line logging is not part of what we measure.
    let mut bot = BotProcess::launch(e2e::bot::Launch {
        config_text: Some(cfg.to_toml()),
        env: vec![(
            "RUST_LOG".into(),
            std::env::var("E2E_BOT_LOG").unwrap_or_else(|_| "warn".into()),
        )],
        ..Default::default()
    })
    .await
    .expect("spawn the bot");
    bot.wait_type("joined", T, |_| true)
        .await
        .expect("the bot joins");
    bot
}

/// The bot's throughput: flood, PING marker, stop_vote, verify the tally.
async fn bot_run(tls: bool, frames: &[String], lines: usize, expected: [u64; 4]) -> Run {
    let server = MockTwitch::start(MockOptions {
        tls,
        ..MockOptions::default()
    })
    .await
    .expect("mock");
    let mut bot = start_bot(&server, 3600.0).await;
    let conn = server
        .wait_for_join(CHANNEL, 0, T)
        .await
        .expect("join seen");
    bot.send_op(&json!({"op": "start_vote", "vote": "flood"}))
        .await
        .unwrap();
    bot.wait_type("vote_opened", T, |_| true)
        .await
        .expect("round opens");
    let sender = server.frame_sender(conn).expect("open connection");
    let mark = server.mark();
    let pid = bot.pid().expect("running");
    let perf = perf_attach(pid, tls);
    let cpu0 = cpu_secs(pid);
    let t0 = Instant::now();
    for f in frames {
        assert!(
            sender.send(f.clone()).await,
            "the bot disconnected during the flood"
        );
    }
    assert!(sender.send("PING :bench-end\r\n".to_string()).await);
    server
        .wait_for_line_since(mark, Duration::from_secs(600), |l| {
            irc_command(l) == "PONG" && irc_params(l).last() == Some(&"bench-end")
        })
        .await
        .expect("PONG for the end marker");
    let t_pong = t0.elapsed();
    let cpu = cpu_secs(pid).zip(cpu0).map(|(b, a)| b - a);
    perf_detach(perf);
    bot.send_op(&json!({"op": "stop_vote", "vote": "flood"}))
        .await
        .unwrap();
    let closed = bot
        .wait_type("vote_closed", T, |_| true)
        .await
        .expect("round closes");
    let t_closed = t0.elapsed();
    let mut want = serde_json::Map::new();
    for (o, n) in OPTIONS.iter().zip(expected) {
        if n > 0 {
            want.insert(o.to_string(), json!(n));
        }
    }
    let voters: u64 = expected.iter().sum();
    let ok = closed["tally"] == Value::Object(want.clone()) && closed["voters"] == voters;
    let verified = if ok {
        format!("yes ({voters} voters)")
    } else {
        format!(
            "NO: got tally {} voters {}, want {} voters {voters}",
            closed["tally"],
            closed["voters"],
            Value::Object(want)
        )
    };
    bot.signal(libc::SIGTERM).ok();
    let _ = bot.wait_exit(Duration::from_secs(10)).await;
    Run {
        lines,
        secs_to_pong: t_pong.as_secs_f64(),
        secs_to_closed: t_closed.as_secs_f64(),
        verified,
        cpu_secs: cpu,
    }
}

/// The baseline: the same frames into a minimal in-process client that only counts lines.
async fn baseline_run(tls: bool, frames: &[String], lines: usize) -> Run {
    let server = MockTwitch::start(MockOptions {
        tls,
        ..MockOptions::default()
    })
    .await
    .expect("mock");
    let connector = server
        .test_ca()
        .map(|ca| tokio_rustls::TlsConnector::from(Arc::new(ca.client_config().unwrap())));
    let (ws, _) =
        async_tungstenite::tokio::connect_async_with_tls_connector(server.url(), connector)
            .await
            .expect("baseline connect");
    let (mut tx, mut rx) = ws.split();
    tx.send(Message::Text(Utf8Bytes::from_static(
        "CAP REQ :twitch.tv/tags twitch.tv/commands\r\nNICK justinfan1\r\nJOIN #benchroom",
    )))
    .await
    .unwrap();
    let conn = server
        .wait_for_join(CHANNEL, 0, T)
        .await
        .expect("baseline join");
    let reader = tokio::spawn(async move {
        let mut count = 0usize;
        while let Some(Ok(m)) = rx.next().await {
            if let Message::Text(t) = m {
                for l in t.as_str().split("\r\n").filter(|l| !l.is_empty()) {
                    if l.starts_with("PING :bench-end") {
                        let _ = tx
                            .send(Message::Text(Utf8Bytes::from_static("PONG :bench-end")))
                            .await;
                        return count;
                    }
                    if irc_command(l) == "PRIVMSG" {
                        count += 1;
                    }
                }
            }
        }
        count
    });
    let sender = server.frame_sender(conn).expect("open");
    let t0 = Instant::now();
    for f in frames {
        assert!(sender.send(f.clone()).await);
    }
    assert!(sender.send("PING :bench-end\r\n".to_string()).await);
    let counted = reader.await.unwrap();
    let t = t0.elapsed().as_secs_f64();
    Run {
        lines,
        secs_to_pong: t,
        secs_to_closed: t,
        cpu_secs: None,
        verified: if counted == lines {
            format!("yes ({counted} lines)")
        } else {
            format!("NO: counted {counted} of {lines}")
        },
    }
}

struct Footprint {
    idle_kib: u64,
    samples: Vec<u64>,
    lines: usize,
    secs: f64,
}

/// Idle RSS after joining, then RSS sampled during a long flood generated on the fly.
async fn footprint(flood_secs: u64) -> Footprint {
    let server = MockTwitch::start(MockOptions::default())
        .await
        .expect("mock");
    let mut bot = start_bot(&server, 3600.0).await;
    let conn = server.wait_for_join(CHANNEL, 0, T).await.expect("join");
    // Idle: connected and joined, nothing happening for a second.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pid = bot.pid().expect("running");
    let idle_kib = rss_kib(pid).expect("VmRSS");
    bot.send_op(&json!({"op": "start_vote", "vote": "flood"}))
        .await
        .unwrap();
    bot.wait_type("vote_opened", T, |_| true).await.unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    let sampler = std::thread::spawn(move || {
        let mut v = Vec::new();
        while !st.load(Ordering::Relaxed) {
            if let Some(k) = rss_kib(pid) {
                v.push(k);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        v
    });
    let sender = server.frame_sender(conn).expect("open");
    let t0 = Instant::now();
    let users = 10_000;
    let mut i = 0usize;
    let ts = e2e::mock_twitch::now_ms();
    while t0.elapsed() < Duration::from_secs(flood_secs) {
        let mut frame = String::with_capacity(LINES_PER_FRAME * 420);
        for _ in 0..LINES_PER_FRAME {
            frame.push_str(&chat_line(i, i % users, OPTIONS[i % 4], ts));
            frame.push_str("\r\n");
            i += 1;
        }
        if !sender.send(frame).await {
            break;
        }
    }
    let mark = server.mark();
    sender.send("PING :footprint-end\r\n".to_string()).await;
    server
        .wait_for_line_since(mark, Duration::from_secs(600), |l| {
            irc_command(l) == "PONG" && irc_params(l).last() == Some(&"footprint-end")
        })
        .await
        .expect("PONG after the flood");
    let secs = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let samples = sampler.join().unwrap();
    bot.signal(libc::SIGTERM).ok();
    let _ = bot.wait_exit(Duration::from_secs(10)).await;
    Footprint {
        idle_kib,
        samples,
        lines: i,
        secs,
    }
}

/// The uniform flood: tidy lines, each a plain ballot.
async fn uniform(lines: usize, users: usize) {
    let (frames, expected) = make_frames(lines, users);
    let bytes: usize = frames.iter().map(String::len).sum();
    eprintln!(
        "{lines} lines in {} frames ({LINES_PER_FRAME} lines/frame), {:.0} bytes/line, {users} users",
        frames.len(),
        bytes as f64 / lines as f64
    );
    let mut rows = Vec::new();
    for tls in [false, true] {
        let scheme = if tls { "wss://" } else { "ws://" };
        let base = baseline_run(tls, &frames, lines).await;
        let bot = bot_run(tls, &frames, lines, expected).await;
        rows.push((scheme, base, bot));
    }
    println!();
    println!("## End-to-end throughput: mock Twitch -> twitch_bot -> tallied ballots");
    println!(
        "{lines} PRIVMSG lines, {LINES_PER_FRAME} per frame, {users} distinct voters, 2-core machine"
    );
    println!();
    println!(
        "| transport | client | lines/s (to PONG) | lines/s (to vote_closed) | ratio to baseline | all tallied |"
    );
    println!("|---|---|---|---|---|---|");
    for (scheme, base, bot) in &rows {
        println!(
            "| {scheme} | baseline (raw async-tungstenite reader) | {:.0} | - | 1.00 | {} |",
            base.lps(),
            base.verified
        );
        println!(
            "| {scheme} | twitch_bot | {:.0} | {:.0} | {:.2} | {} |",
            bot.lps(),
            bot.lines as f64 / bot.secs_to_closed,
            bot.lps() / base.lps(),
            bot.verified
        );
    }
    let ws_bot = rows[0].2.lps();
    println!();
    println!(
        "floor 300,000 lines/s over ws://: {} ({ws_bot:.0})",
        if ws_bot >= 300_000.0 { "MET" } else { "MISSED" }
    );
}

fn print_footprint(fp: Footprint) {
    let s = &fp.samples;
    let (min, max) = (
        s.iter().copied().min().unwrap_or(0),
        s.iter().copied().max().unwrap_or(0),
    );
    let q = s.len() / 4;
    let early = s.get(q).copied().unwrap_or(0);
    let late = s.last().copied().unwrap_or(0);
    println!();
    println!("## Footprint (VmRSS of the bot process)");
    println!();
    println!("| measurement | KiB | MB |");
    println!("|---|---|---|");
    println!(
        "| idle after connect + join | {} | {:.1} |",
        fp.idle_kib,
        fp.idle_kib as f64 / 1024.0
    );
    println!(
        "| flood: min / max ({} samples, {:.0} s, {} lines, {:.0} lines/s) | {min} / {max} | {:.1} / {:.1} |",
        s.len(),
        fp.secs,
        fp.lines,
        fp.lines as f64 / fp.secs,
        min as f64 / 1024.0,
        max as f64 / 1024.0
    );
    println!(
        "| flood: at 25% / at end | {early} / {late} | {:.1} / {:.1} |",
        early as f64 / 1024.0,
        late as f64 / 1024.0
    );
    println!();
    println!(
        "idle < 15 MB: {}; flat during flood (end - 25% sample = {} KiB): {}",
        if fp.idle_kib < 15 * 1024 {
            "MET"
        } else {
            "MISSED"
        },
        late as i64 - early as i64,
        if late <= early + 2048 {
            "yes"
        } else {
            "NO (grows)"
        }
    );
}

/// min and max of a list of figures.
fn range(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        })
}

fn fmt_range(v: &[f64], digits: usize) -> String {
    let (lo, hi) = range(v);
    if v.is_empty() {
        "-".to_string()
    } else if v.len() == 1 {
        format!("{lo:.digits$}")
    } else {
        format!("{lo:.digits$} - {hi:.digits$}")
    }
}

/// The realistic mix: per transport and round, the raw reader, tmi.js and the bot, in an order
/// that alternates from round to round.
async fn realistic(lines: usize, users: usize, rounds: usize) -> Vec<String> {
    let (frames, expected, ballots) = chat_mix::make_frames(
        lines,
        users,
        LINES_PER_FRAME,
        CHANNEL,
        &room_id(CHANNEL).to_string(),
        e2e::mock_twitch::now_ms(),
    );
    let bytes: usize = frames.iter().map(String::len).sum();
    eprintln!(
        "realistic: {lines} lines ({ballots} ballots) in {} frames, {:.0} bytes/line, {users} voters",
        frames.len(),
        bytes as f64 / lines as f64
    );
    let tmi = tmijs::setup();
    let mut out = Vec::new();
    out.push(String::new());
    out.push("## Realistic chat: full Twitch tags, spelling variants, non-ballots".to_string());
    out.push(format!(
        "{lines} PRIVMSG lines ({ballots} ballots, {} not), {LINES_PER_FRAME} per frame, {} distinct voters, {:.0} bytes/line; {rounds} rounds, order alternating; ranges are min - max over rounds",
        lines - ballots,
        expected.iter().sum::<u64>(),
        bytes as f64 / lines as f64
    ));
    out.push(String::new());
    out.push("| transport | client | lines/s (to PONG / count) | CPU µs/line | twitch_bot / this: lines/s, per round | this / twitch_bot: CPU per line | all counted |".to_string());
    out.push("|---|---|---|---|---|---|---|".to_string());
    let mut floor_ratios = Vec::new();
    for tls in schemes() {
        let scheme = if tls { "wss://" } else { "ws://" };
        let (mut base, mut tmis, mut bots) = (Vec::new(), Vec::new(), Vec::new());
        let (mut base_ok, mut tmi_ok, mut bot_ok) = (String::new(), String::new(), String::new());
        let (mut r_base, mut r_tmi) = (Vec::new(), Vec::new());
        let (mut cpu_bot, mut cpu_tmi, mut r_cpu) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            let mut b = None;
            let mut t = None;
            let mut k = None;
            // Alternate: even rounds bot last, odd rounds bot first.
            for step in 0..3 {
                let which = if round % 2 == 0 { step } else { 2 - step };
                match which {
                    0 => b = Some(baseline_run(tls, &frames, lines).await),
                    1 => {
                        if let Some(dir) = &tmi {
                            t = Some(tmijs::run(dir, tls, CHANNEL, &frames).await);
                        }
                    }
                    _ => k = Some(bot_run(tls, &frames, lines, expected).await),
                }
            }
            let (b, k) = (b.unwrap(), k.unwrap());
            eprintln!(
                "{scheme} round {}: raw {:.0}, bot {:.0} lines/s ({:.2} µs CPU/line){}",
                round + 1,
                b.lps(),
                k.lps(),
                k.cpu_us().unwrap_or(f64::NAN),
                match &t {
                    Some(Ok(t)) => format!(
                        ", tmi.js {:.0} lines/s ({:.2} µs CPU/line)",
                        lines as f64 / t.secs,
                        t.cpu_secs.unwrap_or(f64::NAN) * 1e6 / lines as f64
                    ),
                    Some(Err(e)) => format!(", tmi.js failed: {e}"),
                    None => String::new(),
                }
            );
            r_base.push(k.lps() / b.lps());
            base.push(b.lps());
            base_ok = b.verified.clone();
            bots.push(k.lps());
            let bot_cpu = k.cpu_us();
            cpu_bot.extend(bot_cpu);
            if !k.verified.starts_with("yes") || bot_ok.is_empty() {
                bot_ok = k.verified.clone();
            }
            match t {
                Some(Ok(t)) => {
                    let lps = lines as f64 / t.secs;
                    tmis.push(lps);
                    r_tmi.push(k.lps() / lps);
                    if let (Some(c), Some(b)) = (t.cpu_secs, bot_cpu) {
                        let us = c * 1e6 / lines as f64;
                        cpu_tmi.push(us);
                        r_cpu.push(us / b);
                    }
                    if t.counted != lines || tmi_ok.is_empty() {
                        tmi_ok = if t.counted == lines {
                            format!("yes ({} messages)", t.counted)
                        } else {
                            format!("NO: counted {} of {lines}", t.counted)
                        };
                    }
                }
                Some(Err(e)) => tmi_ok = format!("failed: {e}"),
                None => {}
            }
        }
        out.push(format!(
            "| {scheme} | baseline (raw async-tungstenite reader, in the bench) | {} | - | {} | - | {base_ok} |",
            fmt_range(&base, 0),
            fmt_range(&r_base, 2)
        ));
        if tmi.is_some() {
            out.push(format!(
                "| {scheme} | tmi.js {} (node {}) | {} | {} | {} | {} | {tmi_ok} |",
                tmijs::VERSION,
                node_version(),
                fmt_range(&tmis, 0),
                fmt_range(&cpu_tmi, 2),
                fmt_range(&r_tmi, 2),
                fmt_range(&r_cpu, 2)
            ));
        }
        out.push(format!(
            "| {scheme} | twitch_bot | {} | {} | 1.00 | 1.00 | {bot_ok} |",
            fmt_range(&bots, 0),
            fmt_range(&cpu_bot, 2)
        ));
        if !tls {
            floor_ratios = r_tmi;
        }
    }
    out.push(String::new());
    if floor_ratios.is_empty() {
        out.push("floor 10x tmi.js over ws://: not measured (tmi.js unavailable)".to_string());
    } else {
        let (lo, _) = range(&floor_ratios);
        out.push(format!(
            "floor 10x tmi.js over ws:// on this mix: {} (lowest ratio {lo:.1}x)",
            if lo >= 10.0 { "MET" } else { "MISSED" }
        ));
    }
    out
}

/// `E2E_BENCH_SCHEMES=ws` or `wss` limits the realistic part to one transport.
fn schemes() -> Vec<bool> {
    match std::env::var("E2E_BENCH_SCHEMES").as_deref() {
        Ok("ws") => vec![false],
        Ok("wss") => vec![true],
        _ => vec![false, true],
    }
}

fn node_version() -> String {
    std::process::Command::new("node")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let lines = env_usize("E2E_BENCH_LINES", 1_000_000);
    let users = env_usize("E2E_BENCH_USERS", 50_000).min(lines).max(1);
    let flood_secs = env_usize("E2E_BENCH_FLOOD_SECS", 10) as u64;
    let real_lines = env_usize("E2E_BENCH_REAL_LINES", 200_000).max(1);
    let real_users = env_usize("E2E_BENCH_REAL_USERS", 5_000).max(1);
    let rounds = env_usize("E2E_BENCH_ROUNDS", 3).max(1);
    let only = std::env::var("E2E_BENCH_ONLY").unwrap_or_default();
    let part = |name: &str| only.is_empty() || only == name;
    // One worker thread: the load generator must leave the other core to the bot.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        if std::env::var_os("E2E_BENCH_BASELINE_ONLY").is_some() {
            let (frames, _) = make_frames(lines, users);
            for tls in [false, true] {
                let r = baseline_run(tls, &frames, lines).await;
                println!("baseline tls={tls}: {:.0} lines/s, {}", r.lps(), r.verified);
            }
            return;
        }
        eprintln!("bot binary: {}", e2e::bot::bot_binary().display());
        if part("uniform") {
            uniform(lines, users).await;
        }
        if part("realistic") {
            for l in realistic(real_lines, real_users, rounds).await {
                println!("{l}");
            }
        }
        if part("footprint") {
            print_footprint(footprint(flood_secs).await);
        }
    });
}
