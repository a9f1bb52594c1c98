//! The `[server]` table: where the local HTTP + WebSocket server listens and who may use it.
//!
//! ```toml
//! [server]
//! listen = "127.0.0.1:7370"                     # the default; the server is off unless the table is present
//! allowed_origins = ["https://my-overlay.example"] # browser pages served from elsewhere
//! secret_env = "TWITCH_BOT_SERVER_SECRET"       # required when `listen` is not a loopback address
//! ```

use std::net::SocketAddr;

use serde::Deserialize;
use toml::Spanned;

/// The default `listen` address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7370";
/// Most entries in `allowed_origins`.
pub const MAX_ALLOWED_ORIGINS: usize = 64;

/// The validated `[server]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// `listen`: the socket address to bind (port 0: any free port).
    pub listen: SocketAddr,
    /// `allowed_origins`: extra `Origin` values allowed to open `/ws` (scheme://host[:port], lowercase, no
    /// trailing slash). The bot's own origins are always allowed.
    pub allowed_origins: Vec<String>,
    /// `secret_env`: the environment variable holding the shared secret every request must present.
    pub secret_env: Option<String>,
}

impl ServerConfig {
    /// The server on `addr` with no extra origins and no secret (what `--demo` uses).
    pub fn local(addr: SocketAddr) -> ServerConfig {
        ServerConfig {
            listen: addr,
            allowed_origins: Vec::new(),
            secret_env: None,
        }
    }
}

/// The table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServer {
    listen: Option<Spanned<String>>,
    allowed_origins: Option<Vec<Spanned<String>>>,
    secret_env: Option<Spanned<String>>,
}

/// A problem in the table: the byte span it points at, the key, the message.
pub(crate) type Problem = (std::ops::Range<usize>, String, String);

/// Validates the table (`span`: the table's own span, for errors about missing keys).
pub(crate) fn validate(
    raw: RawServer,
    span: std::ops::Range<usize>,
) -> Result<ServerConfig, Problem> {
    let listen = match &raw.listen {
        Some(l) => l.get_ref().trim().parse::<SocketAddr>().map_err(|_| {
            (
                l.span(),
                "server.listen".to_owned(),
                format!(
                    "`{}` is not an IP address with a port (e.g. \"127.0.0.1:7370\", \"[::1]:7370\")",
                    l.get_ref()
                ),
            )
        })?,
        None => DEFAULT_LISTEN.parse().expect("valid default"),
    };
    let mut allowed_origins = Vec::new();
    let origins = raw.allowed_origins.unwrap_or_default();
    if origins.len() > MAX_ALLOWED_ORIGINS {
        return Err((
            span,
            "server.allowed_origins".into(),
            format!("at most {MAX_ALLOWED_ORIGINS} origins"),
        ));
    }
    for o in origins {
        let v = o
            .get_ref()
            .trim()
            .trim_end_matches('/')
            .to_ascii_lowercase();
        let ok = (v.starts_with("http://") || v.starts_with("https://"))
            && !v
                .split_once("://")
                .is_some_and(|(_, rest)| rest.is_empty() || rest.contains('/'));
        if !ok {
            return Err((
                o.span(),
                "server.allowed_origins".into(),
                format!(
                    "`{}` is not an origin (scheme://host[:port], e.g. \"https://overlay.example\")",
                    o.get_ref()
                ),
            ));
        }
        allowed_origins.push(v);
    }
    let secret_env = match raw.secret_env {
        Some(s) if s.get_ref().trim().is_empty() => {
            return Err((
                s.span(),
                "server.secret_env".into(),
                "must name an environment variable".into(),
            ));
        }
        Some(s) => Some(s.into_inner().trim().to_owned()),
        None => None,
    };
    if !listen.ip().is_loopback() && secret_env.is_none() {
        let at = raw.listen.as_ref().map_or(span, |l| l.span());
        return Err((
            at,
            "server.secret_env".into(),
            format!(
                "required when listen ({listen}) is not a loopback address: name an environment variable \
                 holding a shared secret every client must present"
            ),
        ));
    }
    Ok(ServerConfig {
        listen,
        allowed_origins,
        secret_env,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ServerConfig, Problem> {
        let raw: Spanned<RawServer> = toml::from_str(text).unwrap();
        let span = raw.span();
        validate(raw.into_inner(), span)
    }

    #[test]
    fn defaults_and_checks() {
        let c = parse("").unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert!(parse("listen = \"0.0.0.0:1\"").unwrap_err().1 == "server.secret_env");
        let c = parse("listen = \"0.0.0.0:1\"\nsecret_env = \"S\"").unwrap();
        assert_eq!(c.secret_env.as_deref(), Some("S"));
        assert_eq!(parse("listen = \"nope\"").unwrap_err().1, "server.listen");
        let c = parse("allowed_origins = [\"HTTPS://A.example/\"]").unwrap();
        assert_eq!(c.allowed_origins, ["https://a.example"]);
        assert!(parse("allowed_origins = [\"https://a.example/path\"]").is_err());
        assert!(parse("allowed_origins = [\"*\"]").is_err());
    }
}
