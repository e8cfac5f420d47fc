//! The checks of mail from the Internet, over real SMTP (Python's smtplib)
//! against a node whose resolver is a DNS server of the test's own: DNS
//! lists, SPF, DKIM (messages the test signs itself), DMARC, reverse DNS,
//! greylisting; and the rate limits of submission. Each verdict is read in
//! the SMTP reply or in the stored message's headers.
//!
//! Clients connect from several loopback addresses (127.0.0.1, .2, .3): the
//! DNS lists and the reverse names tell them apart. Loopback's reverse
//! names are answered by the resolver itself (RFC 6761): 127.0.0.1 is
//! `localhost`, whose address leads back to it; 127.0.0.2's PTR is also
//! `localhost`, which does not lead back, so that client is `unknown`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine as _;
use havre_testkit::Havre;
use havre_testkit::dns::TestDns;
use mail_auth::common::crypto::{Algorithm, Ed25519Key, HashAlgorithm, Sha1, SigningKey};
use mail_auth::common::headers::{HeaderWriter, Writable};
use mail_auth::dkim::DkimSigner;

const BIN: &str = env!("CARGO_BIN_EXE_havre");
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Sends one message; prints `stage: code text` for each reply, stopping at
/// the first refusal.
const SEND: &str = r#"
import smtplib, sys
port, source, helo, sender, rcpts, path = sys.argv[1:7]
s = smtplib.SMTP(timeout=30, source_address=(source, 0))
code, msg = s.connect("127.0.0.1", int(port))
print("connect:", code, msg.decode())
if code == 220:
    code, msg = s.ehlo(helo)
    code, msg = s.docmd("MAIL", "FROM:<%s>" % sender)
    print("mail:", code, msg.decode())
    ok = code == 250
    for rcpt in rcpts.split(","):
        if ok:
            code, msg = s.docmd("RCPT", "TO:<%s>" % rcpt)
            print("rcpt:", code, msg.decode())
            ok = code == 250
    if ok:
        try:
            code, msg = s.data(open(path, "rb").read())
        except smtplib.SMTPDataError as e:
            code, msg = e.smtp_code, e.smtp_error
        print("data:", code, msg.decode())
    s.quit()
"#;

struct Client<'a> {
    node: &'a Havre,
    dir: PathBuf,
}

impl Client<'_> {
    /// Sends `message` from `source` and returns the replies.
    fn send(&self, source: &str, helo: &str, sender: &str, rcpt: &str, message: &str) -> String {
        let path = self.dir.join(format!("msg-{}", rand_suffix()));
        std::fs::write(&path, message).unwrap();
        let port = self.node.smtp_port.to_string();
        havre_testkit::python_ok(
            SEND,
            &[&port, source, helo, sender, rcpt, path.to_str().unwrap()],
        )
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// A message with CRLF line ends.
fn message(from: &str, subject: &str, extra: &str, body: &str) -> String {
    format!(
        "{extra}From: {from}\r\nTo: alice@example.test\r\nSubject: {subject}\r\n\
         Date: Fri, 4 Dec 2026 10:00:00 +0000\r\nMessage-ID: <{subject}@test>\r\n\r\n{body}\r\n"
    )
    .replace("\r\n\r\n\r\n", "\r\n\r\n")
}

/// `message` with a DKIM-Signature made by `key` for `domain`/`selector`.
fn signed(key: impl SigningKey, domain: &str, selector: &str, message: &str) -> String {
    let signature = DkimSigner::from_key(key)
        .domain(domain)
        .selector(selector)
        .headers(["From", "To", "Subject", "Date", "Message-ID"])
        .sign(message.as_bytes())
        .unwrap();
    format!("{}{message}", signature.to_header())
}

/// An RSA key that signs rsa-sha1 (RFC 8301 forbids it; mail-auth's own
/// keys cannot, ring will not sign SHA-1, so the test does it with `rsa`).
struct RsaSha1(rsa::RsaPrivateKey);

impl SigningKey for RsaSha1 {
    type Hasher = Sha1;

    fn sign(&self, input: impl Writable) -> mail_auth::Result<Vec<u8>> {
        let mut data = Vec::new();
        input.write(&mut data);
        let digest = HashAlgorithm::Sha1.hash(&data[..]);
        // DigestInfo of SHA-1 (RFC 8017 9.2), then the digest.
        let mut info = vec![
            0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
            0x14,
        ];
        info.extend_from_slice(digest.as_ref());
        Ok(self
            .0
            .sign(rsa::Pkcs1v15Sign::new_unprefixed(), &info)
            .unwrap())
    }

    fn algorithm(&self) -> Algorithm {
        Algorithm::RsaSha1
    }
}

/// The keys the test signs with, and their DNS records.
struct Keys {
    ed: Vec<u8>,
    ed_public: String,
    rsa: rsa::RsaPrivateKey,
    rsa_public: String,
}

impl Keys {
    fn new() -> Keys {
        use rsa::pkcs8::EncodePublicKey as _;
        let ed = Ed25519Key::generate_pkcs8().unwrap();
        let ed_public = B64.encode(Ed25519Key::from_pkcs8_der(&ed).unwrap().public_key());
        let rsa = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 1024).unwrap();
        let rsa_public = B64.encode(rsa.to_public_key().to_public_key_der().unwrap().as_bytes());
        Keys {
            ed,
            ed_public,
            rsa,
            rsa_public,
        }
    }

    fn ed(&self) -> Ed25519Key {
        Ed25519Key::from_pkcs8_der(&self.ed).unwrap()
    }
}

