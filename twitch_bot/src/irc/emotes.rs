//! Emote positions (`emotes` tag): `id:start-end,start-end/id:start-end`.
//!
//! Twitch counts **Unicode code points** (not bytes, not UTF-16 units), ends are inclusive, the tag is
//! not sorted, and ranges sometimes run past the end of the text. [`parse_emotes`] sorts them and
//! clamps every range to the text, so slicing never panics.

use super::RawTags;

/// One emote occurrence in a chat message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emote {
    /// The emote id (not always numeric, e.g. `emotesv2_...`).
    pub id: String,
    /// Start, in Unicode code points of [`Privmsg::text`](super::Privmsg::text), inclusive.
    pub start: usize,
    /// End, in Unicode code points, exclusive (clamped to the text's length).
    pub end: usize,
    /// The emote's text as found in the message (may be shorter than expected after clamping).
    pub code: String,
}

/// Reads the `emotes` tag against `text`: sorted by position, clamped to the text.
///
/// Malformed ranges (not numbers, start after end) are skipped with a debug log rather than failing the
/// whole message: a chat line is never lost over an emote tag.
///
/// ```
/// use twitch_bot::irc::{parse_emotes, RawTags};
/// // The tag is unsorted, and Twitch counts code points: "👉" is one.
/// let tags = RawTags::parse("emotes=25:5-9/483:2-3");
/// let emotes = parse_emotes(&tags, "👉 <3 Kappa");
/// assert_eq!((emotes[0].id.as_str(), emotes[0].code.as_str()), ("483", "<3"));
/// assert_eq!((emotes[1].start, emotes[1].end, emotes[1].code.as_str()), (5, 10, "Kappa"));
/// // A range past the end is clamped, never a panic.
/// let tags = RawTags::parse("emotes=25:3-99");
/// assert_eq!(parse_emotes(&tags, "hi Kap")[0].code, "Kap");
/// ```
pub fn parse_emotes(tags: &RawTags<'_>, text: &str) -> Vec<Emote> {
    parse_emotes_shifted(tags, text, 0)
}

/// As [`parse_emotes`], for a tag whose indices count `shift` code points that are not in `text`
/// (a USERNOTICE `/me`: Twitch counts the `ACTION ` of the removed wrapper).
pub(crate) fn parse_emotes_shifted(tags: &RawTags<'_>, text: &str, shift: usize) -> Vec<Emote> {
    let Some(value) = tags.get("emotes") else {
        return Vec::new();
    };
    if value.is_empty() {
        return Vec::new();
    }
    // Byte offset of every code point, plus the end: index by code point in O(1).
    let offsets: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(text.len()))
        .collect();
    let len = offsets.len() - 1;
    let mut emotes = Vec::new();
    for group in value.split('/').filter(|g| !g.is_empty()) {
        let Some((id, ranges)) = group.split_once(':') else {
            tracing::debug!(group, "emote entry without ':' skipped");
            continue;
        };
        for range in ranges.split(',').filter(|r| !r.is_empty()) {
            let parsed = range
                .split_once('-')
                .and_then(|(a, b)| Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?)));
            let Some((first, last)) = parsed.filter(|(a, b)| a <= b) else {
                tracing::debug!(range, "malformed emote range skipped");
                continue;
            };
            let start = first.saturating_sub(shift).min(len);
            let end = last.saturating_add(1).saturating_sub(shift).min(len);
            emotes.push(Emote {
                id: id.to_owned(),
                start,
                end,
                code: text[offsets[start]..offsets[end]].to_owned(),
            });
        }
    }
    emotes.sort_by_key(|e| (e.start, e.end));
    emotes
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn overrun_past_the_text_is_clamped() {
        // Real: `25:41-45` on a 44-code-point Swedish message.
        let text = "Då kan du begära skadestånd och förtal Kappa";
        assert_eq!(text.chars().count(), 44);
        let tags = RawTags::parse("emotes=25:41-45");
        let emotes = parse_emotes(&tags, text);
        assert_eq!(emotes.len(), 1);
        assert_eq!(emotes[0].start, 41);
        assert_eq!(emotes[0].end, 44);
        assert_eq!(emotes[0].code, "ppa");
    }

    #[test]
    fn fully_outside_gives_empty_code() {
        let tags = RawTags::parse("emotes=25:10-14");
        let emotes = parse_emotes(&tags, "abc");
        assert_eq!((emotes[0].start, emotes[0].end), (3, 3));
        assert_eq!(emotes[0].code, "");
    }

    #[test]
    fn malformed_ranges_are_skipped() {
        let tags = RawTags::parse("emotes=25:x-1,5-2,0-0/nocolon/1:;");
        let emotes = parse_emotes(&tags, "abc");
        assert_eq!(emotes.len(), 1);
        assert_eq!(emotes[0].code, "a");
    }

    proptest! {
        #[test]
        fn never_panics_and_always_clamped(text in "\\PC{0,20}", tag in "[0-9:,/\\-a-z]{0,40}") {
            let section = format!("emotes={tag}");
            let tags = RawTags::parse(&section);
            let emotes = parse_emotes(&tags, &text);
            let len = text.chars().count();
            for pair in emotes.windows(2) {
                prop_assert!(pair[0].start <= pair[1].start);
            }
            for e in &emotes {
                prop_assert!(e.start <= e.end && e.end <= len);
                prop_assert_eq!(e.code.chars().count(), e.end - e.start);
            }
        }
    }
}
