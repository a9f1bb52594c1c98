//! The real `twitch_bot` binary with `connection.transport = "eventsub"` against the mock EventSub server
//! and Helix endpoints (`support/mock_eventsub.rs`: WSS and HTTPS with a test CA, Twitch's documented
//! message shapes and error answers).
//!
//! Every test waits on what the bot or the mock reports, never on a sleep: a round is closed with
//! `stop_vote` only after a `!sync` command sent behind the ballots came back as a `command` event (the
//! notifications of one connection are read in order, so every ballot before it was counted).

use std::time::{Duration, SystemTime};

use e2e::bot::{BotProcess, Launch};
use e2e::mock_eventsub::{MockEventSub, MockEventSubOptions, MockState, chat_event, rfc3339};
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(20);
/// A missed keepalive takes 10 s (the smallest keepalive Twitch allows) + the 5 s margin to notice.
const KEEPALIVE_T: Duration = Duration::from_secs(45);

const CHANNEL: &str = "streamer";
const CHANNEL_ID: &str = "1971641";
const OTHER: &str = "otherchan";
const OTHER_ID: &str = "2000";
const TOKEN_ENV: &str = "E2E_EVENTSUB_TOKEN";
const OPTIONS: [&str; 8] = ["up", "down", "left", "right", "a", "b", "start", "select"];

/// The mock's account, which is also the bot's nick.
fn opts() -> MockEventSubOptions {
    MockEventSubOptions {
        users: vec![
            (CHANNEL.into(), CHANNEL_ID.into()),
            (OTHER.into(), OTHER_ID.into()),
        ],
        reconnect_grace: Duration::from_secs(3),
        ..MockEventSubOptions::default()
    }
}

fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// The bot's config for `mock`: EventSub transport, the vote `move` (by command, `window_secs`, announce),
/// the `sync` command (`!sync`, no cooldown), `extra` appended to `[twitch]`.
fn config(mock: &MockEventSub, channel: &str, window_secs: f64, extra: &str) -> String {
    let o = mock.options();
    format!(
        "[connection]\ntransport = \"eventsub\"\nca_file = {ca}\nnick = {nick}\ntoken_env = {TOKEN_ENV:?}\n\
         channels = [{channel:?}]\n\n[auth]\nclient_id = {client}\n\n[twitch]\napi_url = {api}\n\
         eventsub_url = {ws}\n# loopback, refused: the hourly validation never leaves the machine\n\
         id_url = \"https://127.0.0.1:9/oauth2\"\n{extra}\n\n\
         [[vote]]\nname = \"move\"\noptions = {options}\nwindow_secs = {window_secs:?}\nstart = \"command\"\n\
         announce = true\n\n[[command]]\nname = \"sync\"\nkeywords = [\"!sync\"]\ncooldown_secs = 0.0\n",
        ca = q(&mock.ca_file().display().to_string()),
        nick = q(&o.user_login),
        client = q(&o.client_id),
        api = q(&mock.api_url()),
        ws = q(&mock.ws_url()),
        options = serde_json::to_string(&OPTIONS).unwrap(),
    )
}

async fn launch(mock: &MockEventSub, config_text: String, log: &str) -> BotProcess {
    BotProcess::launch(Launch {
        config_text: Some(config_text),
        env: vec![
            (TOKEN_ENV.into(), mock.options().token.clone()),
            ("RUST_LOG".into(), log.into()),
        ],
        ..Launch::default()
    })
    .await
    .expect("spawn bot")
}

/// Starts the mock and the bot, and waits until the bot has joined `CHANNEL` (its `channel.chat.message`
/// subscription exists) and all four chat subscriptions are enabled.
async fn start(window_secs: f64, log: &str) -> (MockEventSub, BotProcess) {
    let mock = MockEventSub::start(opts()).await.expect("mock");
    let mut bot = launch(&mock, config(&mock, CHANNEL, window_secs, ""), log).await;
    bot.wait_type("joined", T, |e| e["channel"] == CHANNEL)
        .await
        .unwrap_or_else(|e| panic!("joined: {e}\n{}", bot.stderr()));
    mock.wait_until("4 chat subscriptions", T, |s| s.enabled().count() == 4)
        .await
        .unwrap();
    (mock, bot)
}

async fn op(bot: &mut BotProcess, v: Value) {
    bot.send_op(&v).await.expect("write to the bot's stdin");
}

/// A chat notification from `user` (`uid`) with `text`, and its message id.
fn say(mock: &MockEventSub, user: &str, uid: &str, text: &str, id: &str) -> Vec<(u64, String)> {
    let sent = mock.notify(
        "channel.chat.message",
        chat_event((CHANNEL_ID, CHANNEL), (uid, user), text, id),
    );
    assert!(!sent.is_empty(), "no connection had the chat subscription");
    sent
}

