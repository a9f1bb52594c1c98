//! The end of a connection is bounded by the close timeout in every way it can start: a peer that closes
//! but never hangs up, and a reader task held up by a full queue or stream that nobody drains. The peer is
//! tungstenite's blocking server side on a plain TCP listener, scripted per test.

mod support;

use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use async_tungstenite::tungstenite::protocol::CloseFrame;
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::{self, Message};
use support::{GUARD, channel};
use websockets::{
    ClientOptions, Error, Event, MessageQueue, WebsocketClient, WebsocketType, create_client_with,
};

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

fn send_texts(ws: &mut tungstenite::WebSocket<TcpStream>, n: usize) {
    for i in 0..n {
        ws.send(Message::text(format!("m{i}"))).unwrap();
    }
    // Answer the client's close frame if it comes; keep the socket open.
    while ws.read().is_ok() {}
}

/// A [`Messages`](websockets::Messages) stream nobody reads holds the reader task; closing the client must
/// still end the connection within the close timeout.
#[tokio::test]
async fn close_is_bounded_while_an_unread_stream_is_full() {
    let (port, _stop) = scripted_server(|ws| send_texts(ws, 3));
    let options = ClientOptions::new().close_timeout(Duration::from_millis(300));
    let (client, mut messages) = WebsocketClient::connect_stream(
        &format!("ws://127.0.0.1:{port}/"),
        WebsocketType::NonSecure,
        options,
        1,
    )
    .await
    .unwrap();
    // The reader gets stuck on the full stream (Open is in it, m0 waits for room) and cannot see the
    // server's answer to our close, which comes after m0..m2 on the socket.
    client.close(1000, "bye").unwrap();
    let info = tokio::time::timeout(GUARD, client.closed())
        .await
        .expect("the close did not end within the guard");
    assert_eq!(info.code, 1006);
    assert!(
        info.reason.contains("close handshake timed out"),
        "{info:?}"
    );
    // Nothing the reader had taken from the socket is lost: the stream still ends with Closed.
    let mut events = Vec::new();
    while let Some(event) = tokio::time::timeout(GUARD, messages.recv()).await.unwrap() {
        events.push(event);
    }
    assert!(matches!(events.first(), Some(Event::Open)), "{events:?}");
    assert!(
        matches!(events.last(), Some(Event::Closed { code: 1006, .. })),
        "{events:?}"
    );
}

/// A game that drops its client and stops draining a full [`MessageQueue`] must not leave the connection
/// (and its socket) hanging: the drop's close ends within the close timeout and `on_close` runs.
#[test]
fn dropping_a_client_whose_queue_is_full_ends_the_connection() {
    let (port, _stop) = scripted_server(|ws| send_texts(ws, 3));
    let queue = MessageQueue::new(2);
    let (close_tx, close_rx) = channel();
    let (err_tx, err_rx) = channel();
    let options = ClientOptions::new()
        .close_timeout(Duration::from_millis(300))
        .queue(&queue)
        .on_error(move |e| err_tx.send(matches!(e, Error::CloseTimeout(_))).unwrap())
        .on_close(move |code, _| close_tx.send(code).unwrap());
    let (got_tx, got_rx) = channel();
    let client = create_client_with(
        &format!("ws://127.0.0.1:{port}/"),
        move |m: &str| got_tx.send(m.to_string()).unwrap(),
        WebsocketType::NonSecure,
        options,
    )
    .unwrap();
    // Open and m0 fill the queue; m1 has reached on_message and waits for room in the queue.
    assert_eq!(got_rx.next(), "m0");
    assert_eq!(got_rx.next(), "m1");
    drop(client);
    assert!(err_rx.next(), "expected Error::CloseTimeout");
    assert_eq!(close_rx.next(), 1006);
    // Closed is queued right after on_close returns.
    let deadline = std::time::Instant::now() + GUARD;
    let mut events: Vec<Event> = Vec::new();
    while !matches!(events.last(), Some(Event::Closed { .. })) {
        assert!(
            std::time::Instant::now() < deadline,
            "no Closed event: {events:?}"
        );
        events.extend(queue.drain());
        std::thread::sleep(Duration::from_millis(1));
    }
    let texts: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        texts,
        ["m0", "m1"],
        "the message handed to on_message is queued too"
    );
    assert!(
        matches!(events.last(), Some(Event::Closed { code: 1006, .. })),
        "{events:?}"
    );
}
