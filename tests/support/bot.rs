//! Running the real `twitch_bot` binary as a child process: config files, JSON events on its
//! stdout, control lines on its stdin, signals and exit codes.
//!
//! # Finding the binary
//!
//! Tests in the `e2e` crate cannot use `CARGO_BIN_EXE_twitch_bot` (that is only set for the
//! binary's own package). [`bot_binary`] therefore:
//!
//! 1. uses `$TWITCH_BOT_BIN` if set;
//! 2. otherwise derives `<target dir>/<profile>/twitch_bot` from the running test executable
//!    (`<target dir>/<profile>/deps/<test>-<hash>`), and runs
//!    `cargo build -p twitch_bot --bin twitch_bot` with the same target dir and profile
//!    (`--release` for `release`) once per test process, so the binary is never stale
//!    (a no-op when it is up to date). `$E2E_NO_BUILD=1` skips the build.
//!
//! ```no_run
//! let path = e2e::bot::bot_binary();
//! assert!(path.ends_with("twitch_bot"));
//! ```

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

/// Errors of the bot-process helpers.
#[derive(Debug, thiserror::Error)]
pub enum BotError {
    /// Spawning or talking to the process failed.
    #[error("bot process I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A wait gave up. Carries the events and stderr seen so far for the failure message.
    #[error(
        "timed out after {timeout:?} waiting for {what}\n--- events seen:\n{events}\n--- stderr:\n{stderr}"
    )]
    Timeout {
        /// How long it waited.
        timeout: Duration,
        /// What it waited for.
        what: String,
        /// The events seen so far.
        events: String,
        /// The process's stderr so far.
        stderr: String,
    },
    /// The bot's stdout ended (the process exited or closed stdout).
    #[error(
        "the bot's stdout ended while waiting for {what}\n--- events seen:\n{events}\n--- stderr:\n{stderr}"
    )]
    StdoutClosed {
        /// What it waited for.
        what: String,
        /// The events seen so far.
        events: String,
        /// The process's stderr so far.
        stderr: String,
    },
}

static BUILT: OnceLock<PathBuf> = OnceLock::new();

/// The path of the `twitch_bot` binary to test (see the module docs), building it if needed.
///
/// # Panics
/// If the binary cannot be found or built (the test cannot run without it).
pub fn bot_binary() -> PathBuf {
    BUILT
        .get_or_init(|| {
            if let Some(p) = std::env::var_os("TWITCH_BOT_BIN") {
                return PathBuf::from(p);
            }
            let exe = std::env::current_exe().expect("current_exe");
            let deps = exe.parent().expect("test exe has a parent dir");
            let profile_dir = if deps.file_name().is_some_and(|n| n == "deps") {
                deps.parent().expect("deps has a parent")
            } else {
                deps
            };
            let target_dir = profile_dir.parent().expect("profile dir has a parent");
            let profile = profile_dir
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("debug")
                .to_string();
            let bin = profile_dir.join("twitch_bot");
            if std::env::var_os("E2E_NO_BUILD").is_none() {
                build_bot(target_dir, &profile);
            }
            assert!(
                bin.exists(),
                "the twitch_bot binary is missing at {} (build it with `cargo build -p twitch_bot`, \
                 or set TWITCH_BOT_BIN)",
                bin.display()
            );
            bin
        })
        .clone()
}

fn build_bot(target_dir: &Path, profile: &str) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the e2e crate lives in the workspace");
    let mut cmd = std::process::Command::new(cargo);
    // `cargo test` gives the test process the e2e package's CARGO_MANIFEST_DIR, CARGO_PKG_*
    // etc.; build scripts (ring's) track some of them, so passing them on would make this
    // build, and the next `cargo test`, recompile half the dependency tree.
    for (k, _) in std::env::vars_os() {
        let Some(k) = k.to_str() else { continue };
        if [
            "CARGO_MANIFEST_",
            "CARGO_PKG_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
            "CARGO_PRIMARY_PACKAGE",
            "CARGO_TARGET_TMPDIR",
            "CARGO_RUSTC_CURRENT_DIR",
            "OUT_DIR",
        ]
        .iter()
        .any(|p| k.starts_with(p))
        {
            cmd.env_remove(k);
        }
    }
    cmd.current_dir(workspace)
        .args([
            "build",
            "--quiet",
            "-p",
            "twitch_bot",
            "--bin",
            "twitch_bot",
        ])
        .arg("--target-dir")
        .arg(target_dir);
    match profile {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    let status = cmd
        .status()
        .expect("running cargo to build twitch_bot failed");
    assert!(status.success(), "`cargo build -p twitch_bot` failed");
}

