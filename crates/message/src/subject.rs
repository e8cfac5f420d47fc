//! RFC 5256 section 2.1: the base subject used by SORT SUBJECT and THREAD,
//! the algorithm of Dovecot's `imap-base-subject.c`, matching prefixes and
//! trailers without regard to ASCII case and keeping the subject's case.

use crate::text::decode_header_value;

/// The base subject of a Subject header value (RFC 2047 encoded-words are
/// decoded first): `"Re: [list] Fwd: hello (fwd)"` → `"hello"`.
pub fn base_subject(subject: &str) -> String {
    base_subject_info(subject.as_bytes()).0
}

/// The base subject and whether the subject marked a reply or forward
/// (a "re:"/"fw:"/"fwd:" leader, a "(fwd)" trailer or "[fwd: ...]").
pub(crate) fn base_subject_info(raw: &[u8]) -> (String, bool) {
    let mut s = pack_whitespace(&decode_header_value(raw));
    let mut start = 0;
    let mut reply_or_forward = false;
    loop {
        // (2) trailers: "(fwd)" and whitespace
        loop {
            let len = s.len();
            let b = s.as_bytes();
            if len > start && b[len - 1] == b' ' {
                s.pop();
            } else if len >= start + 5 && b[len - 5..].eq_ignore_ascii_case(b"(fwd)") {
                reply_or_forward = true;
                s.truncate(len - 5);
            } else {
                break;
            }
        }
        // (3)-(5) leaders and blobs
        loop {
            let mut found = remove_leader(s.as_bytes(), &mut start, &mut reply_or_forward);
            found |= remove_blob_when_nonempty(s.as_bytes(), &mut start);
            if !found {
                break;
            }
        }
        // (6) "[fwd: ... ]"
        let b = s.as_bytes();
        if starts_with_ci(b, start, b"[fwd:") && b.len() > start + 5 && b[b.len() - 1] == b']' {
            reply_or_forward = true;
            s.pop();
            start += 5;
            continue;
        }
        break;
    }
    (s[start..].to_owned(), reply_or_forward)
}

/// Tabs and line breaks become spaces, runs of spaces one space.
fn pack_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut last_ws = false;
    for c in s.chars() {
        if matches!(c, ' ' | '\t' | '\r' | '\n') {
            if !last_ws {
                out.push(' ');
            }
            last_ws = true;
        } else {
            out.push(c);
            last_ws = false;
        }
    }
    out
}

fn starts_with_ci(b: &[u8], at: usize, prefix: &[u8]) -> bool {
    b.get(at..at + prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// subj-blob = "[" *BLOBCHAR "]" *WSP; returns the position after it.
fn skip_blob(b: &[u8], at: usize) -> Option<usize> {
    if b.get(at) != Some(&b'[') {
        return None;
    }
    let mut p = at + 1;
    while p < b.len() && b[p] != b'[' && b[p] != b']' {
        p += 1;
    }
    if b.get(p) != Some(&b']') {
        return None;
    }
    p += 1;
    if b.get(p) == Some(&b' ') {
        p += 1;
    }
    Some(p)
}

/// subj-leader = (*subj-blob subj-refwd) / WSP
fn remove_leader(b: &[u8], start: &mut usize, reply_or_forward: &mut bool) -> bool {
    let mut removed = false;
    let mut p = *start;
    if b.get(p) == Some(&b' ') {
        p += 1;
        *start += 1;
        removed = true;
    }
    while b.get(p) == Some(&b'[') {
        match skip_blob(b, p) {
            Some(next) => p = next,
            None => return removed,
        }
    }
    if starts_with_ci(b, p, b"re") {
        p += 2;
    } else if starts_with_ci(b, p, b"fwd") {
        p += 3;
    } else if starts_with_ci(b, p, b"fw") {
        p += 2;
    } else {
        return removed;
    }
    if b.get(p) == Some(&b' ') {
        p += 1;
    }
    if b.get(p) == Some(&b'[') {
        match skip_blob(b, p) {
            Some(next) => p = next,
            None => return removed,
        }
    }
    if b.get(p) != Some(&b':') {
        return removed;
    }
    *start = p + 1;
    *reply_or_forward = true;
    true
}

fn remove_blob_when_nonempty(b: &[u8], start: &mut usize) -> bool {
    match skip_blob(b, *start) {
        Some(next) if next < b.len() => {
            *start = next;
            true
        }
        _ => false,
    }
}
