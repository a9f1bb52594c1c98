//! Keyboard output: chat's results become key presses in an unmodified game or emulator ("Twitch Plays").
//!
//! ```text
//!  stdout thread ──tap──▶ bounded channel ──▶ output thread ─────────────────────────────▶ OS keyboard
//!  (every event the        (never blocks;      Planner (sans-IO, plan.rs): what and when   (enigo: XTest,
//!   program prints)         full: counted)     HeldKeys guard (backend.rs): what is down    SendInput scan
//!                                              FocusProbe (focus.rs): is the game in front   codes, macOS)
//!                                                    │
//!                                                    └─ keys / keys_skipped / output_paused events
//!                                                       ──▶ the driver's request channel ──▶ stdout, /ws
//! ```
//!
//! The output thread sees exactly the events the program prints, in order, through a
//! [tap](crate::stdio::EventTap) on the stdout thread; the tap only hands `vote_closed`, `input` and `command`
//! events to a bounded channel and returns. The thread runs the [`plan::Planner`] on the real clock: it
//! waits for the next event or the planner's next deadline, feeds it in, and executes the actions.
//!
//! **Safety.** Only bound keys are ever pressed (the planner only knows the validated chords). Every held key
//! is released when output is paused, when the program stops (shutdown, Ctrl-C, SIGTERM: the signal handler
//! stops this thread before anything else), and when the output thread panics: the [`backend::HeldKeys`]
//! guard releases on drop, which also runs while unwinding; the thread then reports an `error` event of kind
//! `output` and presses nothing more. Events the program drops because stdout is not read (`input` and
//! `command` events, see [`crate::outbox`]) never reach the tap, so a moderator's `!pause` can be lost only
//! when stdout is blocked.

pub mod backend;
pub mod config;
pub mod focus;
pub mod keys;
pub mod plan;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing::{debug, error, info, warn};

use crate::events::Event;
use crate::stdio::EventTap;
use backend::{Backend, BackendError, EnigoBackend, HeldKeys, LogBackend};
use config::OutputConfig;
use focus::FocusProbe;
use plan::{Action, Planner};

/// Capacity of the tap → output thread channel, in events. The thread drains it continuously; when it is full
/// (it should never be) further events are dropped and counted.
pub const TAP_QUEUE: usize = 1024;

/// Test-only: when this environment variable holds a number N, the output thread panics right after its
/// Nth key press (while the key is down). The end-to-end tests use it to check that a panic releases keys.
pub const PANIC_AFTER_PRESSES_ENV: &str = "TWITCH_BOT_TEST_OUTPUT_PANIC_AFTER_PRESSES";

/// How the output starts.
#[derive(Debug, Clone, Copy, Default)]
pub struct StartOptions {
    /// Start paused (`--output-paused`).
    pub paused: bool,
    /// Log what would be pressed instead of pressing (`--dry-run-output`).
    pub dry_run: bool,
}

/// Why keyboard output could not start.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The OS keyboard could not be opened.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// `target_window` is set but the focused window cannot be read here.
    #[error("output.target_window is set, but {0}")]
    Focus(String),
    /// The thread could not be spawned.
    #[error("cannot start the keyboard output thread: {0}")]
    Thread(std::io::Error),
}

enum Msg {
    Event(Event),
    Enable(bool, String),
    Wake,
}

/// Says, for `--check`, whether the focus guard can work here.
pub fn check_focus_guard(config: &OutputConfig) -> Option<String> {
    let target = config.target_window.as_ref()?;
    Some(match FocusProbe::open() {
        Ok(mut p) => format!(
            "focus guard: keys only while the focused window's title contains {target:?} (focused now: {:?})",
            p.focused_title().unwrap_or_default()
        ),
        Err(e) => format!("focus guard: NOT AVAILABLE: {e}"),
    })
}

/// A cheap handle to pause, resume or stop the output thread from anywhere (stdin, signals).
#[derive(Clone)]
pub struct OutputControl {
    tx: SyncSender<Msg>,
    stop: Arc<AtomicBool>,
    released: Arc<AtomicBool>,
}

