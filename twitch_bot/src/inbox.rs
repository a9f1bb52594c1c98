//! The hand-off of received text from a socket's handlers to the driver: one buffer per connection,
//! taken by the driver a batch at a time.
//!
//! The `OnMessage` handler appends each frame (and a line break) to one shared buffer; the driver takes the
//! whole buffer at once and swaps in the emptied one it handled before. So in steady state there is no
//! allocation per frame and one wake-up per batch, however many frames arrived meanwhile. At most
//! [`INBOX_BYTES`] (plus one frame) wait; a handler that finds the buffer full waits for the driver, off the
//! scheduler (`block_in_place`), so the socket is not read and TCP slows the server down. Nothing is dropped
//! on a multi-thread runtime (the bot's); only a handler on a current-thread runtime, which cannot wait
//! there, drops a frame with a warning.

use std::sync::Arc;

use tracing::warn;

/// Largest WebSocket message accepted from the server (Twitch frames are a few KiB): the connection is opened
/// with this limit, so one frame never adds more than this to an inbox.
pub const MAX_FRAME: usize = 128 * 1024;

/// Bytes of received text buffered between a socket's reader task and the driver (plus at most one frame):
/// when that much waits, the `OnMessage` handler waits for the driver, and the socket is not read.
pub const INBOX_BYTES: usize = 256 * 1024;

/// A new inbox: the driver's end, and a first handler's end (clone it for more handlers).
pub(crate) fn channel() -> (InboxReceiver, Feed) {
    let inbox = Arc::new(Inbox {
        state: std::sync::Mutex::new(InboxState::default()),
        ready: tokio::sync::Notify::new(),
        room: std::sync::Condvar::new(),
    });
    inbox.lock().feeds = 1;
    (
        InboxReceiver {
            inbox: inbox.clone(),
            spare: String::new(),
        },
        Feed(inbox),
    )
}

/// What the socket's handlers pass to the driver.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// One or more text frames, each followed by `\r\n` (a batch the session splits into lines).
    Frame(String),
    /// The connection closed with this code and reason.
    Closed {
        /// The close code (1006 without a close handshake).
        code: u16,
        /// The close reason.
        reason: String,
    },
    /// The connection failed.
    Error(String),
}

/// Text frames from one socket's handlers to the driver (see the module docs).
pub(crate) struct Inbox {
    state: std::sync::Mutex<InboxState>,
    /// Wakes the driver: text arrived in an empty buffer, the end arrived, or a handler was dropped.
    ready: tokio::sync::Notify,
    /// Wakes a handler waiting for room.
    room: std::sync::Condvar,
}

#[derive(Default)]
struct InboxState {
    text: String,
    /// A close or error, delivered after the text before it.
    end: Option<Incoming>,
    /// Live handlers ([`Feed`]s): none left and nothing buffered means the connection is over.
    feeds: usize,
    /// The driver dropped its end: handlers stop buffering.
    closed: bool,
}

impl Inbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, InboxState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A handler's end of an [`Inbox`].
pub(crate) struct Feed(Arc<Inbox>);

impl Feed {
    /// Appends a frame, waiting for room when the driver is behind.
    pub(crate) fn frame(&self, frame: &str) {
        let inbox = &*self.0;
        let mut s = inbox.lock();
        if s.text.len() >= INBOX_BYTES && !s.closed {
            let full = |s: &mut InboxState| s.text.len() >= INBOX_BYTES && !s.closed;
            let wait = |s| {
                inbox
                    .room
                    .wait_while(s, full)
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
            };
            s = match tokio::runtime::Handle::try_current() {
                // The websockets runtime is multi-threaded: wait here, off the runtime's scheduler.
                Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                    tokio::task::block_in_place(|| wait(s))
                }
                Ok(_) => {
                    warn!("inbox full on a current-thread runtime; a frame was dropped");
                    return;
                }
                Err(_) => wait(s),
            };
        }
        if s.closed {
            return;
        }
        let wake = s.text.is_empty();
        s.text.push_str(frame);
        s.text.push_str("\r\n");
        drop(s);
        if wake {
            inbox.ready.notify_one();
        }
    }

    /// The connection closed or failed (the first end counts).
    pub(crate) fn end(&self, item: Incoming) {
        self.0.lock().end.get_or_insert(item);
        self.0.ready.notify_one();
    }
}

impl Clone for Feed {
    /// Another handler's end (each of `on_message`, `on_close` and `on_error` holds one).
    fn clone(&self) -> Feed {
        self.0.lock().feeds += 1;
        Feed(self.0.clone())
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.0.lock().feeds -= 1;
        self.0.ready.notify_one();
    }
}

