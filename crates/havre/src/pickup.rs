//! The local submission socket of `havre serve` (`sendmail.socket`): bound
//! before the switch to `server.user`, so it can live in a root-owned
//! directory such as /run/havre, and open to every local account (mode
//! 0666), as Postfix lets any account run sendmail. Who submits is known on
//! each connection from the kernel (SO_PEERCRED), not from file permissions.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::Context;
use tokio::net::UnixListener;

/// Binds `path`: its directory is created if missing (mode 0755, so other
/// accounts reach the socket), a stale socket of a dead serve replaced.
/// The socket is given to `owner` (server.user) when running as root, so
/// the unprivileged serve can remove it when it stops.
pub fn bind(path: &Path, owner: &str) -> anyhow::Result<UnixListener> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
        && !dir.exists()
    {
        std::fs::create_dir_all(dir).with_context(|| {
            format!(
                "sendmail.socket: cannot create {} (create it, or set sendmail.socket to a \
                 path havre serve may create, or to \"\" to turn local submission off)",
                dir.display()
            )
        })?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("cannot chmod {}", dir.display()))?;
    }
    crate::control::clear_stale(path, "sendmail.socket")?;
    let listener = UnixListener::bind(path)
        .with_context(|| format!("sendmail.socket: cannot listen on {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))
        .with_context(|| format!("cannot chmod {}", path.display()))?;
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } == 0 && !owner.is_empty() {
        let (uid, gid) = crate::privileges::lookup(owner)?;
        std::os::unix::fs::chown(path, Some(uid), Some(gid))
            .with_context(|| format!("cannot give {} to {owner}", path.display()))?;
    }
    if let Some(dir) = path.parent()
        && let Ok(meta) = std::fs::metadata(dir)
        && meta.permissions().mode() & 0o001 == 0
    {
        tracing::warn!(target: "serve", "sendmail.socket: {} is not open to other accounts (mode {:04o}): only its owner and group can submit with sendmail", dir.display(), meta.permissions().mode() & 0o7777);
    }
    Ok(listener)
}
