//! Conformance: the Autobahn|Testsuite fuzzing server drives a client written with the crate's public API.
//!
//! The fuzzing server (`wstest -m fuzzingserver`, installed by `tests/peers/autobahn-setup.sh` into
//! `<workspace>/.peers/autobahn`, or given by `AUTOBAHN_WSTEST`) is started on a free loopback port with a spec
//! file written into a temporary directory. The client connects once per case with
//! [`websockets::create_client_with`], echoes every text message as text (through the `OnMessage` handler) and
//! every binary message as binary (through `on_binary`) until the server closes, then asks the server to write
//! its reports and reads `index.json`.
//!
//! Gate: every case outside 12.* and 13.* (permessage-deflate, which the crate does not offer) must come out
//! OK or INFORMATIONAL, both for the message exchange (`behavior`) and the close (`behaviorClose`); any other
//! verdict fails the test with the list of offending cases. The counts per verdict are printed to the log.
//!
//! The ws:// run must have run at least 301 cases, 6.4.3 and 6.4.4 among them.
//!
//! `wss://`: the same over TLS for cases 1.*, 2.*, 5.*, 6.1.*, 6.4.3 (invalid UTF-8 arriving in chops: the
//! UTF-8 guard under TLS) and 7.1.*, against a second fuzzing server whose
//! certificate is issued by a throwaway CA made with rcgen at test time and trusted through
//! [`ClientOptions::add_ca_pem`].

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant};

use serde_json::Value;
use websockets::{
    ClientOptions, IWebsocketClient, WebsocketClient, WebsocketType, create_client_with,
};

/// The name the fuzzing server files our results under.
const AGENT: &str = "websockets-rs";

/// Cases allowed to be NON-STRICT. Empty: 6.4.3 and 6.4.4 (invalid UTF-8 inside one text frame that arrives
/// in chops) come out OK thanks to the crate's fail-fast UTF-8 guard, so they gate like every other case.
const ALLOWED_NON_STRICT: &[&str] = &[];

/// Failure guard for one case (the slowest, 9.* with 16 MiB messages, take about a second).
const CASE_TIMEOUT: Duration = Duration::from_secs(60);

/// The crate's default connect timeout, for the case connections.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[test]
fn autobahn_fuzzingserver_ws() {
    let mut server = FuzzingServer::start(None, &["*"], &["12.*", "13.*"]);
    let report = run_all_cases(&mut server, WebsocketType::NonSecure, None);
    check(&report, "ws://");
    // Every case outside 12.* and 13.* ran (301 with wstest 0.8.2 / autobahntestsuite 25.10.1), the
    // chopped invalid-UTF-8 ones among them: a server offering fewer would make the gate above hollow.
    assert_ran(&report, "ws://", 301, &["6.4.3", "6.4.4"]);
}

#[test]
fn autobahn_fuzzingserver_wss_with_test_ca() {
    let ca = TestCa::generate();
    // 6.4.3: invalid UTF-8 in a text frame that arrives in chops, so the UTF-8 guard is proven under TLS
    // too (it reads the plaintext side of the TLS stream).
    let mut server = FuzzingServer::start(
        Some(&ca),
        &["1.*", "2.*", "5.*", "6.1.*", "6.4.3", "7.1.*"],
        &[],
    );
    let report = run_all_cases(
        &mut server,
        WebsocketType::Secure,
        Some(ca.ca_pem.as_bytes()),
    );
    check(&report, "wss://");
    assert_ran(&report, "wss://", 1, &["6.4.3"]);
}

/// Fails unless at least `min` cases ran and `required` are among them.
fn assert_ran(report: &Report, label: &str, min: usize, required: &[&str]) {
    assert!(
        report.len() >= min,
        "Autobahn {label}: only {} cases ran, expected at least {min}",
        report.len()
    );
    let missing: Vec<&&str> = required
        .iter()
        .filter(|id| !report.contains_key(**id))
        .collect();
    assert!(
        missing.is_empty(),
        "Autobahn {label}: cases {missing:?} did not run"
    );
}

/// One case's verdicts from `index.json`.
#[derive(Debug)]
struct Verdict {
    behavior: String,
    behavior_close: String,
}

/// Case id ("6.4.3") -> verdict.
type Report = BTreeMap<String, Verdict>;

