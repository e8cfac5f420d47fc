//! Reload on SIGHUP (`havre reload` sends it): the log file is reopened,
//! havre.toml is read again and checked as serve checks it at the start
//! ([`crate::checks::node`]), and what a running process can change is
//! published to the roles ([`crate::live`]); connections under way are not
//! touched. The log says, key by key, what changed and what waits for a
//! restart. A file that does not pass is refused with its file:line:key and
//! the running configuration stays as it was.

use std::path::PathBuf;

use havre_config::{Config, LoadedConfig, changed_keys};
use havre_dkim::Signers;
use tokio::signal::unix::Signal;

use crate::checks::{self, Purpose};
use crate::live::{Live, effective};
use crate::logging::LogControl;

pub struct Reloader {
    path: PathBuf,
    /// As serve started: what only a restart changes stays at these values.
    started: Config,
    live: Live,
    log: LogControl,
    /// The certificate in use (its end-entity DER), to log a renewed one.
    leaf: Vec<u8>,
    /// The DKIM keys that sign, to log a change.
    keys: Vec<String>,
}

impl Reloader {
    pub fn new(
        loaded: &LoadedConfig,
        live: Live,
        log: LogControl,
        leaf: Vec<u8>,
        keys: Vec<String>,
    ) -> Reloader {
        Reloader {
            path: loaded.path.clone(),
            started: loaded.config.clone(),
            live,
            log,
            leaf,
            keys,
        }
    }

    /// Reloads at each SIGHUP, one at a time, for the life of the process.
    pub async fn run(mut self, mut hangup: Signal) {
        while hangup.recv().await.is_some() {
            self.reload();
        }
    }

    fn reload(&mut self) {
        // First, whatever the file says: logrotate has renamed the log and
        // expects the next line in a new file.
        if let Err(e) = self.log.reopen() {
            tracing::warn!(target: "serve", "reload: {e:#}; lines keep going to the file open until now");
        }
        tracing::info!(target: "serve", "reload: reading {}", self.path.display());
        let refused = |e: &dyn std::fmt::Display| {
            tracing::error!(target: "serve", "reload refused: {e}; the running configuration is kept");
        };
        let new = match havre_config::load(&self.path) {
            Ok(new) => new,
            Err(e) => return refused(&e),
        };
        let running = LoadedConfig {
            config: effective(&self.started, &new.config),
            path: new.path.clone(),
        };
        let material = match checks::node(&running, Purpose::Reload) {
            Ok(material) => material,
            Err(e) => return refused(&format_args!("{e:#}")),
        };
        let before = self.live.config.borrow().clone();
        let changed = changed_keys(&before.config, &running.config);
        let restart = changed_keys(&running.config, &new.config);

        // Logging first, so that the lines below go where they now should.
        if before.log_file() != running.log_file()
            && let Err(e) = self.log.set_file(running.log_file().as_deref())
        {
            tracing::warn!(target: "serve", "reload: {e:#}; lines keep going to {}",
                self.log.file().map(|p| p.display().to_string()).unwrap_or_else(|| "stderr".into()));
        }
        if before.config.log.level != running.config.log.level {
            match self.log.set_level(&running.config.log.level) {
                Ok(true) => {}
                Ok(false) => {
                    tracing::info!(target: "serve", "reload: log.level is overridden by $HAVRE_LOG until a restart")
                }
                Err(e) => tracing::warn!(target: "serve", "reload: {e:#}"),
            }
        }
        let certificate = material
            .tls
            .as_ref()
            .filter(|tls| tls.leaf != self.leaf)
            .map(|tls| tls.leaf.clone());
        let keys = material
            .signers
            .as_ref()
            .map(signing_keys)
            .filter(|keys| *keys != self.keys);
        let kept = material.kept.clone();
        self.live.apply(&running, material);

        for key in &changed {
            tracing::info!(target: "serve", "reload: {key} changed");
        }
        if let Some(leaf) = certificate {
            tracing::info!(target: "serve", "reload: new TLS certificate from {}: new handshakes use it", running.tls_cert().display());
            self.leaf = leaf;
        }
        if let Some(keys) = keys {
            let list = if keys.is_empty() {
                "none".to_owned()
            } else {
                keys.join(", ")
            };
            tracing::info!(target: "serve", "reload: DKIM keys changed; signing with: {list}");
            self.keys = keys;
        }
        for why in &kept {
            tracing::warn!(target: "serve", "reload: {why}");
        }
        for key in &restart {
            tracing::warn!(target: "serve", "reload: {key} needs a restart");
        }
        if changed.is_empty() && restart.is_empty() {
            tracing::info!(target: "serve", "reload: done, the configuration is unchanged");
        } else {
            tracing::info!(target: "serve", "reload: done: {} applied, {} waiting for a restart", keys_count(changed.len()), restart.len());
        }
    }
}

fn keys_count(n: usize) -> String {
    match n {
        0 => "nothing".to_owned(),
        1 => "1 key".to_owned(),
        n => format!("{n} keys"),
    }
}

/// `selector._domainkey.domain` of every key that signs.
pub fn signing_keys(signers: &Signers) -> Vec<String> {
    signers
        .domains()
        .filter_map(|domain| signers.get(domain))
        .flat_map(|signer| {
            signer
                .keys()
                .map(|k| format!("{}._domainkey.{}", k.selector, k.domain))
                .collect::<Vec<_>>()
        })
        .collect()
}
