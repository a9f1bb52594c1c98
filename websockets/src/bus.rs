//! [`WebsocketsRequestBus`]: the gem's request-bus style, one process-wide entry point that creates clients
//! and addresses them by [`ClientId`]. A thin map lookup; the direct [`WebsocketClient`] path never touches it.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, LazyLock, RwLock};

use crate::client::{ClientId, WebsocketClient};
use crate::error::Error;
use crate::options::{ClientOptions, WebsocketType};

type Registry = HashMap<ClientId, Arc<WebsocketClient>, BuildHasherDefault<IdHasher>>;

static CLIENTS: LazyLock<RwLock<Registry>> = LazyLock::new(Default::default);

/// Ids are unique counters, so a multiplicative (Fibonacci) hash is enough; it keeps the bus lookup to a
/// few nanoseconds instead of SipHash's tens.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// The process-wide request bus (gem: `WebsocketsRequestBus`): create clients, then address them by id.
///
/// Each call is one read-locked hash-map lookup in front of the same [`WebsocketClient`] method, so the
/// direct path ([`WebsocketClient`] / [`IWebsocketClient`](crate::IWebsocketClient)) stays the fastest, as
/// the gem promised. A client stays on the bus (even after it closed) until [`destroy_client`](Self::destroy_client).
///
/// ```no_run
/// use websockets::{WebsocketType, WebsocketsRequestBus as Bus};
///
/// let id = Bus::create_client("wss://echo.example/", |msg: &str| println!("{msg}"), WebsocketType::Secure)?;
/// if Bus::is_connection_open(id) {
///     Bus::send_websocket_message(id, "hello")?;
/// }
/// Bus::close_websocket(id)?;
/// Bus::destroy_client(id);
/// # Ok::<(), websockets::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct WebsocketsRequestBus;

impl WebsocketsRequestBus {
    /// Connects like [`create_client`](crate::create_client) and registers the client.
    pub fn create_client(
        url: &str,
        on_message: impl Fn(&str) + Send + Sync + 'static,
        websocket_type: WebsocketType,
    ) -> Result<ClientId, Error> {
        crate::create_client(url, on_message, websocket_type).map(Self::register)
    }

    /// Connects like [`create_client_with`](crate::create_client_with) and registers the client.
    pub fn create_client_with(
        url: &str,
        on_message: impl Fn(&str) + Send + Sync + 'static,
        websocket_type: WebsocketType,
        options: ClientOptions,
    ) -> Result<ClientId, Error> {
        crate::create_client_with(url, on_message, websocket_type, options).map(Self::register)
    }

    /// Connects like [`create_client_with_auth`](crate::create_client_with_auth) and registers the client.
    pub fn create_client_with_auth(
        url: &str,
        on_message: impl Fn(&str) + Send + Sync + 'static,
        authorization: &str,
    ) -> Result<ClientId, Error> {
        crate::create_client_with_auth(url, on_message, authorization).map(Self::register)
    }

    /// Puts an existing client on the bus and returns its id.
    pub fn register(client: WebsocketClient) -> ClientId {
        let id = client.id();
        CLIENTS
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, Arc::new(client));
        id
    }

    /// The client with this id, for calling it directly.
    pub fn client(id: ClientId) -> Option<Arc<WebsocketClient>> {
        CLIENTS
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned()
    }

    /// Removes the client from the bus; when no other `Arc` holds it, it is dropped (closed with 1000).
    /// Returns whether it was there.
    pub fn destroy_client(id: ClientId) -> bool {
        let removed = CLIENTS
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        removed.is_some()
    }

    fn with<T>(
        id: ClientId,
        f: impl FnOnce(&WebsocketClient) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let clients = CLIENTS.read().unwrap_or_else(|p| p.into_inner());
        match clients.get(&id) {
            Some(client) => f(client),
            None => Err(Error::UnknownClient(id)),
        }
    }

    /// Gem `IsConnectionOpen`: false for an unknown id.
    pub fn is_connection_open(id: ClientId) -> bool {
        Self::with(id, |c| Ok(c.is_open())).unwrap_or(false)
    }

    /// Gem `SendWebsocketMessage`.
    pub fn send_websocket_message(id: ClientId, message: &str) -> Result<(), Error> {
        Self::with(id, |c| c.send_text(message))
    }

    /// Gem `SendWebsocketMessageBinary`.
    pub fn send_websocket_message_binary(id: ClientId, payload: &[u8]) -> Result<(), Error> {
        Self::with(id, |c| c.send_binary(payload.to_vec()))
    }

    /// Gem `CloseWebsocket` (code 1000); does nothing if a close already started.
    pub fn close_websocket(id: ClientId) -> Result<(), Error> {
        Self::with(id, |c| {
            let _ = c.close(1000, "");
            Ok(())
        })
    }

    /// Closes with a chosen code and reason.
    pub fn close(id: ClientId, code: u16, reason: &str) -> Result<(), Error> {
        Self::with(id, |c| c.close(code, reason))
    }
}
