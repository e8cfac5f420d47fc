//! `havre domain|user|alias`: the internal directory from the command line.
//! These work while `havre serve` runs: the store serialises writers.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use havre_directory::address::normalize_domain;
use havre_directory::{Address, Directory, Resolution, password};
use havre_store::{NewUser, Store, User, UserChanges};
use serde::Serialize;

use crate::cli::{AliasCommand, DomainCommand, UserCommand};
use crate::locate;
use crate::output::{self, Report, rfc3339};

/// The configuration and the store of a command that writes into the data
/// directory: run as root, it acts as `server.user` from here on.
pub(crate) async fn store(
    explicit: Option<PathBuf>,
) -> anyhow::Result<(havre_config::LoadedConfig, Arc<dyn Store>)> {
    let config = locate::load(explicit)?;
    // Before becoming server.user: the log file may be root's.
    crate::logging::init_cli(&config);
    crate::privileges::become_server_user(&config)?;
    let store = locate::open_store(&config).await?;
    Ok((config, store))
}

/// For `import`, which reads Maildirs of other accounts and so stays root:
/// it gives what it wrote to `server.user` when done.
pub(crate) async fn store_staying_root(
    explicit: Option<PathBuf>,
) -> anyhow::Result<(havre_config::LoadedConfig, Arc<dyn Store>)> {
    let config = locate::load(explicit)?;
    crate::logging::init_cli(&config);
    let store = locate::open_store(&config).await?;
    Ok((config, store))
}

/// A change to the directory, in the mail log beside the mail it changes
/// the fate of (`havre/user[pid]: alice@example.test: password changed`):
/// `program` is the command's noun.
fn logged(program: &'static str, change: String) {
    tracing::info!(target: "directory", role = program, "{change}");
}

pub(crate) fn mailboxes(
    config: &havre_config::LoadedConfig,
    store: &Arc<dyn Store>,
) -> havre_mailbox::Mailboxes {
    havre_mailbox::Mailboxes::new(
        store.clone(),
        config.maildir_template().display().to_string(),
        config.config.server.hostname.clone(),
    )
}

pub(crate) fn address(text: &str) -> anyhow::Result<Address> {
    Address::parse(text).map_err(|e| anyhow!("{text:?}: {e}"))
}

/// An alias source or target: an address, or `@domain`.
fn alias_key(text: &str) -> anyhow::Result<String> {
    match text.strip_prefix('@') {
        Some(domain) => Ok(format!(
            "@{}",
            normalize_domain(domain).map_err(|e| anyhow!("{text:?}: {e}"))?
        )),
        None => Ok(address(text)?.key()),
    }
}

/// `--quota`: a size, "unlimited" (0: whatever the class), or "default"
/// (none of her own: her class's, `mailbox.class_quotas`).
fn parse_quota(text: Option<&str>) -> anyhow::Result<Option<u64>> {
    match text {
        None | Some("default") => Ok(None),
        Some("0") | Some("unlimited") | Some("none") => Ok(Some(0)),
        Some(text) => {
            let size: havre_config::Size =
                text.parse().map_err(|e| anyhow!("--quota {text:?}: {e}"))?;
            Ok(Some(size.0))
        }
    }
}

fn human_size(bytes: Option<u64>) -> String {
    bytes
        .map(|b| havre_config::Size(b).to_string())
        .unwrap_or_else(|| "unlimited".into())
}

pub async fn domain(explicit: Option<PathBuf>, command: DomainCommand) -> anyhow::Result<()> {
    let (_, store) = store(explicit).await?;
    match command {
        DomainCommand::Add { domains } => {
            for name in domains {
                let domain = normalize_domain(&name).map_err(|e| anyhow!("{name:?}: {e}"))?;
                store.add_domain(&domain).await?;
                logged("domain", format!("{domain}: added"));
                println!("domain {domain} added");
            }
        }
        DomainCommand::List { format } => {
            let domains: Vec<String> = store
                .list_domains()
                .await?
                .into_iter()
                .map(|d| d.name)
                .collect();
            output::print(&Lines(domains), format.json)?;
        }
        DomainCommand::Remove { domain } => {
            let domain = normalize_domain(&domain).map_err(|e| anyhow!("{domain:?}: {e}"))?;
            if !store.remove_domain(&domain).await? {
                bail!("no domain {domain}");
            }
            logged("domain", format!("{domain}: removed"));
            println!("domain {domain} removed");
        }
    }
    Ok(())
}

