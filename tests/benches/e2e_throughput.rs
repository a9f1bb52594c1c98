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
//! Environment: `E2E_BENCH_LINES` (default 1,000,000), `E2E_BENCH_FLOOD_SECS` (default 10),
//! `E2E_BENCH_USERS` (default 50,000); `E2E_BENCH_BASELINE_ONLY=1` measures only the baseline.

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
}

impl Run {
    fn lps(&self) -> f64 {
        self.lines as f64 / self.secs_to_pong
    }
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

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let lines = env_usize("E2E_BENCH_LINES", 1_000_000);
    let users = env_usize("E2E_BENCH_USERS", 50_000).min(lines).max(1);
    let flood_secs = env_usize("E2E_BENCH_FLOOD_SECS", 10) as u64;
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
        let fp = footprint(flood_secs).await;

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
            if fp.idle_kib < 15 * 1024 { "MET" } else { "MISSED" },
            late as i64 - early as i64,
            if late <= early + 2048 { "yes" } else { "NO (grows)" }
        );
    });
}
