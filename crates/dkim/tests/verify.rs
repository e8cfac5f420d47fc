//! Signatures made with generated keys verify with mail-auth's verifier
//! against the record `dns_txt` gives, served by a loopback DNS server; a
//! changed message does not.

use std::path::Path;
use std::time::{Duration, Instant};

use havre_dkim::{Algorithm, KeyInfo, Signers, generate, load};
use havre_testkit::dns::TestDns;
use mail_auth::hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use mail_auth::{AuthenticatedMessage, DkimResult, MessageAuthenticator};

const MESSAGE: &str = "Received: from client.example.net by mx.example.test\r\n\
From: Alice <alice@example.test>\r\n\
To: bob@example.net\r\n\
Subject: Quarterly report\r\n\
Date: Sun, 15 Nov 2026 10:00:00 +0100\r\n\
Message-ID: <r1@example.test>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
The numbers are in.\r\n\
\r\n\
Alice\r\n";

/// A verifier that asks only `dns`.
fn authenticator(dns: &TestDns) -> MessageAuthenticator {
    let mut connection = ConnectionConfig::udp();
    connection.port = dns.addr().port();
    let ns = NameServerConfig::new(dns.addr().ip(), true, vec![connection]);
    let config = ResolverConfig::from_parts(None, vec![], vec![ns]);
    let mut opts = ResolverOpts::default();
    opts.use_hosts_file = ResolveHosts::Never;
    opts.timeout = Duration::from_secs(2);
    opts.attempts = 1;
    MessageAuthenticator::new(config, opts).unwrap()
}

/// The DKIM results of `message` when `keys` are published.
async fn verify(keys: &[&KeyInfo], message: &[u8]) -> Vec<DkimResult> {
    let zone: String = keys.iter().map(|k| k.zone_record() + "\n").collect();
    let dns = TestDns::start("example.test", &zone).await.unwrap();
    let auth = authenticator(&dns);
    let parsed = AuthenticatedMessage::parse(message).unwrap();
    auth.verify_dkim(&parsed)
        .await
        .into_iter()
        .map(|out| out.result().clone())
        .collect()
}

fn signed(signature: &str, message: &str) -> Vec<u8> {
    format!("{signature}{message}").into_bytes()
}

fn key(dir: &Path, selector: &str, algorithm: Algorithm) -> KeyInfo {
    generate(dir, "example.test", selector, algorithm).unwrap()
}

#[tokio::test]
async fn an_rsa_signature_verifies_against_the_published_record() {
    let tmp = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let info = key(tmp.path(), "havre", Algorithm::RsaSha256);
    eprintln!("RSA key generated in {:?}", started.elapsed());
    // 2048 bits: the record does not fit one DNS string.
    assert_eq!(info.dns_txt_strings().len(), 2, "{}", info.dns_txt());
    assert!(info.dns_txt().starts_with("v=DKIM1; k=rsa; p=MIIBIjANBg"));

    let signer = load(tmp.path(), "example.test").unwrap().unwrap();
    let signature = signer.sign(MESSAGE.as_bytes()).unwrap();
    assert!(
        signature.starts_with(
            "DKIM-Signature: v=1; a=rsa-sha256; s=havre; d=example.test; c=relaxed/relaxed;"
        ),
        "{signature}"
    );
    assert!(signature.ends_with(";\r\n"), "{signature:?}");
    // Every line but the first is a continuation.
    assert!(
        signature
            .trim_end()
            .split("\r\n")
            .skip(1)
            .all(|l| l.starts_with('\t'))
    );
    let h: String = signature.replace("\r\n\t", "");
    let h = h.split("h=").nth(1).unwrap().split(';').next().unwrap();
    assert_eq!(
        h, "Content-Type:MIME-Version:Message-ID:Date:Subject:To:From:From",
        "the present fields, bottom-up, From over-signed; not Received"
    );

    let message = signed(&signature, MESSAGE);
    assert_eq!(verify(&[&info], &message).await, [DkimResult::Pass]);
}

