//! The fan-out from the bot's event stream to the `/ws` clients: numbered events, one bounded queue per
//! client, coalesced live tallies.
//!
//! The stdout writer shows every event to [`Hub::publish`] (an [`crate::stdio::EventTap`]), which numbers it
//! (1, 2, ...: the same count as [`crate::outbox::Outbox::sequence`]), serialises it once and appends it to
//! every client's queue. A new client is registered *before* the driver takes its snapshot, and the snapshot
//! says how many events it already reflects (`after`): the client's writer skips the events numbered up to
//! that and sends the rest, so a client sees the snapshot and then every later event exactly once, in order,
//! whatever the race between the two.
//!
//! Live tallies polled from the driver carry the number of their snapshot too; they are handed to clients
//! only once the events before them were, and per vote the latest replaces an unsent older one.
//!
//! Nothing here blocks the stdout thread: a queue past its bound is dropped, its client marked slow, and its
//! connection task closes the socket with 1008.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::events::Event;

/// Most events queued for one client before it counts as too slow and is closed.
pub const CLIENT_QUEUE_EVENTS: usize = 4096;
/// Most bytes queued for one client before it counts as too slow and is closed.
pub const CLIENT_QUEUE_BYTES: usize = 8 * 1024 * 1024;

/// What a client's queue holds.
#[derive(Debug, Clone)]
pub enum Item {
    /// An event from the bot's stream, as JSON.
    Event(Arc<str>),
    /// The latest live tally of the vote (taken from the queue's tally slots when sent).
    Tally(Arc<str>),
    /// A message for this client only (a reply), never skipped.
    Direct(String),
}

/// One client's queue.
#[derive(Debug, Default)]
pub struct Queue {
    items: VecDeque<(u64, Item)>,
    /// Latest unsent live tally per vote.
    tallies: HashMap<Arc<str>, Arc<str>>,
    bytes: usize,
    /// Past its bound: the connection must be closed.
    pub slow: bool,
}

impl Queue {
    fn push(&mut self, seq: u64, item: Item, len: usize) {
        if self.slow {
            return;
        }
        if self.items.len() >= CLIENT_QUEUE_EVENTS || self.bytes + len > CLIENT_QUEUE_BYTES {
            self.slow = true;
            self.items.clear();
            self.tallies.clear();
            self.bytes = 0;
            return;
        }
        self.bytes += len;
        self.items.push_back((seq, item));
    }

    fn push_tally(&mut self, seq: u64, vote: &Arc<str>, json: Arc<str>) {
        if self.tallies.contains_key(vote) {
            // Coalesced: the older unsent one goes, the newer one takes the place at the end (after
            // the events that came before it).
            if let Some(i) = self
                .items
                .iter()
                .position(|(_, it)| matches!(it, Item::Tally(v) if v == vote))
            {
                self.items.remove(i);
            }
            if let Some(old) = self.tallies.remove(vote) {
                self.bytes -= old.len();
            }
        }
        let len = json.len();
        self.push(seq, Item::Tally(vote.clone()), len);
        if !self.slow {
            self.tallies.insert(vote.clone(), json);
        }
    }

    /// Takes what is queued: `(seq, json, skippable)` in order.
    pub fn take(&mut self, out: &mut Vec<(u64, Arc<str>, bool)>) {
        while let Some((seq, item)) = self.items.pop_front() {
            match item {
                Item::Event(j) => {
                    self.bytes -= j.len();
                    out.push((seq, j, true));
                }
                Item::Tally(vote) => {
                    if let Some(j) = self.tallies.remove(&vote) {
                        self.bytes -= j.len();
                        out.push((seq, j, true));
                    }
                }
                Item::Direct(s) => {
                    self.bytes -= s.len();
                    out.push((seq, Arc::from(s), false));
                }
            }
        }
    }
}

/// One connected client, shared between the hub and its connection task.
#[derive(Debug, Default)]
pub struct Client {
    queue: Mutex<Queue>,
    /// Woken whenever something was queued (or the client became slow).
    pub notify: Notify,
}

impl Client {
    /// The client's queue.
    pub fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a message for this client only (e.g. a reply), never skipped; counts toward the bound.
    pub fn send_direct(&self, json: String) {
        let len = json.len();
        self.queue().push(0, Item::Direct(json), len);
        self.notify.notify_one();
    }
}

/// Live tallies to hand out: `(vote, tally event as JSON)`.
pub type Tallies = Vec<(Arc<str>, Arc<str>)>;

/// Counters for `/metrics`, shared by the hub and the handlers.
#[derive(Debug, Default)]
pub struct Counters {
    /// Clients connected to `/ws` now.
    pub clients: AtomicU64,
    /// Clients closed with 1008 because their queue overflowed.
    pub slow_closed: AtomicU64,
    /// Events dropped by the bot's outbox (sum of `dropped` events).
    pub events_dropped: AtomicU64,
    /// Reconnect attempts (`reconnecting` events).
    pub reconnects: AtomicU64,
    /// Events the hub has seen.
    pub events: AtomicU64,
}

#[derive(Debug, Default)]
struct Inner {
    /// Number of the last event seen.
    seq: u64,
    clients: Vec<(u64, Arc<Client>)>,
    next_id: u64,
    /// Polled live tallies waiting for the events before them: `(after, [(vote, json)])`.
    deferred: VecDeque<(u64, Tallies)>,
}

