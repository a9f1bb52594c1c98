//! [`Login`]: a Twitch login (a user's or a channel's name), checked where it is made.
//!
//! The bot writes logins into IRC lines (`NICK`, `JOIN #…`, `PART #…`, `PRIVMSG #…`). A login is only ever
//! built by [`Login::new`] (also through [`FromStr`](std::str::FromStr) and [`TryFrom`]), which accepts
//! 1 to 25 of `a-z 0-9 _` and nothing else, so no code path, the library API included, can put a CR, LF,
//! NUL or space on the wire through one.
//!
//! ```
//! use twitch_bot::irc::Login;
//! let nick: Login = " My_Bot ".parse()?;
//! assert_eq!(nick, "my_bot");
//! assert_eq!(Login::new("#SomeChannel")?.as_str(), "somechannel"); // a channel may carry its `#`
//! assert!(Login::new("bot\r\nJOIN #evil").is_err());
//! assert!(Login::new("").is_err());
//! # Ok::<(), twitch_bot::irc::InvalidLogin>(())
//! ```

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

/// Longest Twitch login.
pub const MAX_LOGIN_LEN: usize = 25;

/// A Twitch login: 1 to [`MAX_LOGIN_LEN`] of `a-z 0-9 _`, stored lowercase, without `#`. See the
/// [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Login(String);

/// Text that is not a Twitch login.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a Twitch login (1 to 25 letters, digits or `_`)")]
pub struct InvalidLogin(String);

impl Login {
    /// Checks `text`: surrounding whitespace and one leading `#` are dropped, letters lowercased; the rest
    /// must be 1 to 25 of `a-z 0-9 _`.
    ///
    /// # Errors
    /// [`InvalidLogin`], quoting the text (control characters removed, at most 40 characters).
    pub fn new(text: &str) -> Result<Login, InvalidLogin> {
        let trimmed = text.trim();
        let login = trimmed
            .strip_prefix('#')
            .unwrap_or(trimmed)
            .to_ascii_lowercase();
        let valid = (1..=MAX_LOGIN_LEN).contains(&login.len())
            && login
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if valid {
            Ok(Login(login))
        } else {
            Err(InvalidLogin(
                text.chars().filter(|c| !c.is_control()).take(40).collect(),
            ))
        }
    }

    /// The login as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Login {
    type Err = InvalidLogin;
    fn from_str(s: &str) -> Result<Login, InvalidLogin> {
        Login::new(s)
    }
}

impl TryFrom<&str> for Login {
    type Error = InvalidLogin;
    fn try_from(s: &str) -> Result<Login, InvalidLogin> {
        Login::new(s)
    }
}

impl TryFrom<String> for Login {
    type Error = InvalidLogin;
    fn try_from(s: String) -> Result<Login, InvalidLogin> {
        Login::new(&s)
    }
}

impl From<Login> for String {
    fn from(l: Login) -> String {
        l.0
    }
}

impl Deref for Login {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Login {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Login {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Login {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Login {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_logins_are_accepted() {
        // Surrounding whitespace (a line break too) is dropped, not kept.
        for good in [
            "a",
            "bot_1",
            "#Chan",
            " x ",
            "bot\r\n",
            "a234567890123456789012345",
        ] {
            let l = Login::new(good).unwrap();
            assert!(!l.contains(['\r', '\n', '\0', ' ', '#']), "{l}");
        }
        for bad in [
            "",
            "#",
            "a b",
            "bot\r\nJOIN #x",
            "bot\0",
            "é",
            "a2345678901234567890123456",
            "##a",
            "a-b",
        ] {
            let e = Login::new(bad).unwrap_err();
            assert!(!e.to_string().contains(['\r', '\n', '\0']), "{e}");
        }
    }
}
