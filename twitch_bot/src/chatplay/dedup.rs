//! Remembering message ids, so that a line replayed after a reconnect counts once.
//!
//! Twitch message ids are UUIDs; they are kept as a `u128` (no allocation). Other ids are kept as
//! text. The memory is bounded: past its capacity the oldest id is forgotten first (replays come
//! right after a reconnect, so recent ids are the ones that matter).

use std::collections::{HashSet, VecDeque};

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

/// A bounded set of recently seen message keys.
#[derive(Debug)]
pub(crate) struct RecentIds {
    uuids: HashSet<u128, FastState>,
    texts: HashSet<Box<str>, FastState>,
    order: VecDeque<MessageKey>,
    capacity: usize,
}

impl RecentIds {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            uuids: HashSet::default(),
            texts: HashSet::default(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Records `key`; false when it was already there (a replay). [`MessageKey::None`] is
    /// never recorded and always new.
    pub(crate) fn insert(&mut self, key: &MessageKey) -> bool {
        let new = match key {
            MessageKey::None => return true,
            MessageKey::Uuid(u) => self.uuids.insert(*u),
            MessageKey::Text(t) => !self.texts.contains(t) && self.texts.insert(t.clone()),
        };
        if !new {
            return false;
        }
        self.order.push_back(key.clone());
        if self.order.len() > self.capacity {
            match self.order.pop_front() {
                Some(MessageKey::Uuid(u)) => {
                    self.uuids.remove(&u);
                }
                Some(MessageKey::Text(t)) => {
                    self.texts.remove(&t);
                }
                _ => {}
            }
        }
        true
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.uuids.len() + self.texts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn bounded_and_forgets_the_oldest() {
        let mut ids = RecentIds::new(2);
        let k = |n| MessageKey::Uuid(n);
        assert!(ids.insert(&k(1)));
        assert!(!ids.insert(&k(1)));
        assert!(ids.insert(&k(2)));
        assert!(ids.insert(&k(3)));
        assert_eq!(ids.len(), 2);
        assert!(ids.insert(&k(1)), "the oldest was forgotten");
        assert!(!ids.insert(&k(3)));
        assert!(ids.insert(&MessageKey::None));
        assert!(ids.insert(&MessageKey::None));
    }
}