#[tokio::test]
async fn an_ed25519_signature_verifies_against_the_published_record() {
    let tmp = tempfile::tempdir().unwrap();
    let info = key(tmp.path(), "ed", Algorithm::Ed25519Sha256);
    assert_eq!(info.dns_txt_strings().len(), 1);
    let signer = load(tmp.path(), "example.test").unwrap().unwrap();
    let signature = signer.sign(MESSAGE.as_bytes()).unwrap();
    assert!(
        signature.contains("a=ed25519-sha256; s=ed; d=example.test"),
        "{signature}"
    );
    let message = signed(&signature, MESSAGE);
    assert_eq!(verify(&[&info], &message).await, [DkimResult::Pass]);
}

#[tokio::test]
async fn a_changed_body_header_or_an_added_from_fails_verification() {
    let tmp = tempfile::tempdir().unwrap();
    let info = key(tmp.path(), "ed", Algorithm::Ed25519Sha256);
    let signer = load(tmp.path(), "example.test").unwrap().unwrap();
    let signature = signer.sign(MESSAGE.as_bytes()).unwrap();

    let body = signed(&signature, &MESSAGE.replace("are in", "are out"));
    let subject = signed(&signature, &MESSAGE.replace("Quarterly", "Yearly"));
    let second_from = signed(
        &signature,
        &MESSAGE.replace("To: bob", "From: mallory@example.test\r\nTo: bob"),
    );
    for message in [body, subject, second_from] {
        let results = verify(&[&info], &message).await;
        // mail-auth reports a body-hash mismatch as neutral, a bad
        // signature as fail: neither passes, so neither aligns for DMARC.
        assert!(
            matches!(
                results.as_slice(),
                [DkimResult::Fail(_) | DkimResult::Neutral(_)]
            ),
            "{results:?} for\n{}",
            String::from_utf8_lossy(&message)
        );
    }
    // A relay may fold or re-space what it passes on: relaxed canonicalization.
    let respaced = signed(
        &signature,
        &MESSAGE.replace("Subject: Quarterly report", "subject:  Quarterly   report"),
    );
    assert_eq!(verify(&[&info], &respaced).await, [DkimResult::Pass]);
}

#[tokio::test]
async fn the_newest_key_signs_and_the_signers_pick_the_from_domain() {
    let tmp = tempfile::tempdir().unwrap();
    let old = key(tmp.path(), "old", Algorithm::Ed25519Sha256);
    // Creation times are kept to the millisecond.
    std::thread::sleep(Duration::from_millis(5));
    let new = key(tmp.path(), "new", Algorithm::Ed25519Sha256);
    assert_eq!(
        havre_dkim::keys(tmp.path(), "example.test").unwrap(),
        [old.clone(), new.clone()]
    );
    let signers = Signers::load(tmp.path()).unwrap();
    assert_eq!(signers.domains().collect::<Vec<_>>(), ["example.test"]);
    let signer = signers.get("EXAMPLE.test.").unwrap();
    assert_eq!(signer.keys().collect::<Vec<_>>(), [&new]);

    let signature = signers.sign(MESSAGE.as_bytes(), None).unwrap().unwrap();
    assert!(signature.contains("s=new;"), "{signature}");
    let message = signed(&signature, MESSAGE);
    assert_eq!(verify(&[&old, &new], &message).await, [DkimResult::Pass]);

    // A foreign From: the envelope sender's domain signs, if local.
    let foreign = MESSAGE.replace("alice@example.test", "alice@example.net");
    assert!(signers.sign(foreign.as_bytes(), None).unwrap().is_none());
    assert!(
        signers
            .sign(foreign.as_bytes(), Some(""))
            .unwrap()
            .is_none()
    );
    let bounce = signers
        .sign(foreign.as_bytes(), Some("bounces@example.test"))
        .unwrap()
        .unwrap();
    assert!(bounce.contains("d=example.test"), "{bounce}");

    // No keys at all: nothing to sign with.
    let none = Signers::load(&tmp.path().join("missing")).unwrap();
    assert!(none.is_empty());
    assert!(
        none.sign(MESSAGE.as_bytes(), Some("a@example.test"))
            .unwrap()
            .is_none()
    );
}

