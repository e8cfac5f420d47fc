//! The institution's LDAP directory (OpenLDAP in the seeds): accounts with
//! their addresses, class, quota and state, found by a search as the
//! node's service account, and passwords checked by binding as the user
//! (Dovecot's `auth_bind = yes`). ldap3 underneath.
//!
//! Every value put in a filter is escaped (RFC 4515): a login of
//! `*)(uid=*` finds nobody. The servers of `urls` are tried in turn; a
//! directory that no server answers for is an error (the caller answers
//! 4xx, never "unknown user").

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ldap3::{LdapConnAsync, LdapConnSettings, LdapResult, Scope, SearchEntry, ldap_escape};

/// Where and how to search: the `[ldap]` settings.
#[derive(Debug, Clone)]
pub struct LdapSettings {
    /// Tried in turn: `ldap://host[:port]` (with StartTLS when
    /// `starttls`), `ldaps://host[:port]`.
    pub urls: Vec<String>,
    pub starttls: bool,
    /// Passwords are checked against the account's hash
    /// ([`Attributes::password`]), not by a bind as the user.
    pub read_password: bool,
    /// TLS with the site's certificate authorities (`ldap.ca_file`);
    /// `None`: the system's.
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    /// The service account that searches; empty: anonymous.
    pub bind_dn: String,
    pub bind_password: String,
    pub base: String,
    /// Finds an account by login: `%u` the login as typed, `%n` its local
    /// part, `%d` its domain (Dovecot's).
    pub user_filter: String,
    /// Finds the account an address belongs to: `%s` the address.
    pub address_filter: String,
    /// Finds a group by its address (`%s`); empty: no groups.
    pub group_filter: String,
    /// Finds the entry that makes a domain (`%s`) local; empty: no
    /// domains from LDAP.
    pub domain_filter: String,
    pub max_group_members: usize,
    pub attributes: Attributes,
    /// Affiliation values to havre classes (`student` -> `student`,
    /// `faculty` -> `staff`); values not listed are ignored.
    pub class_map: BTreeMap<String, String>,
    /// Class of an account whose affiliations map to none.
    pub default_class: String,
    /// A value of [`Attributes::state`] that disables the account.
    pub disabled_values: Vec<String>,
    /// Mail to a disabled account is refused with 5.2.1 ("mailbox
    /// disabled"), not as for an unknown user.
    pub refuse_disabled: bool,
    /// One connection, bind or search.
    pub timeout: Duration,
    /// How long an answer (an account, a group, or none) is kept: lookups
    /// within it ask no server, and still answer while none answers.
    pub cache_ttl: Duration,
    /// How long a password a bind accepted is taken again without a bind
    /// (`auth.cache_ttl`): a password changed in LDAP stops working for
    /// new logins at most this long after the change.
    pub login_ttl: Duration,
}

/// The attribute map (its defaults, for inetOrgPerson / eduPerson, are
/// the configuration's: `ldap.attributes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes {
    pub login: String,
    pub mail: String,
    pub alternate: String,
    pub forward: String,
    pub class: String,
    pub quota: String,
    pub state: String,
    pub mail_host: String,
    pub member: String,
    /// Read only when [`LdapSettings::read_password`].
    pub password: String,
}

/// An account as the directory describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapAccount {
    pub dn: String,
    pub login: Option<String>,
    /// The primary address (lower case): her mailbox's name here.
    pub mail: String,
    /// Other addresses that deliver to her (lower case).
    pub alternates: Vec<String>,
    /// Where her mail is forwarded (none: kept here).
    pub forwards: Vec<String>,
    pub class: String,
    /// Bytes; `None`: her class's.
    pub quota: Option<u64>,
    pub disabled: bool,
    /// The server that keeps her mail, when not this one.
    pub mail_host: Option<String>,
    /// Her password hash, when [`LdapSettings::read_password`].
    pub password: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LdapError {
    #[error("no LDAP server answered ({0})")]
    Unreachable(String),
    #[error("LDAP search failed: {0}")]
    Search(String),
    /// Two entries for one login or address: which is meant cannot be
    /// told, and guessing would deliver or log in as the wrong person.
    #[error("{filter} matches {} LDAP entries ({}), one was expected", .dns.len(), .dns.join("; "))]
    Ambiguous { filter: String, dns: Vec<String> },
    #[error("group {0} has more than {1} members (ldap.max_group_members)")]
    GroupTooBig(String, usize),
}

