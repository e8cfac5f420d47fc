//! Recipient resolution: what an address delivers to.
//!
//! The order follows Postfix's virtual alias and mailbox maps:
//! 1. an alias for the exact address wins (an alias may list itself to keep a
//!    copy: `alice -> alice, archive`);
//! 2. then a user with that address;
//! 3. then, with a recipient delimiter, `user+tag@` resolves as `user@`;
//! 4. then the domain's catch-all alias `@domain`; a catch-all target written
//!    `@other.test` keeps the local part (`x@domain` -> `x@other.test`).
//!
//! Expansion is recursive, stops at loops (an address met twice is expanded once)
//! and at [`MAX_DEPTH`] levels, and never yields the same mailbox twice. An
//! address whose every path leads back into a loop delivers nowhere: that is
//! [`Resolution::Loop`], refused like Postfix's "mail forwarding loop", never
//! an empty delivery that would accept a message and lose it.

use std::collections::HashSet;
use std::sync::Arc;

use havre_store::{AddressEntry, QuotaUse, Store};

use crate::DirectoryError;
use crate::address::Address;

pub const MAX_DEPTH: usize = 20;

/// Where one resolved address goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// A local user's mailbox (lower-case address).
    Mailbox(String),
    /// An address outside the local domains (alias forwarding).
    Remote(String),
    /// An alias target in a local domain that matches nobody.
    Unknown(String),
}

/// What a recipient's lookup learnt of a mailbox it leads to, for the
/// delivery that follows at once (RCPT, then DATA).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MailboxFacts {
    /// Her quota and its use, when she has a quota.
    pub quota: Option<QuotaUse>,
    /// Her scripts' change counter when she has an active Sieve script.
    pub sieve: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// The domain is local and the address leads somewhere.
    Deliver(Vec<Target>),
    /// The domain is local but nobody has this address.
    UnknownUser,
    /// The address is an alias, but its expansion only loops back to
    /// addresses already expanded: nothing to deliver to.
    Loop,
    /// The domain is not one of ours.
    NotLocal,
    /// The address is a disabled LDAP account's, refused as such
    /// (`ldap.disabled_mail = "refuse"`: 5.2.1) rather than as unknown.
    Disabled,
}

pub(crate) struct Resolver<'a> {
    pub store: &'a Arc<dyn Store>,
    pub delimiter: &'a str,
    /// What the entries of the mailboxes the expansion reached said.
    pub facts: std::sync::Mutex<Vec<(String, MailboxFacts)>>,
    /// The LDAP directory, asked first (see [`Resolver::entry`]).
    pub ldap: Option<&'a crate::ldap::Ldap>,
    /// Whether the internal users and aliases count.
    pub internal: bool,
    /// The configuration's local domains and domain aliases.
    pub domains: &'a crate::Domains,
}

