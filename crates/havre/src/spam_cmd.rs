//! `havre spam ...`: `learn` and `classify` (teaching the Bayes classifier
//! from folders of sorted mail, and asking it about a message) here; `check`
//! and `symbols` in `spam_check_cmd.rs`, `stats` in `spam_stats_cmd.rs`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use havre_bayes::{Params, digest, tokenize};
use havre_content::{Limits, analyze};
use havre_store::{BAYES_GLOBAL, BayesClass, BayesLearn, BayesLearnReport, Store};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::bayes_model::{MIN_LEARNS, StoredBayes};
use crate::cli::SpamCommand;
use crate::directory_cmd::{address, store};
use crate::output::{self, Report};

/// Messages per transaction: big enough that a folder of thousands is a few
/// commits, small enough that `havre serve` waits little for the database.
const BATCH: usize = 500;

pub async fn run(explicit: Option<PathBuf>, command: SpamCommand) -> anyhow::Result<()> {
    match command {
        SpamCommand::Learn {
            spam,
            ham: _,
            user,
            paths,
        } => {
            let class = if spam {
                BayesClass::Spam
            } else {
                BayesClass::Ham
            };
            learn(explicit, class, user.as_deref(), &paths).await
        }
        SpamCommand::Classify {
            files,
            user,
            format,
        } => classify(explicit, user.as_deref(), &files, format.json).await,
        SpamCommand::Stats { user, format } => {
            crate::spam_stats_cmd::run(explicit, user, format.json).await
        }
        SpamCommand::Check {
            file,
            ip,
            helo,
            from,
            rcpt,
            no_dns,
            format,
        } => {
            crate::spam_check_cmd::check(explicit, file, ip, helo, from, rcpt, no_dns, format.json)
                .await
        }
        SpamCommand::Symbols { format } => crate::spam_check_cmd::symbols(explicit, format.json),
    }
}

/// The owner of the counts: a user's address, checked, or the global ones.
async fn owner(store: &Arc<dyn Store>, user: Option<&str>) -> anyhow::Result<String> {
    let Some(user) = user else {
        return Ok(BAYES_GLOBAL.to_string());
    };
    let key = address(user)?.key();
    if store.get_user(&key).await?.is_none() {
        bail!("{key}: no such user (`havre user list` shows them)");
    }
    Ok(key)
}

fn class_name(class: BayesClass) -> &'static str {
    match class {
        BayesClass::Spam => "spam",
        BayesClass::Ham => "ham",
    }
}

