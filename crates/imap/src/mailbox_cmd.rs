//! Commands on mailboxes: LIST/LSUB, CREATE, DELETE, RENAME, (UN)SUBSCRIBE,
//! STATUS, SELECT/EXAMINE, quotas.

use havre_imap_proto::{
    Code, ListCommand, ListExtra, Mailbox, MailboxAttr, RangeSet, SelectParams, Status, StatusItem,
};
use havre_mailbox::{MailboxError, normalize_name};
use havre_store::{MailboxCounts, MailboxRecord, StoreError};

use crate::list::{DELIMITER, Parents, full_pattern, select};
use crate::session::{Outcome, Session};
use crate::view::View;

fn special_attr(special: &str) -> MailboxAttr {
    MailboxAttr::parse(special)
}

pub(crate) fn mailbox_error(err: MailboxError) -> Outcome {
    if err.is_unavailable() {
        tracing::warn!(target: "imap", "mailbox operation failed, the database does not answer: {err}");
        return Outcome::no_code(
            Code::Unavailable,
            "Mail storage unavailable, try again later.",
        );
    }
    if err.is_storage_full() {
        // Dovecot's words for ENOSPC; the client may try again later.
        tracing::error!(target: "imap", "mailbox operation failed: {err}");
        return Outcome::no_code(Code::OverQuota, "Not enough disk space.");
    }
    match err {
        MailboxError::Store(StoreError::AlreadyExists(_)) => {
            Outcome::no_code(Code::AlreadyExists, "Mailbox already exists.")
        }
        MailboxError::NoSuchMailbox(_) | MailboxError::Store(StoreError::NoSuchMailbox(_)) => {
            Outcome::no_code(Code::NonExistent, "Mailbox doesn't exist.")
        }
        MailboxError::Refused(text) => Outcome::no_code(Code::Cannot, text),
        MailboxError::Expunged(_) => Outcome::no_code(
            Code::ExpungeIssued,
            "Some of the requested messages no longer exist.",
        ),
        MailboxError::Maildir(e) => Outcome::no_code(Code::Cannot, e.to_string()),
        other => {
            tracing::error!(target: "imap", "mailbox operation failed: {other}");
            Outcome::no_code(Code::ServerBug, "Internal error occurred.")
        }
    }
}

impl Session {
    pub(crate) async fn mailbox_list(&self) -> Result<Vec<MailboxRecord>, Outcome> {
        self.services
            .mailboxes
            .list(self.user())
            .await
            .map_err(mailbox_error)
    }

    pub(crate) async fn find_mailbox(&self, name: &Mailbox) -> Result<MailboxRecord, Outcome> {
        match self
            .services
            .mailboxes
            .get(self.user(), name.as_str())
            .await
        {
            Ok(Some(m)) => Ok(m),
            Ok(None) => Err(Outcome::no_code(
                Code::NonExistent,
                "Mailbox doesn't exist.",
            )),
            Err(e) => Err(mailbox_error(e)),
        }
    }

    pub(crate) async fn subscription_list(&self) -> Result<Vec<String>, Outcome> {
        self.services
            .mailboxes
            .store()
            .subscriptions(self.user())
            .await
            .map_err(|e| mailbox_error(e.into()))
    }

