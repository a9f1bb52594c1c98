//! Fail fast on invalid UTF-8 in a text message while its frame is still arriving.
//!
//! tungstenite checks the UTF-8 of a text frame once the whole frame is in. A server that sends one large
//! text frame slowly (Autobahn cases 6.4.3 and 6.4.4: a valid chop, one second, an invalid chop, one second,
//! the rest) is therefore only caught at the end. RFC 6455 §8.1 asks an endpoint to fail the connection as
//! soon as the bytes can no longer be valid UTF-8, and websocketpp (the gem's library) does.
//!
//! [`Utf8Guard`] sits between the byte stream (TCP, or the plaintext side of TLS) and tungstenite. Its sans-IO
//! core, [`FrameUtf8Checker`], follows the server-to-client frame stream (the HTTP response head, then frame
//! headers and payloads), validates text payload bytes incrementally as they arrive (keeping at most 3 bytes
//! of an unfinished code point across reads), and reports the first byte that makes the message invalid.
//! The guard then hands tungstenite the bytes before that point and ends the read side with an
//! [`io::Error`] carrying [`InvalidUtf8`]; the connection recognises it with [`is_invalid_utf8`] and fails the
//! connection with close code 1007 (invalid frame payload data), exactly as for tungstenite's own UTF-8 error.
//!
//! Guarantee: the guard only reports what tungstenite would report itself once the frame were complete. Any
//! frame stream it does not fully understand (reserved bits or opcodes, a masked server frame, a
//! continuation with no message started, a fragmented control frame) turns it into a pass-through for the
//! rest of the connection and leaves the verdict to tungstenite.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The error inside the [`io::Error`] that [`Utf8Guard`] returns when a text message's bytes are not UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InvalidUtf8;

impl fmt::Display for InvalidUtf8 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid UTF-8 in a text message (detected while the frame was arriving)")
    }
}

impl std::error::Error for InvalidUtf8 {}

/// Whether `err` is the guard's "invalid UTF-8" error (the connection must then close with code 1007).
pub(crate) fn is_invalid_utf8(err: &io::Error) -> bool {
    err.get_ref().is_some_and(|inner| inner.is::<InvalidUtf8>())
}

fn invalid_utf8_error() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, InvalidUtf8)
}

/// An [`AsyncRead`] + [`AsyncWrite`] wrapper that fails the read side as soon as a text message received
/// from the server can no longer be valid UTF-8. Writes pass through untouched.
pub(crate) struct Utf8Guard<S> {
    inner: S,
    checker: FrameUtf8Checker,
    failed: bool,
}

impl<S> Utf8Guard<S> {
    /// Wraps a client-side byte stream on which the HTTP upgrade request has not been sent yet.
    pub(crate) fn new(inner: S) -> Self {
        Utf8Guard {
            inner,
            checker: FrameUtf8Checker::new(),
            failed: false,
        }
    }

