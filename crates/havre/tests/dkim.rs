//! DKIM keys and the DNS records of a domain, from the command line: `havre
//! init` makes the first key, `havre dkim generate` more, and `havre dns
//! records` prints what to publish, which a DNS server loads as it is and a
//! verifier accepts.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use havre_testkit::Havre;
use havre_testkit::dns::TestDns;
use mail_auth::hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use mail_auth::{AuthenticatedMessage, DkimResult, MessageAuthenticator};

const BIN: &str = env!("CARGO_BIN_EXE_havre");

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn init_creates_an_rsa_key_for_the_first_domain() {
    let node = Havre::init(BIN);
    let dir = node.data_dir().join("dkim/example.test");
    let pem = dir.join("havre.pem");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&pem), 0o600);
    assert_eq!(mode(&dir.join("havre.meta")), 0o600);
    assert!(
        std::fs::read_to_string(&pem)
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----\n")
    );
    let keys = havre_dkim::keys(&havre_dkim::keys_dir(&node.data_dir()), "example.test").unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].algorithm, havre_dkim::Algorithm::RsaSha256);
    assert_eq!(keys[0].selector, "havre");
    let listed = node.cli_ok(&["dkim", "list"]);
    assert!(
        listed.starts_with("* example.test havre rsa-sha256 "),
        "{listed}"
    );
}

