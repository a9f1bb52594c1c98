//! A mock Twitch identity server (`id.twitch.tv/oauth2`) over HTTPS on 127.0.0.1, for the login tests.
//!
//! It follows Twitch's documented shapes (Device Code Grant Flow, refresh, validate, revoke):
//!
//! - `POST /oauth2/device` (`client_id`, `scopes`) → `device_code`, `user_code`, `verification_uri`,
//!   `expires_in`, `interval`; an unknown client id → 400 `{"status":400,"message":"invalid client"}`.
//! - `POST /oauth2/token`, `grant_type=urn:ietf:params:oauth:grant-type:device_code` → 400 with
//!   `message` `authorization_pending` until [`MockId::approve`], `slow_down` when polled sooner than the
//!   interval, `expired_token` past `expires_in`, `invalid device code` for an unknown or redeemed code;
//!   then the tokens (`access_token`, `refresh_token`, `expires_in`, `scope` as an array, `token_type`).
//! - `POST /oauth2/token`, `grant_type=refresh_token` → new tokens, the refresh token rotated (the old one
//!   is spent); an unknown, spent or revoked one → 400 `{"status":400,"message":"Invalid refresh token"}`.
//! - `GET /oauth2/validate`, `Authorization: OAuth <token>` → `client_id`, `login`, `scopes`, `user_id`,
//!   `expires_in`; an expired or unknown token → 401 `{"status":401,"message":"invalid access token"}`.
//! - `POST /oauth2/revoke` (`client_id`, `token`) → 200; an unknown token → 400 `Invalid token`, an
//!   unknown client → 404 `client does not exist`.
//!
//! Access tokens expire after [`IdOptions::lifetime`] (a few seconds in the tests). The mock chat server
//! asks [`MockId::token_check`] whether a login token is valid *now*, so a bot that reconnects with a stale
//! token is refused exactly as Twitch would refuse it.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::tls::{TestCa, TestCaError};

/// A predicate the mock chat server asks about each login token (`true`: accept the login).
#[derive(Clone)]
pub struct TokenCheck(Arc<dyn Fn(&str) -> bool + Send + Sync>);

impl TokenCheck {
    /// Wraps `f`.
    pub fn new(f: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// Whether `token` (without `oauth:`) may log in.
    pub fn accepts(&self, token: &str) -> bool {
        (self.0)(token)
    }
}

impl std::fmt::Debug for TokenCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCheck")
    }
}

/// How the mock identity server behaves.
#[derive(Debug, Clone)]
pub struct IdOptions {
    /// The one registered (public) client id.
    pub client_id: String,
    /// The user who approves device codes.
    pub login: String,
    /// That user's id.
    pub user_id: String,
    /// Access tokens' lifetime.
    pub lifetime: Duration,
    /// Device codes' lifetime (`expires_in`).
    pub device_expires_in: Duration,
    /// The polling `interval` (whole seconds on the wire).
    pub interval_secs: u64,
}

impl Default for IdOptions {
    fn default() -> Self {
        Self {
            client_id: "mockclientid0123456789abcdef".into(),
            login: "authbot".into(),
            user_id: "424242".into(),
            lifetime: Duration::from_secs(3600),
            device_expires_in: Duration::from_secs(1800),
            interval_secs: 1,
        }
    }
}

#[derive(Debug)]
struct Device {
    user_code: String,
    scopes: Vec<String>,
    approved: bool,
    polls: u32,
    last_poll: Option<Instant>,
    expires: Instant,
}

#[derive(Debug, Clone)]
struct Grant {
    scopes: Vec<String>,
    /// Identifies one authorization (device login) across refreshes, for revocation.
    authorization: u64,
}

#[derive(Debug, Default)]
struct State {
    devices: HashMap<String, Device>,
    access: HashMap<String, (Grant, Instant)>,
    refresh: HashMap<String, Grant>,
    next_authorization: u64,
    counts: Counts,
    /// Every access and refresh token issued, in order.
    issued: Vec<(String, String)>,
}

/// What the mock has seen.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    /// Device-code token polls answered.
    pub polls: u32,
    /// `slow_down` answers given.
    pub slow_downs: u32,
    /// Refresh grants given.
    pub refreshes: u32,
    /// Refreshes refused.
    pub refused_refreshes: u32,
    /// Validations answered (valid or not).
    pub validations: u32,
    /// Revocations done.
    pub revocations: u32,
    /// Chat logins refused by [`MockId::token_check`].
    pub refused_logins: u32,
    /// Chat logins accepted by [`MockId::token_check`].
    pub accepted_logins: u32,
}

