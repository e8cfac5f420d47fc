//! The internal directory: who has a mailbox here, and where mail to an address goes.
//!
//! It answers three questions for the roles: is this domain ours
//! ([`Directory::is_local_domain`]), what does this address deliver to
//! ([`Directory::resolve`], aliases, catch-alls and `user+tag@` included), and is
//! this password right ([`Directory::authenticate`]). Data lives in the store;
//! this crate owns the rules (normalisation, expansion order, password schemes).
//!
//! Passwords are hashed with argon2id; hashes imported from LDAP or Dovecot
//! (`{SSHA}`, `{SHA512-CRYPT}`, `{BLF-CRYPT}`...) verify as they are, see
//! [`password`].

pub mod address;
pub mod cluster;
pub mod ldap;
mod login_cache;
mod loops;
pub mod password;
mod relay_domains;
mod resolve;
pub mod sasl;
mod verify;

use std::net::IpAddr;
use std::sync::Arc;

use havre_store::{Store, StoreError, User};

pub use address::{Address, AddressError};
pub use relay_domains::{RelayDomains, RelayVerdict};
pub use resolve::{MAX_DEPTH, MailboxFacts, Resolution, Target};
pub use verify::Verifier;

/// Failed logins before a session is closed, in every protocol: a guesser
/// must reconnect (and do a TLS handshake) every few passwords, as with
/// Dovecot's login processes.
pub const MAX_AUTH_FAILURES: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("alias expansion of {0} is deeper than {MAX_DEPTH} levels")]
    AliasTooDeep(String),
    #[error(transparent)]
    Ldap(#[from] ldap::LdapError),
}

/// The directory service shared by every role of a node.
/// The outcome of a login attempt, with why it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    Accepted(User),
    UnknownUser,
    /// The user has no password (`havre user add` without one).
    NoPassword(User),
    WrongPassword(User),
    /// Right password, but `havre user modify --disable` was run.
    Disabled(User),
    /// The stored hash cannot be checked (unknown or malformed scheme).
    UnusableHash(User, String),
}

#[derive(Clone)]
pub struct Directory {
    store: Arc<dyn Store>,
    delimiter: String,
    verifier: Verifier,
    /// The LDAP directory, asked first when there is one.
    ldap: Option<Arc<ldap::Ldap>>,
    /// Whether the internal users and aliases are asked too (alone, or
    /// after LDAP in a chain).
    internal: bool,
    /// Local domains of the configuration, and domain aliases
    /// (`old.example` -> `example`), besides the database's domains.
    domains: Arc<Domains>,
    /// The relay domains and their recipients (`[relay]`).
    relay: Arc<RelayDomains>,
    /// Directors' logins on users' behalf (a backend of the director role).
    cluster: Option<Arc<cluster::ClusterLogin>>,
    /// A director: its networks trusted, their logins on users' behalf
    /// refused ([`Directory::as_director`]).
    director: bool,
}

/// `directory.domains` and `directory.domain_aliases`, lower case.
#[derive(Debug, Default)]
pub(crate) struct Domains {
    pub local: std::collections::HashSet<String>,
    pub aliases: std::collections::HashMap<String, String>,
}

impl Directory {
    /// `recipient_delimiter` as Postfix's: `"+"` makes `user+tag@` reach `user@`;
    /// empty disables sub-addressing.
    pub fn new(store: Arc<dyn Store>, recipient_delimiter: &str) -> Directory {
        Directory {
            store,
            delimiter: recipient_delimiter.to_string(),
            verifier: Verifier::per_cpu(),
            ldap: None,
            internal: true,
            domains: Arc::default(),
            relay: Arc::default(),
            cluster: None,
            director: false,
        }
    }

    /// The directory of a director: it trusts the directors' networks as
    /// its backends do, but takes no login on a user's behalf, so that a
    /// director listed among the backends by mistake (`havre director add`
    /// of its own address) is found failing by the probes, not logged in
    /// to by itself over and over.
    pub fn as_director(mut self) -> Directory {
        self.director = true;
        self
    }

    /// Whether a director's login (or probe) from `client` may be taken;
    /// the log says why not.
    fn takes_director_login(&self, cluster: &cluster::ClusterLogin, client: IpAddr) -> bool {
        if self.director {
            tracing::warn!(target: "directory", "a login on a user's behalf from {client} refused: this node is a director, not a backend (is its address among the backends?)");
            return false;
        }
        if !cluster.trusts(client) {
            tracing::warn!(target: "directory", "a login on a user's behalf from {client} refused: not in director.trusted_networks");
            return false;
        }
        true
    }

