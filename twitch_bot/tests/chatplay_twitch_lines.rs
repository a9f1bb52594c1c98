//! The vote engine fed with raw Twitch IRC lines, parsed by an independent parser (the
//! `twitch-irc` crate), not by our own: the engine's rules hold on what Twitch really sends
//! (tag layout, `\x01ACTION` wrapping, CLEARCHAT/CLEARMSG forms). Line shapes follow real lines
//! from Twitch (ids, tags and ordering as captured in the `twitch-irc` and shared corpora).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use twitch_bot::chatplay::{Engine, EngineConfig, Event, Mode, VoteConfig, VoteResult};
use twitch_bot::irc::{Badge, ClearChat, ClearMsg, Privmsg};
use twitch_irc::message::{ClearChatAction, IRCMessage, ServerMessage};

/// What one raw line becomes for the engine.
enum Input {
    Chat(Box<Privmsg>),
    ClearChat(ClearChat),
    ClearMsg(ClearMsg),
    Other,
}

fn parse(line: &str) -> Input {
    let irc =
        IRCMessage::parse(line).unwrap_or_else(|e| panic!("twitch-irc rejects {line:?}: {e}"));
    match ServerMessage::try_from(irc).expect("a server message") {
        ServerMessage::Privmsg(m) => {
            let badges: Vec<Badge> = m
                .badges
                .iter()
                .map(|b| Badge {
                    name: b.name.clone(),
                    version: b.version.clone(),
                })
                .collect();
            let has = |name: &str| badges.iter().any(|b| b.name == name);
            let tag = |name: &str| m.source.tags.0.get(name).map(String::as_str) == Some("1");
            let mod_tag = tag("mod");
            Input::Chat(Box::new(Privmsg {
                channel: m.channel_login.clone(),
                login: m.sender.login.clone(),
                user_id: Some(m.sender.id.clone()),
                display_name: m.sender.name.clone(),
                text: m.message_text.clone(),
                is_action: m.is_action,
                is_moderator: mod_tag || has("moderator"),
                is_subscriber: has("subscriber") || has("founder"),
                is_vip: has("vip"),
                is_broadcaster: has("broadcaster"),
                badges,
                badge_info: vec![],
                color: None,
                emotes: vec![],
                bits: m.bits,
                message_id: Some(m.message_id.clone()),
                server_timestamp_ms: None,
                reply_parent: None,
                first_message: false,
                historical: tag("historical"),
            }))
        }
        ServerMessage::ClearChat(c) => {
            let (target_login, target_user_id) = match c.action {
                ClearChatAction::ChatCleared => (None, None),
                ClearChatAction::UserBanned {
                    user_login,
                    user_id,
                }
                | ClearChatAction::UserTimedOut {
                    user_login,
                    user_id,
                    ..
                } => (Some(user_login), Some(user_id)),
            };
            Input::ClearChat(ClearChat {
                channel: c.channel_login,
                target_login,
                target_user_id,
                ban_duration_secs: None,
                server_timestamp_ms: None,
                historical: c.source.tags.0.get("historical").map(String::as_str) == Some("1"),
            })
        }
        ServerMessage::ClearMsg(c) => Input::ClearMsg(ClearMsg {
            channel: c.channel_login,
            login: Some(c.sender_login),
            target_message_id: c.message_id,
            text: c.message_text,
            server_timestamp_ms: None,
            historical: c.source.tags.0.get("historical").map(String::as_str) == Some("1"),
        }),
        _ => Input::Other,
    }
}

fn privmsg(login: &str, user_id: &str, msg_id: &str, text: &str) -> String {
    format!(
        "@badge-info=;badges=;color=#0000FF;display-name={login};emotes=;flags=;id={msg_id};mod=0;\
         room-id=11148817;subscriber=0;tmi-sent-ts=1594545155039;turbo=0;user-id={user_id};user-type= \
         :{login}!{login}@{login}.tmi.twitch.tv PRIVMSG #pajlada :{text}"
    )
}

fn feed(engine: &mut Engine, lines: &[String], now: Instant) {
    for line in lines {
        match parse(line) {
            Input::Chat(m) => engine.handle_chat(&(&*m).into(), now),
            Input::ClearChat(c) => match c.moderation() {
                Some(action) => engine.handle_moderation(&action, now),
                None => engine.handle_timeout(now),
            },
            Input::ClearMsg(c) => match c.moderation() {
                Some(action) => engine.handle_moderation(&action, now),
                None => engine.handle_timeout(now),
            },
            Input::Other => engine.handle_timeout(now),
        }
    }
}

