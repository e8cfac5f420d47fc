//! The mailboxes of local users: Maildir folders on disk, their index in the
//! store, and the notifications that keep sessions in sync.
//!
//! Every write goes disk first, index second: a message file is durable in
//! the folder before its row gives it a UID. A crash in between leaves a file
//! without a UID, which [`Mailboxes::sync`] indexes at the next SELECT, the
//! way Dovecot picks up files other programs dropped into a Maildir.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use havre_maildir::{Maildir, MaildirError, parse_name, stable_part};
use havre_store::{MailboxInit, MailboxRecord, MessageRecord, NewMessage, Store, StoreError};

use crate::dovecot::Folders;
use crate::in_flight::InFlight;
use crate::inboxes::Inboxes;
use crate::junk::{Cause, JunkLearner, Lesson, lesson_class, may_be_junk};
use crate::notify::{Change, MessageChange, Notifier};
use crate::snapshot::{Snapshot, Snapshots};

/// Folders every new user gets, with their RFC 6154 special use.
pub const DEFAULT_FOLDERS: &[(&str, &str)] = &[
    ("Drafts", "\\Drafts"),
    ("Sent", "\\Sent"),
    ("Trash", "\\Trash"),
    ("Junk", "\\Junk"),
    ("Archive", "\\Archive"),
];

#[derive(Debug, thiserror::Error)]
pub enum MailboxError {
    #[error(transparent)]
    Maildir(#[from] MaildirError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("mailbox {0} does not exist")]
    NoSuchMailbox(String),
    #[error("{0}")]
    Refused(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("background task failed: {0}")]
    Task(String),
    /// The message left the index (another session expunged it).
    #[error("message UID {0} was expunged")]
    Expunged(u32),
    /// Still indexed, but its file is nowhere in the folder.
    #[error("message file {} is missing", .0.display())]
    MissingFile(PathBuf),
}

impl MailboxError {
    /// The mailbox index's database does not answer for now.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, MailboxError::Store(err) if err.is_unavailable())
    }

    /// The disk holding the mail or the index is full.
    pub fn is_storage_full(&self) -> bool {
        let full = |e: &std::io::Error| e.kind() == std::io::ErrorKind::StorageFull;
        match self {
            MailboxError::Store(err) => err.is_storage_full(),
            MailboxError::Io { source, .. } => full(source),
            MailboxError::Maildir(MaildirError::Io { source, .. }) => full(source),
            _ => false,
        }
    }
}

/// `INBOX` is case-insensitive (RFC 9051 5.1); every other name is kept as is.
pub fn normalize_name(name: &str) -> String {
    let trimmed = name.trim_end_matches('/');
    if trimmed.eq_ignore_ascii_case("INBOX") {
        "INBOX".to_string()
    } else if trimmed.len() > 6
        && trimmed
            .get(..6)
            .is_some_and(|p| p.eq_ignore_ascii_case("INBOX/"))
    {
        format!("INBOX/{}", &trimmed[6..])
    } else {
        trimmed.to_string()
    }
}

/// A user's folders as a login finds them ([`Mailboxes::look`]).
pub struct Looked {
    user: String,
    existing: Vec<MailboxRecord>,
    subscriptions_missing: bool,
}

#[derive(Clone)]
pub struct Mailboxes {
    store: Arc<dyn Store>,
    pub(crate) template: String,
    hostname: String,
    notifier: Notifier,
    pub(crate) in_flight: InFlight,
    /// Per folder: the lock of its names and Dovecot files (`dovecot.rs`).
    pub(crate) folders: Folders,
    /// Held while a user's `subscriptions` file is written.
    subscriptions: Arc<tokio::sync::Mutex<()>>,
    /// Told of messages moved into or out of Junk (`junk.rs`); none: off.
    junk_learner: Option<Arc<dyn JunkLearner>>,
    /// The selected mailboxes' records, one copy for all sessions.
    snapshots: Arc<Snapshots>,
    /// Users' INBOX records, for deliveries (`inboxes.rs`).
    pub(crate) inboxes: Arc<Inboxes>,
    /// Held while a director's probe lists the storage (`storage_check.rs`).
    pub(crate) storage_checking: Arc<tokio::sync::Mutex<()>>,
}

