//! Signing: one domain's active key ([`Signer`]) and every domain's
//! ([`Signers`]).

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::Path;

use mail_auth::AuthenticatedMessage;
use mail_auth::common::crypto::{Algorithm as AuthAlgorithm, DkimKey, Sha256, SigningKey};
use mail_auth::common::headers::{HeaderWriter as _, Writable};
use mail_auth::dkim::{Canonicalization, DkimSigner};

use crate::DkimError;
use crate::key::{Algorithm, KeyInfo, read_key, selectors};
use crate::names::normalize_domain;

/// The header fields a signature covers, when the message has them
/// (RFC 6376 5.4.1's list, less the fields relays commonly rewrite or add,
/// such as Sender, List-*, Resent-*).
pub const SIGNED_HEADERS: [&str; 12] = [
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
];

/// The active keys of one domain: its newest key of each algorithm, so a
/// domain with an RSA and an Ed25519 key signs with both (RFC 8463 3: not
/// every receiver checks Ed25519 yet).
pub struct Signer {
    domain: String,
    /// RSA first, then Ed25519; one of each at most.
    keys: Vec<(KeyInfo, DkimKey)>,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("domain", &self.domain)
            .field("keys", &self.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Lends a key to mail-auth's builder, which takes its key by value.
struct KeyRef<'a>(&'a DkimKey);

impl SigningKey for KeyRef<'_> {
    type Hasher = Sha256;

    fn sign(&self, input: impl Writable) -> mail_auth::Result<Vec<u8>> {
        self.0.sign(input)
    }

    fn algorithm(&self) -> AuthAlgorithm {
        self.0.algorithm()
    }
}

impl Signer {
    /// The signing domain (`d=`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The keys that sign: domain, selector, algorithm, public key.
    pub fn keys(&self) -> impl Iterator<Item = &KeyInfo> {
        self.keys.iter().map(|(info, _)| info)
    }

    /// Signs `message` (the whole message as it will be sent: header, blank
    /// line, body, CRLF line ends) and returns the `DKIM-Signature:` fields
    /// to put before its first line: one per active key, each folded and
    /// ending in CRLF.
    ///
    /// Signs the fields of [`SIGNED_HEADERS`] the message has, `From` twice
    /// (over-signed), with relaxed/relaxed canonicalization and a timestamp
    /// (`t=`). CPU-bound (an RSA signature is about a millisecond in release
    /// builds): call it from a blocking thread when that matters.
    pub fn sign(&self, message: &[u8]) -> Result<String, DkimError> {
        self.sign_reader(&mut &message[..])
    }

    /// [`Self::sign`] for a message read as it goes (a spool file through
    /// a reader that gives its bytes as sent): only the header section is
    /// held in memory, the body is hashed a block at a time. Blocking.
    pub fn sign_reader(&self, message: &mut impl Read) -> Result<String, DkimError> {
        let start = read_head(message)?;
        self.sign_after(&start, message)
    }

    /// Signs the message made of `start` (its header section, and maybe
    /// the first bytes of its body) followed by what `rest` gives.
    fn sign_after(&self, start: &[u8], rest: &mut impl Read) -> Result<String, DkimError> {
        let parsed = AuthenticatedMessage::parse(start).ok_or(DkimError::NoFrom)?;
        let present = |name: &str| {
            parsed
                .headers
                .iter()
                .any(|(n, _)| n.trim_ascii().eq_ignore_ascii_case(name.as_bytes()))
        };
        if !present("From") {
            return Err(DkimError::NoFrom);
        }
        let mut names: Vec<&str> = SIGNED_HEADERS
            .iter()
            .copied()
            .filter(|name| present(name))
            .collect();
        // Listed once more than it occurs: a From added later breaks the
        // signature (RFC 6376 5.4.2, 8.15).
        names.push("From");
        let signers: Vec<_> = self
            .keys
            .iter()
            .map(|(info, key)| {
                DkimSigner::from_key(KeyRef(key))
                    .domain(info.domain.as_str())
                    .selector(info.selector.as_str())
                    .headers(names.iter().copied())
                    .header_canonicalization(Canonicalization::Relaxed)
                    .body_canonicalization(Canonicalization::Relaxed)
            })
            .collect();
        // Every key hashes the same bytes: the message is read once.
        let mut streams: Vec<_> = signers.iter().map(|s| s.sign_streaming()).collect();
        for stream in &mut streams {
            stream.write(start);
        }
        let mut block = vec![0u8; BLOCK];
        loop {
            let n = match rest.read(&mut block) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(DkimError::Read(e)),
            };
            for stream in &mut streams {
                stream.write(&block[..n]);
            }
        }
        let mut out = String::new();
        for (stream, (info, _)) in streams.into_iter().zip(&self.keys) {
            let signature = stream.finish().map_err(|e| DkimError::Sign {
                domain: info.domain.clone(),
                selector: info.selector.clone(),
                message: e.to_string(),
            })?;
            out.push_str(&signature.to_header());
        }
        Ok(out)
    }
}

/// How much is read at a time while hashing a body.
const BLOCK: usize = 64 * 1024;
/// A header section longer than this is not looked for further: signing
/// goes on with what was read (the fields to sign are in it, or the message
/// is no mail anyone would send).
const HEAD_LIMIT: usize = 1024 * 1024;

