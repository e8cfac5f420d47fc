//! What Dovecot keeps beside the messages, kept in step with the index, so
//! that Dovecot pointed at a user's Maildir (an admin's way back) or a
//! backup of the Maildir alone shows the UIDs, flags, keywords, folders and
//! subscriptions havre's IMAP showed:
//!
//! - flags in file names: a message whose flags change is renamed to
//!   `cur/<base>:2,<letters>` in the same step, and a message moves from
//!   new/ to cur/ once a client has seen its folder (SELECT, a POP3 login),
//!   which is when Dovecot moves it (no longer \Recent);
//! - `dovecot-keywords`: a keyword gets a letter the first time a name needs
//!   one (26 per folder; a 27th stays in the index only, as in Dovecot);
//! - `dovecot-uidlist`: the index's UIDVALIDITY and UIDs; a new message is
//!   appended, and the file is rewritten when the folder is created, when a
//!   quarter of its records are expunged messages (Dovecot's rule), or when
//!   it does not match the index (missing, another UIDVALIDITY, broken);
//! - `subscriptions`: rewritten at each change of the user's list.
//!
//! The store stays the index: names follow the store's flags, except when
//! another program renamed a file, whose flags [`Mailboxes::sync`] then reads
//! from the new name. One lock per folder (in this process) orders flag
//! changes, renames, expunges and syncs: a flag change updates the store,
//! renames, fsyncs the directories and records the new names before another
//! starts, so a sync never takes a rename under way for another program's.
//! After a crash in between, a file either has the store's flags under a
//! name not recorded yet (sync records it) or its old name, still the
//! recorded one, which sync renames to the store's flags.
//!
//! These files are derived from the index: failing to write one is logged
//! and never fails a delivery or a command; the next pass writes it.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use havre_maildir::{
    FileId, Keywords, Maildir, MaildirError, UidlistHeader, UidlistRecord, parse_name, stable_part,
    with_flags,
};
use havre_store::{FlagMode, FlagUpdate, MailboxRecord, MessageRecord};
use sha2::{Digest, Sha256};
use tokio::sync::OwnedMutexGuard;

use crate::flags;
use crate::mailboxes::{MailboxError, Mailboxes, blocking, relative_file};

/// The per-folder locks and what each folder's files are known to hold.
#[derive(Clone, Default)]
pub(crate) struct Folders {
    map: Arc<Mutex<HashMap<i64, Arc<tokio::sync::Mutex<Folder>>>>>,
}

/// What this process knows of one folder's control files.
#[derive(Default)]
pub(crate) struct Folder {
    uidlist: Option<UidlistState>,
    keywords: Option<KeywordsState>,
}

/// The `dovecot-uidlist` as last read or written.
#[derive(Clone, Copy)]
struct UidlistState {
    id: FileId,
    last_uid: u32,
    records: usize,
    /// Records of expunged messages.
    dead: usize,
}

#[derive(Clone)]
struct KeywordsState {
    id: Option<FileId>,
    keywords: Keywords,
    /// False when the file is not Dovecot's format: left as it is.
    writable: bool,
}

impl Folders {
    /// The lock of folder `id`, held while its names and files change.
    pub(crate) async fn lock(&self, id: i64) -> OwnedMutexGuard<Folder> {
        let folder = {
            let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(id).or_default().clone()
        };
        folder.lock_owned().await
    }

    pub(crate) fn forget(&self, id: i64) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }
}

/// The name `file` (`new/...`, `cur/...`) should have for `flags`: in cur/
/// with the letters once it has flags or a client has `seen` its folder;
/// a message in new/ without flags stays as it is.
pub(crate) fn wanted_file(file: &str, flags: &[String], keywords: &Keywords, seen: bool) -> String {
    let (sub, name) = file.split_once('/').unwrap_or(("cur", file));
    let letters = flags::to_letters(flags, keywords);
    if sub == "new" && letters.is_empty() && !seen {
        return file.to_string();
    }
    format!("cur/{}", with_flags(name, &letters))
}

