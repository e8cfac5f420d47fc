//! `dovecot-keywords`: which keyword each of the letters `a`..`z` after a
//! file name's `:2,` stands for, in one folder. One `<index> <keyword>`
//! line per keyword, index 0 being `a`; at most 26, so a folder's 27th
//! keyword has no letter and lives in the index only (as in Dovecot).
//! Keywords compare case-insensitively, as IMAP's do.

use std::fs;

use crate::dotlock::{DotLock, FileId};
use crate::uidlist::read_whole;
use crate::{Maildir, MaildirError};

/// The file's name in each folder.
pub const KEYWORDS: &str = "dovecot-keywords";
/// Letters `a`..`z`.
pub const MAX_KEYWORDS: usize = 26;

/// Index (letter) to keyword.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keywords {
    names: Vec<Option<String>>,
}

impl Keywords {
    /// Reads the file's text; a malformed line is an error naming it.
    /// Indexes beyond `z` are ignored, as Dovecot ignores them.
    pub fn parse(text: &str) -> Result<Keywords, (usize, String)> {
        let mut keywords = Keywords::default();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let parsed = line
                .split_once(' ')
                .and_then(|(i, k)| Some((i.parse::<usize>().ok()?, k)))
                .filter(|(_, k)| !k.is_empty() && !k.contains(char::is_whitespace));
            let Some((i, keyword)) = parsed else {
                return Err((index + 1, format!("not `<index> <keyword>`: {line:?}")));
            };
            if i < MAX_KEYWORDS {
                keywords.set(i, keyword);
            }
        }
        Ok(keywords)
    }

    /// The file's text.
    pub fn render(&self) -> String {
        self.names
            .iter()
            .enumerate()
            .filter_map(|(i, k)| k.as_ref().map(|k| format!("{i} {k}\n")))
            .collect()
    }

    /// The letter of `keyword`, if it has one.
    pub fn letter(&self, keyword: &str) -> Option<char> {
        self.names
            .iter()
            .position(|k| {
                k.as_deref()
                    .is_some_and(|k| k.eq_ignore_ascii_case(keyword))
            })
            .map(letter_at)
    }

    /// The keyword a letter stands for.
    pub fn keyword(&self, letter: char) -> Option<&str> {
        let index = (letter as usize).checked_sub('a' as usize)?;
        self.names.get(index)?.as_deref()
    }

    /// The letter of `keyword`, given the first free one if it has none;
    /// `None` when all 26 are taken.
    pub fn add(&mut self, keyword: &str) -> Option<char> {
        if let Some(letter) = self.letter(keyword) {
            return Some(letter);
        }
        let free = match self.names.iter().position(Option::is_none) {
            Some(free) => free,
            None if self.names.len() < MAX_KEYWORDS => self.names.len(),
            None => return None,
        };
        self.set(free, keyword);
        Some(letter_at(free))
    }

    /// `(letter, keyword)` pairs, by letter.
    pub fn iter(&self) -> impl Iterator<Item = (char, &str)> {
        self.names
            .iter()
            .enumerate()
            .filter_map(|(i, k)| Some((letter_at(i), k.as_deref()?)))
    }

    fn set(&mut self, index: usize, keyword: &str) {
        if self.names.len() <= index {
            self.names.resize(index + 1, None);
        }
        self.names[index] = Some(keyword.to_string());
    }
}

fn letter_at(index: usize) -> char {
    char::from(b'a' + index as u8)
}

impl Maildir {
    /// The folder's `dovecot-keywords` and its version; `None` without one.
    pub fn read_keywords(&self) -> Result<Option<(Keywords, FileId)>, MaildirError> {
        let path = self.root.join(KEYWORDS);
        let Some((bytes, id)) = read_whole(&path)? else {
            return Ok(None);
        };
        let keywords =
            Keywords::parse(&String::from_utf8_lossy(&bytes)).map_err(|(line, reason)| {
                MaildirError::Malformed {
                    path: path.clone(),
                    line,
                    reason,
                }
            })?;
        Ok(Some((keywords, id)))
    }

    /// The version of `dovecot-keywords` there is now, `None` without one.
    pub fn keywords_id(&self) -> Result<Option<FileId>, MaildirError> {
        FileId::at(&self.root.join(KEYWORDS))
    }

    /// Replaces `dovecot-keywords` under its lock (temp, fsync, rename,
    /// directory fsync), later than the file it replaces.
    pub fn write_keywords(&self, keywords: &Keywords) -> Result<FileId, MaildirError> {
        let path = self.root.join(KEYWORDS);
        let lock = DotLock::acquire(&path)?;
        let before = fs::metadata(&path).and_then(|m| m.modified()).ok();
        lock.replace(keywords.render().as_bytes(), before)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_are_given_in_order_and_found_whatever_the_case() {
        let mut keywords = Keywords::parse("0 $Label1\n2 Work\n").unwrap();
        assert_eq!(keywords.letter("$label1"), Some('a'));
        assert_eq!(keywords.keyword('c'), Some("Work"));
        assert_eq!(keywords.keyword('b'), None);
        assert_eq!(keywords.add("Home"), Some('b'));
        assert_eq!(keywords.add("home"), Some('b'));
        assert_eq!(keywords.add("Next"), Some('d'));
        assert_eq!(keywords.render(), "0 $Label1\n1 Home\n2 Work\n3 Next\n");
        assert_eq!(keywords.keyword('A'), None);
    }

    #[test]
    fn a_27th_keyword_has_no_letter() {
        let mut keywords = Keywords::default();
        for i in 0..26 {
            assert!(keywords.add(&format!("k{i}")).is_some());
        }
        assert_eq!(keywords.letter("k25"), Some('z'));
        assert_eq!(keywords.add("k26"), None);
    }

    #[test]
    fn a_malformed_line_is_named() {
        assert_eq!(Keywords::parse("0 a\nx b\n").unwrap_err().0, 2);
        assert_eq!(Keywords::parse("30 far\n").unwrap(), Keywords::default());
    }

    #[test]
    fn the_file_is_written_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let md = Maildir::new(dir.path());
        md.create().unwrap();
        assert!(md.read_keywords().unwrap().is_none());
        let mut keywords = Keywords::default();
        keywords.add("$Junk");
        let id = md.write_keywords(&keywords).unwrap();
        assert_eq!(md.read_keywords().unwrap(), Some((keywords, id)));
        assert_eq!(md.keywords_id().unwrap(), Some(id));
    }
}
