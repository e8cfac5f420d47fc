//! Maildir file names as Dovecot writes and reads them:
//! `<base>[,S=<size>][,W=<vsize>][,<other>...][:2,<flags>]`, where our base
//! is `<unix secs>.<unique>.<hostname>`.

use crate::MaildirError;

/// The fields Dovecot encodes in a Maildir file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaildirName {
    /// Everything before the first `,` (or `:`): the part no reader renames.
    pub base: String,
    /// `S=`: the file's size in bytes on disk (LF line endings).
    pub size: Option<u64>,
    /// `W=`: the RFC 822 size, i.e. with CRLF line endings.
    pub vsize: Option<u64>,
    /// The flag letters after `:2,` (empty when there is no such info part).
    pub flags: String,
    /// Whether the name has the `:2,` info part at all: a name in cur/
    /// says its flags even when they are none (`:2,`); one in new/ says
    /// nothing about them.
    pub has_flags: bool,
}

/// Splits a Maildir file name into its Dovecot fields. Never fails: fields
/// that are absent or malformed come back as `None` / empty, as Dovecot
/// treats them (it then falls back to `stat`ing the file).
pub fn parse_name(file_name: &str) -> MaildirName {
    let (head, info) = match file_name.split_once(':') {
        Some((head, info)) => (head, Some(info)),
        None => (file_name, None),
    };
    // Only the "2," info version carries flags; "1," is experimental and
    // anything else is unknown to every Maildir reader.
    let letters = info.and_then(|info| info.strip_prefix("2,"));
    let has_flags = letters.is_some();
    let flags = letters.unwrap_or_default().to_owned();
    let mut fields = head.split(',');
    let base = fields.next().unwrap_or_default().to_owned();
    let (mut size, mut vsize) = (None, None);
    for field in fields {
        if let Some(v) = field.strip_prefix("S=") {
            size = v.parse().ok();
        } else if let Some(v) = field.strip_prefix("W=") {
            vsize = v.parse().ok();
        }
    }
    MaildirName {
        base,
        size,
        vsize,
        flags,
        has_flags,
    }
}

/// Letters whose meaning a flag change decides: the system flags Dovecot
/// knows and the keyword letters. Other letters (another program's) are kept.
fn known_letter(c: char) -> bool {
    matches!(c, 'D' | 'F' | 'R' | 'S' | 'T') || c.is_ascii_lowercase()
}

/// `file_name` with the flags `letters` (system flags and keyword letters):
/// the base up to the info part, then `:2,` and the letters sorted by their
/// ASCII code, as Dovecot writes them; letters of the old info part that are
/// neither kept their place in the order. E.g. `("1.Q.h,S=5:2,S", "RS")` →
/// `"1.Q.h,S=5:2,RS"`, `("1.Q.h", "")` → `"1.Q.h:2,"`.
pub fn with_flags(file_name: &str, letters: &str) -> String {
    // The info part starts at the last ':' (Dovecot's strrchr).
    let (base, old) = match file_name.rsplit_once(':') {
        Some((base, info)) => (base, info.strip_prefix("2,").unwrap_or_default()),
        None => (file_name, ""),
    };
    // Dovecot keeps a second flag set after ',' as it is.
    let (old, rest) = old.split_once(',').unwrap_or((old, ""));
    let mut all: Vec<char> = old.chars().filter(|c| !known_letter(*c)).collect();
    all.extend(letters.chars().filter(|c| known_letter(*c)));
    all.sort_unstable();
    all.dedup();
    let mut name = format!("{base}:2,");
    name.extend(all);
    if !rest.is_empty() {
        name.push(',');
        name.push_str(rest);
    }
    name
}

/// The unique part sits between two '.' in the base name and is looked for
/// again by `find_delivered`, so it must not contain the separators of any
/// part of the name (nor '/', which would leave the directory).
pub(crate) fn validate_unique(unique: &str) -> Result<(), MaildirError> {
    let bad = |c: char| matches!(c, '/' | ':' | ',' | '.') || c.is_control();
    if unique.is_empty() || unique.chars().any(bad) {
        return Err(MaildirError::InvalidUnique(unique.to_owned()));
    }
    Ok(())
}

