//! RFC 5322 address lists as IMAP ENVELOPE wants them, following Dovecot's
//! `message-address.c` as Dovecot 2.3 calls it for ENVELOPE ("fill missing"
//! and "non-strict dots": `a..b.@c` is a local part): display names stay
//! raw (encoded-words are not decoded), a missing local part or domain
//! becomes `MISSING_MAILBOX` / `MISSING_DOMAIN`, a broken `<...>` gets the
//! domain `SYNTAX_ERROR`, and groups are a start marker (mailbox = group
//! name, no host) followed by the members and an all-NIL end marker.

use crate::rfc822::{END, Lexer};

/// One IMAP address: (name adl mailbox host).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Address {
    pub name: Option<Vec<u8>>,
    pub route: Option<Vec<u8>>,
    pub mailbox: Option<Vec<u8>>,
    pub domain: Option<Vec<u8>>,
}

struct Parser<'a> {
    lx: Lexer<'a>,
    cur: Address,
    invalid: bool,
    out: Vec<Address>,
    s: Vec<u8>,
}

/// Parses an address-list header value. An empty list means NIL.
pub(crate) fn parse_address_list(value: &[u8]) -> Vec<Address> {
    let mut p = Parser {
        lx: Lexer::with_comments(value),
        cur: Address::default(),
        invalid: false,
        out: Vec::new(),
        s: Vec::new(),
    };
    if p.lx.skip_lwsp() > 0 {
        p.address_list();
    }
    p.out
}

