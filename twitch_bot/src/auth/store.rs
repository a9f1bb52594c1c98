//! The token store: one JSON file per client id, readable by its owner only, replaced atomically.
//!
//! The default place is the platform's config directory: `$XDG_CONFIG_HOME/twitch_bot/` (else
//! `~/.config/twitch_bot/`) on Linux and BSD, `~/Library/Application Support/twitch_bot/` on macOS,
//! `%APPDATA%\twitch_bot\` on Windows; the file is `token-<client id>.json`. `[auth] token_file` overrides it.
//!
//! - **Written atomically.** A new version goes to a temporary file in the same directory (created with
//!   mode 0600 on Unix, never wider for an instant), is flushed to disk (`fsync`), then renamed over the
//!   old one, and the directory is synced. A crash leaves the old file or the new one, never half of one;
//!   two `twitch_bot login` runs at once each write their own temporary file, and the last rename wins
//!   with a whole file.
//! - **Refused with a clear error, never a panic:** a file that is not the store's JSON
//!   ([`StoreError::Corrupt`]), a file the group or others may read ([`StoreError::Permissions`]), a file
//!   written for another client id ([`StoreError::OtherClient`]), or one larger than [`MAX_FILE`].
//!
//! The tokens in a loaded file are [registered](crate::secret::register) as secrets at once, and
//! [`StoredToken`]'s `Debug` masks them.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Largest token file read (a real one is under 1 KiB).
pub const MAX_FILE: u64 = 64 * 1024;
/// The file format's version.
const VERSION: u32 = 1;

/// What the store holds for one client id. `Debug` masks the tokens.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredToken {
    /// The file format's version (1).
    pub version: u32,
    /// The app the tokens belong to.
    pub client_id: String,
    /// The user's login.
    pub login: String,
    /// The user's id.
    pub user_id: String,
    /// The scopes granted.
    pub scopes: Vec<String>,
    /// The user access token.
    pub access_token: String,
    /// The refresh token (rotated by each refresh).
    pub refresh_token: Option<String>,
    /// When the access token expires, in seconds since the Unix epoch (`None`: unknown).
    pub expires_at: Option<u64>,
}

impl fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredToken")
            .field("client_id", &self.client_id)
            .field("login", &self.login)
            .field("user_id", &self.user_id)
            .field("scopes", &self.scopes)
            .field("access_token", &"***")
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "***"))
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl StoredToken {
    /// A record for freshly granted tokens; `expires_in` counts from now.
    pub fn new(
        client_id: &str,
        login: &str,
        user_id: &str,
        tokens: &crate::auth::http::Tokens,
    ) -> StoredToken {
        StoredToken {
            version: VERSION,
            client_id: client_id.to_owned(),
            login: login.to_owned(),
            user_id: user_id.to_owned(),
            scopes: tokens.scopes.clone(),
            access_token: tokens.access_token.clone(),
            refresh_token: tokens.refresh_token.clone(),
            expires_at: tokens
                .expires_in
                .map(|d| unix_now().saturating_add(d.as_secs())),
        }
    }

    /// The record after a refresh: new tokens (the refresh token kept if the server sent none), same user.
    pub fn refreshed(&self, tokens: &crate::auth::http::Tokens) -> StoredToken {
        let mut next = StoredToken::new(&self.client_id, &self.login, &self.user_id, tokens);
        if next.refresh_token.is_none() {
            next.refresh_token = self.refresh_token.clone();
        }
        if next.scopes.is_empty() {
            next.scopes = self.scopes.clone();
        }
        next
    }

    /// Time left before the access token expires (`Some(0)` once expired, `None` when unknown).
    pub fn expires_in(&self) -> Option<Duration> {
        self.expires_at
            .map(|at| Duration::from_secs(at.saturating_sub(unix_now())))
    }
}

