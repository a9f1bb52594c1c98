//! The back-ends that press keys, and the guard that releases every held key whatever happens.
//!
//! A [`Backend`] only presses and releases; every decision (what, when, for how long) is the
//! [planner](super::plan)'s. [`HeldKeys`] wraps a back-end, remembers what is down, and releases it all when
//! dropped: on shutdown, and while unwinding from a panic in the output thread.
//!
//! | back-end | used for |
//! |---|---|
//! | [`EnigoBackend`] | `kind = "keyboard"`: the OS, through the `enigo` crate |
//! | [`LogBackend`] | `--dry-run-output`: logs what would be pressed, presses nothing |
//! | [`RecordingBackend`] | tests: records every call in order |

use std::sync::{Arc, Mutex};

use tracing::{info, warn};

use super::keys::Key;

/// Why a back-end could not start or press.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The OS input connection could not be opened (e.g. no `DISPLAY` on Linux).
    #[error("cannot open the keyboard output: {0}")]
    Open(String),
    /// A press or release failed.
    #[error("cannot send the key {key}: {message}")]
    Send {
        /// The key.
        key: &'static str,
        /// What the OS layer said.
        message: String,
    },
}

/// Presses and releases keys. Implementations do nothing else (no timing, no policy).
pub trait Backend {
    /// Puts `key` down.
    fn press(&mut self, key: Key) -> Result<(), BackendError>;
    /// Lets `key` up.
    fn release(&mut self, key: Key) -> Result<(), BackendError>;
}

/// The OS keyboard through `enigo`: on X11 the key's keysym through XTest (x11rb, no system library), on
/// Windows its scan code through `SendInput` with `KEYEVENTF_SCANCODE` (enigo's `raw`, so DirectInput and Raw
/// Input games see it), on macOS its virtual key code.
pub struct EnigoBackend {
    enigo: enigo::Enigo,
}

impl std::fmt::Debug for EnigoBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnigoBackend")
    }
}

impl EnigoBackend {
    /// Connects to the OS input system (on Linux the X server named by `DISPLAY`).
    pub fn new() -> Result<EnigoBackend, BackendError> {
        let settings = enigo::Settings {
            // We time holds ourselves; enigo's default adds a per-key delay on X11.
            linux_delay: 0,
            release_keys_when_dropped: true,
            ..enigo::Settings::default()
        };
        let enigo = enigo::Enigo::new(&settings).map_err(|e| BackendError::Open(e.to_string()))?;
        Ok(EnigoBackend { enigo })
    }

    fn send(&mut self, key: Key, direction: enigo::Direction) -> Result<(), BackendError> {
        #[allow(unused_imports)]
        use enigo::Keyboard as _;
        #[cfg(target_os = "windows")]
        let result = self.enigo.raw(key.windows_scan, direction);
        #[cfg(target_os = "macos")]
        let result = self
            .enigo
            .key(enigo::Key::Other(u32::from(key.mac_keycode)), direction);
        #[cfg(not(any(target_os = "windows", target_os = "macos")))]
        let result = self.enigo.key(enigo::Key::Other(key.x11_keysym), direction);
        result.map_err(|e| BackendError::Send {
            key: key.name,
            message: e.to_string(),
        })
    }
}

impl Backend for EnigoBackend {
    fn press(&mut self, key: Key) -> Result<(), BackendError> {
        self.send(key, enigo::Direction::Press)
    }
    fn release(&mut self, key: Key) -> Result<(), BackendError> {
        self.send(key, enigo::Direction::Release)
    }
}

/// `--dry-run-output`: logs each press and release at `info`, presses nothing.
#[derive(Debug, Default)]
pub struct LogBackend;

impl Backend for LogBackend {
    fn press(&mut self, key: Key) -> Result<(), BackendError> {
        info!(key = key.name, "dry run: would press");
        Ok(())
    }
    fn release(&mut self, key: Key) -> Result<(), BackendError> {
        info!(key = key.name, "dry run: would release");
        Ok(())
    }
}

/// One call a [`RecordingBackend`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// `press(key)`.
    Press(&'static str),
    /// `release(key)`.
    Release(&'static str),
}

/// Records every call, for tests; clones share the record.
#[derive(Debug, Clone, Default)]
pub struct RecordingBackend {
    /// The calls, in order.
    pub calls: Arc<Mutex<Vec<Recorded>>>,
}

impl Backend for RecordingBackend {
    fn press(&mut self, key: Key) -> Result<(), BackendError> {
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Recorded::Press(key.name));
        Ok(())
    }
    fn release(&mut self, key: Key) -> Result<(), BackendError> {
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Recorded::Release(key.name));
        Ok(())
    }
}

/// A back-end plus the keys it holds down; dropping it releases them all (reverse order). This is the drop
/// guard: it runs on shutdown, and during unwinding when the output thread panics.
pub struct HeldKeys<B: Backend> {
    backend: B,
    held: Vec<Key>,
}

impl<B: Backend> HeldKeys<B> {
    /// Wraps `backend`.
    pub fn new(backend: B) -> Self {
        HeldKeys {
            backend,
            held: Vec::new(),
        }
    }

    /// Presses `key` and remembers it (also when the back-end reports an error: it may be half-done).
    pub fn press(&mut self, key: Key) -> Result<(), BackendError> {
        if !self.held.contains(&key) {
            self.held.push(key);
        }
        self.backend.press(key)
    }

    /// Releases `key`.
    pub fn release(&mut self, key: Key) -> Result<(), BackendError> {
        self.held.retain(|k| *k != key);
        self.backend.release(key)
    }

    /// Releases every held key, newest first.
    pub fn release_all(&mut self) {
        while let Some(k) = self.held.pop() {
            if let Err(e) = self.backend.release(k) {
                warn!(error = %e, "releasing a held key failed");
            }
        }
    }

    /// Keys down now.
    pub fn held(&self) -> &[Key] {
        &self.held
    }
}

impl<B: Backend> Drop for HeldKeys<B> {
    fn drop(&mut self) {
        self.release_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::keys::lookup;

    #[test]
    fn dropping_the_guard_releases_in_reverse_order() {
        let rec = RecordingBackend::default();
        {
            let mut g = HeldKeys::new(rec.clone());
            g.press(lookup("Shift").unwrap()).unwrap();
            g.press(lookup("A").unwrap()).unwrap();
            g.press(lookup("Up").unwrap()).unwrap();
            g.release(lookup("Up").unwrap()).unwrap();
        }
        use Recorded::*;
        assert_eq!(
            *rec.calls.lock().unwrap(),
            [
                Press("Shift"),
                Press("A"),
                Press("Up"),
                Release("Up"),
                Release("A"),
                Release("Shift")
            ]
        );
    }

    #[test]
    fn a_panic_while_holding_releases_everything() {
        let rec = RecordingBackend::default();
        let r2 = rec.clone();
        let result = std::panic::catch_unwind(move || {
            let mut g = HeldKeys::new(r2);
            g.press(lookup("Ctrl").unwrap()).unwrap();
            g.press(lookup("Z").unwrap()).unwrap();
            panic!("injected");
        });
        assert!(result.is_err());
        use Recorded::*;
        assert_eq!(
            *rec.calls.lock().unwrap(),
            [Press("Ctrl"), Press("Z"), Release("Z"), Release("Ctrl")]
        );
    }
}
