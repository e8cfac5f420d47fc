//! Password hashing for new accounts and verification of stored hashes, including hashes
//! imported from LDAP (`userPassword` values) and Dovecot passdbs.
//!
//! New passwords are always hashed with argon2id ([`hash_password`]). [`verify_password`]
//! accepts a value either prefixed with a Dovecot scheme in braces (case-insensitive, with an
//! optional `.HEX`/`.B64` encoding suffix) or a bare crypt string:
//!
//! - `ARGON2ID`, `ARGON2I` and bare `$argon2id$` / `$argon2i$` PHC strings;
//! - `SHA512-CRYPT` (`$6$`), `SHA256-CRYPT` (`$5$`), `MD5-CRYPT` (`$1$`) and `BLF-CRYPT`
//!   (`$2a$`, `$2b$`, `$2y$`), whether bare or behind any crypt-family prefix (`{CRYPT}`,
//!   `{MD5}`, `{SHA512-CRYPT}`, ...): like Dovecot's crypt(3) call, the inner `$id$` decides;
//! - the digest schemes `SHA`/`SHA1`, `SSHA`, `SHA256`, `SSHA256`, `SHA512`, `SSHA512`,
//!   `SMD5`, `PLAIN-MD5` and `LDAP-MD5`, base64 or hex encoded. `{MD5}` not followed by a
//!   `$1$` string is read as OpenLDAP's base64 MD5, which is what LDAP exports contain;
//! - `PLAIN` and `CLEARTEXT`.
//!
//! It refuses, with a [`PasswordError`] rather than a guess: values with no scheme prefix that
//! are not crypt strings (Dovecot would apply a configured default scheme; havre has none),
//! schemes it knows but cannot verify (DES-crypt, yescrypt, scrypt, argon2d, bcrypt's buggy
//! `$2x$`, PBKDF2, SCRAM, CRAM-MD5, NTLM, ...), an empty `{PLAIN}` value, and anything that
//! does not decode into the shape its scheme requires. Error messages carry a scheme name and a
//! fixed reason only, never any other part of the stored value: for `{PLAIN}` that value is
//! the password itself.

use argon2::password_hash::{self, PasswordHasher, PasswordVerifier, phc};
use argon2::{Argon2, PasswordHash};
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use md5::Md5;
use sha_crypt::ShaCrypt;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

/// Why a stored password value could not be checked. A wrong password is not an error.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The value neither starts with a `{SCHEME}` prefix nor is a crypt string.
    #[error("stored password has no {{SCHEME}} prefix and is not a crypt string")]
    MissingScheme,
    /// The `{SCHEME}` prefix or `$id$` names no scheme this module knows of.
    #[error("unknown password scheme {0}")]
    UnknownScheme(String),
    /// A known scheme that this module cannot verify.
    #[error("password scheme {0} is not supported")]
    UnsupportedScheme(&'static str),
    /// The value names a supported scheme but does not have that scheme's shape.
    #[error("malformed {scheme} password hash: {reason}")]
    Malformed {
        /// The scheme, spelled as [`scheme_of`] does.
        scheme: &'static str,
        /// What is wrong; a fixed text, so that it can never leak the stored value.
        reason: &'static str,
    },
}

/// Hash a new password with argon2id and a random 16-byte salt, returning the PHC string
/// (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`; the argon2 crate's default cost).
///
/// # Panics
///
/// If the operating system's random number generator fails, which is not recoverable.
#[must_use]
pub fn hash_password(plain: &str) -> String {
    Argon2::default()
        .hash_password(plain.as_bytes())
        .expect("argon2id with default parameters only fails when the OS RNG does")
        .to_string()
}

/// Verify `plain` against the `stored` value: `Ok(true)` on a match, `Ok(false)` on a
/// mismatch.
///
/// # Errors
///
/// A [`PasswordError`] when `stored` has no recognisable scheme, names a scheme that is not
/// supported, or is malformed for its scheme.
pub fn verify_password(stored: &str, plain: &str) -> Result<bool, PasswordError> {
    let Stored {
        scheme,
        body,
        encoding,
    } = parse(stored)?;
    let plain = plain.as_bytes();
    match scheme {
        Scheme::Plain => verify_plain(body, plain),
        Scheme::Sha1 => verify_digest::<Sha1>(scheme, body, encoding, plain, false),
        Scheme::Ssha1 => verify_digest::<Sha1>(scheme, body, encoding, plain, true),
        Scheme::Sha256 => verify_digest::<Sha256>(scheme, body, encoding, plain, false),
        Scheme::Ssha256 => verify_digest::<Sha256>(scheme, body, encoding, plain, true),
        Scheme::Sha512 => verify_digest::<Sha512>(scheme, body, encoding, plain, false),
        Scheme::Ssha512 => verify_digest::<Sha512>(scheme, body, encoding, plain, true),
        Scheme::PlainMd5 | Scheme::LdapMd5 => {
            verify_digest::<Md5>(scheme, body, encoding, plain, false)
        }
        Scheme::Smd5 => verify_digest::<Md5>(scheme, body, encoding, plain, true),
        Scheme::Md5Crypt => verify_md5_crypt(body, plain),
        Scheme::Sha256Crypt => verify_sha_crypt(scheme, body, "$5$", 43, plain),
        Scheme::Sha512Crypt => verify_sha_crypt(scheme, body, "$6$", 86, plain),
        Scheme::BlfCrypt => verify_bcrypt(body, plain),
        Scheme::Argon2i | Scheme::Argon2id => verify_argon2(scheme, body, plain),
    }
}