/// Prints the counts per verdict and fails with the list of cases that do not pass the gate.
fn check(report: &Report, label: &str) {
    let mut behavior: BTreeMap<&str, usize> = BTreeMap::new();
    let mut behavior_close: BTreeMap<&str, usize> = BTreeMap::new();
    let mut offending = Vec::new();
    for (id, verdict) in report {
        *behavior.entry(verdict.behavior.as_str()).or_default() += 1;
        *behavior_close
            .entry(verdict.behavior_close.as_str())
            .or_default() += 1;
        if id.starts_with("12.") || id.starts_with("13.") {
            continue;
        }
        let behavior_ok = matches!(verdict.behavior.as_str(), "OK" | "INFORMATIONAL")
            || (verdict.behavior == "NON-STRICT" && ALLOWED_NON_STRICT.contains(&id.as_str()));
        let close_ok = matches!(verdict.behavior_close.as_str(), "OK" | "INFORMATIONAL");
        if !behavior_ok || !close_ok {
            offending.push(format!(
                "{id}: behavior {}, behaviorClose {}",
                verdict.behavior, verdict.behavior_close
            ));
        }
    }
    let line = |counts: &BTreeMap<&str, usize>| {
        counts
            .iter()
            .map(|(verdict, n)| format!("{verdict}={n}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    // Written to the real stderr (not the captured test output) so the summary is always in the log.
    let mut log = std::io::stderr().lock();
    let _ = writeln!(
        log,
        "autobahn {label} {} cases, behavior:      {}",
        report.len(),
        line(&behavior)
    );
    let _ = writeln!(
        log,
        "autobahn {label} {} cases, behaviorClose: {}",
        report.len(),
        line(&behavior_close)
    );
    let informational: Vec<&str> = report
        .iter()
        .filter(|(_, v)| v.behavior == "INFORMATIONAL" || v.behavior_close == "INFORMATIONAL")
        .map(|(id, _)| id.as_str())
        .collect();
    if !informational.is_empty() {
        let _ = writeln!(
            log,
            "autobahn {label} INFORMATIONAL cases: {}",
            informational.join(", ")
        );
    }
    drop(log);
    assert!(
        offending.is_empty(),
        "Autobahn {label}: {} case(s) not OK:\n{}",
        offending.len(),
        offending.join("\n")
    );
}

/// The echo state shared by the handlers and the test thread.
///
/// Echoes are sent from inside the handlers, so each one is queued before the connection reads the next frame,
/// as an echo loop would: when a case follows a message with a protocol violation in the same TCP segment, the
/// echo must leave before the connection fails (Autobahn 3.2, 4.1.4, 5.15, ...). The server sends as soon as
/// the handshake is done, possibly before `create_client_with` has handed the client back, so a handler waits
/// (on a condition variable, not a timer) until the test thread publishes the client.
struct Echo {
    state: Mutex<EchoState>,
    published: Condvar,
}

enum EchoState {
    Connecting,
    Open(WebsocketClient),
    Done,
}

enum Reply {
    Text(String),
    Binary(Vec<u8>),
}

/// Failure guard for a handler waiting for the client to be published.
const PUBLISH_WAIT: Duration = Duration::from_secs(10);

impl Echo {
    fn new() -> Echo {
        Echo {
            state: Mutex::new(EchoState::Connecting),
            published: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, EchoState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn set(&self, state: EchoState) {
        *self.lock() = state;
        self.published.notify_all();
    }

    fn reply(&self, reply: Reply) {
        let state = self.lock();
        let (state, _) = self
            .published
            .wait_timeout_while(state, PUBLISH_WAIT, |s| matches!(s, EchoState::Connecting))
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let EchoState::Open(client) = &*state else {
            return;
        };
        let sent = match reply {
            Reply::Text(text) => client.send_websocket_message(&text),
            Reply::Binary(data) => client.send_websocket_message_binary(&data),
        };
        // A send fails with `Closed` once the connection is closing: the verdict is the server's to give.
        // Anything else is a harness problem: say so (the case then fails in the report too).
        match sent {
            Ok(()) | Err(websockets::Error::Closed) => {}
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "autobahn echo: send failed: {e}");
            }
        }
    }
}

/// Runs every case of `server` with the crate's client, then has the server write its report and parses it.
fn run_all_cases(
    server: &mut FuzzingServer,
    websocket_type: WebsocketType,
    ca_pem: Option<&[u8]>,
) -> Report {
    let base = server.url();
    let count = case_count(&base, websocket_type, ca_pem);
    assert!(count > 0, "the fuzzing server at {base} offers no cases");
    let mut errors = Vec::new();
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={AGENT}");
        if let Err(e) = echo_until_closed(&url, websocket_type, ca_pem, CONNECT_TIMEOUT) {
            errors.push(format!("case #{case}: {e}"));
        }
    }
    // Connecting to /updateReports makes the server write the reports, then it closes. wstest writes them
    // (an HTML page per case) before it answers the upgrade, which took over 10 s (the default connect
    // timeout) on a 2-core machine at load 18: this connection gets the case guard as its connect timeout.
    let url = format!("{base}/updateReports?agent={AGENT}");
    echo_until_closed(&url, websocket_type, ca_pem, CASE_TIMEOUT)
        .unwrap_or_else(|e| panic!("{url}: {e}\n{}", server.log_tail()));
    let report = server.read_report();
    assert_eq!(
        report.len(),
        count,
        "the report holds {} cases, the server offered {count}; client errors: {errors:?}\n{}",
        report.len(),
        server.log_tail()
    );
    // A case whose connection failed still gets a verdict (FAILED), so it is listed by `check`; print the
    // client-side reason too.
    for e in &errors {
        let _ = writeln!(std::io::stderr(), "autobahn client error: {e}");
    }
    report
}

/// `GET /getCaseCount`: the server sends the number of cases as one text message, then closes.
fn case_count(base: &str, websocket_type: WebsocketType, ca_pem: Option<&[u8]>) -> usize {
    let url = format!("{base}/getCaseCount");
    let (tx, rx) = mpsc::channel();
    let closed = tx.clone();
    let options = client_options(ca_pem).on_close(move |_, _| {
        let _ = closed.send(None);
    });
    let _client = create_client_with(
        &url,
        move |text: &str| {
            let _ = tx.send(Some(text.to_string()));
        },
        websocket_type,
        options,
    )
    .unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
    let text = rx
        .recv_timeout(CASE_TIMEOUT)
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("{url}: no case count received"));
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("{url}: case count {text:?}: {e}"))
}

