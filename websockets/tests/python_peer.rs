//! The client against an independent peer: Python's `websockets` server (tests/peers/python_ws_server.py,
//! installed by tests/peers/python-setup.sh).

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::{PythonPeer, channel};
use websockets::{
    ClientOptions, ConnectPhase, Error, Event, IWebsocketClient, MessageQueue, WebsocketClient,
    WebsocketType, WebsocketsRequestBus, create_client, create_client_with,
};

fn echo_client(
    peer: &PythonPeer,
    path: &str,
) -> (websockets::WebsocketClient, support::Receiver<String>) {
    let (tx, rx) = channel();
    let client = create_client(
        &peer.ws_url(path),
        move |m: &str| {
            let _ = tx.send(m.to_string());
        },
        WebsocketType::NonSecure,
    )
    .expect("connect");
    (client, rx)
}

#[test]
fn text_echo() {
    let peer = PythonPeer::start();
    let (client, rx) = echo_client(&peer, "/echo");
    assert!(client.is_connection_open());
    client.send_websocket_message("hello").unwrap();
    assert_eq!(rx.next(), "hello");
}

#[test]
fn messages_arrive_in_order() {
    let peer = PythonPeer::start();
    let (client, rx) = echo_client(&peer, "/echo");
    for i in 0..500 {
        client
            .send_websocket_message(&format!("message {i}"))
            .unwrap();
    }
    for i in 0..500 {
        assert_eq!(rx.next(), format!("message {i}"));
    }
}

#[test]
fn unicode_text_echo() {
    let peer = PythonPeer::start();
    let (client, rx) = echo_client(&peer, "/echo");
    let text = "héllo wörld ✓ 日本語 🎮 Ελληνικά العربية";
    client.send_websocket_message(text).unwrap();
    assert_eq!(rx.next(), text);
}

#[test]
fn nul_bytes_are_not_truncated() {
    let peer = PythonPeer::start();
    let (client, rx) = echo_client(&peer, "/echo");
    let text = "before\0middle\0\0after\0";
    client.send_websocket_message(text).unwrap();
    let echoed = rx.next();
    assert_eq!(echoed.len(), text.len());
    assert_eq!(echoed, text);
}

#[test]
fn binary_echo_goes_to_the_binary_handler() {
    let peer = PythonPeer::start();
    let (tx, rx) = channel();
    let (text_tx, text_rx) = channel::<String>();
    let options = ClientOptions::new().on_binary(move |b| tx.send(b.to_vec()).unwrap());
    let client = create_client_with(
        &peer.ws_url("/echo"),
        move |m: &str| text_tx.send(m.to_string()).unwrap(),
        WebsocketType::NonSecure,
        options,
    )
    .expect("connect");
    let payload: Vec<u8> = (0..=255u8).chain([0, 0, 0]).collect();
    client.send_websocket_message_binary(&payload).unwrap();
    assert_eq!(rx.next(), payload);
    // A text message sent afterwards arrives afterwards, so the binary one did not reach the text handler.
    client.send_websocket_message("after").unwrap();
    assert_eq!(text_rx.next(), "after");
}

#[test]
fn sixteen_mib_text_and_binary_messages() {
    let peer = PythonPeer::start();
    let (text_tx, text_rx) = channel();
    let (bin_tx, bin_rx) = channel();
    let options = ClientOptions::new()
        .max_send_queue_bytes(64 << 20) // both 16 MiB messages are queued at once
        .on_binary(move |b| bin_tx.send(b.to_vec()).unwrap());
    let client = create_client_with(
        &peer.ws_url("/echo"),
        move |m: &str| text_tx.send(m.to_string()).unwrap(),
        WebsocketType::NonSecure,
        options,
    )
    .expect("connect");
    let size = 16 << 20;
    let text: String = (0..size).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    let binary: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    client.send_text(text.clone()).unwrap();
    client.send_binary(binary.clone()).unwrap();
    let got_text = text_rx.next();
    assert_eq!(got_text.len(), size);
    assert!(got_text == text, "16 MiB text came back different");
    let got_binary = bin_rx.next();
    assert_eq!(got_binary.len(), size);
    assert!(got_binary == binary, "16 MiB binary came back different");
}

