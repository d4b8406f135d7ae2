//! TLS termination with rustls: the certificate chain and private key from
//! PEM files, HTTP/1.1 only (the hub's transport takes WebSocket upgrades
//! from the HTTP/1 dispatcher), TLS 1.2 and 1.3 with rustls' safe defaults.
//!
//! The certificate is held by a [`Certificate`] the server config resolves
//! through, so a reload swaps it for the next handshakes while connections
//! made with the old one go on (a certificate rotated at night drops no one).

use std::fmt;
use std::path::Path;
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// The certificate new handshakes are answered with; see the module docs.
pub struct Certificate {
    current: RwLock<Arc<CertifiedKey>>,
    provider: Arc<CryptoProvider>,
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Certificate")
    }
}

impl Certificate {
    /// Reads the chain and the key; the first a server uses.
    ///
    /// # Errors
    /// See [`server_config`].
    pub fn load(cert_file: &Path, key_file: &Path) -> Result<Arc<Self>, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = certified_key(&provider, cert_file, key_file)?;
        Ok(Arc::new(Self {
            current: RwLock::new(Arc::new(key)),
            provider,
        }))
    }

    /// Reads the files again and, if they make a certificate, answers the
    /// next handshakes with it. On an error the old one stays.
    ///
    /// # Errors
    /// See [`server_config`].
    pub fn reload(&self, cert_file: &Path, key_file: &Path) -> Result<(), String> {
        let key = certified_key(&self.provider, cert_file, key_file)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(key);
        Ok(())
    }

    /// A rustls server configuration answering with this certificate.
    ///
    /// # Errors
    /// rustls refuses its safe default protocol versions (a bug).
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<rustls::ServerConfig>, String> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

impl ResolvesServerCert for Certificate {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

/// A rustls server configuration from a PEM certificate chain (leaf first)
/// and a PEM private key (PKCS#8, PKCS#1 or SEC1).
///
/// # Errors
/// A file that cannot be read, holds no certificate or key, or a key that
/// does not fit the certificate.
pub fn server_config(
    cert_file: &Path,
    key_file: &Path,
) -> Result<Arc<rustls::ServerConfig>, String> {
    Certificate::load(cert_file, key_file)?.server_config()
}

fn certified_key(
    provider: &CryptoProvider,
    cert_file: &Path,
    key_file: &Path,
) -> Result<CertifiedKey, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .and_then(|certs| certs.collect())
        .map_err(|e| format!("tls_cert_file {}: {e}", cert_file.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "tls_cert_file {} holds no certificate",
            cert_file.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| format!("tls_key_file {}: {e}", key_file.display()))?;
    let key = CertifiedKey::from_der(certs, key, provider)
        .map_err(|e| format!("tls_key_file does not fit tls_cert_file: {e}"))?;
    Ok(key)
}

/// The client side's TLS for the hub's own outbound calls (a key set's URL,
/// the application's proxies): the system's roots, ring, safe defaults.
///
/// # Errors
/// No safe protocol version with this provider.
pub(crate) fn outbound_client_config() -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
