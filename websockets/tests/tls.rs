//! TLS against an independent peer (Python's `ssl` + `websockets`) with a test CA generated here by rcgen:
//! a trusted CA works, an untrusted certificate and a host-name mismatch fail and say why.

mod support;

use std::path::PathBuf;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use support::{PythonPeer, channel};
use websockets::{
    ClientOptions, Error, TlsErrorKind, WebsocketType, create_client, create_client_with,
};

/// A fresh CA and a leaf for `localhost` only (deliberately not for 127.0.0.1), as PEM files in a temp dir.
struct TestPki {
    dir: PathBuf,
    ca_pem: String,
}

impl TestPki {
    fn new() -> TestPki {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("websockets-tls-test-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();

        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "websockets test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

        let mut leaf_params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();

        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        std::fs::write(dir.join("leaf.pem"), leaf.pem()).unwrap();
        std::fs::write(dir.join("leaf.key"), leaf_key.serialize_pem()).unwrap();
        TestPki {
            ca_pem: ca.pem(),
            dir,
        }
    }

    fn server(&self) -> PythonPeer {
        PythonPeer::start_tls(&self.dir.join("leaf.pem"), &self.dir.join("leaf.key"))
    }
}

impl Drop for TestPki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn trusted_test_ca_works() {
    let pki = TestPki::new();
    let peer = pki.server();
    let (tx, rx) = channel();
    let options = ClientOptions::new().add_ca_pem_file(pki.dir.join("ca.pem"));
    let client = create_client_with(
        &format!("wss://localhost:{}/echo", peer.port),
        move |m: &str| tx.send(m.to_string()).unwrap(),
        WebsocketType::Secure,
        options,
    )
    .expect("wss with the test CA trusted");
    client.send_text("over TLS ✓").unwrap();
    assert_eq!(rx.next(), "over TLS ✓");
}

#[test]
fn trusted_test_ca_from_pem_bytes_works() {
    let pki = TestPki::new();
    let peer = pki.server();
    let options = ClientOptions::new().add_ca_pem(pki.ca_pem.as_bytes());
    let client = create_client_with(
        &format!("wss://localhost:{}/echo", peer.port),
        |_m: &str| {},
        WebsocketType::Secure,
        options,
    )
    .expect("wss with the test CA trusted");
    assert!(client.is_open());
}

#[test]
fn untrusted_certificate_fails_and_says_why() {
    let pki = TestPki::new();
    let peer = pki.server();
    let err = create_client(
        &format!("wss://localhost:{}/echo", peer.port),
        |_m: &str| {},
        WebsocketType::Secure,
    )
    .unwrap_err();
    match &err {
        Error::Tls {
            kind: TlsErrorKind::UntrustedCertificate,
            host,
            ..
        } => assert_eq!(host, "localhost"),
        other => panic!("expected an untrusted-certificate TLS error, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("untrusted certificate") && text.contains("UnknownIssuer"),
        "{text}"
    );
}

#[test]
fn host_name_mismatch_fails_and_says_why() {
    let pki = TestPki::new();
    let peer = pki.server();
    // The certificate is for "localhost" only; 127.0.0.1 is the same server but not a name in the certificate.
    let options = ClientOptions::new().add_ca_pem_file(pki.dir.join("ca.pem"));
    let err = create_client_with(
        &format!("wss://127.0.0.1:{}/echo", peer.port),
        |_m: &str| {},
        WebsocketType::Secure,
        options,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Tls {
                kind: TlsErrorKind::HostnameMismatch,
                ..
            }
        ),
        "got {err:?}"
    );
    assert!(err.to_string().contains("not valid for"), "{err}");
}

#[test]
fn scheme_and_type_must_match() {
    let pki = TestPki::new();
    let peer = pki.server();
    let err = create_client(
        &format!("ws://localhost:{}/echo", peer.port),
        |_m: &str| {},
        WebsocketType::Secure,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::SchemeMismatch {
                websocket_type: WebsocketType::Secure,
                ..
            }
        ),
        "got {err:?}"
    );
    let err = create_client(
        &format!("wss://localhost:{}/echo", peer.port),
        |_m: &str| {},
        WebsocketType::NonSecure,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::SchemeMismatch {
                websocket_type: WebsocketType::NonSecure,
                ..
            }
        ),
        "got {err:?}"
    );
}

#[test]
fn plain_server_behind_wss_url_is_a_tls_error() {
    let peer = PythonPeer::start(); // no TLS
    let err = create_client(
        &format!("wss://localhost:{}/echo", peer.port),
        |_m: &str| {},
        WebsocketType::Secure,
    )
    .unwrap_err();
    assert!(matches!(err, Error::Tls { .. }), "got {err:?}");
}

#[test]
fn bad_ca_pem_is_a_clear_error() {
    let options = ClientOptions::new()
        .add_ca_pem(&b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n"[..]);
    let err = create_client_with(
        "wss://localhost:1/",
        |_m: &str| {},
        WebsocketType::Secure,
        options,
    )
    .unwrap_err();
    assert!(matches!(err, Error::InvalidCaPem { .. }), "got {err:?}");

    let options = ClientOptions::new().add_ca_pem(&b"just some text"[..]);
    let err = create_client_with(
        "wss://localhost:1/",
        |_m: &str| {},
        WebsocketType::Secure,
        options,
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::InvalidCaPem { ref reason, .. } if reason.contains("no CERTIFICATE")),
        "got {err:?}"
    );

    let options = ClientOptions::new().add_ca_pem_file("/nonexistent/ca.pem");
    let err = create_client_with(
        "wss://localhost:1/",
        |_m: &str| {},
        WebsocketType::Secure,
        options,
    )
    .unwrap_err();
    assert!(matches!(err, Error::CaFile { .. }), "got {err:?}");
    assert!(err.to_string().contains("/nonexistent/ca.pem"));
}