/// The directory's client.
pub struct Ldap {
    settings: LdapSettings,
    /// Recent answers by lookup (`a:` address, `l:` login, `g:` group).
    answers: Mutex<HashMap<String, (Instant, Answer)>>,
    /// Recent binds that succeeded (keyed hashes, never passwords).
    logins: Mutex<crate::login_cache::LoginCache>,
    /// The service account's connection, bound once and shared by every
    /// search (ldap3 multiplexes operations over one connection); made
    /// again when it closes. Binds as users take connections of their own.
    service: tokio::sync::Mutex<Option<ldap3::Ldap>>,
    /// Idle connections for binds as users ([`Ldap::bind_as`]).
    binders: Mutex<Vec<ldap3::Ldap>>,
}

/// Idle bind connections kept at most; more logins at once make more,
/// closed when given back.
const BIND_POOL: usize = 8;

/// One lookup's answer, as kept.
#[derive(Clone)]
enum Answer {
    Account(Option<LdapAccount>),
    Group(Option<Vec<String>>),
    Domain(bool),
}

/// Answers kept at most; past it the cache starts afresh.
const CACHED_ANSWERS: usize = 100_000;

impl Ldap {
    pub fn new(settings: LdapSettings) -> Ldap {
        let logins = crate::login_cache::LoginCache::new(settings.login_ttl, CACHED_ANSWERS);
        Ldap {
            settings,
            answers: Mutex::new(HashMap::new()),
            logins: Mutex::new(logins),
            service: tokio::sync::Mutex::new(None),
            binders: Mutex::new(Vec::new()),
        }
    }

    /// Forgets every kept answer and login (`havre directory cache flush`).
    pub fn flush(&self) {
        self.answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        let mut logins = self.logins.lock().unwrap_or_else(|e| e.into_inner());
        *logins = crate::login_cache::LoginCache::new(self.settings.login_ttl, CACHED_ANSWERS);
    }

    fn kept(&self, key: &str) -> Option<Answer> {
        let answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        answers
            .get(key)
            .filter(|(until, _)| *until > Instant::now())
            .map(|(_, answer)| answer.clone())
    }

    fn keep(&self, key: String, answer: Answer) {
        if self.settings.cache_ttl.is_zero() {
            return;
        }
        let mut answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        if answers.len() >= CACHED_ANSWERS {
            answers.clear();
        }
        answers.insert(key, (Instant::now() + self.settings.cache_ttl, answer));
    }

    /// An account lookup through the cache.
    async fn account_kept(
        &self,
        key: String,
        filter: String,
    ) -> Result<Option<LdapAccount>, LdapError> {
        if let Some(Answer::Account(account)) = self.kept(&key) {
            return Ok(account);
        }
        let account = self.one(&filter).await?;
        self.keep(key, Answer::Account(account.clone()));
        Ok(account)
    }

    pub fn settings(&self) -> &LdapSettings {
        &self.settings
    }

    /// The account an address belongs to (its primary or an alternate
    /// address), if any.
    pub async fn by_address(&self, address: &str) -> Result<Option<LdapAccount>, LdapError> {
        let filter = substitute(&self.settings.address_filter, &[('s', address)]);
        self.account_kept(format!("a:{address}"), filter).await
    }