/// Why the store could not be read or written. Every message names the file and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading, writing or renaming failed.
    #[error("token file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a token store (or was damaged).
    #[error("token file {} is corrupt ({reason}); delete it and run `twitch_bot login`", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The group or others may read or write the file.
    #[error(
        "token file {} has mode {mode:03o}: others could read the tokens; refusing it. Fix: chmod 600 {} (and \
         consider `twitch_bot logout` then `twitch_bot login` if someone may have read it)",
        path.display(), path.display()
    )]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file holds tokens of another app.
    #[error(
        "token file {} belongs to client id {found}, not to the configured auth.client_id {expected}; run \
         `twitch_bot login`, or set auth.token_file to another path", path.display()
    )]
    OtherClient {
        /// The file.
        path: PathBuf,
        /// The configured client id.
        expected: String,
        /// The file's client id.
        found: String,
    },
    /// No config directory could be determined (no `HOME`).
    #[error("no config directory (HOME is not set): set auth.token_file")]
    NoConfigDir,
}

/// The platform's config directory for the bot (see the [module docs](self)).
pub fn config_dir() -> Option<PathBuf> {
    let non_empty = |v: &str| {
        std::env::var_os(v)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
    };
    #[cfg(windows)]
    let base = non_empty("APPDATA");
    #[cfg(target_os = "macos")]
    let base = non_empty("HOME").map(|h| h.join("Library/Application Support"));
    #[cfg(all(not(windows), not(target_os = "macos")))]
    let base = non_empty("XDG_CONFIG_HOME")
        .filter(|p| p.is_absolute())
        .or_else(|| non_empty("HOME").map(|h| h.join(".config")));
    base.map(|b| b.join("twitch_bot"))
}

/// The default token file for `client_id`.
pub fn default_path(client_id: &str) -> Result<PathBuf, StoreError> {
    config_dir()
        .map(|d| d.join(format!("token-{client_id}.json")))
        .ok_or(StoreError::NoConfigDir)
}

/// The token file of one client id.
#[derive(Debug, Clone)]
pub struct TokenStore {
    path: PathBuf,
    client_id: String,
}

