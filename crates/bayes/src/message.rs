//! The tokens of a message as havre-content analysed it.

use havre_content::Content;

use crate::tokens::{Tokenizer, Tokens};

/// The tokens of an analysed message: its header fields, its text parts,
/// its hidden HTML text (apart: words a reader does not see), the hosts of
/// its URLs, and facts of its shape (HTML only, images, attachments'
/// types and extensions, encodings).
pub fn tokenize(content: &Content) -> Tokens {
    tokenize_marked(content, "")
}

/// [`tokenize`] for a message that may carry our subject tag (`[SPAM] `,
/// `spam.subject_tag`): learned from a Junk folder, or moved out of it, the
/// message is learned as it arrived, without the tag (which would teach
/// that the word "spam" in a subject is spam, and then ham).
pub fn tokenize_marked(content: &Content, subject_tag: &str) -> Tokens {
    let mut t = Tokenizer::new();
    let tag = subject_tag.trim();
    for field in &content.headers {
        let mut value = field.value.as_str();
        if !tag.is_empty() && field.name.eq_ignore_ascii_case("subject") {
            value = value.trim_start();
            if let Some(rest) = value.strip_prefix(tag) {
                value = rest;
            }
        }
        t.header(&field.name, value);
    }
    for part in &content.text_parts {
        t.text(content.part_text(part));
    }
    if !content.hidden_text.is_empty() {
        t.hidden_text(&content.hidden_text);
    }
    for host in &content.url_hosts {
        t.url_host(host);
    }
    facts(content, &mut t);
    t.finish()
}

fn facts(content: &Content, t: &mut Tokenizer) {
    let html = &content.html;
    if html.html_only {
        t.fact("html-only");
    }
    if html.mostly_images {
        t.fact("mostly-images");
    }
    if html.images > 0 {
        t.fact(&format!("images:{}", html.images.min(5)));
    }
    if html.links.iter().any(|link| link.text_names_other_host()) {
        t.fact("link-text-names-other-host");
    }
    for attachment in &content.attachments {
        t.fact(&format!("attachment-type:{}", attachment.declared_type));
        if let Some(ext) = attachment.extension() {
            t.fact(&format!("attachment-ext:{ext}"));
        }
        if let Some(sniffed) = attachment.sniffed {
            t.fact(&format!("attachment-sniffed:{}", sniffed.as_str()));
        }
    }
    let encoding = &content.encoding;
    for (happened, name) in [
        (encoding.text_base64 > 0, "text-base64"),
        (encoding.text_qp > 0, "text-qp"),
        (encoding.broken_base64 > 0, "broken-base64"),
        (encoding.broken_qp > 0, "broken-qp"),
        (encoding.undeclared_8bit > 0, "undeclared-8bit"),
        (encoding.header_8bit, "header-8bit"),
        (content.text_parts.is_empty(), "no-text"),
    ] {
        if happened {
            t.fact(name);
        }
    }
    for charset in &encoding.unknown_charsets {
        t.fact(&format!("unknown-charset:{charset}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use havre_content::{Limits, analyze};

    #[test]
    fn our_subject_tag_is_not_learned() {
        let tagged = analyze(
            b"Subject: [SPAM] cheap pills\r\n\r\nbody\r\n",
            &Limits::default(),
        );
        let plain = analyze(b"Subject: cheap pills\r\n\r\nbody\r\n", &Limits::default());
        assert_eq!(tokenize_marked(&tagged, "[SPAM]"), tokenize(&plain));
        assert_ne!(tokenize(&tagged), tokenize(&plain));
    }

    #[test]
    fn html_is_read_as_its_text_and_base64_is_decoded() {
        let html = analyze(
            b"Subject: offer\r\nContent-Type: text/html\r\n\r\n<p>Cheap <b>pills</b> at <a href=\"http://pills.example.com/x\">here</a></p>\r\n",
            &Limits::default(),
        );
        let plain = analyze(
            b"Subject: offer\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\nQ2hlYXAgcGlsbHMgYXQgaGVyZQ==\r\n",
            &Limits::default(),
        );
        let html = tokenize(&html);
        let plain = tokenize(&plain);
        let words = {
            let mut t = Tokenizer::new();
            t.text("Cheap pills at here");
            t.finish()
        };
        for token in words.as_slice() {
            assert!(html.as_slice().contains(token), "HTML text");
            assert!(plain.as_slice().contains(token), "base64 text");
        }
        let url = {
            let mut t = Tokenizer::new();
            t.url_host("pills.example.com");
            t.finish()
        };
        assert!(url.as_slice().iter().all(|u| html.as_slice().contains(u)));
    }
}
