//! An authoritative DNS server for tests, on loopback, built from zone text.
//!
//! Tests never use the Internet's DNS: each one starts its own server with
//! the zones it needs, written in RFC 1035 master-file format, and points
//! the code under test at [`TestDns::addr`]. The server answers on UDP and
//! TCP (same port, so a truncated UDP answer can be retried over TCP), and
//! stops when the `TestDns` is dropped.

use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordSet, RecordType, RrKey};
use hickory_proto::serialize::txt::Parser;
use hickory_server::Server;
use hickory_server::net::runtime::TokioRuntimeProvider;
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use tokio::net::{TcpListener, UdpSocket};

/// TTL for records whose zone text gives none (no `$TTL`, no per-record TTL);
/// without it hickory's parser rejects the record.
const DEFAULT_TTL: u32 = 300;

/// A running test DNS server; dropping it stops it.
pub struct TestDns {
    addr: SocketAddr,
    // Dropping the server drops its task set, which aborts its tasks.
    server: Server<Catalog>,
}

impl TestDns {
    /// Serves one zone: `origin` like "example.test." (the trailing dot is
    /// optional) and its records as zone-file text. Relative names are
    /// relative to `origin`; `$TTL` and the SOA are optional (a default SOA
    /// is added when the text has none at the origin).
    pub async fn start(origin: &str, zone: &str) -> anyhow::Result<TestDns> {
        Self::start_zones(&[(origin, zone)]).await
    }

    /// Serves several zones (e.g. a forward zone and its in-addr.arpa
    /// reverse zone) from one server.
    pub async fn start_zones(zones: &[(&str, &str)]) -> anyhow::Result<TestDns> {
        let mut catalog = Catalog::new();
        for &(origin, text) in zones {
            let origin = zone_origin(origin)?;
            let handler = zone_handler(origin.clone(), text)
                .with_context(|| format!("test DNS zone {origin}"))?;
            catalog.upsert(LowerName::new(&origin), vec![Arc::new(handler)]);
        }

        let (udp, tcp) = bind_loopback_pair().await?;
        let addr = udp.local_addr()?;
        let mut server = Server::new(catalog);
        server.register_socket(udp);
        // A short idle timeout: test clients send their query at once.
        // 32 is hickory's own test value for the per-connection response queue.
        server.register_listener(tcp, Duration::from_secs(5), 32);
        Ok(TestDns { addr, server })
    }

    /// The address (127.0.0.1 and a free port) serving UDP and TCP.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

// Tests keep a TestDns across awaits on multi-threaded runtimes too.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<TestDns>();
};

impl Drop for TestDns {
    fn drop(&mut self) {
        // Tell the listener tasks to stop now; the server's task set,
        // dropped right after, aborts whatever is still running.
        self.server.shutdown_token().cancel();
    }
}

fn zone_origin(origin: &str) -> anyhow::Result<Name> {
    let mut name =
        Name::from_str(origin).map_err(|e| anyhow!("invalid zone origin {origin:?}: {e}"))?;
    name.set_fqdn(true);
    Ok(name)
}

/// Parses the zone text into an in-memory authoritative zone.
fn zone_handler(origin: Name, text: &str) -> anyhow::Result<InMemoryZoneHandler> {
    // A leading default $TTL; a $TTL in the text itself overrides it.
    let text = format!("$TTL {DEFAULT_TTL}\n{text}\n");
    // The parser also returns "the origin", but that is the last $ORIGIN
    // seen; the zone's origin is the one we were given.
    let (_, mut records) = Parser::new(text, None, Some(origin.clone()))
        .parse()
        .map_err(|e| anyhow!("zone text does not parse: {e}"))?;
    let soa_key = RrKey::new(LowerName::new(&origin), RecordType::SOA);
    records
        .entry(soa_key)
        .or_insert_with(|| default_soa(&origin));
    InMemoryZoneHandler::<TokioRuntimeProvider>::new(
        origin,
        records,
        ZoneType::Primary,
        AxfrPolicy::Deny,
    )
    .map_err(|e| anyhow!(e))
}

