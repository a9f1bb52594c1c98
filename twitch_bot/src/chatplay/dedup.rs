//! Remembering message ids, so that a line replayed after a reconnect counts once.
//!
//! Twitch message ids are UUIDs; they are kept as a `u128` (no allocation). Other ids are kept as
//! text, exactly (no fingerprint, so two different ids never count as one).
//!
//! # Window and bound
//!
//! The memory is two generations of ids: ids go into the *current* generation; when it holds
//! `capacity` ids, it becomes the *previous* generation (the old previous one is forgotten, all
//! at once) and a fresh current one starts, reusing the forgotten one's allocation. So:
//!
//! * **window**: the last `capacity` distinct ids are always remembered: a replayed id among them
//!   counts once (replays come right after a reconnect, so recent ids are the ones that matter);
//! * **bound**: at most `2 * capacity - 1` ids are held, whatever chat sends;
//! * **cost**: one or two hash look-ups per new id and no per-line eviction work; forgetting is a
//!   table clear every `capacity` ids (amortised O(1) per id).
//!
//! # Hashing
//!
//! The sets use the crate's fast multiply-fold hasher (not SipHash) with a random seed per set.
//! Hash flooding is not a risk here: the `id` tag is assigned by Twitch's server, never by the
//! chatter (a client cannot choose the id of its own message), the server's ids are random
//! UUIDs, and the seed is drawn per process from the OS, so neither chat nor a replaying server
//! knows which ids would collide.

use std::collections::HashSet;

use super::fasthash::FastState;

/// A message's identity, as far as de-duplication is concerned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MessageKey {
    /// A UUID `id` tag, parsed.
    Uuid(u128),
    /// Any other `id` tag.
    Text(Box<str>),
    /// No `id` tag: such messages cannot be recognised when replayed.
    None,
}

impl MessageKey {
    /// The key of an `id` tag.
    ///
    /// ```
    /// use twitch_bot::chatplay::MessageKey;
    /// let k = MessageKey::from_id(Some("b34ccfc7-4977-403a-8a94-33c6bac34fb8"));
    /// assert!(matches!(k, MessageKey::Uuid(_)));
    /// assert_eq!(MessageKey::from_id(None), MessageKey::None);
    /// ```
    pub fn from_id(id: Option<&str>) -> Self {
        match id {
            None | Some("") => MessageKey::None,
            Some(id) => match parse_uuid(id) {
                Some(u) => MessageKey::Uuid(u),
                None => MessageKey::Text(id.into()),
            },
        }
    }
}

/// Parses `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (either case) into a `u128`.
fn parse_uuid(s: &str) -> Option<u128> {
    let b = s.as_bytes();
    if b.len() != 36 {
        return None;
    }
    let mut value: u128 = 0;
    for (i, &c) in b.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if c != b'-' {
                return None;
            }
            continue;
        }
        let digit = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return None,
        };
        value = (value << 4) | u128::from(digit);
    }
    Some(value)
}

/// A bounded set of recently seen message keys (see the [module docs](self)).
#[derive(Debug)]
pub(crate) struct RecentIds {
    uuids: Generations<u128>,
    texts: Generations<Box<str>>,
    /// Ids in the current generations (both kinds).
    current_len: usize,
    capacity: usize,
}

/// The current and previous generation of one kind of key.
#[derive(Debug, Default)]
struct Generations<K> {
    current: HashSet<K, FastState>,
    previous: HashSet<K, FastState>,
}

impl<K: std::hash::Hash + Eq> Generations<K> {
    fn contains<Q>(&self, key: &Q) -> bool
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        self.current.contains(key) || self.previous.contains(key)
    }

    /// The current generation becomes the previous one; the old previous one is cleared (its
    /// allocation kept) and becomes the current one.
    fn rotate(&mut self) {
        std::mem::swap(&mut self.current, &mut self.previous);
        self.current.clear();
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }
}

