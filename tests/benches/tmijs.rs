//! tmi.js 1.8.5 (the most used JavaScript Twitch chat client) as a baseline reading the same
//! flood from the same mock.
//!
//! The bench installs it itself, once, into the git-ignored `.peers/tmijs` with
//! `npm install tmi.js@1.8.5` (CI never runs benches); without `node`/`npm` the tmi.js rows are
//! skipped with a printed note.
//!
//! tmi.js picks its server from `options.connection`: `server` (host), `port`, and `secure`
//! (`wss://` when true; it defaults to true only when neither server nor port is given; with
//! `secure` it forces port 443, which the script undoes with a one-line shim). It is
//! pointed at the mock over `ws://127.0.0.1:PORT` or `wss://127.0.0.1:PORT` (the test CA through
//! `NODE_EXTRA_CA_CERTS`). It does the same work the bot is asked for: it parses every line and
//! counts the chat messages in its `message` handler. The end marker is the mock's
//! `PING :bench-end` after the flood: tmi.js handles lines in order, so when its `ping` event
//! fires every line before it has been through `message`; the script then prints the count.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use e2e::mock_twitch::{MockOptions, MockTwitch};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// The version measured.
pub const VERSION: &str = "1.8.5";

const SCRIPT: &str = r#"// Written by the e2e bench: count tmi.js 'message' events until the end marker's PING.
const tmi = require(process.argv[2]);
const [host, port, secure, channel] = process.argv.slice(3);
const client = new tmi.Client({
  options: { debug: false, skipMembership: true, skipUpdatingEmotesets: true },
  connection: { server: host, port: Number(port), secure: secure === 'true', reconnect: false },
  channels: [channel],
});
// tmi.js 1.8.5 forces port 443 whenever `secure` is set (connect(): `if(this.secure) this.port = 443`);
// the mock listens elsewhere, so put its port back just before the socket opens. Nothing else changes.
const open = client._openConnection;
client._openConnection = function () { this.port = Number(port); return open.call(this); };
let count = 0;
client.on('message', () => { count += 1; });
client.on('ping', () => { process.stdout.write(`count ${count}\n`); });
client.connect().catch((e) => { process.stderr.write(`connect failed: ${e}\n`); process.exit(2); });
// tmi.js reports only "Unable to connect."; say why.
if (client.ws) client.ws.on('error', (e) => process.stderr.write(`tmi.js socket error: ${e.message}\n`));
"#;

/// The workspace's `.peers/tmijs`.
fn peer_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .join(".peers/tmijs")
}

/// Installs tmi.js if missing; returns the folder holding `node_modules/tmi.js` and the script,
/// or `None` (with the reason printed) when node or npm is unavailable or the install failed.
pub fn setup() -> Option<PathBuf> {
    let dir = peer_dir();
    let module = dir.join("node_modules/tmi.js");
    let installed = std::fs::read_to_string(module.join("package.json"))
        .map(|p| p.contains(&format!("\"version\": \"{VERSION}\"")))
        .unwrap_or(false);
    if !installed {
        if let Err(e) = std::fs::create_dir_all(&dir) {
            eprintln!(
                "note: tmi.js baseline skipped: cannot create {}: {e}",
                dir.display()
            );
            return None;
        }
        eprintln!("installing tmi.js {VERSION} into {} (npm)", dir.display());
        let status = std::process::Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--silent"])
            .arg(format!("tmi.js@{VERSION}"))
            .current_dir(&dir)
            .status();
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => {
                eprintln!("note: tmi.js baseline skipped: npm install failed ({s})");
                return None;
            }
            Err(e) => {
                eprintln!("note: tmi.js baseline skipped: npm is not available ({e})");
                return None;
            }
        }
    }
    if std::process::Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
    {
        eprintln!("note: tmi.js baseline skipped: node is not available");
        return None;
    }
    if let Err(e) = std::fs::write(dir.join("count.js"), SCRIPT) {
        eprintln!("note: tmi.js baseline skipped: cannot write the script: {e}");
        return None;
    }
    Some(dir)
}

/// One tmi.js run: lines counted and seconds from the first frame to the count.
pub struct TmiRun {
    pub counted: usize,
    pub secs: f64,
    /// CPU seconds node spent from the first frame to the count.
    pub cpu_secs: Option<f64>,
}

/// Connects tmi.js to a fresh mock, floods it with `frames`, and times it to the end marker.
pub async fn run(
    dir: &Path,
    tls: bool,
    channel: &str,
    frames: &[String],
) -> Result<TmiRun, String> {
    let server = MockTwitch::start(MockOptions {
        tls,
        ..MockOptions::default()
    })
    .await
    .map_err(|e| format!("mock: {e}"))?;
    let port = server.addr().port().to_string();
    // The certificate names 127.0.0.1 too; `localhost` would resolve to ::1 first in node.
    let host = "127.0.0.1";
    let mut cmd = Command::new("node");
    cmd.arg(dir.join("count.js"))
        .arg(dir.join("node_modules/tmi.js"))
        .args([host, &port, if tls { "true" } else { "false" }, channel])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    if let Some(ca) = server.ca_file() {
        cmd.env("NODE_EXTRA_CA_CERTS", ca);
    }
    let mut child = cmd.spawn().map_err(|e| format!("node: {e}"))?;
    let mut out = BufReader::new(child.stdout.take().expect("piped")).lines();
    let conn = server
        .wait_for_join(channel, 0, Duration::from_secs(30))
        .await
        .map_err(|e| format!("tmi.js did not join: {e}"))?;
    let sender = server.frame_sender(conn).ok_or("no connection")?;
    let pid = child.id().ok_or("node exited")?;
    let cpu0 = crate::cpu_secs(pid);
    let t0 = Instant::now();
    for f in frames {
        if !sender.send(f.clone()).await {
            return Err("tmi.js disconnected during the flood".into());
        }
    }
    sender.send("PING :bench-end\r\n".to_string()).await;
    let line = tokio::time::timeout(Duration::from_secs(600), out.next_line())
        .await
        .map_err(|_| "tmi.js gave no count within 600 s".to_string())?
        .map_err(|e| format!("reading tmi.js: {e}"))?
        .ok_or("tmi.js exited without a count")?;
    let secs = t0.elapsed().as_secs_f64();
    let cpu_secs = crate::cpu_secs(pid).zip(cpu0).map(|(b, a)| b - a);
    let counted = line
        .strip_prefix("count ")
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| format!("unexpected output from tmi.js: {line:?}"))?;
    let _ = child.kill().await;
    Ok(TmiRun {
        counted,
        secs,
        cpu_secs,
    })
}
