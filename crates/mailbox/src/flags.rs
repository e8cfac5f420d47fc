//! Maildir file-name flag letters (`:2,FRS`) and IMAP flags, as Dovecot maps
//! them. Keywords (`$Label1`...) have no letter here: they live in the store.

const LETTERS: &[(char, &str)] = &[
    ('D', "\\Draft"),
    ('F', "\\Flagged"),
    ('R', "\\Answered"),
    ('S', "\\Seen"),
    ('T', "\\Deleted"),
];

/// IMAP flags named by the letters after `:2,`.
pub fn from_letters(letters: &str) -> Vec<String> {
    let mut flags: Vec<String> = LETTERS
        .iter()
        .filter(|(c, _)| letters.contains(*c))
        .map(|(_, f)| f.to_string())
        .collect();
    flags.sort();
    flags
}

/// The letters for `flags`, in the alphabetical order Maildir wants.
pub fn to_letters(flags: &[String]) -> String {
    LETTERS
        .iter()
        .filter(|(_, f)| flags.iter().any(|x| x.eq_ignore_ascii_case(f)))
        .map(|(c, _)| *c)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dovecot_flag_letters_round_trip() {
        let flags = from_letters("FRST");
        assert_eq!(
            flags,
            vec!["\\Answered", "\\Deleted", "\\Flagged", "\\Seen"]
        );
        assert_eq!(to_letters(&flags), "FRST");
        assert_eq!(to_letters(&["$Label1".to_string()]), "");
    }
}
