//! `havre who` and `havre kick`: doveadm who and doveadm kick, through the
//! control socket of the running serve.

use std::path::PathBuf;

use anyhow::bail;
use serde::Serialize;

use crate::control::{Request, Response, Session};
use crate::directory_cmd::address;
use crate::locate;
use crate::output::{self, Report, rfc3339};

/// The sessions, one line each: user, protocol, session number, client
/// address, login time. In JSON the login time is RFC 3339.
#[derive(Serialize)]
#[serde(transparent)]
struct Who(Vec<Shown>);

#[derive(Serialize)]
struct Shown {
    user: String,
    protocol: String,
    session: u64,
    client: String,
    since: String,
}

impl Report for Who {
    fn text(&self) -> String {
        let width = self
            .0
            .iter()
            .map(|s| s.user.len())
            .max()
            .unwrap_or(0)
            .max("username".len());
        let mut out = format!(
            "{:width$}  {:5}  {:>7}  {:15}  since\n",
            "username", "proto", "session", "client"
        );
        for s in &self.0 {
            out.push_str(&format!(
                "{:width$}  {:5}  {:>7}  {:15}  {}\n",
                s.user, s.protocol, s.session, s.client, s.since
            ));
        }
        out
    }
}

pub async fn who(
    explicit: Option<PathBuf>,
    user: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    let config = locate::load(explicit)?;
    let user = user.map(|u| address(&u).map(|a| a.key())).transpose()?;
    let Response::Sessions { sessions } =
        crate::control::ask_running(&config, &Request::Who).await?
    else {
        bail!("unexpected answer from havre serve");
    };
    let shown = sessions
        .into_iter()
        .filter(|s: &Session| user.as_ref().is_none_or(|u| s.user.eq_ignore_ascii_case(u)))
        .map(|s| Shown {
            since: rfc3339(s.since),
            user: s.user,
            protocol: s.protocol,
            session: s.session,
            client: s.client,
        })
        .collect();
    output::print(&Who(shown), json)
}

pub async fn kick(explicit: Option<PathBuf>, user: String) -> anyhow::Result<()> {
    let config = locate::load(explicit)?;
    let user = address(&user)?.key();
    let Response::Kicked { count } =
        crate::control::ask_running(&config, &Request::Kick { user: user.clone() }).await?
    else {
        bail!("unexpected answer from havre serve");
    };
    if count == 0 {
        bail!("{user} has no IMAP, POP3 or ManageSieve session on this node");
    }
    println!("{user}: {count} session(s) closed");
    Ok(())
}