/// A vote section of a test config.
#[derive(Debug, Clone)]
pub struct VoteSpec {
    /// `name`.
    pub name: String,
    /// `options`.
    pub options: Vec<String>,
    /// `mode`: `democracy` or `anarchy`.
    pub mode: String,
    /// `window_secs`.
    pub window_secs: f64,
    /// `start`: `auto` or `command`.
    pub start: String,
    /// `min_voters`.
    pub min_voters: u32,
    /// `tie`.
    pub tie: String,
    /// `max_repeat`.
    pub max_repeat: u32,
    /// `announce`.
    pub announce: bool,
    /// `max_voters` (None = the bot's default).
    pub max_voters: Option<u64>,
    /// `tally_interval_secs` (None = the bot's default, off).
    pub tally_interval_secs: Option<f64>,
}

impl VoteSpec {
    /// A democracy vote `name` over `options`, started by command, 1.5 s window.
    pub fn democracy(name: &str, options: &[&str]) -> Self {
        Self {
            name: name.to_string(),
            options: options.iter().map(|s| s.to_string()).collect(),
            mode: "democracy".to_string(),
            window_secs: 1.5,
            start: "command".to_string(),
            min_voters: 1,
            tie: "first".to_string(),
            max_repeat: 1,
            announce: false,
            max_voters: None,
            tally_interval_secs: None,
        }
    }

    /// An anarchy vote `name` over `options` (auto start).
    pub fn anarchy(name: &str, options: &[&str]) -> Self {
        Self {
            mode: "anarchy".to_string(),
            start: "auto".to_string(),
            ..Self::democracy(name, options)
        }
    }

    fn to_toml(&self) -> String {
        let max_voters = match self.max_voters {
            Some(n) => format!("max_voters = {n}\n"),
            None => String::new(),
        };
        let tally_interval = match self.tally_interval_secs {
            Some(t) => format!("tally_interval_secs = {t:?}\n"),
            None => String::new(),
        };
        format!(
            "[[vote]]\nname = {}\noptions = {}\nmode = {}\nwindow_secs = {:?}\nstart = {}\nmin_voters = {}\ntie = {}\nmax_repeat = {}\nannounce = {}\n{}{}",
            q(&self.name),
            list(&self.options),
            q(&self.mode),
            self.window_secs,
            q(&self.start),
            self.min_voters,
            q(&self.tie),
            self.max_repeat,
            self.announce,
            max_voters,
            tally_interval,
        )
    }
}

/// A command section of a test config.
#[derive(Debug, Clone)]
pub struct CommandSpec {
    /// `name`.
    pub name: String,
    /// `keywords`.
    pub keywords: Vec<String>,
    /// `cooldown_secs`.
    pub cooldown_secs: f64,
    /// `mods_only`.
    pub mods_only: bool,
}

impl CommandSpec {
    /// A command `name` triggered by `keywords`.
    pub fn new(name: &str, keywords: &[&str], cooldown_secs: f64, mods_only: bool) -> Self {
        Self {
            name: name.to_string(),
            keywords: keywords.iter().map(|s| s.to_string()).collect(),
            cooldown_secs,
            mods_only,
        }
    }

    fn to_toml(&self) -> String {
        format!(
            "[[command]]\nname = {}\nkeywords = {}\ncooldown_secs = {:?}\nmods_only = {}\n",
            q(&self.name),
            list(&self.keywords),
            self.cooldown_secs,
            self.mods_only
        )
    }
}

