//! What the checker tells its caller beyond the result: the mechanism that
//! decided, the reason of an error, the headers; and the limits seen from
//! the DNS side (what is never asked).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use async_trait::async_trait;
use havre_spf::testing::Rr::*;
use havre_spf::testing::ZoneDns;
use havre_spf::{Checker, Dns, Identity, Lookup, Reason, SpfResult};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[tokio::test]
async fn a_pass_through_an_include_names_the_include_in_the_headers() {
    let dns = ZoneDns::new(&[
        ("example.com", Txt("v=spf1 include:_spf.example.net -all")),
        ("_spf.example.net", Txt("v=spf1 ip4:192.0.2.0/24 -all")),
    ]);
    let checker = Checker::new(dns).with_receiver("mx.havre.test");
    let verdict = checker
        .check_mail_from(
            ip("::ffff:192.0.2.7"),
            "alice@example.com",
            "mail.example.org",
        )
        .await;
    assert_eq!(verdict.result(), SpfResult::Pass);
    assert_eq!(verdict.identity, Identity::MailFrom);
    assert_eq!(
        verdict.client_ip,
        ip("192.0.2.7"),
        "a mapped client is an IPv4 client"
    );
    assert_eq!(
        verdict.evaluation.mechanism.as_deref(),
        Some("include:_spf.example.net")
    );
    assert_eq!(
        verdict.received_spf(),
        "pass (mx.havre.test: domain of alice@example.com designates 192.0.2.7 as permitted sender) \
         client-ip=192.0.2.7; envelope-from=\"alice@example.com\"; helo=mail.example.org; \
         receiver=mx.havre.test; identity=mailfrom; mechanism=\"include:_spf.example.net\";"
    );
    assert_eq!(
        verdict.authentication_results(),
        "spf=pass smtp.mailfrom=alice@example.com"
    );
}

#[tokio::test]
async fn a_null_sender_is_checked_as_postmaster_at_the_helo_name() {
    let dns = ZoneDns::new(&[
        ("mail.example.org", Txt("v=spf1 a -all")),
        ("mail.example.org", A("192.0.2.9")),
    ]);
    let checker = Checker::new(dns);
    let verdict = checker
        .check_mail_from(ip("192.0.2.9"), "", "mail.example.org")
        .await;
    assert_eq!(verdict.identity, Identity::Helo);
    assert_eq!(verdict.sender, "postmaster@mail.example.org");
    assert_eq!(verdict.result(), SpfResult::Pass);
    assert_eq!(
        verdict.authentication_results(),
        "spf=pass smtp.helo=mail.example.org"
    );
    assert!(
        verdict
            .received_spf()
            .contains("envelope-from=\"\"; helo=mail.example.org;")
    );

    let refused = checker
        .check_helo(ip("192.0.2.10"), "mail.example.org")
        .await;
    assert_eq!(refused.result(), SpfResult::Fail);
    assert_eq!(refused.evaluation.mechanism.as_deref(), Some("-all"));
}

#[tokio::test]
async fn a_permerror_says_which_term_is_wrong_and_why() {
    let dns = ZoneDns::new(&[("example.com", Txt("v=spf1 ip4:192.0.2.1/33 -all"))]);
    let evaluation = Checker::new(dns)
        .check_host(
            ip("192.0.2.1"),
            "example.com",
            "alice@example.com",
            "mail.example.org",
        )
        .await;
    assert_eq!(evaluation.result, SpfResult::PermError);
    assert_eq!(
        evaluation.reason.unwrap().to_string(),
        "the SPF record of example.com is invalid: term \"ip4:192.0.2.1/33\": \
         invalid CIDR length \"33\" (0 to 32, no leading zero)"
    );
}