/// How COPY and MOVE (RFC 6851) bring messages into a folder: the same
/// writing, told apart in what learning from Junk logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    Copy,
    Move,
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A unique part for messages not coming from the queue (APPEND, COPY).
/// One message of an APPEND: its bytes as the client sent them, its flags
/// and, when the client gave one, its internal date (Unix seconds).
#[derive(Debug, Clone)]
pub struct Appended {
    pub message: Vec<u8>,
    pub flags: Vec<String>,
    pub internal_date: Option<i64>,
}

/// The Maildir root of `user` under `template` (`mailbox.maildir`: `%u`
/// the address, `%d` its domain, `%n` its local part).
pub fn maildir_path(template: &str, user: &str) -> Maildir {
    let user = user.to_lowercase();
    let (local, domain) = user.rsplit_once('@').unwrap_or((&user, ""));
    // Path separators in a local part must not climb out of the mail root.
    let safe = |s: &str| s.replace('/', "_").replace("..", "__");
    Maildir::new(
        template
            .replace("%u", &safe(&user))
            .replace("%d", &safe(domain))
            .replace("%n", &safe(local)),
    )
}

fn fresh_unique(prefix: char) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{prefix}{:x}{:08x}", now.as_micros(), rand::random::<u32>())
}

pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, MailboxError> + Send + 'static,
) -> Result<T, MailboxError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| MailboxError::Task(e.to_string()))?
}

impl Mailboxes {
    /// `maildir_template`: absolute path with `%d`, `%n`, `%u` (Dovecot's).
    pub fn new(
        store: Arc<dyn Store>,
        maildir_template: impl Into<String>,
        hostname: impl Into<String>,
    ) -> Mailboxes {
        Mailboxes {
            store,
            template: maildir_template.into(),
            hostname: hostname.into(),
            notifier: Notifier::default(),
            in_flight: InFlight::default(),
            folders: Folders::default(),
            subscriptions: Arc::default(),
            junk_learner: None,
            snapshots: Arc::default(),
            inboxes: Arc::default(),
            storage_checking: Arc::default(),
        }
    }

    /// These mailboxes, telling `learner` of every message a user moves,
    /// copies or appends into her Junk folder or out of it.
    pub fn with_junk_learner(mut self, learner: Arc<dyn JunkLearner>) -> Mailboxes {
        self.junk_learner = Some(learner);
        self
    }

    /// The messages of `mailbox` up to its `highestmodseq` at least, shared
    /// with the other sessions that have it selected (`snapshot.rs`).
    pub async fn snapshot(&self, mailbox: &MailboxRecord) -> Result<Arc<Snapshot>, MailboxError> {
        Ok(self
            .snapshots
            .at_least(self.store.as_ref(), mailbox)
            .await?)
    }