/// Escapes the host name the way Dovecot (and the Maildir spec) does: '/'
/// and ':' cannot appear in a file name's base, so they become `\057` and
/// `\072`. We also escape ',' (`\054`), which Dovecot leaves alone but which
/// would make the name's `,S=` fields unparsable; no real host name has one.
pub(crate) fn escape_hostname(hostname: &str) -> Result<String, MaildirError> {
    if hostname.is_empty() || hostname.chars().any(char::is_control) {
        return Err(MaildirError::InvalidHostname(hostname.to_owned()));
    }
    let mut out = String::with_capacity(hostname.len());
    for c in hostname.chars() {
        match c {
            '/' => out.push_str("\\057"),
            ':' => out.push_str("\\072"),
            ',' => out.push_str("\\054"),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// The unique part of a base name `<secs>.<unique>.<host>`, if it has that shape.
pub fn unique_of(file_name: &str) -> Option<&str> {
    let base = file_name.split([',', ':']).next()?;
    let mut parts = base.splitn(3, '.');
    let (_secs, unique, _host) = (parts.next()?, parts.next()?, parts.next()?);
    Some(unique)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_name_reads_a_real_dovecot_name_in_cur() {
        let n = parse_name("1700000000.M123P456.host,S=1234,W=1260:2,RS");
        assert_eq!(n.base, "1700000000.M123P456.host");
        assert_eq!(n.size, Some(1234));
        assert_eq!(n.vsize, Some(1260));
        assert_eq!(n.flags, "RS");
        assert!(n.has_flags);
        assert!(parse_name("1.x.h:2,").has_flags);
        assert!(!parse_name("1.x.h,S=4").has_flags);
    }

    #[test]
    fn flags_are_written_sorted_keeping_letters_of_other_programs() {
        assert_eq!(with_flags("1.Q.h,S=5,W=6", "SR"), "1.Q.h,S=5,W=6:2,RS");
        assert_eq!(with_flags("1.Q.h,S=5:2,S", ""), "1.Q.h,S=5:2,");
        assert_eq!(with_flags("1.Q.h:2,FS", "Sab"), "1.Q.h:2,Sab");
        // 'P' (passed) is not Dovecot's: it stays, in ASCII order.
        assert_eq!(with_flags("1.Q.h:2,PS", "RT"), "1.Q.h:2,PRT");
        assert_eq!(with_flags("1.Q.h:2,S,xyz", "F"), "1.Q.h:2,F,xyz");
        assert_eq!(with_flags("1.Q.h:1,foo", "S"), "1.Q.h:2,S");
    }

    #[test]
    fn parse_name_reads_a_dovecot_name_in_new_without_info() {
        let n = parse_name("1700000000.M7P8Q9R1.mx.example.com,S=10,W=12");
        assert_eq!(n.base, "1700000000.M7P8Q9R1.mx.example.com");
        assert_eq!((n.size, n.vsize), (Some(10), Some(12)));
        assert_eq!(n.flags, "");
    }

    #[test]
    fn parse_name_tolerates_missing_and_unknown_fields() {
        let n = parse_name("1234.x.host:2,");
        assert_eq!(n.base, "1234.x.host");
        assert_eq!((n.size, n.vsize), (None, None));
        assert_eq!(n.flags, "");

        // Dovecot writes other extension fields too, e.g. for copies.
        let n = parse_name("1234.x.host,S=5,XYZ=1,W=7:2,FT");
        assert_eq!((n.size, n.vsize), (Some(5), Some(7)));
        assert_eq!(n.flags, "FT");

        // ":1," is the experimental info kind: no flags.
        assert_eq!(parse_name("1234.x.host:1,abc").flags, "");
        assert_eq!(parse_name("1234.x.host,S=zz").size, None);
    }

    #[test]
    fn a_unique_with_separators_is_refused() {
        for bad in ["", "a.b", "a/b", "a:b", "a,b", "a\nb", "a\0b"] {
            assert!(validate_unique(bad).is_err(), "{bad:?}");
        }
        validate_unique("Q1a2B3-4_5").unwrap();
    }

    #[test]
    fn hostname_is_escaped_as_dovecot_does() {
        assert_eq!(escape_hostname("mx.example").unwrap(), "mx.example");
        assert_eq!(escape_hostname("a/b:c").unwrap(), "a\\057b\\072c");
        assert_eq!(escape_hostname("a,b").unwrap(), "a\\054b");
        assert!(escape_hostname("").is_err());
        assert!(escape_hostname("a\nb").is_err());
    }

    #[test]
    fn unique_of_finds_the_middle_part() {
        assert_eq!(unique_of("17.abc.host.example,S=1:2,S"), Some("abc"));
        assert_eq!(unique_of("17.abc.h"), Some("abc"));
        assert_eq!(unique_of("17.abc"), None);
        assert_eq!(unique_of(".keep"), None);
    }
}