fn id(n: u32) -> String {
    format!("a0000000-0000-4000-8000-{n:012}")
}

/// `!sync` from a viewer, then waits for its `command` event: every notification before it was read.
async fn sync(mock: &MockEventSub, bot: &mut BotProcess, n: u32) {
    say(mock, "syncer", "999", "!sync", &id(900_000 + n));
    bot.wait_type("command", T, |e| {
        e["command"] == "sync" && e["user_id"] == "999"
    })
    .await
    .unwrap_or_else(|e| panic!("sync {n}: {e}\n{}", bot.stderr()));
}

async fn open_round(bot: &mut BotProcess) {
    op(bot, json!({"op": "start_vote", "vote": "move"})).await;
    bot.wait_type("vote_opened", T, |e| e["vote"] == "move")
        .await
        .expect("vote_opened");
}

async fn close_round(bot: &mut BotProcess) -> Value {
    op(bot, json!({"op": "stop_vote", "vote": "move"})).await;
    bot.wait_type("vote_closed", T, |e| e["vote"] == "move")
        .await
        .expect("vote_closed")
}

fn posts(s: &MockState, kind: &str) -> usize {
    s.requests_to("POST", "/eventsub/subscriptions")
        .iter()
        .filter(|r| r.body.contains(&format!("\"type\":\"{kind}\"")))
        .count()
}

/// No stdout line that is not JSON, and the token nowhere in stdout or stderr.
fn assert_clean(mock: &MockEventSub, bot: &BotProcess) {
    let token = &mock.options().token;
    for e in bot.events() {
        assert_ne!(
            e["type"], "__not_json__",
            "stdout carried a non-JSON line: {e}"
        );
        assert!(
            !e.to_string().contains(token.as_str()),
            "the token leaked to stdout: {e}"
        );
    }
    let stderr = bot.stderr();
    assert!(
        !stderr.contains(token.as_str()),
        "the token leaked to stderr:\n{stderr}"
    );
    // Not even in pieces (a log line that cut it).
    for piece in token.as_bytes().chunks(10).filter(|c| c.len() == 10) {
        let piece = std::str::from_utf8(piece).unwrap();
        assert!(
            !stderr.contains(piece),
            "a piece of the token ({piece}) leaked to stderr"
        );
    }
}