impl TokenStore {
    /// The store at `path` (or the default path) for `client_id`.
    pub fn new(path: Option<PathBuf>, client_id: &str) -> Result<TokenStore, StoreError> {
        let path = match path {
            Some(p) => p,
            None => default_path(client_id)?,
        };
        Ok(TokenStore {
            path,
            client_id: client_id.to_owned(),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, source: std::io::Error) -> StoreError {
        StoreError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// The stored tokens; `Ok(None)` when there is no file.
    pub fn load(&self) -> Result<Option<StoredToken>, StoreError> {
        let mut file = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(e)),
        };
        let meta = file.metadata().map_err(|e| self.io(e))?;
        if !meta.is_file() {
            return Err(self.corrupt("not a regular file".into()));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(StoreError::Permissions {
                    path: self.path.clone(),
                    mode,
                });
            }
        }
        if meta.len() > MAX_FILE {
            return Err(self.corrupt(format!(
                "{} bytes; a token file is at most {MAX_FILE}",
                meta.len()
            )));
        }
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::Read::take(&mut file, MAX_FILE), &mut text)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::InvalidData => self.corrupt("not UTF-8 text".into()),
                _ => self.io(e),
            })?;
        // serde_json's messages name a position and an expectation, never the text itself.
        let t: StoredToken =
            serde_json::from_str(&text).map_err(|e| self.corrupt(e.to_string()))?;
        crate::secret::register(&t.access_token);
        if let Some(r) = &t.refresh_token {
            crate::secret::register(r);
        }
        if t.version != VERSION {
            return Err(self.corrupt(format!(
                "format version {} (this program reads {VERSION})",
                t.version
            )));
        }
        if t.access_token.trim().is_empty() {
            return Err(self.corrupt("empty access_token".into()));
        }
        if t.client_id != self.client_id {
            return Err(StoreError::OtherClient {
                path: self.path.clone(),
                expected: self.client_id.clone(),
                found: t.client_id.chars().take(64).collect(),
            });
        }
        Ok(Some(t))
    }

    fn corrupt(&self, reason: String) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            reason,
        }
    }

    /// Replaces the file with `token`, atomically (see the [module docs](self)).
    pub fn save(&self, token: &StoredToken) -> Result<(), StoreError> {
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        create_private_dir(&dir).map_err(|e| self.io(e))?;
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "token.json".into());
        let json = serde_json::to_vec_pretty(token)
            .map_err(|e| self.io(std::io::Error::other(e.to_string())))?;
        let (tmp, mut file) = loop {
            let tmp = dir.join(format!(
                ".{name}.{}.{:08x}.tmp",
                std::process::id(),
                rand::random::<u32>()
            ));
            match open_private(&tmp) {
                Ok(f) => break (tmp, f),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(self.io(e)),
            }
        };
        let written = file
            .write_all(&json)
            .and_then(|()| file.write_all(b"\n"))
            .and_then(|()| file.sync_all());
        drop(file);
        if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, &self.path)) {
            let _ = std::fs::remove_file(&tmp);
            return Err(self.io(e));
        }
        // The rename itself reaches the disk with the directory.
        #[cfg(unix)]
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Deletes the file (`Ok(false)`: there was none).
    pub fn delete(&self) -> Result<bool, StoreError> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.io(e)),
        }
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::http::Tokens;

    fn dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "twitch_bot-store-test-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn token(client: &str) -> StoredToken {
        StoredToken::new(
            client,
            "botlogin",
            "1234",
            &Tokens {
                access_token: "store-access-token-1".into(),
                refresh_token: Some("store-refresh-token-1".into()),
                expires_in: Some(Duration::from_secs(100)),
                scopes: vec!["chat:read".into(), "chat:edit".into()],
            },
        )
    }

    #[test]
    fn round_trip_with_mode_0600_and_no_leftovers() {
        let d = dir();
        let store = TokenStore::new(Some(d.join("sub/t.json")), "cid1").unwrap();
        assert!(store.load().unwrap().is_none());
        let t = token("cid1");
        store.save(&t).unwrap();
        assert_eq!(store.load().unwrap(), Some(t.clone()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store.path())
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600);
        }
        let t2 = t.refreshed(&Tokens {
            access_token: "store-access-token-2".into(),
            refresh_token: None,
            expires_in: Some(Duration::from_secs(50)),
            scopes: vec![],
        });
        store.save(&t2).unwrap();
        let back = store.load().unwrap().unwrap();
        assert_eq!(back.access_token, "store-access-token-2");
        assert_eq!(back.refresh_token.as_deref(), Some("store-refresh-token-1"));
        assert_eq!(back.scopes, t.scopes);
        let names: Vec<_> = std::fs::read_dir(d.join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
        assert!(!format!("{back:?}").contains("store-access-token"));
        assert!(store.delete().unwrap());
        assert!(!store.delete().unwrap());
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn corrupt_open_and_foreign_files_are_refused() {
        let d = dir();
        let path = d.join("t.json");
        let store = TokenStore::new(Some(path.clone()), "cid1").unwrap();
        let write = |bytes: &[u8]| {
            let _ = std::fs::remove_file(&path);
            let mut f = open_private(&path).unwrap();
            f.write_all(bytes).unwrap();
        };
        for bytes in [
            &b""[..],
            b"{",
            b"\xff\xfe",
            b"[]",
            b"{\"version\":1}",
            b"null",
        ] {
            write(bytes);
            let e = store.load().unwrap_err();
            assert!(matches!(e, StoreError::Corrupt { .. }), "{bytes:?}: {e}");
            assert!(e.to_string().contains("twitch_bot login"), "{e}");
        }
        store.save(&token("other")).unwrap();
        let e = store.load().unwrap_err();
        assert!(
            matches!(e, StoreError::OtherClient { ref found, .. } if found == "other"),
            "{e}"
        );
        assert!(!e.to_string().contains("store-access-token"), "{e}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            store.save(&token("cid1")).unwrap();
            for mode in [0o644, 0o640, 0o604, 0o660] {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
                let e = store.load().unwrap_err();
                assert!(
                    matches!(e, StoreError::Permissions { mode: m, .. } if m == mode),
                    "{e}"
                );
                assert!(e.to_string().contains("chmod 600"), "{e}");
            }
        }
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn concurrent_saves_always_leave_a_whole_file() {
        let d = dir();
        let path = d.join("t.json");
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let store = TokenStore::new(Some(path), "cid1").unwrap();
                    for j in 0..50 {
                        let mut t = token("cid1");
                        t.login = format!("writer{i}x{j}");
                        store.save(&t).unwrap();
                        let back = store.load().unwrap().expect("a file");
                        assert!(back.login.starts_with("writer"));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        let _ = std::fs::remove_dir_all(d);
    }
}