/// The zone of every name the tests use.
fn zone(keys: &Keys) -> String {
    format!(
        r#"
pass.test.                  TXT "v=spf1 ip4:127.0.0.0/8 -all"
fail.test.                  TXT "v=spf1 -all"
soft.test.                  TXT "v=spf1 ~all"
none.test.                  A   192.0.2.1
spam.test.                  A   192.0.2.1
signed.test.                A   192.0.2.1
sel._domainkey.signed.test. TXT "v=DKIM1; k=ed25519; p={ed}"
sha1only._domainkey.signed.test. TXT "v=DKIM1; k=ed25519; h=sha1; p={ed}"
old._domainkey.signed.test. TXT "v=DKIM1; k=rsa; p={rsa}"
_dmarc.signed.test.         TXT "v=DMARC1; p=none"
_dmarc.reject.test.         TXT "v=DMARC1; p=reject"
_dmarc.quarantine.test.     TXT "v=DMARC1; p=quarantine"
3.0.0.127.bl.test.          A   127.0.0.2
3.0.0.127.bl.test.          TXT "Listed by the test list, see https://bl.test/127.0.0.3"
spam.test.dbl.test.         A   127.0.1.2
"#,
        ed = keys.ed_public,
        rsa = keys.rsa_public,
    )
}

