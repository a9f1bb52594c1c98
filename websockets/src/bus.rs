//! [`WebsocketsRequestBus`]: the gem's request-bus style, one process-wide entry point that creates clients
//! and addresses them by [`ClientId`]; the direct [`WebsocketClient`] path never touches it.
//!
//! # How a bus call stays cheap
//!
//! The registry is an immutable snapshot (a version number and an `Arc<[Entry]>` sorted by id), replaced
//! as a whole under a mutex when a client is registered or destroyed; each replacement bumps the global
//! `VERSION`. Every thread keeps the snapshot it last used in a thread-local cache (behind an `Rc`). A call
//! loads `VERSION` (a plain load on x86); when it matches the cached snapshot's version, it takes the
//! snapshot (a non-atomic `Rc` count), checks the entry it found last (a thread usually calls one client
//! many times in a row; else a binary search) and calls the client: no lock, no atomic read-modify-write.
//! Only the first call on a thread after a change takes the mutex to pick up the new snapshot.
//!
//! Measured by `cargo bench -p websockets --bench throughput` (section `bus lookup`): about 1-1.5 ns
//! per call over the direct call. The `RwLock` map this replaces cost 10-20 ns per call (an uncontended
//! read lock is two atomic read-modify-writes), 5-7 % of a 20-byte send. `arc-swap` was not used: its
//! `load` also pays atomic read-modify-writes on a debt slot, so it would not have removed that cost.
//!
//! # Correctness
//!
//! - Ids come from a process-wide counter and are never reused, so an id cannot address a later client.
//! - A call that starts after [`WebsocketsRequestBus::destroy_client`] returned (in happens-before order,
//!   e.g. told by a channel) sees the new version, so it fails with [`Error::UnknownClient`]. A call racing
//!   with the destroy may still reach the client, which is closing: it then fails with [`Error::Closed`]
//!   (or its send is the last one before the close frame).
//! - `destroy_client` closes the client (code 1000) itself: a thread's cached snapshot may hold the
//!   client's handle a while longer (until that thread's next bus call, or its exit), so the close cannot
//!   wait for the last `Arc` to go. What lingers is the closed handle's memory, never the connection.
//! - The cache is borrowed only inside the bus (never while a client method runs), so a bus call made
//!   from anywhere (a tracing subscriber, a drop) cannot find it borrowed; a call from a thread-local
//!   destructor after the cache is gone takes the locked slow path instead of panicking.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use crate::client::WebsocketClient;
use crate::error::Error;
use crate::options::ClientOptions;
use crate::types::{ClientId, WebsocketType};

/// One client on the bus.
///
/// Aligned to a cache line so that a snapshot's entries share no line with another allocation, which
/// another thread may be writing (e.g. freeing a message buffer next to it) while every bus call reads
/// the entry.
#[derive(Clone)]
#[repr(align(64))]
struct Entry {
    id: ClientId,
    client: Arc<WebsocketClient>,
}

/// One published state of the bus: its entries sorted by id, never changed once published.
#[derive(Clone, Default)]
struct Snapshot {
    version: u64,
    entries: Arc<[Entry]>,
}

/// The current snapshot; replaced (never mutated) by `register` and `destroy_client`.
static CURRENT: LazyLock<Mutex<Snapshot>> = LazyLock::new(Default::default);

/// The version of `CURRENT`, readable without the mutex. Stored (Release) while the mutex is held, right
/// after the snapshot with this version was published. On its own 128 bytes (the unit the adjacent-line
/// prefetcher fetches), so that no static written by other threads shares its cache line.
static VERSION: Padded = Padded(AtomicU64::new(0));

#[repr(align(128))]
struct Padded(AtomicU64);

/// A thread's copy of a snapshot. Behind an `Rc`, so a call can hold it (a non-atomic count) without
/// keeping the thread-local cache borrowed while it runs.
struct Local {
    version: u64,
    entries: Arc<[Entry]>,
    /// Index of the entry found last: a thread usually calls the same client many times in a row.
    last: Cell<usize>,
}

thread_local! {
    /// The snapshot this thread used last (`None` before its first call).
    static CACHE: RefCell<Option<Rc<Local>>> = const { RefCell::new(None) };
}

