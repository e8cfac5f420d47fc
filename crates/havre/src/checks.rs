//! What serve refuses, in one place. `havre serve` before it accepts its
//! first connection, a reload (SIGHUP, `havre reload`) before it changes
//! anything, and `havre config check` all call [`node`]: a configuration
//! that passes `config check` is one serve starts with, and one a reload
//! applies.
//!
//! The configuration crate checks the file alone (types, ranges, listeners,
//! log levels); this adds what needs the files and accounts it names: the
//! data directory and database, their owner and permissions, the TLS
//! certificate and key (readable, and one the key of the other), the relay
//! routes as the outbound parser reads them, the DNS resolver, the checks
//! pipelines and the DKIM keys. Each problem names the file, the line and
//! the key, like the loader's.

use std::path::{Path, PathBuf};

use havre_config::LoadedConfig;
use havre_dkim::Signers;
use havre_outbound::{Resolver, Routes};
use tracing_subscriber::EnvFilter;

use crate::tls::Tls;

/// Who asks: a reload runs as `server.user` and may not read what root
/// could at the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Start,
    Reload,
    Check,
}

/// What the files named by the configuration hold, read and checked.
pub struct Material {
    /// `None`: a reload could not read the files and keeps the running ones.
    pub tls: Option<Tls>,
    /// The signing keys (none when `dkim.sign` is off); `None` as for `tls`.
    pub signers: Option<Signers>,
    pub routes: Routes,
    pub resolver: Resolver,
    /// What a reload keeps from before, and why (a warning each).
    pub kept: Vec<String>,
}

