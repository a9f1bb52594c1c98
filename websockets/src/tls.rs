//! TLS set-up: rustls 0.23 with the ring provider, trusting webpki-roots, optionally the OS roots (feature
//! `platform-roots`) and any extra CA the user supplies; and the mapping of rustls failures onto
//! [`TlsErrorKind`].

use std::io;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{CertificateError, ClientConfig, RootCertStore};

use crate::error::{Error, TlsErrorKind};
use crate::options::CaSource;

/// The client config for `extra` CAs; the common no-extra-CA config is built once per process.
pub(crate) fn client_config(extra: &[CaSource]) -> Result<Arc<ClientConfig>, Error> {
    static DEFAULT: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    if extra.is_empty() {
        return Ok(DEFAULT.get_or_init(|| build(base_roots())).clone());
    }
    let mut roots = base_roots();
    for source in extra {
        let (origin, pem) = match source {
            CaSource::File(path) => (
                path.display().to_string(),
                std::fs::read(path).map_err(|source| Error::CaFile {
                    path: path.clone(),
                    source,
                })?,
            ),
            CaSource::Pem(bytes) => ("bytes".to_string(), bytes.clone()),
        };
        let certs = parse_pem(&pem).map_err(|reason| Error::InvalidCaPem {
            origin: origin.clone(),
            reason,
        })?;
        for cert in certs {
            roots.add(cert).map_err(|e| Error::InvalidCaPem {
                origin: origin.clone(),
                reason: e.to_string(),
            })?;
        }
    }
    Ok(build(roots))
}

fn parse_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not valid PEM: {e}"))?;
    if certs.is_empty() {
        return Err("no CERTIFICATE block found".to_string());
    }
    Ok(certs)
}

fn base_roots() -> RootCertStore {
    #[cfg_attr(not(feature = "platform-roots"), allow(unused_mut))]
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    #[cfg(feature = "platform-roots")]
    {
        let native = rustls_native_certs::load_native_certs();
        for e in &native.errors {
            tracing::warn!(error = %e, "could not load some platform root certificates");
        }
        let (added, ignored) = roots.add_parsable_certificates(native.certs);
        tracing::debug!(added, ignored, "loaded platform root certificates");
    }
    roots
}

fn build(roots: RootCertStore) -> Arc<ClientConfig> {
    // The ring provider is chosen explicitly, so nothing depends on a process-wide default provider.
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
    Arc::new(config)
}

/// Turns the I/O error that tokio-rustls returns from a failed handshake into [`Error::Tls`].
pub(crate) fn handshake_error(host: &str, err: io::Error) -> Error {
    let kind = match err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(tls) => classify(tls),
        None => TlsErrorKind::Io,
    };
    let source: Box<dyn std::error::Error + Send + Sync> = match err.into_inner() {
        Some(inner) if kind != TlsErrorKind::Io => inner,
        Some(inner) => Box::new(io::Error::other(inner)),
        None => Box::new(io::Error::other("connection closed during TLS handshake")),
    };
    Error::Tls {
        host: host.to_string(),
        kind,
        source,
    }
}

fn classify(err: &rustls::Error) -> TlsErrorKind {
    match err {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer
            | CertificateError::BadSignature
            | CertificateError::UnsupportedSignatureAlgorithmContext { .. }
            | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. }
            | CertificateError::UnhandledCriticalExtension => TlsErrorKind::UntrustedCertificate,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                TlsErrorKind::HostnameMismatch
            }
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => TlsErrorKind::Expired,
            _ => TlsErrorKind::BadCertificate,
        },
        rustls::Error::AlertReceived(_) => TlsErrorKind::AlertReceived,
        _ => TlsErrorKind::Other,
    }
}
