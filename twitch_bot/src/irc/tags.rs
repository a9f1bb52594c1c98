//! IRCv3 message tags: splitting `@k=v;k2=v2`, unescaping values, and escaping them for output.
//!
//! | raw in a tag value | meaning |
//! |---|---|
//! | `\:` | `;` |
//! | `\s` | space |
//! | `\\` | `\` |
//! | `\r` | CR |
//! | `\n` | LF |
//! | `\<other>` | `<other>` (the backslash is dropped) |
//! | a trailing lone `\` | dropped |
//!
//! `@k` and `@k=` both give the empty string; when a key repeats, the **last** occurrence wins.

use std::borrow::Cow;

/// Unescapes one IRCv3 tag value (see the module table). Borrows when there is nothing to unescape.
///
/// ```
/// use twitch_bot::irc::unescape_tag_value;
/// assert_eq!(unescape_tag_value(r"Riot\sGames"), "Riot Games");
/// assert_eq!(unescape_tag_value(r"a\:b\\c\nd"), "a;b\\c\nd");
/// assert_eq!(unescape_tag_value(r"value\1"), "value1"); // unknown escape: the character
/// assert_eq!(unescape_tag_value(r"trailing\"), "trailing"); // lone trailing backslash dropped
/// ```
pub fn unescape_tag_value(raw: &str) -> Cow<'_, str> {
    // A byte loop, not a SIMD search: tag values are a few bytes long (see `tag_items`).
    if !raw.bytes().any(|b| b == b'\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(':') => out.push(';'),
            Some('s') => out.push(' '),
            Some('\\') => out.push('\\'),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    Cow::Owned(out)
}

/// Escapes a tag value for the wire: the inverse of [`unescape_tag_value`].
///
/// ```
/// use twitch_bot::irc::{escape_tag_value, unescape_tag_value};
/// let value = "a; b\\c\r\n";
/// assert_eq!(escape_tag_value(value), r"a\:\sb\\c\r\n");
/// assert_eq!(unescape_tag_value(&escape_tag_value(value)), value);
/// ```
pub fn escape_tag_value(value: &str) -> Cow<'_, str> {
    if !value.contains([';', ' ', '\\', '\r', '\n']) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            ';' => out.push_str("\\:"),
            ' ' => out.push_str("\\s"),
            '\\' => out.push_str("\\\\"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The items of a tag section (without the leading `@`), in line order: keys and still-escaped
/// values, empty keys skipped, without collecting them (what [`RawTags::parse`] collects).
///
/// `;` ends an item and the first `=` of an item ends its key (a value may hold more `=`). Both
/// bytes are ASCII, so every cut is on a char boundary. The scan is a plain byte loop: Twitch's
/// items are short (most values are a few bytes, the longest a 36-byte id), where a call into a
/// SIMD search per item cost more than it saved (measured on the realistic-chat bench).
pub(crate) fn tag_items(section: &str) -> impl Iterator<Item = (&str, &str)> + '_ {
    let bytes = section.as_bytes();
    let mut at = 0;
    std::iter::from_fn(move || {
        while at <= bytes.len() {
            let start = at;
            let mut i = start;
            while i < bytes.len() && bytes[i] != b'=' && bytes[i] != b';' {
                i += 1;
            }
            let key = &section[start..i];
            let value = if i < bytes.len() && bytes[i] == b'=' {
                let from = i + 1;
                i = from;
                while i < bytes.len() && bytes[i] != b';' {
                    i += 1;
                }
                &section[from..i]
            } else {
                ""
            };
            at = i + 1;
            if !key.is_empty() {
                return Some((key, value));
            }
        }
        None
    })
}

/// The tags of one line, borrowed from it: keys and still-escaped values, in line order.
///
/// Lookups ([`RawTags::get`]) search from the end so that the last duplicate wins, and unescape on
/// demand, so a parser that reads ten of thirty tags pays for ten.
///
/// ```
/// use twitch_bot::irc::RawTags;
/// let tags = RawTags::parse(r"a=1;b=x\sy;a=2;c");
/// assert_eq!(tags.get("a").as_deref(), Some("2"));
/// assert_eq!(tags.get("b").as_deref(), Some("x y"));
/// assert_eq!(tags.get("c").as_deref(), Some(""));
/// assert_eq!(tags.get("d"), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawTags<'a> {
    entries: Vec<(&'a str, &'a str)>,
}

