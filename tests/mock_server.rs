//! The mock Twitch server tested on its own, with a raw async-tungstenite client, so the
//! end-to-end tests of the bot stand on a server whose behaviour is itself checked.

use std::sync::Arc;
use std::time::Duration;

use async_tungstenite::WebSocketStream;
use async_tungstenite::tokio::{ConnectStream, connect_async_with_tls_connector};
use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::http::HeaderValue;
use async_tungstenite::tungstenite::protocol::CloseFrame;
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::{Message, Utf8Bytes};
use e2e::mock_twitch::{Chat, ClientEvent, MockOptions, MockTwitch, irc_command};
use futures_util::StreamExt;

const T: Duration = Duration::from_secs(10);

struct Raw {
    ws: WebSocketStream<ConnectStream>,
    subprotocol: Option<String>,
}

impl Raw {
    async fn connect(server: &MockTwitch, protocol: Option<&str>) -> Raw {
        let mut req = server.url().into_client_request().unwrap();
        if let Some(p) = protocol {
            req.headers_mut()
                .insert("sec-websocket-protocol", HeaderValue::from_str(p).unwrap());
        }
        let connector = server
            .test_ca()
            .map(|ca| tokio_rustls::TlsConnector::from(Arc::new(ca.client_config().unwrap())));
        let (ws, resp) = connect_async_with_tls_connector(req, connector)
            .await
            .expect("connect to the mock");
        let subprotocol = resp
            .headers()
            .get("sec-websocket-protocol")
            .map(|v| v.to_str().unwrap().to_string());
        Raw { ws, subprotocol }
    }

    async fn send(&mut self, text: &str) {
        self.ws
            .send(Message::Text(Utf8Bytes::from(text.to_string())))
            .await
            .unwrap();
    }