    /// Takes directors' logins on users' behalf ([`cluster::ClusterLogin`]).
    pub fn with_cluster_login(mut self, cluster: cluster::ClusterLogin) -> Directory {
        self.cluster = Some(Arc::new(cluster));
        self
    }

    /// Whether `client` is a director's network (`director.trusted_networks`):
    /// its connections count as secure, without TLS.
    pub fn trusts_director(&self, client: IpAddr) -> bool {
        self.cluster.as_ref().is_some_and(|c| c.trusts(client))
    }

    /// A director's login as `user` (`token` from [`cluster::ClusterLogin::token`])
    /// from `client`: the user, when the client is a trusted director, the
    /// token good and the account enabled.
    pub async fn authenticate_director(
        &self,
        client: IpAddr,
        user: &str,
        token: &str,
    ) -> Result<Option<User>, DirectoryError> {
        self.authenticate_director_with(client, user, token, async {})
            .await
            .0
    }

    /// A director's probe ([`cluster::PROBE_LOGIN`]): `Ok(true)` when it is
    /// a director's (address in `director.trusted_networks`, token good)
    /// and the directory answers the lookups a login makes (for a name no
    /// account has: LDAP's when there is one, and the store's); `Ok(false)`
    /// when it is not a director's; an error when either does not answer.
    pub async fn answer_probe(&self, client: IpAddr, token: &str) -> Result<bool, DirectoryError> {
        let Some(cluster) = &self.cluster else {
            return Ok(false);
        };
        if !self.takes_director_login(cluster, client) {
            return Ok(false);
        }
        if !cluster.verify(cluster::PROBE_LOGIN, token).await {
            tracing::warn!(target: "directory", "director probe from {client} refused: bad token (another cluster's secret?)");
            return Ok(false);
        }
        // LDAP's accounts, and the store (which holds the mailboxes'
        // indexes whatever holds the accounts).
        if let Some(ldap) = &self.ldap {
            drop(ldap.by_login(cluster::PROBE_LOGIN).await?);
        }
        drop(self.store.get_user(cluster::PROBE_LOGIN).await?);
        Ok(true)
    }

    /// [`Directory::authenticate_director`] that runs `meanwhile` (what the
    /// login needs next, her folders read) while the account is read, once
    /// the director and its token are known good: nothing is read for a
    /// login that is not a director's. Its output comes with the verdict,
    /// `None` when it did not run.
    pub async fn authenticate_director_with<T>(
        &self,
        client: IpAddr,
        user: &str,
        token: &str,
        meanwhile: impl Future<Output = T>,
    ) -> (Result<Option<User>, DirectoryError>, Option<T>) {
        let Some(cluster) = &self.cluster else {
            return (Ok(None), None);
        };
        if !self.takes_director_login(cluster, client) {
            return (Ok(None), None);
        }
        if !cluster.verify(user, token).await {
            tracing::warn!(target: "directory", "director login as {user} from {client} refused: bad token");
            return (Ok(None), None);
        }
        let account = async { Ok(self.account(user).await?.filter(|u| !u.disabled)) };
        let (found, done) = tokio::join!(account, meanwhile);
        (found, Some(done))
    }

    /// The account a login name names (LDAP's, then the internal one's),
    /// without checking any password: what a director's login on her
    /// behalf, or `havre director move`, places by its address.
    pub async fn account(&self, login: &str) -> Result<Option<User>, DirectoryError> {
        Ok(match &self.ldap {
            Some(ldap) => match ldap.by_login(login).await? {
                Some(account) => Some(ldap_user(account)),
                None if self.internal => self.stored_user(login).await?,
                None => None,
            },
            None => self.stored_user(login).await?,
        })
    }

    async fn stored_user(&self, email: &str) -> Result<Option<User>, DirectoryError> {
        Ok(match Address::parse(email) {
            Ok(address) => self.store.get_user(&address.key()).await?,
            Err(_) => None,
        })
    }

    /// The relay domains this node takes mail for from anyone, and the
    /// recipients accepted there (`relay.domains`, `relay.recipients`,
    /// `relay.recipients_from_ldap`).
    pub fn with_relay(mut self, relay: RelayDomains) -> Directory {
        self.relay = Arc::new(relay);
        self
    }

