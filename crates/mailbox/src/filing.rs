//! Carrying out a [`Plan`]'s folders: each copy written as any delivery
//! is (durable, exactly once), with its flags in the index row.
//!
//! A folder that is missing means INBOX unless the script said `:create`
//! (Pigeonhole's rule), and so does a folder that cannot be made or written:
//! whatever goes wrong in the Sieve path, the message lands in INBOX. Only
//! INBOX failing is an error for the caller (a deferral), as without Sieve.
//! Each folder gets one copy, however many actions named it.

use havre_sieve::Envelope;
use havre_store::MailboxRecord;

use crate::sieve::{ActiveScript, Filing, Plan};
use crate::{
    DeliveryOutcome, DeliveryRequest, LocalDelivery, MailboxError, Staged, delivery_header,
    normalize_name, unique_name,
};

/// One copy a plan's delivery made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filed {
    /// The folder it is in (`INBOX`, `Junk` for a quarantined message...).
    pub folder: String,
    pub outcome: DeliveryOutcome,
}

impl LocalDelivery {
    /// What the recipient's Sieve scripts (the site's and hers) do with
    /// this message; INBOX when there are none or they fail (logged).
    /// `original_to` is the address the client gave, when an alias led here.
    pub async fn plan(&self, request: &DeliveryRequest<'_>, original_to: Option<&str>) -> Plan {
        self.plan_knowing(request, original_to, ActiveScript::Unknown)
            .await
    }

    /// [`LocalDelivery::plan`] when the recipient's lookup already said
    /// whether she has an active script (`AddressEntry::sieve`): no read of
    /// the store when she has none, or when the compiled copy is current.
    pub async fn plan_knowing(
        &self,
        request: &DeliveryRequest<'_>,
        original_to: Option<&str>,
        active: ActiveScript,
    ) -> Plan {
        let Some(scripts) = &self.sieve else {
            return Plan::keep();
        };
        let user = request.mailbox.to_lowercase();
        // A new user's folders exist before her first script runs on them.
        if let Err(err) = self.mailboxes.inbox(&user).await {
            tracing::warn!(target: "sieve", "{}: to=<{user}>: sieve: {err}; kept in INBOX", request.message_id);
            return Plan::keep();
        }
        let envelope = Envelope {
            from: request.sender.to_string(),
            to: user.clone(),
            original_to: original_to
                .filter(|o| !o.eq_ignore_ascii_case(&user))
                .map(str::to_string),
            auth: None,
        };
        let mut plan = scripts
            .plan(
                &self.mailboxes,
                &user,
                envelope,
                request.message,
                request.message_id,
                active,
            )
            .await;
        if let Some((name, changed, error)) = plan.broken.take()
            && scripts.first_notice(&user, changed).await
        {
            self.notify_broken(&user, &name, &error, request.message_id)
                .await;
        }
        if plan.filings.is_empty() {
            // Nothing to write that could fail: the marks stand now.
            scripts.remember_duplicates(&user, &plan.duplicates).await;
        }
        if plan.vacation.is_some()
            && let Some(raw) = plan.raw.clone()
        {
            let delivery = crate::vacation::Delivery {
                user: &user,
                original_to,
                sender: request.sender,
                raw: &raw,
                hostname: self.mailboxes.hostname(),
                queue_id: request.message_id,
            };
            plan.vacation_reply = scripts.vacation_reply(&plan, &delivery).await;
        }
        plan
    }

    /// [`LocalDelivery::deliver`] of every folder of `plan`, each indexed
    /// at once (LMTP). Nothing when the plan discards or refuses.
    pub async fn deliver_plan(
        &self,
        request: DeliveryRequest<'_>,
        plan: &Plan,
    ) -> Result<Vec<Filed>, MailboxError> {
        let kept = self
            .mailboxes
            .inboxes
            .get(&request.mailbox.to_lowercase())
            .is_some();
        match self.deliver_plan_once(request, plan).await {
            // The kept INBOX may be that of a user removed and made again
            // since (`inboxes.rs`): it is forgotten now, and the copy just
            // written is found and indexed under the INBOX as it is.
            Err(MailboxError::Store(err)) if kept => {
                tracing::debug!(target: "mailbox", "{}: indexing failed ({err}); INBOX read again", request.message_id);
                let again = DeliveryRequest {
                    check_duplicate: true,
                    ..request
                };
                self.deliver_plan_once(again, plan).await
            }
            done => done,
        }
    }