fn current() -> MutexGuard<'static, Snapshot> {
    // A panic while the lock was held cannot leave a half-made snapshot behind: the snapshot is swapped
    // in whole, so a poisoned lock still holds a consistent one.
    CURRENT.lock().unwrap_or_else(|p| p.into_inner())
}

/// Publishes `entries` (sorted by id) as the next version; returns the replaced snapshot, to be dropped
/// by the caller after the lock is released.
fn publish(mut current: MutexGuard<'static, Snapshot>, entries: Vec<Entry>) -> Snapshot {
    let version = current.version + 1;
    let old = std::mem::replace(
        &mut *current,
        Snapshot {
            version,
            entries: entries.into(),
        },
    );
    VERSION.0.store(version, Ordering::Release);
    old
}

/// The process-wide request bus (gem: `WebsocketsRequestBus`): create clients, then address them by id.
///
/// Every method is callable from any thread. A call is one version check and one lookup in a
/// thread-local snapshot of the bus in front of the same [`WebsocketClient`] method (about a nanosecond,
/// no lock), so the direct path ([`WebsocketClient`] / [`IWebsocketClient`](crate::IWebsocketClient))
/// stays the fastest, as the gem promised. Creating and destroying clients copies the id table (it is
/// meant for a handful to a few thousand clients, not for churning millions).
///
/// A client stays on the bus (even after its connection ended) until
/// [`destroy_client`](Self::destroy_client), which closes it. Ids are never reused: a destroyed id gives
/// [`Error::UnknownClient`] from then on.
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

    /// Connects like [`create_client_with_options`](crate::create_client_with_options) (handlers, if any,
    /// from `options`) and registers the client.
    pub fn create_client_with_options(
        url: &str,
        websocket_type: WebsocketType,
        options: ClientOptions,
    ) -> Result<ClientId, Error> {
        crate::create_client_with_options(url, websocket_type, options).map(Self::register)
    }

    /// Connects like [`create_client_with_auth`](crate::create_client_with_auth) and registers the client.
    pub fn create_client_with_auth(
        url: &str,
        on_message: impl Fn(&str) + Send + Sync + 'static,
        authorization: &str,
    ) -> Result<ClientId, Error> {
        crate::create_client_with_auth(url, on_message, authorization).map(Self::register)
    }

    /// Puts an existing client on the bus and returns its id; the bus now owns it.
    pub fn register(client: WebsocketClient) -> ClientId {
        let id = client.id();
        let entry = Entry {
            id,
            client: Arc::new(client),
        };
        let current = current();
        let mut entries = current.entries.to_vec();
        entries.insert(entries.partition_point(|e| e.id < id), entry);
        let old = publish(current, entries);
        drop(old);
        id
    }

    /// The client with this id, for calling it directly (`None` for an unknown or destroyed id).
    ///
    /// The returned handle keeps working until [`destroy_client`](Self::destroy_client), which closes
    /// the connection even while such handles exist.
    pub fn client(id: ClientId) -> Option<Arc<WebsocketClient>> {
        Self::with(id, |c| c.cloned())
    }

    /// Removes the client from the bus and closes it (code 1000, unless a close already started).
    /// Returns whether it was there. Calls with this id fail with [`Error::UnknownClient`] from then on.
    pub fn destroy_client(id: ClientId) -> bool {
        let removed = {
            let current = current();
            let Ok(at) = current.entries.binary_search_by_key(&id, |e| e.id) else {
                return false;
            };
            let mut entries = current.entries.to_vec();
            let removed = entries.remove(at);
            let old = publish(current, entries);
            drop(old);
            removed.client
        };
        // Other threads' cached snapshots may still hold the handle, so dropping it would not close it.
        let _ = removed.close(1000, "");
        tracing::debug!(client = %id, "removed from the bus and closed");
        true
    }

    /// Runs `f` on the client with this id (`None` for an unknown id): through the thread's cached
    /// snapshot, refreshed first when the bus changed; through the locked registry when the thread-local
    /// cache is gone (a call from a thread-local destructor at thread exit).
    ///
    /// `f` runs outside the thread-local access and gets an `Option` rather than this returning a
    /// `Result`: `Error` is large, and passing `f`'s result out through wrappers made the compiler copy
    /// it through the stack, which measurably slowed every bus call.
    #[inline(always)]
    fn with<R>(id: ClientId, f: impl FnOnce(Option<&Arc<WebsocketClient>>) -> R) -> R {
        match CACHE.try_with(Self::local) {
            Ok(local) => {
                let entries = &local.entries;
                let entry = match entries.get(local.last.get()) {
                    Some(entry) if entry.id == id => Some(entry),
                    _ => entries.binary_search_by_key(&id, |e| e.id).ok().map(|at| {
                        local.last.set(at);
                        &entries[at]
                    }),
                };
                f(entry.map(|e| &e.client))
            }
            Err(_) => Self::with_locked(id, f),
        }
    }

    /// This thread's snapshot, refreshed if the bus changed since it was taken.
    #[inline(always)]
    fn local(cell: &RefCell<Option<Rc<Local>>>) -> Rc<Local> {
        let version = VERSION.0.load(Ordering::Acquire);
        if let Some(local) = &*cell.borrow()
            && local.version == version
        {
            return Rc::clone(local);
        }
        Self::refresh(cell)
    }

    #[cold]
    fn refresh(cell: &RefCell<Option<Rc<Local>>>) -> Rc<Local> {
        let fresh = current().clone();
        let local = Rc::new(Local {
            version: fresh.version,
            entries: fresh.entries,
            last: Cell::new(0),
        });
        let old = cell.replace(Some(Rc::clone(&local)));
        // Dropped after the cell is updated: dropping a client handle must not find the cell borrowed.
        drop(old);
        local
    }

    /// The slow path: looks the id up under the registry's mutex (released before `f` runs).
    #[cold]
    fn with_locked<R>(id: ClientId, f: impl FnOnce(Option<&Arc<WebsocketClient>>) -> R) -> R {
        let client = {
            let current = current();
            let at = current.entries.binary_search_by_key(&id, |e| e.id).ok();
            at.map(|at| Arc::clone(&current.entries[at].client))
        };
        f(client.as_ref())
    }

    /// Runs `f` on the client, or fails with [`Error::UnknownClient`].
    #[inline(always)]
    fn call<T>(
        id: ClientId,
        f: impl FnOnce(&Arc<WebsocketClient>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        Self::with(id, |client| match client {
            Some(client) => f(client),
            None => Err(Error::UnknownClient(id)),
        })
    }

    /// Gem `IsConnectionOpen`: false for an unknown id.
    pub fn is_connection_open(id: ClientId) -> bool {
        Self::with(id, |c| c.is_some_and(|c| c.is_open()))
    }

    /// Gem `SendWebsocketMessage`.
    pub fn send_websocket_message(id: ClientId, message: &str) -> Result<(), Error> {
        Self::call(id, |c| c.send_text(message))
    }

    /// Gem `SendWebsocketMessageBinary`.
    pub fn send_websocket_message_binary(id: ClientId, payload: &[u8]) -> Result<(), Error> {
        Self::call(id, |c| c.send_binary(payload.to_vec()))
    }

    /// Gem `CloseWebsocket` (code 1000); does nothing if a close already started.
    pub fn close_websocket(id: ClientId) -> Result<(), Error> {
        Self::call(id, |c| {
            let _ = c.close(1000, "");
            Ok(())
        })
    }

    /// Closes with a chosen code and reason.
    pub fn close(id: ClientId, code: u16, reason: &str) -> Result<(), Error> {
        Self::call(id, |c| c.close(code, reason))
    }
}

