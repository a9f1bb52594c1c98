//! End-to-end tests: the real `twitch_bot` binary, configured to talk to the mock Twitch server,
//! asserted on through its JSON events (stdout), what the mock saw it send, and its exit code.
//!
//! The contract under test is issue 5 (config keys, events, stdin ops, exit codes). Rounds are
//! short or closed from stdin; the timeouts are failure guards only.

use std::time::Duration;

use e2e::bot::{BotConfig, BotProcess, CommandSpec, Launch, VoteSpec};
use e2e::mock_twitch::{Chat, ClientEvent, MockOptions, MockTwitch, irc_command, irc_params};
use serde_json::{Value, json};

/// Failure guard for anything that should happen promptly.
const T: Duration = Duration::from_secs(15);
/// Failure guard for a reconnect (the first backoff step is about 1 s, plus jitter).
const RECONNECT: Duration = Duration::from_secs(30);

const CHANNEL: &str = "playroom";
const NICK: &str = "e2e_bot";
const TOKEN_ENV: &str = "E2E_TWITCH_TOKEN";
const TOKEN: &str = "oauth:e2egoodtoken123";
const OPTIONS: [&str; 8] = ["up", "down", "left", "right", "a", "b", "start", "select"];

/// Starts a mock, then the bot with `cfg` pointed at it, and waits for `joined`.
async fn start(
    opts: MockOptions,
    cfg: impl FnOnce(BotConfig) -> BotConfig,
) -> (MockTwitch, BotProcess) {
    let server = MockTwitch::start(opts).await.expect("mock server");
    let mut base = BotConfig::new(&server.url(), &[CHANNEL]).login(NICK, TOKEN_ENV);
    if let Some(ca) = server.ca_file() {
        base = base.ca_file(ca);
    }
    let config = cfg(base);
    let mut bot = BotProcess::start(&config, &[(TOKEN_ENV, TOKEN)])
        .await
        .expect("spawn bot");
    bot.wait_type("joined", T, |e| e["channel"] == CHANNEL)
        .await
        .expect("the bot joins its channel");
    server
        .wait_for_join(CHANNEL, 0, T)
        .await
        .expect("the mock saw the JOIN");
    (server, bot)
}

/// [`start`] with the default mock and one vote.
async fn start_with_vote(vote: VoteSpec) -> (MockTwitch, BotProcess) {
    start(MockOptions::default(), |c| c.vote(vote)).await
}

/// [`assert_clean`], and the bot never broke Twitch's chat limits.
fn assert_clean_with(server: &MockTwitch, bot: &BotProcess) {
    assert_eq!(
        server.rate_limit_violations(),
        0,
        "the bot broke Twitch's chat rate limits"
    );
    assert_clean(bot);
}

/// Every stdout line was a JSON object, and the token never leaked to stdout or stderr.
fn assert_clean(bot: &BotProcess) {
    for e in bot.events() {
        assert_ne!(
            e["type"], "__not_json__",
            "stdout carried a non-JSON line: {e}"
        );
        assert!(
            !e.to_string().contains("e2egoodtoken123"),
            "the token leaked to stdout: {e}"
        );
    }
    assert!(
        !bot.stderr().contains("e2egoodtoken123"),
        "the token leaked to stderr:\n{}",
        bot.stderr()
    );
}

async fn op(bot: &mut BotProcess, v: Value) {
    bot.send_op(&v).await.expect("write to the bot's stdin");
}

/// Sends PING :token and waits for the bot's PONG carrying it: everything the mock sent before
/// the PING has been read and handled by the bot's session by then.
async fn sync(server: &MockTwitch, token: &str) {
    let mark = server.mark();
    assert!(server.ping(token).await > 0, "no open connection to PING");
    server
        .wait_for_line_since(mark, T, |l| {
            irc_command(l) == "PONG" && irc_params(l).last() == Some(&token)
        })
        .await
        .expect("the bot answers PING with PONG");
}

/// A chat line from `user` (user id `uid`) in the bot's channel, on every open connection.
async fn chat(server: &MockTwitch, user: &str, uid: &str, text: &str) {
    server
        .send_chat(CHANNEL, user, uid, text)
        .await
        .expect("the mock sends chat");
}

/// Opens a round of the vote `move` through stdin and waits for its `vote_opened` event.
async fn open_round(bot: &mut BotProcess) -> Value {
    op(bot, json!({"op": "start_vote", "vote": "move"})).await;
    bot.wait_type("vote_opened", T, |_| true)
        .await
        .expect("vote_opened after start_vote")
}

