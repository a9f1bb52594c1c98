//! The `[auth]` and `[twitch]` tables of the config file.
//!
//! ```toml
//! [auth]
//! client_id = "abcdefghijklmnopqrstuvwxyz0123"   # your app at the Twitch developer console (public client)
//! # token_file = "tokens/bot.json"              # default: one file per client id in the config directory
//! # client_secret_env = "TWITCH_CLIENT_SECRET"  # only for confidential clients; the secret stays in the env
//!
//! [twitch]
//! # id_url = "https://id.twitch.tv/oauth2"      # the identity server (tests and self-hosting)
//! # api_url = "https://api.twitch.tv/helix"
//! # eventsub_url = "wss://eventsub.wss.twitch.tv/ws"  # with connection.transport = "eventsub"
//! # eventsub_keepalive_secs = 10                      # 10..=600: silence + 5 s means a dead connection
//! # eventsub_redemptions = false                      # subscribe to channel-point redemptions
//! ```
//!
//! Neither table holds a secret: the client id is public, the client secret (rarely needed: the device flow
//! is made for public clients) is read from the environment variable `client_secret_env` names.

use std::ops::Range;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use crate::config::ConfigError;

/// The identity server used when `[twitch] id_url` is not set.
pub const DEFAULT_ID_URL: &str = "https://id.twitch.tv/oauth2";
/// The Helix API used when `[twitch] api_url` is not set.
pub const DEFAULT_API_URL: &str = "https://api.twitch.tv/helix";
/// The EventSub WebSocket used when `[twitch] eventsub_url` is not set.
pub const DEFAULT_EVENTSUB_URL: &str = "wss://eventsub.wss.twitch.tv/ws";
/// `[twitch] eventsub_keepalive_secs` when not set (Twitch's own default).
pub const DEFAULT_EVENTSUB_KEEPALIVE_SECS: u64 = 10;

/// The `[auth]` table.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AuthConfig {
    /// `client_id`: the app's client id (public). `None`: no stored tokens, only `connection.token_env`.
    pub client_id: Option<String>,
    /// `token_file`: where the tokens are stored (default: [`crate::auth::store::default_path`]). A
    /// relative path is resolved against the config file's directory.
    pub token_file: Option<PathBuf>,
    /// `client_secret_env`: the environment variable holding the client secret, for confidential clients.
    pub client_secret_env: Option<String>,
}

/// The `[twitch]` table: Twitch's endpoints, configurable for tests and self-hosting.
#[derive(Debug, Clone, PartialEq)]
pub struct TwitchConfig {
    /// `id_url`: the OAuth server, without a trailing `/` (default [`DEFAULT_ID_URL`]).
    pub id_url: String,
    /// `api_url`: the Helix API, without a trailing `/` (default [`DEFAULT_API_URL`]).
    pub api_url: String,
    /// `eventsub_url`: the EventSub WebSocket, `wss://` (or `ws://` for local tests; default
    /// [`DEFAULT_EVENTSUB_URL`]). Used with `connection.transport = "eventsub"`.
    pub eventsub_url: String,
    /// `eventsub_keepalive_secs`: the `keepalive_timeout_seconds` asked for, 10 to 600 (default
    /// [`DEFAULT_EVENTSUB_KEEPALIVE_SECS`]); no message for that long plus 5 s means a dead connection.
    pub eventsub_keepalive_secs: u64,
    /// `eventsub_redemptions`: also subscribe to channel-point redemptions (needs the broadcaster's own
    /// token with `channel:read:redemptions`; default false).
    pub eventsub_redemptions: bool,
}

impl Default for TwitchConfig {
    fn default() -> Self {
        TwitchConfig {
            id_url: DEFAULT_ID_URL.to_owned(),
            api_url: DEFAULT_API_URL.to_owned(),
            eventsub_url: DEFAULT_EVENTSUB_URL.to_owned(),
            eventsub_keepalive_secs: DEFAULT_EVENTSUB_KEEPALIVE_SECS,
            eventsub_redemptions: false,
        }
    }
}

/// `[auth]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAuth {
    client_id: Option<Spanned<String>>,
    token_file: Option<Spanned<String>>,
    client_secret_env: Option<Spanned<String>>,
}

/// `[twitch]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTwitch {
    id_url: Option<Spanned<String>>,
    api_url: Option<Spanned<String>>,
    eventsub_url: Option<Spanned<String>>,
    eventsub_keepalive_secs: Option<Spanned<i64>>,
    eventsub_redemptions: Option<bool>,
}

