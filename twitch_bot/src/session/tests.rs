//! Fake-clock unit tests of the session: login, keep-alive, joins and their retries, reconnects,
//! notices, chat blocking and the wire's hygiene.

use super::*;
use crate::irc::Login;
use crate::rate_limit::RateLimitConfig;

const S: Duration = Duration::from_secs(1);

fn config(channels: &[&str]) -> SessionConfig {
    let mut c = SessionConfig::new("Bot".parse().unwrap(), Some(Secret::new("abc123")));
    c.channels = channels.iter().map(|s| s.to_string()).collect();
    c
}

#[test]
fn no_code_path_puts_cr_lf_or_nul_on_the_wire() {
    // The nick is a Login: an injection attempt is refused where the value is made, so it cannot
    // reach `SessionConfig` (or `Config`) through the library API.
    for evil in ["bot\r\nJOIN #evil", "bot\0", "bot\nQUIT"] {
        assert!(Login::new(evil).is_err(), "{evil:?}");
        assert!(evil.parse::<Login>().is_err(), "{evil:?}");
    }
    // Everything else that reaches a line is checked or cleaned on the way in.
    let mut c = SessionConfig::new("Bot".parse().unwrap(), Some(Secret::new("abc\r\n123")));
    c.channels = vec!["chan\r\nPART #x".into(), "ok".into()];
    let mut s = Session::new(c);
    let t0 = Instant::now();
    s.handle_connected(t0);
    s.handle_frame(":tmi.twitch.tv 001 bot :Welcome\r\nPING :a\0b", t0);
    assert!(s.join("x\ny").is_err());
    s.handle_frame(":bot!bot@bot.tmi.twitch.tv JOIN #ok", t0);
    s.say("ok", "hi\r\nQUIT\0").unwrap();
    let lines = transmitted(&mut s);
    assert!(lines.contains(&"NICK bot".to_owned()), "{lines:?}");
    for l in &lines {
        assert!(!l.contains(['\r', '\n', '\0']), "{l:?}");
    }
}

fn transmitted(s: &mut Session) -> Vec<String> {
    // At the time of the last input (as the driver polls right after each one).
    let now = s.now.unwrap_or_else(Instant::now);
    std::iter::from_fn(|| s.poll_transmit(now)).collect()
}

fn events(s: &mut Session) -> Vec<Event> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

/// Connected and welcomed at `t0`, all output drained.
fn logged_in(channels: &[&str], t0: Instant) -> Session {
    let mut s = Session::new(config(channels));
    s.handle_connected(t0);
    s.handle_frame(":tmi.twitch.tv 001 bot :Welcome, GLHF!", t0);
    transmitted(&mut s);
    events(&mut s);
    s
}

#[test]
fn login_lines_and_token_forms() {
    for token in ["abc123", "oauth:abc123", " oauth:abc123\r\n"] {
        let mut c = config(&[]);
        c.token = Some(Secret::new(token));
        let mut s = Session::new(c);
        s.handle_connected(Instant::now());
        assert_eq!(
            transmitted(&mut s),
            [
                "CAP REQ :twitch.tv/tags twitch.tv/commands twitch.tv/membership",
                "PASS oauth:abc123",
                "NICK bot"
            ]
        );
        assert_eq!(events(&mut s), [Event::Connected]);
    }
}

#[test]
fn anonymous_login_has_no_pass_and_cannot_send() {
    let mut s = Session::new(SessionConfig::anonymous());
    assert!(s.is_anonymous());
    let nick = s.nick().to_owned();
    let digits = nick.strip_prefix("justinfan").unwrap();
    assert!(!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
    s.handle_connected(Instant::now());
    let lines = transmitted(&mut s);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1], format!("NICK {nick}"));
    assert_eq!(s.say("chan", "hi"), Err(SendError::Anonymous));
}

#[test]
fn token_never_in_debug_output() {
    let mut s = Session::new(config(&["a"]));
    s.handle_connected(Instant::now());
    let debug = format!("{s:?} {:?}", config(&[]));
    assert!(!debug.contains("abc123"), "{debug}");
    assert_eq!(redact_line("PASS oauth:abc123"), "PASS ***");
}