fn tally(v: &Value) -> &Value {
    &v["tally"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn democracy_round_with_tricky_ballots() {
    let (server, mut bot) = start_with_vote(VoteSpec {
        window_secs: 2.0,
        announce: true,
        ..VoteSpec::democracy("move", &OPTIONS)
    })
    .await;
    op(&mut bot, json!({"op": "start_vote", "vote": "move"})).await;
    let opened = bot
        .wait_type("vote_opened", T, |e| e["vote"] == "move")
        .await
        .unwrap();
    assert_eq!(opened["round"], 1);
    assert_eq!(opened["options"], json!(OPTIONS));
    assert_eq!(opened["window_ms"], 2000);

    let c = |user: &str, uid: &str, text: &str| Chat::new(CHANNEL, user, uid, text);
    let frank_left = c("frank", "106", "left");
    let frank_left_id = "f0000000-0000-4000-8000-000000000106";
    let grace_id = "a0000000-0000-4000-8000-000000000107";
    let heidi_id = "b0000000-0000-4000-8000-000000000108";
    server
        .send_chats(vec![
            c("alice", "101", "UP"),                   // wrong case -> up
            c("bob", "102", "+down"),                  // `+` prefix -> down
            c("carol", "103", "!vote left"),           // `!vote x` -> left
            c("dave", "104", " up \u{E0000}\u{200B}"), // invisible padding -> up
            c("erin", "105", "down"),                  // changes her vote below
            frank_left.clone().id(frank_left_id),      // replayed below after a change
            c("grace", "107", "a").id(grace_id),       // timed out below
            c("heidi", "108", "b").id(heidi_id),       // message deleted below
            c(NICK, "900001", "select"),               // the bot's own message
            c("ivan", "109", "hello everyone"),        // not a ballot
            c("ivan", "109", "upup"),                  // not a ballot
            c("ivan", "109", "sideways"),              // not an option
            c("judy", "110", "Start"),                 // -> start
        ])
        .await
        .unwrap();
    server
        .send_chats(vec![
            c("erin", "105", "up"),       // last vote wins -> up
            c("frank", "106", "right"),   // frank changes to right ...
            frank_left.id(frank_left_id), // ... and his old `left` message is replayed: counts once
        ])
        .await
        .unwrap();
    server
        .timeout_user(CHANNEL, "grace", "107", 600)
        .await
        .unwrap();
    server
        .delete_message(CHANNEL, "heidi", heidi_id, "b")
        .await
        .unwrap();

    let closed = bot
        .wait_type("vote_closed", T, |e| e["vote"] == "move")
        .await
        .unwrap();
    assert_eq!(closed["round"], 1, "{closed}");
    assert_eq!(
        tally(&closed),
        &json!({"up": 3, "down": 1, "left": 1, "right": 1, "start": 1}),
        "{closed}"
    );
    assert_eq!(closed["voters"], 7, "{closed}");
    assert_eq!(closed["winner"], "up", "{closed}");

    // announce = true: one winner message in chat for the round.
    let (_, line) = server
        .wait_for_line(|l| irc_command(l) == "PRIVMSG", T)
        .await
        .expect("the winner is announced in chat");
    assert!(line.contains(&format!("#{CHANNEL} :")), "{line}");
    assert!(
        line.to_lowercase().contains("up"),
        "the announcement names the winner: {line}"
    );
    sync(&server, "after-announce").await;
    assert_eq!(
        server.lines_with_command("PRIVMSG").len(),
        1,
        "one announcement per round"
    );
    assert_clean_with(&server, &bot);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn democracy_round_below_min_voters_has_no_winner() {
    let (server, mut bot) = start_with_vote(VoteSpec {
        window_secs: 1.0,
        min_voters: 2,
        ..VoteSpec::democracy("move", &OPTIONS)
    })
    .await;
    open_round(&mut bot).await;
    chat(&server, "alice", "101", "up").await;
    let closed = bot.wait_type("vote_closed", T, |_| true).await.unwrap();
    assert_eq!(closed["winner"], Value::Null, "{closed}");
    assert_eq!(closed["voters"], 1, "{closed}");
    assert_eq!(tally(&closed), &json!({"up": 1}), "{closed}");
    assert_clean_with(&server, &bot);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_round_refuses_new_voters_and_says_how_many() {
    let (server, mut bot) = start_with_vote(VoteSpec {
        window_secs: 1.0,
        max_voters: Some(2),
        ..VoteSpec::democracy("move", &OPTIONS)
    })
    .await;
    open_round(&mut bot).await;
    for (user, uid, text) in [
        ("alice", "101", "up"),
        ("bob", "102", "down"),
        ("carol", "103", "left"), // the round is full: refused
        ("dave", "104", "left"),  // refused
        ("alice", "101", "down"), // a known voter may still change her ballot
    ] {
        chat(&server, user, uid, text).await;
    }
    let closed = bot.wait_type("vote_closed", T, |_| true).await.unwrap();
    assert_eq!(closed["voters"], 2, "{closed}");
    assert_eq!(tally(&closed), &json!({"down": 2}), "{closed}");
    assert_eq!(closed["refused_ballots"], 2, "{closed}");
    assert_clean_with(&server, &bot);
}

/// A `tally` event of `vote`.
fn is_tally_of(e: &Value, vote: &str) -> bool {
    e["type"] == "tally" && e["vote"] == vote
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_tally_on_request_and_periodically_while_the_round_is_open() {
    // Long windows: the rounds close only when the test says so. `clock` reports every 0.2 s and is
    // the test's clock: its reports show time passing without a sleep.
    let (server, mut bot) = start(MockOptions::default(), |c| {
        c.vote(VoteSpec {
            window_secs: 60.0,
            tally_interval_secs: Some(0.2),
            ..VoteSpec::democracy("move", &OPTIONS)
        })
        .vote(VoteSpec {
            window_secs: 60.0,
            tally_interval_secs: Some(0.2),
            ..VoteSpec::democracy("clock", &["tick"])
        })
    })
    .await;

    // Before any round: answered, nothing open, remaining_ms present and 0.
    op(&mut bot, json!({"op": "tally", "vote": "move"})).await;
    let idle = bot
        .wait_event("the tally answer", T, |e| is_tally_of(e, "move"))
        .await
        .unwrap();
    assert_eq!(
        idle,
        json!({"type":"tally","vote":"move","round":0,"open":false,"tally":{},"voters":0,"remaining_ms":0})
    );

    let opened = open_round(&mut bot).await;
    assert_eq!(opened["vote"], "move");
    op(&mut bot, json!({"op": "start_vote", "vote": "clock"})).await;
    bot.wait_type("vote_opened", T, |e| e["vote"] == "clock")
        .await
        .unwrap();
    for (user, uid, text) in [
        ("alice", "101", "up"),
        ("bob", "102", "down"),
        ("carol", "103", "up"),
        ("dave", "104", "hello"), // not a ballot
    ] {
        chat(&server, user, uid, text).await;
    }
    sync(&server, "ballots-in").await; // every ballot is counted from here on

    // An unknown vote gets the usual `vote` error; it also marks the point after which every `move`
    // tally (the answer and any periodic one) must show all three ballots.
    op(&mut bot, json!({"op": "tally", "vote": "nope"})).await;
    op(&mut bot, json!({"op": "tally", "vote": "move"})).await;
    let err = bot
        .wait_type("error", T, |e| e["kind"] == "vote")
        .await
        .unwrap();
    assert!(err["message"].as_str().unwrap().contains("nope"), "{err}");
    let mut reports = Vec::new();
    while reports.len() < 6 {
        let e = bot
            .wait_event("move tallies", T, |e| is_tally_of(e, "move"))
            .await
            .unwrap();
        assert_eq!(e["round"], 1, "{e}");
        assert_eq!(e["open"], true, "{e}");
        assert_eq!(tally(&e), &json!({"up": 2, "down": 1}), "{e}");
        assert_eq!(e["voters"], 3, "{e}");
        let left = e["remaining_ms"].as_u64().expect("remaining_ms");
        assert!(left > 0 && left <= 60_000, "{e}");
        reports.push(left);
    }
    // Periodic: the time left goes down from report to report, and at most one report per 0.2 s of the
    // bot's own clock (plus the answer, the edges and 5 ms for rounding to whole ms): a cadence, not a
    // flood. No wall-clock timing here: the span is measured by the bot's own `remaining_ms`.
    let last = reports[reports.len() - 1];
    assert!(
        reports.windows(2).all(|w| w[0] >= w[1]) && reports[0] > last,
        "{reports:?}"
    );
    let span = reports[0] - last;
    assert!(
        reports.len() as u64 <= (span + 5) / 200 + 3,
        "too many reports for {span} ms: {reports:?}"
    );

    // The round closes: the result, then no more `move` tallies while `clock` keeps reporting.
    op(&mut bot, json!({"op": "stop_vote", "vote": "move"})).await;
    let closed = bot
        .wait_type("vote_closed", T, |e| e["vote"] == "move")
        .await
        .unwrap();
    assert_eq!(tally(&closed), &json!({"up": 2, "down": 1}), "{closed}");
    let mut ticks = 0;
    while ticks < 4 {
        let e = bot
            .wait_event("clock tallies", T, |e| e["type"] == "tally")
            .await
            .unwrap();
        assert_eq!(
            e["vote"], "clock",
            "no move tally after its round closed: {e}"
        );
        assert_eq!(e["open"], true, "{e}");
        ticks += 1;
    }
    // Four periodic clock reports span more than two intervals: `move` would have reported by now.
    // Asked now, it shows the last round's final count, closed.
    op(&mut bot, json!({"op": "tally", "vote": "move"})).await;
    let after = bot
        .wait_event("the tally answer after close", T, |e| {
            assert!(
                e["type"] != "tally" || e["vote"] == "clock" || e["open"] == false,
                "a move tally with an open round after close: {e}"
            );
            is_tally_of(e, "move")
        })
        .await
        .unwrap();
    assert_eq!(
        after,
        json!({"type":"tally","vote":"move","round":1,"open":false,"tally":{"up":2,"down":1},"voters":3,"remaining_ms":0})
    );
    assert_clean_with(&server, &bot);
}

/// Collects events of `ty` until one matches `last` (inclusive).
async fn collect_until(
    bot: &mut BotProcess,
    ty: &str,
    last: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    let mut got = Vec::new();
    loop {
        let e = bot
            .wait_type(ty, T, |_| true)
            .await
            .unwrap_or_else(|e| panic!("collecting `{ty}` events: {e}"));
        let done = last(&e);
        got.push(e);
        if done {
            return got;
        }
    }
}

fn input(user: &str, uid: &str, inp: &str, repeat: u64) -> Value {
    json!({"type": "input", "vote": "move", "input": inp, "repeat": repeat, "user": user, "user_id": uid})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anarchy_inputs_with_repeat_suffix() {
    let (server, mut bot) = start_with_vote(VoteSpec {
        max_repeat: 9,
        window_secs: 30.0,
        ..VoteSpec::anarchy("move", &["up", "down", "a"])
    })
    .await;
    bot.wait_type("vote_opened", T, |e| e["vote"] == "move")
        .await
        .unwrap();
    let c = |user: &str, uid: &str, text: &str| Chat::new(CHANNEL, user, uid, text);
    server
        .send_chats(vec![
            c("alice", "101", "up3"),
            c("bob", "102", "down"),
            c("dave", "104", "left"),    // not an option
            c("dave", "104", "jump up"), // not a ballot
            c("erin", "105", "UP2"),
            c(NICK, "900001", "a"), // the bot's own message
            c("zed", "199", "a"),   // sentinel
        ])
        .await
        .unwrap();
    let got = collect_until(&mut bot, "input", |e| e["user"] == "zed").await;
    assert_eq!(
        got,
        vec![
            input("alice", "101", "up", 3),
            input("bob", "102", "down", 1),
            input("erin", "105", "up", 2),
            input("zed", "199", "a", 1),
        ]
    );
    assert_clean_with(&server, &bot);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anarchy_per_user_cooldown() {
    // `anarchy_cooldown_secs` is the ChatPlay engine's per-user anarchy cooldown; issue 5 asks
    // for "anarchy inputs with per-user cooldown" without naming the key.
    let server = MockTwitch::start(MockOptions::default()).await.unwrap();
    let cfg = BotConfig::new(&server.url(), &[CHANNEL]).login(NICK, TOKEN_ENV);
    let mut text = cfg.to_toml();
    text.push_str(
        "\n[[vote]]\nname = \"move\"\noptions = [\"up\", \"down\", \"a\"]\nmode = \"anarchy\"\nwindow_secs = 30.0\nstart = \"auto\"\nanarchy_cooldown_secs = 60.0\n",
    );
    let mut bot = BotProcess::launch(Launch {
        config_text: Some(text),
        env: vec![(TOKEN_ENV.into(), TOKEN.into())],
        ..Launch::default()
    })
    .await
    .unwrap();
    bot.wait_type("vote_opened", T, |_| true).await.unwrap();
    server.wait_for_join(CHANNEL, 0, T).await.unwrap();
    let c = |user: &str, uid: &str, text: &str| Chat::new(CHANNEL, user, uid, text);
    server
        .send_chats(vec![
            c("alice", "101", "up"),
            c("alice", "101", "down"), // within alice's cooldown
            c("bob", "102", "down"),
            c("bob", "102", "a"), // within bob's cooldown
            c("zed", "199", "a"), // sentinel
        ])
        .await
        .unwrap();
    let got = collect_until(&mut bot, "input", |e| e["user"] == "zed").await;
    assert_eq!(
        got,
        vec![
            input("alice", "101", "up", 1),
            input("bob", "102", "down", 1),
            input("zed", "199", "a", 1),
        ]
    );
    assert_clean(&bot);
}

fn command(name: &str, user: &str, uid: &str, args: &str) -> Value {
    json!({"type": "command", "command": name, "channel": CHANNEL, "user": user, "user_id": uid, "args": args})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_with_cooldowns_and_mods_only() {
    let (server, mut bot) = start(MockOptions::default(), |c| {
        c.command(CommandSpec::new("jump", &["!jump"], 1.0, false))
            .command(CommandSpec::new("reset", &["!reset"], 0.0, true))
    })
    .await;
    let c = |user: &str, uid: &str, text: &str| Chat::new(CHANNEL, user, uid, text);
    server
        .send_chats(vec![
            c("alice", "101", "!jump high"),
            c("alice", "101", "!jump again"), // alice's cooldown
            c("bob", "102", "!jump"),         // another user: fine
            c("carol", "103", "!reset"),      // not a moderator
            c("dave", "104", "!reset now").moderator(),
            c("owner", "105", "!reset").broadcaster(),
            c("erin", "106", "jump"), // not the keyword
            c("zed", "199", "!jump sentinel"),
        ])
        .await
        .unwrap();
    let got = collect_until(&mut bot, "command", |e| e["user"] == "zed").await;
    assert_eq!(
        got,
        vec![
            command("jump", "alice", "101", "high"),
            command("jump", "bob", "102", ""),
            command("reset", "dave", "104", "now"),
            command("reset", "owner", "105", ""),
            command("jump", "zed", "199", "sentinel"),
        ]
    );
    // The cooldown (1 s) passes: alice can jump again. (Time must pass here; this sleep is the
    // thing under test, not a synchronisation.)
    tokio::time::sleep(Duration::from_millis(1300)).await;
    chat(&server, "alice", "101", "!jump later").await;
    let e = bot.wait_type("command", T, |_| true).await.unwrap();
    assert_eq!(e, command("jump", "alice", "101", "later"));
    assert_clean_with(&server, &bot);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_after_abrupt_drop_keeps_the_open_round() {
    let (server, mut bot) = start_with_vote(VoteSpec {
        window_secs: 120.0,
        ..VoteSpec::democracy("move", &OPTIONS)
    })
    .await;
    open_round(&mut bot).await;
    let alice_up =
        Chat::new(CHANNEL, "alice", "101", "up").id("c0000000-0000-4000-8000-000000000101");
    server.send_chat_msg(alice_up.clone()).await.unwrap();
    chat(&server, "bob", "102", "down").await;
    sync(&server, "before-drop").await;

    assert_eq!(server.drop_connections().await, 1);
    let r = bot
        .wait_type("reconnecting", RECONNECT, |_| true)
        .await
        .unwrap();
    assert!(r["attempt"].as_u64().is_some_and(|a| a >= 1), "{r}");
    assert!(r["delay_ms"].is_u64(), "{r}");
    let conn2 = server
        .wait_for_join(CHANNEL, 1, RECONNECT)
        .await
        .expect("re-join after the drop");
    assert!(conn2 >= 2);
    bot.wait_type("joined", T, |e| e["channel"] == CHANNEL)
        .await
        .unwrap();

    // After the reconnect: alice changes her vote, then her old message is replayed (Twitch
    // overlap after a reconnect): it must not count again. carol votes for the first time.
    chat(&server, "alice", "101", "left").await;
    server.send_chat_msg(alice_up).await.unwrap();
    chat(&server, "carol", "103", "down").await;
    sync(&server, "after-reconnect").await;
    op(&mut bot, json!({"op": "stop_vote", "vote": "move"})).await;
    let closed = bot.wait_type("vote_closed", T, |_| true).await.unwrap();
    assert_eq!(closed["round"], 1, "the same round survived: {closed}");
    assert_eq!(tally(&closed), &json!({"down": 2, "left": 1}), "{closed}");
    assert_eq!(closed["voters"], 3, "{closed}");
    assert_eq!(closed["winner"], "down", "{closed}");
    assert!(
        bot.events().iter().any(|e| e["type"] == "disconnected"),
        "a `disconnected` event was reported"
    );
    assert_clean_with(&server, &bot);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_on_server_reconnect_command() {
    let (server, mut bot) = start_with_vote(VoteSpec {
        window_secs: 120.0,
        ..VoteSpec::democracy("move", &OPTIONS)
    })
    .await;
    open_round(&mut bot).await;
    chat(&server, "alice", "101", "up").await;
    sync(&server, "before-reconnect").await;

    assert_eq!(server.send_reconnect().await, 1);
    let conn2 = server
        .wait_for_join(CHANNEL, 1, RECONNECT)
        .await
        .expect("a new connection joins after RECONNECT");
    // Twitch closes the old connection itself a little later.
    server.close_connections_except(conn2, 1000, "").await;
    // While both were open the same messages may arrive twice; ids de-duplicate them.
    let m = Chat::new(CHANNEL, "bob", "102", "down");
    server
        .send_chat_msg(m.clone().id("d0000000-0000-4000-8000-000000000102"))
        .await
        .unwrap();
    server
        .send_chat_msg(m.id("d0000000-0000-4000-8000-000000000102"))
        .await
        .unwrap();
    chat(&server, "carol", "103", "up").await;
    sync(&server, "after-reconnect").await;
    op(&mut bot, json!({"op": "stop_vote", "vote": "move"})).await;
    let closed = bot.wait_type("vote_closed", T, |_| true).await.unwrap();
    assert_eq!(closed["round"], 1, "{closed}");
    assert_eq!(tally(&closed), &json!({"up": 2, "down": 1}), "{closed}");
    assert_eq!(closed["voters"], 3, "{closed}");
    assert_eq!(closed["winner"], "up", "{closed}");
    assert_clean_with(&server, &bot);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_is_answered_with_pong() {
    let (server, bot) = start(MockOptions::default(), |c| c).await;
    sync(&server, "tmi.twitch.tv").await;
    sync(&server, "another-token-42").await;
    let pongs = server.lines_with_command("PONG");
    assert_eq!(pongs.len(), 2, "{pongs:?}");
    assert_clean_with(&server, &bot);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_token_exits_with_code_2_and_says_what_to_fix() {
    let server = MockTwitch::start(MockOptions {
        bad_token: Some(TOKEN.to_string()),
        ..MockOptions::default()
    })
    .await
    .unwrap();
    let cfg = BotConfig::new(&server.url(), &[CHANNEL]).login(NICK, TOKEN_ENV);
    let mut bot = BotProcess::start(&cfg, &[(TOKEN_ENV, TOKEN)])
        .await
        .unwrap();
    let status = bot.wait_exit(T).await.unwrap();
    assert_eq!(status.code(), Some(2), "stderr:\n{}", bot.stderr());
    let err = bot.stderr();
    assert!(
        err.contains(TOKEN_ENV) || err.to_lowercase().contains("token"),
        "the message says the token is what to fix:\n{err}"
    );
    assert!(
        server
            .lines()
            .iter()
            .any(|(_, _, l)| irc_command(l) == "PASS"),
        "the bot did try to log in"
    );
    assert_clean(&bot);
}

/// Runs the bot on a config text; expects a non-zero exit before any connection.
async fn expect_config_error(config: &str, key: &str, line: Option<usize>) {
    let server = MockTwitch::start(MockOptions::default()).await.unwrap();
    let config = config.replace("SERVER", &server.url());
    let mut bot = BotProcess::launch(Launch {
        config_text: Some(config.clone()),
        env: vec![(TOKEN_ENV.into(), TOKEN.into())],
        ..Launch::default()
    })
    .await
    .unwrap();
    let status = bot.wait_exit(T).await.unwrap();
    let err = bot.stderr();
    assert!(
        !status.success(),
        "a bad config must fail; config:\n{config}\nstderr:\n{err}"
    );
    assert!(err.contains("bot.toml"), "the error names the file:\n{err}");
    assert!(err.contains(key), "the error names the key `{key}`:\n{err}");
    if let Some(n) = line {
        let named = [
            format!("line {n}"),
            format!(":{n}:"),
            format!(":{n}\n"),
            format!("line: {n}"),
        ]
        .iter()
        .any(|p| err.contains(p.as_str()));
        assert!(named, "the error names line {n}:\n{err}");
    }
    assert!(
        server.connections().is_empty(),
        "no connection before the config is valid"
    );
    assert!(
        !bot.events().iter().any(|e| e["type"] == "connected"),
        "no `connected` event for a bad config"
    );
}

const GOOD: &str = "[connection]\nserver = \"SERVER\"\nchannels = [\"playroom\"]\n\n[[vote]]\nname = \"move\"\noptions = [\"up\", \"down\"]\nwindow_secs = 2.0\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_config_unknown_key_names_file_line_key() {
    let cfg = GOOD.replace("channels =", "servr = \"x\"\nchannels =");
    expect_config_error(&cfg, "servr", Some(3)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_config_wrong_type_names_file_line_key() {
    let cfg = GOOD.replace("window_secs = 2.0", "window_secs = \"fast\"");
    expect_config_error(&cfg, "window_secs", Some(8)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_config_empty_options() {
    let cfg = GOOD.replace("options = [\"up\", \"down\"]", "options = []");
    expect_config_error(&cfg, "options", Some(7)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_config_zero_window() {
    let cfg = GOOD.replace("window_secs = 2.0", "window_secs = 0.0");
    expect_config_error(&cfg, "window_secs", Some(8)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_config_duplicate_vote_names() {
    let cfg = format!("{GOOD}\n[[vote]]\nname = \"move\"\noptions = [\"a\"]\n");
    expect_config_error(&cfg, "name", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_config_token_in_file_is_rejected() {
    // The token itself must never be in a config; only `token_env` names where it is.
    let cfg = GOOD.replace("channels =", "token = \"oauth:abc\"\nchannels =");
    expect_config_error(&cfg, "token", Some(3)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_worker_count_in_the_environment_is_a_config_error() {
    // tokio refuses 0 worker threads (a panic before): bad environment input is bad config.
    let server = MockTwitch::start(MockOptions::default()).await.unwrap();
    for bad in ["0", "many", "-1"] {
        let mut bot = BotProcess::launch(Launch {
            config_text: Some(GOOD.replace("SERVER", &server.url())),
            env: vec![("TWITCH_BOT_WORKERS".into(), bad.into())],
            ..Launch::default()
        })
        .await
        .unwrap();
        let status = bot.wait_exit(T).await.unwrap();
        let err = bot.stderr();
        assert_eq!(status.code(), Some(1), "TWITCH_BOT_WORKERS={bad}:\n{err}");
        assert!(
            err.contains("TWITCH_BOT_WORKERS") && err.contains(&format!("\"{bad}\"")),
            "the error names the variable and its value:\n{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    assert!(server.connections().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_flag_validates_without_connecting() {
    let server = MockTwitch::start(MockOptions::default()).await.unwrap();
    let good = GOOD.replace("SERVER", &server.url());
    let mut bot = BotProcess::launch(Launch {
        config_text: Some(good),
        args: vec!["--check".into()],
        ..Launch::default()
    })
    .await
    .unwrap();
    let status = bot.wait_exit(T).await.unwrap();
    assert!(
        status.success(),
        "--check on a good config exits 0; stderr:\n{}",
        bot.stderr()
    );
    assert!(server.connections().is_empty(), "--check never connects");

    let bad = GOOD
        .replace("SERVER", &server.url())
        .replace("window_secs = 2.0", "window_secs = -1.0");
    let mut bot = BotProcess::launch(Launch {
        config_text: Some(bad),
        args: vec!["--check".into()],
        ..Launch::default()
    })
    .await
    .unwrap();
    let status = bot.wait_exit(T).await.unwrap();
    assert!(!status.success(), "--check on a bad config fails");
    assert!(bot.stderr().contains("window_secs"), "{}", bot.stderr());
    assert!(server.connections().is_empty(), "--check never connects");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_control_and_bad_lines() {
    let (server, mut bot) = start_with_vote(VoteSpec {
        window_secs: 120.0,
        ..VoteSpec::democracy("move", &OPTIONS)
    })
    .await;
    // Bad lines: each gets an `error` event, and the bot keeps running.
    for bad in [
        "this is not json".to_string(),
        json!({"op": "fly"}).to_string(),
        json!({"op": "start_vote", "vote": "no_such_vote"}).to_string(),
        json!({"op": "say"}).to_string(),
        "[1,2,3]".to_string(),
    ] {
        bot.send_stdin(&bad).await.unwrap();
        let e = bot
            .wait_type("error", T, |_| true)
            .await
            .unwrap_or_else(|e| panic!("no error event for {bad:?}: {e}"));
        assert!(
            e.as_object().is_some_and(|o| o.len() >= 2),
            "an error event explains itself: {e}"
        );
    }

    let opened = open_round(&mut bot).await;
    assert_eq!(opened["vote"], "move");
    chat(&server, "alice", "101", "right").await;
    sync(&server, "ballot-in").await;
    op(&mut bot, json!({"op": "stop_vote", "vote": "move"})).await;
    let closed = bot.wait_type("vote_closed", T, |_| true).await.unwrap();
    assert_eq!(closed["winner"], "right", "{closed}");
    assert_eq!(tally(&closed), &json!({"right": 1}));

    let mark = server.mark();
    op(
        &mut bot,
        json!({"op": "say", "channel": CHANNEL, "text": "hello from the game"}),
    )
    .await;
    let (_, line) = server
        .wait_for_line_since(mark, T, |l| irc_command(l) == "PRIVMSG")
        .await
        .expect("say -> PRIVMSG");
    assert_eq!(
        irc_params(&line),
        vec![format!("#{CHANNEL}").as_str(), "hello from the game"]
    );
    assert_clean_with(&server, &bot);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_rounds_parts_closes_1000_and_exits_0() {
    let (server, mut bot) = start_with_vote(VoteSpec {
        window_secs: 120.0,
        ..VoteSpec::democracy("move", &OPTIONS)
    })
    .await;
    open_round(&mut bot).await;
    chat(&server, "alice", "101", "a").await;
    chat(&server, "bob", "102", "a").await;
    chat(&server, "carol", "103", "b").await;
    sync(&server, "ballots-in").await;

    bot.signal(libc::SIGTERM).unwrap();
    let status = bot.wait_exit(T).await.unwrap();
    assert_eq!(status.code(), Some(0), "stderr:\n{}", bot.stderr());
    let rest = bot.remaining_events(Duration::from_secs(2)).await;
    let closed = rest
        .iter()
        .find(|e| e["type"] == "vote_closed")
        .unwrap_or_else(|| panic!("the open round closes with its result on SIGTERM: {rest:?}"));
    assert_eq!(closed["winner"], "a", "{closed}");
    assert_eq!(tally(closed), &json!({"a": 2, "b": 1}), "{closed}");
    assert_eq!(closed["voters"], 3, "{closed}");

    let parts = server.lines_with_command("PART");
    assert!(
        parts
            .iter()
            .any(|(_, _, l)| irc_params(l).first() == Some(&format!("#{CHANNEL}").as_str())),
        "the bot parts its channel: {parts:?}"
    );
    let (close, by_server) = server.wait_for_close(1, T).await.unwrap();
    assert!(!by_server);
    assert_eq!(
        close.map(|c| c.0),
        Some(1000),
        "the socket closes with code 1000"
    );
    assert_clean_with(&server, &bot);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_starts_and_produces_a_result() {
    let mut bot = BotProcess::launch(Launch {
        args: vec!["--demo".into()],
        ..Launch::default()
    })
    .await
    .unwrap();
    bot.wait_type("connected", T, |_| true).await.unwrap();
    bot.wait_type("joined", T, |_| true).await.unwrap();
    let closed = bot
        .wait_type("vote_closed", Duration::from_secs(60), |e| {
            !e["winner"].is_null()
        })
        .await
        .unwrap();
    let winner = closed["winner"].as_str().expect("a winner");
    assert!(
        closed["tally"].get(winner).is_some(),
        "the winner is in the tally: {closed}"
    );
    assert!(
        closed["voters"].as_u64().is_some_and(|v| v >= 1),
        "{closed}"
    );
    bot.signal(libc::SIGTERM).unwrap();
    let status = bot.wait_exit(T).await.unwrap();
    assert_eq!(status.code(), Some(0), "stderr:\n{}", bot.stderr());
    assert_clean(&bot);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_with_the_test_ca() {
    let (server, mut bot) = start(
        MockOptions {
            tls: true,
            ..MockOptions::default()
        },
        |c| {
            c.vote(VoteSpec {
                window_secs: 1.0,
                ..VoteSpec::democracy("move", &OPTIONS)
            })
        },
    )
    .await;
    assert!(server.url().starts_with("wss://"));
    let connected = bot
        .events()
        .into_iter()
        .find(|e| e["type"] == "connected")
        .expect("connected");
    assert!(
        connected["server"]
            .as_str()
            .is_some_and(|s| s.starts_with("wss://")),
        "{connected}"
    );
    open_round(&mut bot).await;
    chat(&server, "alice", "101", "select").await;
    let closed = bot.wait_type("vote_closed", T, |_| true).await.unwrap();
    assert_eq!(closed["winner"], "select", "{closed}");
    sync(&server, "tls-pong").await;
    assert_clean_with(&server, &bot);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_without_the_ca_is_refused() {
    let server = MockTwitch::start(MockOptions {
        tls: true,
        ..MockOptions::default()
    })
    .await
    .unwrap();
    // No ca_file: the test CA is not trusted, so the TLS handshake must fail.
    let cfg = BotConfig::new(&server.url(), &[CHANNEL]);
    let mut bot = BotProcess::start(&cfg, &[]).await.unwrap();
    let e = bot
        .wait_event("a disconnected/reconnecting/error event", T, |e| {
            ["disconnected", "reconnecting", "error"].contains(&e["type"].as_str().unwrap_or(""))
        })
        .await;
    assert!(e.is_ok(), "the failure is reported: {e:?}");
    assert!(
        !server
            .log()
            .iter()
            .any(|r| matches!(r.what, ClientEvent::Opened { .. })),
        "no WebSocket session over an untrusted certificate"
    );
    assert!(
        !bot.events()
            .iter()
            .any(|e| e["type"] == "connected" || e["type"] == "joined")
    );
    assert_clean(&bot);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ratelimit_notice_does_not_crash() {
    let (server, mut bot) = start(MockOptions::default(), |c| {
        c.command(CommandSpec::new("jump", &["!jump"], 0.0, false))
    })
    .await;
    server.send_ratelimit_notice(CHANNEL).await.unwrap();
    server
        .inject("@msg-id=msg_duplicate :tmi.twitch.tv NOTICE #playroom :Your message is identical to the one you sent less than 30 seconds ago.\r\n")
        .await;
    sync(&server, "after-notice").await;
    chat(&server, "alice", "101", "!jump").await;
    let e = bot.wait_type("command", T, |_| true).await.unwrap();
    assert_eq!(e, command("jump", "alice", "101", ""));
    let mark = server.mark();
    op(
        &mut bot,
        json!({"op": "say", "channel": CHANNEL, "text": "still here"}),
    )
    .await;
    server
        .wait_for_line_since(mark, T, |l| irc_command(l) == "PRIVMSG")
        .await
        .expect("the bot still talks after a rate-limit NOTICE");
    assert_clean_with(&server, &bot);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn say_flood_respects_twitch_rate_limit() {
    let (server, mut bot) = start(MockOptions::default(), |c| c).await;
    for i in 0..30 {
        op(
            &mut bot,
            json!({"op": "say", "channel": CHANNEL, "text": format!("message number {i}")}),
        )
        .await;
    }
    server
        .wait_for_line(|l| irc_command(l) == "PRIVMSG", T)
        .await
        .expect("the first say goes out");
    // Let the bot's sender run for a while (the measurement window, not a synchronisation).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let sent = server.lines_with_command("PRIVMSG");
    assert!(
        (1..=5).contains(&sent.len()),
        "a non-moderator bot sends at most one message per second per channel; sent {} in ~3 s",
        sent.len()
    );
    // Messages are never duplicated.
    let mut texts: Vec<&str> = sent
        .iter()
        .map(|(_, _, l)| *irc_params(l).last().unwrap())
        .collect();
    let n = texts.len();
    texts.dedup();
    assert_eq!(texts.len(), n);
    assert_clean_with(&server, &bot);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_twitch_corpus_lines_do_not_disturb_the_bot() {
    // Every line of a corpus of real Twitch server lines (PRIVMSG with emotes and odd tags,
    // USERNOTICE, CLEARCHAT, CLEARMSG, ROOMSTATE, WHISPER, ...), 10 per frame, except RECONNECT
    // and the login-failure NOTICEs (`NOTICE * :Login authentication failed`, which Twitch only
    // sends during login; both are tested separately). The bot must stay up and count a
    // following round exactly.
    let corpus = include_str!("data/twitch-corpus.txt");
    let lines: Vec<String> = corpus
        .lines()
        .filter(|l| {
            !l.is_empty()
                && irc_command(l) != "RECONNECT"
                && !(irc_command(l) == "NOTICE" && irc_params(l).first() == Some(&"*"))
        })
        .map(str::to_string)
        .collect();
    assert!(lines.len() > 50);
    let (server, mut bot) = start_with_vote(VoteSpec {
        window_secs: 120.0,
        ..VoteSpec::democracy("compass", &["north", "south"])
    })
    .await;
    for chunk in lines.chunks(10) {
        server.send_lines_to_channel(CHANNEL, chunk).await.unwrap();
    }
    sync(&server, "after-corpus").await;
    op(&mut bot, json!({"op": "start_vote", "vote": "compass"})).await;
    bot.wait_type("vote_opened", T, |_| true).await.unwrap();
    chat(&server, "alice", "101", "north").await;
    chat(&server, "bob", "102", "South").await;
    chat(&server, "carol", "103", "north").await;
    sync(&server, "ballots").await;
    op(&mut bot, json!({"op": "stop_vote", "vote": "compass"})).await;
    let closed = bot.wait_type("vote_closed", T, |_| true).await.unwrap();
    assert_eq!(tally(&closed), &json!({"north": 2, "south": 1}), "{closed}");
    assert_eq!(closed["winner"], "north");
    assert_eq!(
        server.connections().len(),
        1,
        "no reconnect caused by the corpus"
    );
    assert_clean_with(&server, &bot);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_backoff_grows_while_the_server_is_down_then_rejoins() {
    let (server, mut bot) = start(MockOptions::default(), |c| c).await;
    let port = server.addr().port();
    // Outage: the server goes away (open connections dropped, new ones refused).
    drop(server);
    let mut delays = Vec::new();
    for want in 1..=3u64 {
        let r = bot
            .wait_type("reconnecting", RECONNECT, |_| true)
            .await
            .expect("a reconnecting event per failed attempt");
        assert_eq!(r["attempt"], want, "{r}");
        delays.push(r["delay_ms"].as_u64().expect("delay_ms"));
    }
    // "exponential backoff and jitter, 1 s up to 60 s"
    assert!((900..=2_000).contains(&delays[0]), "{delays:?}");
    assert!(delays.iter().all(|&d| d <= 60_000), "{delays:?}");
    assert!(
        delays[2] as f64 >= 1.5 * delays[0] as f64,
        "the delay grows: {delays:?}"
    );
    // The server comes back on the same port: the bot reconnects and re-joins its channel.
    let server = MockTwitch::start(MockOptions {
        port,
        ..MockOptions::default()
    })
    .await
    .expect("restart the mock on the same port");
    server
        .wait_for_join(CHANNEL, 0, RECONNECT)
        .await
        .expect("re-join after the outage");
    bot.wait_type("joined", T, |e| e["channel"] == CHANNEL)
        .await
        .unwrap();
    assert_clean_with(&server, &bot);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_stdout_consumer_bounded_memory_and_no_lost_vote_closed() {
    // The game stops reading stdout while chat floods an anarchy vote (one `input` event per
    // ballot) and rounds keep closing. The bot must keep talking to Twitch (PONG), keep its
    // memory bounded, and when the game reads again: `dropped` tells how many input events were
    // lost, and no `vote_closed` is missing.
    let server = MockTwitch::start(MockOptions::default()).await.unwrap();
    let cfg = BotConfig::new(&server.url(), &[CHANNEL]).vote(VoteSpec {
        window_secs: 0.5,
        ..VoteSpec::anarchy("move", &["up", "down"])
    });
    let mut bot = BotProcess::launch(Launch {
        config_text: Some(cfg.to_toml()),
        hold_stdout: true,
        ..Launch::default()
    })
    .await
    .unwrap();
    let conn = server.wait_for_join(CHANNEL, 0, T).await.unwrap();
    let sender = server.frame_sender(conn).unwrap();
    let ts = e2e::mock_twitch::now_ms();
    let users = 200_000;
    let mut frame = String::new();
    for i in 0..users {
        let mut c = Chat::new(
            CHANNEL,
            &format!("v{i}"),
            &format!("{}", 1_000_000 + i),
            "up",
        );
        c.sent_ts = Some(ts);
        frame.push_str(&c.to_line());
        frame.push_str("\r\n");
        if i % 10 == 9 {
            assert!(sender.send(std::mem::take(&mut frame)).await);
        }
    }
    // The network side is not blocked by the stuck stdout.
    sync(&server, "while-stdout-is-stuck").await;
    let rss = bot.rss_kib().expect("VmRSS");
    assert!(
        rss < 64 * 1024,
        "memory stays bounded while stdout is not read: {rss} KiB"
    );
    // Let a few more rounds close while stuck (time passing is the point here).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    bot.release_stdout();
    let dropped = bot
        .wait_type("dropped", Duration::from_secs(60), |_| true)
        .await
        .expect("a `dropped` event reports the lost input events");
    assert!(
        dropped["count"].as_u64().is_some_and(|n| n > 0),
        "{dropped}"
    );
    // Read on until a couple more rounds closed; round numbers of vote_closed must have no gaps.
    let mut seen = 0;
    while seen < 2 {
        bot.wait_type("vote_closed", T, |_| true).await.unwrap();
        seen += 1;
    }
    let mut rounds: Vec<u64> = bot
        .events()
        .iter()
        .filter(|e| e["type"] == "vote_closed")
        .filter_map(|e| e["round"].as_u64())
        .collect();
    rounds.sort_unstable();
    let first = rounds[0];
    assert_eq!(
        rounds,
        (first..first + rounds.len() as u64).collect::<Vec<_>>(),
        "no vote_closed is lost"
    );
    let inputs = bot.events().iter().filter(|e| e["type"] == "input").count() as u64;
    eprintln!(
        "slow consumer: VmRSS {rss} KiB while stuck, {} input events dropped, {inputs} delivered, vote_closed rounds {rounds:?}",
        dropped["count"]
    );
    assert!(inputs + dropped["count"].as_u64().unwrap() <= users as u64);
    assert_clean_with(&server, &bot);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_pong_reconnects_and_rejoins() {
    // The bot PINGs after 1 s of silence and gives a PONG 1 s (config keys under [connection]).
    let (server, mut bot) = start(MockOptions::default(), |c| c.keepalive(1.0, 1.0)).await;
    // While the server answers, the bot's own PINGs keep the connection up.
    let mark = server.mark();
    server
        .wait_for_line_since(mark, T, |l| irc_command(l) == "PING")
        .await
        .expect("the bot PINGs a quiet server");
    let mark = server.mark();
    server
        .wait_for_line_since(mark, T, |l| irc_command(l) == "PING")
        .await
        .expect("and again once answered");
    assert!(!bot.events().iter().any(|e| e["type"] == "disconnected"));

    // The server goes silent: it stops answering PINGs (the socket stays open).
    server.set_answer_pings(false);
    let mark = server.mark();
    let (conn, _) = server
        .wait_for_line_since(mark, T, |l| irc_command(l) == "PING")
        .await
        .expect("the bot PINGs the silent server");
    assert_eq!(conn, 1);
    let d = bot
        .wait_type("disconnected", T, |_| true)
        .await
        .expect("a missed PONG ends the link");
    let reason = d["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("PONG"),
        "the reason names the missed PONG: {d}"
    );
    let r = bot
        .wait_type("reconnecting", T, |_| true)
        .await
        .expect("then a reconnect is scheduled");
    assert!(r["attempt"].as_u64().is_some_and(|a| a >= 1), "{r}");
    assert!(
        r["reason"].as_str().unwrap_or_default().contains("PONG"),
        "{r}"
    );
    // The bot itself closed the dead link (the server did not).
    let (close, by_server) = server.wait_for_close(1, T).await.expect("conn 1 closed");
    assert!(!by_server, "the bot closed it");
    assert_eq!(close.map(|c| c.0), Some(1000));

    server.set_answer_pings(true);
    let conn2 = server
        .wait_for_join(CHANNEL, 1, RECONNECT)
        .await
        .expect("re-join after the missed PONG");
    assert!(conn2 >= 2);
    bot.wait_type("joined", T, |e| e["channel"] == CHANNEL)
        .await
        .unwrap();
    // The new link is healthy: PINGs are answered and no further disconnect happens.
    sync(&server, "after-pong-timeout").await;
    assert_eq!(
        bot.events()
            .iter()
            .filter(|e| e["type"] == "disconnected")
            .count(),
        1,
        "exactly one disconnect"
    );
    assert_clean_with(&server, &bot);
}

/// The connection that sent the bot's PRIVMSG whose text ends with `text`, and how many such lines.
fn privmsg_conns(server: &MockTwitch, text: &str) -> Vec<u64> {
    server
        .lines_with_command("PRIVMSG")
        .into_iter()
        .filter(|(_, _, l)| irc_params(l).last() == Some(&text))
        .map(|(c, _, _)| c)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_reconnect_overlaps_two_connections_and_counts_every_ballot_once() {
    // `!jump` has no cooldown: only the message id can tell a replayed `!jump` from a new one.
    let (server, mut bot) = start(MockOptions::default(), |c| {
        c.vote(VoteSpec {
            window_secs: 120.0,
            ..VoteSpec::democracy("move", &OPTIONS)
        })
        .command(CommandSpec::new("jump", &["!jump"], 0.0, false))
    })
    .await;
    open_round(&mut bot).await;
    let chat = |user: &str, uid: &str, text: &str, n: u32| {
        Chat::new(CHANNEL, user, uid, text).id(&format!("f0000000-0000-4000-8000-{n:012}"))
    };
    let alice = chat("alice", "101", "up", 1);
    server.send_chat_on(1, alice.clone()).await.unwrap();
    server.sync_conn(1, "before-reconnect", T).await.unwrap();

    // RECONNECT. The new connection's JOIN is held back, so for a while only the old connection
    // carries the channel: what it delivers must count.
    server.hold_joins(true).await;
    assert_eq!(server.send_reconnect().await, 1);
    let bob = chat("bob", "102", "down", 2);
    server
        .send_chat_on(1, bob.clone())
        .await
        .expect("the old connection is open right after RECONNECT");
    let conn2 = server
        .wait_for_join(CHANNEL, 1, T)
        .await
        .expect("the bot opens a second connection and joins there");
    let r = bot.wait_type("reconnecting", T, |_| true).await.unwrap();
    assert_eq!(
        (r["attempt"].as_u64(), r["delay_ms"].as_u64()),
        (Some(0), Some(0)),
        "{r}"
    );
    assert!(
        r["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("RECONNECT"),
        "{r}"
    );
    // Under drop-then-reconnect the old connection would be closed by now.
    let carol = chat("carol", "103", "left", 3);
    server
        .send_chat_on(1, carol.clone())
        .await
        .expect("the old connection still delivers chat while the new one joins");
    let jump = chat("frank", "106", "!jump", 7);
    server.send_chat_on(1, jump.clone()).await.unwrap();
    server
        .sync_conn(1, "during-overlap", T)
        .await
        .expect("the bot still reads (and answers) the old connection");
    // Outgoing chat uses the old connection until the new one is ready.
    op(
        &mut bot,
        json!({"op": "say", "channel": CHANNEL, "text": "during the overlap"}),
    )
    .await;
    server
        .wait_for_line(|l| l.ends_with(":during the overlap"), T)
        .await
        .unwrap();

    // The new connection's JOIN is confirmed: the bot switches over and closes the old one.
    server.hold_joins(false).await;
    bot.wait_type("joined", T, |e| e["channel"] == CHANNEL)
        .await
        .expect("joined on the new connection");
    let dave = chat("dave", "104", "right", 4);
    server.send_chat_on(conn2, dave.clone()).await.unwrap();
    // The same message may also reach the old one if it is still open (Twitch's overlap).
    let _ = server.send_chat_on(1, dave).await;
    // Twitch replays recent messages on the new connection: the same ids count once.
    for m in [alice.clone(), bob.clone(), carol.clone(), jump.clone()] {
        server.send_chat_on(conn2, m).await.unwrap();
    }
    let (close, by_server) = server
        .wait_for_close(1, T)
        .await
        .expect("the bot closes the old connection");
    assert!(!by_server, "closed by the bot, not the server");
    assert_eq!(close.map(|c| c.0), Some(1000));

    // bob changes his vote on the new connection, then his old ballot is replayed: it must not
    // count again (it would revert his vote to `down`). erin votes for the first time.
    server
        .send_chat_on(conn2, chat("bob", "102", "a", 5))
        .await
        .unwrap();
    server.send_chat_on(conn2, bob).await.unwrap();
    server
        .send_chat_on(conn2, chat("erin", "105", "up", 6))
        .await
        .unwrap();
    // frank's `!jump` once more (replayed), and a new `!jump` of his: that one runs.
    server.send_chat_on(conn2, jump).await.unwrap();
    server
        .send_chat_on(conn2, chat("frank", "106", "!jump", 8))
        .await
        .unwrap();
    server.sync_conn(conn2, "after-overlap", T).await.unwrap();
    op(
        &mut bot,
        json!({"op": "say", "channel": CHANNEL, "text": "after the overlap"}),
    )
    .await;
    server
        .wait_for_line(|l| l.ends_with(":after the overlap"), T)
        .await
        .unwrap();
    op(&mut bot, json!({"op": "stop_vote", "vote": "move"})).await;
    let closed = bot.wait_type("vote_closed", T, |_| true).await.unwrap();
    assert_eq!(closed["round"], 1, "{closed}");
    assert_eq!(
        tally(&closed),
        &json!({"up": 2, "left": 1, "right": 1, "a": 1}),
        "{closed}"
    );
    assert_eq!(closed["voters"], 5, "{closed}");
    assert_eq!(closed["winner"], "up", "{closed}");
    // The `!jump` that came on both connections ran once; the new one ran too.
    let jumps: Vec<Value> = bot
        .events()
        .into_iter()
        .filter(|e| e["type"] == "command")
        .collect();
    assert_eq!(
        jumps,
        [
            command("jump", "frank", "106", ""),
            command("jump", "frank", "106", "")
        ],
        "one `command` per message id"
    );

    // Each chat line went out exactly once, on the connection that was the main one then.
    assert_eq!(privmsg_conns(&server, "during the overlap"), [1]);
    assert_eq!(privmsg_conns(&server, "after the overlap"), [conn2]);
    assert_eq!(server.connections().len(), 2, "no third connection");
    assert!(
        !bot.events().iter().any(|e| e["type"] == "disconnected"),
        "no `disconnected` for a handover: {:?}",
        bot.events()
    );
    assert_clean_with(&server, &bot);
}

/// A round of `move` open with alice's ballot in, then a server RECONNECT on connection 1 while JOINs are
/// held: the bot's new connection (returned) is logged in but not joined, so the handover is in progress
/// (`reconnecting` with attempt 0 seen).
async fn begin_handover() -> (MockTwitch, BotProcess, u64) {
    let (server, mut bot) = start_with_vote(VoteSpec {
        window_secs: 120.0,
        ..VoteSpec::democracy("move", &OPTIONS)
    })
    .await;
    open_round(&mut bot).await;
    chat(&server, "alice", "101", "up").await;
    server.sync_conn(1, "before-reconnect", T).await.unwrap();
    server.hold_joins(true).await;
    assert_eq!(server.send_reconnect().await, 1);
    let conn2 = server.wait_for_join(CHANNEL, 1, T).await.unwrap();
    let r = bot
        .wait_type("reconnecting", T, |e| e["attempt"] == 0)
        .await
        .unwrap();
    assert_eq!(r["attempt"], 0, "a handover, not a backoff: {r}");
    (server, bot, conn2)
}

/// After a failed handover, the usual path: `reconnecting` with a backoff attempt (>= 1), then a
/// connection after `after_conn` that joins the channel; returns that connection.
async fn fallback_connection(server: &MockTwitch, bot: &mut BotProcess, after_conn: u64) -> u64 {
    let r = bot.wait_type("reconnecting", T, |_| true).await.unwrap();
    assert!(r["attempt"].as_u64().is_some_and(|a| a >= 1), "{r}");
    let conn = server
        .wait_for_join(CHANNEL, after_conn, RECONNECT)
        .await
        .expect("a third connection joins");
    bot.wait_type("joined", T, |e| e["channel"] == CHANNEL)
        .await
        .unwrap();
    conn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_handover_after_reconnect_falls_back_to_the_usual_reconnect() {
    // The new connection dies before its join is confirmed.
    let (server, mut bot, conn2) = begin_handover().await;
    assert!(server.drop_connection(conn2).await);
    server.hold_joins(false).await;

    // The usual path: both links dropped, `disconnected` naming why, backoff, reconnect, re-join.
    let d = bot.wait_type("disconnected", T, |_| true).await.unwrap();
    let reason = d["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("RECONNECT") && reason.contains("new connection failed"),
        "{d}"
    );
    let conn3 = fallback_connection(&server, &mut bot, conn2).await;
    let (close, by_server) = server.wait_for_close(1, T).await.unwrap();
    assert!(!by_server, "the bot closed the old connection");
    assert_eq!(close.map(|c| c.0), Some(1000));
    server
        .send_chat_on(conn3, Chat::new(CHANNEL, "bob", "102", "up"))
        .await
        .unwrap();
    server.sync_conn(conn3, "after", T).await.unwrap();
    op(&mut bot, json!({"op": "stop_vote", "vote": "move"})).await;
    let closed = bot.wait_type("vote_closed", T, |_| true).await.unwrap();
    assert_eq!(tally(&closed), &json!({"up": 2}), "{closed}");
    assert_clean_with(&server, &bot);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_handover_closes_rounds_parts_and_closes_both_connections_1000() {
    // The new connection logs in but its JOIN is held: the handover is in progress.
    let (server, mut bot, conn2) = begin_handover().await;
    server
        .send_chat_on(1, Chat::new(CHANNEL, "bob", "102", "up"))
        .await
        .unwrap();
    server.sync_conn(1, "during-overlap", T).await.unwrap();

    bot.signal(libc::SIGTERM).unwrap();
    let status = bot.wait_exit(T).await.unwrap();
    assert_eq!(status.code(), Some(0), "stderr:\n{}", bot.stderr());
    let rest = bot.remaining_events(Duration::from_secs(2)).await;
    let closed = rest
        .iter()
        .find(|e| e["type"] == "vote_closed")
        .unwrap_or_else(|| panic!("the open round closes with its result: {rest:?}"));
    assert_eq!(tally(closed), &json!({"up": 2}), "{closed}");
    let parts = server.lines_with_command("PART");
    assert!(
        parts
            .iter()
            .any(|(c, _, l)| *c == 1
                && irc_params(l).first() == Some(&format!("#{CHANNEL}").as_str())),
        "the bot parts its channel on the main connection: {parts:?}"
    );
    for conn in [1, conn2] {
        let (close, by_server) = server.wait_for_close(conn, T).await.unwrap();
        assert!(!by_server, "connection {conn} closed by the bot");
        assert_eq!(close.map(|c| c.0), Some(1000), "connection {conn}");
    }
    assert_eq!(server.connections().len(), 2, "no third connection");
    assert_clean_with(&server, &bot);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_on_the_new_connection_during_a_handover_falls_back_and_keeps_the_round() {
    // While the new connection's JOIN is held, it asks for a reconnect too.
    let (server, mut bot, conn2) = begin_handover().await;
    let to_conn2 = server
        .frame_sender(conn2)
        .expect("the new connection is open");
    assert!(to_conn2.send(":tmi.twitch.tv RECONNECT\r\n".into()).await);
    server.hold_joins(false).await;

    // The usual path follows (no second handover, no hang): `disconnected`, backoff, a third
    // connection that joins, and the round keeps its ballot.
    let d = bot.wait_type("disconnected", T, |_| true).await.unwrap();
    assert!(
        d["reason"]
            .as_str()
            .is_some_and(|r| r.contains("new connection failed")),
        "{d}"
    );
    let conn3 = fallback_connection(&server, &mut bot, conn2).await;
    server
        .send_chat_on(conn3, Chat::new(CHANNEL, "bob", "102", "down"))
        .await
        .unwrap();
    server.sync_conn(conn3, "after", T).await.unwrap();
    op(&mut bot, json!({"op": "stop_vote", "vote": "move"})).await;
    let closed = bot.wait_type("vote_closed", T, |_| true).await.unwrap();
    assert_eq!(tally(&closed), &json!({"up": 1, "down": 1}), "{closed}");
    assert_eq!(server.connections().len(), 3, "one fallback connection");
    assert_clean_with(&server, &bot);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_that_never_reads_stderr_does_not_stall_the_bot() {
    // A game pipes the bot's stderr and forgets it, with debug logs on. A burst of refused commands logs a
    // line each, far more than a pipe holds (64 KiB): the bot must keep answering PINGs and delivering
    // events (log lines may be dropped, chat and events not).
    let server = MockTwitch::start(MockOptions::default()).await.unwrap();
    let cfg = BotConfig::new(&server.url(), &[CHANNEL])
        .vote(VoteSpec::democracy("move", &OPTIONS))
        .command(CommandSpec::new("jump", &["!jump"], 3600.0, false));
    let mut bot = BotProcess::launch(Launch {
        config_text: Some(cfg.to_toml()),
        env: vec![("RUST_LOG".into(), "debug".into())],
        hold_stderr: true,
        ..Launch::default()
    })
    .await
    .unwrap();
    let conn = server.wait_for_join(CHANNEL, 0, T).await.unwrap();
    bot.wait_type("joined", T, |_| true).await.unwrap();
    open_round(&mut bot).await;
    let sender = server.frame_sender(conn).unwrap();
    let spam = 20_000; // each refused `!jump` (user cooldown) logs a debug line of about 100 bytes
    let mut frame = String::new();
    for i in 0..spam {
        frame.push_str(&Chat::new(CHANNEL, "spammer", "666", "!jump").to_line());
        frame.push_str("\r\n");
        if i % 10 == 9 {
            assert!(sender.send(std::mem::take(&mut frame)).await);
        }
    }
    chat(&server, "alice", "101", "up").await;
    sync(&server, "after-the-log-flood").await;
    op(&mut bot, json!({"op": "stop_vote", "vote": "move"})).await;
    let closed = bot.wait_type("vote_closed", T, |_| true).await.unwrap();
    assert_eq!(tally(&closed), &json!({"up": 1}), "{closed}");
    let jumps = bot
        .events()
        .iter()
        .filter(|e| e["type"] == "command")
        .count();
    assert_eq!(jumps, 1, "the cooldown let one `!jump` through");
}
