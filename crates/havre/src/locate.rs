//! Finding and loading the configuration, and opening what it names.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use havre_config::LoadedConfig;
use havre_store::{SqliteStore, Store};

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

/// Opens the database, creating it if needed (`havre init`).
pub async fn create_store(config: &LoadedConfig) -> anyhow::Result<Arc<dyn Store>> {
    let path = config.sqlite_path();
    let store = SqliteStore::open(&path)
        .await
        .with_context(|| format!("cannot open the database {}", path.display()))?;
    Ok(Arc::new(store))
}
