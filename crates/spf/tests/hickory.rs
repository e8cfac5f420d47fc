//! The checker over a real resolver (hickory) asking a real DNS server on
//! loopback (testkit's, serving zone text over UDP and TCP).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use havre_spf::{Checker, HickoryDns, Reason, SpfResult};
use havre_testkit::dns::TestDns;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;

const ZONE: &str = r#"
@        IN TXT "v=spf1 mx ip4:192.0.2.0/28 -all exp=why.%{d}"
@        IN MX  10 mx1
mx1      IN A   192.0.2.100
why      IN TXT "%{i} may not send for %{d}"
; A record of two character-strings, joined without a space.
split    IN TXT "v=spf1 ip4:198.51.100.1" " -all"
; A name outside every zone the server has: it refuses to answer.
lost     IN TXT "v=spf1 include:elsewhere.example.net -all"
"#;

/// A checker whose resolver knows only `server`.
fn checker(server: SocketAddr) -> Checker<HickoryDns> {
    let connections = [ConnectionConfig::udp(), ConnectionConfig::tcp()].map(|mut c| {
        c.port = server.port();
        c
    });
    let ns = NameServerConfig::new(server.ip(), true, connections.to_vec());
    let config = ResolverConfig::from_parts(None, vec![], vec![ns]);
    let mut builder =
        hickory_resolver::Resolver::builder_with_config(config, TokioRuntimeProvider::default());
    let opts = builder.options_mut();
    opts.use_hosts_file = ResolveHosts::Never;
    opts.timeout = Duration::from_secs(1);
    opts.attempts = 1;
    let resolver = builder.build().expect("resolver configuration");
    Checker::new(HickoryDns::new(resolver)).with_receiver("mx.havre.test")
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[tokio::test]
async fn pass_fail_none_and_temperror_from_a_dns_server_on_loopback() {
    let dns = TestDns::start("example.test.", ZONE).await.unwrap();
    let checker = checker(dns.addr());
    let check = |client: &'static str, from: &'static str| {
        let checker = &checker;
        async move {
            checker
                .check_mail_from(ip(client), from, "client.example.org")
                .await
        }
    };

    let by_ip4 = check("192.0.2.5", "alice@example.test").await;
    assert_eq!(by_ip4.result(), SpfResult::Pass, "{by_ip4:?}");
    assert_eq!(
        by_ip4.evaluation.mechanism.as_deref(),
        Some("ip4:192.0.2.0/28")
    );

    let by_mx = check("192.0.2.100", "alice@example.test").await;
    assert_eq!(by_mx.result(), SpfResult::Pass, "{by_mx:?}");
    assert_eq!(by_mx.evaluation.mechanism.as_deref(), Some("mx"));

    let stranger = check("203.0.113.9", "alice@example.test").await;
    assert_eq!(stranger.result(), SpfResult::Fail, "{stranger:?}");
    assert_eq!(
        stranger.evaluation.explanation.as_deref(),
        Some("203.0.113.9 may not send for example.test")
    );
    assert!(stranger.received_spf().starts_with(
        "fail (mx.havre.test: domain of alice@example.test does not designate 203.0.113.9"
    ));

    let split = check("198.51.100.1", "bob@split.example.test").await;
    assert_eq!(split.result(), SpfResult::Pass, "{split:?}");

    let nobody = check("192.0.2.5", "carol@nowhere.example.test").await;
    assert_eq!(nobody.result(), SpfResult::None, "{nobody:?}");
    assert_eq!(
        nobody.evaluation.reason,
        Some(Reason::NoSuchDomain("nowhere.example.test".into()))
    );

    let refused = check("192.0.2.5", "dave@lost.example.test").await;
    assert_eq!(refused.result(), SpfResult::TempError, "{refused:?}");
    assert!(
        matches!(&refused.evaluation.reason, Some(Reason::Dns { name, .. }) if name == "elsewhere.example.net"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_dns_server_that_is_gone_gives_temperror() {
    let dns = TestDns::start("example.test.", ZONE).await.unwrap();
    let addr = dns.addr();
    drop(dns);
    tokio::task::yield_now().await;
    let verdict = checker(addr)
        .check_mail_from(ip("192.0.2.5"), "alice@example.test", "client.example.org")
        .await;
    assert_eq!(verdict.result(), SpfResult::TempError, "{verdict:?}");
    assert!(
        verdict
            .authentication_results()
            .starts_with("spf=temperror (")
    );
}
