//! `havre directory check [ADDRESS]`: the directory of `directory.backend`
//! asked as serve will ask it, and what it answers, for the operator
//! setting LDAP up (connect, bind, filters, the attribute map).

use std::path::PathBuf;

use anyhow::{anyhow, bail};
use havre_directory::ldap::LdapAccount;

use crate::cli::{DirectoryCacheCommand, DirectoryCommand};
use crate::control::{Request, Response};
use crate::directory_cmd;

pub(crate) async fn run(config: Option<PathBuf>, command: DirectoryCommand) -> anyhow::Result<()> {
    match command {
        DirectoryCommand::Check { address, show } => check(config, address, show).await,
        DirectoryCommand::Cache(DirectoryCacheCommand::Flush) => flush(config).await,
    }
}

/// `havre directory cache flush`: the running serve forgets its answers.
async fn flush(config: Option<PathBuf>) -> anyhow::Result<()> {
    let config = crate::locate::load(config)?;
    match crate::control::ask_running(&config, &Request::FlushCache).await? {
        Response::Flushed { ldap: true } => println!("directory cache flushed"),
        Response::Flushed { ldap: false } => {
            println!("nothing to flush: the directory is internal only (directory.backend)")
        }
        Response::Error { message } => bail!("serve: {message}"),
        other => bail!("serve answered {other:?}"),
    }
    Ok(())
}

async fn check(
    config: Option<PathBuf>,
    address: Option<String>,
    show: usize,
) -> anyhow::Result<()> {
    let (loaded, store) = directory_cmd::store(config).await?;
    let directory = crate::locate::directory(&loaded, store)?;
    let Some(ldap) = directory.ldap() else {
        println!("directory.backend: internal only (havre user list, havre alias list show it)");
        return Ok(());
    };
    let settings = ldap.settings();
    println!("servers: {}", settings.urls.join(", "));
    let bind = if settings.bind_dn.is_empty() {
        "anonymous".to_string()
    } else {
        settings.bind_dn.clone()
    };
    println!("bind: {bind}");
    println!("base: {}", settings.base);
    println!("user_filter: {}", settings.user_filter);
    let (total, first) = ldap.sample(show).await.map_err(|e| anyhow!("ldap: {e}"))?;
    println!("accounts: {total} (user_filter with %u = *)");
    for account in &first {
        println!("  {}", describe(account));
    }
    if let Some(address) = address {
        let address = directory_cmd::address(&address)?.key();
        println!("address_filter: {}", settings.address_filter);
        match ldap
            .by_address(&address)
            .await
            .map_err(|e| anyhow!("ldap: {e}"))?
        {
            Some(account) => println!("{address}: {}", describe(&account)),
            None => bail!("{address}: no account has this address"),
        }
    }
    Ok(())
}

/// One account as havre reads it, on one line.
fn describe(a: &LdapAccount) -> String {
    let mut out = format!(
        "{} <{}> class={}",
        a.login.as_deref().unwrap_or("(no login)"),
        a.mail,
        a.class
    );
    if !a.alternates.is_empty() {
        out.push_str(&format!(" also={}", a.alternates.join(",")));
    }
    if !a.forwards.is_empty() {
        out.push_str(&format!(" forward={}", a.forwards.join(",")));
    }
    match a.quota {
        Some(0) => out.push_str(" quota=unlimited"),
        Some(q) => out.push_str(&format!(" quota={}", havre_config::Size(q))),
        None => {}
    }
    if let Some(host) = &a.mail_host {
        out.push_str(&format!(" mail_host={host}"));
    }
    if a.disabled {
        out.push_str(" DISABLED");
    }
    out.push_str(&format!(" ({})", a.dn));
    out
}
