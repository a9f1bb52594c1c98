//! Replies sent from a connection's own handler are written by its reader task (see the crate docs,
//! "Replies from handlers"). These tests pin the limits of that path: it must never stall the connection.
//!
//! The peer is a tungstenite server on its own thread (blocking I/O), not this crate.

mod support;

use std::net::TcpListener;
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::thread;
use std::time::Duration;

use async_tungstenite::tungstenite::{self, Message};
use support::GUARD;
use websockets::{ClientOptions, Error, WebsocketClient, WebsocketType, create_client_with};

/// The server speaks only once the client said "ready" (its handle is stored by then, for its handlers).
fn wait_for_ready(ws: &mut tungstenite::WebSocket<std::net::TcpStream>) {
    loop {
        match ws.read().expect("the client's ready") {
            Message::Text(t) if t.as_str() == "ready" => return,
            _ => {}
        }
    }
}

/// A handler that sends more than the send-queue bound in one call, waiting for room whenever the queue
/// is full (as a careful producer does), must see the queue drain while it runs: its sends do not wake
/// the writer task, so past half the bound they must, or the handler would wait forever.
#[test]
fn a_handler_that_fills_the_send_queue_sees_it_drain() {
    const CHUNK: usize = 16 * 1024;
    const CHUNKS: usize = 256; // 4 MiB through a 256 KiB queue
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (read_tx, read_rx) = mpsc::channel();
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut ws = tungstenite::accept(stream).expect("server handshake");
        wait_for_ready(&mut ws);
        ws.send(Message::text("go")).unwrap();
        let mut bytes = 0;
        while bytes < CHUNK * CHUNKS {
            match ws.read() {
                Ok(Message::Binary(b)) => bytes += b.len(),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        let _ = read_tx.send(bytes);
    });
    let client: Arc<OnceLock<WebsocketClient>> = Arc::new(OnceLock::new());
    let (done_tx, done_rx) = mpsc::channel();
    let handler_client = Arc::clone(&client);
    let done_tx = Mutex::new(done_tx);
    let connected = create_client_with(
        &format!("ws://127.0.0.1:{port}/"),
        move |_go: &str| {
            let client = handler_client.get().expect("set before the server speaks");
            let chunk = vec![7u8; CHUNK];
            let mut full = 0;
            for _ in 0..CHUNKS {
                loop {
                    match client.send_binary(chunk.clone()) {
                        Ok(()) => break,
                        Err(Error::SendQueueFull { .. }) => {
                            full += 1;
                            thread::sleep(Duration::from_micros(200));
                        }
                        Err(e) => panic!("send failed: {e}"),
                    }
                }
            }
            let _ = done_tx.lock().unwrap().send(full);
        },
        WebsocketType::NonSecure,
        ClientOptions::new().max_send_queue_bytes(256 * 1024),
    )
    .expect("connect");
    let _ = client.set(connected);
    client.get().unwrap().send_text("ready").unwrap();
    let full = done_rx
        .recv_timeout(GUARD)
        .expect("the handler finished its sends (the queue drained while it ran)");
    let read = read_rx.recv_timeout(GUARD).expect("the server read all");
    assert_eq!(read, CHUNK * CHUNKS);
    assert!(
        full > 0,
        "the queue never filled: the test did not test what it says"
    );
}

/// A peer that writes a lot before it reads: the client's replies fill its socket, and the reader task
/// must not wait for them to be written (it hands them to the writer task) and keep reading, or both
/// sides would wait on each other forever.
#[test]
fn replies_to_a_peer_that_writes_before_it_reads_do_not_stall_reading() {
    const MESSAGES: usize = 200;
    const SIZE: usize = 64 * 1024; // 12.5 MiB each way, far more than loopback socket buffers hold
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (read_tx, read_rx) = mpsc::channel();
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut ws = tungstenite::accept(stream).expect("server handshake");
        wait_for_ready(&mut ws);
        let payload = vec![1u8; SIZE];
        for _ in 0..MESSAGES {
            ws.send(Message::binary(payload.clone()))
                .expect("the client keeps reading");
        }
        let mut replies = 0;
        while replies < MESSAGES {
            match ws.read() {
                Ok(Message::Binary(b)) if b.len() == SIZE => replies += 1,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        let _ = read_tx.send(replies);
    });
    let client: Arc<OnceLock<WebsocketClient>> = Arc::new(OnceLock::new());
    let handler_client = Arc::clone(&client);
    let options = ClientOptions::new()
        .max_send_queue_bytes(64 * 1024 * 1024)
        .on_binary(move |data: &[u8]| {
            let client = handler_client.get().expect("set before the server speaks");
            client
                .send_binary(data.to_vec())
                .expect("room for the reply");
        });
    let connected = websockets::create_client_with_options(
        &format!("ws://127.0.0.1:{port}/"),
        WebsocketType::NonSecure,
        options,
    )
    .expect("connect");
    let _ = client.set(connected);
    client.get().unwrap().send_text("ready").unwrap();
    let replies = read_rx
        .recv_timeout(GUARD)
        .expect("the server wrote everything and read the replies");
    assert_eq!(replies, MESSAGES);
}