/// The scheme of a stored value as Dovecot spells it (`"ARGON2ID"`, `"SSHA"`,
/// `"SHA512-CRYPT"`, `"BLF-CRYPT"`, ...), for display.
///
/// Aliases are reported by their canonical name (`CLEARTEXT` as `PLAIN`, `SHA1` as `SHA`),
/// and crypt-family prefixes by the algorithm of the crypt string they wrap (`{CRYPT}$6$...`
/// is `SHA512-CRYPT`). Known but unsupported schemes and malformed values of a known scheme
/// still get their name, so a display can say what is stored even when
/// [`verify_password`] will refuse it; `None` means no scheme could be recognised.
#[must_use]
pub fn scheme_of(stored: &str) -> Option<&'static str> {
    match parse(stored) {
        Ok(parsed) => Some(parsed.scheme.name()),
        Err(PasswordError::UnsupportedScheme(name)) => Some(name),
        Err(PasswordError::Malformed { scheme, .. }) => Some(scheme),
        Err(PasswordError::MissingScheme | PasswordError::UnknownScheme(_)) => None,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scheme {
    Plain,
    Sha1,
    Ssha1,
    Sha256,
    Ssha256,
    Sha512,
    Ssha512,
    PlainMd5,
    LdapMd5,
    Smd5,
    Md5Crypt,
    Sha256Crypt,
    Sha512Crypt,
    BlfCrypt,
    Argon2i,
    Argon2id,
}

impl Scheme {
    fn name(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::Sha1 => "SHA",
            Self::Ssha1 => "SSHA",
            Self::Sha256 => "SHA256",
            Self::Ssha256 => "SSHA256",
            Self::Sha512 => "SHA512",
            Self::Ssha512 => "SSHA512",
            Self::PlainMd5 => "PLAIN-MD5",
            Self::LdapMd5 => "LDAP-MD5",
            Self::Smd5 => "SMD5",
            Self::Md5Crypt => "MD5-CRYPT",
            Self::Sha256Crypt => "SHA256-CRYPT",
            Self::Sha512Crypt => "SHA512-CRYPT",
            Self::BlfCrypt => "BLF-CRYPT",
            Self::Argon2i => "ARGON2I",
            Self::Argon2id => "ARGON2ID",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    Hex,
    Base64,
}

/// A stored value split into its scheme and the part that scheme interprets. For crypt
/// strings `body` keeps the leading `$id$`, because the crypt implementations parse it.
struct Stored<'a> {
    scheme: Scheme,
    body: &'a str,
    encoding: Option<Encoding>,
}

fn parse(stored: &str) -> Result<Stored<'_>, PasswordError> {
    if stored.starts_with('$') {
        return crypt_string(stored, None);
    }
    let Some((name, body)) = scheme_prefix(stored) else {
        return Err(PasswordError::MissingScheme);
    };
    let upper = name.to_ascii_uppercase();
    let (base, encoding) = match upper.split_once('.') {
        None => (upper.as_str(), None),
        Some((base, "HEX")) => (base, Some(Encoding::Hex)),
        Some((base, "B64" | "BASE64")) => (base, Some(Encoding::Base64)),
        Some(_) => return Err(PasswordError::UnknownScheme(upper)),
    };
    let digest = |scheme| {
        Ok(Stored {
            scheme,
            body,
            encoding,
        })
    };
    // Only the digest schemes have an encoding to choose; elsewhere a suffix is not a
    // spelling Dovecot would produce, so it is treated as an unknown name.
    if encoding.is_some() && !is_digest_scheme(base) {
        return Err(PasswordError::UnknownScheme(upper));
    }
    match base {
        "PLAIN" | "CLEARTEXT" => digest(Scheme::Plain),
        "SHA" | "SHA1" => digest(Scheme::Sha1),
        "SSHA" => digest(Scheme::Ssha1),
        "SHA256" => digest(Scheme::Sha256),
        "SSHA256" => digest(Scheme::Ssha256),
        "SHA512" => digest(Scheme::Sha512),
        "SSHA512" => digest(Scheme::Ssha512),
        "SMD5" => digest(Scheme::Smd5),
        "PLAIN-MD5" => digest(Scheme::PlainMd5),
        "LDAP-MD5" => digest(Scheme::LdapMd5),
        // Dovecot's MD5 is md5-crypt, OpenLDAP's is base64(md5): `$` never occurs in base64.
        "MD5" if encoding.is_some() || !body.starts_with('$') => digest(Scheme::LdapMd5),
        "MD5" => crypt_string(body, Some("MD5-CRYPT")),
        "CRYPT" if !body.starts_with('$') && !body.is_empty() => {
            Err(PasswordError::UnsupportedScheme("DES-CRYPT"))
        }
        "CRYPT" => crypt_string(body, Some("CRYPT")),
        "MD5-CRYPT" => crypt_string(body, Some("MD5-CRYPT")),
        "SHA256-CRYPT" => crypt_string(body, Some("SHA256-CRYPT")),
        "SHA512-CRYPT" => crypt_string(body, Some("SHA512-CRYPT")),
        "BLF-CRYPT" => crypt_string(body, Some("BLF-CRYPT")),
        // Dovecot hands these to libsodium, which reads only argon2 strings.
        "ARGON2I" | "ARGON2ID" => {
            let scheme = if base == "ARGON2I" {
                "ARGON2I"
            } else {
                "ARGON2ID"
            };
            if body.starts_with("$argon2i$") || body.starts_with("$argon2id$") {
                crypt_string(body, Some(scheme))
            } else {
                Err(PasswordError::Malformed {
                    scheme,
                    reason: "not an $argon2i$ or $argon2id$ PHC string",
                })
            }
        }
        "DES-CRYPT" => Err(PasswordError::UnsupportedScheme("DES-CRYPT")),
        "PBKDF2" => Err(PasswordError::UnsupportedScheme("PBKDF2")),
        "CRAM-MD5" => Err(PasswordError::UnsupportedScheme("CRAM-MD5")),
        "DIGEST-MD5" => Err(PasswordError::UnsupportedScheme("DIGEST-MD5")),
        "SCRAM-SHA-1" => Err(PasswordError::UnsupportedScheme("SCRAM-SHA-1")),
        "SCRAM-SHA-256" => Err(PasswordError::UnsupportedScheme("SCRAM-SHA-256")),
        "NTLM" => Err(PasswordError::UnsupportedScheme("NTLM")),
        "LANMAN" => Err(PasswordError::UnsupportedScheme("LANMAN")),
        "PLAIN-MD4" => Err(PasswordError::UnsupportedScheme("PLAIN-MD4")),
        "PLAIN-TRUNC" => Err(PasswordError::UnsupportedScheme("PLAIN-TRUNC")),
        "OTP" => Err(PasswordError::UnsupportedScheme("OTP")),
        "SKEY" => Err(PasswordError::UnsupportedScheme("SKEY")),
        "RPA" => Err(PasswordError::UnsupportedScheme("RPA")),
        _ => Err(PasswordError::UnknownScheme(upper)),
    }
}

