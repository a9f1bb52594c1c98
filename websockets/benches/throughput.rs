//! Client throughput and CPU cost: this crate's client against a raw async-tungstenite client, in one run.
//!
//! Run with `cargo bench -p websockets --bench throughput` (a plain `cargo test` never runs it;
//! `WEBSOCKETS_BENCH_ONLY=<text>` keeps only the sections whose name contains the text).
//!
//! The servers (tokio + async-tungstenite) run in a child process (this same binary, started with
//! `WEBSOCKETS_BENCH_SERVER=1`), so every thread of this process is client-side and the client's CPU time is
//! the sum over this process's threads (`/proc/self/task/*/schedstat`, nanoseconds).
//!
//! Three comparisons, each with 20 B and 1 KiB text messages, `ROUNDS` alternating rounds:
//! 1. send-only: N messages to a server that only reads, then an `END` marker it answers with its count.
//!    The server does the handshake with async-tungstenite, then counts frame headers straight off the
//!    socket, so that it is not what limits the client. Crate: a plain `send_websocket_message` loop (queued;
//!    the writer task flushes when the queue drains; on `SendQueueFull`, the crate's back-pressure once the
//!    default 1 MiB queue bound is reached, the loop sleeps 100 µs and retries). Raw: `SinkExt::send` per message (one flush, so one
//!    write syscall, per message). Floor: crate >= 1.3x raw messages/s.
//! 2. pipelined echo, 64 messages in flight, against an async-tungstenite echo server. Crate: the
//!    `OnMessage` handler sends the next message. Raw: a task that reads an echo and `send`s the next.
//!    Floors: crate messages/s >= raw, crate CPU per message <= raw.
//! 3. paced echo (`paced x1` / `paced x64`): against `/paced`, a single-threaded server that echoes each
//!    message with its own write, so the server sets the pace; 1 and 64 messages in flight. Three clients:
//!    raw async-tungstenite, websocketpp 0.8 (a C++ client this bench builds with g++ when Debian's
//!    `libwebsocketpp-dev` + `libboost-dev` are installed; skipped with a note otherwise; CPU from its own
//!    getrusage) and the crate. Floors: crate CPU per message <= raw, crate msg/s >= websocketpp.
//! 4. the send-only loop through `WebsocketsRequestBus` vs the direct client, alternating which goes first.
//!    Floor: the bus costs < 5 % more (time per message, CPU per message, and the caller's time per send
//!    call), printed as percentages with the per-round range. Then `bus lookup`: the bus's own cost per
//!    call in nanoseconds, without the network.
//!
//! Figures are medians over the rounds; ratios are medians of per-round ratios (a raw round and a crate
//! round run back to back, so each pair sees about the same machine load). The machine may be noisy (2 cores,
//! other builds): compare ratios, and prefer a quiet moment.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, mpsc};
use std::time::{Duration, Instant};

use async_tungstenite::tungstenite::Message;
use futures_util::{FutureExt, SinkExt, StreamExt};
use websockets::{
    Error, IWebsocketClient, WebsocketClient, WebsocketType, WebsocketsRequestBus, create_client,
};

const SERVER_ENV: &str = "WEBSOCKETS_BENCH_SERVER";
const ROUNDS: usize = 5;
/// The bus comparison looks for a few percent: more rounds.
const BUS_ROUNDS: usize = 9;
const IN_FLIGHT: u64 = 64;
const WAIT: Duration = Duration::from_secs(120);

