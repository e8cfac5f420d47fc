//! `havre dkim generate|list`: the signing keys of the local domains. The
//! work is `havre_dkim`'s; this checks the domain is local, prints the
//! record to publish, and gives the files to `server.user`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, bail};
use havre_config::LoadedConfig;
use havre_directory::address::normalize_domain;
use havre_dkim::{Algorithm, DkimError, KeyInfo};
use havre_store::Store;

use crate::cli::DkimCommand;
use crate::directory_cmd::store;

pub async fn run(explicit: Option<PathBuf>, command: DkimCommand) -> anyhow::Result<()> {
    let (config, store) = store(explicit).await?;
    let dir = havre_dkim::keys_dir(&config.data_dir());
    match command {
        DkimCommand::Generate {
            domain,
            selector,
            algorithm,
            force,
        } => {
            let domain = local_domain(&store, &domain).await?;
            let selector = selector.unwrap_or_else(|| config.config.dkim.selector.clone());
            let algorithm: Algorithm = algorithm.parse().map_err(|e: String| anyhow!(e))?;
            let generate = if force {
                havre_dkim::generate_replacing
            } else {
                havre_dkim::generate
            };
            let info = generate(&dir, &domain, &selector, algorithm).map_err(|e| match e {
                DkimError::KeyExists { .. } => anyhow!(
                    "{e}\n  another selector:  havre dkim generate {domain} --selector {selector}2\n  \
                     or replace it:     havre dkim generate {domain} --selector {selector} --force"
                ),
                e => anyhow!(e),
            })?;
            println!(
                "DKIM key for {domain}, selector {}, {}: {}",
                info.selector,
                info.algorithm,
                info.path.display()
            );
            println!();
            println!("Publish this record in the DNS zone of {domain}:");
            println!("{}", info.zone_record());
            println!();
            println!(
                "The newest key of each algorithm signs, from the next start of `havre serve`: \
                 publish the record first (check: dig +short TXT {}).",
                info.dns_name()
            );
            if !config.config.dkim.sign {
                println!("Note: dkim.sign is false, so nothing is signed until it is true.");
            }
        }
        DkimCommand::List { domain, format } => {
            let domains = match domain {
                Some(d) => vec![normalize_domain(&d).map_err(|e| anyhow!("{d:?}: {e}"))?],
                None => havre_dkim::domains(&dir)?,
            };
            let mut listed = Vec::new();
            for domain in domains {
                let keys = havre_dkim::keys(&dir, &domain)?;
                let active = havre_dkim::active_keys(&keys);
                for key in &keys {
                    listed.push(ListedKey {
                        signs: active.contains(&key),
                        domain: domain.clone(),
                        selector: key.selector.clone(),
                        algorithm: key.algorithm.to_string(),
                        created: key
                            .created
                            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        dns_name: key.dns_name(),
                        created_text: key.created.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                    });
                }
            }
            crate::output::print(&KeyList(listed), format.json)?;
        }
    }
    Ok(())
}

/// A key as `havre dkim list` shows it.
#[derive(serde::Serialize)]
struct ListedKey {
    /// One of the keys that sign (the newest of its algorithm).
    signs: bool,
    domain: String,
    selector: String,
    algorithm: String,
    created: String,
    /// Where its TXT record goes.
    dns_name: String,
    #[serde(skip)]
    created_text: String,
}

#[derive(serde::Serialize)]
#[serde(transparent)]
struct KeyList(Vec<ListedKey>);

impl crate::output::Report for KeyList {
    fn text(&self) -> String {
        self.0
            .iter()
            .map(|k| {
                format!(
                    "{} {} {} {} {}\n",
                    if k.signs { "*" } else { " " },
                    k.domain,
                    k.selector,
                    k.algorithm,
                    k.created_text
                )
            })
            .collect()
    }
}

/// `name`, normalised, if it is a local domain; the error says how to add it.
pub(crate) async fn local_domain(store: &Arc<dyn Store>, name: &str) -> anyhow::Result<String> {
    let domain = normalize_domain(name).map_err(|e| anyhow!("{name:?}: {e}"))?;
    if !store.domain_exists(&domain).await? {
        bail!(
            "{domain} is not a local domain of this node; add it first: havre domain add {domain}"
        );
    }
    Ok(domain)
}

/// For `havre init`: the first key of `domain` (RSA, selector
/// `dkim.selector`), or the newest one already there.
pub(crate) fn first_key(config: &LoadedConfig, domain: &str) -> anyhow::Result<KeyInfo> {
    let dir = havre_dkim::keys_dir(&config.data_dir());
    if let Some(key) = havre_dkim::keys(&dir, domain)?.pop() {
        return Ok(key);
    }
    Ok(havre_dkim::generate(
        &dir,
        domain,
        &config.config.dkim.selector,
        Algorithm::RsaSha256,
    )?)
}