    /// The wrapped stream (for reading past a failure: the guard's verdict stands, the bytes are discarded).
    pub(crate) fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Utf8Guard<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.failed {
            return Poll::Ready(Err(invalid_utf8_error()));
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        if let Err(Violation { at }) = this.checker.handle_bytes(&buf.filled()[before..]) {
            this.failed = true;
            tracing::debug!(
                "invalid UTF-8 in a text message; failing the connection before the frame is complete"
            );
            if at == 0 {
                buf.set_filled(before);
                return Poll::Ready(Err(invalid_utf8_error()));
            }
            // Hand over what came before the bad byte (earlier messages stay deliverable); the next read fails.
            buf.set_filled(before + at);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Utf8Guard<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Where in the bytes handed to [`FrameUtf8Checker::handle_bytes`] the message became invalid: the bytes
/// before `at` are fine to pass on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Violation {
    pub(crate) at: usize,
}

/// Sans-IO: follows the server-to-client byte stream of a WebSocket client connection and validates the
/// UTF-8 of text messages incrementally.
#[derive(Debug)]
pub(crate) struct FrameUtf8Checker {
    state: State,
    /// The data message in progress (started by a non-final text or binary frame).
    message: Option<MessageKind>,
    utf8: Utf8Stream,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MessageKind {
    Text,
    Binary,
}

#[derive(Debug)]
enum State {
    /// Skipping the HTTP response head, which ends with an empty line. Lines may end with `\r\n` or a
    /// bare `\n` (tungstenite's HTTP parser accepts both): `line_start` is 1 right after a `\n`, 2 after a
    /// `\r` that follows it, and 0 inside a line.
    HttpHead { line_start: u8 },
    /// Collecting a frame header (2 to 10 bytes; servers do not mask).
    Header { buf: [u8; 10], len: u8 },
    /// Inside a frame's payload.
    Payload {
        remaining: u64,
        text: bool,
        ends_message: bool,
    },
    /// Something this checker does not follow: tungstenite alone decides from here on.
    PassThrough,
}

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;

impl FrameUtf8Checker {
    /// A checker for a fresh client connection (starting with the server's HTTP response).
    pub(crate) fn new() -> Self {
        FrameUtf8Checker {
            state: State::HttpHead { line_start: 0 },
            message: None,
            utf8: Utf8Stream::default(),
        }
    }

    /// Feeds the next bytes received from the server. Returns the position of the first byte that makes a
    /// text message invalid UTF-8. After a violation the checker must not be fed again.
    pub(crate) fn handle_bytes(&mut self, data: &[u8]) -> Result<(), Violation> {
        let mut pos = 0;
        while pos < data.len() {
            match &mut self.state {
                State::PassThrough => return Ok(()),
                State::HttpHead { line_start } => {
                    let byte = data[pos];
                    pos += 1;
                    *line_start = match (byte, *line_start) {
                        (b'\n', 1 | 2) => {
                            self.state = State::Header {
                                buf: [0; 10],
                                len: 0,
                            };
                            continue;
                        }
                        (b'\n', _) => 1,
                        (b'\r', 1) => 2,
                        _ => 0,
                    };
                }
                State::Header { buf, len } => {
                    buf[usize::from(*len)] = data[pos];
                    *len += 1;
                    pos += 1;
                    if let Some(next) = self.header_done() {
                        self.state = next;
                        self.end_of_frame_if_empty(data, pos)?;
                    }
                }
                State::Payload {
                    remaining, text, ..
                } => {
                    let available = data.len() - pos;
                    let take = usize::try_from(*remaining).map_or(available, |r| r.min(available));
                    if *text {
                        self.utf8
                            .feed(&data[pos..pos + take])
                            .map_err(|at| Violation { at: pos + at })?;
                    }
                    *remaining -= take as u64;
                    pos += take;
                    self.end_of_frame_if_empty(data, pos)?;
                }
            }
        }
        Ok(())
    }

    /// When the current frame's payload is fully read: closes the message if the frame was its last one.
    fn end_of_frame_if_empty(&mut self, data: &[u8], pos: usize) -> Result<(), Violation> {
        if let State::Payload {
            remaining: 0,
            text,
            ends_message,
        } = self.state
        {
            if ends_message {
                self.message = None;
                if text && !self.utf8.finish() {
                    // The message ends inside a code point: blame its last byte.
                    return Err(Violation {
                        at: pos.saturating_sub(1).min(data.len()),
                    });
                }
                self.utf8 = Utf8Stream::default();
            }
            self.state = State::Header {
                buf: [0; 10],
                len: 0,
            };
        }
        Ok(())
    }

    /// Once the header in `self.state` is complete, the state that follows it.
    fn header_done(&mut self) -> Option<State> {
        let State::Header { buf, len } = &self.state else {
            return None;
        };
        let len = usize::from(*len);
        if len < 2 {
            return None;
        }
        let (b0, b1) = (buf[0], buf[1]);
        let ext = match b1 & 0x7F {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        if len < 2 + ext {
            return None;
        }
        let fin = b0 & 0x80 != 0;
        let rsv = b0 & 0x70;
        let opcode = b0 & 0x0F;
        let masked = b1 & 0x80 != 0;
        let payload_len = match ext {
            0 => u64::from(b1 & 0x7F),
            2 => u64::from(u16::from_be_bytes([buf[2], buf[3]])),
            _ => u64::from_be_bytes([
                buf[2], buf[3], buf[4], buf[5], buf[6], buf[7], buf[8], buf[9],
            ]),
        };
        if rsv != 0 || masked || payload_len >> 63 != 0 {
            return Some(State::PassThrough);
        }
        let text = match (opcode, self.message) {
            (OP_CONTINUATION, Some(kind)) => kind == MessageKind::Text,
            (OP_TEXT, None) | (OP_BINARY, None) => {
                let kind = if opcode == OP_TEXT {
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                };
                self.message = Some(kind);
                kind == MessageKind::Text
            }
            // Close, ping, pong: final and short, or tungstenite rejects them.
            (0x8..=0xA, _) if fin && payload_len <= 125 => {
                return Some(State::Payload {
                    remaining: payload_len,
                    text: false,
                    ends_message: false,
                });
            }
            _ => return Some(State::PassThrough),
        };
        Some(State::Payload {
            remaining: payload_len,
            text,
            ends_message: fin,
        })
    }
}

/// Incremental UTF-8 validation across chunks: keeps the (at most 3) bytes of an unfinished code point.
#[derive(Debug, Default)]
struct Utf8Stream {
    pending: [u8; 4],
    pending_len: usize,
}

impl Utf8Stream {
    /// Validates the next chunk; on error, the offset in `chunk` from which the bytes cannot be valid.
    fn feed(&mut self, chunk: &[u8]) -> Result<(), usize> {
        let mut rest = chunk;
        let mut offset = 0;
        if self.pending_len > 0 {
            let width = match self.pending[0] {
                0xC2..=0xDF => 2,
                0xE0..=0xEF => 3,
                _ => 4,
            };
            let take = (width - self.pending_len).min(rest.len());
            let mut tmp = self.pending;
            tmp[self.pending_len..self.pending_len + take].copy_from_slice(&rest[..take]);
            let tmp_len = self.pending_len + take;
            match std::str::from_utf8(&tmp[..tmp_len]) {
                Ok(_) => self.pending_len = 0,
                Err(e) if e.error_len().is_none() => {
                    // Still unfinished: the chunk was shorter than the code point.
                    self.pending = tmp;
                    self.pending_len = tmp_len;
                    return Ok(());
                }
                Err(_) => return Err(0),
            }
            rest = &rest[take..];
            offset = take;
        }
        match std::str::from_utf8(rest) {
            Ok(_) => Ok(()),
            Err(e) => match e.error_len() {
                Some(_) => Err(offset + e.valid_up_to()),
                None => {
                    let tail = &rest[e.valid_up_to()..];
                    self.pending[..tail.len()].copy_from_slice(tail);
                    self.pending_len = tail.len();
                    Ok(())
                }
            },
        }
    }

    /// Whether the stream ends on a code point boundary.
    fn finish(&self) -> bool {
        self.pending_len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";

    fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![(u8::from(fin) << 7) | opcode];
        match payload.len() {
            n if n < 126 => out.push(n as u8),
            n if n <= 0xFFFF => {
                out.push(126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(payload);
        out
    }

    /// Feeds `stream` to a fresh checker in chunks of `chunk` bytes. On a violation: the stream range of the
    /// chunk that revealed it, and the absolute position it reported.
    fn check_chunked(stream: &[u8], chunk: usize) -> Option<(usize, usize, usize)> {
        let mut checker = FrameUtf8Checker::new();
        let mut base = 0;
        for piece in stream.chunks(chunk) {
            if let Err(v) = checker.handle_bytes(piece) {
                return Some((base, base + piece.len(), base + v.at));
            }
            base += piece.len();
        }
        None
    }

    /// Checks `stream` under every chunking: the violation (if `reveal` is some) must be reported exactly
    /// when the byte at `reveal` arrives, with only bytes before it passed on.
    fn check_all_chunkings(stream: &[u8], reveal: Option<usize>) {
        let mut chunkings: Vec<Vec<usize>> = (1..=stream.len())
            .map(|c| (c..stream.len()).step_by(c).collect())
            .collect();
        chunkings.extend((1..stream.len()).map(|split| vec![split]));
        for cuts in chunkings {
            let mut checker = FrameUtf8Checker::new();
            let mut start = 0;
            let mut got = None;
            for end in cuts.iter().copied().chain([stream.len()]) {
                if let Err(v) = checker.handle_bytes(&stream[start..end]) {
                    got = Some((start, end, start + v.at));
                    break;
                }
                start = end;
            }
            match (got, reveal) {
                (None, None) => {}
                (Some((start, end, at)), Some(r)) => {
                    assert!(
                        start <= r && r < end,
                        "cuts {cuts:?}: revealed by chunk {start}..{end}, bad byte at {r}"
                    );
                    assert!(
                        at <= r,
                        "cuts {cuts:?}: passes on bytes up to {at}, bad byte at {r}"
                    );
                }
                (got, _) => {
                    panic!("cuts {cuts:?}: got {got:?}, expected a violation at {reveal:?}")
                }
            }
        }
    }

    #[test]
    fn valid_text_and_binary_pass() {
        let mut s = HEAD.to_vec();
        s.extend(frame(
            true,
            OP_TEXT,
            "Hello-µ@ßöäüàá-UTF-8!! κόσμε 𝄞".as_bytes(),
        ));
        s.extend(frame(true, OP_BINARY, &[0xFF, 0xFE, 0x80, 0xC0]));
        s.extend(frame(false, OP_TEXT, &"κόσμε".as_bytes()[..3]));
        s.extend(frame(true, 0x9, b"ping"));
        s.extend(frame(true, OP_CONTINUATION, &"κόσμε".as_bytes()[3..]));
        s.extend(frame(true, OP_TEXT, &"x".repeat(70_000).into_bytes()));
        s.extend(frame(true, 0x8, &[0x03, 0xE8]));
        check_all_chunkings(&s, None);
    }

    #[test]
    fn invalid_byte_inside_one_frame_is_found_where_it_arrives() {
        // Autobahn 6.4.3's payload: "κόσμε" + 0xF4 0x90 0x80 0x80 (above U+10FFFF) + "edited".
        let payload = [
            &b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"[..],
            &b"\xf4\x90\x80\x80"[..],
            &b"\x65\x64\x69\x74\x65\x64"[..],
        ]
        .concat();
        let mut s = HEAD.to_vec();
        let header_end = HEAD.len() + 2;
        s.extend(frame(true, OP_TEXT, &payload));
        // 0xF4 may start a code point; 0x90 after it cannot.
        check_all_chunkings(&s, Some(header_end + 12));
        // Fed only up to the bad byte: no verdict yet (the frame is still arriving).
        assert_eq!(check_chunked(&s[..header_end + 12], 4), None);
    }

    #[test]
    fn invalid_across_fragments_and_truncated_code_point() {
        let mut s = HEAD.to_vec();
        s.extend(frame(false, OP_TEXT, b"ab\xE2\x82"));
        s.extend(frame(true, OP_CONTINUATION, b"\xACok\xFF"));
        let bad = s.len() - 1;
        check_all_chunkings(&s, Some(bad));

        let mut s = HEAD.to_vec();
        s.extend(frame(true, OP_TEXT, b"ab\xE2\x82"));
        check_all_chunkings(&s, Some(s.len() - 1));
    }

    #[test]
    fn a_head_with_bare_line_feeds_ends_at_its_empty_line() {
        // A binary payload holding "\r\n\r\n" and then what looks like a text frame with invalid UTF-8.
        let frames = frame(true, OP_BINARY, b"\r\n\r\n\x81\x01\xff");
        for head in [
            &b"HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\n\n"[..],
            b"HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\n\r\n",
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\n",
        ] {
            let mut s = head.to_vec();
            s.extend(&frames);
            s.extend(frame(true, OP_TEXT, b"ok"));
            check_all_chunkings(&s, None);
            // And the head's end is really found: invalid text after it is still caught.
            let mut s = head.to_vec();
            s.extend(frame(true, OP_TEXT, b"\xff"));
            check_all_chunkings(&s, Some(head.len() + 2));
        }
    }

    #[test]
    fn binary_and_control_payloads_are_not_checked() {
        let mut s = HEAD.to_vec();
        s.extend(frame(true, OP_BINARY, b"\xFF\xFF"));
        s.extend(frame(false, OP_BINARY, b"\xC0"));
        s.extend(frame(true, 0xA, b"\xFF"));
        s.extend(frame(true, OP_CONTINUATION, b"\xC0"));
        check_all_chunkings(&s, None);
    }

    #[test]
    fn unknown_frames_turn_it_into_a_pass_through() {
        for bad_header in [
            vec![0xC1, 0x01, b'a'],
            vec![0x83, 0x00],
            vec![0x80, 0x00],
            vec![0x81, 0x81, 0, 0, 0, 0],
        ] {
            let mut s = HEAD.to_vec();
            s.extend(bad_header);
            s.extend(frame(true, OP_TEXT, b"\xFF"));
            check_all_chunkings(&s, None);
        }
    }

    #[test]
    fn every_single_invalid_byte_is_caught_like_std() {
        // Every 1- and 2-byte payload, as one frame: the checker flags exactly the payloads std rejects.
        for a in 0..=255u8 {
            for b in [None, Some(0x80u8), Some(0xBF), Some(b'a'), Some(0xC3)] {
                let payload: Vec<u8> = std::iter::once(a).chain(b).collect();
                let mut s = HEAD.to_vec();
                s.extend(frame(true, OP_TEXT, &payload));
                let flagged = check_chunked(&s, 1).is_some();
                assert_eq!(
                    flagged,
                    std::str::from_utf8(&payload).is_err(),
                    "payload {payload:02X?}"
                );
            }
        }
    }

    /// Differential check against `std::str::from_utf8` on whole messages: random text messages (valid,
    /// or with one byte corrupted), cut into random fragments with pings in between, fed in random chunks.
    /// The checker must flag exactly the streams holding an invalid message, and only once the bad byte
    /// (or, for a truncated code point, the last byte of the message's final frame) has arrived.
    #[test]
    fn random_streams_agree_with_std() {
        let seed_from_env = std::env::var("UTF8_GUARD_SEED")
            .ok()
            .and_then(|v| v.parse().ok());
        let mut seed: u64 = seed_from_env.unwrap_or(0x9E37_79B9_7F4A_7C15);
        let iterations = if seed_from_env.is_some() {
            50_000
        } else {
            3_000
        };
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let alphabet = ["a", "é", "κ", "€", "𝄞", "\0", "~"];
        let mut flagged = 0;
        for _ in 0..iterations {
            let mut s = HEAD.to_vec();
            let mut first_bad: Option<usize> = None;
            for _ in 0..1 + next(3) {
                let mut text: Vec<u8> = (0..next(12))
                    .flat_map(|_| alphabet[next(alphabet.len())].bytes())
                    .collect();
                if next(3) == 0 && !text.is_empty() {
                    let at = next(text.len());
                    text[at] = [0x80, 0xC0, 0xFF, 0xE2, 0xF4, b'x'][next(6)];
                }
                // Cut into 1..=3 fragments.
                let mut cuts: Vec<usize> = (0..next(3)).map(|_| next(text.len() + 1)).collect();
                cuts.sort_unstable();
                cuts.push(text.len());
                let mut start = 0;
                let mut payload_positions = Vec::new();
                for (i, &end) in cuts.iter().enumerate() {
                    let piece = &text[start..end];
                    start = end;
                    let last = i + 1 == cuts.len();
                    let opcode = if i == 0 { OP_TEXT } else { OP_CONTINUATION };
                    let f = frame(last, opcode, piece);
                    let payload_start = s.len() + f.len() - piece.len();
                    payload_positions.extend((0..piece.len()).map(|k| payload_start + k));
                    s.extend(f);
                    if !last && next(2) == 0 {
                        s.extend(frame(true, 0x9, b"p"));
                    }
                }
                if let (Err(err), None) = (std::str::from_utf8(&text), first_bad) {
                    first_bad = Some(match err.error_len() {
                        // The first byte after the valid prefix that cannot continue it.
                        Some(_) => {
                            let tail = &text[err.valid_up_to()..];
                            let k = (1..=tail.len())
                                .find(|&k| {
                                    std::str::from_utf8(&tail[..k])
                                        .is_err_and(|e| e.error_len().is_some())
                                })
                                .expect("an invalid sequence");
                            payload_positions[err.valid_up_to() + k - 1]
                        }
                        // Truncated: known only when the message ends, at its final frame's last byte.
                        None => s.len() - 1,
                    });
                }
            }
            let chunk = 1 + next(40);
            match (check_chunked(&s, chunk), first_bad) {
                (None, None) => {}
                (Some((start, end, at)), Some(bad)) => {
                    flagged += 1;
                    assert!(
                        start <= bad && bad < end && at <= bad,
                        "chunk {chunk}: {start}..{end} at {at}, bad {bad}"
                    );
                }
                (got, expected) => panic!("chunk {chunk}: got {got:?}, expected {expected:?}"),
            }
        }
        // Both outcomes were exercised.
        assert!(
            flagged > iterations / 10 && flagged < iterations * 9 / 10,
            "{flagged} of {iterations} flagged"
        );
    }

    #[tokio::test]
    async fn guard_delivers_earlier_bytes_then_fails() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (client, mut server) = tokio::io::duplex(4096);
        let mut guard = Utf8Guard::new(client);
        let mut s = HEAD.to_vec();
        s.extend(frame(true, OP_TEXT, b"fine"));
        let good_len = s.len();
        s.extend(frame(true, OP_TEXT, b"ab\xFFcd"));
        server.write_all(&s).await.unwrap();
        let mut got = vec![0; 4096];
        let n = guard.read(&mut got).await.unwrap();
        assert_eq!(&got[..n], &s[..good_len + 2 + 2]);
        let err = guard.read(&mut got).await.unwrap_err();
        assert!(is_invalid_utf8(&err), "{err}");
        assert!(!is_invalid_utf8(&io::Error::other("other")));
    }
}