/// The first bytes of `message`: up to the blank line that ends its header
/// section at least (all of it when there is none, up to [`HEAD_LIMIT`]).
fn read_head(message: &mut impl Read) -> Result<Vec<u8>, DkimError> {
    let mut start = Vec::with_capacity(8 * 1024);
    let mut block = [0u8; 8 * 1024];
    while start.len() < HEAD_LIMIT {
        let n = match message.read(&mut block) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(DkimError::Read(e)),
        };
        // The blank line may straddle two reads.
        let from = start.len().saturating_sub(3);
        start.extend_from_slice(&block[..n]);
        if start[from..].windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    Ok(start)
}

/// The keys that sign among `keys` (one domain's): the newest of each
/// algorithm, RSA first. Older keys are only kept published.
pub fn active_keys(keys: &[KeyInfo]) -> Vec<&KeyInfo> {
    let mut out: Vec<&KeyInfo> = Vec::new();
    for algorithm in [Algorithm::RsaSha256, Algorithm::Ed25519Sha256] {
        if let Some(newest) = keys
            .iter()
            .filter(|k| k.algorithm == algorithm)
            .max_by(|a, b| (a.created, &a.selector).cmp(&(b.created, &b.selector)))
        {
            out.push(newest);
        }
    }
    out
}

/// The signer of `domain`: its newest key of each algorithm under `dir`
/// (the directory of [`crate::keys_dir`]), or `None` when it has no key.
pub fn load(dir: &Path, domain: &str) -> Result<Option<Signer>, DkimError> {
    let domain = normalize_domain(domain)?;
    let mut all = Vec::new();
    for selector in selectors(dir, &domain)? {
        all.push(read_key(dir, &domain, &selector)?);
    }
    let infos: Vec<KeyInfo> = all.iter().map(|(info, _)| info.clone()).collect();
    let active: Vec<(String, Algorithm)> = active_keys(&infos)
        .into_iter()
        .map(|k| (k.selector.clone(), k.algorithm))
        .collect();
    let mut keys: Vec<(KeyInfo, DkimKey)> = all
        .into_iter()
        .filter(|(info, _)| active.contains(&(info.selector.clone(), info.algorithm)))
        .collect();
    keys.sort_by_key(|(info, _)| info.algorithm != Algorithm::RsaSha256);
    Ok((!keys.is_empty()).then_some(Signer { domain, keys }))
}

/// The active key of every domain that has one: loaded once when the node
/// starts, then shared (it is `Send + Sync`; wrap it in an `Arc`).
#[derive(Debug, Default)]
pub struct Signers {
    by_domain: BTreeMap<String, Signer>,
}

impl Signers {
    /// Every domain's active key under `dir` (the directory of
    /// [`crate::keys_dir`]); none when `dir` does not exist. A key that cannot
    /// be read is an error naming its file: better not to start than to send
    /// mail that fails DMARC.
    pub fn load(dir: &Path) -> Result<Signers, DkimError> {
        let mut by_domain = BTreeMap::new();
        for domain in crate::key::domains(dir)? {
            if let Some(signer) = load(dir, &domain)? {
                by_domain.insert(domain, signer);
            }
        }
        Ok(Signers { by_domain })
    }

    /// No keys at all (or signing turned off: `Signers::default()`).
    pub fn is_empty(&self) -> bool {
        self.by_domain.is_empty()
    }

    /// The domains that have a key, sorted.
    pub fn domains(&self) -> impl Iterator<Item = &str> {
        self.by_domain.keys().map(String::as_str)
    }

    /// The signer of `domain` (any case, trailing dot or U-labels accepted).
    pub fn get(&self, domain: &str) -> Option<&Signer> {
        let domain = normalize_domain(domain).ok()?;
        self.by_domain.get(&domain)
    }

    /// The signer for a message: the key of its `From:` domain (the one
    /// DMARC aligns with), else that of the envelope sender's domain
    /// (`MAIL FROM`; `None` or `""` for a bounce).
    pub fn signer_for(&self, message: &[u8], envelope_sender: Option<&str>) -> Option<&Signer> {
        if self.is_empty() {
            return None;
        }
        let domain_of = |address: &str| address.rsplit_once('@').map(|(_, d)| d.to_owned());
        let from = AuthenticatedMessage::parse(message)
            .and_then(|m| m.from.first().and_then(|a| domain_of(a)));
        from.and_then(|d| self.get(&d)).or_else(|| {
            envelope_sender
                .and_then(domain_of)
                .and_then(|d| self.get(&d))
        })
    }

    /// Signs `message` with [`Self::signer_for`]'s key: the
    /// `DKIM-Signature:` field to put before the message (CRLF-terminated),
    /// or `None` when no local domain of the message has a key.
    pub fn sign(
        &self,
        message: &[u8],
        envelope_sender: Option<&str>,
    ) -> Result<Option<String>, DkimError> {
        self.sign_reader(&mut &message[..], envelope_sender)
    }

    /// [`Self::sign`] for a message read as it goes (see
    /// [`Signer::sign_reader`]). Blocking; reads nothing when there is no key.
    pub fn sign_reader(
        &self,
        message: &mut impl Read,
        envelope_sender: Option<&str>,
    ) -> Result<Option<String>, DkimError> {
        if self.is_empty() {
            return Ok(None);
        }
        let start = read_head(message)?;
        self.signer_for(&start, envelope_sender)
            .map(|signer| signer.sign_after(&start, message))
            .transpose()
    }
}

// The relay shares one `Signers` between its delivery tasks.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Signers>();
};