/// Every check serve makes before it starts; the first problem is the error.
pub fn node(loaded: &LoadedConfig, purpose: Purpose) -> anyhow::Result<Material> {
    let config = &loaded.config;
    let invalid = |key: &[&str], message: String| anyhow::Error::new(loaded.invalid(key, message));
    if let Err(e) = EnvFilter::try_new(&config.log.level) {
        return Err(invalid(
            &["log", "level"],
            format!("{:?}: {e}", config.log.level),
        ));
    }
    if let Some(file) = loaded.log_file()
        && let Some(dir) = file.parent()
        && !dir.is_dir()
    {
        return Err(invalid(
            &["log", "file"],
            format!(
                "{}: the directory {} does not exist",
                file.display(),
                dir.display()
            ),
        ));
    }
    data(loaded)?;
    let data_dir = loaded.data_dir();
    let dkim_dir = havre_dkim::keys_dir(&data_dir);
    for (key, path) in [
        (&["server", "data_dir"][..], data_dir.clone()),
        (&["storage", "sqlite_path"], loaded.sqlite_path()),
        (&["tls", "key"], loaded.tls_key()),
        (&["server", "data_dir"], dkim_dir.clone()),
    ] {
        if let Some(message) = open_to_others(&path) {
            return Err(invalid(key, message));
        }
    }
    if crate::privileges::switches(&config.server.user) {
        let owned = owned_paths(loaded);
        let owned: Vec<&Path> = owned.iter().map(PathBuf::as_path).collect();
        crate::privileges::check_owner(&config.server.user, &owned)
            .map_err(|e| invalid(&["server", "user"], format!("{e:#}")))?;
    }
    // After the switch to server.user, a reload cannot read what only root
    // may; it keeps what it has and says how to let it read the new files.
    let unprivileged = purpose == Purpose::Reload && !running_as_root();
    let mut kept = Vec::new();
    let tls = match crate::tls::load(&loaded.tls_cert(), &loaded.tls_key()) {
        Ok(tls) => Some(tls),
        Err(p) if p.denied && unprivileged => {
            kept.push(format!(
                "tls.{}: {}; the running certificate is kept: make it readable by {} \
                 (server.user), or restart havre",
                p.key, p.message, config.server.user,
            ));
            None
        }
        Err(p) => return Err(invalid(&["tls", p.key], p.message)),
    };
    let routes = Routes::from_tables(&[
        ("routing", &config.routing),
        ("relay.routes", &config.relay.routes),
    ])
    .map_err(|e| {
        let mut key: Vec<&str> = e.table.as_deref().unwrap_or("routing").split('.').collect();
        key.extend(e.key.as_deref());
        invalid(&key, e.reason.clone())
    })?;
    if let Some(bad) = config
        .http
        .metrics_networks
        .iter()
        .find(|n| havre_policy::parse_network(n).is_none())
    {
        return Err(invalid(
            &["http", "metrics_networks"],
            format!("{bad:?} is not a network (address/prefix, e.g. 192.0.2.0/24)"),
        ));
    }
    let with_ldap = config
        .directory
        .backend
        .list()
        .contains(&havre_config::Backend::Ldap);
    if config.relay.recipients_from_ldap && !with_ldap {
        return Err(invalid(
            &["relay", "recipients_from_ldap"],
            "no LDAP to ask: directory.backend has no \"ldap\"".into(),
        ));
    }
    if with_ldap {
        let l = &config.ldap;
        if l.urls.is_empty() {
            return Err(invalid(
                &["ldap", "urls"],
                "directory.backend asks LDAP: name at least one server (\"ldap://host\", \"ldaps://host\")".into(),
            ));
        }
        if let Some(bad) = l
            .urls
            .iter()
            .find(|u| !u.starts_with("ldap://") && !u.starts_with("ldaps://"))
        {
            return Err(invalid(
                &["ldap", "urls"],
                format!("{bad:?}: expected ldap://host[:port] or ldaps://host[:port]"),
            ));
        }
        if l.base.is_empty() {
            return Err(invalid(
                &["ldap", "base"],
                "directory.backend asks LDAP: where do searches start?".into(),
            ));
        }
    }
    let resolver = Resolver::new(&config.dns.nameservers)
        .map_err(|e| invalid(&["dns", "nameservers"], e.to_string()))?;
    // The checks pipelines as serve will build them (the config crate has
    // checked each rule; this is what remains, such as a rule's parts
    // together). Their errors start with the key: `policy.rules: ...`.
    let state = std::sync::Arc::new(havre_state::EmbeddedState::memory());
    if let Err(e) = crate::pipelines::build(
        config,
        state,
        &resolver,
        None,
        &havre_events::Events::disabled(),
    ) {
        let (key, message) = e.split_once(": ").unwrap_or(("policy.rules", &e));
        let key: Vec<&str> = key.split('.').collect();
        return Err(invalid(&key, message.to_owned()));
    }
    site_sieve(loaded)?;
    let signers = if !config.dkim.sign {
        Some(Signers::default())
    } else {
        match Signers::load(&dkim_dir) {
            Ok(signers) => Some(signers),
            Err(e) if unprivileged && denied(&e) => {
                kept.push(format!(
                    "dkim: {e}; the running keys are kept: make {} readable by {} \
                     (server.user), or restart havre",
                    dkim_dir.display(),
                    config.server.user,
                ));
                None
            }
            Err(e) => {
                return Err(invalid(
                    &["dkim", "sign"],
                    format!(
                        "cannot load the signing keys in {}: {e} (dkim.sign = false sends mail unsigned)",
                        dkim_dir.display()
                    ),
                ));
            }
        }
    };
    Ok(Material {
        tls,
        signers,
        routes,
        resolver,
        kept,
    })
}

