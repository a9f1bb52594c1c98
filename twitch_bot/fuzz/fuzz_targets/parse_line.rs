//! Arbitrary bytes (as lossy UTF-8, like a WebSocket text frame after validation) through the line
//! parser: no panic, and a line that parses as a PRIVMSG has emote ranges inside its text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twitch_bot::irc::{ServerMessage, parse_line};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(ServerMessage::Privmsg(m)) = parse_line(&text) {
        let len = m.text.chars().count();
        for e in &m.emotes {
            assert!(e.start <= e.end && e.end <= len);
        }
    }
});