#[test]
fn a_message_without_from_is_not_signed() {
    let tmp = tempfile::tempdir().unwrap();
    key(tmp.path(), "ed", Algorithm::Ed25519Sha256);
    let signer = load(tmp.path(), "example.test").unwrap().unwrap();
    let err = signer
        .sign(b"To: bob@example.net\r\nSubject: x\r\n\r\nbody\r\n")
        .unwrap_err();
    assert!(err.to_string().contains("From"), "{err}");
    assert!(load(tmp.path(), "other.test").unwrap().is_none());
}

#[tokio::test]
async fn a_domain_with_an_rsa_and_an_ed25519_key_signs_with_both() {
    let tmp = tempfile::tempdir().unwrap();
    let rsa = key(tmp.path(), "r1", Algorithm::RsaSha256);
    std::thread::sleep(Duration::from_millis(5));
    let ed = key(tmp.path(), "e1", Algorithm::Ed25519Sha256);
    std::thread::sleep(Duration::from_millis(5));
    // A newer RSA key replaces the older one; the Ed25519 key stays.
    let rsa2 = key(tmp.path(), "r2", Algorithm::RsaSha256);
    let all = havre_dkim::keys(tmp.path(), "example.test").unwrap();
    assert_eq!(havre_dkim::active_keys(&all), [&rsa2, &ed]);

    let signer = load(tmp.path(), "example.test").unwrap().unwrap();
    assert_eq!(signer.domain(), "example.test");
    assert_eq!(signer.keys().collect::<Vec<_>>(), [&rsa2, &ed]);
    let signatures = signer.sign(MESSAGE.as_bytes()).unwrap();
    assert_eq!(signatures.matches("DKIM-Signature:").count(), 2);
    assert!(
        signatures.starts_with("DKIM-Signature: v=1; a=rsa-sha256; s=r2;"),
        "{signatures}"
    );
    assert!(
        signatures.contains("\r\nDKIM-Signature: v=1; a=ed25519-sha256; s=e1;"),
        "{signatures}"
    );
    let message = signed(&signatures, MESSAGE);
    assert_eq!(
        verify(&[&rsa, &ed, &rsa2], &message).await,
        [DkimResult::Pass, DkimResult::Pass]
    );
}

/// Gives at most `n` bytes per read, as a file read in blocks might split
/// the message anywhere (the blank line after the header included).
struct Dribble<'a> {
    bytes: &'a [u8],
    n: usize,
}

impl std::io::Read for Dribble<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.n.min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

#[tokio::test]
async fn a_big_message_signed_as_it_is_read_verifies_with_both_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let rsa = key(tmp.path(), "havre", Algorithm::RsaSha256);
    let ed = key(tmp.path(), "ed", Algorithm::Ed25519Sha256);
    let signers = Signers::load(tmp.path()).unwrap();
    let line = "The numbers are in, and they are long.\r\n";
    let message = format!("{MESSAGE}{}", line.repeat(3 * 1024 * 1024 / line.len()));
    // 7 bytes at a time: the header's end straddles reads.
    let mut reader = Dribble {
        bytes: message.as_bytes(),
        n: 7,
    };
    let signature = signers
        .sign_reader(&mut reader, None)
        .unwrap()
        .expect("example.test has keys");
    assert_eq!(signature.matches("DKIM-Signature:").count(), 2);
    assert_eq!(
        verify(&[&rsa, &ed], &signed(&signature, &message)).await,
        [DkimResult::Pass, DkimResult::Pass]
    );
    // The same bytes whole: the same body hash.
    let whole = signers.sign(message.as_bytes(), None).unwrap().unwrap();
    let body_hash = |s: &str| {
        s.replace("\r\n\t", "")
            .split("bh=")
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(body_hash(&signature), body_hash(&whole));
}
