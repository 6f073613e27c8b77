//! HTTPS for `Options { tls: true, .. }`: a self-signed CA and a server
//! certificate signed by it, made at start (ECDSA P-256, rcgen + ring), for
//! `127.0.0.1`, `localhost` and `kubernetes`. The kubeconfig carries the CA.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::PrivateKeyDer;

/// The server's TLS identity.
pub(crate) struct Tls {
    pub ca_pem: String,
    pub config: Arc<rustls::ServerConfig>,
}

fn new_ca(common_name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let key = KeyPair::generate().expect("generate a CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    CertifiedIssuer::self_signed(params, key).expect("self-sign the CA")
}

/// A fresh CA and a server certificate signed by it.
pub(crate) fn generate() -> Tls {
    let ca = new_ca("testserver-ca");
    let key = KeyPair::generate().expect("generate the server key");
    let mut params = CertificateParams::new(vec![
        "127.0.0.1".to_string(),
        "localhost".to_string(),
        "kubernetes".to_string(),
    ])
    .expect("server certificate parameters");
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let cert = params
        .signed_by(&key, &ca)
        .expect("sign the server certificate");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone(), ca.der().clone()],
            PrivateKeyDer::from(key),
        )
        .expect("server certificate and key");
    // HTTP/1.1 only, which every Kubernetes client speaks (client-go offers h2 too).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // Nothing sent after the handshake, as a Go server (kube-apiserver) does:
    // rustls would send TLS 1.3 session tickets on the client's Finished,
    // which ACKs it at once and hides a client's Nagle delay (its first
    // request held until the server's delayed ACK, ~40 ms).
    config.send_tls13_tickets = 0;
    Tls {
        ca_pem: ca.pem(),
        config: Arc::new(config),
    }
}

/// The PEM of a new self-signed CA that signed nothing: a kubeconfig with it
/// must fail to verify the server.
pub fn unrelated_ca_pem() -> String {
    new_ca("unrelated-ca").pem()
}

/// For other test servers (the sinks' HTTPS receiver): the PEM of a fresh
/// CA, and a server config for `127.0.0.1`/`localhost` signed by it.
pub fn identity() -> (String, Arc<rustls::ServerConfig>) {
    let tls = generate();
    (tls.ca_pem, tls.config)
}
