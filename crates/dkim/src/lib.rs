//! DKIM (RFC 6376) for the mail havre sends: the keys of the local domains,
//! signing, and the DNS record each key needs.
//!
//! Keys live under `<data_dir>/dkim` ([`keys_dir`]), one directory per
//! domain and two files per selector:
//!
//! ```text
//! <data_dir>/dkim/example.org/havre.pem    private key, PKCS#8 PEM, mode 0600
//! <data_dir>/dkim/example.org/havre.meta   algorithm and creation time (TOML)
//! ```
//!
//! A key counts once its `.meta` exists: it is written after the `.pem`, both
//! as a temporary file, fsynced and renamed, so a crash leaves either a whole
//! key or a `.pem` that is ignored. The **newest key of each algorithm** (by
//! the creation time in its `.meta`) signs ([`load`], [`active_keys`]): a
//! domain with an RSA and an Ed25519 key puts two signatures on each message,
//! and a new RSA key replaces the old one. Older keys stay listed by [`keys`]
//! so their DNS records can be kept during a rotation.
//!
//! Signing ([`Signer::sign`]) uses relaxed/relaxed canonicalization and signs
//! the headers of [`SIGNED_HEADERS`] that the message has, plus `From` a
//! second time (RFC 6376 5.4.2 over-signing, so no second `From` can be added
//! without breaking the signature). RSA keys are 2048-bit rsa-sha256; Ed25519
//! keys (RFC 8463) are for dual signing, since not every receiver checks them.
//!
//! [`Signers`] holds the active keys of every domain that has one, loaded once
//! at startup, and picks the key for a message from its `From` domain (the one
//! DMARC aligns with), or else from its envelope sender's.

#![forbid(unsafe_code)]

mod error;
mod files;
mod key;
mod names;
mod sign;

pub use error::DkimError;
pub use key::{Algorithm, KeyInfo, RSA_BITS, domains, generate, generate_replacing, keys};
pub use names::{normalize_domain, normalize_selector};
pub use sign::{SIGNED_HEADERS, Signer, Signers, active_keys, load};

use std::path::{Path, PathBuf};

/// Where the keys of a node live: `<data_dir>/dkim`. Every function of this
/// crate that takes a `dir` wants this directory.
pub fn keys_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("dkim")
}