    pub fn snapshots(&self) -> &Snapshots {
        &self.snapshots
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    pub fn hostname(&self) -> &str {
        &self.hostname
    }

    pub(crate) fn subscriptions_lock(&self) -> &tokio::sync::Mutex<()> {
        &self.subscriptions
    }

    /// The user's Maildir root (their INBOX).
    pub fn root_of(&self, user: &str) -> Maildir {
        maildir_path(&self.template, user)
    }

    /// The Maildir of one of the user's mailboxes.
    pub fn maildir_of(&self, user: &str, name: &str) -> Result<Maildir, MailboxError> {
        let root = self.root_of(user);
        if name == "INBOX" {
            Ok(root)
        } else {
            Ok(root.folder(name)?)
        }
    }

    pub fn message_path(
        &self,
        user: &str,
        mailbox: &MailboxRecord,
        message: &MessageRecord,
    ) -> Result<PathBuf, MailboxError> {
        Ok(self
            .maildir_of(user, &mailbox.name)?
            .root()
            .join(&message.file))
    }

    /// INBOX and the default special-use folders, in the store and on disk.
    /// The server subscribes each one it creates, like Dovecot's
    /// `auto = subscribe`; a client's CREATE does not subscribe.
    pub async fn ensure_defaults(&self, user: &str) -> Result<(), MailboxError> {
        let looked = self.look(user).await?;
        self.ensure_defaults_from(user, looked).await
    }

    /// What [`Mailboxes::ensure_defaults`] starts from: the user's mailboxes
    /// and whether her subscriptions file is there, read at once; a login
    /// may read them while her account is read.
    pub async fn look(&self, user: &str) -> Result<Looked, MailboxError> {
        let root = self.root_of(user);
        let (existing, missing) = tokio::join!(
            self.store.mailbox_list(user),
            blocking(move || {
                Ok(!root
                    .root()
                    .join(havre_maildir::SUBSCRIPTIONS)
                    .try_exists()
                    .unwrap_or(true))
            })
        );
        Ok(Looked {
            user: user.to_string(),
            existing: existing?,
            subscriptions_missing: missing?,
        })
    }

    /// [`Mailboxes::ensure_defaults`] from what was `looked` at before (for
    /// `user`; looked at for another, it looks again).
    pub async fn ensure_defaults_from(
        &self,
        user: &str,
        looked: Looked,
    ) -> Result<(), MailboxError> {
        let looked = if looked.user == user {
            looked
        } else {
            self.look(user).await?
        };
        let has = |name: &str| looked.existing.iter().any(|m| m.name == name);
        let defaults = std::iter::once(("INBOX", None)).chain(
            DEFAULT_FOLDERS
                .iter()
                .map(|(name, special)| (*name, Some(*special))),
        );
        let mut created = false;
        for (name, special) in defaults {
            if !has(name) {
                self.create(user, name, special).await?;
                self.store.subscription_set(user, name, true).await?;
                self.notifier.send(
                    user,
                    Change::Subscription {
                        name: name.to_string(),
                        subscribed: true,
                    },
                );
                created = true;
            }
        }
        // Also for users from before havre wrote the file.
        if created || looked.subscriptions_missing {
            self.write_subscriptions(user).await;
        }
        Ok(())
    }

    /// The user's INBOX for a delivery, made with the default folders at
    /// the user's first mail; kept (`inboxes.rs`): only its id and name are
    /// sure to be current.
    pub(crate) async fn inbox(&self, user: &str) -> Result<MailboxRecord, MailboxError> {
        if let Some(inbox) = self.inboxes.get(user) {
            return Ok(inbox);
        }
        let inbox = match self.get(user, "INBOX").await? {
            Some(inbox) => inbox,
            None => {
                // First mail of a new user: their folders appear with it.
                self.ensure_defaults(user).await?;
                self.get(user, "INBOX")
                    .await?
                    .ok_or_else(|| MailboxError::NoSuchMailbox("INBOX".into()))?
            }
        };
        self.inboxes.keep(&inbox);
        Ok(inbox)
    }

    pub async fn get(&self, user: &str, name: &str) -> Result<Option<MailboxRecord>, MailboxError> {
        Ok(self.store.mailbox_get(user, &normalize_name(name)).await?)
    }

    pub async fn list(&self, user: &str) -> Result<Vec<MailboxRecord>, MailboxError> {
        Ok(self.store.mailbox_list(user).await?)
    }

    /// Creates a mailbox (and its Maildir++ folder). A mailbox that exists in
    /// the store but not on disk, or the other way round, is completed.
    pub async fn create(
        &self,
        user: &str,
        name: &str,
        special_use: Option<&str>,
    ) -> Result<MailboxRecord, MailboxError> {
        self.create_with(
            user,
            name,
            &MailboxInit {
                special_use: special_use.map(str::to_string),
                ..MailboxInit::default()
            },
        )
        .await
    }

    pub async fn create_with(
        &self,
        user: &str,
        name: &str,
        init: &MailboxInit,
    ) -> Result<MailboxRecord, MailboxError> {
        let name = normalize_name(name);
        if name.is_empty() {
            return Err(MailboxError::Refused("empty mailbox name".into()));
        }
        let root = self.root_of(user);
        let folder_name = name.clone();
        blocking(move || {
            if folder_name == "INBOX" {
                root.create()?;
            } else {
                root.create_folder(&folder_name)?;
            }
            Ok(())
        })
        .await?;
        let record = self.store.mailbox_create(user, &name, init).await?;
        // Its UIDVALIDITY is on disk before any message.
        let mut folder = self.folders.lock(record.id).await;
        self.refresh_uidlist(user, &record, &mut folder, None).await;
        drop(folder);
        self.notifier.send(
            user,
            Change::Mailbox {
                name,
                old_name: None,
                deleted: false,
            },
        );
        Ok(record)
    }

    /// Adds `name` to the user's subscription list or takes it off; the
    /// list keeps names of mailboxes that do not exist (RFC 9051 6.3.7).
    pub async fn subscribe(&self, user: &str, name: &str, on: bool) -> Result<(), MailboxError> {
        self.store.subscription_set(user, name, on).await?;
        // Then the `subscriptions` file Dovecot reads.
        self.write_subscriptions(user).await;
        self.notifier.send(
            user,
            Change::Subscription {
                name: name.to_string(),
                subscribed: on,
            },
        );
        Ok(())
    }

    /// Deletes a mailbox and its messages. INBOX cannot be deleted.
    pub async fn delete(&self, user: &str, mailbox: &MailboxRecord) -> Result<(), MailboxError> {
        if mailbox.name == "INBOX" {
            return Err(MailboxError::Refused("INBOX cannot be deleted".into()));
        }
        let dir = self.maildir_of(user, &mailbox.name)?.root().to_path_buf();
        let _folder = self.folders.lock(mailbox.id).await;
        self.store.mailbox_delete(mailbox.id).await?;
        self.folders.forget(mailbox.id);
        blocking(move || match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(MailboxError::Io { path: dir, source }),
        })
        .await?;
        self.notifier.send(
            user,
            Change::Mailbox {
                name: mailbox.name.clone(),
                old_name: None,
                deleted: true,
            },
        );
        Ok(())
    }

