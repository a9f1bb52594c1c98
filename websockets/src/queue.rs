//! Game-loop delivery: [`MessageQueue`] collects a connection's [`Event`]s so a game loop can take them on
//! its own thread each frame (the gem's `TickBus::QueueFunction`), and [`Event`], the item type it holds.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

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
/// **Taking events:** a game loop calls [`drain`](Self::drain) or [`try_pop`](Self::try_pop) once per
/// frame (they never wait); any other thread waits with [`wait_pop`](Self::wait_pop) or
/// [`pop_timeout`](Self::pop_timeout) instead of polling with a sleep.
///
/// **Deferred delivery cannot answer before a violation:** a message taken from the queue is answered
/// after the reader task has moved on. When the peer follows a message with a protocol violation in the
/// same burst (Autobahn 3.2, 4.1.3, 4.1.5, ...), the connection is failed (close frame 1002) before the
/// consumer even sees the message, so its reply gets [`Error::Closed`](crate::Error::Closed): Autobahn grades
/// that NON-STRICT. A reply sent from [`on_message`](crate::ClientOptions::on_message), which runs on the
/// reader task before the next frame is read, goes out before the close frame.
///
/// ```no_run
/// use websockets::{create_client_with_options, ClientOptions, Event, MessageQueue, WebsocketType};
///
/// let queue = MessageQueue::new(1024);
/// // No handler: every event goes to the queue.
/// let client = create_client_with_options(
///     "wss://echo.example/",
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
    events: Mutex<Events>,
    capacity: usize,
    /// Wakes the reader task waiting for room.
    space: Notify,
    /// Wakes threads blocked in [`MessageQueue::wait_pop`] / [`MessageQueue::pop_timeout`].
    arrived: Condvar,
}

/// The queue's state under its mutex.
#[derive(Default)]
struct Events {
    queue: VecDeque<Event>,
    /// Threads blocked waiting for an event: a push signals the condition variable only when one waits,
    /// so the common case (a game loop that never waits) pays no wake-up syscall per message.
    waiting: usize,
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
                events: Mutex::new(Events::default()),
                capacity: capacity.max(1),
                space: Notify::new(),
                arrived: Condvar::new(),
            }),
        }
    }

    /// Takes every queued event, oldest first. Never blocks on the network; call it once per frame.
    pub fn drain(&self) -> std::collections::vec_deque::IntoIter<Event> {
        let taken = std::mem::take(&mut self.lock().queue);
        self.inner.space.notify_waiters();
        taken.into_iter()
    }

    /// Takes the oldest queued event, if any.
    pub fn try_pop(&self) -> Option<Event> {
        let event = self.lock().queue.pop_front();
        if event.is_some() {
            self.inner.space.notify_waiters();
        }
        event
    }

    /// Takes the oldest event, blocking the calling thread until one arrives. For a consumer thread that
    /// is not a game loop. Every connection's last event is [`Event::Closed`], so a consumer of one
    /// connection stops there; with no connection filling the queue it waits forever (see
    /// [`pop_timeout`](Self::pop_timeout)). Do not call it from a handler or a task on the runtime that
    /// fills the queue.
    ///
    /// ```no_run
    /// use websockets::{create_client_with_options, ClientOptions, Event, MessageQueue, WebsocketType};
    ///
    /// let queue = MessageQueue::new(256);
    /// let client = create_client_with_options(
    ///     "wss://chat.example/",
    ///     WebsocketType::Secure,
    ///     ClientOptions::new().queue(&queue),
    /// )?;
    /// let consumer = std::thread::spawn(move || loop {
    ///     match queue.wait_pop() {
    ///         Event::Text(line) => println!("{}", &*line),
    ///         Event::Closed { code, .. } => break code,
    ///         _ => {}
    ///     }
    /// });
    /// client.send_text("hello")?;
    /// # drop(client);
    /// let code = consumer.join().unwrap();
    /// # Ok::<(), websockets::Error>(())
    /// ```
    pub fn wait_pop(&self) -> Event {
        let mut events = self.lock();
        loop {
            if let Some(event) = events.queue.pop_front() {
                drop(events);
                self.inner.space.notify_waiters();
                return event;
            }
            events.waiting += 1;
            events = self
                .inner
                .arrived
                .wait(events)
                .unwrap_or_else(|p| p.into_inner());
            events.waiting -= 1;
        }
    }

    /// Takes the oldest event, waiting at most `timeout` for one to arrive; `None` if none came in time.
    ///
    /// ```
    /// use std::time::Duration;
    /// use websockets::MessageQueue;
    ///
    /// let queue = MessageQueue::new(16);
    /// // Nothing connected: the wait ends empty-handed after the timeout.
    /// assert!(queue.pop_timeout(Duration::from_millis(10)).is_none());
    /// ```
    pub fn pop_timeout(&self, timeout: Duration) -> Option<Event> {
        let deadline = Instant::now().checked_add(timeout);
        let mut events = self.lock();
        loop {
            if let Some(event) = events.queue.pop_front() {
                drop(events);
                self.inner.space.notify_waiters();
                return Some(event);
            }
            // A timeout too large to represent waits like `wait_pop`.
            let left = match deadline {
                Some(deadline) => deadline.checked_duration_since(Instant::now())?,
                None => Duration::MAX,
            };
            if left.is_zero() {
                return None;
            }
            events.waiting += 1;
            let (guard, _) = self
                .inner
                .arrived
                .wait_timeout(events, left)
                .unwrap_or_else(|p| p.into_inner());
            events = guard;
            events.waiting -= 1;
        }
    }

    /// Number of queued events.
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    /// Whether no event is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bound given to [`new`](Self::new).
    pub fn capacity(&self) -> usize {
        self.inner.capacity
    }

    fn lock(&self) -> MutexGuard<'_, Events> {
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
                if events.queue.len() < self.inner.capacity {
                    events.queue.push_back(event);
                    let waiting = events.waiting > 0;
                    drop(events);
                    if waiting {
                        self.inner.arrived.notify_one();
                    }
                    return;
                }
            }
            notified.await;
        }
    }

    /// Adds `event` even if the queue is full (for the few `Error`/`Closed` events that end a connection).
    pub(crate) fn push_final(&self, event: Event) {
        let mut events = self.lock();
        events.queue.push_back(event);
        let waiting = events.waiting > 0;
        drop(events);
        if waiting {
            self.inner.arrived.notify_one();
        }
    }
}
