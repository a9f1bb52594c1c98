//! The mock EventSub server and Helix endpoints tested on their own, with a raw async-tungstenite client and
//! reqwest, so the EventSub end-to-end tests stand on a mock whose behaviour is itself checked against
//! Twitch's documented shapes.

use std::sync::Arc;
use std::time::Duration;

use async_tungstenite::WebSocketStream;
use async_tungstenite::tokio::{ConnectStream, connect_async_with_tls_connector};
use async_tungstenite::tungstenite::Message;
use e2e::mock_eventsub::{MockEventSub, MockEventSubOptions, chat_event};
use futures_util::StreamExt;
use serde_json::{Value, json};
use twitch_bot::eventsub::events::NotificationEvent;
use twitch_bot::eventsub::helix::{
    CreatedSubscription, HelixError, SentMessages, SubscribeFailure, Users, classify_create_error,
    parse_body,
};
use twitch_bot::eventsub::wire::{Message as EsMessage, parse_message};

/// An upper bound for waits (a failure bound, never a speed assertion).
const T: Duration = Duration::from_secs(20);

struct Client {
    ws: WebSocketStream<ConnectStream>,
}

impl Client {
    async fn connect(mock: &MockEventSub, url: &str) -> Client {
        let connector =
            tokio_rustls::TlsConnector::from(Arc::new(mock.test_ca().client_config().unwrap()));
        let (ws, _) = connect_async_with_tls_connector(url, Some(connector))
            .await
            .expect("connect to the mock");
        Client { ws }
    }

    /// The next text frame, parsed both as raw JSON and by the bot's parser.
    async fn next(&mut self) -> (Value, EsMessage) {
        loop {
            match tokio::time::timeout(T, self.ws.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => {
                    let raw: Value = serde_json::from_str(&t).unwrap();
                    let parsed = parse_message(&t).unwrap();
                    return (raw, parsed);
                }
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// The close code the mock ends the connection with.
    async fn close_code(&mut self) -> Option<u16> {
        loop {
            match tokio::time::timeout(T, self.ws.next()).await {
                Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_)) | None) => return None,
                Err(_) => panic!("the mock did not close the connection"),
            }
        }
    }

    async fn welcome(&mut self) -> (String, u64) {
        let (raw, parsed) = self.next().await;
        assert_eq!(raw["metadata"]["message_type"], "session_welcome");
        assert_eq!(raw["payload"]["session"]["status"], "connected");
        assert!(raw["payload"]["session"]["reconnect_url"].is_null());
        let EsMessage::Welcome { session, .. } = parsed else {
            panic!("not a welcome: {parsed:?}");
        };
        (session.id, session.keepalive_timeout_seconds.unwrap())
    }
}

fn http(mock: &MockEventSub) -> reqwest::Client {
    reqwest::Client::builder()
        .use_preconfigured_tls(mock.test_ca().client_config().unwrap())
        .build()
        .unwrap()
}

struct Api<'a> {
    mock: &'a MockEventSub,
    client: reqwest::Client,
    token: String,
}

impl<'a> Api<'a> {
    fn new(mock: &'a MockEventSub) -> Self {
        Api {
            mock,
            client: http(mock),
            token: mock.options().token.clone(),
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Vec<u8>) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.mock.api_url()))
            .header("Authorization", format!("Bearer {}", self.token))
            .header("Client-Id", &self.mock.options().client_id);
        if let Some(body) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.bytes().await.unwrap().to_vec())
    }

    async fn subscribe(&self, kind: &str, broadcaster: &str, session: &str) -> (u16, Vec<u8>) {
        let mut condition = json!({"broadcaster_user_id": broadcaster});
        if kind.starts_with("channel.chat.") {
            condition["user_id"] = json!(self.mock.options().user_id);
        }
        self.call(
            reqwest::Method::POST,
            "/eventsub/subscriptions",
            Some(json!({"type": kind, "version": "1", "condition": condition,
                "transport": {"method": "websocket", "session_id": session}})),
        )
        .await
    }
}

fn options() -> MockEventSubOptions {
    MockEventSubOptions {
        keepalive_range: (1, 600),
        users: vec![("streamer".into(), "1971641".into())],
        ..MockEventSubOptions::default()
    }
}