    pub fn relay(&self) -> &RelayDomains {
        &self.relay
    }

    /// What RCPT makes of `address` (any case) at a domain that is not the
    /// node's: not a relay domain, or a relay domain's recipient known or
    /// unknown, by `relay.recipients` and then, when the relay domains
    /// verify recipients in LDAP, by the account or group it belongs to.
    pub async fn relay_verdict(&self, address: &str) -> Result<RelayVerdict, DirectoryError> {
        if let relay_domains::Listed::Verdict(verdict) = self.relay.listed(address) {
            return Ok(verdict);
        }
        let Some(ldap) = &self.ldap else {
            return Ok(RelayVerdict::UnknownRecipient);
        };
        let address = address.to_ascii_lowercase();
        let known = ldap.by_address(&address).await?.is_some()
            || ldap.group_members(&address).await?.is_some();
        Ok(if known {
            RelayVerdict::Accepted
        } else {
            RelayVerdict::UnknownRecipient
        })
    }

    /// Local domains named by the configuration (`directory.domains`: mail
    /// for them is ours, their users in LDAP or the database), and domain
    /// aliases (`old.example` -> `example`: `x@old.example` is
    /// `x@example`, unless the database has an entry for the address).
    pub fn with_domains(
        mut self,
        local: &[String],
        aliases: &std::collections::BTreeMap<String, String>,
    ) -> Directory {
        let clean = |d: &str| d.trim().trim_end_matches('.').to_ascii_lowercase();
        self.domains = Arc::new(Domains {
            local: local.iter().map(|d| clean(d)).collect(),
            aliases: aliases.iter().map(|(k, v)| (clean(k), clean(v))).collect(),
        });
        self
    }

    /// Whether the configuration makes `domain` local (a domain of
    /// `directory.domains` or a domain alias): no store read.
    pub fn configured_domain(&self, domain: &str) -> bool {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        self.domains.local.contains(&domain) || self.domains.aliases.contains_key(&domain)
    }

    /// This directory asking `ldap` first (`directory.backend`), then its
    /// internal users and aliases only when `internal_too` (a chain).
    pub fn with_ldap(mut self, ldap: ldap::Ldap, internal_too: bool) -> Directory {
        self.ldap = Some(Arc::new(ldap));
        self.internal = internal_too;
        self
    }

    /// The LDAP directory, when there is one.
    pub fn ldap(&self) -> Option<&ldap::Ldap> {
        self.ldap.as_deref()
    }

    /// The server that keeps `mailbox`'s mail, when her LDAP account names
    /// one (`ldap.attributes.mail_host`); `None` without LDAP.
    pub async fn mail_host(&self, mailbox: &str) -> Result<Option<String>, DirectoryError> {
        let Some(ldap) = &self.ldap else {
            return Ok(None);
        };
        Ok(ldap
            .by_address(mailbox)
            .await?
            .filter(|account| account.mail == mailbox)
            .and_then(|account| account.mail_host))
    }

