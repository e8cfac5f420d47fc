//! Flag arithmetic of STORE (RFC 9051 6.4.6), done by the store on what it
//! holds, so two sessions changing different flags of one message both win.

/// How a flag update combines the given flags with the stored ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagMode {
    /// `+FLAGS`: the given flags are added to the stored ones.
    Add,
    /// `-FLAGS`: the given flags are taken from the stored ones.
    Remove,
    /// `FLAGS`: the given flags replace the stored ones.
    Replace,
}

/// System flags first, then keywords, each alphabetically: a stable order,
/// so equal sets compare equal and clients see the same order every time.
pub fn sort_flags(flags: &mut [String]) {
    flags.sort_by_key(|f| (!f.starts_with('\\'), f.to_ascii_lowercase()));
}

/// `stored` changed by `mode` with `given` (flags compare case-insensitively,
/// as IMAP's do), in [`sort_flags`] order, without duplicates.
pub fn apply_flags(mode: FlagMode, stored: &[String], given: &[String]) -> Vec<String> {
    let named = |f: &String, set: &[String]| set.iter().any(|g| g.eq_ignore_ascii_case(f));
    let mut out: Vec<String> = Vec::new();
    let (keep, add): (Vec<&String>, &[String]) = match mode {
        FlagMode::Replace => (Vec::new(), given),
        FlagMode::Add => (stored.iter().collect(), given),
        FlagMode::Remove => (stored.iter().filter(|f| !named(f, given)).collect(), &[]),
    };
    for flag in keep.into_iter().chain(add) {
        if !named(flag, &out) {
            out.push(flag.clone());
        }
    }
    sort_flags(&mut out);
    out
}

/// Whether two flag lists name the same flags.
pub fn same_flags(a: &[String], b: &[String]) -> bool {
    let contains = |set: &[String], f: &String| set.iter().any(|g| g.eq_ignore_ascii_case(f));
    a.iter().all(|f| contains(b, f)) && b.iter().all(|f| contains(a, f))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(flags: &[&str]) -> Vec<String> {
        flags.iter().map(|f| f.to_string()).collect()
    }

    #[test]
    fn adding_keeps_what_is_stored_and_ignores_case_duplicates() {
        let stored = v(&["$Label1", "\\Seen"]);
        assert_eq!(
            apply_flags(FlagMode::Add, &stored, &v(&["\\seen", "\\Answered"])),
            v(&["\\Answered", "\\Seen", "$Label1"])
        );
    }

    #[test]
    fn removing_takes_only_the_named_flags() {
        let stored = v(&["\\Answered", "\\Seen", "$Label1"]);
        assert_eq!(
            apply_flags(FlagMode::Remove, &stored, &v(&["\\SEEN", "$Other"])),
            v(&["\\Answered", "$Label1"])
        );
    }

    #[test]
    fn replacing_drops_what_is_stored() {
        let stored = v(&["\\Answered"]);
        assert_eq!(
            apply_flags(FlagMode::Replace, &stored, &v(&["\\Flagged", "\\flagged"])),
            v(&["\\Flagged"])
        );
        assert!(same_flags(&v(&["\\Seen", "a"]), &v(&["A", "\\seen"])));
        assert!(!same_flags(&v(&["\\Seen"]), &v(&["\\Seen", "a"])));
    }
}