fn main() {
    if std::env::var_os(SERVER_ENV).is_some() {
        server::run();
        return;
    }
    // `cargo bench` passes --bench; `cargo test --benches` does not: then only check that it starts.
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "throughput: skipped (run it with `cargo bench -p websockets --bench throughput`)"
        );
        return;
    }
    let server = ServerProcess::start();
    let addr = server.addr;
    let raw_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(websockets::RUNTIME_WORKERS)
        .thread_name("raw-client")
        .enable_all()
        .build()
        .expect("raw client runtime");
    let wspp = Wspp::build();
    println!("load before: {}", load_average());
    println!(
        "{ROUNDS} alternating rounds each ({BUS_ROUNDS} for the bus); figures are medians, ratios are medians of \
         per-round ratios; client CPU = all threads of the client process; the servers run in a child process"
    );

    // Rounds of a few hundred milliseconds each: long enough to average out scheduler noise.
    // WEBSOCKETS_BENCH_ONLY=<text> runs only the sections whose name contains it (e.g. for profiling).
    let only = std::env::var("WEBSOCKETS_BENCH_ONLY").unwrap_or_default();
    for (size, send_n, echo_n) in [(20usize, 500_000u64, 200_000u64), (1024, 200_000, 100_000)] {
        let msg: String = "x".repeat(size);
        let label = if size == 1024 {
            "1 KiB".to_string()
        } else {
            format!("{size} B")
        };

        let name = format!("send-only {label}");
        if name.contains(&only) {
            let (mut raw, mut ours) = (Vec::new(), Vec::new());
            for _ in 0..ROUNDS {
                raw.push(raw_rt.block_on(raw_send_only(addr, &msg, send_n)));
                ours.push(crate_send_only(addr, &msg, send_n, Path::Direct));
            }
            report(&name, &raw, &ours);
            verdict(
                "crate/raw msg/s",
                paired(&raw, &ours, Sample::rate),
                ">=",
                1.3,
            );
        }

        let name = format!("echo x{IN_FLIGHT} {label}");
        if name.contains(&only) {
            let (mut raw, mut ours) = (Vec::new(), Vec::new());
            for _ in 0..ROUNDS {
                raw.push(raw_rt.block_on(raw_echo(addr, "/echo", &msg, echo_n, IN_FLIGHT)));
                ours.push(crate_echo(addr, "/echo", &msg, echo_n, IN_FLIGHT));
            }
            report(&name, &raw, &ours);
            verdict(
                "crate/raw msg/s",
                paired(&raw, &ours, Sample::rate),
                ">=",
                1.0,
            );
            verdict(
                "crate/raw CPU/msg",
                paired(&raw, &ours, Sample::cpu_us),
                "<=",
                1.0,
            );
        }

        for (window, n) in [(1u64, 20_000u64), (IN_FLIGHT, 100_000)] {
            let name = format!("paced x{window} {label}");
            if name.contains(&only) {
                paced(&raw_rt, &wspp, addr, &name, &msg, n, window);
            }
        }

        let name = format!("bus vs direct {label}");
        if name.contains(&only) {
            let (mut direct, mut bus) = (Vec::new(), Vec::new());
            for round in 0..BUS_ROUNDS {
                // Alternate which path goes first, so a drift in machine load does not favour one.
                if round % 2 == 0 {
                    direct.push(crate_send_only(addr, &msg, send_n, Path::Direct));
                    bus.push(crate_send_only(addr, &msg, send_n, Path::Bus));
                } else {
                    bus.push(crate_send_only(addr, &msg, send_n, Path::Bus));
                    direct.push(crate_send_only(addr, &msg, send_n, Path::Direct));
                }
            }
            let (d, b) = (Summary::of(&direct), Summary::of(&bus));
            println!(
                "{name}: direct {:>9.0} msg/s {:>5.2} µs CPU/msg {:>5.0} ns/call | bus {:>9.0} msg/s {:>5.2} µs CPU/msg {:>5.0} ns/call",
                d.rate, d.cpu_us, d.call_ns, b.rate, b.cpu_us, b.call_ns
            );
            // Overheads as "how much more the bus costs": time per message is 1 / rate.
            overhead_verdict(
                "bus overhead, time per message (direct/bus msg/s - 1)",
                &bus,
                &direct,
                Sample::rate,
            );
            overhead_verdict(
                "bus overhead, CPU per message (bus/direct - 1)",
                &direct,
                &bus,
                Sample::cpu_us,
            );
            overhead_verdict(
                "bus overhead, caller's time per send call (bus/direct - 1)",
                &direct,
                &bus,
                Sample::call_ns,
            );
            bus_interleaved(addr, &msg, &name);
        }
    }
    if "bus lookup".contains(only.as_str()) {
        bus_lookup(addr);
    }
    println!("load after: {}", load_average());
}

