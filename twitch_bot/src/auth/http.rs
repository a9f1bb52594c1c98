//! The identity server over HTTPS: device codes, token grants, validation and revocation.
//!
//! A thin driver: each method sends one request with [`reqwest`] and turns Twitch's answer into a typed
//! value; the decisions (when to poll, when to refresh) are in [`crate::auth::device`] and
//! [`crate::auth::refresh`]. Twitch's shapes, as documented:
//!
//! | request | success | refusal |
//! |---|---|---|
//! | `POST {id_url}/device` `client_id`, `scopes` | `device_code`, `user_code`, `verification_uri`, `expires_in`, `interval` | `{"status":400,"message":"..."}` |
//! | `POST {id_url}/token` device-code grant | `access_token`, `refresh_token`, `expires_in`, `scope` (array) | `{"status":400,"message":"authorization_pending"}` (or `slow_down`, `expired_token`, `invalid device code`) |
//! | `POST {id_url}/token` `grant_type=refresh_token` | the same, with a new refresh token | `{"status":400,"message":"Invalid refresh token"}` |
//! | `GET {id_url}/validate`, `Authorization: OAuth <token>` | `client_id`, `login`, `scopes`, `user_id`, `expires_in` | 401 `{"status":401,"message":"invalid access token"}` |
//! | `POST {id_url}/revoke` `client_id`, `token` | 200, empty | `{"status":400,"message":"Invalid token"}` |
//!
//! TLS is rustls with ring (the program's one TLS stack), trusting the webpki roots plus
//! `connection.ca_file`. Every token read from an answer is [registered](crate::secret::register) as a
//! secret before anything else happens to it, and no error message quotes a request body.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde::Deserialize;

/// Largest answer read from the identity server (its answers are a few hundred bytes).
pub const MAX_BODY: usize = 64 * 1024;
/// Timeout for one request, connection included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest `expires_in` taken at face value (a hostile value cannot overflow the clock).
const MAX_EXPIRES_SECS: u64 = 365 * 86_400;

/// Why a request could not be made or understood (never a refusal: those are typed answers).
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The CA file could not be read.
    #[error("cannot read the CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The TLS configuration or HTTP client could not be built.
    #[error("cannot set up HTTPS: {0}")]
    Setup(String),
    /// The server could not be reached, or answered something that is not Twitch's shape.
    #[error("{0}")]
    Unreachable(String),
    /// The server refused the request: its status and message.
    #[error("the identity server answered {status}: {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// Twitch's `message`.
        message: String,
    },
}

/// Tokens from a grant (device code or refresh). `Debug` masks them.
#[derive(Clone, PartialEq)]
pub struct Tokens {
    /// The user access token.
    pub access_token: String,
    /// The refresh token (rotated by each refresh).
    pub refresh_token: Option<String>,
    /// The access token's lifetime.
    pub expires_in: Option<Duration>,
    /// The scopes granted.
    pub scopes: Vec<String>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("access_token", &"***")
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "***"))
            .field("expires_in", &self.expires_in)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// A device code (`POST /device`'s answer).
#[derive(Clone)]
pub struct DeviceCode {
    /// Sent with each token poll (a secret: it redeems the grant).
    pub device_code: String,
    /// What the user types at the verification page.
    pub user_code: String,
    /// Where the user goes.
    pub verification_uri: String,
    /// The code's lifetime.
    pub expires_in: Duration,
    /// The polling interval.
    pub interval: Duration,
}

impl fmt::Debug for DeviceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceCode")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("expires_in", &self.expires_in)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

/// The answer to one device-code token poll.
#[derive(Debug)]
pub enum TokenAnswer {
    /// The user approved.
    Granted(Tokens),
    /// `authorization_pending`: poll again after the interval.
    Pending,
    /// `slow_down`: poll again after a longer interval.
    SlowDown,
    /// `expired_token`: the device code expired.
    Expired,
    /// Any other refusal (`invalid device code`, `access_denied`, ...), with Twitch's message.
    Refused(String),
    /// The server could not be reached (or failed with a 5xx): try again later.
    Unreachable(String),
}

/// The answer to a refresh.
#[derive(Debug)]
pub enum RefreshAnswer {
    /// New tokens (the refresh token rotated).
    Granted(Tokens),
    /// The refresh token was refused (revoked, expired, already used): final.
    Rejected(String),
    /// The server could not be reached (or failed with a 5xx): try again later.
    Unreachable(String),
}

/// What `GET /validate` says about a token.
#[derive(Debug, Clone, PartialEq)]
pub struct Validation {
    /// The client id the token was issued to.
    pub client_id: String,
    /// The user's login.
    pub login: String,
    /// The user's id.
    pub user_id: String,
    /// The token's scopes.
    pub scopes: Vec<String>,
    /// Time left (`None`: Twitch sent 0, a token that does not expire).
    pub expires_in: Option<Duration>,
}

