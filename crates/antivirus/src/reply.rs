//! clamd's answer to a scan, read from its bytes: no I/O here.
//!
//! In the `z` form of a command every answer ends with a NUL (`n` form: a
//! newline; both are accepted). A stream scan answers
//!
//! ```text
//! stream: OK
//! stream: Eicar-Signature FOUND
//! stream: Eicar-Signature(44d88612fea8a8f36de82e1278abb02f:68) FOUND   (ExtendedDetectionInfo)
//! INSTREAM size limit exceeded. ERROR                                  (StreamMaxLength)
//! ```
//!
//! and one `FOUND` line per signature when clamd runs with
//! `AllMatchScan` and is asked to.

/// What clamd said of the bytes it was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Nothing found.
    Clean,
    /// The names of the signatures that matched, in clamd's order.
    Infected(Vec<String>),
    /// clamd could not scan; its words without the trailing `ERROR`.
    Error(String),
}

/// The answer in `reply`, or `Err` with the reply as text when it is none
/// of clamd's forms (an empty reply included).
pub fn parse(reply: &[u8]) -> Result<Answer, String> {
    let text = String::from_utf8_lossy(reply);
    let mut found = Vec::new();
    let mut error = None;
    let mut clean = false;
    for line in text
        .split(['\0', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        let line = line.strip_prefix("stream:").map_or(line, str::trim_start);
        if let Some(name) = line.strip_suffix(" FOUND") {
            found.push(without_detection_info(name.trim()).to_owned());
        } else if let Some(words) = line.strip_suffix("ERROR") {
            error.get_or_insert_with(|| words.trim().trim_end_matches('.').to_owned());
        } else if line == "OK" {
            clean = true;
        } else {
            return Err(printable(&text));
        }
    }
    match (found.is_empty(), error, clean) {
        (false, _, _) => Ok(Answer::Infected(found)),
        (true, Some(words), _) => Ok(Answer::Error(words)),
        (true, None, true) => Ok(Answer::Clean),
        (true, None, false) => Err(printable(&text)),
    }
}

/// `Eicar-Signature(44d8…:68)` -> `Eicar-Signature`: the hash and size
/// that `ExtendedDetectionInfo` adds say nothing to a sender.
fn without_detection_info(name: &str) -> &str {
    let Some(open) = name.rfind('(') else {
        return name;
    };
    let inside = &name[open + 1..];
    let Some(inside) = inside.strip_suffix(')') else {
        return name;
    };
    let looks_like_info = inside.split_once(':').is_some_and(|(hash, size)| {
        !hash.is_empty()
            && hash.bytes().all(|b| b.is_ascii_hexdigit())
            && !size.is_empty()
            && size.bytes().all(|b| b.is_ascii_digit())
    });
    if looks_like_info && open > 0 {
        &name[..open]
    } else {
        name
    }
}

/// A reply for a log line: NULs shown, at most 200 characters.
fn printable(text: &str) -> String {
    let shown: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    shown.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clean_stream_is_ok_in_either_form() {
        assert_eq!(parse(b"stream: OK\0"), Ok(Answer::Clean));
        assert_eq!(parse(b"stream: OK\n"), Ok(Answer::Clean));
    }

    #[test]
    fn a_virus_is_named_without_its_hash_and_size() {
        assert_eq!(
            parse(b"stream: Eicar-Signature FOUND\0"),
            Ok(Answer::Infected(vec!["Eicar-Signature".into()]))
        );
        assert_eq!(
            parse(b"stream: Eicar-Signature(44d88612fea8a8f36de82e1278abb02f:68) FOUND\0"),
            Ok(Answer::Infected(vec!["Eicar-Signature".into()]))
        );
        // A name with brackets of its own keeps them.
        assert_eq!(
            parse(b"stream: Win.Trojan.Agent(x) FOUND\0"),
            Ok(Answer::Infected(vec!["Win.Trojan.Agent(x)".into()]))
        );
    }

    #[test]
    fn every_signature_of_an_all_match_scan_is_named() {
        assert_eq!(
            parse(b"stream: A FOUND\0stream: B FOUND\0"),
            Ok(Answer::Infected(vec!["A".into(), "B".into()]))
        );
    }

    #[test]
    fn clamd_errors_are_errors_with_its_words() {
        assert_eq!(
            parse(b"INSTREAM size limit exceeded. ERROR\0"),
            Ok(Answer::Error("INSTREAM size limit exceeded".into()))
        );
        assert_eq!(
            parse(b"stream: Can't allocate memory ERROR\0"),
            Ok(Answer::Error("Can't allocate memory".into()))
        );
    }

    #[test]
    fn anything_else_is_not_an_answer() {
        assert_eq!(parse(b""), Err(String::new()));
        assert_eq!(parse(b"UNKNOWN COMMAND\0"), Err("UNKNOWN COMMAND".into()));
        assert!(parse(b"\xff\xfe garbage").is_err());
    }
}