/// The stored message of alice (INBOX or a folder) whose Subject is
/// `subject`, waiting for its delivery.
fn stored(node: &Havre, folder: &str, subject: &str) -> String {
    let root = node.maildir("alice@example.test");
    let dir = if folder == "INBOX" {
        root
    } else {
        root.join(format!(".{folder}"))
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        for sub in ["new", "cur"] {
            for entry in std::fs::read_dir(dir.join(sub))
                .into_iter()
                .flatten()
                .flatten()
            {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                if text.contains(&format!("Subject: {subject}\n")) {
                    return text;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "no message {subject:?} in {folder}:\n{}",
            node.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The value of the first `name:` field of a stored (LF) message, unfolded.
fn field(message: &str, name: &str) -> String {
    let head = message.split("\n\n").next().unwrap_or("");
    let mut out: Option<String> = None;
    for line in head.lines() {
        match &mut out {
            Some(value) if line.starts_with([' ', '\t']) => value.push_str(line),
            Some(_) => break,
            None => {
                if let Some((n, v)) = line.split_once(':')
                    && n.eq_ignore_ascii_case(name)
                {
                    out = Some(v.trim().to_owned());
                }
            }
        }
    }
    out.unwrap_or_else(|| panic!("no {name}: in\n{message}"))
}

fn mx_node(dns: &TestDns) -> Havre {
    let mut node = Havre::init(BIN);
    node.add_user("alice@example.test");
    node.set("dns.nameservers", &format!("[\"{}\"]", dns.addr()));
    // A list the test serves, and one it does not (its lookups fail).
    node.set(
        "mx.dnsbl",
        r#"["bl.test=127.0.0.[2..11]", "down.invalid.example"]"#,
    );
    // Rules of the connect and HELO stages, after the shipped ones.
    let mut config = std::fs::read_to_string(node.config_path()).unwrap();
    config.push_str(
        r#"
[[policy.rules]]
name = "no-client-4"
stage = "connect"
client_address = "127.0.0.4"
action = "reject"
text = "Go away"

[[policy.rules]]
name = "no-bad-helo"
stage = "helo"
helo = "bad.helo.test"
action = "reject"
text = "Bad HELO"
"#,
    );
    std::fs::write(node.config_path(), config).unwrap();
    node
}

#[tokio::test(flavor = "multi_thread")]
async fn mail_from_the_internet_is_judged_by_dns_lists_spf_dkim_and_dmarc() {
    let keys = Keys::new();
    let dns = TestDns::start("test", &zone(&keys)).await.unwrap();
    let mut node = mx_node(&dns);
    node.start();
    let work = tempfile::tempdir().unwrap();
    let client = Client {
        node: &node,
        dir: work.path().to_path_buf(),
    };
    let node = &node;
    tokio::task::block_in_place(|| {
        spf_results_are_recorded_and_a_fail_is_refused(&client, node);
        dkim_signatures_pass_fail_and_rsa_sha1_or_a_keys_hashes_are_refused(&client, node, &keys);
        dmarc_reject_is_refused_and_quarantine_goes_to_junk(&client, node);
        a_forged_authentication_results_claiming_this_host_is_removed(&client, node);
        the_client_is_named_by_its_confirmed_reverse_name(&client, node);
        a_listed_client_or_sender_is_refused_as_postfix_does(&client, node);
        rules_refuse_a_client_at_connect_and_a_helo_name(node);
    });
}

fn spf_results_are_recorded_and_a_fail_is_refused(client: &Client, node: &Havre) {
    let rcpt = "alice@example.test";
    for (domain, word) in [
        ("pass.test", "pass"),
        ("soft.test", "softfail"),
        ("none.test", "none"),
    ] {
        let subject = format!("spf-{word}");
        let out = client.send(
            "127.0.0.1",
            "client.test",
            &format!("bob@{domain}"),
            rcpt,
            &message(&format!("bob@{domain}"), &subject, "", "hello"),
        );
        assert!(out.contains("data: 250"), "{out}");
        let m = stored(node, "INBOX", &subject);
        let received_spf = field(&m, "Received-SPF");
        assert!(
            received_spf.starts_with(&format!("{word} (mx.example.test: ")),
            "{received_spf}"
        );
        assert!(
            received_spf.contains("client-ip=127.0.0.1;"),
            "{received_spf}"
        );
        let results = field(&m, "Authentication-Results");
        assert!(
            results.starts_with(&format!(
                "mx.example.test; spf={word} smtp.mailfrom=bob@{domain};"
            )),
            "{results}"
        );
        // The checks' headers come right after our Received:.
        let lines: Vec<&str> = m.lines().collect();
        let received = lines
            .iter()
            .position(|l| l.starts_with("Received: from"))
            .unwrap();
        assert!(
            lines[received + 1..]
                .iter()
                .find(|l| !l.starts_with([' ', '\t']))
                .unwrap()
                .starts_with("Received-SPF:"),
            "{m}"
        );
    }
    // policyd-spf's default: a fail is refused at MAIL.
    let out = client.send(
        "127.0.0.1",
        "client.test",
        "bob@fail.test",
        rcpt,
        &message("bob@fail.test", "spf-fail", "", "hello"),
    );
    assert!(
        out.contains("mail: 550 5.7.23 <bob@fail.test>: Sender address rejected: Message rejected due to: SPF fail - not authorized"),
        "{out}"
    );
}

fn dkim_signatures_pass_fail_and_rsa_sha1_or_a_keys_hashes_are_refused(
    client: &Client,
    node: &Havre,
    keys: &Keys,
) {
    let send = |subject: &str, text: &str| {
        let out = client.send(
            "127.0.0.1",
            "client.test",
            "news@signed.test",
            "alice@example.test",
            text,
        );
        assert!(out.contains("data: 250"), "{out}");
        field(&stored(node, "INBOX", subject), "Authentication-Results")
    };
    let plain = message("news@signed.test", "dkim-pass", "", "Signed body.");
    let results = send(
        "dkim-pass",
        &signed(keys.ed(), "signed.test", "sel", &plain),
    );
    assert!(
        results.contains(
            "dkim=pass header.d=signed.test header.s=sel header.a=ed25519-sha256 header.b="
        ),
        "{results}"
    );
    assert!(
        results.contains("dmarc=pass (p=none dis=none) header.from=signed.test"),
        "{results}"
    );

    let plain = message("news@signed.test", "dkim-altered", "", "Signed body.");
    let altered =
        signed(keys.ed(), "signed.test", "sel", &plain).replace("Signed body.", "Altered body.");
    let results = send("dkim-altered", &altered);
    assert!(
        results.contains("dkim=fail (body hash did not verify) header.d=signed.test"),
        "{results}"
    );
    assert!(
        results.contains("dmarc=fail (p=none dis=none)"),
        "{results}"
    );

    let plain = message("news@signed.test", "dkim-sha1", "", "Signed body.");
    let results = send(
        "dkim-sha1",
        &signed(RsaSha1(keys.rsa.clone()), "signed.test", "old", &plain),
    );
    assert!(
        results.contains("dkim=policy (rsa-sha1 is not accepted, RFC 8301) header.d=signed.test header.s=old header.a=rsa-sha1"),
        "{results}"
    );
    assert!(results.contains("dmarc=fail"), "{results}");

    let plain = message("news@signed.test", "dkim-hashes", "", "Signed body.");
    let results = send(
        "dkim-hashes",
        &signed(keys.ed(), "signed.test", "sha1only", &plain),
    );
    assert!(
        results.contains(
            "dkim=policy (the key sha1only._domainkey.signed.test allows h=sha1 only, not sha256)"
        ),
        "{results}"
    );
}

fn dmarc_reject_is_refused_and_quarantine_goes_to_junk(client: &Client, node: &Havre) {
    // The envelope passes SPF, but for another domain than the From: one.
    let out = client.send(
        "127.0.0.1",
        "client.test",
        "bounce@pass.test",
        "alice@example.test",
        &message("ceo@reject.test", "dmarc-reject", "", "Wire the money."),
    );
    assert!(
        out.contains("data: 550 5.7.1 Email rejected per DMARC policy for reject.test"),
        "{out}"
    );
    let log = node.wait_for_log("Email rejected per DMARC policy", 1);
    assert!(
        log.contains("reject: END-OF-MESSAGE from localhost[127.0.0.1]"),
        "{log}"
    );

    let out = client.send(
        "127.0.0.1",
        "client.test",
        "bounce@pass.test",
        "alice@example.test",
        &message("ceo@quarantine.test", "dmarc-quarantine", "", "Maybe."),
    );
    assert!(out.contains("data: 250"), "{out}");
    let m = stored(node, "Junk", "dmarc-quarantine");
    assert!(
        field(&m, "Authentication-Results")
            .contains("dmarc=fail (p=quarantine dis=quarantine) header.from=quarantine.test"),
        "{m}"
    );
    node.wait_for_log("quarantined: delivered to Junk", 1);
}

fn a_forged_authentication_results_claiming_this_host_is_removed(client: &Client, node: &Havre) {
    let forged = "Authentication-Results: mx.example.test; dkim=pass header.d=bank.test\r\n\
                  Authentication-Results: elsewhere.test; spf=pass\r\n\
                  X-Havre-Quarantine: none\r\n";
    let out = client.send(
        "127.0.0.1",
        "client.test",
        "bob@pass.test",
        "alice@example.test",
        &message("bob@pass.test", "forged-results", forged, "hello"),
    );
    assert!(out.contains("data: 250"), "{out}");
    let m = stored(node, "INBOX", "forged-results");
    assert!(!m.contains("bank.test"), "{m}");
    assert!(!m.contains("X-Havre-Quarantine"), "{m}");
    assert!(
        m.contains("Authentication-Results: elsewhere.test; spf=pass"),
        "{m}"
    );
    assert_eq!(
        m.matches("Authentication-Results: mx.example.test;")
            .count(),
        1,
        "{m}"
    );
}

fn the_client_is_named_by_its_confirmed_reverse_name(client: &Client, node: &Havre) {
    for (source, name) in [("127.0.0.1", "localhost"), ("127.0.0.2", "unknown")] {
        let subject = format!("rdns-{source}");
        let out = client.send(
            source,
            "client.test",
            "bob@pass.test",
            "alice@example.test",
            &message("bob@pass.test", &subject, "", "hello"),
        );
        assert!(out.contains("data: 250"), "{out}");
        let m = stored(node, "INBOX", &subject);
        assert!(
            m.contains(&format!("Received: from client.test ({name} [{source}])")),
            "{m}"
        );
        let log = node.wait_for_log(&format!("connect from {name}[{source}]"), 1);
        assert!(log.contains(&format!("client={name}[{source}]")), "{log}");
    }
    let log = node.log();
    assert!(
        log.contains("hostname localhost does not resolve to address 127.0.0.2"),
        "{log}"
    );
}

fn a_listed_client_or_sender_is_refused_as_postfix_does(client: &Client, node: &Havre) {
    let out = client.send(
        "127.0.0.3",
        "client.test",
        "bob@pass.test",
        "alice@example.test",
        &message("bob@pass.test", "listed", "", "hello"),
    );
    assert!(
        out.contains("rcpt: 554 5.7.1 Service unavailable; Client host [127.0.0.3] blocked using bl.test; Listed by the test list, see https://bl.test/127.0.0.3"),
        "{out}"
    );
    // The list that cannot be asked counted as not listing anyone.
    let log = node.wait_for_log(
        "DNS list lookup of 1.0.0.127.down.invalid.example failed",
        1,
    );
    assert!(log.contains("counted as not listed"), "{log}");

    // A reload adds a domain list: the next sessions use it.
    let before = node.log().matches("reload: done").count();
    node.cli_ok(&["config", "set", "mx.rhsbl", r#"["dbl.test"]"#]);
    node.cli_ok(&["reload"]);
    node.wait_for_log("reload: done", before + 1);
    let out = client.send(
        "127.0.0.1",
        "client.test",
        "bob@spam.test",
        "alice@example.test",
        &message("bob@spam.test", "rhsbl", "", "hello"),
    );
    assert!(
        out.contains(
            "rcpt: 554 5.7.1 Service unavailable; Sender address [spam.test] blocked using dbl.test"
        ),
        "{out}"
    );
}

fn rules_refuse_a_client_at_connect_and_a_helo_name(node: &Havre) {
    let out = havre_testkit::python_ok(
        r#"
import socket, sys
def talk(source, lines):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30, source_address=(source, 0))
    f = s.makefile("rb")
    print(source, f.readline().decode().strip())
    for line in lines:
        s.sendall(line.encode() + b"\r\n")
        reply = f.readline().decode().strip()
        while reply[3:4] == "-":
            reply = f.readline().decode().strip()
        print(source, line, "->", reply)
    s.close()
talk("127.0.0.4", ["EHLO client.test", "MAIL FROM:<a@pass.test>", "QUIT"])
talk("127.0.0.1", ["EHLO bad.helo.test", "MAIL FROM:<a@pass.test>", "EHLO client.test", "QUIT"])
"#,
        &[&node.smtp_port.to_string()],
    );
    let expected = [
        "127.0.0.4 554 5.7.1 <unknown[127.0.0.4]>: Client host rejected: Go away",
        "127.0.0.4 EHLO client.test -> 503 5.5.1 Error: access denied, send QUIT",
        "127.0.0.4 MAIL FROM:<a@pass.test> -> 503 5.5.1",
        "127.0.0.4 QUIT -> 221",
        "127.0.0.1 EHLO bad.helo.test -> 554 5.7.1 <bad.helo.test>: Helo command rejected: Bad HELO",
        "127.0.0.1 MAIL FROM:<a@pass.test> -> 503 5.5.1 Error: send HELO/EHLO first",
        "127.0.0.1 EHLO client.test -> 250 ",
    ];
    for line in expected {
        assert!(out.contains(line), "{line:?} not in\n{out}");
    }
}

/// Postgrey's behaviour over SMTP: the first attempt of a triplet gets 450,
/// a retry after the delay 250 and `X-Greylist:`; a client that passed 5
/// times is no longer greylisted. The 4 earlier passes (each more than an
/// hour apart, as Postgrey counts them) are in the state before the start.
#[tokio::test(flavor = "multi_thread")]
async fn greylisting_defers_a_new_triplet_accepts_it_after_the_delay_and_whitelists_after_five() {
    let dns = TestDns::start("test", "pass.test. TXT \"v=spf1 ip4:127.0.0.0/8 -all\"\n")
        .await
        .unwrap();
    let mut node = Havre::init(BIN);
    node.add_user("alice@example.test");
    node.add_user("bob@example.test");
    node.set("dns.nameservers", &format!("[\"{}\"]", dns.addr()));
    node.set("greylist.enabled", "true");
    node.set("greylist.delay", "\"2s\"");
    node.set("greylist.auto_whitelist_clients", "5");
    {
        use havre_state::{Persist, State as _};
        let state = havre_state::EmbeddedState::open(&node.data_dir().join("state.db"))
            .await
            .unwrap();
        let hours_ago = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            - 7200;
        state
            .set(
                "awl:127.0.0.1",
                &format!("4,{hours_ago}"),
                Some(Duration::from_secs(86_400)),
                Persist::Durable,
            )
            .await
            .unwrap();
    }
    node.start();
    let work = tempfile::tempdir().unwrap();
    let client = Client {
        node: &node,
        dir: work.path().to_path_buf(),
    };
    tokio::task::block_in_place(|| {
        let text = message("bob@pass.test", "greylisted", "", "hello");
        let first = client.send(
            "127.0.0.1",
            "client.test",
            "bob@pass.test",
            "alice@example.test",
            &text,
        );
        assert!(
            first.contains("rcpt: 450 4.7.1 <alice@example.test>: Recipient address rejected: Greylisted, please try again in 2 seconds"),
            "{first}"
        );
        std::thread::sleep(Duration::from_millis(2100));
        let retry = client.send(
            "127.0.0.1",
            "client.test",
            "bob@pass.test",
            "alice@example.test",
            &text,
        );
        assert!(retry.contains("data: 250"), "{retry}");
        let m = stored(&node, "INBOX", "greylisted");
        let header = field(&m, "X-Greylist");
        assert!(header.starts_with("delayed "), "{header}");
        assert!(header.contains("at mx.example.test"), "{header}");
        let log = node.wait_for_log("auto-whitelisted after 5 successful retries", 1);
        assert!(log.contains("localhost[127.0.0.1]"), "{log}");

        // Whitelisted: a triplet never seen passes at once.
        let fresh = client.send(
            "127.0.0.1",
            "client.test",
            "carol@pass.test",
            "bob@example.test",
            &message("carol@pass.test", "whitelisted", "", "hello"),
        );
        assert!(fresh.contains("data: 250"), "{fresh}");
        // Another client is still greylisted.
        let other = client.send(
            "127.0.0.2",
            "client.test",
            "carol@pass.test",
            "alice@example.test",
            &message("carol@pass.test", "other", "", "hello"),
        );
        assert!(other.contains("rcpt: 450 4.7.1"), "{other}");
    });
}

/// The shipped rules: class student 10 messages a minute, staff 60.
#[test]
fn a_students_11th_message_in_a_minute_is_deferred_and_staff_are_not_limited_at_11() {
    let mut node = Havre::init(BIN);
    for (user, class) in [
        ("stu@example.test", "student"),
        ("prof@example.test", "staff"),
    ] {
        let out = node.cli_with_stdin(
            &["user", "add", user, "--password-stdin", "--class", class],
            "secret\n",
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    node.add_user("alice@example.test");
    node.start();
    let out = havre_testkit::python_ok(
        r#"
import smtplib, ssl, sys
port = int(sys.argv[1])
for user in ["stu@example.test", "prof@example.test"]:
    s = smtplib.SMTP("127.0.0.1", port, timeout=30)
    ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
    s.starttls(context=ctx); s.login(user, "secret")
    for n in range(1, 12):
        s.mail(user)
        code, msg = s.rcpt("alice@example.test")
        if code == 250:
            code, msg = s.data(b"Subject: %d\r\n\r\nhi\r\n" % n)
        else:
            s.rset()
        print(user, n, code, msg.decode())
    s.quit()
"#,
        &[&node.submission_port.to_string()],
    );
    for n in 1..=10 {
        assert!(out.contains(&format!("stu@example.test {n} 250 ")), "{out}");
    }
    assert!(
        out.contains("stu@example.test 11 450 4.7.1 <alice@example.test>: Recipient address rejected: Rate limit exceeded: 10 messages per minute for class student"),
        "{out}"
    );
    for n in 1..=11 {
        assert!(
            out.contains(&format!("prof@example.test {n} 250 ")),
            "{out}"
        );
    }
    let log = node.wait_for_log("Rate limit exceeded", 1);
    assert!(log.contains("check=rule student-rate"), "{log}");
}
