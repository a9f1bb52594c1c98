//! The parser against independent fixtures: the ircdocs `msg-split` suite (grammar layer) and a corpus
//! of real Twitch lines (typed layer), plus random batching of corpus lines into one frame.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::Value;
use twitch_bot::irc::{CapKind, FollowersOnly, RawLine, ServerMessage, parse_line, split_frame};

const MSG_SPLIT: &str = include_str!("data/msg-split.json");
const CORPUS: &str = include_str!("data/corpus.txt");

fn corpus() -> Vec<&'static str> {
    CORPUS.lines().collect()
}

/// Line `n` of the corpus, 1-based as in an editor.
fn line(n: usize) -> ServerMessage {
    let raw = corpus()[n - 1];
    parse_line(raw).unwrap_or_else(|e| panic!("corpus line {n} failed: {e}\n{raw}"))
}

#[test]
fn every_msg_split_case_passes() {
    let suite: Value = serde_json::from_str(MSG_SPLIT).unwrap();
    let cases = suite["tests"].as_array().unwrap();
    assert_eq!(cases.len(), 35);
    for case in cases {
        let input = case["input"].as_str().unwrap();
        let atoms = &case["atoms"];
        let line = RawLine::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        let want_tags: BTreeMap<String, String> = atoms["tags"]
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(line.tags.to_map(), want_tags, "tags of {input:?}");
        assert_eq!(line.source, atoms["source"].as_str(), "source of {input:?}");
        assert!(
            line.verb
                .eq_ignore_ascii_case(atoms["verb"].as_str().unwrap()),
            "verb of {input:?}: {}",
            line.verb
        );
        let want_params: Vec<&str> = atoms["params"]
            .as_array()
            .map(|a| a.iter().map(|p| p.as_str().unwrap()).collect())
            .unwrap_or_default();
        assert_eq!(line.params, want_params, "params of {input:?}");
    }
}

/// The kind every corpus line must parse into (1-based line numbers, ranges inclusive).
const EXPECTED: &[(usize, usize, &str)] = &[
    (1, 1, "CAP"),
    (2, 8, "numeric"),
    (9, 9, "JOIN"),
    (10, 11, "numeric"),
    (12, 12, "MODE"),
    (13, 13, "CAP"),
    (14, 14, "GLOBALUSERSTATE"),
    (15, 15, "USERSTATE"),
    (16, 16, "ROOMSTATE"),
    (17, 18, "GLOBALUSERSTATE"),
    (19, 20, "USERSTATE"),
    (21, 23, "ROOMSTATE"),
    (24, 34, "PRIVMSG"),
    (35, 48, "USERNOTICE"),
    (49, 51, "NOTICE"),
    (52, 54, "CLEARCHAT"),
    (55, 56, "CLEARMSG"),
    (57, 57, "RECONNECT"),
    (58, 59, "PING"),
    (60, 60, "PONG"),
    (61, 61, "WHISPER"),
    (62, 62, "JOIN"),
    (63, 63, "PART"),
    (64, 64, "numeric"),
];

#[test]
fn every_corpus_line_parses_into_the_expected_kind() {
    let lines = corpus();
    assert_eq!(lines.len(), 64);
    let mut checked = 0;
    for &(first, last, kind) in EXPECTED {
        for n in first..=last {
            assert_eq!(line(n).kind(), kind, "corpus line {n}: {}", lines[n - 1]);
            checked += 1;
        }
    }
    assert_eq!(checked, lines.len(), "the table covers every line");
}

macro_rules! expect {
    ($n:expr, $variant:ident) => {
        match line($n) {
            ServerMessage::$variant(m) => m,
            other => panic!("corpus line {} is {other:?}", $n),
        }
    };
}

