//! `havre migrate-storage --to URL`: a node's SQLite store copied into
//! PostgreSQL, so that a site that started on one machine grows into a
//! cluster with every domain, user, mailbox index (UIDs, flags,
//! UIDVALIDITY), queue record, Bayes count and Sieve script it had.

use std::path::PathBuf;

use anyhow::{Context, bail};
use havre_store::migrate::{self, Progress};
use havre_store::{PostgresStore, SqliteStore};
use indicatif::ProgressBar;

use crate::locate;

pub(crate) async fn run(config: Option<PathBuf>, to: String) -> anyhow::Result<()> {
    let loaded = locate::load(config)?;
    crate::logging::init_cli(&loaded);
    crate::privileges::become_server_user(&loaded)?;
    if loaded.config.storage.backend != havre_config::StorageBackend::Sqlite {
        bail!(
            "storage.backend is \"{}\": migrate-storage copies a node's SQLite store",
            loaded.config.storage.backend
        );
    }
    crate::checks::data(&loaded)?;
    if let Some(pid) = crate::pidfile::running(&loaded.data_dir())? {
        bail!(
            "havre serve is running (pid {pid}): stop it first, so that the copy is the node's \
             last state (mail received during the copy would not be in it)"
        );
    }
    let path = loaded.sqlite_path();
    let source = SqliteStore::open(&path)
        .await
        .with_context(|| format!("cannot open the database {}", path.display()))?;
    let shown = havre_config::without_password(&to);
    let target = PostgresStore::open(&to)
        .await
        .with_context(|| format!("cannot open the PostgreSQL database at {shown}"))?;
    let mut bar = Bar::new();
    let verified = migrate::copy(&source, &target, &mut bar)
        .await
        .with_context(|| format!("copying {} into {shown}", path.display()))?;
    bar.0.finish_and_clear();
    println!("{:<20} {:>10}  checked", "TABLE", "ROWS");
    for table in &verified {
        println!(
            "{:<20} {:>10}  {}",
            table.table,
            table.source.rows,
            if table.matches() { "same" } else { "DIFFERENT" }
        );
    }
    if let Some(bad) = verified.iter().find(|t| !t.matches()) {
        bail!(
            "table {} differs after the copy ({} rows here, {} in PostgreSQL): drop the \
             database, make it again empty and run migrate-storage again",
            bad.table,
            bad.source.rows,
            bad.target.rows
        );
    }
    println!(
        "\nEvery table copied and verified (row counts and checksums). To serve from it, set in \
         {}:\n  storage.url = \"{to}\"\n  storage.backend = \"postgres\"\nthen start havre serve.",
        loaded.path.display()
    );
    Ok(())
}

/// The progress bar of the table being copied.
struct Bar(ProgressBar);

impl Bar {
    fn new() -> Bar {
        Bar(crate::import_cmd::progress_bar(
            "{msg:<20} [{bar:40}] {pos}/{len} rows ({eta})",
        ))
    }
}

impl Progress for Bar {
    fn table(&mut self, table: &str, rows: u64) {
        self.0.set_message(table.to_string());
        self.0.set_length(rows);
        self.0.set_position(0);
    }

    fn rows(&mut self, rows: u64) {
        self.0.inc(rows);
    }

    fn already(&mut self, table: &str) {
        self.0
            .suspend(|| eprintln!("{table}: copied by an earlier run"));
    }
}