/// A bot config (the contract keys of issue 5), rendered to TOML by hand so the tests do not
/// depend on the bot's own config code.
#[derive(Debug, Clone, Default)]
pub struct BotConfig {
    /// `connection.server`.
    pub server: String,
    /// `connection.ca_file`.
    pub ca_file: Option<PathBuf>,
    /// `connection.nick` (None = anonymous).
    pub nick: Option<String>,
    /// `connection.token_env`.
    pub token_env: Option<String>,
    /// `connection.channels`.
    pub channels: Vec<String>,
    /// `connection.ping_idle_secs` and `connection.pong_timeout_secs` (None = the bot's defaults).
    pub keepalive: Option<(f64, f64)>,
    /// `[[vote]]` sections.
    pub votes: Vec<VoteSpec>,
    /// `[[command]]` sections.
    pub commands: Vec<CommandSpec>,
}

impl BotConfig {
    /// An anonymous config for `server` joining `channels`.
    pub fn new(server: &str, channels: &[&str]) -> Self {
        Self {
            server: server.to_string(),
            channels: channels.iter().map(|s| s.to_string()).collect(),
            ..Self::default()
        }
    }

    /// Logs in as `nick`, with the token in env var `token_env`.
    pub fn login(mut self, nick: &str, token_env: &str) -> Self {
        self.nick = Some(nick.to_string());
        self.token_env = Some(token_env.to_string());
        self
    }

    /// Adds a vote.
    pub fn vote(mut self, v: VoteSpec) -> Self {
        self.votes.push(v);
        self
    }

    /// Adds a command.
    pub fn command(mut self, c: CommandSpec) -> Self {
        self.commands.push(c);
        self
    }

    /// Sends the bot's own PING after `ping_idle_secs` of silence and reconnects when no PONG
    /// comes within `pong_timeout_secs`.
    pub fn keepalive(mut self, ping_idle_secs: f64, pong_timeout_secs: f64) -> Self {
        self.keepalive = Some((ping_idle_secs, pong_timeout_secs));
        self
    }

    /// Trusts the CA in `path`.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// The TOML text.
    pub fn to_toml(&self) -> String {
        let mut s = String::from("[connection]\n");
        s.push_str(&format!("server = {}\n", q(&self.server)));
        if let Some(ca) = &self.ca_file {
            s.push_str(&format!("ca_file = {}\n", q(&ca.display().to_string())));
        }
        if let Some(n) = &self.nick {
            s.push_str(&format!("nick = {}\n", q(n)));
        }
        if let Some(t) = &self.token_env {
            s.push_str(&format!("token_env = {}\n", q(t)));
        }
        s.push_str(&format!("channels = {}\n", list(&self.channels)));
        if let Some((idle, pong)) = self.keepalive {
            s.push_str(&format!(
                "ping_idle_secs = {idle:?}\npong_timeout_secs = {pong:?}\n"
            ));
        }
        for v in &self.votes {
            s.push('\n');
            s.push_str(&v.to_toml());
        }
        for c in &self.commands {
            s.push('\n');
            s.push_str(&c.to_toml());
        }
        s
    }
}

fn q(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialize")
}

fn list(items: &[String]) -> String {
    format!(
        "[{}]",
        items.iter().map(|s| q(s)).collect::<Vec<_>>().join(", ")
    )
}

/// How to start the bot.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    /// Extra command-line arguments (after `--config <file>` when a config is given).
    pub args: Vec<String>,
    /// Environment variables for the child (e.g. the token).
    pub env: Vec<(String, String)>,
    /// Pass `--config <tempdir>/bot.toml` with this text; `None` passes no `--config`.
    pub config_text: Option<String>,
    /// Do not read the bot's stdout until [`BotProcess::release_stdout`] (a slow consumer).
    pub hold_stdout: bool,
    /// Never read the bot's stderr (a parent that pipes it and forgets it); the pipe stays open.
    pub hold_stderr: bool,
}

struct Output {
    events: Vec<Value>,
    stderr: String,
}

