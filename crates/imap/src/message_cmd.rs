//! Commands on messages of the selected mailbox: FETCH, STORE, COPY/MOVE,
//! EXPUNGE, CLOSE/UNSELECT, and APPEND.

use std::collections::VecDeque;

use havre_imap_proto::{
    AppendCommand, CatenatePart, Code, DateTime, FetchAttr, FetchCommand, ImapUrl, Mailbox,
    RangeSet, SectionText, SequenceSet, Status, StoreCommand, StoreMode,
};
use havre_mailbox::{Appended, MailboxError, Transfer};
use havre_net::Conn;
use havre_store::{FlagMode, MailboxRecord, MessageRecord, apply_flags, same_flags};

use crate::command::store_flags;
use crate::content::{section_bytes, whole};
use crate::mailbox_cmd::mailbox_error;
use crate::session::{Outcome, Session};
use crate::view::has_flag;

/// Whether a FETCH item needs the message's bytes (others come from the
/// index row or the cached analysis).
fn needs_file(item: &FetchAttr) -> bool {
    !matches!(
        item,
        FetchAttr::Flags
            | FetchAttr::Uid
            | FetchAttr::ModSeq
            | FetchAttr::InternalDate
            | FetchAttr::Rfc822Size
            | FetchAttr::Envelope
            | FetchAttr::Body
            | FetchAttr::BodyStructure
            | FetchAttr::SaveDate
            | FetchAttr::ThreadId
            | FetchAttr::Preview { .. }
    )
}

/// The names of a `BODY[HEADER.FIELDS (names)]` of the message itself whose
/// fields are all among those kept at delivery.
fn kept_header_fields(item: &FetchAttr) -> Option<&[String]> {
    match item {
        FetchAttr::BodySection { section, .. } if section.part.is_empty() => match &section.text {
            Some(SectionText::HeaderFields(names))
                if names.iter().all(|n| {
                    havre_message::CACHED_FIELDS
                        .iter()
                        .any(|c| c.eq_ignore_ascii_case(n))
                }) =>
            {
                Some(names)
            }
            _ => None,
        },
        _ => None,
    }
}

/// What FETCH answers a message's content from: its bytes, or only the
/// header lines kept at delivery.
#[derive(Clone, Copy)]
struct Content<'a> {
    raw: Option<&'a [u8]>,
    kept: Option<&'a [u8]>,
}

/// FETCH reads message files this many at a time, in one blocking task...
const READ_AHEAD: usize = 32;
/// ...or fewer when they add up to this many bytes: what a session holds
/// ahead of what it has sent.
const READ_AHEAD_BYTES: u64 = 4 << 20;

fn partial(data: Vec<u8>, partial: Option<havre_imap_proto::Partial>) -> (Vec<u8>, Option<u32>) {
    match partial {
        None => (data, None),
        Some(p) => {
            let start = (p.origin as usize).min(data.len());
            let end = start.saturating_add(p.length as usize).min(data.len());
            (data[start..end].to_vec(), Some(p.origin))
        }
    }
}

impl Session {
    /// `(seq, uid)` of the messages a set names, in mailbox order.
    pub(crate) fn resolve(&self, set: &SequenceSet, uid: bool) -> Result<Vec<(u32, u32)>, Outcome> {
        let view = self
            .selected
            .as_ref()
            .ok_or_else(|| Outcome::bad("No mailbox selected."))?;
        if set.is_saved() {
            // `$` (SEARCHRES) holds UIDs.
            return Ok(self
                .saved
                .iter()
                .filter_map(|u| view.seq_of(*u).map(|s| (s, *u)))
                .collect());
        }
        if uid {
            let ranges = set.resolve(view.max_uid()).unwrap_or_default();
            Ok(view
                .uids()
                .iter()
                .enumerate()
                .filter(|(_, u)| ranges.contains(**u))
                .map(|(i, u)| (i as u32 + 1, *u))
                .collect())
        } else {
            let exists = view.exists();
            if exists == 0 && !set.has_star() {
                return Err(Outcome::bad("Invalid messageset: mailbox is empty."));
            }
            let ranges = set.resolve(exists).unwrap_or_default();
            if ranges.last().is_some_and(|last| last > exists) {
                return Err(Outcome::bad(
                    "Invalid messageset: message number out of range.",
                ));
            }
            Ok(ranges
                .iter()
                .filter_map(|seq| view.uid_of(seq).map(|u| (seq, u)))
                .collect())
        }
    }