    /// Renames a mailbox and the mailboxes below it (RFC 9051 6.3.6).
    pub async fn rename(
        &self,
        user: &str,
        mailbox: &MailboxRecord,
        new_name: &str,
    ) -> Result<(), MailboxError> {
        let new_name = normalize_name(new_name);
        if mailbox.name == "INBOX" || new_name == "INBOX" {
            return Err(MailboxError::Refused("INBOX cannot be renamed here".into()));
        }
        if self.store.mailbox_get(user, &new_name).await?.is_some() {
            return Err(MailboxError::Store(StoreError::AlreadyExists(new_name)));
        }
        let prefix = format!("{}/", mailbox.name);
        let mut moves = vec![(mailbox.clone(), new_name.clone())];
        for other in self.store.mailbox_list(user).await? {
            if let Some(rest) = other.name.strip_prefix(&prefix) {
                moves.push((other.clone(), format!("{new_name}/{rest}")));
            }
        }
        for (record, target) in moves {
            let from = self.maildir_of(user, &record.name)?.root().to_path_buf();
            let to = self.maildir_of(user, &target)?.root().to_path_buf();
            blocking(move || {
                std::fs::rename(&from, &to)
                    .map_err(|source| MailboxError::Io { path: from, source })
            })
            .await?;
            self.store.mailbox_rename(record.id, &target).await?;
            self.notifier.send(
                user,
                Change::Mailbox {
                    name: target,
                    old_name: Some(record.name),
                    deleted: false,
                },
            );
        }
        // The subscription moved with the name.
        self.write_subscriptions(user).await;
        Ok(())
    }

    /// IMAP APPEND: the message bytes as the client sent them.
    pub async fn append(
        &self,
        user: &str,
        mailbox: &MailboxRecord,
        message: Vec<u8>,
        flags: Vec<String>,
        internal_date: Option<i64>,
    ) -> Result<u32, MailboxError> {
        let uids = self
            .append_all(
                user,
                mailbox,
                vec![Appended {
                    message,
                    flags,
                    internal_date,
                }],
            )
            .await?;
        Ok(uids[0])
    }

