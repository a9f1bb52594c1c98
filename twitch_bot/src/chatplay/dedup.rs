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

/// Hex digit values; `INVALID` for every other byte.
const HEX: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};
const INVALID: u8 = 0x80;

/// Where the 32 hex digits of a UUID sit; the high 64 bits are the first 16 digits.
const HIGH_DIGITS: [usize; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15, 16, 17];
const LOW_DIGITS: [usize; 16] = [
    19, 20, 21, 22, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35,
];

/// Parses `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (either case) into a `u128`.
///
/// This runs for every ballot, so it is branch-free over the digits: a table look-up per digit,
/// the invalid marks OR-ed together and checked once.
fn parse_uuid(s: &str) -> Option<u128> {
    let b: &[u8; 36] = s.as_bytes().try_into().ok()?;
    if b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return None;
    }
    let half = |positions: &[usize; 16]| {
        let (mut value, mut bad) = (0u64, 0u8);
        for &i in positions {
            let digit = HEX[usize::from(b[i])];
            bad |= digit;
            value = (value << 4) | u64::from(digit & 0x0f);
        }
        (value, bad)
    };
    let (high, bad_high) = half(&HIGH_DIGITS);
    let (low, bad_low) = half(&LOW_DIGITS);
    ((bad_high | bad_low) & INVALID == 0).then_some((u128::from(high) << 64) | u128::from(low))
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
    fn uuids_parse_exactly_as_their_hex_digits() {
        let id = "b34ccfc7-4977-403a-8a94-33c6bac34fb8";
        assert_eq!(
            MessageKey::from_id(Some(id)),
            MessageKey::Uuid(0xb34ccfc7_4977_403a_8a94_33c6bac34fb8)
        );
        assert_eq!(
            MessageKey::from_id(Some(&id.to_uppercase())),
            MessageKey::from_id(Some(id))
        );
        for bad in [
            "b34ccfc7-4977-403a-8a94-33c6bac34fb",      // short
            "b34ccfc7-4977-403a-8a94-33c6bac34fb88",    // long
            "b34ccfc7_4977-403a-8a94-33c6bac34fb8",     // separator
            "b34ccfc7-4977-403a-8a94-33c6bac34f\u{e9}", // 36 bytes, not ASCII
            "b34ccfc7-4977-403a-8a94-33c6bac34fbg",     // not hex
            "b34ccfc7-4977-403a-8a94-33c6bac34f:8",     // ':' is just past '9'
            "b34ccfc7-4977-403a-8a94-33c6bac34f/8",     // '/' is just before '0'
            "b34ccfc7-4977-403a-8a94-33c6bac34f`8",     // '`' is just before 'a'
            "b34ccfc7-4977-403a-8a94-33c6bac34f@8",     // '@' is just before 'A'
            "b34ccfc7-4977-403a-8a94-33c6bac34f-8",     // a dash where a digit goes
        ] {
            assert!(
                matches!(MessageKey::from_id(Some(bad)), MessageKey::Text(_)),
                "{bad}"
            );
        }
    }

    proptest! {
        /// Any 36-character text parses as a UUID exactly when a straightforward reference
        /// parser says so, to the same value.
        #[test]
        fn uuid_parsing_matches_a_reference(
            digits in "[0-9a-fA-F]{32}",
            noise in proptest::option::of((0usize..36, any::<char>())),
        ) {
            let mut text = format!(
                "{}-{}-{}-{}-{}",
                &digits[..8], &digits[8..12], &digits[12..16], &digits[16..20], &digits[20..]
            );
            if let Some((at, c)) = noise {
                let mut chars: Vec<char> = text.chars().collect();
                chars[at] = c;
                text = chars.into_iter().collect();
            }
            let reference = (text.len() == 36
                && text.char_indices().all(|(i, c)| {
                    if matches!(i, 8 | 13 | 18 | 23) { c == '-' } else { c.is_ascii_hexdigit() }
                }))
            .then(|| u128::from_str_radix(&text.replace('-', ""), 16).unwrap());
            prop_assert_eq!(parse_uuid(&text), reference);
        }
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
