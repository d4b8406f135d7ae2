//! Redis over TLS only, as a managed Redis is run: a test CA (rcgen) that
//! signs the server's certificate (for 127.0.0.1) and a client
//! certificate, and a redis-server that listens on its TLS port only and
//! asks every client for a certificate signed by that CA.

use std::path::PathBuf;

use super::redis::Redis;
use super::TempDir;

/// A CA, a server certificate and a client certificate it signed, as PEM
/// files in a temp dir (removed on drop).
pub struct Certs {
    dir: TempDir,
}

impl Certs {
    pub fn new() -> Self {
        let dir = TempDir::new("redis-tls");
        let ca_key = rcgen::KeyPair::generate().expect("key");
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "signal hub test ca");
        let ca_cert = ca.self_signed(&ca_key).expect("the CA signs itself");
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let write = |name: &str, names: Vec<String>| {
            let key = rcgen::KeyPair::generate().expect("key");
            let params = rcgen::CertificateParams::new(names).expect("params");
            let cert = params.signed_by(&key, &issuer).expect("the CA signs");
            std::fs::write(dir.0.join(format!("{name}.pem")), cert.pem()).expect("write");
            std::fs::write(dir.0.join(format!("{name}.key")), key.serialize_pem()).expect("write");
        };
        write("server", vec!["127.0.0.1".into(), "localhost".into()]);
        write("client", vec!["signal-hub-node".into()]);
        std::fs::write(dir.0.join("ca.pem"), ca_cert.pem()).expect("write");
        Self { dir }
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.0.join("ca.pem")
    }

    /// `server` or `client`: its certificate and its key.
    pub fn pair(&self, name: &str) -> (PathBuf, PathBuf) {
        (
            self.dir.0.join(format!("{name}.pem")),
            self.dir.0.join(format!("{name}.key")),
        )
    }

    /// A node config's TLS keys for these certificates.
    pub fn apply(&self, config: &mut hub_server::ServerConfig) {
        let (cert, key) = self.pair("client");
        config.redis_tls_ca_file = self.ca().display().to_string();
        config.redis_tls_cert_file = cert.display().to_string();
        config.redis_tls_key_file = key.display().to_string();
    }
}

/// A redis-server on a TLS port only (no plain port), asking each client
/// for a certificate signed by `certs`' CA; `redis-cli` speaks TLS to it.
pub async fn tls_redis(certs: &Certs) -> Redis {
    let (server, server_key) = certs.pair("server");
    let (client, client_key) = certs.pair("client");
    let path = |p: &PathBuf| p.display().to_string();
    let server_args = |port: u16| {
        vec![
            "--port".into(),
            "0".into(),
            "--tls-port".into(),
            port.to_string(),
            "--tls-cert-file".into(),
            path(&server),
            "--tls-key-file".into(),
            path(&server_key),
            "--tls-ca-cert-file".into(),
            path(&certs.ca()),
            "--tls-auth-clients".into(),
            "yes".into(),
        ]
    };
    let cli_args = vec![
        "--tls".into(),
        "--cacert".into(),
        path(&certs.ca()),
        "--cert".into(),
        path(&client),
        "--key".into(),
        path(&client_key),
    ];
    Redis::start_with(server_args, cli_args).await
}