impl<'a> RawTags<'a> {
    /// Splits a tag section (without the leading `@`) into keys and raw values. Empty keys are skipped.
    pub fn parse(section: &'a str) -> Self {
        let mut entries = Vec::with_capacity(32);
        entries.extend(tag_items(section));
        RawTags { entries }
    }

    /// The raw (still escaped) value of `key`; the last occurrence wins.
    pub fn get_raw(&self, key: &str) -> Option<&'a str> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
    }

    /// The unescaped value of `key`; the last occurrence wins.
    pub fn get(&self, key: &str) -> Option<Cow<'a, str>> {
        self.get_raw(key).map(unescape_tag_value)
    }

    /// The unescaped value of `key` as an owned string, `None` when missing **or empty**.
    pub fn get_nonempty(&self, key: &str) -> Option<String> {
        match self.get_raw(key) {
            Some("") | None => None,
            Some(raw) => Some(unescape_tag_value(raw).into_owned()),
        }
    }

    /// True when the tag is present with the value `1`.
    pub fn flag(&self, key: &str) -> bool {
        self.get_raw(key) == Some("1")
    }

    /// True when the key is present at all (whatever its value).
    pub fn contains(&self, key: &str) -> bool {
        self.get_raw(key).is_some()
    }

    /// All entries in line order (duplicates included), values still escaped.
    pub fn iter_raw(&self) -> impl Iterator<Item = (&'a str, &'a str)> + '_ {
        self.entries.iter().copied()
    }

    /// True when there are no tags.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of entries, duplicates included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The tags as an owned, unescaped map (last duplicate wins).
    pub fn to_map(&self) -> std::collections::BTreeMap<String, String> {
        self.entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), unescape_tag_value(v).into_owned()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn unescape_table() {
        assert_eq!(unescape_tag_value(r"\:"), ";");
        assert_eq!(unescape_tag_value(r"\s"), " ");
        assert_eq!(unescape_tag_value(r"\\"), "\\");
        assert_eq!(unescape_tag_value(r"\r"), "\r");
        assert_eq!(unescape_tag_value(r"\n"), "\n");
        assert_eq!(unescape_tag_value(r"\b"), "b");
        assert_eq!(unescape_tag_value(r"ab\"), "ab");
        assert_eq!(unescape_tag_value(r"\\\"), "\\");
        assert_eq!(unescape_tag_value("é\\s👉"), "é 👉");
        assert_eq!(
            unescape_tag_value(r"CarvedTaleare\s"),
            "CarvedTaleare ",
            "trailing space kept"
        );
    }

    #[test]
    fn empty_and_valueless_keys_are_empty_strings() {
        let tags = RawTags::parse("k;k2=;;=v");
        assert_eq!(tags.get("k").as_deref(), Some(""));
        assert_eq!(tags.get("k2").as_deref(), Some(""));
        assert_eq!(tags.len(), 2, "empty keys skipped");
        assert_eq!(tags.get_nonempty("k"), None);
    }

    proptest! {
        #[test]
        fn escape_unescape_round_trip(value in "\\PC*|[;\\\\ \r\na-z]*") {
            let escaped = escape_tag_value(&value);
            prop_assert!(!escaped.contains([';', ' ', '\r', '\n']));
            prop_assert_eq!(unescape_tag_value(&escaped), value.as_str());
        }

        /// The items are what a plain split gives: `;`-separated, the key up to the first `=`,
        /// empty keys skipped.
        #[test]
        fn tag_items_match_a_plain_split(section in "[a-c=;\\\\ ]{0,40}") {
            let reference: Vec<(&str, &str)> = section
                .split(';')
                .map(|item| item.split_once('=').unwrap_or((item, "")))
                .filter(|(k, _)| !k.is_empty())
                .collect();
            prop_assert_eq!(tag_items(&section).collect::<Vec<_>>(), reference);
        }

        #[test]
        fn unescape_never_panics(raw in any::<String>()) {
            let _ = unescape_tag_value(&raw);
        }

        #[test]
        fn tags_round_trip_through_a_line(values in proptest::collection::vec("[^\u{0}]{0,12}", 1..6)) {
            let section: Vec<String> = values
                .iter()
                .enumerate()
                .map(|(i, v)| format!("k{i}={}", escape_tag_value(v)))
                .collect();
            let section = section.join(";");
            let tags = RawTags::parse(&section);
            for (i, v) in values.iter().enumerate() {
                let key = format!("k{i}");
                let got = tags.get(&key);
                prop_assert_eq!(got.as_deref(), Some(v.as_str()));
            }
        }
    }
}
