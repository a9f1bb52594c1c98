//! Small value types that every layer names (errors, options, the client, the bus): [`WebsocketType`] and
//! [`ClientId`]. They depend on nothing else in the crate, so the modules above them import each other in
//! one direction only: `types` <- `error` <- `queue` <- `options` <- `client` <- `blocking` / `bus`.

/// Whether a connection uses TLS. `Secure` (the default) means `wss://` with a verified certificate chain
/// and host name; `NonSecure` means plain `ws://`.
///
/// A `ws://` URL with `Secure`, or a `wss://` URL with `NonSecure`, is an [`Error::SchemeMismatch`](crate::Error::SchemeMismatch): the
/// crate never silently downgrades.
///
/// ```
/// assert_eq!(websockets::WebsocketType::default(), websockets::WebsocketType::Secure);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum WebsocketType {
    /// `wss://`: TLS with certificate and host-name verification.
    #[default]
    Secure,
    /// `ws://`: no encryption. Only for loopback, tests, or servers you control.
    NonSecure,
}

/// A process-unique client number, used by [`WebsocketsRequestBus`](crate::WebsocketsRequestBus) to
/// address clients and shown in logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(pub u64);

impl std::fmt::Display for ClientId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}