struct Shared {
    opts: IdOptions,
    state: Mutex<State>,
    salt: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh random token of `len` characters [a-z0-9] (Twitch's are 30).
    fn random(&self, len: usize) -> String {
        let mut s = String::new();
        while s.len() < len {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(self.salt.fetch_add(1, Ordering::Relaxed));
            let mut v = h.finish();
            for _ in 0..12 {
                let d = (v % 36) as u32;
                s.push(char::from_digit(d, 36).unwrap_or('x'));
                v /= 36;
            }
        }
        s.truncate(len);
        s
    }
}

/// The running mock identity server. Stops when dropped.
pub struct MockId {
    addr: SocketAddr,
    ca: TestCa,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for MockId {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for MockId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockId")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl MockId {
    /// Starts the server on `127.0.0.1:0` with a fresh test CA.
    pub async fn start(opts: IdOptions) -> Result<Self, TestCaError> {
        let ca = TestCa::generate()?;
        let acceptor = ca.acceptor()?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            opts,
            state: Mutex::new(State::default()),
            salt: AtomicU64::new(1),
        });
        let s = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let s = s.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |req| {
                        let s = s.clone();
                        async move { Ok::<_, std::convert::Infallible>(handle(&s, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Ok(Self {
            addr,
            ca,
            shared,
            task,
        })
    }

    /// `https://127.0.0.1:PORT/oauth2`: the bot's `[twitch] id_url`.
    pub fn id_url(&self) -> String {
        format!("https://127.0.0.1:{}/oauth2", self.addr.port())
    }

    /// The CA to trust (`connection.ca_file`).
    pub fn ca_file(&self) -> std::path::PathBuf {
        self.ca.ca_file()
    }

    /// The registered client id.
    pub fn client_id(&self) -> &str {
        &self.shared.opts.client_id
    }

    /// The user approves the device code shown as `user_code`. `false`: no such pending code.
    pub fn approve(&self, user_code: &str) -> bool {
        let mut st = self.shared.lock();
        match st.devices.values_mut().find(|d| d.user_code == user_code) {
            Some(d) => {
                d.approved = true;
                true
            }
            None => false,
        }
    }

    /// Token polls seen for the device code shown as `user_code`.
    pub fn polls_for(&self, user_code: &str) -> u32 {
        let st = self.shared.lock();
        st.devices
            .values()
            .find(|d| d.user_code == user_code)
            .map_or(0, |d| d.polls)
    }

    /// Issues tokens as if a device login had just succeeded: `(access_token, refresh_token)`.
    pub fn issue(&self, scopes: &[&str]) -> (String, String) {
        let scopes = scopes.iter().map(|s| s.to_string()).collect();
        let mut st = self.shared.lock();
        let g = new_authorization(&mut st, scopes);
        issue_tokens(&self.shared, &mut st, g)
    }

    /// Whether `token` is a valid access token now.
    pub fn is_valid(&self, token: &str) -> bool {
        let st = self.shared.lock();
        st.access
            .get(token)
            .is_some_and(|(_, exp)| Instant::now() < *exp)
    }

    /// The check for the mock chat server: valid access tokens only (counted in [`Counts`]).
    pub fn token_check(&self) -> TokenCheck {
        let shared = self.shared.clone();
        TokenCheck::new(move |token| {
            let mut st = shared.lock();
            let ok = st
                .access
                .get(token)
                .is_some_and(|(_, exp)| Instant::now() < *exp);
            if ok {
                st.counts.accepted_logins += 1;
            } else {
                st.counts.refused_logins += 1;
            }
            ok
        })
    }

    /// The user disconnects the app: every access and refresh token becomes invalid.
    pub fn revoke_everything(&self) {
        let mut st = self.shared.lock();
        st.access.clear();
        st.refresh.clear();
    }

    /// Every `(access_token, refresh_token)` issued so far, oldest first (to check none leaked).
    pub fn issued(&self) -> Vec<(String, String)> {
        self.shared.lock().issued.clone()
    }

    /// What the mock has seen so far.
    pub fn counts(&self) -> Counts {
        self.shared.lock().counts.clone()
    }
}

fn new_authorization(st: &mut State, scopes: Vec<String>) -> Grant {
    st.next_authorization += 1;
    Grant {
        scopes,
        authorization: st.next_authorization,
    }
}

fn issue_tokens(shared: &Shared, st: &mut State, g: Grant) -> (String, String) {
    let access = shared.random(30);
    let refresh = shared.random(50);
    st.access.insert(
        access.clone(),
        (g.clone(), Instant::now() + shared.opts.lifetime),
    );
    st.refresh.insert(refresh.clone(), g);
    st.issued.push((access.clone(), refresh.clone()));
    (access, refresh)
}

fn tokens_json(shared: &Shared, access: &str, refresh: &str, g: &Grant) -> serde_json::Value {
    json!({
        "access_token": access,
        "refresh_token": refresh,
        "expires_in": shared.opts.lifetime.as_secs(),
        "scope": g.scopes,
        "token_type": "bearer",
    })
}

fn reply(status: u16, body: serde_json::Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

fn error(status: u16, message: &str) -> Response<Full<Bytes>> {
    reply(status, json!({"status": status, "message": message}))
}

async fn handle(shared: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let Ok(body) = Limited::new(req.into_body(), 16 * 1024).collect().await else {
        return error(400, "body too large");
    };
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body.to_bytes())
        .into_owned()
        .collect();
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let opts = &shared.opts;
    match (method.as_str(), path.as_str()) {
        ("POST", "/oauth2/device") => {
            if field("client_id") != opts.client_id {
                return error(400, "invalid client");
            }
            let device_code = shared.random(40);
            let user_code = shared.random(8).to_ascii_uppercase();
            let scopes = field("scopes")
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            shared.lock().devices.insert(
                device_code.clone(),
                Device {
                    user_code: user_code.clone(),
                    scopes,
                    approved: false,
                    polls: 0,
                    last_poll: None,
                    expires: Instant::now() + opts.device_expires_in,
                },
            );
            reply(
                200,
                json!({
                    "device_code": device_code,
                    "expires_in": opts.device_expires_in.as_secs(),
                    "interval": opts.interval_secs,
                    "user_code": user_code,
                    "verification_uri": format!("https://www.twitch.tv/activate?public=true&device-code={user_code}"),
                }),
            )
        }
        ("POST", "/oauth2/token") => {
            if field("client_id") != opts.client_id {
                return error(400, "invalid client");
            }
            match field("grant_type") {
                "urn:ietf:params:oauth:grant-type:device_code" => {
                    let mut st = shared.lock();
                    st.counts.polls += 1;
                    let now = Instant::now();
                    let code = field("device_code").to_owned();
                    let Some(d) = st.devices.get_mut(&code) else {
                        return error(400, "invalid device code");
                    };
                    d.polls += 1;
                    let early = d.last_poll.is_some_and(|t| {
                        now.duration_since(t) < Duration::from_millis(opts.interval_secs * 900)
                    });
                    d.last_poll = Some(now);
                    if now >= d.expires {
                        st.devices.remove(&code);
                        return error(400, "expired_token");
                    }
                    if early {
                        st.counts.slow_downs += 1;
                        return error(400, "slow_down");
                    }
                    if !d.approved {
                        return error(400, "authorization_pending");
                    }
                    let scopes = d.scopes.clone();
                    st.devices.remove(&code);
                    let g = new_authorization(&mut st, scopes);
                    let (a, r) = issue_tokens(shared, &mut st, g.clone());
                    reply(200, tokens_json(shared, &a, &r, &g))
                }
                "refresh_token" => {
                    let mut st = shared.lock();
                    let Some(g) = st.refresh.remove(field("refresh_token")) else {
                        st.counts.refused_refreshes += 1;
                        return error(400, "Invalid refresh token");
                    };
                    st.counts.refreshes += 1;
                    let (a, r) = issue_tokens(shared, &mut st, g.clone());
                    reply(200, tokens_json(shared, &a, &r, &g))
                }
                _ => error(400, "unsupported_grant_type"),
            }
        }
        ("GET", "/oauth2/validate") => {
            let mut st = shared.lock();
            st.counts.validations += 1;
            let token = auth
                .as_deref()
                .and_then(|h| h.strip_prefix("OAuth "))
                .unwrap_or("");
            match st.access.get(token) {
                Some((g, exp)) if Instant::now() < *exp => reply(
                    200,
                    json!({
                        "client_id": opts.client_id,
                        "login": opts.login,
                        "scopes": g.scopes,
                        "user_id": opts.user_id,
                        "expires_in": exp.saturating_duration_since(Instant::now()).as_secs(),
                    }),
                ),
                _ => error(401, "invalid access token"),
            }
        }
        ("POST", "/oauth2/revoke") => {
            if field("client_id") != opts.client_id {
                return error(404, "client does not exist");
            }
            let mut st = shared.lock();
            let token = field("token");
            let authorization = st
                .access
                .get(token)
                .map(|(g, _)| g.authorization)
                .or_else(|| st.refresh.get(token).map(|g| g.authorization));
            let Some(authz) = authorization else {
                return error(400, "Invalid token");
            };
            st.access.retain(|_, (g, _)| g.authorization != authz);
            st.refresh.retain(|_, g| g.authorization != authz);
            st.counts.revocations += 1;
            reply(200, json!({}))
        }
        _ => error(404, "not found"),
    }
}
