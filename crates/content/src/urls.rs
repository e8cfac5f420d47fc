//! URLs and e-mail domains in text, reduced to their hosts.
//!
//! Found: `scheme://host...` for http, https and ftp (any case), and
//! `www.host...` without a scheme. Hosts lose their user info (the
//! `http://bank.com@evil.example/` trick names evil.example), port,
//! trailing dot and percent-escapes; they are lower-cased, and non-ASCII
//! names are converted to their ASCII (IDNA) form.

use std::collections::HashSet;

/// A bounded set of names kept in first-seen order.
#[derive(Debug, Default)]
pub(crate) struct HostSet {
    pub(crate) list: Vec<String>,
    seen: HashSet<String>,
    max: usize,
    pub(crate) full: bool,
}

impl HostSet {
    pub(crate) fn new(max: usize) -> Self {
        HostSet {
            max,
            ..HostSet::default()
        }
    }

    pub(crate) fn insert(&mut self, host: String) {
        if self.seen.contains(&host) {
            return;
        }
        if self.list.len() >= self.max {
            self.full = true;
            return;
        }
        self.seen.insert(host.clone());
        self.list.push(host);
    }
}

/// Every URL host in `text`, passed to `found`.
pub(crate) fn url_hosts(text: &str, mut found: impl FnMut(String)) {
    let bytes = text.as_bytes();
    let mut i = 0;
    // Only `:` (of `://`) and `w` (of `www.`) can start a URL.
    while let Some(at) = memchr::memchr3(b':', b'w', b'W', &bytes[i..]) {
        i += at;
        let b = bytes[i];
        let boundary = i == 0 || !is_word_byte(bytes[i - 1]);
        if boundary && (b | 0x20) == b'w' && starts_with_ci(&bytes[i..], b"www.") {
            let (host, end) = host_at(text, i);
            if let Some(host) = host {
                found(host);
            }
            i = end.max(i + 4);
            continue;
        }
        if b == b':' && bytes.get(i + 1..i + 3) == Some(b"//") && scheme_before(bytes, i) {
            let (host, end) = host_at(text, i + 3);
            if let Some(host) = host {
                found(host);
            }
            i = end.max(i + 3);
            continue;
        }
        i += 1;
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_' || b == b'/'
}

fn starts_with_ci(bytes: &[u8], prefix: &[u8]) -> bool {
    bytes.len() >= prefix.len() && bytes[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// `http`, `https` or `ftp` (any case) ends at `colon`, at a word start.
fn scheme_before(bytes: &[u8], colon: usize) -> bool {
    ["http", "https", "ftp"].iter().any(|scheme| {
        let n = scheme.len();
        colon >= n
            && bytes[colon - n..colon].eq_ignore_ascii_case(scheme.as_bytes())
            && (colon == n || !bytes[colon - n - 1].is_ascii_alphanumeric())
    })
}

/// The host of the authority starting at `start` (just after `//`, or at
/// `www.`), and where the authority ends.
fn host_at(text: &str, start: usize) -> (Option<String>, usize) {
    // Hosts are short: looking further than this would make a text of
    // many `http://` without delimiters quadratic.
    let rest = &text[start..floor_char_boundary(text, (start + 512).min(text.len()))];
    let len = rest
        .find(|c: char| {
            c.is_whitespace()
                || c.is_control()
                || matches!(
                    c,
                    '/' | '?'
                        | '#'
                        | '\\'
                        | '<'
                        | '>'
                        | '"'
                        | '\''
                        | '('
                        | ')'
                        | '{'
                        | '}'
                        | '|'
                        | '^'
                        | '`'
                        | ','
                        | ';'
                        | '\u{a0}'
                )
        })
        .unwrap_or(rest.len());
    (host_from_authority(&rest[..len]), start + len)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// `user:pass@host:port` → `host`, normalised (see the module).
pub(crate) fn host_from_authority(authority: &str) -> Option<String> {
    let host = authority.rsplit('@').next().unwrap_or(authority);
    let host = if let Some(v6) = host.strip_prefix('[') {
        // An IPv6 literal: kept as written inside the brackets.
        return v6
            .split(']')
            .next()
            .filter(|a| {
                !a.is_empty()
                    && a.bytes()
                        .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
            })
            .map(|a| a.to_ascii_lowercase());
    } else {
        match host.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => host,
        }
    };
    normalise_host(host)
}

/// A host name lower-cased, percent-escapes and trailing dots and
/// punctuation removed, IDNA applied; `None` when it is not a plausible
/// name (no dot, bad characters, too long).
pub(crate) fn normalise_host(host: &str) -> Option<String> {
    let host = host.trim_end_matches(['.', '!', ':', ']', '*', '\'', '"']);
    let decoded;
    let host = if host.contains('%') {
        decoded = percent_decode(host)?;
        decoded.as_str()
    } else {
        host
    };
    if host.is_empty() || host.len() > 253 || !host.contains('.') || host.starts_with(['.', '-']) {
        return None;
    }
    let ascii = if host.is_ascii() {
        host.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(host).ok()?
    };
    // Checked after IDNA too: its mapping can yield spaces or symbols
    // (U+00A0 becomes a space).
    let name_bytes =
        |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'_';
    if ascii.is_empty()
        || ascii.len() > 253
        || !ascii.bytes().all(name_bytes)
        || ascii.split('.').any(str::is_empty)
    {
        return None;
    }
    Some(ascii)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = bytes.get(i + 1..i + 3)
            && let Ok(hex) = std::str::from_utf8(hex)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The domains of the e-mail addresses in `text`, passed to `found`.
pub(crate) fn email_domains(text: &str, mut found: impl FnMut(String)) {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(at) = bytes[from..]
        .iter()
        .position(|&b| b == b'@')
        .map(|p| p + from)
    {
        from = at + 1;
        let local_ok = at > 0 && is_local_byte(bytes[at - 1]);
        // `scheme://user@host` is a URL's user info, not an address.
        let lookback = at.saturating_sub(512);
        let word_start = bytes[lookback..at]
            .iter()
            .rposition(|b| b.is_ascii_whitespace() || *b == b'<' || *b == b'"')
            .map_or(lookback, |p| lookback + p + 1);
        let in_url = memchr::memmem::find(&bytes[word_start..at], b"://").is_some();
        if !local_ok || in_url {
            continue;
        }
        let end = bytes[at + 1..]
            .iter()
            .position(|&b| !(b.is_ascii_alphanumeric() || b == b'.' || b == b'-'))
            .map_or(bytes.len(), |p| p + at + 1);
        if let Some(domain) = normalise_host(&text[at + 1..end])
            && domain
                .rsplit('.')
                .next()
                .is_some_and(|tld| tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic()))
        {
            found(domain);
        }
        from = end.max(from);
    }
}

fn is_local_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

/// The host a link's visible text names: a URL, `www.` name, or a bare
/// domain (`bank.com`) making up the whole text.
pub(crate) fn host_named_by(text: &str) -> Option<String> {
    let text = text.trim_matches(|c: char| c.is_whitespace() || c == '<' || c == '>');
    let mut first = None;
    url_hosts(text, |h| {
        if first.is_none() {
            first = Some(h);
        }
    });
    if first.is_some() {
        return first;
    }
    if text.contains(char::is_whitespace) || text.contains('@') {
        return None;
    }
    let authority = text.split(['/', '?', '#']).next().unwrap_or(text);
    let host = host_from_authority(authority)?;
    // A bare name needs an alphabetic top-level label to be taken for a
    // domain ("1.5" or "e.g" are not).
    let tld = host.rsplit('.').next()?;
    (tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic())).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(text: &str) -> Vec<String> {
        let mut v = Vec::new();
        url_hosts(text, |h| v.push(h));
        v
    }

    #[test]
    fn urls_give_their_normalised_hosts() {
        assert_eq!(
            hosts(
                "see HTTPS://Example.COM:8080/x?y, www.Foo.org. and http://bank.com@evil.example/login"
            ),
            ["example.com", "www.foo.org", "evil.example"]
        );
        assert_eq!(
            hosts("http://b%C3%BCcher.example/ (http://[::1]/)"),
            ["xn--bcher-kva.example", "::1"]
        );
        assert_eq!(hosts("https://bücher.example"), ["xn--bcher-kva.example"]);
        assert!(hosts("mailto:x@y http:// nohost://a.b xhttp://c.d").is_empty());
        // IDNA maps U+00A0 to a space: not a host name.
        assert_eq!(normalise_host("b\u{fc}cher\u{a0}x.example"), None);
    }

    #[test]
    fn email_domains_are_found() {
        let mut v = Vec::new();
        email_domains(
            "write to Bob.Smith@Mail.Example.org, or @handle, a@b, x@1.2",
            |d| v.push(d),
        );
        assert_eq!(v, ["mail.example.org"]);
    }

    #[test]
    fn link_text_names_a_host_when_it_looks_like_one() {
        assert_eq!(host_named_by(" www.bank.com "), Some("www.bank.com".into()));
        assert_eq!(
            host_named_by("https://bank.com/login"),
            Some("bank.com".into())
        );
        assert_eq!(host_named_by("bank.com"), Some("bank.com".into()));
        assert_eq!(host_named_by("click here"), None);
        assert_eq!(host_named_by("version 1.5"), None);
    }
}