/// hickory refuses a zone without an SOA; tests rarely care about it.
fn default_soa(origin: &Name) -> RecordSet {
    let under_origin = |label: &str| {
        Name::from_str(label)
            .and_then(|n| n.append_domain(origin))
            .expect("a short label under a valid origin is a valid name")
    };
    let soa = SOA::new(
        under_origin("ns"),
        under_origin("hostmaster"),
        1,
        3600,
        600,
        86400,
        DEFAULT_TTL,
    );
    RecordSet::from(Record::from_rdata(
        origin.clone(),
        DEFAULT_TTL,
        RData::SOA(soa),
    ))
}

/// A UDP socket and a TCP listener on the same free loopback port. The
/// kernel picks a free UDP port; the same TCP port is usually free too, and
/// when it is not we simply try another.
async fn bind_loopback_pair() -> anyhow::Result<(UdpSocket, TcpListener)> {
    let mut last_err = None;
    for _ in 0..20 {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .context("binding the test DNS UDP socket")?;
        match TcpListener::bind(udp.local_addr()?).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last_err = Some(e),
        }
    }
    match last_err {
        Some(e) => Err(e).context("binding the test DNS TCP listener"),
        None => bail!("no port tried"),
    }
}

/// The DNS server of every node this test process starts (`dns.nameservers`
/// of [`crate::Havre::init`]): the zone `test.` with no records, so SPF,
/// DMARC and DNSBL lookups of a test that publishes nothing get a quick
/// NXDOMAIN (or REFUSED outside `test.`) from loopback, never the
/// machine's resolver or the Internet. Tests that publish records start
/// their own server and point `dns.nameservers` at it.
pub fn quiet_dns() -> SocketAddr {
    static DNS: std::sync::OnceLock<SocketAddr> = std::sync::OnceLock::new();
    *DNS.get_or_init(|| {
        let (started, addr) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the test DNS server");
            runtime.block_on(async {
                let dns = TestDns::start("test", "").await.expect("test DNS server");
                started
                    .send(dns.addr())
                    .expect("the test waits for its DNS");
                // Serves until the test process ends.
                std::future::pending::<()>().await;
            });
        });
        addr.recv().expect("the test DNS server started")
    })
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use hickory_resolver::Resolver;
    use hickory_resolver::TokioResolver;
    use hickory_resolver::config::{
        ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig,
    };
    use hickory_resolver::net::runtime::TokioRuntimeProvider;

    use super::*;

    const FORWARD: &str = r#"
