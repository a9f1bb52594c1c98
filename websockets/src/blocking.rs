//! The gem-shaped facade: blocking [`create_client`] / [`create_client_with`] and the [`IWebsocketClient`]
//! trait, thin wrappers over the async core in [`WebsocketClient`].

use crate::client::WebsocketClient;
use crate::error::Error;
use crate::options::ClientOptions;
use crate::types::WebsocketType;

/// The gem's per-connection interface (`Websockets::IWebsocketClient`): object-safe, `Send + Sync`.
///
/// Sends return a `Result` ([`Error::Closed`] once closed), never truncate at a NUL byte, can be called
/// from any thread, and never block on network I/O (they queue for the connection's writer task).
///
/// ```no_run
/// use websockets::{create_client, IWebsocketClient, WebsocketType};
///
/// let client: Box<dyn IWebsocketClient> =
///     Box::new(create_client("wss://echo.example/", |msg: &str| println!("{msg}"), WebsocketType::Secure)?);
/// if client.is_connection_open() {
///     client.send_websocket_message("hello\0world")?; // the NUL is sent too
///     client.send_websocket_message_binary(&[0, 1, 2])?;
/// }
/// client.close_websocket();
/// # Ok::<(), websockets::Error>(())
/// ```
pub trait IWebsocketClient: Send + Sync {
    /// Whether the connection is open (gem: `IsConnectionOpen`).
    fn is_connection_open(&self) -> bool;
    /// Queues a text message (gem: `SendWebsocketMessage`).
    fn send_websocket_message(&self, message: &str) -> Result<(), Error>;
    /// Queues a binary message (gem: `SendWebsocketMessageBinary`).
    fn send_websocket_message_binary(&self, payload: &[u8]) -> Result<(), Error>;
    /// Starts a normal close (code 1000) without waiting for it (gem: `CloseWebsocket`, which used 1001).
    /// Does nothing if a close already started.
    fn close_websocket(&self);
}

impl IWebsocketClient for WebsocketClient {
    fn is_connection_open(&self) -> bool {
        self.is_open()
    }

    fn send_websocket_message(&self, message: &str) -> Result<(), Error> {
        self.send_text(message)
    }

    fn send_websocket_message_binary(&self, payload: &[u8]) -> Result<(), Error> {
        self.send_binary(payload.to_vec())
    }

    fn close_websocket(&self) {
        let _ = self.close(1000, "");
    }
}

/// Connects to `url` and returns the open client (gem: `CreateClient`); `on_message` gets every text
/// message. Blocks until the WebSocket handshake is done (10 s connect timeout) or fails with an [`Error`]
/// naming the failed step.
///
/// Callable from any thread: outside a tokio runtime the connection runs on the crate's process-wide
/// runtime; inside a multi-thread runtime it runs on that runtime (the wait uses `block_in_place`); inside a
/// current-thread runtime the connection runs on the process-wide runtime (async callers should prefer
/// [`WebsocketClient::connect`]).
///
/// ```no_run
/// use websockets::{create_client, WebsocketType};
///
/// let client = create_client("wss://echo.example/", |msg: &str| println!("{msg}"), WebsocketType::Secure)?;
/// client.send_text("hello")?;
/// # Ok::<(), websockets::Error>(())
/// ```
pub fn create_client(
    url: &str,
    on_message: impl Fn(&str) + Send + Sync + 'static,
    websocket_type: WebsocketType,
) -> Result<WebsocketClient, Error> {
    create_client_with(url, on_message, websocket_type, ClientOptions::new())
}

/// [`create_client`] with [`ClientOptions`] (extra CA, headers, subprotocols, timeouts, handlers, queue).
/// `on_message` replaces any `on_message` set in `options`. Without a text handler (every event goes to
/// a [`MessageQueue`](crate::MessageQueue), say) use [`create_client_with_options`].
///
/// ```no_run
/// use websockets::{create_client_with, ClientOptions, WebsocketType};
///
/// let options = ClientOptions::new()
///     .add_ca_pem_file("certs/test-ca.pem")
///     .on_close(|code, reason| println!("closed {code} {reason}"))
///     .on_error(|err| eprintln!("{err}"));
/// let client = create_client_with("wss://localhost:8443/", |msg: &str| println!("{msg}"), WebsocketType::Secure, options)?;
/// client.send_text("PING")?;
/// client.close(1000, "bye")?;
/// # Ok::<(), websockets::Error>(())
/// ```
pub fn create_client_with(
    url: &str,
    on_message: impl Fn(&str) + Send + Sync + 'static,
    websocket_type: WebsocketType,
    options: ClientOptions,
) -> Result<WebsocketClient, Error> {
    create_client_with_options(url, websocket_type, options.on_message(on_message))
}

/// Connects like [`create_client_with`], with every handler (if any) taken from `options`: for a client
/// whose events all go to a [`MessageQueue`](crate::MessageQueue) or that only sends. The blocking twin of
/// [`WebsocketClient::connect`].
///
/// ```no_run
/// use websockets::{create_client_with_options, ClientOptions, Event, MessageQueue, WebsocketType};
///
/// let queue = MessageQueue::new(1024);
/// let client = create_client_with_options(
///     "wss://echo.example/",
///     WebsocketType::Secure,
///     ClientOptions::new().queue(&queue),
/// )?;
/// client.send_text("hello")?;
/// if let Some(Event::Text(echo)) = queue.pop_timeout(std::time::Duration::from_secs(5)) {
///     println!("echo: {}", &*echo);
/// }
/// # Ok::<(), websockets::Error>(())
/// ```
pub fn create_client_with_options(
    url: &str,
    websocket_type: WebsocketType,
    options: ClientOptions,
) -> Result<WebsocketClient, Error> {
    let url = url.to_string();
    crate::runtime::block_on(async move {
        WebsocketClient::connect(&url, websocket_type, options).await
    })
}

/// A secure client that sends `Authorization: <authorization>` with the upgrade request (gem rev B:
/// `CreateClientWithAuth`). An empty `authorization` sends no header.
///
/// ```no_run
/// let client = websockets::create_client_with_auth("wss://api.example/ws", |m: &str| println!("{m}"), "Bearer abc")?;
/// # Ok::<(), websockets::Error>(())
/// ```
pub fn create_client_with_auth(
    url: &str,
    on_message: impl Fn(&str) + Send + Sync + 'static,
    authorization: &str,
) -> Result<WebsocketClient, Error> {
    let mut options = ClientOptions::new();
    if !authorization.is_empty() {
        options = options.authorization(authorization);
    }
    create_client_with(url, on_message, WebsocketType::Secure, options)
}