    /// The addresses of the members of the group whose address this is
    /// (`group_filter`), `None` when no group has it. A member without a
    /// mail attribute is skipped.
    pub async fn group_members(&self, address: &str) -> Result<Option<Vec<String>>, LdapError> {
        if self.settings.group_filter.is_empty() {
            return Ok(None);
        }
        let key = format!("g:{address}");
        if let Some(Answer::Group(members)) = self.kept(&key) {
            return Ok(members);
        }
        let members = self.read_group(address).await?;
        self.keep(key, Answer::Group(members.clone()));
        Ok(members)
    }

    /// Whether `domain` (any case) is a local domain by `domain_filter`:
    /// some entry matches it.
    pub async fn has_domain(&self, domain: &str) -> Result<bool, LdapError> {
        if self.settings.domain_filter.is_empty() {
            return Ok(false);
        }
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        let key = format!("d:{domain}");
        if let Some(Answer::Domain(local)) = self.kept(&key) {
            return Ok(local);
        }
        let filter = substitute(&self.settings.domain_filter, &[('s', &domain)]);
        let local = !self.search_for(&filter, vec!["1.1"]).await?.is_empty();
        self.keep(key, Answer::Domain(local));
        Ok(local)
    }

    async fn read_group(&self, address: &str) -> Result<Option<Vec<String>>, LdapError> {
        let filter = substitute(&self.settings.group_filter, &[('s', address)]);
        let member = self.settings.attributes.member.clone();
        let mut groups = self.search_for(&filter, vec![member.as_str()]).await?;
        let group = match groups.len() {
            0 => return Ok(None),
            1 => groups.remove(0),
            _ => return Err(ambiguous(filter, &groups)),
        };
        let members = attribute(&group.attrs, &member);
        if members.len() > self.settings.max_group_members {
            return Err(LdapError::GroupTooBig(
                address.to_string(),
                self.settings.max_group_members,
            ));
        }
        let mail = self.settings.attributes.mail.clone();
        let mut addresses = Vec::new();
        for dn in &members {
            let found = self
                .search_in(dn, Scope::Base, "(objectClass=*)", vec![mail.as_str()])
                .await?;
            for entry in found {
                if let Some(address) = attribute(&entry.attrs, &mail).into_iter().next() {
                    addresses.push(address.to_ascii_lowercase());
                }
            }
        }
        Ok(Some(addresses))
    }

    /// The account of a login name (uid, or an address: `user_filter`).
    pub async fn by_login(&self, login: &str) -> Result<Option<LdapAccount>, LdapError> {
        let (local, domain) = login.rsplit_once('@').unwrap_or((login, ""));
        let filter = substitute(
            &self.settings.user_filter,
            &[('u', login), ('n', local), ('d', domain)],
        );
        self.account_kept(format!("l:{login}"), filter).await
    }

    /// Whether `password` is right for the account at `dn`: a bind as her.
    /// An empty password is never tried (an LDAP server takes it as an
    /// anonymous bind, which succeeds).
    pub async fn bind_as(&self, dn: &str, password: &str) -> Result<bool, LdapError> {
        if password.is_empty() {
            return Ok(false);
        }
        let credentials = {
            let mut logins = self.logins.lock().unwrap_or_else(|e| e.into_inner());
            let credentials = logins.credentials(dn, "ldap bind", password);
            if logins.hit(&credentials, Instant::now()) {
                return Ok(true);
            }
            credentials
        };
        let bound = self.bind_on_pooled(dn, password).await?;
        // 49: invalidCredentials. Anything else is the server's trouble.
        match bound.rc {
            0 => {
                let mut logins = self.logins.lock().unwrap_or_else(|e| e.into_inner());
                logins.insert(credentials, Instant::now());
                Ok(true)
            }
            49 => Ok(false),
            rc => Err(LdapError::Search(format!(
                "bind refused with code {rc}: {}",
                bound.text
            ))),
        }
    }

