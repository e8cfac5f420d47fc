//! Local submission, Postfix's pickup: programs on this host (cron, PHP's
//! `mail()`, scripts calling `sendmail`) hand their mail to `havre serve`
//! through a Unix socket, speaking SMTP.
//!
//! Who calls is what the kernel says of the socket's peer (SO_PEERCRED),
//! never what the client claims: the uid and its account are logged with
//! every message and written in its `Received:` header. As with Postfix's
//! sendmail, any local account may submit, to any destination, with any
//! envelope sender (`-f`): the trace names the account.
//!
//! Unqualified addresses (`alice`, `root`), as Unix programs write them,
//! are completed: the account's address from `sendmail.canonical`, or
//! `name@sendmail.origin` (Postfix's canonical_maps and myorigin).

use std::collections::BTreeMap;
use std::ffi::CStr;

use tokio::net::UnixStream;

/// How local addresses are completed (`[sendmail]` of the config).
#[derive(Debug, Clone, Default)]
pub struct LocalSettings {
    /// The domain of unqualified addresses.
    pub origin: String,
    /// Unix account to mail address.
    pub canonical: BTreeMap<String, String>,
}

impl LocalSettings {
    /// `address` as a complete address: unchanged when it has a domain (or
    /// is empty, the null sender), else the canonical address of that
    /// account, else `address@origin`.
    pub fn qualify(&self, address: &str) -> String {
        if address.is_empty() || address.contains('@') {
            return address.to_string();
        }
        match self.canonical.get(address) {
            Some(canonical) => canonical.clone(),
            None => format!("{address}@{}", self.origin),
        }
    }
}

/// The account on the other end of a local connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub uid: u32,
    /// Its login name, or its number when the system has no name for it.
    pub account: String,
}

impl Caller {
    /// The kernel's word on who connected.
    pub fn of(stream: &UnixStream) -> std::io::Result<Caller> {
        let uid = stream.peer_cred()?.uid();
        Ok(Caller {
            uid,
            account: account_name(uid).unwrap_or_else(|| uid.to_string()),
        })
    }
}

/// The login name of `uid` in the password database.
pub fn account_name(uid: u32) -> Option<String> {
    passwd_field(uid, |entry| entry.pw_name)
}

/// The full name of `uid`: the first comma-separated part of its GECOS
/// field, as sendmail takes it for `From:`.
pub fn full_name(uid: u32) -> Option<String> {
    passwd_field(uid, |entry| entry.pw_gecos)
        .and_then(|gecos| gecos.split(',').next().map(str::to_string))
}

/// One string field of `uid`'s password database entry.
fn passwd_field(uid: u32, field: fn(&libc::passwd) -> *mut libc::c_char) -> Option<String> {
    let mut buf = vec![0u8; 4096];
    loop {
        // SAFETY: passwd is plain data filled by getpwuid_r, whose strings
        // point into `buf`, which outlives their use below.
        let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        let rc = unsafe {
            libc::getpwuid_r(
                uid,
                &mut entry,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut found,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        let value = field(&entry);
        if rc != 0 || found.is_null() || value.is_null() {
            return None;
        }
        // SAFETY: checked non-null; NUL-terminated inside `buf`.
        let value = unsafe { CStr::from_ptr(value) };
        return Some(value.to_string_lossy().into_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unqualified_name_takes_its_canonical_address_or_the_origin() {
        let settings = LocalSettings {
            origin: "example.org".into(),
            canonical: [("www-data".to_string(), "web@example.org".to_string())].into(),
        };
        assert_eq!(settings.qualify("root"), "root@example.org");
        assert_eq!(settings.qualify("www-data"), "web@example.org");
        assert_eq!(settings.qualify("bob@other.test"), "bob@other.test");
        assert_eq!(settings.qualify(""), "", "the null sender stays null");
    }

    #[test]
    fn root_is_named_root() {
        assert_eq!(account_name(0).as_deref(), Some("root"));
    }
}
