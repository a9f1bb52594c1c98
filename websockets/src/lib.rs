//! A WebSocket client with the API of the Lumberyard Websockets gem (`CreateClient`, `IWebsocketClient`,
//! `OnMessage`, the `WebsocketsRequestBus`), secure by default, without the gem's flaws: certificates and
//! host names are verified, every failure is reported as a typed [`Error`], and connections share one small
//! tokio runtime instead of one OS thread each.
//!
//! Built on tokio, async-tungstenite 0.35 and rustls 0.23 (ring provider; roots from webpki-roots, plus the
//! OS roots with feature `platform-roots`, plus any CA you add).
//!
//! # Example
//!
//! ```no_run
//! use std::sync::mpsc;
//! use std::time::Duration;
//! use websockets::{create_client_with, ClientOptions, IWebsocketClient, WebsocketType};
//!
//! fn main() -> Result<(), websockets::Error> {
//!     let (tx, rx) = mpsc::channel::<String>();
//!     let options = ClientOptions::new()
//!         .on_close(|code, reason| println!("closed: {code} {reason:?}"))
//!         .on_error(|err| eprintln!("connection error: {err}"));
//!     // Returns once the WebSocket handshake is done, or with an error naming what failed.
//!     let client = create_client_with(
//!         "wss://echo.websocket.example/",
//!         move |msg: &str| { let _ = tx.send(msg.to_owned()); }, // runs on the reader task
//!         WebsocketType::Secure,
//!         options,
//!     )?;
//!     client.send_websocket_message("hello")?; // queued, never blocks on the network
//!     let echo = rx.recv_timeout(Duration::from_secs(5)).expect("echo");
//!     println!("echo: {echo}");
//!     client.close(1000, "done")?; // or just drop it: that closes with 1000 in the background
//!     client.wait_closed(Duration::from_secs(5));
//!     Ok(())
//! }
//! ```
//!
//! Async code uses [`WebsocketClient::connect`] (handlers) or [`WebsocketClient::connect_stream`] (a
//! [`Stream`](futures_util::Stream) of [`Event`]s) and may send with backpressure through
//! [`WebsocketClient::send_text_async`]; a game loop uses a [`MessageQueue`] it drains each frame, and a
//! consumer thread blocks on [`MessageQueue::wait_pop`] / [`MessageQueue::pop_timeout`]. A client whose
//! events all go to a queue needs no text handler: [`create_client_with_options`].
//!
//! # Which thread runs what
//!
//! | code | runs on |
//! |---|---|
//! | `on_open`, `on_message` ([`OnMessage`]), `on_binary`, `on_pong`, `on_error`, `on_close` | the connection's **reader task**, on the runtime: the caller's tokio runtime when connected from inside one, else the process-wide runtime's threads named `websockets-rt` (2 workers) |
//! | [`MessageQueue`] events | the thread that calls [`MessageQueue::drain`] (e.g. the game thread) |
//! | [`Messages`] stream items | the task that polls the stream |
//! | sending, closing, dropping | the caller's thread queues the work; the connection's **writer task** does the I/O |
//! | a send from the connection's own handler (a reply) | queued by the handler; written by the **reader task** when the handler returns, before it waits for the next frame |
//!
//! Handlers of one connection run one at a time, in arrival order. A handler that blocks stalls only its
//! own connection's reading (and one runtime worker), so keep handlers short or hand work off (queue,
//! channel). A handler may call any method of its own client, including dropping it.
//!
//! **Replies from handlers.** All sends go through one queue, in the order they were accepted, and at most
//! one task writes at a time (the socket's write half is parked beside the queue and taken by whoever
//! writes). A send from another thread wakes the writer task, which feeds everything queued and flushes
//! once. A send made inside one of the connection's own handlers does not wake it: the reader task writes
//! the handlers' replies itself, when the next frame is not there yet (so the replies to frames that
//! arrived together share one write, and at the latest every 64 frames), without waiting on the socket:
//! what the socket does not take at once, and any close, is handed to the writer task. When the server
//! sets the pace (one message in flight), that is one task doing read-then-write, like a hand-written
//! async-tungstenite loop, instead of a writer wake-up and a task switch per reply. The cost: a handler
//! that blocks after sending delays its own reply until it returns (websocketpp, the gem's library, does
//! the same); a handler that fills more than half the send-queue bound writes what the socket takes
//! at once itself, so that a long burst drains while the handler runs. A handler must not *wait* for room
//! in its own send queue (sleep and retry on [`Error::SendQueueFull`]): with its worker blocked, tokio may
//! not poll the socket's readiness, so the queue can stay full; raise
//! [`ClientOptions::max_send_queue_bytes`] or hand the burst to another thread.
//!
//! # Guarantees
//!
//! - **Blocking:** [`create_client`] / [`create_client_with`] block until the handshake is done or fails
//!   (connect timeout 10 s by default). Nothing else blocks on the network: sends and closes queue work for
//!   the writer task; dropping a client starts a close handshake (code 1000) in the background, bounded by
//!   the close timeout (5 s), and returns at once, so dropping a client in its own handler cannot deadlock.
//! - **Runtimes:** no thread per connection. Called from inside a multi-thread tokio runtime, the connection
//!   runs on it (the blocking wait uses `block_in_place`); from inside a current-thread runtime, it runs on
//!   the process-wide runtime (no panic); async callers should use [`WebsocketClient::connect`].
//! - **Errors:** connecting fails with a typed [`Error`] naming the step: [`Error::InvalidUrl`],
//!   [`Error::UnsupportedScheme`], [`Error::SchemeMismatch`] (`ws://` with `Secure` or `wss://` with
//!   `NonSecure`: never a silent downgrade), [`Error::Dns`], [`Error::ConnectionRefused`],
//!   [`Error::Connect`], [`Error::Timeout`] (with the phase), [`Error::Tls`] (with a [`TlsErrorKind`] such as
//!   untrusted certificate or host-name mismatch, and rustls's reason), [`Error::UpgradeRejected`] (with the
//!   HTTP status). Later failures reach `on_error` / [`Event::Error`], and every connection ends with exactly
//!   one `on_close(code, reason)` (1006 when there was no close handshake).
//! - **Sends:** never truncated at NUL; bounded by [`ClientOptions::max_send_queue_bytes`] (an
//!   [`Error::SendQueueFull`] instead of unbounded memory); [`Error::Closed`] after a close started.
//!   The writer flushes only when its queue is drained, so bursts of small messages share syscalls; replies
//!   from handlers are written by the reader task (see "Replies from handlers" above).
//! - **Order up to the close:** every send that returned `Ok` before the connection failed or started
//!   closing (our close, a drop, a peer's protocol violation) is written, in order, before the close frame,
//!   unless the socket itself breaks; a send racing the close from another thread either returns `Ok` and
//!   is written, or returns [`Error::Closed`] and is not, however long the sender was paused. After a
//!   failure the client stops writing (a FIN after the close frame) and discards what the peer still sends
//!   until it hangs up (bounded by the close timeout), so the kernel never resets the connection and drops
//!   untransmitted data. One limit: a close started by the *peer* is answered by tungstenite at once, so
//!   messages still queued when the peer's close frame arrives are not sent (RFC 6455 allows either).
//! - **Replying from a handler vs. a queue:** a reply sent from `on_message` (which runs before the next
//!   frame is read) goes out before the close frame of a violation that follows the message. A
//!   [`MessageQueue`] or [`Messages`] consumer sees the message later, after the connection may already have
//!   failed, so its reply gets [`Error::Closed`]; Autobahn grades that NON-STRICT (3.2, 4.1.3, 4.1.5, ...).
//!   This is inherent to deferred delivery.
//! - **Receives:** messages are passed on without copying (the handler's `&str` borrows the received buffer);
//!   incoming messages are limited by [`ClientOptions::max_message_size`].
//! - **Thread safety:** [`WebsocketClient`] is `Send + Sync`; call it from any thread. A panicking handler is
//!   caught and reported as [`Error::HandlerPanicked`]; the connection keeps running.
//!
//! # Design decisions
//!
//! - **Connect returns when open.** [`create_client`] returns after the handshake (or a typed error), so no
//!   polling of `is_connection_open` is ever needed; the gem returned a client that might never open.
//! - **Two tasks per connection, no thread.** A reader task (runs handlers, writes their replies) and a
//!   writer task (writes everything else, pings, the close) on a shared runtime, taking turns on one send
//!   queue; the writer feeds all queued messages and flushes once the queue is empty, so bursts share
//!   syscalls. `TCP_NODELAY` is on.
//! - **Bounded everything.** Send queue in bytes ([`Error::SendQueueFull`], or wait with
//!   [`WebsocketClient::send_text_async`]); incoming message size; [`MessageQueue`] and [`Messages`] apply
//!   backpressure to the socket instead of dropping or growing.
//! - **Failing the connection the RFC way.** A peer sending invalid UTF-8, an oversized message or a
//!   protocol violation gets close code 1007 / 1009 / 1002 before the connection is dropped.
//! - **TLS is rustls 0.23 with ring, done by this crate** (not async-tungstenite's connector, not
//!   async-tls, which pins rustls 0.21 / rustls-webpki 0.101 with unfixed advisories), so rustls's reason
//!   reaches [`Error::Tls`]. The byte stream below the WebSocket layer is boxed, so a wrapper (e.g. early
//!   UTF-8 checks) can be slotted in at one place.
//! - **The bus is optional and cheap.** [`WebsocketsRequestBus`] is an id map in front of the same client,
//!   read through a per-thread snapshot (no lock, no atomic read-modify-write per call); the direct path
//!   never touches it.
//!
//! # The gem's API in Rust
//!
//! | Websockets gem (C++) | this crate |
//! |---|---|
//! | `WebsocketsRequestBus` / `CreateClient(url, fn, type)` | [`WebsocketsRequestBus::create_client`] → [`ClientId`], or [`create_client`] → [`WebsocketClient`] |
//! | `CreateClientWithAuth(url, fn, auth)` | [`create_client_with_auth`], [`ClientOptions::authorization`] |
//! | `IWebsocketClient` | [`IWebsocketClient`] (implemented by [`WebsocketClient`]) |
//! | `IsConnectionOpen()` | [`IWebsocketClient::is_connection_open`] |
//! | `SendWebsocketMessage(str)` | [`IWebsocketClient::send_websocket_message`] → `Result` |
//! | `SendWebsocketMessageBinary(ptr, len)` | [`IWebsocketClient::send_websocket_message_binary`] → `Result` |
//! | `CloseWebsocket()` | [`IWebsocketClient::close_websocket`], [`WebsocketClient::close`] (code, reason) |
//! | `OnMessage` | [`OnMessage`] (`Fn(&str)`), plus `on_binary`, `on_open`, `on_close`, `on_error` |
//! | `WebsocketType::{Secure, InSecure}` | [`WebsocketType::Secure`] (default), [`WebsocketType::NonSecure`] |
//! | `TickBus::QueueFunction` (in TwitchChatPlay) | [`MessageQueue`] |

#![warn(missing_docs)]

mod blocking;
mod bus;
mod client;
mod error;
mod options;
mod outbox;
mod queue;
mod runtime;
mod tls;
mod transport;
mod types;
mod utf8_guard;

// The workspace README's Rust example is compiled as a doc test, so it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeExample;

pub use async_tungstenite::tungstenite::{Bytes, Utf8Bytes};
pub use blocking::{
    IWebsocketClient, create_client, create_client_with, create_client_with_auth,
    create_client_with_options,
};
pub use bus::WebsocketsRequestBus;
pub use client::{CloseInfo, Messages, WebsocketClient};
pub use error::{ConnectPhase, Error, TlsErrorKind};
pub use options::{ClientOptions, OnMessage};
pub use queue::{Event, MessageQueue};
pub use runtime::{RUNTIME_THREAD_NAME, RUNTIME_WORKERS};
pub use types::{ClientId, WebsocketType};