    async fn deliver_plan_once(
        &self,
        request: DeliveryRequest<'_>,
        plan: &Plan,
    ) -> Result<Vec<Filed>, MailboxError> {
        let mut filed = Vec::new();
        for staged in self.stage_plan(request, plan).await? {
            let fresh = staged.fresh();
            let folder = staged.folder().to_string();
            let uid = self.mailboxes.index_staged(staged).await?;
            filed.push(Filed {
                folder,
                outcome: if fresh {
                    DeliveryOutcome::Delivered(uid)
                } else {
                    DeliveryOutcome::AlreadyDelivered(uid)
                },
            });
        }
        Ok(filed)
    }

    /// [`LocalDelivery::stage`] of every folder of `plan`: the rows are the
    /// caller's to commit (the relay's attempt).
    pub async fn stage_plan(
        &self,
        request: DeliveryRequest<'_>,
        plan: &Plan,
    ) -> Result<Vec<Staged>, MailboxError> {
        let request = DeliveryRequest {
            message: plan.edited.as_ref().unwrap_or(request.message),
            ..request
        };
        let user = request.mailbox.to_lowercase();
        let mut staged: Vec<Staged> = Vec::new();
        let mut inbox_done = false;
        for filing in &plan.filings {
            let folder = self.folder_for(&user, filing, request.message_id).await;
            let copy = match folder {
                Some(record) if !staged.iter().any(|s| s.mailbox_id() == record.id) => {
                    match self.stage_folder(request, &user, &record, filing).await {
                        Ok(copy) => Some(copy),
                        Err(err) => {
                            tracing::warn!(target: "sieve", "{}: to=<{user}>: fileinto {:?}: {err}; kept in INBOX", request.message_id, record.name);
                            None
                        }
                    }
                }
                Some(_) => continue,
                None => None,
            };
            match copy {
                Some(copy) => staged.push(copy),
                None if inbox_done => {}
                None => {
                    inbox_done = true;
                    let unique = unique_name(request.message_id, &user);
                    staged.push(
                        self.stage_inbox(request, &unique, filing.flags.clone())
                            .await?,
                    );
                }
            }
        }
        // RFC 7352 3: what `duplicate` saw counts once the message is stored.
        if let Some(scripts) = &self.sieve
            && !plan.duplicates.is_empty()
        {
            scripts.remember_duplicates(&user, &plan.duplicates).await;
        }
        Ok(staged)
    }

    /// Tells `user`, in her INBOX, that her active script does not compile
    /// (the "a message to the user the first time"): from the
    /// mail system, once per change of her scripts.
    async fn notify_broken(&self, user: &str, name: &str, error: &str, id: &str) {
        let hostname = self.mailboxes.hostname();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let date = chrono::DateTime::from_timestamp(now, 0)
            .map(|t| t.format("%a, %d %b %Y %H:%M:%S +0000").to_string())
            .unwrap_or_default();
        let name: String = name.chars().filter(|c| !c.is_control()).collect();
        let text = format!(
            "From: Mail Delivery System <MAILER-DAEMON@{hostname}>\r\n\
             To: <{user}>\r\n\
             Subject: Your mail filter \"{name}\" does not work\r\n\
             Date: {date}\r\n\
             Message-ID: <{id}.{now}.sieve@{hostname}>\r\n\
             Auto-Submitted: auto-generated\r\n\
             MIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\
             Content-Transfer-Encoding: 8bit\r\n\r\n\
             Your mail filter (Sieve script) \"{name}\" cannot be used:\r\n\r\n  \
             {error}\r\n\r\n\
             Until it is corrected, all your mail is delivered to your INBOX.\r\n"
        );
        let source = crate::MessageSource::Bytes(text.into_bytes().into());
        let notice_id = format!("{id}N{now}");
        let request = DeliveryRequest {
            mailbox: user,
            sender: "",
            message: &source,
            message_id: &notice_id,
            check_duplicate: false,
        };
        match self.deliver(request).await {
            Ok(_) => {
                tracing::info!(target: "sieve", "{id}: to=<{user}>: sieve: told the user that {name:?} does not compile")
            }
            Err(err) => {
                tracing::warn!(target: "sieve", "{id}: to=<{user}>: sieve: cannot deliver the notice of {name:?}: {err}")
            }
        }
    }

