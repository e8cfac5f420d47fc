//! Dropping root after the privileged ports are bound, as Postfix's daemons do.

use std::ffi::CString;

use anyhow::{Context, bail};

/// When running as root and `user` is not empty, switch to that account (its
/// primary group, no supplementary groups). Does nothing for other users.
pub fn drop_to(user: &str) -> anyhow::Result<()> {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 || user.is_empty() {
        return Ok(());
    }
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
    let (uid, gid) = unsafe { ((*entry).pw_uid, (*entry).pw_gid) };
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
