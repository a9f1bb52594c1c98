//! The async core: [`WebsocketClient`], its connect, and the two tasks that drive every connection
//! (a reader task that runs the handlers and writes their replies, a writer task that coalesces the other
//! sends and owns the close; they share one send queue, [`Outbox`]).

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use async_tungstenite::tungstenite::{self, Bytes, Message, Utf8Bytes};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot, watch};

use crate::error::{ConnectPhase, Error};
use crate::options::{
    BytesHandler, ClientOptions, CloseHandler, ErrorHandler, OpenHandler, TextHandler,
};
use crate::outbox::{Command, Outbox};
use crate::queue::{Event, MessageQueue};
use crate::transport::{self, PhaseTracker, Target, WsReceiver, WsSender, WsStream};
use crate::types::{ClientId, WebsocketType};

/// The largest client frame header (2 bytes, 8 of extended length, 4 of mask): what each queued message
/// counts toward [`ClientOptions::max_send_queue_bytes`] on top of its payload, so that empty messages,
/// which still take memory in the queue, are bounded too.
const FRAME_HEADER_MAX: usize = 14;

/// What a message of `len` payload bytes counts in the send queue.
fn queue_charge(len: usize) -> usize {
    len.saturating_add(FRAME_HEADER_MAX)
}

const OPEN: u8 = 0;
const CLOSING: u8 = 1;
const CLOSED: u8 = 2;

/// How the connection ended: the close code and reason delivered to `on_close`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseInfo {
    /// The close code (1006 when the connection ended without a close handshake).
    pub code: u16,
    /// The close reason.
    pub reason: String,
}

/// State shared by the client handle and its two tasks.
struct Shared {
    id: ClientId,
    state: AtomicU8,
    /// The send queue and the parked write half (see [`Outbox`]).
    outbox: Outbox,
    queued_bytes: AtomicUsize,
    max_send_queue_bytes: usize,
    max_message_size: usize,
    close_timeout: Duration,
    /// Set by the reader on every received frame; read by the keep-alive check.
    activity: AtomicBool,
    /// Fires to make the reader give up (close timeout, keep-alive timeout, write failure).
    kill: Mutex<Option<oneshot::Sender<Error>>>,
    /// Fires when the reader finished, so the writer stops too.
    writer_stop: tokio::sync::Notify,
    /// Wakes async senders waiting for room in the send queue (only signalled when `space_wanted`).
    space: tokio::sync::Notify,
    space_wanted: AtomicBool,
    closed: watch::Sender<Option<CloseInfo>>,
    runtime: Handle,
}

impl Shared {
    fn kill(&self, error: Error) {
        let sender = self.kill.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(sender) = sender {
            let _ = sender.send(error);
        }
    }

    /// Starts the close handshake (once); a timer drops the connection if the peer does not answer in time.
    fn start_close(self: &Arc<Self>, frame: Option<CloseFrame>) -> bool {
        if self
            .state
            .compare_exchange(OPEN, CLOSING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        let _ = self.outbox.push(Command::Close(frame), true);
        self.arm_close_timer();
        true
    }

    /// Ends the connection with [`Error::CloseTimeout`] unless it ends by itself within the close timeout.
    fn arm_close_timer(self: &Arc<Self>) {
        let shared = Arc::clone(self);
        let timeout = self.close_timeout;
        self.runtime.spawn(async move {
            let mut closed = shared.closed.subscribe();
            let done = closed.wait_for(|c| c.is_some());
            if tokio::time::timeout(timeout, done).await.is_err() {
                shared.kill(Error::CloseTimeout(timeout));
            }
        });
    }
}

/// A WebSocket client connection: the crate's one client type, for async and blocking callers alike.
///
/// Created by [`create_client`](crate::create_client) / [`create_client_with`](crate::create_client_with)
/// (blocking) or [`WebsocketClient::connect`] (async). It is `Send + Sync`; every method can be called from
/// any thread and none blocks on network I/O: sends are queued for the connection's writer task.
///
/// Dropping it starts a close handshake (code 1000) in the background, bounded by the close timeout; the
/// dropping thread does not wait, so dropping it inside its own handler is fine.
///
/// It implements the gem-shaped [`IWebsocketClient`](crate::IWebsocketClient) trait.
pub struct WebsocketClient {
    shared: Arc<Shared>,
    subprotocol: Option<String>,
}

impl std::fmt::Debug for WebsocketClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebsocketClient")
            .field("id", &self.shared.id)
            .field("open", &self.is_open())
            .field("subprotocol", &self.subprotocol)
            .finish()
    }
}

/// The received [`Event`]s of a connection made with [`WebsocketClient::connect_stream`], as a
/// [`Stream`]. It ends after [`Event::Closed`].
///
/// Bounded: while it is full the reader task waits (backpressure on the socket), so nothing is lost.
/// Dropping it is fine: events are then no longer collected.
#[derive(Debug)]
pub struct Messages {
    rx: mpsc::Receiver<Event>,
}

impl Messages {
    /// The next event, or `None` after the connection's `Closed` event.
    pub async fn recv(&mut self) -> Option<Event> {
        self.rx.recv().await
    }
}

impl Stream for Messages {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.rx.poll_recv(cx)
    }
}

