//! The end-of-DATA check on messages of the test's own making, against a
//! DNS server on loopback: an ARC chain sealed by a forwarder verifies, a
//! DMARC reject policy refuses, and a DNS failure is never a refusal.

use std::sync::Arc;
use std::time::Duration;

use havre_auth::{AuthSettings, SenderAuth};
use havre_checks::{Action, Check, Facts, Stage};
use havre_spf::HickoryDns;
use havre_testkit::dns::TestDns;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use mail_auth::arc::ArcSealer;
use mail_auth::common::crypto::Ed25519Key;
use mail_auth::common::headers::HeaderWriter;
use mail_auth::{AuthenticatedMessage, AuthenticationResults, MessageAuthenticator};

fn resolver(dns: &TestDns) -> hickory_resolver::TokioResolver {
    let mut udp = ConnectionConfig::udp();
    udp.port = dns.addr().port();
    let ns = NameServerConfig::new(dns.addr().ip(), true, vec![udp]);
    let mut builder = hickory_resolver::Resolver::builder_with_config(
        ResolverConfig::from_parts(None, vec![], vec![ns]),
        TokioRuntimeProvider::default(),
    );
    builder.options_mut().timeout = Duration::from_secs(2);
    builder.options_mut().attempts = 1;
    builder.build().unwrap()
}

fn check(dns: &TestDns) -> Arc<havre_auth::DmarcCheck> {
    let r = resolver(dns);
    let auth = SenderAuth::new(
        AuthSettings {
            authserv_id: "mx.havre.test".into(),
            reject_spf_fail: true,
            trusted: Vec::new(),
            time_limit: Duration::from_secs(10),
        },
        Arc::new(HickoryDns::new(r.clone())),
        MessageAuthenticator(r),
    );
    auth.checks().1
}

fn facts(sender: &str, message: &str) -> Facts {
    let mut f = Facts::new("192.0.2.7".parse().unwrap());
    f.stage = Stage::Data;
    f.helo = Some("client.forwarder.test".into());
    f.sender = Some(sender.into());
    f.queue_id = Some("0123456789ABCDEF".into());
    f.message = Some(Arc::new(message.as_bytes().to_vec()));
    f
}

const MESSAGE: &str = "From: alice@author.test\r\nTo: bob@havre.test\r\nSubject: forwarded\r\n\
                       Date: Fri, 4 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@author.test>\r\n\r\nHello.\r\n";

#[tokio::test]
async fn a_message_sealed_by_a_forwarder_passes_arc_and_the_results_say_so() {
    let key = Ed25519Key::generate_pkcs8().unwrap();
    let public = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .encode(Ed25519Key::from_pkcs8_der(&key).unwrap().public_key())
    };
    let zone = format!(
        "arc._domainkey.forwarder.test. TXT \"v=DKIM1; k=ed25519; p={public}\"\n\
         forwarder.test. TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n"
    );
    let dns = TestDns::start("test", &zone).await.unwrap();
    // What the forwarder did: verify (nothing to verify yet) and seal.
    let authenticator = MessageAuthenticator(resolver(&dns));
    let parsed = AuthenticatedMessage::parse(MESSAGE.as_bytes()).unwrap();
    let arc = authenticator.verify_arc(&parsed).await;
    let dkim = authenticator.verify_dkim(&parsed).await;
    let results = AuthenticationResults::new("mx.forwarder.test")
        .with_dkim_results(&dkim, "alice@author.test")
        .with_arc_result(&arc, "198.51.100.1".parse().unwrap());
    let set = ArcSealer::from_key(Ed25519Key::from_pkcs8_der(&key).unwrap())
        .domain("forwarder.test")
        .selector("arc")
        .headers(["From", "To", "Subject", "Date", "Message-ID"])
        .seal(&parsed, &results, &arc)
        .unwrap();
    let sealed = format!("{}{MESSAGE}", set.to_header());

    let verdict = check(&dns)
        .check(&facts("list@forwarder.test", &sealed))
        .await;
    assert_eq!(verdict.action, Action::Accept, "{verdict:?}");
    let header = &verdict.headers[0];
    assert_eq!(header.name, "Authentication-Results");
    assert!(
        header
            .value
            .starts_with("mx.havre.test; spf=pass smtp.mailfrom=list@forwarder.test; dkim=none;"),
        "{}",
        header.value
    );
    assert!(header.value.ends_with("; arc=pass"), "{}", header.value);

    // The same message changed after sealing: the chain no longer holds.
    let altered = sealed.replace("Hello.", "Hello!");
    let verdict = check(&dns)
        .check(&facts("list@forwarder.test", &altered))
        .await;
    assert!(
        verdict.headers[0].value.contains("; arc=fail"),
        "{:?}",
        verdict.headers
    );
}

#[tokio::test]
async fn dmarc_reject_refuses_and_a_dns_failure_never_does() {
    let zone = "_dmarc.author.test. TXT \"v=DMARC1; p=reject\"\n\
                bounce.test. TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n";
    let dns = TestDns::start("test", zone).await.unwrap();
    let f = facts("x@bounce.test", MESSAGE);
    let verdict = check(&dns).check(&f).await;
    assert_eq!(
        verdict.action.reply().map(|r| r.line(&f)).as_deref(),
        Some("550 5.7.1 Email rejected per DMARC policy for author.test"),
        "{verdict:?}"
    );
    // A From: domain the server does not answer for (REFUSED): temperror,
    // accepted with the reason in the header.
    let elsewhere = MESSAGE.replace("alice@author.test", "alice@author.example");
    let verdict = check(&dns).check(&facts("x@bounce.test", &elsewhere)).await;
    assert_eq!(verdict.action, Action::Accept, "{verdict:?}");
    assert!(
        verdict.headers[0].value.contains("dmarc=temperror ("),
        "{:?}",
        verdict.headers
    );
}
