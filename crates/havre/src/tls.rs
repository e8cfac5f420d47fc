//! TLS material: the self-signed certificate `havre init` writes, and the
//! rustls server configuration `havre serve` loads.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, anyhow};
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

pub fn acceptor(cert: &Path, key: &Path) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| anyhow!("tls.cert: cannot read {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(anyhow!("tls.cert: no certificate in {}", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| anyhow!("tls.key: cannot read {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("tls.cert and tls.key do not form a usable pair")?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
