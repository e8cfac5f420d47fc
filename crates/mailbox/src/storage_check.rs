//! Whether the mail storage answers, for a director's probe: the top of
//! the Maildir template (`mailbox.maildir` up to its first `%`, on a
//! cluster the shared storage's mount) listed on a blocking thread, made
//! first if missing as a delivery would. Storage that hangs (NFS gone)
//! keeps that thread: the probe's own timeout says the backend failed, and
//! the checks that follow are refused at once while it still waits rather
//! than piling up threads behind it.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use crate::mailboxes::{MailboxError, Mailboxes, blocking};

impl Mailboxes {
    pub async fn storage_answers(&self) -> Result<(), MailboxError> {
        let root = storage_root(&self.template);
        if self.storage_checking.swap(true, Ordering::AcqRel) {
            return Err(MailboxError::Io {
                path: root,
                source: std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "an earlier check is still waiting for it",
                ),
            });
        }
        let checking = self.storage_checking.clone();
        blocking(move || {
            let listed = list_once(&root);
            checking.store(false, Ordering::Release);
            listed.map_err(|source| MailboxError::Io { path: root, source })
        })
        .await
    }
}

fn list_once(root: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(root)?;
    std::fs::read_dir(root)?.next().transpose()?;
    Ok(())
}

/// The directory every Maildir of `template` is under.
fn storage_root(template: &str) -> PathBuf {
    let fixed = template.split('%').next().unwrap_or_default();
    if fixed.ends_with('/') {
        return PathBuf::from(fixed);
    }
    Path::new(fixed)
        .parent()
        .map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_storage_root_is_the_template_up_to_its_first_variable() {
        assert_eq!(
            storage_root("/srv/mail/%d/%n/Maildir"),
            PathBuf::from("/srv/mail/")
        );
        assert_eq!(
            storage_root("/srv/mail/users-%d/%n"),
            PathBuf::from("/srv/mail")
        );
        assert_eq!(storage_root("%u"), PathBuf::from("/"));
    }
}
