//! What counts as a ballot: matching a normalised message against a vote's options.
//!
//! After [normalisation](super::normalize), a message is a ballot when it is exactly one of:
//!
//! | form            | example (options `up`, `down`; `max_repeat` 9) |
//! |-----------------|------------------------------------------------|
//! | `option`        | `up`                                           |
//! | `!option`       | `!up`                                          |
//! | `+option`       | `+up` (dodges Twitch's duplicate-message filter) |
//! | `!vote option`  | `!vote up`                                     |
//! | any of the above with a repeat suffix `1`..=`max_repeat` | `up2`, `+down9`, `!vote up3` |
//!
//! Anything else is not a ballot: `up down`, `up!`, `vote up`, `!!up`, `up10`, `up0`, `upup`.
//!
//! **Several commands in one message** (`up down`, or Twitch Plays chains such as `left2down2`)
//! are **rejected**, not cut down to their first command: taking the first would make any chat line
//! that happens to start with an option (`up is the way lol`) a ballot, and a voter who wrote a
//! chain meant something no single input expresses.
//!
//! An exact option match is tried before the repeat suffix, so an option that ends in a digit
//! (`a1`) is still matched as itself. `up1` is the same input as `up`.
//!
//! ```
//! use twitch_bot::chatplay::ballot::match_ballot;
//!
//! let options = ["up", "down"];
//! assert_eq!(match_ballot("!vote down", &options, 9), Some((1, 1)));
//! assert_eq!(match_ballot("+up3", &options, 9), Some((0, 3)));
//! assert_eq!(match_ballot("up3", &options, 1), None); // this vote takes no repeats
//! assert_eq!(match_ballot("up down", &options, 9), None);
//! ```

/// Matches a **normalised** message; returns the option's index and the repeat count.
///
/// `options` must be the normalised options. See the [module docs](self) for the accepted forms.
///
/// ```
/// assert_eq!(twitch_bot::chatplay::ballot::match_ballot("a", &["a", "b"], 1), Some((0, 1)));
/// ```
pub fn match_ballot<S: AsRef<str>>(
    normalized: &str,
    options: &[S],
    max_repeat: u8,
) -> Option<(usize, u8)> {
    let body = if let Some(rest) = normalized.strip_prefix("!vote ") {
        rest
    } else if let Some(rest) = normalized.strip_prefix(['!', '+']) {
        rest
    } else {
        normalized
    };
    if let Some(index) = find(body, options) {
        return Some((index, 1));
    }
    if max_repeat > 1 {
        let bytes = body.as_bytes();
        let (&last, head) = bytes.split_last()?;
        if (b'1'..=b'0' + max_repeat).contains(&last) && !head.is_empty() {
            // `head` ends on a char boundary: `last` is an ASCII byte.
            let head = body.get(..head.len())?;
            if let Some(index) = find(head, options) {
                return Some((index, last - b'0'));
            }
        }
    }
    None
}

fn find<S: AsRef<str>>(text: &str, options: &[S]) -> Option<usize> {
    let (len, first) = (text.len(), text.as_bytes().first());
    // Length and first byte first: most options differ there, and it saves a memcmp call.
    options.iter().position(|o| {
        let o = o.as_ref();
        o.len() == len
            && o.as_bytes().first() == first
            && o.bytes().zip(text.bytes()).all(|(a, b)| a == b)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTS: [&str; 5] = ["up", "down", "a1", "start", "é"];

    #[test]
    fn accepted_forms() {
        for (text, expected) in [
            ("up", (0, 1)),
            ("!up", (0, 1)),
            ("+up", (0, 1)),
            ("!vote up", (0, 1)),
            ("up2", (0, 2)),
            ("up1", (0, 1)),
            ("!down9", (1, 9)),
            ("+down9", (1, 9)),
            ("!vote start5", (3, 5)),
            ("a1", (2, 1)),
            ("a12", (2, 2)),
            ("é3", (4, 3)),
        ] {
            assert_eq!(match_ballot(text, &OPTS, 9), Some(expected), "{text:?}");
        }
    }

    #[test]
    fn everything_else_is_rejected() {
        for text in [
            "",
            "!",
            "+",
            "!vote",
            "!vote ",
            "vote up",
            "up down",
            "up!",
            "!!up",
            "+!up",
            "!+up",
            "up10",
            "up0",
            "upup",
            "u p",
            "!voteup",
            "!vote  up",
            "!vote !up",
            "2",
            "left2down2",
            "down2leftdownright",
            "a",
            "up ",
        ] {
            assert_eq!(match_ballot(text, &OPTS, 9), None, "{text:?}");
        }
        assert_eq!(match_ballot("up4", &OPTS, 3), None);
        assert_eq!(match_ballot("up3", &OPTS, 3), Some((0, 3)));
        assert_eq!(match_ballot("up2", &OPTS, 1), None);
    }
}
