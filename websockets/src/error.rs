//! The crate's one error type: every failure names what went wrong, so callers (and tests) can match on it.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::types::{ClientId, WebsocketType};

/// Everything that can go wrong while connecting, sending or receiving.
///
/// Connect errors say which step failed (URL, DNS, TCP, TLS, HTTP upgrade) and why. Errors reported later,
/// through [`ClientOptions::on_error`](crate::ClientOptions::on_error) or [`Event::Error`](crate::Event::Error),
/// use the same type.
///
/// ```
/// use websockets::{create_client, Error, WebsocketType};
///
/// match create_client("", |_msg: &str| {}, WebsocketType::Secure) {
///     Err(Error::InvalidUrl { reason, .. }) => println!("bad URL: {reason}"),
///     other => panic!("expected a URL error, got {other:?}"),
/// }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL could not be parsed, or has no host.
    #[error("invalid WebSocket URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The URL's scheme is not `ws` or `wss`.
    #[error("unsupported URL scheme {scheme:?}: use ws:// or wss://")]
    UnsupportedScheme {
        /// The scheme found in the URL.
        scheme: String,
    },
    /// The URL's scheme does not match the requested [`WebsocketType`] (`ws://` with `Secure`, or `wss://`
    /// with `NonSecure`). The crate never silently downgrades or upgrades.
    #[error(
        "URL scheme {scheme}:// does not match WebsocketType::{websocket_type:?} (Secure needs wss://, NonSecure needs ws://)"
    )]
    SchemeMismatch {
        /// The scheme found in the URL.
        scheme: String,
        /// The type that was asked for.
        websocket_type: WebsocketType,
    },
    /// The host name could not be resolved.
    #[error("DNS lookup of {host:?} failed: {source}")]
    Dns {
        /// The host that was looked up.
        host: String,
        /// The resolver's error.
        #[source]
        source: io::Error,
    },
    /// The server actively refused the TCP connection (nothing listens on that port).
    #[error("connection to {addr} refused")]
    ConnectionRefused {
        /// The last address tried.
        addr: SocketAddr,
    },
    /// The TCP connection failed for another reason (network unreachable, reset, ...).
    #[error("TCP connection to {addr} failed: {source}")]
    Connect {
        /// The last address tried.
        addr: SocketAddr,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// Connecting did not finish within the connect timeout.
    #[error("connect timed out after {after:?} during {phase}")]
    Timeout {
        /// The step that was running when time ran out.
        phase: ConnectPhase,
        /// The configured timeout.
        after: Duration,
    },
    /// The TLS handshake failed; `kind` says why in a form you can match on, `source` carries rustls's reason.
    #[error("TLS handshake with {host:?} failed ({kind}): {source}")]
    Tls {
        /// The server name that was verified.
        host: String,
        /// The category of failure.
        kind: TlsErrorKind,
        /// rustls's error, or the I/O error when the peer hung up mid-handshake.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The server answered the upgrade request with an HTTP status other than 101.
    #[error("HTTP upgrade rejected with status {status}{}", reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default())]
    UpgradeRejected {
        /// The HTTP status code, e.g. 403.
        status: u16,
        /// The status's canonical reason phrase, when known.
        reason: Option<String>,
    },
    /// The WebSocket opening handshake failed after the TCP/TLS connection was made (bad response headers,
    /// subprotocol mismatch, connection closed during the handshake, ...).
    #[error("WebSocket handshake failed: {0}")]
    Handshake(#[source] async_tungstenite::tungstenite::Error),
    /// An extra CA certificate file could not be read.
    #[error("cannot read CA file {path}: {source}")]
    CaFile {
        /// The path given to [`ClientOptions::add_ca_pem_file`](crate::ClientOptions::add_ca_pem_file).
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Extra CA data is not valid PEM, holds no certificate, or holds a certificate rustls cannot use.
    #[error("invalid CA certificate PEM ({origin}): {reason}")]
    InvalidCaPem {
        /// Where it came from (a file path or "bytes").
        origin: String,
        /// What was wrong.
        reason: String,
    },
    /// An extra header or subprotocol is not a valid HTTP header.
    #[error("invalid header {name:?}: {reason}")]
    InvalidHeader {
        /// The header name.
        name: String,
        /// What was wrong.
        reason: String,
    },
    /// A send was refused because the connection is closing or closed.
    #[error("the WebSocket connection is closed")]
    Closed,
    /// A send was refused because the send queue already holds `limit` bytes that the network has not taken
    /// yet. Nothing was queued; retry later or raise [`ClientOptions::max_send_queue_bytes`](crate::ClientOptions::max_send_queue_bytes).
    #[error("send queue full ({queued} bytes queued, limit {limit})")]
    SendQueueFull {
        /// Bytes waiting in the queue.
        queued: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A message is larger than the configured maximum message size.
    #[error("message of {size} bytes exceeds the maximum message size of {max} bytes")]
    MessageTooLarge {
        /// The message size.
        size: usize,
        /// The configured maximum.
        max: usize,
    },
    /// A close code or reason that may not be sent (code outside 1000..=4999 or reserved, reason over 123 bytes).
    #[error("invalid close frame: {0}")]
    InvalidClose(String),
    /// The peer broke the protocol or the connection failed after it was open (reported to `on_error`).
    #[error("WebSocket connection failed: {0}")]
    Protocol(#[source] async_tungstenite::tungstenite::Error),
    /// No pong (or other data) arrived for a whole keep-alive ping interval.
    #[error("keep-alive: no pong within {0:?}")]
    KeepAliveTimeout(Duration),
    /// The peer did not complete the close handshake within the close timeout; the connection was dropped.
    #[error("close handshake timed out after {0:?}")]
    CloseTimeout(Duration),
    /// A handler panicked; the panic was caught and the connection kept running.
    #[error("the {0} handler panicked")]
    HandlerPanicked(&'static str),
    /// [`WebsocketsRequestBus`](crate::WebsocketsRequestBus) has no client with this id.
    #[error("no client with id {0}")]
    UnknownClient(ClientId),
    /// The process-wide runtime could not be started.
    #[error("cannot start the websockets runtime: {0}")]
    Runtime(#[source] io::Error),
}

/// Which step of connecting was running (used by [`Error::Timeout`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectPhase {
    /// Resolving the host name.
    Dns,
    /// Opening the TCP connection.
    Tcp,
    /// The TLS handshake.
    Tls,
    /// The HTTP upgrade (WebSocket opening handshake).
    Upgrade,
}

impl std::fmt::Display for ConnectPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ConnectPhase::Dns => "DNS lookup",
            ConnectPhase::Tcp => "TCP connect",
            ConnectPhase::Tls => "TLS handshake",
            ConnectPhase::Upgrade => "WebSocket upgrade",
        })
    }
}

/// Why a TLS handshake failed, in a form you can match on (see [`Error::Tls`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsErrorKind {
    /// The certificate chain does not lead to a trusted root (unknown issuer, self-signed, bad signature).
    UntrustedCertificate,
    /// The certificate is valid but not for the host name (or IP) in the URL.
    HostnameMismatch,
    /// The certificate is expired or not yet valid.
    Expired,
    /// The certificate was revoked or is otherwise unusable (bad encoding, wrong usage, ...).
    BadCertificate,
    /// The server sent a TLS alert (it rejected us).
    AlertReceived,
    /// The peer closed the connection or another I/O error happened during the handshake.
    Io,
    /// Any other TLS protocol failure.
    Other,
}

impl std::fmt::Display for TlsErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TlsErrorKind::UntrustedCertificate => "untrusted certificate",
            TlsErrorKind::HostnameMismatch => "certificate not valid for host name",
            TlsErrorKind::Expired => "certificate expired or not yet valid",
            TlsErrorKind::BadCertificate => "bad certificate",
            TlsErrorKind::AlertReceived => "TLS alert from server",
            TlsErrorKind::Io => "I/O error during handshake",
            TlsErrorKind::Other => "TLS protocol error",
        })
    }
}