/// Send-queue bound for the echo client: the 9.* cases send bursts of up to 1000 messages of 64 KiB (and
/// single 16 MiB ones) that are echoed from the handler; the default 1 MiB bound could refuse echoes whenever
/// the writer falls behind (a slow CI machine), which would turn into spurious FAILED verdicts.
const ECHO_QUEUE_BYTES: usize = 256 << 20;

fn client_options(ca_pem: Option<&[u8]>) -> ClientOptions {
    let options = ClientOptions::new().max_send_queue_bytes(ECHO_QUEUE_BYTES);
    match ca_pem {
        Some(pem) => options.add_ca_pem(pem.to_vec()),
        None => options,
    }
}

/// Connects to `url` and echoes every message back (text as text, binary as binary) until the server closes.
fn echo_until_closed(
    url: &str,
    websocket_type: WebsocketType,
    ca_pem: Option<&[u8]>,
    connect_timeout: Duration,
) -> Result<(), String> {
    let echo = Arc::new(Echo::new());
    let (closed_tx, closed) = mpsc::channel();
    let (text_echo, binary_echo) = (Arc::clone(&echo), Arc::clone(&echo));
    let options = client_options(ca_pem)
        .connect_timeout(connect_timeout)
        .on_binary(move |data: &[u8]| binary_echo.reply(Reply::Binary(data.to_vec())))
        .on_close(move |_code, _reason| {
            let _ = closed_tx.send(());
        });
    let client = create_client_with(
        url,
        move |text: &str| text_echo.reply(Reply::Text(text.to_string())),
        websocket_type,
        options,
    );
    let client = match client {
        Ok(client) => client,
        Err(e) => {
            echo.set(EchoState::Done);
            return Err(format!("connect: {e}"));
        }
    };
    echo.set(EchoState::Open(client));
    let result = closed
        .recv_timeout(CASE_TIMEOUT)
        .map_err(|_| format!("no close within {CASE_TIMEOUT:?}"));
    // The handlers hold `echo`, which holds the client: break the cycle.
    echo.set(EchoState::Done);
    result
}