    /// This directory remembering successful logins for `ttl`
    /// (`auth.cache_ttl`; zero: every login verifies its password).
    pub fn with_login_cache(mut self, ttl: std::time::Duration) -> Directory {
        self.verifier = self.verifier.with_login_cache(ttl);
        self
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Password hashes verified by this node so far (see [`Verifier::verified`]).
    pub fn passwords_verified(&self) -> u64 {
        self.verifier.verified()
    }

    /// Whether `domain` is ours: named by the configuration, in the
    /// database (`havre domain add`), or found by `ldap.domain_filter`.
    pub async fn is_local_domain(&self, domain: &str) -> Result<bool, DirectoryError> {
        Ok(self.configured_domain(domain)
            || self.store.domain_exists(domain).await?
            || self.ldap_domain(domain).await?)
    }

    /// Whether `domain` counts as ours for the routing table (a `*` or
    /// `.parent` entry never takes our own domains): the store's entry says
    /// so (`stored_local`), or the configuration, else LDAP's
    /// `domain_filter` (kept answers). While LDAP does not answer it counts
    /// as ours, so the recipient is resolved (and deferred) rather than
    /// sent to a wildcard route. The relay and `havre route` both ask this.
    pub async fn routes_as_local(&self, stored_local: bool, domain: &str) -> bool {
        stored_local
            || self.configured_domain(domain)
            || self.ldap_domain(domain).await.unwrap_or(true)
    }

    /// Whether LDAP makes `domain` local (`ldap.domain_filter`); false
    /// without LDAP or that filter.
    pub async fn ldap_domain(&self, domain: &str) -> Result<bool, DirectoryError> {
        match &self.ldap {
            Some(ldap) => Ok(ldap.has_domain(domain).await?),
            None => Ok(false),
        }
    }

    /// What a bare `postmaster` (RFC 5321 4.5.1: accepted without a domain)
    /// means here, like Postfix's `$myorigin`: postmaster at the node's host
    /// name or the nearest parent of it that is a local domain, else at the
    /// first local domain. `None` when no domain is local.
    pub async fn postmaster(&self, hostname: &str) -> Result<Option<Address>, DirectoryError> {
        let domain = self.origin(hostname).await?;
        Ok(domain.and_then(|d| Address::parse(&format!("postmaster@{d}")).ok()))
    }

    /// The local domain of a node named `hostname`, like Postfix's
    /// `$myorigin`: the host name or its nearest parent that is a local
    /// domain, else the first local domain; `None` when no domain is local.
    pub async fn origin(&self, hostname: &str) -> Result<Option<String>, DirectoryError> {
        let mut candidate = hostname.trim_end_matches('.').to_ascii_lowercase();
        let domain = loop {
            if !candidate.is_empty() && self.is_local_domain(&candidate).await? {
                break Some(candidate);
            }
            match candidate.split_once('.') {
                Some((_, parent)) if parent.contains('.') => candidate = parent.to_string(),
                _ => {
                    break self
                        .store
                        .list_domains()
                        .await?
                        .into_iter()
                        .next()
                        .map(|d| d.name);
                }
            }
        };
        Ok(domain)
    }

    pub async fn resolve(&self, address: &Address) -> Result<Resolution, DirectoryError> {
        Ok(self.resolve_for_delivery(address).await?.0)
    }

    /// [`Directory::resolve`], with what the lookups learnt of each
    /// mailbox it leads to (her quota and its use, whether she has a Sieve
    /// script): RCPT refuses a full mailbox, and the delivery after DATA
    /// knows her script's state, at no extra read.
    pub async fn resolve_for_delivery(
        &self,
        address: &Address,
    ) -> Result<(Resolution, Vec<(String, MailboxFacts)>), DirectoryError> {
        self.resolve_knowing(address, None).await
    }

    /// [`Directory::resolve_for_delivery`] when the caller has read the
    /// address's entry in the store already (`stored`): not read again.
    pub async fn resolve_knowing(
        &self,
        address: &Address,
        stored: Option<havre_store::AddressEntry>,
    ) -> Result<(Resolution, Vec<(String, MailboxFacts)>), DirectoryError> {
        let resolver = resolve::Resolver {
            store: &self.store,
            delimiter: &self.delimiter,
            facts: Default::default(),
            ldap: self.ldap.as_deref(),
            internal: self.internal,
            domains: &self.domains,
        };
        let resolution = resolver.resolve(address, stored).await?;
        let facts = resolver
            .facts
            .into_inner()
            .unwrap_or_else(|e| e.into_inner());
        Ok((resolution, facts))
    }

    /// The aliases that lead `source` (an alias key, lower-case) back to
    /// itself, as `[source, ..., source]`; `None` without a loop.
    pub async fn alias_cycle(&self, source: &str) -> Result<Option<Vec<String>>, DirectoryError> {
        loops::alias_cycle(&self.store, source).await
    }

    /// The user when `password` is right; `None` for an unknown user, a user
    /// without a password, a wrong password or an unreadable stored hash (the
    /// latter is logged: it is an operator's problem, not the client's).
    /// For a client whose address is unknown; see [`Self::authenticate_from`].
    pub async fn authenticate(
        &self,
        email: &str,
        password: &str,
    ) -> Result<Option<User>, DirectoryError> {
        self.authenticate_from(None, email, password).await
    }

    /// [`Self::authenticate`] for a client at `client`: the verification
    /// waits its turn among the node's ([`Verifier`]), and takes as long for
    /// an unknown user as for a known one. A disabled user's right password
    /// is refused too (and logged, so the operator sees why).
    pub async fn authenticate_from(
        &self,
        client: Option<IpAddr>,
        email: &str,
        password: &str,
    ) -> Result<Option<User>, DirectoryError> {
        match self.check_login(client, email, password).await? {
            Login::Accepted(user) => Ok(Some(user)),
            Login::Disabled(user) => {
                tracing::warn!(target: "directory", "login of {} refused: the account is disabled (havre user modify {} --enable)", user.email, user.email);
                Ok(None)
            }
            Login::UnusableHash(user, err) => {
                tracing::warn!(target: "directory", "stored password of {} is unusable: {err}", user.email);
                Ok(None)
            }
            Login::UnknownUser | Login::NoPassword(_) | Login::WrongPassword(_) => Ok(None),
        }
    }

    /// What a login attempt amounts to, with the reason of a refusal (for
    /// `havre auth test`; sessions only need yes or no).
    pub async fn check_login(
        &self,
        client: Option<IpAddr>,
        email: &str,
        password: &str,
    ) -> Result<Login, DirectoryError> {
        if let Some(ldap) = &self.ldap {
            match ldap.by_login(email).await {
                Ok(Some(account)) if ldap.settings().read_password => {
                    return Ok(self.ldap_hash_login(client, account, password).await);
                }
                Ok(Some(account)) => return ldap_login(ldap, account, password).await,
                Ok(None) if !self.internal => return Ok(Login::UnknownUser),
                Ok(None) => {}
                // The local exceptions (postmaster, service accounts) still
                // log in while the directory does not answer.
                Err(err) if self.internal => {
                    let local = match Address::parse(email) {
                        Ok(address) => self.store.get_user(&address.key()).await?,
                        Err(_) => None,
                    };
                    if local.is_none() {
                        return Err(err.into());
                    }
                    tracing::warn!(target: "directory", "{err}; {email} logs in as a local user");
                }
                Err(err) => return Err(err.into()),
            }
        }
        let user = match Address::parse(email) {
            Ok(address) => self.store.get_user(&address.key()).await?,
            Err(_) => None,
        };
        let stored = user.as_ref().and_then(|u| u.password_hash.as_deref());
        let key = user.as_ref().map_or("", |u| u.email.as_str());
        let verified = self.verifier.verify(client, key, stored, password).await;
        let Some(user) = user else {
            return Ok(Login::UnknownUser);
        };
        Ok(match verified {
            _ if user.password_hash.is_none() => Login::NoPassword(user),
            Ok(true) if user.disabled => Login::Disabled(user),
            Ok(true) => Login::Accepted(user),
            Ok(false) => Login::WrongPassword(user),
            Err(err) => {
                let err = err.to_string();
                Login::UnusableHash(user, err)
            }
        })
    }
}

impl Directory {
    /// A login of an LDAP account whose hash was read with it: verified
    /// here, in the node's line of verifications, as an internal one.
    async fn ldap_hash_login(
        &self,
        client: Option<IpAddr>,
        account: ldap::LdapAccount,
        password: &str,
    ) -> Login {
        let stored = account.password.clone();
        let verified = self
            .verifier
            .verify(client, &account.dn, stored.as_deref(), password)
            .await;
        let user = ldap_user(account);
        match verified {
            _ if stored.is_none() => Login::NoPassword(user),
            Ok(true) if user.disabled => Login::Disabled(user),
            Ok(true) => Login::Accepted(user),
            Ok(false) => Login::WrongPassword(user),
            Err(err) => Login::UnusableHash(user, err.to_string()),
        }
    }
}

/// The user an LDAP account is, for the sessions.
fn ldap_user(account: ldap::LdapAccount) -> User {
    User {
        email: account.mail,
        password_hash: None,
        class: account.class,
        quota: account.quota.filter(|q| *q > 0),
        created_at: 0,
        disabled: account.disabled,
    }
}

/// A login of an LDAP account: a bind as her (Dovecot's `auth_bind`).
async fn ldap_login(
    ldap: &ldap::Ldap,
    account: ldap::LdapAccount,
    password: &str,
) -> Result<Login, DirectoryError> {
    let right = ldap.bind_as(&account.dn, password).await?;
    let user = ldap_user(account);
    Ok(match (right, user.disabled) {
        (true, false) => Login::Accepted(user),
        (true, true) => Login::Disabled(user),
        (false, _) => Login::WrongPassword(user),
    })
}