#[test]
fn server_ping_is_answered_with_pong() {
    let peer = PythonPeer::start();
    let (_client, rx) = echo_client(&peer, "/ping");
    assert_eq!(rx.next(), "pong:srv", "the server did not get our pong");
}

#[test]
fn client_ping_gets_the_servers_pong() {
    let peer = PythonPeer::start();
    let (tx, rx) = channel();
    let options = ClientOptions::new().on_pong(move |p| tx.send(p.to_vec()).unwrap());
    let client = create_client_with(
        &peer.ws_url("/echo"),
        |_m: &str| {},
        WebsocketType::NonSecure,
        options,
    )
    .expect("connect");
    client.send_ping(&b"cli"[..]).unwrap();
    assert_eq!(rx.next(), b"cli");
}

#[test]
fn keep_alive_pings_are_sent_and_answered() {
    let peer = PythonPeer::start();
    let (tx, rx) = channel();
    let (err_tx, err_rx) = channel::<String>();
    let options = ClientOptions::new()
        .ping_interval(Duration::from_millis(200))
        .on_pong(move |p| tx.send(p.len()).unwrap())
        .on_error(move |e| err_tx.send(e.to_string()).unwrap());
    let client = create_client_with(
        &peer.ws_url("/echo"),
        |_m: &str| {},
        WebsocketType::NonSecure,
        options,
    )
    .expect("connect");
    for _ in 0..3 {
        assert_eq!(rx.next(), 0, "keep-alive pings carry an empty payload");
    }
    assert!(client.is_open());
    assert!(
        err_rx.0.try_recv().is_err(),
        "no keep-alive error while the peer answers"
    );
}

#[test]
fn client_close_code_and_reason_reach_the_server_and_back() {
    let peer = PythonPeer::start();
    let (tx, rx) = channel();
    let options = ClientOptions::new()
        .on_close(move |code, reason| tx.send((code, reason.to_string())).unwrap());
    let client = create_client_with(
        &peer.ws_url("/report"),
        |_m: &str| {},
        WebsocketType::NonSecure,
        options,
    )
    .expect("connect");
    client.close(4001, "bye now ✓").unwrap();
    assert!(!client.is_open());
    assert_eq!(peer.next_line(), "closed 4001 bye now ✓");
    assert_eq!(rx.next(), (4001, "bye now ✓".to_string()));
    let info = client.wait_closed(support::GUARD).expect("closed");
    assert_eq!(info.code, 4001);
}

#[test]
fn server_initiated_close_reports_code_and_reason() {
    let peer = PythonPeer::start();
    let (tx, rx) = channel();
    let options = ClientOptions::new()
        .on_close(move |code, reason| tx.send((code, reason.to_string())).unwrap());
    let client = create_client_with(
        &peer.ws_url("/close?code=4002&reason=server%20says%20bye"),
        |_m: &str| {},
        WebsocketType::NonSecure,
        options,
    )
    .expect("connect");
    assert_eq!(rx.next(), (4002, "server says bye".to_string()));
    assert!(!client.is_connection_open());
    assert!(matches!(
        client.send_websocket_message("late"),
        Err(Error::Closed)
    ));
}

#[test]
fn connection_dropped_without_close_frame_is_1006_with_an_error() {
    let peer = PythonPeer::start();
    let (tx, rx) = channel();
    let (err_tx, err_rx) = channel::<String>();
    let options = ClientOptions::new()
        .on_close(move |code, _| tx.send(code).unwrap())
        .on_error(move |e| err_tx.send(e.to_string()).unwrap());
    let client = create_client_with(
        &peer.ws_url("/abort"),
        |_m: &str| {},
        WebsocketType::NonSecure,
        options,
    )
    .expect("connect");
    client.send_text("go").unwrap();
    assert_eq!(rx.next(), 1006);
    let error = err_rx.next();
    assert!(!error.is_empty());
}