    pub(crate) async fn list(&mut self, list: ListCommand) -> Outcome {
        if list.patterns.iter().all(|p| p.is_empty()) && !list.extended {
            // `LIST "" ""`: the delimiter and the root (RFC 9051 6.3.9).
            self.out.list(&[MailboxAttr::NoSelect], Some(DELIMITER), "");
            return Outcome::ok("List completed.");
        }
        let mailboxes = match self.mailbox_list().await {
            Ok(m) => m,
            Err(o) => return o,
        };
        let subscribed_only = list.selection.subscribed;
        let subscriptions = if subscribed_only || list.returns.subscribed {
            match self.subscription_list().await {
                Ok(s) => s,
                Err(o) => return o,
            }
        } else {
            Vec::new()
        };
        let patterns: Vec<String> = list
            .patterns
            .iter()
            .map(|p| full_pattern(&list.reference, p))
            .collect();
        let special_only = list.selection.special_use;
        let existing = |name: &str| mailboxes.iter().find(|m| m.name == name);
        // RFC 5258 3: with SUBSCRIBED the subscription list is what is
        // listed, existing or not; otherwise the mailboxes.
        let listed = if subscribed_only {
            let parents = if list.selection.recursive_match {
                Parents::RecursiveMatch
            } else {
                Parents::Never
            };
            select(subscriptions.iter().map(String::as_str), &patterns, parents)
        } else {
            select(
                mailboxes.iter().map(|m| m.name.as_str()),
                &patterns,
                Parents::PercentLevels,
            )
        };
        for entry in listed {
            let mailbox = existing(&entry.name);
            if special_only && mailbox.is_none_or(|m| m.special_use.is_none()) {
                continue;
            }
            let prefix = format!("{}{DELIMITER}", entry.name);
            let has_children = mailboxes.iter().any(|m| m.name.starts_with(&prefix));
            let mut attrs = Vec::new();
            match mailbox {
                Some(_) => attrs.push(if has_children {
                    MailboxAttr::HasChildren
                } else {
                    MailboxAttr::HasNoChildren
                }),
                // \NonExistent implies \Noselect (RFC 5258); a level that
                // only exists above others is \Noselect, as RFC 3501 says.
                None if subscribed_only || !has_children => attrs.push(MailboxAttr::NonExistent),
                None => attrs.extend([MailboxAttr::NoSelect, MailboxAttr::HasChildren]),
            }
            if let Some(special) = mailbox.and_then(|m| m.special_use.as_deref()) {
                attrs.push(special_attr(special));
            }
            let is_subscribed = subscriptions.contains(&entry.name);
            if is_subscribed && (list.returns.subscribed || subscribed_only) {
                attrs.push(MailboxAttr::Subscribed);
            }
            if list.extended {
                let extra = ListExtra {
                    child_info_subscribed: entry.child_info,
                    ..ListExtra::default()
                };
                self.out
                    .list_extended(&attrs, Some(DELIMITER), &entry.name, &extra);
            } else {
                self.out.list(&attrs, Some(DELIMITER), &entry.name);
            }
            if let (Some(items), Some(mailbox)) = (&list.returns.status, mailbox) {
                // LIST-STATUS (RFC 5819): STATUS right after the mailbox's LIST.
                let values = self.status_values(mailbox, items).await;
                self.out.status(&mailbox.name, &values);
            }
        }
        Outcome::ok("List completed.")
    }

    /// LSUB (RFC 3501 6.3.9): the subscribed names, existing or not, and with
    /// a trailing `%` the levels above them, `\Noselect` when they are not
    /// themselves subscribed.
    pub(crate) async fn lsub(&mut self, reference: &str, pattern: &str) -> Outcome {
        let subscriptions = match self.subscription_list().await {
            Ok(s) => s,
            Err(o) => return o,
        };
        let pattern = full_pattern(reference, pattern);
        let listed = select(
            subscriptions.iter().map(String::as_str),
            &[pattern],
            Parents::PercentLevels,
        );
        for entry in listed {
            let attrs: &[MailboxAttr] = if entry.candidate {
                &[]
            } else {
                &[MailboxAttr::NoSelect]
            };
            self.out.lsub(attrs, Some(DELIMITER), &entry.name);
        }
        Outcome::ok("Lsub completed.")
    }

    pub(crate) async fn create(
        &mut self,
        mailbox: Mailbox,
        special_use: Vec<MailboxAttr>,
    ) -> Outcome {
        let name = mailbox.as_str().trim_end_matches(DELIMITER).to_string();
        if name == "INBOX" {
            return Outcome::no_code(Code::AlreadyExists, "Mailbox already exists.");
        }
        let special = match special_use.as_slice() {
            [] => None,
            [one]
                if matches!(
                    one,
                    MailboxAttr::Archive
                        | MailboxAttr::Drafts
                        | MailboxAttr::Junk
                        | MailboxAttr::Sent
                        | MailboxAttr::Trash
                        | MailboxAttr::Flagged
                        | MailboxAttr::All
                ) =>
            {
                Some(one.to_string())
            }
            _ => return Outcome::no_code(Code::UseAttr, "Unsupported special-use attribute."),
        };
        if let Err(o) = self.ensure_parents(&name).await {
            return o;
        }
        match self
            .services
            .mailboxes
            .create(self.user(), &name, special.as_deref())
            .await
        {
            Ok(_) => Outcome::ok("Create completed."),
            Err(e) => mailbox_error(e),
        }
    }

    /// Creates the missing superior levels of `name` (`a/b/c` needs `a` and
    /// `a/b`), as CREATE and RENAME must (RFC 9051 6.3.4, 6.3.6).
    async fn ensure_parents(&self, name: &str) -> Result<(), Outcome> {
        let levels: Vec<&str> = name.split(DELIMITER).collect();
        for depth in 1..levels.len() {
            let parent = levels[..depth].join("/");
            if let Ok(None) = self.services.mailboxes.get(self.user(), &parent).await
                && let Err(e) = self
                    .services
                    .mailboxes
                    .create(self.user(), &parent, None)
                    .await
            {
                return Err(mailbox_error(e));
            }
        }
        Ok(())
    }

