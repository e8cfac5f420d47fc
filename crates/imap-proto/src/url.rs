//! The IMAP URLs CATENATE takes (RFC 4469 over RFC 5092), relative to this
//! server: `/mailbox[;UIDVALIDITY=n]/;UID=m[/;SECTION=s]`. Absolute URLs
//! (another server, URLAUTH) are not taken.

use crate::fetch::{Section, parse_section};
use crate::lexer::Cursor;
use crate::mailbox::decode_mailbox_name;

/// One message, or one section of it, of the user's own mailboxes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapUrl {
    /// Decoded to UTF-8, as a mailbox name.
    pub mailbox: String,
    pub uid_validity: Option<u32>,
    pub uid: u32,
    /// `None`: the whole message.
    pub section: Option<Section>,
}

impl ImapUrl {
    /// `None` for anything but a well-formed relative message URL.
    pub fn parse(url: &str) -> Option<ImapUrl> {
        let path = url.strip_prefix('/')?;
        let upper = path.to_ascii_uppercase();
        let at = upper.find("/;UID=")?;
        let (mailbox_part, rest) = (&path[..at], &path[at + "/;UID=".len()..]);
        let (enc_mailbox, uid_validity) =
            match mailbox_part.to_ascii_uppercase().find(";UIDVALIDITY=") {
                Some(i) => (
                    &mailbox_part[..i],
                    Some(nz(&mailbox_part[i + ";UIDVALIDITY=".len()..])?),
                ),
                None => (mailbox_part, None),
            };
        let (uid, section) = match rest.to_ascii_uppercase().find("/;SECTION=") {
            Some(i) => (&rest[..i], Some(&rest[i + "/;SECTION=".len()..])),
            None => (rest, None),
        };
        let uid = nz(uid)?;
        let name = percent_decode(enc_mailbox)?;
        if name.is_empty() {
            return None;
        }
        let mailbox = decode_mailbox_name(&name, false).ok()?;
        let section = match section {
            None => None,
            Some(text) => {
                let mut bracketed = b"[".to_vec();
                bracketed.extend(percent_decode(text)?);
                bracketed.push(b']');
                let mut c = Cursor::new(&bracketed);
                let section = parse_section(&mut c).ok()?;
                if !c.at_end() {
                    return None;
                }
                Some(section)
            }
        };
        Some(ImapUrl {
            mailbox,
            uid_validity,
            uid,
            section,
        })
    }
}

fn nz(digits: &str) -> Option<u32> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|&n| n > 0)
}

fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::SectionText;

    #[test]
    fn rfc_4469_urls_name_a_message_or_a_section() {
        let url = ImapUrl::parse("/INBOX;UIDVALIDITY=385759045/;UID=20").unwrap();
        assert_eq!(
            url,
            ImapUrl {
                mailbox: "INBOX".into(),
                uid_validity: Some(385759045),
                uid: 20,
                section: None,
            }
        );
        let url = ImapUrl::parse("/Drafts/;uid=7/;section=1.2.MIME").unwrap();
        assert_eq!(url.mailbox, "Drafts");
        assert_eq!(url.uid_validity, None);
        let section = url.section.unwrap();
        assert_eq!(section.part, vec![1, 2]);
        assert_eq!(section.text, Some(SectionText::Mime));
        let url = ImapUrl::parse("/Caf%C3%A9/;UID=1/;SECTION=TEXT").unwrap();
        assert_eq!(url.mailbox, "Café");
    }

    #[test]
    fn other_urls_are_refused() {
        for bad in [
            "imap://bob@example.test/INBOX/;UID=1",
            "/INBOX",
            "/INBOX/;UID=0",
            "/INBOX/;UID=x",
            "//;UID=1",
            "/INBOX;UIDVALIDITY=/;UID=1",
            "/INBOX/;UID=1/;SECTION=BOGUS",
            "/IN%ZZ/;UID=1",
        ] {
            assert_eq!(ImapUrl::parse(bad), None, "{bad}");
        }
    }
}
