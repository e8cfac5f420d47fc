//! The RFC 7208 conformance cases: the scenarios of the openspf test suite
//! (release 2014.04 and its 2019 additions, shipped with pyspf as
//! `rfc7208-tests.yml`), written again as tables: a zone, then cases of
//! (client, MAIL FROM, HELO) and the results the suite accepts. Each test
//! is one section of the suite; cases named `ours-...` are not from it.
//!
//! How the suite's zones are read here: its `SPF` entries are TXT records
//! (its drivers copy them to TXT when the name has no TXT entry, and type
//! 99 is never asked), `TIMEOUT` times out the queries of types the name
//! has no records of, and an explanation of `DEFAULT` means that no
//! `exp=` text is given (`None`).

use havre_spf::testing::Rr::{self, *};
use havre_spf::testing::ZoneDns;
use havre_spf::{Checker, SpfResult, SpfResult::*};

struct Case {
    name: &'static str,
    host: &'static str,
    mailfrom: &'static str,
    helo: &'static str,
    results: &'static [SpfResult],
    explanation: Exp,
}

enum Exp {
    Unchecked,
    /// No `exp=` text (the suite's DEFAULT).
    Default,
    Text(&'static str),
}

const fn case(
    name: &'static str,
    helo: &'static str,
    host: &'static str,
    mailfrom: &'static str,
    results: &'static [SpfResult],
) -> Case {
    Case {
        name,
        host,
        mailfrom,
        helo,
        results,
        explanation: Exp::Unchecked,
    }
}

impl Case {
    const fn explains(mut self, text: &'static str) -> Case {
        self.explanation = Exp::Text(text);
        self
    }

