//! Connection options: [`WebsocketType`], the [`ClientOptions`] builder and the handler types.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::queue::MessageQueue;

/// The text-message handler type: a closure taking each received text message as `&str`.
///
/// The `&str` borrows the received buffer (no copy); it is valid only during the call. Any closure
/// `Fn(&str) + Send + Sync + 'static` can be passed where the API takes `impl Fn(&str)`; this boxed alias is
/// for storing one, like the gem's `Websockets::OnMessage`.
///
/// ```
/// let on_message: websockets::OnMessage = Box::new(|msg: &str| println!("got {msg}"));
/// on_message("hello");
/// ```
pub type OnMessage = Box<dyn Fn(&str) + Send + Sync + 'static>;

pub(crate) type TextHandler = Arc<dyn Fn(&str) + Send + Sync + 'static>;
pub(crate) type BytesHandler = Arc<dyn Fn(&[u8]) + Send + Sync + 'static>;
pub(crate) type OpenHandler = Arc<dyn Fn() + Send + Sync + 'static>;
pub(crate) type CloseHandler = Arc<dyn Fn(u16, &str) + Send + Sync + 'static>;
pub(crate) type ErrorHandler = Arc<dyn Fn(&Error) + Send + Sync + 'static>;

/// Where extra trusted CA certificates come from.
#[derive(Debug, Clone)]
pub(crate) enum CaSource {
    File(PathBuf),
    Pem(Vec<u8>),
}