fn is_digest_scheme(base: &str) -> bool {
    matches!(
        base,
        "SHA"
            | "SHA1"
            | "SSHA"
            | "SHA256"
            | "SSHA256"
            | "SHA512"
            | "SSHA512"
            | "SMD5"
            | "PLAIN-MD5"
            | "LDAP-MD5"
            | "MD5"
    )
}

/// Splits `{NAME}rest`. The name is restricted to what scheme names are made of, so that an
/// unknown one can be echoed in an error without echoing arbitrary stored bytes.
fn scheme_prefix(stored: &str) -> Option<(&str, &str)> {
    let rest = stored.strip_prefix('{')?;
    let (name, body) = rest.split_once('}')?;
    let plausible = !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    plausible.then_some((name, body))
}

/// Dispatches a crypt string on its `$id$`. `prefix` is the brace scheme it came behind, to
/// name in the error when the string is not a crypt string at all.
fn crypt_string<'a>(s: &'a str, prefix: Option<&'static str>) -> Result<Stored<'a>, PasswordError> {
    let scheme = if s.starts_with("$1$") {
        Scheme::Md5Crypt
    } else if s.starts_with("$5$") {
        Scheme::Sha256Crypt
    } else if s.starts_with("$6$") {
        Scheme::Sha512Crypt
    } else if s.starts_with("$2a$") || s.starts_with("$2b$") || s.starts_with("$2y$") {
        Scheme::BlfCrypt
    } else if s.starts_with("$argon2id$") {
        Scheme::Argon2id
    } else if s.starts_with("$argon2i$") {
        Scheme::Argon2i
    } else {
        return Err(unverifiable_crypt_string(s, prefix));
    };
    Ok(Stored {
        scheme,
        body: s,
        encoding: None,
    })
}

fn unverifiable_crypt_string(s: &str, prefix: Option<&'static str>) -> PasswordError {
    let id = s
        .strip_prefix('$')
        .and_then(|rest| rest.split_once('$'))
        .map(|(id, _)| id);
    let unsupported = match id {
        Some("2x") => "BLF-CRYPT ($2x$)",
        Some("argon2d") => "ARGON2D",
        Some("y") => "YESCRYPT",
        Some("gy") => "GOST-YESCRYPT",
        Some("7") => "SCRYPT",
        Some("sha1") => "SHA1-CRYPT",
        Some("md5") => "SUN-MD5-CRYPT",
        Some(id)
            if !id.is_empty()
                && id.len() <= 16
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
        {
            return PasswordError::UnknownScheme(format!("${id}$"));
        }
        _ => {
            return match prefix {
                Some(scheme) => PasswordError::Malformed {
                    scheme,
                    reason: "not a $id$ crypt string",
                },
                None => PasswordError::MissingScheme,
            };
        }
    };
    PasswordError::UnsupportedScheme(unsupported)
}

fn malformed(scheme: Scheme, reason: &'static str) -> PasswordError {
    PasswordError::Malformed {
        scheme: scheme.name(),
        reason,
    }
}

fn verify_plain(stored: &str, plain: &[u8]) -> Result<bool, PasswordError> {
    // An empty stored password is far more likely a botched import than a real one, and
    // accepting it would let anyone in with an empty password.
    if stored.is_empty() {
        return Err(malformed(Scheme::Plain, "the stored password is empty"));
    }
    // Comparing digests rather than the strings keeps the length of the stored password out
    // of the timing as well.
    Ok(ct_eq(
        &Sha256::digest(stored.as_bytes()),
        &Sha256::digest(plain),
    ))
}

fn verify_digest<D: Digest>(
    scheme: Scheme,
    body: &str,
    encoding: Option<Encoding>,
    plain: &[u8],
    salted: bool,
) -> Result<bool, PasswordError> {
    let len = <D as Digest>::output_size();
    let raw = decode_digest(scheme, body, encoding, len, salted)?;
    let (expected, salt) = raw.split_at(len);
    let computed = D::new().chain_update(plain).chain_update(salt).finalize();
    Ok(ct_eq(&computed, expected))
}