    pub(crate) async fn delete(&mut self, mailbox: Mailbox) -> Outcome {
        let record = match self.find_mailbox(&mailbox).await {
            Ok(r) => r,
            Err(o) => return o,
        };
        if self
            .selected
            .as_ref()
            .is_some_and(|v| v.mailbox.id == record.id)
        {
            self.selected = None;
        }
        match self.services.mailboxes.delete(self.user(), &record).await {
            Ok(()) => Outcome::ok("Delete completed."),
            Err(e) => mailbox_error(e),
        }
    }

    pub(crate) async fn rename(&mut self, from: Mailbox, to: Mailbox) -> Outcome {
        let record = match self.find_mailbox(&from).await {
            Ok(r) => r,
            Err(o) => return o,
        };
        if let Err(o) = self.ensure_parents(to.as_str()).await {
            return o;
        }
        match self
            .services
            .mailboxes
            .rename(self.user(), &record, to.as_str())
            .await
        {
            Ok(()) => Outcome::ok("Rename completed."),
            Err(e) => mailbox_error(e),
        }
    }

    /// SUBSCRIBE needs an existing mailbox (as Dovecot); UNSUBSCRIBE takes
    /// any name, since the list keeps names of deleted mailboxes (RFC 9051
    /// 6.3.7).
    pub(crate) async fn subscribe(&mut self, mailbox: Mailbox, on: bool) -> Outcome {
        let name = mailbox.as_str().trim_end_matches(DELIMITER);
        let name = match self.find_mailbox(&Mailbox::new(name)).await {
            Ok(record) => record.name,
            Err(o) if on => return o,
            Err(_) => normalize_name(name),
        };
        match self
            .services
            .mailboxes
            .subscribe(self.user(), &name, on)
            .await
        {
            Ok(()) => Outcome::ok(if on {
                "Subscribe completed."
            } else {
                "Unsubscribe completed."
            }),
            Err(e) => mailbox_error(e),
        }
    }

    /// STATUS items from one aggregate query over the mailbox's messages,
    /// not a list of them.
    pub(crate) async fn status_values(
        &self,
        mailbox: &MailboxRecord,
        items: &[StatusItem],
    ) -> Vec<(StatusItem, u64)> {
        let counted = items.iter().any(|item| {
            matches!(
                item,
                StatusItem::Messages
                    | StatusItem::Unseen
                    | StatusItem::Deleted
                    | StatusItem::Size
                    | StatusItem::Recent
            )
        });
        let counts = if counted {
            self.services
                .mailboxes
                .store()
                .mailbox_counts(mailbox.id)
                .await
                .unwrap_or_default()
        } else {
            MailboxCounts::default()
        };
        items
            .iter()
            .map(|item| {
                let value = match item {
                    StatusItem::Messages => counts.messages,
                    StatusItem::UidNext => mailbox.uidnext as u64,
                    StatusItem::UidValidity => mailbox.uidvalidity as u64,
                    StatusItem::Unseen => counts.unseen,
                    StatusItem::Deleted => counts.deleted,
                    StatusItem::Size => counts.size,
                    StatusItem::Recent => self.status_recent(mailbox, counts.unclaimed_recent),
                    StatusItem::HighestModSeq => mailbox.highestmodseq,
                    StatusItem::AppendLimit => self.services.settings.max_message_size,
                    StatusItem::MailboxId => mailbox_id(mailbox),
                };
                (*item, value)
            })
            .collect()
    }

    pub(crate) async fn status(&mut self, mailbox: Mailbox, items: &[StatusItem]) -> Outcome {
        let record = match self.find_mailbox(&mailbox).await {
            Ok(r) => r,
            Err(o) => return o,
        };
        let values = self.status_values(&record, items).await;
        self.out.status(&record.name, &values);
        Outcome::ok("Status completed.")
    }