pub async fn user(explicit: Option<PathBuf>, command: UserCommand) -> anyhow::Result<()> {
    let (config, store) = store(explicit).await?;
    match command {
        UserCommand::Add {
            email,
            password_stdin,
            password_hash,
            class,
            quota,
        } => {
            let email = address(&email)?.key();
            let quota = parse_quota(quota.as_deref())?;
            let password_hash = if let Some(hash) = password_hash {
                Some(imported_hash(hash)?)
            } else if password_stdin || std::io::stdin().is_terminal() {
                Some(password::hash_password(&crate::password_input::read(
                    password_stdin,
                )?))
            } else {
                None
            };
            store
                .add_user(&NewUser {
                    email: email.clone(),
                    password_hash: password_hash.clone(),
                    class,
                    quota,
                })
                .await?;
            mailboxes(&config, &store)
                .ensure_defaults(&email)
                .await
                .with_context(|| format!("cannot create the mailboxes of {email}"))?;
            logged(
                "user",
                format!(
                    "{email}: added, class={}, quota={}, password={}",
                    store
                        .get_user(&email)
                        .await?
                        .map_or_else(String::new, |u| u.class),
                    human_size(quota),
                    scheme(password_hash.as_deref())
                ),
            );
            println!("user {email} added");
            if password_hash.is_none() {
                println!(
                    "note: no password set; {email} receives mail but cannot log in until \
                     `havre user passwd {email}`"
                );
            }
        }
        UserCommand::List { domain, format } => {
            let domain = domain
                .map(|d| normalize_domain(&d).map_err(|e| anyhow!("{d:?}: {e}")))
                .transpose()?;
            let users = store.list_users(domain.as_deref()).await?;
            let mailboxes = mailboxes(&config, &store);
            let shown: Vec<ShownUser> = users
                .iter()
                .map(|u| ShownUser::new(u, &mailboxes))
                .collect();
            output::print(&UserTable(shown), format.json)?;
        }
        UserCommand::Show { email, format } => {
            let email = address(&email)?.key();
            let mailboxes = mailboxes(&config, &store);
            let shown = match store.get_user(&email).await? {
                Some(user) => ShownUser::new(&user, &mailboxes),
                None => {
                    // Not one of havre's own: the LDAP account this
                    // address belongs to, when there is a directory.
                    let directory = crate::locate::directory(&config, store.clone())?;
                    let account = match directory.ldap() {
                        Some(ldap) => ldap.by_address(&email).await?,
                        None => None,
                    };
                    let account = account.ok_or_else(|| anyhow!("no user {email}"))?;
                    ShownUser::from_ldap(&account, &mailboxes)
                }
            };
            output::print(&shown, format.json)?;
        }
        UserCommand::Quota { email, format } => {
            let email = address(&email)?.key();
            let user = store
                .get_user(&email)
                .await?
                .ok_or_else(|| anyhow!("no user {email}"))?;
            let used = store.quota_used(&email).await?;
            output::print(
                &ShownQuota {
                    email,
                    used,
                    limit: user.quota,
                },
                format.json,
            )?;
        }
        UserCommand::Modify {
            email,
            class,
            quota,
            password_stdin,
            password_hash,
            disable,
            enable,
        } => {
            let email = address(&email)?.key();
            if store.get_user(&email).await?.is_none() {
                bail!("no user {email}");
            }
            let password_hash = match password_hash {
                Some(hash) => Some(imported_hash(hash)?),
                None if password_stdin => {
                    Some(password::hash_password(&crate::password_input::read(true)?))
                }
                None => None,
            };
            let changes = UserChanges {
                class,
                quota: quota.as_deref().map(|q| parse_quota(Some(q))).transpose()?,
                disabled: (disable || enable).then_some(disable),
                password_hash,
            };
            if changes == UserChanges::default() {
                bail!(
                    "nothing to change: give --class, --quota, --password-stdin, --password-hash, \
                     --disable or --enable"
                );
            }
            modify_user(&store, &email, &changes).await?;
            if disable {
                let closed = crate::control::kick_if_running(&config, &email).await?;
                if let Some(n) = closed {
                    println!("{email}: {n} session(s) on the running node closed");
                }
            }
        }
        UserCommand::Passwd {
            email,
            password_stdin,
            password_hash,
        } => {
            let email = address(&email)?.key();
            if store.get_user(&email).await?.is_none() {
                bail!("no user {email}");
            }
            let hash = match password_hash {
                Some(hash) => imported_hash(hash)?,
                None => password::hash_password(&crate::password_input::read(password_stdin)?),
            };
            store.set_password(&email, Some(&hash)).await?;
            logged(
                "user",
                format!(
                    "{email}: password changed, password={}",
                    scheme(Some(&hash))
                ),
            );
            println!("password of {email} changed");
        }
        UserCommand::Remove { email } => {
            let email = address(&email)?.key();
            if !store.remove_user(&email).await? {
                bail!("no user {email}");
            }
            logged("user", format!("{email}: removed"));
            println!("user {email} removed (its Maildir is left on disk)");
            let pointing: Vec<String> = store
                .list_aliases()
                .await?
                .into_iter()
                .filter(|a| a.targets.contains(&email))
                .map(|a| a.address)
                .collect();
            if !pointing.is_empty() {
                eprintln!(
                    "havre: warning: aliases still pointing at {email}: {}; mail through them to {email} \
                     now bounces (`havre alias remove <alias> {email}`)",
                    pointing.join(", ")
                );
            }
        }
    }
    Ok(())
}

