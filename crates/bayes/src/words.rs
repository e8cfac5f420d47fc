//! Cutting text into the words the classifier hashes: lower-cased runs of
//! letters and digits (with `$`, `'`, `-`, `.`, `_` inside), URLs reduced to
//! their host, e-mail addresses to their domain, over-long runs to a
//! `skip:` shape, long numbers to a `#`-and-length shape (SpamBayes's
//! habits).

/// What one piece of text is made of, in order.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// A word, not yet lower-cased.
    Word(&'a str),
    /// A URL: its host, lower-cased, without user or port.
    Url(String),
    /// An e-mail address: lower-cased local part and domain.
    Email(String, String),
    /// Something too long to be a word (base64, a hash, a line of dashes):
    /// its first character and length class.
    Skip(char, usize),
}

/// Longest run kept as a word; longer ones become [`Piece::Skip`].
pub const MAX_WORD: usize = 24;

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '$' | '\'' | '-' | '.' | '_')
}

fn is_edge_char(c: char) -> bool {
    matches!(c, '\'' | '-' | '.' | '_')
}

/// Calls `each` with the pieces of `text`, in order.
pub fn pieces<'a>(text: &'a str, mut each: impl FnMut(Piece<'a>)) {
    for chunk in text.split_whitespace() {
        if let Some(host) = url_host(chunk) {
            if !host.is_empty() {
                each(Piece::Url(host));
            }
            continue;
        }
        if let Some((local, domain)) = email(chunk) {
            each(Piece::Email(local, domain));
            continue;
        }
        for run in chunk.split(|c: char| !is_word_char(c)) {
            let run = run.trim_matches(is_edge_char);
            if run.len() < 2 {
                continue;
            }
            if run.chars().count() > MAX_WORD {
                let first = run.chars().next().unwrap_or('?');
                each(Piece::Skip(first, run.len() / 10 * 10));
            } else {
                each(Piece::Word(run));
            }
        }
    }
}

/// The host of a chunk that is a URL (`scheme://host...` or `www.host...`).
pub fn url_host(chunk: &str) -> Option<String> {
    let rest = match chunk.find("://") {
        Some(at) => {
            let scheme = chunk[..at].trim_start_matches(|c: char| !c.is_ascii_alphabetic());
            if scheme.is_empty() || !scheme.chars().all(|c| c.is_ascii_alphanumeric()) {
                return None;
            }
            &chunk[at + 3..]
        }
        None => {
            let trimmed = chunk.trim_start_matches(|c: char| !c.is_alphanumeric());
            if trimmed.len() > 4
                && trimmed
                    .get(..4)
                    .is_some_and(|w| w.eq_ignore_ascii_case("www."))
            {
                trimmed
            } else {
                return None;
            }
        }
    };
    let authority = rest
        .split(['/', '?', '#', '\\', '"', '\'', '>', '<', ')', ']'])
        .next()
        .unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    let host = host.split(':').next().unwrap_or("");
    Some(
        host.trim_matches(|c: char| c == '.' || c == ',')
            .to_lowercase(),
    )
}

/// The local part and domain of a chunk that is an e-mail address.
fn email(chunk: &str) -> Option<(String, String)> {
    let at = chunk.find('@')?;
    let local = chunk[..at]
        .rsplit(['<', '(', '"', '\'', ':', '[', ','])
        .next()
        .unwrap_or("");
    let domain = chunk[at + 1..]
        .split(|c: char| !(c.is_alphanumeric() || c == '.' || c == '-'))
        .next()
        .unwrap_or("")
        .trim_matches('.');
    if local.is_empty() || !domain.contains('.') {
        return None;
    }
    Some((local.to_lowercase(), domain.to_lowercase()))
}

/// The registrable part of a host name, without the public suffix list:
/// the last two labels, or three under a two-letter country code whose
/// second level is short (`example.co.uk`).
pub fn registrable(host: &str) -> &str {
    let mut dots = host.rmatch_indices('.').map(|(i, _)| i);
    let Some(last) = dots.next() else {
        return host;
    };
    let Some(second) = dots.next() else {
        return host;
    };
    let tld = &host[last + 1..];
    let sld = &host[second + 1..last];
    if tld.len() == 2 && sld.len() <= 3 {
        match dots.next() {
            Some(third) => &host[third + 1..],
            None => host,
        }
    } else {
        &host[second + 1..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> Vec<Piece<'_>> {
        let mut out = Vec::new();
        pieces(text, |p| out.push(p));
        out
    }

    #[test]
    fn words_urls_and_addresses() {
        assert_eq!(
            all("Click HERE: http://Win.Example.com:80/x?y=1 now, or mail sales@Shop.example.org!"),
            vec![
                Piece::Word("Click"),
                Piece::Word("HERE"),
                Piece::Url("win.example.com".into()),
                Piece::Word("now"),
                Piece::Word("or"),
                Piece::Word("mail"),
                Piece::Email("sales".into(), "shop.example.org".into()),
            ]
        );
        assert_eq!(
            all("(see www.example.net/page)"),
            vec![Piece::Word("see"), Piece::Url("www.example.net".into())]
        );
    }

    #[test]
    fn edges_are_trimmed_and_long_runs_become_shapes() {
        assert_eq!(
            all("'quoted' -- e.g. $100 it's x"),
            vec![
                Piece::Word("quoted"),
                Piece::Word("e.g"),
                Piece::Word("$100"),
                Piece::Word("it's"),
            ]
        );
        assert_eq!(
            all("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="),
            vec![Piece::Skip('Q', 30)]
        );
    }

    #[test]
    fn any_text_is_cut_without_panicking() {
        for text in [
            "now’s",
            "ww’",
            "www.’",
            "é://x",
            "://",
            "a@",
            "@b.c",
            "x@é.",
            "http://[::1]:80/",
            "\u{0}\u{10FFFF}",
            "…….",
            "$",
            "'-'",
            "日本語のテキスト",
            "wwwé",
            "http://@",
        ] {
            pieces(text, |_| {});
            registrable(text);
        }
        // Every 1- to 3-character string over a mixed alphabet.
        let alphabet = ['w', '.', ':', '/', '@', 'é', '’', ' ', '\'', 'x'];
        for a in alphabet {
            for b in alphabet {
                for c in alphabet {
                    let text: String = [a, b, c].iter().collect();
                    pieces(&text, |_| {});
                    pieces(&format!("www.{text}"), |_| {});
                    pieces(&format!("http://{text}"), |_| {});
                    registrable(&text);
                }
            }
        }
    }

    #[test]
    fn registrable_domains() {
        assert_eq!(registrable("www.example.com"), "example.com");
        assert_eq!(registrable("a.b.example.co.uk"), "example.co.uk");
        assert_eq!(registrable("example.com"), "example.com");
        assert_eq!(registrable("localhost"), "localhost");
    }
}
