//! End-to-end: channel-points redemptions, cheers and shared chat over IRC. The real `twitch_bot`
//! binary against the mock Twitch server, which sends PRIVMSGs with Twitch's `custom-reward-id`,
//! `bits` and `source-room-id` tags; asserted on through the JSON events on stdout.

use std::time::Duration;

use e2e::bot::{BotConfig, BotProcess, Launch, bot_binary};
use e2e::mock_twitch::{Chat, MockOptions, MockTwitch, irc_command, irc_params, room_id};
use serde_json::{Value, json};

/// Failure guard for anything that should happen promptly.
const T: Duration = Duration::from_secs(15);

const CHANNEL: &str = "playroom";
const NICK: &str = "e2e_bot";
const TOKEN_ENV: &str = "E2E_TWITCH_TOKEN";
const TOKEN: &str = "oauth:e2egoodtoken123";

/// The reward ids, as Twitch spells them (UUIDs).
const MOVE_REWARD: &str = "5d5a0bd6-0d3c-4d3b-9b1a-2f1c1e7c0a01";
const HYDRATE_REWARD: &str = "9b8e7f60-1a2b-4c3d-8e9f-0a1b2c3d4e02";

/// The votes, commands and rewards under test, after the connection table `BotConfig` writes.
fn tables() -> String {
    format!(
        r#"
[[vote]]
name = "move"
options = ["up", "down", "left"]
start = "command"
window_secs = 600.0
announce = false
bits_per_vote = 100
max_weight_per_user = 3

[[command]]
name = "jump"
keywords = ["!jump"]

[[reward]]
id = "{MOVE_REWARD}"
vote = "move"

[[reward]]
id = "{HYDRATE_REWARD}"

[[reward]]
title = "Only By Title"
"#
    )
}