#[test]
fn handshake_and_numerics() {
    let cap = expect!(1, Cap);
    assert_eq!(cap.kind, CapKind::Ack);
    assert_eq!(cap.capabilities, ["twitch.tv/tags", "twitch.tv/commands"]);
    let welcome = expect!(2, Numeric);
    assert_eq!(welcome.code, 1);
    assert_eq!(welcome.params, ["justinfan216548", "Welcome, GLHF!"]);
    let names = expect!(10, Numeric);
    assert_eq!(names.code, 353);
    assert_eq!(
        names.params,
        ["justinfan216548", "=", "#mushisgosu", "justinfan216548"]
    );
    assert_eq!(expect!(11, Numeric).code, 366);
    let unknown = expect!(64, Numeric);
    assert_eq!((unknown.code, unknown.params[1].as_str()), (421, "WHO"));
    let join = expect!(9, Join);
    assert_eq!(
        (join.channel.as_str(), join.login.as_str()),
        ("mushisgosu", "justinfan216548")
    );
    let ServerMessage::Unknown(mode) = line(12) else {
        panic!()
    };
    assert_eq!(mode.raw, ":jtv MODE #mushisgosu +o mushisgosu");
    assert_eq!(mode.params, ["#mushisgosu", "+o", "mushisgosu"]);
}

#[test]
fn user_and_room_state() {
    let g = expect!(14, GlobalUserState);
    assert_eq!(g.user_id.as_deref(), Some("713936733"));
    assert_eq!(g.display_name.as_deref(), Some("barbar"));
    assert_eq!(g.emote_sets, ["0", "300374282"]);
    let g = expect!(18, GlobalUserState);
    assert_eq!(
        (g.badges[0].name.as_str(), g.color.as_deref()),
        ("premium", None)
    );
    assert!(g.emote_sets.is_empty());
    let u = expect!(19, UserState);
    assert!(!u.is_privileged());
    let u = expect!(20, UserState);
    assert_eq!(u.channel, "randers");
    assert!(u.is_moderator && u.is_privileged());
    assert_eq!(u.emote_sets[1], "75c09c7b-332a-43ec-8be8-1d4571706155");
    let r = expect!(16, RoomState);
    assert_eq!(r.channel, "barbar");
    assert_eq!(r.followers_only, Some(FollowersOnly::Disabled));
    assert_eq!(r.slow_mode_secs, Some(10));
    assert_eq!(
        (r.emote_only, r.r9k, r.subscribers_only),
        (Some(false), Some(false), Some(false))
    );
    let r = expect!(22, RoomState);
    assert_eq!(
        (r.slow_mode_secs, r.emote_only, r.followers_only),
        (Some(5), None, None)
    );
    let r = expect!(23, RoomState);
    assert_eq!((r.emote_only, r.slow_mode_secs), (Some(true), None));
    assert_eq!(r.room_id.as_deref(), Some("40286300"));
}

#[test]
fn privmsg_fields() {
    let m = expect!(24, Privmsg);
    assert_eq!(
        (
            m.channel.as_str(),
            m.login.as_str(),
            m.display_name.as_str()
        ),
        ("pajlada", "jun1orrrr", "JuN1oRRRR")
    );
    assert_eq!(m.text, "dank cam");
    assert_eq!(m.user_id.as_deref(), Some("29803735"));
    assert_eq!(
        m.message_id.as_deref(),
        Some("e9d998c3-36f1-430f-89ec-6b887c28af36")
    );
    assert_eq!(m.server_timestamp_ms, Some(1594545155039));
    assert_eq!(m.color.as_deref(), Some("#0000FF"));
    assert!(!m.is_action && !m.is_moderator && !m.is_subscriber && !m.first_message);

    let m = expect!(25, Privmsg);
    assert_eq!((m.text.as_str(), m.is_action), ("-tags", true));
    assert!(m.is_moderator && m.is_subscriber);
    assert_eq!(m.badge_info[0].version, "22");
    assert_eq!(m.badges.len(), 2);

    let m = expect!(26, Privmsg);
    let parent = m.reply_parent.expect("reply");
    assert_eq!(parent.message_id, "6b13e51b-7ecb-43b5-ba5b-2bb5288df696");
    assert_eq!(parent.user_id.as_deref(), Some("37940952"));
    assert_eq!(parent.login.as_deref(), Some("retoon"));
    assert_eq!(parent.display_name.as_deref(), Some("Retoon"));
    assert_eq!(parent.body.as_deref(), Some("hello"));
    assert_eq!(m.color, None, "empty color is None");

    assert_eq!(expect!(27, Privmsg).display_name, "Riot Games");
    let m = expect!(28, Privmsg);
    assert_eq!(m.display_name, "CarvedTaleare");
    assert_eq!(m.text, "NaM");
    let m = expect!(29, Privmsg);
    assert_eq!(m.display_name, "테스트계정420");
    assert_eq!(m.badges[1].version, "3024");

    let m = expect!(30, Privmsg);
    let emotes: Vec<_> = m
        .emotes
        .iter()
        .map(|e| (e.id.as_str(), e.start, e.end, e.code.as_str()))
        .collect();
    assert_eq!(emotes[0], ("25", 0, 5, "Kappa"));
    assert_eq!(emotes[1], ("1902", 6, 11, "Keepo"));
    assert_eq!(emotes[8], ("490", 51, 53, ":P"));
    assert_eq!(emotes.len(), 9);

    let m = expect!(31, Privmsg);
    assert_eq!(m.emotes[0].id, "300196486_TK");
    assert_eq!(m.emotes[0].code, "pajaM_TK");

    let m = expect!(32, Privmsg);
    let codes: Vec<_> = m
        .emotes
        .iter()
        .map(|e| (e.start, e.code.as_str()))
        .collect();
    assert_eq!(
        codes,
        [(2, "<3"), (7, "<3"), (12, "<3")],
        "code points, not bytes"
    );

    let m = expect!(33, Privmsg);
    assert_eq!(
        (
            m.emotes[0].start,
            m.emotes[0].end,
            m.emotes[0].code.as_str()
        ),
        (41, 44, "ppa"),
        "clamped"
    );

    let m = expect!(34, Privmsg);
    assert_eq!(m.bits, Some(1));
    assert_eq!(m.badges[0].name, "bits");
}

