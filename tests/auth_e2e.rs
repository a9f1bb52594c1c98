//! End-to-end tests of the Twitch account lifecycle: `twitch_bot login` (device code flow), the token
//! store, refresh while running, revocation, and the store's refusals, against the mock identity server
//! (`support/mock_id.rs`, HTTPS with a test CA) and the mock chat server, which accepts only tokens that
//! are valid at the identity server at the moment of the login.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use e2e::bot::{BotConfig, BotProcess, Launch, VoteSpec};
use e2e::mock_id::{IdOptions, MockId};
use e2e::mock_twitch::{MockOptions, MockTwitch, irc_command, irc_params};
use serde_json::{Value, json};

/// Failure guard for anything that should happen promptly.
const T: Duration = Duration::from_secs(20);
const CHANNEL: &str = "authroom";

/// The `[auth]` and `[twitch]` tables for `id`, with the token file at `token_file`.
fn auth_toml(id: &MockId, token_file: &Path) -> String {
    format!(
        "\n[auth]\nclient_id = \"{}\"\ntoken_file = {}\n\n[twitch]\nid_url = \"{}\"\n",
        id.client_id(),
        serde_json::to_string(&token_file.display().to_string()).unwrap(),
        id.id_url()
    )
}

/// A config for a bot without a chat server of interest (login, whoami, logout, refusals).
fn account_config(id: &MockId, token_file: &Path) -> String {
    BotConfig::new("ws://127.0.0.1:9", &[CHANNEL])
        .ca_file(id.ca_file())
        .to_toml()
        + &auth_toml(id, token_file)
}