#[test]
fn logged_in_on_001_then_joins_and_confirms() {
    let t0 = Instant::now();
    let mut s = Session::new(config(&["#ChanA", "chanb"]));
    s.handle_connected(t0);
    transmitted(&mut s);
    assert_eq!(s.state(), SessionState::LoggingIn);
    assert!(s.say("chana", "too early").is_ok(), "queued until login");
    assert_eq!(transmitted(&mut s), Vec::<String>::new());
    s.handle_frame(
        ":tmi.twitch.tv 001 bot :Welcome, GLHF!\r\n:tmi.twitch.tv 002 bot :x",
        t0,
    );
    assert_eq!(s.state(), SessionState::LoggedIn);
    assert_eq!(
        transmitted(&mut s),
        ["JOIN #chana", "PRIVMSG #chana :too early"]
    );
    // JOINs are spread out (one per 10.25 s / 20).
    s.handle_timeout(t0 + S);
    assert_eq!(transmitted(&mut s), ["JOIN #chanb"]);
    s.handle_frame(":bot!bot@bot.tmi.twitch.tv JOIN #chana", t0);
    s.handle_frame("@room-id=1;slow=0 :tmi.twitch.tv ROOMSTATE #chanb", t0);
    let ev = events(&mut s);
    assert!(ev.contains(&Event::LoggedIn { nick: "bot".into() }));
    assert!(ev.contains(&Event::Joined {
        channel: "chana".into()
    }));
    assert!(ev.contains(&Event::Joined {
        channel: "chanb".into()
    }));
    assert_eq!(s.joined_channels().collect::<Vec<_>>(), ["chana", "chanb"]);
}

#[test]
fn auth_failure_is_final() {
    for text in ["Login authentication failed", "Improperly formatted auth"] {
        let t0 = Instant::now();
        let mut s = Session::new(config(&["a"]));
        s.handle_connected(t0);
        transmitted(&mut s);
        s.say("a", "queued").unwrap();
        s.handle_frame(&format!(":tmi.twitch.tv NOTICE * :{text}\r\nPING :x"), t0);
        assert_eq!(s.state(), SessionState::AuthFailed);
        let ev = events(&mut s);
        assert_eq!(
            ev.last(),
            Some(&Event::AuthFailed {
                reason: text.into()
            })
        );
        assert!(
            !ev.iter()
                .any(|e| matches!(e, Event::ReconnectWanted { .. }))
        );
        assert_eq!(transmitted(&mut s), Vec::<String>::new());
        assert_eq!(s.poll_timeout(), None, "no timers after a final failure");
        s.handle_timeout(t0 + 100 * S);
        assert!(events(&mut s).is_empty());
    }
}

#[test]
fn cap_nak_degrades_with_an_event() {
    let t0 = Instant::now();
    let mut s = logged_in(&[], t0);
    s.handle_frame(":tmi.twitch.tv CAP * NAK :twitch.tv/tags", t0);
    assert_eq!(
        events(&mut s),
        [Event::CapabilitiesDenied {
            capabilities: vec!["twitch.tv/tags".into()]
        }]
    );
    assert_eq!(s.state(), SessionState::LoggedIn);
}

#[test]
fn every_ping_is_answered_whatever_the_framing() {
    let t0 = Instant::now();
    let mut s = logged_in(&[], t0);
    s.handle_frame("PING :tmi.twitch.tv", t0);
    assert_eq!(transmitted(&mut s), ["PONG :tmi.twitch.tv"]);
    s.handle_frame(
        "@id=1 :a!a@a PRIVMSG #x :hi\r\nPING :one\nPING two\r\n:tmi.twitch.tv PING test :abc def\r\n",
        t0,
    );
    assert_eq!(
        transmitted(&mut s),
        ["PONG :one", "PONG :two", "PONG test :abc def"]
    );
    // A PING before login is answered too.
    let mut s = Session::new(config(&[]));
    s.handle_connected(t0);
    transmitted(&mut s);
    s.handle_frame("PING :early", t0);
    assert_eq!(transmitted(&mut s), ["PONG :early"]);
}

