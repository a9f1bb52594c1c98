//! The program's pipes: events to stdout (one JSON object per line, flushed per line) and control lines from
//! stdin. Each runs on its own small thread, so a slow pipe never blocks the driver; both are bounded (see
//! [`crate::outbox`] for the policy when the stdout reader falls behind).

use std::io::{BufRead, Write};
use std::thread::JoinHandle;

use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::events::{Control, ControlError, Event, MAX_CONTROL_LINE};
use crate::lifecycle::Request;

/// Capacity of the stdin → driver channel, in control lines. When full, reading stdin pauses.
pub const CONTROL_QUEUE: usize = 64;

/// A consumer that sees every event the program writes to stdout, in the same order, just before it is
/// written: the local server's `/ws` clients, the keyboard output. A tap runs on the stdout thread, so it must
/// not block: hand the event to a bounded queue of its own and return.
pub type EventTap = Box<dyn FnMut(&Event) + Send>;

/// Writes every event from `events` to `out` as a JSON line until the channel closes. Lines already waiting
/// are written together; `out` is flushed whenever the queue is empty, so no line ever waits unflushed.
/// Each event is shown to every tap in `taps` first (see [`EventTap`]); taps keep seeing events after
/// stdout broke.
///
/// If the reader goes away (a write fails, e.g. a broken pipe), asks the bot to shut down through `requests`
/// and discards the remaining events.
pub fn spawn_writer<W: Write + Send + 'static>(
    mut events: mpsc::Receiver<Event>,
    mut out: W,
    requests: mpsc::Sender<Request>,
    mut taps: Vec<EventTap>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("twitch_bot-stdout".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            let mut broken = false;
            let mut batch = String::new();
            while let Some(event) = events.blocking_recv() {
                for tap in &mut taps {
                    tap(&event);
                }
                if broken {
                    continue;
                }
                // Everything already waiting goes out in one write (at most ~64 KiB); nothing waits in a
                // buffer for later events: the batch is flushed as soon as the queue is empty.
                batch.clear();
                batch.push_str(&event.to_json_line());
                while batch.len() < 64 * 1024 {
                    match events.try_recv() {
                        Ok(e) => {
                            for tap in &mut taps {
                                tap(&e);
                            }
                            batch.push_str(&e.to_json_line())
                        }
                        Err(_) => break,
                    }
                }
                if let Err(e) = out.write_all(batch.as_bytes()).and_then(|()| out.flush()) {
                    warn!(error = %e, "cannot write events to stdout; shutting down");
                    broken = true;
                    let _ = requests.try_send(Request::Shutdown);
                }
            }
        })
}

/// Reads control lines from `input` on a thread and sends them (parsed, or the parse error) to the driver.
/// At end of input, sends [`Request::InputClosed`].
pub fn spawn_reader<R: BufRead + Send + 'static>(
    mut input: R,
    requests: mpsc::Sender<Request>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("twitch_bot-stdin".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            loop {
                let line = match read_line_bounded(&mut input, MAX_CONTROL_LINE) {
                    Ok(Some(line)) => line,
                    Ok(None) => break,
                    Err(e) => {
                        debug!(error = %e, "stdin closed");
                        break;
                    }
                };
                let request = match line {
                    Line::TooLong(n) => Request::BadControl(ControlError::TooLong(n)),
                    Line::Text(t) if t.trim().is_empty() => continue,
                    Line::Text(t) => match Control::parse_line(&t) {
                        Ok(c) => Request::Control(c),
                        Err(e) => Request::BadControl(e),
                    },
                };
                if requests.blocking_send(request).is_err() {
                    return;
                }
            }
            let _ = requests.blocking_send(Request::InputClosed);
        })
}

/// One line read by [`read_line_bounded`].
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// The line's text without its line ending (invalid UTF-8 replaced).
    Text(String),
    /// The line was longer than the limit (its length in bytes); it was skipped.
    TooLong(usize),
}