/// The driver's end of an [`Inbox`].
pub(crate) struct InboxReceiver {
    inbox: Arc<Inbox>,
    /// An emptied buffer, swapped in at the next take (keeps its capacity).
    spare: String,
}

impl InboxReceiver {
    /// The next batch of frames, then the close or error; `None` once the handlers are gone.
    /// Cancel-safe: nothing is taken unless it is returned.
    pub(crate) async fn recv(&mut self) -> Option<Incoming> {
        loop {
            let notified = self.inbox.ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut s = self.inbox.lock();
                if !s.text.is_empty() {
                    let mut batch = std::mem::take(&mut self.spare);
                    std::mem::swap(&mut s.text, &mut batch);
                    drop(s);
                    self.inbox.room.notify_all();
                    return Some(Incoming::Frame(batch));
                }
                if let Some(end) = s.end.take() {
                    return Some(end);
                }
                if s.feeds == 0 {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// Gives a handled batch back, so its capacity is reused.
    pub(crate) fn recycle(&mut self, mut batch: String) {
        if batch.capacity() <= 2 * INBOX_BYTES + MAX_FRAME {
            batch.clear();
            self.spare = batch;
        }
    }
}

impl Drop for InboxReceiver {
    fn drop(&mut self) {
        let mut s = self.inbox.lock();
        s.closed = true;
        s.text = String::new();
        drop(s);
        self.inbox.room.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn inbox() -> (Arc<Inbox>, InboxReceiver, Feed) {
        let (rx, feed) = channel();
        (rx.inbox.clone(), rx, feed)
    }

    fn text(i: Option<Incoming>) -> String {
        match i {
            Some(Incoming::Frame(f)) => f,
            other => panic!("expected frames, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn frames_come_as_one_batch_then_the_end_then_none() {
        let (_inbox, mut rx, feed) = inbox();
        let feed_end = feed.clone();
        feed.frame("PING :a");
        feed.frame("line 1\r\nline 2\r\n");
        feed_end.end(Incoming::Closed {
            code: 1000,
            reason: String::new(),
        });
        // The text read before the close comes first, as one batch; each frame ends with a line break.
        let batch = text(rx.recv().await);
        assert_eq!(batch, "PING :a\r\nline 1\r\nline 2\r\n\r\n");
        let cap = batch.capacity();
        rx.recycle(batch);
        assert!(matches!(
            rx.recv().await,
            Some(Incoming::Closed { code: 1000, .. })
        ));
        // Two buffers alternate: the recycled one is swapped into the inbox at the next take and filled
        // after it, so once both have grown nothing is allocated per frame.
        feed.frame("again");
        let batch = text(rx.recv().await);
        assert_eq!(batch, "again\r\n");
        rx.recycle(batch);
        feed.frame("third");
        let batch = text(rx.recv().await);
        assert_eq!(batch, "third\r\n");
        assert_eq!(batch.capacity(), cap, "the first buffer, reused");
        drop((feed, feed_end));
        assert!(rx.recv().await.is_none(), "no handlers left: the end");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_inbox_makes_the_handler_wait_and_loses_nothing() {
        let (_inbox, mut rx, feed) = inbox();
        let frame = "x".repeat(64 * 1024);
        let frames = 40; // 2.5 MiB through a 256 KiB inbox
        let writer = tokio::spawn(async move {
            for _ in 0..frames {
                feed.frame(&frame);
            }
        });
        let mut got = 0;
        let mut max_batch = 0;
        while got < frames * (64 * 1024 + 2) {
            let batch = text(rx.recv().await);
            max_batch = max_batch.max(batch.len());
            got += batch.len();
            rx.recycle(batch);
        }
        assert_eq!(got, frames * (64 * 1024 + 2));
        assert!(
            max_batch <= INBOX_BYTES + 64 * 1024 + 2,
            "bounded: {max_batch}"
        );
        writer.await.unwrap();
        assert!(rx.recv().await.is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_waiting_handler_is_released_when_the_driver_drops_its_end() {
        let (inbox, rx, feed) = inbox();
        let big = "y".repeat(INBOX_BYTES);
        let writer = tokio::spawn(async move {
            feed.frame(&big);
            feed.frame(&big); // waits: the inbox is full
        });
        // Once the first frame is in, the second one waits (or is about to).
        while inbox.lock().text.len() < INBOX_BYTES {
            tokio::task::yield_now().await;
        }
        drop(rx);
        tokio::time::timeout(std::time::Duration::from_secs(10), writer)
            .await
            .expect("the handler returns once the driver's end is gone")
            .unwrap();
        assert!(inbox.lock().text.is_empty());
    }
}