    /// The next text frame.
    async fn frame(&mut self) -> String {
        loop {
            match tokio::time::timeout(T, self.ws.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => return t.to_string(),
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// Reads frames until a line with IRC command `cmd` shows up; returns (frame, line).
    async fn until(&mut self, cmd: &str) -> (String, String) {
        loop {
            let f = self.frame().await;
            if let Some(l) = f.split("\r\n").find(|l| irc_command(l) == cmd) {
                let l = l.to_string();
                return (f, l);
            }
        }
    }
}

async fn login_anon(c: &mut Raw) {
    // CAP and NICK in one frame, the last line without CRLF.
    c.send("CAP REQ :twitch.tv/tags twitch.tv/commands\r\nNICK justinfan4711")
        .await;
    let (f, _) = c.until("CAP").await;
    assert_eq!(
        f,
        ":tmi.twitch.tv CAP * ACK :twitch.tv/tags twitch.tv/commands\r\n"
    );
}

#[tokio::test]
async fn anonymous_login_join_chat_ping_and_close_over_ws() {
    let server = MockTwitch::start(MockOptions::default()).await.unwrap();
    let mut c = Raw::connect(&server, None).await;
    assert_eq!(c.subprotocol, None, "no sub-protocol offered, none echoed");

    // NICK before CAP: the login completes only when NICK arrives, so send CAP first here.
    c.send("CAP REQ :twitch.tv/tags twitch.tv/commands\r\n")
        .await;
    let (f, _) = c.until("CAP").await;
    assert!(f.contains("CAP * ACK"));
    c.send("NICK justinfan4711").await;
    let (f, _) = c.until("001").await;
    let lines: Vec<&str> = f.split("\r\n").filter(|l| !l.is_empty()).collect();
    let cmds: Vec<&str> = lines.iter().map(|l| irc_command(l)).collect();
    assert_eq!(
        cmds,
        [
            "001",
            "002",
            "003",
            "004",
            "375",
            "372",
            "376",
            "GLOBALUSERSTATE"
        ],
        "several lines in one frame"
    );
    assert!(f.ends_with("\r\n"));

    c.send("JOIN #somechannel").await;
    let (f, _) = c.until("JOIN").await;
    let cmds: Vec<&str> = f
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(irc_command)
        .collect();
    assert_eq!(cmds, ["JOIN", "353", "366", "USERSTATE", "ROOMSTATE"]);
    assert!(f.starts_with(
        ":justinfan4711!justinfan4711@justinfan4711.tmi.twitch.tv JOIN #somechannel\r\n"
    ));
    let conn = server.wait_for_join("somechannel", 0, T).await.unwrap();
    assert_eq!(conn, 1);
    let info = &server.connections()[0];
    assert!(info.logged_in);
    assert!(info.channels.contains("somechannel"));

    let id = server
        .send_chat("somechannel", "alice", "101", "up")
        .await
        .unwrap();
    let (_, l) = c.until("PRIVMSG").await;
    assert!(l.starts_with("@badge-info=;badges=;"), "{l}");
    assert!(l.contains(&format!(";id={id};")), "{l}");
    assert!(l.contains(";user-id=101;"), "{l}");
    assert!(l.contains(";tmi-sent-ts="), "{l}");
    assert!(l.ends_with(" :alice!alice@alice.tmi.twitch.tv PRIVMSG #somechannel :up"));

    // Several chat lines in one frame.
    let ids = server
        .send_chats(vec![
            Chat::new("somechannel", "bob", "102", "down").moderator(),
            Chat::new("somechannel", "carol", "103", "left"),
        ])
        .await
        .unwrap();
    let f = c.frame().await;
    assert_eq!(f.matches("\r\n").count(), 2);
    assert!(f.contains(&ids[0]) && f.contains(&ids[1]));
    assert!(f.contains(";mod=1;"));

    // Client PING -> PONG with the token.
    c.send("PING abc").await;
    let (_, l) = c.until("PONG").await;
    assert_eq!(l, ":tmi.twitch.tv PONG tmi.twitch.tv :abc");
    // Server PING -> the client's PONG is recorded.
    let mark = server.mark();
    assert_eq!(server.ping("tmi.twitch.tv").await, 1);
    let (_, l) = c.until("PING").await;
    assert_eq!(l, "PING :tmi.twitch.tv");
    c.send("PONG :tmi.twitch.tv").await;
    let (conn, l) = server
        .wait_for_line_since(mark, T, |l| irc_command(l) == "PONG")
        .await
        .unwrap();
    assert_eq!((conn, l.as_str()), (1, "PONG :tmi.twitch.tv"));

    // Unknown command -> 421.
    c.send("FOO bar").await;
    let (_, l) = c.until("421").await;
    assert_eq!(l, ":tmi.twitch.tv 421 justinfan4711 FOO :Unknown command");

    // PART -> echo.
    c.send("PART #somechannel").await;
    let (_, l) = c.until("PART").await;
    assert_eq!(
        l,
        ":justinfan4711!justinfan4711@justinfan4711.tmi.twitch.tv PART #somechannel"
    );

    // A clean close is recorded with its code.
    c.ws.close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: Utf8Bytes::from_static("bye"),
    }))
    .await
    .unwrap();
    let (close, by_server) = server.wait_for_close(1, T).await.unwrap();
    assert_eq!(close, Some((1000, "bye".to_string())));
    assert!(!by_server);
    assert!(!server.connections()[0].open);
    let lines: Vec<String> = server.lines().into_iter().map(|(_, _, l)| l).collect();
    assert_eq!(
        lines,
        [
            "CAP REQ :twitch.tv/tags twitch.tv/commands",
            "NICK justinfan4711",
            "JOIN #somechannel",
            "PING abc",
            "PONG :tmi.twitch.tv",
            "FOO bar",
            "PART #somechannel"
        ]
    );
}

