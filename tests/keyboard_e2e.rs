//! Keyboard output end to end, on a real X server: the real `twitch_bot` with `[output] kind = "keyboard"`
//! against the mock Twitch server, pressing keys through XTest into Xvfb, where recorder windows written for
//! these tests log every key press and release with the X server's timestamp.
//!
//! Each test starts its own Xvfb (`-displayfd`: the server picks a free display number itself, so tests in
//! parallel never share one) and kills it at the end. Xvfb comes from Debian's `xvfb`
//! (`tests/peers/x11-setup.sh`). Timeouts are failure guards only; the `hold_ms` checks have a lower bound
//! (a key is never released early) and a generous upper one (scheduling tolerance on a loaded machine).
#![cfg(all(unix, not(target_os = "macos")))]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use e2e::bot::{BotConfig, BotProcess, Launch, VoteSpec};
use e2e::mock_twitch::{Chat, MockOptions, MockTwitch};
use serde_json::{Value, json};
use x11rb::connection::Connection;
use x11rb::protocol::Event as XEvent;
use x11rb::protocol::xproto::{
    AtomEnum, AutoRepeatMode, ChangeKeyboardControlAux, ConnectionExt, CreateWindowAux, EventMask,
    InputFocus, PropMode, Window, WindowClass,
};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

const T: Duration = Duration::from_secs(20);
const CHANNEL: &str = "playroom";
const NICK: &str = "e2e_bot";
const TOKEN_ENV: &str = "E2E_TWITCH_TOKEN";
const TOKEN: &str = "oauth:e2egoodtoken123";
/// How late a release may come after `hold_ms` on a loaded machine before the test calls it wrong.
const LATE: u32 = 750;
/// How much shorter than `hold_ms` a hold may look on the X server's clock. The server stamps each key event
/// when it processes the XTest request, and the bot cannot see when that is: a press request that waits a few
/// ms for the CPU (or on the socket) gets a later stamp, so the hold looks shorter by that delay, although the
/// bot waited `hold_ms` between sending press and release (seen here: 37 ms for 40 on a loaded machine). At
/// 60 fps a game samples the keyboard every 16.7 ms, so a hold short by less than one frame is the same hold.
const EARLY: u32 = 15;

/// A private Xvfb, killed on drop.
struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    fn start() -> Xvfb {
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "320x240x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb (Debian package xvfb; tests/peers/x11-setup.sh installs it)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("Xvfb writes its display number");
        let n: u32 = line.trim().parse().expect("a display number from Xvfb");
        Xvfb {
            child,
            display: format!(":{n}"),
        }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One key event a recorder window saw.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    window: &'static str,
    press: bool,
    key: String,
    /// The X server's timestamp, in milliseconds.
    time: u32,
}

impl Seen {
    fn short(&self) -> String {
        format!("{}{}", if self.press { "+" } else { "-" }, self.key)
    }
}