impl WebsocketClient {
    /// Connects (DNS, TCP, TLS for `wss://`, HTTP upgrade) and returns once the WebSocket is open, or with an
    /// [`Error`] naming the step that failed. Handlers come from `options`. Must be called inside a tokio
    /// runtime; the connection's tasks run on that runtime.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), websockets::Error> {
    /// use websockets::{ClientOptions, WebsocketClient, WebsocketType};
    ///
    /// let options = ClientOptions::new().on_message(|msg| println!("got {msg}"));
    /// let client = WebsocketClient::connect("wss://echo.example/", WebsocketType::Secure, options).await?;
    /// client.send_text("hello")?;
    /// client.close(1000, "bye")?;
    /// let info = client.closed().await;
    /// println!("closed with {}", info.code);
    /// # Ok(()) }
    /// ```
    pub async fn connect(
        url: &str,
        websocket_type: WebsocketType,
        options: ClientOptions,
    ) -> Result<Self, Error> {
        connect_inner(url, websocket_type, options, None).await
    }

    /// Like [`connect`](Self::connect), and also returns the connection's events as a [`Messages`] stream
    /// holding at most `capacity` unread events.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), websockets::Error> {
    /// use futures_util::StreamExt;
    /// use websockets::{ClientOptions, Event, WebsocketClient, WebsocketType};
    ///
    /// let (client, mut messages) =
    ///     WebsocketClient::connect_stream("ws://127.0.0.1:9001/", WebsocketType::NonSecure, ClientOptions::new(), 64).await?;
    /// client.send_text("ping")?;
    /// while let Some(event) = messages.next().await {
    ///     if let Event::Text(text) = event {
    ///         println!("{}", &*text);
    ///         break;
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn connect_stream(
        url: &str,
        websocket_type: WebsocketType,
        options: ClientOptions,
        capacity: usize,
    ) -> Result<(Self, Messages), Error> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let client = connect_inner(url, websocket_type, options, Some(tx)).await?;
        Ok((client, Messages { rx }))
    }

    /// This client's process-unique id.
    pub fn id(&self) -> ClientId {
        self.shared.id
    }

    /// Whether the connection is open: true from connect until a close starts or the connection fails.
    pub fn is_open(&self) -> bool {
        // The writer's queue closes if the runtime running the connection was shut down.
        self.shared.state.load(Ordering::Acquire) == OPEN && !self.shared.outbox.is_closed()
    }

    /// The subprotocol the server chose, if any was offered and accepted.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// Bytes queued for sending that the writer task has not handed to the socket yet: each message counts
    /// its payload plus 14 (its largest frame header), so empty messages count too.
    pub fn queued_bytes(&self) -> usize {
        self.shared.queued_bytes.load(Ordering::Relaxed)
    }

    /// Queues a text message. Takes `String`, `&str` or [`Utf8Bytes`]; an owned `String` is sent without a
    /// copy. Never blocks; fails with [`Error::Closed`], [`Error::SendQueueFull`] or
    /// [`Error::MessageTooLarge`]. Embedded NUL characters are sent as they are.
    pub fn send_text(&self, text: impl Into<Utf8Bytes>) -> Result<(), Error> {
        let text = text.into();
        let len = text.len();
        self.enqueue(Message::Text(text), len)
    }

    /// Queues a binary message. Takes `Vec<u8>`, `&'static [u8]` or [`Bytes`]; owned buffers are not copied.
    /// Never blocks; fails like [`send_text`](Self::send_text).
    pub fn send_binary(&self, data: impl Into<Bytes>) -> Result<(), Error> {
        let data = data.into();
        let len = data.len();
        self.enqueue(Message::Binary(data), len)
    }

    /// Queues a ping with `payload` (at most 125 bytes); the peer's pong reaches
    /// [`ClientOptions::on_pong`].
    pub fn send_ping(&self, payload: impl Into<Bytes>) -> Result<(), Error> {
        let payload = payload.into();
        if payload.len() > 125 {
            return Err(Error::MessageTooLarge {
                size: payload.len(),
                max: 125,
            });
        }
        let len = payload.len();
        self.enqueue(Message::Ping(payload), len)
    }

    fn enqueue(&self, message: Message, len: usize) -> Result<(), Error> {
        match self.reserve(len) {
            // A handler of this connection filled the queue: write what the socket takes now, as the writer
            // task cannot run meanwhile (see `push`), then try again.
            Err(Error::SendQueueFull { .. }) if self.shared.outbox.in_own_handler() => {
                write_replies(&self.shared, &mut VecDeque::new());
                self.reserve(len)?;
            }
            other => other?,
        }
        self.push(message, len)
    }

    /// Counts a message of `len` payload bytes into the send queue, or says why it cannot.
    fn reserve(&self, len: usize) -> Result<(), Error> {
        let shared = &self.shared;
        if len > shared.max_message_size {
            return Err(Error::MessageTooLarge {
                size: len,
                max: shared.max_message_size,
            });
        }
        if shared.state.load(Ordering::Acquire) != OPEN {
            return Err(Error::Closed);
        }
        let charge = queue_charge(len);
        let before = shared.queued_bytes.fetch_add(charge, Ordering::AcqRel);
        // An empty queue takes any message (up to max_message_size), so big messages are always sendable;
        // otherwise the bound holds.
        if before != 0 && before + charge > shared.max_send_queue_bytes {
            shared.queued_bytes.fetch_sub(charge, Ordering::AcqRel);
            return Err(Error::SendQueueFull {
                queued: before,
                limit: shared.max_send_queue_bytes,
            });
        }
        Ok(())
    }

    /// Queues a reserved message: for the writer task, or, when sent from this connection's own handler,
    /// for the reader task to write when the handler is done (no wake-up; see [`Outbox`]).
    ///
    /// A handler that fills more than half the send queue writes what the socket takes at once itself: the
    /// writer task cannot help, as tokio runs a task woken from a worker on that same worker (its LIFO
    /// slot, which other workers do not steal), and the handler is keeping that worker busy.
    fn push(&self, message: Message, len: usize) -> Result<(), Error> {
        let shared = &self.shared;
        let charge = queue_charge(len);
        let own = shared.outbox.in_own_handler();
        shared
            .outbox
            .push(Command::Send(message, charge), !own)
            .map_err(|_| {
                shared.queued_bytes.fetch_sub(charge, Ordering::AcqRel);
                Error::Closed
            })?;
        if own && shared.queued_bytes.load(Ordering::Relaxed) > shared.max_send_queue_bytes / 2 {
            write_replies(shared, &mut VecDeque::new());
        }
        Ok(())
    }

    /// Async send with backpressure: like [`send_text`](Self::send_text), but when the send queue is full
    /// it waits for the writer task to make room instead of failing with [`Error::SendQueueFull`].
    ///
    /// ```no_run
    /// # async fn run(client: websockets::WebsocketClient) -> Result<(), websockets::Error> {
    /// for i in 0..1_000_000 {
    ///     client.send_text_async(format!("message {i}")).await?; // never more than the queue bound in memory
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn send_text_async(&self, text: impl Into<Utf8Bytes>) -> Result<(), Error> {
        let text = text.into();
        let len = text.len();
        self.reserve_async(len).await?;
        self.push(Message::Text(text), len)
    }

    /// Async send of a binary message with backpressure (see [`send_text_async`](Self::send_text_async)).
    pub async fn send_binary_async(&self, data: impl Into<Bytes>) -> Result<(), Error> {
        let data = data.into();
        let len = data.len();
        self.reserve_async(len).await?;
        self.push(Message::Binary(data), len)
    }

    async fn reserve_async(&self, len: usize) -> Result<(), Error> {
        loop {
            match self.reserve(len) {
                Err(Error::SendQueueFull { .. }) => {}
                other => return other,
            }
            let space = self.shared.space.notified();
            tokio::pin!(space);
            space.as_mut().enable();
            self.shared.space_wanted.store(true, Ordering::SeqCst);
            match self.reserve(len) {
                Err(Error::SendQueueFull { .. }) => space.await,
                other => return other,
            }
        }
    }

    /// Starts the close handshake with `code` and `reason` (messages queued before are sent first). Never
    /// blocks; await [`closed`](Self::closed) to know when it finished. Fails with [`Error::InvalidClose`]
    /// for a code that may not be sent (e.g. 1005, 1006) or a reason over 123 bytes, and with
    /// [`Error::Closed`] if a close already started.
    pub fn close(&self, code: u16, reason: &str) -> Result<(), Error> {
        let close_code = CloseCode::from(code);
        if !close_code.is_allowed() || !(1000..=4999).contains(&code) {
            return Err(Error::InvalidClose(format!(
                "close code {code} may not be sent"
            )));
        }
        if reason.len() > 123 {
            return Err(Error::InvalidClose(format!(
                "reason is {} bytes, at most 123 allowed",
                reason.len()
            )));
        }
        let frame = CloseFrame {
            code: close_code,
            reason: Utf8Bytes::from(reason),
        };
        if self.shared.start_close(Some(frame)) {
            Ok(())
        } else {
            Err(Error::Closed)
        }
    }

    /// Waits until the connection has ended (close handshake done, failed, or timed out) and returns how.
    pub async fn closed(&self) -> CloseInfo {
        let mut rx = self.shared.closed.subscribe();
        let info = rx.wait_for(|c| c.is_some()).await.map(|c| c.clone());
        match info {
            Ok(Some(info)) => info,
            _ => CloseInfo {
                code: 1006,
                reason: "connection task ended".to_string(),
            },
        }
    }

    /// Blocking version of [`closed`](Self::closed) with a time limit: `None` if it had not closed within
    /// `timeout`. Do not call it from a handler of this client (it would wait for itself until `timeout`).
    pub fn wait_closed(&self, timeout: Duration) -> Option<CloseInfo> {
        let mut rx = self.shared.closed.subscribe();
        let fut = async move {
            let r = tokio::time::timeout(timeout, rx.wait_for(|c| c.is_some())).await;
            Ok::<_, Error>(match r {
                Ok(Ok(c)) => c.clone(),
                _ => None,
            })
        };
        crate::runtime::block_on(fut).ok().flatten()
    }
}

