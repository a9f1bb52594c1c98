//! The end of a connection is bounded by the close timeout in every way it can start: a peer that closes
//! but never hangs up, and a reader task held up by a full queue or stream that nobody drains. The peer is
//! tungstenite's blocking server side on a plain TCP listener, scripted per test.

mod support;

use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use async_tungstenite::tungstenite;
use async_tungstenite::tungstenite::protocol::CloseFrame;
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use support::{GUARD, channel};
use websockets::{ClientOptions, Event, WebsocketClient, WebsocketType, create_client_with};

/// Accepts one connection, completes the handshake and runs `script` on it; keeps the socket open until
/// the returned sender is dropped.
fn scripted_server(
    script: impl FnOnce(&mut tungstenite::WebSocket<TcpStream>) + Send + 'static,
) -> (u16, mpsc::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut ws = tungstenite::accept(stream).expect("server handshake");
        script(&mut ws);
        let _ = stop_rx.recv(); // hold the socket open
    });
    (port, stop_tx)
}

/// RFC 6455 §7.1.1 has the server close the TCP connection after the close handshake; one that does not
/// must not keep the client's connection (and its `on_close`) pending forever.
#[test]
fn a_peer_that_closes_but_never_hangs_up_is_dropped_after_the_close_timeout() {
    let (port, _stop) = scripted_server(|ws| {
        ws.close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "done".into(),
        }))
        .unwrap();
        // Read the client's answer, then keep the TCP connection open.
        while ws.read().is_ok() {}
    });
    let (close_tx, close_rx) = channel();
    let options = ClientOptions::new()
        .close_timeout(Duration::from_millis(300))
        .on_close(move |code, reason| close_tx.send((code, reason.to_string())).unwrap());
    let client = create_client_with(
        &format!("ws://127.0.0.1:{port}/"),
        |_m: &str| {},
        WebsocketType::NonSecure,
        options,
    )
    .unwrap();
    assert_eq!(
        close_rx.next(),
        (1000, "done".to_string()),
        "the peer's close"
    );
    assert!(!client.is_open());
}

/// A stream ends with `Closed` also when the connection ended with an error (here: the peer hung up
/// without a close handshake), after the `Error` event.
#[tokio::test]
async fn a_stream_ends_with_error_then_closed_when_the_peer_hangs_up() {
    let (port, _stop) = scripted_server(|ws| {
        ws.get_mut().shutdown(std::net::Shutdown::Both).unwrap();
    });
    let (_client, mut messages) = WebsocketClient::connect_stream(
        &format!("ws://127.0.0.1:{port}/"),
        WebsocketType::NonSecure,
        ClientOptions::new(),
        8,
    )
    .await
    .unwrap();
    let mut events = Vec::new();
    while let Some(event) = tokio::time::timeout(GUARD, messages.recv()).await.unwrap() {
        events.push(event);
    }
    assert!(
        matches!(
            events.as_slice(),
            [
                Event::Open,
                Event::Error(_),
                Event::Closed { code: 1006, .. }
            ]
        ),
        "{events:?}"
    );
}