/// The caller's cost per send call, direct vs bus, on ONE connection in alternating blocks of a few
/// milliseconds, so both paths see the same writer, queue and machine load. Measured as the sending
/// thread's own CPU time (`CLOCK_THREAD_CPUTIME_ID`), so time the thread spends preempted by other
/// processes (this machine has 2 cores and runs builds) or asleep on back-pressure does not count.
fn bus_interleaved(addr: SocketAddr, msg: &str, name: &str) {
    const BLOCK: u32 = 2_000;
    const PAIRS: usize = 200;
    let (tx, rx) = mpsc::channel();
    let client = create_client(
        &format!("ws://{addr}/sink"),
        move |count: &str| {
            let _ = tx.send(count.parse::<u64>().expect("a count"));
        },
        WebsocketType::NonSecure,
    )
    .expect("connect to the sink server");
    let id = WebsocketsRequestBus::register(client);
    let direct = WebsocketsRequestBus::client(id).expect("just registered");
    let block = |path: Path| {
        let cpu = thread_cpu_ns();
        for _ in 0..BLOCK {
            match path {
                Path::Direct => send_retrying(|| direct.send_websocket_message(msg)),
                Path::Bus => {
                    send_retrying(|| WebsocketsRequestBus::send_websocket_message(id, msg))
                }
            }
        }
        (thread_cpu_ns() - cpu) as f64 / f64::from(BLOCK)
    };
    let (mut d, mut b, mut overheads) = (Vec::new(), Vec::new(), Vec::new());
    for pair in 0..PAIRS {
        let (dn, bn) = if pair % 2 == 0 {
            let dn = block(Path::Direct);
            (dn, block(Path::Bus))
        } else {
            let bn = block(Path::Bus);
            (block(Path::Direct), bn)
        };
        d.push(dn);
        b.push(bn);
        overheads.push((bn / dn - 1.0) * 100.0);
    }
    send_retrying(|| direct.send_websocket_message("END"));
    let sent = 2 * PAIRS as u64 * u64::from(BLOCK);
    let received = rx.recv_timeout(WAIT).expect("the sink server's count");
    assert_eq!(
        received, sent,
        "the sink server counted {received} of {sent}"
    );
    drop(direct);
    WebsocketsRequestBus::destroy_client(id);
    for v in [&mut d, &mut b, &mut overheads] {
        v.sort_by(f64::total_cmp);
    }
    let q = |v: &[f64], f: f64| v[((v.len() - 1) as f64 * f) as usize];
    println!(
        "{name}, {PAIRS} pairs of {BLOCK}-send blocks on one connection: sender thread CPU direct {:.1} ns/call, bus {:.1} ns/call (medians)",
        q(&d, 0.5),
        q(&b, 0.5)
    );
    let median = q(&overheads, 0.5);
    println!(
        "    bus overhead, sender's CPU per send call, paired blocks: {median:+.1} % (quartiles {:+.1} % .. {:+.1} %; floor < 5 %) {}",
        q(&overheads, 0.25),
        q(&overheads, 0.75),
        if median < 5.0 { "met" } else { "MISSED" }
    );
}

/// CPU time of the calling thread so far, in nanoseconds (`CLOCK_THREAD_CPUTIME_ID`: exact, unlike
/// `/proc/thread-self/schedstat`, which only advances at scheduler ticks for a running thread).
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant the kernel knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The bus's own cost, without the network: `is_connection_open`, and a send that fails at once, through
/// the bus against the same call on the client, in alternating rounds of a million calls (thread CPU time).
fn bus_lookup(addr: SocketAddr) {
    const CALLS: u32 = 1_000_000;
    let client = create_client(
        &format!("ws://{addr}/sink"),
        |_: &str| {},
        WebsocketType::NonSecure,
    )
    .expect("connect to the sink server");
    let id = WebsocketsRequestBus::register(client);
    let direct = WebsocketsRequestBus::client(id).expect("just registered");
    let compare = |what: &str, direct_call: &dyn Fn() -> bool, bus_call: &dyn Fn() -> bool| {
        let (mut d, mut b) = (Vec::new(), Vec::new());
        for _ in 0..BUS_ROUNDS {
            let cpu = thread_cpu_ns();
            for _ in 0..CALLS {
                assert!(direct_call());
            }
            d.push((thread_cpu_ns() - cpu) as f64 / f64::from(CALLS));
            let cpu = thread_cpu_ns();
            for _ in 0..CALLS {
                assert!(bus_call());
            }
            b.push((thread_cpu_ns() - cpu) as f64 / f64::from(CALLS));
        }
        d.sort_by(f64::total_cmp);
        b.sort_by(f64::total_cmp);
        let (d, b) = (d[d.len() / 2], b[b.len() / 2]);
        println!(
            "bus lookup: {what} direct {d:.1} ns/call, through the bus {b:.1} ns/call: the bus adds {:.1} ns per call",
            b - d
        );
    };
    compare(
        "is_connection_open",
        &|| std::hint::black_box(&direct).is_connection_open(),
        &|| WebsocketsRequestBus::is_connection_open(std::hint::black_box(id)),
    );
    // A send that fails at once (the client is closed): the lookup plus moving the `Result` out,
    // without the queue and the writer thread.
    direct.close_websocket();
    compare(
        "send_websocket_message on a closed client",
        &|| {
            matches!(
                std::hint::black_box(&direct).send_websocket_message("x"),
                Err(Error::Closed)
            )
        },
        &|| {
            matches!(
                WebsocketsRequestBus::send_websocket_message(std::hint::black_box(id), "x"),
                Err(Error::Closed)
            )
        },
    );
    WebsocketsRequestBus::destroy_client(id);
}