/// A running `twitch_bot` process. Killed (SIGKILL) when dropped.
pub struct BotProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    rx: mpsc::UnboundedReceiver<Value>,
    pending: VecDeque<Value>,
    out: Arc<Mutex<Output>>,
    dir: tempfile::TempDir,
    config_path: Option<PathBuf>,
    stderr_task: Option<tokio::task::JoinHandle<()>>,
    /// The unread stderr pipe of a bot launched with [`Launch::hold_stderr`] (kept open).
    _held_stderr: Option<tokio::process::ChildStderr>,
    stdout_gate: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for BotProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BotProcess")
            .field("pid", &self.child.id())
            .finish_non_exhaustive()
    }
}

impl BotProcess {
    /// Writes `config` to a temp dir and starts `twitch_bot --config <file>` (plus `env`).
    pub async fn start(config: &BotConfig, env: &[(&str, &str)]) -> Result<Self, BotError> {
        Self::launch(Launch {
            args: Vec::new(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            config_text: Some(config.to_toml()),
            ..Launch::default()
        })
        .await
    }

    /// Starts the bot as described by `launch`.
    pub async fn launch(launch: Launch) -> Result<Self, BotError> {
        let dir = tempfile::Builder::new().prefix("e2e-bot").tempdir()?;
        let mut cmd = Command::new(bot_binary());
        cmd.current_dir(dir.path());
        let mut config_path = None;
        if let Some(text) = &launch.config_text {
            let p = dir.path().join("bot.toml");
            std::fs::write(&p, text)?;
            cmd.arg("--config").arg(&p);
            config_path = Some(p);
        }
        cmd.args(&launch.args);
        // Keep the child's logs useful but bounded; the tests read stderr on failure.
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "info");
        }
        for (k, v) in &launch.env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn()?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let out = Arc::new(Mutex::new(Output {
            events: Vec::new(),
            stderr: String::new(),
        }));
        let (tx, rx) = mpsc::unbounded_channel();
        let o = out.clone();
        let gate = Arc::new(tokio::sync::Notify::new());
        let held = launch.hold_stdout.then(|| gate.clone());
        tokio::spawn(async move {
            if let Some(g) = held {
                g.notified().await;
            }
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                // Every stdout line must be one JSON object (the contract); anything else is
                // turned into a marker event the tests reject.
                let v = match serde_json::from_str::<Value>(&line) {
                    Ok(v) if v.is_object() => v,
                    _ => serde_json::json!({"type": "__not_json__", "line": line}),
                };
                o.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .events
                    .push(v.clone());
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        let (stderr, held_stderr) = if launch.hold_stderr {
            (None, Some(stderr))
        } else {
            (Some(stderr), None)
        };
        let o = out.clone();
        let stderr_task = stderr.map(|stderr| {
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let mut g = o.lock().unwrap_or_else(|p| p.into_inner());
                    // Bounded: keep the last ~1 MB.
                    if g.stderr.len() > 1 << 20 {
                        let cut = g.stderr.len() - (1 << 19);
                        let cut = (cut..g.stderr.len())
                            .find(|&i| g.stderr.is_char_boundary(i))
                            .unwrap_or(0);
                        g.stderr.drain(..cut);
                    }
                    g.stderr.push_str(&line);
                    g.stderr.push('\n');
                }
            })
        });
        Ok(Self {
            child,
            stdin,
            rx,
            pending: VecDeque::new(),
            out,
            dir,
            config_path,
            stderr_task,
            _held_stderr: held_stderr,
            stdout_gate: gate,
        })
    }

    /// Starts reading stdout of a bot launched with [`Launch::hold_stdout`].
    pub fn release_stdout(&self) {
        self.stdout_gate.notify_one();
    }

    /// The process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The config file path, if one was written.
    pub fn config_path(&self) -> Option<&Path> {
        self.config_path.as_deref()
    }

    /// The temp dir the bot runs in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Everything the bot printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.out
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .stderr
            .clone()
    }

    /// Every event seen so far (including ones not yet consumed by a wait).
    pub fn events(&self) -> Vec<Value> {
        self.out
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .events
            .clone()
    }

    fn describe(&self) -> (String, String) {
        let g = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let ev = g
            .events
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        let err = g.stderr.lines().rev().take(60).collect::<Vec<_>>();
        let err = err.into_iter().rev().collect::<Vec<_>>().join("\n");
        (ev, err)
    }

    /// The next event (in order), waiting at most `timeout`.
    pub async fn next_event(&mut self, timeout: Duration) -> Result<Value, BotError> {
        if let Some(v) = self.pending.pop_front() {
            return Ok(v);
        }
        match tokio::time::timeout(timeout, self.rx.recv()).await {
            Ok(Some(v)) => Ok(v),
            Ok(None) => {
                let (events, stderr) = self.describe();
                Err(BotError::StdoutClosed {
                    what: "the next event".into(),
                    events,
                    stderr,
                })
            }
            Err(_) => {
                let (events, stderr) = self.describe();
                Err(BotError::Timeout {
                    timeout,
                    what: "the next event".into(),
                    events,
                    stderr,
                })
            }
        }
    }

    /// Consumes events until one matches `pred` and returns it; `what` names it in errors.
    pub async fn wait_event(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Result<Value, BotError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let v = if let Some(v) = self.pending.pop_front() {
                Some(v)
            } else {
                match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                    Ok(v) => v,
                    Err(_) => {
                        let (events, stderr) = self.describe();
                        return Err(BotError::Timeout {
                            timeout,
                            what: what.into(),
                            events,
                            stderr,
                        });
                    }
                }
            };
            match v {
                Some(v) if pred(&v) => return Ok(v),
                Some(_) => {}
                None => {
                    let (events, stderr) = self.describe();
                    return Err(BotError::StdoutClosed {
                        what: what.into(),
                        events,
                        stderr,
                    });
                }
            }
        }
    }

    /// Waits for an event of `type` (`{"type": ty}`) for which `pred` holds.
    pub async fn wait_type(
        &mut self,
        ty: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Result<Value, BotError> {
        self.wait_event(&format!("a `{ty}` event"), timeout, |v| {
            v["type"] == ty && pred(v)
        })
        .await
    }

    /// Writes one line (a newline is added) to the bot's stdin.
    pub async fn send_stdin(&mut self, line: &str) -> Result<(), BotError> {
        let stdin = self.stdin.as_mut().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "stdin already closed")
        })?;
        stdin.write_all(line.as_bytes()).await?;
        stdin.write_all(b"\n").await?;
        stdin.flush().await?;
        Ok(())
    }

    /// Sends a JSON value as one stdin line.
    pub async fn send_op(&mut self, op: &Value) -> Result<(), BotError> {
        self.send_stdin(&op.to_string()).await
    }

    /// Closes the bot's stdin.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Sends a signal (e.g. `libc::SIGTERM`, `libc::SIGINT`) to the process.
    pub fn signal(&self, sig: i32) -> Result<(), BotError> {
        let pid = self
            .child
            .id()
            .ok_or_else(|| std::io::Error::other("the bot already exited"))?;
        let pid = i32::try_from(pid).map_err(std::io::Error::other)?;
        // SAFETY: kill(2) with a pid we spawned and still own (not yet reaped: `id()` is Some).
        let rc = unsafe { libc::kill(pid, sig) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        Ok(())
    }

    /// Waits for the process to exit.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus, BotError> {
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(r) => {
                let status = r?;
                // Read stderr to its end so callers see everything the bot printed.
                if let Some(t) = self.stderr_task.take() {
                    let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
                }
                Ok(status)
            }
            Err(_) => {
                let (events, stderr) = self.describe();
                Err(BotError::Timeout {
                    timeout,
                    what: "the bot to exit".into(),
                    events,
                    stderr,
                })
            }
        }
    }

    /// Drains the remaining events after the process exited (stdout closed), in order.
    pub async fn remaining_events(&mut self, timeout: Duration) -> Vec<Value> {
        let mut v: Vec<Value> = self.pending.drain(..).collect();
        let deadline = tokio::time::Instant::now() + timeout;
        while let Ok(Some(e)) = tokio::time::timeout_at(deadline, self.rx.recv()).await {
            v.push(e);
        }
        v
    }

    /// Resident memory (VmRSS) of the process in KiB, read from `/proc/<pid>/status`.
    pub fn rss_kib(&self) -> Option<u64> {
        rss_kib(self.child.id()?)
    }
}

/// VmRSS of process `pid` in KiB (Linux `/proc`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
