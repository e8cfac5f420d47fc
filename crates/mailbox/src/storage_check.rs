//! Whether the mail storage answers, for a director's probe: the top of
//! the Maildir template (`mailbox.maildir` up to its first `%`, on a
//! cluster the shared storage's mount) listed on a blocking thread, made
//! first if missing as a delivery would. One listing at a time: probes
//! that come meanwhile (several directors probe each backend) wait for
//! their turn, for [`WAIT_AT_MOST`]. Storage that hangs (NFS gone) keeps
//! that one thread; the probe's own timeout says the backend failed, and
//! the probes that follow give up after their wait rather than piling up
//! threads behind it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::mailboxes::{MailboxError, Mailboxes, blocking};

/// How long a probe waits for the listing before its own to end.
const WAIT_AT_MOST: Duration = Duration::from_secs(5);

impl Mailboxes {
    pub async fn storage_answers(&self) -> Result<(), MailboxError> {
        let root = storage_root(&self.template);
        let turn = self.storage_checking.clone().lock_owned();
        let Ok(turn) = tokio::time::timeout(WAIT_AT_MOST, turn).await else {
            return Err(MailboxError::Io {
                path: root,
                source: std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "an earlier listing is still waiting for it",
                ),
            });
        };
        blocking(move || {
            let listed = list_once(&root);
            drop(turn);
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
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn probes_of_several_directors_at_once_all_find_the_storage_answering() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(havre_store::SqliteStore::memory().await.unwrap());
        let template = format!("{}/mail/%d/%n/Maildir", dir.path().display());
        let mailboxes = Mailboxes::new(store, template, "backend.example.test");
        let mut probes = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let mailboxes = mailboxes.clone();
            probes.spawn(async move { mailboxes.storage_answers().await });
        }
        while let Some(answer) = probes.join_next().await {
            answer.unwrap().unwrap();
        }
        // A storage that is not a directory does not answer.
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let store = Arc::new(havre_store::SqliteStore::memory().await.unwrap());
        let broken = Mailboxes::new(store, format!("{}/%d/%n", file.display()), "b.test");
        assert!(broken.storage_answers().await.is_err());
    }

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