impl Drop for WebsocketClient {
    fn drop(&mut self) {
        if self.shared.start_close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: Utf8Bytes::from_static(""),
        })) {
            tracing::debug!(client = %self.shared.id, "client dropped: closing in the background");
        }
    }
}

async fn connect_inner(
    url: &str,
    websocket_type: WebsocketType,
    options: ClientOptions,
    channel: Option<mpsc::Sender<Event>>,
) -> Result<WebsocketClient, Error> {
    let target = Target::parse(url, websocket_type)?;
    let tls = if target.secure {
        Some(crate::tls::client_config(&options.extra_cas)?)
    } else {
        None
    };
    let request = build_request(&target, &options)?;
    let config = WebSocketConfig::default()
        .max_message_size(Some(options.max_message_size))
        .max_frame_size(Some(options.max_message_size));
    let phase = PhaseTracker::default();
    let handshake = async {
        let stream = transport::open(&target, tls, &phase).await?;
        phase.set(ConnectPhase::Upgrade);
        async_tungstenite::tokio::client_async_with_config(request, stream, Some(config))
            .await
            .map_err(handshake_error)
    };
    let (ws, response) = match tokio::time::timeout(options.connect_timeout, handshake).await {
        Ok(result) => result?,
        Err(_) => {
            return Err(Error::Timeout {
                phase: phase.get(),
                after: options.connect_timeout,
            });
        }
    };
    let subprotocol = response
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);

    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let id = ClientId(NEXT_ID.fetch_add(1, Ordering::Relaxed));
    tracing::debug!(client = %id, url = %target.url, "connected");
    Ok(spawn_connection(id, ws, subprotocol, options, channel))
}