/// Options for [`create_client_with`](crate::create_client_with) and
/// [`WebsocketClient::connect`](crate::WebsocketClient::connect): a builder with documented defaults.
///
/// | option | default |
/// |---|---|
/// | [`connect_timeout`](Self::connect_timeout) | 10 s (DNS + TCP + TLS + upgrade together) |
/// | [`close_timeout`](Self::close_timeout) | 5 s |
/// | [`max_message_size`](Self::max_message_size) | 64 MiB (incoming and outgoing) |
/// | [`max_send_queue_bytes`](Self::max_send_queue_bytes) | 1 MiB (an empty queue always takes one message) |
/// | [`ping_interval`](Self::ping_interval) | none (no keep-alive pings) |
/// | trusted roots | webpki-roots (+ OS roots with feature `platform-roots`) + [`add_ca_pem_file`](Self::add_ca_pem_file) / [`add_ca_pem`](Self::add_ca_pem) |
///
/// Handlers run on the connection's reader task (see the crate docs' thread table). Options are cheap to
/// clone, so a reconnecting program can keep one and reuse it.
///
/// ```
/// use std::time::Duration;
/// use websockets::ClientOptions;
///
/// let options = ClientOptions::new()
///     .connect_timeout(Duration::from_secs(5))
///     .header("Authorization", "Bearer not-a-real-token")
///     .subprotocol("chat")
///     .ping_interval(Duration::from_secs(30))
///     .on_close(|code, reason| println!("closed: {code} {reason}"))
///     .on_error(|err| eprintln!("error: {err}"));
/// // The Authorization value is masked in Debug output.
/// assert!(!format!("{options:?}").contains("not-a-real-token"));
/// ```
#[derive(Clone)]
pub struct ClientOptions {
    pub(crate) connect_timeout: Duration,
    pub(crate) close_timeout: Duration,
    pub(crate) max_message_size: usize,
    pub(crate) max_send_queue_bytes: usize,
    pub(crate) ping_interval: Option<Duration>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) subprotocols: Vec<String>,
    pub(crate) extra_cas: Vec<CaSource>,
    pub(crate) on_message: Option<TextHandler>,
    pub(crate) on_binary: Option<BytesHandler>,
    pub(crate) on_pong: Option<BytesHandler>,
    pub(crate) on_open: Option<OpenHandler>,
    pub(crate) on_close: Option<CloseHandler>,
    pub(crate) on_error: Option<ErrorHandler>,
    pub(crate) queue: Option<MessageQueue>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientOptions {
    /// Options with the defaults in the table above and no handlers.
    pub fn new() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(5),
            max_message_size: 64 << 20,
            max_send_queue_bytes: 1 << 20,
            ping_interval: None,
            headers: Vec::new(),
            subprotocols: Vec::new(),
            extra_cas: Vec::new(),
            on_message: None,
            on_binary: None,
            on_pong: None,
            on_open: None,
            on_close: None,
            on_error: None,
            queue: None,
        }
    }

    /// Time allowed for DNS, TCP connect, TLS handshake and HTTP upgrade together; past it connecting fails
    /// with [`Error::Timeout`] naming the step.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time a close handshake gets to finish before the connection is dropped ([`Error::CloseTimeout`]):
    /// after our close frame, for the peer to answer it and hang up; after the peer's close frame, for the
    /// peer to hang up (RFC 6455 has the server close the TCP connection). `on_close` then gets the peer's
    /// close code if its close frame had arrived, else 1006.
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Largest message (and frame) accepted from the peer, and largest message [`send`](crate::WebsocketClient::send_text)
    /// accepts. A bigger incoming message fails the connection (close 1009).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Bound on bytes queued for sending but not yet taken by the writer task. A send that would exceed it
    /// fails with [`Error::SendQueueFull`] (or waits, with [`send_text_async`](crate::WebsocketClient::send_text_async))
    /// instead of growing memory without limit. Each message counts its payload plus 14 bytes (its largest
    /// frame header), so empty messages are bounded too. An empty queue always takes one message (up to
    /// [`max_message_size`](Self::max_message_size)), so large messages stay sendable with a small bound.
    /// The default, 1 MiB, keeps a burst's buffers in cache; raise it for bursts of large messages.
    pub fn max_send_queue_bytes(mut self, bytes: usize) -> Self {
        self.max_send_queue_bytes = bytes;
        self
    }

    /// Send a ping every `interval`; if no pong (or any other frame) arrived during a whole interval, the
    /// connection is reported dead ([`Error::KeepAliveTimeout`], close code 1006).
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.ping_interval = Some(interval);
        self
    }

    /// Add an HTTP header to the upgrade request, e.g. `Authorization` (the gem's `CreateClientWithAuth`).
    /// Values of `Authorization`, `Cookie` and `Proxy-Authorization` are masked in `Debug` output.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Shorthand for `header("Authorization", value)`, like the gem's `CreateClientWithAuth`.
    pub fn authorization(self, value: impl Into<String>) -> Self {
        self.header("Authorization", value)
    }

    /// Offer a subprotocol (`Sec-WebSocket-Protocol`); call again to offer several, in preference order.
    /// The server's choice is [`WebsocketClient::subprotocol`](crate::WebsocketClient::subprotocol).
    pub fn subprotocol(mut self, protocol: impl Into<String>) -> Self {
        self.subprotocols.push(protocol.into());
        self
    }

    /// Also trust the CA certificate(s) in this PEM file (read when connecting; an unreadable file or bad PEM
    /// is [`Error::CaFile`] / [`Error::InvalidCaPem`]).
    pub fn add_ca_pem_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.extra_cas.push(CaSource::File(path.into()));
        self
    }

    /// Also trust the CA certificate(s) in these PEM bytes.
    pub fn add_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.extra_cas.push(CaSource::Pem(pem.into()));
        self
    }

    /// The text-message handler ([`OnMessage`]). [`create_client_with`](crate::create_client_with) sets it
    /// from its argument.
    pub fn on_message(mut self, handler: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.on_message = Some(Arc::new(handler));
        self
    }

    /// Handler for binary messages. The gem delivered binary through `OnMessage`; here they are separate,
    /// and without this handler binary messages are dropped (logged at debug level).
    pub fn on_binary(mut self, handler: impl Fn(&[u8]) + Send + Sync + 'static) -> Self {
        self.on_binary = Some(Arc::new(handler));
        self
    }

    /// Handler for pong frames (answers to our pings), with their payload.
    pub fn on_pong(mut self, handler: impl Fn(&[u8]) + Send + Sync + 'static) -> Self {
        self.on_pong = Some(Arc::new(handler));
        self
    }

    /// Handler called once when the connection is open, before any message handler.
    pub fn on_open(mut self, handler: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_open = Some(Arc::new(handler));
        self
    }

    /// Handler called exactly once when the connection ends, with the close code and reason the peer sent
    /// (1005 and "" if its close frame had no code; 1006 and a description if the connection ended without a
    /// close handshake).
    pub fn on_close(mut self, handler: impl Fn(u16, &str) + Send + Sync + 'static) -> Self {
        self.on_close = Some(Arc::new(handler));
        self
    }

    /// Handler for errors after the connection opened (protocol violations, I/O errors, keep-alive and
    /// close timeouts, panicking handlers). A fatal error is followed by `on_close`, with code 1006 unless
    /// the peer's close frame had arrived before it (a close timeout while waiting for the peer to hang up).
    pub fn on_error(mut self, handler: impl Fn(&Error) + Send + Sync + 'static) -> Self {
        self.on_error = Some(Arc::new(handler));
        self
    }

    /// Also deliver every event into `queue`, for a game loop that drains it each frame (the gem's
    /// `TickBus::QueueFunction`). See [`MessageQueue`].
    pub fn queue(mut self, queue: &MessageQueue) -> Self {
        self.queue = Some(queue.clone());
        self
    }
}

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Headers<'a>(&'a [(String, String)]);
        impl fmt::Debug for Headers<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_map()
                    .entries(self.0.iter().map(|(name, value)| {
                        let secret = ["authorization", "proxy-authorization", "cookie"]
                            .iter()
                            .any(|s| name.eq_ignore_ascii_case(s));
                        (name.as_str(), if secret { "***" } else { value.as_str() })
                    }))
                    .finish()
            }
        }
        f.debug_struct("ClientOptions")
            .field("connect_timeout", &self.connect_timeout)
            .field("close_timeout", &self.close_timeout)
            .field("max_message_size", &self.max_message_size)
            .field("max_send_queue_bytes", &self.max_send_queue_bytes)
            .field("ping_interval", &self.ping_interval)
            .field("headers", &Headers(&self.headers))
            .field("subprotocols", &self.subprotocols)
            .field("extra_cas", &self.extra_cas.len())
            .field("on_message", &self.on_message.is_some())
            .field("on_binary", &self.on_binary.is_some())
            .field("on_pong", &self.on_pong.is_some())
            .field("on_open", &self.on_open.is_some())
            .field("on_close", &self.on_close.is_some())
            .field("on_error", &self.on_error.is_some())
            .field("queue", &self.queue.is_some())
            .finish()
    }
}
