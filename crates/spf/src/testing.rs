//! An in-memory [`Dns`] built from a table, for tests (feature `testing`).
//!
//! ```
//! use havre_spf::testing::{Rr::*, ZoneDns};
//! let dns = ZoneDns::new(&[
//!     ("example.com", Txt("v=spf1 mx -all")),
//!     ("example.com", Mx(10, "mail.example.com")),
//!     ("mail.example.com", A("192.0.2.1")),
//!     ("slow.example.com", Timeout),
//! ]);
//! ```
//!
//! Names are case-insensitive. A name absent from the table is NXDOMAIN; a
//! name present without records of the type asked is NODATA, unless it is
//! marked [`Rr::Timeout`]: then such a query fails as a timeout does (the
//! records it has are still answered, as in the RFC 7208 test suite).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;

use async_trait::async_trait;

use crate::dns::{Dns, DnsError, Lookup, reverse_name};

/// One row of a table.
#[derive(Debug, Clone, Copy)]
pub enum Rr<'a> {
    A(&'a str),
    Aaaa(&'a str),
    /// Preference and exchange ("" for the null MX).
    Mx(u16, &'a str),
    Ptr(&'a str),
    /// A TXT record of one character-string.
    Txt(&'a str),
    /// A TXT record of several character-strings, any bytes.
    TxtParts(&'a [&'a [u8]]),
    /// A record of the SPF type (99): it makes the name exist, but SPF
    /// never asks for it (RFC 7208 3.1).
    Spf(&'a str),
    /// Queries of a type the name has no records of time out.
    Timeout,
}

#[derive(Debug, Default, Clone)]
struct Entry {
    a: Vec<Ipv4Addr>,
    aaaa: Vec<Ipv6Addr>,
    mx: Vec<(u16, String)>,
    ptr: Vec<String>,
    txt: Vec<Vec<u8>>,
    timeout: bool,
}

/// The table, and a log of the queries made.
#[derive(Debug, Default)]
pub struct ZoneDns {
    names: HashMap<String, Entry>,
    queries: Mutex<Vec<String>>,
}

fn key(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

impl ZoneDns {
    /// # Panics
    /// On an address that does not parse: the table is the test's own.
    pub fn new(records: &[(&str, Rr<'_>)]) -> ZoneDns {
        let mut names: HashMap<String, Entry> = HashMap::new();
        for &(name, rr) in records {
            let entry = names.entry(key(name)).or_default();
            let bad = |what: &str| -> ! { panic!("test zone: {name}: bad {what}") };
            match rr {
                Rr::A(a) => entry.a.push(a.parse().unwrap_or_else(|_| bad(a))),
                Rr::Aaaa(a) => entry.aaaa.push(a.parse().unwrap_or_else(|_| bad(a))),
                Rr::Mx(preference, exchange) => entry.mx.push((preference, exchange.to_owned())),
                Rr::Ptr(target) => entry.ptr.push(target.to_owned()),
                Rr::Txt(text) => entry.txt.push(text.as_bytes().to_vec()),
                Rr::TxtParts(parts) => entry.txt.push(parts.concat()),
                Rr::Spf(_) => {}
                Rr::Timeout => entry.timeout = true,
            }
        }
        ZoneDns {
            names,
            queries: Mutex::new(Vec::new()),
        }
    }

    /// The queries made so far, as "TYPE name" (lower case).
    pub fn queries(&self) -> Vec<String> {
        self.queries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn answer<T: Clone>(
        &self,
        rtype: &str,
        name: &str,
        pick: impl Fn(&Entry) -> &Vec<T>,
    ) -> Lookup<T> {
        let name = key(name);
        self.queries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(format!("{rtype} {name}"));
        let Some(entry) = self.names.get(&name) else {
            return Err(DnsError::NxDomain);
        };
        let records = pick(entry);
        if records.is_empty() && entry.timeout {
            return Err(DnsError::TempError(format!(
                "timeout asking {name} {rtype}"
            )));
        }
        Ok(records.clone())
    }
}

#[async_trait]
impl Dns for ZoneDns {
    async fn txt(&self, name: &str) -> Lookup<Vec<u8>> {
        self.answer("TXT", name, |e| &e.txt)
    }

    async fn a(&self, name: &str) -> Lookup<Ipv4Addr> {
        self.answer("A", name, |e| &e.a)
    }

    async fn aaaa(&self, name: &str) -> Lookup<Ipv6Addr> {
        self.answer("AAAA", name, |e| &e.aaaa)
    }

    async fn mx(&self, name: &str) -> Lookup<String> {
        let mut mx = self.answer("MX", name, |e| &e.mx)?;
        mx.sort_by_key(|(preference, _)| *preference);
        Ok(mx.into_iter().map(|(_, exchange)| exchange).collect())
    }

    async fn ptr(&self, ip: IpAddr) -> Lookup<String> {
        self.answer("PTR", &reverse_name(ip), |e| &e.ptr)
    }
}
