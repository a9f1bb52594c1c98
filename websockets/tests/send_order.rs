//! The send guarantee: every send that returned `Ok` before the connection failed or started closing is
//! written before the close frame, and the connection is then ended without a TCP reset (a reset makes the
//! kernel discard what is still in the send queue, the written messages and the close frame included).
//!
//! The peer is a scripted raw TCP server (tungstenite's blocking server side for the handshake and for
//! reading; frames it sends are written as raw bytes, so it can send what tungstenite would refuse: a frame
//! with a reserved opcode). Each test runs many connections in a loop, because the races it covers are
//! windows of a few instructions.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::{self, Message};
use support::GUARD;
use websockets::{ClientOptions, Error, WebsocketClient, WebsocketType, create_client_with};

/// Connections per test. Each is a few milliseconds; the races need many tries to be hit.
const ROUNDS: usize = 200;

/// A text frame from the server (unmasked, payload under 126 bytes).
fn text_frame(text: &str) -> Vec<u8> {
    let mut frame = vec![0x81, text.len() as u8];
    frame.extend_from_slice(text.as_bytes());
    frame
}

/// A final frame with the reserved data opcode 7 (Autobahn 4.1.5): the client must fail the connection.
const RESERVED_OPCODE_FRAME: [u8; 7] = [0x87, 0x05, b'h', b'e', b'l', b'l', b'o'];

/// An empty ping.
const PING_FRAME: [u8; 2] = [0x89, 0x00];

/// What the server read: the texts, then how the stream ended.
#[derive(Debug)]
struct Seen {
    texts: Vec<String>,
    close: Option<CloseCode>,
    /// How the TCP stream ended after the close frame: `Ok(())` for a FIN, the error (a reset) otherwise.
    end: Result<(), String>,
}

/// Reads messages until the client's close frame. Then, when the client failed the connection (it does not
/// wait for an answer), reads the raw stream until it ends; otherwise answers the close frame and hangs
/// up first, as RFC 6455 has the server do.
fn read_until_close(ws: &mut tungstenite::WebSocket<TcpStream>) -> Seen {
    let mut texts = Vec::new();
    let mut close = None;
    loop {
        match ws.read() {
            Ok(Message::Text(t)) => texts.push(t.as_str().to_string()),
            Ok(Message::Close(frame)) => {
                close = frame.map(|f| f.code);
                break;
            }
            Ok(_) => {}
            Err(e) => {
                return Seen {
                    texts,
                    close,
                    end: Err(format!("before the close frame: {e}")),
                };
            }
        }
    }
    if close == Some(CloseCode::Normal) {
        let _ = ws.flush(); // the close answer tungstenite queued
        return Seen {
            texts,
            close,
            end: Ok(()),
        };
    }
    // Past the close frame: the client must end with a FIN (read gives 0), not a reset.
    let stream = ws.get_mut();
    let mut buf = [0u8; 256];
    let end = loop {
        match stream.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(_) => {}
            Err(e) => break Err(format!("after the close frame: {e}")),
        }
    };
    Seen { texts, close, end }
}

/// A server for one connection: handshake, then `script` with the raw socket, then [`read_until_close`].
/// `delay_reading` makes it a slow reader (a loaded peer): it reads nothing until after the pause.
fn server(
    script: impl FnOnce(&mut TcpStream) + Send + 'static,
    delay_reading: Duration,
) -> (u16, mpsc::Receiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_nodelay(true).unwrap();
        let mut ws = tungstenite::accept(stream).expect("server handshake");
        script(ws.get_mut());
        thread::sleep(delay_reading);
        let _ = tx.send(read_until_close(&mut ws));
    });
    (port, rx)
}

/// Autobahn 4.1.5 in a loop: a text, a frame with a reserved opcode, then pings, more of them than the
/// client reads at once (1 MiB), so that some are still unread in its socket when it fails the connection.
/// The echo sent from the handler returned `Ok`, so the server must read it, then the 1002 close frame,
/// then a clean end of stream. Before the fix the client closed its socket with data unread, which makes
/// the kernel reset the connection instead of ending it, and a reset throws away whatever of the echo and
/// the close frame had not been transmitted yet (Autobahn 4.1.5 came out NON-STRICT 1 run in 10 on a
/// loaded machine).
#[test]
fn an_echo_before_a_protocol_error_is_written_then_the_close_frame_then_a_fin() {
    for round in 0..ROUNDS / 4 {
        let (port, seen) = server(
            |tcp| {
                let mut burst = text_frame("Hello, world!");
                burst.extend_from_slice(&RESERVED_OPCODE_FRAME);
                tcp.write_all(&burst).unwrap();
                // From another thread: the client may stop reading, and the server must go on reading.
                let mut pings = tcp.try_clone().unwrap();
                thread::spawn(move || {
                    let pings_frames = PING_FRAME.repeat(512 * 1024);
                    let _ = pings.write_all(&pings_frames);
                });
            },
            Duration::from_millis(20),
        );
        let client = Arc::new(std::sync::OnceLock::<WebsocketClient>::new());
        let (sent_tx, sent_rx) = mpsc::channel();
        let echo = Arc::clone(&client);
        let published = Arc::new((std::sync::Mutex::new(false), std::sync::Condvar::new()));
        let wait = Arc::clone(&published);
        create_client_with(
            &format!("ws://127.0.0.1:{port}/"),
            move |text: &str| {
                // The server sends at once: wait until the test thread has published the client.
                let (lock, cvar) = &*wait;
                let ready = cvar
                    .wait_timeout_while(lock.lock().unwrap(), GUARD, |ready| !*ready)
                    .unwrap();
                drop(ready);
                let result = echo.get().expect("published").send_text(text.to_string());
                let _ = sent_tx.send(result.is_ok());
            },
            WebsocketType::NonSecure,
            ClientOptions::new(),
        )
        .map(|c| {
            let _ = client.set(c);
        })
        .unwrap();
        {
            let (lock, cvar) = &*published;
            *lock.lock().unwrap() = true;
            cvar.notify_all();
        }
        let seen = seen.recv_timeout(GUARD).expect("the server finished");
        let echoed = sent_rx.recv_timeout(GUARD).expect("the handler ran");
        assert!(echoed, "round {round}: the echo was refused");
        assert_eq!(
            seen.texts,
            ["Hello, world!"],
            "round {round}: the echo that returned Ok: {seen:?}"
        );
        assert_eq!(
            seen.close,
            Some(CloseCode::Protocol),
            "round {round}: {seen:?}"
        );
        assert_eq!(seen.end, Ok(()), "round {round}: {seen:?}");
    }
}