#[test]
fn sends_after_close_are_errors() {
    let peer = PythonPeer::start();
    let (client, _rx) = echo_client(&peer, "/echo");
    client.close_websocket();
    assert!(!client.is_connection_open());
    assert!(matches!(
        client.send_websocket_message("x"),
        Err(Error::Closed)
    ));
    assert!(matches!(
        client.send_websocket_message_binary(b"x"),
        Err(Error::Closed)
    ));
    assert!(matches!(client.close(1000, ""), Err(Error::Closed)));
    assert_eq!(
        client.wait_closed(support::GUARD).expect("closed").code,
        1000
    );
}

#[test]
fn invalid_close_codes_are_refused() {
    let peer = PythonPeer::start();
    let (client, _rx) = echo_client(&peer, "/echo");
    assert!(matches!(
        client.close(1006, ""),
        Err(Error::InvalidClose(_))
    ));
    assert!(matches!(
        client.close(1000, &"x".repeat(124)),
        Err(Error::InvalidClose(_))
    ));
    assert!(client.is_open());
}

#[test]
fn upgrade_rejected_names_the_status() {
    let peer = PythonPeer::start();
    let err = create_client(
        &peer.ws_url("/reject"),
        |_m: &str| {},
        WebsocketType::NonSecure,
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::UpgradeRejected { status: 403, .. }),
        "got {err:?}"
    );
    assert!(err.to_string().contains("403"), "{err}");
}