/// The paced-server regime: `/paced` echoes each message with its own flush on a single-threaded server,
/// so the server, not the client, sets the pace, and `window` messages are in flight. Three clients in
/// alternating rounds: raw async-tungstenite, websocketpp 0.8 (when built) and the crate.
/// Floors: crate CPU per message <= raw's, crate msg/s >= websocketpp's.
fn paced(
    raw_rt: &tokio::runtime::Runtime,
    wspp: &Wspp,
    addr: SocketAddr,
    name: &str,
    msg: &str,
    n: u64,
    window: u64,
) {
    let (mut raw, mut ours, mut cpp) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        raw.push(raw_rt.block_on(raw_echo(addr, "/paced", msg, n, window)));
        if let Some(sample) = wspp.run(addr, msg.len(), n, window) {
            cpp.push(sample);
        }
        ours.push(crate_echo(addr, "/paced", msg, n, window));
    }
    let range = |samples: &[Sample], f: fn(&Sample) -> f64| {
        let mut v: Vec<f64> = samples.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        (v[0], v[v.len() / 2], v[v.len() - 1])
    };
    let line = |who: &str, samples: &[Sample]| {
        let (rl, rm, rh) = range(samples, Sample::rate);
        let (cl, cm, ch) = range(samples, Sample::cpu_us);
        println!(
            "{name:<18} {who:<12} {:>7.0}k msg/s ({:.0}k..{:.0}k) {:>6.2} µs CPU/msg ({:.2}..{:.2})",
            rm / 1000.0,
            rl / 1000.0,
            rh / 1000.0,
            cm,
            cl,
            ch
        );
    };
    line("raw", &raw);
    if !cpp.is_empty() {
        line("websocketpp", &cpp);
    }
    line("crate", &ours);
    verdict(
        "crate/raw CPU/msg",
        paired(&raw, &ours, Sample::cpu_us),
        "<=",
        1.0,
    );
    verdict(
        "crate/raw msg/s",
        paired(&raw, &ours, Sample::rate),
        ">=",
        1.0,
    );
    if !cpp.is_empty() {
        verdict(
            "crate/websocketpp msg/s",
            paired(&cpp, &ours, Sample::rate),
            ">=",
            1.0,
        );
        verdict(
            "crate/websocketpp CPU/msg",
            paired(&cpp, &ours, Sample::cpu_us),
            "<=",
            1.0,
        );
    }
}

/// The websocketpp 0.8 baseline: a small C++ echo client (asio, one thread, TCP_NODELAY), built by this
/// bench with g++ when Debian's `libwebsocketpp-dev` and `libboost-dev` headers are installed. Never built by
/// CI or the tests. It prints its own elapsed time and CPU time (getrusage), as it is its own process.
struct Wspp {
    binary: Option<std::path::PathBuf>,
}

const WSPP_CLIENT: &str = r#"
#include <websocketpp/config/asio_no_tls_client.hpp>
#include <websocketpp/client.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/resource.h>

typedef websocketpp::client<websocketpp::config::asio_client> client;

static double cpu_ns() {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e9 + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e3;
}

// usage: wspp_client URL SIZE N WINDOW; prints "N elapsed_ns cpu_ns".
int main(int argc, char** argv) {
    if (argc != 5) return 2;
    std::string url = argv[1];
    std::string msg(std::strtoul(argv[2], 0, 10), 'x');
    unsigned long n = std::strtoul(argv[3], 0, 10), window = std::strtoul(argv[4], 0, 10);
    unsigned long sent = 0, received = 0;
    std::chrono::steady_clock::time_point start;
    double cpu0 = 0;
    client c;
    c.clear_access_channels(websocketpp::log::alevel::all);
    c.clear_error_channels(websocketpp::log::elevel::all);
    c.init_asio();
    // TCP_NODELAY once connected (the socket-init handler runs before the socket is open).
    c.set_tcp_post_init_handler([&](websocketpp::connection_hdl h) {
        c.get_con_from_hdl(h)->get_raw_socket().set_option(boost::asio::ip::tcp::no_delay(true));
    });
    c.set_open_handler([&](websocketpp::connection_hdl h) {
        start = std::chrono::steady_clock::now();
        cpu0 = cpu_ns();
        for (; sent < window && sent < n; ++sent) c.send(h, msg, websocketpp::frame::opcode::text);
    });
    c.set_message_handler([&](websocketpp::connection_hdl h, client::message_ptr) {
        if (++received == n) {
            double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
            std::printf("%lu %.0f %.0f\n", n, ns, cpu_ns() - cpu0);
            std::fflush(stdout);
            c.close(h, websocketpp::close::status::normal, "");
            return;
        }
        if (sent < n) { c.send(h, msg, websocketpp::frame::opcode::text); ++sent; }
    });
    websocketpp::lib::error_code ec;
    client::connection_ptr con = c.get_connection(url, ec);
    if (ec) { std::fprintf(stderr, "%s\n", ec.message().c_str()); return 1; }
    c.connect(con);
    c.run();
    return 0;
}
"#;

