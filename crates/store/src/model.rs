//! Plain data exchanged with the store.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub name: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Lower-case `local@domain`.
    pub email: String,
    pub password_hash: Option<String>,
    pub class: String,
    /// Bytes; `None`: her class's default (`set_class_quotas`), unlimited
    /// without one; `Some(0)`: unlimited whatever her class.
    pub quota: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub email: String,
    pub password_hash: Option<String>,
    pub class: String,
    /// The quota that applies, in bytes: her own or her class's; `None`
    /// is unlimited.
    pub quota: Option<u64>,
    pub created_at: i64,
    /// Cannot log in; mail is still delivered (Dovecot's `nologin`).
    pub disabled: bool,
}

/// What `havre user modify` changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChanges {
    pub class: Option<String>,
    /// `Some(None)`: her class's default again; `Some(Some(0))`: unlimited.
    pub quota: Option<Option<u64>>,
    pub disabled: Option<bool>,
    /// A new password hash.
    pub password_hash: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    pub address: String,
    pub targets: Vec<String>,
}

/// What the directory holds for one address, read at once for recipient
/// resolution ([`crate::Store::address_entry`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressEntry {
    /// The address's domain is one of ours.
    pub domain_local: bool,
    /// A user has this address.
    pub user: bool,
    /// Her quota and what her mailboxes hold, when she has a quota.
    pub quota: Option<QuotaUse>,
    /// When she has an active Sieve script: her scripts' change counter
    /// (`SieveScript::changed`), so that delivery knows whether its
    /// compiled copy is current without reading the script.
    pub sieve: Option<i64>,
    /// The alias's targets, in order (empty: no alias).
    pub aliases: Vec<String>,
}

/// A user's quota and her use of it, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuotaUse {
    pub limit: u64,
    pub used: u64,
}

impl QuotaUse {
    /// Whether `more` bytes would go over the limit (a message that fills
    /// it exactly still fits, as Dovecot counts).
    pub fn exceeded_by(&self, more: u64) -> bool {
        self.used.saturating_add(more) > self.limit
    }
}

/// Where a recipient of a queued message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecipientStatus {
    Pending,
    Sent,
    Failed,
}

impl RecipientStatus {
    pub fn as_i64(self) -> i64 {
        match self {
            RecipientStatus::Pending => 0,
            RecipientStatus::Sent => 1,
            RecipientStatus::Failed => 2,
        }
    }

    pub fn from_i64(v: i64) -> Self {
        match v {
            1 => RecipientStatus::Sent,
            2 => RecipientStatus::Failed,
            _ => RecipientStatus::Pending,
        }
    }