/// Validates both tables; `err(span, key, message)` builds the config error naming file and line.
pub(crate) fn validate(
    auth: Option<RawAuth>,
    twitch: Option<RawTwitch>,
    err: impl Fn(Range<usize>, &str, String) -> ConfigError,
) -> Result<(AuthConfig, TwitchConfig), ConfigError> {
    let mut a = AuthConfig::default();
    if let Some(raw) = auth {
        if let Some(id) = raw.client_id {
            let v = id.get_ref().trim();
            if v.is_empty() || v.len() > 64 || !v.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(err(
                    id.span(),
                    "auth.client_id",
                    format!(
                        "`{v}` is not a Twitch client id (letters and digits, as shown at the developer console)"
                    ),
                ));
            }
            a.client_id = Some(v.to_owned());
        }
        if let Some(f) = raw.token_file {
            if f.get_ref().trim().is_empty() {
                return Err(err(
                    f.span(),
                    "auth.token_file",
                    "is empty: give a file path or remove the key".into(),
                ));
            }
            a.token_file = Some(PathBuf::from(f.into_inner()));
        }
        if let Some(e) = raw.client_secret_env {
            let name = e.get_ref();
            if !is_env_name(name) {
                return Err(err(
                    e.span(),
                    "auth.client_secret_env",
                    format!(
                        "`{name}` is not an environment variable name (letters, digits, `_`); put the variable's \
                         NAME here, never the secret itself"
                    ),
                ));
            }
            a.client_secret_env = Some(e.into_inner());
        }
    }
    let mut t = TwitchConfig::default();
    if let Some(raw) = twitch {
        if let Some(u) = raw.id_url {
            t.id_url = http_url(&u, "twitch.id_url", &err)?;
        }
        if let Some(u) = raw.api_url {
            t.api_url = http_url(&u, "twitch.api_url", &err)?;
        }
        if let Some(u) = raw.eventsub_url {
            t.eventsub_url = ws_url(&u, "twitch.eventsub_url", &err)?;
        }
        if let Some(k) = raw.eventsub_keepalive_secs {
            let range = crate::eventsub::session::KEEPALIVE_RANGE;
            let v = *k.get_ref();
            match u64::try_from(v) {
                Ok(secs) if range.contains(&secs) => t.eventsub_keepalive_secs = secs,
                _ => {
                    return Err(err(
                        k.span(),
                        "twitch.eventsub_keepalive_secs",
                        format!(
                            "must be a whole number of seconds from {} to {} (Twitch's limits; got {v})",
                            range.start(),
                            range.end()
                        ),
                    ));
                }
            }
        }
        if let Some(r) = raw.eventsub_redemptions {
            t.eventsub_redemptions = r;
        }
    }
    Ok((a, t))
}

/// Letters, digits and `_`, not starting with a digit.
pub(crate) fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn http_url(
    u: &Spanned<String>,
    key: &str,
    err: &impl Fn(Range<usize>, &str, String) -> ConfigError,
) -> Result<String, ConfigError> {
    let url = u.get_ref().trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(rest)
            if !rest.is_empty()
                && !rest.starts_with('/')
                && !rest.contains(char::is_whitespace) =>
        {
            Ok(url.to_owned())
        }
        _ => Err(err(
            u.span(),
            key,
            format!("`{url}` is not an http:// or https:// URL with a host"),
        )),
    }
}

/// A `ws://` or `wss://` URL with a host, query allowed.
fn ws_url(
    u: &Spanned<String>,
    key: &str,
    err: &impl Fn(Range<usize>, &str, String) -> ConfigError,
) -> Result<String, ConfigError> {
    let url = u.get_ref().trim();
    let rest = url
        .strip_prefix("wss://")
        .or_else(|| url.strip_prefix("ws://"));
    match rest {
        Some(rest)
            if !rest.is_empty()
                && !rest.starts_with('/')
                && !rest.contains(char::is_whitespace)
                && !rest.contains(char::is_control) =>
        {
            Ok(url.to_owned())
        }
        _ => Err(err(
            u.span(),
            key,
            format!(
                "`{url}` is not a ws:// or wss:// URL with a host (e.g. {DEFAULT_EVENTSUB_URL})"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn defaults_and_values() {
        let c = Config::from_toml_str("", "t.toml").unwrap();
        assert_eq!(c.twitch.id_url, super::DEFAULT_ID_URL);
        assert_eq!(c.auth.client_id, None);
        let c = Config::from_toml_str(
            "[auth]\nclient_id = \"abc123\"\nclient_secret_env = \"SECRET\"\n[twitch]\nid_url = \"https://127.0.0.1:9/oauth2/\"\n",
            "t.toml",
        )
        .unwrap();
        assert_eq!(c.auth.client_id.as_deref(), Some("abc123"));
        assert_eq!(c.auth.client_secret_env.as_deref(), Some("SECRET"));
        assert_eq!(c.twitch.id_url, "https://127.0.0.1:9/oauth2");
    }

    #[test]
    fn errors_name_line_and_key() {
        for (text, key, line) in [
            ("[auth]\nclient_id = \"a b\"\n", "auth.client_id", 2),
            (
                "[auth]\n\nclient_secret_env = \"oauth:abc\"\n",
                "auth.client_secret_env",
                3,
            ),
            ("[twitch]\nid_url = \"ftp://x\"\n", "twitch.id_url", 2),
            ("[twitch]\napi_url = \"https://\"\n", "twitch.api_url", 2),
            (
                "[twitch]\neventsub_url = \"https://x/ws\"\n",
                "twitch.eventsub_url",
                2,
            ),
            (
                "[twitch]\n\neventsub_keepalive_secs = 5\n",
                "twitch.eventsub_keepalive_secs",
                3,
            ),
            (
                "[twitch]\neventsub_keepalive_secs = 601\n",
                "twitch.eventsub_keepalive_secs",
                2,
            ),
            ("[auth]\nclient_secret = \"x\"\n", "auth.client_secret", 2),
        ] {
            let e = Config::from_toml_str(text, "t.toml").unwrap_err();
            assert_eq!(e.key(), Some(key), "{text}: {e}");
            assert_eq!(e.line(), Some(line), "{text}: {e}");
        }
    }
}