#[tokio::test]
async fn subprotocol_irc_is_echoed_only_when_offered() {
    let server = MockTwitch::start(MockOptions::default()).await.unwrap();
    let c = Raw::connect(&server, Some("irc")).await;
    assert_eq!(c.subprotocol.as_deref(), Some("irc"));
    let c2 = Raw::connect(&server, Some("chat, irc")).await;
    assert_eq!(c2.subprotocol.as_deref(), Some("irc"));
    let c3 = Raw::connect(&server, None).await;
    assert_eq!(c3.subprotocol, None);
    let opened: Vec<Vec<String>> = server
        .log()
        .into_iter()
        .filter_map(|r| match r.what {
            ClientEvent::Opened { protocols } => Some(protocols),
            _ => None,
        })
        .collect();
    assert_eq!(
        opened,
        vec![
            vec!["irc".to_string()],
            vec!["chat".into(), "irc".into()],
            vec![]
        ]
    );
}

#[tokio::test]
async fn logged_in_pass_after_nick_gets_user_id_and_userstate_per_privmsg() {
    let server = MockTwitch::start(MockOptions::default()).await.unwrap();
    let mut c = Raw::connect(&server, None).await;
    c.send("CAP REQ :twitch.tv/tags twitch.tv/commands twitch.tv/membership")
        .await;
    c.until("CAP").await;
    c.send("NICK my_bot").await;
    c.send("PASS oauth:goodtoken").await;
    let (f, _) = c.until("376").await;
    assert!(f.contains("user-id=900001;"), "{f}");
    c.send("JOIN #chan").await;
    c.until("ROOMSTATE").await;
    c.send("PRIVMSG #chan :hello").await;
    let (_, l) = c.until("USERSTATE").await;
    assert!(l.ends_with("USERSTATE #chan"), "{l}");
    let privmsgs = server.lines_with_command("PRIVMSG");
    assert_eq!(privmsgs.len(), 1);
    assert_eq!(privmsgs[0].2, "PRIVMSG #chan :hello");
    // A token is never needed again by the test: PASS is recorded like any line though.
    assert!(
        server
            .lines()
            .iter()
            .any(|(_, _, l)| l == "PASS oauth:goodtoken")
    );
}

#[tokio::test]
async fn bad_token_gets_login_failed_notice_then_close() {
    let server = MockTwitch::start(MockOptions {
        bad_token: Some("oauth:wrong".into()),
        ..MockOptions::default()
    })
    .await
    .unwrap();
    let mut c = Raw::connect(&server, None).await;
    login_anon_named(&mut c, "my_bot", Some("oauth:wrong")).await;
    let (_, l) = c.until("NOTICE").await;
    assert_eq!(l, ":tmi.twitch.tv NOTICE * :Login authentication failed");
    match tokio::time::timeout(T, c.ws.next()).await.unwrap() {
        Some(Ok(Message::Close(_))) | None => {}
        other => panic!("expected the server to close, got {other:?}"),
    }
    drop(c);
    let (_, by_server) = server.wait_for_close(1, T).await.unwrap();
    assert!(by_server);
    assert!(!server.connections()[0].logged_in);

    // A PASS without `oauth:` is "Improperly formatted auth".
    let mut c = Raw::connect(&server, None).await;
    login_anon_named(&mut c, "my_bot", Some("nooauthprefix")).await;
    let (_, l) = c.until("NOTICE").await;
    assert_eq!(l, ":tmi.twitch.tv NOTICE * :Improperly formatted auth");
}

async fn login_anon_named(c: &mut Raw, nick: &str, pass: Option<&str>) {
    if let Some(p) = pass {
        c.send(&format!("PASS {p}\r\n")).await;
    }
    c.send(&format!("NICK {nick}\r\n")).await;
}

