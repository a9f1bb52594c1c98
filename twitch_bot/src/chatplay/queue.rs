//! A bounded first-in first-out queue with a fixed, documented policy when full.
//!
//! Chat is hostile input: a flood must never grow a buffer without limit. Every queue in the
//! ChatPlay engine (the engine's [`Event`](super::Event) queue and the game-loop queue of
//! [`Keywords`](super::Keywords)) is a [`BoundedQueue`].
//!
//! **Full policy: drop the newest.** When the queue holds `capacity` items, [`BoundedQueue::push`]
//! refuses the new item, counts it in [`BoundedQueue::dropped`] and returns it to the caller as
//! `Err(item)`. What is already queued stays queued, in order, so a consumer that falls behind sees
//! a gap at the end, never a reordering. The first drop after a period without drops is logged
//! with `tracing::warn!`.
//!
//! ```
//! use twitch_bot::chatplay::BoundedQueue;
//!
//! let mut q = BoundedQueue::new(2);
//! assert!(q.push("a").is_ok());
//! assert!(q.push("b").is_ok());
//! assert_eq!(q.push("c"), Err("c")); // full: the newest item is refused
//! assert_eq!(q.dropped(), 1);
//! assert_eq!(q.pop(), Some("a"));
//! ```

use std::collections::VecDeque;

/// A FIFO queue that never holds more than its capacity; see the [module docs](self).
#[derive(Debug)]
pub struct BoundedQueue<T> {
    items: VecDeque<T>,
    capacity: usize,
    dropped: u64,
    dropping: bool,
}

impl<T> BoundedQueue<T> {
    /// A queue holding at most `capacity` items (a capacity of 0 is raised to 1).
    ///
    /// ```
    /// let q: twitch_bot::chatplay::BoundedQueue<u8> = twitch_bot::chatplay::BoundedQueue::new(8);
    /// assert_eq!(q.capacity(), 8);
    /// ```
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            items: VecDeque::with_capacity(capacity.min(1024)),
            capacity,
            dropped: 0,
            dropping: false,
        }
    }

    /// Appends `item`, or gives it back as `Err(item)` (and counts a drop) when the queue is full.
    ///
    /// ```
    /// let mut q = twitch_bot::chatplay::BoundedQueue::new(1);
    /// assert_eq!(q.push(1), Ok(()));
    /// assert_eq!(q.push(2), Err(2));
    /// ```
    pub fn push(&mut self, item: T) -> Result<(), T> {
        if self.items.len() >= self.capacity {
            self.dropped += 1;
            if !self.dropping {
                self.dropping = true;
                tracing::warn!(
                    capacity = self.capacity,
                    dropped_total = self.dropped,
                    "queue full: dropping the newest items until the consumer catches up"
                );
            }
            return Err(item);
        }
        self.dropping = false;
        self.items.push_back(item);
        Ok(())
    }

    /// Takes the oldest item.
    ///
    /// ```
    /// let mut q = twitch_bot::chatplay::BoundedQueue::new(4);
    /// q.push('x').unwrap();
    /// assert_eq!(q.pop(), Some('x'));
    /// assert_eq!(q.pop(), None);
    /// ```
    pub fn pop(&mut self) -> Option<T> {
        self.items.pop_front()
    }

    /// Takes every queued item at once, oldest first (the queue's memory is kept for reuse).
    ///
    /// ```
    /// let mut q = twitch_bot::chatplay::BoundedQueue::new(4);
    /// q.push(1).unwrap();
    /// q.push(2).unwrap();
    /// assert_eq!(q.drain_all(), vec![1, 2]);
    /// assert!(q.is_empty());
    /// ```
    pub fn drain_all(&mut self) -> Vec<T> {
        self.items.drain(..).collect()
    }

    /// Number of queued items.
    ///
    /// ```
    /// let q: twitch_bot::chatplay::BoundedQueue<()> = twitch_bot::chatplay::BoundedQueue::new(4);
    /// assert_eq!(q.len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when nothing is queued.
    ///
    /// ```
    /// let q: twitch_bot::chatplay::BoundedQueue<()> = twitch_bot::chatplay::BoundedQueue::new(4);
    /// assert!(q.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The most items the queue holds.
    ///
    /// ```
    /// let q: twitch_bot::chatplay::BoundedQueue<()> = twitch_bot::chatplay::BoundedQueue::new(0);
    /// assert_eq!(q.capacity(), 1);
    /// ```
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many items were refused because the queue was full, since it was created.
    ///
    /// ```
    /// let q: twitch_bot::chatplay::BoundedQueue<()> = twitch_bot::chatplay::BoundedQueue::new(4);
    /// assert_eq!(q.dropped(), 0);
    /// ```
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_refuses_the_newest_when_full() {
        let mut q = BoundedQueue::new(3);
        for i in 0..5 {
            let _ = q.push(i);
        }
        assert_eq!(q.dropped(), 2);
        assert_eq!(q.drain_all(), vec![0, 1, 2]);
        q.push(9).unwrap();
        assert_eq!(q.pop(), Some(9));
    }
}