    pub(crate) async fn select(
        &mut self,
        mailbox: Mailbox,
        read_only: bool,
        params: SelectParams,
    ) -> Outcome {
        if params.condstore || params.qresync.is_some() {
            // RFC 7162 3.1: a CONDSTORE parameter enables CONDSTORE.
            self.enabled.condstore = true;
        }
        if params.qresync.is_some() && !self.enabled.qresync {
            return Outcome::bad("QRESYNC is not enabled.");
        }
        if self.selected.take().is_some() && self.enabled.condstore {
            self.out
                .untagged(Status::Ok, Some(&Code::Closed), "Previous mailbox closed.");
        }
        let record = match self.find_mailbox(&mailbox).await {
            Ok(r) => r,
            Err(o) => return o,
        };
        // Files delivered by other programs (or before a crash) get their UIDs now.
        if let Err(e) = self.services.mailboxes.sync(self.user(), &record).await {
            tracing::warn!(target: "imap", "sync of {} for {}: {e}", record.name, self.user());
        }
        let record = match self.find_mailbox(&mailbox).await {
            Ok(r) => r,
            Err(o) => return o,
        };
        let view = match View::open(&self.services.mailboxes, record.clone(), read_only).await {
            Ok(v) => v,
            Err(e) => return mailbox_error(e),
        };
        self.open_recent(record.id, read_only).await;
        if !read_only {
            // Seen by a client: new/ -> cur/, as Dovecot does on SELECT.
            if let Err(e) = self
                .services
                .mailboxes
                .seen_by_client(self.user(), &record)
                .await
            {
                tracing::warn!(target: "imap", "user=<{}> {}: {e}", self.user(), record.name);
            }
        }
        let exists = view.exists();
        let first_unseen = view.first_unseen_seq();
        let recent = view
            .uids()
            .iter()
            .filter(|uid| self.is_recent(**uid))
            .count() as u32;
        self.selected = Some(view);
        self.write_flags();
        self.out.exists(exists);
        if !self.enabled.rev2 {
            self.out.recent(recent);
            if let Some(seq) = first_unseen {
                self.out
                    .untagged(Status::Ok, Some(&Code::Unseen(seq)), "First unseen.");
            }
        }
        self.out.untagged(
            Status::Ok,
            Some(&Code::UidValidity(record.uidvalidity)),
            "UIDs valid",
        );
        self.out.untagged(
            Status::Ok,
            Some(&Code::UidNext(record.uidnext)),
            "Predicted next UID",
        );
        self.out.untagged(
            Status::Ok,
            Some(&Code::HighestModSeq(record.highestmodseq)),
            "Highest",
        );
        self.out.untagged(
            Status::Ok,
            Some(&Code::MailboxId(mailbox_id(&record))),
            "Ok",
        );
        if let Some(q) = &params.qresync
            && q.uid_validity == record.uidvalidity
        {
            // QRESYNC (RFC 7162 3.2.5): what vanished and what changed since.
            let store = self.services.mailboxes.store().clone();
            let vanished = store
                .expunged_since(record.id, q.modseq)
                .await
                .unwrap_or_default();
            let mut set = RangeSet::new();
            for uid in vanished {
                let known = q
                    .known_uids
                    .as_ref()
                    .map(|k| k.contains(uid, u32::MAX))
                    .unwrap_or(true);
                if known {
                    set.insert(uid);
                }
            }
            self.out.vanished(true, &set);
            let changed = store
                .message_changes(record.id, q.modseq)
                .await
                .unwrap_or_default();
            for message in changed {
                let seq = self.selected.as_ref().and_then(|v| v.seq_of(message.uid));
                if let Some(seq) = seq {
                    let flags = crate::command::wire_flags(&message.flags);
                    self.out
                        .fetch(seq)
                        .uid(message.uid)
                        .flags(&flags)
                        .modseq(message.modseq);
                }
            }
        }
        if read_only {
            Outcome::Ok(Some(Code::ReadOnly), "Examine completed.".into())
        } else {
            Outcome::Ok(Some(Code::ReadWrite), "Select completed.".into())
        }
    }

    async fn quota_numbers(&self) -> Option<(u64, u64)> {
        let user = self
            .services
            .directory
            .store()
            .get_user(self.user())
            .await
            .ok()??;
        let limit = user.quota?;
        let used = self
            .services
            .mailboxes
            .store()
            .quota_used(self.user())
            .await
            .unwrap_or(0);
        // RFC 9208 STORAGE is in units of 1024 octets.
        Some((used.div_ceil(1024), limit / 1024))
    }

    pub(crate) async fn get_quota(&mut self, root: &str) -> Outcome {
        if !root.is_empty() {
            return Outcome::no_code(Code::NonExistent, "No such quota root.");
        }
        if let Some((used, limit)) = self.quota_numbers().await {
            self.out.quota("", &[("STORAGE", used, limit)]);
        } else {
            self.out.quota("", &[]);
        }
        Outcome::ok("Getquota completed.")
    }

    pub(crate) async fn get_quota_root(&mut self, mailbox: Mailbox) -> Outcome {
        if let Err(o) = self.find_mailbox(&mailbox).await {
            return o;
        }
        self.out.quota_root(mailbox.as_str(), &[""]);
        if let Some((used, limit)) = self.quota_numbers().await {
            self.out.quota("", &[("STORAGE", used, limit)]);
        } else {
            self.out.quota("", &[]);
        }
        Outcome::ok("Getquotaroot completed.")
    }
}

/// The number behind a mailbox's MAILBOXID (RFC 8474): its UIDVALIDITY and
/// its row id. A RENAME keeps both; a mailbox created again under the name
/// has a greater UIDVALIDITY, so an id is never given to another mailbox.
fn mailbox_id(mailbox: &MailboxRecord) -> u64 {
    (u64::from(mailbox.uidvalidity) << 32) | (mailbox.id as u64 & 0xffff_ffff)
}