async fn learn(
    explicit: Option<PathBuf>,
    class: BayesClass,
    user: Option<&str>,
    paths: &[PathBuf],
) -> anyhow::Result<()> {
    let (_config, store) = store(explicit).await?;
    let owner = owner(&store, user).await?;
    let files = message_files(paths)?;

    let bar = ProgressBar::with_draw_target(
        Some(files.len() as u64),
        if std::io::stderr().is_terminal() && files.len() > BATCH {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} messages, {elapsed} ({eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let limits = Limits::default();
    let mut total = BayesLearnReport::default();
    let mut unreadable = 0usize;
    for chunk in files.chunks(BATCH) {
        let mut batch = Vec::with_capacity(chunk.len());
        for file in chunk {
            match std::fs::read(file) {
                Ok(raw) => {
                    let content = analyze(&raw, &limits);
                    batch.push(BayesLearn {
                        digest: digest(&raw, content.message_id()),
                        class,
                        tokens: tokenize(&content).into_vec(),
                    });
                }
                Err(err) => {
                    bar.suspend(|| eprintln!("havre: {}: {err}", file.display()));
                    unreadable += 1;
                }
            }
        }
        let report = store
            .bayes_learn(&owner, &batch)
            .await
            .context("cannot record what was learned")?;
        total.learned += report.learned;
        total.already += report.already;
        total.moved += report.moved;
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();

    let whose = if owner.is_empty() {
        String::new()
    } else {
        format!(" for {owner}")
    };
    let mut line = format!(
        "learned {} {} messages{whose} ({} already known",
        total.learned + total.moved,
        class_name(class),
        total.already
    );
    if total.moved > 0 {
        line.push_str(&format!(
            "; {} of them learned as {} before, moved",
            total.moved,
            class_name(match class {
                BayesClass::Spam => BayesClass::Ham,
                BayesClass::Ham => BayesClass::Spam,
            })
        ));
    }
    line.push(')');
    println!("{line}");
    tracing::info!(
        target: "spam",
        role = "spam",
        "learned {} {} messages{whose}: {} new, {} moved, {} already known",
        total.learned + total.moved,
        class_name(class),
        total.learned,
        total.moved,
        total.already
    );
    if unreadable > 0 {
        bail!("{unreadable} file(s) could not be read (named above); the others were learned");
    }
    Ok(())
}

/// The message files named: files as they are; for a directory its files,
/// or for a Maildir folder the messages in its cur/ and new/ (sub-folders,
/// tmp/ and Dovecot's control files are not messages), in name order.
fn message_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).with_context(|| format!("{}", path.display()))?;
        if !meta.is_dir() {
            out.push(path.clone());
            continue;
        }
        let maildir = path.join("cur").is_dir() || path.join("new").is_dir();
        let dirs = if maildir {
            vec![path.join("cur"), path.join("new")]
        } else {
            vec![path.clone()]
        };
        for dir in dirs {
            if maildir && !dir.is_dir() {
                continue;
            }
            let mut files = files_in(&dir)?;
            files.sort();
            out.extend(files);
        }
    }
    Ok(out)
}

fn files_in(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("{}", dir.display()))? {
        let entry = entry.with_context(|| format!("{}", dir.display()))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.')
            || name.starts_with("dovecot")
            || matches!(
                name.as_ref(),
                "maildirfolder" | "subscriptions" | "maildirsize"
            )
        {
            continue;
        }
        let kind = entry.file_type()?;
        // A symbolic link is followed when read; one that leads nowhere is
        // named as unreadable then, not skipped in silence.
        let linked_dir = kind.is_symlink() && entry.path().is_dir();
        if kind.is_file() || (kind.is_symlink() && !linked_dir) {
            out.push(entry.path());
        }
    }
    Ok(out)
}

#[derive(Serialize)]
struct Classified {
    file: String,
    /// `None` when no spam or no ham was learned yet.
    probability: Option<f64>,
    tokens: usize,
    learned_spam: u64,
    learned_ham: u64,
    /// Enough learned for the filter to use the probability.
    trained: bool,
}

#[derive(Serialize)]
#[serde(transparent)]
struct Classifications(Vec<Classified>);

impl Report for Classifications {
    fn text(&self) -> String {
        let mut out = String::new();
        for c in &self.0 {
            let probability = match c.probability {
                Some(p) => format!("{p:.4}"),
                None => "-".into(),
            };
            out.push_str(&format!(
                "{}: probability {probability} ({} tokens)\n",
                c.file, c.tokens
            ));
        }
        if let Some(c) = self.0.iter().find(|c| !c.trained) {
            out.push_str(&format!(
                "note: {} spam and {} ham learned; the filter uses the probability from \
                 {MIN_LEARNS} of each\n",
                c.learned_spam, c.learned_ham
            ));
        }
        out
    }
}

async fn classify(
    explicit: Option<PathBuf>,
    user: Option<&str>,
    files: &[PathBuf],
    json: bool,
) -> anyhow::Result<()> {
    let (_config, store) = store(explicit).await?;
    let owner = owner(&store, user).await?;
    let users: Vec<String> = if owner.is_empty() {
        Vec::new()
    } else {
        vec![owner]
    };
    let model = StoredBayes::new(store, Params::default(), MIN_LEARNS);
    model.refresh(true).await?;
    let limits = Limits::default();
    let mut out = Vec::new();
    for file in files {
        let raw = std::fs::read(file).with_context(|| format!("{}", file.display()))?;
        let tokens = tokenize(&analyze(&raw, &limits));
        let verdict = model.classify(&tokens, &users).await?;
        out.push(Classified {
            file: file.display().to_string(),
            probability: verdict.classification.probability,
            tokens: verdict.classification.tokens,
            learned_spam: verdict.totals.spam,
            learned_ham: verdict.totals.ham,
            trained: verdict.trained,
        });
    }
    output::print(&Classifications(out), json)
}