/// A throwaway CA and a server certificate for 127.0.0.1 / localhost that it signed (rustls rejects a
/// self-signed CA certificate used as the server's own).
struct TestCa {
    ca_pem: String,
    server_cert_pem: String,
    server_key_pem: String,
}

impl TestCa {
    fn generate() -> TestCa {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
        };
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "websockets autobahn test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().expect("server key");
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
                .expect("server params");
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let server_cert = params
            .signed_by(&server_key, &issuer)
            .expect("server certificate");
        TestCa {
            ca_pem: ca_cert.pem(),
            server_cert_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
        }
    }
}

/// A TLS-terminating relay (tokio-rustls, the test CA's server certificate) in front of a ws:// server, for
/// the kosoku fallback, which has no TLS of its own. Stops with its runtime on drop.
struct TlsRelay {
    port: u16,
    _runtime: tokio::runtime::Runtime,
}

impl TlsRelay {
    fn start(ca: &TestCa, backend_port: u16) -> TlsRelay {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let cert =
            CertificateDer::from_pem_slice(ca.server_cert_pem.as_bytes()).expect("server cert");
        let key = PrivateKeyDer::from_pem_slice(ca.server_key_pem.as_bytes()).expect("server key");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("TLS server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("relay runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
            .expect("relay listener");
        let port = listener.local_addr().expect("relay address").port();
        runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let _ = tcp.set_nodelay(true);
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let backend =
                        tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, backend_port));
                    let Ok(mut backend) = backend.await else {
                        return;
                    };
                    let _ = backend.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut backend).await;
                });
            }
        });
        TlsRelay {
            port,
            _runtime: runtime,
        }
    }
}

/// Which fuzzing server program is installed.
enum Program {
    /// Autobahn|Testsuite's `wstest` (Python 2.7): spec file, ws:// and wss://.
    Wstest(PathBuf),
    /// kosoku, the fallback of `autobahn-setup.sh` where no Python 2.7 exists: same cases, ws:// only
    /// (wss:// goes through a [`TlsRelay`]).
    Kosoku(PathBuf),
}

fn find_program() -> Program {
    let classify = |path: PathBuf| {
        let is_kosoku = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().contains("kosoku"));
        if is_kosoku {
            Program::Kosoku(path)
        } else {
            Program::Wstest(path)
        }
    };
    if let Some(path) = std::env::var_os("AUTOBAHN_WSTEST") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "AUTOBAHN_WSTEST={} does not exist",
            path.display()
        );
        return classify(path);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let wstest = root.join(".peers/autobahn/py27/bin/wstest");
    if wstest.is_file() {
        return Program::Wstest(wstest);
    }
    let kosoku = root.join(".peers/autobahn/venv3/bin/kosoku");
    if kosoku.is_file() {
        return Program::Kosoku(kosoku);
    }
    panic!(
        "the Autobahn fuzzing server is not installed: run `bash tests/peers/autobahn-setup.sh` from the workspace \
         root (it installs wstest into .peers/autobahn), or set AUTOBAHN_WSTEST to a wstest binary; looked for {}",
        wstest.display()
    );
}

/// A running fuzzing server in its own temporary directory; killed (and the directory removed) on drop.
struct FuzzingServer {
    child: Child,
    dir: PathBuf,
    port: u16,
    secure: bool,
    kosoku: bool,
    relay: Option<TlsRelay>,
}