/// The ballots of the IRC e2e's `democracy_round_with_tricky_ballots`, over EventSub, with the same tally;
/// plus a notification delivered twice (counted once), one older than 10 minutes (ignored), and the
/// winner's announcement sent through `POST /chat/messages`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_round_same_tally_as_irc() {
    let (mock, mut bot) = start(60.0, "info").await;
    open_round(&mut bot).await;
    let frank_left = id(106);
    for (user, uid, text, n) in [
        ("alice", "101", "UP", 101),                   // wrong case -> up
        ("bob", "102", "+down", 102),                  // `+` prefix -> down
        ("carol", "103", "!vote left", 103),           // `!vote x` -> left
        ("dave", "104", " up \u{E0000}\u{200B}", 104), // invisible padding -> up
        ("erin", "105", "down", 105),                  // changes her vote below
        ("frank", "106", "left", 106),                 // replayed below after a change
        ("grace", "107", "a", 107),                    // timed out below
        ("heidi", "108", "b", 108),                    // message deleted below
        ("mockbot", "900001", "select", 109),          // the bot's own message
        ("ivan", "109", "hello everyone", 110),        // not a ballot
        ("ivan", "109", "upup", 111),                  // not a ballot
        ("ivan", "109", "sideways", 112),              // not an option
        ("judy", "110", "Start", 113),                 // -> start
    ] {
        say(&mock, user, uid, text, &id(n));
    }
    let erin_down = mock
        .state()
        .conn(1)
        .map(|c| c.sent.clone())
        .unwrap_or_default();
    let erin_down: Vec<(u64, String)> = erin_down
        .into_iter()
        .filter(|f| f.contains(&id(105)))
        .map(|f| (1, f))
        .collect();
    assert_eq!(erin_down.len(), 1);
    let conn = 1;
    // A message older than 10 minutes: ignored.
    let old = json!({
        "metadata": {"message_id": "old-1", "message_type": "notification",
            "message_timestamp": rfc3339(SystemTime::now() - Duration::from_secs(11 * 60)),
            "subscription_type": "channel.chat.message", "subscription_version": "1"},
        "payload": {"subscription": {"id": "x", "status": "enabled", "type": "channel.chat.message",
            "version": "1", "cost": 0, "condition": {"broadcaster_user_id": CHANNEL_ID, "user_id": "900001"},
            "transport": {"method": "websocket", "session_id": "s"}, "created_at": rfc3339(SystemTime::now())},
            "event": chat_event((CHANNEL_ID, CHANNEL), ("112", "stale"), "right", &id(115))},
    });
    mock.send_raw(conn, &old.to_string()).unwrap();
    say(&mock, "erin", "105", "up", &id(116)); // last vote wins -> up
    // Erin's first frame ("down") delivered again by Twitch (same metadata.message_id): counted once, so
    // her ballot stays `up`.
    mock.send_raw(conn, &erin_down[0].1).unwrap();
    say(&mock, "frank", "106", "right", &id(117)); // frank changes to right ...
    say(&mock, "frank", "106", "left", &frank_left); // ... his old `left` replayed: counts once
    mock.notify(
        "channel.chat.clear_user_messages",
        json!({"broadcaster_user_id": CHANNEL_ID, "broadcaster_user_login": CHANNEL,
            "broadcaster_user_name": CHANNEL, "target_user_id": "107", "target_user_login": "grace",
            "target_user_name": "grace"}),
    );
    mock.notify(
        "channel.chat.message_delete",
        json!({"broadcaster_user_id": CHANNEL_ID, "broadcaster_user_login": CHANNEL,
            "broadcaster_user_name": CHANNEL, "target_user_id": "108", "target_user_login": "heidi",
            "target_user_name": "heidi", "message_id": id(108)}),
    );
    sync(&mock, &mut bot, 1).await;
    let closed = close_round(&mut bot).await;
    // The IRC test's tally.
    assert_eq!(
        closed["tally"],
        json!({"up": 3, "down": 1, "left": 1, "right": 1, "start": 1}),
        "{closed}"
    );
    assert_eq!(closed["voters"], 7, "{closed}");
    assert_eq!(closed["winner"], "up", "{closed}");
    // announce = true: the winner goes out through Helix, once.
    let s = mock
        .wait_until("the announcement", T, |s| !s.chat.is_empty())
        .await
        .unwrap();
    assert_eq!(s.chat.len(), 1, "{:?}", s.chat);
    assert_eq!(s.chat[0].0, CHANNEL_ID);
    assert!(s.chat[0].1.to_lowercase().contains("up"), "{:?}", s.chat);
    assert_eq!(posts(&s, "channel.chat.message"), 1);
    assert_clean(&mock, &bot);
}

/// `session_reconnect` in the middle of a round: the bot opens the reconnect URL beside the old link, the
/// new link takes over without a new subscription, a notification delivered on both links counts once, and
/// every ballot before, during and after counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_reconnect_mid_round_loses_nothing_and_does_not_resubscribe() {
    let (mock, mut bot) = start(60.0, "info").await;
    open_round(&mut bot).await;
    say(&mock, "alice", "101", "up", &id(1));
    say(&mock, "bob", "102", "down", &id(2));
    sync(&mock, &mut bot, 1).await;
    let before = mock.state();
    let subscribed = before.requests_to("POST", "/eventsub/subscriptions").len();
    assert_eq!(subscribed, 4);
    mock.send_reconnect(1).unwrap();
    bot.wait_type("reconnecting", T, |e| e["attempt"] == 0)
        .await
        .expect("reconnecting with attempt 0");
    // The new connection is open and delivers for the same session.
    let s = mock
        .wait_until("the reconnect connection", T, |s| {
            s.conn(2).is_some_and(|c| c.open) && s.session_conn.values().any(|&c| c == 2)
        })
        .await
        .unwrap();
    assert_eq!(s.conn(2).unwrap().session_id, s.conn(1).unwrap().session_id);
    // Carol's ballot on the new link, and the same frame again on the old one (while it is still open, the
    // way Twitch may deliver around a switch): counted once.
    let carol = say(&mock, "carol", "103", "left", &id(3));
    assert_eq!(carol[0].0, 2);
    let _ = mock.send_raw(1, &carol[0].1);
    say(&mock, "dave", "104", "right", &id(4));
    sync(&mock, &mut bot, 2).await;
    let closed = close_round(&mut bot).await;
    assert_eq!(
        closed["tally"],
        json!({"up": 1, "down": 1, "left": 1, "right": 1}),
        "{closed}"
    );
    assert_eq!(closed["voters"], 4, "{closed}");
    // The bot closed the old link itself (1000) once the new one was welcomed, and made no subscription.
    let s = mock
        .wait_until("the old link closed", T, |s| {
            s.conn(1).is_some_and(|c| !c.open)
        })
        .await
        .unwrap();
    assert_eq!(s.conn(1).unwrap().close_code, Some(1000), "{:?}", s.conn(1));
    assert_eq!(
        s.requests_to("POST", "/eventsub/subscriptions").len(),
        subscribed
    );
    assert!(
        !bot.events().iter().any(|e| e["type"] == "disconnected"),
        "a switch is not a disconnection"
    );
    assert_clean(&mock, &bot);
}

