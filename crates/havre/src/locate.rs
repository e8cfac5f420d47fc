//! Finding and loading the configuration, and opening what it names.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use havre_config::LoadedConfig;
use havre_store::{PostgresStore, SqliteStore, Store};

const SYSTEM_CONFIG: &str = "/etc/havre/havre.toml";

/// `--config` (or `$HAVRE_CONFIG`, which clap folds into it), then
/// `./havre.toml`, then `/etc/havre/havre.toml`.
pub fn config_path(explicit: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(path) = explicit {
        if !path.exists() {
            bail!(
                "configuration file {} does not exist (from --config or HAVRE_CONFIG)",
                path.display()
            );
        }
        return Ok(path);
    }
    let local = PathBuf::from("havre.toml");
    if local.exists() {
        return Ok(local);
    }
    if Path::new(SYSTEM_CONFIG).exists() {
        return Ok(PathBuf::from(SYSTEM_CONFIG));
    }
    let cwd = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_else(|_| ".".into());
    bail!(
        "no configuration found.\n  looked at: --config (not given), $HAVRE_CONFIG (not set), \
         {cwd}/havre.toml, {SYSTEM_CONFIG}\n  create one with:  havre init --dir /etc/havre --domain example.org\n  \
         or to try havre:  havre init --dir ./dev --domain example.test --dev && havre --config ./dev/havre.toml serve"
    )
}

pub fn load(explicit: Option<PathBuf>) -> anyhow::Result<LoadedConfig> {
    let path = config_path(explicit)?;
    Ok(havre_config::load(&path)?)
}

/// Opens the database of a node that `havre init` made. A missing data
/// directory or database is an error, not an empty node: a typo in
/// `server.data_dir` must not start a server that knows no users.
pub async fn open_store(config: &LoadedConfig) -> anyhow::Result<Arc<dyn Store>> {
    crate::checks::data(config)?;
    create_store(config).await
}

/// Opens the database, creating it (or its tables) if needed (`havre
/// init`): the SQLite file, or the cluster's PostgreSQL, which must answer
/// now.
pub async fn create_store(config: &LoadedConfig) -> anyhow::Result<Arc<dyn Store>> {
    match config.config.storage.backend {
        havre_config::StorageBackend::Sqlite => {
            let path = config.sqlite_path();
            let store = SqliteStore::open(&path)
                .await
                .with_context(|| format!("cannot open the database {}", path.display()))?;
            Ok(Arc::new(store))
        }
        havre_config::StorageBackend::Postgres => {
            let url = &config.config.storage.url;
            let store = PostgresStore::open(url).await.with_context(|| {
                format!(
                    "cannot open the PostgreSQL database at {} (storage.url)",
                    havre_config::without_password(url)
                )
            })?;
            Ok(Arc::new(store.for_node(config.config.server.node_id)))
        }
    }
}

/// The node's directory as `directory.backend` says: the internal one, the
/// `[ldap]` directory, or LDAP then the internal users and aliases. (serve
/// adds directors' logins: `director_node::cluster_login`.)
pub fn directory(
    loaded: &LoadedConfig,
    store: Arc<dyn Store>,
) -> anyhow::Result<havre_directory::Directory> {
    use havre_config::Backend;
    let config = &loaded.config;
    let directory = havre_directory::Directory::new(store, &config.relay.recipient_delimiter)
        .with_login_cache(config.auth.cache_ttl.0)
        .with_domains(&config.directory.domains, &config.directory.domain_aliases)
        .with_relay(
            havre_directory::RelayDomains::new(&config.relay.domains, &config.relay.recipients)
                .with_ldap_recipients(config.relay.recipients_from_ldap),
        );
    let backends = config.directory.backend.list();
    if !backends.contains(&Backend::Ldap) {
        return Ok(directory);
    }
    let l = &config.ldap;
    let bind_password = if l.bind_password_file.as_os_str().is_empty() {
        String::new()
    } else {
        let path = loaded.config_dir().join(&l.bind_password_file);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("ldap.bind_password_file: cannot read {}", path.display()))?;
        text.lines().next().unwrap_or("").to_string()
    };
    let class_map = if l.class_map.is_empty() {
        havre_config::Ldap::EDUPERSON_CLASSES
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    } else {
        l.class_map
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect()
    };
    let tls = if l.ca_file.as_os_str().is_empty() {
        None
    } else {
        Some(ldap_tls(&loaded.config_dir().join(&l.ca_file))?)
    };
    let a = &l.attributes;
    let settings = havre_directory::ldap::LdapSettings {
        urls: l.urls.clone(),
        starttls: l.starttls,
        read_password: l.auth == havre_config::LdapAuth::Password,
        tls,
        bind_dn: l.bind_dn.clone(),
        bind_password,
        base: l.base.clone(),
        user_filter: l.user_filter.clone(),
        address_filter: l.address_filter.clone(),
        group_filter: l.group_filter.clone(),
        domain_filter: l.domain_filter.clone(),
        max_group_members: l.max_group_members as usize,
        attributes: havre_directory::ldap::Attributes {
            login: a.login.clone(),
            mail: a.mail.clone(),
            alternate: a.alternate.clone(),
            forward: a.forward.clone(),
            class: a.class.clone(),
            quota: a.quota.clone(),
            state: a.state.clone(),
            mail_host: a.mail_host.clone(),
            member: a.member.clone(),
            password: a.password.clone(),
        },
        class_map,
        default_class: l.default_class.clone(),
        disabled_values: l.disabled_values.clone(),
        refuse_disabled: l.disabled_mail == havre_config::DisabledMail::Refuse,
        timeout: l.timeout.0,
        cache_ttl: l.cache_ttl.0,
        login_ttl: config.auth.cache_ttl.0,
    };
    let internal_too = backends.contains(&Backend::Internal);
    Ok(directory.with_ldap(havre_directory::ldap::Ldap::new(settings), internal_too))
}

/// A TLS client trusting the certificate authorities of `ca_file` (PEM).
fn ldap_tls(ca_file: &Path) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let what = || format!("ldap.ca_file: {}", ca_file.display());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_file).with_context(what)? {
        roots.add(cert.with_context(what)?).with_context(what)?;
    }
    if roots.is_empty() {
        bail!("{}: no certificate in it", what());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The node's short-lived state (`state.backend`): the embedded one in
/// `state.db`, or the cluster's Redis, which must answer now.
pub(crate) async fn open_state(
    loaded: &havre_config::LoadedConfig,
) -> anyhow::Result<std::sync::Arc<dyn havre_state::State>> {
    let config = &loaded.config.state;
    Ok(match config.backend {
        havre_config::StateBackend::Embedded => {
            let path = loaded.state_path();
            std::sync::Arc::new(
                havre_state::EmbeddedState::open(&path)
                    .await
                    .with_context(|| format!("cannot open the state {}", path.display()))?,
            )
        }
        havre_config::StateBackend::Redis => std::sync::Arc::new(
            havre_state::RedisState::connect(&config.url, &config.prefix)
                .await
                .with_context(|| {
                    format!(
                        "cannot reach the state's Redis at {} (state.url)",
                        config.url
                    )
                })?,
        ),
    })
}