/// A message's `dovecot-uidlist` record: its name up to ':', with its
/// RFC 822 size when the name has no `,W=`.
fn uidlist_record(message: &MessageRecord) -> UidlistRecord {
    let name = stable_part(message.file.rsplit('/').next().unwrap_or(&message.file));
    UidlistRecord {
        uid: message.uid,
        vsize: parse_name(name).vsize.is_none().then_some(message.size),
        size: None,
        name: name.to_string(),
    }
}

/// The record of a file just written under `path` with `uid`, when its name
/// says its size (ours do); `None` sends the caller to the index.
pub(crate) fn written_record(uid: u32, path: &std::path::Path) -> Option<UidlistRecord> {
    let name = stable_part(path.file_name()?.to_str()?);
    parse_name(name).vsize.map(|_| UidlistRecord {
        uid,
        name: name.to_string(),
        vsize: None,
        size: None,
    })
}

/// The mailbox GUID of the uidlist header: Dovecot wants one, the index has
/// none, so it is derived from what identifies the mailbox and stays the
/// same at every rewrite.
fn mailbox_guid(mailbox: &MailboxRecord) -> String {
    let mut hash = Sha256::new();
    hash.update(b"havre mailbox guid\0");
    hash.update(mailbox.user.as_bytes());
    hash.update(mailbox.id.to_be_bytes());
    hash.update(mailbox.uidvalidity.to_be_bytes());
    hash.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The folder's keywords (read again only when the file changed), with a
/// letter given to each of `wanted` that has none while letters are left.
fn keywords_now(
    maildir: &Maildir,
    state: Option<KeywordsState>,
    wanted: &[String],
) -> KeywordsState {
    let id = match maildir.keywords_id() {
        Ok(id) => id,
        Err(e) => {
            tracing::warn!(target: "mailbox", "{e}");
            return state.unwrap_or(KeywordsState {
                id: None,
                keywords: Keywords::default(),
                writable: false,
            });
        }
    };
    let mut state = match state {
        Some(state) if state.id == id => state,
        _ => match maildir.read_keywords() {
            Ok(Some((keywords, id))) => KeywordsState {
                id: Some(id),
                keywords,
                writable: true,
            },
            Ok(None) => KeywordsState {
                id: None,
                keywords: Keywords::default(),
                writable: true,
            },
            Err(e) => {
                // Not ours to fix: its letters may be in names we cannot read.
                tracing::warn!(target: "mailbox", "{e}; keywords stay out of file names");
                KeywordsState {
                    id,
                    keywords: Keywords::default(),
                    writable: false,
                }
            }
        },
    };
    if !state.writable {
        return state;
    }
    let mut keywords = state.keywords.clone();
    let mut added = false;
    for keyword in wanted {
        if keywords.letter(keyword).is_none() && keywords.add(keyword).is_some() {
            added = true;
        }
    }
    if added {
        match maildir.write_keywords(&keywords) {
            Ok(id) => {
                state.id = Some(id);
                state.keywords = keywords;
            }
            Err(e) => tracing::warn!(target: "mailbox", "{e}"),
        }
    }
    state
}

impl Mailboxes {
    /// STORE, FETCH's implicit `\Seen`, POP3's: changes flags in the store
    /// (computed there from the stored ones, see
    /// [`havre_store::MailStore::message_update_flags`]) and renames the
    /// changed messages' files for their new flags, in one step under the
    /// folder's lock; then tells the user's sessions.
    pub async fn update_flags(
        &self,
        user: &str,
        mailbox: &MailboxRecord,
        uids: &[u32],
        mode: FlagMode,
        flags: &[String],
        unchanged_since: Option<u64>,
    ) -> Result<FlagUpdate, MailboxError> {
        let mut folder = self.folders.lock(mailbox.id).await;
        let done = self
            .store()
            .message_update_flags(mailbox.id, uids, mode, flags, unchanged_since)
            .await?;
        if done.changed.is_empty() {
            return Ok(done);
        }
        let records = done
            .changed
            .iter()
            .map(|c| (c.uid, c.file.clone(), c.flags.clone()))
            .collect();
        self.name_files_logged(user, mailbox, &mut folder, records, false)
            .await;
        drop(folder);
        self.notifier()
            .changed(user, mailbox.id, crate::MessageChange::Flags);
        Ok(done)
    }

    /// A client has seen the folder (SELECT, a POP3 login, new messages
    /// reported to a session that has it selected): its messages move from
    /// new/ to cur/, as Dovecot moves them once they are no longer \Recent.
    pub async fn seen_by_client(
        &self,
        user: &str,
        mailbox: &MailboxRecord,
    ) -> Result<(), MailboxError> {
        let maildir = self.maildir_of(user, &mailbox.name)?;
        let mut folder = self.folders.lock(mailbox.id).await;
        let names = blocking(move || Ok(maildir.names_in("new")?)).await?;
        let mut records = Vec::with_capacity(names.len());
        for name in names {
            // A file not indexed yet (being delivered) waits for the next time.
            if let Some(record) = self
                .store()
                .message_by_file(mailbox.id, &format!("new/{name}"))
                .await?
            {
                records.push((record.uid, record.file, record.flags));
            }
        }
        self.name_files(user, mailbox, &mut folder, records, true)
            .await?;
        Ok(())
    }

    /// After new messages were indexed (APPEND, COPY): those written with
    /// flags get their names, and `dovecot-uidlist` lists them all.
    pub(crate) async fn settle_written(&self, user: &str, mailbox: &MailboxRecord, uids: &[u32]) {
        let mut folder = self.folders.lock(mailbox.id).await;
        let mut records = Vec::new();
        for uid in uids {
            match self.store().message_get(mailbox.id, *uid).await {
                Ok(Some(m)) if !m.flags.is_empty() => records.push((m.uid, m.file, m.flags)),
                Ok(_) => {}
                Err(e) => tracing::warn!(target: "mailbox", "user=<{user}> {}: {e}", mailbox.name),
            }
        }
        self.name_files_logged(user, mailbox, &mut folder, records, false)
            .await;
        self.refresh_uidlist(user, mailbox, &mut folder, None).await;
    }

    /// After an import into `mailbox` (its index written behind the folder's
    /// back): with `keywords`, the source's `dovecot-keywords` (its files were
    /// copied, so their letters mean what they meant), then a sync, which
    /// checks the names and `dovecot-uidlist` against the new index.
    pub(crate) async fn after_import(
        &self,
        user: &str,
        mailbox: &MailboxRecord,
        keywords: Option<Arc<Keywords>>,
    ) -> Result<(), MailboxError> {
        {
            let mut folder = self.folders.lock(mailbox.id).await;
            folder.uidlist = None;
            folder.keywords = None;
            if let Some(keywords) = keywords.filter(|k| k.iter().next().is_some()) {
                let maildir = self.maildir_of(user, &mailbox.name)?;
                blocking(move || Ok(maildir.write_keywords(&keywords)?)).await?;
            }
        }
        self.sync(user, mailbox).await?;
        Ok(())
    }

    /// [`Mailboxes::name_files`], a failure logged: the store has the flags,
    /// and the next sync renames what is left.
    pub(crate) async fn name_files_logged(
        &self,
        user: &str,
        mailbox: &MailboxRecord,
        folder: &mut Folder,
        records: Vec<(u32, String, Vec<String>)>,
        seen: bool,
    ) {
        if let Err(e) = self.name_files(user, mailbox, folder, records, seen).await {
            tracing::warn!(target: "mailbox", "user=<{user}> {}: file names not updated: {e}", mailbox.name);
        }
    }

    /// Renames each `(uid, file, flags)` to the name its flags want
    /// ([`wanted_file`]), giving its keywords letters first; then fsyncs the
    /// directories and records the new names in one transaction. A file
    /// someone else moved meanwhile is followed by the part of its name
    /// no reader changes; a file gone altogether is left to expunge.
    pub(crate) async fn name_files(
        &self,
        user: &str,
        mailbox: &MailboxRecord,
        folder: &mut Folder,
        records: Vec<(u32, String, Vec<String>)>,
        seen: bool,
    ) -> Result<usize, MailboxError> {
        if records.is_empty() {
            return Ok(0);
        }
        let maildir = self.maildir_of(user, &mailbox.name)?;
        let wanted: BTreeSet<String> = records
            .iter()
            .flat_map(|(_, _, f)| flags::keywords_of(f).map(str::to_string))
            .collect();
        let keywords = self
            .keywords(&maildir, folder, wanted.into_iter().collect())
            .await;
        let plans: Vec<(u32, String, String)> = records
            .into_iter()
            .filter_map(|(uid, file, flags)| {
                let to = wanted_file(&file, &flags, &keywords, seen);
                (to != file).then_some((uid, file, to))
            })
            .collect();
        if plans.is_empty() {
            return Ok(0);
        }
        let done = blocking(move || rename_all(&maildir, plans)).await?;
        self.store().message_set_files(mailbox.id, &done).await?;
        Ok(done.len())
    }

    /// The folder's keywords, with letters for `wanted` (see [`keywords_now`]).
    pub(crate) async fn keywords(
        &self,
        maildir: &Maildir,
        folder: &mut Folder,
        wanted: Vec<String>,
    ) -> Keywords {
        let maildir = maildir.clone();
        let state = folder.keywords.take();
        let state = tokio::task::spawn_blocking(move || keywords_now(&maildir, state, &wanted))
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(target: "mailbox", "reading keywords: {e}");
                KeywordsState {
                    id: None,
                    keywords: Keywords::default(),
                    writable: false,
                }
            });
        let keywords = state.keywords.clone();
        folder.keywords = Some(state);
        keywords
    }

    /// Brings `dovecot-uidlist` up to date with the index: appends the
    /// messages it lacks, or rewrites it when it does not match (see the
    /// module). `written`: the record of a message just indexed, appended
    /// without asking the index when it directly follows the file's last
    /// (a delivery's common case). A failure is logged; the next pass tries
    /// again.
    pub(crate) async fn refresh_uidlist(
        &self,
        user: &str,
        mailbox: &MailboxRecord,
        folder: &mut Folder,
        written: Option<UidlistRecord>,
    ) {
        if self
            .refresh_uidlist_unsynced(user, mailbox, folder, written)
            .await
        {
            let dir = self.maildir_of(user, &mailbox.name);
            self.sync_uidlist(user, mailbox, dir).await;
        }
    }

    /// [`Mailboxes::refresh_uidlist`] that leaves the fsync of an append to
    /// the caller (true: one is due, [`Mailboxes::sync_uidlist`]), which
    /// makes it after releasing the folder's lock: deliveries to one folder
    /// then share it.
    pub(crate) async fn refresh_uidlist_unsynced(
        &self,
        user: &str,
        mailbox: &MailboxRecord,
        folder: &mut Folder,
        written: Option<UidlistRecord>,
    ) -> bool {
        match self
            .try_refresh_uidlist(user, mailbox, folder, written)
            .await
        {
            Ok(appended) => appended,
            Err(e) => {
                folder.uidlist = None;
                tracing::warn!(target: "mailbox", "user=<{user}> {}: dovecot-uidlist not updated: {e}", mailbox.name);
                false
            }
        }
    }

    /// A delivery's usual case: its UID is the next one the folder's
    /// `dovecot-uidlist` lacks and the file is the one this process knows.
    /// The record is appended, the folder's lock released and the file
    /// fsynced (shared with concurrent deliveries) in one trip to a blocking
    /// thread. Any other case gets the lock back, for
    /// [`Mailboxes::refresh_uidlist_unsynced`].
    pub(crate) async fn append_next_uid(
        &self,
        user: &str,
        mailbox: &MailboxRecord,
        mut folder: OwnedMutexGuard<Folder>,
        written: Option<&UidlistRecord>,
    ) -> Result<(), OwnedMutexGuard<Folder>> {
        let (Some(known), Some(record)) = (folder.uidlist, written) else {
            return Err(folder);
        };
        // Deliveries indexed together get their UIDs at once and come here
        // in any order: the first past the file's end lists them all from
        // the index, and the others find theirs there already (and do not
        // wait for its fsync: the file is the index's copy, rewritten from
        // the index whenever it is found wanting, as after another writer
        // rewrote it from an older look).
        if record.uid <= known.last_uid {
            return Ok(());
        }
        if record.uid != known.last_uid + 1 {
            return Err(folder);
        }
        let Ok(maildir) = self.maildir_of(user, &mailbox.name) else {
            return Err(folder);
        };
        let record = record.clone();
        let done = tokio::task::spawn_blocking(move || {
            match maildir.append_uidlist_unsynced(known.id, std::slice::from_ref(&record)) {
                Ok(Some(id)) => {
                    folder.uidlist = Some(UidlistState {
                        id,
                        last_uid: record.uid,
                        records: known.records + 1,
                        ..known
                    });
                    drop(folder);
                    Ok(maildir.sync_uidlist().map_err(|e| ("synced", e)))
                }
                // Another writer changed it: read it again.
                Ok(None) => Err(folder),
                Err(e) => {
                    folder.uidlist = None;
                    Ok(Err(("updated", e)))
                }
            }
        })
        .await;
        match done {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err((what, e)))) => {
                tracing::warn!(target: "mailbox", "user=<{user}> {}: dovecot-uidlist not {what}: {e}", mailbox.name);
                Ok(())
            }
            Ok(Err(folder)) => Err(folder),
            Err(join) => {
                tracing::warn!(target: "mailbox", "user=<{user}> {}: dovecot-uidlist not updated: {join}", mailbox.name);
                Ok(())
            }
        }
    }

    /// The fsync [`Mailboxes::refresh_uidlist_unsynced`] left due.
    pub(crate) async fn sync_uidlist(
        &self,
        user: &str,
        mailbox: &MailboxRecord,
        maildir: Result<Maildir, MailboxError>,
    ) {
        let synced = match maildir {
            Ok(dir) => blocking(move || Ok(dir.sync_uidlist()?)).await,
            Err(e) => Err(e),
        };
        if let Err(e) = synced {
            tracing::warn!(target: "mailbox", "user=<{user}> {}: dovecot-uidlist not synced: {e}", mailbox.name);
        }
    }

    /// Appends what the file lacks or rewrites it (synced); true when
    /// records were appended without their fsync.
    async fn try_refresh_uidlist(
        &self,
        user: &str,
        mailbox: &MailboxRecord,
        folder: &mut Folder,
        written: Option<UidlistRecord>,
    ) -> Result<bool, MailboxError> {
        let maildir = self.maildir_of(user, &mailbox.name)?;
        // Another writer between our look and our append makes us read again.
        for _ in 0..3 {
            let Some(known) = folder.uidlist else {
                // Checked against the index as it is now (an import may have
                // given the mailbox another UIDVALIDITY).
                let Some(fresh) = self.store().mailbox_by_id(mailbox.id).await? else {
                    return Ok(false);
                };
                folder.uidlist = Some(self.load_uidlist(&maildir, &fresh).await?);
                continue;
            };
            let missing: Vec<UidlistRecord> = match &written {
                Some(record) if record.uid == known.last_uid + 1 => vec![record.clone()],
                _ => self
                    .store()
                    .message_list_above(mailbox.id, known.last_uid)
                    .await?
                    .iter()
                    .map(uidlist_record)
                    .collect(),
            };
            let Some(last) = missing.last().map(|r| r.uid) else {
                // Nothing to add: still the file we know?
                let dir = maildir.clone();
                if blocking(move || Ok(dir.uidlist_id()?)).await? == Some(known.id) {
                    return Ok(false);
                }
                folder.uidlist = None;
                continue;
            };
            let count = missing.len();
            let dir = maildir.clone();
            match blocking(move || Ok(dir.append_uidlist_unsynced(known.id, &missing)?)).await? {
                Some(id) => {
                    folder.uidlist = Some(UidlistState {
                        id,
                        last_uid: last,
                        records: known.records + count,
                        ..known
                    });
                    return Ok(true);
                }
                None => folder.uidlist = None,
            }
        }
        Ok(false)
    }

    /// Reads the folder's `dovecot-uidlist` and checks it against the index;
    /// rewrites it when it is missing, broken, of another UIDVALIDITY, lists
    /// a message under another UID or lacks one below its last record, or
    /// when a quarter of its records are expunged messages.
    async fn load_uidlist(
        &self,
        maildir: &Maildir,
        mailbox: &MailboxRecord,
    ) -> Result<UidlistState, MailboxError> {
        let dir = maildir.clone();
        let read = blocking(move || match dir.read_uidlist() {
            Ok(read) => Ok(read),
            Err(MaildirError::Malformed { path, line, reason }) => {
                tracing::warn!(target: "mailbox", "{}:{line}: {reason}; rewritten", path.display());
                Ok(None)
            }
            Err(e) => Err(e.into()),
        })
        .await?;
        let messages = self.store().message_list(mailbox.id).await?;
        let Some((uidlist, id)) = read.filter(|(u, _)| u.header.uidvalidity == mailbox.uidvalidity)
        else {
            return self.write_uidlist(maildir, mailbox, &messages).await;
        };
        let listed: HashMap<u32, &str> = uidlist
            .records
            .iter()
            .map(|r| (r.uid, r.name.as_str()))
            .collect();
        let last_uid = uidlist.records.last().map_or(0, |r| r.uid);
        let mut live = 0;
        let mut matches = last_uid < mailbox.uidnext;
        for message in messages.iter().take_while(|m| m.uid <= last_uid) {
            let record = uidlist_record(message);
            if listed.get(&message.uid) != Some(&record.name.as_str()) {
                matches = false;
                break;
            }
            live += 1;
        }
        let records = uidlist.records.len();
        let dead = records - live.min(records);
        if !matches || dead * 4 > records {
            return self.write_uidlist(maildir, mailbox, &messages).await;
        }
        Ok(UidlistState {
            id,
            last_uid,
            records,
            dead,
        })
    }

    /// Writes the whole `dovecot-uidlist` from `messages` (the index's).
    async fn write_uidlist(
        &self,
        maildir: &Maildir,
        mailbox: &MailboxRecord,
        messages: &[MessageRecord],
    ) -> Result<UidlistState, MailboxError> {
        let header = UidlistHeader {
            uidvalidity: mailbox.uidvalidity,
            nextuid: mailbox.uidnext,
            guid: Some(mailbox_guid(mailbox)),
        };
        let records: Vec<UidlistRecord> = messages.iter().map(uidlist_record).collect();
        let (last_uid, count) = (records.last().map_or(0, |r| r.uid), records.len());
        let dir = maildir.clone();
        let id = blocking(move || {
            dir.create()?;
            Ok(dir.write_uidlist(&header, &records)?)
        })
        .await?;
        Ok(UidlistState {
            id,
            last_uid,
            records: count,
            dead: 0,
        })
    }

    /// After an expunge of `uids`: the uidlist keeps their records until a
    /// quarter of its records are gone messages, then it is rewritten.
    pub(crate) async fn uidlist_after_expunge(
        &self,
        user: &str,
        mailbox: &MailboxRecord,
        folder: &mut Folder,
        uids: &[u32],
    ) {
        if let Some(known) = folder.uidlist.as_mut() {
            known.dead += uids.iter().filter(|&&u| u <= known.last_uid).count();
            if known.dead * 4 > known.records {
                // Read again: the check rewrites it.
                folder.uidlist = None;
            }
        }
        self.refresh_uidlist(user, mailbox, folder, None).await;
    }

    /// Writes the user's `subscriptions` file from the store's list. A
    /// failure is logged: the store has the list, the next change writes it.
    pub(crate) async fn write_subscriptions(&self, user: &str) {
        let _writing = self.subscriptions_lock().lock().await;
        let result = async {
            let names = self.store().subscriptions(user).await?;
            let root = self.root_of(user);
            blocking(move || {
                root.create()?;
                Ok(root.write_subscriptions(names.iter().map(String::as_str))?)
            })
            .await
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(target: "mailbox", "user=<{user}> subscriptions file not written: {e}");
        }
    }
}