#[tokio::test]
async fn the_eleventh_dns_term_is_never_asked() {
    let record = format!(
        "v=spf1 {} ip4:192.0.2.1 -all",
        (1..=11)
            .map(|n| format!("a:h{n}.example.com"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut zone = vec![("example.com", Txt(&record))];
    let hosts: Vec<String> = (1..=11).map(|n| format!("h{n}.example.com")).collect();
    zone.extend(hosts.iter().map(|h| (h.as_str(), A("198.51.100.1"))));
    let checker = Checker::new(ZoneDns::new(&zone));
    let evaluation = checker
        .check_host(
            ip("192.0.2.1"),
            "example.com",
            "alice@example.com",
            "mail.example.org",
        )
        .await;
    assert_eq!(evaluation.result, SpfResult::PermError);
    assert_eq!(evaluation.reason, Some(Reason::TooManyLookups));
    let queries = checker.dns().queries();
    assert!(
        queries.contains(&"A h10.example.com".to_owned()),
        "{queries:?}"
    );
    assert!(
        !queries.contains(&"A h11.example.com".to_owned()),
        "{queries:?}"
    );
}

#[tokio::test]
async fn the_explanation_is_fetched_only_for_a_fail() {
    let dns = ZoneDns::new(&[
        (
            "example.com",
            Txt("v=spf1 ip4:192.0.2.1 -all exp=why.example.com"),
        ),
        ("why.example.com", Txt("%{i} is not one of %{d}'s servers")),
    ]);
    let checker = Checker::new(dns);
    let pass = checker
        .check_host(
            ip("192.0.2.1"),
            "example.com",
            "a@example.com",
            "h.example.org",
        )
        .await;
    assert_eq!((pass.result, pass.explanation), (SpfResult::Pass, None));
    assert!(!checker.dns().queries().iter().any(|q| q.contains("why")));

    let fail = checker
        .check_host(
            ip("192.0.2.2"),
            "example.com",
            "a@example.com",
            "h.example.org",
        )
        .await;
    assert_eq!(fail.result, SpfResult::Fail);
    assert_eq!(
        fail.explanation.as_deref(),
        Some("192.0.2.2 is not one of example.com's servers")
    );
}

/// A DNS server that never answers.
struct Silent;

#[async_trait]
impl Dns for Silent {
    async fn txt(&self, _: &str) -> Lookup<Vec<u8>> {
        std::future::pending().await
    }
    async fn a(&self, _: &str) -> Lookup<Ipv4Addr> {
        std::future::pending().await
    }
    async fn aaaa(&self, _: &str) -> Lookup<Ipv6Addr> {
        std::future::pending().await
    }
    async fn mx(&self, _: &str) -> Lookup<String> {
        std::future::pending().await
    }
    async fn ptr(&self, _: IpAddr) -> Lookup<String> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn an_evaluation_that_outlasts_its_time_limit_is_a_temperror() {
    let checker = Checker::new(Silent).with_time_limit(Duration::from_millis(50));
    let evaluation = checker
        .check_host(
            ip("192.0.2.1"),
            "example.com",
            "a@example.com",
            "h.example.org",
        )
        .await;
    assert_eq!(evaluation.result, SpfResult::TempError);
    assert_eq!(
        evaluation.reason,
        Some(Reason::TimeLimit(Duration::from_millis(50)))
    );
}

#[tokio::test]
async fn an_smtputf8_sender_domain_is_looked_up_as_its_a_label() {
    let dns = ZoneDns::new(&[("xn--bcher-kva.example", Txt("v=spf1 ip4:192.0.2.1 -all"))]);
    let checker = Checker::new(dns);
    let verdict = checker
        .check_mail_from(
            ip("192.0.2.1"),
            "jürgen@bücher.example",
            "mail.bücher.example",
        )
        .await;
    assert_eq!(verdict.result(), SpfResult::Pass, "{verdict:?}");
    assert_eq!(verdict.domain, "xn--bcher-kva.example");
    assert_eq!(verdict.sender, "jürgen@xn--bcher-kva.example");
    assert!(
        verdict
            .received_spf()
            .contains("envelope-from=\"jürgen@bücher.example\";")
    );
}
