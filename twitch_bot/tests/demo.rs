//! The README's run command works: `twitch_bot --demo` connects to its built-in chat, joins, and a round
//! closes with a winner within seconds; closing stdin (with `--exit-on-eof`) stops it gracefully with exit 0.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Failure guard only: the demo's rounds are 3 s long, so this normally takes a few seconds.
const GUARD: Duration = Duration::from_secs(60);

#[test]
fn demo_produces_a_winner_and_stops_cleanly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_twitch_bot"))
        .args(["--demo", "--exit-on-eof", "--log-level", "warn"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn twitch_bot --demo");
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            s.push_str(&line);
            s.push('\n');
        }
        s
    });

    let deadline = Instant::now() + GUARD;
    let mut seen: Vec<Value> = Vec::new();
    let winner = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = match rx.recv_timeout(left) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                panic!("no vote_closed with a winner within {GUARD:?}; events: {seen:?}");
            }
        };
        let v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
        if v["type"] == "vote_closed" && !v["winner"].is_null() {
            break v;
        }
        seen.push(v);
    };
    let kinds: Vec<&str> = seen.iter().filter_map(|v| v["type"].as_str()).collect();
    assert!(kinds.contains(&"connected"), "{kinds:?}");
    assert!(kinds.contains(&"joined"), "{kinds:?}");
    assert!(kinds.contains(&"vote_opened"), "{kinds:?}");
    let w = winner["winner"].as_str().unwrap();
    let tally = winner["tally"].as_object().expect("tally object");
    assert!(
        tally.contains_key(w),
        "the winner is in the tally: {winner}"
    );
    let total: u64 = tally.values().map(|n| n.as_u64().unwrap()).sum();
    assert_eq!(
        total,
        winner["voters"].as_u64().unwrap(),
        "one ballot per voter: {winner}"
    );

    // Graceful stop on stdin EOF.
    drop(child.stdin.take());
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > GUARD {
            let _ = child.kill();
            panic!("the demo did not stop after stdin closed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let rest: Vec<Value> = rx
        .try_iter()
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect();
    let stderr = err_thread.join().unwrap();
    assert_eq!(status.code(), Some(0), "stderr:\n{stderr}");
    // Open rounds close with their results on shutdown.
    assert!(
        rest.iter().any(|v| v["type"] == "vote_closed"),
        "no vote_closed at shutdown: {rest:?}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
