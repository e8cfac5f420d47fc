//! Several PostgreSQL hosts in one `storage.url`, as libpq takes them:
//! `postgres://havre@db1:5432,db2:5432/havre?target_session_attrs=read-write`
//! names a failover pair, and the store writes to whichever of them is
//! the primary. sqlx connects to one host, so the store picks it: the
//! first host that answers (and, with `read-write`, is not a standby),
//! then checks it every few seconds and moves the pool to another when it
//! stops answering or turns read-only. Connections to the old host fail
//! and are replaced on the new one; calls meanwhile fail as when the
//! server is down (451 for SMTP).

use std::str::FromStr;
use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgPool};

use crate::{Result, StoreError};

/// How long choosing a host waits for each to answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Between two checks of the host in use.
const CHECK_EVERY: Duration = Duration::from_secs(2);

pub(crate) struct Hosts {
    /// One set of options per host, in the URL's order.
    candidates: Vec<(String, PgConnectOptions)>,
    /// `target_session_attrs=read-write` (or `primary`): a standby is not taken.
    read_write: bool,
}

/// Whether `host` (`name`, `name:port`, `[v6]:port`) is this machine.
fn is_loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Hosts {
    pub(crate) fn parse(url: &str) -> Result<Hosts> {
        let invalid = |why: &str| {
            StoreError::Database(sqlx::Error::Configuration(
                format!("storage.url: {why}").into(),
            ))
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| invalid("expected postgres://user@host:port/database"))?;
        let (authority, path) = match rest.find(['/', '?']) {
            Some(at) => rest.split_at(at),
            None => (rest, ""),
        };
        let (credentials, hosts) = match authority.rsplit_once('@') {
            Some((credentials, hosts)) => (format!("{credentials}@"), hosts),
            None => (String::new(), authority),
        };
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let mut read_write = false;
        let mut kept = Vec::new();
        let mut sslmode = false;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            sslmode |= pair.starts_with("sslmode=");
            match pair.split_once('=') {
                Some(("target_session_attrs", value)) => {
                    read_write = match value {
                        "read-write" | "primary" => true,
                        "any" => false,
                        other => {
                            return Err(invalid(&format!(
                                "target_session_attrs={other}: havre knows read-write, primary and any"
                            )));
                        }
                    }
                }
                _ => kept.push(pair),
            }
        }
        let candidates = hosts
            .split(',')
            .map(|host| {
                // libpq's default is sslmode=prefer: TLS whenever the server
                // offers it. On loopback it guards nothing and costs every
                // connection a handshake and every statement its
                // encryption, so there, unless the URL says otherwise, none.
                let mut pairs = kept.clone();
                if !sslmode && is_loopback(host) {
                    pairs.push("sslmode=disable");
                }
                let query = if pairs.is_empty() {
                    String::new()
                } else {
                    format!("?{}", pairs.join("&"))
                };
                let one = format!("{scheme}://{credentials}{host}{path}{query}");
                let options = PgConnectOptions::from_str(&one)?.application_name("havre");
                Ok((host.to_string(), options))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Hosts {
            candidates,
            read_write,
        })
    }

    pub(crate) fn several(&self) -> bool {
        self.candidates.len() > 1
    }

    /// The first host that answers and takes writes when asked to; with a
    /// single host, that host (its errors are the pool's to report).
    pub(crate) async fn choose(&self) -> Result<PgConnectOptions> {
        if !self.several() && !self.read_write {
            return Ok(self.candidates[0].1.clone());
        }
        let mut last = None;
        for (_, options) in &self.candidates {
            match self.usable(options).await {
                Ok(()) => return Ok(options.clone()),
                Err(err) => last = Some(err),
            }
        }
        Err(last.unwrap_or(StoreError::NotOnThisEngine("storage.url names no host")))
    }

    async fn usable(&self, options: &PgConnectOptions) -> Result<()> {
        let connect = sqlx::PgConnection::connect_with(options);
        let mut conn = tokio::time::timeout(PROBE_TIMEOUT, connect)
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::PoolTimedOut))??;
        if self.read_write {
            let standby: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
                .fetch_one(&mut conn)
                .await?;
            if standby {
                return Err(StoreError::NotOnThisEngine(
                    "the host is a standby (read-only)",
                ));
            }
        }
        let _ = conn.close().await;
        Ok(())
    }

    fn name_of(&self, options: &PgConnectOptions) -> String {
        self.candidates
            .iter()
            .find(|(_, o)| o.get_host() == options.get_host() && o.get_port() == options.get_port())
            .map(|(name, _)| name.clone())
            .unwrap_or_default()
    }

    /// Checks the pool's host every [`CHECK_EVERY`] until the pool closes,
    /// moving it to another host when it stops being usable.
    pub(crate) fn watch(self, pool: PgPool) {
        tokio::spawn(async move {
            // Said once per outage, not at every check.
            let mut none_usable = false;
            while !pool.is_closed() {
                tokio::time::sleep(CHECK_EVERY).await;
                let current = pool.connect_options();
                if self.usable(&current).await.is_ok() {
                    none_usable = false;
                    continue;
                }
                match self.choose().await {
                    Ok(next) => {
                        none_usable = false;
                        if self.name_of(&next) != self.name_of(&current) {
                            tracing::warn!(target: "store", "PostgreSQL host {} does not answer or is read-only: now on {}", self.name_of(&current), self.name_of(&next));
                            pool.set_connect_options(next);
                        }
                    }
                    Err(err) if !none_usable => {
                        none_usable = true;
                        tracing::warn!(target: "store", "no PostgreSQL host of storage.url answers as a primary: {err}")
                    }
                    Err(_) => {}
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    /// The sslmode of each host (PgSslMode has no `PartialEq`).
    fn modes(url: &str) -> Vec<String> {
        Hosts::parse(url)
            .unwrap()
            .candidates
            .iter()
            .map(|(_, o)| format!("{:?}", o.get_ssl_mode()))
            .collect()
    }

    #[test]
    fn loopback_goes_without_tls_unless_the_url_asks_and_other_hosts_prefer_it() {
        assert_eq!(
            modes("postgres://havre@127.0.0.1:5432,db2.example.test:5432/havre"),
            ["Disable", "Prefer"]
        );
        assert_eq!(
            modes("postgres://havre@localhost/havre?application_name=x"),
            ["Disable"]
        );
        assert_eq!(modes("postgres://havre@[::1]:5432/havre"), ["Disable"]);
        assert_eq!(
            modes("postgres://havre@127.0.0.1/havre?sslmode=require"),
            ["Require"]
        );
        assert_eq!(
            modes("postgres://havre@db1.example.test/havre?sslmode=verify-full"),
            ["VerifyFull"]
        );
    }
}
