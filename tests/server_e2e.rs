//! End-to-end tests of the local server (`[server]`): the real `twitch_bot` binary against the mock Twitch
//! server, checked by independent peers: Python's `websockets` client (tests/peers/server_client.py) and
//! headless Chromium over the DevTools protocol (tests/peers/overlay_browser.py). Timeouts are failure
//! guards only, except the overlay's "new snapshot within 5 s after a restart", which is the requirement.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use e2e::bot::{BotConfig, BotProcess, CommandSpec, Launch, VoteSpec};
use e2e::mock_twitch::{Chat, MockOptions, MockTwitch, irc_command, irc_params};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

const T: Duration = Duration::from_secs(30);
const CHANNEL: &str = "playroom";
const NICK: &str = "e2e_bot";
const TOKEN_ENV: &str = "E2E_TWITCH_TOKEN";
const TOKEN: &str = "oauth:e2egoodtoken123";
const SECRET_ENV: &str = "E2E_SERVER_SECRET";
const SECRET: &str = "s3rver-secret-for-e2e-0123456789";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn python() -> PathBuf {
    let p = root().join(".peers/venv/bin/python");
    assert!(
        p.exists(),
        "{} missing: run bash tests/peers/python-setup.sh",
        p.display()
    );
    p
}

fn votes(c: BotConfig) -> BotConfig {
    let mut mv = VoteSpec::democracy("move", &["up", "down", "left", "right"]);
    mv.window_secs = 120.0;
    let mut button = VoteSpec::anarchy("button", &["a", "b"]);
    button.window_secs = 120.0;
    button.start = "command".into();
    c.vote(mv)
        .vote(button)
        .command(CommandSpec::new("jump", &["!jump"], 0.0, false))
}

/// The mock, and the bot with the two votes and `server` as its `[server]` table; waits for `joined` and
/// the server's address on stderr.
async fn start(server_table: &str, env: &[(&str, &str)]) -> (MockTwitch, BotProcess, String) {
    let mock = MockTwitch::start(MockOptions::default()).await.unwrap();
    let text = votes(BotConfig::new(&mock.url(), &[CHANNEL]).login(NICK, TOKEN_ENV)).to_toml()
        + "\n[server]\n"
        + server_table;
    let mut envs = vec![(TOKEN_ENV.to_owned(), TOKEN.to_owned())];
    envs.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let mut bot = BotProcess::launch(Launch {
        config_text: Some(text),
        env: envs,
        ..Launch::default()
    })
    .await
    .unwrap();
    bot.wait_type("joined", T, |e| e["channel"] == CHANNEL)
        .await
        .expect("joined");
    let addr = server_addr(&bot).await;
    (mock, bot, addr)
}