/// The data directory and database exist: only `havre init` creates them, so
/// a typo in `server.data_dir` is not a new, empty node.
pub fn data(loaded: &LoadedConfig) -> anyhow::Result<()> {
    let data_dir = loaded.data_dir();
    if !data_dir.is_dir() {
        return Err(loaded
            .invalid(
                &["server", "data_dir"],
                format!(
                    "{} does not exist; fix the path, or make a new node with `havre init`",
                    data_dir.display()
                ),
            )
            .into());
    }
    let db = loaded.sqlite_path();
    // A PostgreSQL store is checked by connecting to it.
    if loaded.config.storage.backend == havre_config::StorageBackend::Sqlite && !db.exists() {
        return Err(loaded
            .invalid(
                &["storage", "sqlite_path"],
                format!(
                    "the database {} does not exist; fix the path, or make a new node with `havre init`",
                    db.display()
                ),
            )
            .into());
    }
    Ok(())
}

/// What must belong to `server.user` before serve switches to it: all it
/// writes.
pub fn owned_paths(loaded: &LoadedConfig) -> Vec<PathBuf> {
    let data_dir = loaded.data_dir();
    let sqlite = loaded.sqlite_path();
    let wal = PathBuf::from(format!("{}-wal", sqlite.display()));
    let state = loaded.state_path();
    let state_wal = PathBuf::from(format!("{}-wal", state.display()));
    vec![
        data_dir.clone(),
        data_dir.join("queue/msg"),
        data_dir.join("mail"),
        sqlite,
        wal,
        state,
        state_wal,
    ]
}

/// What holds password hashes, keys or mail must not be open to other
/// accounts: the problem, with the command that fixes it.
fn open_to_others(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).ok()?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o007 == 0 {
        return None;
    }
    let fix = if meta.is_dir() {
        "chmod -R o-rwx"
    } else {
        "chmod 600"
    };
    Some(format!(
        "{} is open to other accounts (mode {mode:04o}); it holds keys, password hashes or mail: {fix} {}",
        path.display(),
        path.display()
    ))
}

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn denied(e: &havre_dkim::DkimError) -> bool {
    matches!(e, havre_dkim::DkimError::Io { source, .. }
        if source.kind() == std::io::ErrorKind::PermissionDenied)
}

/// One of the site's Sieve scripts: its name (`include :global` finds it
/// by it: the file's name without `.sieve`) and source.
pub type SiteScript = (String, String);

/// The site's Sieve scripts, read and checked: each must compile, or
/// serve does not start (`sieve.before: FILE: line L, column C: why`).
pub struct SiteSieve {
    pub before: Vec<SiteScript>,
    pub after: Vec<SiteScript>,
    /// `sieve.global_dir`'s scripts, for `include :global`.
    pub global: Vec<SiteScript>,
}

pub fn site_sieve(loaded: &LoadedConfig) -> anyhow::Result<SiteSieve> {
    let (before, after) = loaded.sieve_scripts();
    let read = |key: &str, paths: Vec<PathBuf>| -> anyhow::Result<Vec<SiteScript>> {
        let mut scripts = Vec::new();
        for path in paths {
            let invalid =
                |message: String| anyhow::Error::new(loaded.invalid(&["sieve", key], message));
            let source = std::fs::read_to_string(&path)
                .map_err(|e| invalid(format!("{}: {e}", path.display())))?;
            if let Some(error) =
                havre_sieve::check(&source, &havre_sieve::Limits::default()).first()
            {
                return Err(invalid(format!("{}: {error}", path.display())));
            }
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default();
            let name = name.strip_suffix(".sieve").unwrap_or(&name).to_string();
            scripts.push((name, source));
        }
        Ok(scripts)
    };
    let global = match loaded.sieve_global_dir() {
        None => Vec::new(),
        Some(dir) => {
            let entries = std::fs::read_dir(&dir).map_err(|e| {
                anyhow::Error::new(
                    loaded.invalid(&["sieve", "global_dir"], format!("{}: {e}", dir.display())),
                )
            })?;
            let mut paths: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "sieve") && p.is_file())
                .collect();
            paths.sort();
            read("global_dir", paths)?
        }
    };
    Ok(SiteSieve {
        before: read("before", before)?,
        after: read("after", after)?,
        global,
    })
}
