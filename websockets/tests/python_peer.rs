//! The client against an independent peer: Python's `websockets` server (tests/peers/python_ws_server.py).

mod support;

use std::sync::Arc;

use support::{PythonPeer, channel};
use websockets::{
    ClientOptions, IWebsocketClient, WebsocketType, create_client, create_client_with,
};

#[test]
fn text_echo() {
    let peer = PythonPeer::start();
    let (tx, rx) = channel();
    let client = create_client(
        &peer.ws_url("/echo"),
        move |m: &str| tx.send(m.to_string()).unwrap(),
        WebsocketType::NonSecure,
    )
    .expect("connect");
    assert!(client.is_connection_open());
    client.send_websocket_message("hello").unwrap();
    assert_eq!(rx.next(), "hello");
}

#[test]
fn binary_echo_goes_to_the_binary_handler() {
    let peer = PythonPeer::start();
    let (tx, rx) = channel();
    let options = ClientOptions::new().on_binary(move |b| tx.send(b.to_vec()).unwrap());
    let client = create_client_with(
        &peer.ws_url("/echo"),
        |_m: &str| panic!("text handler got binary"),
        WebsocketType::NonSecure,
        options,
    )
    .expect("connect");
    let payload: Vec<u8> = (0..=255u8).chain([0, 0, 0]).collect();
    client.send_websocket_message_binary(&payload).unwrap();
    assert_eq!(rx.next(), payload);
    let _ = Arc::new(client);
}