/// The answer to a validation.
#[derive(Debug)]
pub enum ValidateAnswer {
    /// The token is valid.
    Valid(Validation),
    /// 401: the token is not valid (expired or revoked).
    Invalid,
    /// The server could not be reached (or failed): try again later.
    Unreachable(String),
}

/// A client of the identity server for one app (client id, optional client secret).
#[derive(Clone)]
pub struct IdClient {
    http: reqwest::Client,
    id_url: String,
    client_id: String,
    client_secret: Option<String>,
}

impl fmt::Debug for IdClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdClient")
            .field("id_url", &self.id_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "***"))
            .finish()
    }
}

/// A rustls client config with ring, trusting the webpki roots and `ca_file` (PEM, one or more
/// certificates).
pub fn tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, HttpError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let ca_err = |reason: String| HttpError::CaFile {
            path: path.display().to_string(),
            reason,
        };
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| ca_err(e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ca_err(e.to_string()))?;
        if certs.is_empty() {
            return Err(ca_err("no certificate in the file".into()));
        }
        for c in certs {
            roots.add(c).map_err(|e| ca_err(e.to_string()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| HttpError::Setup(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// An HTTPS client on [`tls_config`] (for the identity server and, later, the API).
pub fn http_client(ca_file: Option<&Path>) -> Result<reqwest::Client, HttpError> {
    reqwest::Client::builder()
        .use_preconfigured_tls(tls_config(ca_file)?)
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("twitch_bot/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| HttpError::Setup(e.to_string()))
}

#[derive(Deserialize)]
struct RawError {
    status: Option<u16>,
    message: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct RawTokens {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: Option<u64>,
    #[serde(default)]
    scope: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawDevice {
    device_code: String,
    user_code: String,
    verification_uri: String,
    expires_in: u64,
    interval: Option<u64>,
}

#[derive(Deserialize)]
struct RawValidation {
    client_id: String,
    #[serde(default)]
    login: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    expires_in: Option<u64>,
}

/// One answer: status and (bounded) body.
struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl Answer {
    /// Twitch's error `message` (or the RFC 6749 `error`), lowercased words kept as sent.
    fn message(&self) -> String {
        let raw: Option<RawError> = serde_json::from_slice(&self.body).ok();
        let m = raw.and_then(|r| {
            let _ = r.status;
            r.message.or(r.error).or(r.error_description)
        });
        let m = m.unwrap_or_else(|| format!("HTTP {}", self.status));
        // Bounded and printable; and never a secret, should a server echo one.
        let m: String = m.chars().filter(|c| !c.is_control()).take(200).collect();
        crate::secret::redact(&m)
    }

    fn tokens(&self) -> Result<Tokens, String> {
        let raw: RawTokens = serde_json::from_slice(&self.body)
            .map_err(|e| format!("unexpected token answer: {e}"))?;
        crate::secret::register(&raw.access_token);
        if let Some(r) = &raw.refresh_token {
            crate::secret::register(r);
        }
        if raw.access_token.trim().is_empty() {
            return Err("unexpected token answer: empty access_token".into());
        }
        let scopes = match raw.scope {
            Some(serde_json::Value::Array(a)) => a
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            Some(serde_json::Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
            _ => Vec::new(),
        };
        Ok(Tokens {
            access_token: raw.access_token,
            refresh_token: raw.refresh_token.filter(|r| !r.is_empty()),
            expires_in: secs(raw.expires_in),
            scopes,
        })
    }
}

fn secs(v: Option<u64>) -> Option<Duration> {
    v.filter(|&s| s > 0)
        .map(|s| Duration::from_secs(s.min(MAX_EXPIRES_SECS)))
}

impl IdClient {
    /// A client for `id_url` (e.g. `https://id.twitch.tv/oauth2`) as app `client_id`. The client secret,
    /// when given, is registered as a secret and sent with refreshes.
    pub fn new(
        http: reqwest::Client,
        id_url: &str,
        client_id: &str,
        client_secret: Option<String>,
    ) -> IdClient {
        if let Some(s) = &client_secret {
            crate::secret::register(s);
        }
        IdClient {
            http,
            id_url: id_url.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
            client_secret,
        }
    }

    /// The app's client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Answer, String> {
        let mut resp = req.send().await.map_err(|e| describe(&e))?;
        let status = resp.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| describe(&e))? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(format!("the answer is larger than {MAX_BODY} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer { status, body })
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Result<Answer, String> {
        self.send(self.http.post(format!("{}/{path}", self.id_url)).form(form))
            .await
    }

    /// `POST /device`: starts a device-code login for `scopes`.
    pub async fn device(&self, scopes: &[String]) -> Result<DeviceCode, HttpError> {
        let scopes = scopes.join(" ");
        let a = self
            .post(
                "device",
                &[("client_id", &self.client_id), ("scopes", &scopes)],
            )
            .await
            .map_err(HttpError::Unreachable)?;
        if a.status != 200 {
            return Err(HttpError::Refused {
                status: a.status,
                message: a.message(),
            });
        }
        let raw: RawDevice = serde_json::from_slice(&a.body)
            .map_err(|e| HttpError::Unreachable(format!("unexpected device answer: {e}")))?;
        crate::secret::register(&raw.device_code);
        Ok(DeviceCode {
            device_code: raw.device_code,
            user_code: raw
                .user_code
                .chars()
                .filter(|c| !c.is_control())
                .take(64)
                .collect(),
            verification_uri: raw
                .verification_uri
                .chars()
                .filter(|c| !c.is_control())
                .take(2048)
                .collect(),
            expires_in: Duration::from_secs(raw.expires_in.min(MAX_EXPIRES_SECS)),
            interval: Duration::from_secs(raw.interval.unwrap_or(5).min(MAX_EXPIRES_SECS)),
        })
    }

    /// `POST /token` with the device-code grant: one poll.
    pub async fn poll_device(&self, device_code: &str, scopes: &[String]) -> TokenAnswer {
        let scopes = scopes.join(" ");
        let a = match self
            .post(
                "token",
                &[
                    ("client_id", &self.client_id),
                    ("scopes", &scopes),
                    ("device_code", device_code),
                    ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ],
            )
            .await
        {
            Ok(a) => a,
            Err(e) => return TokenAnswer::Unreachable(e),
        };
        match a.status {
            200 => match a.tokens() {
                Ok(t) => TokenAnswer::Granted(t),
                Err(e) => TokenAnswer::Unreachable(e),
            },
            s if s >= 500 => TokenAnswer::Unreachable(a.message()),
            _ => {
                let m = a.message();
                match m.to_ascii_lowercase().as_str() {
                    "authorization_pending" => TokenAnswer::Pending,
                    "slow_down" => TokenAnswer::SlowDown,
                    "expired_token" => TokenAnswer::Expired,
                    _ => TokenAnswer::Refused(m),
                }
            }
        }
    }

    /// `POST /token` with `grant_type=refresh_token` (and the client secret, when configured).
    pub async fn refresh(&self, refresh_token: &str) -> RefreshAnswer {
        let mut form = vec![
            ("client_id", self.client_id.as_str()),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        if let Some(s) = &self.client_secret {
            form.push(("client_secret", s));
        }
        let a = match self.post("token", &form).await {
            Ok(a) => a,
            Err(e) => return RefreshAnswer::Unreachable(e),
        };
        match a.status {
            200 => match a.tokens() {
                Ok(t) => RefreshAnswer::Granted(t),
                Err(e) => RefreshAnswer::Unreachable(e),
            },
            400 | 401 | 403 => RefreshAnswer::Rejected(a.message()),
            _ => RefreshAnswer::Unreachable(a.message()),
        }
    }

    /// `GET /validate` for `access_token`.
    pub async fn validate(&self, access_token: &str) -> ValidateAnswer {
        let req = self
            .http
            .get(format!("{}/validate", self.id_url))
            .header("Authorization", format!("OAuth {access_token}"));
        let a = match self.send(req).await {
            Ok(a) => a,
            Err(e) => return ValidateAnswer::Unreachable(e),
        };
        match a.status {
            200 => match serde_json::from_slice::<RawValidation>(&a.body) {
                Ok(v) => ValidateAnswer::Valid(Validation {
                    client_id: v.client_id,
                    login: v.login.unwrap_or_default(),
                    user_id: v.user_id.unwrap_or_default(),
                    scopes: v.scopes.unwrap_or_default(),
                    expires_in: secs(v.expires_in),
                }),
                Err(e) => ValidateAnswer::Unreachable(format!("unexpected validate answer: {e}")),
            },
            401 => ValidateAnswer::Invalid,
            _ => ValidateAnswer::Unreachable(a.message()),
        }
    }

    /// `POST /revoke` for `token`. A token the server no longer knows (`Invalid token`) counts as revoked.
    pub async fn revoke(&self, token: &str) -> Result<(), HttpError> {
        let a = self
            .post(
                "revoke",
                &[("client_id", &self.client_id), ("token", token)],
            )
            .await
            .map_err(HttpError::Unreachable)?;
        match a.status {
            200 => Ok(()),
            400 if a.message().eq_ignore_ascii_case("invalid token") => Ok(()),
            status => Err(HttpError::Refused {
                status,
                message: a.message(),
            }),
        }
    }
}

/// A reqwest error in one line, with its causes (reqwest's own message is only the outermost one), and
/// without any registered secret.
fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    crate::secret::redact(&s)
}