async fn start() -> (MockTwitch, BotProcess) {
    let server = MockTwitch::start(MockOptions::default())
        .await
        .expect("mock server");
    let mut base = BotConfig::new(&server.url(), &[CHANNEL]).login(NICK, TOKEN_ENV);
    if let Some(ca) = server.ca_file() {
        base = base.ca_file(ca);
    }
    let mut bot = BotProcess::launch(Launch {
        env: vec![(TOKEN_ENV.into(), TOKEN.into())],
        config_text: Some(base.to_toml() + &tables()),
        ..Launch::default()
    })
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

async fn op(bot: &mut BotProcess, v: Value) {
    bot.send_op(&v).await.expect("write to the bot's stdin");
}

/// Sends PING :token and waits for the bot's PONG: everything sent before has been handled.
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

fn c(user: &str, uid: &str, text: &str) -> Chat {
    Chat::new(CHANNEL, user, uid, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redemptions_cheers_and_shared_chat_over_irc() {
    let (server, mut bot) = start().await;
    op(&mut bot, json!({"op": "start_vote", "vote": "move"})).await;
    bot.wait_type("vote_opened", T, |e| e["vote"] == "move")
        .await
        .expect("vote_opened after start_vote");

    let carol = c("carol", "103", "LEFT")
        .id("c0000000-0000-4000-8000-000000000103")
        .tag("custom-reward-id", MOVE_REWARD);
    let other_room = "999";
    assert_ne!(other_room, room_id(CHANNEL).to_string());
    server
        .send_chats(vec![
            c("alice", "101", "up"),
            // 500 bits: 1 + 5, capped at 3.
            c("bob", "102", "Cheer500 down").tag("bits", "500"),
            // A redemption of the `move` reward: a ballot for left, and its event ...
            carol.clone(),
            // ... delivered again (a replay): counted once.
            carol,
            // A redemption of an event-only reward: not also a command.
            c("dave", "104", "!jump").tag("custom-reward-id", HYDRATE_REWARD),
            // A reward no [[reward]] names: ordinary chat, a ballot.
            c("erin", "105", "up").tag("custom-reward-id", "00000000-dead-4bee-8000-000000000000"),
            // Shared chat from another channel: no ballot, no command.
            c("frank", "106", "left").tag("source-room-id", other_room),
            c("frank", "106", "!jump").tag("source-room-id", other_room),
            // The channel's own message in a shared session names itself: counts.
            c("hank", "108", "down").tag("source-room-id", &room_id(CHANNEL).to_string()),
            // A cheer without a ballot is kept for the round ...
            c("gina", "107", "Cheer100").tag("bits", "100"),
        ])
        .await
        .unwrap();
    server
        .send_chats(vec![
            // ... and weighs her ballot when it comes; a later cheer raises it: 200 bits, 3.
            c("gina", "107", "left"),
            c("gina", "107", "cheer50 Cheer50 gg").tag("bits", "100"),
        ])
        .await
        .unwrap();
    sync(&server, "after-chat").await;

    op(&mut bot, json!({"op": "tally", "vote": "move"})).await;
    let live = bot
        .wait_type("tally", T, |e| e["vote"] == "move")
        .await
        .expect("a tally answers the op");
    assert_eq!(
        live["weighted"],
        json!({"up": 2, "down": 4, "left": 4}),
        "{live}"
    );

    op(&mut bot, json!({"op": "stop_vote", "vote": "move"})).await;
    let closed = bot
        .wait_type("vote_closed", T, |e| e["vote"] == "move")
        .await
        .expect("vote_closed after stop_vote");
    // Ballots: up alice, erin; down bob, hank; left carol, gina. Weights: bob 3, gina 3.
    assert_eq!(
        closed["tally"],
        json!({"up": 2, "down": 2, "left": 2}),
        "{closed}"
    );
    assert_eq!(
        closed["weighted"],
        json!({"up": 2, "down": 4, "left": 4}),
        "{closed}"
    );
    assert_eq!(closed["voters"], 6, "{closed}");
    // A tie on the weighted totals goes to the option listed first.
    assert_eq!(closed["winner"], "down", "{closed}");

    let events = bot.events();
    let redemptions: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "redemption")
        .collect();
    assert_eq!(
        redemptions,
        [
            &json!({"type": "redemption", "channel": CHANNEL, "user": "carol", "user_id": "103",
                    "reward": MOVE_REWARD, "reward_id": MOVE_REWARD, "input": "LEFT"}),
            &json!({"type": "redemption", "channel": CHANNEL, "user": "dave", "user_id": "104",
                    "reward": HYDRATE_REWARD, "reward_id": HYDRATE_REWARD, "input": "!jump"}),
        ],
        "{events:#?}"
    );
    assert!(
        !events.iter().any(|e| e["type"] == "command"),
        "neither the redemption nor shared chat ran a command: {events:#?}"
    );
    for e in &events {
        assert!(
            !e.to_string().contains("e2egoodtoken123"),
            "the token leaked: {e}"
        );
    }
    // The unknown reward's id is logged once, so that the streamer can configure it.
    // (stderr is read by its own task: wait for the line, bounded by the failure guard.)
    let deadline = std::time::Instant::now() + T;
    while !bot
        .stderr()
        .contains("00000000-dead-4bee-8000-000000000000")
    {
        assert!(std::time::Instant::now() < deadline, "{}", bot.stderr());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Weights and shapes reset with the next round; an unweighted shape is unchanged elsewhere.
    op(&mut bot, json!({"op": "start_vote", "vote": "move"})).await;
    bot.wait_type("vote_opened", T, |e| e["round"] == 2)
        .await
        .unwrap();
    server
        .send_chats(vec![c("bob", "102", "down")])
        .await
        .unwrap();
    sync(&server, "round-2").await;
    op(&mut bot, json!({"op": "stop_vote", "vote": "move"})).await;
    let closed = bot
        .wait_type("vote_closed", T, |e| e["round"] == 2)
        .await
        .unwrap();
    assert_eq!(closed["weighted"], json!({"down": 1}), "{closed}");
}

#[test]
fn check_warns_about_title_only_rewards_over_irc() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bot.toml");
    let base = BotConfig::new("wss://irc-ws.chat.twitch.tv:443", &[CHANNEL]);
    std::fs::write(&path, base.to_toml() + &tables()).unwrap();
    let out = std::process::Command::new(bot_binary())
        .arg("--config")
        .arg(&path)
        .arg("--check")
        .output()
        .expect("run twitch_bot --check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("rewards: 3 ["), "{stdout}");
    let warnings: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stdout}");
    assert!(
        warnings[0].contains("title \"Only By Title\"") && warnings[0].contains("IRC"),
        "{stdout}"
    );
}