/// Renames each `(uid, from, to)`; returns the `(uid, to)` done. The
/// directories renamed in are fsynced before this returns.
fn rename_all(
    maildir: &Maildir,
    plans: Vec<(u32, String, String)>,
) -> Result<Vec<(u32, String)>, MailboxError> {
    let mut done = Vec::with_capacity(plans.len());
    let mut touched = HashSet::new();
    for (uid, from, to) in plans {
        let from = match maildir.rename_message(&from, &to) {
            Ok(()) => from,
            Err(MaildirError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                let name = from.rsplit('/').next().unwrap_or(&from);
                let Some(found) = maildir.find_moved(name)?.and_then(|p| relative_file(&p)) else {
                    continue;
                };
                if found != to {
                    maildir.rename_message(&found, &to)?;
                }
                found
            }
            Err(e) => return Err(e.into()),
        };
        touched.insert(from.split('/').next().unwrap_or("cur").to_string());
        touched.insert("cur".to_string());
        done.push((uid, to));
    }
    maildir.sync_subdirs(touched.iter().map(String::as_str))?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(flags: &[&str]) -> Vec<String> {
        flags.iter().map(|f| f.to_string()).collect()
    }

    #[test]
    fn a_message_moves_to_cur_with_its_letters_once_it_has_flags_or_was_seen() {
        let keywords = Keywords::parse("0 $Label1\n").unwrap();
        let file = "new/17.Q1R2.mx,S=5,W=6";
        assert_eq!(wanted_file(file, &[], &keywords, false), file);
        assert_eq!(
            wanted_file(file, &[], &keywords, true),
            "cur/17.Q1R2.mx,S=5,W=6:2,"
        );
        assert_eq!(
            wanted_file(
                file,
                &v(&["\\Seen", "$Label1", "NoLetter"]),
                &keywords,
                false
            ),
            "cur/17.Q1R2.mx,S=5,W=6:2,Sa"
        );
        assert_eq!(
            wanted_file("cur/17.Q1R2.mx:2,Sa", &v(&["\\Answered"]), &keywords, false),
            "cur/17.Q1R2.mx:2,R"
        );
    }

    #[test]
    fn a_uidlist_record_carries_the_size_only_when_the_name_does_not() {
        let mut message = MessageRecord {
            uid: 4,
            file: "cur/17.Q1R2.mx,S=5,W=6:2,S".into(),
            size: 6,
            internal_date: 0,
            flags: Vec::new(),
            modseq: 1,
            cache: None,
        };
        assert_eq!(uidlist_record(&message).render(), "4 :17.Q1R2.mx,S=5,W=6\n");
        message.file = "new/17.other".into();
        assert_eq!(uidlist_record(&message).render(), "4 W6 :17.other\n");
    }
}
