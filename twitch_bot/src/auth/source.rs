//! The token the bot logs in with, kept current while it runs: [`TokenSource`] and its keeper task.
//!
//! ```text
//!   keeper task (this module)                         driver (one per bot)
//!   Refresher::poll_job ─► IdClient::refresh/validate
//!        │ new token: TokenStore::save, then ───────► TokenSource::current()   at every connect/reconnect
//!        │ revoked: fatal ─────────────────────────► TokenSource::subscribe()  ends the bot (exit 2)
//!        ◄──── TokenSource::handle_auth_failure() ◄── "Login authentication failed" (refresh, retry once)
//! ```
//!
//! The driver never keeps a token: it asks [`TokenSource::current`] each time it opens a connection, so a
//! reconnect four hours after the start presents the token refreshed ten minutes ago, not the one read at
//! start. While a refresh is due or under way ([`TokenSource::refresh_pending`]) it waits a moment
//! before connecting rather than log in with a token about to be replaced.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};
use tracing::{debug, error, info, warn};

use crate::auth::http::{IdClient, RefreshAnswer, ValidateAnswer};
use crate::auth::refresh::{Job, Refresher};
use crate::auth::store::{StoredToken, TokenStore};
use crate::config::Token;

/// Where the token came from (for messages telling the user what to do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The environment variable `connection.token_env` names (cannot be refreshed).
    Env(String),
    /// The token store at this path (refreshed, rotated, saved).
    Store(PathBuf),
}

/// The current token, shared by the keeper task and the driver. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    /// Wakes the keeper (an auth failure asks for a refresh now).
    wake: Notify,
    /// Bumped on every change the driver cares about (a revoked token).
    changed: watch::Sender<u64>,
}

#[derive(Debug)]
struct State {
    token: Token,
    origin: Origin,
    refresher: Refresher,
}

impl TokenSource {
    /// A source for `token` from `origin`, with its schedule.
    pub fn new(token: Token, origin: Origin, refresher: Refresher) -> TokenSource {
        TokenSource {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    token,
                    origin,
                    refresher,
                }),
                wake: Notify::new(),
                changed: watch::channel(0).0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The token to log in with now.
    pub fn current(&self) -> Token {
        self.lock().token.clone()
    }

    /// Where the token came from.
    pub fn origin(&self) -> Origin {
        self.lock().origin.clone()
    }

    /// A refresh is due or under way: wait before connecting.
    pub fn refresh_pending(&self, now: Instant) -> bool {
        self.lock().refresher.refresh_pending(now)
    }

    /// The server refused the token. `Ok`: a refresh was asked for, reconnect once it is done (see
    /// [`refresh_pending`](Self::refresh_pending)); `Err`: final, with a message telling the user what to do.
    pub fn handle_auth_failure(&self, server_said: &str, now: Instant) -> Result<(), String> {
        let mut s = self.lock();
        match s.refresher.handle_auth_failure(now) {
            Ok(()) => {
                drop(s);
                self.inner.wake.notify_one();
                Ok(())
            }
            Err(why) => Err(fatal_message(
                &s.origin,
                &format!("the server said \"{server_said}\"; {why}"),
            )),
        }
    }

    /// A login with the current token succeeded.
    pub fn handle_logged_in(&self) {
        self.lock().refresher.handle_logged_in();
    }

    /// Why the token can no longer be used (revoked), with what to do; `None` while it can.
    pub fn fatal(&self) -> Option<String> {
        let s = self.lock();
        s.refresher.fatal().map(|f| fatal_message(&s.origin, f))
    }