    /// APPEND of one or more messages (MULTIAPPEND, RFC 3502): all are
    /// saved or none. Every file is written and synced first, then all are
    /// indexed in one transaction; on any failure the files written are
    /// removed and no UID is given. Returns the UIDs in the given order.
    pub async fn append_all(
        &self,
        user: &str,
        mailbox: &MailboxRecord,
        messages: Vec<Appended>,
    ) -> Result<Vec<u32>, MailboxError> {
        let maildir = self.maildir_of(user, &mailbox.name)?;
        let uniques: Vec<String> = messages.iter().map(|_| fresh_unique('A')).collect();
        let _writing: Vec<_> = uniques.iter().map(|u| self.in_flight.begin(u)).collect();
        let hostname = self.hostname.clone();
        let mut bodies = Vec::with_capacity(messages.len());
        let mut metas = Vec::with_capacity(messages.len());
        for (m, unique) in messages.into_iter().zip(uniques.iter().cloned()) {
            bodies.push((m.message, unique));
            metas.push((m.flags, m.internal_date));
        }
        let paths = blocking(move || {
            maildir.create()?;
            let mut paths = Vec::with_capacity(bodies.len());
            for (body, unique) in bodies {
                let written = maildir.deliver(
                    &unique,
                    &hostname,
                    b"",
                    &mut std::io::Cursor::new(&body[..]),
                    std::time::SystemTime::now(),
                );
                match written {
                    Ok(path) => paths.push(path),
                    Err(e) => {
                        remove_files(&paths);
                        return Err(e.into());
                    }
                }
            }
            Ok(paths)
        })
        .await?;
        let indexed = self.index_appended(mailbox, &paths, metas).await;
        match indexed {
            Ok(uids) => {
                self.settle_written(user, mailbox, &uids).await;
                self.notifier.changed(user, mailbox.id, MessageChange::New);
                self.junk_lessons(user, None, mailbox, Cause::Append, &uids)
                    .await;
                Ok(uids)
            }
            Err(e) => {
                blocking(move || {
                    remove_files(&paths);
                    Ok(())
                })
                .await?;
                Err(e)
            }
        }
    }

    async fn index_appended(
        &self,
        mailbox: &MailboxRecord,
        paths: &[PathBuf],
        metas: Vec<(Vec<String>, Option<i64>)>,
    ) -> Result<Vec<u32>, MailboxError> {
        let paths = paths.to_vec();
        let records = blocking(move || {
            let mut records = Vec::with_capacity(paths.len());
            for (path, (flags, internal_date)) in paths.iter().zip(metas) {
                let mut record = index_record(path, flags)?;
                if let Some(date) = internal_date {
                    record.internal_date = date;
                }
                records.push(record);
            }
            Ok(records)
        })
        .await?;
        Ok(self.store.message_insert_all(mailbox.id, &records).await?)
    }

    /// COPY: each message is written again into `target` (with its flags)
    /// and gets a new UID there. Returns `(source uid, new uid)` pairs.
    pub async fn copy(
        &self,
        user: &str,
        source: &MailboxRecord,
        messages: &[MessageRecord],
        target: &MailboxRecord,
    ) -> Result<Vec<(u32, u32)>, MailboxError> {
        self.transfer(user, source, messages, target, Transfer::Copy)
            .await
    }

    /// COPY, or the copying half of MOVE (the caller expunges the sources
    /// once the client has the new UIDs).
    pub async fn transfer(
        &self,
        user: &str,
        source: &MailboxRecord,
        messages: &[MessageRecord],
        target: &MailboxRecord,
        how: Transfer,
    ) -> Result<Vec<(u32, u32)>, MailboxError> {
        let mut pairs = Vec::with_capacity(messages.len());
        let dst = self.maildir_of(user, &target.name)?;
        for message in messages {
            let dst = dst.clone();
            let hostname = self.hostname.clone();
            let unique = fresh_unique('C');
            let writing = self.in_flight.begin(&unique);
            let (mut body, _) = self.open_message(user, source, message).await?;
            let flags = message.flags.clone();
            let mut record = blocking(move || {
                dst.create()?;
                let path = dst.deliver(
                    &unique,
                    &hostname,
                    b"",
                    &mut body,
                    std::time::SystemTime::now(),
                )?;
                index_record(&path, flags)
            })
            .await?;
            record.internal_date = message.internal_date;
            record.cache = message.cache.clone();
            let uid = self.insert_or_adopt(target, &record).await?;
            drop(writing);
            pairs.push((message.uid, uid));
        }
        let uids: Vec<u32> = pairs.iter().map(|(_, new)| *new).collect();
        self.settle_written(user, target, &uids).await;
        self.notifier.changed(user, target.id, MessageChange::New);
        let cause = match how {
            Transfer::Copy => Cause::Copy,
            Transfer::Move => Cause::Move,
        };
        self.junk_lessons(user, Some(source), target, cause, &uids)
            .await;
        Ok(pairs)
    }

