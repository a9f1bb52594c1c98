//! Ballot normalisation: what chat typed, reduced to the form options are compared with.
//!
//! [`normalize_into`] applies, in one pass and without allocating (it writes into a buffer the
//! caller reuses):
//!
//! 1. unwrap a CTCP action, `\x01ACTION text\x01` (what `/me text` sends), to `text`;
//! 2. drop invisible characters that chat clients insert to dodge Twitch's duplicate-message
//!    filter or that users paste by accident: U+E0000 (the "tag" space 7TV and Chatterino
//!    append), U+034F (combining grapheme joiner), U+200B..U+200D (zero-width space, non-joiner,
//!    joiner), U+2060 (word joiner) and U+FEFF (byte-order mark / zero-width no-break space);
//! 3. trim whitespace at both ends and collapse every inner run of whitespace (any Unicode
//!    `White_Space` character) to one ASCII space;
//! 4. lowercase (Unicode simple lowercase mapping via [`char::to_lowercase`]; ASCII takes a fast
//!    path).
//!
//! ```
//! use twitch_bot::chatplay::normalize::normalize_into;
//!
//! let mut buf = String::new();
//! assert!(normalize_into("  UP \u{E0000}", &mut buf, 64));
//! assert_eq!(buf, "up");
//! assert!(normalize_into("\x01ACTION !Vote   Left\x01", &mut buf, 64));
//! assert_eq!(buf, "!vote left");
//! // A message longer than the limit cannot be a ballot: normalisation stops early.
//! assert!(!normalize_into("this is a long chat message, not a ballot", &mut buf, 12));
//! ```

/// True for the invisible characters removed by normalisation (see the [module docs](self)).
///
/// ```
/// use twitch_bot::chatplay::normalize::is_invisible;
/// assert!(is_invisible('\u{200B}'));
/// assert!(!is_invisible('a'));
/// ```
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{E0000}' | '\u{034F}' | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}'
    )
}

/// Removes a CTCP `\x01ACTION ...\x01` wrapper (a missing closing `\x01` is tolerated).
///
/// ```
/// use twitch_bot::chatplay::normalize::unwrap_action;
/// assert_eq!(unwrap_action("\x01ACTION waves\x01"), "waves");
/// assert_eq!(unwrap_action("plain"), "plain");
/// ```
pub fn unwrap_action(text: &str) -> &str {
    match text.strip_prefix("\x01ACTION") {
        Some(rest) if rest.is_empty() || rest.starts_with(' ') || rest.starts_with('\x01') => {
            let rest = rest.strip_suffix('\x01').unwrap_or(rest);
            rest.strip_prefix(' ').unwrap_or(rest)
        }
        _ => text,
    }
}

/// Normalises `text` into `out` (which is cleared first); see the [module docs](self) for the rules.
///
/// Returns `false` as soon as the normalised form would be longer than `limit` bytes; `out` then
/// holds a truncated prefix and must not be used. Ballot matching passes the longest possible
/// ballot as the limit, so ordinary chat lines are rejected after a few bytes.
///
/// ```
/// let mut buf = String::new();
/// assert!(twitch_bot::chatplay::normalize::normalize_into("Start9", &mut buf, 16));
/// assert_eq!(buf, "start9");
/// ```
pub fn normalize_into(text: &str, out: &mut String, limit: usize) -> bool {
    out.clear();
    let text = unwrap_action(text);
    let bytes = text.as_bytes();
    let mut pending_space = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            i += 1;
            if b.is_ascii_whitespace() {
                pending_space = true;
                continue;
            }
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(char::from(b.to_ascii_lowercase()));
        } else {
            let Some(c) = text.get(i..).and_then(|rest| rest.chars().next()) else {
                break;
            };
            i += c.len_utf8();
            if is_invisible(c) {
                continue;
            }
            if c.is_whitespace() {
                pending_space = true;
                continue;
            }
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.extend(c.to_lowercase());
        }
        if out.len() > limit {
            return false;
        }
    }
    true
}

/// Normalises into a new `String` (no length limit): for configuration values, not the hot path.
///
/// ```
/// assert_eq!(twitch_bot::chatplay::normalize::normalized("  Jump\u{200D} "), "jump");
/// ```
pub fn normalized(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    normalize_into(text, &mut out, usize::MAX);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        normalized(s)
    }

    #[test]
    fn strips_every_listed_invisible_character() {
        for c in [
            '\u{E0000}',
            '\u{034F}',
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{2060}',
            '\u{FEFF}',
        ] {
            assert_eq!(n(&format!("{c}u{c}p{c}")), "up", "{:?}", c);
            assert_eq!(n(&format!("up {c}")), "up", "{:?}", c);
        }
    }

    #[test]
    fn trims_collapses_and_lowercases() {
        assert_eq!(n("\t !VOTE \u{3000}\u{00A0} Left \r\n"), "!vote left");
        assert_eq!(n("ÉCOLE"), "école");
        assert_eq!(n(""), "");
        assert_eq!(n("   "), "");
    }

    #[test]
    fn unwraps_actions() {
        assert_eq!(n("\x01ACTION up\x01"), "up");
        assert_eq!(n("\x01ACTION up"), "up");
        assert_eq!(n("\x01ACTIONup\x01"), "\x01actionup\x01");
    }

    #[test]
    fn stops_at_the_limit() {
        let mut buf = String::new();
        assert!(normalize_into("abcd", &mut buf, 4));
        assert!(!normalize_into("abcde", &mut buf, 4));
        // invisible characters and collapsed spaces do not count towards the limit
        assert!(normalize_into("a\u{200B}\u{200B}b      c", &mut buf, 5));
        assert_eq!(buf, "ab c");
    }
}