#[test]
fn own_ping_when_quiet_and_reconnect_without_pong() {
    let t0 = Instant::now();
    let mut s = logged_in(&[], t0);
    assert_eq!(s.poll_timeout(), Some(t0 + 60 * S));
    s.handle_frame(":a!a@a PRIVMSG #x :traffic", t0 + 30 * S);
    assert_eq!(
        s.poll_timeout(),
        Some(t0 + 90 * S),
        "traffic resets the idle timer"
    );
    s.handle_timeout(t0 + 90 * S);
    assert_eq!(transmitted(&mut s), ["PING :twitch_bot-1"]);
    assert_eq!(s.poll_timeout(), Some(t0 + 100 * S));
    // A PONG in time: no reconnect.
    s.handle_frame(
        ":tmi.twitch.tv PONG tmi.twitch.tv :twitch_bot-1",
        t0 + 95 * S,
    );
    s.handle_timeout(t0 + 100 * S);
    events(&mut s);
    // Quiet again, PING, and this time no PONG.
    s.handle_timeout(t0 + 155 * S);
    assert_eq!(transmitted(&mut s), ["PING :twitch_bot-2"]);
    s.handle_timeout(t0 + 164 * S);
    assert!(events(&mut s).is_empty());
    s.handle_timeout(t0 + 165 * S);
    assert_eq!(
        events(&mut s),
        [Event::ReconnectWanted {
            reason: ReconnectReason::PongTimeout
        }]
    );
}

#[test]
fn reconnect_from_server_and_rejoin_after_reconnect() {
    let t0 = Instant::now();
    let mut s = logged_in(&["a", "b"], t0);
    s.handle_frame(
        ":bot!bot@bot.tmi.twitch.tv JOIN #a\r\n:bot!bot@bot.tmi.twitch.tv JOIN #b",
        t0,
    );
    s.handle_frame(":tmi.twitch.tv RECONNECT", t0);
    let ev = events(&mut s);
    assert_eq!(
        ev.last(),
        Some(&Event::ReconnectWanted {
            reason: ReconnectReason::ServerRequested
        })
    );
    s.handle_disconnected(t0 + S);
    assert_eq!(s.joined_channels().count(), 0);
    s.handle_connected(t0 + 20 * S);
    s.handle_frame(":tmi.twitch.tv 001 bot :Welcome", t0 + 20 * S);
    let lines = transmitted(&mut s);
    assert!(lines.ends_with(&["JOIN #a".to_string()]), "{lines:?}");
    s.handle_timeout(t0 + 21 * S);
    assert_eq!(transmitted(&mut s), ["JOIN #b"]);
}

#[test]
fn login_timeout_asks_for_reconnect() {
    let t0 = Instant::now();
    let mut s = Session::new(config(&[]));
    s.handle_connected(t0);
    events(&mut s);
    assert_eq!(s.poll_timeout(), Some(t0 + 20 * S));
    s.handle_timeout(t0 + 20 * S);
    assert_eq!(
        events(&mut s),
        [Event::ReconnectWanted {
            reason: ReconnectReason::LoginTimeout
        }]
    );
}