    /// Tells the junk learner what messages that just came into `to` teach,
    /// if anything. Looks at the user's folders only when one of the two
    /// may be her Junk; a failure to read them costs the lesson, never the
    /// command.
    async fn junk_lessons(
        &self,
        user: &str,
        from: Option<&MailboxRecord>,
        to: &MailboxRecord,
        cause: Cause,
        uids: &[u32],
    ) {
        let Some(learner) = &self.junk_learner else {
            return;
        };
        if uids.is_empty()
            || !learner.wants_lessons()
            || from.is_some_and(|f| f.id == to.id)
            || !(may_be_junk(to) || from.is_some_and(may_be_junk))
        {
            return;
        }
        let list = match self.store.mailbox_list(user).await {
            Ok(list) => list,
            Err(e) => {
                tracing::warn!(target: "spam", role = "spam-learn", "user=<{user}>: not learned from the Junk folder: {e}");
                return;
            }
        };
        let Some(class) = lesson_class(&list, from, to) else {
            return;
        };
        let lessons = uids
            .iter()
            .map(|&uid| Lesson {
                user: user.to_string(),
                class,
                cause,
                from: from.map(|f| f.name.clone()),
                mailbox: to.clone(),
                uid,
            })
            .collect();
        learner.lessons(lessons);
    }

    /// Removes messages: from the index first (clients stop seeing them),
    /// then their files, wherever a flag change moved them meanwhile.
    pub async fn expunge(
        &self,
        user: &str,
        mailbox: &MailboxRecord,
        messages: &[MessageRecord],
    ) -> Result<u64, MailboxError> {
        let mut folder = self.folders.lock(mailbox.id).await;
        let uids: Vec<u32> = messages.iter().map(|m| m.uid).collect();
        // The names now: a session's records may predate a rename.
        let mut files = Vec::with_capacity(messages.len());
        for message in messages {
            let current = self.store.message_get(mailbox.id, message.uid).await?;
            files.push(current.map_or_else(|| message.file.clone(), |m| m.file));
        }
        let modseq = self.store.message_expunge(mailbox.id, &uids).await?;
        let maildir = self.maildir_of(user, &mailbox.name)?;
        blocking(move || {
            for file in files {
                remove_message(&maildir, &file);
            }
            Ok(())
        })
        .await?;
        self.uidlist_after_expunge(user, mailbox, &mut folder, &uids)
            .await;
        drop(folder);
        self.notifier
            .changed(user, mailbox.id, MessageChange::Expunged);
        Ok(modseq)
    }

    /// Indexes one file (already durable); a file indexed before keeps its UID.
    pub(crate) async fn index_file(
        &self,
        user: &str,
        mailbox: &MailboxRecord,
        path: &Path,
        flags: Vec<String>,
    ) -> Result<u32, MailboxError> {
        let at = path.to_path_buf();
        let record = blocking(move || index_record(&at, flags)).await?;
        self.insert_indexed(user, mailbox, &record).await
    }

    /// Inserts the row of a file already read ([`index_record`]); a file
    /// indexed meanwhile (by a sync, another process) keeps its row.
    pub(crate) async fn insert_indexed(
        &self,
        user: &str,
        mailbox: &MailboxRecord,
        record: &NewMessage,
    ) -> Result<u32, MailboxError> {
        let uid = match self.store.message_insert(mailbox.id, record).await {
            Ok((uid, _)) => uid,
            Err(StoreError::AlreadyExists(_)) => self
                .store
                .message_by_file(mailbox.id, &record.file)
                .await?
                .map(|m| m.uid)
                .unwrap_or(0),
            Err(e) => return Err(e.into()),
        };
        self.notifier.changed(user, mailbox.id, MessageChange::New);
        Ok(uid)
    }