/// Recorder windows on one X connection; a thread logs their key events.
struct Recorder {
    conn: Arc<RustConnection>,
    windows: Vec<(Window, &'static str)>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

fn key_name(keysym: u32) -> String {
    match keysym {
        0x61..=0x7a => ((keysym as u8 - 0x20) as char).to_string(),
        0x20 => "Space".into(),
        0xff51 => "Left".into(),
        0xff52 => "Up".into(),
        0xff53 => "Right".into(),
        0xff54 => "Down".into(),
        0xffe1 => "Shift".into(),
        other => format!("keysym{other:#x}"),
    }
}

impl Recorder {
    /// Opens windows titled `titles` on `display`; the first gets the input focus.
    fn open(display: &str, titles: &[&'static str]) -> Recorder {
        let (conn, screen) = RustConnection::connect(Some(display)).expect("connect to Xvfb");
        let conn = Arc::new(conn);
        let root = conn.setup().roots[screen].root;
        let net_wm_name = conn
            .intern_atom(false, b"_NET_WM_NAME")
            .unwrap()
            .reply()
            .unwrap()
            .atom;
        let utf8 = conn
            .intern_atom(false, b"UTF8_STRING")
            .unwrap()
            .reply()
            .unwrap()
            .atom;
        let mut windows = Vec::new();
        for (i, title) in titles.iter().enumerate() {
            let w = conn.generate_id().unwrap();
            let aux = CreateWindowAux::new().event_mask(
                EventMask::KEY_PRESS | EventMask::KEY_RELEASE | EventMask::STRUCTURE_NOTIFY,
            );
            conn.create_window(
                0,
                w,
                root,
                (i * 100) as i16,
                0,
                100,
                100,
                0,
                WindowClass::INPUT_OUTPUT,
                0,
                &aux,
            )
            .unwrap();
            conn.change_property8(
                PropMode::REPLACE,
                w,
                AtomEnum::WM_NAME,
                AtomEnum::STRING,
                title.as_bytes(),
            )
            .unwrap();
            conn.change_property8(PropMode::REPLACE, w, net_wm_name, utf8, title.as_bytes())
                .unwrap();
            conn.map_window(w).unwrap();
            windows.push((w, *title));
        }
        // No auto-repeat: a key held longer than the repeat delay (e.g. while a panic prints its backtrace)
        // would otherwise show up as extra release/press pairs; the bot's own presses are what is checked.
        conn.change_keyboard_control(
            &ChangeKeyboardControlAux::new().auto_repeat_mode(AutoRepeatMode::OFF),
        )
        .unwrap();
        conn.flush().unwrap();
        // Wait until every window is mapped (SetInputFocus needs a viewable window).
        let mut mapped = 0;
        while mapped < windows.len() {
            if let XEvent::MapNotify(_) = conn.wait_for_event().unwrap() {
                mapped += 1;
            }
        }
        let r = Recorder {
            conn: conn.clone(),
            windows: windows.clone(),
            seen: Arc::default(),
        };
        r.focus(titles[0]);
        let seen = r.seen.clone();
        std::thread::spawn(move || {
            while let Ok(ev) = conn.wait_for_event() {
                let (press, detail, time, event) = match ev {
                    XEvent::KeyPress(e) => (true, e.detail, e.time, e.event),
                    XEvent::KeyRelease(e) => (false, e.detail, e.time, e.event),
                    _ => continue,
                };
                let Some(&(_, window)) = windows.iter().find(|(w, _)| *w == event) else {
                    continue;
                };
                let keysym = conn
                    .get_keyboard_mapping(detail, 1)
                    .ok()
                    .and_then(|c| c.reply().ok())
                    .and_then(|m| m.keysyms.first().copied())
                    .unwrap_or(0);
                seen.lock().unwrap().push(Seen {
                    window,
                    press,
                    key: key_name(keysym),
                    time,
                });
            }
        });
        r
    }

    fn focus(&self, title: &str) {
        let w = self.windows.iter().find(|(_, t)| *t == title).unwrap().0;
        self.conn
            .set_input_focus(InputFocus::PARENT, w, x11rb::CURRENT_TIME)
            .unwrap();
        self.conn.sync().unwrap();
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits until `n` key events were recorded (failure guard `T`).
    async fn wait_for(&self, n: usize) -> Vec<Seen> {
        let end = Instant::now() + T;
        loop {
            let s = self.seen();
            if s.len() >= n {
                return s;
            }
            assert!(
                Instant::now() < end,
                "the recorder saw only {s:?}, waiting for {n} events"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn shorts(seen: &[Seen]) -> Vec<String> {
    seen.iter().map(Seen::short).collect()
}

/// Checks that each press of `key` at `seen[i]` is released `hold_ms` later, within the server-clock tolerance
/// [`EARLY`] below and [`LATE`] above.
fn assert_hold(seen: &[Seen], press: usize, release: usize, hold_ms: u32) {
    let held = seen[release].time.wrapping_sub(seen[press].time);
    assert!(
        held + EARLY >= hold_ms && held <= hold_ms + LATE,
        "{} held {held} ms, bound hold_ms is {hold_ms}: {seen:?}",
        seen[press].key
    );
}

/// The mock, Xvfb with its recorder windows, and the bot configured with `extra` TOML (output + keys) joined.
async fn start(
    vote: VoteSpec,
    extra: &str,
    titles: &[&'static str],
    args: &[&str],
    env: &[(&str, &str)],
) -> (MockTwitch, Xvfb, Recorder, BotProcess) {
    let x = Xvfb::start();
    let rec = Recorder::open(&x.display, titles);
    let server = MockTwitch::start(MockOptions::default())
        .await
        .expect("mock server");
    let cfg = BotConfig::new(&server.url(), &[CHANNEL])
        .login(NICK, TOKEN_ENV)
        .vote(vote);
    let mut env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env.push((TOKEN_ENV.into(), TOKEN.into()));
    env.push(("DISPLAY".into(), x.display.clone()));
    let mut bot = BotProcess::launch(Launch {
        args: args.iter().map(|s| s.to_string()).collect(),
        env,
        config_text: Some(format!("{}\n{extra}", cfg.to_toml())),
        ..Launch::default()
    })
    .await
    .expect("spawn bot");
    bot.wait_type("joined", T, |e| e["channel"] == CHANNEL)
        .await
        .expect("the bot joins its channel");
    server.wait_for_join(CHANNEL, 0, T).await.expect("JOIN");
    (server, x, rec, bot)
}

async fn chats(server: &MockTwitch, list: &[(&str, &str)]) {
    let msgs = list
        .iter()
        .enumerate()
        .map(|(i, (user, text))| Chat::new(CHANNEL, user, &format!("{}", 500 + i), text))
        .collect();
    server.send_chats(msgs).await.expect("the mock sends chat");
}

async fn op(bot: &mut BotProcess, v: Value) {
    bot.send_op(&v).await.expect("stdin");
}

const DEMOCRACY_KEYS: &str = r#"
[output]
kind = "keyboard"

[[key]]
vote = "move"
input = "up"
keys = ["Up"]
hold_ms = 150

[[key]]
vote = "move"
input = "down"
keys = ["Down"]
hold_ms = 80
gap_ms = 60

[[key]]
vote = "move"
input = "a"
keys = ["Shift", "A"]
hold_ms = 120
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn democracy_winners_press_their_keys_in_round_order_holding_hold_ms() {
    let vote = VoteSpec {
        max_repeat: 3,
        window_secs: 30.0,
        ..VoteSpec::democracy("move", &["up", "down", "a"])
    };
    let (server, _x, rec, mut bot) = start(vote, DEMOCRACY_KEYS, &["Game"], &[], &[]).await;
    for (i, ballots) in [
        vec![("u1", "up"), ("u2", "up"), ("u3", "down")],
        vec![("u1", "down2"), ("u2", "down2")],
        vec![("u1", "a")],
    ]
    .into_iter()
    .enumerate()
    {
        op(&mut bot, json!({"op": "start_vote", "vote": "move"})).await;
        bot.wait_type("vote_opened", T, |e| e["round"] == i as u64 + 1)
            .await
            .unwrap();
        chats(&server, &ballots).await;
        // The ballots are counted once a tally shows them all (then close the round).
        loop {
            op(&mut bot, json!({"op": "tally", "vote": "move"})).await;
            let t = bot.wait_type("tally", T, |_| true).await.unwrap();
            if t["voters"] == ballots.len() as u64 {
                break;
            }
        }
        op(&mut bot, json!({"op": "stop_vote", "vote": "move"})).await;
        bot.wait_type("vote_closed", T, |_| true).await.unwrap();
        let k = bot.wait_type("keys", T, |_| true).await.unwrap();
        assert_eq!(k["vote"], "move");
    }
    let seen = rec.wait_for(10).await;
    assert_eq!(
        shorts(&seen),
        [
            "+Up", "-Up", "+Down", "-Down", "+Down", "-Down", "+Shift", "+A", "-A", "-Shift"
        ]
    );
    assert!(seen.iter().all(|s| s.window == "Game"));
    assert_hold(&seen, 0, 1, 150);
    assert_hold(&seen, 2, 3, 80);
    assert_hold(&seen, 4, 5, 80);
    assert_hold(&seen, 7, 8, 120);
    // The gap between the two presses of `down2` is at least gap_ms.
    assert!(
        seen[4].time.wrapping_sub(seen[3].time) + 2 >= 60,
        "{seen:?}"
    );
    let keys: Vec<Value> = bot
        .events()
        .into_iter()
        .filter(|e| e["type"] == "keys")
        .collect();
    assert_eq!(
        keys[1],
        json!({"type":"keys","vote":"move","input":"down","keys":["Down"],"repeat":2})
    );
    assert_eq!(keys[2]["keys"], json!(["Shift", "A"]));
    bot.signal(libc::SIGTERM).unwrap();
    bot.wait_exit(T).await.unwrap();
    assert_eq!(
        rec.seen().len(),
        10,
        "nothing pressed at shutdown: {:?}",
        rec.seen()
    );
}

const ANARCHY_KEYS: &str = r#"
[output]
kind = "keyboard"
user_per_sec = 0.2
global_per_sec = 100.0

[[key]]
vote = "chaos"
input = "left"
keys = ["Left"]
hold_ms = 40
gap_ms = 20

[[key]]
vote = "chaos"
input = "right"
keys = ["Right"]
hold_ms = 40
gap_ms = 20

[[key]]
vote = "chaos"
input = "up"
keys = ["Up"]
hold_ms = 40
gap_ms = 20
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anarchy_inputs_press_in_arrival_order_with_the_per_user_cap() {
    let vote = VoteSpec {
        window_secs: 60.0,
        ..VoteSpec::anarchy("chaos", &["left", "right", "up", "down"])
    };
    let (server, _x, rec, mut bot) = start(vote, ANARCHY_KEYS, &["Game"], &[], &[]).await;
    bot.wait_type("vote_opened", T, |_| true).await.unwrap();
    // alice's burst: only her first input passes the per-user cap (one per 5 s); `down` is unbound.
    chats(
        &server,
        &[
            ("alice", "left"),
            ("alice", "right"),
            ("bob", "right"),
            ("alice", "up"),
            ("carol", "down"),
            ("carol", "up"),
            ("dave", "left"),
        ],
    )
    .await;
    bot.wait_type("keys", T, |e| e["user"] == "dave")
        .await
        .unwrap();
    let seen = rec.wait_for(8).await;
    assert_eq!(
        shorts(&seen),
        [
            "+Left", "-Left", "+Right", "-Right", "+Up", "-Up", "+Left", "-Left"
        ]
    );
    for i in (0..8).step_by(2) {
        assert_hold(&seen, i, i + 1, 40);
    }
    let users: Vec<Value> = bot
        .events()
        .into_iter()
        .filter(|e| e["type"] == "keys")
        .map(|e| e["user"].clone())
        .collect();
    assert_eq!(
        users,
        [json!("alice"), json!("bob"), json!("carol"), json!("dave")]
    );
    bot.signal(libc::SIGTERM).unwrap();
    bot.wait_exit(T).await.unwrap();
    assert_eq!(rec.seen().len(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_pressed_while_paused() {
    let vote = VoteSpec {
        window_secs: 60.0,
        ..VoteSpec::anarchy("chaos", &["left", "right", "up"])
    };
    let keys = ANARCHY_KEYS.replace("user_per_sec = 0.2", "user_per_sec = 100.0");
    let (server, _x, rec, mut bot) = start(vote, &keys, &["Game"], &["--output-paused"], &[]).await;
    // Reported at start (before `joined`, which `start` waited for).
    assert!(
        bot.events()
            .iter()
            .any(|e| e["type"] == "output_paused" && e["by"] == "--output-paused"),
        "{:?}",
        bot.events()
    );
    bot.wait_type("vote_opened", T, |_| true).await.unwrap();
    chats(&server, &[("u1", "left"), ("u2", "right")]).await;
    bot.wait_type("input", T, |e| e["user"] == "u2")
        .await
        .unwrap();
    // A viewer cannot resume; a moderator can.
    chats(&server, &[("troll", "!resume")]).await;
    server
        .send_chat_msg(Chat::new(CHANNEL, "mod1", "77", "!resume").moderator())
        .await
        .unwrap();
    bot.wait_type("output_resumed", T, |e| e["by"] == "mod1")
        .await
        .unwrap();
    chats(&server, &[("u3", "up")]).await;
    bot.wait_type("keys", T, |e| e["user"] == "u3")
        .await
        .unwrap();
    // Paused again from stdin: nothing more.
    op(&mut bot, json!({"op": "output", "enabled": false})).await;
    bot.wait_type("output_paused", T, |e| e["by"] == "stdin")
        .await
        .unwrap();
    chats(&server, &[("u4", "left"), ("u5", "right")]).await;
    bot.wait_type("input", T, |e| e["user"] == "u5")
        .await
        .unwrap();
    op(&mut bot, json!({"op": "output", "enabled": true})).await;
    bot.wait_type("output_resumed", T, |_| true).await.unwrap();
    chats(&server, &[("u6", "right")]).await;
    bot.wait_type("keys", T, |e| e["user"] == "u6")
        .await
        .unwrap();
    let seen = rec.wait_for(4).await;
    bot.signal(libc::SIGTERM).unwrap();
    bot.wait_exit(T).await.unwrap();
    assert_eq!(shorts(&seen), ["+Up", "-Up", "+Right", "-Right"]);
    assert_eq!(rec.seen().len(), 4);
    let keys = bot
        .events()
        .into_iter()
        .filter(|e| e["type"] == "keys")
        .count();
    assert_eq!(keys, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_focus_guard_presses_only_into_the_target_window() {
    let vote = VoteSpec {
        window_secs: 60.0,
        ..VoteSpec::anarchy("chaos", &["left", "right", "up"])
    };
    let keys = ANARCHY_KEYS.replace(
        "user_per_sec = 0.2",
        "user_per_sec = 100.0\ntarget_window = \"mGBA\"",
    );
    let (server, _x, rec, mut bot) =
        start(vote, &keys, &["mGBA - Pokemon Red", "OBS 30.0"], &[], &[]).await;
    bot.wait_type("vote_opened", T, |_| true).await.unwrap();
    rec.focus("OBS 30.0");
    chats(&server, &[("u1", "left"), ("u2", "right")]).await;
    let s = bot
        .wait_type("keys_skipped", T, |e| e["total"] == 2)
        .await
        .unwrap();
    assert_eq!(s["reason"], "focus");
    rec.focus("mGBA - Pokemon Red");
    chats(&server, &[("u3", "up")]).await;
    bot.wait_type("keys", T, |e| e["user"] == "u3")
        .await
        .unwrap();
    let seen = rec.wait_for(2).await;
    bot.signal(libc::SIGTERM).unwrap();
    bot.wait_exit(T).await.unwrap();
    let seen_all = rec.seen();
    assert_eq!(shorts(&seen), ["+Up", "-Up"]);
    assert_eq!(seen_all.len(), 2, "{seen_all:?}");
    assert!(seen_all.iter().all(|s| s.window == "mGBA - Pokemon Red"));
}

const LONG_HOLD: &str = r#"
[output]
kind = "keyboard"

[[key]]
vote = "chaos"
input = "left"
keys = ["Shift", "A"]
hold_ms = 8000

[[key]]
vote = "chaos"
input = "right"
keys = ["Right"]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_hold_releases_every_key() {
    let vote = VoteSpec {
        window_secs: 60.0,
        ..VoteSpec::anarchy("chaos", &["left", "right"])
    };
    let (server, _x, rec, mut bot) = start(vote, LONG_HOLD, &["Game"], &[], &[]).await;
    bot.wait_type("vote_opened", T, |_| true).await.unwrap();
    chats(&server, &[("u1", "left")]).await;
    rec.wait_for(2).await;
    let sent = Instant::now();
    bot.signal(libc::SIGTERM).unwrap();
    let seen = rec.wait_for(4).await;
    assert_eq!(shorts(&seen), ["+Shift", "+A", "-A", "-Shift"]);
    // Released on the signal, not at the end of the 8 s hold.
    assert!(seen[2].time.wrapping_sub(seen[1].time) < 8000, "{seen:?}");
    assert!(sent.elapsed() < Duration::from_secs(8));
    let status = bot.wait_exit(T).await.unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_the_output_thread_releases_every_key() {
    let vote = VoteSpec {
        window_secs: 60.0,
        ..VoteSpec::anarchy("chaos", &["left", "right"])
    };
    let (server, _x, rec, mut bot) = start(
        vote,
        LONG_HOLD,
        &["Game"],
        &[],
        &[("TWITCH_BOT_TEST_OUTPUT_PANIC_AFTER_PRESSES", "2")],
    )
    .await;
    bot.wait_type("vote_opened", T, |_| true).await.unwrap();
    chats(&server, &[("u1", "left")]).await;
    let e = bot
        .wait_type("error", T, |e| e["kind"] == "output")
        .await
        .unwrap();
    assert!(e["message"].as_str().unwrap().contains("released"), "{e}");
    // Released while the bot keeps running (long before the 8 s hold ends).
    let seen = rec.wait_for(4).await;
    assert_eq!(shorts(&seen), ["+Shift", "+A", "-A", "-Shift"]);
    assert!(seen[2].time.wrapping_sub(seen[1].time) < 8000, "{seen:?}");
    assert!(bot.pid().is_some());
    // Output is off from now on; chat keeps flowing as events.
    chats(&server, &[("u2", "right")]).await;
    bot.wait_type("input", T, |e| e["user"] == "u2")
        .await
        .unwrap();
    bot.signal(libc::SIGTERM).unwrap();
    assert!(bot.wait_exit(T).await.unwrap().success());
    assert_eq!(rec.seen().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_key_configs_are_refused_naming_file_line_and_key() {
    let base = BotConfig::new("ws://127.0.0.1:9", &[CHANNEL])
        .vote(VoteSpec::democracy("move", &["up", "down"]))
        .to_toml();
    let cases = [
        (
            "[[key]]\nvote = \"move\"\ninput = \"up\"\nkeys = [\"Hyper\"]\n",
            "key[1].keys",
            "unknown key name `Hyper`",
        ),
        (
            "[[key]]\nvote = \"mvoe\"\ninput = \"up\"\nkeys = [\"Up\"]\n",
            "key[1].vote",
            "no [[vote]] is named `mvoe`",
        ),
        (
            "[[key]]\nvote = \"move\"\ninput = \"left\"\nkeys = [\"Up\"]\n",
            "key[1].input",
            "has no option `left`",
        ),
        (
            "[[key]]\nvote = \"move\"\ninput = \"up\"\nkeys = [\"A\",\"B\",\"C\",\"D\",\"E\",\"F\",\"G\",\"H\",\"I\",\"J\"]\n",
            "key[1].keys",
            "1 to 4 keys (got 10)",
        ),
    ];
    for (extra, key, message) in cases {
        let text = format!("{base}\n{extra}");
        let field = format!("{} =", key.rsplit('.').next().unwrap());
        let line = text.lines().position(|l| l.starts_with(&field)).unwrap() + 1;
        let mut bot = BotProcess::launch(Launch {
            args: vec!["--check".into()],
            config_text: Some(text),
            ..Launch::default()
        })
        .await
        .unwrap();
        let status = bot.wait_exit(T).await.unwrap();
        assert_eq!(status.code(), Some(1), "{extra}");
        let err = bot.stderr();
        assert!(
            err.contains(&format!("bot.toml:{line}: key `{key}`")),
            "{extra}\n{err}"
        );
        assert!(err.contains(message), "{extra}\n{err}");
    }
}
