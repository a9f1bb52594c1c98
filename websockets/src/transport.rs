//! Turning a URL into a connected byte stream: URL checks, DNS, TCP (with `TCP_NODELAY`), TLS.
//!
//! The stream handed to the WebSocket layer is a boxed [`Transport`], so a wrapper around the raw byte
//! stream (TCP or TLS) can be slotted in at one place: [`wrap`].

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use url::Url;

use crate::error::{ConnectPhase, Error};
use crate::types::WebsocketType;
use crate::utf8_guard::Utf8Guard;

/// A byte stream the WebSocket protocol runs over (TCP, TLS over TCP, or a wrapper around either).
pub(crate) trait Transport: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Transport for T {}

/// The type-erased byte stream below the guard (TCP or TLS over TCP).
pub(crate) type BoxedTransport = Box<dyn Transport>;

/// The stream the WebSocket layer runs over: the byte stream behind the UTF-8 guard. Concrete, so that the
/// connection can take the raw byte stream back out of it ([`Utf8Guard::into_inner`]) to end it cleanly.
pub(crate) type GuardedTransport = Utf8Guard<BoxedTransport>;

/// The WebSocket connection over the guarded byte stream.
pub(crate) type WsStream =
    async_tungstenite::WebSocketStream<async_tungstenite::tokio::TokioAdapter<GuardedTransport>>;
/// The write half of a [`WsStream`].
pub(crate) type WsSender =
    async_tungstenite::WebSocketSender<async_tungstenite::tokio::TokioAdapter<GuardedTransport>>;
/// The read half of a [`WsStream`].
pub(crate) type WsReceiver =
    async_tungstenite::WebSocketReceiver<async_tungstenite::tokio::TokioAdapter<GuardedTransport>>;

/// A checked `ws://` / `wss://` URL.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) url: Url,
    pub(crate) secure: bool,
    pub(crate) host: String,
    pub(crate) ip: Option<IpAddr>,
    pub(crate) port: u16,
}

impl Target {
    /// Parses `url` and checks its scheme against `websocket_type`.
    pub(crate) fn parse(url: &str, websocket_type: WebsocketType) -> Result<Target, Error> {
        let invalid = |reason: String| Error::InvalidUrl {
            url: url.to_string(),
            reason,
        };
        if url.trim().is_empty() {
            return Err(invalid("the URL is empty".to_string()));
        }
        let parsed = Url::parse(url).map_err(|e| invalid(e.to_string()))?;
        let secure = match parsed.scheme() {
            "wss" => true,
            "ws" => false,
            other => {
                return Err(Error::UnsupportedScheme {
                    scheme: other.to_string(),
                });
            }
        };
        if secure != (websocket_type == WebsocketType::Secure) {
            return Err(Error::SchemeMismatch {
                scheme: parsed.scheme().to_string(),
                websocket_type,
            });
        }
        let (host, ip) = match parsed.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => (d.to_string(), None),
            Some(url::Host::Ipv4(ip)) => (ip.to_string(), Some(IpAddr::V4(ip))),
            Some(url::Host::Ipv6(ip)) => (ip.to_string(), Some(IpAddr::V6(ip))),
            _ => return Err(invalid("the URL has no host".to_string())),
        };
        let port = parsed
            .port_or_known_default()
            .ok_or_else(|| invalid("the URL has no port".to_string()))?;
        Ok(Target {
            url: parsed,
            secure,
            host,
            ip,
            port,
        })
    }
}

/// Records which connect step is running, so a timeout can name it.
#[derive(Debug, Default)]
pub(crate) struct PhaseTracker(AtomicU8);