#[test]
fn usernotice_fields() {
    let n = expect!(35, Usernotice);
    assert_eq!((n.channel.as_str(), n.msg_id.as_str()), ("xqcow", "sub"));
    assert_eq!(n.param("sub-plan"), Some("Prime"));
    assert_eq!(
        n.param("sub-plan-name"),
        Some("Channel Subscription (xqcow)")
    );
    assert_eq!(
        n.system_message.as_deref(),
        Some("fallenseraphhh subscribed with Twitch Prime.")
    );
    assert_eq!(n.text, None);

    let n = expect!(36, Usernotice);
    assert_eq!(n.param("streak-months"), Some("2"));
    assert_eq!(n.text.as_deref(), Some("xqcL"));
    assert_eq!(n.emotes[0].code, "xqcL");

    let n = expect!(37, Usernotice);
    assert_eq!(
        (n.text.as_deref(), n.is_action),
        (Some("Kappa TEST TEST Kappa :)"), true)
    );
    let emotes: Vec<_> = n
        .emotes
        .iter()
        .map(|e| (e.start, e.code.as_str()))
        .collect();
    assert_eq!(
        emotes,
        [(0, "Kappa"), (16, "Kappa"), (22, ":)")],
        "indices shifted past ACTION"
    );
    assert_eq!(
        n.param("sub-plan-name"),
        Some("look at those shitty emotes, rip $5 LUL")
    );

    let n = expect!(38, Usernotice);
    assert_eq!(n.param("recipient-user-name"), Some("qatarking24xd"));
    assert_eq!(
        n.param("origin-id"),
        Some("da 39 a3 ee 5e 6b 4b 0d 32 55 bf ef 95 60 18 90 af d8 07 09")
    );
    let n = expect!(39, Usernotice);
    assert_eq!(
        n.system_message.as_deref(),
        Some("An anonymous user gifted a Tier 1 sub to Dot0422! ")
    );
    assert_eq!(
        n.param("sender-count"),
        None,
        "optional params stay optional"
    );
    assert_eq!(expect!(41, Usernotice).param("mass-gift-count"), Some("20"));
    assert_eq!(
        expect!(43, Usernotice).param("sender-login"),
        Some("stridezgum")
    );
    let n = expect!(45, Usernotice);
    assert_eq!(
        (n.msg_id.as_str(), n.param("ritual-name")),
        ("ritual", Some("new_chatter"))
    );
    assert_eq!(n.emotes[0].code, "HeyGuys");
    let n = expect!(48, Usernotice);
    assert_eq!(
        (n.msg_id.as_str(), n.param("color")),
        ("announcement", Some("PRIMARY"))
    );
    assert_eq!(n.system_message.as_deref(), Some(""));
    assert!(n.is_moderator);
    let codes: Vec<_> = n.emotes.iter().map(|e| e.code.as_str()).collect();
    assert_eq!(codes, ["pajaH", "Kappa", "Keepo"]);
}