    const fn default_explanation(mut self) -> Case {
        self.explanation = Exp::Default;
        self
    }
}

/// Runs every case against the zone and reports all that disagree.
async fn run(zone: &[(&str, Rr<'_>)], cases: &[Case]) {
    let checker = Checker::new(ZoneDns::new(zone)).with_receiver("mx.havre.test");
    let mut failures = Vec::new();
    for case in cases {
        let ip = case.host.parse().expect(case.host);
        let verdict = checker.check_mail_from(ip, case.mailfrom, case.helo).await;
        let got = &verdict.evaluation;
        if !case.results.contains(&got.result) {
            failures.push(format!(
                "{}: {} instead of {:?} ({:?})",
                case.name, got.result, case.results, got.reason
            ));
            continue;
        }
        match (&case.explanation, &got.explanation) {
            (Exp::Unchecked, _) | (Exp::Default, Option::None) => {}
            (Exp::Text(want), Some(have)) if want == have => {}
            (_, have) => failures.push(format!("{}: explanation {have:?}", case.name)),
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[tokio::test]
async fn initial_processing_of_the_domain_the_local_part_and_the_record_bytes() {
    #[rustfmt::skip]
    let zone = [
        ("example.com", Timeout),
        ("example.net", Txt("v=spf1 -all exp=exp.example.net")),
        ("a.example.net", Txt("v=spf1 -all exp=exp.example.net")),
        ("exp.example.net", Txt("%{l}")),
        (
            "a12345678901234567890123456789012345678901234567890123456789012.example.com",
            Txt("v=spf1 -all"),
        ),
        (
            "hosed.example.com",
            TxtParts(&[b"v=spf1 a:\xEF\xBB\xBFgarbage.example.net -all"]),
        ),
        ("hosed2.example.com", TxtParts(&[b"v=spf1 \x80a:example.net -all"])),
        ("hosed3.example.com", TxtParts(&[b"v=spf1 a:example.net \x96all"])),
        ("nothosed.example.com", Txt("v=spf1 a:example.net -all")),
        ("nothosed.example.com", TxtParts(&[b"\x96"])),
        ("ctrl.example.com", Txt("v=spf1 a:ctrl.example.com\rptr -all")),
        ("ctrl.example.com", A("192.0.2.3")),
        ("fine.example.com", Txt("v=spf1 a  -all")),
        ("trail.example.com", Txt("v=spf1 a -all ")),
        ("null.example.com", TxtParts(&[b"v=spf1 ip4:", b"192.0.2.5 -all"])),
        ("null.example.com", TxtParts(&[])),
    ];
    #[rustfmt::skip]
    let cases = [
        case(
            "toolonglabel",
            "mail.example.net",
            "1.2.3.5",
            "lyme.eater@A123456789012345678901234567890123456789012345678901234567890123.example.com",
            &[None],
        ),
        case(
            "longlabel",
            "mail.example.net",
            "1.2.3.5",
            "lyme.eater@A12345678901234567890123456789012345678901234567890123456789012.example.com",
            &[Fail],
        ),
        case("emptylabel", "mail.example.net", "1.2.3.5", "lyme.eater@A...example.com", &[None]),
        case("helo-not-fqdn", "A2345678", "1.2.3.5", "", &[None]),
        case("helo-domain-literal", "[1.2.3.5]", "1.2.3.5", "", &[None]),
        case("nolocalpart", "mail.example.net", "1.2.3.4", "@example.net", &[Fail])
            .explains("postmaster"),
        case("domain-literal", "OEMCOMPUTER", "1.2.3.5", "foo@[1.2.3.5]", &[None]),
        case("non-ascii-policy", "hosed", "1.2.3.4", "foobar@hosed.example.com", &[PermError]),
        case("non-ascii-mech", "hosed", "1.2.3.4", "foobar@hosed2.example.com", &[PermError]),
        case("non-ascii-result", "hosed", "1.2.3.4", "foobar@hosed3.example.com", &[PermError]),
        case("non-ascii-non-spf", "hosed", "1.2.3.4", "foobar@nothosed.example.com", &[Fail])
            .default_explanation(),
        case("control-char-policy", "hosed", "192.0.2.3", "foobar@ctrl.example.com", &[PermError]),
        case("two-spaces", "hosed", "1.2.3.4", "actually@fine.example.com", &[Fail]),
        case("trailing-space", "hosed", "192.0.2.5", "silly@trail.example.com", &[Fail]),
        case("null-text", "hosed", "192.0.2.5", "silly@null.example.com", &[Pass]),
    ];
    run(&zone, &cases).await;
}

#[tokio::test]
async fn record_lookup_asks_txt_and_a_timeout_is_temperror() {
    #[rustfmt::skip]
    let zone = [
        ("both.example.net", Txt("v=spf1 -all")),
        ("both.example.net", Spf("v=spf1 -all")),
        ("txtonly.example.net", Txt("v=spf1 -all")),
        ("spfonly.example.net", Spf("v=spf1 -all")),
        ("spftimeout.example.net", Txt("v=spf1 -all")),
        ("spftimeout.example.net", Timeout),
        ("txttimeout.example.net", Spf("v=spf1 -all")),
        ("txttimeout.example.net", Timeout),
        ("nospftxttimeout.example.net", Spf("v=spf3 !a:yahoo.com -all")),
        ("nospftxttimeout.example.net", Timeout),
        ("alltimeout.example.net", Timeout),
    ];
    let h = "mail.example.net";
    #[rustfmt::skip]
    let cases = [
        case("both", h, "1.2.3.4", "foo@both.example.net", &[Fail]),
        case("txtonly", h, "1.2.3.4", "foo@txtonly.example.net", &[Fail]),
        case("spfonly", h, "1.2.3.4", "foo@spfonly.example.net", &[None]),
        case("spftimeout", h, "1.2.3.4", "foo@spftimeout.example.net", &[Fail]),
        case("txttimeout", h, "1.2.3.4", "foo@txttimeout.example.net", &[TempError]),
        case("nospftxttimeout", h, "1.2.3.4", "foo@nospftxttimeout.example.net", &[TempError]),
        case("alltimeout", h, "1.2.3.4", "foo@alltimeout.example.net", &[TempError]),
        case("ours-nxdomain-is-none", h, "1.2.3.4", "foo@nowhere.example.net", &[None]),
    ];
    run(&zone, &cases).await;
}

#[tokio::test]
async fn record_selection_takes_the_one_v_spf1_record_and_refuses_several() {
    #[rustfmt::skip]
    let zone = [
        ("example3.com", Txt("v=spf10")),
        ("example3.com", Txt("v=spf1 mx")),
        ("example3.com", Mx(0, "mail.example1.com")),
        ("example1.com", Txt("v=spf1")),
        ("example2.com", TxtParts(&[b"v=spf1", b"mx"])),
        ("mail.example1.com", A("1.2.3.4")),
        ("example4.com", Spf("v=spf1 +all")),
        ("example4.com", Txt("v=spf1 -all")),
        ("example5.com", Spf("v=spf1 +all")),
        ("example5.com", Txt("v=spf1 -all")),
        ("example5.com", Txt("v=spf1 +all")),
        ("example6.com", Txt("v=spf1 -all")),
        ("example6.com", Txt("V=sPf1 +all")),
        ("example7.com", Txt("v=spf1 -all")),
        ("example7.com", Txt("v=spf1 -all")),
        ("example8.com", Spf("V=spf1 -all")),
        ("example8.com", Spf("v=spf1 -all")),
        ("example8.com", Txt("v=spf1 +all")),
        ("example9.com", Txt("v=SpF1 ~all")),
        // Sender ID's records live beside SPF's and are not SPF records.
        ("spf2.example.com", Txt("spf2.0/pra ip4:1.2.3.4 -all")),
        ("spf2.example.com", Txt("v=spf1 ?all")),
        ("onlyspf2.example.com", Txt("spf2.0/mfrom,pra +all")),
    ];
    let h = "mail.example1.com";
    #[rustfmt::skip]
    let cases = [
        case("nospace1", h, "1.2.3.4", "foo@example2.com", &[None]),
        case("empty", "mail1.example1.com", "1.2.3.4", "foo@example1.com", &[Neutral]),
        case("nospace2", h, "1.2.3.4", "foo@example3.com", &[Pass]),
        case("spfoverride", h, "1.2.3.4", "foo@example4.com", &[Fail]),
        case("multitxt1", h, "1.2.3.4", "foo@example5.com", &[PermError]),
        case("multitxt2", h, "1.2.3.4", "foo@example6.com", &[PermError]),
        case("multispf1", h, "1.2.3.4", "foo@example7.com", &[PermError, Fail]),
        case("multispf2", h, "1.2.3.4", "foo@example8.com", &[Pass]),
        case("nospf", h, "1.2.3.4", "foo@mail.example1.com", &[None]),
        case("case-insensitive", h, "1.2.3.4", "foo@example9.com", &[SoftFail]),
        case("ours-spf2.0-ignored", h, "1.2.3.4", "foo@spf2.example.com", &[Neutral]),
        case("ours-only-spf2.0", h, "1.2.3.4", "foo@onlyspf2.example.com", &[None]),
    ];
    run(&zone, &cases).await;
}

#[tokio::test]
async fn record_evaluation_finds_syntax_errors_anywhere_and_redirects_last() {
    #[rustfmt::skip]
    let zone = [
        ("mail.example.com", A("1.2.3.4")),
        ("t1.example.com", Txt("v=spf1 ip4:1.2.3.4 -all moo")),
        ("t2.example.com", Txt("v=spf1 moo.cow-far_out=man:dog/cat ip4:1.2.3.4 -all")),
        ("t3.example.com", Txt("v=spf1 moo.cow/far_out=man:dog/cat ip4:1.2.3.4 -all")),
        ("t4.example.com", Txt("v=spf1 moo.cow:far_out=man:dog/cat ip4:1.2.3.4 -all")),
        ("t5.example.com", Txt("v=spf1 redirect=t5.example.com ~all")),
        ("t6.example.com", Txt("v=spf1 ip4:1.2.3.4 redirect=t2.example.com")),
        ("t7.example.com", Txt("v=spf1 ip4:1.2.3.4")),
        ("t8.example.com", Txt("v=spf1 ip4:1.2.3.4 redirect:t2.example.com")),
        ("t9.example.com", Txt("v=spf1 a:foo-bar -all")),
        ("t10.example.com", Txt("v=spf1 a:mail.example...com -all")),
        (
            "t11.example.com",
            Txt("v=spf1 a:a123456789012345678901234567890123456789012345678901234567890123.example.com -all"),
        ),
        ("t12.example.com", Txt("v=spf1 a:%{H}.bar -all")),
        // Names of mechanisms and modifiers are case-insensitive.
        ("t13.example.com", Txt("V=SPF1 IP4:1.2.3.4 MX:t13.example.com REDIRECT=t7.example.com")),
    ];
    let h = "mail.example.com";
    #[rustfmt::skip]
    let cases = [
        case("detect-errors-anywhere", h, "1.2.3.4", "foo@t1.example.com", &[PermError]),
        case("modifier-charset-good", h, "1.2.3.4", "foo@t2.example.com", &[Pass]),
        case("modifier-charset-bad1", h, "1.2.3.4", "foo@t3.example.com", &[PermError]),
        case("modifier-charset-bad2", h, "1.2.3.4", "foo@t4.example.com", &[PermError]),
        case("redirect-after-mechanisms1", h, "1.2.3.4", "foo@t5.example.com", &[SoftFail]),
        case("redirect-after-mechanisms2", h, "1.2.3.5", "foo@t6.example.com", &[Fail]),
        case("default-result", h, "1.2.3.5", "foo@t7.example.com", &[Neutral]),
        case("redirect-is-modifier", h, "1.2.3.4", "foo@t8.example.com", &[PermError]),
        case("invalid-domain", h, "1.2.3.4", "foo@t9.example.com", &[PermError]),
        case("invalid-domain-empty-label", h, "1.2.3.4", "foo@t10.example.com", &[Fail, PermError]),
        case("invalid-domain-long", h, "1.2.3.4", "foo@t11.example.com", &[Fail, PermError]),
        case(
            "invalid-domain-long-via-macro",
            "%%%%%%%%%%%%%%%%%%%%%%",
            "1.2.3.4",
            "foo@t12.example.com",
            &[Fail, PermError],
        ),
        case("ours-upper-case-names", h, "1.2.3.4", "foo@t13.example.com", &[Pass]),
        case("ours-upper-case-redirect", h, "1.2.3.5", "foo@t13.example.com", &[Neutral]),
    ];
    run(&zone, &cases).await;
}

#[tokio::test]
async fn the_all_mechanism_takes_no_argument() {
    #[rustfmt::skip]
    let zone = [
        ("mail.example.com", A("1.2.3.4")),
        ("e1.example.com", Txt("v=spf1 -all.")),
        ("e2.example.com", Txt("v=spf1 -all:foobar")),
        ("e3.example.com", Txt("v=spf1 -all/8")),
        ("e4.example.com", Txt("v=spf1 ?all")),
        ("e5.example.com", Txt("v=spf1 all -all")),
    ];
    let h = "mail.example.com";
    #[rustfmt::skip]
    let cases = [
        case("all-dot", h, "1.2.3.4", "foo@e1.example.com", &[PermError]),
        case("all-arg", h, "1.2.3.4", "foo@e2.example.com", &[PermError]),
        case("all-cidr", h, "1.2.3.4", "foo@e3.example.com", &[PermError]),
        case("all-neutral", h, "1.2.3.4", "foo@e4.example.com", &[Neutral]),
        case("all-double", h, "1.2.3.4", "foo@e5.example.com", &[Pass]),
    ];
    run(&zone, &cases).await;
}

#[tokio::test]
async fn ptr_matches_only_validated_names_within_the_target() {
    #[rustfmt::skip]
    let zone = [
        ("mail.example.com", A("1.2.3.4")),
        ("mail.example.com", Aaaa("2001:db8::1")),
        ("e1.example.com", Txt("v=spf1 ptr/0 -all")),
        ("e2.example.com", Txt("v=spf1 ptr:example.com -all")),
        ("4.3.2.1.in-addr.arpa", Ptr("e3.example.com")),
        ("4.3.2.1.in-addr.arpa", Ptr("e4.example.com")),
        ("4.3.2.1.in-addr.arpa", Ptr("mail.example.com")),
        (
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.E.B.A.B.E.F.A.C.ip6.arpa",
            Ptr("e3.example.com"),
        ),
        (
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.D.0.1.0.0.2.ip6.arpa",
            Ptr("mail.Example.com"),
        ),
        ("e3.example.com", Txt("v=spf1 ptr -all")),
        ("e3.example.com", A("1.2.3.4")),
        ("e3.example.com", Aaaa("CAFE:BABE::1")),
        ("e4.example.com", Txt("v=spf1 ptr -all")),
        ("e5.example.com", Txt("v=spf1 ptr:")),
        ("e6.example.com", Txt("v=spf1 ptr:example.Com -all")),
    ];
    let h = "mail.example.com";
    #[rustfmt::skip]
    let cases = [
        case("ptr-cidr", h, "1.2.3.4", "foo@e1.example.com", &[PermError]),
        case("ptr-match-target", h, "1.2.3.4", "foo@e2.example.com", &[Pass]),
        case("ptr-match-implicit", h, "1.2.3.4", "foo@e3.example.com", &[Pass]),
        case("ptr-nomatch-invalid", h, "1.2.3.4", "foo@e4.example.com", &[Fail]),
        case("ptr-match-ip6", h, "CAFE:BABE::1", "foo@e3.example.com", &[Pass]),
        case("ptr-empty-domain", h, "1.2.3.4", "foo@e5.example.com", &[PermError]),
        case("ptr-case-change", h, "2001:db8::1", "bar@e6.example.com", &[Pass]),
    ];
    run(&zone, &cases).await;
}

#[tokio::test]
async fn the_a_mechanism_with_dual_cidr_lengths_and_domain_syntax() {
    #[rustfmt::skip]
    let zone = [
        ("mail.example.com", A("1.2.3.4")),
        ("e1.example.com", Txt("v=spf1 a/0 -all")),
        ("e2.example.com", A("1.1.1.1")),
        ("e2.example.com", Aaaa("1234::2")),
        ("e2.example.com", Txt("v=spf1 a/0 -all")),
        ("e2a.example.com", Aaaa("1234::1")),
        ("e2a.example.com", Txt("v=spf1 a//0 -all")),
        ("e2b.example.com", A("1.1.1.1")),
        ("e2b.example.com", Txt("v=spf1 a//0 -all")),
        ("ipv6.example.com", Aaaa("1234::1")),
        ("ipv6.example.com", A("1.1.1.1")),
        ("ipv6.example.com", Txt("v=spf1 a -all")),
        ("e3.example.com", TxtParts(&[b"v=spf1 a:foo.example.com\0"])),
        ("e4.example.com", Txt("v=spf1 a:111.222.33.44")),
        ("e5.example.com", Txt("v=spf1 a:abc.123")),
        ("e5a.example.com", Txt("v=spf1 a:museum")),
        ("e5b.example.com", Txt("v=spf1 a:museum.")),
        ("e6.example.com", Txt("v=spf1 a//33 -all")),
        ("e6a.example.com", Txt("v=spf1 a/33 -all")),
        ("e7.example.com", Txt("v=spf1 a//129 -all")),
        ("e8.example.com", A("1.2.3.5")),
        ("e8.example.com", Aaaa("2001:db8:1234::dead:beef")),
        ("e8.example.com", Txt("v=spf1 a/24//64 -all")),
        ("e8e.example.com", A("1.2.3.5")),
        ("e8e.example.com", Aaaa("2001:db8:1234::dead:beef")),
        ("e8e.example.com", Txt("v=spf1 a/24/64 -all")),
        ("e8a.example.com", A("1.2.3.5")),
        ("e8a.example.com", Aaaa("2001:db8:1234::dead:beef")),
        ("e8a.example.com", Txt("v=spf1 a/24 -all")),
        ("e8b.example.com", A("1.2.3.5")),
        ("e8b.example.com", Aaaa("2001:db8:1234::dead:beef")),
        ("e8b.example.com", Txt("v=spf1 a//64 -all")),
        ("e9.example.com", Txt("v=spf1 a:example.com:8080")),
        ("e10.example.com", Txt("v=spf1 a:foo.example.com/24")),
        ("foo.example.com", A("1.1.1.1")),
        ("foo.example.com", A("1.2.3.5")),
        ("e11.example.com", Txt("v=spf1 a:foo:bar/baz.example.com")),
        ("foo:bar/baz.example.com", A("1.2.3.4")),
        ("e12.example.com", Txt("v=spf1 a:example.-com")),
        ("e13.example.com", Txt("v=spf1 a:")),
        ("e14.example.com", Txt("v=spf1 a:foo.example.xn--zckzah -all")),
        ("foo.example.xn--zckzah", A("1.2.3.4")),
    ];
    let h = "mail.example.com";
    let v6 = "2001:db8:1234::cafe:babe";
    #[rustfmt::skip]
    let cases = [
        case("a-cidr6", h, "1.2.3.4", "foo@e6.example.com", &[Fail]),
        case("a-bad-cidr4", h, "1.2.3.4", "foo@e6a.example.com", &[PermError]),
        case("a-bad-cidr6", h, "1.2.3.4", "foo@e7.example.com", &[PermError]),
        case("a-dual-cidr-ip4-match", h, "1.2.3.4", "foo@e8.example.com", &[Pass]),
        case("a-dual-cidr-ip4-err", h, "1.2.3.4", "foo@e8e.example.com", &[PermError]),
        case("a-dual-cidr-ip6-match", h, v6, "foo@e8.example.com", &[Pass]),
        case("a-dual-cidr-ip4-default", h, "1.2.3.4", "foo@e8b.example.com", &[Fail]),
        case("a-dual-cidr-ip6-default", h, v6, "foo@e8a.example.com", &[Fail]),
        case("a-multi-ip1", h, "1.2.3.4", "foo@e10.example.com", &[Pass]),
        case("a-multi-ip2", h, "1.2.3.4", "foo@e10.example.com", &[Pass]),
        case("a-bad-domain", h, "1.2.3.4", "foo@e9.example.com", &[PermError]),
        case("a-nxdomain", h, "1.2.3.4", "foo@e1.example.com", &[Fail]),
        case("a-cidr4-0", h, "1.2.3.4", "foo@e2.example.com", &[Pass]),
        case("a-cidr4-0-ip6", h, "1234::1", "foo@e2.example.com", &[Fail]),
        case("a-cidr6-0-ip4", h, "1.2.3.4", "foo@e2a.example.com", &[Fail]),
        case("a-cidr6-0-ip4mapped", h, "::FFFF:1.2.3.4", "foo@e2a.example.com", &[Fail]),
        case("a-cidr6-0-ip6", h, "1234::1", "foo@e2a.example.com", &[Pass]),
        case("a-ip6-dualstack", h, "1234::1", "foo@ipv6.example.com", &[Pass]),
        case("a-cidr6-0-nxdomain", h, "1234::1", "foo@e2b.example.com", &[Fail]),
        case("a-null", h, "1.2.3.5", "foo@e3.example.com", &[PermError]),
        case("a-numeric", h, "1.2.3.4", "foo@e4.example.com", &[PermError]),
        case("a-numeric-toplabel", h, "1.2.3.4", "foo@e5.example.com", &[PermError]),
        case("a-dash-in-toplabel", h, "1.2.3.4", "foo@e14.example.com", &[Pass]),
        case("a-bad-toplabel", h, "1.2.3.4", "foo@e12.example.com", &[PermError]),
        case("a-only-toplabel", h, "1.2.3.4", "foo@e5a.example.com", &[PermError]),
        case("a-only-toplabel-trailing-dot", h, "1.2.3.4", "foo@e5b.example.com", &[PermError]),
        case("a-colon-domain", h, "1.2.3.4", "foo@e11.example.com", &[Pass]),
        case("a-colon-domain-ip4mapped", h, "::FFFF:1.2.3.4", "foo@e11.example.com", &[Pass]),
        case("a-empty-domain", h, "1.2.3.4", "foo@e13.example.com", &[PermError]),
    ];
    run(&zone, &cases).await;
}

#[tokio::test]
async fn include_matches_on_pass_only_and_a_target_without_record_is_permerror() {
    #[rustfmt::skip]
    let zone = [
        ("mail.example.com", A("1.2.3.4")),
        ("ip5.example.com", Txt("v=spf1 ip4:1.2.3.5 -all")),
        ("ip6.example.com", Txt("v=spf1 ip4:1.2.3.6 ~all")),
        ("ip7.example.com", Txt("v=spf1 ip4:1.2.3.7 ?all")),
        ("ip8.example.com", Timeout),
        ("erehwon.example.com", Txt("v=spfl am not an SPF record")),
        ("e1.example.com", Txt("v=spf1 include:ip5.example.com ~all")),
        ("e2.example.com", Txt("v=spf1 include:ip6.example.com all")),
        ("e3.example.com", Txt("v=spf1 include:ip7.example.com -all")),
        ("e4.example.com", Txt("v=spf1 include:ip8.example.com -all")),
        ("e5.example.com", Txt("v=spf1 include:e6.example.com -all")),
        ("e6.example.com", Txt("v=spf1 include +all")),
        ("e7.example.com", Txt("v=spf1 include:erehwon.example.com -all")),
        ("e8.example.com", Txt("v=spf1 include: -all")),
        ("e9.example.com", Txt("v=spf1 include:ip5.example.com/24 -all")),
        ("e10.example.com", Txt("v=spf1 include:nowhere.example.com -all")),
    ];
    let h = "mail.example.com";
    #[rustfmt::skip]
    let cases = [
        case("include-fail", h, "1.2.3.4", "foo@e1.example.com", &[SoftFail]),
        case("include-softfail", h, "1.2.3.4", "foo@e2.example.com", &[Pass]),
        case("include-neutral", h, "1.2.3.4", "foo@e3.example.com", &[Fail]),
        case("include-temperror", h, "1.2.3.4", "foo@e4.example.com", &[TempError]),
        case("include-permerror", h, "1.2.3.4", "foo@e5.example.com", &[PermError]),
        case("include-syntax-error", h, "1.2.3.4", "foo@e6.example.com", &[PermError]),
        case("include-cidr", h, "1.2.3.4", "foo@e9.example.com", &[PermError]),
        case("include-none", h, "1.2.3.4", "foo@e7.example.com", &[PermError]),
        case("include-empty-domain", h, "1.2.3.4", "foo@e8.example.com", &[PermError]),
        case("ours-include-nxdomain", h, "1.2.3.4", "foo@e10.example.com", &[PermError]),
        case("ours-include-pass", h, "1.2.3.5", "foo@e3.example.com", &[Fail]),
    ];
    run(&zone, &cases).await;
}

#[tokio::test]
async fn the_mx_mechanism_with_null_mx_cidrs_and_no_implicit_mx() {
    #[rustfmt::skip]
    let zone = [
        ("mail.example.com", A("1.2.3.4")),
        ("mail.example.com", Mx(0, "")),
        ("mail.example.com", Txt("v=spf1 mx")),
        ("e1.example.com", Txt("v=spf1 mx/0 -all")),
        ("e1.example.com", Mx(0, "e1.example.com")),
        ("e2.example.com", A("1.1.1.1")),
        ("e2.example.com", Aaaa("1234::2")),
        ("e2.example.com", Mx(0, "e2.example.com")),
        ("e2.example.com", Txt("v=spf1 mx/0 -all")),
        ("e2a.example.com", Aaaa("1234::1")),
        ("e2a.example.com", Mx(0, "e2a.example.com")),
        ("e2a.example.com", Txt("v=spf1 mx//0 -all")),
        ("e2b.example.com", A("1.1.1.1")),
        ("e2b.example.com", Mx(0, "e2b.example.com")),
        ("e2b.example.com", Txt("v=spf1 mx//0 -all")),
        ("e3.example.com", TxtParts(&[b"v=spf1 mx:foo.example.com\0"])),
        ("e4.example.com", Txt("v=spf1 mx")),
        ("e4.example.com", A("1.2.3.4")),
        ("e5.example.com", Txt("v=spf1 mx:abc.123")),
        ("e6.example.com", Txt("v=spf1 mx//33 -all")),
        ("e6a.example.com", Txt("v=spf1 mx/33 -all")),
        ("e7.example.com", Txt("v=spf1 mx//129 -all")),
        ("e9.example.com", Txt("v=spf1 mx:example.com:8080")),
        ("e10.example.com", Txt("v=spf1 mx:foo.example.com/24")),
        ("foo.example.com", Mx(0, "foo1.example.com")),
        ("foo1.example.com", A("1.1.1.1")),
        ("foo1.example.com", A("1.2.3.5")),
        ("e11.example.com", Txt("v=spf1 mx:foo:bar/baz.example.com")),
        ("foo:bar/baz.example.com", Mx(0, "foo:bar/baz.example.com")),
        ("foo:bar/baz.example.com", A("1.2.3.4")),
        ("e12.example.com", Txt("v=spf1 mx:example.-com")),
        ("e13.example.com", Txt("v=spf1 mx: -all")),
    ];
    let h = "mail.example.com";
    #[rustfmt::skip]
    let cases = [
        case("mx-cidr6", h, "1.2.3.4", "foo@e6.example.com", &[Fail]),
        case("mx-bad-cidr4", h, "1.2.3.4", "foo@e6a.example.com", &[PermError]),
        case("mx-bad-cidr6", h, "1.2.3.4", "foo@e7.example.com", &[PermError]),
        case("mx-multi-ip1", h, "1.2.3.4", "foo@e10.example.com", &[Pass]),
        case("mx-multi-ip2", h, "1.2.3.4", "foo@e10.example.com", &[Pass]),
        case("mx-bad-domain", h, "1.2.3.4", "foo@e9.example.com", &[PermError]),
        case("mx-nxdomain", h, "1.2.3.4", "foo@e1.example.com", &[Fail]),
        case("mx-cidr4-0", h, "1.2.3.4", "foo@e2.example.com", &[Pass]),
        case("mx-cidr4-0-ip6", h, "1234::1", "foo@e2.example.com", &[Fail]),
        case("mx-cidr6-0-ip4", h, "1.2.3.4", "foo@e2a.example.com", &[Fail]),
        case("mx-cidr6-0-ip4mapped", h, "::FFFF:1.2.3.4", "foo@e2a.example.com", &[Fail]),
        case("mx-cidr6-0-ip6", h, "1234::1", "foo@e2a.example.com", &[Pass]),
        case("mx-cidr6-0-nxdomain", h, "1234::1", "foo@e2b.example.com", &[Fail]),
        case("mx-null", h, "1.2.3.5", "foo@e3.example.com", &[PermError]),
        case("mx-numeric-top-label", h, "1.2.3.4", "foo@e5.example.com", &[PermError]),
        case("mx-colon-domain", h, "1.2.3.4", "foo@e11.example.com", &[Pass]),
        case("mx-colon-domain-ip4mapped", h, "::FFFF:1.2.3.4", "foo@e11.example.com", &[Pass]),
        case("mx-bad-toplab", h, "1.2.3.4", "foo@e12.example.com", &[PermError]),
        case("mx-empty", h, "1.2.3.4", "", &[Neutral]),
        case("mx-implicit", h, "1.2.3.4", "foo@e4.example.com", &[Neutral]),
        case("mx-empty-domain", h, "1.2.3.4", "foo@e13.example.com", &[PermError]),
    ];
    run(&zone, &cases).await;
}

#[tokio::test]
async fn exists_asks_for_an_a_record_whatever_the_client_family() {
    #[rustfmt::skip]
    let zone = [
        ("mail.example.com", A("1.2.3.4")),
        ("mail6.example.com", Aaaa("CAFE:BABE::4")),
        ("err.example.com", Timeout),
        ("e1.example.com", Txt("v=spf1 exists:")),
        ("e2.example.com", Txt("v=spf1 exists")),
        ("e3.example.com", Txt("v=spf1 exists:mail.example.com/24")),
        ("e4.example.com", Txt("v=spf1 exists:mail.example.com")),
        ("e5.example.com", Txt("v=spf1 exists:mail6.example.com -all")),
        ("e6.example.com", Txt("v=spf1 exists:err.example.com -all")),
    ];
    let h = "mail.example.com";
    #[rustfmt::skip]
    let cases = [
        case("exists-empty-domain", h, "1.2.3.4", "foo@e1.example.com", &[PermError]),
        case("exists-implicit", h, "1.2.3.4", "foo@e2.example.com", &[PermError]),
        case("exists-cidr", h, "1.2.3.4", "foo@e3.example.com", &[PermError]),
        case("exists-ip4", h, "1.2.3.4", "foo@e4.example.com", &[Pass]),
        case("exists-ip6", h, "CAFE:BABE::3", "foo@e4.example.com", &[Pass]),
        case("exists-ip6only", h, "CAFE:BABE::3", "foo@e5.example.com", &[Fail]),
        case("exists-dnserr", h, "CAFE:BABE::3", "foo@e6.example.com", &[TempError]),
    ];
    run(&zone, &cases).await;
}

#[tokio::test]
async fn ip4_takes_strict_dotted_quads_and_lengths_from_0_to_32() {
    #[rustfmt::skip]
    let zone = [
        ("mail.example.com", A("1.2.3.4")),
        ("e1.example.com", Txt("v=spf1 ip4:1.1.1.1/0 -all")),
        ("e2.example.com", Txt("v=spf1 ip4:1.2.3.4/32 -all")),
        ("e3.example.com", Txt("v=spf1 ip4:1.2.3.4/33 -all")),
        ("e4.example.com", Txt("v=spf1 ip4:1.2.3.4/032 -all")),
        ("e5.example.com", Txt("v=spf1 ip4")),
        ("e6.example.com", Txt("v=spf1 ip4:1.2.3.4//32")),
        ("e7.example.com", Txt("v=spf1 -ip4:1.2.3.4 ip6:::FFFF:1.2.3.4")),
        ("e8.example.com", Txt("v=spf1 ip4:1.2.3.4:8080")),
        ("e9.example.com", Txt("v=spf1 ip4:1.2.3")),
        ("e10.example.com", Txt("v=spf1 ip4:01.2.3.4 +all")),
        ("e11.example.com", Txt("v=spf1 ip4:1.2.3.256 +all")),
        ("e12.example.com", Txt("v=spf1 ip4:1.2.3.4/ +all")),
    ];
    let h = "mail.example.com";
    #[rustfmt::skip]
    let cases = [
        case("cidr4-0", h, "1.2.3.4", "foo@e1.example.com", &[Pass]),
        case("cidr4-32", h, "1.2.3.4", "foo@e2.example.com", &[Pass]),
        case("cidr4-33", h, "1.2.3.4", "foo@e3.example.com", &[PermError]),
        case("cidr4-032", h, "1.2.3.4", "foo@e4.example.com", &[PermError]),
        case("bare-ip4", h, "1.2.3.4", "foo@e5.example.com", &[PermError]),
        case("bad-ip4-port", h, "1.2.3.4", "foo@e8.example.com", &[PermError]),
        case("bad-ip4-short", h, "1.2.3.4", "foo@e9.example.com", &[PermError]),
        case("ip4-dual-cidr", h, "1.2.3.4", "foo@e6.example.com", &[PermError]),
        case("ip4-mapped-ip6", h, "::FFFF:1.2.3.4", "foo@e7.example.com", &[Fail]),
        case("ours-ip4-leading-zero", h, "1.2.3.4", "foo@e10.example.com", &[PermError]),
        case("ours-ip4-octet-256", h, "1.2.3.4", "foo@e11.example.com", &[PermError]),
        case("ours-ip4-empty-length", h, "1.2.3.4", "foo@e12.example.com", &[PermError]),
    ];
    run(&zone, &cases).await;
}

#[tokio::test]
async fn ip6_never_matches_an_ipv4_client_even_mapped() {
    #[rustfmt::skip]
    let zone = [
        ("mail.example.com", A("1.2.3.4")),
        ("e1.example.com", Txt("v=spf1 -all ip6")),
        ("e2.example.com", Txt("v=spf1 ip6:::1.1.1.1/0")),
        ("e3.example.com", Txt("v=spf1 ip6:::1.1.1.1/129")),
        ("e4.example.com", Txt("v=spf1 ip6:::1.1.1.1//33")),
        ("e5.example.com", Txt("v=spf1 ip6:Cafe:Babe:8000::/33")),
        ("e6.example.com", Txt("v=spf1 ip6::CAFE::BABE")),
        ("e7.example.com", Txt("v=spf1 ip6:::ffff:0:0/96 ip6:::ffff:1.2.3.4")),
    ];
    let h = "mail.example.com";
    #[rustfmt::skip]
    let cases = [
        case("bare-ip6", h, "1.2.3.4", "foo@e1.example.com", &[PermError]),
        case("cidr6-0-ip4", h, "1.2.3.4", "foo@e2.example.com", &[Neutral]),
        case("cidr6-ip4", h, "::FFFF:1.2.3.4", "foo@e2.example.com", &[Neutral]),
        case("cidr6-0", h, "DEAF:BABE::CAB:FEE", "foo@e2.example.com", &[Pass]),
        case("cidr6-129", h, "1.2.3.4", "foo@e3.example.com", &[PermError]),
        case("cidr6-bad", h, "1.2.3.4", "foo@e4.example.com", &[PermError]),
        case("cidr6-33", h, "CAFE:BABE:8000::", "foo@e5.example.com", &[Pass]),
        case("cidr6-33-ip4", h, "1.2.3.4", "foo@e5.example.com", &[Neutral]),
        case("ip6-bad1", h, "1.2.3.4", "foo@e6.example.com", &[PermError]),
        case("ours-mapped-prefix", h, "::ffff:1.2.3.4", "foo@e7.example.com", &[Neutral]),
    ];
    run(&zone, &cases).await;
}

#[tokio::test]
async fn exp_and_redirect_and_unknown_modifiers() {
    #[rustfmt::skip]
    let zone = [
        ("mail.example.com", A("1.2.3.4")),
        ("e1.example.com", Txt("v=spf1 exp=exp1.example.com redirect=e2.example.com")),
        ("e2.example.com", Txt("v=spf1 -all")),
        ("e3.example.com", Txt("v=spf1 exp=exp1.example.com redirect=e4.example.com")),
        ("e4.example.com", Txt("v=spf1 -all exp=exp2.example.com")),
        ("exp1.example.com", Txt("No-see-um")),
        ("exp2.example.com", Txt("See me.")),
        ("exp3.example.com", Txt("Correct!")),
        ("exp4.example.com", Txt("%{l} in implementation")),
        ("e5.example.com", Txt("v=spf1 1up=foo")),
        ("e6.example.com", Txt("v=spf1 =all")),
        ("e7.example.com", Txt("v=spf1 include:e3.example.com -all exp=exp3.example.com")),
        ("e8.example.com", Txt("v=spf1 -all exp=exp4.example.com")),
        ("e9.example.com", Txt("v=spf1 -all foo=%abc")),
        ("e10.example.com", Txt("v=spf1 redirect=erehwon.example.com")),
        ("e11.example.com", Txt("v=spf1 -all exp=e11msg.example.com")),
        ("e11msg.example.com", Txt("Answer a fool according to his folly.")),
        ("e11msg.example.com", Txt("Do not answer a fool according to his folly.")),
        ("e12.example.com", Txt("v=spf1 exp= -all")),
        ("e13.example.com", Txt("v=spf1 exp=e13msg.example.com -all")),
        ("e13msg.example.com", Txt("The %{x}-files.")),
        ("e14.example.com", Txt("v=spf1 exp=e13msg.example.com -all exp=e11msg.example.com")),
        ("e15.example.com", Txt("v=spf1 redirect=e12.example.com -all redirect=e12.example.com")),
        ("e16.example.com", Txt("v=spf1 exp=-all")),
        ("e17.example.com", Txt("v=spf1 redirect=-all ?all")),
        ("e18.example.com", Txt("v=spf1 ?all redirect=")),
        ("e19.example.com", Txt("v=spf1 default=pass")),
        ("e20.example.com", Txt("v=spf1 default=+")),
        ("e21.example.com", Txt("v=spf1 exp=e21msg.example.com -all")),
        ("e21msg.example.com", Timeout),
        ("e22.example.com", Txt("v=spf1 exp=mail.example.com -all")),
        ("nonascii.example.com", Txt("v=spf1 exp=badexp.example.com -all")),
        ("badexp.example.com", TxtParts(&[b"\xEF\xBB\xBFExplanation"])),
        ("tworecs.example.com", Txt("v=spf1 exp=twoexp.example.com -all")),
        ("twoexp.example.com", Txt("one")),
        ("twoexp.example.com", Txt("two")),
        ("e23.example.com", Txt("v=spf1 a:erehwon.example.com a:foobar.com exp=nxdomain.com -all")),
        ("e24.example.com", Txt("v=spf1 redirect=testimplicit.example.com")),
        ("e24.example.com", A("192.0.2.1")),
        ("testimplicit.example.com", Txt("v=spf1 a -all")),
        ("testimplicit.example.com", A("192.0.2.2")),
        // Redirect to a domain that does not exist.
        ("e25.example.com", Txt("v=spf1 redirect=nowhere.example.com")),
    ];
    let h = "mail.example.com";
    #[rustfmt::skip]
    let cases = [
        case("redirect-none", h, "1.2.3.4", "foo@e10.example.com", &[PermError]),
        case("redirect-cancels-exp", h, "1.2.3.4", "foo@e1.example.com", &[Fail])
            .default_explanation(),
        case("redirect-syntax-error", h, "1.2.3.4", "foo@e17.example.com", &[PermError]),
        case("include-ignores-exp", h, "1.2.3.4", "foo@e7.example.com", &[Fail])
            .explains("Correct!"),
        case("redirect-cancels-prior-exp", h, "1.2.3.4", "foo@e3.example.com", &[Fail])
            .explains("See me."),
        case("invalid-modifier", h, "1.2.3.4", "foo@e5.example.com", &[PermError]),
        case("empty-modifier-name", h, "1.2.3.4", "foo@e6.example.com", &[PermError]),
        case("dorky-sentinel", h, "1.2.3.4", "Macro Error@e8.example.com", &[Fail])
            .explains("Macro Error in implementation"),
        case("exp-multiple-txt", h, "1.2.3.4", "foo@e11.example.com", &[Fail])
            .default_explanation(),
        case("exp-no-txt", h, "1.2.3.4", "foo@e22.example.com", &[Fail]).default_explanation(),
        case("exp-dns-error", h, "1.2.3.4", "foo@e21.example.com", &[Fail])
            .default_explanation(),
        case("exp-empty-domain", h, "1.2.3.4", "foo@e12.example.com", &[PermError]),
        case("explanation-syntax-error", h, "1.2.3.4", "foo@e13.example.com", &[Fail])
            .default_explanation(),
        case("exp-syntax-error", h, "1.2.3.4", "foo@e16.example.com", &[PermError]),
        case("exp-twice", h, "1.2.3.4", "foo@e14.example.com", &[PermError]),
        case("redirect-empty-domain", h, "1.2.3.4", "foo@e18.example.com", &[PermError]),
        case("redirect-twice", h, "1.2.3.4", "foo@e15.example.com", &[PermError]),
        case("unknown-modifier-syntax", h, "1.2.3.4", "foo@e9.example.com", &[PermError]),
        case("default-modifier-obsolete", h, "1.2.3.4", "foo@e19.example.com", &[Neutral]),
        case("default-modifier-obsolete2", h, "1.2.3.4", "foo@e20.example.com", &[Neutral]),
        case("non-ascii-exp", "hosed", "1.2.3.4", "foobar@nonascii.example.com", &[Fail])
            .default_explanation(),
        case("two-exp-records", "hosed", "1.2.3.4", "foobar@tworecs.example.com", &[Fail])
            .default_explanation(),
        case("exp-void", h, "1.2.3.4", "foo@e23.example.com", &[Fail]),
        case("redirect-implicit", "e24.example.com", "192.0.2.2", "bar@e24.example.com", &[Pass]),
        case("ours-redirect-nxdomain", h, "1.2.3.4", "foo@e25.example.com", &[PermError]),
    ];
    run(&zone, &cases).await;
}

#[tokio::test]
async fn macros_expand_letters_transformers_delimiters_and_escapes() {
    let long = "somewhat.long.exp.example.com.somewhat.long.exp.example.com.\
                somewhat.long.exp.example.com.somewhat.long.exp.example.com.\
                somewhat.long.exp.example.com.somewhat.long.exp.example.com.\
                somewhat.long.exp.example.com.somewhat.long.exp.example.com.example.com";
    #[rustfmt::skip]
    let zone = [
        ("example.com.d.spf.example.com", Txt("v=spf1 redirect=a.spf.example.com")),
        ("a.spf.example.com", Txt("v=spf1 include:o.spf.example.com. ~all")),
        ("o.spf.example.com", Txt("v=spf1 ip4:192.168.218.40")),
        ("msgbas2x.cos.example.com", A("192.168.218.40")),
        ("example.com", A("192.168.90.76")),
        ("example.com", Txt("v=spf1 redirect=%{d}.d.spf.example.com.")),
        ("exp.example.com", Txt("v=spf1 exp=msg.example.com. -all")),
        ("msg.example.com", Txt("This is a test.")),
        ("e1.example.com", Txt("v=spf1 -exists:%(ir).sbl.example.com ?all")),
        ("e1e.example.com", Txt("v=spf1 exists:foo%(ir).sbl.example.com ?all")),
        ("e1t.example.com", Txt("v=spf1 exists:foo%.sbl.example.com ?all")),
        ("e1a.example.com", Txt("v=spf1 a:macro%%percent%_%_space%-url-space.example.com -all")),
        ("macro%percent  space%20url-space.example.com", A("1.2.3.4")),
        ("e2.example.com", Txt("v=spf1 -all exp=%{r}.example.com")),
        ("e3.example.com", Txt("v=spf1 -all exp=%{ir}.example.com")),
        ("40.218.168.192.example.com", Txt("Connections from %{c} not authorized.")),
        (
            "somewhat.long.exp.example.com",
            Txt("v=spf1 -all exp=foobar.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.example.com"),
        ),
        (long, Txt("Congratulations!  That was tricky.")),
        ("e4.example.com", Txt("v=spf1 -all exp=e4msg.example.com")),
        ("e4msg.example.com", Txt("%{c} is queried as %{ir}.%{v}.arpa")),
        ("e5.example.com", Txt("v=spf1 a:%{a}.example.com -all")),
        ("e6.example.com", Txt("v=spf1 -all exp=e6msg.example.com")),
        ("e6msg.example.com", Txt("connect from %{p}")),
        ("mx.example.com", A("192.168.218.41")),
        ("mx.example.com", A("192.168.218.42")),
        ("mx.example.com", Aaaa("CAFE:BABE::2")),
        ("mx.example.com", Aaaa("CAFE:BABE::3")),
        ("40.218.168.192.in-addr.arpa", Ptr("mx.example.com")),
        ("41.218.168.192.in-addr.arpa", Ptr("mx.example.com")),
        ("42.218.168.192.in-addr.arpa", Ptr("mx.example.com")),
        ("42.218.168.192.in-addr.arpa", Ptr("mx.e7.example.com")),
        (
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.E.B.A.B.E.F.A.C.ip6.arpa",
            Ptr("mx.example.com"),
        ),
        (
            "3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.E.B.A.B.E.F.A.C.ip6.arpa",
            Ptr("mx.example.com"),
        ),
        ("mx.e7.example.com", A("192.168.218.42")),
        ("mx.e7.example.com.should.example.com", A("127.0.0.2")),
        ("mx.example.com.ok.example.com", A("127.0.0.2")),
        (
            "e7.example.com",
            Txt("v=spf1 exists:%{p}.should.example.com ~exists:%{p}.ok.example.com"),
        ),
        ("e8.example.com", Txt("v=spf1 -all exp=msg8.%{D2}")),
        ("msg8.example.com", Txt("http://example.com/why.html?l=%{L}")),
        ("e9.example.com", Txt("v=spf1 a:%{H} -all")),
        ("e10.example.com", Txt("v=spf1 -include:_spfh.%{d2} ip4:1.2.3.0/24 -all")),
        ("_spfh.example.com", Txt("v=spf1 -a:%{h} +all")),
        ("e11.example.com", Txt("v=spf1 exists:%{i}.%{l2r-}.user.%{d2}")),
        ("1.2.3.4.gladstone.philip.user.example.com", A("127.0.0.2")),
        ("e12.example.com", Txt("v=spf1 exists:%{l2r+-}.user.%{d2}")),
        ("bar.foo.user.example.com", A("127.0.0.2")),
        // %{s} of the HELO identity is postmaster@ the HELO name.
        ("helo.example.com", Txt("v=spf1 -all exp=helomsg.example.com")),
        ("helomsg.example.com", Txt("%{s} via %{h} (%{l}@%{o})")),
    ];
    let h = "msgbas2x.cos.example.com";
    let ip = "192.168.218.40";
    #[rustfmt::skip]
    let cases = [
        case("trailing-dot-domain", h, ip, "test@example.com", &[Pass]),
        case("trailing-dot-exp", h, ip, "test@exp.example.com", &[Fail])
            .explains("This is a test."),
        case("exp-only-macro-char", h, ip, "test@e2.example.com", &[PermError]),
        case("invalid-macro-char", h, ip, "test@e1.example.com", &[PermError]),
        case("invalid-embedded-macro-char", h, ip, "test@e1e.example.com", &[PermError]),
        case("invalid-trailing-macro-char", h, ip, "test@e1t.example.com", &[PermError]),
        case("macro-mania-in-domain", "mail.example.com", "1.2.3.4", "test@e1a.example.com", &[Pass]),
        case("exp-txt-macro-char", h, ip, "test@e3.example.com", &[Fail])
            .explains("Connections from 192.168.218.40 not authorized."),
        case("domain-name-truncation", h, ip, "test@somewhat.long.exp.example.com", &[Fail])
            .explains("Congratulations!  That was tricky."),
        case("v-macro-ip4", h, ip, "test@e4.example.com", &[Fail])
            .explains("192.168.218.40 is queried as 40.218.168.192.in-addr.arpa"),
        // The suite spells the nibbles in upper case; RFC 7208 7.4
        // expands %{ir} of an IPv6 address in lower case.
        case("v-macro-ip6", h, "CAFE:BABE::1", "test@e4.example.com", &[Fail]).explains(
            "cafe:babe::1 is queried as \
             1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.e.b.a.b.e.f.a.c.ip6.arpa",
        ),
        case("undef-macro", h, "CAFE:BABE::192.168.218.40", "test@e5.example.com", &[PermError]),
        case("p-macro-ip4-novalid", h, ip, "test@e6.example.com", &[Fail])
            .explains("connect from unknown"),
        case("p-macro-ip4-valid", h, "192.168.218.41", "test@e6.example.com", &[Fail])
            .explains("connect from mx.example.com"),
        case("p-macro-ip6-novalid", h, "CAFE:BABE::1", "test@e6.example.com", &[Fail])
            .explains("connect from unknown"),
        case("p-macro-ip6-valid", h, "CAFE:BABE::3", "test@e6.example.com", &[Fail])
            .explains("connect from mx.example.com"),
        case("p-macro-multiple", h, "192.168.218.42", "test@e7.example.com", &[Pass, SoftFail]),
        case("upper-macro", h, "192.168.218.42", "~jack&jill=up-a_b3.c@e8.example.com", &[Fail])
            .explains("http://example.com/why.html?l=~jack%26jill%3Dup-a_b3.c"),
        case("hello-macro", h, ip, "test@e9.example.com", &[Pass]),
        case("invalid-hello-macro", "JUMPIN' JUPITER", ip, "test@e9.example.com", &[Fail]),
        case("hello-domain-literal", "[192.168.218.40]", ip, "test@e9.example.com", &[Fail]),
        case("require-valid-helo", "OEMCOMPUTER", "1.2.3.4", "test@e10.example.com", &[Fail]),
        case(
            "macro-reverse-split-on-dash",
            "mail.example.com",
            "1.2.3.4",
            "philip-gladstone-test@e11.example.com",
            &[Pass],
        ),
        case(
            "macro-multiple-delimiters",
            "mail.example.com",
            "1.2.3.4",
            "foo-bar+zip+quux@e12.example.com",
            &[Pass],
        ),
        case("ours-helo-identity-sender", "helo.example.com", ip, "", &[Fail])
            .explains("postmaster@helo.example.com via helo.example.com (postmaster@helo.example.com)"),
    ];
    run(&zone, &cases).await;
}

#[tokio::test]
async fn processing_limits_of_10_terms_10_mx_10_ptr_and_2_void_lookups() {
    #[rustfmt::skip]
    let zone = [
        ("mail.example.com", A("1.2.3.4")),
        ("e1.example.com", Txt("v=spf1 ip4:1.1.1.1 redirect=e1.example.com")),
        ("e1.example.com", A("1.2.3.6")),
        ("e2.example.com", Txt("v=spf1 include:e3.example.com")),
        ("e2.example.com", A("1.2.3.7")),
        ("e3.example.com", Txt("v=spf1 include:e2.example.com")),
        ("e3.example.com", A("1.2.3.8")),
        ("e4.example.com", Txt("v=spf1 mx")),
        ("e4.example.com", Mx(0, "mail.example.com")),
        ("e4.example.com", Mx(1, "mail.example.com")),
        ("e4.example.com", Mx(2, "mail.example.com")),
        ("e4.example.com", Mx(3, "mail.example.com")),
        ("e4.example.com", Mx(4, "mail.example.com")),
        ("e4.example.com", Mx(5, "mail.example.com")),
        ("e4.example.com", Mx(6, "mail.example.com")),
        ("e4.example.com", Mx(7, "mail.example.com")),
        ("e4.example.com", Mx(8, "mail.example.com")),
        ("e4.example.com", Mx(9, "mail.example.com")),
        ("e4.example.com", Mx(10, "e4.example.com")),
        ("e4.example.com", A("1.2.3.5")),
        ("e5.example.com", Txt("v=spf1 ptr")),
        ("e5.example.com", A("1.2.3.5")),
        ("5.3.2.1.in-addr.arpa", Ptr("e1.example.com.")),
        ("5.3.2.1.in-addr.arpa", Ptr("e2.example.com.")),
        ("5.3.2.1.in-addr.arpa", Ptr("e3.example.com.")),
        ("5.3.2.1.in-addr.arpa", Ptr("e4.example.com.")),
        ("5.3.2.1.in-addr.arpa", Ptr("example.com.")),
        ("5.3.2.1.in-addr.arpa", Ptr("e6.example.com.")),
        ("5.3.2.1.in-addr.arpa", Ptr("e7.example.com.")),
        ("5.3.2.1.in-addr.arpa", Ptr("e8.example.com.")),
        ("5.3.2.1.in-addr.arpa", Ptr("e9.example.com.")),
        ("5.3.2.1.in-addr.arpa", Ptr("e10.example.com.")),
        ("5.3.2.1.in-addr.arpa", Ptr("e5.example.com.")),
        ("e6.example.com", Txt("v=spf1 a mx a mx a mx a mx a ptr ip4:1.2.3.4 -all")),
        ("e6.example.com", A("1.2.3.8")),
        ("e6.example.com", Mx(10, "e6.example.com")),
        ("e7.example.com", Txt("v=spf1 a mx a mx a mx a mx a ptr a ip4:1.2.3.4 -all")),
        ("e7.example.com", A("1.2.3.20")),
        ("e8.example.com", Txt("v=spf1 a include:inc.example.com ip4:1.2.3.4 mx -all")),
        ("e8.example.com", A("1.2.3.4")),
        ("inc.example.com", Txt("v=spf1 a a a a a a a a")),
        ("inc.example.com", A("1.2.3.10")),
        ("e9.example.com", Txt("v=spf1 a include:inc.example.com a ip4:1.2.3.4 -all")),
        ("e9.example.com", A("1.2.3.21")),
        ("e10.example.com", Txt("v=spf1 a -all")),
        ("e10.example.com", A("1.2.3.1")),
        ("e10.example.com", A("1.2.3.2")),
        ("e10.example.com", A("1.2.3.3")),
        ("e10.example.com", A("1.2.3.4")),
        ("e10.example.com", A("1.2.3.5")),
        ("e10.example.com", A("1.2.3.6")),
        ("e10.example.com", A("1.2.3.7")),
        ("e10.example.com", A("1.2.3.8")),
        ("e10.example.com", A("1.2.3.9")),
        ("e10.example.com", A("1.2.3.10")),
        ("e10.example.com", A("1.2.3.11")),
        ("e10.example.com", A("1.2.3.12")),
        ("e11.example.com", Txt("v=spf1 a:err.example.com a:err1.example.com a:err2.example.com ?all")),
        ("e12.example.com", Txt("v=spf1 a:err.example.com a:err1.example.com ?all")),
        // Ten MX names are allowed; the same host named by each.
        ("e13.example.com", Txt("v=spf1 mx -all")),
        ("e13.example.com", Mx(0, "a.example.com")),
        ("e13.example.com", Mx(1, "b.example.com")),
        ("e13.example.com", Mx(2, "c.example.com")),
        ("e13.example.com", Mx(3, "d.example.com")),
        ("e13.example.com", Mx(4, "e.example.com")),
        ("e13.example.com", Mx(5, "f.example.com")),
        ("e13.example.com", Mx(6, "g.example.com")),
        ("e13.example.com", Mx(7, "h.example.com")),
        ("e13.example.com", Mx(8, "i.example.com")),
        ("e13.example.com", Mx(9, "e4.example.com")),
        // Void lookups of exists and mx count too.
        ("e14.example.com", Txt("v=spf1 exists:nx1.example.com mx:nx2.example.com a:err.example.com ?all")),
    ];
    let h = "mail.example.com";
    #[rustfmt::skip]
    let cases = [
        case("redirect-loop", h, "1.2.3.4", "foo@e1.example.com", &[PermError]),
        case("include-loop", h, "1.2.3.4", "foo@e2.example.com", &[PermError]),
        case("mx-limit", h, "1.2.3.5", "foo@e4.example.com", &[PermError]),
        case("ptr-limit", h, "1.2.3.5", "foo@e5.example.com", &[Neutral, Pass]),
        case("false-a-limit", h, "1.2.3.12", "foo@e10.example.com", &[Pass]),
        case("mech-at-limit", h, "1.2.3.4", "foo@e6.example.com", &[Pass]),
        case("mech-over-limit", h, "1.2.3.4", "foo@e7.example.com", &[PermError]),
        case("include-at-limit", h, "1.2.3.4", "foo@e8.example.com", &[Pass]),
        case("include-over-limit", h, "1.2.3.4", "foo@e9.example.com", &[PermError]),
        case("void-at-limit", h, "1.2.3.4", "foo@e12.example.com", &[Neutral]),
        case("void-over-limit", h, "1.2.3.4", "foo@e11.example.com", &[PermError]),
        case("ours-mx-at-limit", h, "1.2.3.5", "foo@e13.example.com", &[Pass]),
        case("ours-void-exists-mx", h, "1.2.3.4", "foo@e14.example.com", &[PermError]),
    ];
    run(&zone, &cases).await;
}

#[tokio::test]
async fn cases_from_implementation_bugs() {
    #[rustfmt::skip]
    let zone = [
        ("example.org", Txt("v=spf1 mx redirect=_spf.example.com")),
        ("example.org", Mx(10, "smtp.example.org")),
        ("example.org", Mx(10, "smtp1.example.com")),
        ("smtp.example.org", A("198.51.100.2")),
        ("smtp.example.org", Aaaa("2001:db8:ff0:100::3")),
        ("smtp1.example.com", A("192.0.2.26")),
        ("smtp1.example.com", Aaaa("2001:db8:ff0:200::2")),
        (
            "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.F.F.0.8.B.D.0.1.0.0.2.ip6.arpa",
            Ptr("smtp6-v.fe.example.org"),
        ),
        ("smtp6-v.fe.example.org", Aaaa("2001:db8:ff0:100::2")),
        (
            "_spf.example.com",
            Txt("v=spf1 ptr:fe.example.org ptr:sgp.example.com exp=_expspf.example.org -all"),
        ),
        (
            "_expspf.example.org",
            Txt("Sender domain not allowed from this host. Please see \
                 http://www.openspf.org/Why?s=mfrom&id=%{S}&ip=%{C}&r=%{R}"),
        ),
    ];
    let cases = [case(
        "bytes-bug",
        "example.org",
        "2001:db8:ff0:100::2",
        "test@example.org",
        &[Pass],
    )];
    run(&zone, &cases).await;
}
