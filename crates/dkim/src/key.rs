//! Key files: generation, listing, reading, and the DNS record of a key.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, SecondsFormat, SubsecRound as _, Utc};
use mail_auth::common::crypto::{DkimKey, Ed25519Key, RsaKey, Sha256};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde::{Deserialize, Serialize};

use crate::DkimError;
use crate::files::{create_private_dir, sync_dir, write_private};
use crate::names::{normalize_domain, normalize_selector};

/// Size of the RSA keys havre generates (RFC 8301: at least 1024, 2048
/// recommended; 4096-bit records do not fit a single DNS string and some DNS
/// hosting panels refuse them).
pub const RSA_BITS: usize = 2048;

/// A signing algorithm (the `a=` tag of a signature).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// rsa-sha256 with a 2048-bit key: what every receiver verifies.
    RsaSha256,
    /// ed25519-sha256 (RFC 8463): short keys, but not every receiver checks it.
    Ed25519Sha256,
}

impl Algorithm {
    /// The name in a signature's `a=` tag and in `.meta` files.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::RsaSha256 => "rsa-sha256",
            Self::Ed25519Sha256 => "ed25519-sha256",
        }
    }

    /// The key type of the DNS record (`k=`).
    pub const fn key_type(self) -> &'static str {
        match self {
            Self::RsaSha256 => "rsa",
            Self::Ed25519Sha256 => "ed25519",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = String;

    /// `rsa` or `rsa-sha256`, `ed25519` or `ed25519-sha256`, any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "rsa" | "rsa-sha256" => Ok(Self::RsaSha256),
            "ed25519" | "ed25519-sha256" => Ok(Self::Ed25519Sha256),
            _ => Err(format!(
                "unknown DKIM algorithm {s:?} (expected rsa or ed25519)"
            )),
        }
    }
}

/// One key of a domain, as listed on disk: what its DNS record needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The signing domain (`d=`), normalised.
    pub domain: String,
    /// The selector (`s=`), in lower case.
    pub selector: String,
    pub algorithm: Algorithm,
    /// When the key was generated; the newest key of each algorithm signs.
    pub created: DateTime<Utc>,
    /// The private key file.
    pub path: PathBuf,
    /// The public key as published in `p=`: a DER SubjectPublicKeyInfo for
    /// RSA (what OpenDKIM and every verifier read), the raw 32 bytes for
    /// Ed25519 (RFC 8463 4.2).
    pub public_key: Vec<u8>,
}

impl KeyInfo {
    /// The name the TXT record goes at, without the final dot:
    /// `selector._domainkey.domain`.
    pub fn dns_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }

    /// The TXT record's value as one string: `v=DKIM1; k=rsa; p=...`. DNS
    /// stores it as strings of at most 255 bytes each, which verifiers join:
    /// see [`Self::dns_txt_strings`] and [`Self::zone_record`].
    pub fn dns_txt(&self) -> String {
        format!(
            "v=DKIM1; k={}; p={}",
            self.algorithm.key_type(),
            BASE64.encode(&self.public_key)
        )
    }

    /// [`Self::dns_txt`] cut into the at most 255-byte strings of a TXT
    /// record (RFC 1035 3.3.14), in order.
    pub fn dns_txt_strings(&self) -> Vec<String> {
        // The value is ASCII, so any byte offset is a character boundary.
        let txt = self.dns_txt();
        txt.as_bytes()
            .chunks(255)
            .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
            .collect()
    }

    /// The record as a zone-file line, ready to paste:
    /// `havre._domainkey.example.org. IN TXT "v=DKIM1; k=rsa; p=MIIB..." "..."`.
    pub fn zone_record(&self) -> String {
        let strings: Vec<String> = self
            .dns_txt_strings()
            .iter()
            .map(|s| format!("\"{s}\""))
            .collect();
        format!("{}. IN TXT {}", self.dns_name(), strings.join(" "))
    }
}

/// What a `.meta` file holds.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Meta {
    algorithm: String,
    created: String,
}

fn domain_dir(dir: &Path, domain: &str) -> PathBuf {
    dir.join(domain)
}

fn pem_path(dir: &Path, domain: &str, selector: &str) -> PathBuf {
    domain_dir(dir, domain).join(format!("{selector}.pem"))
}