fn tally(r: &VoteResult) -> BTreeMap<String, u64> {
    r.tally
        .iter()
        .map(|e| (e.choice.label(), e.count))
        .collect()
}

fn engine(mode: Mode) -> Engine {
    let mut vote = VoteConfig::new("move", ["up", "down", "left", "right"]);
    vote.max_repeat = 9;
    vote.mode = mode;
    let mut config = EngineConfig::new("barbar");
    config.votes.push(vote);
    config.seed = Some(1);
    Engine::new(config).unwrap()
}

fn uuid(n: u32) -> String {
    format!("e9d998c3-36f1-430f-89ec-{n:012x}")
}

#[test]
fn a_democracy_round_from_real_twitch_lines() {
    let t0 = Instant::now();
    let mut e = engine(Mode::Democracy);
    e.start(t0);
    let mut lines = vec![
        // real lines that are not ballots
        ":tmi.twitch.tv 001 justinfan216548 :Welcome, GLHF!".to_owned(),
        "@badge-info=subscriber/22;badges=moderator/1,subscriber/12;color=#19E6E6;display-name=randers;emotes=;flags=;id=d831d848-b7c7-4559-ae3a-2cb88f4dbfed;mod=1;room-id=11148817;subscriber=1;tmi-sent-ts=1594555275886;turbo=0;user-id=40286300;user-type=mod :randers!randers@randers.tmi.twitch.tv PRIVMSG #pajlada :\x01ACTION -tags\x01".to_owned(),
        "@badge-info=;badges=;color=#0000FF;display-name=JuN1oRRRR;emotes=;flags=;id=e9d998c3-36f1-430f-89ec-6b887c28af36;mod=0;room-id=11148817;subscriber=0;tmi-sent-ts=1594545155039;turbo=0;user-id=29803735;user-type= :jun1orrrr!jun1orrrr@jun1orrrr.tmi.twitch.tv PRIVMSG #pajlada :dank cam".to_owned(),
    ];
    lines.extend([
        privmsg("ann", "1001", &uuid(1), "up"),
        privmsg("bob", "1002", &uuid(2), "UP2 \u{E0000}"),
        privmsg("cat", "1003", &uuid(3), "\x01ACTION !vote up2\x01"),
        privmsg("dan", "1004", &uuid(4), "+left"),
        privmsg("eve", "1005", &uuid(5), "up down"),
        privmsg("fay", "1006", &uuid(6), "down"),
        privmsg("fay", "1006", &uuid(7), "left"), // fay changes her mind
        privmsg("barbar", "713936733", &uuid(8), "right"), // the bot itself
        // the moderator times out bob and deletes dan's ballot message
        "@ban-duration=600;room-id=11148817;target-user-id=1002;tmi-sent-ts=1594553828245 :tmi.twitch.tv CLEARCHAT #pajlada :bob".to_owned(),
        format!("@login=dan;room-id=;target-msg-id={};tmi-sent-ts=1594561955611 :tmi.twitch.tv CLEARMSG #pajlada :+left", uuid(4)),
        // deleting fay's OLD message leaves her current ballot
        format!("@login=fay;room-id=;target-msg-id={};tmi-sent-ts=1594561955611 :tmi.twitch.tv CLEARMSG #pajlada :down", uuid(6)),
        // a whole-chat clear removes no ballot
        "@room-id=11148817;tmi-sent-ts=1594561392337 :tmi.twitch.tv CLEARCHAT #pajlada".to_owned(),
    ]);
    feed(&mut e, &lines, t0 + Duration::from_secs(1));
    // a reconnect replays the chat lines (a timed-out user's and a deleted ballot included):
    // nothing changes
    let chat: Vec<String> = lines
        .iter()
        .filter(|l| l.contains(" PRIVMSG "))
        .cloned()
        .collect();
    feed(&mut e, &chat, t0 + Duration::from_secs(2));

    e.handle_timeout(t0 + Duration::from_secs(20));
    let events: Vec<Event> = std::iter::from_fn(|| e.poll_event()).collect();
    let result = events
        .iter()
        .find_map(|ev| match ev {
            Event::VoteClosed(r) => Some(r),
            _ => None,
        })
        .expect("round 1 closed");
    let expected: BTreeMap<String, u64> = [
        ("up".to_owned(), 1),
        ("up2".to_owned(), 1),
        ("left".to_owned(), 1),
    ]
    .into();
    assert_eq!(tally(result), expected);
    assert_eq!(result.voters, 3);
    assert_eq!(
        result.winner.as_ref().unwrap().label(),
        "up",
        "tie: listed first"
    );
}