/// The fan-out (see the module docs).
#[derive(Debug, Default)]
pub struct Hub {
    inner: Mutex<Inner>,
    /// Counters for `/metrics`.
    pub counters: Counters,
}

/// A registered client; unregisters on drop.
#[derive(Debug)]
pub struct Subscription {
    hub: Arc<Hub>,
    id: u64,
    /// The client's queue and wake-up.
    pub client: Arc<Client>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut inner = self.hub.lock();
        inner.clients.retain(|(id, _)| *id != self.id);
        self.hub
            .counters
            .clients
            .store(inner.clients.len() as u64, Ordering::Relaxed);
    }
}

impl Hub {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a client: from now on every event is queued for it.
    pub fn subscribe(self: &Arc<Self>) -> Subscription {
        let client = Arc::new(Client::default());
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = inner.next_id;
        inner.clients.push((id, client.clone()));
        self.counters
            .clients
            .store(inner.clients.len() as u64, Ordering::Relaxed);
        Subscription {
            hub: self.clone(),
            id,
            client,
        }
    }

    /// Number of clients connected.
    pub fn clients(&self) -> usize {
        self.lock().clients.len()
    }

    /// Shows one event of the bot's stream to every client (the stdout tap). Never blocks for long: it
    /// only appends to bounded queues.
    pub fn publish(&self, event: &Event) {
        match event {
            Event::Dropped { count } => {
                self.counters
                    .events_dropped
                    .fetch_add(*count, Ordering::Relaxed);
            }
            Event::Reconnecting { .. } => {
                self.counters.reconnects.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        self.counters.events.fetch_add(1, Ordering::Relaxed);
        let mut inner = self.lock();
        inner.seq += 1;
        let seq = inner.seq;
        if !inner.clients.is_empty() {
            let json: Arc<str> = Arc::from(serde_json::to_string(event).unwrap_or_default());
            for (_, c) in &inner.clients {
                c.queue().push(seq, Item::Event(json.clone()), json.len());
                c.notify.notify_one();
            }
        }
        while inner
            .deferred
            .front()
            .is_some_and(|(after, _)| *after <= seq)
        {
            if let Some((after, tallies)) = inner.deferred.pop_front() {
                Self::hand_out(&inner, after, &tallies);
            }
        }
    }

    /// Hands live tallies taken at snapshot number `after` to every client, once the events up to `after`
    /// were handed out.
    pub fn publish_tallies(&self, after: u64, tallies: Tallies) {
        if tallies.is_empty() {
            return;
        }
        let mut inner = self.lock();
        if inner.seq >= after {
            Self::hand_out(&inner, after, &tallies);
        } else {
            // Bounded: one entry per poll, and the stream catches up; keep only the latest few.
            if inner.deferred.len() >= 16 {
                inner.deferred.pop_front();
            }
            inner.deferred.push_back((after, tallies));
        }
    }

    fn hand_out(inner: &Inner, after: u64, tallies: &[(Arc<str>, Arc<str>)]) {
        for (_, c) in &inner.clients {
            let mut q = c.queue();
            for (vote, json) in tallies {
                q.push_tally(after, vote, json.clone());
            }
            drop(q);
            c.notify.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(c: &Client) -> Vec<(u64, String)> {
        let mut out = Vec::new();
        c.queue().take(&mut out);
        out.into_iter()
            .map(|(s, j, _)| (s, j.to_string()))
            .collect()
    }

    #[test]
    fn events_are_numbered_and_fanned_out_in_order() {
        let hub = Arc::new(Hub::default());
        hub.publish(&Event::Dropped { count: 1 });
        let a = hub.subscribe();
        hub.publish(&Event::Dropped { count: 2 });
        hub.publish(&Event::Dropped { count: 3 });
        let got = take(&a.client);
        assert_eq!(
            got,
            vec![
                (2, r#"{"type":"dropped","count":2}"#.to_owned()),
                (3, r#"{"type":"dropped","count":3}"#.to_owned())
            ]
        );
        assert_eq!(hub.counters.events_dropped.load(Ordering::Relaxed), 6);
        drop(a);
        assert_eq!(hub.clients(), 0);
    }

    #[test]
    fn tallies_wait_for_their_events_and_coalesce() {
        let hub = Arc::new(Hub::default());
        let a = hub.subscribe();
        let v: Arc<str> = Arc::from("move");
        // Taken at event 2, which the hub has not seen yet: held back.
        hub.publish_tallies(2, vec![(v.clone(), Arc::from("t1"))]);
        hub.publish(&Event::Dropped { count: 1 });
        assert_eq!(take(&a.client).len(), 1);
        hub.publish(&Event::Dropped { count: 1 });
        hub.publish_tallies(2, vec![(v.clone(), Arc::from("t2"))]);
        let got = take(&a.client);
        // Event 2, then the latest tally only (t1 replaced by t2, after event 2).
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[1], (2, "t2".to_owned()));
    }

    #[test]
    fn a_queue_past_its_bound_marks_the_client_slow() {
        let hub = Arc::new(Hub::default());
        let a = hub.subscribe();
        for i in 0..=CLIENT_QUEUE_EVENTS as u64 {
            hub.publish(&Event::Dropped { count: i });
        }
        assert!(a.client.queue().slow);
        assert!(take(&a.client).is_empty());
    }
}