impl Wspp {
    /// Builds the client if the headers and g++ are there; otherwise says why the baseline is skipped.
    fn build() -> Wspp {
        let headers = std::path::Path::new("/usr/include/websocketpp/client.hpp");
        if !headers.exists() {
            println!(
                "websocketpp baseline skipped: {} not found (apt-get install libwebsocketpp-dev libboost-dev)",
                headers.display()
            );
            return Wspp { binary: None };
        }
        let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wspp");
        let _ = std::fs::create_dir_all(&dir);
        let source = dir.join("wspp_client.cpp");
        let binary = dir.join("wspp_client");
        let _ = std::fs::write(&source, WSPP_CLIENT);
        let built = Command::new("g++")
            .args(["-O2", "-std=c++17", "-DNDEBUG", "-pthread", "-o"])
            .arg(&binary)
            .arg(&source)
            .status();
        match built {
            Ok(status) if status.success() => {
                println!("websocketpp baseline: built {}", binary.display());
                Wspp {
                    binary: Some(binary),
                }
            }
            other => {
                println!("websocketpp baseline skipped: g++ failed ({other:?})");
                Wspp { binary: None }
            }
        }
    }

    fn run(&self, addr: SocketAddr, size: usize, n: u64, window: u64) -> Option<Sample> {
        let binary = self.binary.as_ref()?;
        let output = Command::new(binary)
            .arg(format!("ws://{addr}/paced"))
            .arg(size.to_string())
            .arg(n.to_string())
            .arg(window.to_string())
            .stdin(Stdio::null())
            .output()
            .expect("run the websocketpp client");
        let text = String::from_utf8_lossy(&output.stdout);
        let fields: Vec<f64> = text
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        let [messages, elapsed_ns, cpu_ns] = fields[..] else {
            panic!(
                "websocketpp client output {text:?}, status {:?}",
                output.status
            );
        };
        Some(Sample {
            messages: messages as u64,
            elapsed: Duration::from_nanos(elapsed_ns as u64),
            cpu_ns: cpu_ns as u64,
            send_loop: Duration::ZERO,
        })
    }
}

/// One round's result.
#[derive(Debug, Clone, Copy)]
struct Sample {
    messages: u64,
    elapsed: Duration,
    cpu_ns: u64,
    /// Time the sending thread spent in the send loop (the caller's cost; only the crate's send-only).
    send_loop: Duration,
}

impl Sample {
    fn rate(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64()
    }

    fn cpu_us(&self) -> f64 {
        self.cpu_ns as f64 / 1000.0 / self.messages as f64
    }

    fn call_ns(&self) -> f64 {
        self.send_loop.as_nanos() as f64 / self.messages as f64
    }
}

/// Medians over the rounds.
struct Summary {
    rate: f64,
    cpu_us: f64,
    call_ns: f64,
}

impl Summary {
    fn of(samples: &[Sample]) -> Summary {
        let median = |f: fn(&Sample) -> f64| {
            let mut v: Vec<f64> = samples.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        Summary {
            rate: median(Sample::rate),
            cpu_us: median(Sample::cpu_us),
            call_ns: median(Sample::call_ns),
        }
    }
}

/// Median over rounds of the per-round ratio `f(b) / f(a)`: rounds run back to back, so each pair saw about
/// the same machine load.
fn paired(a: &[Sample], b: &[Sample], f: fn(&Sample) -> f64) -> f64 {
    let mut ratios: Vec<f64> = a.iter().zip(b).map(|(a, b)| f(b) / f(a)).collect();
    ratios.sort_by(f64::total_cmp);
    ratios[ratios.len() / 2]
}

fn report(name: &str, raw: &[Sample], ours: &[Sample]) {
    let per_round = |samples: &[Sample]| {
        samples
            .iter()
            .map(|s| format!("{:.0}k", s.rate() / 1000.0))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!(
        "{name:<18} per round, msg/s: raw {} | crate {}",
        per_round(raw),
        per_round(ours)
    );
    let (raw, ours) = (Summary::of(raw), Summary::of(ours));
    println!(
        "{name:<18} raw {:>9.0} msg/s {:>6.2} µs CPU/msg | crate {:>9.0} msg/s {:>6.2} µs CPU/msg (medians)",
        raw.rate, raw.cpu_us, ours.rate, ours.cpu_us
    );
}

/// The bus floor: the median over rounds of the per-round overhead `f(b) / f(a) - 1` must be under 5 %.
/// Prints it as a percentage, with the per-round range to show the noise.
fn overhead_verdict(what: &str, a: &[Sample], b: &[Sample], f: fn(&Sample) -> f64) {
    let mut overheads: Vec<f64> = a
        .iter()
        .zip(b)
        .map(|(a, b)| (f(b) / f(a) - 1.0) * 100.0)
        .collect();
    overheads.sort_by(f64::total_cmp);
    let median = overheads[overheads.len() / 2];
    let (low, high) = (overheads[0], overheads[overheads.len() - 1]);
    println!(
        "    {what}: {median:+.1} % (rounds {low:+.1} % .. {high:+.1} %; floor < 5 %) {}",
        if median < 5.0 { "met" } else { "MISSED" }
    );
}

fn verdict(what: &str, value: f64, op: &str, floor: f64) {
    let met = match op {
        ">=" => value >= floor,
        "<=" => value <= floor,
        _ => value < floor,
    };
    println!(
        "    {what}: {value:.3} (floor {op} {floor}) {}",
        if met { "met" } else { "MISSED" }
    );
}

/// CPU time of every thread of this process so far, in nanoseconds.
fn process_cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| {
            s.split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
        })
        .sum()
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Measures from here to `finish`.
struct Meter {
    start: Instant,
    cpu: u64,
}

impl Meter {
    fn start() -> Meter {
        Meter {
            cpu: process_cpu_ns(),
            start: Instant::now(),
        }
    }