#[test]
fn anarchy_inputs_from_real_twitch_lines() {
    let t0 = Instant::now();
    let mut e = engine(Mode::Anarchy);
    e.start(t0);
    while e.poll_event().is_some() {}
    let lines = [
        privmsg("ann", "1001", &uuid(1), "up3"),
        privmsg("bob", "1002", &uuid(2), "!right"),
        privmsg("bob", "1002", &uuid(2), "!right"), // the same line twice
    ];
    let lines: Vec<String> = lines.to_vec();
    feed(&mut e, &lines, t0);
    let inputs: Vec<(String, u8, String, Option<String>)> = std::iter::from_fn(|| e.poll_event())
        .filter_map(|ev| match ev {
            Event::Input(i) => Some((i.choice.option, i.choice.repeat, i.user, i.user_id)),
            _ => None,
        })
        .collect();
    assert_eq!(
        inputs,
        [
            (
                "up".to_owned(),
                3,
                "ann".to_owned(),
                Some("1001".to_owned())
            ),
            (
                "right".to_owned(),
                1,
                "bob".to_owned(),
                Some("1002".to_owned())
            ),
        ]
    );
}

/// A backlog line as replayed by a recent-messages service: the original tags plus
/// `historical=1` and `rm-received-ts`.
fn historical(line: &str) -> String {
    line.replacen('@', "@historical=1;rm-received-ts=1594545160000;", 1)
}

#[test]
fn historical_backlog_lines_count_for_nothing() {
    let t0 = Instant::now();
    for mode in [Mode::Democracy, Mode::Anarchy] {
        let mut e = engine(mode);
        e.start(t0);
        while e.poll_event().is_some() {}
        let backlog = [
            historical(&privmsg("ann", "1001", &uuid(1), "up")),
            historical(&privmsg("bob", "1002", &uuid(2), "!vote down")),
            historical(
                &privmsg("mod", "1003", &uuid(3), "!vote stop move").replace("mod=0", "mod=1"),
            ),
        ];
        // both parsers see the flag
        for line in &backlog {
            let Input::Chat(m) = parse(line) else {
                panic!("a PRIVMSG")
            };
            assert!(m.historical, "{line}");
            let Ok(twitch_bot::irc::ServerMessage::Privmsg(ours)) =
                twitch_bot::irc::parse_line(line)
            else {
                panic!("our parser: a PRIVMSG")
            };
            assert!(ours.historical, "{line}");
        }
        feed(&mut e, &backlog, t0 + Duration::from_secs(1));
        // live chat after the backlog counts as usual
        feed(
            &mut e,
            &[privmsg("cat", "1004", &uuid(4), "left")],
            t0 + Duration::from_secs(2),
        );
        e.handle_timeout(t0 + Duration::from_secs(20));
        let events: Vec<Event> = std::iter::from_fn(|| e.poll_event()).collect();
        let inputs: Vec<String> = events
            .iter()
            .filter_map(|ev| match ev {
                Event::Input(i) => Some(i.user.clone()),
                _ => None,
            })
            .collect();
        let result = events
            .iter()
            .find_map(|ev| match ev {
                Event::VoteClosed(r) => Some(r),
                _ => None,
            })
            .expect("round 1 closed at its deadline: the backlog's !vote stop was not obeyed");
        assert_eq!(result.round, 1);
        assert_eq!(result.voters, 1, "{mode:?}: only the live ballot");
        assert_eq!(
            tally(result),
            BTreeMap::from([("left".to_owned(), 1)]),
            "{mode:?}"
        );
        if mode == Mode::Anarchy {
            assert_eq!(inputs, ["cat"], "no anarchy input from the backlog");
        }
    }
}
