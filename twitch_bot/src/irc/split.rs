//! Splitting one WebSocket text frame into IRC lines.
//!
//! Twitch may batch several lines in one frame, separated by CRLF (sometimes a bare LF). A line parser
//! fed the whole frame would let the first line's trailing parameter swallow the rest
//! (`"PING :a\r\nPRIVMSG ..."` read as one PING), so frames are always split first.

/// Splits a WebSocket text frame into lines on CRLF, LF or a lone CR, skipping empty pieces.
///
/// Lines come back without their line ending. Nothing is allocated.
///
/// ```
/// use twitch_bot::irc::split_frame;
/// let frame = "PING :tmi.twitch.tv\r\n:tmi.twitch.tv RECONNECT\n\r\n";
/// let lines: Vec<&str> = split_frame(frame).collect();
/// assert_eq!(lines, ["PING :tmi.twitch.tv", ":tmi.twitch.tv RECONNECT"]);
/// ```
pub fn split_frame(frame: &str) -> impl Iterator<Item = &str> + '_ {
    // A byte search (memchr's SIMD) rather than `str::split` on chars, which decodes every
    // character of a 400-byte line. CR and LF are ASCII, so every cut is on a char boundary.
    let mut start = 0;
    let mut ends = memchr::memchr2_iter(b'\r', b'\n', frame.as_bytes());
    std::iter::from_fn(move || {
        loop {
            if start > frame.len() {
                return None;
            }
            let end = ends.next().unwrap_or(frame.len());
            let piece = &frame[start..end];
            start = end + 1;
            if !piece.is_empty() {
                return Some(piece);
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn splits_on_every_line_ending() {
        let lines: Vec<_> = split_frame("a\r\nb\nc\rd").collect();
        assert_eq!(lines, ["a", "b", "c", "d"]);
    }

    #[test]
    fn empty_frames_give_nothing() {
        assert_eq!(split_frame("").count(), 0);
        assert_eq!(split_frame("\r\n\r\n\n").count(), 0);
    }

    proptest! {
        #[test]
        fn joined_lines_split_back(lines in proptest::collection::vec("[^\r\n]{1,40}", 0..8),
                                   sep in prop::sample::select(vec!["\r\n", "\n", "\r\n\r\n"])) {
            let frame = lines.join(sep);
            let back: Vec<&str> = split_frame(&frame).collect();
            prop_assert_eq!(back, lines.iter().map(String::as_str).collect::<Vec<_>>());
        }
    }
}
