//! The message `sendmail` reads: split into header fields and body lines as
//! Unix programs write it (LF line ends, maybe no header at all), with what
//! Postfix's cleanup does to local mail: recipients taken from the header
//! for `-t`, Bcc: removed, From:, Date: and Message-ID: added when missing.

use std::io::BufRead;

/// A message as lines without their line ends.
pub struct Message {
    /// Each field with its continuation lines.
    fields: Vec<Vec<Vec<u8>>>,
    body: Vec<Vec<u8>>,
}

/// Reads the message: to the end of input, or (without `ignore_dots`) up
/// to a line holding a single dot, as sendmail has always stopped.
pub fn read(input: impl BufRead, ignore_dots: bool) -> std::io::Result<Message> {
    let mut lines = Vec::new();
    for line in input.split(b'\n') {
        let mut line = line?;
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if !ignore_dots && line == b"." {
            break;
        }
        lines.push(line);
    }
    Ok(Message::from_lines(lines))
}

/// `Name:` with a printable name, as RFC 5322 2.2 defines a field.
fn is_field_start(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return false;
    };
    colon > 0 && line[..colon].iter().all(|&b| (33..=126).contains(&b))
}

impl Message {
    fn from_lines(lines: Vec<Vec<u8>>) -> Message {
        let mut fields: Vec<Vec<Vec<u8>>> = Vec::new();
        let mut rest = lines.into_iter().peekable();
        while let Some(line) = rest.peek() {
            if line.is_empty() {
                rest.next();
                break;
            }
            if (line[0] == b' ' || line[0] == b'\t') && !fields.is_empty() {
                let line = rest.next().unwrap_or_default();
                if let Some(field) = fields.last_mut() {
                    field.push(line);
                }
                continue;
            }
            if !is_field_start(line) {
                // A message without a header (`echo text | sendmail root`):
                // the body starts here, a blank line is put before it.
                break;
            }
            fields.push(vec![rest.next().unwrap_or_default()]);
        }
        Message {
            fields,
            body: rest.collect(),
        }
    }

    fn name_of(field: &[Vec<u8>]) -> &[u8] {
        let first = &field[0];
        let colon = first.iter().position(|&b| b == b':').unwrap_or(0);
        first[..colon].trim_ascii_end()
    }

    fn is(field: &[Vec<u8>], name: &str) -> bool {
        Self::name_of(field).eq_ignore_ascii_case(name.as_bytes())
    }

    pub fn has(&self, name: &str) -> bool {
        self.fields.iter().any(|f| Self::is(f, name))
    }

    /// The value of each `name` field, unfolded.
    fn values(&self, name: &str) -> Vec<Vec<u8>> {
        self.fields
            .iter()
            .filter(|f| Self::is(f, name))
            .map(|f| {
                let mut value =
                    f[0][f[0].iter().position(|&b| b == b':').unwrap_or(0) + 1..].to_vec();
                for more in &f[1..] {
                    value.extend_from_slice(more);
                }
                value
            })
            .collect()
    }

    /// `-t`: the addresses of To:, Cc: and Bcc: (the Resent- ones instead
    /// when the message has any, as when a message is forwarded again).
    /// Unqualified names (`root`) are kept: havre serve completes them.
    pub fn header_recipients(&self) -> Vec<String> {
        let resent = ["Resent-To", "Resent-Cc", "Resent-Bcc"];
        let names = if resent.iter().any(|n| self.has(n)) {
            resent
        } else {
            ["To", "Cc", "Bcc"]
        };
        let mut out: Vec<String> = Vec::new();
        for name in names {
            for value in self.values(name) {
                for address in addresses(&value) {
                    if !out.iter().any(|a| a.eq_ignore_ascii_case(&address)) {
                        out.push(address);
                    }
                }
            }
        }
        out
    }

    /// Removes every `name` field.
    pub fn remove(&mut self, name: &str) {
        self.fields.retain(|f| !Self::is(f, name));
    }

    /// Adds `name: value` at the end of the header.
    pub fn add(&mut self, name: &str, value: &str) {
        self.fields
            .push(vec![format!("{name}: {value}").into_bytes()]);
    }