    fn finish(self, messages: u64) -> Sample {
        Sample {
            messages,
            elapsed: self.start.elapsed(),
            cpu_ns: process_cpu_ns().saturating_sub(self.cpu),
            send_loop: Duration::ZERO,
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Path {
    Direct,
    Bus,
}

/// Retries a send that the crate refused because its send queue is full (back-pressure).
fn send_retrying(mut send: impl FnMut() -> Result<(), Error>) {
    loop {
        match send() {
            Ok(()) => return,
            // The queue holds 1 MiB by default, which takes the writer about a millisecond to drain.
            Err(Error::SendQueueFull { .. }) => std::thread::sleep(Duration::from_micros(100)),
            Err(e) => panic!("send failed: {e}"),
        }
    }
}

fn crate_send_only(addr: SocketAddr, msg: &str, n: u64, path: Path) -> Sample {
    let (tx, rx) = mpsc::channel();
    let client = create_client(
        &format!("ws://{addr}/sink"),
        move |count: &str| {
            let _ = tx.send(
                count
                    .parse::<u64>()
                    .expect("the sink server answers with its count"),
            );
        },
        WebsocketType::NonSecure,
    )
    .expect("connect to the sink server");
    let (meter, send_loop, bus_id);
    match path {
        Path::Direct => {
            bus_id = None;
            meter = Meter::start();
            for _ in 0..n {
                send_retrying(|| client.send_websocket_message(msg));
            }
            send_loop = meter.start.elapsed();
            send_retrying(|| client.send_websocket_message("END"));
        }
        Path::Bus => {
            let id = WebsocketsRequestBus::register(client);
            bus_id = Some(id);
            meter = Meter::start();
            for _ in 0..n {
                send_retrying(|| WebsocketsRequestBus::send_websocket_message(id, msg));
            }
            send_loop = meter.start.elapsed();
            send_retrying(|| WebsocketsRequestBus::send_websocket_message(id, "END"));
        }
    }
    let received = rx.recv_timeout(WAIT).expect("the sink server's count");
    let sample = Sample {
        send_loop,
        ..meter.finish(n)
    };
    assert_eq!(
        received, n,
        "the sink server counted {received} of {n} messages"
    );
    if let Some(id) = bus_id {
        WebsocketsRequestBus::destroy_client(id);
    }
    sample
}

fn crate_echo(addr: SocketAddr, path: &str, msg: &str, n: u64, window: u64) -> Sample {
    struct State {
        client: OnceLock<WebsocketClient>,
        sent: AtomicU64,
        received: AtomicU64,
        msg: String,
        n: u64,
        done: mpsc::SyncSender<()>,
    }
    let (done, finished) = mpsc::sync_channel(1);
    let state = Arc::new(State {
        client: OnceLock::new(),
        sent: AtomicU64::new(0),
        received: AtomicU64::new(0),
        msg: msg.to_string(),
        n,
        done,
    });
    let handler_state = Arc::clone(&state);
    let client = create_client(
        &format!("ws://{addr}{path}"),
        move |_echo: &str| {
            let s = &handler_state;
            let received = s.received.fetch_add(1, Ordering::Relaxed) + 1;
            if received == s.n {
                let _ = s.done.try_send(());
            } else if s.sent.fetch_add(1, Ordering::Relaxed) < s.n {
                let client = s.client.get().expect("set before the first send");
                send_retrying(|| client.send_websocket_message(&s.msg));
            }
        },
        WebsocketType::NonSecure,
    )
    .expect("connect to the echo server");
    let _ = state.client.set(client);
    let client = state.client.get().expect("just set");
    let meter = Meter::start();
    for _ in 0..window.min(n) {
        state.sent.fetch_add(1, Ordering::Relaxed);
        send_retrying(|| client.send_websocket_message(msg));
    }
    finished.recv_timeout(WAIT).expect("all echoes back");
    let sample = meter.finish(n);
    // The handler holds `state`, which holds the client: close it to end the connection.
    client.close_websocket();
    sample
}

type RawStream = async_tungstenite::WebSocketStream<
    async_tungstenite::tokio::TokioAdapter<tokio::net::TcpStream>,
>;

/// A raw async-tungstenite client with TCP_NODELAY, as a careful user would write it.
async fn raw_connect(addr: SocketAddr, path: &str) -> RawStream {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .expect("TCP connect");
    tcp.set_nodelay(true).expect("TCP_NODELAY");
    let (ws, _) = async_tungstenite::tokio::client_async(format!("ws://{addr}{path}"), tcp)
        .await
        .expect("WebSocket handshake");
    ws
}

async fn raw_send_only(addr: SocketAddr, msg: &str, n: u64) -> Sample {
    let msg = msg.to_string();
    tokio::spawn(async move {
        let ws = raw_connect(addr, "/sink").await;
        let (mut sink, mut stream) = ws.split();
        let meter = Meter::start();
        for _ in 0..n {
            sink.send(Message::text(msg.as_str())).await.expect("send");
        }
        sink.send(Message::text("END")).await.expect("send");
        let reply = stream.next().await.expect("a reply").expect("the count");
        let sample = meter.finish(n);
        let received: u64 = reply.to_text().expect("text").parse().expect("a count");
        assert_eq!(
            received, n,
            "the sink server counted {received} of {n} messages"
        );
        let _ = SinkExt::close(&mut sink).await;
        sample
    })
    .await
    .expect("raw send task")
}

async fn raw_echo(addr: SocketAddr, path: &'static str, msg: &str, n: u64, window: u64) -> Sample {
    let msg = msg.to_string();
    tokio::spawn(async move {
        let ws = raw_connect(addr, path).await;
        let (mut sink, mut stream) = ws.split();
        let meter = Meter::start();
        let mut sent = 0;
        while sent < window.min(n) {
            sink.send(Message::text(msg.as_str())).await.expect("send");
            sent += 1;
        }
        let mut received = 0;
        while received < n {
            stream.next().await.expect("an echo").expect("an echo");
            received += 1;
            if sent < n {
                sink.send(Message::text(msg.as_str())).await.expect("send");
                sent += 1;
            }
        }
        let sample = meter.finish(n);
        let _ = SinkExt::close(&mut sink).await;
        sample
    })
    .await
    .expect("raw echo task")
}

/// The server child process; killed on drop.
struct ServerProcess {
    child: Child,
    addr: SocketAddr,
}

impl ServerProcess {
    fn start() -> ServerProcess {
        let mut child = Command::new(std::env::current_exe().expect("own path"))
            .env(SERVER_ENV, "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the bench server process");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("server address");
        let addr = line
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("server address {line:?}: {e}"));
        ServerProcess { child, addr }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

mod server {
    //! The loopback servers: `/sink` reads and counts, answering `END` with the count; `/echo` echoes,
    //! flushing when no further message is ready.

    use super::*;
    use async_tungstenite::tungstenite::handshake::server::{Request, Response};

    pub(super) fn run() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("server runtime");
        rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            println!("{}", listener.local_addr().expect("address"));
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                tokio::spawn(async move {
                    let mut path = String::new();
                    // The signature is tungstenite's handshake callback (its error type is an HTTP response).
                    #[allow(clippy::result_large_err)]
                    let callback = |req: &Request, resp: Response| {
                        path = req.uri().path().to_string();
                        Ok(resp)
                    };
                    let Ok(ws) = async_tungstenite::tokio::accept_hdr_async(tcp, callback).await
                    else {
                        return;
                    };
                    if path == "/echo" {
                        echo(ws).await
                    } else if path == "/paced" {
                        paced(ws).await
                    } else {
                        sink(ws).await
                    }
                });
            }
        });
    }