fn decode_digest(
    scheme: Scheme,
    body: &str,
    encoding: Option<Encoding>,
    len: usize,
    salted: bool,
) -> Result<Vec<u8>, PasswordError> {
    if body.is_empty() {
        return Err(malformed(scheme, "nothing follows the scheme prefix"));
    }
    // Dovecot and LDAP tools write these digests in either encoding. Hex is taken only when
    // its length fits the digest: a base64 value of that length made only of hex digits is
    // vanishingly unlikely, whereas `=` padding or any other letter rules hex out.
    let encoding = encoding.unwrap_or_else(|| {
        let hex_len_fits = if salted {
            body.len() > 2 * len
        } else {
            body.len() == 2 * len
        };
        if hex_len_fits
            && body.len().is_multiple_of(2)
            && body.bytes().all(|b| b.is_ascii_hexdigit())
        {
            Encoding::Hex
        } else {
            Encoding::Base64
        }
    });
    let raw = match encoding {
        Encoding::Hex => decode_hex(body).ok_or_else(|| malformed(scheme, "not valid hex"))?,
        Encoding::Base64 => BASE64
            .decode(body)
            .map_err(|_| malformed(scheme, "not valid base64"))?,
    };
    if salted && raw.len() <= len {
        return Err(malformed(
            scheme,
            "too short to hold both the digest and a salt",
        ));
    }
    if !salted && raw.len() != len {
        return Err(malformed(
            scheme,
            "the digest has the wrong length for the scheme",
        ));
    }
    Ok(raw)
}

/// Standard alphabet, padding optional: values cut out of LDIF or SQL dumps lose their `=`.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    fn nibble(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.as_bytes()
        .chunks_exact(2)
        .map(|pair| Some((nibble(pair[0])? << 4) | nibble(pair[1])?))
        .collect()
}

/// The alphabet of crypt(3)'s own base64, least significant bits first.
const CRYPT_ALPHABET: &[u8; 64] =
    b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn is_crypt_base64(s: &str) -> bool {
    s.bytes().all(|b| CRYPT_ALPHABET.contains(&b))
}

fn verify_md5_crypt(s: &str, plain: &[u8]) -> Result<bool, PasswordError> {
    let scheme = Scheme::Md5Crypt;
    let rest = s.strip_prefix("$1$").unwrap_or(s);
    let Some((salt, hash)) = rest.split_once('$') else {
        return Err(malformed(scheme, "expected $1$salt$hash"));
    };
    // crypt(3) never writes more than 8 salt characters, nor `$` inside the hash.
    if salt.len() > 8 {
        return Err(malformed(scheme, "the salt is longer than 8 characters"));
    }
    if hash.len() != 22 || !is_crypt_base64(hash) {
        return Err(malformed(
            scheme,
            "the hash is not 22 characters of crypt base64",
        ));
    }
    Ok(ct_eq(&md5_crypt(plain, salt.as_bytes()), hash.as_bytes()))
}

/// Poul-Henning Kamp's md5-crypt, as in FreeBSD and glibc; returns the 22 encoded hash
/// characters. None of the dependencies implements it.
fn md5_crypt(pw: &[u8], salt: &[u8]) -> [u8; 22] {
    let alternate = Md5::new()
        .chain_update(pw)
        .chain_update(salt)
        .chain_update(pw)
        .finalize();
    let mut ctx = Md5::new()
        .chain_update(pw)
        .chain_update(b"$1$")
        .chain_update(salt);
    let mut left = pw.len();
    while left > 0 {
        let take = left.min(alternate.len());
        ctx.update(&alternate[..take]);
        left -= take;
    }
    // The reference implementation meant to add a password byte here but adds pw[0] or a NUL
    // depending on the bits of the length; every stored hash depends on that quirk.
    let mut bits = pw.len();
    while bits > 0 {
        if bits & 1 == 1 {
            ctx.update([0u8]);
        } else {
            ctx.update(&pw[..1]);
        }
        bits >>= 1;
    }
    let mut digest = ctx.finalize();
    for round in 0..1000 {
        let mut ctx = Md5::new();
        if round % 2 == 1 {
            ctx.update(pw);
        } else {
            ctx.update(digest);
        }
        if round % 3 != 0 {
            ctx.update(salt);
        }
        if round % 7 != 0 {
            ctx.update(pw);
        }
        if round % 2 == 1 {
            ctx.update(digest);
        } else {
            ctx.update(pw);
        }
        digest = ctx.finalize();
    }

    let d = |i: usize| u32::from(digest[i]);
    let groups = [
        (d(0) << 16 | d(6) << 8 | d(12), 4),
        (d(1) << 16 | d(7) << 8 | d(13), 4),
        (d(2) << 16 | d(8) << 8 | d(14), 4),
        (d(3) << 16 | d(9) << 8 | d(15), 4),
        (d(4) << 16 | d(10) << 8 | d(5), 4),
        (d(11), 2),
    ];
    let mut out = [0u8; 22];
    let mut at = 0;
    for (mut value, chars) in groups {
        for _ in 0..chars {
            out[at] = CRYPT_ALPHABET[(value & 0x3f) as usize];
            value >>= 6;
            at += 1;
        }
    }
    out
}