impl PhaseTracker {
    pub(crate) fn set(&self, phase: ConnectPhase) {
        self.0.store(phase as u8, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> ConnectPhase {
        match self.0.load(Ordering::Relaxed) {
            0 => ConnectPhase::Dns,
            1 => ConnectPhase::Tcp,
            2 => ConnectPhase::Tls,
            _ => ConnectPhase::Upgrade,
        }
    }
}

/// DNS + TCP (+ TLS when `tls` is given): the byte stream for `target`.
pub(crate) async fn open(
    target: &Target,
    tls: Option<Arc<ClientConfig>>,
    phase: &PhaseTracker,
) -> Result<GuardedTransport, Error> {
    phase.set(ConnectPhase::Dns);
    let addrs: Vec<SocketAddr> = match target.ip {
        Some(ip) => vec![SocketAddr::new(ip, target.port)],
        None => tokio::net::lookup_host((target.host.as_str(), target.port))
            .await
            .map_err(|source| Error::Dns {
                host: target.host.clone(),
                source,
            })?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(Error::Dns {
            host: target.host.clone(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no addresses found"),
        });
    }

    phase.set(ConnectPhase::Tcp);
    let mut last_err = None;
    let mut tcp = None;
    for addr in &addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                tcp = Some(stream);
                break;
            }
            Err(e) => {
                tracing::debug!(%addr, error = %e, "TCP connect failed");
                last_err = Some(if e.kind() == std::io::ErrorKind::ConnectionRefused {
                    Error::ConnectionRefused { addr: *addr }
                } else {
                    Error::Connect {
                        addr: *addr,
                        source: e,
                    }
                });
            }
        }
    }
    let tcp = match tcp {
        Some(tcp) => tcp,
        None => return Err(last_err.expect("at least one address was tried")),
    };
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::warn!(error = %e, "could not set TCP_NODELAY");
    }

    let Some(config) = tls else {
        return Ok(wrap(Box::new(tcp)));
    };
    phase.set(ConnectPhase::Tls);
    let server_name = match target.ip {
        Some(ip) => ServerName::IpAddress(ip.into()),
        None => ServerName::try_from(target.host.clone()).map_err(|e| Error::InvalidUrl {
            url: target.url.to_string(),
            reason: format!("host is not a valid DNS name for TLS: {e}"),
        })?,
    };
    let tls_stream = tokio_rustls::TlsConnector::from(config)
        .connect(server_name, tcp)
        .await
        .map_err(|e| crate::tls::handshake_error(&target.host, e))?;
    Ok(wrap(Box::new(tls_stream)))
}

/// The one place where the raw byte stream (TCP or TLS) is handed to the WebSocket layer: a wrapper that
/// inspects or transforms the bytes below tungstenite goes here.
fn wrap(stream: BoxedTransport) -> GuardedTransport {
    // Fails a text message on invalid UTF-8 while its frame is still arriving (see `utf8_guard`).
    Utf8Guard::new(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ports_and_hosts() {
        let t = Target::parse("wss://irc-ws.chat.twitch.tv", WebsocketType::Secure).unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.secure, t.ip),
            ("irc-ws.chat.twitch.tv", 443, true, None)
        );
        let t = Target::parse("ws://127.0.0.1/chat?x=1", WebsocketType::NonSecure).unwrap();
        assert_eq!((t.port, t.ip), (80, Some(IpAddr::from([127, 0, 0, 1]))));
        let t = Target::parse("ws://[::1]:9001/", WebsocketType::NonSecure).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 9001));
        assert!(t.ip.is_some_and(|ip| ip.is_loopback()));
    }

    #[test]
    fn scheme_must_match_the_type() {
        assert!(matches!(
            Target::parse("ws://example.com/", WebsocketType::Secure),
            Err(Error::SchemeMismatch { .. })
        ));
        assert!(matches!(
            Target::parse("wss://example.com/", WebsocketType::NonSecure),
            Err(Error::SchemeMismatch { .. })
        ));
        assert!(matches!(
            Target::parse("https://example.com/", WebsocketType::Secure),
            Err(Error::UnsupportedScheme { .. })
        ));
    }

    #[test]
    fn bad_urls_are_invalid() {
        for url in ["", "   ", "no scheme", "ws://", "wss://:1/"] {
            assert!(
                matches!(
                    Target::parse(url, WebsocketType::Secure),
                    Err(Error::InvalidUrl { .. } | Error::SchemeMismatch { .. })
                ),
                "{url:?}"
            );
        }
    }
}