#[test]
fn generate_makes_another_key_and_never_overwrites_one_unless_forced() {
    let node = Havre::init(BIN);
    let out = node.cli_ok(&[
        "dkim",
        "generate",
        "example.test",
        "--selector",
        "s2",
        "--algorithm",
        "ed25519",
    ]);
    assert!(
        out.contains("s2._domainkey.example.test. IN TXT \"v=DKIM1; k=ed25519; p="),
        "{out}"
    );
    let dir = havre_dkim::keys_dir(&node.data_dir());
    let keys = havre_dkim::keys(&dir, "example.test").unwrap();
    assert_eq!(
        keys.iter().map(|k| k.selector.as_str()).collect::<Vec<_>>(),
        ["havre", "s2"]
    );
    assert!(out.contains(&keys[1].zone_record()), "{out}");
    let listed = node.cli_ok(&["dkim", "list", "example.test"]);
    assert!(
        // Both sign: the newest key of each algorithm.
        listed.contains("* example.test havre rsa-sha256"),
        "{listed}"
    );
    assert!(
        listed.contains("* example.test s2 ed25519-sha256"),
        "{listed}"
    );

    let again = node.cli(&[
        "dkim",
        "generate",
        "example.test",
        "--selector",
        "s2",
        "--algorithm",
        "ed25519",
    ]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already has a DKIM key with selector s2"),
        "{}",
        stderr(&again)
    );
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));
    // The default selector is dkim.selector, which init used.
    let default = node.cli(&["dkim", "generate", "example.test"]);
    assert!(!default.status.success());
    assert!(
        stderr(&default).contains("selector havre"),
        "{}",
        stderr(&default)
    );
    assert_eq!(havre_dkim::keys(&dir, "example.test").unwrap(), keys);

    node.cli_ok(&[
        "dkim",
        "generate",
        "example.test",
        "--selector",
        "s2",
        "--algorithm",
        "ed25519",
        "--force",
    ]);
    let replaced = havre_dkim::keys(&dir, "example.test").unwrap();
    assert_ne!(replaced[1].public_key, keys[1].public_key);

    let foreign = node.cli(&["dkim", "generate", "other.test"]);
    assert!(!foreign.status.success());
    assert!(
        stderr(&foreign).contains("havre domain add other.test"),
        "{}",
        stderr(&foreign)
    );
    let bad = node.cli(&["dkim", "generate", "example.test", "--selector", "../x"]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("not a valid DKIM selector"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn dns_records_lists_what_to_publish_and_refuses_a_foreign_domain() {
    let node = Havre::init(BIN);
    let out = node.cli_ok(&["dns", "records", "example.test"]);
    let key =
        &havre_dkim::keys(&havre_dkim::keys_dir(&node.data_dir()), "example.test").unwrap()[0];
    let p = key.dns_txt().split("p=").nth(1).unwrap().to_owned();
    let dkim_line = out
        .lines()
        .find(|l| l.starts_with("havre._domainkey.example.test. IN TXT \"v=DKIM1; k=rsa; p="))
        .unwrap_or_else(|| panic!("no DKIM record in\n{out}"));
    // The 255-byte strings join to the key's record.
    let joined: String = dkim_line.split('"').skip(1).step_by(2).collect();
    assert_eq!(joined.split("p=").nth(1).unwrap(), p);
    for expected in [
        "example.test. IN MX 10 mx.example.test.\n",
        "example.test. IN TXT \"v=spf1 mx ~all\"\n",
        "_dmarc.example.test. IN TXT \"v=DMARC1; p=quarantine; rua=mailto:postmaster@example.test\"\n",
        "_mta-sts.example.test. IN TXT \"v=STSv1; id=",
        "; The policy is served at https://mta-sts.example.test/.well-known/mta-sts.txt",
        ";   mx: mx.example.test\n",
        "_smtp._tls.example.test. IN TXT \"v=TLSRPTv1; rua=mailto:postmaster@example.test\"\n",
        "; example.test. IN CAA 0 issue \"letsencrypt.org\"\n",
    ] {
        assert!(out.contains(expected), "{expected} in\n{out}");
    }

    let foreign = node.cli(&["dns", "records", "other.test"]);
    assert!(!foreign.status.success());
    assert!(
        stderr(&foreign).contains("other.test is not a local domain")
            && stderr(&foreign).contains("havre domain add other.test"),
        "{}",
        stderr(&foreign)
    );
}

/// The printed records, loaded as they are by a DNS server, let a verifier
/// check mail signed with the node's key.
#[tokio::test]
async fn the_printed_zone_serves_and_a_signature_by_the_node_key_verifies() {
    let node = Havre::init(BIN);
    let zone = node.cli_ok(&["dns", "records", "example.test"]);
    let dns = TestDns::start("example.test", &zone).await.unwrap();

    let mut connection = ConnectionConfig::udp();
    connection.port = dns.addr().port();
    let ns = NameServerConfig::new(dns.addr().ip(), true, vec![connection]);
    let mut opts = ResolverOpts::default();
    opts.use_hosts_file = ResolveHosts::Never;
    opts.timeout = Duration::from_secs(2);
    opts.attempts = 1;
    let auth = MessageAuthenticator::new(ResolverConfig::from_parts(None, vec![], vec![ns]), opts)
        .unwrap();

    let signers = havre_dkim::Signers::load(&havre_dkim::keys_dir(&node.data_dir())).unwrap();
    let message = "From: alice@example.test\r\nTo: bob@example.net\r\nSubject: hi\r\n\
                   Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@example.test>\r\n\r\nHello.\r\n";
    let signature = signers.sign(message.as_bytes(), None).unwrap().unwrap();
    let signed = format!("{signature}{message}");
    let parsed = AuthenticatedMessage::parse(signed.as_bytes()).unwrap();
    let results: Vec<DkimResult> = auth
        .verify_dkim(&parsed)
        .await
        .into_iter()
        .map(|o| o.result().clone())
        .collect();
    assert_eq!(results, [DkimResult::Pass]);
    let spf = auth.resolver().txt_lookup("example.test.").await.unwrap();
    let txt: Vec<String> = spf.answers().iter().map(|r| r.data.to_string()).collect();
    assert!(txt.iter().any(|t| t.contains("v=spf1 mx ~all")), "{txt:?}");
    let mx = auth.resolver().mx_lookup("example.test.").await.unwrap();
    let mx: Vec<String> = mx.answers().iter().map(|r| r.data.to_string()).collect();
    assert_eq!(mx, ["10 mx.example.test."]);
}
