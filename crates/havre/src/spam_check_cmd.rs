//! `havre spam check FILE` (like `rspamc symbols` / `spamassassin -t`) and
//! `havre spam symbols`: the spam filter of the node's configuration on a
//! stored message, every symbol printed with its points and meaning.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use havre_filter::{Envelope, Score, Settings};
use serde::Serialize;

use crate::locate;
use crate::output::{self, Report};

/// `havre spam check FILE`: the message scored, every symbol printed.
#[allow(clippy::too_many_arguments)]
pub async fn check(
    explicit: Option<PathBuf>,
    file: PathBuf,
    ip: Option<std::net::IpAddr>,
    helo: Option<String>,
    from: Option<String>,
    rcpt: Vec<String>,
    no_dns: bool,
    json: bool,
) -> anyhow::Result<()> {
    // Read before becoming server.user: the file may be the caller's own.
    let raw = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let (loaded, store) = crate::directory_cmd::store(explicit).await?;
    let config = &loaded.config;
    // The node's Bayes counts, as the mx would ask them.
    let bayes = crate::bayes_model::StoredBayes::new(
        store,
        havre_bayes::Params::default(),
        crate::bayes_model::MIN_LEARNS,
    );
    bayes
        .refresh(true)
        .await
        .context("cannot read the Bayes counts")?;
    {
        {
            let mut engine = crate::pipelines::spam_engine(config)
                .map_err(|e| anyhow!(e))?
                .with_bayes(Arc::new(bayes));
            if !no_dns {
                let resolver = havre_outbound::Resolver::new(&config.dns.nameservers)
                    .map_err(|e| anyhow!("dns.nameservers: {e}"))?;
                engine = engine.with_dns(Arc::new(havre_spf::HickoryDns::new(
                    resolver.hickory().clone(),
                )));
            }
            let content = engine.analyze(&raw);
            let mut envelope = Envelope::from_message(&content);
            if ip.is_some() {
                envelope.client_ip = ip;
                envelope.client_name = None;
            }
            envelope.helo = helo.or(envelope.helo);
            envelope.sender = from.or(envelope.sender);
            if !rcpt.is_empty() {
                envelope.recipients = rcpt;
            }
            let score = engine.score(&content, &envelope).await;
            let report =
                SpamReport::new(Some(file.display().to_string()), score, engine.settings());
            output::print(&report, json)
        }
    }
}

/// `havre spam symbols`: every symbol with its weight and meaning.
pub fn symbols(explicit: Option<PathBuf>, json: bool) -> anyhow::Result<()> {
    let loaded = locate::load(explicit)?;
    let config = &loaded.config;
    {
        {
            let settings = Settings::from_config(config).map_err(|e| anyhow!(e))?;
            let rows = havre_filter::SYMBOLS
                .iter()
                .map(|s| SymbolRow {
                    name: s.name,
                    group: s.group,
                    weight: settings.weights.get(s.name),
                    default: s.weight,
                    description: s.description,
                })
                .collect();
            output::print(&SymbolList(rows), json)
        }
    }
}

/// The score of one message, as `havre spam check` and `havre check`
/// print it.
#[derive(Serialize)]
pub struct SpamReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(flatten)]
    pub score: Score,
    /// The score from which the message would be refused.
    pub reject_at: f64,
}

impl SpamReport {
    pub fn new(file: Option<String>, score: Score, settings: &Settings) -> SpamReport {
        SpamReport {
            file,
            score,
            reject_at: settings.reject,
        }
    }
}

impl Report for SpamReport {
    fn text(&self) -> String {
        let s = &self.score;
        let mut out = String::new();
        if let Some(file) = &self.file {
            out.push_str(&format!("file: {file}\n"));
        }
        out.push_str(&format!("score: {:.2} / {:.2}\n", s.total, self.reject_at));
        out.push_str(&format!(
            "action: {}{}\n",
            s.action.as_str(),
            s.forced_by
                .map(|f| format!(" (forced by {f})"))
                .unwrap_or_default()
        ));
        out.push_str(&format!(
            "level: {}\n",
            s.level.map(|l| l.as_str()).unwrap_or("none")
        ));
        out.push_str(&format!("junk: {}\n", if s.junk { "yes" } else { "no" }));
        out.push_str("symbols:\n");
        for hit in &s.symbols {
            let options = if hit.options.is_empty() {
                String::new()
            } else {
                format!(" [{}]", hit.options.join(", "))
            };
            out.push_str(&format!(
                "  {:<28} {:>7.2}  {}{options}\n",
                hit.name, hit.score, hit.description
            ));
        }
        out
    }
}

#[derive(Serialize)]
struct SymbolRow {
    name: &'static str,
    group: &'static str,
    /// The weight in effect (spam.weights or the default).
    weight: f64,
    default: f64,
    description: &'static str,
}

#[derive(Serialize)]
#[serde(transparent)]
struct SymbolList(Vec<SymbolRow>);

impl Report for SymbolList {
    fn text(&self) -> String {
        let mut out = String::new();
        for row in &self.0 {
            let changed = if row.weight == row.default {
                String::new()
            } else {
                format!(" (default {})", row.default)
            };
            out.push_str(&format!(
                "{:<28} {:<12} {:>8.2}  {}{changed}\n",
                row.name, row.group, row.weight, row.description
            ));
        }
        out
    }
}