    /// A bind as `dn` on a connection of the bind pool (made when none is
    /// idle), given back afterwards whatever the answer: a connection
    /// bound as one user is bound again as the next (a bind replaces the
    /// connection's identity, RFC 4513), so logins cost no new TCP
    /// connection or StartTLS handshake each. One bind at a time on each:
    /// a bind may not share its connection with other operations.
    async fn bind_on_pooled(&self, dn: &str, password: &str) -> Result<LdapResult, LdapError> {
        let idle = {
            let mut pool = self.binders.lock().unwrap_or_else(|e| e.into_inner());
            std::iter::from_fn(|| pool.pop())
                .find_map(|mut ldap| (!ldap.is_closed()).then_some(ldap))
        };
        if let Some(mut ldap) = idle {
            match ldap
                .with_timeout(self.settings.timeout)
                .simple_bind(dn, password)
                .await
            {
                Ok(bound) => {
                    self.give_back(ldap);
                    return Ok(bound);
                }
                // Closed since it was given back (an idle timeout, a
                // restart): a new connection instead.
                Err(e) if is_connection_error(&e) => {}
                Err(e) => return Err(LdapError::Search(format!("bind as {dn}: {e}"))),
            }
        }
        let (ldap, bound) = self.connect_bound(dn, password).await?;
        self.give_back(ldap);
        Ok(bound)
    }

    fn give_back(&self, mut ldap: ldap3::Ldap) {
        let mut pool = self.binders.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < BIND_POOL {
            pool.push(ldap);
        } else {
            tokio::spawn(async move {
                let _ = ldap.unbind().await;
            });
        }
    }

    /// Counts the accounts `user_filter` finds with `%u` = `*` and the
    /// first few, for `havre directory check`.
    pub async fn sample(&self, max: usize) -> Result<(usize, Vec<LdapAccount>), LdapError> {
        let filter = self
            .settings
            .user_filter
            .replace("%u", "*")
            .replace("%n", "*")
            .replace("%d", "*");
        let entries = self.search(&filter).await?;
        let total = entries.len();
        let first = entries
            .into_iter()
            .filter_map(|e| self.account(e))
            .take(max)
            .collect();
        Ok((total, first))
    }

    async fn one(&self, filter: &str) -> Result<Option<LdapAccount>, LdapError> {
        let mut entries = self.search(filter).await?;
        match entries.len() {
            0 => Ok(None),
            1 => Ok(self.account(entries.remove(0))),
            _ => Err(ambiguous(filter.to_string(), &entries)),
        }
    }

    /// The entries `filter` finds, with the attributes of an account.
    async fn search(&self, filter: &str) -> Result<Vec<SearchEntry>, LdapError> {
        let a = &self.settings.attributes;
        let mut wanted = vec![
            a.login.as_str(),
            &a.mail,
            &a.alternate,
            &a.forward,
            &a.class,
            &a.quota,
            &a.state,
            &a.mail_host,
        ];
        if self.settings.read_password {
            wanted.push(&a.password);
        }
        self.search_for(filter, wanted).await
    }

    async fn search_for(
        &self,
        filter: &str,
        attributes: Vec<&str>,
    ) -> Result<Vec<SearchEntry>, LdapError> {
        self.search_in(&self.settings.base, Scope::Subtree, filter, attributes)
            .await
    }

    /// One search as the service account, on a connection of its own.
    async fn search_in(
        &self,
        base: &str,
        scope: Scope,
        filter: &str,
        attributes: Vec<&str>,
    ) -> Result<Vec<SearchEntry>, LdapError> {
        // A kept connection may have been closed by the server since (an
        // idle timeout, a restart): one more try on a new one.
        let mut again = false;
        loop {
            let mut ldap = self.service(again).await?;
            match ldap
                .with_timeout(self.settings.timeout)
                .search(base, scope, filter, attributes.clone())
                .await
                .and_then(|r| r.success())
            {
                Ok(found) => return Ok(found.0.into_iter().map(SearchEntry::construct).collect()),
                Err(e) if !again && is_connection_error(&e) => again = true,
                Err(e) => {
                    if is_connection_error(&e) {
                        *self.service.lock().await = None;
                    }
                    return Err(LdapError::Search(format!("{filter}: {e}")));
                }
            }
        }
    }

