//! GETMETADATA and SETMETADATA (RFC 5464): a user's entries on a mailbox or
//! on the server (mailbox `""`), kept in the store. There are no shared
//! mailboxes, so `/shared` entries are the user's as much as `/private`
//! ones; both are kept apart by name.

use havre_imap_proto::{Code, GetMetadataCommand, Mailbox, MetadataDepth};

use crate::mailbox_cmd::mailbox_error;
use crate::session::{Outcome, Session};

/// The largest value kept (`[METADATA MAXSIZE n]`); it fits in one command
/// line's limit, so a client learns it rather than hitting `[TOOBIG]`.
pub(crate) const MAX_VALUE_SIZE: usize = 16 * 1024;
/// The most entries of one mailbox, or of the server, per user
/// (`[METADATA TOOMANY]`).
pub(crate) const MAX_ENTRIES: usize = 200;
/// The longest entry name.
const MAX_ENTRY_LENGTH: usize = 1024;

/// Whether `name` is a valid entry name (RFC 5464 3.2): `/private` or
/// `/shared`, then, for a name that can hold a value (`settable`), at least
/// one more component; printable ASCII, no `*` or `%`, no empty component.
fn valid_entry(name: &str, settable: bool) -> bool {
    let lower = name.to_ascii_lowercase();
    let rest = match lower
        .strip_prefix("/private")
        .or_else(|| lower.strip_prefix("/shared"))
    {
        Some(rest) => rest,
        None => return false,
    };
    if rest.is_empty() {
        return !settable;
    }
    name.len() <= MAX_ENTRY_LENGTH
        && rest.starts_with('/')
        && rest[1..].split('/').all(|part| !part.is_empty())
        && name
            .bytes()
            .all(|b| (0x21..0x7f).contains(&b) && b != b'*' && b != b'%')
}

/// Whether the stored `entry` answers a request for `asked` at `depth`.
fn matches(entry: &str, asked: &str, depth: MetadataDepth) -> bool {
    if entry == asked {
        return true;
    }
    let Some(below) = entry
        .strip_prefix(asked)
        .and_then(|rest| rest.strip_prefix('/'))
    else {
        return false;
    };
    match depth {
        MetadataDepth::Zero => false,
        MetadataDepth::One => !below.contains('/'),
        MetadataDepth::Infinity => true,
    }
}

impl Session {
    /// The mailbox's id, `None` for the server, or the NO to answer.
    async fn metadata_target(&self, mailbox: &Mailbox) -> Result<Option<i64>, Outcome> {
        if mailbox.as_str().is_empty() {
            return Ok(None);
        }
        self.find_mailbox(mailbox).await.map(|m| Some(m.id))
    }

    pub(crate) async fn get_metadata(&mut self, get: GetMetadataCommand) -> Outcome {
        if let Some(bad) = get.entries.iter().find(|e| !valid_entry(e, false)) {
            return Outcome::bad(format!("Invalid metadata entry name: {bad}"));
        }
        let target = match self.metadata_target(&get.mailbox).await {
            Ok(t) => t,
            Err(o) => return o,
        };
        let stored = match self
            .services
            .mailboxes
            .store()
            .metadata_get(self.user(), target)
            .await
        {
            Ok(s) => s,
            Err(e) => return mailbox_error(e.into()),
        };
        let asked: Vec<String> = get.entries.iter().map(|e| e.to_ascii_lowercase()).collect();
        let mut found: Vec<(&str, &[u8])> = Vec::new();
        let mut longest_left_out = 0;
        for (entry, value) in &stored {
            if !asked.iter().any(|a| matches(entry, a, get.depth)) {
                continue;
            }
            if get.max_size.is_some_and(|max| value.len() as u64 > max) {
                longest_left_out = longest_left_out.max(value.len());
                continue;
            }
            found.push((entry, value));
        }
        if !found.is_empty() {
            self.out.metadata(get.mailbox.as_str(), &found);
        }
        if longest_left_out > 0 {
            return Outcome::Ok(
                Some(Code::Other(format!(
                    "METADATA LONGENTRIES {longest_left_out}"
                ))),
                "Getmetadata completed.".into(),
            );
        }
        Outcome::ok("Getmetadata completed.")
    }

    pub(crate) async fn set_metadata(
        &mut self,
        mailbox: Mailbox,
        entries: Vec<(String, Option<Vec<u8>>)>,
    ) -> Outcome {
        if let Some((bad, _)) = entries.iter().find(|(e, _)| !valid_entry(e, true)) {
            return Outcome::bad(format!("Invalid metadata entry name: {bad}"));
        }
        if entries
            .iter()
            .any(|(_, v)| v.as_ref().is_some_and(|v| v.len() > MAX_VALUE_SIZE))
        {
            return Outcome::no_code(
                Code::Other(format!("METADATA MAXSIZE {MAX_VALUE_SIZE}")),
                "Metadata value too long.",
            );
        }
        let target = match self.metadata_target(&mailbox).await {
            Ok(t) => t,
            Err(o) => return o,
        };
        match self
            .services
            .mailboxes
            .store()
            .metadata_set(self.user(), target, &entries, MAX_ENTRIES)
            .await
        {
            Ok(true) => Outcome::ok("Setmetadata completed."),
            Ok(false) => Outcome::no_code(
                Code::Other("METADATA TOOMANY".into()),
                "Too many metadata entries.",
            ),
            Err(e) => mailbox_error(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_follow_rfc_5464() {
        assert!(valid_entry("/private/comment", true));
        assert!(valid_entry("/Shared/vendor/acme/x", true));
        assert!(valid_entry("/shared", false));
        assert!(!valid_entry("/shared", true));
        for bad in [
            "/comment",
            "/private/",
            "/private//x",
            "/private/a*",
            "/private/%",
            "private/x",
            "/privatex",
        ] {
            assert!(!valid_entry(bad, false), "{bad}");
        }
    }

    #[test]
    fn depth_reaches_children_or_all_descendants() {
        let e = "/private/a/b/c";
        assert!(!matches(e, "/private/a", MetadataDepth::Zero));
        assert!(!matches(e, "/private/a", MetadataDepth::One));
        assert!(matches(e, "/private/a/b", MetadataDepth::One));
        assert!(matches(e, "/private/a", MetadataDepth::Infinity));
        assert!(!matches(
            "/private/ab",
            "/private/a",
            MetadataDepth::Infinity
        ));
    }
}
