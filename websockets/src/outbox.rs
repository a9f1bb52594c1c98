//! The send queue of one connection, and the socket's write half parked beside it.
//!
//! # Who writes
//!
//! Every send, close and failure becomes a [`Command`] in one FIFO queue, so sends are written in the
//! order they were accepted, whoever writes them. The write half of the socket ([`WsSender`]) is parked
//! in the outbox while nobody writes; a task that wants to write [`take`](Outbox::take)s it together with
//! the queued commands, and gives it back with [`put_back`](Outbox::put_back), which hands it back only
//! when the queue is empty (otherwise the caller gets the new commands and keeps writing). So at any time
//! at most one task writes, and a command queued while someone writes is written by that someone: no
//! command waits for a wake-up that never comes.
//!
//! Two tasks write:
//!
//! - The **writer task**, woken by a send from any thread (once per batch: a send that finds the writer
//!   already woken or writing does not wake it again). It writes everything queued, flushes once the
//!   queue is drained, and owns the close: only it writes the close frame.
//! - The **reader task**, for sends made by the connection's own handlers (`on_message` replying to a
//!   message). Those do not wake the writer: the reader writes them itself when it is about to wait for
//!   the next frame, without waiting on the socket (a non-blocking attempt). When the socket cannot take
//!   everything at once, or a close is queued, the reader [`hand_over`](Outbox::hand_over)s the rest to
//!   the writer task. This saves the writer's wake-up and a task switch per reply, which is most of a
//!   client's cost when the server sets the pace (one message in flight). A handler's reply is thus
//!   written when the handler returns, as websocketpp (the gem's library) does. A handler that queues
//!   more than half of the send-queue bound writes what the socket takes at once itself, so a long
//!   burst from a handler drains while it runs (waking the writer task would not help: tokio runs a
//!   task woken from a worker on that worker, which the handler keeps busy).
//!
//! # The close
//!
//! [`close`](Outbox::close) refuses new commands and returns the queued ones, atomically: a command is
//! either queued before (and the closing writer writes it before the close frame) or refused (the send
//! returns `Error::Closed`). When the writer task ends, [`shut`](Outbox::shut) drops the queue and the
//! write half, so the socket is released even while client handles live on.

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use async_tungstenite::tungstenite::Message;
use async_tungstenite::tungstenite::protocol::CloseFrame;

use crate::transport::{WsReceiver, WsSender};

/// One unit of work for whoever writes.
pub(crate) enum Command {
    /// A message, and what it counts in the send queue (released once it is fed to the socket).
    Send(Message, usize),
    /// Start the close handshake with this frame (written after every send queued before it).
    Close(Option<CloseFrame>),
    /// Fail the connection (RFC 6455 7.1.7): send this close frame if possible, then end the TCP
    /// connection cleanly; carries the reader's half of the socket for that.
    Fail(CloseFrame, WsReceiver),
}

/// The queue and the parked write half, under one lock (held only to move things in and out, never
/// across a write).
struct Inner {
    items: VecDeque<Command>,
    /// The write half, when nobody is writing.
    sink: Option<WsSender>,
    /// No command is accepted any more (the close started, or the writer task ended).
    closed: bool,
    /// The writer task ended: nothing will write again, so a returned write half is dropped.
    gone: bool,
    /// The writer task was woken and has not taken the work yet: senders need not wake it again.
    woken: bool,
    /// The write half holds fed bytes that were not flushed (left by a handed-over reader write).
    unflushed: bool,
}

/// A connection's send queue and parked write half (see the module docs).
pub(crate) struct Outbox {
    inner: Mutex<Inner>,
    /// Wakes the writer task (a permit is kept if it is not waiting yet, so no wake-up is lost).
    pub(crate) wake: tokio::sync::Notify,
    /// A handler queued a send without waking the writer: the reader task must write it.
    deferred: AtomicBool,
}

thread_local! {
    /// The outbox whose connection's handler runs on this thread now (its address; 0 for none).
    static HANDLER_OF: Cell<usize> = const { Cell::new(0) };
}

/// Marks the current thread as running one of a connection's handlers, until dropped.
pub(crate) struct HandlerScope {
    previous: usize,
}

impl Drop for HandlerScope {
    fn drop(&mut self) {
        HANDLER_OF.with(|h| h.set(self.previous));
    }
}