    /// The send-only server. The handshake is async-tungstenite's; then it counts frames straight off the
    /// socket (headers only: no unmasking, copying or UTF-8 check of payloads), so that a cheap reader, not
    /// the server, bounds the measured client throughput. A 3-byte text frame "END" is answered with the count.
    async fn sink(ws: RawStreamServer) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut tcp = ws.into_inner().into_inner();
        let mut buf = vec![0u8; 256 * 1024];
        let mut counter = FrameCounter::default();
        loop {
            let n = match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            for count in counter.feed(&buf[..n]) {
                let text = count.to_string();
                let mut reply = vec![0x81, text.len() as u8];
                reply.extend_from_slice(text.as_bytes());
                if tcp.write_all(&reply).await.is_err() {
                    return;
                }
            }
            if counter.closed {
                return;
            }
        }
    }

    /// Follows client-to-server frames (masked) and counts data frames.
    #[derive(Default)]
    struct FrameCounter {
        header: Vec<u8>,
        remaining: u64,
        opcode: u8,
        mask: [u8; 4],
        /// The first bytes of a 3-byte text frame's payload (to spot "END").
        small: Vec<u8>,
        count: u64,
        closed: bool,
    }

    impl FrameCounter {
        /// Feeds bytes; returns the counts to report (one per "END").
        fn feed(&mut self, mut data: &[u8]) -> Vec<u64> {
            let mut reports = Vec::new();
            while !data.is_empty() {
                if self.remaining == 0 {
                    // Between frames: collect the header.
                    self.header.push(data[0]);
                    data = &data[1..];
                    if self.header_len() == Some(self.header.len()) {
                        self.start_frame();
                        if self.remaining == 0 {
                            self.end_frame(&mut reports);
                        }
                    }
                    continue;
                }
                let take = (self.remaining.min(data.len() as u64)) as usize;
                if self.opcode == 1 && self.small.len() + take <= 3 && self.small.capacity() > 0 {
                    self.small.extend_from_slice(&data[..take]);
                }
                self.remaining -= take as u64;
                data = &data[take..];
                if self.remaining == 0 {
                    self.end_frame(&mut reports);
                }
            }
            reports
        }

