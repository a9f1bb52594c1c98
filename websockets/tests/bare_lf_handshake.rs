//! A server whose HTTP upgrade response ends its lines with a bare `\n` (which tungstenite's HTTP parser
//! accepts) must get the same frame handling as any other: the UTF-8 guard below tungstenite must find
//! where the response head ends, or it reads frame payload bytes as frame headers.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::mpsc;

use async_tungstenite::tungstenite::handshake::derive_accept_key;
use support::channel;
use websockets::{ClientOptions, WebsocketType, create_client_with};

#[test]
fn a_response_head_with_bare_line_feeds_is_followed_correctly() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut key = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("sec-websocket-key")
            {
                key = value.trim().to_string();
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut out = format!(
            "HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Accept: {}\n\n",
            derive_accept_key(key.as_bytes())
        )
        .into_bytes();
        // A binary message whose payload holds "\r\n\r\n" and then bytes that look like a text frame
        // header with an invalid UTF-8 payload; then a text message.
        let payload = b"\r\n\r\n\x81\x01\xff";
        out.extend([0x82, payload.len() as u8]);
        out.extend(payload);
        out.extend([0x81, 5]);
        out.extend(b"after");
        let mut stream = stream;
        stream.write_all(&out).unwrap();
        let _ = stop_rx.recv();
    });
    let (binary_tx, binary_rx) = channel();
    let (text_tx, text_rx) = channel();
    let (close_tx, close_rx) = channel();
    let options = ClientOptions::new()
        .on_binary(move |data| binary_tx.send(data.to_vec()).unwrap())
        .on_close(move |code, reason| {
            let _ = close_tx.send((code, reason.to_string()));
        });
    let client = create_client_with(
        &format!("ws://127.0.0.1:{port}/"),
        move |m: &str| text_tx.send(m.to_string()).unwrap(),
        WebsocketType::NonSecure,
        options,
    )
    .expect("tungstenite accepts the bare-LF response");
    assert_eq!(binary_rx.next(), b"\r\n\r\n\x81\x01\xff");
    assert_eq!(text_rx.next(), "after");
    assert!(client.is_open(), "closed with {:?}", close_rx.0.try_recv());
    drop(stop_tx);
}