    /// The folder a filing goes to; `None` for INBOX (asked, missing, or
    /// not to be made).
    async fn folder_for(&self, user: &str, filing: &Filing, id: &str) -> Option<MailboxRecord> {
        if normalize_name(&filing.folder) == "INBOX" {
            return None;
        }
        match self.find_folder(user, &filing.folder).await {
            Ok(Some(record)) => Some(record),
            Ok(None) if filing.create => {
                match self.mailboxes.create(user, &filing.folder, None).await {
                    Ok(record) => {
                        tracing::info!(target: "sieve", "{id}: to=<{user}>: fileinto :create: folder {:?} created", record.name);
                        Some(record)
                    }
                    Err(err) => {
                        tracing::warn!(target: "sieve", "{id}: to=<{user}>: fileinto :create {:?}: {err}; kept in INBOX", filing.folder);
                        None
                    }
                }
            }
            Ok(None) => {
                tracing::info!(target: "sieve", "{id}: to=<{user}>: fileinto {:?}: no such folder; kept in INBOX", filing.folder);
                None
            }
            Err(err) => {
                tracing::warn!(target: "sieve", "{id}: to=<{user}>: fileinto {:?}: {err}; kept in INBOX", filing.folder);
                None
            }
        }
    }

    /// The folder a script names: as written, or, for scripts written for
    /// Dovecot's Maildir++ namespace (`INBOX.Lists.Talk`, `.` separated),
    /// the same folder in havre's `/`-separated names (`Lists/Talk`).
    async fn find_folder(
        &self,
        user: &str,
        name: &str,
    ) -> Result<Option<MailboxRecord>, MailboxError> {
        if let Some(found) = self.mailboxes.get(user, name).await? {
            return Ok(Some(found));
        }
        for other in dovecot_forms(name) {
            if let Some(found) = self.mailboxes.get(user, &other).await? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// A copy in a folder other than INBOX: its own unique name, so that
    /// the INBOX copy of the same message and its exactly-once check are
    /// apart.
    async fn stage_folder(
        &self,
        request: DeliveryRequest<'_>,
        user: &str,
        record: &MailboxRecord,
        filing: &Filing,
    ) -> Result<Staged, MailboxError> {
        let unique = unique_name(request.message_id, &format!("{user}/{}", record.name));
        self.mailboxes
            .stage_file(
                user,
                record,
                &unique,
                delivery_header(&request).into_bytes(),
                request.message,
                request.check_duplicate,
                false,
                filing.flags.clone(),
            )
            .await?
            .ok_or_else(|| MailboxError::NoSuchMailbox(record.name.clone()))
    }
}

/// Other spellings of a folder name from a Dovecot script: without the
/// `INBOX.` (or `INBOX/`) namespace prefix, and with `.` as the separator.
fn dovecot_forms(name: &str) -> Vec<String> {
    let mut forms = Vec::new();
    let unprefixed = ["INBOX.", "INBOX/"]
        .iter()
        .find_map(|p| {
            name.get(..p.len())
                .filter(|head| head.eq_ignore_ascii_case(p))
                .map(|_| &name[p.len()..])
        })
        .filter(|rest| !rest.is_empty());
    for candidate in unprefixed.into_iter().chain([name]) {
        let slashed = candidate.replace('.', "/");
        for form in [candidate.to_string(), slashed] {
            if form != name && !forms.contains(&form) {
                forms.push(form);
            }
        }
    }
    forms
}

#[cfg(test)]
mod tests {
    use super::dovecot_forms;

    #[test]
    fn dovecot_folder_names_are_tried_in_havres_spelling() {
        assert_eq!(
            dovecot_forms("INBOX.Lists.Talk"),
            ["Lists.Talk", "Lists/Talk", "INBOX/Lists/Talk"]
        );
        assert_eq!(dovecot_forms("Lists.Talk"), ["Lists/Talk"]);
        assert!(dovecot_forms("Lists").is_empty());
        assert_eq!(dovecot_forms("inbox.Archive"), ["Archive", "inbox/Archive"]);
    }
}