    /// FETCH, sent to `conn` as it goes (see [`Session::stream`]), so a
    /// session holds the few messages it read ahead (see [`READ_AHEAD`]),
    /// however many are fetched.
    pub(crate) async fn fetch(&mut self, conn: &mut Conn, fetch: FetchCommand) -> Outcome {
        self.fetch_with(conn, fetch, true).await
    }

    /// FETCH; with `may_set_seen` false (a NOTIFY MessageNew FETCH) no
    /// item sets `\Seen`, whatever its name.
    pub(crate) async fn fetch_with(
        &mut self,
        conn: &mut Conn,
        fetch: FetchCommand,
        may_set_seen: bool,
    ) -> Outcome {
        let targets = match self.resolve(&fetch.set, fetch.uid) {
            Ok(t) => t,
            Err(o) => return o,
        };
        if fetch.vanished && (!fetch.uid || fetch.changed_since.is_none() || !self.enabled.qresync)
        {
            return Outcome::bad("VANISHED needs UID FETCH with CHANGEDSINCE and QRESYNC enabled.");
        }
        // RFC 7162 3.1: CHANGEDSINCE and the MODSEQ item enable CONDSTORE.
        if fetch.changed_since.is_some() || fetch.items.contains(&FetchAttr::ModSeq) {
            self.enable_condstore();
        }
        let view = self.selected.as_ref().expect("checked");
        let mailbox = view.mailbox.clone();
        let read_only = view.read_only;
        if let (true, Some(since)) = (fetch.vanished, fetch.changed_since) {
            let gone = self
                .services
                .mailboxes
                .store()
                .expunged_since(mailbox.id, since)
                .await
                .unwrap_or_default();
            let ranges = fetch.set.resolve(u32::MAX).unwrap_or_default();
            let mut set = RangeSet::new();
            for uid in gone.into_iter().filter(|u| ranges.contains(*u)) {
                set.insert(uid);
            }
            self.out.vanished(true, &set);
        }
        let needs_content = fetch.items.iter().any(needs_file);
        // The header fields of a message list come from what delivery kept,
        // when that is all the content asked for.
        let from_kept = needs_content
            && fetch
                .items
                .iter()
                .all(|i| !needs_file(i) || kept_header_fields(i).is_some());
        let needs_content = needs_content && !from_kept;
        let sets_seen = may_set_seen && !read_only && fetch.items.iter().any(FetchAttr::sets_seen);
        let with_modseq = self.enabled.condstore;
        let mut unreadable: Option<MailboxError> = None;
        let mut ahead = VecDeque::new();
        for (at, &(seq, uid)) in targets.iter().enumerate() {
            let Some(record) = self.selected.as_ref().and_then(|v| v.message(uid)).cloned() else {
                continue;
            };
            if let Some(since) = fetch.changed_since
                && record.modseq <= since
            {
                continue;
            }
            let kept = if from_kept {
                self.services
                    .mailboxes
                    .store()
                    .message_fields(mailbox.id, uid)
                    .await
                    .ok()
                    .flatten()
            } else {
                None
            };
            let raw = if needs_content || (from_kept && kept.is_none()) {
                if ahead.front().is_none_or(|(next, _)| *next != uid) {
                    ahead = self
                        .read_ahead(&mailbox, &targets[at..], fetch.changed_since)
                        .await;
                }
                let read = ahead.pop_front().map(|(_, read)| read);
                match read.unwrap_or(Err(MailboxError::Expunged(uid))) {
                    Ok(raw) => Some(raw),
                    Err(err) => {
                        // Nothing wrong is sent for it, and the tagged NO
                        // says something is missing (RFC 9051 7.1).
                        unreadable.get_or_insert(err);
                        continue;
                    }
                }
            } else {
                None
            };
            let analysis = if fetch.items.iter().any(|i| {
                matches!(
                    i,
                    FetchAttr::Envelope
                        | FetchAttr::Body
                        | FetchAttr::BodyStructure
                        | FetchAttr::ThreadId
                        | FetchAttr::Preview { .. }
                )
            }) {
                self.analysis(uid, raw.as_deref()).await
            } else {
                None
            };
            let mut record = record;
            let mut flags_changed = false;
            if sets_seen && !has_flag(&record.flags, "\\Seen") {
                let seen = ["\\Seen".to_string()];
                // Renames the file for its flags too, and tells the sessions.
                if let Ok(done) = self
                    .services
                    .mailboxes
                    .update_flags(self.user(), &mailbox, &[uid], FlagMode::Add, &seen, None)
                    .await
                    && let Some(result) = done.changed.iter().chain(&done.unchanged).next()
                {
                    // The stored flags, which may hold other sessions' changes.
                    record.flags = result.flags.clone();
                    record.modseq = result.modseq;
                    flags_changed = true;
                    if let Some(view) = self.selected.as_mut() {
                        view.set_flags(uid, &record.flags, record.modseq);
                    }
                }
            }
            let saved = if fetch.items.contains(&FetchAttr::SaveDate) {
                self.save_date(&mailbox, &record).await
            } else {
                None
            };
            self.announce_keywords(&record.flags);
            self.write_fetch(
                seq,
                &record,
                saved,
                &fetch,
                Content {
                    raw: raw.as_deref(),
                    kept: kept.as_deref(),
                },
                analysis.as_ref(),
                flags_changed,
                with_modseq,
            );
            if !self.stream(conn).await {
                break;
            }
        }
        match unreadable {
            None => Outcome::ok("Fetch completed."),
            Some(err) => mailbox_error(err),
        }
    }

