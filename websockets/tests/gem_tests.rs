//! The Websockets gem's own test list (bad host, bad port, empty URL, Unicode text, a 1 KiB message), with
//! the difference that failures are now reported as typed errors instead of a client that never opens.

mod support;

use support::{PythonPeer, channel};
use websockets::{ConnectPhase, Error, IWebsocketClient, WebsocketType, create_client};

#[test]
fn bad_host_is_a_dns_error() {
    let err = create_client(
        "ws://nonexistent-host.invalid:8080/",
        |_m: &str| {},
        WebsocketType::NonSecure,
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::Dns { host, .. } if host == "nonexistent-host.invalid")
            || matches!(
                err,
                Error::Timeout {
                    phase: ConnectPhase::Dns,
                    ..
                }
            ),
        "got {err:?}"
    );
}

#[test]
fn bad_port_is_connection_refused() {
    // A port that was just free: bind it, note it, release it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = create_client(
        &format!("ws://127.0.0.1:{port}/"),
        |_m: &str| {},
        WebsocketType::NonSecure,
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::ConnectionRefused { addr } if addr.port() == port),
        "got {err:?}"
    );
    assert!(err.to_string().contains("refused"));
}

#[test]
fn empty_url_is_an_invalid_url() {
    let err = create_client("", |_m: &str| {}, WebsocketType::Secure).unwrap_err();
    assert!(matches!(err, Error::InvalidUrl { .. }), "got {err:?}");
    assert!(err.to_string().contains("empty"), "{err}");
}

#[test]
fn malformed_urls_are_rejected_before_any_io() {
    for url in ["not a url", "ws://", "wss://:443/"] {
        let err = create_client(url, |_m: &str| {}, WebsocketType::Secure).unwrap_err();
        assert!(
            matches!(err, Error::InvalidUrl { .. } | Error::SchemeMismatch { .. }),
            "{url}: got {err:?}"
        );
    }
    let err =
        create_client("http://example.com/", |_m: &str| {}, WebsocketType::Secure).unwrap_err();
    assert!(
        matches!(err, Error::UnsupportedScheme { ref scheme } if scheme == "http"),
        "got {err:?}"
    );
}

#[test]
fn unicode_text_round_trip() {
    let peer = PythonPeer::start();
    let (tx, rx) = channel();
    let client = create_client(
        &peer.ws_url("/echo"),
        move |m: &str| tx.send(m.to_string()).unwrap(),
        WebsocketType::NonSecure,
    )
    .expect("connect");
    let text = "¡Hola! Привет! こんにちは! 🙂";
    client.send_websocket_message(text).unwrap();
    assert_eq!(rx.next(), text);
}

#[test]
fn one_kib_message_round_trip() {
    let peer = PythonPeer::start();
    let (tx, rx) = channel();
    let client = create_client(
        &peer.ws_url("/echo"),
        move |m: &str| tx.send(m.to_string()).unwrap(),
        WebsocketType::NonSecure,
    )
    .expect("connect");
    let text: String = (0..1024)
        .map(|i| char::from(b'A' + (i % 26) as u8))
        .collect();
    client.send_websocket_message(&text).unwrap();
    assert_eq!(rx.next(), text);
}