#[test]
fn connect_timeout_names_the_phase() {
    let peer = PythonPeer::start();
    let options = ClientOptions::new().connect_timeout(Duration::from_secs(1));
    let err = create_client_with(
        &peer.ws_url("/slow"),
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
}

#[test]
fn headers_and_subprotocol_are_sent() {
    let peer = PythonPeer::start();
    let (tx, rx) = channel();
    let options = ClientOptions::new()
        .authorization("OAuth secret-token")
        .header("X-Test", "yes")
        .subprotocol("nope")
        .subprotocol("chat");
    let client = create_client_with(
        &peer.ws_url("/headers"),
        move |m: &str| tx.send(m.to_string()).unwrap(),
        WebsocketType::NonSecure,
        options,
    )
    .expect("connect");
    let report: serde_json::Value = serde_json::from_str(&rx.next()).unwrap();
    assert_eq!(report["headers"]["authorization"], "OAuth secret-token");
    assert_eq!(report["headers"]["x-test"], "yes");
    assert_eq!(report["subprotocol"], "chat");
    assert_eq!(client.subprotocol(), Some("chat"));
}

#[test]
fn dropping_the_client_inside_its_own_handler_does_not_deadlock() {
    let peer = PythonPeer::start();
    let slot: Arc<Mutex<Option<WebsocketClient>>> = Arc::new(Mutex::new(None));
    let (tx, rx) = channel();
    let handler_slot = Arc::clone(&slot);
    let client = create_client(
        &peer.ws_url("/report"),
        move |_m: &str| {
            let client = handler_slot.lock().unwrap().take();
            drop(client); // drops the client on its own reader task
            tx.send(()).unwrap();
        },
        WebsocketType::NonSecure,
    )
    .expect("connect");
    // Stored before sending, so the handler always finds it.
    slot.lock()
        .unwrap()
        .insert(client)
        .send_text("drop me")
        .unwrap();
    rx.next();
    // The drop started a proper close handshake with 1000.
    assert_eq!(peer.next_line(), "closed 1000 ");
}

#[test]
fn dropping_the_client_closes_with_1000() {
    let peer = PythonPeer::start();
    let (client, _rx) = echo_client(&peer, "/report");
    drop(client);
    assert_eq!(peer.next_line(), "closed 1000 ");
}

#[test]
fn message_size_is_bounded_both_ways() {
    let peer = PythonPeer::start();
    let (tx, rx) = channel();
    let options = ClientOptions::new()
        .max_message_size(100)
        .on_close(move |code, _| tx.send(code).unwrap());
    let client = create_client_with(
        &peer.ws_url("/flood?n=1&size=200"),
        |_m: &str| {},
        WebsocketType::NonSecure,
        options,
    )
    .expect("connect");
    assert!(matches!(
        client.send_text("x".repeat(101)),
        Err(Error::MessageTooLarge {
            size: 101,
            max: 100
        })
    ));
    // The server's 200-byte message is over the limit: the connection fails instead of buffering it, and
    // the server is told why (1009 "message too big").
    assert_eq!(rx.next(), 1006);
    assert_eq!(peer.next_line(), "closed 1009 ");
}

#[test]
fn invalid_utf8_from_the_peer_fails_the_connection_with_1007() {
    let peer = PythonPeer::start();
    let (tx, rx) = channel();
    let (err_tx, err_rx) = channel::<String>();
    let options = ClientOptions::new()
        .on_close(move |code, _| tx.send(code).unwrap())
        .on_error(move |e| err_tx.send(e.to_string()).unwrap());
    let _client = create_client_with(
        &peer.ws_url("/bad-utf8"),
        |m: &str| panic!("invalid UTF-8 reached the text handler: {m:?}"),
        WebsocketType::NonSecure,
        options,
    )
    .expect("connect");
    assert!(err_rx.next().to_lowercase().contains("utf"));
    assert_eq!(rx.next(), 1006);
    assert_eq!(peer.next_line(), "closed 1007 ");
}

#[test]
fn message_queue_applies_backpressure_without_losing_messages() {
    let peer = PythonPeer::start();
    let queue = MessageQueue::new(4);
    let options = ClientOptions::new().queue(&queue);
    let _client = create_client_with(
        &peer.ws_url("/flood?n=200&size=10"),
        |_m: &str| {},
        WebsocketType::NonSecure,
        options,
    )
    .expect("connect");
    let deadline = std::time::Instant::now() + support::GUARD;
    let mut texts = 0;
    let mut opened = false;
    while texts < 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "only {texts} of 200 messages arrived"
        );
        assert!(queue.len() <= 4, "queue grew past its bound");
        for event in queue.drain() {
            match event {
                Event::Open => opened = true,
                Event::Text(t) => {
                    assert_eq!(&*t, "xxxxxxxxxx");
                    texts += 1;
                }
                other => panic!("unexpected event {other:?}"),
            }
        }
        std::thread::sleep(Duration::from_millis(1)); // one "frame" of the game loop
    }
    assert!(opened);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_connect_stream_inside_a_runtime() {
    use futures_util::StreamExt;
    let peer = PythonPeer::start();
    let (client, mut messages) = WebsocketClient::connect_stream(
        &peer.ws_url("/echo"),
        WebsocketType::NonSecure,
        ClientOptions::new(),
        8,
    )
    .await
    .expect("connect");
    assert!(matches!(messages.next().await, Some(Event::Open)));
    client.send_text("one").unwrap();
    client.send_binary(vec![1u8, 2, 3]).unwrap();
    match messages.next().await {
        Some(Event::Text(t)) => assert_eq!(&*t, "one"),
        other => panic!("{other:?}"),
    }
    match messages.next().await {
        Some(Event::Binary(b)) => assert_eq!(&b[..], &[1, 2, 3]),
        other => panic!("{other:?}"),
    }
    client.close(1000, "done").unwrap();
    let info = client.closed().await;
    assert_eq!((info.code, info.reason.as_str()), (1000, "done"));
    match messages.next().await {
        Some(Event::Closed { code, .. }) => assert_eq!(code, 1000),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_create_client_inside_a_multi_thread_runtime() {
    let peer = PythonPeer::start();
    let (client, rx) = echo_client(&peer, "/echo");
    client.send_text("from a runtime").unwrap();
    let got = tokio::task::spawn_blocking(move || rx.next())
        .await
        .unwrap();
    assert_eq!(got, "from a runtime");
}

#[tokio::test(flavor = "current_thread")]
async fn blocking_create_client_inside_a_current_thread_runtime_does_not_panic() {
    let peer = PythonPeer::start();
    let (client, rx) = echo_client(&peer, "/echo");
    client.send_text("from a current-thread runtime").unwrap();
    assert_eq!(rx.next(), "from a current-thread runtime");
}

#[test]
fn request_bus_creates_and_addresses_clients() {
    let peer = PythonPeer::start();
    let (tx, rx) = channel();
    let id = WebsocketsRequestBus::create_client(
        &peer.ws_url("/echo"),
        move |m: &str| tx.send(m.to_string()).unwrap(),
        WebsocketType::NonSecure,
    )
    .expect("connect");
    assert!(WebsocketsRequestBus::is_connection_open(id));
    WebsocketsRequestBus::send_websocket_message(id, "via bus").unwrap();
    assert_eq!(rx.next(), "via bus");
    WebsocketsRequestBus::send_websocket_message_binary(id, b"bin").unwrap();
    WebsocketsRequestBus::client(id)
        .expect("registered")
        .send_text("direct")
        .unwrap();
    assert_eq!(rx.next(), "direct");
    WebsocketsRequestBus::close_websocket(id).unwrap();
    assert!(!WebsocketsRequestBus::is_connection_open(id));
    assert!(WebsocketsRequestBus::destroy_client(id));
    assert!(matches!(
        WebsocketsRequestBus::send_websocket_message(id, "gone"),
        Err(Error::UnknownClient(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_send_waits_for_room_instead_of_failing() {
    use futures_util::StreamExt;
    let peer = PythonPeer::start();
    let options = ClientOptions::new().max_send_queue_bytes(1024);
    let (client, mut messages) = WebsocketClient::connect_stream(
        &peer.ws_url("/echo"),
        WebsocketType::NonSecure,
        options,
        4096,
    )
    .await
    .expect("connect");
    let payload = "y".repeat(100);
    for _ in 0..2000 {
        client
            .send_text_async(payload.as_str())
            .await
            .expect("send");
        assert!(client.queued_bytes() <= 1024);
    }
    let mut echoed = 0;
    while echoed < 2000 {
        match tokio::time::timeout(support::GUARD, messages.next())
            .await
            .expect("echo in time")
        {
            Some(Event::Text(t)) => {
                assert_eq!(t.len(), 100);
                echoed += 1;
            }
            Some(Event::Open) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn reconnecting_from_inside_the_close_handler_works() {
    // A bot that reconnects when the server closes: create_client called on the reader task itself.
    let peer = PythonPeer::start();
    let echo_url = peer.ws_url("/echo");
    let (tx, rx) = channel();
    let slot: Arc<Mutex<Option<WebsocketClient>>> = Arc::new(Mutex::new(None));
    let handler_slot = Arc::clone(&slot);
    let options = ClientOptions::new().on_close(move |_code, _reason| {
        let tx = tx.clone();
        let fresh = create_client(
            &echo_url,
            move |m: &str| tx.send(m.to_string()).unwrap(),
            WebsocketType::NonSecure,
        )
        .expect("reconnect from the handler");
        // Stored before sending, so the test sees it as soon as the echo arrives.
        let mut slot = handler_slot.lock().unwrap();
        slot.insert(fresh).send_text("after reconnect").unwrap();
    });
    let _first = create_client_with(
        &peer.ws_url("/close?code=4000&reason=reconnect"),
        |_m: &str| {},
        WebsocketType::NonSecure,
        options,
    )
    .expect("connect");
    assert_eq!(rx.next(), "after reconnect");
    assert!(slot.lock().unwrap().as_ref().is_some_and(|c| c.is_open()));
}

#[test]
fn a_client_outliving_its_runtime_can_still_be_used_and_dropped_without_panic() {
    let peer = PythonPeer::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let client = rt
        .block_on(WebsocketClient::connect(
            &peer.ws_url("/echo"),
            WebsocketType::NonSecure,
            ClientOptions::new(),
        ))
        .expect("connect");
    drop(rt); // the connection's tasks are gone with it
    assert!(!client.is_open());
    assert!(matches!(
        client.send_text("into the void"),
        Err(Error::Closed)
    ));
    let _ = client.close(1000, "");
    drop(client);
}