/// Sends numbered messages from another thread until one fails; returns how many returned `Ok`. Every send
/// after the first failure must fail too (the client never reopens).
fn spam(client: Arc<WebsocketClient>, started: mpsc::Sender<()>) -> thread::JoinHandle<usize> {
    thread::spawn(move || {
        let mut ok = 0;
        loop {
            match client.send_text(format!("{ok}")) {
                Ok(()) => {
                    if ok == 0 {
                        let _ = started.send(());
                    }
                    ok += 1;
                }
                Err(Error::Closed) => break,
                Err(Error::SendQueueFull { .. }) => thread::yield_now(),
                Err(e) => panic!("unexpected send error: {e}"),
            }
        }
        assert!(matches!(client.send_text("late"), Err(Error::Closed)));
        ok
    })
}

/// Checks that the server read exactly the messages `0..ok`, in order, before the close frame.
fn assert_all_sent(round: usize, seen: &Seen, ok: usize, close: CloseCode) {
    let expected: Vec<String> = (0..ok).map(|i| i.to_string()).collect();
    if seen.texts != expected {
        let missing: Vec<&String> = expected
            .iter()
            .filter(|e| !seen.texts.contains(e))
            .collect();
        panic!(
            "round {round}: {ok} sends returned Ok, the server read {} before the close frame; missing {missing:?}",
            seen.texts.len()
        );
    }
    assert_eq!(seen.close, Some(close), "round {round}");
    assert_eq!(seen.end, Ok(()), "round {round}");
}

/// A thread sends as fast as it can while the peer breaks the protocol: every send that returned `Ok` is
/// read by the server before the 1002 close frame, including one that passed its open-check just before
/// the connection failed and queued its message just after.
#[test]
fn sends_racing_a_protocol_error_are_all_written_before_the_close_frame() {
    for round in 0..ROUNDS {
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let (port, seen) = server(
            move |tcp| {
                // Wait until the client is sending, then break the protocol.
                let _ = go_rx.recv_timeout(GUARD);
                tcp.write_all(&RESERVED_OPCODE_FRAME).unwrap();
            },
            Duration::ZERO,
        );
        let client = Arc::new(
            create_client_with(
                &format!("ws://127.0.0.1:{port}/"),
                |_m: &str| {},
                WebsocketType::NonSecure,
                ClientOptions::new(),
            )
            .unwrap(),
        );
        let sender = spam(Arc::clone(&client), go_tx);
        let ok = sender.join().unwrap();
        let seen = seen.recv_timeout(GUARD).expect("the server finished");
        assert_all_sent(round, &seen, ok, CloseCode::Protocol);
    }
}

/// The same with a close started by another thread: every send that returned `Ok` is written before our
/// close frame (one queued behind the close command included), and one that returned `Closed` never is.
#[test]
fn sends_racing_a_close_from_another_thread_are_all_written_before_the_close_frame() {
    for round in 0..ROUNDS {
        let (port, seen) = server(|_tcp| {}, Duration::ZERO);
        let client = Arc::new(
            create_client_with(
                &format!("ws://127.0.0.1:{port}/"),
                |_m: &str| {},
                WebsocketType::NonSecure,
                ClientOptions::new(),
            )
            .unwrap(),
        );
        let (started_tx, started_rx) = mpsc::channel();
        let sender = spam(Arc::clone(&client), started_tx);
        started_rx.recv_timeout(GUARD).expect("the sender started");
        client.close(1000, "bye").unwrap();
        let ok = sender.join().unwrap();
        let seen = seen.recv_timeout(GUARD).expect("the server finished");
        // The server's tungstenite answers the close; the client then hangs up.
        assert_all_sent(round, &seen, ok, CloseCode::Normal);
    }
}