impl std::fmt::Debug for OutputControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OutputControl")
    }
}

impl OutputControl {
    /// Pauses (`false`) or resumes (`true`); `by` names who asked (reported in the event).
    pub fn set_enabled(&self, enabled: bool, by: &str) {
        // A full channel means the thread is far behind; the pause must not be lost: wait for room.
        let _ = self.tx.send(Msg::Enable(enabled, by.to_owned()));
    }

    /// Stops the output thread: it releases every held key and presses nothing more. Returns at once.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.tx.try_send(Msg::Wake);
    }

    /// [`OutputControl::stop`], then waits up to `timeout` until every key is released. For a hard exit.
    pub fn stop_and_wait(&self, timeout: Duration) -> bool {
        self.stop();
        let end = Instant::now() + timeout;
        while !self.released.load(Ordering::SeqCst) && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.released.load(Ordering::SeqCst)
    }
}

/// The running keyboard output. Dropping it stops the thread and waits (briefly) for every key's release.
pub struct Output {
    control: OutputControl,
    dropped: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Output")
    }
}

impl Output {
    /// Opens the OS keyboard (or the dry-run logger) and the focus probe, and starts the output thread.
    /// `emit` sends the output's own events to the program's event stream; it must not block.
    pub fn start(
        config: OutputConfig,
        options: StartOptions,
        emit: Box<dyn FnMut(Event) + Send>,
    ) -> Result<Output, OutputError> {
        // Opened here, on the caller's thread, so that a failure stops the program before it connects.
        let probe = match &config.target_window {
            Some(_) => Some(FocusProbe::open().map_err(OutputError::Focus)?),
            None => None,
        };
        let (tx, rx) = sync_channel(TAP_QUEUE);
        let stop = Arc::new(AtomicBool::new(false));
        let released = Arc::new(AtomicBool::new(false));
        let control = OutputControl {
            tx,
            stop: stop.clone(),
            released: released.clone(),
        };
        let panic_after = std::env::var(PANIC_AFTER_PRESSES_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok());
        let planner = Planner::new(config.clone(), options.paused);
        let target = config.target_window.clone();
        // The back-end is created on the output thread (enigo's connection stays on one thread); its result
        // comes back here.
        let (ready_tx, ready_rx) = sync_channel::<Result<(), BackendError>>(1);
        let dry_run = options.dry_run;
        let thread = std::thread::Builder::new()
            .name("twitch_bot-keys".into())
            .spawn(move || {
                let run = Run {
                    planner,
                    probe,
                    target,
                    rx,
                    stop,
                    emit,
                    panic_after,
                    presses: 0,
                };
                if dry_run {
                    let _ = ready_tx.send(Ok(()));
                    run.guarded(LogBackend, &released);
                } else {
                    match EnigoBackend::new() {
                        Ok(b) => {
                            let _ = ready_tx.send(Ok(()));
                            run.guarded(b, &released);
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            released.store(true, Ordering::SeqCst);
                        }
                    }
                }
            })
            .map_err(OutputError::Thread)?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e.into());
            }
            Err(_) => {
                let _ = thread.join();
                return Err(OutputError::Backend(BackendError::Open(
                    "the output thread ended while starting".into(),
                )));
            }
        }
        if dry_run {
            info!("keyboard output: dry run (--dry-run-output): presses are logged, not sent");
        }
        Ok(Output {
            control,
            dropped: Arc::new(AtomicU64::new(0)),
            thread: Some(thread),
        })
    }

    /// The tap to hand to [`crate::stdio::spawn_writer`]: forwards the events the planner reads, never blocks.
    pub fn tap(&self) -> EventTap {
        let tx = self.control.tx.clone();
        let dropped = self.dropped.clone();
        Box::new(move |event: &Event| {
            if !matches!(
                event,
                Event::VoteClosed { .. } | Event::Input { .. } | Event::Command { .. }
            ) {
                return;
            }
            if let Err(TrySendError::Full(_)) = tx.try_send(Msg::Event(event.clone())) {
                let n = dropped.fetch_add(1, Ordering::Relaxed) + 1;
                warn!(
                    dropped = n,
                    "keyboard output is behind; an event was not handed to it"
                );
            }
        })
    }

    /// A handle to pause, resume and stop.
    pub fn control(&self) -> OutputControl {
        self.control.clone()
    }

    /// Stops the thread (every held key released) and waits for it, at most `timeout`.
    pub fn shutdown(mut self, timeout: Duration) {
        self.finish(timeout);
    }

    fn finish(&mut self, timeout: Duration) {
        self.control.stop_and_wait(timeout);
        if let Some(t) = self.thread.take()
            && self.control.released.load(Ordering::SeqCst)
        {
            let _ = t.join();
        }
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        self.finish(Duration::from_secs(2));
    }
}