fn build_request(
    target: &Target,
    options: &ClientOptions,
) -> Result<tungstenite::handshake::client::Request, Error> {
    let mut request = target
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| Error::InvalidUrl {
            url: target.url.to_string(),
            reason: e.to_string(),
        })?;
    let headers = request.headers_mut();
    for (name, value) in &options.headers {
        let header_name =
            HeaderName::from_bytes(name.as_bytes()).map_err(|e| Error::InvalidHeader {
                name: name.clone(),
                reason: e.to_string(),
            })?;
        let mut header_value = HeaderValue::from_str(value).map_err(|e| Error::InvalidHeader {
            name: name.clone(),
            reason: e.to_string(),
        })?;
        if header_name == "authorization"
            || header_name == "proxy-authorization"
            || header_name == "cookie"
        {
            header_value.set_sensitive(true);
        }
        headers.append(header_name, header_value);
    }
    if !options.subprotocols.is_empty() {
        let joined = options.subprotocols.join(", ");
        let value = HeaderValue::from_str(&joined).map_err(|e| Error::InvalidHeader {
            name: "Sec-WebSocket-Protocol".into(),
            reason: e.to_string(),
        })?;
        headers.insert("sec-websocket-protocol", value);
    }
    Ok(request)
}

fn handshake_error(err: tungstenite::Error) -> Error {
    match err {
        tungstenite::Error::Http(response) => Error::UpgradeRejected {
            status: response.status().as_u16(),
            reason: response.status().canonical_reason().map(str::to_string),
        },
        other => Error::Handshake(other),
    }
}

/// Everything the reader task calls: the handlers and the optional queue / stream.
struct Handlers {
    id: ClientId,
    /// The connection: handlers run inside its outbox's handler scope, so their sends go to the reader.
    shared: Arc<Shared>,
    on_message: Option<TextHandler>,
    on_binary: Option<BytesHandler>,
    on_pong: Option<BytesHandler>,
    on_open: Option<OpenHandler>,
    on_close: Option<CloseHandler>,
    on_error: Option<ErrorHandler>,
    queue: Option<MessageQueue>,
    channel: Option<mpsc::Sender<Event>>,
    /// Final events waiting to be handed to `channel` by [`finish`](Self::finish).
    backlog: Vec<Event>,
}

impl Handlers {
    /// Runs a user handler, turning a panic into an [`Error::HandlerPanicked`] report.
    fn call(&self, name: &'static str, f: impl FnOnce()) {
        let _scope = self.shared.outbox.enter_handler();
        if std::panic::catch_unwind(AssertUnwindSafe(f)).is_err() {
            tracing::error!(client = %self.id, handler = name, "handler panicked");
            if name != "on_error" {
                let err = Error::HandlerPanicked(name);
                if let Some(h) = &self.on_error
                    && std::panic::catch_unwind(AssertUnwindSafe(|| h(&err))).is_err()
                {
                    tracing::error!(client = %self.id, handler = "on_error", "handler panicked");
                }
            }
        }
    }

    /// True when received messages also go to a [`MessageQueue`] or a [`Messages`] stream.
    fn has_event_sinks(&self) -> bool {
        self.queue.is_some() || self.channel.is_some()
    }

    /// Adds `event` to the queue and the stream, waiting for room (backpressure). The wait must not outlast
    /// the connection: when `kill` fires meanwhile (close or keep-alive timeout), the event is handed over
    /// past the bound like a final one, and the kill's error is returned for the reader to end with.
    async fn deliver(
        &mut self,
        event: impl Fn() -> Event,
        kill: &mut oneshot::Receiver<Error>,
    ) -> Result<(), Option<Error>> {
        if let Some(queue) = &self.queue {
            tokio::select! {
                biased;
                () = queue.push(event()) => {}
                killed = &mut *kill => {
                    self.deliver_final(event);
                    return Err(killed.ok());
                }
            }
        }
        if let Some(channel) = &self.channel {
            let sent = tokio::select! {
                biased;
                sent = channel.send(event()) => sent.is_ok(),
                killed = &mut *kill => {
                    self.backlog.push(event());
                    return Err(killed.ok());
                }
            };
            if !sent {
                self.channel = None;
            }
        }
        Ok(())
    }

    fn deliver_final(&mut self, event: impl Fn() -> Event) {
        if let Some(queue) = &self.queue {
            queue.push_final(event());
        }
        if self.channel.is_some() {
            self.backlog.push(event());
        }
    }

