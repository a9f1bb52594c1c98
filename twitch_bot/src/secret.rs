//! Secrets never reach the logs: a process-wide set of secret values, and a log writer that blanks them.
//!
//! Masking a secret where *we* log it is not enough: dependencies log too. tungstenite, at trace level,
//! prints every frame it sends (`Sending frame: Frame { .. payload: b"PASS oauth:…" }`), and that line
//! reaches our stderr through the `log` → `tracing` bridge whatever `RUST_LOG` says. So every secret the bot
//! holds (the OAuth access token, a refresh token, a client secret, the local server's secret) is
//! [`register`]ed the moment it is read, and the program's log output goes through [`Redacting`], which
//! replaces each registered value with `***` before a byte reaches stderr. No level and no filter can
//! undo that.
//!
//! ```
//! use std::io::Write;
//! use tracing_subscriber::fmt::MakeWriter;
//!
//! twitch_bot::secret::register("s3cr3t-t0ken");
//! let logs = twitch_bot::secret::Redacting::new(std::sync::Mutex::new(Vec::new()));
//! logs.make_writer().write_all(b"PASS oauth:s3cr3t-t0ken\r\n")?;
//! assert_eq!(&logs.get_ref().lock().unwrap()[..], b"PASS oauth:***\r\n");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Guarantees and limits
//!
//! - A registered value is blanked wherever it appears whole inside one write. `tracing-subscriber`'s
//!   formatter writes each log line in one write, so a secret in any field of any line is caught.
//! - Values shorter than [`MIN_SECRET_LEN`] are not registered (they would blank ordinary words); real
//!   tokens are 30 characters.
//! - The set only grows (a rotated token stays blanked after it was replaced), and is bounded by
//!   [`MAX_SECRETS`]: past that the oldest values are forgotten (each rotation adds one; a bot refreshing
//!   every few hours for years stays far below it).

use std::io::{self, Write};
use std::sync::RwLock;

use tracing_subscriber::fmt::MakeWriter;

/// Values shorter than this are not registered.
pub const MIN_SECRET_LEN: usize = 6;
/// The most values kept; the oldest are forgotten beyond it.
pub const MAX_SECRETS: usize = 256;

/// What replaces a secret in the logs.
pub const MASK: &str = "***";

static SECRETS: RwLock<Vec<Box<[u8]>>> = RwLock::new(Vec::new());

/// Adds `value` to the secrets blanked from the logs (surrounding whitespace and an `oauth:` prefix are
/// ignored). Registering the same value twice is harmless.
pub fn register(value: &str) {
    let value = value.trim();
    let value = value.strip_prefix("oauth:").unwrap_or(value);
    if value.len() < MIN_SECRET_LEN {
        return;
    }
    let mut set = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    if set.iter().any(|s| &s[..] == value.as_bytes()) {
        return;
    }
    if set.len() >= MAX_SECRETS {
        set.remove(0);
    }
    set.push(value.as_bytes().into());
}

/// `text` with every registered secret replaced by [`MASK`]. Also for error messages that quote something
/// a peer sent back.
pub fn redact(text: &str) -> String {
    match redact_bytes(text.as_bytes()) {
        Some(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        None => text.to_owned(),
    }
}

/// `Some(redacted)` when `buf` holds a registered secret, `None` when it holds none.
fn redact_bytes(buf: &[u8]) -> Option<Vec<u8>> {
    let set = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    let mut out: Option<Vec<u8>> = None;
    for secret in set.iter() {
        let hay = out.as_deref().unwrap_or(buf);
        if find(hay, secret).is_none() {
            continue;
        }
        let mut next = Vec::with_capacity(hay.len());
        let mut rest = hay;
        while let Some(at) = find(rest, secret) {
            next.extend_from_slice(&rest[..at]);
            next.extend_from_slice(MASK.as_bytes());
            rest = &rest[at + secret.len()..];
        }
        next.extend_from_slice(rest);
        out = Some(next);
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, _) = needle.split_first()?;
    let mut from = 0;
    while from + needle.len() <= hay.len() {
        let at = from
            + hay[from..=hay.len() - needle.len()]
                .iter()
                .position(|&b| b == first)?;
        if &hay[at..at + needle.len()] == needle {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// A [`MakeWriter`] that blanks registered secrets from everything written through it (see the module
/// docs). Wrap the program's log writer in it.
#[derive(Debug, Clone)]
pub struct Redacting<M> {
    inner: M,
}

impl<M> Redacting<M> {
    /// Wraps a log writer.
    pub fn new(inner: M) -> Redacting<M> {
        Redacting { inner }
    }

    /// The wrapped writer.
    pub fn get_ref(&self) -> &M {
        &self.inner
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Redacting<M> {
    type Writer = RedactingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter(self.inner.make_writer())
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        RedactingWriter(self.inner.make_writer_for(meta))
    }
}

/// The writer made by [`Redacting`].
#[derive(Debug)]
pub struct RedactingWriter<W>(W);

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match redact_bytes(buf) {
            Some(clean) => self.0.write_all(&clean)?,
            None => self.0.write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_occurrence_of_every_secret_is_blanked() {
        register("oauth:aaaa1111bbbb");
        register("zzzz9999yyyy");
        let text = "PASS oauth:aaaa1111bbbb x=zzzz9999yyyy y=aaaa1111bbbb aaaa1111bbb";
        assert_eq!(redact(text), "PASS oauth:*** x=*** y=*** aaaa1111bbb");
        assert_eq!(redact("nothing here"), "nothing here");
    }

    #[test]
    fn short_values_are_not_registered() {
        register("ab");
        assert_eq!(redact("ab abc"), "ab abc");
    }

    #[test]
    fn the_writer_blanks_and_reports_the_whole_buffer_written() {
        register("qqqq7777rrrr");
        let made = Redacting::new(std::sync::Mutex::new(Vec::new()));
        let mut w = made.make_writer();
        let line = b"payload: b\"PASS oauth:qqqq7777rrrr\\r\\n\"\n";
        assert_eq!(w.write(line).unwrap(), line.len());
        drop(w); // releases the Mutex's lock
        assert_eq!(
            String::from_utf8(made.get_ref().lock().unwrap().clone()).unwrap(),
            "payload: b\"PASS oauth:***\\r\\n\"\n"
        );
    }

    #[test]
    fn find_handles_edges() {
        assert_eq!(find(b"abc", b"abc"), Some(0));
        assert_eq!(find(b"xxabc", b"abc"), Some(2));
        assert_eq!(find(b"ab", b"abc"), None);
        assert_eq!(find(b"aab", b"ab"), Some(1));
        assert_eq!(find(b"", b"a"), None);
    }
}