impl RecentIds {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            uuids: Generations::default(),
            texts: Generations::default(),
            current_len: 0,
            capacity: capacity.max(1),
        }
    }

    /// Records `key`; false when it was already there (a replay). [`MessageKey::None`] is
    /// never recorded and always new.
    pub(crate) fn insert(&mut self, key: &MessageKey) -> bool {
        match key {
            MessageKey::None => return true,
            MessageKey::Uuid(u) => {
                if self.uuids.previous.contains(u) || !self.uuids.current.insert(*u) {
                    return false;
                }
            }
            MessageKey::Text(t) => {
                if self.texts.contains(&**t) {
                    return false;
                }
                self.texts.current.insert(t.clone());
            }
        }
        self.current_len += 1;
        if self.current_len >= self.capacity {
            self.uuids.rotate();
            self.texts.rotate();
            self.current_len = 0;
        }
        true
    }

    /// How many ids are held (at most `2 * capacity - 1`).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.uuids.len() + self.texts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn uuids_parse_and_others_are_text() {
        assert_eq!(
            MessageKey::from_id(Some("00000000-0000-0000-0000-00000000000A")),
            MessageKey::Uuid(10)
        );
        assert!(matches!(
            MessageKey::from_id(Some("00000000-0000-0000-0000-00000000000g")),
            MessageKey::Text(_)
        ));
        assert!(matches!(
            MessageKey::from_id(Some("abc")),
            MessageKey::Text(_)
        ));
        assert_eq!(MessageKey::from_id(Some("")), MessageKey::None);
    }

    #[test]
    fn bounded_and_forgets_the_oldest_generation() {
        let mut ids = RecentIds::new(2);
        let k = |n| MessageKey::Uuid(n);
        assert!(ids.insert(&k(1)));
        assert!(!ids.insert(&k(1)));
        assert!(ids.insert(&k(2))); // generation {1, 2} full: it becomes the previous one
        assert!(!ids.insert(&k(1)), "still in the window");
        assert!(ids.insert(&k(3)));
        assert!(ids.insert(&k(4))); // {3, 4} full: {1, 2} forgotten
        assert_eq!(ids.len(), 2);
        assert!(ids.insert(&k(1)), "the oldest generation was forgotten");
        assert!(!ids.insert(&k(3)));
        assert!(!ids.insert(&k(4)));
        assert!(ids.insert(&MessageKey::None));
        assert!(ids.insert(&MessageKey::None));
    }

    #[test]
    fn text_ids_are_exact_and_share_the_window() {
        let mut ids = RecentIds::new(3);
        let t = |s: &str| MessageKey::from_id(Some(s));
        assert!(ids.insert(&t("a")));
        assert!(ids.insert(&MessageKey::Uuid(7)));
        assert!(!ids.insert(&t("a")));
        assert!(ids.insert(&t("b"))); // rotation: {a, 7, b} is now the previous generation
        assert!(!ids.insert(&t("b")));
        assert!(!ids.insert(&MessageKey::Uuid(7)));
        for s in ["c", "d", "e"] {
            assert!(ids.insert(&t(s)));
        }
        assert!(ids.insert(&t("a")), "forgotten after two rotations");
    }

    /// Ids drawn from a small universe, so repeats are common.
    fn key_strategy() -> impl Strategy<Value = MessageKey> {
        prop_oneof![
            4 => (0u128..40).prop_map(MessageKey::Uuid),
            1 => (0u8..10).prop_map(|n| MessageKey::Text(format!("t{n}").into())),
            1 => Just(MessageKey::None),
        ]
    }

    proptest! {
        /// Against a model keeping every distinct id in insertion order: an id among the last
        /// `capacity` distinct ids is always recognised, an id never seen is always new, and
        /// at most `2 * capacity - 1` ids are held.
        #[test]
        fn window_and_bound_hold(
            capacity in 1usize..12,
            keys in proptest::collection::vec(key_strategy(), 0..300),
        ) {
            let mut ids = RecentIds::new(capacity);
            let mut model: Vec<MessageKey> = Vec::new(); // distinct ids as recorded, oldest first
            for key in &keys {
                let new = ids.insert(key);
                if *key == MessageKey::None {
                    prop_assert!(new);
                    continue;
                }
                let position = model.iter().rposition(|k| k == key);
                match position {
                    None => prop_assert!(new, "never seen, must be new: {:?}", key),
                    Some(p) if model.len() - p <= capacity => {
                        prop_assert!(!new, "within the last {} ids: {:?}", capacity, key)
                    }
                    Some(_) => {}
                }
                if new {
                    model.push(key.clone());
                }
                prop_assert!(ids.len() < 2 * capacity, "held {} ids", ids.len());
            }
        }
    }
}