impl Outbox {
    /// A new outbox holding the connection's write half.
    pub(crate) fn new(sink: WsSender) -> Outbox {
        Outbox {
            inner: Mutex::new(Inner {
                items: VecDeque::new(),
                sink: Some(sink),
                closed: false,
                gone: false,
                woken: false,
                unflushed: false,
            }),
            wake: tokio::sync::Notify::new(),
            deferred: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing panics while the lock is held (moves and pushes only), so a poisoned lock is whole.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn address(&self) -> usize {
        self as *const Outbox as usize
    }

    /// Runs the rest of the caller's scope as this connection's handler: sends made through this outbox
    /// from this thread until the scope ends are left for the reader task to write.
    pub(crate) fn enter_handler(&self) -> HandlerScope {
        HandlerScope {
            previous: HANDLER_OF.with(|h| h.replace(self.address())),
        }
    }

    /// True when the current thread runs one of this connection's handlers.
    pub(crate) fn in_own_handler(&self) -> bool {
        HANDLER_OF.with(|h| h.get() == self.address())
    }

    /// Whether a handler queued a send for the reader to write since the last call (and clears it).
    pub(crate) fn take_deferred(&self) -> bool {
        self.deferred.load(Ordering::Relaxed) && self.deferred.swap(false, Ordering::Relaxed)
    }

    /// Queues a command; `wake` says whether to wake the writer task (needed unless the caller is the
    /// connection's reader, which then writes it itself). Gives the command back if the outbox is closed.
    pub(crate) fn push(&self, command: Command, wake: bool) -> Result<(), Command> {
        let mut inner = self.lock();
        if inner.closed {
            return Err(command);
        }
        inner.items.push_back(command);
        let notify = wake && inner.sink.is_some() && !inner.woken;
        if notify {
            inner.woken = true;
        }
        drop(inner);
        if notify {
            self.wake.notify_one();
        } else if !wake {
            self.deferred.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Takes the write half and every queued command (moved into `batch`, which must be empty) when
    /// nobody writes and there is work; `None` otherwise (whoever writes will write what is queued).
    pub(crate) fn take(&self, batch: &mut VecDeque<Command>) -> Option<WsSender> {
        let mut inner = self.lock();
        inner.woken = false;
        if inner.sink.is_none() || (inner.items.is_empty() && !inner.unflushed) {
            return None;
        }
        inner.unflushed = false;
        std::mem::swap(&mut inner.items, batch);
        inner.sink.take()
    }

    /// For a task holding the write half: moves the commands queued meanwhile into `batch` (empty);
    /// false when there were none.
    pub(crate) fn refill(&self, batch: &mut VecDeque<Command>) -> bool {
        let mut inner = self.lock();
        if inner.items.is_empty() {
            return false;
        }
        std::mem::swap(&mut inner.items, batch);
        true
    }

    /// Parks the write half (everything written and flushed) unless commands were queued meanwhile: then
    /// they are moved into `batch` (empty) and the write half is returned to keep writing.
    pub(crate) fn put_back(
        &self,
        sink: WsSender,
        batch: &mut VecDeque<Command>,
    ) -> Option<WsSender> {
        let mut inner = self.lock();
        if !inner.items.is_empty() {
            std::mem::swap(&mut inner.items, batch);
            return Some(sink);
        }
        if !inner.gone {
            inner.sink = Some(sink);
        }
        None
    }

    /// For the reader: gives the write half and the commands it did not write (`rest`, in order, ahead
    /// of anything queued since) to the writer task, which also flushes what was fed.
    pub(crate) fn hand_over(&self, sink: WsSender, mut rest: VecDeque<Command>) {
        let mut inner = self.lock();
        if inner.gone {
            return;
        }
        rest.append(&mut inner.items);
        inner.items = rest;
        inner.sink = Some(sink);
        inner.unflushed = true;
        inner.woken = true;
        drop(inner);
        self.wake.notify_one();
    }

    /// Refuses every later command and returns the queued ones (for the writer writing the close).
    pub(crate) fn close(&self) -> VecDeque<Command> {
        let mut inner = self.lock();
        inner.closed = true;
        std::mem::take(&mut inner.items)
    }

    /// The writer task ended: refuse commands, drop the queued ones and the parked write half.
    pub(crate) fn shut(&self) {
        let (items, sink) = {
            let mut inner = self.lock();
            inner.closed = true;
            inner.gone = true;
            (std::mem::take(&mut inner.items), inner.sink.take())
        };
        // Dropped outside the lock (a dropped command may hold the reader's half of the socket).
        drop((items, sink));
    }

    /// True once no command is accepted any more.
    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }
}