#[cfg(test)]
mod tests {
    //! Bus semantics against a loopback async-tungstenite server (not this crate's code on the other end).

    use super::*;
    use crate::create_client;
    use async_tungstenite::tungstenite::Message;
    use async_tungstenite::tungstenite::handshake::server::{Request, Response};
    use futures_util::StreamExt;
    use std::sync::mpsc;
    use std::time::Duration;

    /// A failure guard only: every wait ends on an event well before it.
    const GUARD: Duration = Duration::from_secs(30);

    /// What the server saw, per connection path.
    #[derive(Debug, PartialEq)]
    enum Seen {
        Text(String, String),
        Close(String, Option<u16>),
    }

    /// A WebSocket server on its own thread and runtime, reporting texts and close frames by path.
    struct Server {
        addr: std::net::SocketAddr,
        seen: mpsc::Receiver<Seen>,
    }

    impl Server {
        fn start() -> Server {
            let (addr_tx, addr_rx) = mpsc::channel();
            let (seen_tx, seen) = mpsc::channel();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("server runtime");
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                        .await
                        .expect("bind");
                    addr_tx
                        .send(listener.local_addr().expect("address"))
                        .unwrap();
                    while let Ok((tcp, _)) = listener.accept().await {
                        let seen = seen_tx.clone();
                        tokio::spawn(async move {
                            let mut path = String::new();
                            #[allow(clippy::result_large_err)]
                            let callback = |req: &Request, resp: Response| {
                                path = req.uri().path().to_string();
                                Ok(resp)
                            };
                            let Ok(mut ws) =
                                async_tungstenite::tokio::accept_hdr_async(tcp, callback).await
                            else {
                                return;
                            };
                            while let Some(Ok(message)) = ws.next().await {
                                let event = match message {
                                    Message::Text(text) => {
                                        Seen::Text(path.clone(), text.to_string())
                                    }
                                    Message::Close(frame) => {
                                        Seen::Close(path.clone(), frame.map(|f| f.code.into()))
                                    }
                                    _ => continue,
                                };
                                if seen.send(event).is_err() {
                                    return;
                                }
                            }
                        });
                    }
                });
            });
            let addr = addr_rx.recv_timeout(GUARD).expect("server address");
            Server { addr, seen }
        }

        fn client(&self, path: &str) -> WebsocketClient {
            create_client(
                &format!("ws://{}{path}", self.addr),
                |_: &str| {},
                WebsocketType::NonSecure,
            )
            .expect("connect to the loopback server")
        }

        fn next(&self) -> Seen {
            self.seen
                .recv_timeout(GUARD)
                .expect("the server saw nothing")
        }
    }

    fn assert_unknown(id: ClientId) {
        assert!(matches!(
            WebsocketsRequestBus::send_websocket_message(id, "x"),
            Err(Error::UnknownClient(i)) if i == id
        ));
        assert!(matches!(
            WebsocketsRequestBus::send_websocket_message_binary(id, b"x"),
            Err(Error::UnknownClient(_))
        ));
        assert!(matches!(
            WebsocketsRequestBus::close_websocket(id),
            Err(Error::UnknownClient(_))
        ));
        assert!(matches!(
            WebsocketsRequestBus::close(id, 1000, ""),
            Err(Error::UnknownClient(_))
        ));
        assert!(!WebsocketsRequestBus::is_connection_open(id));
        assert!(WebsocketsRequestBus::client(id).is_none());
    }

    #[test]
    fn a_thread_that_cached_the_bus_sees_a_destroy_made_on_another_thread() {
        let server = Server::start();
        let id = WebsocketsRequestBus::register(server.client("/a"));
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let other = std::thread::spawn(move || {
            // This call caches the bus snapshot that holds the client.
            WebsocketsRequestBus::send_websocket_message(id, "before").unwrap();
            done_tx.send(()).unwrap();
            go_rx.recv_timeout(GUARD).unwrap();
            assert_unknown(id);
        });
        done_rx.recv_timeout(GUARD).unwrap();
        assert_eq!(server.next(), Seen::Text("/a".into(), "before".into()));
        assert!(WebsocketsRequestBus::destroy_client(id));
        go_tx.send(()).unwrap();
        other.join().expect("the other thread's checks");
        assert_unknown(id);
        assert!(!WebsocketsRequestBus::destroy_client(id), "already gone");
    }

    #[test]
    fn destroy_closes_the_client_even_while_a_handle_is_held() {
        let server = Server::start();
        let id = WebsocketsRequestBus::register(server.client("/b"));
        let handle = WebsocketsRequestBus::client(id).expect("registered");
        assert!(handle.is_open());
        WebsocketsRequestBus::send_websocket_message(id, "hi").unwrap();
        assert_eq!(server.next(), Seen::Text("/b".into(), "hi".into()));
        assert!(WebsocketsRequestBus::destroy_client(id));
        assert_eq!(server.next(), Seen::Close("/b".into(), Some(1000)));
        assert!(!handle.is_open());
        assert!(matches!(handle.send_text("late"), Err(Error::Closed)));
    }

    /// Several threads create, use and destroy their own clients while all of them also send through
    /// one long-lived client: every send to a live id succeeds and arrives, every destroyed id is unknown
    /// at once, and every destroyed client is closed with 1000.
    #[test]
    fn concurrent_create_send_destroy_from_several_threads() {
        const THREADS: usize = 4;
        const ROUNDS: usize = 25;
        let server = Server::start();
        let long = WebsocketsRequestBus::register(server.client("/long"));
        let addr = server.addr;
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                std::thread::spawn(move || {
                    for r in 0..ROUNDS {
                        let client = create_client(
                            &format!("ws://{addr}/short"),
                            |_: &str| {},
                            WebsocketType::NonSecure,
                        )
                        .expect("connect");
                        let id = WebsocketsRequestBus::register(client);
                        assert!(WebsocketsRequestBus::is_connection_open(id));
                        WebsocketsRequestBus::send_websocket_message(id, &format!("{t}.{r}"))
                            .unwrap();
                        WebsocketsRequestBus::send_websocket_message(long, &format!("{t}.{r}"))
                            .unwrap();
                        assert!(WebsocketsRequestBus::destroy_client(id));
                        assert_unknown(id);
                        assert!(WebsocketsRequestBus::is_connection_open(long));
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().expect("a worker's checks");
        }
        let expected = THREADS * ROUNDS;
        let (mut long_texts, mut short_texts, mut short_closes) = (Vec::new(), 0, 0);
        while long_texts.len() < expected || short_texts < expected || short_closes < expected {
            match server.next() {
                Seen::Text(path, text) if path == "/long" => long_texts.push(text),
                Seen::Text(path, _) if path == "/short" => short_texts += 1,
                Seen::Close(path, code) if path == "/short" => {
                    assert_eq!(code, Some(1000));
                    short_closes += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        long_texts.sort();
        let mut sent: Vec<String> = (0..THREADS)
            .flat_map(|t| (0..ROUNDS).map(move |r| format!("{t}.{r}")))
            .collect();
        sent.sort();
        assert_eq!(
            long_texts, sent,
            "every send through the long-lived id arrived once"
        );
        assert!(WebsocketsRequestBus::destroy_client(long));
    }

    /// A bus call from a thread-local destructor that runs after the bus's own thread-local cache was
    /// destroyed takes the locked path instead of panicking.
    #[test]
    fn a_call_from_a_thread_local_destructor_still_works() {
        struct SendOnExit(Option<(ClientId, mpsc::Sender<Result<(), Error>>)>);
        impl Drop for SendOnExit {
            fn drop(&mut self) {
                if let Some((id, tx)) = self.0.take() {
                    let _ = tx.send(WebsocketsRequestBus::send_websocket_message(id, "bye"));
                }
            }
        }
        thread_local! {
            static ON_EXIT: RefCell<SendOnExit> = const { RefCell::new(SendOnExit(None)) };
        }
        let server = Server::start();
        let id = WebsocketsRequestBus::register(server.client("/c"));
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Registered first, so destroyed after the bus cache (destructors run in reverse order).
            ON_EXIT.with(|e| e.borrow_mut().0 = Some((id, tx)));
            WebsocketsRequestBus::send_websocket_message(id, "hello").unwrap();
        })
        .join()
        .unwrap();
        rx.recv_timeout(GUARD).expect("the destructor ran").unwrap();
        assert_eq!(server.next(), Seen::Text("/c".into(), "hello".into()));
        assert_eq!(server.next(), Seen::Text("/c".into(), "bye".into()));
        assert!(WebsocketsRequestBus::destroy_client(id));
    }
}