#[test]
fn moderation_notices_and_keepalive() {
    let n = expect!(49, Notice);
    assert_eq!(
        (n.channel.as_deref(), n.msg_id.as_deref()),
        (Some("forsen"), Some("msg_banned"))
    );
    assert!(expect!(50, Notice).is_auth_failure());
    assert!(expect!(51, Notice).is_auth_failure());
    assert!(!expect!(49, Notice).is_auth_failure());

    let c = expect!(52, ClearChat);
    assert_eq!(
        (c.target_login.as_deref(), c.ban_duration_secs),
        (Some("fabzeef"), Some(1))
    );
    assert_eq!(c.target_user_id.as_deref(), Some("148973258"));
    assert!(c.is_timeout());
    assert!(expect!(53, ClearChat).is_permanent_ban());
    let c = expect!(54, ClearChat);
    assert!(c.is_chat_cleared());
    assert_eq!(c.server_timestamp_ms, Some(1594561392337));

    let m = expect!(55, ClearMsg);
    assert_eq!(m.target_message_id, "3c92014f-340a-4dc3-a9c9-e5cf182f4a84");
    assert_eq!(
        (m.login.as_deref(), m.channel.as_str()),
        (Some("alazymeme"), "pajlada")
    );
    assert_eq!(m.text, "NIGHT CUNT");
    assert_eq!(expect!(56, ClearMsg).text, "\u{1}ACTION test\u{1}");

    assert_eq!(line(57), ServerMessage::Reconnect);
    assert_eq!(expect!(58, Ping).pong(), "PONG");
    let p = expect!(59, Ping);
    assert_eq!(p.params, ["test", "abc def"]);
    assert_eq!(p.pong(), "PONG test :abc def");
    assert_eq!(expect!(60, Pong).argument(), Some("test"));

    let w = expect!(61, Whisper);
    assert_eq!(
        (w.login.as_str(), w.recipient.as_str()),
        ("randers", "randers811")
    );
    assert_eq!(w.text, "hello, this is a test Kappa");
    assert_eq!(w.thread_id.as_deref(), Some("40286300_553170741"));
    assert_eq!(w.emotes[0].code, "Kappa");
    let p = expect!(63, Part);
    assert_eq!(
        (p.channel.as_str(), p.login.as_str()),
        ("pajlada", "randers811")
    );
}

proptest! {
    /// Any batch of corpus lines, joined by CRLF or LF in one frame, parses to the same messages as
    /// the lines parsed one by one.
    #[test]
    fn batched_frames_parse_like_single_lines(
        picks in proptest::collection::vec(0usize..64, 1..20),
        crlf in proptest::collection::vec(any::<bool>(), 20),
        trailing in any::<bool>(),
    ) {
        let lines = corpus();
        let mut frame = String::new();
        for (i, &p) in picks.iter().enumerate() {
            if i > 0 {
                frame.push_str(if crlf[i] { "\r\n" } else { "\n" });
            }
            frame.push_str(lines[p]);
        }
        if trailing {
            frame.push_str("\r\n");
        }
        let from_frame: Vec<_> = split_frame(&frame).map(parse_line).collect();
        let one_by_one: Vec<_> = picks.iter().map(|&p| parse_line(lines[p])).collect();
        prop_assert_eq!(from_frame, one_by_one);
    }

    /// Arbitrary text never panics the parser (the fuzz targets go further).
    #[test]
    fn arbitrary_lines_never_panic(line in "\\PC{0,200}") {
        let _ = parse_line(&line);
    }

    /// Corpus lines with random bytes flipped still never panic.
    #[test]
    fn mutated_corpus_lines_never_panic(n in 0usize..64, cut in 0usize..400, junk in "[ :;=@!\\\\/,\\-0-9\u{1}]{0,5}") {
        let raw = corpus()[n];
        let mut cut = cut.min(raw.len());
        while !raw.is_char_boundary(cut) {
            cut -= 1;
        }
        let mutated = format!("{}{}{}", &raw[..cut], junk, &raw[cut..]);
        let _ = parse_line(&mutated);
    }
}
