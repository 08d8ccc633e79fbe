//! rustls server config (ring provider), optionally requiring client certificates.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::{SimError, SimTls};

fn certs(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, SimError> {
    let pem = std::fs::read(path).map_err(|e| SimError::Tls(format!("{}: {e}", path.display())))?;
    let v: Result<Vec<_>, _> = rustls_pemfile::certs(&mut pem.as_slice()).collect();
    let v = v.map_err(|e| SimError::Tls(format!("{}: {e}", path.display())))?;
    if v.is_empty() {
        return Err(SimError::Tls(format!(
            "no certificate in {}",
            path.display()
        )));
    }
    Ok(v)
}

pub fn server_config(t: &SimTls) -> Result<rustls::ServerConfig, SimError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = certs(&t.cert)?;
    let key_pem =
        std::fs::read(&t.key).map_err(|e| SimError::Tls(format!("{}: {e}", t.key.display())))?;
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| SimError::Tls(format!("{}: {e}", t.key.display())))?
        .ok_or_else(|| SimError::Tls(format!("no private key in {}", t.key.display())))?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| SimError::Tls(e.to_string()))?;
    let builder = match &t.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in certs(ca)? {
                roots
                    .add(c)
                    .map_err(|e| SimError::Tls(format!("{}: {e}", ca.display())))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| SimError::Tls(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut cfg = builder
        .with_single_cert(chain, key)
        .map_err(|e| SimError::Tls(e.to_string()))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}