/// Applies `havre user modify` (all changes in one transaction) and says
/// what changed.
async fn modify_user(
    store: &Arc<dyn Store>,
    email: &str,
    changes: &UserChanges,
) -> anyhow::Result<()> {
    if !store.modify_user(email, changes).await? {
        bail!("no user {email}");
    }
    let mut said = Vec::new();
    if let Some(class) = &changes.class {
        said.push(format!("class {class}"));
    }
    if let Some(quota) = changes.quota {
        said.push(format!("quota {}", human_size(quota)));
    }
    if changes.password_hash.is_some() {
        said.push("password changed".into());
    }
    match changes.disabled {
        Some(true) => said.push("disabled: logins refused, mail still delivered".into()),
        Some(false) => said.push("enabled: logins allowed".into()),
        None => {}
    }
    println!("user {email}: {}", said.join(", "));
    let mut fields = Vec::new();
    if let Some(class) = &changes.class {
        fields.push(format!("class={class}"));
    }
    if let Some(quota) = changes.quota {
        fields.push(format!("quota={}", human_size(quota)));
    }
    if let Some(hash) = &changes.password_hash {
        fields.push(format!("password={}", scheme(Some(hash))));
    }
    match changes.disabled {
        Some(true) => fields.push("login=disabled".into()),
        Some(false) => fields.push("login=enabled".into()),
        None => {}
    }
    logged("user", format!("{email}: modified, {}", fields.join(", ")));
    Ok(())
}

/// One name per line; a JSON array of strings.
#[derive(Serialize)]
struct Lines(Vec<String>);

impl Report for Lines {
    fn text(&self) -> String {
        self.0.iter().map(|l| format!("{l}\n")).collect()
    }
}

/// A user as `user show` and `user list` print her.
#[derive(Serialize)]
struct ShownUser {
    email: String,
    class: String,
    /// Bytes; null is unlimited.
    quota: Option<u64>,
    /// The scheme of the stored hash (`ARGON2ID`, `SSHA`...), null without one.
    password_scheme: Option<&'static str>,
    disabled: bool,
    maildir: String,
    created: String,
    #[serde(skip)]
    created_ts: i64,
    /// Where the account comes from: `internal`, or `ldap` and its DN.
    source: String,
    /// Her other addresses, forwarding and mail host (LDAP).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    also: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    forward: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mail_host: Option<String>,
}

impl ShownUser {
    fn new(user: &User, mailboxes: &havre_mailbox::Mailboxes) -> ShownUser {
        ShownUser {
            email: user.email.clone(),
            class: user.class.clone(),
            quota: user.quota,
            password_scheme: user.password_hash.as_deref().map(|h| scheme(Some(h))),
            disabled: user.disabled,
            maildir: mailboxes.root_of(&user.email).root().display().to_string(),
            created: rfc3339(user.created_at),
            created_ts: user.created_at,
            source: "internal".into(),
            also: Vec::new(),
            forward: Vec::new(),
            mail_host: None,
        }
    }

