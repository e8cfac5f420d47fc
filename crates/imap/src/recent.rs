//! `\Recent` (RFC 3501 2.3.2), for IMAP4rev1 clients: a message is recent in
//! the first session that selects its mailbox after it arrived (or is told of
//! it by a NOOP, IDLE...), and in that session only. The store hands out the
//! UIDs nobody has claimed yet ([`MailStore::mailbox_claim_recent`]); EXAMINE
//! looks without claiming. IMAP4rev2 dropped `\Recent`: a session that
//! enabled it claims all the same (the messages were seen) but is not shown it.
//!
//! [`MailStore::mailbox_claim_recent`]: havre_store::MailStore::mailbox_claim_recent

use std::ops::Range;

use havre_imap_proto::Flag;
use havre_store::MailboxRecord;

use crate::command::wire_flags;
use crate::session::Session;

/// The UIDs this session holds as recent in the selected mailbox.
#[derive(Debug, Clone, Default)]
pub(crate) struct Recent {
    claimed: Vec<Range<u32>>,
}

impl Recent {
    pub(crate) fn contains(&self, uid: u32) -> bool {
        self.claimed.iter().any(|r| r.contains(&uid))
    }
}

impl Session {
    /// On SELECT (claims) or EXAMINE (looks): this session's recent messages
    /// start anew.
    pub(crate) async fn open_recent(&mut self, mailbox_id: i64, read_only: bool) {
        self.recent = Recent::default();
        let store = self.services.mailboxes.store().clone();
        let first = if read_only {
            store
                .mailbox_recent_from(mailbox_id)
                .await
                .map(|from| from..u32::MAX)
        } else {
            store.mailbox_claim_recent(mailbox_id).await
        };
        match first {
            Ok(range) => self.recent.claimed.push(range),
            Err(e) => tracing::warn!(target: "imap", "cannot read recent messages: {e}"),
        }
    }

    /// New messages reached the view: the ones no session saw are ours.
    pub(crate) async fn claim_recent(&mut self) {
        let Some(view) = self.selected.as_ref() else {
            return;
        };
        if view.read_only {
            return;
        }
        let mailbox = view.mailbox.clone();
        match self
            .services
            .mailboxes
            .store()
            .mailbox_claim_recent(mailbox.id)
            .await
        {
            Ok(range) if !range.is_empty() => {
                self.recent.claimed.push(range);
                // This session has seen them: new/ -> cur/, as Dovecot.
                if let Err(e) = self
                    .services
                    .mailboxes
                    .seen_by_client(self.user(), &mailbox)
                    .await
                {
                    tracing::warn!(target: "imap", "user=<{}> {}: {e}", self.user(), mailbox.name);
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(target: "imap", "cannot claim recent messages: {e}"),
        }
    }

    /// How many of the messages in the view are recent in this session.
    pub(crate) fn recent_count(&self) -> u32 {
        self.selected.as_ref().map_or(0, |view| {
            view.uids()
                .iter()
                .filter(|uid| self.recent.contains(**uid))
                .count() as u32
        })
    }

    /// STATUS RECENT: the messages no session has seen yet (`unclaimed`,
    /// counted by the store), and those this session holds if `mailbox` is
    /// the one it selected.
    pub(crate) fn status_recent(&self, mailbox: &MailboxRecord, unclaimed: u64) -> u64 {
        let ours = match &self.selected {
            Some(view) if view.mailbox.id == mailbox.id && !view.read_only => self.recent_count(),
            _ => 0,
        };
        unclaimed + u64::from(ours)
    }

    pub(crate) fn is_recent(&self, uid: u32) -> bool {
        self.recent.contains(uid)
    }

    /// A message's flags as this session shows them: with `\Recent` for an
    /// IMAP4rev1 client when the message is recent here.
    pub(crate) fn shown_flags(&self, uid: u32, flags: &[String]) -> Vec<Flag> {
        let mut shown = wire_flags(flags);
        if !self.enabled.rev2 && self.is_recent(uid) {
            // After the system flags, before keywords, as Dovecot writes it.
            let at = shown
                .iter()
                .position(|f| matches!(f, Flag::Keyword(_)))
                .unwrap_or(shown.len());
            shown.insert(at, Flag::Extension("Recent".into()));
        }
        shown
    }
}
