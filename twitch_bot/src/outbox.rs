//! The bounded path from the driver to the event reader, and its policy when the reader falls behind.
//!
//! Events go through a bounded channel of [`EVENT_QUEUE`] events to the reader (stdout writer thread, or the
//! game's [`crate::bot::Bot`] handle). When it is full:
//!
//! - `input` and `command` events (high volume, superseded quickly) and `tally` events (a live tally is
//!   superseded by the next one; a game that needs one now asks again) are **dropped and counted**; when room
//!   frees up, one `{"type":"dropped","count":N}` event reports how many, before any later event;
//! - every other event (`vote_opened`, `vote_closed`, connection events, errors) is **kept** in a backlog of
//!   [`BACKLOG`] events and delivered in order. While the backlog is full the driver stops reading chat
//!   (TCP flow control slows the server down), so no result is ever lost;
//! - once the backlog is full, `error` events (answers to stdin lines or `Bot` calls the game keeps sending)
//!   are dropped and counted too, so a game that writes requests but never reads cannot grow it. What can
//!   still join a full backlog is bounded by time, not by traffic: at most two events per vote round
//!   (`vote_opened`, `vote_closed`) and the connection events of reconnects (at most one attempt a minute
//!   once the backoff has grown).

use std::collections::VecDeque;

use tokio::sync::mpsc;

use crate::events::Event;

/// Capacity of the channel to the reader, in events.
pub const EVENT_QUEUE: usize = 1024;
/// Most never-dropped events held back while the channel is full; beyond this the driver pauses reading chat.
pub const BACKLOG: usize = 4096;

/// The driver's end: emit events without blocking, then [`Outbox::flush`] when the channel has room.
#[derive(Debug)]
pub struct Outbox {
    tx: mpsc::Sender<Event>,
    backlog: VecDeque<Event>,
    dropped: u64,
    dropped_total: u64,
    /// Events put into the channel so far.
    sent: u64,
}

impl Outbox {
    /// An outbox and the reader's receiver.
    pub fn channel() -> (Outbox, mpsc::Receiver<Event>) {
        let (tx, rx) = mpsc::channel(EVENT_QUEUE);
        (
            Outbox {
                tx,
                backlog: VecDeque::new(),
                dropped: 0,
                dropped_total: 0,
                sent: 0,
            },
            rx,
        )
    }