    /// Changes once [`fatal`](Self::fatal) may have become `Some` (select on `changed()`).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.changed.subscribe()
    }

    fn bump(&self) {
        self.inner.changed.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// The message that ends the bot when the token cannot be used any more.
fn fatal_message(origin: &Origin, why: &str) -> String {
    match origin {
        Origin::Store(path) => format!(
            "{why}. Run `twitch_bot login` to authorize the bot again (token file {})",
            path.display()
        ),
        Origin::Env(var) => format!(
            "{why}. The token in the environment variable {var} cannot be refreshed: put a fresh token there \
             (a user access token with scopes chat:read and chat:edit), or unset it and run `twitch_bot login`"
        ),
    }
}

/// Runs `source`'s schedule (refresh, validation) until the source is dropped by everyone else or a fatal
/// error. `store` receives every rotated token (with `stored` as the record to update).
pub async fn keep(source: TokenSource, client: IdClient, store: Option<(TokenStore, StoredToken)>) {
    let mut store = store;
    loop {
        let now = Instant::now();
        let (job, wake_at) = {
            let mut s = source.lock();
            (s.refresher.poll_job(now), s.refresher.poll_timeout())
        };
        let Some(job) = job else {
            if source.lock().refresher.fatal().is_some() {
                return;
            }
            if Arc::strong_count(&source.inner) == 1 {
                return; // nobody uses the token any more
            }
            let wake_at = wake_at.unwrap_or(now + Duration::from_secs(3600));
            tokio::select! {
                () = tokio::time::sleep_until(wake_at.into()) => {}
                () = source.inner.wake.notified() => {}
            }
            continue;
        };
        match job {
            Job::Refresh => {
                let Some(refresh_token) = store.as_ref().and_then(|(_, t)| t.refresh_token.clone())
                else {
                    source.lock().refresher.handle_refreshed(
                        &RefreshAnswer::Rejected("no refresh token".into()),
                        Instant::now(),
                    );
                    source.bump();
                    continue;
                };
                debug!("refreshing the access token");
                let answer = client.refresh(&refresh_token).await;
                let now = Instant::now();
                match &answer {
                    RefreshAnswer::Granted(tokens) => {
                        if let Some((st, stored)) = store.as_mut() {
                            *stored = stored.refreshed(tokens);
                            // Saved before use: the old refresh token is spent, the new one must survive a crash.
                            match st.save(stored) {
                                Ok(()) => info!(
                                    expires_in_s = tokens.expires_in.map(|d| d.as_secs()),
                                    file = %st.path().display(),
                                    "access token refreshed and stored"
                                ),
                                Err(e) => error!(
                                    "access token refreshed, but storing it failed ({e}); the bot keeps running \
                                     with it, but after a restart `twitch_bot login` will be needed"
                                ),
                            }
                        }
                        let mut s = source.lock();
                        s.token = Token::new(&tokens.access_token);
                        s.refresher.handle_refreshed(&answer, now);
                    }
                    RefreshAnswer::Rejected(message) => {
                        error!(%message, "the identity server rejected the refresh token");
                        source.lock().refresher.handle_refreshed(&answer, now);
                    }
                    RefreshAnswer::Unreachable(why) => {
                        warn!(%why, "refreshing the access token failed; retrying later");
                        source.lock().refresher.handle_refreshed(&answer, now);
                    }
                }
                source.bump();
            }
            Job::Validate => {
                let token = source.current();
                let answer = client.validate(token.secret()).await;
                let now = Instant::now();
                match &answer {
                    ValidateAnswer::Valid(v) => {
                        debug!(login = %v.login, expires_in_s = v.expires_in.map(|d| d.as_secs()), "token validated");
                        if v.client_id != client.client_id() {
                            warn!(
                                token_client_id = %v.client_id,
                                "the token was issued to another client id than auth.client_id; refreshes will fail"
                            );
                        }
                    }
                    ValidateAnswer::Invalid => {
                        info!("validation: the access token is no longer valid")
                    }
                    ValidateAnswer::Unreachable(why) => {
                        warn!(%why, "validating the token failed; retrying later")
                    }
                }
                let mut s = source.lock();
                s.refresher.handle_validated(&answer, now);
                if s.refresher.take_expired_warning()
                    && let Origin::Env(var) = &s.origin
                {
                    warn!(
                        "the token in the environment variable {var} has expired and cannot be refreshed: the next \
                         reconnect will fail. Put a fresh token there, or unset it and use `twitch_bot login`"
                    );
                }
            }
        }
    }
}
