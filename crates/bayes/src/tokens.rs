//! The tokens of a message: hashed features, deduplicated.
//!
//! - Body text (each text part, HTML with its tags stripped): every word
//!   (a unigram) and, as Rspamd and CRM114 do (OSB, orthogonal sparse
//!   bigrams), every pair of a word with each of the [`WINDOW`] words before
//!   it, the gap between them part of the feature: "buy ... now" two words
//!   apart is not "buy now".
//! - The subject: the same, apart from the body (its own seed).
//! - Other header fields: their words (unigrams), each field apart
//!   (`from:example.com` is not `received:example.com`), the presence of the
//!   field's name, addresses and their domains, the domains of message ids.
//!   Dates, sizes, signatures and our own marks (`X-Spam-*`, `X-Havre-*`)
//!   are left out: they say nothing of the sender, and a message learned
//!   from a Junk folder carries our verdict.
//! - URLs: their host, each parent domain of it, and in the text's word
//!   stream their registrable domain; e-mail addresses in text: their domain.
//! - Facts the caller names (`html-only`, an attachment's type...).
//!
//! Every feature is hashed with xxh3 (seeded by its field) to a `u64`; a
//! message's tokens are sorted and deduplicated, so each counts once.

use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use crate::words::{Piece, pieces, registrable};

/// How many preceding words each word is paired with (OSB window of 5).
pub const WINDOW: usize = 4;

/// At most this many words are taken from a message's texts: a 50 MB
/// message costs no more than a long one.
pub const MAX_WORDS: usize = 20_000;

/// At most this many bytes of one header field's value are read.
pub const MAX_HEADER_BYTES: usize = 2_000;

// Seeds of the fields that are not header names.
const BODY: u64 = 0;
const CAPS: u64 = 0x5eed_0001;
const URL: u64 = 0x5eed_0002;
const EMAIL: u64 = 0x5eed_0003;
const HEADER_NAME: u64 = 0x5eed_0004;
const FACT: u64 = 0x5eed_0005;
const HIDDEN: u64 = 0x5eed_0006;

/// A message's tokens, sorted and without duplicates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tokens(Vec<u64>);

impl Tokens {
    pub fn as_slice(&self) -> &[u64] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_vec(self) -> Vec<u64> {
        self.0
    }
}

/// Builds the tokens of one message from its decoded parts.
#[derive(Default)]
pub struct Tokenizer {
    out: Vec<u64>,
    words: usize,
    lower: String,
}

/// Header fields left out entirely (see the module's documentation).
fn ignored_header(name: &str) -> bool {
    name.starts_with("x-spam")
        || name.starts_with("x-havre")
        || name.starts_with("arc-")
        || matches!(
            name,
            "date"
                | "delivery-date"
                | "x-original-date"
                | "content-length"
                | "lines"
                | "status"
                | "x-status"
                | "x-keywords"
                | "x-uid"
                | "x-uidl"
                | "dkim-signature"
                | "domainkey-signature"
                | "x-google-dkim-signature"
                | "authentication-results"
                | "received-spf"
        )
}

/// Header fields holding message ids: only their domains are tokens.
fn id_header(name: &str) -> bool {
    matches!(
        name,
        "message-id" | "references" | "in-reply-to" | "resent-message-id"
    )
}

/// A finalizer (SplitMix64's) for combining two hashes into a pair's.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The OSB feature of `earlier` followed `gap` words later by `later`.
fn pair(earlier: u64, later: u64, gap: usize) -> u64 {
    mix(earlier.rotate_left(17 * gap as u32)
        ^ later.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ gap as u64)
}

/// A stream of words in one field: unigrams, and OSB pairs when `osb`.
struct Stream {
    seed: u64,
    osb: bool,
    window: [u64; WINDOW],
    filled: usize,
}

impl Stream {
    fn new(seed: u64, osb: bool) -> Stream {
        Stream {
            seed,
            osb,
            window: [0; WINDOW],
            filled: 0,
        }
    }