#[tokio::test]
async fn welcome_keepalive_and_the_subscribe_window() {
    let mock = MockEventSub::start(options()).await.unwrap();
    let mut c = Client::connect(
        &mock,
        &format!("{}?keepalive_timeout_seconds=1", mock.ws_url()),
    )
    .await;
    let (session, keepalive) = c.welcome().await;
    assert_eq!(keepalive, 1);
    // Nothing subscribed: after the keepalive seconds the mock closes with 4003, as Twitch does.
    assert_eq!(c.close_code().await, Some(4003));
    mock.wait_until("the close recorded", T, |s| s.conns.iter().any(|c| !c.open))
        .await
        .unwrap();
    // With a subscription, keepalives follow.
    let mut c = Client::connect(
        &mock,
        &format!("{}?keepalive_timeout_seconds=1", mock.ws_url()),
    )
    .await;
    let (session2, _) = c.welcome().await;
    assert_ne!(session, session2);
    let api = Api::new(&mock);
    let (status, _) = api
        .subscribe("channel.chat.message", "1971641", &session2)
        .await;
    assert_eq!(status, 202);
    for _ in 0..2 {
        let (raw, parsed) = c.next().await;
        assert_eq!(raw["payload"], json!({}));
        assert!(matches!(parsed, EsMessage::Keepalive { .. }));
    }
    // Out of range keepalive requests are clamped, as Twitch does.
    let mock = MockEventSub::start(MockEventSubOptions::default())
        .await
        .unwrap();
    let mut c = Client::connect(
        &mock,
        &format!("{}?keepalive_timeout_seconds=1", mock.ws_url()),
    )
    .await;
    assert_eq!(c.welcome().await.1, 10);
}

