//! [`RedisTls`]: the TLS of the connections to a Redis reached by a
//! `rediss://` URL (a managed Redis, or one that takes TLS only).
//!
//! The server's certificate is always checked: against the system's roots,
//! or against `ca_file` for a Redis with a private CA. A client certificate
//! is sent when the Redis asks for one (`tls-auth-clients yes`). rustls
//! with the ring provider, as the hub's own TLS termination.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Where the certificates of the Redis connections come from. Only read
/// for a `rediss://` URL; set with a plain `redis://` one, it is refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedisTls {
    /// PEM file of the CA certificates that sign the Redis server's
    /// certificate. Default: none, the system's trusted roots.
    pub ca_file: Option<PathBuf>,
    /// PEM certificate chain (leaf first) this node shows when Redis asks
    /// for a client certificate; with `key_file`. Default: none.
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`. Default: none.
    pub key_file: Option<PathBuf>,
}

impl RedisTls {
    /// Whether any file is set.
    pub(super) fn is_set(&self) -> bool {
        self.ca_file.is_some() || self.cert_file.is_some() || self.key_file.is_some()
    }

    /// The rustls client config these files make. Errors name the config
    /// key (`redis_tls_ca_file`, `redis_tls_cert_file`, `redis_tls_key_file`)
    /// and the file.
    pub(super) fn client_config(&self) -> Result<rustls::ClientConfig, String> {
        let client =
            match (&self.cert_file, &self.key_file) {
                (None, None) => None,
                (Some(cert_file), Some(key_file)) => Some((cert_file, key_file)),
                (Some(_), None) => return Err(
                    "redis_tls_cert_file is set without redis_tls_key_file: set both, or neither"
                        .into(),
                ),
                (None, Some(_)) => return Err(
                    "redis_tls_key_file is set without redis_tls_cert_file: set both, or neither"
                        .into(),
                ),
            };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("redis tls: {e}"))?
            .with_root_certificates(self.roots()?);
        let Some((cert_file, key_file)) = client else {
            return Ok(builder.with_no_client_auth());
        };
        let chain = certificates(cert_file, "redis_tls_cert_file")?;
        let key = PrivateKeyDer::from_pem_file(key_file)
            .map_err(|e| format!("redis_tls_key_file {}: {e}", key_file.display()))?;
        builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| format!("redis_tls_key_file does not fit redis_tls_cert_file: {e}"))
    }

    /// The CA file's certificates, or the system's roots.
    fn roots(&self) -> Result<rustls::RootCertStore, String> {
        let mut roots = rustls::RootCertStore::empty();
        if let Some(ca_file) = &self.ca_file {
            for certificate in certificates(ca_file, "redis_tls_ca_file")? {
                roots
                    .add(certificate)
                    .map_err(|e| format!("redis_tls_ca_file {}: {e}", ca_file.display()))?;
            }
            return Ok(roots);
        }
        let system = rustls_native_certs::load_native_certs();
        let (added, _) = roots.add_parsable_certificates(system.certs);
        if added == 0 {
            return Err(format!(
                "redis tls: no trusted root certificate found on this system ({} errors); \
                 name the CA of the Redis server with redis_tls_ca_file",
                system.errors.len()
            ));
        }
        Ok(roots)
    }
}

/// The certificates of a PEM file, at least one.
fn certificates(file: &Path, key: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(file)
        .and_then(|certificates| certificates.collect())
        .map_err(|e| format!("{key} {}: {e}", file.display()))?;
    if certificates.is_empty() {
        return Err(format!("{key} {} holds no certificate", file.display()));
    }
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(tls: RedisTls) -> String {
        tls.client_config().expect_err("refused")
    }

    #[test]
    fn a_missing_file_is_named_with_its_key() {
        let error = error_of(RedisTls {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..RedisTls::default()
        });
        assert!(
            error.starts_with("redis_tls_ca_file /nonexistent/ca.pem"),
            "{error}"
        );
    }

    #[test]
    fn a_client_certificate_needs_its_key_and_a_key_its_certificate() {
        let error = error_of(RedisTls {
            cert_file: Some("/nonexistent/cert.pem".into()),
            ..RedisTls::default()
        });
        assert!(error.contains("without redis_tls_key_file"), "{error}");
        let error = error_of(RedisTls {
            key_file: Some("/nonexistent/key.pem".into()),
            ..RedisTls::default()
        });
        assert!(error.contains("without redis_tls_cert_file"), "{error}");
    }

    #[test]
    fn a_ca_file_without_a_certificate_is_refused() {
        let file = std::env::temp_dir().join(format!("hub-empty-ca-{}.pem", std::process::id()));
        std::fs::write(&file, "not a certificate\n").expect("write");
        let error = error_of(RedisTls {
            ca_file: Some(file.clone()),
            ..RedisTls::default()
        });
        let _ = std::fs::remove_file(&file);
        assert!(error.contains("holds no certificate"), "{error}");
    }
}