/// No keepalive for keepalive_timeout_seconds + margin: the bot gives the link up, reconnects to the
/// configured URL and subscribes again; the open round keeps its ballots.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_keepalive_reconnects_and_resubscribes() {
    let (mock, mut bot) = start(120.0, "info").await;
    open_round(&mut bot).await;
    say(&mock, "alice", "101", "up", &id(1));
    sync(&mock, &mut bot, 1).await;
    mock.set_keepalives(false);
    let lost = bot
        .wait_type("disconnected", KEEPALIVE_T, |_| true)
        .await
        .expect("the silent link is given up");
    assert!(
        lost["reason"].as_str().unwrap().contains("keepalive"),
        "{lost}"
    );
    mock.set_keepalives(true);
    bot.wait_type("connected", KEEPALIVE_T, |_| true)
        .await
        .expect("connected again");
    let s = mock
        .wait_until("subscribed again", T, |s| {
            s.enabled().count() == 4
                && s.enabled()
                    .all(|sub| s.session_conn.contains_key(&sub.session_id))
        })
        .await
        .unwrap();
    assert_eq!(posts(&s, "channel.chat.message"), 2, "one per session");
    assert!(
        s.conn(2).is_some_and(|c| !c.uri.contains("reconnect=")),
        "a fresh connection"
    );
    say(&mock, "bob", "102", "down", &id(2));
    say(&mock, "alice", "101", "up", &id(1)); // replayed after the reconnect: counts once
    sync(&mock, &mut bot, 2).await;
    let closed = close_round(&mut bot).await;
    assert_eq!(closed["tally"], json!({"up": 1, "down": 1}), "{closed}");
    assert_clean(&mock, &bot);
}

/// A revocation is an event. `authorization_revoked` is final: not asked for again; a status where asking
/// again can help is retried once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_are_events_and_authorization_revoked_is_not_retried() {
    let (mock, mut bot) = start(60.0, "info").await;
    assert_eq!(
        mock.revoke("channel.chat.message", "authorization_revoked"),
        1
    );
    let ev = bot
        .wait_type("error", T, |e| e["kind"] == "revoked")
        .await
        .expect("a revoked event");
    let message = ev["message"].as_str().unwrap();
    assert!(
        message.contains("channel.chat.message") && message.contains("authorization_revoked"),
        "{ev}"
    );
    assert!(message.contains("not subscribing again"), "{ev}");
    // A retryable status on another type: asked for once more (and that request shows the bot has acted on
    // the earlier revocation, which came first on the same connection).
    assert_eq!(mock.revoke("channel.chat.clear", "beta_maintenance"), 1);
    let ev = bot
        .wait_type("error", T, |e| {
            e["kind"] == "revoked"
                && e["message"]
                    .as_str()
                    .unwrap()
                    .contains("channel.chat.clear")
        })
        .await
        .unwrap();
    assert!(
        ev["message"]
            .as_str()
            .unwrap()
            .contains("subscribing again once"),
        "{ev}"
    );
    let s = mock
        .wait_until("channel.chat.clear subscribed again", T, |s| {
            posts(s, "channel.chat.clear") == 2
        })
        .await
        .unwrap();
    assert_eq!(
        posts(&s, "channel.chat.message"),
        1,
        "authorization_revoked is final"
    );
    assert_clean(&mock, &bot);
}

/// Redemptions asked for with a token that lacks `channel:read:redemptions`: a clear error naming the
/// scope, not retried, and chat keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_refused_for_a_missing_scope_names_the_scope() {
    let mock = MockEventSub::start(opts()).await.expect("mock");
    let own = mock.options().user_login.clone();
    let mut bot = launch(
        &mock,
        config(&mock, &own, 60.0, "eventsub_redemptions = true"),
        "info",
    )
    .await;
    let ev = bot
        .wait_type("error", T, |e| e["kind"] == "subscription")
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", bot.stderr()));
    let message = ev["message"].as_str().unwrap();
    assert!(message.contains("channel:read:redemptions"), "{ev}");
    assert!(message.contains("403"), "{ev}");
    bot.wait_type("joined", T, |e| e["channel"] == own.as_str())
        .await
        .unwrap();
    let s = mock
        .wait_until("chat subscribed", T, |s| s.enabled().count() == 4)
        .await
        .unwrap();
    assert_eq!(
        posts(&s, "channel.channel_points_custom_reward_redemption.add"),
        1,
        "not retried"
    );
    assert_clean(&mock, &bot);
}