    fn word(&mut self, out: &mut Vec<u64>, word: &str) {
        let hash = xxh3_64_with_seed(word.as_bytes(), self.seed);
        out.push(hash);
        if self.osb {
            for (gap, &earlier) in self.window[..self.filled].iter().enumerate() {
                out.push(pair(earlier, hash, gap + 1));
            }
            self.window.copy_within(0..WINDOW - 1, 1);
            self.window[0] = hash;
            self.filled = (self.filled + 1).min(WINDOW);
        }
    }
}

impl Tokenizer {
    pub fn new() -> Tokenizer {
        Tokenizer::default()
    }

    /// A header field, with its decoded value (RFC 2047 words decoded).
    pub fn header(&mut self, name: &str, value: &str) {
        let name = name.trim().to_ascii_lowercase();
        if ignored_header(&name) {
            return;
        }
        self.out
            .push(xxh3_64_with_seed(name.as_bytes(), HEADER_NAME));
        let value = truncate(value, MAX_HEADER_BYTES);
        let seed = xxh3_64(name.as_bytes());
        if id_header(&name) {
            for id in value.split('<').skip(1) {
                let id = id.split('>').next().unwrap_or("");
                if let Some((_, domain)) = id.rsplit_once('@') {
                    let domain = domain.to_ascii_lowercase();
                    self.out.push(xxh3_64_with_seed(domain.as_bytes(), seed));
                }
            }
            return;
        }
        let osb = name == "subject";
        self.stream(value, Stream::new(seed, osb), osb);
    }

    /// The text of a body part (HTML with its tags stripped), decoded.
    pub fn text(&mut self, text: &str) {
        // About one word in six bytes, each a unigram and WINDOW pairs:
        // grown once rather than doubled a dozen times.
        let words = (text.len() / 6).min(MAX_WORDS.saturating_sub(self.words));
        self.out.reserve(words * (WINDOW + 1));
        self.stream(text, Stream::new(BODY, true), true);
    }

    /// Text an HTML part hides from its reader: its words apart from the
    /// visible ones.
    pub fn hidden_text(&mut self, text: &str) {
        self.stream(text, Stream::new(HIDDEN, false), false);
    }

    /// The host of a URL found in the message (text or HTML link).
    pub fn url_host(&mut self, host: &str) {
        let host = host.trim_matches('.').to_ascii_lowercase();
        self.url_tokens(&host);
    }

    /// A fact about the message, named by the caller (`html-only`,
    /// `attachment-type:application/zip`...).
    pub fn fact(&mut self, fact: &str) {
        self.out.push(xxh3_64_with_seed(fact.as_bytes(), FACT));
    }

    /// The tokens, sorted and deduplicated.
    pub fn finish(mut self) -> Tokens {
        self.out.sort_unstable();
        self.out.dedup();
        Tokens(self.out)
    }

    fn url_tokens(&mut self, host: &str) {
        if host.is_empty() {
            return;
        }
        let mut rest = host;
        loop {
            self.out.push(xxh3_64_with_seed(rest.as_bytes(), URL));
            match rest.split_once('.') {
                Some((_, parent)) if !parent.is_empty() => rest = parent,
                _ => break,
            }
        }
    }

    fn stream(&mut self, text: &str, mut stream: Stream, caps: bool) {
        let mut out = std::mem::take(&mut self.out);
        let mut lower = std::mem::take(&mut self.lower);
        let mut words = self.words;
        let mut urls = Vec::new();
        pieces(text, |piece| {
            if words >= MAX_WORDS {
                return;
            }
            words += 1;
            lower.clear();
            match piece {
                Piece::Word(word) => {
                    lower_into(word, &mut lower);
                    if caps && is_shouting(word) {
                        out.push(xxh3_64_with_seed(lower.as_bytes(), CAPS));
                    }
                    if lower.len() >= 5 && lower.bytes().all(|b| b.is_ascii_digit()) {
                        let shape = format!("#{}", lower.len());
                        lower.clear();
                        lower.push_str(&shape);
                    }
                }
                Piece::Url(host) => {
                    lower.push_str("url:");
                    lower.push_str(registrable(&host));
                    urls.push(host);
                }
                Piece::Email(local, domain) => {
                    out.push(xxh3_64_with_seed(domain.as_bytes(), EMAIL));
                    out.push(xxh3_64_with_seed(
                        format!("{local}@{domain}").as_bytes(),
                        EMAIL,
                    ));
                    lower.push_str("email:");
                    lower.push_str(registrable(&domain));
                }
                Piece::Skip(first, len) => {
                    lower.push_str("skip:");
                    lower.push(first);
                    lower.push_str(&len.to_string());
                }
            }
            stream.word(&mut out, &lower);
        });
        self.out = out;
        self.lower = lower;
        self.words = words;
        for host in urls {
            self.url_tokens(&host);
        }
    }
}