    /// An LDAP account: each field as havre read it from the directory.
    fn from_ldap(
        account: &havre_directory::ldap::LdapAccount,
        mailboxes: &havre_mailbox::Mailboxes,
    ) -> ShownUser {
        ShownUser {
            email: account.mail.clone(),
            class: account.class.clone(),
            quota: account.quota.filter(|q| *q > 0),
            password_scheme: Some(match &account.password {
                Some(hash) => scheme(Some(hash)),
                None => "LDAP bind",
            }),
            disabled: account.disabled,
            maildir: mailboxes
                .root_of(&account.mail)
                .root()
                .display()
                .to_string(),
            created: String::new(),
            created_ts: 0,
            source: format!("ldap {}", account.dn),
            also: account.alternates.clone(),
            forward: account.forwards.clone(),
            mail_host: account.mail_host.clone(),
        }
    }

    fn scheme_text(&self) -> &'static str {
        self.password_scheme.unwrap_or("(none)")
    }
}

impl Report for ShownUser {
    fn text(&self) -> String {
        let mut out = format!(
            "email:    {}\nclass:    {}\nquota:    {}\npassword: {}\nlogin:    {}\nmaildir:  {}\ncreated:  {}\n",
            self.email,
            self.class,
            human_size(self.quota),
            self.scheme_text(),
            if self.disabled {
                "disabled (mail still delivered; havre user modify --enable)"
            } else {
                "enabled"
            },
            self.maildir,
            if self.created_ts == 0 {
                "(in the directory)".to_string()
            } else {
                chrono::DateTime::from_timestamp(self.created_ts, 0)
                    .map(|d| d.to_rfc3339())
                    .unwrap_or_default()
            }
        );
        out.push_str(&format!("source:   {}\n", self.source));
        if !self.also.is_empty() {
            out.push_str(&format!("also:     {}\n", self.also.join(", ")));
        }
        if !self.forward.is_empty() {
            out.push_str(&format!("forward:  {}\n", self.forward.join(", ")));
        }
        if let Some(host) = &self.mail_host {
            out.push_str(&format!("mailhost: {host}\n"));
        }
        out
    }
}

/// `user quota`: doveadm quota get's columns.
#[derive(Serialize)]
struct ShownQuota {
    email: String,
    /// Bytes.
    used: u64,
    /// Bytes; null is unlimited.
    limit: Option<u64>,
}

impl Report for ShownQuota {
    fn text(&self) -> String {
        let share = match self.limit {
            Some(limit) if limit > 0 => format!(" ({}%)", self.used * 100 / limit),
            _ => String::new(),
        };
        format!(
            "{}: {} used of {}{share}\n",
            self.email,
            havre_config::Size(self.used),
            human_size(self.limit)
        )
    }
}

#[derive(Serialize)]
#[serde(transparent)]
struct UserTable(Vec<ShownUser>);

impl Report for UserTable {
    fn text(&self) -> String {
        let width = self
            .0
            .iter()
            .map(|u| u.email.len())
            .max()
            .unwrap_or(5)
            .max(5);
        let mut out = format!(
            "{:width$}  {:10}  {:>9}  {:16}  LOGIN\n",
            "EMAIL", "CLASS", "QUOTA", "PASSWORD"
        );
        for user in &self.0 {
            out.push_str(&format!(
                "{:width$}  {:10}  {:>9}  {:16}  {}\n",
                user.email,
                user.class,
                human_size(user.quota),
                user.scheme_text(),
                if user.disabled { "disabled" } else { "enabled" }
            ));
        }
        out
    }
}

#[derive(Serialize)]
struct ShownAlias {
    address: String,
    targets: Vec<String>,
}

#[derive(Serialize)]
#[serde(transparent)]
struct AliasTable(Vec<ShownAlias>);

impl Report for AliasTable {
    fn text(&self) -> String {
        self.0
            .iter()
            .map(|a| format!("{} -> {}\n", a.address, a.targets.join(", ")))
            .collect()
    }
}