impl Resolver<'_> {
    /// What `address` delivers to; `stored` is its entry in the store when
    /// the caller has read it already (the relay has).
    pub async fn resolve(
        &self,
        address: &Address,
        stored: Option<AddressEntry>,
    ) -> Result<Resolution, DirectoryError> {
        // One read answers the usual case (a user of ours) whole.
        let key = address.key();
        let stored = match stored {
            Some(stored) => stored,
            None => self.store.address_entry(&key, address.domain()).await?,
        };
        let (entry, disabled) = self.entry_from(stored, &key, address.domain()).await?;
        if disabled && self.ldap.is_some_and(|l| l.settings().refuse_disabled) {
            return Ok(Resolution::Disabled);
        }
        if !entry.domain_local {
            return Ok(Resolution::NotLocal);
        }
        let mut seen = HashSet::new();
        let mut targets = Vec::new();
        if !self
            .expand(address.clone(), 0, Some(entry), &mut seen, &mut targets)
            .await?
        {
            return Ok(Resolution::UnknownUser);
        }
        if targets.is_empty() {
            return Ok(Resolution::Loop);
        }
        let mut unique = HashSet::new();
        targets.retain(|t| unique.insert(t.clone()));
        Ok(Resolution::Deliver(targets))
    }

    /// What `key` (at `domain`) is: the store's entry (the domain, the
    /// internal user or alias, her Sieve state), and with LDAP, the
    /// account it belongs to. In a chain an internal user or alias wins
    /// (the local exceptions); an LDAP account's other addresses are
    /// aliases of her primary one, her forwarding addresses aliases too,
    /// and a disabled account is nobody (the second value says so: RCPT
    /// may refuse it as disabled rather than unknown).
    async fn entry(&self, key: &str, domain: &str) -> Result<(AddressEntry, bool), DirectoryError> {
        let stored = self.store.address_entry(key, domain).await?;
        self.entry_from(stored, key, domain).await
    }

    /// [`Resolver::entry`] from the store's entry, read already.
    async fn entry_from(
        &self,
        mut stored: AddressEntry,
        key: &str,
        domain: &str,
    ) -> Result<(AddressEntry, bool), DirectoryError> {
        let domain = domain.to_ascii_lowercase();
        if let Some(target) = self.domains.aliases.get(&domain)
            && !stored.user
            && stored.aliases.is_empty()
        {
            // A domain alias: the same local part at the target domain,
            // when somebody has it there (else nobody: refused at RCPT).
            let local = key.rsplit_once('@').map_or(key, |(l, _)| l);
            let aliased = format!("{local}@{target}");
            let (there, _) = Box::pin(self.entry(&aliased, target)).await?;
            stored.domain_local = true;
            if there.user || !there.aliases.is_empty() {
                stored.aliases = vec![aliased];
            }
            return Ok((stored, false));
        }
        stored.domain_local |= self.domains.local.contains(&domain);
        let Some(ldap) = self.ldap else {
            return Ok((stored, false));
        };
        if !stored.domain_local {
            stored.domain_local = ldap.has_domain(&domain).await?;
        }
        if !stored.domain_local || (self.internal && (stored.user || !stored.aliases.is_empty())) {
            return Ok((stored, false));
        }
        let nobody = AddressEntry {
            domain_local: true,
            ..AddressEntry::default()
        };
        let account = ldap.by_address(key).await?;
        if account.is_none()
            && let Some(members) = ldap.group_members(key).await?
        {
            return Ok((
                AddressEntry {
                    aliases: members,
                    ..nobody
                },
                false,
            ));
        }
        if account.as_ref().is_some_and(|a| a.disabled) {
            return Ok((nobody, true));
        }
        Ok((
            match account {
                None if self.internal => stored,
                None => nobody,
                Some(account) if account.mail != key => AddressEntry {
                    aliases: vec![account.mail],
                    ..nobody
                },
                Some(account) if !account.forwards.is_empty() => AddressEntry {
                    aliases: account.forwards,
                    ..nobody
                },
                Some(account) => {
                    let quota = match account.quota.filter(|q| *q > 0) {
                        Some(limit) => Some(QuotaUse {
                            limit,
                            used: self.store.quota_used(key).await?,
                        }),
                        None => None,
                    };
                    let sieve = self.store.sieve_active(key).await?.map(|a| a.changed);
                    AddressEntry {
                        user: true,
                        quota,
                        sieve,
                        ..nobody
                    }
                }
            },
            false,
        ))
    }

    /// Returns whether `address` exists; pushes what it leads to onto `out`.
    /// `known` is its directory entry when the caller has read it already.
    async fn expand(
        &self,
        address: Address,
        depth: usize,
        known: Option<AddressEntry>,
        seen: &mut HashSet<String>,
        out: &mut Vec<Target>,
    ) -> Result<bool, DirectoryError> {
        let key = address.key();
        if depth > MAX_DEPTH {
            return Err(DirectoryError::AliasTooDeep(key));
        }
        if !seen.insert(key.clone()) {
            // Already expanded on this path or a sibling: it exists, add nothing twice.
            return Ok(true);
        }
        let entry = match known {
            Some(entry) => entry,
            None => self.entry(&key, address.domain()).await?.0,
        };
        if !entry.domain_local {
            // Only an alias leads here (`resolve` stops at a foreign domain).
            out.push(Target::Remote(address.to_string()));
            return Ok(true);
        }
        if !entry.aliases.is_empty() {
            for target in entry.aliases {
                if target == key {
                    // An alias naming itself keeps a copy in the user's own
                    // mailbox; without a user it is a loop and adds nothing.
                    if entry.user {
                        self.note(&key, entry.quota, entry.sieve);
                        out.push(Target::Mailbox(key.clone()));
                    }
                    continue;
                }
                self.expand_target(&target, &address, depth, seen, out)
                    .await?;
            }
            return Ok(true);
        }
        if entry.user {
            self.note(&key, entry.quota, entry.sieve);
            out.push(Target::Mailbox(key));
            return Ok(true);
        }
        if !self.delimiter.is_empty()
            && let Some((base, _tag)) = address.local().split_once(self.delimiter)
            && !base.is_empty()
        {
            let base = address.with_local(base);
            seen.remove(&base.key());
            if Box::pin(self.expand(base, depth + 1, None, seen, out)).await? {
                return Ok(true);
            }
        }
        let catch_all = self
            .store
            .alias_targets(&format!("@{}", address.domain()))
            .await?;
        if catch_all.is_empty() {
            return Ok(false);
        }
        for target in catch_all {
            self.expand_target(&target, &address, depth, seen, out)
                .await?;
        }
        Ok(true)
    }

    fn note(&self, mailbox: &str, quota: Option<QuotaUse>, sieve: Option<i64>) {
        let mut facts = self.facts.lock().unwrap_or_else(|e| e.into_inner());
        facts.push((mailbox.to_string(), MailboxFacts { quota, sieve }));
    }

    async fn expand_target(
        &self,
        target: &str,
        original: &Address,
        depth: usize,
        seen: &mut HashSet<String>,
        out: &mut Vec<Target>,
    ) -> Result<(), DirectoryError> {
        let target = match target.strip_prefix('@') {
            Some(domain) => format!("{}@{domain}", original.local()),
            None => target.to_string(),
        };
        let Ok(next) = Address::parse(&target) else {
            out.push(Target::Unknown(target));
            return Ok(());
        };
        if !Box::pin(self.expand(next.clone(), depth + 1, None, seen, out)).await? {
            out.push(Target::Unknown(next.key()));
        }
        Ok(())
    }
}