    /// The service account's connection, bound; a new one when there is
    /// none, it closed, or `renew`.
    async fn service(&self, renew: bool) -> Result<ldap3::Ldap, LdapError> {
        let mut held = self.service.lock().await;
        if !renew
            && let Some(ldap) = held.as_mut()
            && !ldap.is_closed()
        {
            return Ok(ldap.clone());
        }
        *held = None;
        let (ldap, bound) = self
            .connect_bound(&self.settings.bind_dn, &self.settings.bind_password)
            .await?;
        bound
            .success()
            .map_err(|e| LdapError::Search(format!("bind as {}: {e}", self.settings.bind_dn)))?;
        *held = Some(ldap.clone());
        Ok(ldap)
    }

    /// A connection to the first server that answers, bound as `dn` (none:
    /// anonymous), with the bind's result. A server that takes the
    /// connection but does not answer within `timeout` (hung, overloaded)
    /// is given up for the next one, as one that refuses it.
    async fn connect_bound(
        &self,
        dn: &str,
        password: &str,
    ) -> Result<(ldap3::Ldap, LdapResult), LdapError> {
        let mut why = Vec::new();
        for url in &self.settings.urls {
            match tokio::time::timeout(self.settings.timeout, self.connect_to(url, dn, password))
                .await
            {
                Ok(Ok(bound)) => {
                    if !why.is_empty() {
                        tracing::warn!(target: "directory", "{}; {url} answered", why.join("; "));
                    }
                    return Ok(bound);
                }
                Ok(Err(e)) => why.push(format!("{url}: {e}")),
                Err(_) => why.push(format!(
                    "{url}: no answer within {:?} (ldap.timeout)",
                    self.settings.timeout
                )),
            }
        }
        if why.is_empty() {
            why.push("ldap.urls is empty".into());
        }
        Err(LdapError::Unreachable(why.join("; ")))
    }

    async fn connect_to(
        &self,
        url: &str,
        dn: &str,
        password: &str,
    ) -> Result<(ldap3::Ldap, LdapResult), ldap3::LdapError> {
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(self.settings.timeout)
            .set_starttls(self.settings.starttls && url.starts_with("ldap://"));
        if let Some(tls) = &self.settings.tls {
            settings = settings.set_config(tls.clone());
        }
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, url).await?;
        ldap3::drive!(conn);
        let bound = if dn.is_empty() {
            // Anonymous: no bind to send, but the server must answer
            // something (whatever it says) before it is trusted with
            // searches.
            ldap.extended(ldap3::exop::WhoAmI).await?;
            LdapResult {
                rc: 0,
                matched: String::new(),
                text: String::new(),
                refs: Vec::new(),
                ctrls: Vec::new(),
            }
        } else {
            ldap.simple_bind(dn, password).await?
        };
        Ok((ldap, bound))
    }

    /// The account an entry describes; `None` without a usable `mail`.
    fn account(&self, entry: SearchEntry) -> Option<LdapAccount> {
        let a = &self.settings.attributes;
        let values = |name: &str| -> Vec<String> { attribute(&entry.attrs, name) };
        let first = |name: &str| values(name).into_iter().next();
        // An entry with several mail values has the first as her mailbox
        // and the others as more addresses of hers.
        let mut mails = values(&a.mail)
            .into_iter()
            .map(|m| m.trim().to_ascii_lowercase())
            .filter(|m| m.contains('@'));
        let Some(mail) = mails.next() else {
            tracing::debug!(target: "directory", "{}: no address in {} (not a mail account)", entry.dn, a.mail);
            return None;
        };
        let more_mails: Vec<String> = mails.collect();
        let class = values(&a.class)
            .iter()
            .find_map(|v| {
                self.settings
                    .class_map
                    .get(&v.to_ascii_lowercase())
                    .cloned()
            })
            .unwrap_or_else(|| self.settings.default_class.clone());
        let disabled = first(&a.state).is_some_and(|state| {
            self.settings
                .disabled_values
                .iter()
                .any(|d| d.eq_ignore_ascii_case(&state))
        });
        Some(LdapAccount {
            dn: entry.dn.clone(),
            login: first(&a.login),
            alternates: more_mails
                .into_iter()
                .chain(
                    values(&a.alternate)
                        .into_iter()
                        .map(|v| v.trim().to_ascii_lowercase()),
                )
                .filter(|v| *v != mail)
                .collect(),
            forwards: values(&a.forward),
            class,
            quota: first(&a.quota).and_then(|q| {
                let quota = parse_quota(&q);
                if quota.is_none() {
                    tracing::warn!(target: "directory", "{}: {} {q:?} is not a size (bytes, or with K, M, G, T): her class's quota applies", entry.dn, a.quota);
                }
                quota
            }),
            disabled,
            mail_host: first(&a.mail_host),
            password: if self.settings.read_password {
                first(&a.password)
            } else {
                None
            },
            mail,
        })
    }
}

