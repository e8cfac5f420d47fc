//! TLS material: the self-signed certificate `havre init` writes, and the
//! rustls server configuration `havre serve` loads.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Writes `cert` and `key` (mode 0600) for `names`.
pub fn write_self_signed(names: &[String], cert: &Path, key: &Path) -> anyhow::Result<()> {
    let generated = rcgen::generate_simple_self_signed(names.to_vec())
        .context("cannot generate the TLS certificate")?;
    if let Some(dir) = cert.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    write_private(key, generated.signing_key.serialize_pem().as_bytes())?;
    std::fs::write(cert, generated.cert.pem())
        .with_context(|| format!("cannot write {}", cert.display()))?;
    Ok(())
}

fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(contents)
        .and_then(|_| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The certificate and key serve offers, ready for handshakes.
#[derive(Clone)]
pub struct Tls {
    pub acceptor: tokio_rustls::TlsAcceptor,
    /// The end-entity certificate (DER): tells a renewed certificate from
    /// the one in use.
    pub leaf: Vec<u8>,
}

/// Why `tls.cert` and `tls.key` give no usable pair; `key` is the setting
/// to look at.
#[derive(Debug)]
pub struct TlsProblem {
    pub key: &'static str,
    pub message: String,
    /// The file exists but this process may not read it (a key owned by root
    /// read after the switch to server.user).
    pub denied: bool,
}

/// Reads the PEM certificate chain and private key, and checks that they go
/// together (rustls compares the key with the certificate's public key).
pub fn load(cert: &Path, key: &Path) -> Result<Tls, TlsProblem> {
    let problem = |setting, message: String| TlsProblem {
        key: setting,
        message,
        denied: false,
    };
    let read = |setting, path: &Path| {
        std::fs::read(path).map_err(|e| TlsProblem {
            key: setting,
            message: format!("cannot read {}: {e}", path.display()),
            denied: e.kind() == std::io::ErrorKind::PermissionDenied,
        })
    };
    let cert_pem = read("cert", cert)?;
    let key_pem = read("key", key)?;
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            problem(
                "cert",
                format!("{}: not a PEM certificate: {e}", cert.display()),
            )
        })?;
    let Some(leaf) = certs.first().map(|c| c.to_vec()) else {
        return Err(problem(
            "cert",
            format!("no certificate in {}", cert.display()),
        ));
    };
    let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        problem(
            "key",
            format!("{}: not a PEM private key: {e}", key.display()),
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| problem("cert", format!("TLS protocol versions: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, private)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => problem(
                "key",
                format!(
                    "{} does not go with the certificate {} (not its private key)",
                    key.display(),
                    cert.display()
                ),
            ),
            e => problem(
                "key",
                format!(
                    "{} and {} do not form a usable pair: {e}",
                    key.display(),
                    cert.display()
                ),
            ),
        })?;
    Ok(Tls {
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        leaf,
    })
}