#[test]
fn joins_are_limited_to_twenty_per_ten_seconds_and_spread() {
    let t0 = Instant::now();
    let names: Vec<String> = (0..45).map(|i| format!("chan{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut s = logged_in(&[], t0);
    for r in &refs {
        s.join(r).unwrap();
    }
    let mut sent = Vec::new();
    let mut now = t0;
    while now < t0 + 30 * S {
        if s.poll_timeout().is_some_and(|t| t <= now) {
            s.handle_timeout(now);
        }
        while let Some(j) = s.poll_transmit(now) {
            // Confirmed at once (so no retry mixes in).
            s.handle_frame(&format!(":bot!bot@bot.tmi.twitch.tv {j}"), now);
            sent.push(now);
        }
        now += Duration::from_millis(10);
    }
    assert_eq!(sent.len(), 45);
    for (i, t) in sent.iter().enumerate() {
        assert!(sent[i..].iter().take_while(|u| **u - *t < 10 * S).count() <= 20);
    }
    let spacing = (10 * S + RateLimitConfig::default().margin) / 20;
    assert!(sent.windows(2).all(|w| w[1] - w[0] >= spacing));
    assert!(
        *sent.last().unwrap() - t0 < 44 * spacing + S,
        "no long stalls"
    );
}

#[test]
fn unconfirmed_join_times_out_and_bad_names_are_refused() {
    let t0 = Instant::now();
    let mut s = logged_in(&["ghost"], t0);
    assert_eq!(s.poll_timeout(), Some(t0 + 10 * S));
    s.handle_timeout(t0 + 10 * S);
    let ev = events(&mut s);
    assert!(matches!(&ev[..], [Event::JoinFailed { channel, .. }] if channel == "ghost"));
    assert!(s.join("bad name\r\nQUIT").is_err());
    let s = Session::new(config(&["no spaces allowed"]));
    let mut s = s;
    assert!(matches!(events(&mut s)[..], [Event::JoinFailed { .. }]));
}

/// A logged-in session whose own keep-alive stays out of the way (for long join timelines).
fn quiet_logged_in(channels: &[&str], t0: Instant) -> Session {
    let mut c = config(channels);
    c.ping_after_idle = Duration::from_secs(100_000);
    let mut s = Session::new(c);
    s.handle_connected(t0);
    s.handle_frame(":tmi.twitch.tv 001 bot :Welcome, GLHF!", t0);
    transmitted(&mut s);
    events(&mut s);
    s
}

fn join_failures(ev: &[Event]) -> Vec<(String, String)> {
    ev.iter()
        .filter_map(|e| match e {
            Event::JoinFailed { channel, reason } => Some((channel.clone(), reason.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn unconfirmed_join_is_retried_with_backoff_then_given_up() {
    let t0 = Instant::now();
    let mut s = quiet_logged_in(&["ghost"], t0);
    // (time the attempt times out, next JOIN time, reason suffix)
    let steps = [
        (10, Some(20), "(attempt 1 of 4); retrying in 10 s"),
        (30, Some(60), "(attempt 2 of 4); retrying in 30 s"),
        (70, Some(130), "(attempt 3 of 4); retrying in 60 s"),
        (140, None, "(attempt 4 of 4); giving up"),
    ];
    for (fail_at, retry_at, suffix) in steps {
        assert_eq!(s.poll_timeout(), Some(t0 + fail_at * S));
        s.handle_timeout(t0 + (fail_at - 1) * S);
        assert!(events(&mut s).is_empty(), "not before the timeout");
        s.handle_timeout(t0 + fail_at * S);
        let failures = join_failures(&events(&mut s));
        assert_eq!(failures.len(), 1, "each failure is reported");
        assert_eq!(failures[0].0, "ghost");
        assert!(failures[0].1.ends_with(suffix), "{:?}", failures[0].1);
        assert!(
            failures[0]
                .1
                .starts_with("no JOIN or ROOMSTATE within 10 s")
        );
        assert_eq!(transmitted(&mut s), Vec::<String>::new());
        let Some(retry_at) = retry_at else { break };
        assert_eq!(
            s.join_status("ghost"),
            Some(JoinStatus::RetryAt(t0 + retry_at * S))
        );
        assert_eq!(s.poll_timeout(), Some(t0 + retry_at * S));
        s.handle_timeout(t0 + retry_at * S);
        assert_eq!(transmitted(&mut s), ["JOIN #ghost"]);
        assert_eq!(s.join_status("ghost"), Some(JoinStatus::Joining));
    }
    assert_eq!(s.join_status("ghost"), Some(JoinStatus::Failed));
    assert_eq!(
        s.poll_timeout(),
        Some(t0 + 100_000 * S),
        "only the keep-alive is left"
    );
    s.handle_timeout(t0 + 1000 * S);
    assert_eq!(transmitted(&mut s), Vec::<String>::new());
    // Asking again starts over; so does a reconnect.
    s.join("ghost").unwrap();
    assert_eq!(transmitted(&mut s), ["JOIN #ghost"]);
    s.handle_disconnected(t0 + 1001 * S);
    s.handle_connected(t0 + 1002 * S);
    s.handle_frame(":tmi.twitch.tv 001 bot :Welcome", t0 + 1002 * S);
    assert!(transmitted(&mut s).contains(&"JOIN #ghost".to_string()));
    s.handle_timeout(t0 + 1012 * S);
    assert!(
        join_failures(&events(&mut s))[0]
            .1
            .contains("(attempt 1 of 4)")
    );
}

#[test]
fn a_late_confirmation_or_a_part_cancels_the_retry() {
    let t0 = Instant::now();
    let mut s = quiet_logged_in(&["slow", "leaving"], t0);
    s.handle_timeout(t0 + S);
    assert_eq!(transmitted(&mut s), ["JOIN #slow"]);
    s.handle_timeout(t0 + 11 * S);
    assert_eq!(join_failures(&events(&mut s)).len(), 2);
    s.handle_frame("@room-id=1 :tmi.twitch.tv ROOMSTATE #slow", t0 + 12 * S);
    s.part("leaving").unwrap();
    let ev = events(&mut s);
    assert!(ev.contains(&Event::Joined {
        channel: "slow".into()
    }));
    assert!(ev.contains(&Event::Parted {
        channel: "leaving".into()
    }));
    assert_eq!(
        transmitted(&mut s),
        Vec::<String>::new(),
        "no PART for a channel not joined"
    );
    assert_eq!(s.join_status("leaving"), None);
    assert_eq!(
        s.poll_timeout(),
        Some(t0 + 100_012 * S),
        "no retry timer left (only the keep-alive, from the last line received)"
    );
    s.handle_timeout(t0 + 20 * S);
    s.handle_timeout(t0 + 200 * S);
    assert_eq!(transmitted(&mut s), Vec::<String>::new());
    assert!(events(&mut s).is_empty());
    assert_eq!(s.joined_channels().collect::<Vec<_>>(), ["slow"]);
}

#[test]
fn retries_never_exceed_twenty_joins_in_ten_seconds() {
    let t0 = Instant::now();
    let names: Vec<String> = (0..33).map(|i| format!("ghost{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut s = quiet_logged_in(&[], t0);
    for r in &refs {
        s.join(r).unwrap();
    }
    let mut joins: Vec<(Instant, String)> = Vec::new();
    let mut failures = Vec::new();
    let mut now = t0;
    // Drive the session by its own timer, as the driver does, until nothing but the keep-alive is left.
    for _ in 0..10_000 {
        joins.extend(transmitted(&mut s).into_iter().map(|l| (now, l)));
        failures.extend(join_failures(&events(&mut s)));
        match s.poll_timeout() {
            Some(t) if t < t0 + 1000 * S => now = t,
            _ => break,
        }
        s.handle_timeout(now);
    }
    for (i, (t, _)) in joins.iter().enumerate() {
        let in_window = joins[i..]
            .iter()
            .take_while(|(u, _)| *u - *t < 10 * S)
            .count();
        assert!(
            in_window <= 20,
            "{in_window} JOINs within 10 s from {:?}",
            *t - t0
        );
    }
    for name in &names {
        let sent = joins
            .iter()
            .filter(|(_, l)| *l == format!("JOIN #{name}"))
            .count();
        assert_eq!(sent, 4, "{name}: one JOIN and three retries");
        let reasons: Vec<_> = failures.iter().filter(|(c, _)| c == name).collect();
        assert_eq!(reasons.len(), 4);
        assert!(reasons[3].1.ends_with("giving up"));
        assert_eq!(s.join_status(name), Some(JoinStatus::Failed));
    }
    assert_eq!(joins.len(), 33 * 4, "nothing but JOINs: {joins:?}");
}

#[test]
fn the_whole_corpus_in_one_frame() {
    let t0 = Instant::now();
    let mut s = logged_in(&[], t0);
    let corpus = include_str!("../../tests/data/corpus.txt");
    // Without the two login-failure NOTICEs (they end the session), every line gives an event or a PONG.
    let frame: String = corpus
        .lines()
        .filter(|l| !l.contains("NOTICE * :"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    s.handle_frame(&frame, t0);
    assert_eq!(transmitted(&mut s), ["PONG", "PONG test :abc def"]);
    let ev = events(&mut s);
    assert!(!ev.iter().any(|e| matches!(e, Event::InvalidLine { .. })));
    let chats = ev.iter().filter(|e| matches!(e, Event::Chat(_))).count();
    assert_eq!(chats, 11);
    // 64 lines - 2 login failures - 2 PINGs - 1 PONG = 59 events (RECONNECT asks for a reconnect).
    assert_eq!(ev.len(), 59);
    assert!(ev.contains(&Event::ReconnectWanted {
        reason: ReconnectReason::ServerRequested
    }));
}

#[test]
fn suspended_channel_notice_fails_the_join() {
    let t0 = Instant::now();
    let mut s = quiet_logged_in(&["gone"], t0);
    s.handle_frame(
        "@msg-id=msg_channel_suspended :tmi.twitch.tv NOTICE #gone :This channel has been suspended.",
        t0,
    );
    let ev = events(&mut s);
    assert!(
        matches!(&ev[..], [Event::JoinFailed { channel, reason }]
            if channel == "gone" && reason == "This channel has been suspended. (msg_channel_suspended); not retrying"),
        "{ev:?}"
    );
    assert_eq!(s.join_status("gone"), Some(JoinStatus::Failed));
    // No retry, no chat there, and not re-joined after a reconnect: Twitch's answer was final.
    s.handle_timeout(t0 + 100 * S);
    assert_eq!(transmitted(&mut s), Vec::<String>::new());
    assert!(matches!(
        s.say("gone", "hello?"),
        Err(SendError::ChannelBlocked { channel, .. }) if channel == "gone"
    ));
    s.handle_disconnected(t0 + 101 * S);
    s.handle_connected(t0 + 102 * S);
    s.handle_frame(":tmi.twitch.tv 001 bot :Welcome", t0 + 102 * S);
    assert!(!transmitted(&mut s).contains(&"JOIN #gone".to_string()));
    // Unless asked again.
    s.join("#Gone").unwrap();
    assert_eq!(transmitted(&mut s), ["JOIN #gone"]);
    assert!(s.say("gone", "back").is_ok());
}

#[test]
fn suspension_during_a_retry_wait_ends_the_retries() {
    let t0 = Instant::now();
    let mut s = quiet_logged_in(&["gone"], t0);
    s.handle_timeout(t0 + 10 * S);
    events(&mut s);
    s.handle_frame(
        "@msg-id=msg_channel_suspended :tmi.twitch.tv NOTICE #gone :This channel has been suspended.",
        t0 + 11 * S,
    );
    assert!(
        join_failures(&events(&mut s))[0]
            .1
            .ends_with("not retrying")
    );
    s.handle_timeout(t0 + 20 * S);
    assert_eq!(transmitted(&mut s), Vec::<String>::new());
}

#[test]
fn banned_or_timed_out_stops_chat_to_that_channel_only() {
    let t0 = Instant::now();
    let mut s = quiet_logged_in(&["a", "b"], t0);
    s.handle_frame(
        ":bot!bot@bot.tmi.twitch.tv JOIN #a\r\n:bot!bot@bot.tmi.twitch.tv JOIN #b",
        t0,
    );
    events(&mut s);
    for i in 0..3 {
        s.say("a", &format!("a{i}")).unwrap();
    }
    s.say("b", "b0").unwrap();
    s.say("b", "b1").unwrap();
    assert_eq!(transmitted(&mut s), ["PRIVMSG #a :a0", "PRIVMSG #b :b0"]);
    s.handle_frame(
        "@msg-id=msg_banned :tmi.twitch.tv NOTICE #a :You are permanently banned from talking in a.",
        t0,
    );
    let ev = events(&mut s);
    assert!(
        matches!(&ev[..], [Event::ChatDropped { text, .. }, Event::Notice(n)] if text == "a0" && n.channel.as_deref() == Some("a") && n.msg_id.as_deref() == Some("msg_banned")),
        "{ev:?}"
    );
    assert_eq!(s.queued_messages(), 1, "a1, a2 dropped; b1 kept");
    assert_eq!(
        s.chat_blocked("#A"),
        Some("the bot is banned in this channel")
    );
    assert_eq!(
        s.say("a", "x"),
        Err(SendError::ChannelBlocked {
            channel: "a".into(),
            reason: "the bot is banned in this channel".into()
        })
    );
    s.handle_timeout(t0 + 100 * S);
    assert_eq!(transmitted(&mut s), ["PRIVMSG #b :b1"]);
    assert_eq!(
        s.joined_channels().count(),
        2,
        "a banned bot still reads the channel"
    );
    // Asking to join again lifts the stop (e.g. after an unban).
    s.join("a").unwrap();
    assert_eq!(s.chat_blocked("a"), None);
    s.say("a", "unbanned").unwrap();

    // A timeout: stopped for the stated time, then sending resumes by itself.
    let t1 = t0 + 200 * S;
    s.handle_frame(
        "@msg-id=msg_timedout :tmi.twitch.tv NOTICE #b :You are timed out for 10 more seconds.",
        t1,
    );
    assert!(matches!(
        s.say("b", "x"),
        Err(SendError::ChannelBlocked { .. })
    ));
    s.handle_timeout(t1 + 9 * S);
    assert!(s.say("b", "x").is_err());
    s.handle_timeout(t1 + 10 * S);
    assert_eq!(s.chat_blocked("b"), None);
    s.say("b", "after").unwrap();

    // The same learned from CLEARCHAT naming the bot; someone else's timeout changes nothing.
    let t2 = t0 + 300 * S;
    s.handle_frame("@ban-duration=5 :tmi.twitch.tv CLEARCHAT #b :someone", t2);
    assert_eq!(s.chat_blocked("b"), None);
    // A replayed backlog CLEARCHAT of the bot is old news, not a timeout now.
    s.handle_frame(
        "@ban-duration=5;historical=1 :tmi.twitch.tv CLEARCHAT #b :bot",
        t2,
    );
    assert_eq!(s.chat_blocked("b"), None);
    s.handle_frame("@ban-duration=5 :tmi.twitch.tv CLEARCHAT #b :bot", t2);
    assert_eq!(s.chat_blocked("b"), Some("the bot is timed out for 5 s"));
    s.handle_timeout(t2 + 5 * S);
    assert_eq!(s.chat_blocked("b"), None);
    s.handle_frame(":tmi.twitch.tv CLEARCHAT #b :bot", t2 + 5 * S);
    assert_eq!(
        s.chat_blocked("b"),
        Some("the bot is banned in this channel")
    );
    // Hostile durations do not overflow the clock: a ban for ever.
    s.handle_frame(
        "@ban-duration=18446744073709551615 :tmi.twitch.tv CLEARCHAT #a :bot",
        t2,
    );
    s.handle_frame(
        "@msg-id=msg_timedout :tmi.twitch.tv NOTICE #a :You are timed out for 18446744073709551615 more seconds.",
        t2,
    );
    assert!(s.chat_blocked("a").is_some());
    // Parting forgets the stop.
    s.part("b").unwrap();
    assert_eq!(s.chat_blocked("b"), None);
}

#[test]
fn other_chat_refusals_are_reported_and_sending_goes_on() {
    let t0 = Instant::now();
    for id in [
        "msg_duplicate",
        "msg_slowmode",
        "msg_followersonly",
        "msg_followersonly_zero",
        "msg_subsonly",
        "msg_emoteonly",
        "msg_timedout", // without a duration in the text: reported only
    ] {
        let mut s = logged_in(&["a"], t0);
        s.handle_frame(
            &format!("@msg-id={id} :tmi.twitch.tv NOTICE #a :Your message was not sent."),
            t0,
        );
        let ev = events(&mut s);
        assert!(
            matches!(&ev[..], [Event::Notice(n)] if n.channel.as_deref() == Some("a") && n.msg_id.as_deref() == Some(id)),
            "{id}: {ev:?}"
        );
        assert_eq!(s.chat_blocked("a"), None, "{id}");
        s.say("a", "still talking").unwrap();
        // Slow mode holds the channel for its interval (1 s unknown) + margin, then sending goes on.
        s.handle_timeout(t0 + 2 * S);
        assert_eq!(transmitted(&mut s), ["PRIVMSG #a :still talking"], "{id}");
    }
    // A verified-phone requirement does not go away by itself: stop sending there.
    let mut s = logged_in(&["a"], t0);
    s.handle_frame(
        "@msg-id=msg_requires_verified_phone_number :tmi.twitch.tv NOTICE #a :A verified phone number is required to chat in this channel.",
        t0,
    );
    assert!(matches!(&events(&mut s)[..], [Event::Notice(_)]));
    assert!(matches!(
        s.say("a", "x"),
        Err(SendError::ChannelBlocked { .. })
    ));
}

#[test]
fn part_sends_and_reports() {
    let t0 = Instant::now();
    let mut s = logged_in(&["a"], t0);
    s.handle_frame(":bot!bot@bot.tmi.twitch.tv JOIN #a", t0);
    events(&mut s);
    s.part("#A").unwrap();
    assert_eq!(transmitted(&mut s), ["PART #a"]);
    s.handle_frame(":bot!bot@bot.tmi.twitch.tv PART #a", t0);
    assert_eq!(
        events(&mut s),
        [Event::Parted {
            channel: "a".into()
        }]
    );
    assert_eq!(s.wanted_channels().count(), 0);
    s.part("never").unwrap();
    assert_eq!(
        events(&mut s),
        [Event::Parted {
            channel: "never".into()
        }]
    );
}

#[test]
fn chat_flows_through_the_limiter_with_moderator_rates_from_userstate() {
    let t0 = Instant::now();
    let mut s = logged_in(&["a"], t0);
    for i in 0..3 {
        s.say("a", &format!("m{i}")).unwrap();
    }
    assert_eq!(transmitted(&mut s), ["PRIVMSG #a :m0"]);
    let t1 = t0 + S + RateLimitConfig::default().margin;
    assert_eq!(s.poll_timeout(), Some(t1));
    s.handle_timeout(t1);
    assert_eq!(transmitted(&mut s), ["PRIVMSG #a :m1"]);
    // Now we learn we are a moderator: no per-channel gap.
    s.handle_frame(
        "@badges=moderator/1;mod=1 :tmi.twitch.tv USERSTATE #a",
        t0 + S,
    );
    s.say("a", "m3").unwrap();
    assert_eq!(transmitted(&mut s), ["PRIVMSG #a :m2", "PRIVMSG #a :m3"]);
    s.reply("a", "abc-1", "yes").unwrap();
    assert_eq!(
        transmitted(&mut s),
        ["@reply-parent-msg-id=abc-1 PRIVMSG #a :yes"]
    );
}

#[test]
fn slow_mode_from_roomstate_spaces_our_messages() {
    let t0 = Instant::now();
    let mut s = logged_in(&["a"], t0);
    s.handle_frame("@room-id=1;slow=5 :tmi.twitch.tv ROOMSTATE #a", t0);
    s.say("a", "1").unwrap();
    s.say("a", "2").unwrap();
    assert_eq!(transmitted(&mut s), ["PRIVMSG #a :1"]);
    let t1 = t0 + 5 * S + RateLimitConfig::default().margin;
    assert_eq!(s.poll_timeout(), Some(t1));
    s.handle_timeout(t1);
    assert_eq!(transmitted(&mut s), ["PRIVMSG #a :2"]);
}

#[test]
fn rate_limit_notice_pauses_output() {
    let t0 = Instant::now();
    let mut s = logged_in(&["a"], t0);
    s.handle_frame(
        "@msg-id=msg_ratelimit :tmi.twitch.tv NOTICE #a :Your message was not sent because you are sending messages too quickly.",
        t0,
    );
    assert!(
        matches!(&events(&mut s)[..], [Event::RateLimited { channel: Some(c), .. }] if c == "a")
    );
    s.say("a", "x").unwrap();
    assert_eq!(transmitted(&mut s), Vec::<String>::new());
    s.handle_timeout(t0 + 5 * S);
    assert_eq!(transmitted(&mut s), ["PRIVMSG #a :x"]);
}

#[test]
fn full_queue_is_an_error() {
    let t0 = Instant::now();
    let mut c = config(&["a"]);
    c.rate_limits.max_queue = 2;
    let mut s = Session::new(c);
    s.handle_connected(t0);
    s.say("a", "1").unwrap();
    s.say("a", "2").unwrap();
    assert_eq!(s.say("a", "3"), Err(SendError::QueueFull { capacity: 2 }));
    assert_eq!(s.queued_messages(), 2);
}

#[test]
fn events_for_every_kind_and_bad_lines() {
    let t0 = Instant::now();
    let mut s = logged_in(&["a"], t0);
    s.handle_frame(
        "@id=1;user-id=2 :u!u@u PRIVMSG #a :hello\r\n\
         @ban-duration=5 :tmi.twitch.tv CLEARCHAT #a :u\r\n\
         @target-msg-id=1 :tmi.twitch.tv CLEARMSG #a :hello\r\n\
         @msg-id=msg_duplicate :tmi.twitch.tv NOTICE #a :dup\r\n\
         @msg-id=raid :tmi.twitch.tv USERNOTICE #a\r\n\
         :u!u@u PRIVMSG #a\r\n\
         :tmi.twitch.tv HOSTTARGET #a :- 0",
        t0,
    );
    let ev = events(&mut s);
    assert!(matches!(&ev[0], Event::Chat(m) if m.text == "hello"));
    assert!(matches!(&ev[1], Event::ClearChat(c) if c.ban_duration_secs == Some(5)));
    assert!(matches!(&ev[2], Event::ClearMsg(c) if c.target_message_id == "1"));
    assert!(matches!(&ev[3], Event::Notice(n) if n.msg_id.as_deref() == Some("msg_duplicate")));
    assert!(matches!(
        &ev[4],
        Event::Message(ServerMessage::Usernotice(_))
    ));
    assert!(matches!(&ev[5], Event::InvalidLine { .. }));
    assert!(matches!(&ev[6], Event::Message(ServerMessage::Unknown(m)) if m.verb == "HOSTTARGET"));
    assert_eq!(ev.len(), 7);
}
