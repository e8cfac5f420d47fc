//! DKIM verification (mail-auth), with what RFC 8301 and RFC 6376 forbid
//! refused on top of it, and each signature's `dkim=` part.

use base64::Engine as _;
use havre_spf::Dns;
use mail_auth::common::crypto::Algorithm;
use mail_auth::dkim::{DkimError, Signature};
use mail_auth::{AuthenticatedMessage, DkimOutput, DkimResult, Error, MessageAuthenticator};

use crate::results::{comment, value};

/// Signatures verified at most per message: each costs a DNS lookup and a
/// public-key operation, and a message may carry thousands.
pub(crate) const MAX_SIGNATURES: usize = 10;

/// The DKIM verdicts of a message.
pub(crate) struct Report<'x> {
    /// What DMARC may count: mail-auth's outputs without the refused ones.
    pub for_dmarc: Vec<DkimOutput<'x>>,
    /// One `dkim=` part per signature, or `dkim=none`.
    pub parts: Vec<String>,
    /// The short form for the log: `pass`, `fail`, `none`, `pass,policy`...
    pub summary: String,
}

pub(crate) async fn verify<'x>(
    authenticator: &MessageAuthenticator,
    dns: &dyn Dns,
    message: &'x AuthenticatedMessage<'x>,
) -> Report<'x> {
    let outputs = authenticator.verify_dkim(message).await;
    let mut report = Report {
        for_dmarc: Vec::new(),
        parts: Vec::new(),
        summary: String::new(),
    };
    let mut words = Vec::new();
    for output in outputs {
        let refused = match (output.result(), output.signature()) {
            (DkimResult::Pass, Some(signature)) => refusal(dns, signature).await,
            _ => None,
        };
        let (word, why) = match &refused {
            Some(why) => ("policy", Some(why.clone())),
            None => result_word(output.result()),
        };
        let mut part = format!("dkim={word}");
        if let Some(why) = why {
            part.push_str(&format!(" ({})", comment(&why)));
        }
        if let Some(signature) = output.signature() {
            part.push_str(&properties(signature));
        }
        report.parts.push(part);
        words.push(word);
        if refused.is_none() {
            report.for_dmarc.push(output);
        }
    }
    if report.parts.is_empty() {
        report.parts.push("dkim=none".into());
        words.push("none");
    }
    words.dedup();
    report.summary = words.join(",");
    report
}

/// Why a signature mail-auth passed is refused here, if it is.
async fn refusal(dns: &dyn Dns, signature: &Signature) -> Option<String> {
    if signature.a == Algorithm::RsaSha1 {
        return Some("rsa-sha1 is not accepted, RFC 8301".into());
    }
    // The key record's h= lists the hashes it may be used with (RFC 6376
    // 3.6.1); mail-auth does not look. The record was just fetched: this
    // lookup is answered by the resolver's cache.
    let name = format!("{}._domainkey.{}", signature.s, signature.d);
    let records = dns.txt(&name).await.ok()?;
    let record = records
        .iter()
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .find(|r| tag(r, "p").is_some())?;
    let hashes = tag(&record, "h")?;
    let ours = "sha256";
    let allowed = hashes
        .split(':')
        .any(|h| h.trim().eq_ignore_ascii_case(ours));
    (!allowed).then(|| format!("the key {name} allows h={hashes} only, not {ours}"))
}

/// The value of `name=` in a tag list (`v=DKIM1; h=sha256; p=...`).
fn tag<'a>(record: &'a str, name: &str) -> Option<&'a str> {
    record.split(';').find_map(|t| {
        let (k, v) = t.split_once('=')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// RFC 8601's result word and a reason for anything but a pass. A body
/// hash that does not match is a failed verification (RFC 6376 6.1.3:
/// PERMFAIL), where mail-auth says neutral.
fn result_word(result: &DkimResult) -> (&'static str, Option<String>) {
    match result {
        DkimResult::Pass => ("pass", None),
        DkimResult::Neutral(Error::Dkim(DkimError::FailedBodyHashMatch)) => {
            ("fail", Some("body hash did not verify".into()))
        }
        DkimResult::Neutral(e) => ("neutral", Some(e.to_string())),
        DkimResult::Fail(e) => ("fail", Some(e.to_string())),
        DkimResult::PermError(e) => ("permerror", Some(e.to_string())),
        DkimResult::TempError(e) => ("temperror", Some(e.to_string())),
        DkimResult::None => ("none", None),
    }
}

/// ` header.d=... header.i=... header.s=... header.a=... header.b=...`
/// (RFC 8601 2.7.1, RFC 6008: the first 8 characters of `b=`).
fn properties(signature: &Signature) -> String {
    let mut out = format!(" header.d={}", value(&signature.d));
    if !signature.i.is_empty() {
        out.push_str(&format!(" header.i={}", value(&signature.i)));
    }
    out.push_str(&format!(" header.s={}", value(&signature.s)));
    let algorithm = match signature.a {
        Algorithm::RsaSha1 => "rsa-sha1",
        Algorithm::RsaSha256 => "rsa-sha256",
        Algorithm::Ed25519Sha256 => "ed25519-sha256",
    };
    out.push_str(&format!(" header.a={algorithm}"));
    let b = base64::engine::general_purpose::STANDARD.encode(&signature.b);
    let short: String = b.chars().take(8).collect();
    if !short.is_empty() {
        out.push_str(&format!(" header.b={}", value(&short)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_of_a_key_record() {
        let record = "v=DKIM1; h = sha1 : sha256 ; k=rsa; p=MIIB";
        assert_eq!(tag(record, "h"), Some("sha1 : sha256"));
        assert_eq!(tag(record, "P"), Some("MIIB"));
        assert_eq!(tag(record, "t"), None);
    }

    #[test]
    fn a_body_hash_mismatch_is_a_failure() {
        assert_eq!(
            result_word(&DkimResult::Neutral(Error::Dkim(
                DkimError::FailedBodyHashMatch
            ))),
            ("fail", Some("body hash did not verify".into()))
        );
        assert_eq!(result_word(&DkimResult::Pass), ("pass", None));
    }
}
