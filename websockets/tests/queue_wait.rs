//! A consumer thread that is not a game loop takes events with the blocking waits of [`MessageQueue`], from a
//! client made without any handler ([`create_client_with_options`]). The peer is tungstenite's blocking
//! server on its own thread.

mod support;

use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use async_tungstenite::tungstenite::{self, Message};
use support::GUARD;
use websockets::{
    ClientOptions, Event, MessageQueue, WebsocketType, WebsocketsRequestBus,
    create_client_with_options,
};

/// A server that, once told to, sends `texts` and closes (code 1000); it then answers nothing more.
fn server(texts: &'static [&'static str]) -> (u16, mpsc::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut ws = tungstenite::accept(stream).expect("server handshake");
        let _ = go_rx.recv();
        for text in texts {
            ws.send(Message::text(*text)).unwrap();
        }
        ws.close(None).unwrap();
        while ws.read().is_ok() {}
    });
    (port, go_tx)
}

/// What a consumer blocked in `wait_pop` saw, up to `Closed`.
fn consume(queue: MessageQueue) -> thread::JoinHandle<Vec<String>> {
    thread::spawn(move || {
        let mut seen = Vec::new();
        loop {
            match queue.wait_pop() {
                Event::Open => seen.push("open".to_string()),
                Event::Text(t) => seen.push(t.to_string()),
                Event::Closed { code, .. } => {
                    seen.push(format!("closed {code}"));
                    return seen;
                }
                other => seen.push(format!("{other:?}")),
            }
        }
    })
}

#[test]
fn a_consumer_thread_waits_for_events_without_polling() {
    let (port, go) = server(&["a", "b", "c"]);
    let queue = MessageQueue::new(2); // smaller than the burst: the reader waits for the consumer
    let consumer = consume(queue.clone());
    let client = create_client_with_options(
        &format!("ws://127.0.0.1:{port}/"),
        WebsocketType::NonSecure,
        ClientOptions::new().queue(&queue),
    )
    .unwrap();
    // The consumer is already blocked when the events arrive.
    go.send(()).unwrap();
    let seen = consumer.join().unwrap();
    assert_eq!(seen, ["open", "a", "b", "c", "closed 1005"]);
    assert!(client.wait_closed(GUARD).is_some());
}

#[test]
fn pop_timeout_returns_an_event_that_arrives_during_the_wait_and_none_after_the_last() {
    let (port, go) = server(&["only"]);
    let queue = MessageQueue::new(16);
    let id = WebsocketsRequestBus::create_client_with_options(
        &format!("ws://127.0.0.1:{port}/"),
        WebsocketType::NonSecure,
        ClientOptions::new().queue(&queue),
    )
    .unwrap();
    assert!(matches!(queue.pop_timeout(GUARD), Some(Event::Open)));
    // Nothing is sent until `go`: a short wait ends empty-handed.
    assert!(queue.pop_timeout(Duration::from_millis(20)).is_none());
    let waiter = {
        let queue = queue.clone();
        thread::spawn(move || queue.pop_timeout(GUARD))
    };
    go.send(()).unwrap();
    match waiter.join().unwrap() {
        Some(Event::Text(t)) => assert_eq!(&*t, "only"),
        other => panic!("expected the text, got {other:?}"),
    }
    assert!(matches!(
        queue.pop_timeout(GUARD),
        Some(Event::Closed { code: 1005, .. })
    ));
    assert!(WebsocketsRequestBus::destroy_client(id));
}