fn meta_path(dir: &Path, domain: &str, selector: &str) -> PathBuf {
    domain_dir(dir, domain).join(format!("{selector}.meta"))
}

/// Generates a key for `domain` under `dir` (the directory of [`crate::keys_dir`])
/// and returns what its DNS record needs. Refuses when the domain already
/// has a key with that selector (see [`generate_replacing`]).
///
/// The new key is the newest of its algorithm, so it signs once the signers
/// are loaded again (at the next start of `havre serve`), in place of the
/// previous key of that algorithm: publish its record first.
pub fn generate(
    dir: &Path,
    domain: &str,
    selector: &str,
    algorithm: Algorithm,
) -> Result<KeyInfo, DkimError> {
    generate_inner(dir, domain, selector, algorithm, false)
}

/// [`generate`], replacing a key that has the same selector. Mail already
/// signed with the old key then fails verification once the DNS record
/// changes; a new selector is the usual way to rotate.
pub fn generate_replacing(
    dir: &Path,
    domain: &str,
    selector: &str,
    algorithm: Algorithm,
) -> Result<KeyInfo, DkimError> {
    generate_inner(dir, domain, selector, algorithm, true)
}

fn generate_inner(
    dir: &Path,
    domain: &str,
    selector: &str,
    algorithm: Algorithm,
    replace: bool,
) -> Result<KeyInfo, DkimError> {
    let domain = normalize_domain(domain)?;
    let selector = normalize_selector(selector)?;
    let pem = pem_path(dir, &domain, &selector);
    let meta = meta_path(dir, &domain, &selector);
    if !replace {
        for path in [&pem, &meta] {
            if path.exists() {
                return Err(DkimError::KeyExists {
                    domain,
                    selector,
                    path: path.clone(),
                });
            }
        }
    }
    let der = generate_pkcs8(algorithm)?;
    let pem_text = pkcs8_pem(&der);
    // Check what we are about to write with the reader `serve` uses.
    let (public_key, _) = parse_key(&pem, pem_text.as_bytes(), algorithm)?;

    create_private_dir(&domain_dir(dir, &domain))?;
    // As stored: to the millisecond.
    let created = Utc::now().trunc_subsecs(3);
    let meta_text = format!(
        "# DKIM key of {domain}, selector {selector}; the private key is {selector}.pem\n{}",
        toml::to_string(&Meta {
            algorithm: algorithm.as_str().to_owned(),
            created: created.to_rfc3339_opts(SecondsFormat::Millis, true),
        })
        .map_err(|e| DkimError::bad_key(&meta, e))?
    );
    // The .meta is what makes a key count: written last.
    write_private(&pem, pem_text.as_bytes())?;
    write_private(&meta, meta_text.as_bytes())?;
    sync_dir(&domain_dir(dir, &domain))?;
    Ok(KeyInfo {
        domain,
        selector,
        algorithm,
        created,
        path: pem,
        public_key,
    })
}

fn generate_pkcs8(algorithm: Algorithm) -> Result<Vec<u8>, DkimError> {
    let failed = |message: String| DkimError::Generate { algorithm, message };
    match algorithm {
        Algorithm::RsaSha256 => {
            use rsa::pkcs8::EncodePrivateKey as _;
            let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, RSA_BITS)
                .map_err(|e| failed(e.to_string()))?;
            let der = key.to_pkcs8_der().map_err(|e| failed(e.to_string()))?;
            Ok(der.as_bytes().to_vec())
        }
        Algorithm::Ed25519Sha256 => Ed25519Key::generate_pkcs8().map_err(|e| failed(e.to_string())),
    }
}

fn pkcs8_pem(der: &[u8]) -> String {
    let b64 = BASE64.encode(der);
    let mut out = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END PRIVATE KEY-----\n");
    out
}