    /// Hands the final events to the stream, in order. The stream's reader may be gone or full, and the
    /// reader task must not block on it forever, so one separate task waits for room.
    fn finish(&mut self) {
        if let Some(channel) = self.channel.take() {
            let backlog = std::mem::take(&mut self.backlog);
            tokio::spawn(async move {
                for event in backlog {
                    if channel.send(event).await.is_err() {
                        break;
                    }
                }
            });
        }
    }
}

fn spawn_connection(
    id: ClientId,
    ws: WsStream,
    subprotocol: Option<String>,
    options: ClientOptions,
    channel: Option<mpsc::Sender<Event>>,
) -> WebsocketClient {
    let (kill_tx, kill_rx) = oneshot::channel();
    let (sender, receiver) = ws.split();
    let shared = Arc::new(Shared {
        id,
        state: AtomicU8::new(OPEN),
        outbox: Outbox::new(sender),
        queued_bytes: AtomicUsize::new(0),
        max_send_queue_bytes: options.max_send_queue_bytes,
        max_message_size: options.max_message_size,
        close_timeout: options.close_timeout,
        activity: AtomicBool::new(false),
        kill: Mutex::new(Some(kill_tx)),
        writer_stop: tokio::sync::Notify::new(),
        space: tokio::sync::Notify::new(),
        space_wanted: AtomicBool::new(false),
        closed: watch::channel(None).0,
        runtime: Handle::current(),
    });
    let handlers = Handlers {
        id,
        shared: Arc::clone(&shared),
        on_message: options.on_message,
        on_binary: options.on_binary,
        on_pong: options.on_pong,
        on_open: options.on_open,
        on_close: options.on_close,
        on_error: options.on_error,
        queue: options.queue,
        channel,
        backlog: Vec::new(),
    };
    tokio::spawn(reader(receiver, Arc::clone(&shared), handlers, kill_rx));
    tokio::spawn(writer(
        WriterHold(Arc::clone(&shared)),
        options.ping_interval,
    ));
    WebsocketClient {
        shared,
        subprotocol,
    }
}

/// At most this many frames are read while replies queued by handlers wait to be written.
const REPLY_BATCH: u32 = 64;

/// Replies the connection's handlers queued for the reader task to write (see [`Outbox`]): written when
/// the next frame is not there yet, so that the replies to frames that arrived together share one write
/// (and at the latest after [`REPLY_BATCH`] frames).
#[derive(Default)]
struct Replies {
    pending: bool,
    frames: u32,
    /// The buffer [`write_replies`] swaps with the outbox's queue.
    batch: VecDeque<Command>,
}

impl Replies {
    /// After a handler ran: takes note of its replies, and writes them when `now` or the batch is full.
    fn note(&mut self, shared: &Shared, now: bool) {
        if shared.outbox.take_deferred() {
            self.pending = true;
        }
        if self.pending {
            self.frames += 1;
            if now || self.frames >= REPLY_BATCH {
                self.write(shared);
            }
        }
    }

    /// Writes the pending replies (as far as the socket takes them at once; the writer task does the rest).
    fn write(&mut self, shared: &Shared) {
        if self.pending {
            self.pending = false;
            self.frames = 0;
            write_replies(shared, &mut self.batch);
        }
    }
}