struct Run {
    planner: Planner,
    probe: Option<FocusProbe>,
    target: Option<String>,
    rx: std::sync::mpsc::Receiver<Msg>,
    stop: Arc<AtomicBool>,
    emit: Box<dyn FnMut(Event) + Send>,
    panic_after: Option<u64>,
    presses: u64,
}

impl Run {
    /// Runs the loop with `backend` behind the release guard; a panic inside is caught after the guard has
    /// released everything, and reported.
    fn guarded<B: Backend>(mut self, backend: B, released: &AtomicBool) {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut keys = HeldKeys::new(backend);
            self.run(&mut keys);
            // `keys` drops here (or while unwinding): every held key is released.
        }));
        released.store(true, Ordering::SeqCst);
        let stats = self.planner.stats();
        info!(
            presses = stats.presses,
            skipped_focus = stats.skipped_focus,
            refused_user = stats.refused_user,
            refused_global = stats.refused_global,
            dropped_queue = stats.dropped_queue,
            ignored_paused = stats.ignored_paused,
            "keyboard output stopped; every key released"
        );
        if result.is_err() {
            error!(
                "keyboard output failed (panic); every key was released and no key will be pressed"
            );
            (self.emit)(Event::error(
                "output",
                "keyboard output stopped after an internal error; every key was released and no key will be \
                 pressed until the bot restarts",
            ));
        }
    }

    fn run<B: Backend>(&mut self, keys: &mut HeldKeys<B>) {
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return;
            }
            // Due presses and releases first (and what the planner queued at start, e.g. output_paused).
            self.step(keys, Instant::now());
            let now = Instant::now();
            let msg = match self.planner.poll_timeout() {
                Some(t) => self.rx.recv_timeout(t.saturating_duration_since(now)),
                None => self.rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            if self.stop.load(Ordering::SeqCst) {
                return;
            }
            let now = Instant::now();
            match msg {
                Ok(Msg::Event(e)) => self.planner.handle_event(&e, now),
                Ok(Msg::Enable(on, by)) => self.planner.set_enabled(on, &by),
                Ok(Msg::Wake) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    /// Advances the planner to `now` and executes its actions.
    fn step<B: Backend>(&mut self, keys: &mut HeldKeys<B>, now: Instant) {
        let (probe, target) = (&mut self.probe, &self.target);
        self.planner
            .handle_timeout(now, &mut || match (probe.as_mut(), target) {
                (Some(p), Some(t)) => {
                    let title = p.focused_title();
                    let ok = title.as_deref().is_some_and(|s| s.contains(t.as_str()));
                    if !ok {
                        debug!(focused = ?title, target = %t, "focus guard: not the target window");
                    }
                    ok
                }
                _ => true,
            });
        while let Some(action) = self.planner.poll_action() {
            match action {
                Action::Press(k) => {
                    if let Err(e) = keys.press(k) {
                        warn!(error = %e, "key press failed");
                    }
                    self.presses += 1;
                    if self.panic_after.is_some_and(|n| self.presses >= n) {
                        panic!("{PANIC_AFTER_PRESSES_ENV}: injected panic with a key held");
                    }
                }
                Action::Release(k) => {
                    if let Err(e) = keys.release(k) {
                        warn!(error = %e, "key release failed");
                    }
                }
                Action::Emit(e) => (self.emit)(e),
            }
        }
    }
}
