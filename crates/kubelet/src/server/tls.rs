//! TLS for the node agent's server: a serving certificate signed by the
//! cluster CA, and only clients whose certificate that CA signed.

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;

/// PEM material `berth up` hands the agent (issued from the cluster PKI).
#[derive(Clone)]
pub struct ServingTls {
    /// The cluster CA: client certificates must chain to it.
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for ServingTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key.
        f.debug_struct("ServingTls").finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{what}: {reason}")]
    Pem { what: &'static str, reason: String },
    #[error("TLS configuration: {0}")]
    Config(String),
}

fn certs(what: &'static str, pem: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = rustls_pemfile::certs(&mut pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            what,
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            what,
            reason: "no certificate in PEM".into(),
        });
    }
    Ok(certs)
}

/// rustls server config: HTTP/1.1 only (every stream here is an HTTP/1.1
/// upgrade), client certificates required and verified against the CA.
pub fn server_config(tls: &ServingTls) -> Result<rustls::ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in certs("cluster CA", &tls.ca_pem)? {
        roots
            .add(c)
            .map_err(|e| TlsError::Config(format!("cluster CA: {e}")))?;
    }
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut tls.key_pem.as_bytes())
        .map_err(|e| TlsError::Pem {
            what: "serving key",
            reason: e.to_string(),
        })?
        .ok_or(TlsError::Pem {
            what: "serving key",
            reason: "no key in PEM".into(),
        })?;
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .map_err(|e| TlsError::Config(format!("client verifier: {e}")))?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs("serving certificate", &tls.cert_pem)?, key)
        .map_err(|e| TlsError::Config(format!("serving certificate: {e}")))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}