/// The reader task: receives messages and runs the handlers, then reports the end exactly once.
async fn reader(
    mut stream: WsReceiver,
    shared: Arc<Shared>,
    mut handlers: Handlers,
    mut kill: oneshot::Receiver<Error>,
) {
    let mut replies = Replies::default();
    if let Some(h) = &handlers.on_open {
        handlers.call("on_open", || h());
    }
    replies.note(&shared, true); // before the Open event, which may wait for room
    let mut close: Option<CloseInfo> = None;
    let mut error: Option<Error> = None;
    let mut fail_code: Option<CloseCode> = None;
    'read: {
        // Killed while the Open event waited for room in a full queue: the connection ends at once.
        if let Err(killed) = handlers.deliver(|| Event::Open, &mut kill).await {
            error = killed;
            break 'read;
        }
        loop {
            let item = tokio::select! {
                biased;
                killed = &mut kill => {
                    if let Ok(e) = killed { error = Some(e); }
                    break;
                }
                // The handlers' replies are written when the next frame is not there yet.
                item = std::future::poll_fn(|cx| match stream.poll_next_unpin(cx) {
                    Poll::Pending => {
                        replies.write(&shared);
                        Poll::Pending
                    }
                    ready => ready,
                }) => item,
            };
            let message = match item {
                None => break,
                Some(Ok(message)) => message,
                Some(Err(
                    tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed,
                )) => {
                    break;
                }
                Some(Err(e)) => {
                    // A peer that breaks the protocol gets a close frame saying how, before we hang up.
                    fail_code = match &e {
                        tungstenite::Error::Utf8(_) => Some(CloseCode::Invalid),
                        // The same, found by the UTF-8 guard while the frame was still arriving.
                        tungstenite::Error::Io(io) if crate::utf8_guard::is_invalid_utf8(io) => {
                            Some(CloseCode::Invalid)
                        }
                        tungstenite::Error::Capacity(_) => Some(CloseCode::Size),
                        tungstenite::Error::Protocol(_) => Some(CloseCode::Protocol),
                        _ => None,
                    };
                    error = Some(Error::Protocol(e));
                    break;
                }
            };
            shared.activity.store(true, Ordering::Relaxed);
            match message {
                Message::Text(text) => {
                    if let Some(h) = &handlers.on_message {
                        handlers.call("on_message", || h(text.as_str()));
                    }
                    replies.note(&shared, handlers.has_event_sinks());
                    if handlers.has_event_sinks()
                        && let Err(killed) = handlers
                            .deliver(|| Event::Text(text.clone()), &mut kill)
                            .await
                    {
                        error = killed;
                        break;
                    }
                }
                Message::Binary(data) => {
                    match &handlers.on_binary {
                        Some(h) => handlers.call("on_binary", || h(&data)),
                        None if !handlers.has_event_sinks() => {
                            tracing::debug!(client = %shared.id, len = data.len(), "binary message dropped: no on_binary handler");
                        }
                        None => {}
                    }
                    replies.note(&shared, handlers.has_event_sinks());
                    if handlers.has_event_sinks()
                        && let Err(killed) = handlers
                            .deliver(|| Event::Binary(data.clone()), &mut kill)
                            .await
                    {
                        error = killed;
                        break;
                    }
                }
                Message::Pong(payload) => {
                    if let Some(h) = &handlers.on_pong {
                        handlers.call("on_pong", || h(&payload));
                    }
                    replies.note(&shared, false);
                }
                Message::Close(frame) => {
                    // tungstenite answers the close frame itself; the stream ends once the peer hangs up,
                    // which a peer may never do: the close timeout bounds that wait too.
                    if shared
                        .state
                        .compare_exchange(OPEN, CLOSING, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                    {
                        shared.arm_close_timer();
                    }
                    close = Some(match frame {
                        Some(f) => CloseInfo {
                            code: u16::from(f.code),
                            reason: f.reason.as_str().to_string(),
                        },
                        None => CloseInfo {
                            code: 1005,
                            reason: String::new(),
                        },
                    });
                }
                Message::Ping(_) | Message::Frame(_) => {}
            }
        }
    }

    // Replies to the last frames go out ahead of a failure's close frame (the outbox is one queue).
    replies.write(&shared);
    shared.state.store(CLOSED, Ordering::Release);
    shared.space.notify_waiters(); // async senders waiting for room get Error::Closed
    match fail_code {
        Some(code) if close.is_none() => {
            let frame = CloseFrame {
                code,
                reason: Utf8Bytes::from_static(""),
            };
            // The writer sends the close frame after every accepted send, then ends the connection with
            // our half of the socket; should the peer not read, stop it after the close timeout.
            let _ = shared.outbox.push(Command::Fail(frame, stream), true);
            let stopper = Arc::clone(&shared);
            shared.runtime.spawn(async move {
                tokio::time::sleep(stopper.close_timeout).await;
                stopper.writer_stop.notify_one();
            });
        }
        _ => {
            shared.writer_stop.notify_one();
            // Release our half of the socket now (the writer drops the other half when it stops).
            drop(stream);
        }
    }
    let info = match close {
        Some(info) => info,
        None => CloseInfo {
            code: 1006,
            reason: match &error {
                Some(e) => e.to_string(),
                None => "connection ended without a close handshake".to_string(),
            },
        },
    };
    tracing::debug!(client = %shared.id, code = info.code, reason = %info.reason, "connection closed");
    if let Some(e) = error {
        tracing::debug!(client = %shared.id, error = %e, "connection error");
        if let Some(h) = &handlers.on_error {
            handlers.call("on_error", || h(&e));
        }
        let e = Arc::new(e);
        handlers.deliver_final(move || Event::Error(Arc::clone(&e)));
    }
    if let Some(h) = &handlers.on_close {
        handlers.call("on_close", || h(info.code, &info.reason));
    }
    let (code, reason) = (info.code, info.reason.clone());
    handlers.deliver_final(move || Event::Closed {
        code,
        reason: reason.clone(),
    });
    handlers.finish();
    shared.closed.send_replace(Some(info));
}

/// What the writer does after a batch.
enum Step {
    /// Wait for the next command.
    Continue,
    /// The close frame is written, or writing failed: stop.
    Stop,
    /// The connection was failed and the close frame is written: end the TCP connection with [`linger`].
    Linger(WsSender, WsReceiver),
}

/// The writer task's hold on the connection: ends the outbox when the task ends, however it ends (see
/// [`Outbox::shut`]), also when it is dropped unpolled because its runtime shut down.
struct WriterHold(Arc<Shared>);

impl Drop for WriterHold {
    fn drop(&mut self) {
        self.0.outbox.shut();
    }
}

