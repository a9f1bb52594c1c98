//! `GET /ws`: the snapshot, then the event stream and live tallies out; control ops in, with replies.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::oneshot;
use tracing::debug;

use super::hub::Client;
use super::{App, MAX_CLIENT_MESSAGE, MAX_CLIENTS};
use crate::bot::Request;
use crate::events::{Control, Event};

/// How long the close handshake may take (a slow client's close frame waits behind what it has not read).
const CLOSE_WAIT: Duration = Duration::from_secs(10);
/// Most bytes of a client's messages buffered for its socket beyond the kernel's buffer.
const WRITE_BUFFER: usize = 1024 * 1024;
/// How long an op waits for the driver's answer.
const OP_WAIT: Duration = Duration::from_secs(5);

pub(super) async fn upgrade(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if !super::http::origin_allowed(&headers, &app.origins) {
        return (
            StatusCode::FORBIDDEN,
            "this Origin may not open /ws (add it to server.allowed_origins)\n",
        )
            .into_response();
    }
    if app.hub.clients() >= MAX_CLIENTS {
        return (StatusCode::SERVICE_UNAVAILABLE, "too many clients\n").into_response();
    }
    ws.max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .write_buffer_size(16 * 1024)
        .max_write_buffer_size(WRITE_BUFFER)
        .on_upgrade(move |socket| connection(app, socket))
}

async fn connection(app: Arc<App>, socket: WebSocket) {
    // Registered before the snapshot is taken: every event after it is queued (see `hub`).
    let sub = app.hub.subscribe();
    let client = sub.client.clone();
    let (mut sink, stream) = socket.split();
    let Some(snapshot) = app.snapshot().await else {
        let _ = close(&mut sink, 1011, "the bot does not answer").await;
        return;
    };
    let after = snapshot.after;
    if sink.send(Message::text(snapshot.to_json())).await.is_err() {
        return;
    }
    let mut reader = tokio::spawn(read_ops(app.clone(), client.clone(), stream));
    let mut batch = Vec::new();
    let outcome = loop {
        batch.clear();
        let slow = {
            let mut q = client.queue();
            q.take(&mut batch);
            q.slow
        };
        if slow {
            break Outcome::Slow;
        }
        if batch.is_empty() {
            // Anything queued after the take above has stored a wake-up: no event waits unseen.
            tokio::select! {
                biased;
                _ = &mut reader => break Outcome::Gone,
                () = client.notify.notified() => {}
            }
            continue;
        }
        // A client that stops reading stalls these writes; it must not outlive its queue's bound.
        let send = async {
            for (seq, json, skippable) in batch.drain(..) {
                if skippable && seq <= after {
                    continue;
                }
                sink.feed(Message::text(&*json)).await?;
            }
            sink.flush().await
        };
        tokio::select! {
            r = send => if r.is_err() { break Outcome::Gone },
            () = wait_slow(&client) => break Outcome::Slow,
            _ = &mut reader => break Outcome::Gone,
        }
    };
    reader.abort();
    if let Outcome::Slow = outcome {
        app.hub.counters.slow_closed.fetch_add(1, Ordering::Relaxed);
        debug!("server: closing a /ws client that reads too slowly");
        let _ = close(
            &mut sink,
            1008,
            "too slow: more events queued than the bound allows",
        )
        .await;
    } else {
        let _ = close(&mut sink, 1000, "").await;
    }
    drop(sub);
}

enum Outcome {
    Gone,
    Slow,
}

async fn wait_slow(client: &Client) {
    loop {
        if client.queue().slow {
            return;
        }
        client.notify.notified().await;
    }
}

async fn close(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    code: u16,
    reason: &'static str,
) -> Result<(), ()> {
    let frame = Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }));
    match tokio::time::timeout(CLOSE_WAIT, sink.send(frame)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

/// Reads the client's ops until it closes; each op is answered before the next is read.
async fn read_ops(
    app: Arc<App>,
    client: Arc<Client>,
    mut stream: futures_util::stream::SplitStream<WebSocket>,
) {
    while let Some(m) = stream.next().await {
        match m {
            Ok(Message::Text(t)) => handle_op(&app, &client, t.as_str()).await,
            Ok(Message::Binary(_)) => client.send_direct(json(&Event::error(
                "bad_control",
                "ops are JSON text messages, not binary",
            ))),
            Ok(Message::Close(_)) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// One op: `{"op":..., "id":ANY?}` as on stdin. With an `id`, the answer is a `reply` carrying it:
/// `{"type":"reply","id":ID,"status":"ok"}` or `{"type":"reply","id":ID,"status":"error","reason":TEXT}`.
/// Without one, refusals are reported like stdin's (an `error` event in the stream), and a line that is not
/// an op gets an `error` event sent to this client only.
async fn handle_op(app: &App, client: &Client, text: &str) {
    let mut value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let e = crate::events::ControlError::Invalid(e.to_string());
            client.send_direct(json(&Event::error("bad_control", e.to_string())));
            return;
        }
    };
    let id = value.as_object_mut().and_then(|o| o.remove("id"));
    let control = serde_json::from_value::<Control>(value)
        .map_err(|e| crate::events::ControlError::Invalid(e.to_string()).to_string());
    let Some(id) = id else {
        match control {
            Ok(c) => {
                if app.requests.try_send(Request::Control(c)).is_err() {
                    client.send_direct(json(&Event::error(
                        "busy",
                        "the bot is busy (request queue full); try again",
                    )));
                }
            }
            Err(e) => client.send_direct(json(&Event::error("bad_control", e))),
        }
        return;
    };
    let result = match control {
        Ok(c) => {
            let (tx, rx) = oneshot::channel();
            match app.requests.try_send(Request::Op(c, tx)) {
                Err(_) => Err("the bot is busy (request queue full); try again".to_owned()),
                Ok(()) => match tokio::time::timeout(OP_WAIT, rx).await {
                    Ok(Ok(r)) => r,
                    Ok(Err(_)) => Err("the bot has stopped".to_owned()),
                    Err(_) => Err("the bot did not answer in time".to_owned()),
                },
            }
        }
        Err(e) => Err(e),
    };
    let reply = match result {
        Ok(()) => serde_json::json!({"type": "reply", "id": id, "status": "ok"}),
        Err(reason) => {
            serde_json::json!({"type": "reply", "id": id, "status": "error", "reason": reason})
        }
    };
    client.send_direct(reply.to_string());
}

fn json(e: &Event) -> String {
    serde_json::to_string(e).unwrap_or_default()
}