impl FuzzingServer {
    fn start(tls: Option<&TestCa>, cases: &[&str], exclude: &[&str]) -> FuzzingServer {
        let program = find_program();
        let dir = temp_dir(if tls.is_some() { "wss" } else { "ws" });
        // wstest cannot report an OS-assigned port, so take a free one and retry if another process grabs it.
        let mut last_log = String::new();
        for _attempt in 0..5 {
            let port = free_port();
            let mut child = match &program {
                Program::Wstest(wstest) => spawn_wstest(wstest, &dir, port, tls, cases, exclude),
                Program::Kosoku(kosoku) => spawn_kosoku(kosoku, &dir, port, cases, exclude),
            };
            if wait_ready(&mut child, port) {
                let kosoku = matches!(program, Program::Kosoku(_));
                // kosoku speaks ws:// only: for wss://, TLS ends in a relay in front of it.
                let relay = match tls {
                    Some(ca) if kosoku => Some(TlsRelay::start(ca, port)),
                    _ => None,
                };
                return FuzzingServer {
                    child,
                    dir,
                    port,
                    secure: tls.is_some(),
                    kosoku,
                    relay,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
            last_log = log_tail(&dir);
        }
        let _ = std::fs::remove_dir_all(&dir);
        panic!("the fuzzing server did not start listening:\n{last_log}");
    }

    fn url(&self) -> String {
        let scheme = if self.secure { "wss" } else { "ws" };
        let port = self.relay.as_ref().map_or(self.port, |relay| relay.port);
        format!("{scheme}://127.0.0.1:{port}")
    }

    fn read_report(&mut self) -> Report {
        let index = self.dir.join("reports").join("index.json");
        if self.kosoku {
            // kosoku writes its reports as it exits, after the updateReports connection.
            let deadline = Instant::now() + Duration::from_secs(60);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let text = std::fs::read_to_string(&index).unwrap_or_else(|e| {
            panic!("cannot read {}: {e}\n{}", index.display(), self.log_tail())
        });
        let json: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", index.display()));
        let cases = json
            .get(AGENT)
            .and_then(Value::as_object)
            .unwrap_or_else(|| panic!("{} has no results for agent {AGENT}", index.display()));
        cases
            .iter()
            .map(|(id, result)| {
                let field = |name: &str| {
                    result
                        .get(name)
                        .and_then(Value::as_str)
                        .unwrap_or("MISSING")
                        .to_string()
                };
                (
                    id.clone(),
                    Verdict {
                        behavior: field("behavior"),
                        behavior_close: field("behaviorClose"),
                    },
                )
            })
            .collect()
    }

    fn log_tail(&self) -> String {
        log_tail(&self.dir)
    }
}

impl Drop for FuzzingServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn spawn_wstest(
    wstest: &Path,
    dir: &Path,
    port: u16,
    tls: Option<&TestCa>,
    cases: &[&str],
    exclude: &[&str],
) -> Child {
    let mut spec = serde_json::json!({
        "url": format!("{}://127.0.0.1:{port}", if tls.is_some() { "wss" } else { "ws" }),
        "outdir": dir.join("reports"),
        "cases": cases,
        "exclude-cases": exclude,
        "exclude-agent-cases": {},
    });
    if let Some(ca) = tls {
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, &ca.server_cert_pem).expect("write cert.pem");
        std::fs::write(&key, &ca.server_key_pem).expect("write key.pem");
        spec["cert"] = cert.to_string_lossy().into();
        spec["key"] = key.to_string_lossy().into();
    }
    let spec_path = dir.join("fuzzingserver.json");
    std::fs::write(&spec_path, spec.to_string()).expect("write the spec file");
    let log = std::fs::File::create(dir.join("server.log")).expect("create server.log");
    Command::new(wstest)
        .args(["-m", "fuzzingserver", "-u", "0", "-s"])
        .arg(&spec_path)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log file"))
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", wstest.display()))
}

fn spawn_kosoku(kosoku: &Path, dir: &Path, port: u16, cases: &[&str], exclude: &[&str]) -> Child {
    let log = std::fs::File::create(dir.join("server.log")).expect("create server.log");
    let mut command = Command::new(kosoku);
    command
        .args(["-m", "fuzzingserver", &format!("127.0.0.1:{port}"), "-o"])
        .arg(dir.join("reports"));
    for case in cases {
        command.args(["-i", case]);
    }
    for case in exclude {
        command.args(["-x", case]);
    }
    command
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log file"))
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", kosoku.display()))
}

/// Waits until the server accepts TCP connections; false if it exited first (e.g. the port was taken).
fn wait_ready(child: &mut Child, port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        // The server is a separate program with no readiness signal but its port: poll it.
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// The last lines of the server's output, for failure messages.
fn log_tail(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

fn temp_dir(label: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "websockets-autobahn-{label}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}
