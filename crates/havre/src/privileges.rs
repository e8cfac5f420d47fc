//! Dropping root after the privileged ports are bound, as Postfix's daemons do.

use std::ffi::CString;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::{Context, bail};

/// When running as root and `user` is not empty, switch to that account (its
/// primary group, no supplementary groups). Does nothing for other users.
///
/// The data the node writes must already belong to that account: `paths` are
/// checked first, and a mismatch stops the start with the command that fixes
/// it, rather than failing later on the first write.
pub fn drop_to(user: &str, paths: &[&Path]) -> anyhow::Result<()> {
    if !switches(user) {
        return Ok(());
    }
    let (uid, gid) = check_owner(user, paths)?;
    // SAFETY: plain system calls on integers; each result is checked.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0 {
            bail!("setgroups: {}", std::io::Error::last_os_error());
        }
        if libc::setgid(gid) != 0 {
            bail!("setgid({gid}): {}", std::io::Error::last_os_error());
        }
        if libc::setuid(uid) != 0 {
            bail!("setuid({uid}): {}", std::io::Error::last_os_error());
        }
    }
    tracing::info!(target: "serve", "running as {user} (uid {uid}, gid {gid})");
    Ok(())
}

/// Whether serve, started by this process's user, would switch to `user`:
/// only root switches, and only to a named account.
pub fn switches(user: &str) -> bool {
    // SAFETY: getuid has no preconditions.
    (unsafe { libc::getuid() }) == 0 && !user.is_empty()
}

/// The uid and gid of `user`, once every one of `paths` that exists belongs
/// to it; else what to run to fix it.
pub fn check_owner(user: &str, paths: &[&Path]) -> anyhow::Result<(u32, u32)> {
    let (uid, gid) = lookup(user)?;
    for path in paths {
        let Ok(meta) = std::fs::metadata(path) else {
            continue;
        };
        if meta.uid() != uid {
            bail!(
                "server.user is {user} (uid {uid}) but {} belongs to uid {}; give the data to it: \
                 chown -R {user}: {}",
                path.display(),
                meta.uid(),
                path.display()
            );
        }
    }
    Ok((uid, gid))
}

pub fn lookup(user: &str) -> anyhow::Result<(u32, u32)> {
    let name = CString::new(user).context("server.user contains a NUL byte")?;
    // SAFETY: getpwnam returns NULL or a pointer to static storage that we read
    // before any other call that could overwrite it.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    if entry.is_null() {
        bail!(
            "server.user: no account named {user:?} to switch to after binding; create it \
             (useradd --system {user}) or set server.user = \"\" to keep running as root"
        );
    }
    // SAFETY: checked non-null above; read before any other libc call.
    Ok(unsafe { ((*entry).pw_uid, (*entry).pw_gid) })
}
