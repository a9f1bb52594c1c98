//! Test support: the independent Python `websockets` peer (tests/peers/python_ws_server.py) and a test CA.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Generous failure guard for waits (a test that hits it fails; it never slows a passing test).
pub const GUARD: Duration = Duration::from_secs(20);

/// The workspace root (this crate's parent directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The venv's Python: `$WEBSOCKETS_TEST_PYTHON`, else `<workspace>/.peers/venv/bin/python`.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("WEBSOCKETS_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let p = workspace_root().join(".peers/venv/bin/python");
    assert!(
        p.exists(),
        "the Python WebSocket peer is not installed: {} is missing. Run tests/peers/python-setup.sh first.",
        p.display()
    );
    p
}

/// A running `python_ws_server.py`; killed on drop.
pub struct PythonPeer {
    child: Child,
    stdin: Option<ChildStdin>,
    pub port: u16,
    lines: mpsc::Receiver<String>,
}

impl PythonPeer {
    /// Starts a plain ws:// server.
    pub fn start() -> PythonPeer {
        Self::spawn(&[])
    }

    /// Starts a wss:// server with this certificate chain and key.
    pub fn start_tls(cert: &Path, key: &Path) -> PythonPeer {
        Self::spawn(&[
            "--cert".as_ref(),
            cert.as_os_str(),
            "--key".as_ref(),
            key.as_os_str(),
        ])
    }

    fn spawn(args: &[&std::ffi::OsStr]) -> PythonPeer {
        let script = workspace_root().join("tests/peers/python_ws_server.py");
        let mut child = Command::new(python())
            .arg(&script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} (run tests/peers/python-setup.sh): {e}",
                    script.display()
                )
            });
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = rx
            .recv_timeout(GUARD)
            .expect("python peer did not print its port (is the venv set up?)");
        let port = first
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("python peer printed {first:?}, not a port"));
        PythonPeer {
            child,
            stdin,
            port,
            lines: rx,
        }
    }

    /// `ws://127.0.0.1:<port><path>`.
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://127.0.0.1:{}{}", self.port, path)
    }

    /// The next line the server printed (e.g. "closed 4001 bye" from /report).
    pub fn next_line(&self) -> String {
        self.lines
            .recv_timeout(GUARD)
            .expect("python peer printed nothing")
    }
}

impl Drop for PythonPeer {
    fn drop(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.flush();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Collects what a handler saw, for the test thread to wait on.
pub fn channel<T>() -> (mpsc::Sender<T>, Receiver<T>) {
    let (tx, rx) = mpsc::channel();
    (tx, Receiver(rx))
}

/// A receiver whose `next` fails the test after [`GUARD`].
pub struct Receiver<T>(pub mpsc::Receiver<T>);

impl<T> Receiver<T> {
    pub fn next(&self) -> T {
        self.0
            .recv_timeout(GUARD)
            .expect("timed out waiting for an event")
    }
}