#[tokio::test]
async fn drop_connections_ends_tcp_without_a_close_frame() {
    let server = MockTwitch::start(MockOptions::default()).await.unwrap();
    let mut c = Raw::connect(&server, None).await;
    login_anon(&mut c).await;
    let (f, _) = c.until("376").await;
    assert!(f.contains("GLOBALUSERSTATE"));
    assert_eq!(server.drop_connections().await, 1);
    match tokio::time::timeout(T, c.ws.next()).await.unwrap() {
        // tungstenite reports EOF without a close frame as an error (or a plain end).
        Some(Err(_)) | None => {}
        other => panic!("expected an abrupt end, got {other:?}"),
    }
    let (close, by_server) = server.wait_for_close(1, T).await.unwrap();
    assert_eq!(close, None);
    assert!(by_server);
}

#[tokio::test]
async fn injected_lines_reach_logged_in_clients() {
    let server = MockTwitch::start(MockOptions::default()).await.unwrap();
    let mut c = Raw::connect(&server, None).await;
    login_anon(&mut c).await;
    let (f, _) = c.until("376").await;
    assert!(f.contains("GLOBALUSERSTATE"));
    c.send("JOIN #chan").await;
    c.until("ROOMSTATE").await;
    assert_eq!(server.send_reconnect().await, 1);
    let (_, l) = c.until("RECONNECT").await;
    assert_eq!(l, ":tmi.twitch.tv RECONNECT");
    server.send_ratelimit_notice("chan").await.unwrap();
    let (_, l) = c.until("NOTICE").await;
    assert!(l.starts_with("@msg-id=msg_ratelimit "), "{l}");
    server
        .timeout_user("chan", "alice", "101", 600)
        .await
        .unwrap();
    let (_, l) = c.until("CLEARCHAT").await;
    assert!(
        l.contains("target-user-id=101") && l.ends_with("CLEARCHAT #chan :alice"),
        "{l}"
    );
    server
        .delete_message("chan", "alice", "abc-1", "up")
        .await
        .unwrap();
    let (_, l) = c.until("CLEARMSG").await;
    assert!(
        l.contains("target-msg-id=abc-1") && l.contains("room-id=;"),
        "{l}"
    );
    // Not joined -> an error, not a silent loss.
    assert!(server.send_chat("other", "a", "1", "x").await.is_err());
}

#[tokio::test]
async fn wss_with_the_test_ca_and_untrusted_without_it() {
    let server = MockTwitch::start(MockOptions {
        tls: true,
        ..MockOptions::default()
    })
    .await
    .unwrap();
    assert!(server.url().starts_with("wss://localhost:"));
    let ca = server.ca_file().unwrap();
    assert!(
        std::fs::read_to_string(&ca)
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    let mut c = Raw::connect(&server, None).await;
    login_anon(&mut c).await;
    let (f, _) = c.until("376").await;
    assert!(f.contains("GLOBALUSERSTATE"));

    // Without the test CA (web PKI roots only) the handshake must fail.
    let err = async_tungstenite::tokio::connect_async(server.url()).await;
    assert!(err.is_err(), "an untrusted certificate must be rejected");
}

#[tokio::test]
async fn chat_limits_are_enforced_like_twitch() {
    let server = MockTwitch::start(MockOptions::default()).await.unwrap();
    let mut c = Raw::connect(&server, None).await;
    c.send("CAP REQ :twitch.tv/tags twitch.tv/commands\r\nPASS oauth:x\r\nNICK my_bot")
        .await;
    c.until("376").await;
    c.send("JOIN #chan").await;
    c.until("ROOMSTATE").await;
    c.send("PRIVMSG #chan :one").await;
    c.until("USERSTATE").await;
    // The second message in the same channel within 1 s is refused, like Twitch does.
    c.send("PRIVMSG #chan :two").await;
    let (_, l) = c.until("NOTICE").await;
    assert!(l.starts_with("@msg-id=msg_ratelimit "), "{l}");
    assert_eq!(server.rate_limit_violations(), 1);
    // Another channel has its own 1 s gap.
    c.send("JOIN #other").await;
    c.until("ROOMSTATE").await;
    c.send("PRIVMSG #other :three").await;
    c.until("USERSTATE").await;
    assert_eq!(server.rate_limit_violations(), 1);
}
