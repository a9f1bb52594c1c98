//! The OAuth token never reaches the bot's output: not stdout, not stderr at any log level (every target at
//! `trace`, dependencies' output included: tungstenite traces each frame it sends, the `PASS` line too), not
//! an error message, not `--check`'s summary. Each test uses a fresh token shaped like Twitch's, so finding
//! it (or a piece of it) anywhere can only be a leak.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use e2e::bot::{BotConfig, BotProcess, CommandSpec, Launch, VoteSpec};
use e2e::mock_twitch::{MockOptions, MockTwitch, irc_command};
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(15);
const CHANNEL: &str = "playroom";
const NICK: &str = "e2e_bot";
const TOKEN_ENV: &str = "TWITCH_OAUTH_TOKEN";

/// A token like Twitch's user access tokens (30 of `a-z0-9`), different in every run.
fn fresh_token() -> String {
    let mut token = String::new();
    while token.len() < 30 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        token.push_str(&format!("{:016x}", h.finish()));
    }
    token.truncate(30);
    token
}

/// Where `token`, or a 10-character piece of it (its start, middle or end), appears in `text`.
fn leak(text: &str, token: &str) -> Option<String> {
    let pieces = [token, &token[..10], &token[10..20], &token[20..]];
    pieces.iter().find_map(|p| {
        text.find(p).map(|at| {
            let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
            let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
            format!("`{p}` in: {}", &text[line_start..line_end])
        })
    })
}

/// Neither the bot's stdout nor its stderr holds the token or a piece of it.
fn assert_no_leak(bot: &BotProcess, token: &str) {
    let stdout: String = bot.events().iter().map(|e| format!("{e}\n")).collect();
    if let Some(l) = leak(&stdout, token) {
        panic!("the token leaked to stdout: {l}");
    }
    if let Some(l) = leak(&bot.stderr(), token) {
        panic!("the token leaked to stderr: {l}");
    }
}

/// Logs in with the token, joins, votes, runs a command and says something, all with `RUST_LOG=trace`
/// (every target) and `--log-level trace`; then stops with SIGTERM and checks both outputs.
async fn full_session_at_trace(tls: bool) {
    let token = fresh_token();
    let server = MockTwitch::start(MockOptions {
        tls,
        ..MockOptions::default()
    })
    .await
    .unwrap();
    let mut cfg = BotConfig::new(&server.url(), &[CHANNEL])
        .login(NICK, TOKEN_ENV)
        .vote(VoteSpec {
            window_secs: 120.0,
            ..VoteSpec::democracy("move", &["up", "down"])
        })
        .command(CommandSpec::new("jump", &["!jump"], 0.0, false));
    if let Some(ca) = server.ca_file() {
        cfg = cfg.ca_file(ca);
    }
    let mut bot = BotProcess::launch(Launch {
        config_text: Some(cfg.to_toml()),
        args: vec!["--log-level".into(), "trace".into()],
        env: vec![
            ("RUST_LOG".into(), "trace".into()),
            (TOKEN_ENV.into(), format!("oauth:{token}")),
        ],
        ..Launch::default()
    })
    .await
    .unwrap();
    bot.wait_type("joined", T, |e| e["channel"] == CHANNEL)
        .await
        .expect("the bot logs in and joins");
    // The token did reach the server (so it went through the code paths that could log it).
    let pass: Vec<String> = server
        .lines()
        .into_iter()
        .filter(|(_, _, l)| irc_command(l) == "PASS")
        .map(|(_, _, l)| l)
        .collect();
    assert_eq!(pass, [format!("PASS oauth:{token}")]);

    bot.send_op(&json!({"op": "start_vote", "vote": "move"}))
        .await
        .unwrap();
    bot.wait_type("vote_opened", T, |_| true).await.unwrap();
    server
        .send_chat(CHANNEL, "alice", "101", "up")
        .await
        .unwrap();
    server
        .send_chat(CHANNEL, "bob", "102", "!jump")
        .await
        .unwrap();
    bot.wait_type("command", T, |_| true).await.unwrap();
    bot.send_op(&json!({"op": "say", "channel": CHANNEL, "text": "hello chat"}))
        .await
        .unwrap();
    server
        .wait_for_line(|l| l.ends_with(":hello chat"), T)
        .await
        .expect("the say goes out");
    bot.send_op(&json!({"op": "stop_vote", "vote": "move"}))
        .await
        .unwrap();
    let closed: Value = bot.wait_type("vote_closed", T, |_| true).await.unwrap();
    assert_eq!(closed["winner"], "up", "{closed}");
    bot.signal(libc::SIGTERM).unwrap();
    let status = bot.wait_exit(T).await.unwrap();
    assert!(status.success(), "stderr tail:\n{}", tail(&bot.stderr()));

    // The test can fail: trace output was there, the PASS frame among it (blanked).
    let err = bot.stderr();
    assert!(
        err.contains("TRACE") && err.contains("Sending frame"),
        "no dependency trace output on stderr:\n{}",
        tail(&err)
    );
    assert_no_leak(&bot, &token);
    assert!(
        err.contains("PASS oauth:***"),
        "the PASS frame was not traced (blanked):\n{}",
        tail(&err)
    );
}