/// An imported hash is stored only if havre can verify it: checking it against
/// an empty password tells a malformed or unknown scheme from a usable one.
fn imported_hash(hash: String) -> anyhow::Result<String> {
    password::verify_password(&hash, "").map_err(|e| anyhow!("--password-hash: {e}"))?;
    Ok(hash)
}

fn scheme(hash: Option<&str>) -> &'static str {
    match hash {
        None => "(none)",
        Some(h) => password::scheme_of(h).unwrap_or("(unknown scheme)"),
    }
}

pub async fn alias(explicit: Option<PathBuf>, command: AliasCommand) -> anyhow::Result<()> {
    let (config, store) = store(explicit).await?;
    match command {
        AliasCommand::Add { address, targets } => {
            let source = alias_key(&address)?;
            let targets = targets
                .iter()
                .map(|t| alias_key(t))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let directory = Directory::new(store.clone(), &config.config.relay.recipient_delimiter);
            check_alias_targets(&directory, &source, &targets).await?;
            store
                .add_alias(&source, &targets)
                .await
                .with_context(|| format!("cannot add alias {source}"))?;
            logged(
                "alias",
                format!("{source}: added, to={}", targets.join(",")),
            );
            println!("alias {source} -> {}", targets.join(", "));
            warn_alias_loop(&directory, &source).await?;
        }
        AliasCommand::List { format } => {
            let aliases = store
                .list_aliases()
                .await?
                .into_iter()
                .map(|a| ShownAlias {
                    address: a.address,
                    targets: a.targets,
                })
                .collect();
            output::print(&AliasTable(aliases), format.json)?;
        }
        AliasCommand::Remove { address, target } => {
            let source = alias_key(&address)?;
            let target = target.as_deref().map(alias_key).transpose()?;
            let removed = store.remove_alias(&source, target.as_deref()).await?;
            if removed == 0 {
                bail!(
                    "no alias {source}{}",
                    target.map(|t| format!(" -> {t}")).unwrap_or_default()
                );
            }
            logged(
                "alias",
                match &target {
                    Some(target) => format!("{source}: removed, to={target}"),
                    None => format!("{source}: removed"),
                },
            );
            println!("alias {source}: {removed} target(s) removed");
            let directory = Directory::new(store.clone(), &config.config.relay.recipient_delimiter);
            warn_alias_loop(&directory, &source).await?;
        }
    }
    Ok(())
}

/// Refuses what would lose mail or loop on its own: an alias to itself that
/// is no user's keep-a-copy, and a target in a local domain that is nobody
/// (Postfix would bounce it as "User unknown in virtual alias table" at
/// delivery; here the operator hears of it now).
async fn check_alias_targets(
    directory: &Directory,
    source: &str,
    targets: &[String],
) -> anyhow::Result<()> {
    let store = directory.store();
    for target in targets {
        if target == source {
            if store.get_user(source).await?.is_none() {
                bail!(
                    "alias {source} -> {target}: an alias to itself delivers nowhere (a loop); \
                     a self-target only keeps a copy in a user's own mailbox"
                );
            }
            continue;
        }
        if target.starts_with('@') {
            continue;
        }
        let parsed = address(target)?;
        if directory.resolve(&parsed).await? == Resolution::UnknownUser {
            bail!(
                "alias {source} -> {target}: {target} is neither a user nor an alias of local domain {} \
                 (add it first: `havre user add {target}` or `havre alias add {target} ...`)",
                parsed.domain()
            );
        }
    }
    Ok(())
}

/// Says so when an alias change leaves `source` in a loop; mail to an address
/// that only loops is refused at RCPT (550 5.4.6) until it is broken.
async fn warn_alias_loop(directory: &Directory, source: &str) -> anyhow::Result<()> {
    let Some(cycle) = directory.alias_cycle(source).await? else {
        return Ok(());
    };
    eprintln!("havre: warning: alias loop: {}", cycle.join(" -> "));
    if !source.starts_with('@') && directory.resolve(&address(source)?).await? == Resolution::Loop {
        eprintln!(
            "havre: warning: {source} leads to no mailbox: mail to it is refused \
             (550 5.4.6 mail forwarding loop) until the loop is broken"
        );
    }
    Ok(())
}