/// `say` goes out through `POST /chat/messages` behind the IRC rate limiter (1 s between messages of one
/// channel for a non-moderator), in order; `is_sent: false` becomes a `chat_dropped` error with Twitch's
/// code and message. At RUST_LOG=trace the token appears nowhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn say_is_paced_and_dropped_messages_are_events_and_trace_logs_hold_no_token() {
    let (mock, mut bot) = start(60.0, "trace").await;
    for i in 1..=3 {
        op(
            &mut bot,
            json!({"op": "say", "channel": CHANNEL, "text": format!("message {i}")}),
        )
        .await;
        bot.wait_type("chat_queued", T, |_| true).await.unwrap();
    }
    let s = mock
        .wait_until("3 messages", T, |s| s.chat.len() == 3)
        .await
        .unwrap();
    let texts: Vec<&str> = s.chat.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(texts, ["message 1", "message 2", "message 3"]);
    let sent: Vec<_> = s
        .requests_to("POST", "/chat/messages")
        .iter()
        .map(|r| r.at)
        .collect();
    for w in sent.windows(2) {
        let gap = w[1].duration_since(w[0]);
        assert!(
            gap >= Duration::from_secs(1),
            "two messages {gap:?} apart in one channel"
        );
    }
    mock.drop_next_chat(
        "msg_rejected",
        "Your message is being checked by mods and has not been sent.",
    );
    op(
        &mut bot,
        json!({"op": "say", "channel": CHANNEL, "text": "held"}),
    )
    .await;
    let ev = bot
        .wait_type("error", T, |e| e["kind"] == "chat_dropped")
        .await
        .expect("chat_dropped");
    let message = ev["message"].as_str().unwrap();
    assert!(
        message.contains("msg_rejected") && message.contains("checked by mods"),
        "{ev}"
    );
    // The trace output exists (so the check below means something) and holds no token.
    bot.signal(libc::SIGTERM).unwrap();
    bot.wait_exit(T).await.unwrap();
    let stderr = bot.stderr();
    assert!(
        stderr.contains("TRACE"),
        "no trace output:\n{}",
        &stderr[..stderr.len().min(2000)]
    );
    assert_clean(&mock, &bot);
}

/// `join` creates the channel's subscriptions (then `joined`), and its chat counts; `part` deletes the
/// other channel's subscriptions (then `parted`); an unknown login is a clear error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_and_part_create_and_delete_the_channels_subscriptions() {
    let (mock, mut bot) = start(60.0, "info").await;
    op(&mut bot, json!({"op": "join", "channel": "#OtherChan"})).await;
    bot.wait_type("joined", T, |e| e["channel"] == OTHER)
        .await
        .expect("joined");
    mock.wait_until("8 subscriptions", T, |s| s.enabled().count() == 8)
        .await
        .unwrap();
    open_round(&mut bot).await;
    let event = chat_event((OTHER_ID, OTHER), ("301", "olga"), "down", &id(301));
    assert_eq!(mock.notify("channel.chat.message", event).len(), 1);
    op(&mut bot, json!({"op": "part", "channel": CHANNEL})).await;
    bot.wait_type("parted", T, |e| e["channel"] == CHANNEL)
        .await
        .expect("parted");
    let s = mock
        .wait_until("the channel's 4 subscriptions deleted", T, |s| {
            s.requests_to("DELETE", "/eventsub/subscriptions").len() == 4
        })
        .await
        .unwrap();
    assert!(
        s.subscriptions
            .iter()
            .all(|sub| sub.condition["broadcaster_user_id"] == OTHER_ID)
    );
    op(&mut bot, json!({"op": "join", "channel": "nobody_here"})).await;
    let ev = bot
        .wait_type("error", T, |e| e["kind"] == "join")
        .await
        .expect("unknown login");
    assert!(
        ev["message"].as_str().unwrap().contains("nobody_here"),
        "{ev}"
    );
    // The sync barrier on the channel still read.
    let event = chat_event((OTHER_ID, OTHER), ("999", "syncer"), "!sync", &id(302));
    mock.notify("channel.chat.message", event);
    bot.wait_type("command", T, |e| e["command"] == "sync")
        .await
        .unwrap();
    let closed = close_round(&mut bot).await;
    assert_eq!(closed["tally"], json!({"down": 1}), "{closed}");
    assert_clean(&mock, &bot);
}
