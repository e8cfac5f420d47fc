//! Maildir file-name flag letters (`:2,FRSab`) and IMAP flags, as Dovecot
//! maps them: capitals for the system flags, `a`..`z` for the keywords the
//! folder's `dovecot-keywords` lists. A keyword without a letter (the 27th
//! of a folder) is in the index only.

use havre_maildir::Keywords;

const LETTERS: &[(char, &str)] = &[
    ('D', "\\Draft"),
    ('F', "\\Flagged"),
    ('R', "\\Answered"),
    ('S', "\\Seen"),
    ('T', "\\Deleted"),
];

/// IMAP flags named by the letters after `:2,`: system flags, and keywords
/// for the letters `keywords` knows; other letters name nothing.
pub fn from_letters(letters: &str, keywords: &Keywords) -> Vec<String> {
    let mut flags: Vec<String> = LETTERS
        .iter()
        .filter(|(c, _)| letters.contains(*c))
        .map(|(_, f)| f.to_string())
        .collect();
    for letter in letters.chars().filter(char::is_ascii_lowercase) {
        if let Some(keyword) = keywords.keyword(letter) {
            flags.push(keyword.to_string());
        }
    }
    havre_store::sort_flags(&mut flags);
    flags
}

/// The letters for `flags`: system flags, and keywords that have a letter in
/// `keywords`; sorted by ASCII, as Maildir wants them.
pub fn to_letters(flags: &[String], keywords: &Keywords) -> String {
    let mut letters: Vec<char> = flags.iter().filter_map(|f| letter(f, keywords)).collect();
    letters.sort_unstable();
    letters.dedup();
    letters.into_iter().collect()
}

/// Whether a file name can say `flag`.
pub(crate) fn has_letter(flag: &str, keywords: &Keywords) -> bool {
    letter(flag, keywords).is_some()
}

fn letter(flag: &str, keywords: &Keywords) -> Option<char> {
    if flag.starts_with('\\') {
        LETTERS
            .iter()
            .find(|(_, f)| f.eq_ignore_ascii_case(flag))
            .map(|(c, _)| *c)
    } else {
        keywords.letter(flag)
    }
}

/// The keywords among `flags` (what may need a letter).
pub(crate) fn keywords_of(flags: &[String]) -> impl Iterator<Item = &str> {
    flags
        .iter()
        .filter(|f| !f.starts_with('\\'))
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(flags: &[&str]) -> Vec<String> {
        flags.iter().map(|f| f.to_string()).collect()
    }

    #[test]
    fn dovecot_flag_letters_round_trip() {
        let none = Keywords::default();
        let flags = from_letters("FRST", &none);
        assert_eq!(
            flags,
            vec!["\\Answered", "\\Deleted", "\\Flagged", "\\Seen"]
        );
        assert_eq!(to_letters(&flags, &none), "FRST");
        assert_eq!(to_letters(&v(&["$Label1"]), &none), "");
    }

    #[test]
    fn keywords_are_the_letters_dovecot_keywords_gives_them() {
        let keywords = Keywords::parse("0 $Label1\n1 Work\n").unwrap();
        assert_eq!(
            to_letters(&v(&["work", "\\Seen", "$Label1", "Other"]), &keywords),
            "Sab"
        );
        assert_eq!(
            from_letters("Sbz", &keywords),
            v(&["\\Seen", "Work"]),
            "z is no keyword of this folder"
        );
        assert!(has_letter("\\flagged", &keywords));
        assert!(!has_letter("Other", &keywords));
    }
}