#[tokio::test]
async fn subscriptions_notifications_and_helix_errors() {
    let mock = MockEventSub::start(options()).await.unwrap();
    let mut c = Client::connect(&mock, &mock.ws_url()).await;
    let (session, _) = c.welcome().await;
    let api = Api::new(&mock);

    let (status, body) = api
        .subscribe("channel.chat.message", "1971641", &session)
        .await;
    assert_eq!(status, 202);
    let created: CreatedSubscription = parse_body("eventsub/subscriptions", &body).unwrap();
    assert_eq!(created.data[0].status, "enabled");
    assert_eq!(
        created.data[0].transport.session_id.as_deref(),
        Some(session.as_str())
    );
    assert_eq!(
        (created.total, created.total_cost, created.max_total_cost),
        (1, 0, 10)
    );

    // 409: the same type and condition again.
    let (status, body) = api
        .subscribe("channel.chat.message", "1971641", &session)
        .await;
    assert_eq!(status, 409);
    let err: HelixError = parse_body("eventsub/subscriptions", &body).unwrap();
    assert_eq!((err.error.as_str(), err.status), ("Conflict", 409));
    // 403: the token lacks bits:read; the classification names the scope.
    let (status, body) = api.subscribe("channel.cheer", "900001", &session).await;
    assert_eq!(status, 403);
    let failure = classify_create_error("channel.cheer", status, &body);
    assert!(
        matches!(failure, SubscribeFailure::MissingScope { ref scope, .. } if scope == "bits:read")
    );
    // 400: a session that is not connected.
    let (status, _) = api
        .subscribe("channel.chat.clear", "1971641", "nosuchsession")
        .await;
    assert_eq!(status, 400);
    // 401: a bad token.
    let bad = Api {
        token: "wrong".into(),
        ..Api::new(&mock)
    };
    let (status, body) = bad
        .subscribe("channel.chat.clear", "1971641", &session)
        .await;
    assert_eq!(status, 401);
    let err: HelixError = parse_body("eventsub/subscriptions", &body).unwrap();
    assert_eq!(err.message, "Invalid OAuth token");
    // A scripted 429.
    mock.fail_next_subscription("channel.chat.clear", 429, "too many");
    let (status, _) = api
        .subscribe("channel.chat.clear", "1971641", &session)
        .await;
    assert_eq!(status, 429);
    let (status, _) = api
        .subscribe("channel.chat.clear", "1971641", &session)
        .await;
    assert_eq!(status, 202);

    // List, then a notification reaches the session's connection and parses as documented.
    let (status, body) = api
        .call(reqwest::Method::GET, "/eventsub/subscriptions", None)
        .await;
    assert_eq!(status, 200);
    let list: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(list["total"], 2);
    let sent = mock.notify(
        "channel.chat.message",
        chat_event(
            ("1971641", "streamer"),
            ("4145994", "viewer32"),
            "up",
            "cc106a89-1814-919d-454c-f4f2f970aae7",
        ),
    );
    assert_eq!(sent.len(), 1);
    let (raw, parsed) = c.next().await;
    assert_eq!(raw["metadata"]["subscription_type"], "channel.chat.message");
    let EsMessage::Notification { event, .. } = parsed else {
        panic!("{parsed:?}");
    };
    assert!(matches!(*event, NotificationEvent::ChatMessage(ref m) if m.message.text == "up"));
    // Resent as it was (at least once): same message id.
    mock.send_raw(sent[0].0, &sent[0].1).unwrap();
    let (raw2, _) = c.next().await;
    assert_eq!(
        raw2["metadata"]["message_id"],
        raw["metadata"]["message_id"]
    );

    // Revocation.
    assert_eq!(
        mock.revoke("channel.chat.clear", "authorization_revoked"),
        1
    );
    let (raw, parsed) = c.next().await;
    assert_eq!(
        raw["payload"]["subscription"]["status"],
        "authorization_revoked"
    );
    assert!(matches!(parsed, EsMessage::Revocation { .. }));

    // Delete.
    let id = created.data[0].id.clone();
    let (status, _) = api
        .call(
            reqwest::Method::DELETE,
            &format!("/eventsub/subscriptions?id={id}"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = api
        .call(
            reqwest::Method::DELETE,
            &format!("/eventsub/subscriptions?id={id}"),
            None,
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(mock.state().enabled().count(), 0);

    // The client sending a message is refused with 4001.
    c.ws.send(Message::text("hello")).await.unwrap();
    assert_eq!(c.close_code().await, Some(4001));
}

#[tokio::test]
async fn users_and_chat_messages() {
    let mock = MockEventSub::start(options()).await.unwrap();
    let api = Api::new(&mock);
    let (status, body) = api
        .call(
            reqwest::Method::GET,
            "/users?login=streamer&login=nobody",
            None,
        )
        .await;
    assert_eq!(status, 200);
    let users: Users = parse_body("users", &body).unwrap();
    assert_eq!(users.data.len(), 1);
    assert_eq!(
        (users.data[0].login.as_str(), users.data[0].id.as_str()),
        ("streamer", "1971641")
    );
    let (_, body) = api.call(reqwest::Method::GET, "/users", None).await;
    let me: Users = parse_body("users", &body).unwrap();
    assert_eq!(me.data[0].id, "900001");

    let send = |message: &str| json!({"broadcaster_id": "1971641", "sender_id": "900001", "message": message});
    let (status, body) = api
        .call(
            reqwest::Method::POST,
            "/chat/messages",
            Some(send("hello chat")),
        )
        .await;
    assert_eq!(status, 200);
    let sent: SentMessages = parse_body("chat/messages", &body).unwrap();
    assert!(sent.data[0].is_sent && sent.data[0].drop_reason.is_none());
    mock.drop_next_chat(
        "msg_duplicate",
        "Your message is identical to the one you sent within the last 30 seconds.",
    );
    let (_, body) = api
        .call(
            reqwest::Method::POST,
            "/chat/messages",
            Some(send("hello chat")),
        )
        .await;
    let dropped: SentMessages = parse_body("chat/messages", &body).unwrap();
    assert!(!dropped.data[0].is_sent);
    assert_eq!(
        dropped.data[0].drop_reason.as_ref().unwrap().code,
        "msg_duplicate"
    );
    let (status, _) = api
        .call(
            reqwest::Method::POST,
            "/chat/messages",
            Some(json!({"broadcaster_id": "1971641"})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = api
        .call(
            reqwest::Method::POST,
            "/chat/messages",
            Some(send(&"x".repeat(501))),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        mock.state().chat,
        vec![("1971641".to_string(), "hello chat".to_string())]
    );
}

#[tokio::test]
async fn session_reconnect_keeps_the_session_and_its_subscriptions() {
    let mock = MockEventSub::start(MockEventSubOptions {
        reconnect_grace: Duration::from_millis(500),
        ..options()
    })
    .await
    .unwrap();
    let mut old = Client::connect(&mock, &mock.ws_url()).await;
    let (session, _) = old.welcome().await;
    let api = Api::new(&mock);
    assert_eq!(
        api.subscribe("channel.chat.message", "1971641", &session)
            .await
            .0,
        202
    );
    let url = mock.send_reconnect(1).unwrap();
    let (raw, parsed) = old.next().await;
    assert_eq!(raw["payload"]["session"]["status"], "reconnecting");
    assert!(raw["payload"]["session"]["keepalive_timeout_seconds"].is_null());
    let EsMessage::Reconnect { session: info, .. } = parsed else {
        panic!("{parsed:?}");
    };
    assert_eq!(info.reconnect_url.as_deref(), Some(url.as_str()));
    let mut new = Client::connect(&mock, &url).await;
    let (same, _) = new.welcome().await;
    assert_eq!(same, session, "the reconnect URL continues the session");
    // Notifications now go to the new connection; the subscription carried over.
    let sent = mock.notify(
        "channel.chat.message",
        chat_event(("1971641", "streamer"), ("7", "alice"), "left", "m-2"),
    );
    assert_eq!(sent.iter().map(|s| s.0).collect::<Vec<_>>(), vec![2]);
    let (_, parsed) = new.next().await;
    assert!(matches!(parsed, EsMessage::Notification { .. }));
    // The old connection is closed after the grace time, and the session keeps its subscription.
    assert_eq!(old.close_code().await, Some(4004));
    let state = mock
        .wait_until("the old connection closed", T, |s| {
            s.conn(1).is_some_and(|c| !c.open)
        })
        .await
        .unwrap();
    assert_eq!(state.enabled().count(), 1);
    // When the session's connection ends, its subscriptions are disabled.
    mock.drop_conn(2);
    let state = mock
        .wait_until("the session's connection ended", T, |s| {
            s.conn(2).is_some_and(|c| !c.open)
        })
        .await
        .unwrap();
    assert_eq!(state.enabled().count(), 0);
    assert_eq!(state.subscriptions[0].status, "websocket_disconnected");
}