/// The writer task: woken by sends from other threads (and by the reader handing over), it takes the
/// write half from the outbox, feeds every queued message and flushes only once the queue is drained
/// (write coalescing); sends keep-alive pings; ends with the close frame.
async fn writer(hold: WriterHold, ping_interval: Option<Duration>) {
    let shared = &hold.0;
    let mut ping = ping_interval
        .map(|every| tokio::time::interval_at(tokio::time::Instant::now() + every, every));
    let mut ping_outstanding = false;
    let mut batch = VecDeque::new();
    loop {
        tokio::select! {
            biased;
            _ = shared.writer_stop.notified() => return,
            () = shared.outbox.wake.notified() => {}
            _ = async { ping.as_mut().expect("guarded").tick().await }, if ping.is_some() => {
                if ping_outstanding && !shared.activity.swap(false, Ordering::Relaxed) {
                    shared.kill(Error::KeepAliveTimeout(ping_interval.unwrap_or_default()));
                    return;
                }
                shared.activity.store(false, Ordering::Relaxed);
                ping_outstanding = true;
                // Queued like a send (this wakes us, or whoever writes now writes it).
                let _ = shared.outbox.push(Command::Send(Message::Ping(Bytes::new()), 0), true);
                continue;
            }
        }
        let Some(sink) = shared.outbox.take(&mut batch) else {
            continue; // nothing queued, or the reader is writing (it writes what is queued)
        };
        let result = tokio::select! {
            biased;
            _ = shared.writer_stop.notified() => return,
            result = write_batch(sink, shared, &mut batch) => result,
        };
        if shared.space_wanted.swap(false, Ordering::SeqCst) {
            shared.space.notify_waiters();
        }
        match result {
            Ok(Step::Continue) => {}
            Ok(Step::Stop) => return,
            Ok(Step::Linger(sink, receiver)) => {
                tokio::select! {
                    biased;
                    _ = shared.writer_stop.notified() => {}
                    () = linger(sink, receiver) => {}
                }
                return;
            }
            Err(e) if shared.state.load(Ordering::Acquire) == OPEN => {
                shared.kill(Error::Protocol(e));
                return;
            }
            Err(e) => {
                tracing::debug!(client = %shared.id, error = %e, "write after close ignored");
                return;
            }
        }
    }
}

/// Feeds `batch` and whatever is queued meanwhile, then flushes once and parks the write half when
/// nothing more is queued: many small messages share one write syscall.
async fn write_batch(
    mut sink: WsSender,
    shared: &Shared,
    batch: &mut VecDeque<Command>,
) -> Result<Step, tungstenite::Error> {
    loop {
        while let Some(command) = batch.pop_front() {
            match command {
                Command::Send(message, len) => write_one(&mut sink, shared, message, len).await?,
                Command::Close(frame) => {
                    return write_close(sink, shared, batch, End::Close(frame)).await;
                }
                Command::Fail(frame, receiver) => {
                    return write_close(sink, shared, batch, End::Fail(frame, receiver)).await;
                }
            }
        }
        if shared.outbox.refill(batch) {
            continue;
        }
        sink.flush().await?;
        match shared.outbox.put_back(sink, batch) {
            None => return Ok(Step::Continue),
            Some(more) => sink = more,
        }
    }
}

/// Takes a written message off the send-queue count, waking async senders at half the bound, not after
/// the whole batch: the producer refills while we write, instead of taking turns with us.
fn uncharge(shared: &Shared, len: usize) {
    let left = shared.queued_bytes.fetch_sub(len, Ordering::AcqRel) - len;
    if left <= shared.max_send_queue_bytes / 2
        && shared.space_wanted.load(Ordering::Relaxed)
        && shared.space_wanted.swap(false, Ordering::SeqCst)
    {
        shared.space.notify_waiters();
    }
}

/// Feeds one queued message to the socket (not flushed) and takes it off the send-queue count.
async fn write_one(
    sink: &mut WsSender,
    shared: &Shared,
    message: Message,
    len: usize,
) -> Result<(), tungstenite::Error> {
    let result = sink.feed(message).await;
    uncharge(shared, len);
    result
}

/// Writes the replies this connection's handlers queued, from the reader task, without waiting on the
/// socket: feeds them and flushes once, as far as the socket takes them at once. Whatever is left (the
/// socket is full, or a close is queued) is handed over to the writer task. Does nothing when nothing is
/// queued or the writer task is writing (it writes what is queued). `batch` is an empty buffer, kept by
/// the caller between calls so that the outbox's queue and it trade allocations instead of making new ones.
fn write_replies(shared: &Shared, batch: &mut VecDeque<Command>) {
    let Some(mut sink) = shared.outbox.take(batch) else {
        return;
    };
    // Polled once, never awaited: the noop waker is never needed, as whatever is pending goes to the
    // writer task, whose own polls register its waker.
    let mut cx = Context::from_waker(std::task::Waker::noop());
    let failed = 'write: loop {
        while let Some(command) = batch.pop_front() {
            let Command::Send(message, len) = command else {
                batch.push_front(command); // the close is the writer's
                break 'write None;
            };
            match Pin::new(&mut sink).poll_ready(&mut cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => {
                    batch.push_front(Command::Send(message, len));
                    break 'write Some(e);
                }
                Poll::Pending => {
                    batch.push_front(Command::Send(message, len));
                    break 'write None;
                }
            }
            let fed = Pin::new(&mut sink).start_send(message);
            uncharge(shared, len);
            if let Err(e) = fed {
                break 'write Some(e);
            }
        }
        // (No `refill` before the flush, unlike the writer: a reply rarely has company, and `put_back`
        // brings anything queued meanwhile.)
        match Pin::new(&mut sink).poll_flush(&mut cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => break 'write Some(e),
            Poll::Pending => break 'write None,
        }
        match shared.outbox.put_back(sink, batch) {
            None => return,
            Some(more) => sink = more,
        }
    };
    if let Some(e) = failed {
        if shared.state.load(Ordering::Acquire) == OPEN {
            shared.kill(Error::Protocol(e));
        } else {
            tracing::debug!(client = %shared.id, error = %e, "write after close ignored");
        }
    }
    // The writer task goes on from here: it flushes what was fed, writes the rest, or meets the error
    // again and stops.
    shared.outbox.hand_over(sink, std::mem::take(batch));
}