/// Checks `$N$[rounds=R$]salt$hash` before the sha-crypt crate sees it: the crate reads an
/// unparsable `rounds=` field as the salt and a short hash as a mismatch, which would turn a
/// corrupt import into silent login failures instead of an error.
fn verify_sha_crypt(
    scheme: Scheme,
    s: &str,
    id: &str,
    hash_len: usize,
    plain: &[u8],
) -> Result<bool, PasswordError> {
    let rest = s.strip_prefix(id).unwrap_or(s);
    let mut fields = rest.split('$');
    let mut salt = fields.next();
    if let Some(rounds) = salt.and_then(|f| f.strip_prefix("rounds=")) {
        let rounds: u32 = rounds
            .parse()
            .map_err(|_| malformed(scheme, "rounds= is not a number"))?;
        if !(sha_crypt::Params::ROUNDS_MIN..=sha_crypt::Params::ROUNDS_MAX).contains(&rounds) {
            return Err(malformed(scheme, "rounds= is outside 1000..=999999999"));
        }
        salt = fields.next();
    }
    let salt = salt.unwrap_or_default();
    if salt.is_empty() {
        return Err(malformed(scheme, "the salt is missing"));
    }
    if !salt
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'/' | b'+' | b'=' | b',' | b'-'))
    {
        return Err(malformed(
            scheme,
            "the salt has characters outside [A-Za-z0-9./+=,-]",
        ));
    }
    let Some(hash) = fields.next() else {
        return Err(malformed(scheme, "the hash is missing"));
    };
    if hash.len() != hash_len || !is_crypt_base64(hash) {
        return Err(malformed(
            scheme,
            "the hash has the wrong length or is not crypt base64",
        ));
    }
    if fields.next().is_some() {
        return Err(malformed(scheme, "unexpected fields after the hash"));
    }
    match ShaCrypt::default().verify_password(plain, s) {
        Ok(()) => Ok(true),
        Err(password_hash::Error::PasswordInvalid) => Ok(false),
        Err(err) => Err(malformed(scheme, hash_error_reason(err))),
    }
}

fn verify_bcrypt(s: &str, plain: &[u8]) -> Result<bool, PasswordError> {
    // Over-long passwords are cut at 72 bytes, as every bcrypt that wrote these hashes did.
    bcrypt::verify(plain, s).map_err(|err| {
        malformed(
            Scheme::BlfCrypt,
            match err {
                bcrypt::BcryptError::InvalidHash(reason) => reason,
                bcrypt::BcryptError::CostNotAllowed(_) => "the cost is outside 4..=31",
                _ => "rejected by the bcrypt implementation",
            },
        )
    })
}

fn verify_argon2(scheme: Scheme, s: &str, plain: &[u8]) -> Result<bool, PasswordError> {
    let hash = PasswordHash::new(s).map_err(|err| malformed(scheme, phc_error_reason(err)))?;
    // Without these the crate reports a mismatch, which would hide the corruption.
    if hash.salt.is_none() {
        return Err(malformed(scheme, "the salt is missing"));
    }
    if hash.hash.is_none() {
        return Err(malformed(scheme, "the hash is missing"));
    }
    match Argon2::default().verify_password(plain, &hash) {
        Ok(()) => Ok(true),
        Err(password_hash::Error::PasswordInvalid) => Ok(false),
        Err(err) => Err(malformed(scheme, hash_error_reason(err))),
    }
}

fn phc_error_reason(err: phc::Error) -> &'static str {
    match err {
        phc::Error::Base64(_) => "a field is not valid base64",
        phc::Error::MissingField => "a field is missing",
        phc::Error::OutputSize { .. } => "the hash has an invalid length",
        phc::Error::ParamNameDuplicated => "a parameter is repeated",
        phc::Error::ParamNameInvalid => "a parameter name is invalid",
        phc::Error::ParamValueInvalid => "a parameter value is invalid",
        phc::Error::ParamValueTooLong => "a parameter value is too long",
        phc::Error::ParamsMaxExceeded => "too many parameters",
        phc::Error::SaltTooShort => "the salt is too short",
        phc::Error::SaltTooLong => "the salt is too long",
        phc::Error::TrailingData => "unexpected characters after the hash",
        phc::Error::ValueTooLong => "a field is too long",
        _ => "not a valid PHC string",
    }
}

fn hash_error_reason(err: password_hash::Error) -> &'static str {
    match err {
        password_hash::Error::Algorithm => "the algorithm is not supported",
        password_hash::Error::Version => "the version is not supported",
        password_hash::Error::EncodingInvalid => "the encoding is invalid",
        password_hash::Error::OutputSize => "the hash has an invalid length",
        password_hash::Error::ParamInvalid { .. } | password_hash::Error::ParamsInvalid => {
            "a parameter is out of range"
        }
        password_hash::Error::SaltInvalid => "the salt is invalid",
        _ => "rejected by the hash implementation",
    }
}