/// The public key for `p=` and the signing key, from a PEM private key: PKCS#8
/// for both algorithms, or PKCS#1 (`BEGIN RSA PRIVATE KEY`, as opendkim-genkey
/// writes) for RSA.
fn parse_key(
    path: &Path,
    pem: &[u8],
    algorithm: Algorithm,
) -> Result<(Vec<u8>, DkimKey), DkimError> {
    let bad = |what: &str, e: &dyn fmt::Display| {
        DkimError::bad_key(
            path,
            format!("not a usable {algorithm} private key: {what}: {e}"),
        )
    };
    match algorithm {
        Algorithm::RsaSha256 => {
            let der = PrivateKeyDer::from_pem_slice(pem).map_err(|e| bad("PEM", &e))?;
            let key = RsaKey::<Sha256>::from_key_der(der).map_err(|e| bad("key", &e))?;
            // ring gives the PKCS#1 RSAPublicKey; DNS wants it wrapped in a
            // SubjectPublicKeyInfo.
            let spki = {
                use rsa::pkcs1::DecodeRsaPublicKey as _;
                use rsa::pkcs8::EncodePublicKey as _;
                rsa::RsaPublicKey::from_pkcs1_der(&key.public_key())
                    .map_err(|e| bad("public key", &e))?
                    .to_public_key_der()
                    .map_err(|e| bad("public key", &e))?
            };
            Ok((spki.as_bytes().to_vec(), DkimKey::Rsa(key)))
        }
        Algorithm::Ed25519Sha256 => {
            let der = PrivatePkcs8KeyDer::from_pem_slice(pem).map_err(|e| bad("PEM", &e))?;
            let der = der.secret_pkcs8_der();
            // PKCS#8 v2 (with the public key, as ring writes) or v1 (OpenSSL).
            let key = Ed25519Key::from_pkcs8_der(der)
                .or_else(|_| Ed25519Key::from_pkcs8_maybe_unchecked_der(der))
                .map_err(|e| bad("key", &e))?;
            Ok((key.public_key(), DkimKey::Ed25519(key)))
        }
    }
}

/// Reads one key: its `.meta` then its `.pem`.
pub(crate) fn read_key(
    dir: &Path,
    domain: &str,
    selector: &str,
) -> Result<(KeyInfo, DkimKey), DkimError> {
    let meta_file = meta_path(dir, domain, selector);
    let text = std::fs::read_to_string(&meta_file).map_err(DkimError::io(&meta_file))?;
    let meta: Meta = toml::from_str(&text).map_err(|e| DkimError::bad_key(&meta_file, e))?;
    let algorithm: Algorithm = meta
        .algorithm
        .parse()
        .map_err(|e| DkimError::bad_key(&meta_file, e))?;
    let created = DateTime::parse_from_rfc3339(&meta.created)
        .map_err(|e| DkimError::bad_key(&meta_file, format!("created: {e}")))?
        .with_timezone(&Utc);
    let pem = pem_path(dir, domain, selector);
    let bytes = std::fs::read(&pem).map_err(DkimError::io(&pem))?;
    let (public_key, key) = parse_key(&pem, &bytes, algorithm)?;
    let info = KeyInfo {
        domain: domain.to_owned(),
        selector: selector.to_owned(),
        algorithm,
        created,
        path: pem,
        public_key,
    };
    Ok((info, key))
}