/// Reads one `\n`-terminated line, holding at most `max` bytes of it in memory. `None` at end of input.
pub fn read_line_bounded<R: BufRead>(input: &mut R, max: usize) -> std::io::Result<Option<Line>> {
    let mut buf = Vec::new();
    let mut len = 0usize;
    let mut any = false;
    loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        any = true;
        let (part, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (&chunk[..i], Some(i + 1)),
            None => (chunk, None),
        };
        len += part.len();
        if len <= max {
            buf.extend_from_slice(part);
        }
        let consumed = done.unwrap_or(chunk.len());
        input.consume(consumed);
        if done.is_some() {
            break;
        }
    }
    if !any {
        return Ok(None);
    }
    if len > max {
        return Ok(Some(Line::TooLong(len)));
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Some(Line::Text(String::from_utf8_lossy(&buf).into_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer into a shared buffer, or one that always fails (a closed pipe).
    #[derive(Clone)]
    struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>, bool);

    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            if self.1 {
                return Err(std::io::ErrorKind::BrokenPipe.into());
            }
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn writer_writes_one_json_line_per_event_in_order() {
        let (tx, rx) = mpsc::channel(16);
        let (req_tx, _req_rx) = mpsc::channel(1);
        let sink = Sink(Default::default(), false);
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let tap_seen = seen.clone();
        let tap: EventTap =
            Box::new(move |e: &Event| tap_seen.lock().unwrap().push(e.to_json_line()));
        let t = spawn_writer(rx, sink.clone(), req_tx, vec![tap]).unwrap();
        for i in 0..10 {
            tx.blocking_send(Event::Dropped { count: i }).unwrap();
        }
        drop(tx);
        t.join().unwrap();
        // The tap saw exactly what stdout got, in the same order.
        let tapped: String = seen.lock().unwrap().concat();
        assert_eq!(tapped.as_bytes(), &sink.0.lock().unwrap()[..]);
        let out = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 10);
        for (i, l) in lines.iter().enumerate() {
            assert_eq!(*l, format!(r#"{{"type":"dropped","count":{i}}}"#));
        }
    }

    #[test]
    fn a_broken_pipe_asks_for_shutdown() {
        let (tx, rx) = mpsc::channel(16);
        let (req_tx, mut req_rx) = mpsc::channel(1);
        let t = spawn_writer(rx, Sink(Default::default(), true), req_tx, Vec::new()).unwrap();
        tx.blocking_send(Event::Dropped { count: 1 }).unwrap();
        assert!(matches!(req_rx.blocking_recv(), Some(Request::Shutdown)));
        drop(tx);
        t.join().unwrap();
    }

    #[test]
    fn reader_parses_ops_reports_bad_lines_and_the_end() {
        let input =
            std::io::Cursor::new(b"{\"op\":\"stop_vote\",\"vote\":\"m\"}\n\nnot json\n".to_vec());
        let (tx, mut rx) = mpsc::channel(16);
        spawn_reader(input, tx).unwrap().join().unwrap();
        assert!(matches!(
            rx.blocking_recv(),
            Some(Request::Control(Control::StopVote { .. }))
        ));
        assert!(matches!(rx.blocking_recv(), Some(Request::BadControl(_))));
        assert!(matches!(rx.blocking_recv(), Some(Request::InputClosed)));
    }

    #[test]
    fn bounded_lines() {
        let mut r = std::io::Cursor::new(b"ab\r\ncdefgh\nij".to_vec());
        assert_eq!(
            read_line_bounded(&mut r, 4).unwrap(),
            Some(Line::Text("ab".into()))
        );
        assert_eq!(
            read_line_bounded(&mut r, 4).unwrap(),
            Some(Line::TooLong(6))
        );
        assert_eq!(
            read_line_bounded(&mut r, 4).unwrap(),
            Some(Line::Text("ij".into()))
        );
        assert_eq!(read_line_bounded(&mut r, 4).unwrap(), None);
    }
}
