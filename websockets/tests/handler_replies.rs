//! Replies sent from a connection's own handler are written by its reader task (see the crate docs,
//! "Replies from handlers"). The reader must never wait on the socket for them, or a peer that writes
//! before it reads would stall both sides.
//!
//! The peer is a tungstenite server on its own thread (blocking I/O), not this crate.

mod support;

use std::net::TcpListener;
use std::sync::{Arc, OnceLock, mpsc};
use std::thread;

use async_tungstenite::tungstenite::{self, Message};
use support::GUARD;
use websockets::{ClientOptions, WebsocketClient, WebsocketType};

/// The server speaks only once the client said "ready" (its handle is stored by then, for its handlers).
fn wait_for_ready(ws: &mut tungstenite::WebSocket<std::net::TcpStream>) {
    loop {
        match ws.read().expect("the client's ready") {
            Message::Text(t) if t.as_str() == "ready" => return,
            _ => {}
        }
    }
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
