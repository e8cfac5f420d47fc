//! `havre backup snapshot DIR` and `havre backup restore-user USER --from
//! DIR`: a consistent copy of the node that Borg or restic then take away,
//! and one user's mail brought back from such a copy.
//!
//! A snapshot is a directory:
//! - `store.sqlite`: the store, copied by SQLite's `VACUUM INTO` inside one
//!   read transaction (consistent, and writers go on meanwhile); a node on
//!   PostgreSQL leaves its store to pg_dump, and the MANIFEST says so;
//! - `events.sqlite`: the events and graphs, the same way;
//! - `mail/`: the Maildirs, each file hard-linked when the snapshot is on
//!   the same filesystem (Maildir files never change once written: a link
//!   costs no space and is the file as it was), copied otherwise; a message
//!   renamed while the snapshot runs (a flag change, new/ to cur/) is looked
//!   for again under its new name;
//! - `MANIFEST`, written last: what the snapshot holds, and every file of
//!   `mail/` with its size. A directory without it is not a snapshot.
//!
//! Any failure (a full disk) removes what was written and says why.

use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use indicatif::HumanBytes;

use crate::cli::BackupCommand;
use crate::import_cmd::{give_to_server_user, mail_root, progress_bar};
use crate::locate;

const MANIFEST: &str = "MANIFEST";

pub async fn run(explicit: Option<PathBuf>, command: BackupCommand) -> anyhow::Result<()> {
    match command {
        BackupCommand::Snapshot { dir } => snapshot(explicit, &dir).await,
        BackupCommand::RestoreUser {
            user,
            from,
            folder,
            into,
        } => restore_user(explicit, &user, &from, folder.as_deref(), &into).await,
    }
}

/// What a snapshot holds, as its MANIFEST says.
struct Manifest {
    /// The Maildir template inside the snapshot (`mail/%d/%n/Maildir`).
    maildir: String,
}

async fn snapshot(explicit: Option<PathBuf>, dir: &Path) -> anyhow::Result<()> {
    let loaded = locate::load(explicit)?;
    crate::logging::init_cli(&loaded);
    crate::privileges::become_server_user(&loaded)?;
    let created = prepare(dir)?;
    match write_snapshot(&loaded, dir).await {
        Ok(summary) => {
            println!("{summary}");
            Ok(())
        }
        Err(err) => {
            let removed = if created {
                fs::remove_dir_all(dir)
            } else {
                empty(dir)
            };
            let what = match removed {
                Ok(()) => "the partial snapshot was removed".to_string(),
                Err(e) => format!("the partial snapshot could not be removed: {e}"),
            };
            Err(err.context(format!("no snapshot written in {} ({what})", dir.display())))
        }
    }
}

/// Makes `dir` for a snapshot: new, or an empty directory. Whether it was
/// made here (and so is removed on failure).
fn prepare(dir: &Path) -> anyhow::Result<bool> {
    match fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "{} is not empty: a snapshot goes into a new or empty directory",
                    dir.display()
                );
            }
            Ok(false)
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {
            fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            Ok(true)
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", dir.display())),
    }
}

fn empty(dir: &Path) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            fs::remove_dir_all(&path)?;
        } else {
            fs::remove_file(&path)?;
        }
    }
    Ok(())
}

async fn write_snapshot(loaded: &havre_config::LoadedConfig, dir: &Path) -> anyhow::Result<String> {
    // A cluster's store is PostgreSQL's to copy (pg_dump, base backups),
    // once for every node: the snapshot says so and takes the rest.
    let on_postgres = loaded.config.storage.backend == havre_config::StorageBackend::Postgres;
    if !on_postgres {
        let store = locate::open_store(loaded).await?;
        store
            .snapshot_to(&dir.join("store.sqlite"))
            .await
            .context("cannot copy the store")?;
    }
    let events = loaded.events_path();
    let with_events = events.exists();
    if with_events {
        let db = havre_events::SqliteEvents::open(&events).await?;
        db.snapshot_to(&dir.join("events.sqlite"))
            .await
            .context("cannot copy the events database")?;
    }
    let template = loaded.maildir_template().display().to_string();
    let (root, tail) = mail_root(&template);
    let target = dir.join("mail");
    let bar = progress_bar("{spinner} {pos} files of the Maildirs, {elapsed}");
    let source = root.to_path_buf();
    let into = target.clone();
    let tree = tokio::task::spawn_blocking(move || {
        let mut tree = Tree {
            root: into.clone(),
            ..Tree::default()
        };
        tree.copy(&source, &into, &|n| bar.set_position(n))?;
        tree.retry_moved()?;
        bar.finish_and_clear();
        Ok::<_, anyhow::Error>(tree)
    })
    .await??;
    let mut manifest = format!(
        "# havre snapshot: `havre backup restore-user USER --from DIR` reads it\n\
         version 1\n\
         created {}\n\
         node {}\n\
         havre {}\n\
         store {}\n",
        chrono::Local::now().to_rfc3339(),
        loaded.config.server.hostname,
        crate::version::VERSION,
        if on_postgres {
            "postgresql (not in this snapshot: copy it with pg_dump)"
        } else {
            "store.sqlite"
        },
    );
    if with_events {
        manifest.push_str("events events.sqlite\n");
    }
    manifest.push_str(&format!(
        "maildir mail/{tail}\nfiles {} linked {} copied {} bytes {}\n\n",
        tree.files.len(),
        tree.linked,
        tree.copied,
        tree.bytes
    ));
    for (size, path) in &tree.files {
        manifest.push_str(&format!("{size}\t{}\n", path.display()));
    }
    write_durably(&dir.join(MANIFEST), manifest.as_bytes())?;
    sync_all(dir)?;
    Ok(format!(
        "snapshot written in {}: {}{}, {} Maildir files ({}; {} hard-linked, {} copied)",
        dir.display(),
        if on_postgres {
            "not the store (PostgreSQL's: pg_dump it)"
        } else {
            "the store"
        },
        if with_events { ", the events" } else { "" },
        tree.files.len(),
        HumanBytes(tree.bytes),
        tree.linked,
        tree.copied
    ))
}

