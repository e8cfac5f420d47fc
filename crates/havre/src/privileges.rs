//! Dropping root after the privileged ports are bound, as Postfix's daemons do.

use std::ffi::CString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use havre_config::LoadedConfig;

/// For the commands that write into the data directory (`user add` makes a
/// Maildir, `queue hold` rewrites a record, `dkim generate` a key): run as
/// root, they act as `server.user`, as `postsuper` acts as the mail owner, so
/// nothing they create is root's and later refused to the running server.
///
/// Returns the uid and gid switched to, if it switched: serve logs them; a
/// command does not (its log lines are the changes it makes).
pub fn become_server_user(config: &LoadedConfig) -> anyhow::Result<Option<(u32, u32)>> {
    let owned = crate::checks::owned_paths(config);
    let owned: Vec<&Path> = owned.iter().map(PathBuf::as_path).collect();
    drop_to(&config.config.server.user, &owned)
}

/// When running as root and `user` is not empty, switch to that account (its
/// primary group, no supplementary groups). Does nothing for other users.
///
/// The data the node writes must already belong to that account: `paths` are
/// checked first, and a mismatch stops the start with the command that fixes
/// it, rather than failing later on the first write.
pub fn drop_to(user: &str, paths: &[&Path]) -> anyhow::Result<Option<(u32, u32)>> {
    if !switches(user) {
        return Ok(None);
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
    Ok(Some((uid, gid)))
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

/// Run as root, `init` and `import` create files root owns; `server.user`
/// must own them to serve them. Gives `root` and everything below it to that
/// account (symbolic links themselves, never what they point to). Does
/// nothing when not root or when `server.user` is empty.
pub fn give_tree(user: &str, root: &Path) -> anyhow::Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || user.is_empty() {
        return Ok(());
    }
    let (uid, gid) = lookup(user)?;
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        give(user, uid, gid, &path, root)?;
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
            for entry in std::fs::read_dir(&path).with_context(|| path.display().to_string())? {
                stack.push(entry.with_context(|| path.display().to_string())?.path());
            }
        }
    }
    Ok(())
}

/// Gives one path (not what is below it) to `user`; the error names the
/// command that does it by hand for the whole of `root`.
pub fn give(user: &str, uid: u32, gid: u32, path: &Path, root: &Path) -> anyhow::Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).with_context(|| {
        format!(
            "cannot give {} to {user}; run: chown -R {user}: {}",
            path.display(),
            root.display()
        )
    })
}