    /// The message in CRLF lines, header, blank line, body (not dot-stuffed).
    pub fn to_crlf(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for line in self.fields.iter().flatten() {
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        for line in &self.body {
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    /// Whether anything in it needs SMTPUTF8 or 8BITMIME (8-bit bytes).
    pub fn is_8bit(&self) -> bool {
        self.fields
            .iter()
            .flatten()
            .chain(&self.body)
            .any(|l| !l.is_ascii())
    }
}

/// The addresses of an address-list field value (groups, display names,
/// quoted commas and comments understood: mail-parser reads it).
fn addresses(value: &[u8]) -> Vec<String> {
    let mut text = b"To:".to_vec();
    text.extend_from_slice(value);
    text.extend_from_slice(b"\r\n\r\n");
    let Some(parsed) = mail_parser::MessageParser::default().parse(&text[..]) else {
        return Vec::new();
    };
    let Some(list) = parsed.to() else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|a| {
            // A bare `root` reads as a display name without an address:
            // as one word, it is the unqualified address Unix tools write.
            a.address.as_deref().or_else(|| {
                a.name
                    .as_deref()
                    .filter(|n| !n.trim().is_empty() && !n.trim().contains(char::is_whitespace))
            })
        })
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect()
}

/// `Full Name <address>`, the name quoted when it needs to be (RFC 5322
/// 3.2.4); just the address without a name.
pub fn mailbox(full_name: Option<&str>, address: &str) -> String {
    let Some(name) = full_name.map(str::trim).filter(|n| !n.is_empty()) else {
        return address.to_string();
    };
    let plain = name
        .chars()
        .all(|c| c.is_alphanumeric() || " !#$%&'*+-/=?^_`{|}~".contains(c));
    if plain {
        format!("{name} <{address}>")
    } else {
        let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
        format!("\"{escaped}\" <{address}>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str, ignore_dots: bool) -> Message {
        read(text.as_bytes(), ignore_dots).unwrap()
    }

    #[test]
    fn recipients_come_from_to_cc_and_bcc_with_names_groups_and_unqualified_names() {
        let m = message(
            "To: \"Doe, John\" <john@example.org>, root\nCc: team: a@x.test, b@x.test;\n\
             Bcc: hidden@x.test\nSubject: hi\n\nbody\n",
            false,
        );
        assert_eq!(
            m.header_recipients(),
            [
                "john@example.org",
                "root",
                "a@x.test",
                "b@x.test",
                "hidden@x.test"
            ]
        );
    }

    #[test]
    fn resent_fields_win_when_there_are_any() {
        let m = message("To: a@x.test\nResent-To: b@x.test\n\nbody\n", false);
        assert_eq!(m.header_recipients(), ["b@x.test"]);
    }

    #[test]
    fn a_lone_dot_ends_the_message_unless_dots_are_ignored() {
        let text = "Subject: s\n\nline\n.\nafter\n";
        assert_eq!(
            message(text, false).to_crlf(),
            b"Subject: s\r\n\r\nline\r\n".to_vec()
        );
        assert_eq!(
            message(text, true).to_crlf(),
            b"Subject: s\r\n\r\nline\r\n.\r\nafter\r\n".to_vec()
        );
    }

    #[test]
    fn a_message_without_header_gets_one_and_bcc_goes() {
        let mut m = message("hello there\nsecond line\n", true);
        assert!(!m.has("From"));
        m.add("From", "root@example.org");
        assert_eq!(
            m.to_crlf(),
            b"From: root@example.org\r\n\r\nhello there\r\nsecond line\r\n".to_vec()
        );
        let mut m = message("To: a@x.test\nBcc: b@x.test,\n c@x.test\n\nbody\n", true);
        m.remove("bcc");
        assert_eq!(m.to_crlf(), b"To: a@x.test\r\n\r\nbody\r\n".to_vec());
    }

    #[test]
    fn a_full_name_is_quoted_when_it_has_specials() {
        assert_eq!(
            mailbox(Some("Cron Daemon"), "root@x.test"),
            "Cron Daemon <root@x.test>"
        );
        assert_eq!(
            mailbox(Some("Doe, John (ops)"), "j@x.test"),
            "\"Doe, John (ops)\" <j@x.test>"
        );
        assert_eq!(mailbox(None, "j@x.test"), "j@x.test");
    }
}