$TTL 3600
@     IN MX 20 mx2
@     IN MX 10 mx1.example.test.
mx1   IN A  192.0.2.10
mx2   IN A  192.0.2.20
@     IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
"#;
    const REVERSE: &str = "10 IN PTR mx1.example.test.\n";

    /// A resolver that knows only `server`, over one protocol.
    fn client(server: SocketAddr, connection: ConnectionConfig) -> TokioResolver {
        let mut connection = connection;
        connection.port = server.port();
        let ns = NameServerConfig::new(server.ip(), true, vec![connection]);
        let config = ResolverConfig::from_parts(None, vec![], vec![ns]);
        let mut builder = Resolver::builder_with_config(config, TokioRuntimeProvider::default());
        let opts = builder.options_mut();
        opts.use_hosts_file = ResolveHosts::Never;
        opts.timeout = Duration::from_secs(2);
        opts.attempts = 1;
        builder.build().expect("resolver config")
    }

    async fn start() -> TestDns {
        TestDns::start_zones(&[
            ("example.test.", FORWARD),
            ("2.0.192.in-addr.arpa", REVERSE),
        ])
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn mx_a_txt_and_ptr_records_are_served_over_udp() {
        let dns = start().await;
        assert!(dns.addr().ip().is_loopback());
        let r = client(dns.addr(), ConnectionConfig::udp());

        let mx = r.mx_lookup("example.test.").await.unwrap();
        let mut mx: Vec<(u16, String)> = mx
            .answers()
            .iter()
            .filter_map(|rec| match &rec.data {
                RData::MX(mx) => Some((mx.preference, mx.exchange.to_string())),
                _ => None,
            })
            .collect();
        mx.sort();
        assert_eq!(
            mx,
            [
                (10, "mx1.example.test.".to_owned()),
                (20, "mx2.example.test.".to_owned())
            ]
        );

        let a = r.ipv4_lookup("mx1.example.test.").await.unwrap();
        let ips: Vec<_> = a.answers().iter().map(|rec| rec.data.clone()).collect();
        assert_eq!(ips, [RData::A(Ipv4Addr::new(192, 0, 2, 10).into())]);
        assert_eq!(a.answers()[0].ttl, 3600);

        let txt = r.txt_lookup("example.test.").await.unwrap();
        match &txt.answers()[0].data {
            RData::TXT(txt) => assert_eq!(txt.to_string(), "v=spf1 ip4:192.0.2.0/24 -all"),
            other => panic!("not a TXT: {other:?}"),
        }

        let ptr = r
            .reverse_lookup(IpAddr::from([192, 0, 2, 10]))
            .await
            .unwrap();
        match &ptr.answers()[0].data {
            RData::PTR(name) => assert_eq!(name.to_string(), "mx1.example.test."),
            other => panic!("not a PTR: {other:?}"),
        }
    }

    #[tokio::test]
    async fn the_same_port_answers_over_tcp() {
        let dns = TestDns::start("example.test", FORWARD).await.unwrap();
        let r = client(dns.addr(), ConnectionConfig::tcp());
        let a = r.ipv4_lookup("mx2.example.test.").await.unwrap();
        assert_eq!(
            a.answers()[0].data,
            RData::A(Ipv4Addr::new(192, 0, 2, 20).into())
        );
    }

    #[tokio::test]
    async fn a_name_not_in_the_zone_is_nxdomain() {
        let dns = start().await;
        let r = client(dns.addr(), ConnectionConfig::udp());
        let err = r.ipv4_lookup("nope.example.test.").await.unwrap_err();
        assert!(err.is_nx_domain(), "{err:?}");
    }

    #[tokio::test]
    async fn a_zone_without_soa_or_ttl_is_served_with_defaults() {
        let dns = TestDns::start("t.test", "a IN A 192.0.2.1").await.unwrap();
        let r = client(dns.addr(), ConnectionConfig::udp());
        let a = r.ipv4_lookup("a.t.test.").await.unwrap();
        assert_eq!(a.answers()[0].ttl, DEFAULT_TTL);
        let soa = r.soa_lookup("t.test.").await.unwrap();
        match &soa.answers()[0].data {
            RData::SOA(soa) => assert_eq!(soa.mname.to_string(), "ns.t.test."),
            other => panic!("not an SOA: {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_soa_in_the_text_is_kept() {
        let zone = "@ 60 IN SOA ns1.s.test. admin.s.test. 7 1 1 1 1\nwww IN A 192.0.2.2";
        let dns = TestDns::start("s.test.", zone).await.unwrap();
        let r = client(dns.addr(), ConnectionConfig::udp());
        let soa = r.soa_lookup("s.test.").await.unwrap();
        match &soa.answers()[0].data {
            RData::SOA(soa) => assert_eq!(
                (soa.mname.to_string(), soa.serial),
                ("ns1.s.test.".into(), 7)
            ),
            other => panic!("not an SOA: {other:?}"),
        }
    }

    #[tokio::test]
    async fn bad_zone_text_is_an_error_naming_the_zone() {
        let err = TestDns::start("bad.test.", "www IN NOSUCHTYPE 1")
            .await
            .err()
            .expect("zone text with an unknown type must be refused");
        assert!(format!("{err:#}").contains("bad.test."), "{err:#}");
    }

    #[tokio::test]
    async fn a_dropped_server_stops_answering() {
        let dns = start().await;
        let addr = dns.addr();
        drop(dns);
        // Let the aborted tasks release the socket.
        tokio::task::yield_now().await;
        let r = client(addr, ConnectionConfig::tcp());
        assert!(r.ipv4_lookup("mx1.example.test.").await.is_err());
    }
}