/// The Maildir files put in the snapshot.
#[derive(Default)]
struct Tree {
    /// Size and path (relative to the snapshot's `mail/`) of each file.
    files: Vec<(u64, PathBuf)>,
    linked: u64,
    copied: u64,
    bytes: u64,
    /// Messages that were renamed before they could be linked: their
    /// folder's directory, where to put them, and the name up to ':'.
    moved: Vec<(PathBuf, PathBuf, String)>,
    /// The snapshot's `mail/`, which the manifest's paths are relative to.
    root: PathBuf,
}

impl Tree {
    fn copy(&mut self, from: &Path, to: &Path, progress: &dyn Fn(u64)) -> anyhow::Result<()> {
        fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
        let entries = match fs::read_dir(from) {
            Ok(entries) => entries,
            // No mail delivered yet.
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", from.display())),
        };
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot read {}", from.display()))?;
            let name = entry.file_name();
            let source = entry.path();
            let target = to.join(&name);
            let kind = match entry.file_type() {
                Ok(kind) => kind,
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot read {}", source.display()));
                }
            };
            if kind.is_dir() {
                // Deliveries under way are not mail yet.
                if name == "tmp" {
                    fs::create_dir_all(&target)
                        .with_context(|| format!("cannot create {}", target.display()))?;
                } else {
                    self.copy(&source, &target, progress)?;
                }
                continue;
            }
            if !kind.is_file() {
                continue;
            }
            match self.take(&source, &target) {
                Ok(()) => progress(self.files.len() as u64),
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    let in_maildir = matches!(
                        from.file_name().and_then(|n| n.to_str()),
                        Some("cur" | "new")
                    );
                    if let (true, Some(folder), Some(into), Some(name)) =
                        (in_maildir, from.parent(), to.parent(), name.to_str())
                    {
                        let key = name.split(':').next().unwrap_or(name).to_string();
                        self.moved
                            .push((folder.to_path_buf(), into.to_path_buf(), key));
                    }
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot write {}", target.display()));
                }
            }
        }
        Ok(())
    }

    /// Links `source` at `target`, or copies it (another filesystem).
    fn take(&mut self, source: &Path, target: &Path) -> std::io::Result<()> {
        let size = fs::metadata(source)?.size();
        match fs::hard_link(source, target) {
            Ok(()) => self.linked += 1,
            Err(e) if e.kind() == ErrorKind::NotFound || e.kind() == ErrorKind::StorageFull => {
                return Err(e);
            }
            Err(_) => {
                copy_file(source, target)?;
                self.copied += 1;
            }
        }
        self.bytes += size;
        let relative = target
            .strip_prefix(&self.root)
            .unwrap_or(target)
            .to_path_buf();
        self.files.push((size, relative));
        Ok(())
    }

    /// Links the messages renamed during the walk under their new names
    /// (gone altogether: expunged meanwhile, so not in the snapshot).
    fn retry_moved(&mut self) -> anyhow::Result<()> {
        for (folder, into, key) in std::mem::take(&mut self.moved) {
            let found = ["cur", "new"].into_iter().find_map(|sub| {
                fs::read_dir(folder.join(sub))
                    .ok()?
                    .flatten()
                    .find_map(|e| {
                        let name = e.file_name();
                        (name.to_str()?.split(':').next() == Some(key.as_str()))
                            .then(|| (e.path(), into.join(sub).join(&name)))
                    })
            });
            let Some((source, target)) = found else {
                continue;
            };
            match self.take(&source, &target) {
                Err(e) if e.kind() != ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("cannot write {}", target.display()));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Copies `source` to `target` with its modification time (a Maildir
/// message's internal date), synced.
fn copy_file(source: &Path, target: &Path) -> std::io::Result<()> {
    let mut from = File::open(source)?;
    let modified = from.metadata()?.modified()?;
    let mut to = File::create_new(target)?;
    std::io::copy(&mut from, &mut to)?;
    to.set_modified(modified)?;
    to.sync_all()
}

/// Writes `path` through a temporary file, synced, then renamed.
fn write_durably(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let temp = path.with_extension("tmp");
    let mut file =
        File::create(&temp).with_context(|| format!("cannot write {}", temp.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", temp.display()))?;
    fs::rename(&temp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Flushes everything written under `dir` to the disk (syncfs: one call for
/// the files, the links and the directories).
fn sync_all(dir: &Path) -> anyhow::Result<()> {
    let handle = File::open(dir).with_context(|| format!("cannot open {}", dir.display()))?;
    // SAFETY: syncfs on a descriptor we own.
    if unsafe { libc::syncfs(std::os::fd::AsRawFd::as_raw_fd(&handle)) } != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("cannot sync {}", dir.display()));
    }
    Ok(())
}

fn read_manifest(dir: &Path) -> anyhow::Result<Manifest> {
    let path = dir.join(MANIFEST);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == ErrorKind::NotFound => bail!(
            "{} is not a havre snapshot: it has no {MANIFEST} (give the directory `havre backup snapshot` wrote, as restic or Borg restored it)",
            dir.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() {
            break;
        }
        if let Some(template) = line.strip_prefix("maildir ") {
            if template.contains("..") || template.starts_with('/') {
                bail!(
                    "{}:{}: maildir {template:?} is not inside the snapshot",
                    path.display(),
                    n + 1
                );
            }
            return Ok(Manifest {
                maildir: template.to_string(),
            });
        }
    }
    bail!(
        "{}: no maildir line: not a complete snapshot",
        path.display()
    )
}

async fn restore_user(
    explicit: Option<PathBuf>,
    user: &str,
    from: &Path,
    folder: Option<&str>,
    into: &str,
) -> anyhow::Result<()> {
    let user = crate::directory_cmd::address(user)?.key();
    let manifest = read_manifest(from)?;
    let (config, store) = crate::directory_cmd::store_staying_root(explicit).await?;
    if store.get_user(&user).await?.is_none() {
        bail!(
            "no user {user} on this node: nothing was restored (add the account first with `havre user add {user}`)"
        );
    }
    let source =
        havre_mailbox::maildir_path(&from.join(&manifest.maildir).display().to_string(), &user);
    if !source.root().join("cur").is_dir() {
        bail!(
            "the snapshot {} has no Maildir for {user} (looked in {})",
            from.display(),
            source.root().display()
        );
    }
    let mailboxes = crate::directory_cmd::mailboxes(&config, &store);
    let bar = progress_bar("{bar:40} {pos}/{len} messages, {elapsed} ({eta} left)");
    let result = havre_mailbox::restore_user(
        &mailboxes,
        &user,
        source.root(),
        folder,
        into,
        |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        },
    )
    .await;
    bar.finish_and_clear();
    let report =
        result.with_context(|| format!("cannot restore {user} from {}", from.display()))?;
    give_to_server_user(&config, mailboxes.root_of(&user).root())?;
    tracing::info!(
        target: "directory",
        role = "backup",
        "{user}: {} message(s) restored from {} ({} still there)",
        report.restored(),
        from.display(),
        report.still_there()
    );
    println!(
        "restored {} message(s) for {user} from {} ({} already there, not restored again)",
        report.restored(),
        from.display(),
        report.still_there()
    );
    for f in &report.folders {
        println!(
            "  {} -> {}: {} restored ({}), {} already there",
            f.from,
            f.into,
            f.restored,
            HumanBytes(f.bytes),
            f.still_there
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_renamed_during_the_walk_is_taken_under_its_new_name() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("live/Maildir");
        fs::create_dir_all(folder.join("cur")).unwrap();
        fs::create_dir_all(folder.join("new")).unwrap();
        // Seen in new/ by the walk, moved to cur/ with a flag before its link.
        fs::write(folder.join("cur/1700000000.M1P2.mx:2,S"), "hello").unwrap();
        let snapshot = dir.path().join("snap");
        fs::create_dir_all(snapshot.join("Maildir/new")).unwrap();
        let mut tree = Tree {
            root: snapshot.clone(),
            ..Tree::default()
        };
        tree.moved.push((
            folder.clone(),
            snapshot.join("Maildir"),
            "1700000000.M1P2.mx".into(),
        ));
        fs::create_dir_all(snapshot.join("Maildir/cur")).unwrap();
        tree.retry_moved().unwrap();
        assert_eq!(
            fs::read_to_string(snapshot.join("Maildir/cur/1700000000.M1P2.mx:2,S")).unwrap(),
            "hello"
        );
        assert_eq!(
            tree.files,
            [(5, PathBuf::from("Maildir/cur/1700000000.M1P2.mx:2,S"))]
        );
    }

    #[test]
    fn a_directory_without_manifest_is_not_a_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_manifest(dir.path()).err().unwrap().to_string();
        assert!(err.contains("is not a havre snapshot"), "{err}");
        fs::write(
            dir.path().join(MANIFEST),
            "version 1\nmaildir ../../etc/%u\n",
        )
        .unwrap();
        let err = read_manifest(dir.path()).err().unwrap().to_string();
        assert!(
            err.contains("MANIFEST:2: maildir \"../../etc/%u\" is not inside the snapshot"),
            "{err}"
        );
    }
}
