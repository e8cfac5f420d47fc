//! `subscriptions`: the user's subscribed folder names, in the Maildir's
//! root, as Dovecot 2.x reads and writes them (its `subscription-file.c`).
//!
//! Version 2, which we write: the header `V\t2\n\n`, then one name per
//! line, its levels separated by tabs, each level the storage name Dovecot
//! would give the folder's directory (modified UTF-7) with `\x01`, tab, CR
//! and LF escaped as `\x01` + `1`, `t`, `r`, `n`. "Lists/rust" is
//! `Lists\trust`; "INBOX" is `INBOX`. Version 1, without the header, has
//! one storage name per line, levels separated by '.' (Maildir++) or '/'.
//! A name that cannot be a Maildir++ folder (a level with '.', a control
//! character, an empty level) has no storage name and is left out, as
//! Dovecot drops invalid entries when it reads the file.

use std::collections::BTreeSet;

use crate::dotlock::DotLock;
use crate::folder::{dir_name, folder_name, utf8_folder_name};
use crate::uidlist::read_whole;
use crate::{Maildir, MaildirError};

/// The file's name in the Maildir's root.
pub const SUBSCRIPTIONS: &str = "subscriptions";

const VERSION2: &str = "V\t2\n\n";

/// The subscribed names of a `subscriptions` file, in havre's form ("INBOX",
/// "Lists/rust"); entries that name no possible folder are skipped.
pub fn parse_subscriptions(text: &str) -> BTreeSet<String> {
    let (version2, body) = match text.strip_prefix(VERSION2) {
        Some(body) => (true, body),
        None => (false, text),
    };
    let mut names = BTreeSet::new();
    for line in body.lines().filter(|l| !l.is_empty()) {
        let levels: Vec<String> = if version2 {
            line.split('\t').map(tab_unescape).collect()
        } else {
            line.trim_end_matches(['.', '/'])
                .split(['.', '/'])
                .map(str::to_string)
                .collect()
        };
        if levels.len() == 1 && levels[0].eq_ignore_ascii_case("INBOX") {
            names.insert("INBOX".to_string());
            continue;
        }
        let dir = format!(".{}", levels.join("."));
        if let Some(name) = folder_name(&dir).or_else(|| utf8_folder_name(&dir)) {
            names.insert(name);
        }
    }
    names
}

/// The version 2 file for `names` (havre's form).
pub fn render_subscriptions<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let mut text = VERSION2.to_string();
    for name in names {
        let line = if name == "INBOX" {
            "INBOX".to_string()
        } else {
            match dir_name(name) {
                // ".Lists.foo" -> levels "Lists", "foo": mUTF-7 has no tab,
                // CR, LF or \x01 to escape.
                Ok(dir) => dir[1..].replace('.', "\t"),
                Err(_) => continue,
            }
        };
        text.push_str(&line);
        text.push('\n');
    }
    text
}

/// Dovecot's tab escaping: `\x01` followed by `1`, `t`, `r`, `n`, `0`.
fn tab_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\x01' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('1') => out.push('\x01'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some('0') => out.push('\0'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

impl Maildir {
    /// The subscribed names of this Maildir's `subscriptions` file, `None`
    /// when it has none.
    pub fn read_subscriptions(&self) -> Result<Option<BTreeSet<String>>, MaildirError> {
        let path = self.root.join(SUBSCRIPTIONS);
        Ok(read_whole(&path)?
            .map(|(bytes, _)| parse_subscriptions(&String::from_utf8_lossy(&bytes))))
    }

    /// Replaces the `subscriptions` file with `names` under its lock (temp,
    /// fsync, rename, directory fsync).
    pub fn write_subscriptions<'a>(
        &self,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), MaildirError> {
        let text = render_subscriptions(names);
        DotLock::acquire(&self.root.join(SUBSCRIPTIONS))?.replace(text.as_bytes(), None)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_are_read_in_both_dovecot_formats() {
        let names: Vec<String> = parse_subscriptions("INBOX\nLists.rust\nEnvoy&AOk-s\n")
            .into_iter()
            .collect();
        assert_eq!(names, ["Envoyés", "INBOX", "Lists/rust"]);
        let names: Vec<String> = parse_subscriptions("V\t2\n\nINBOX\nLists\trust\nA\x011\n")
            .into_iter()
            .collect();
        // "A\x01" has a control character: no folder can have that name.
        assert_eq!(names, ["INBOX", "Lists/rust"]);
    }

    #[test]
    fn version_2_is_written_with_storage_names_and_reads_back() {
        let names = ["INBOX", "Lists/rust", "Envoyés", "a.b", "Tom & Jerry"];
        let text = render_subscriptions(names);
        assert_eq!(
            text,
            "V\t2\n\nINBOX\nLists\trust\nEnvoy&AOk-s\nTom &- Jerry\n"
        );
        let back: Vec<String> = parse_subscriptions(&text).into_iter().collect();
        assert_eq!(back, ["Envoyés", "INBOX", "Lists/rust", "Tom & Jerry"]);
    }
}