impl Parser<'_> {
    fn add(&mut self) {
        self.out.push(std::mem::take(&mut self.cur));
        self.invalid = false;
    }

    fn add_fixed(&mut self) {
        if self.cur.mailbox.is_none() {
            self.cur.mailbox = Some(b"MISSING_MAILBOX".to_vec());
            self.invalid = true;
        }
        if self.cur.domain.as_ref().is_none_or(|d| d.is_empty()) {
            self.cur.domain = Some(b"MISSING_DOMAIN".to_vec());
            self.invalid = true;
        }
        self.add();
    }

    /// Local part with dots anywhere (leading, trailing, doubled).
    fn nonstrict_dot_atom(&mut self) -> i32 {
        let mut ret = -1;
        loop {
            while self.lx.cur() == b'.' {
                self.s.push(b'.');
                self.lx.pos += 1;
                if self.lx.at_end() {
                    return END;
                }
                ret = 1;
            }
            if self.lx.cur() == b'@' {
                break;
            }
            ret = self.lx.parse_atom(&mut self.s);
            if !(ret > 0 && self.lx.cur() == b'.') {
                break;
            }
        }
        ret
    }

    fn local_part(&mut self) -> i32 {
        self.s.clear();
        let ret = if self.lx.cur() == b'"' {
            self.lx.parse_quoted_string(&mut self.s)
        } else {
            self.nonstrict_dot_atom()
        };
        if ret < 0 {
            return -1;
        }
        self.cur.mailbox = Some(self.s.clone());
        ret
    }

    fn domain(&mut self) -> i32 {
        self.s.clear();
        let ret = self.lx.parse_domain(&mut self.s);
        if ret < 0 {
            return -1;
        }
        self.cur.domain = Some(self.s.clone());
        ret
    }

    fn domain_list(&mut self) -> i32 {
        self.s.clear();
        loop {
            if self.lx.at_end() {
                return END;
            }
            if self.lx.cur() != b'@' {
                break;
            }
            if !self.s.is_empty() {
                self.s.push(b',');
            }
            self.s.push(b'@');
            let ret = self.lx.parse_domain(&mut self.s);
            if ret <= 0 {
                return ret;
            }
            while self.lx.skip_lwsp() > 0 && self.lx.cur() == b',' {
                self.lx.pos += 1;
            }
        }
        self.cur.route = Some(self.s.clone());
        1
    }

    fn angle_addr(&mut self) -> i32 {
        self.lx.pos += 1; // '<'
        if self.lx.skip_lwsp() <= 0 {
            return -1;
        }
        if self.lx.cur() == b'@' {
            if self.domain_list() > 0 && self.lx.cur() == b':' {
                self.lx.pos += 1;
            } else {
                self.cur.route = Some(b"INVALID_ROUTE".to_vec());
                if self.lx.at_end() {
                    return -1;
                }
            }
            if self.lx.skip_lwsp() <= 0 {
                return -1;
            }
        }
        if self.lx.cur() != b'>' {
            if self.local_part() <= 0 {
                return -1;
            }
            if self.lx.cur() == b'@' && self.domain() <= 0 {
                return -1;
            }
        }
        if self.lx.cur() != b'>' {
            return -1;
        }
        self.lx.pos += 1;
        self.lx.skip_lwsp()
    }

    fn name_addr(&mut self) -> i32 {
        self.s.clear();
        if self.lx.parse_phrase(&mut self.s) <= 0 || self.lx.cur() != b'<' {
            return -1;
        }
        self.cur.name = (!self.s.is_empty()).then(|| self.s.clone());
        if self.angle_addr() < 0 {
            self.cur.domain = Some(b"SYNTAX_ERROR".to_vec());
            self.invalid = true;
        }
        if self.lx.at_end() { 0 } else { 1 }
    }

    fn addr_spec(&mut self) -> i32 {
        let mut ret2 = -2;
        if let Some(c) = self.lx.last_comment.as_mut() {
            c.clear();
        }
        let quoted = self.lx.cur() == b'"';
        let mut ret = self.local_part();
        if ret <= 0 {
            self.invalid = true;
        }
        if ret != 0 && !self.lx.at_end() && self.lx.cur() == b'@' {
            ret2 = self.domain();
            if ret2 <= 0 {
                ret = ret2;
            }
        }
        let comment = self.lx.last_comment.clone().unwrap_or_default();
        if !comment.is_empty() {
            self.cur.name = Some(comment);
        } else if ret2 == -2 {
            // "user" alone is a mailbox, "user more words" a display name
            self.s.push(b' ');
            let orig_len = self.s.len();
            self.lx.parse_phrase(&mut self.s);
            if self.s.len() != orig_len {
                self.cur.mailbox = None;
                self.cur.name = Some(self.s.clone());
            } else if !quoted {
                self.cur.domain = Some(Vec::new());
            }
            self.invalid = true;
            ret = -1;
        }
        ret
    }

    fn mailbox(&mut self) -> i32 {
        let start = self.lx.pos;
        let mut ret = self.name_addr();
        if ret < 0 {
            self.lx.pos = start;
            ret = self.addr_spec();
            if self.invalid
                && self.cur.name.is_none()
                && self.cur.mailbox.is_some()
                && self.cur.domain.is_none()
            {
                self.cur.name = self.cur.mailbox.take();
            }
        }
        if ret < 0 {
            self.invalid = true;
        }
        self.add_fixed();
        ret
    }

    fn group(&mut self) -> i32 {
        self.s.clear();
        if self.lx.parse_phrase(&mut self.s) <= 0 || self.lx.cur() != b':' {
            return -1;
        }
        self.lx.pos += 1;
        let mut ret = self.lx.skip_lwsp();
        self.cur.mailbox = Some(self.s.clone());
        self.add();
        if ret > 0 && self.lx.cur() != b';' {
            loop {
                self.mailbox();
                if self.lx.at_end() || self.lx.cur() != b',' {
                    break;
                }
                self.lx.pos += 1;
                if self.lx.skip_lwsp() <= 0 {
                    ret = -1;
                    break;
                }
            }
        }
        if ret >= 0 {
            if self.lx.at_end() || self.lx.cur() != b';' {
                ret = -1;
            } else {
                self.lx.pos += 1;
                ret = self.lx.skip_lwsp();
            }
        }
        self.add();
        if ret == 0 { 0 } else { 1 }
    }

    fn address(&mut self) -> i32 {
        let start = self.lx.pos;
        let ret = self.group();
        if ret >= 0 {
            return ret;
        }
        self.lx.pos = start;
        self.mailbox()
    }

    fn address_list(&mut self) {
        loop {
            if self.address() == 0 {
                break;
            }
            if self.lx.at_end() || self.lx.cur() != b',' {
                break;
            }
            self.lx.pos += 1;
            let ret = self.lx.skip_lwsp();
            if ret <= 0 {
                if ret < 0 {
                    self.add_fixed();
                }
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(value: &str) -> Vec<[Option<String>; 4]> {
        let s = |v: &Option<Vec<u8>>| v.as_ref().map(|b| String::from_utf8_lossy(b).into_owned());
        parse_address_list(value.as_bytes())
            .iter()
            .map(|a| [s(&a.name), s(&a.route), s(&a.mailbox), s(&a.domain)])
            .collect()
    }

    fn a(
        name: Option<&str>,
        route: Option<&str>,
        mb: Option<&str>,
        dom: Option<&str>,
    ) -> [Option<String>; 4] {
        [name, route, mb, dom].map(|x| x.map(str::to_owned))
    }

    #[test]
    fn names_comments_and_routes() {
        assert_eq!(
            show(
                "\"Doe, John\" <john@example.com>, jane@example.org (Jane D), <@relay.net:bob@x.y>"
            ),
            [
                a(Some("Doe, John"), None, Some("john"), Some("example.com")),
                a(Some("Jane D"), None, Some("jane"), Some("example.org")),
                a(None, Some("@relay.net"), Some("bob"), Some("x.y")),
            ]
        );
    }

    #[test]
    fn groups_have_start_and_end_markers() {
        assert_eq!(
            show("undisclosed-recipients:;"),
            [
                a(None, None, Some("undisclosed-recipients"), None),
                a(None, None, None, None)
            ]
        );
        assert_eq!(
            show("team: a@b, c@d;"),
            [
                a(None, None, Some("team"), None),
                a(None, None, Some("a"), Some("b")),
                a(None, None, Some("c"), Some("d")),
                a(None, None, None, None),
            ]
        );
    }

    #[test]
    fn dots_are_accepted_anywhere_in_local_parts() {
        assert_eq!(
            show(".a.b..c@d"),
            [a(None, None, Some(".a.b..c"), Some("d"))]
        );
        assert_eq!(
            show("x.@"),
            [a(None, None, Some("x."), Some("MISSING_DOMAIN"))]
        );
    }

    #[test]
    fn broken_addresses_are_filled_like_dovecot() {
        assert_eq!(
            show("user"),
            [a(None, None, Some("user"), Some("MISSING_DOMAIN"))]
        );
        assert_eq!(
            show("Some Body"),
            [a(
                Some("Some Body"),
                None,
                Some("MISSING_MAILBOX"),
                Some("MISSING_DOMAIN")
            )]
        );
        assert_eq!(show(""), Vec::<[Option<String>; 4]>::new());
        assert_eq!(
            show("=?utf-8?q?J=C3=B6rg?= <j@x>"),
            [a(Some("=?utf-8?q?J=C3=B6rg?="), None, Some("j"), Some("x"))]
        );
    }
}