/// Equality whose running time depends only on the lengths, which are public here (digest
/// sizes, or the fixed length of an encoded hash).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // Keeps the optimiser from turning the fold into an early-exit comparison.
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    // Every stored vector below was generated outside this crate: `openssl passwd -1/-5/-6`,
    // Python's hashlib + base64, libxcrypt through Python's `crypt` module (rounds= variants,
    // $2y$), pyca `bcrypt` 5.0 and `argon2-cffi` 25.1.
    const RIGHT: &str = "correct horse battery staple";
    const WRONG: &str = "Correct horse battery staple";

    fn assert_right_only(stored: &str) {
        assert!(verify_password(stored, RIGHT).unwrap(), "{stored}");
        assert!(!verify_password(stored, WRONG).unwrap(), "{stored}");
        assert!(!verify_password(stored, "").unwrap(), "{stored}");
    }

    fn error_text(stored: &str) -> String {
        verify_password(stored, RIGHT)
            .expect_err("stored value should be refused")
            .to_string()
    }

    #[test]
    fn a_new_password_hashes_to_an_argon2id_phc_string_that_verifies() {
        let stored = hash_password(RIGHT);
        assert!(stored.starts_with("$argon2id$v=19$m="), "{stored}");
        assert_eq!(scheme_of(&stored), Some("ARGON2ID"));
        assert_right_only(&stored);
    }

    #[test]
    fn hashing_the_same_password_twice_uses_different_salts() {
        assert_ne!(hash_password(RIGHT), hash_password(RIGHT));
    }

    #[test]
    fn an_ldap_ssha_hash_verifies_the_right_password_only() {
        assert_right_only("{SSHA}I3WkPxp0AHTCg4+bw4fUiGhLvX+KHwN3wuk=");
    }

    #[test]
    fn an_ssha_hash_in_hex_verifies_whether_or_not_the_encoding_is_named() {
        let hex = "2375a43f1a740074c2838f9bc387d488684bbd7f8a1f0377c2e9";
        assert_right_only(&format!("{{SSHA}}{hex}"));
        assert_right_only(&format!("{{SSHA.HEX}}{hex}"));
        assert_right_only(&format!("{{SSHA.HEX}}{}", hex.to_ascii_uppercase()));
    }

    #[test]
    fn a_base64_value_without_its_padding_still_verifies() {
        assert_right_only("{SSHA}I3WkPxp0AHTCg4+bw4fUiGhLvX+KHwN3wuk");
    }

    #[test]
    fn an_unsalted_sha_hash_verifies_in_base64_and_in_hex() {
        assert_right_only("{SHA}q/eq1kOINtvlJqojGr3i0O73TUI=");
        assert_right_only("{SHA1}q/eq1kOINtvlJqojGr3i0O73TUI=");
        assert_right_only("{SHA}abf7aad6438836dbe526aa231abde2d0eef74d42");
        assert_right_only("{SHA.b64}q/eq1kOINtvlJqojGr3i0O73TUI=");
    }

    #[test]
    fn sha256_and_ssha256_hashes_verify_the_right_password_only() {
        assert_right_only("{SHA256}xLvLH77JnWW/WdhcjLYu4tuWPw/hBvSD2a+nO9Tjmoo=");
        assert_right_only(
            "{SHA256}c4bbcb1fbec99d65bf59d85c8cb62ee2db963f0fe106f483d9afa73bd4e39a8a",
        );
        assert_right_only("{SSHA256}KOYxKcjkMAv1sB8ApKRyfCJJwDKpWBf6hUm6ewFP9z2KHwN3wuk=");
    }

    #[test]
    fn sha512_and_ssha512_hashes_verify_the_right_password_only() {
        assert_right_only(
            "{SHA512}vl73Z52Iq5qQRfYmflX15XhLS4zXZLXNhVpSRPkcYmlTzUbEPXZohz/W7707IhJJMVWAAxljRyoHh4H+BG5irg==",
        );
        assert_right_only(
            "{SSHA512}wMwwxygEa2ycWQCC8xYfylaEy51ffDm0GO2x3Z28DPreIP4jeAlUXg/0PVyq7UUl5TKTD+2lkC/rzJWxfAVz3YofA3fC6Q==",
        );
    }

    #[test]
    fn md5_digest_schemes_verify_the_right_password_only() {
        assert_right_only("{SMD5}dMwB/6H2SZvKuUvAWC6C2YofA3fC6Q==");
        assert_right_only("{PLAIN-MD5}9cc2ae8a1ba7a93da39b46fc1019c481");
        assert_right_only("{LDAP-MD5}nMKuihunqT2jm0b8EBnEgQ==");
    }

    #[test]
    fn an_openldap_md5_value_is_read_as_base64_md5_not_md5_crypt() {
        assert_right_only("{MD5}nMKuihunqT2jm0b8EBnEgQ==");
        assert_eq!(scheme_of("{MD5}nMKuihunqT2jm0b8EBnEgQ=="), Some("LDAP-MD5"));
    }

    #[test]
    fn md5_crypt_verifies_bare_and_behind_each_dovecot_prefix() {
        let stored = "$1$Md5Salt1$9AbvlZBJJXelUXvpq3inQ1";
        assert_right_only(stored);
        for prefix in ["{MD5}", "{MD5-CRYPT}", "{CRYPT}"] {
            assert_right_only(&format!("{prefix}{stored}"));
        }
    }

    #[test]
    fn md5_crypt_handles_passwords_longer_than_one_digest_and_empty_ones() {
        let long = "p".repeat(40);
        let stored = "$1$abcdefgh$uVk50XsvnejAhX.uVYQEU1";
        assert!(verify_password(stored, &long).unwrap());
        assert!(!verify_password(stored, &long[..39]).unwrap());
        assert!(verify_password("$1$x$fwjfZtMwarkdetsjiQreU1", "").unwrap());
        assert!(!verify_password("$1$x$fwjfZtMwarkdetsjiQreU1", " ").unwrap());
    }

    #[test]
    fn sha512_crypt_verifies_with_and_without_prefix_and_rounds() {
        let stored = "$6$hV3r.mAilS4lt$zVehNU0gEj79Z3KZ/M7u/lSOKX7EH0gc4CYWh5cLDR3nvHSMyzSA0BG.5wMV3cDVDytOmdd.RTb5JxSYGddLt.";
        assert_right_only(stored);
        assert_right_only(&format!("{{SHA512-CRYPT}}{stored}"));
        assert_right_only(&format!("{{CRYPT}}{stored}"));
        assert_right_only(
            "{SHA512-CRYPT}$6$rounds=10000$Zq8wYs3kPp1xN0aB$G5/P3.GPJJhsnaQ6TmPWveqqWKvbCnIEYIPFqXSIzQNAHwJIvjv8v9MtI8mmUhQATyn2H0N7o01mRSVHQ7YTd0",
        );
    }

    #[test]
    fn sha256_crypt_verifies_with_and_without_prefix_and_rounds() {
        let stored = "$5$Dv0cotSalt$sSpffV9cOizjj4ZgDubvwzgs0qr0a3Z2CmOlTnMP1e3";
        assert_right_only(stored);
        assert_right_only(&format!("{{SHA256-CRYPT}}{stored}"));
        assert_right_only(
            "{sha256-crypt}$5$rounds=12000$r0Und5Salt$Y33qnBdk.hXIfxfstge.uOLnOzwaCXJTCR46q8MSZg7",
        );
    }

    #[test]
    fn blf_crypt_verifies_the_2y_2b_and_2a_variants() {
        assert_right_only(
            "{BLF-CRYPT}$2y$05$abcdefghijklmnopqrstuuFiPhXf1sVd3pCCRO.uVh34H/qI/ZsuS",
        );
        assert_right_only("$2y$05$abcdefghijklmnopqrstuuFiPhXf1sVd3pCCRO.uVh34H/qI/ZsuS");
        assert_right_only("{CRYPT}$2b$05$gdiU/uyXO5Em3dkfs7LzpuYWVGU92DDuA0y76MH0wkhwb14o5ZIu6");
        assert_right_only("$2a$04$PkbPr7oaWtLCsxwRyVn32.wSHvoK2sVdU27vnKlCph0L6jQ3u1lPG");
    }

    #[test]
    fn argon2_hashes_from_another_implementation_verify_bare_and_prefixed() {
        let id = "$argon2id$v=19$m=1024,t=2,p=1$ZpzHt75LbeN9sdkLpRd+HA$cbnr1J7xZGd4fIu6mFUVzqLG08bQ8jDpFW26QNVv2UU";
        let i = "$argon2i$v=19$m=1024,t=2,p=1$RX5U/IXfpUA5ShptBYhBiA$syIr3jYZlp3qxwu/N8Qq8ijDondDh38Zdq0ykZDTTAA";
        assert_right_only(id);
        assert_right_only(&format!("{{ARGON2ID}}{id}"));
        assert_right_only(&format!("{{CRYPT}}{id}"));
        assert_right_only(i);
        assert_right_only(&format!("{{ARGON2I}}{i}"));
    }

    #[test]
    fn plain_and_cleartext_compare_the_whole_password() {
        for stored in [
            "{PLAIN}correct horse battery staple",
            "{CLEARTEXT}correct horse battery staple",
            "{plain}correct horse battery staple",
        ] {
            assert_right_only(stored);
        }
        assert!(!verify_password("{PLAIN}correct horse", RIGHT).unwrap());
        assert!(!verify_password("{PLAIN}correct horse battery staple!", RIGHT).unwrap());
    }

    #[test]
    fn scheme_prefixes_are_case_insensitive() {
        assert_right_only("{ssha}I3WkPxp0AHTCg4+bw4fUiGhLvX+KHwN3wuk=");
        assert_right_only("{Sha}q/eq1kOINtvlJqojGr3i0O73TUI=");
        assert_eq!(
            scheme_of("{ssha}I3WkPxp0AHTCg4+bw4fUiGhLvX+KHwN3wuk="),
            Some("SSHA")
        );
    }

    #[test]
    fn malformed_digest_values_are_errors_that_name_the_scheme_and_the_problem() {
        let text = error_text("{SSHA}not base64!");
        assert!(text.contains("SSHA") && text.contains("base64"), "{text}");
        // base64 of a bare 20-byte SHA-1: a salted scheme with no salt.
        let text = error_text("{SSHA}q/eq1kOINtvlJqojGr3i0O73TUI=");
        assert!(text.contains("SSHA") && text.contains("salt"), "{text}");
        let text = error_text("{SHA256}q/eq1kOINtvlJqojGr3i0O73TUI=");
        assert!(text.contains("SHA256") && text.contains("length"), "{text}");
        let text = error_text("{SHA.HEX}abf7aad6438836dbe526aa231abde2d0eef74d4z");
        assert!(text.contains("SHA") && text.contains("hex"), "{text}");
        let text = error_text("{SHA}");
        assert!(
            text.contains("SHA") && text.contains("nothing follows"),
            "{text}"
        );
    }

    #[test]
    fn malformed_crypt_strings_are_errors_that_name_the_scheme_and_the_problem() {
        let text = error_text("{SHA512-CRYPT}$6$hV3r.mAilS4lt$zVehNU0gEj79Z3KZ");
        assert!(
            text.contains("SHA512-CRYPT") && text.contains("length"),
            "{text}"
        );
        let text =
            error_text("$5$rounds=12$r0Und5Salt$Y33qnBdk.hXIfxfstge.uOLnOzwaCXJTCR46q8MSZg7");
        assert!(
            text.contains("SHA256-CRYPT") && text.contains("rounds"),
            "{text}"
        );
        let text = error_text("$6$hV3r.mAilS4lt");
        assert!(
            text.contains("SHA512-CRYPT") && text.contains("hash is missing"),
            "{text}"
        );
        let text = error_text("$1$Md5Salt1$9AbvlZBJJXelUXvpq3in");
        assert!(text.contains("MD5-CRYPT") && text.contains("22"), "{text}");
        let text = error_text("{BLF-CRYPT}$2y$05$abcdefghijklmnopqrstuuFiPhXf1sVd3pCCRO");
        assert!(text.contains("BLF-CRYPT") && text.contains("60"), "{text}");
        let text = error_text("{BLF-CRYPT}hunter2");
        assert!(
            text.contains("BLF-CRYPT") && text.contains("crypt string"),
            "{text}"
        );
        let text = error_text("$argon2id$v=19$m=1024,t=2,p=1$ZpzHt75LbeN9sdkLpRd+HA");
        assert!(
            text.contains("ARGON2ID") && text.contains("hash is missing"),
            "{text}"
        );
        let text = error_text("{ARGON2ID}$6$hV3r.mAilS4lt$zVehNU0gEj79Z3KZ");
        assert!(text.contains("ARGON2ID") && text.contains("PHC"), "{text}");
    }

    #[test]
    fn an_empty_plain_password_is_refused_rather_than_matching_an_empty_login() {
        let err = verify_password("{PLAIN}", "").unwrap_err();
        assert!(err.to_string().contains("PLAIN"), "{err}");
    }

    #[test]
    fn unknown_and_unsupported_schemes_are_errors_that_name_them() {
        assert!(matches!(
            verify_password("{FOO}abc", RIGHT),
            Err(PasswordError::UnknownScheme(name)) if name == "FOO"
        ));
        assert!(matches!(
            verify_password("{SSHA.ROT13}abc", RIGHT),
            Err(PasswordError::UnknownScheme(name)) if name == "SSHA.ROT13"
        ));
        assert!(matches!(
            verify_password("$9z$abc$def", RIGHT),
            Err(PasswordError::UnknownScheme(name)) if name == "$9z$"
        ));
        for (stored, scheme) in [
            ("$y$j9T$salt$hash", "YESCRYPT"),
            ("$argon2d$v=19$m=1024,t=2,p=1$c2FsdHNhbHQ$aGFzaA", "ARGON2D"),
            (
                "$2x$05$abcdefghijklmnopqrstuuFiPhXf1sVd3pCCRO.uVh34H/qI/ZsuS",
                "BLF-CRYPT ($2x$)",
            ),
            ("{CRYPT}abJnggxhB/yWI", "DES-CRYPT"),
            ("{PBKDF2}$1$abc$1000$def", "PBKDF2"),
            ("{SCRAM-SHA-256}4096,abc,def,ghi", "SCRAM-SHA-256"),
        ] {
            let err = verify_password(stored, RIGHT).unwrap_err();
            assert!(
                matches!(err, PasswordError::UnsupportedScheme(name) if name == scheme),
                "{stored}: {err}"
            );
            assert!(err.to_string().contains(scheme), "{err}");
        }
    }

    #[test]
    fn a_value_without_a_scheme_is_refused_without_echoing_it() {
        for stored in ["hunter2", "{hunter2", "{not a scheme}hunter2", ""] {
            let err = verify_password(stored, "hunter2").unwrap_err();
            assert!(matches!(err, PasswordError::MissingScheme), "{err}");
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn error_messages_never_contain_the_stored_secret_or_the_attempt() {
        for stored in [
            "{SSHA}hunter2hunter2",
            "{PLAIN.HEX}hunter2",
            "{SHA512-CRYPT}$6$hunter2",
            "{CRYPT}$6$rounds=x$hunter2$hunter2",
            "{ARGON2ID}$argon2id$v=19$m=hunter2",
        ] {
            let text = error_text(stored);
            assert!(!text.contains("hunter2"), "{stored}: {text}");
            assert!(!text.contains(RIGHT), "{stored}: {text}");
        }
    }

    #[test]
    fn scheme_of_names_each_scheme_as_dovecot_spells_it() {
        for (stored, scheme) in [
            (
                "$argon2id$v=19$m=1024,t=2,p=1$ZpzHt75LbeN9sdkLpRd+HA$x",
                Some("ARGON2ID"),
            ),
            (
                "{ARGON2I}$argon2i$v=19$m=1024,t=2,p=1$RX5U/IXfpUA5ShptBYhBiA$x",
                Some("ARGON2I"),
            ),
            ("{SSHA}I3WkPxp0AHTCg4+bw4fUiGhLvX+KHwN3wuk=", Some("SSHA")),
            ("{SHA}q/eq1kOINtvlJqojGr3i0O73TUI=", Some("SHA")),
            ("{SHA1}q/eq1kOINtvlJqojGr3i0O73TUI=", Some("SHA")),
            ("{SHA256}x", Some("SHA256")),
            ("{SSHA256}x", Some("SSHA256")),
            ("{SHA512}x", Some("SHA512")),
            ("{SSHA512}x", Some("SSHA512")),
            ("{SMD5}x", Some("SMD5")),
            ("{PLAIN-MD5}x", Some("PLAIN-MD5")),
            ("{LDAP-MD5}x", Some("LDAP-MD5")),
            ("{MD5}$1$Md5Salt1$9AbvlZBJJXelUXvpq3inQ1", Some("MD5-CRYPT")),
            ("$1$Md5Salt1$9AbvlZBJJXelUXvpq3inQ1", Some("MD5-CRYPT")),
            ("{CRYPT}$6$salt$x", Some("SHA512-CRYPT")),
            ("$6$salt$x", Some("SHA512-CRYPT")),
            ("{SHA256-CRYPT}$5$salt$x", Some("SHA256-CRYPT")),
            ("{BLF-CRYPT}$2y$05$x", Some("BLF-CRYPT")),
            ("$2b$05$x", Some("BLF-CRYPT")),
            ("{PLAIN}x", Some("PLAIN")),
            ("{CLEARTEXT}x", Some("PLAIN")),
            ("{SHA512-CRYPT}not crypt", Some("SHA512-CRYPT")),
            ("$y$j9T$salt$hash", Some("YESCRYPT")),
            ("{PBKDF2}x", Some("PBKDF2")),
            ("{FOO}x", None),
            ("hunter2", None),
        ] {
            assert_eq!(scheme_of(stored), scheme, "{stored}");
        }
    }

    #[test]
    fn constant_time_eq_matches_ordinary_equality() {
        assert!(ct_eq(b"", b""));
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