    pub fn is_final(self) -> bool {
        self != RecipientStatus::Pending
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRecipient {
    /// Position in the envelope; stable for the life of the message.
    pub idx: i64,
    /// Where it goes: a local mailbox or a remote address, after alias
    /// expansion (at enqueue, like Postfix's cleanup).
    pub address: String,
    /// The address as given in RCPT TO, when expansion changed it (`orig_to=`
    /// in logs, Original-Recipient in DSNs).
    pub orig: Option<String>,
    pub status: RecipientStatus,
    /// The last reply or error, for `havre queue list`.
    pub last_reply: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    pub id: String,
    /// Envelope sender; empty for the null sender `<>`.
    pub sender: String,
    pub size: u64,
    /// Unix seconds.
    pub arrival: i64,
    /// `host[ip]` of the client, for logs and `Received:`.
    pub client: String,
    pub protocol: String,
    pub attempts: i64,
    pub next_attempt: i64,
    pub hold: bool,
    /// Why a check put the message on hold (quarantine); `None` when it is
    /// not held or the operator held it.
    pub hold_reason: Option<String>,
    /// A delay warning went to the sender already.
    pub warned: bool,
    /// The node whose spool holds the message (`server.node_id`): only its
    /// queue runner delivers it.
    pub node: u8,
    pub recipients: Vec<QueueRecipient>,
}

impl QueueEntry {
    /// On hold because a check quarantined it (not the operator).
    pub fn quarantined(&self) -> bool {
        self.hold && self.hold_reason.is_some()
    }

    pub fn pending(&self) -> impl Iterator<Item = &QueueRecipient> {
        self.recipients
            .iter()
            .filter(|r| r.status == RecipientStatus::Pending)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientUpdate {
    pub idx: i64,
    pub status: RecipientStatus,
    pub reply: String,
}

/// A message a delivery attempt wrote into a mailbox: its index row
/// commits with the attempt's outcome ([`crate::Store::queue_finish_attempt`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveredRow {
    pub mailbox_id: i64,
    pub message: crate::NewMessage,
}

/// The queue in numbers, for metrics and health checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueSummary {
    /// Not yet tried (Postfix's incoming/active).
    pub new: u64,
    /// Tried and waiting for another attempt (Postfix's deferred).
    pub deferred: u64,
    /// On hold (operator or quarantine).
    pub hold: u64,
    pub bytes: u64,
    /// Unix seconds of the oldest arrival; `None` when empty.
    pub oldest_arrival: Option<i64>,
}

/// What finishing an attempt did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FinishedAttempt {
    /// Every recipient was final: the record went.
    pub removed: bool,
    /// Per [`DeliveredRow`], in order: its UID (the row already there when
    /// the file was indexed before), 0 when the mailbox no longer exists.
    pub uids: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptOutcome {
    pub id: String,
    pub updates: Vec<RecipientUpdate>,
    pub next_attempt: i64,
}

/// A row of the store's one query for an address: `(kind, value, quota,
/// used, sieve)`, kind 0 an alias target, 1 the user, 2 the domain.
pub(crate) type AddressRow = (i64, String, Option<i64>, Option<i64>, Option<i64>);

impl AddressEntry {
    /// From the rows of the store's one query for an address, in order.
    pub(crate) fn from_rows(rows: Vec<AddressRow>) -> AddressEntry {
        let mut entry = AddressEntry::default();
        for (kind, value, quota, used, sieve) in rows {
            match kind {
                0 => entry.aliases.push(value),
                1 => {
                    entry.user = true;
                    entry.quota = quota.map(|limit| QuotaUse {
                        limit: limit as u64,
                        used: used.unwrap_or(0) as u64,
                    });
                    entry.sieve = sieve;
                }
                _ => entry.domain_local = true,
            }
        }
        entry
    }
}

impl Alias {
    /// `(address, target)` rows, sorted by address, as one alias per address.
    pub(crate) fn group(rows: Vec<(String, String)>) -> Vec<Alias> {
        let mut out: Vec<Alias> = Vec::new();
        for (address, target) in rows {
            match out.last_mut() {
                Some(last) if last.address == address => last.targets.push(target),
                _ => out.push(Alias {
                    address,
                    targets: vec![target],
                }),
            }
        }
        out
    }
}

impl QueueSummary {
    /// From `(on hold, tried, messages, bytes, oldest arrival)` groups.
    pub(crate) fn from_groups(groups: Vec<(bool, bool, i64, i64, Option<i64>)>) -> QueueSummary {
        let mut summary = QueueSummary::default();
        for (hold, tried, count, bytes, oldest) in groups {
            let count = count.max(0) as u64;
            match (hold, tried) {
                (true, _) => summary.hold += count,
                (false, true) => summary.deferred += count,
                (false, false) => summary.new += count,
            }
            summary.bytes += bytes.max(0) as u64;
            summary.oldest_arrival = match (summary.oldest_arrival, oldest) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        summary
    }
}

/// A node of the cluster as it last told the store (`havre cluster status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
    /// `server.node_id`.
    pub id: u8,
    pub hostname: String,
    /// `server.roles`, in order.
    pub roles: Vec<String>,
    /// Where its listeners are, as the operator reads them (`mx 127.0.0.1:25, imap …`).
    pub address: String,
    pub version: String,
    /// Unix seconds.
    pub started_at: i64,
    /// Its last heartbeat, unix seconds.
    pub heartbeat: i64,
}
