//! TLS for the TiCDC client (rustls, ring provider): the CA bundle of `--ca`, a client
//! certificate for mutual TLS, and an explicit pin for self-signed server certificates.
//!
//! `openssl req -x509` makes a self-signed certificate with `CA:TRUE`; handed to Go's
//! crypto/tls (TiCDC's own `cdc cli`) or curl as the CA, it is accepted as the server's
//! certificate, while webpki refuses a CA certificate as an end entity (`CaUsedAsEndEntity`).
//! So a presented certificate that is byte-identical to one in `--ca` is accepted as pinned;
//! the handshake signature is still verified with its key, and the certificate must still name
//! the host of the server URL (DNS or IP subject alternative names), as Go's `crypto/tls`
//! (`x509.Certificate.VerifyHostname`) and curl require: nothing else is loosened.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_name, WebPkiServerVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::error::ClientError;

fn read_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, ClientError> {
    let pem = std::fs::read(path)
        .map_err(|e| ClientError::Config(format!("cannot read {what} {}: {e}", path.display())))?;
    let certs: Result<Vec<_>, _> = rustls_pemfile::certs(&mut pem.as_slice()).collect();
    let certs = certs
        .map_err(|e| ClientError::Config(format!("invalid {what} {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(ClientError::Config(format!(
            "no certificate found in {} ({what})",
            path.display()
        )));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, ClientError> {
    let pem = std::fs::read(path).map_err(|e| {
        ClientError::Config(format!("cannot read client key {}: {e}", path.display()))
    })?;
    rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|e| ClientError::Config(format!("invalid client key {}: {e}", path.display())))?
        .ok_or_else(|| ClientError::Config(format!("no private key found in {}", path.display())))
}

/// webpki verification, plus: a certificate byte-identical to one in `--ca` is accepted.
#[derive(Debug)]
struct PinningVerifier {
    inner: Arc<WebPkiServerVerifier>,
    pinned: Vec<CertificateDer<'static>>,
}

impl ServerCertVerifier for PinningVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(v) => Ok(v),
            Err(_)
                if self
                    .pinned
                    .iter()
                    .any(|p| p.as_ref() == end_entity.as_ref()) =>
            {
                // Pinned, but only for the names it carries.
                let parsed = ParsedCertificate::try_from(end_entity)?;
                verify_server_name(&parsed, server_name)?;
                Ok(ServerCertVerified::assertion())
            }
            Err(e) => Err(e),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The rustls config for a server verified against `ca` (and only it), with an optional client
/// certificate and key.
pub fn client_config(
    ca: &Path,
    identity: Option<(&Path, &Path)>,
) -> Result<rustls::ClientConfig, ClientError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let pinned = read_certs(ca, "CA certificate")?;
    let mut roots = rustls::RootCertStore::empty();
    for c in &pinned {
        // A certificate webpki cannot use as a trust anchor is still usable as a pin.
        let _ = roots.add(c.clone());
    }
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| {
            ClientError::Config(format!("no usable CA certificate in {}: {e}", ca.display()))
        })?;
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Config(format!("TLS set-up: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinningVerifier { inner, pinned }));
    let mut cfg = match identity {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(read_certs(cert, "client certificate")?, read_key(key)?)
            .map_err(|e| {
                ClientError::Config(format!(
                    "invalid client certificate/key {} / {}: {e}",
                    cert.display(),
                    key.display()
                ))
            })?,
    };
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}