    /// Queues `event` following the policy above. Never blocks.
    pub fn emit(&mut self, event: Event) {
        if self.backlog.is_empty() && self.dropped == 0 {
            match self.tx.try_send(event) {
                Ok(()) => self.sent += 1,
                Err(mpsc::error::TrySendError::Full(event)) => self.hold(event),
                // The reader is gone (the game dropped its receiver): nothing to deliver to.
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        } else {
            self.hold(event);
        }
    }

    fn hold(&mut self, event: Event) {
        let full = self.backlog.len() >= BACKLOG;
        if event.is_droppable() || (full && matches!(event, Event::Error { .. })) {
            self.dropped += 1;
            self.dropped_total += 1;
        } else {
            self.backlog.push_back(event);
        }
    }

    /// True while events wait for room (the driver should call [`Outbox::flush`] when the channel has room).
    pub fn is_pending(&self) -> bool {
        !self.backlog.is_empty() || self.dropped > 0
    }

    /// True when the backlog is full: the driver should stop taking in chat until it drains.
    pub fn is_backlogged(&self) -> bool {
        self.backlog.len() >= BACKLOG
    }

    /// Events waiting for room (held back, plus one `dropped` report if drops are pending).
    pub fn pending(&self) -> usize {
        self.backlog.len() + usize::from(self.dropped > 0)
    }

    /// Events dropped since the start.
    pub fn dropped_total(&self) -> u64 {
        self.dropped_total
    }

    /// How many events the reader will have received once everything emitted so far is delivered: the
    /// events already put into the channel plus those waiting. The local server numbers the events it sees
    /// the same way, so a snapshot taken now is followed exactly by the events numbered above this.
    pub fn sequence(&self) -> u64 {
        self.sent + self.pending() as u64
    }

    /// Moves waiting events into the channel while it has room; returns without waiting.
    pub fn flush(&mut self) {
        while self.is_pending() {
            let Ok(permit) = self.tx.try_reserve() else {
                if self.tx.is_closed() {
                    self.backlog.clear();
                    self.dropped = 0;
                }
                return;
            };
            self.sent += 1;
            if self.dropped > 0 {
                permit.send(Event::Dropped {
                    count: self.dropped,
                });
                self.dropped = 0;
            } else if let Some(event) = self.backlog.pop_front() {
                permit.send(event);
            }
        }
    }

    /// Waits until the channel has room for one event (or the reader is gone). For `select!` in the driver.
    pub async fn room(&self) {
        if let Ok(permit) = self.tx.reserve().await {
            drop(permit);
        }
    }

    /// Delivers everything still waiting, waiting for room as needed (used at shutdown).
    pub async fn drain(&mut self) {
        while self.is_pending() && !self.tx.is_closed() {
            self.room().await;
            self.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(n: u32) -> Event {
        Event::Input {
            vote: "v".into(),
            input: "up".into(),
            repeat: n,
            user: "u".into(),
            user_id: "1".into(),
        }
    }

    fn closed(round: u64) -> Event {
        Event::VoteClosed {
            vote: "v".into(),
            round,
            winner: None,
            tally: Default::default(),
            voters: 0,
            refused_ballots: 0,
            weighted: None,
        }
    }

    #[test]
    fn full_queue_drops_inputs_keeps_results_and_reports_drops_in_order() {
        let (mut out, mut rx) = Outbox::channel();
        for i in 0..EVENT_QUEUE as u32 {
            out.emit(input(i));
        }
        out.emit(input(9999));
        out.emit(closed(1));
        out.emit(input(10000));
        out.emit(closed(2));
        assert_eq!(out.dropped_total(), 2);
        // The reader catches up.
        for i in 0..EVENT_QUEUE as u32 {
            assert_eq!(rx.try_recv().unwrap(), input(i));
        }
        out.flush();
        assert_eq!(rx.try_recv().unwrap(), Event::Dropped { count: 2 });
        assert_eq!(rx.try_recv().unwrap(), closed(1));
        assert_eq!(rx.try_recv().unwrap(), closed(2));
        assert!(rx.try_recv().is_err());
        assert!(!out.is_pending());
    }

    #[test]
    fn full_queue_drops_live_tallies_too() {
        let (mut out, mut rx) = Outbox::channel();
        for i in 0..EVENT_QUEUE as u32 {
            out.emit(input(i));
        }
        let live = Event::Tally {
            vote: "v".into(),
            round: 1,
            open: true,
            tally: Default::default(),
            voters: 0,
            remaining_ms: 100,
            weighted: None,
        };
        out.emit(live.clone());
        out.emit(closed(1));
        assert_eq!(out.dropped_total(), 1);
        while rx.try_recv().is_ok() {}
        out.flush();
        assert_eq!(rx.try_recv().unwrap(), Event::Dropped { count: 1 });
        assert_eq!(rx.try_recv().unwrap(), closed(1));
        // With room, a tally is delivered like any event.
        out.emit(live.clone());
        assert_eq!(rx.try_recv().unwrap(), live);
    }

    #[test]
    fn backlog_is_bounded_signal() {
        let (mut out, _rx) = Outbox::channel();
        for r in 0..(EVENT_QUEUE + BACKLOG) as u64 {
            out.emit(closed(r));
        }
        assert!(out.is_backlogged());
    }

    #[test]
    fn a_full_backlog_drops_errors_but_keeps_results() {
        let (mut outbox, mut rx) = Outbox::channel();
        for i in 0..EVENT_QUEUE + BACKLOG {
            outbox.emit(closed(i as u64));
        }
        assert!(outbox.is_backlogged());
        // A game that keeps sending bad requests while not reading: their answers do not grow the backlog.
        for _ in 0..10_000 {
            outbox.emit(Event::error("bad_control", "x"));
        }
        assert_eq!(
            outbox.pending(),
            BACKLOG + 1,
            "the backlog plus one `dropped` report"
        );
        // A result still joins the backlog: it is never dropped.
        outbox.emit(closed(u64::MAX));
        assert_eq!(outbox.pending(), BACKLOG + 2);
        // Everything comes out in order once the reader catches up, with the drop counted.
        let mut rounds = Vec::new();
        let mut dropped = 0;
        while outbox.is_pending() || !rx.is_empty() {
            while let Ok(e) = rx.try_recv() {
                match e {
                    Event::VoteClosed { round, .. } => rounds.push(round),
                    Event::Dropped { count } => dropped += count,
                    other => panic!("unexpected {other:?}"),
                }
            }
            outbox.flush();
        }
        assert_eq!(dropped, 10_000);
        assert_eq!(rounds.len(), EVENT_QUEUE + BACKLOG + 1);
        assert_eq!(rounds.last(), Some(&u64::MAX));
    }
}