    /// The bytes of the next messages of a FETCH from `targets`' first
    /// one: up to [`READ_AHEAD`] messages or [`READ_AHEAD_BYTES`] (at least
    /// one message), read in one blocking task rather than one each.
    async fn read_ahead(
        &self,
        mailbox: &MailboxRecord,
        targets: &[(u32, u32)],
        changed_since: Option<u64>,
    ) -> VecDeque<(u32, Result<Vec<u8>, MailboxError>)> {
        let mut records = Vec::new();
        let mut bytes = 0;
        for (_, uid) in targets {
            if records.len() >= READ_AHEAD || (bytes >= READ_AHEAD_BYTES && !records.is_empty()) {
                break;
            }
            let Some(record) = self.selected.as_ref().and_then(|v| v.message(*uid)) else {
                continue;
            };
            if changed_since.is_some_and(|since| record.modseq <= since) {
                continue;
            }
            bytes += record.size;
            records.push(record.clone());
        }
        let read = self
            .services
            .mailboxes
            .read_messages(self.user(), mailbox, &records)
            .await;
        records
            .iter()
            .zip(read)
            .map(|(record, read)| {
                if let Err(err) = &read {
                    tracing::warn!(target: "imap", "user=<{}> {} UID {}: {err}", self.user(), mailbox.name, record.uid);
                }
                (record.uid, read)
            })
            .collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn write_fetch(
        &mut self,
        seq: u32,
        record: &MessageRecord,
        saved: Option<i64>,
        fetch: &FetchCommand,
        content: Content<'_>,
        analysis: Option<&havre_message::Analysis>,
        flags_changed: bool,
        with_modseq: bool,
    ) {
        let raw = content.raw;
        let shown = self.shown_flags(record.uid, &record.flags);
        let mut out = self.out.fetch(seq);
        let has = |f: &dyn Fn(&FetchAttr) -> bool| fetch.items.iter().any(f);
        if fetch.uid || has(&|i| matches!(i, FetchAttr::Uid)) {
            out.uid(record.uid);
        }
        if flags_changed || has(&|i| matches!(i, FetchAttr::Flags)) {
            out.flags(&shown);
        }
        if with_modseq || has(&|i| matches!(i, FetchAttr::ModSeq)) {
            out.modseq(record.modseq);
        }
        for item in &fetch.items {
            match item {
                FetchAttr::Uid | FetchAttr::Flags | FetchAttr::ModSeq => {}
                FetchAttr::InternalDate => {
                    if let Some(date) = DateTime::from_unix(record.internal_date, 0) {
                        out.internal_date(&date);
                    }
                }
                FetchAttr::Rfc822Size => {
                    out.rfc822_size(record.size);
                }
                FetchAttr::SaveDate => {
                    let date = saved.and_then(|s| DateTime::from_unix(s, 0));
                    out.save_date(date.as_ref());
                }
                FetchAttr::EmailId => {
                    if let Some(raw) = raw {
                        out.email_id(&havre_message::email_id(raw));
                    }
                }
                FetchAttr::ThreadId => {
                    let id = analysis.and_then(|a| havre_message::thread_id(a.sort_keys()));
                    out.thread_id(id.as_deref());
                }
                FetchAttr::Envelope => {
                    if let Some(a) = analysis {
                        out.envelope(a.envelope().as_bytes());
                    }
                }
                FetchAttr::BodyStructure => {
                    if let Some(a) = analysis {
                        out.body_structure(a.bodystructure(true).as_bytes());
                    }
                }
                FetchAttr::Body => {
                    if let Some(a) = analysis {
                        out.body(a.bodystructure(false).as_bytes());
                    }
                }
                FetchAttr::Rfc822 => {
                    out.rfc822(raw.map(whole).as_deref());
                }
                FetchAttr::Rfc822Header => {
                    let header = raw.and_then(|r| {
                        section_bytes(
                            r,
                            &havre_imap_proto::Section {
                                part: vec![],
                                text: Some(havre_imap_proto::SectionText::Header),
                            },
                        )
                    });
                    out.rfc822_header(header.as_deref());
                }
                FetchAttr::Rfc822Text => {
                    let text = raw.and_then(|r| {
                        section_bytes(
                            r,
                            &havre_imap_proto::Section {
                                part: vec![],
                                text: Some(havre_imap_proto::SectionText::Text),
                            },
                        )
                    });
                    out.rfc822_text(text.as_deref());
                }
                FetchAttr::BodySection {
                    section,
                    partial: p,
                    ..
                } => match raw.and_then(|r| section_bytes(r, section)).or_else(|| {
                    let names = kept_header_fields(item)?;
                    havre_message::cached_header_fields(content.kept?, names)
                }) {
                    Some(data) => {
                        let (data, origin) = partial(data, *p);
                        out.section(section, origin, Some(&data));
                    }
                    None => {
                        out.section(section, p.map(|p| p.origin), None);
                    }
                },
                FetchAttr::Binary {
                    part, partial: p, ..
                } => match raw.map(|r| havre_message::binary_section(r, part)) {
                    Some(Ok(data)) => {
                        let (data, origin) = partial(data, *p);
                        out.binary(part, origin, Some(&data));
                    }
                    _ => {
                        out.binary(part, None, None);
                    }
                },
                // Always computed (with the analysis, then cached), so LAZY
                // never needs to answer NIL (RFC 8970 3.1 allows either).
                FetchAttr::Preview { .. } => {
                    out.preview(analysis.map(|a| a.preview()));
                }
                FetchAttr::BinarySize { part } => {
                    if let Some(Ok(data)) = raw.map(|r| havre_message::binary_section(r, part)) {
                        out.binary_size(part, data.len() as u64);
                    }
                }
            }
        }
    }

    pub(crate) async fn store(&mut self, store: StoreCommand) -> Outcome {
        if self.selected.as_ref().is_some_and(|v| v.read_only) {
            return Outcome::no_code(Code::ReadOnly, "Mailbox is read-only.");
        }
        let targets = match self.resolve(&store.set, store.uid) {
            Ok(t) => t,
            Err(o) => return o,
        };
        if store.unchanged_since.is_some() {
            self.enable_condstore();
        }
        let mailbox = self.selected.as_ref().expect("checked").mailbox.clone();
        let given = store_flags(&store.flags);
        let mode = match store.mode {
            StoreMode::Replace => FlagMode::Replace,
            StoreMode::Add => FlagMode::Add,
            StoreMode::Remove => FlagMode::Remove,
        };
        let uids: Vec<u32> = targets.iter().map(|(_, uid)| *uid).collect();
        // The store applies the change to the flags it holds: what this
        // session believes they are may be stale. The files are renamed for
        // their new flags, and the sessions told, before the answer.
        let done = match self
            .services
            .mailboxes
            .update_flags(
                self.user(),
                &mailbox,
                &uids,
                mode,
                &given,
                store.unchanged_since,
            )
            .await
        {
            Ok(d) => d,
            Err(e) => return mailbox_error(e),
        };
        let condstore = self.enabled.condstore;
        let Some(view) = self.selected.as_mut() else {
            return Outcome::ok("Store completed.");
        };
        // What the client is told now; the view's known mod-sequence stays
        // where it was, so the next update pass still reports what other
        // sessions did before this STORE.
        let mut results: Vec<(u32, u32, Vec<String>, u64, bool)> = Vec::new();
        for (seq, uid) in &targets {
            let Some(result) = done
                .changed
                .iter()
                .chain(&done.unchanged)
                .find(|c| c.uid == *uid)
            else {
                continue;
            };
            let Some(cached) = view.message(*uid) else {
                continue;
            };
            // Flags the client could not foresee: someone else changed them.
            let news = !same_flags(&apply_flags(mode, &cached.flags, &given), &result.flags);
            view.set_flags(*uid, &result.flags, result.modseq);
            results.push((*seq, *uid, result.flags.clone(), result.modseq, news));
        }
        for (seq, uid, flags, modseq, news) in results {
            // .SILENT still reports flags set by someone else (RFC 9051
            // 6.4.6), and the new MODSEQ under CONDSTORE (RFC 7162 3.1.3).
            if store.silent && !news && !condstore {
                continue;
            }
            self.announce_keywords(&flags);
            let shown = self.shown_flags(uid, &flags);
            let mut out = self.out.fetch(seq);
            if store.uid {
                out.uid(uid);
            }
            if !store.silent || news {
                out.flags(&shown);
            }
            if condstore {
                out.modseq(modseq);
            }
        }
        if store.unchanged_since.is_some() && !done.modified.is_empty() {
            let mut modified = RangeSet::new();
            for uid in done.modified {
                let view = self.selected.as_ref();
                let id = if store.uid {
                    Some(uid)
                } else {
                    view.and_then(|v| v.seq_of(uid))
                };
                if let Some(id) = id {
                    modified.insert(id);
                }
            }
            return Outcome::Ok(
                Some(Code::Modified(modified)),
                "Conditional STORE failed.".into(),
            );
        }
        Outcome::ok("Store completed.")
    }

    pub(crate) async fn copy(
        &mut self,
        uid: bool,
        set: SequenceSet,
        target: Mailbox,
        moving: bool,
    ) -> Outcome {
        if moving && self.selected.as_ref().is_some_and(|v| v.read_only) {
            return Outcome::no_code(Code::ReadOnly, "Mailbox is read-only.");
        }
        let targets = match self.resolve(&set, uid) {
            Ok(t) => t,
            Err(o) => return o,
        };
        let destination = match self
            .services
            .mailboxes
            .get(self.user(), target.as_str())
            .await
        {
            Ok(Some(d)) => d,
            Ok(None) => return Outcome::no_code(Code::TryCreate, "Mailbox doesn't exist."),
            Err(e) => return mailbox_error(e),
        };
        let view = self.selected.as_ref().expect("checked");
        let source = view.mailbox.clone();
        let records: Vec<MessageRecord> = targets
            .iter()
            .filter_map(|(_, u)| view.message(*u).cloned())
            .collect();
        if records.is_empty() {
            return Outcome::ok(if moving {
                "No messages moved."
            } else {
                "No messages copied."
            });
        }
        if let Err(o) = self.check_quota(records.iter().map(|r| r.size).sum()).await {
            return o;
        }
        let how = if moving {
            Transfer::Move
        } else {
            Transfer::Copy
        };
        let pairs = match self
            .services
            .mailboxes
            .transfer(self.user(), &source, &records, &destination, how)
            .await
        {
            Ok(p) => p,
            Err(e) => return mailbox_error(e),
        };
        let code = Code::CopyUid {
            uid_validity: destination.uidvalidity,
            source: pairs.iter().map(|p| p.0).collect(),
            destination: pairs.iter().map(|p| p.1).collect(),
        };
        if !moving {
            return Outcome::Ok(Some(code), "Copy completed.".into());
        }
        // MOVE (RFC 6851): COPYUID untagged, then the expunges, then OK.
        self.out.untagged(Status::Ok, Some(&code), "Moved UIDs.");
        if let Err(e) = self
            .services
            .mailboxes
            .expunge(self.user(), &source, &records)
            .await
        {
            return mailbox_error(e);
        }
        self.report_expunged(records.iter().map(|r| r.uid).collect());
        Outcome::ok("Move completed.")
    }

    /// Tells the client about messages this session removed.
    fn report_expunged(&mut self, mut uids: Vec<u32>) {
        let qresync = self.enabled.qresync;
        let Some(view) = self.selected.as_mut() else {
            return;
        };
        uids.sort_unstable();
        let mut vanished = RangeSet::new();
        let mut seqs = Vec::new();
        let mut gone = Vec::new();
        for uid in uids.iter().rev() {
            if let Some(seq) = view.remove(*uid) {
                seqs.push(seq);
                gone.push((seq, *uid));
                vanished.insert(*uid);
            }
        }
        // Highest first: each number is the one the client still uses.
        self.context_removals(&gone);
        if qresync {
            self.out.vanished(false, &vanished);
        } else {
            for seq in seqs {
                self.out.expunge(seq);
            }
        }
    }

    async fn deleted_messages(&self, uid_set: Option<&SequenceSet>) -> Vec<MessageRecord> {
        let Some(view) = self.selected.as_ref() else {
            return Vec::new();
        };
        let ranges = uid_set.and_then(|s| s.resolve(view.max_uid()));
        view.uids()
            .iter()
            .filter_map(|u| view.message(*u))
            .filter(|m| has_flag(&m.flags, "\\Deleted"))
            .filter(|m| ranges.as_ref().is_none_or(|r| r.contains(m.uid)))
            .cloned()
            .collect()
    }

    pub(crate) async fn expunge(&mut self, uid_set: Option<SequenceSet>) -> Outcome {
        if self.selected.as_ref().is_some_and(|v| v.read_only) {
            return Outcome::no_code(Code::ReadOnly, "Mailbox is read-only.");
        }
        // Pick up flags set by other sessions before deciding what goes.
        self.send_updates(true).await;
        let doomed = self.deleted_messages(uid_set.as_ref()).await;
        if doomed.is_empty() {
            return Outcome::ok("Expunge completed.");
        }
        let mailbox = self.selected.as_ref().expect("checked").mailbox.clone();
        if let Err(e) = self
            .services
            .mailboxes
            .expunge(self.user(), &mailbox, &doomed)
            .await
        {
            return mailbox_error(e);
        }
        self.report_expunged(doomed.iter().map(|m| m.uid).collect());
        Outcome::ok("Expunge completed.")
    }

    pub(crate) async fn close(&mut self, expunge: bool) -> Outcome {
        if expunge && self.selected.as_ref().is_some_and(|v| !v.read_only) {
            let doomed = self.deleted_messages(None).await;
            let mailbox = self.selected.as_ref().expect("checked").mailbox.clone();
            if !doomed.is_empty()
                && let Err(e) = self
                    .services
                    .mailboxes
                    .expunge(self.user(), &mailbox, &doomed)
                    .await
            {
                return mailbox_error(e);
            }
        }
        self.selected = None;
        Outcome::ok(if expunge {
            "Close completed."
        } else {
            "Unselect completed."
        })
    }

    /// OVERQUOTA when `more` bytes would exceed the user's quota.
    pub(crate) async fn check_quota(&self, more: u64) -> Result<(), Outcome> {
        let Ok(Some(user)) = self.services.directory.store().get_user(self.user()).await else {
            return Ok(());
        };
        let Some(limit) = user.quota else {
            return Ok(());
        };
        let used = self
            .services
            .mailboxes
            .store()
            .quota_used(self.user())
            .await
            .unwrap_or(0);
        if used + more > limit {
            return Err(Outcome::no_code(
                Code::OverQuota,
                "Quota exceeded (mailbox for user is full)",
            ));
        }
        Ok(())
    }

    /// APPEND, one message or several (MULTIAPPEND, RFC 3502): every
    /// message is checked before any is written, and all are saved or none.
    pub(crate) async fn append(&mut self, append: AppendCommand) -> Outcome {
        let destination = match self
            .services
            .mailboxes
            .get(self.user(), append.mailbox.as_str())
            .await
        {
            Ok(Some(d)) => d,
            Ok(None) => return Outcome::no_code(Code::TryCreate, "Mailbox doesn't exist."),
            Err(e) => return mailbox_error(e),
        };
        let mut append = append;
        for message in &mut append.messages {
            if let Some(parts) = message.catenate.take() {
                match self.catenate(parts).await {
                    Ok(bytes) => message.message = bytes,
                    Err(o) => return o,
                }
            }
        }
        let mut total = 0u64;
        for message in &append.messages {
            if message.message.is_empty() {
                return Outcome::no("Can't save an empty message.");
            }
            if message.message.len() as u64 > self.services.settings.max_message_size {
                return Outcome::no_code(Code::TooBig, "Message too big.");
            }
            total += message.message.len() as u64;
        }
        if let Err(o) = self.check_quota(total).await {
            return o;
        }
        let messages = append
            .messages
            .into_iter()
            .map(|m| Appended {
                flags: store_flags(&m.flags),
                internal_date: m.date.map(|d| d.to_unix()),
                message: m.message,
            })
            .collect();
        match self
            .services
            .mailboxes
            .append_all(self.user(), &destination, messages)
            .await
        {
            Ok(uids) => Outcome::Ok(
                Some(Code::AppendUid {
                    uid_validity: destination.uidvalidity,
                    uids,
                }),
                "Append completed.".into(),
            ),
            Err(e) => mailbox_error(e),
        }
    }

    /// A CATENATE's message (RFC 4469): its TEXT parts and the messages or
    /// sections its URLs name, from this user's own mailboxes.
    async fn catenate(&mut self, parts: Vec<CatenatePart>) -> Result<Vec<u8>, Outcome> {
        let max = self.services.settings.max_message_size;
        let mut out = Vec::new();
        for part in parts {
            match part {
                CatenatePart::Text(text) => out.extend_from_slice(&text),
                CatenatePart::Url(url) => {
                    let Some(bytes) = self.url_content(&url).await else {
                        return Err(Outcome::no_code(
                            Code::Other(format!("BADURL {url}")),
                            "Bad or unknown URL.",
                        ));
                    };
                    out.extend_from_slice(&bytes);
                }
            }
            // Checked as it grows: URLs could name more than fits.
            if out.len() as u64 > max {
                return Err(Outcome::no_code(Code::TooBig, "Message too big."));
            }
        }
        Ok(out)
    }

    /// What a relative IMAP URL names, if it names a message of this user.
    async fn url_content(&self, url: &str) -> Option<Vec<u8>> {
        let url = ImapUrl::parse(url)?;
        let mailbox = self
            .services
            .mailboxes
            .get(self.user(), &url.mailbox)
            .await
            .ok()??;
        if url.uid_validity.is_some_and(|v| v != mailbox.uidvalidity) {
            return None;
        }
        let record = self
            .services
            .mailboxes
            .store()
            .message_get(mailbox.id, url.uid)
            .await
            .ok()??;
        let raw = self.load(&mailbox, &record).await.ok()?;
        match &url.section {
            Some(section) => section_bytes(&raw, section),
            None => Some(whole(&raw)),
        }
    }
}
