//! TLS for `wss://` URLs, with rustls: the system's trusted roots, plus
//! the certificates of an optional CA file (a private CA, or a test's).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;

use crate::error::ClientError;

/// A client TLS configuration trusting the system's roots and `ca_file`'s.
///
/// # Errors
/// `ca_file` cannot be read or holds no usable certificate; or no root at
/// all is trusted.
pub(crate) fn client_config(
    ca_file: Option<&Path>,
) -> Result<Arc<rustls::ClientConfig>, ClientError> {
    let tls_error = |message: String| ClientError::Connect(format!("TLS: {message}"));
    let mut roots = RootCertStore::empty();
    // Roots the system cannot give (an unreadable store) are skipped: a CA
    // file may still be enough.
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = ca_file {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect())
            .map_err(|e| tls_error(format!("ca_file {}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(tls_error(format!(
                "ca_file {} holds no certificate",
                path.display()
            )));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| tls_error(format!("ca_file {}: {e}", path.display())))?;
        }
    }
    if roots.is_empty() {
        return Err(tls_error(
            "no trusted root: the system has none and no ca_file is set".into(),
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