/// How the connection's writing ends.
enum End {
    /// A close handshake we start (the frame of [`WebsocketClient::close`] or of a drop).
    Close(Option<CloseFrame>),
    /// Failing the connection: this close frame, then [`linger`] with the reader's half.
    Fail(CloseFrame, WsReceiver),
}

/// Writes every accepted send, then the close frame.
///
/// The outbox is closed first, which hands over everything queued and refuses any later send (it returns
/// [`Error::Closed`]) in one step under its lock: after it, `batch` holds exactly the accepted sends that
/// are not written yet. A sender paused between its state check and queuing, however long, is written or
/// refused, never accepted and dropped.
async fn write_close(
    mut sink: WsSender,
    shared: &Shared,
    batch: &mut VecDeque<Command>,
    mut end: End,
) -> Result<Step, tungstenite::Error> {
    batch.extend(shared.outbox.close());
    while let Some(command) = batch.pop_front() {
        match command {
            Command::Send(message, len) => write_one(&mut sink, shared, message, len).await?,
            Command::Close(_) => {}
            // The connection failed while our close was queued: the failure's code wins.
            Command::Fail(frame, receiver) => end = End::Fail(frame, receiver),
        }
    }
    match end {
        End::Close(frame) => {
            sink.send(Message::Close(frame)).await?;
            Ok(Step::Stop)
        }
        End::Fail(frame, receiver) => {
            sink.send(Message::Close(Some(frame))).await?;
            Ok(Step::Linger(sink, receiver))
        }
    }
}

/// Ends a failed connection cleanly: no more writing (a FIN after the close frame), then what the peer
/// still sends is read and discarded until it hangs up (bounded by the close timeout, see the reader).
///
/// Closing a socket that holds unread data makes the kernel reset the connection instead, and a reset
/// discards whatever the socket had not transmitted yet: the last accepted messages and the close frame
/// (Autobahn 4.1.5, whose ping follows the invalid frame, was graded NON-STRICT that way on a loaded
/// machine). The bytes are read below the UTF-8 guard and tungstenite: the connection is already failed.
async fn linger(sink: WsSender, receiver: WsReceiver) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(ws) = WsStream::reunite(sink, receiver) else {
        return;
    };
    let mut raw = ws.into_inner().into_inner().into_inner();
    if raw.shutdown().await.is_err() {
        return;
    }
    let mut discard = vec![0u8; 16 * 1024];
    while let Ok(n) = raw.read(&mut discard).await {
        if n == 0 {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A failure guard only: every wait ends on an event well before it.
    const GUARD: Duration = Duration::from_secs(20);

    /// A send whose state check passed just before another thread started the close reaches the writer
    /// behind the close command. It returned `Ok`, so it must not be dropped (tungstenite refuses a send
    /// after a close frame): the peer sees the message, then the close.
    /// A tungstenite server on its own thread for one connection, reporting every message it reads.
    fn server() -> (u16, std::sync::mpsc::Receiver<Message>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (seen_tx, seen_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut ws = tungstenite::accept(stream).expect("server handshake");
            while let Ok(message) = ws.read() {
                let _ = seen_tx.send(message);
            }
        });
        (port, seen_rx)
    }

    #[tokio::test]
    async fn a_send_racing_a_close_goes_out_before_the_close_frame() {
        let (port, seen_rx) = server();
        // A current-thread runtime: the writer task cannot run between the three steps below.
        let options = ClientOptions::new().close_timeout(Duration::from_secs(60));
        let client = WebsocketClient::connect(
            &format!("ws://127.0.0.1:{port}/"),
            WebsocketType::NonSecure,
            options,
        )
        .await
        .unwrap();
        client.reserve(4).unwrap(); // a sender passes its check...
        client.close(1000, "bye").unwrap(); // ...another thread starts the close...
        client.push(Message::text("late"), 4).unwrap(); // ...then the send is queued.
        let info = tokio::time::timeout(GUARD, client.closed())
            .await
            .expect("the close handshake did not finish");
        assert_eq!((info.code, info.reason.as_str()), (1000, "bye"));
        let seen: Vec<Message> = seen_rx.try_iter().collect();
        assert!(
            matches!(seen.as_slice(), [Message::Text(t), Message::Close(Some(f))] if t.as_str() == "late" && f.code == CloseCode::Normal),
            "{seen:?}"
        );
        assert_eq!(client.queued_bytes(), 0);
    }

    /// Empty messages cost memory too (a queued command each): the bound must stop them, or a producer
    /// sending empty messages to a stalled connection grows the queue without limit.
    #[tokio::test]
    async fn empty_messages_count_toward_the_send_queue_bound() {
        let (port, _seen) = server();
        let options = ClientOptions::new().max_send_queue_bytes(1024);
        let client = WebsocketClient::connect(
            &format!("ws://127.0.0.1:{port}/"),
            WebsocketType::NonSecure,
            options,
        )
        .await
        .unwrap();
        // A current-thread runtime: the writer task does not run during this loop, nothing is drained.
        let mut result = Ok(());
        for _ in 0..100_000 {
            result = client.send_text("");
            if result.is_err() {
                break;
            }
        }
        assert!(
            matches!(result, Err(Error::SendQueueFull { limit: 1024, .. })),
            "{result:?}"
        );
        assert!(client.queued_bytes() <= 1024);
    }
}