fn tail(text: &str) -> &str {
    let cut = text.len().saturating_sub(4000);
    let cut = (cut..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    &text[cut..]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_never_appears_at_trace_over_ws() {
    full_session_at_trace(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_never_appears_at_trace_over_wss() {
    full_session_at_trace(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_is_not_quoted_in_the_error() {
    let token = fresh_token();
    let server = MockTwitch::start(MockOptions {
        bad_token: Some(token.clone()),
        ..MockOptions::default()
    })
    .await
    .unwrap();
    let cfg = BotConfig::new(&server.url(), &[CHANNEL]).login(NICK, TOKEN_ENV);
    let mut bot = BotProcess::launch(Launch {
        config_text: Some(cfg.to_toml()),
        args: vec!["--log-level".into(), "trace".into()],
        env: vec![
            ("RUST_LOG".into(), "trace".into()),
            (TOKEN_ENV.into(), format!("oauth:{token}")),
        ],
        ..Launch::default()
    })
    .await
    .unwrap();
    let status = bot.wait_exit(T).await.unwrap();
    assert_eq!(status.code(), Some(2), "{}", tail(&bot.stderr()));
    assert!(
        bot.stderr().contains("authentication failed"),
        "{}",
        tail(&bot.stderr())
    );
    assert!(
        bot.events().iter().any(|e| e["type"] == "error"),
        "an auth_failed error event"
    );
    assert_no_leak(&bot, &token);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_and_config_errors_never_print_the_token() {
    let token = fresh_token();
    let server = MockTwitch::start(MockOptions::default()).await.unwrap();
    let cfg = BotConfig::new(&server.url(), &[CHANNEL]).login(NICK, TOKEN_ENV);
    // --check with the token set: the summary names the variable, never its value.
    let mut bot = BotProcess::launch(Launch {
        config_text: Some(cfg.to_toml()),
        args: vec!["--check".into(), "--log-level".into(), "trace".into()],
        env: vec![
            ("RUST_LOG".into(), "trace".into()),
            (TOKEN_ENV.into(), format!("oauth:{token}")),
        ],
        ..Launch::default()
    })
    .await
    .unwrap();
    let status = bot.wait_exit(T).await.unwrap();
    assert!(status.success(), "{}", bot.stderr());
    assert_no_leak(&bot, &token);

    // The token pasted into the config file (a common mistake): refused, and not quoted back.
    let text = cfg.to_toml().replacen(
        "[connection]\n",
        &format!("[connection]\ntoken = \"oauth:{token}\"\n"),
        1,
    );
    assert!(text.contains(&token), "the config holds the token:\n{text}");
    for args in [vec![], vec!["--check".to_string()]] {
        let mut bot = BotProcess::launch(Launch {
            config_text: Some(text.clone()),
            args,
            env: vec![("RUST_LOG".into(), "trace".into())],
            ..Launch::default()
        })
        .await
        .unwrap();
        let status = bot.wait_exit(T).await.unwrap();
        assert_eq!(status.code(), Some(1), "{}", bot.stderr());
        assert!(bot.stderr().contains("token"), "{}", bot.stderr());
        assert_no_leak(&bot, &token);
    }
    assert!(server.connections().is_empty());
}