fn lower_into(word: &str, into: &mut String) {
    if word.is_ascii() {
        into.push_str(word);
        into.make_ascii_lowercase();
    } else {
        into.extend(word.chars().flat_map(char::to_lowercase));
    }
}

/// A word of three letters or more written in capitals.
fn is_shouting(word: &str) -> bool {
    let mut letters = 0;
    for c in word.chars() {
        if c.is_lowercase() {
            return false;
        }
        if c.is_alphabetic() {
            letters += 1;
        }
    }
    letters >= 3
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(build: impl FnOnce(&mut Tokenizer)) -> Tokens {
        let mut t = Tokenizer::new();
        build(&mut t);
        t.finish()
    }

    #[test]
    fn the_same_words_give_the_same_tokens_once_each() {
        let a = tokens(|t| t.text("buy cheap pills now buy cheap pills now"));
        let b = tokens(|t| t.text("Buy cheap PILLS now"));
        // Sorted, deduplicated; case does not matter to the words (PILLS
        // adds its capitals token).
        assert!(a.as_slice().windows(2).all(|w| w[0] < w[1]));
        let extra: Vec<_> = b
            .as_slice()
            .iter()
            .filter(|t| !a.as_slice().contains(t))
            .collect();
        assert_eq!(extra.len(), 1, "only the capitals token differs");
    }

    #[test]
    fn word_order_matters_through_the_pairs() {
        let a = tokens(|t| t.text("meeting tomorrow morning"));
        let b = tokens(|t| t.text("morning tomorrow meeting"));
        assert_ne!(a, b);
        // 3 unigrams, and pairs at gaps 1 (2) and 2 (1).
        assert_eq!(a.len(), 6);
    }

    #[test]
    fn the_subject_and_the_body_are_apart() {
        let subject = tokens(|t| t.header("Subject", "free money"));
        let body = tokens(|t| t.text("free money"));
        let common = subject
            .as_slice()
            .iter()
            .filter(|t| body.as_slice().contains(t))
            .count();
        assert_eq!(common, 0);
    }

    #[test]
    fn our_own_marks_and_dates_are_not_tokens() {
        let none = tokens(|t| {
            t.header("X-Spam-Status", "HIGH");
            t.header("X-Havre-Quarantine", "dmarc");
            t.header("Date", "Mon, 1 Jan 2024 00:00:00 +0000");
        });
        assert!(none.is_empty());
    }

    #[test]
    fn urls_count_by_host_and_parents() {
        let a = tokens(|t| t.text("see http://a.example.com/x"));
        let b = tokens(|t| t.text("see http://b.example.com/y?z"));
        let shared = a
            .as_slice()
            .iter()
            .filter(|t| b.as_slice().contains(t))
            .count();
        // "see", "url:example.com" and their pair; example.com and com.
        assert_eq!(shared, 5);
    }

    #[test]
    fn message_ids_give_their_domain() {
        let a = tokens(|t| t.header("Message-ID", "<123.456@mail.example.com>"));
        let b = tokens(|t| t.header("Message-Id", "<789@mail.example.com>"));
        assert_eq!(a, b);
        assert_eq!(a.len(), 2, "the header's presence and its domain");
    }

    #[test]
    fn words_stop_at_the_limit() {
        let long = "word ".repeat(MAX_WORDS * 2) + "unseen";
        let t = tokens(|t| t.text(&long));
        let unseen = tokens(|t| t.text("unseen"));
        assert!(!t.as_slice().contains(&unseen.as_slice()[0]));
    }
}
