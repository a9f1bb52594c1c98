//! Game-loop delivery: [`MessageQueue`] collects a connection's [`Event`]s so a game loop can take them on
//! its own thread each frame (the gem's `TickBus::QueueFunction`), and [`Event`], the item type it holds.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use async_tungstenite::tungstenite::{Bytes, Utf8Bytes};
use tokio::sync::Notify;

use crate::error::Error;

/// Something that happened on a connection, as delivered to a [`MessageQueue`] or a
/// [`Messages`](crate::Messages) stream.
///
/// Text and binary payloads are the received buffers themselves (reference-counted, not copied).
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// The connection is open (always the first event).
    Open,
    /// A text message. `Utf8Bytes` derefs to `&str`.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
    /// An error after the connection opened (see [`ClientOptions::on_error`](crate::ClientOptions::on_error)).
    Error(Arc<Error>),
    /// The connection ended (always the last event), with the peer's close code and reason, or 1006 when it
    /// ended without a close handshake.
    Closed {
        /// The close code.
        code: u16,
        /// The close reason.
        reason: String,
    },
}

/// A bounded queue of [`Event`]s that a connection's reader task fills and a game loop drains each frame.
///
/// **Policy when full:** nothing is dropped. The connection's reader task waits until the queue has room
/// again, so the socket is not read meanwhile and TCP flow control slows the peer down (backpressure). A
/// game that stops draining therefore stalls its connection (pongs included, so with a
/// [`ping_interval`](crate::ClientOptions::ping_interval) a stall longer than two intervals ends the
/// connection with [`Error::KeepAliveTimeout`](crate::Error::KeepAliveTimeout)), but never loses a message
/// and never grows memory without bound. `Closed` and `Error` events are always added, even past
/// the bound (at most a few per connection, with the one message the reader held when a timeout ended its
/// wait), so the end of a connection is never lost.
///
/// One queue may be shared by several connections; the events do not say which connection they came from,
/// so use one queue per connection if you need to tell them apart.
///
/// ```no_run
/// use websockets::{create_client_with, ClientOptions, Event, MessageQueue, WebsocketType};
///
/// let queue = MessageQueue::new(1024);
/// let client = create_client_with(
///     "wss://echo.example/",
///     |_msg: &str| {}, // runs on the reader task; the queue gets the message too
///     WebsocketType::Secure,
///     ClientOptions::new().queue(&queue),
/// )?;
/// loop {
///     // once per frame, on the game thread:
///     for event in queue.drain() {
///         match event {
///             Event::Text(text) => println!("chat: {}", &*text),
///             Event::Closed { code, reason } => { println!("closed {code} {reason}"); return Ok(()); }
///             _ => {}
///         }
///     }
///     # break;
/// }
/// # drop(client);
/// # Ok::<(), websockets::Error>(())
/// ```
#[derive(Clone)]
pub struct MessageQueue {
    inner: Arc<Inner>,
}

struct Inner {
    events: Mutex<VecDeque<Event>>,
    capacity: usize,
    space: Notify,
}

impl std::fmt::Debug for MessageQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageQueue")
            .field("len", &self.len())
            .field("capacity", &self.inner.capacity)
            .finish()
    }
}

impl MessageQueue {
    /// A queue holding at most `capacity` events (at least 1).
    pub fn new(capacity: usize) -> Self {
        MessageQueue {
            inner: Arc::new(Inner {
                events: Mutex::new(VecDeque::new()),
                capacity: capacity.max(1),
                space: Notify::new(),
            }),
        }
    }

    /// Takes every queued event, oldest first. Never blocks on the network; call it once per frame.
    pub fn drain(&self) -> std::collections::vec_deque::IntoIter<Event> {
        let taken = std::mem::take(&mut *self.lock());
        self.inner.space.notify_waiters();
        taken.into_iter()
    }

    /// Takes the oldest queued event, if any.
    pub fn try_pop(&self) -> Option<Event> {
        let event = self.lock().pop_front();
        if event.is_some() {
            self.inner.space.notify_waiters();
        }
        event
    }

    /// Number of queued events.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no event is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bound given to [`new`](Self::new).
    pub fn capacity(&self) -> usize {
        self.inner.capacity
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Event>> {
        // A panic while holding this lock cannot leave the deque inconsistent, so poisoning is ignored.
        self.inner.events.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `event`, waiting while the queue is full (backpressure on the reader task).
    pub(crate) async fn push(&self, event: Event) {
        loop {
            let notified = self.inner.space.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut events = self.lock();
                if events.len() < self.inner.capacity {
                    events.push_back(event);
                    return;
                }
            }
            notified.await;
        }
    }

    /// Adds `event` even if the queue is full (for the few `Error`/`Closed` events that end a connection).
    pub(crate) fn push_final(&self, event: Event) {
        self.lock().push_back(event);
    }
}