/// The selectors of `domain` that have a `.meta`, oldest first (by creation
/// time, then name).
pub(crate) fn selectors(dir: &Path, domain: &str) -> Result<Vec<String>, DkimError> {
    let ddir = domain_dir(dir, domain);
    let entries = match std::fs::read_dir(&ddir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(DkimError::io(&ddir)(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let name = entry.map_err(DkimError::io(&ddir))?.file_name();
        let name = name.to_string_lossy();
        if let Some(selector) = name.strip_suffix(".meta")
            && normalize_selector(selector).is_ok_and(|s| s == selector)
        {
            out.push(selector.to_owned());
        }
    }
    Ok(out)
}

/// Every key of `domain` under `dir`, oldest first ([`crate::active_keys`]
/// tells which sign). A domain without keys gives an empty list.
pub fn keys(dir: &Path, domain: &str) -> Result<Vec<KeyInfo>, DkimError> {
    let domain = normalize_domain(domain)?;
    let mut out = Vec::new();
    for selector in selectors(dir, &domain)? {
        out.push(read_key(dir, &domain, &selector)?.0);
    }
    out.sort_by(|a, b| (a.created, &a.selector).cmp(&(b.created, &b.selector)));
    Ok(out)
}

/// The domains that have a key directory under `dir`, sorted.
pub fn domains(dir: &Path) -> Result<Vec<String>, DkimError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(DkimError::io(dir)(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(DkimError::io(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() && normalize_domain(&name).is_ok_and(|d| d == name) {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn algorithms_parse_from_their_short_and_long_names() {
        assert_eq!("rsa".parse(), Ok(Algorithm::RsaSha256));
        assert_eq!("RSA-SHA256".parse(), Ok(Algorithm::RsaSha256));
        assert_eq!("ed25519".parse(), Ok(Algorithm::Ed25519Sha256));
        assert!("dsa".parse::<Algorithm>().is_err());
    }

    #[test]
    fn an_ed25519_key_is_written_private_and_read_back() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("dkim");
        let info = generate(&dir, "Example.TEST.", "S1", Algorithm::Ed25519Sha256).unwrap();
        assert_eq!(
            (info.domain.as_str(), info.selector.as_str()),
            ("example.test", "s1")
        );
        assert_eq!(info.path, dir.join("example.test/s1.pem"));
        assert_eq!(info.public_key.len(), 32);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&info.path), 0o600);
        assert_eq!(mode(&dir.join("example.test/s1.meta")), 0o600);
        assert_eq!(mode(&dir.join("example.test")), 0o700);
        assert_eq!(mode(&dir), 0o700);
        let pem = std::fs::read_to_string(&info.path).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");

        let listed = keys(&dir, "example.test").unwrap();
        assert_eq!(listed.len(), 1);
        // The creation time is kept to the millisecond.
        assert_eq!(listed[0].public_key, info.public_key);
        assert_eq!(listed[0].algorithm, Algorithm::Ed25519Sha256);
        assert_eq!(domains(&dir).unwrap(), ["example.test"]);
        assert!(
            std::fs::read_dir(dir.join("example.test"))
                .unwrap()
                .all(|e| !e.unwrap().file_name().to_string_lossy().ends_with(".tmp"))
        );
        assert_eq!(
            info.dns_txt(),
            format!("v=DKIM1; k=ed25519; p={}", BASE64.encode(&info.public_key))
        );
        assert_eq!(
            info.zone_record(),
            format!("s1._domainkey.example.test. IN TXT \"{}\"", info.dns_txt())
        );
    }

    #[test]
    fn an_existing_selector_is_not_overwritten_unless_asked() {
        let tmp = tempfile::tempdir().unwrap();
        let first = generate(tmp.path(), "example.test", "a", Algorithm::Ed25519Sha256).unwrap();
        let err = generate(tmp.path(), "example.test", "A", Algorithm::Ed25519Sha256).unwrap_err();
        assert!(matches!(err, DkimError::KeyExists { .. }), "{err}");
        assert!(err.to_string().contains("already has a DKIM key"), "{err}");
        assert_eq!(
            keys(tmp.path(), "example.test").unwrap()[0].public_key,
            first.public_key
        );
        let second =
            generate_replacing(tmp.path(), "example.test", "a", Algorithm::Ed25519Sha256).unwrap();
        assert_ne!(second.public_key, first.public_key);
        assert_eq!(keys(tmp.path(), "example.test").unwrap(), [second]);
    }

    #[test]
    fn a_pem_without_meta_does_not_count_and_a_broken_key_is_an_error_naming_it() {
        let tmp = tempfile::tempdir().unwrap();
        let ddir = tmp.path().join("example.test");
        std::fs::create_dir_all(&ddir).unwrap();
        std::fs::write(ddir.join("half.pem"), "-----BEGIN PRIVATE KEY-----\n").unwrap();
        assert!(keys(tmp.path(), "example.test").unwrap().is_empty());
        assert!(keys(tmp.path(), "other.test").unwrap().is_empty());
        std::fs::write(
            ddir.join("half.meta"),
            "algorithm = \"rsa-sha256\"\ncreated = \"2026-11-01T00:00:00Z\"\n",
        )
        .unwrap();
        let err = keys(tmp.path(), "example.test").unwrap_err();
        assert!(err.to_string().contains("half.pem"), "{err}");
    }

    #[test]
    fn a_long_record_is_cut_in_strings_of_at_most_255_bytes() {
        let info = KeyInfo {
            domain: "example.test".into(),
            selector: "s".into(),
            algorithm: Algorithm::RsaSha256,
            created: Utc::now(),
            path: PathBuf::new(),
            public_key: vec![7; 294],
        };
        let strings = info.dns_txt_strings();
        assert_eq!(strings.len(), 2);
        assert_eq!(strings[0].len(), 255);
        assert_eq!(strings.concat(), info.dns_txt());
        assert!(info.zone_record().contains("\" \""));
    }
}
