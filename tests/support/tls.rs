//! A throwaway test certificate authority, generated with `rcgen` when a test starts.
//!
//! rustls (webpki) rejects a self-signed leaf that is also a CA, so this makes a CA and a server
//! certificate for `localhost` and `127.0.0.1` signed by it. The PEM files are written to a
//! temporary directory so a bot config's `ca_file` can point at `ca.pem`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why the test CA could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TestCaError {
    /// rcgen refused the parameters.
    #[error("generating a test certificate failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// Writing the PEM files failed.
    #[error("writing the test CA files failed: {0}")]
    Io(#[from] std::io::Error),
    /// rustls refused the generated certificate or key.
    #[error("rustls refused the test certificate: {0}")]
    Rustls(#[from] rustls::Error),
    /// The generated PEM could not be read back.
    #[error("reading back the generated PEM failed: {0}")]
    Pem(#[from] rustls_pki_types::pem::Error),
}

/// A test CA plus a server certificate for `localhost` / `127.0.0.1`, with their PEM files on disk.
///
/// ```
/// let ca = e2e::tls::TestCa::generate().unwrap();
/// assert!(ca.ca_file().exists());
/// let _acceptor = ca.acceptor().unwrap();
/// ```
pub struct TestCa {
    dir: tempfile::TempDir,
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa")
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

impl TestCa {
    /// Generates a fresh CA and server certificate and writes `ca.pem`, `cert.pem` and `key.pem`
    /// into a new temporary directory (removed when the `TestCa` is dropped).
    pub fn generate() -> Result<Self, TestCaError> {
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "e2e mock twitch test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let leaf_key = KeyPair::generate()?;
        let mut leaf_params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])?;
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        leaf_params.is_ca = IsCa::ExplicitNoCa;
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf_cert = leaf_params.signed_by(&leaf_key, &issuer)?;

        let dir = tempfile::Builder::new().prefix("e2e-test-ca").tempdir()?;
        let me = Self {
            dir,
            ca_pem: ca_cert.pem(),
            cert_pem: leaf_cert.pem(),
            key_pem: leaf_key.serialize_pem(),
        };
        std::fs::write(me.ca_file(), &me.ca_pem)?;
        std::fs::write(me.dir.path().join("cert.pem"), &me.cert_pem)?;
        std::fs::write(me.dir.path().join("key.pem"), &me.key_pem)?;
        Ok(me)
    }

    /// The CA certificate (PEM file) a client must trust.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The directory holding the PEM files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The CA certificate in PEM form.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A TLS acceptor serving the server certificate (chain: leaf, CA) over rustls with `ring`.
    pub fn acceptor(&self) -> Result<tokio_rustls::TlsAcceptor, TestCaError> {
        let chain = vec![
            CertificateDer::from_pem_slice(self.cert_pem.as_bytes())?,
            CertificateDer::from_pem_slice(self.ca_pem.as_bytes())?,
        ];
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }

    /// A rustls client config that trusts only this CA (for tests that talk to the mock directly).
    pub fn client_config(&self) -> Result<rustls::ClientConfig, TestCaError> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from_pem_slice(self.ca_pem.as_bytes())?)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Ok(rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth())
    }
}