/// `host:port` from the bot's "overlay at http://host:port/overlay" line on stderr.
async fn server_addr(bot: &BotProcess) -> String {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        if let Some(rest) = bot.stderr().split("overlay at http://").nth(1) {
            return rest.split('/').next().unwrap().to_owned();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no overlay URL on stderr:\n{}",
            bot.stderr()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

struct Peer {
    child: Child,
    stdin: ChildStdin,
    out: BufReader<ChildStdout>,
}

impl Peer {
    fn spawn(script: &str, args: &[&str]) -> Peer {
        let mut child = Command::new(python())
            .arg(root().join("tests/peers").join(script))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        Peer {
            stdin: child.stdin.take().unwrap(),
            out: BufReader::new(child.stdout.take().unwrap()),
            child,
        }
    }

    async fn line(&mut self) -> String {
        let mut l = String::new();
        tokio::time::timeout(T * 2, self.out.read_line(&mut l))
            .await
            .expect("the peer answers in time")
            .unwrap();
        assert!(!l.is_empty(), "the peer ended without an answer");
        l.trim().to_owned()
    }

    async fn json(&mut self) -> Value {
        let l = self.line().await;
        serde_json::from_str(&l).unwrap_or_else(|_| panic!("peer said {l:?}"))
    }

    async fn send(&mut self, line: &str) {
        self.stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        self.stdin.flush().await.unwrap();
    }

    async fn finish(mut self) {
        let s = tokio::time::timeout(T, self.child.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(s.success(), "peer failed: {s}");
    }
}

async fn chat(mock: &MockTwitch, user: &str, text: &str) {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    user.hash(&mut h);
    mock.send_chat(
        CHANNEL,
        user,
        &format!("{}", h.finish() % 1_000_000_000),
        text,
    )
    .await
    .unwrap();
}

/// Sends PING :token and waits for the bot's PONG carrying it: everything the mock sent before the PING has
/// been read and handled by the bot by then.
async fn sync(mock: &MockTwitch, token: &str) {
    let mark = mock.mark();
    assert!(mock.ping(token).await > 0, "no open connection to PING");
    mock.wait_for_line_since(mark, T, |l| {
        irc_command(l) == "PONG" && irc_params(l).last() == Some(&token)
    })
    .await
    .expect("the bot answers PING with PONG");
}

async fn op(bot: &mut BotProcess, v: Value) {
    bot.send_op(&v).await.unwrap();
}

/// Opens a round of `vote` from stdin and waits for its `vote_opened`: chat sent before that could reach the
/// driver (which reads the socket before its requests) ahead of the op, and count in no round.
async fn start_vote(bot: &mut BotProcess, vote: &str) {
    op(bot, json!({"op": "start_vote", "vote": vote})).await;
    bot.wait_type("vote_opened", T, |e| e["vote"] == vote)
        .await
        .unwrap();
}

/// The stdout events after the last `joined` (what a client connected after joining must see).
fn after_joined(events: &[Value]) -> Vec<Value> {
    let i = events
        .iter()
        .rposition(|e| e["type"] == "joined")
        .expect("joined");
    events[i + 1..].to_vec()
}

fn read_lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Ends a recording: an `error` event (a tally of an unknown vote) every client sees last.
async fn end_recording(bot: &mut BotProcess) {
    op(bot, json!({"op": "tally", "vote": "END-OF-TEST"})).await;
    bot.wait_type("error", T, |e| {
        e["message"].as_str().unwrap().contains("END-OF-TEST")
    })
    .await
    .unwrap();
}

/// Checks a client's pushed `tally` events against the stream they sit in: each is for the round open at
/// that point, and counts never exceed that round's final count.
fn check_tallies(snapshot: &Value, stream: &[Value], closed: &[Value]) -> usize {
    let mut open: std::collections::HashMap<String, u64> = snapshot["votes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["open"] == true)
        .map(|v| {
            (
                v["vote"].as_str().unwrap().to_owned(),
                v["round"].as_u64().unwrap(),
            )
        })
        .collect();
    let mut n = 0;
    for e in stream {
        let vote = e["vote"].as_str().unwrap_or_default().to_owned();
        match e["type"].as_str().unwrap() {
            "vote_opened" => {
                open.insert(vote, e["round"].as_u64().unwrap());
            }
            "vote_closed" => {
                open.remove(&vote);
            }
            "tally" => {
                n += 1;
                assert_eq!(e["open"], true, "{e}");
                assert_eq!(
                    open.get(&vote),
                    e["round"].as_u64().as_ref(),
                    "a tally for a round that is not open at that point: {e}"
                );
                let fin = closed
                    .iter()
                    .find(|c| c["vote"] == e["vote"] && c["round"] == e["round"])
                    .expect("the round closes");
                for (k, v) in e["tally"].as_object().unwrap() {
                    assert!(
                        v.as_u64() <= fin["tally"][k].as_u64(),
                        "live count above the final one: {e} vs {fin}"
                    );
                }
            }
            _ => {}
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_clients_get_the_snapshot_then_every_stdout_event_in_order() {
    let (mock, mut bot, addr) = start("listen = \"127.0.0.1:0\"\n", &[]).await;
    let url = format!("ws://{addr}/ws");
    let dir = tempfile::tempdir().unwrap();
    let f1 = dir.path().join("one.jsonl");
    let f2 = dir.path().join("two.jsonl");
    let mut one = Peer::spawn("server_client.py", &["record", &url, f1.to_str().unwrap()]);
    assert_eq!(one.line().await, "ready");

    start_vote(&mut bot, "move").await;
    start_vote(&mut bot, "button").await;
    let mut two = None;
    for i in 0..120 {
        let ballot = ["up", "down", "left", "right"][i % 4];
        chat(&mock, &format!("voter{i}"), ballot).await;
        chat(&mock, &format!("presser{i}"), ["a", "b"][i % 2]).await;
        if i % 40 == 0 {
            chat(&mock, &format!("jumper{i}"), "!jump high").await;
        }
        if i == 60 {
            // A second client joins mid-flood: its snapshot must fit the events it gets after it.
            let mut p = Peer::spawn("server_client.py", &["record", &url, f2.to_str().unwrap()]);
            assert_eq!(p.line().await, "ready");
            two = Some(p);
        }
        if i == 90 {
            sync(&mock, "ninety").await;
            op(&mut bot, json!({"op": "stop_vote", "vote": "move"})).await;
            start_vote(&mut bot, "move").await;
        }
        if i % 30 == 0 {
            tokio::time::sleep(Duration::from_millis(120)).await;
        }
    }
    sync(&mock, "all-sent").await;
    op(&mut bot, json!({"op": "stop_vote", "vote": "move"})).await;
    op(&mut bot, json!({"op": "stop_vote", "vote": "button"})).await;
    end_recording(&mut bot).await;
    assert!(one.json().await["messages"].as_u64().is_some());
    let mut two = two.unwrap();
    two.json().await;
    one.finish().await;
    two.finish().await;

    let stdout = after_joined(&bot.events());
    let closed: Vec<Value> = stdout
        .iter()
        .filter(|e| e["type"] == "vote_closed")
        .cloned()
        .collect();
    assert_eq!(closed.len(), 3, "{stdout:?}");

    let got1 = read_lines(&f1);
    assert_eq!(got1[0]["type"], "snapshot");
    assert_eq!(got1[0]["connection"]["state"], "connected");
    assert_eq!(got1[0]["votes"][0]["open"], false);
    let events1: Vec<Value> = got1[1..]
        .iter()
        .filter(|e| e["type"] != "tally")
        .cloned()
        .collect();
    assert_eq!(events1, stdout, "client one: the events differ from stdout");
    let pushed = check_tallies(&got1[0], &got1[1..], &closed);
    assert!(pushed > 0, "no live tally was pushed");

    let got2 = read_lines(&f2);
    let snap = &got2[0];
    assert_eq!(snap["type"], "snapshot");
    let events2: Vec<Value> = got2[1..]
        .iter()
        .filter(|e| e["type"] != "tally")
        .cloned()
        .collect();
    let k = stdout.len() - events2.len();
    assert_eq!(
        &stdout[k..],
        &events2[..],
        "client two: not exactly the stdout events after its snapshot"
    );
    // The snapshot shows the state after exactly stdout[..k]: round and open flag of each vote, and
    // the anarchy vote's count equals the inputs before it.
    for v in snap["votes"].as_array().unwrap() {
        let name = v["vote"].as_str().unwrap();
        let last = stdout[..k]
            .iter()
            .rev()
            .find(|e| {
                e["vote"] == name && (e["type"] == "vote_opened" || e["type"] == "vote_closed")
            })
            .unwrap();
        assert_eq!(v["round"], last["round"], "{name}: {snap}");
        assert_eq!(v["open"], last["type"] == "vote_opened", "{name}: {snap}");
    }
    let inputs_before = stdout[..k].iter().filter(|e| e["type"] == "input").count() as u64;
    let button = &snap["votes"][1];
    let counted: u64 = button["tally"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(
        counted, inputs_before,
        "the snapshot's anarchy count must match the input events before it: {snap}"
    );
    check_tallies(&got2[0], &got2[1..], &closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_ops_get_replies_with_their_ids() {
    let (mock, mut bot, addr) = start("listen = \"127.0.0.1:0\"\n", &[]).await;
    let url = format!("ws://{addr}/ws");
    let mut p = Peer::spawn("server_client.py", &["ops", &url, "move", CHANNEL]);
    assert_eq!(p.json().await, json!({"ok": true}));
    p.finish().await;
    // The ops took effect: a round opened and closed, the message reached chat.
    bot.wait_type("vote_closed", T, |e| e["vote"] == "move")
        .await
        .unwrap();
    mock.wait_for_line_since(0, T, |l| l.contains("PRIVMSG #playroom :hello from a game"))
        .await
        .expect("say reached the chat server");
    // Refusals answered by a reply are not printed on stdout.
    assert!(
        !bot.events()
            .iter()
            .any(|e| e["type"] == "error" && e["message"].as_str().unwrap().contains("nope")),
        "{:?}",
        bot.events()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_origins_are_refused() {
    let (_mock, _bot, addr) = start("listen = \"127.0.0.1:0\"\n", &[]).await;
    let url = format!("ws://{addr}/ws");
    let port = addr.rsplit(':').next().unwrap();
    for (origin, want) in [
        ("https://evil.example", 403),
        ("http://localhost:1", 403),
        ("null", 403),
        (&format!("http://{addr}") as &str, 101),
        (&format!("http://localhost:{port}"), 101),
    ] {
        let mut p = Peer::spawn("server_client.py", &["status", &url, origin]);
        assert_eq!(p.json().await["status"], want, "Origin {origin}");
        p.finish().await;
    }
    // No Origin (a game, not a browser): allowed.
    let mut p = Peer::spawn("server_client.py", &["status", &url]);
    assert_eq!(p.json().await, json!({"status": 101, "first": "snapshot"}));
}

/// GET `path` on `addr` with raw bytes; returns the status code (0 when the server closed without one).
async fn http_status(addr: &str, request: &[u8]) -> u16 {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(request).await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(T, async {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = s.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    })
    .await;
    String::from_utf8_lossy(&buf)
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_loopback_bind_requires_the_secret() {
    // Bound on every interface, but only ever reached through loopback.
    let (_mock, bot, addr) = start(
        &format!("listen = \"0.0.0.0:0\"\nsecret_env = \"{SECRET_ENV}\"\n"),
        &[(SECRET_ENV, SECRET)],
    )
    .await;
    let port = addr.rsplit(':').next().unwrap();
    let local = format!("127.0.0.1:{port}");
    let url = format!("ws://{local}/ws");
    for (u, bearer, want) in [
        (url.clone(), None, 401),
        (format!("{url}?secret=wrong"), None, 401),
        (url.clone(), Some("wrong"), 401),
        (format!("{url}?secret={SECRET}"), None, 101),
        (url.clone(), Some(SECRET), 101),
    ] {
        let args: Vec<&str> = match bearer {
            Some(b) => vec!["status", &u, "-", b],
            None => vec!["status", &u],
        };
        let mut p = Peer::spawn("server_client.py", &args);
        assert_eq!(p.json().await["status"], want, "{u} bearer {bearer:?}");
        p.finish().await;
    }
    for (req, want) in [
        (
            format!("GET /metrics HTTP/1.1\r\nHost: {local}\r\n\r\n"),
            401,
        ),
        (
            format!("GET /overlay HTTP/1.1\r\nHost: {local}\r\n\r\n"),
            401,
        ),
        (
            format!(
                "GET /metrics HTTP/1.1\r\nHost: {local}\r\nAuthorization: Bearer {SECRET}\r\n\r\n"
            ),
            200,
        ),
        (
            format!("GET /overlay?secret={SECRET} HTTP/1.1\r\nHost: {local}\r\n\r\n"),
            200,
        ),
    ] {
        assert_eq!(http_status(&local, req.as_bytes()).await, want, "{req}");
    }
    assert!(
        !bot.stderr().contains(SECRET),
        "the secret reached the logs"
    );
    // Without the variable, --check fails and names it.
    let mock = MockTwitch::start(MockOptions::default()).await.unwrap();
    let text = BotConfig::new(&mock.url(), &[CHANNEL]).to_toml()
        + &format!("\n[server]\nlisten = \"0.0.0.0:0\"\nsecret_env = \"{SECRET_ENV}\"\n");
    let mut check = BotProcess::launch(Launch {
        config_text: Some(text),
        args: vec!["--check".into()],
        ..Launch::default()
    })
    .await
    .unwrap();
    let status = check.wait_exit(T).await.unwrap();
    assert_eq!(status.code(), Some(1));
    assert!(check.stderr().contains(SECRET_ENV), "{}", check.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_closed_and_the_tally_stays_exact() {
    let (mock, mut bot, addr) = start("listen = \"127.0.0.1:0\"\n", &[]).await;
    let url = format!("ws://{addr}/ws");
    let dir = tempfile::tempdir().unwrap();
    let f1 = dir.path().join("reader.jsonl");
    let mut slow = Peer::spawn("server_client.py", &["slow", &url]);
    assert_eq!(slow.line().await, "ready");
    let mut reader = Peer::spawn("server_client.py", &["record", &url, f1.to_str().unwrap()]);
    assert_eq!(reader.line().await, "ready");
    start_vote(&mut bot, "move").await;
    start_vote(&mut bot, "button").await;
    const INPUTS: usize = 12_000;
    const BALLOTS: usize = 2_000;
    for chunk in 0..INPUTS / 100 {
        let chats = (0..100)
            .map(|i| {
                let n = chunk * 100 + i;
                Chat::new(CHANNEL, &format!("p{n}"), &format!("{}", 100_000 + n), "a")
            })
            .collect();
        mock.send_chats(chats).await.unwrap();
    }
    for chunk in 0..BALLOTS / 100 {
        let chats = (0..100)
            .map(|i| {
                let n = chunk * 100 + i;
                Chat::new(CHANNEL, &format!("v{n}"), &format!("{}", 500_000 + n), "up")
            })
            .collect();
        mock.send_chats(chats).await.unwrap();
    }
    sync(&mock, "flood-done").await;
    op(&mut bot, json!({"op": "stop_vote", "vote": "move"})).await;
    op(&mut bot, json!({"op": "stop_vote", "vote": "button"})).await;
    end_recording(&mut bot).await;
    slow.send("go").await;
    let closed = slow.json().await;
    assert_eq!(closed["code"], 1008, "{closed}");
    assert!(closed["reason"].as_str().unwrap().contains("too slow"));
    slow.finish().await;
    reader.json().await;
    reader.finish().await;
    let stdout = after_joined(&bot.events());
    let fin = |vote: &str| {
        stdout
            .iter()
            .find(|e| e["type"] == "vote_closed" && e["vote"] == vote)
            .cloned()
            .unwrap()
    };
    // Every input the engine passed on is counted (stdout may drop some `input` events under load, and
    // reports how many).
    let delivered = stdout.iter().filter(|e| e["type"] == "input").count() as u64
        + stdout
            .iter()
            .filter(|e| e["type"] == "dropped")
            .map(|e| e["count"].as_u64().unwrap())
            .sum::<u64>();
    let a = fin("button")["tally"]["a"].as_u64().unwrap();
    assert!(a <= INPUTS as u64 && a == delivered, "{a} {delivered}");
    assert_eq!(fin("move")["tally"], json!({"up": BALLOTS}));
    let got: Vec<Value> = read_lines(&f1)[1..]
        .iter()
        .filter(|e| e["type"] != "tally")
        .cloned()
        .collect();
    assert_eq!(got, stdout, "the reading client missed or reordered events");
    let metrics = http_body(&addr, "/metrics").await;
    assert!(
        metrics.contains("twitch_bot_ws_slow_closed_total 1\n"),
        "{metrics}"
    );
}

async fn http_body(addr: &str, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = String::new();
    tokio::time::timeout(T, s.read_to_string(&mut buf))
        .await
        .unwrap()
        .unwrap();
    buf
}

/// Starts the bot with the server on `port`, opens a round of `move` and casts `ballots` (user, option);
/// returns the bot and the counts of the `tally` event it then prints on stdout.
async fn round_with_ballots(
    mock: &MockTwitch,
    port: u16,
    ballots: &[(&str, &str)],
) -> (BotProcess, Value) {
    let text = votes(BotConfig::new(&mock.url(), &[CHANNEL]).login(NICK, TOKEN_ENV)).to_toml()
        + &format!("\n[server]\nlisten = \"127.0.0.1:{port}\"\n");
    let mut bot = BotProcess::launch(Launch {
        config_text: Some(text),
        env: vec![(TOKEN_ENV.into(), TOKEN.into())],
        ..Launch::default()
    })
    .await
    .unwrap();
    bot.wait_type("joined", T, |_| true).await.unwrap();
    start_vote(&mut bot, "move").await;
    for (user, option) in ballots {
        chat(mock, user, option).await;
    }
    sync(mock, "ballots-in").await;
    op(&mut bot, json!({"op": "tally", "vote": "move"})).await;
    let tally = bot.wait_type("tally", T, |_| true).await.unwrap();
    (bot, tally)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overlay_in_headless_chromium_shows_the_tally_and_survives_a_restart() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "{chromium} missing: run bash tests/peers/chromium-setup.sh"
    );
    let mock = MockTwitch::start(MockOptions::default()).await.unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ballots = [
        ("ann", "up"),
        ("bob", "up"),
        ("cat", "up"),
        ("dan", "down"),
        ("eve", "down"),
        ("fay", "left"),
    ];
    let (bot, tally) = round_with_ballots(&mock, port, &ballots).await;
    assert_eq!(tally["tally"], json!({"up": 3, "down": 2, "left": 1}));

    let mut browser = Peer::spawn("overlay_browser.py", &[&chromium]);
    browser
        .send(&format!(
            "open http://127.0.0.1:{port}/overlay?vote=move&scale=1.5"
        ))
        .await;
    assert_eq!(browser.json().await["ok"], true);
    let want =
        json!({"vote": "move", "round": tally["round"], "counts": tally["tally"], "timeout": 30});
    browser.send(&format!("wait {want}")).await;
    let seen = browser.json().await;
    assert_eq!(
        seen["ok"], true,
        "the overlay never showed the tally: {seen}"
    );
    assert_eq!(seen["seen"]["voters"], 6, "{seen}");

    let artifacts = root().join("target/server-e2e");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("overlay.png");
    browser.send(&format!("shot {}", shot.display())).await;
    let stats = browser.json().await;
    // Not blank: the panel, bars and text differ from the page's background in many pixels and colours.
    assert!(
        stats["differ"].as_u64().unwrap() > 5_000 && stats["colours"].as_u64().unwrap() > 16,
        "the screenshot looks blank: {stats}"
    );

    // The bot restarts on the same port with a different round: the page reconnects by itself and
    // shows the new snapshot within 5 s of it being there.
    let mut bot = bot;
    bot.signal(9).unwrap();
    bot.wait_exit(T).await.unwrap();
    let (_bot, tally) =
        round_with_ballots(&mock, port, &[("gus", "right"), ("hal", "right")]).await;
    let want =
        json!({"vote": "move", "round": tally["round"], "counts": {"right": 2}, "timeout": 5});
    browser.send(&format!("wait {want}")).await;
    let seen = browser.json().await;
    assert_eq!(seen["ok"], true, "no new snapshot within 5 s: {seen}");
    browser.send("quit").await;
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_4xx_and_10000_connects_leave_rss_flat() {
    let (mock, mut bot, addr) = start("listen = \"127.0.0.1:0\"\n", &[]).await;
    // Garbage and oversized heads: a 4xx answer or a closed connection, never a crash.
    let garbage = http_status(&addr, b"\x00\x01\x02 not http at all\r\n\r\n").await;
    assert!(garbage == 0 || (400..500).contains(&garbage), "{garbage}");
    let huge = format!(
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nX-Big: {}\r\n\r\n",
        "x".repeat(2 * 1024 * 1024)
    );
    let status = http_status(&addr, huge.as_bytes()).await;
    assert!(status == 0 || (400..500).contains(&status), "{status}");
    let many = format!(
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\n{}\r\n",
        (0..10_000)
            .map(|i| format!("X-{i}: y\r\n"))
            .collect::<String>()
    );
    let status = http_status(&addr, many.as_bytes()).await;
    assert!(status == 0 || (400..500).contains(&status), "{status}");
    assert_eq!(
        http_status(&addr, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").await,
        404
    );

    // A 100 MB WebSocket message: the server refuses it once it reads the frame header.
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    s.write_all(
        format!(
            "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut head = [0u8; 12];
    s.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 101");
    let len: u64 = 100 * 1024 * 1024;
    let mut frame = vec![0x81u8, 0x80 | 127];
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&[1, 2, 3, 4]);
    s.write_all(&frame).await.unwrap();
    let chunk = vec![b'a'; 1024 * 1024];
    let mut written = 0u64;
    let reader = tokio::spawn(async move {
        let (mut r, mut w) = s.into_split();
        let drain = tokio::spawn(async move {
            let mut sink = Vec::new();
            let _ = tokio::time::timeout(T, r.read_to_end(&mut sink)).await;
        });
        while written < len {
            if w.write_all(&chunk).await.is_err() {
                break;
            }
            written += chunk.len() as u64;
        }
        let _ = drain.await;
        written
    });
    let written = tokio::time::timeout(T, reader).await.unwrap().unwrap();
    assert!(
        written < len,
        "the server read a whole 100 MB message ({written} bytes)"
    );

    // 10,000 connects and disconnects: RSS after them is about RSS after the first 1,000.
    let url = format!("ws://{addr}/ws");
    let connect_once = || async {
        let (mut ws, _) = async_tungstenite::tokio::connect_async(url.as_str())
            .await
            .expect("connect");
        use futures_util::StreamExt;
        let first = ws.next().await.expect("snapshot").expect("snapshot");
        assert!(
            first
                .to_text()
                .unwrap()
                .starts_with("{\"type\":\"snapshot\"")
        );
        let _ = ws.close(None).await;
    };
    for _ in 0..1_000 {
        connect_once().await;
    }
    let pid = bot.pid().unwrap();
    let before = e2e::bot::rss_kib(pid).unwrap();
    for i in 0..9_000 {
        if i % 2 == 0 {
            connect_once().await;
        } else {
            // A client that goes without a close handshake.
            let (ws, _) = async_tungstenite::tokio::connect_async(url.as_str())
                .await
                .unwrap();
            drop(ws);
        }
    }
    let after = e2e::bot::rss_kib(pid).unwrap();
    assert!(
        after < before + 4 * 1024,
        "RSS grew from {before} KiB to {after} KiB over 9,000 connects"
    );
    // The bot still counts.
    start_vote(&mut bot, "move").await;
    chat(&mock, "zed", "left").await;
    sync(&mock, "still-counting").await;
    op(&mut bot, json!({"op": "stop_vote", "vote": "move"})).await;
    let closed = bot.wait_type("vote_closed", T, |_| true).await.unwrap();
    assert_eq!(closed["tally"], json!({"left": 1}));
    let metrics = http_body(&addr, "/metrics").await;
    assert!(metrics.contains("twitch_bot_ws_clients 0\n"), "{metrics}");
}
