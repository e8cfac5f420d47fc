//! The extensions this interpreter knows, by their `require` names.

/// One extension a script may `require`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Ext {
    FileInto,
    Reject,
    EReject,
    Envelope,
    EncodedCharacter,
    Vacation,
    VacationSeconds,
    Subaddress,
    AsciiNumeric,
    Relational,
    Regex,
    Body,
    Copy,
    Include,
    Variables,
    Imap4Flags,
    Mailbox,
    Date,
    Index,
    Duplicate,
    EditHeader,
    SpamTest,
    SpamTestPlus,
    VirusTest,
    Environment,
}

/// Every extension with its name, in the order the SIEVE capability lists them.
pub(crate) const EXTENSIONS: &[(&str, Ext)] = &[
    ("fileinto", Ext::FileInto),
    ("reject", Ext::Reject),
    ("ereject", Ext::EReject),
    ("envelope", Ext::Envelope),
    ("encoded-character", Ext::EncodedCharacter),
    ("vacation", Ext::Vacation),
    ("vacation-seconds", Ext::VacationSeconds),
    ("subaddress", Ext::Subaddress),
    ("comparator-i;ascii-numeric", Ext::AsciiNumeric),
    ("relational", Ext::Relational),
    ("regex", Ext::Regex),
    ("body", Ext::Body),
    ("copy", Ext::Copy),
    ("include", Ext::Include),
    ("variables", Ext::Variables),
    ("imap4flags", Ext::Imap4Flags),
    ("mailbox", Ext::Mailbox),
    ("date", Ext::Date),
    ("index", Ext::Index),
    ("duplicate", Ext::Duplicate),
    ("editheader", Ext::EditHeader),
    ("spamtest", Ext::SpamTest),
    ("spamtestplus", Ext::SpamTestPlus),
    ("virustest", Ext::VirusTest),
    ("environment", Ext::Environment),
];

const NAMES: &[&str] = &[
    "fileinto",
    "reject",
    "ereject",
    "envelope",
    "encoded-character",
    "vacation",
    "vacation-seconds",
    "subaddress",
    "comparator-i;ascii-numeric",
    "relational",
    "regex",
    "body",
    "copy",
    "include",
    "variables",
    "imap4flags",
    "mailbox",
    "date",
    "index",
    "duplicate",
    "editheader",
    "spamtest",
    "spamtestplus",
    "virustest",
    "environment",
];

/// The extensions a script may `require`, for ManageSieve's `SIEVE`
/// capability (space-separated) and `havre sieve` listings. The comparators
/// `i;octet` and `i;ascii-casemap` are always there and not listed, as in
/// Pigeonhole.
pub fn supported_extensions() -> &'static [&'static str] {
    NAMES
}

impl Ext {
    pub(crate) fn by_name(name: &str) -> Option<Ext> {
        EXTENSIONS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, ext)| *ext)
    }

    pub(crate) fn name(self) -> &'static str {
        EXTENSIONS
            .iter()
            .find(|(_, ext)| *ext == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_capability_list_and_the_table_agree() {
        let names: Vec<&str> = EXTENSIONS.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, supported_extensions());
        for (name, ext) in EXTENSIONS {
            assert_eq!(Ext::by_name(name), Some(*ext));
            assert_eq!(ext.name(), *name);
        }
        assert_eq!(Ext::by_name("FileInto"), Some(Ext::FileInto));
        assert_eq!(Ext::by_name("notify"), None);
    }
}