    /// Inserts the row of a file this process wrote. Should another process
    /// sharing the folder have indexed the file first, that row is the
    /// message: it is adopted (with the flags asked for), never reported as a
    /// failure while the message is stored, never inserted twice.
    async fn insert_or_adopt(
        &self,
        mailbox: &MailboxRecord,
        record: &NewMessage,
    ) -> Result<u32, MailboxError> {
        match self.store.message_insert(mailbox.id, record).await {
            Ok((uid, _)) => Ok(uid),
            Err(StoreError::AlreadyExists(what)) => {
                let Some(found) = self.store.message_by_file(mailbox.id, &record.file).await?
                else {
                    return Err(StoreError::AlreadyExists(what).into());
                };
                // A no-op when the flags already match (no new modseq).
                self.store
                    .message_update_flags(
                        mailbox.id,
                        &[found.uid],
                        havre_store::FlagMode::Replace,
                        &record.flags,
                        None,
                    )
                    .await?;
                Ok(found.uid)
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Removes an expunged message's file, following it if another program
/// moved it (found by the part of its name no reader changes).
fn remove_message(maildir: &Maildir, file: &str) {
    let path = maildir.root().join(file);
    let gone = match std::fs::remove_file(&path) {
        Ok(()) => return,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => e,
        Err(e) => {
            tracing::warn!(target: "mailbox", "cannot remove {}: {e}", path.display());
            return;
        }
    };
    let name = file.rsplit('/').next().unwrap_or(file);
    match maildir.find_moved(name) {
        Ok(Some(moved)) => {
            if let Err(e) = std::fs::remove_file(&moved) {
                tracing::warn!(target: "mailbox", "cannot remove {}: {e}", moved.display());
            }
        }
        Ok(None) => tracing::debug!(target: "mailbox", "{}: {gone}", path.display()),
        Err(e) => tracing::warn!(target: "mailbox", "{e}"),
    }
}

/// Removes files written for an APPEND that is not kept.
fn remove_files(paths: &[PathBuf]) {
    for path in paths {
        if let Err(e) = std::fs::remove_file(path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(target: "mailbox", "cannot remove {}: {e}", path.display());
        }
    }
}

/// A message file's identity in the folder: its name without new/ or cur/
/// and without the flags readers change.
pub(crate) fn stable_key(file: &str) -> &str {
    stable_part(file.rsplit('/').next().unwrap_or(file))
}

/// The index row of a message file (already durable): its name, CRLF size,
/// arrival time and search text, all from one read of the file. Blocking:
/// callers run it off the async workers.
pub(crate) fn index_record(path: &Path, flags: Vec<String>) -> Result<NewMessage, MailboxError> {
    let io = |source| MailboxError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    let bytes = std::fs::read(path).map_err(io)?;
    index_record_of(path, meta.modified().ok(), &bytes, flags)
}

/// [`index_record`] of a message whose file's time and content the caller
/// has already (it has just written them): the file is not read again.
/// `bytes` may have CRLF or LF line ends.
pub(crate) fn index_record_of(
    path: &Path,
    modified: Option<std::time::SystemTime>,
    bytes: &[u8],
    flags: Vec<String>,
) -> Result<NewMessage, MailboxError> {
    let file = relative_file(path).ok_or_else(|| MailboxError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other("not a Maildir message path"),
    })?;
    let name = parse_name(path.file_name().and_then(|n| n.to_str()).unwrap_or(""));
    // W= is the CRLF size IMAP reports; without it, count from the file.
    let size = name
        .vsize
        .unwrap_or_else(|| havre_message::imap_size(bytes));
    let internal_date = modified
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
        .unwrap_or_else(unix_now);
    Ok(NewMessage {
        file,
        size,
        internal_date,
        flags,
        cache: None,
        uid: None,
        text: Some(havre_message::indexed_text(bytes)),
    })
}

/// `new/<name>` or `cur/<name>` of a message path.
pub(crate) fn relative_file(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let sub = path.parent()?.file_name()?.to_str()?;
    Some(format!("{sub}/{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbox_is_case_insensitive_and_other_names_are_kept_even_non_ascii() {
        assert_eq!(normalize_name("inbox"), "INBOX");
        assert_eq!(normalize_name("Inbox/Sub/"), "INBOX/Sub");
        // 'é' spans bytes 5..7: no slicing inside it.
        assert_eq!(normalize_name("Envoyés"), "Envoyés");
        assert_eq!(normalize_name("Entwürfe"), "Entwürfe");
    }
}