fn ambiguous(filter: String, entries: &[SearchEntry]) -> LdapError {
    LdapError::Ambiguous {
        filter,
        dns: entries.iter().map(|e| e.dn.clone()).collect(),
    }
}

/// Whether an operation failed because the connection did (closed,
/// timed out), not because the server answered with an error.
fn is_connection_error(error: &ldap3::LdapError) -> bool {
    !matches!(error, ldap3::LdapError::LdapResult { .. })
}

/// An attribute's values, its name in any case (LDAP names are not case
/// sensitive; the server answers with the schema's spelling).
fn attribute(attrs: &HashMap<String, Vec<String>>, name: &str) -> Vec<String> {
    attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// `%x` in `template` replaced by its value, escaped (RFC 4515); `%%` is `%`.
pub(crate) fn substitute(template: &str, values: &[(char, &str)]) -> String {
    let mut out = String::new();
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some(name) => match values.iter().find(|(n, _)| *n == name) {
                Some((_, value)) => out.push_str(&ldap_escape(*value)),
                None => {
                    out.push('%');
                    out.push(name);
                }
            },
            None => out.push('%'),
        }
    }
    out
}

/// A quota as directories write it: bytes, or with K/M/G/T; 0 or
/// "unlimited" is no limit... kept as `Some(0)`, which havre reads as
/// unlimited.
fn parse_quota(text: &str) -> Option<u64> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("unlimited") {
        return Some(0);
    }
    let (digits, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = digits.parse().ok()?;
    let factor: u64 = match unit.trim().to_ascii_uppercase().trim_end_matches('B') {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_in_filters_are_escaped_so_an_injection_finds_nobody() {
        let filter = substitute(
            "(&(objectClass=inetOrgPerson)(uid=%u))",
            &[('u', "*)(uid=*")],
        );
        assert_eq!(
            filter,
            "(&(objectClass=inetOrgPerson)(uid=\\2a\\29\\28uid=\\2a))"
        );
        assert_eq!(
            substitute(
                "(|(mail=%s)(mailAlternateAddress=%s))",
                &[('s', "a@b.test")]
            ),
            "(|(mail=a@b.test)(mailAlternateAddress=a@b.test))"
        );
        assert_eq!(substitute("100%% %x", &[]), "100% %x");
    }

    #[test]
    fn quotas_as_directories_write_them() {
        assert_eq!(parse_quota("1048576"), Some(1 << 20));
        assert_eq!(parse_quota("500M"), Some(500 << 20));
        assert_eq!(parse_quota("2 GB"), Some(2 << 30));
        assert_eq!(parse_quota("unlimited"), Some(0));
        assert_eq!(parse_quota("lots"), None);
    }
}
