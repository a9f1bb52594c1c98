//! Arbitrary frames through the splitter and the parser: no panic, no line holds CR or LF, and the
//! session (sans-IO) survives any frame and never emits a line with CR or LF.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use twitch_bot::irc::{parse_line, split_frame};
use twitch_bot::session::{Secret, Session, SessionConfig};

fuzz_target!(|data: &[u8]| {
    let frame = String::from_utf8_lossy(data);
    for line in split_frame(&frame) {
        assert!(!line.is_empty() && !line.contains(['\r', '\n']));
        let _ = parse_line(line);
    }
    let mut session = Session::new(SessionConfig::new("bot", Some(Secret::new("t"))));
    let now = Instant::now();
    session.handle_connected(now);
    session.handle_frame(":tmi.twitch.tv 001 bot :Welcome", now);
    session.handle_frame(&frame, now);
    while let Some(line) = session.poll_transmit(now) {
        assert!(!line.contains(['\r', '\n']), "{line:?}");
    }
    while session.poll_event().is_some() {}
});
