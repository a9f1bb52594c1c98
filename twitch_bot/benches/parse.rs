//! Parse throughput on the 64-line Twitch corpus, side by side with baselines measured in the same run:
//!
//! - `twitch_bot/typed`: `irc::split_frame` + `irc::parse_line` (grammar, tags, typed message).
//! - `twitch-irc/typed`: `twitch_irc::message::IRCMessage::parse` + `ServerMessage::try_from`, the
//!   best-known Rust Twitch parser (the floor: we must not be slower).
//! - `twitch_bot/grammar` vs `irc-proto/grammar`: the IRC grammar layer alone
//!   (`RawLine::parse` + every tag unescaped, vs `irc_proto::Message::from_str`), the measurement
//!   behind replacing irc-proto.
//!
//! - `twitch_bot/raw_line_only`: `RawLine::parse` alone (split into tags, source, verb, params; nothing
//!   unescaped or copied), to show how much of the typed parse is grammar and how much is building
//!   the owned typed structs.
//!
//! Criterion reports lines/s (`Elements` = corpus lines). Compare ratios within one run: the machine is
//! shared and noisy.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use twitch_bot::irc::{RawLine, parse_line, split_frame};

const CORPUS: &str = include_str!("../tests/data/corpus.txt");

fn parse(c: &mut Criterion) {
    let lines: Vec<&str> = CORPUS.lines().collect();
    // Sanity: every baseline accepts every line, so all parsers do the same work.
    for line in &lines {
        parse_line(line).expect("ours");
        let m = twitch_irc::message::IRCMessage::parse(line).expect("twitch-irc grammar");
        twitch_irc::message::ServerMessage::try_from(m).expect("twitch-irc typed");
        line.parse::<irc_proto::Message>().expect("irc-proto");
    }

    let mut group = c.benchmark_group("parse_corpus");
    group.throughput(Throughput::Elements(lines.len() as u64));

    group.bench_function("twitch_bot/typed", |b| {
        b.iter(|| {
            for line in split_frame(black_box(CORPUS)) {
                black_box(parse_line(line).unwrap());
            }
        })
    });
    group.bench_function("twitch-irc/typed", |b| {
        b.iter(|| {
            for line in black_box(&lines) {
                let m = twitch_irc::message::IRCMessage::parse(line).unwrap();
                black_box(twitch_irc::message::ServerMessage::try_from(m).unwrap());
            }
        })
    });
    group.bench_function("twitch_bot/grammar", |b| {
        b.iter(|| {
            for line in black_box(&lines) {
                let raw = RawLine::parse(line).unwrap();
                // Unescape every tag, as irc-proto does, for a like-for-like comparison.
                black_box(raw.tags.to_map());
                black_box(&raw);
            }
        })
    });
    // Where the time goes: splitting the line and its tags alone, nothing unescaped or copied.
    group.bench_function("twitch_bot/raw_line_only", |b| {
        b.iter(|| {
            for line in black_box(&lines) {
                black_box(RawLine::parse(line).unwrap());
            }
        })
    });
    group.bench_function("irc-proto/grammar", |b| {
        b.iter(|| {
            for line in black_box(&lines) {
                black_box(line.parse::<irc_proto::Message>().unwrap());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
