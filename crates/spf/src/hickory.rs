//! [`Dns`] over a hickory resolver: the one the node shares, whose cache
//! keeps answers (negative ones too) for their TTLs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use async_trait::async_trait;
use hickory_resolver::TokioResolver;
use hickory_resolver::net::NetError;
use hickory_resolver::proto::rr::{Name, RData, RecordType};

use crate::dns::{Dns, DnsError, Lookup, reverse_name};

/// SPF's lookups through a hickory [`TokioResolver`]. Cheap to clone.
#[derive(Clone)]
pub struct HickoryDns {
    resolver: TokioResolver,
}

impl std::fmt::Debug for HickoryDns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HickoryDns")
    }
}

impl HickoryDns {
    pub fn new(resolver: TokioResolver) -> HickoryDns {
        HickoryDns { resolver }
    }

    async fn lookup(&self, name: &str, rtype: RecordType) -> Lookup<RData> {
        // The labels as bytes: a macro may put any character in a name,
        // and hickory's text parsers would refuse or IDNA-encode it.
        let Ok(mut fqdn) = Name::from_labels(name.split('.').map(str::as_bytes)) else {
            return Err(DnsError::NxDomain);
        };
        fqdn.set_fqdn(true);
        let started = std::time::Instant::now();
        let answer = self.resolver.lookup(fqdn, rtype).await;
        metrics::histogram!("havre_dns_latency_seconds", "type" => rtype.to_string())
            .record(started.elapsed());
        match answer {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter(|r| r.record_type() == rtype)
                .map(|r| r.data.clone())
                .collect()),
            Err(err) => Err(dns_error(&err)),
        }
    }
}

fn dns_error(err: &NetError) -> DnsError {
    if err.is_nx_domain() {
        DnsError::NxDomain
    } else if err.is_no_records_found() {
        DnsError::NoData
    } else {
        DnsError::TempError(err.to_string())
    }
}

#[async_trait]
impl Dns for HickoryDns {
    async fn txt(&self, name: &str) -> Lookup<Vec<u8>> {
        Ok(self
            .lookup(name, RecordType::TXT)
            .await?
            .into_iter()
            .filter_map(|data| match data {
                RData::TXT(txt) => Some(txt.txt_data.concat()),
                _ => None,
            })
            .collect())
    }

    async fn a(&self, name: &str) -> Lookup<Ipv4Addr> {
        Ok(self
            .lookup(name, RecordType::A)
            .await?
            .into_iter()
            .filter_map(|data| match data {
                RData::A(a) => Some(a.0),
                _ => None,
            })
            .collect())
    }

    async fn aaaa(&self, name: &str) -> Lookup<Ipv6Addr> {
        Ok(self
            .lookup(name, RecordType::AAAA)
            .await?
            .into_iter()
            .filter_map(|data| match data {
                RData::AAAA(aaaa) => Some(aaaa.0),
                _ => None,
            })
            .collect())
    }

    async fn mx(&self, name: &str) -> Lookup<String> {
        Ok(self
            .lookup(name, RecordType::MX)
            .await?
            .into_iter()
            .filter_map(|data| match data {
                RData::MX(mx) => Some(name_text(&mx.exchange)),
                _ => None,
            })
            .collect())
    }

    async fn ptr(&self, ip: IpAddr) -> Lookup<String> {
        Ok(self
            .lookup(&reverse_name(ip), RecordType::PTR)
            .await?
            .into_iter()
            .filter_map(|data| match data {
                RData::PTR(ptr) => Some(name_text(&ptr.0)),
                _ => None,
            })
            .collect())
    }
}

/// A name from an answer as text without the final dot ("" for the root,
/// as in the null MX); labels are joined as they are, unescaped.
fn name_text(name: &Name) -> String {
    name.iter()
        .map(|label| String::from_utf8_lossy(label).into_owned())
        .collect::<Vec<_>>()
        .join(".")
}