        /// The full header length, once enough of it is known.
        fn header_len(&self) -> Option<usize> {
            if self.header.len() < 2 {
                return None;
            }
            let ext = match self.header[1] & 0x7F {
                126 => 2,
                127 => 8,
                _ => 0,
            };
            Some(2 + ext + 4)
        }

        fn start_frame(&mut self) {
            let h = &self.header;
            self.opcode = h[0] & 0x0F;
            let (len, ext) = match h[1] & 0x7F {
                126 => (u64::from(u16::from_be_bytes([h[2], h[3]])), 2),
                127 => (u64::from_be_bytes(h[2..10].try_into().expect("8 bytes")), 8),
                n => (u64::from(n), 0),
            };
            self.mask.copy_from_slice(&h[2 + ext..6 + ext]);
            self.remaining = len;
            self.small = if self.opcode == 1 && len == 3 {
                Vec::with_capacity(3)
            } else {
                Vec::new()
            };
            self.header.clear();
        }

        fn end_frame(&mut self, reports: &mut Vec<u64>) {
            match self.opcode {
                1 if self.small.len() == 3 => {
                    let text: Vec<u8> = self
                        .small
                        .iter()
                        .zip(self.mask)
                        .map(|(b, m)| b ^ m)
                        .collect();
                    if text == b"END" {
                        reports.push(self.count);
                        self.count = 0;
                    } else {
                        self.count += 1;
                    }
                }
                1 | 2 => self.count += 1,
                8 => self.closed = true,
                _ => {}
            }
            self.small = Vec::new();
            self.opcode = 0;
        }
    }

    /// The paced echo: one message at a time, each sent and flushed on its own (one write per message),
    /// on this single-threaded runtime: the server sets the pace, as a modest real server would.
    async fn paced(ws: RawStreamServer) {
        let (mut tx, mut rx) = ws.split();
        while let Some(Ok(message)) = rx.next().await {
            if (message.is_text() || message.is_binary()) && tx.send(message).await.is_err() {
                return;
            }
        }
    }

    async fn echo(ws: RawStreamServer) {
        let (mut tx, mut rx) = ws.split();
        while let Some(Ok(message)) = rx.next().await {
            if !(message.is_text() || message.is_binary()) {
                continue;
            }
            if tx.feed(message).await.is_err() {
                return;
            }
            // Coalesce: keep feeding while more is ready, flush when the input pauses.
            loop {
                match rx.next().now_or_never() {
                    Some(Some(Ok(m))) if m.is_text() || m.is_binary() => {
                        if tx.feed(m).await.is_err() {
                            return;
                        }
                    }
                    Some(Some(Ok(_))) => {}
                    Some(_) => return,
                    None => break,
                }
            }
            if tx.flush().await.is_err() {
                return;
            }
        }
    }

    type RawStreamServer = async_tungstenite::WebSocketStream<
        async_tungstenite::tokio::TokioAdapter<tokio::net::TcpStream>,
    >;
}