/// Writes a token file the way `twitch_bot login` does (mode `mode`).
fn write_store(path: &Path, id: &MockId, access: &str, refresh: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let body = json!({
        "version": 1,
        "client_id": id.client_id(),
        "login": "authbot",
        "user_id": "424242",
        "scopes": ["chat:read", "chat:edit"],
        "access_token": access,
        "refresh_token": refresh,
        "expires_at": null,
    });
    std::fs::write(path, serde_json::to_vec_pretty(&body).unwrap()).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Runs `twitch_bot --config <cfg> <args>` to its end; returns (exit code, stdout lines, stderr).
async fn run_cli(config: &str, args: &[&str]) -> (Option<i32>, Vec<String>, String) {
    let mut bot = BotProcess::launch(Launch {
        args: args.iter().map(|s| s.to_string()).collect(),
        config_text: Some(config.to_owned()),
        ..Launch::default()
    })
    .await
    .expect("spawn twitch_bot");
    let status = bot.wait_exit(T).await.expect("twitch_bot exits");
    let _ = bot.remaining_events(Duration::from_millis(200)).await;
    (status.code(), stdout_lines(&bot), bot.stderr())
}

/// The bot's stdout lines (the support code keeps non-JSON lines as `__not_json__` markers).
fn stdout_lines(bot: &BotProcess) -> Vec<String> {
    bot.events()
        .iter()
        .map(|e| match e["type"].as_str() {
            Some("__not_json__") => e["line"].as_str().unwrap_or_default().to_owned(),
            _ => e.to_string(),
        })
        .collect()
}

/// Waits for `login`'s "enter the code: XXXX" line and returns the code.
async fn user_code(bot: &mut BotProcess) -> String {
    let e = bot
        .wait_event("the user code line", T, |e| {
            e["type"] == "__not_json__"
                && e["line"]
                    .as_str()
                    .is_some_and(|l| l.contains("enter the code: "))
        })
        .await
        .expect("login prints the user code");
    e["line"]
        .as_str()
        .unwrap()
        .rsplit("enter the code: ")
        .next()
        .unwrap()
        .trim()
        .to_owned()
}

/// Polls `cond` every 50 ms until it holds (failure guard `T`).
async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < T * 3, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// No token the identity server issued appears in the bot's stdout or stderr.
fn assert_no_secret(id: &MockId, bot: &BotProcess) {
    let stdout = stdout_lines(bot).join("\n");
    let stderr = bot.stderr();
    for (a, r) in id.issued() {
        for secret in [a, r] {
            assert!(!stdout.contains(&secret), "a token leaked to stdout");
            assert!(
                !stderr.contains(&secret),
                "a token leaked to stderr:\n{stderr}"
            );
        }
    }
}

fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("e2e-auth")
        .tempdir()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_login_after_three_polls_then_whoami_then_logout() {
    let id = MockId::start(IdOptions::default()).await.unwrap();
    let dir = tmp();
    let file: PathBuf = dir.path().join("store/tokens.json");
    let config = account_config(&id, &file);

    let mut login = BotProcess::launch(Launch {
        args: vec!["login".into()],
        config_text: Some(config.clone()),
        ..Launch::default()
    })
    .await
    .unwrap();
    let code = user_code(&mut login).await;
    assert!(
        stdout_lines(&login).iter().any(|l| l.contains(&format!(
            "https://www.twitch.tv/activate?public=true&device-code={code}"
        ))),
        "the verification URL is printed: {:?}",
        stdout_lines(&login)
    );
    // The user approves only after the bot has polled three times (and been told to wait).
    until("three polls", || id.polls_for(&code) >= 3).await;
    assert!(id.approve(&code));
    let status = login.wait_exit(T).await.unwrap();
    assert_eq!(status.code(), Some(0), "stderr:\n{}", login.stderr());
    assert_eq!(
        id.counts().slow_downs,
        0,
        "the bot polled faster than `interval`"
    );
    assert!(id.polls_for(&code) == 0, "the code was redeemed");

    let stored: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(stored["login"], "authbot");
    assert_eq!(stored["user_id"], "424242");
    assert_eq!(stored["client_id"], id.client_id());
    assert_eq!(stored["scopes"], json!(["chat:read", "chat:edit"]));
    let access = stored["access_token"].as_str().unwrap();
    assert!(id.is_valid(access), "the stored token is the one issued");
    assert_eq!(stored["refresh_token"].as_str(), Some(&*id.issued()[0].1));
    assert_eq!(mode_of(&file), 0o600);
    assert_eq!(mode_of(file.parent().unwrap()), 0o700);
    assert_no_secret(&id, &login);

    let (code_w, out, err) = run_cli(&config, &["whoami"]).await;
    assert_eq!(code_w, Some(0), "{err}");
    let out = out.join("\n");
    assert!(
        out.contains("login: authbot") && out.contains("scopes: chat:read chat:edit"),
        "{out}"
    );

    let (code_l, out, err) = run_cli(&config, &["logout"]).await;
    assert_eq!(code_l, Some(0), "{err}");
    assert!(out.join("\n").contains("Logged out"), "{out:?}");
    assert!(!file.exists(), "logout deletes the file");
    assert!(!id.is_valid(access), "logout revoked the token");
    assert_eq!(id.counts().revocations, 1);

    let (code_w, _, err) = run_cli(&config, &["whoami"]).await;
    assert_eq!(code_w, Some(2));
    assert!(err.contains("twitch_bot login"), "{err}");
}

/// Starts a chat mock that checks tokens at `id`, and a bot using the stored tokens in `file`.
/// `log`: the bot's `RUST_LOG`.
async fn start_bot(id: &MockId, file: &Path, vote: bool, log: &str) -> (MockTwitch, BotProcess) {
    let server = MockTwitch::start(MockOptions {
        token_check: Some(id.token_check()),
        ..MockOptions::default()
    })
    .await
    .unwrap();
    let mut cfg = BotConfig::new(&server.url(), &[CHANNEL]).ca_file(id.ca_file());
    if vote {
        cfg = cfg.vote(VoteSpec {
            window_secs: 600.0,
            ..VoteSpec::democracy("move", &["up", "down", "left", "right"])
        });
    }
    let bot = BotProcess::launch(Launch {
        config_text: Some(cfg.to_toml() + &auth_toml(id, file)),
        env: vec![("RUST_LOG".into(), log.into())],
        ..Launch::default()
    })
    .await
    .unwrap();
    (server, bot)
}

/// PING/PONG round trip: everything the mock sent before has been handled by the bot.
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_expiring_every_3s_are_refreshed_while_a_round_runs_across_a_reconnect() {
    let id = MockId::start(IdOptions {
        lifetime: Duration::from_secs(3),
        ..IdOptions::default()
    })
    .await
    .unwrap();
    let dir = tmp();
    let file = dir.path().join("tokens.json");
    let (access0, refresh0) = id.issue(&["chat:read", "chat:edit"]);
    write_store(&file, &id, &access0, &refresh0, 0o600);
    let (server, mut bot) = start_bot(&id, &file, true, "info").await;
    bot.wait_type("joined", T, |e| e["channel"] == CHANNEL)
        .await
        .expect("the bot logs in with the stored token and joins");
    bot.send_op(&json!({"op": "start_vote", "vote": "move"}))
        .await
        .unwrap();
    bot.wait_type("vote_opened", T, |_| true).await.unwrap();

    let options = ["up", "down", "left", "right"];
    let mut expected = std::collections::BTreeMap::<&str, u64>::new();
    let mut voter = 0u32;
    let ballot = |voter: &mut u32, expected: &mut std::collections::BTreeMap<&'static str, u64>| {
        *voter += 1;
        let choice = options[(*voter as usize * 7) % 4];
        *expected.entry(choice).or_default() += 1;
        (
            format!("viewer{voter}"),
            format!("{}", 5000 + *voter),
            choice,
        )
    };
    // Chat keeps flowing while the token is refreshed three times.
    while id.counts().refreshes < 3 {
        let (user, uid, choice) = ballot(&mut voter, &mut expected);
        server
            .send_chat(CHANNEL, &user, &uid, choice)
            .await
            .unwrap();
        sync(&server, &format!("s{voter}")).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            voter < 2000,
            "no three refreshes: {:?}\n{}",
            id.counts(),
            bot.stderr()
        );
    }
    // The file follows every rotation: it holds the newest refresh token.
    until("the rotated token stored", || {
        let stored: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        stored["refresh_token"].as_str() == Some(&*id.issued().last().unwrap().1)
    })
    .await;
    assert_eq!(mode_of(&file), 0o600);

    // A forced reconnect, long after the start token expired: the bot must log in with the current one.
    assert_eq!(server.drop_connections().await, 1);
    server
        .wait_for_join(CHANNEL, 1, T)
        .await
        .expect("the bot re-joins after the drop");
    for _ in 0..5 {
        let (user, uid, choice) = ballot(&mut voter, &mut expected);
        server
            .send_chat(CHANNEL, &user, &uid, choice)
            .await
            .unwrap();
    }
    sync(&server, "after-reconnect").await;
    let refreshed = id.counts().refreshes;
    until("one more refresh after the reconnect", || {
        id.counts().refreshes > refreshed
    })
    .await;
    let (user, uid, choice) = ballot(&mut voter, &mut expected);
    server
        .send_chat(CHANNEL, &user, &uid, choice)
        .await
        .unwrap();
    sync(&server, "last").await;

    bot.send_op(&json!({"op": "stop_vote", "vote": "move"}))
        .await
        .unwrap();
    let closed = bot.wait_type("vote_closed", T, |_| true).await.unwrap();
    assert_eq!(closed["round"], 1, "one round across everything: {closed}");
    assert_eq!(
        closed["voters"],
        u64::from(voter),
        "every ballot counted: {closed}"
    );
    let want: serde_json::Map<String, Value> = expected
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    assert_eq!(closed["tally"], Value::Object(want), "{closed}");

    let counts = id.counts();
    assert_eq!(counts.refused_refreshes, 0, "{counts:?}");
    assert_eq!(
        counts.refused_logins, 0,
        "a login presented a stale token: {counts:?}"
    );
    assert_eq!(counts.accepted_logins, 2, "{counts:?}");
    assert!(counts.validations >= 1, "validated at start: {counts:?}");
    // The second login presented a token issued by a refresh, not the one read at start.
    let passes = server.lines_with_command("PASS");
    assert_eq!(passes.len(), 2, "{passes:?}");
    assert!(passes[0].2.ends_with(&access0));
    assert!(
        !passes[1].2.ends_with(&access0),
        "the reconnect reused the start token"
    );
    assert_no_secret(&id, &bot);
    assert!(!bot.stderr().contains("panicked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_rejected_while_running_ends_the_bot_with_exit_2() {
    let id = MockId::start(IdOptions {
        lifetime: Duration::from_secs(3),
        ..IdOptions::default()
    })
    .await
    .unwrap();
    let dir = tmp();
    let file = dir.path().join("tokens.json");
    let (a, r) = id.issue(&["chat:read", "chat:edit"]);
    write_store(&file, &id, &a, &r, 0o600);
    // At trace level: every dependency's output too (hyper, reqwest, rustls, tungstenite) must be free of
    // the tokens.
    let (_server, mut bot) = start_bot(&id, &file, false, "trace").await;
    bot.wait_type("joined", T, |e| e["channel"] == CHANNEL)
        .await
        .unwrap();
    // The user disconnects the app at Twitch: the next refresh is refused.
    id.revoke_everything();
    let status = bot.wait_exit(T).await.expect("the bot stops by itself");
    assert_eq!(status.code(), Some(2), "stderr:\n{}", bot.stderr());
    let err = bot.stderr();
    assert!(err.contains("Invalid refresh token"), "{err}");
    assert!(err.contains("twitch_bot login"), "{err}");
    assert_eq!(
        id.counts().refused_refreshes,
        1,
        "no refresh loop: {:?}",
        id.counts()
    );
    assert!(
        err.contains("PASS oauth:***"),
        "trace shows the blanked PASS line"
    );
    assert_no_secret(&id, &bot);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_and_world_readable_stores_are_refused() {
    let id = MockId::start(IdOptions::default()).await.unwrap();
    let dir = tmp();
    let file = dir.path().join("tokens.json");
    let config = account_config(&id, &file);

    std::fs::write(&file, b"{\"version\":1,\"client_id\":").unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    for args in [&[][..], &["whoami"][..]] {
        let (code, _, err) = run_cli(&config, args).await;
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(
            err.contains("is corrupt") && err.contains(&file.display().to_string()),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }

    let (a, r) = id.issue(&["chat:read"]);
    write_store(&file, &id, &a, &r, 0o644);
    let (code, _, err) = run_cli(&config, &[]).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("mode 644") && err.contains("chmod 600"),
        "{err}"
    );
    assert!(!err.contains(&a) && !err.contains(&r), "{err}");

    // Another app's file.
    write_store(&file, &id, &a, &r, 0o600);
    let other = config.replace(id.client_id(), "someotherclient99");
    let (code, _, err) = run_cli(&other, &["whoami"]).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("belongs to client id"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_logins_never_leave_a_broken_file() {
    let id = MockId::start(IdOptions::default()).await.unwrap();
    let dir = tmp();
    let file = dir.path().join("tokens.json");
    let config = account_config(&id, &file);
    let mut bots = Vec::new();
    for _ in 0..3 {
        bots.push(
            BotProcess::launch(Launch {
                args: vec!["login".into()],
                config_text: Some(config.clone()),
                ..Launch::default()
            })
            .await
            .unwrap(),
        );
    }
    let mut codes = Vec::new();
    for b in &mut bots {
        codes.push(user_code(b).await);
    }
    // All approved at once: the three write the same file at about the same moment.
    for c in &codes {
        assert!(id.approve(c));
    }
    for b in &mut bots {
        let status = b.wait_exit(T).await.unwrap();
        assert_eq!(status.code(), Some(0), "{}", b.stderr());
    }
    let stored: Value =
        serde_json::from_slice(&std::fs::read(&file).unwrap()).expect("a whole JSON file");
    let access = stored["access_token"].as_str().unwrap();
    assert!(id.issued().iter().any(|(a, _)| a == access));
    assert_eq!(mode_of(&file), 0o600);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "tokens.json")
        .collect();
    assert!(names.is_empty(), "temporary files left: {names:?}");
    let (code, out, err) = run_cli(&config, &["whoami"]).await;
    assert_eq!(code, Some(0), "{err}");
    assert!(out.join("\n").contains("login: authbot"));
}
