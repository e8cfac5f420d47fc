//! `havre import maildir PATH --user EMAIL`: moving users from Dovecot without
//! their clients downloading everything again. The work is
//! `havre_mailbox::import_dovecot_maildir`; this draws the progress bar, prints
//! the summary and gives the files to `server.user`.

use std::io::IsTerminal;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::ImportCommand;
use crate::directory_cmd::{address, mailboxes, store_staying_root};

pub async fn run(explicit: Option<PathBuf>, command: ImportCommand) -> anyhow::Result<()> {
    match command {
        ImportCommand::Maildir { path, user } => maildir(explicit, &path, &user).await,
    }
}

async fn maildir(explicit: Option<PathBuf>, path: &Path, user: &str) -> anyhow::Result<()> {
    let user = address(user)?.key();
    if !path.is_dir() {
        bail!("{}: no such directory", path.display());
    }
    let (config, store) = store_staying_root(explicit).await?;
    let mailboxes = mailboxes(&config, &store);

    let bar = progress_bar("{bar:40} {pos}/{len} messages, {elapsed} ({eta} left)");
    let result = havre_mailbox::import_dovecot_maildir(&mailboxes, &user, path, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .await;
    bar.finish_and_clear();
    let report = result.with_context(|| format!("cannot import {}", path.display()))?;

    let home = mailboxes.root_of(&user);
    give_to_server_user(&config, home.root())?;

    println!(
        "imported {} message(s), {}, in {} folder(s) from {} for {user}",
        report.messages(),
        HumanBytes(report.bytes()),
        report.folders.len(),
        path.display(),
    );
    let width = report
        .folders
        .iter()
        .map(|f| f.name.chars().count())
        .max()
        .unwrap_or(0);
    for folder in &report.folders {
        let uidvalidity = if folder.uidvalidity_kept {
            format!("UIDVALIDITY {} kept", folder.uidvalidity)
        } else {
            format!(
                "UIDVALIDITY {} new (no dovecot-uidlist)",
                folder.uidvalidity
            )
        };
        let mut notes = Vec::new();
        if let Some(special) = &folder.special_use {
            notes.push(special.clone());
        }
        if !folder.subscribed {
            notes.push("not subscribed".into());
        }
        if folder.in_place {
            notes.push("indexed in place".into());
        }
        if folder.vanished > 0 {
            notes.push(format!("{} expunged during the import", folder.vanished));
        }
        println!(
            "  {:width$}  {:>6} message(s)  {:>10}  {uidvalidity}, UIDNEXT {}{}",
            folder.name,
            folder.messages,
            HumanBytes(folder.bytes).to_string(),
            folder.uidnext,
            if notes.is_empty() {
                String::new()
            } else {
                format!("  ({})", notes.join(", "))
            },
        );
    }
    for name in &report.replaced {
        println!("removed the empty {name}: an imported folder has its special use");
    }
    for name in &report.left_alone {
        println!("{name}: nothing to import (already in havre with the same UIDs), left alone");
    }
    for (dir, why) in &report.skipped {
        println!("skipped {}: {why}", dir.display());
    }
    if report.no_subscriptions_file {
        println!("no subscriptions file: every folder is subscribed");
    }
    println!("maildir: {}", home.root().display());
    Ok(())
}

/// Run as root, the import wrote files root owns; `havre serve` reads them as
/// `server.user`, so they (and the directories above them that the template
/// made) become that user's.
/// A progress bar on standard error drawn with `template`, hidden when
/// standard error is not a terminal (scripts, cron).
pub(crate) fn progress_bar(template: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        None,
        if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// The directory a Maildir template starts from and the rest of it:
/// ("/srv/mail", "%d/%n") of "/srv/mail/%d/%n".
pub(crate) fn mail_root(template: &str) -> (&Path, &str) {
    let head = &template[..template.find('%').unwrap_or(template.len())];
    match head.rsplit_once('/') {
        Some((dir, _)) => (Path::new(dir), &template[dir.len() + 1..]),
        None => (Path::new(""), template),
    }
}

/// Gives what an import or a restore wrote under `root` (a user's Maildir),
/// and the directories above it it made, to `server.user`.
pub(crate) fn give_to_server_user(
    config: &havre_config::LoadedConfig,
    root: &Path,
) -> anyhow::Result<()> {
    let user = &config.config.server.user;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || user.is_empty() {
        return Ok(());
    }
    let (uid, gid) = crate::privileges::lookup(user)?;
    let template = config.maildir_template().display().to_string();
    let (fixed, _) = mail_root(&template);
    for dir in root.ancestors().skip(1) {
        if !dir.starts_with(fixed) || dir == fixed {
            break;
        }
        if std::fs::metadata(dir).is_ok_and(|m| m.uid() == 0) {
            crate::privileges::give(user, uid, gid, dir, root)?;
        }
    }
    crate::privileges::give_tree(user, root)
}
