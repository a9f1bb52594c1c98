//! Peers that stop responding: the connect, close and keep-alive timeouts must end the connection and say
//! why. The peer is a plain TCP listener (optionally completing the WebSocket handshake with tungstenite's
//! server side), which then never reads or writes again.

mod support;

use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use support::channel;
use websockets::{ClientOptions, ConnectPhase, Error, WebsocketType, create_client_with};

/// A server that accepts one connection, optionally does the WebSocket handshake, then goes silent.
/// It keeps the socket open until the returned sender is dropped.
fn silent_server(handshake: bool) -> (u16, mpsc::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let _keep: Option<TcpStream> = if handshake {
            let ws = async_tungstenite::tungstenite::accept(stream).expect("server handshake");
            Some(ws.into_inner())
        } else {
            Some(stream)
        };
        let _ = stop_rx.recv(); // hold the socket, never read it
    });
    (port, stop_tx)
}

#[test]
fn close_handshake_times_out_when_the_peer_never_answers() {
    let (port, _stop) = silent_server(true);
    let (close_tx, close_rx) = channel();
    let (err_tx, err_rx) = channel();
    let options = ClientOptions::new()
        .close_timeout(Duration::from_millis(300))
        .on_close(move |code, reason| close_tx.send((code, reason.to_string())).unwrap())
        .on_error(move |e| err_tx.send(matches!(e, Error::CloseTimeout(_))).unwrap());
    let client = create_client_with(
        &format!("ws://127.0.0.1:{port}/"),
        |_m: &str| {},
        WebsocketType::NonSecure,
        options,
    )
    .unwrap();
    client.close(1000, "bye").unwrap();
    assert!(err_rx.next(), "expected Error::CloseTimeout");
    let (code, reason) = close_rx.next();
    assert_eq!(code, 1006);
    assert!(reason.contains("close handshake timed out"), "{reason}");
}

#[test]
fn keep_alive_detects_a_dead_peer() {
    let (port, _stop) = silent_server(true);
    let (close_tx, close_rx) = channel();
    let (err_tx, err_rx) = channel();
    let options = ClientOptions::new()
        .ping_interval(Duration::from_millis(100))
        .on_close(move |code, _| close_tx.send(code).unwrap())
        .on_error(move |e| {
            err_tx
                .send(matches!(e, Error::KeepAliveTimeout(_)))
                .unwrap()
        });
    let client = create_client_with(
        &format!("ws://127.0.0.1:{port}/"),
        |_m: &str| {},
        WebsocketType::NonSecure,
        options,
    )
    .unwrap();
    assert!(err_rx.next(), "expected Error::KeepAliveTimeout");
    assert_eq!(close_rx.next(), 1006);
    assert!(!client.is_open());
}

#[test]
fn silent_tls_server_times_out_in_the_tls_phase() {
    let (port, _stop) = silent_server(false);
    let options = ClientOptions::new().connect_timeout(Duration::from_secs(1));
    let err = create_client_with(
        &format!("wss://localhost:{port}/"),
        |_m: &str| {},
        WebsocketType::Secure,
        options,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                phase: ConnectPhase::Tls,
                ..
            }
        ),
        "got {err:?}"
    );
}

#[test]
fn silent_plain_server_times_out_in_the_upgrade_phase() {
    let (port, _stop) = silent_server(false);
    let options = ClientOptions::new().connect_timeout(Duration::from_secs(1));
    let err = create_client_with(
        &format!("ws://127.0.0.1:{port}/"),
        |_m: &str| {},
        WebsocketType::NonSecure,
        options,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                phase: ConnectPhase::Upgrade,
                ..
            }
        ),
        "got {err:?}"
    );
    assert!(err.to_string().contains("WebSocket upgrade"), "{err}");
}

#[test]
fn send_queue_is_bounded_when_the_peer_stops_reading() {
    let (port, _stop) = silent_server(true);
    let options = ClientOptions::new().max_send_queue_bytes(64 * 1024);
    let client = create_client_with(
        &format!("ws://127.0.0.1:{port}/"),
        |_m: &str| {},
        WebsocketType::NonSecure,
        options,
    )
    .unwrap();
    let payload = "z".repeat(1024);
    // The peer never reads: kernel buffers and tungstenite's write buffer fill up, then the send queue does.
    // 256 MiB is a failure guard far above any loopback socket buffer.
    for sent in 0.. {
        match client.send_text(payload.as_str()) {
            Ok(()) => assert!(
                sent < 256 * 1024,
                "256 MiB accepted without the queue ever filling"
            ),
            Err(Error::SendQueueFull { limit, .. }) => {
                assert_eq!(limit, 64 * 1024);
                assert!(client.queued_bytes() <= 64 * 1024);
                break;
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert!(client.is_open());
}
