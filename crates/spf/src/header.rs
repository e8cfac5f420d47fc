//! The headers that record an SPF check: `Received-SPF:` (RFC 7208 9.1)
//! and the `spf=` result of `Authentication-Results:` (RFC 8601 2.7.2).
//! Only the values: the caller writes the field names, the authserv-id and
//! folds the line.
//!
//! Everything in them comes from the client (HELO name, MAIL FROM, DNS
//! text), so control characters are replaced and values that are not an
//! atom are quoted: no client can end the header or add one.

use crate::{Identity, SpfResult, Verdict};

impl Verdict {
    /// The value of a `Received-SPF:` header:
    ///
    /// ```text
    /// pass (mx.example.org: domain of alice@example.com designates 192.0.2.1 as permitted sender)
    ///  client-ip=192.0.2.1; envelope-from="alice@example.com"; helo=mail.example.com;
    ///  receiver=mx.example.org; identity=mailfrom; mechanism="ip4:192.0.2.0/24";
    /// ```
    ///
    /// (on one line). `mechanism=` appears when one matched, `problem=`
    /// for none, permerror and temperror.
    pub fn received_spf(&self) -> String {
        let result = self.result();
        let (receiver, sender, ip) = (&self.receiver, &self.sender, self.client_ip);
        let comment = match result {
            SpfResult::Pass => {
                format!("{receiver}: domain of {sender} designates {ip} as permitted sender")
            }
            SpfResult::Fail => format!(
                "{receiver}: domain of {sender} does not designate {ip} as permitted sender"
            ),
            SpfResult::SoftFail => format!(
                "{receiver}: domain of transitioning {sender} does not designate {ip} as permitted sender"
            ),
            SpfResult::Neutral => {
                format!("{receiver}: {ip} is neither permitted nor denied by domain of {sender}")
            }
            SpfResult::None => {
                format!("{receiver}: domain of {sender} does not designate permitted sender hosts")
            }
            SpfResult::TempError => {
                format!("{receiver}: error in processing during lookup of {sender}")
            }
            SpfResult::PermError => {
                format!("{receiver}: permanent error in processing domain of {sender}")
            }
        };
        let mut out = format!("{result} ({})", comment_text(&comment));
        let mut pair = |key: &str, value: &str| {
            out.push_str(&format!(" {key}={};", value_text(value)));
        };
        pair("client-ip", &ip.to_string());
        pair("envelope-from", &self.envelope_from);
        pair("helo", &self.helo);
        pair("receiver", receiver);
        pair("identity", self.identity.as_str());
        if let Some(mechanism) = &self.evaluation.mechanism {
            pair("mechanism", mechanism);
        }
        if let Some(reason) = &self.evaluation.reason {
            pair("problem", &reason.to_string());
        }
        out
    }

    /// The `spf=` result of an `Authentication-Results:` header (without
    /// the authserv-id and its `;`): `spf=pass smtp.mailfrom=alice@example.com`,
    /// or `smtp.helo=` for the HELO identity; errors carry their reason as
    /// a comment.
    pub fn authentication_results(&self) -> String {
        let mut out = format!("spf={}", self.result());
        if matches!(self.result(), SpfResult::PermError | SpfResult::TempError)
            && let Some(reason) = &self.evaluation.reason
        {
            out.push_str(&format!(" ({})", comment_text(&reason.to_string())));
        }
        match self.identity {
            Identity::MailFrom => {
                let from = if self.envelope_from.is_empty() {
                    &self.sender
                } else {
                    &self.envelope_from
                };
                out.push_str(&format!(" smtp.mailfrom={}", address_value(from)));
            }
            Identity::Helo => {
                out.push_str(&format!(" smtp.helo={}", value_text(&self.helo)));
            }
        }
        out
    }
}

/// RFC 5322 `atext`.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

/// `dot-atom-text`: atoms joined by single dots.
fn is_dot_atom(text: &str) -> bool {
    !text.is_empty()
        && text
            .split('.')
            .all(|a| !a.is_empty() && a.chars().all(is_atext))
}

/// Control characters (CR and LF among them) become '?'.
fn printable(text: &str) -> impl Iterator<Item = char> + '_ {
    text.chars().map(|c| if c.is_control() { '?' } else { c })
}

/// A dot-atom as it is, anything else as a quoted-string.
fn value_text(text: &str) -> String {
    if is_dot_atom(text) {
        return text.to_owned();
    }
    let mut out = String::from('"');
    for c in printable(text) {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Text for inside a comment: parentheses and backslashes escaped.
fn comment_text(text: &str) -> String {
    let mut out = String::new();
    for c in printable(text) {
        if matches!(c, '(' | ')' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// RFC 8601 `pvalue` for an address: `local@domain`, the local part
/// quoted when it is neither a dot-atom nor already quoted; the whole
/// quoted when the domain is not a dot-atom.
fn address_value(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) if is_dot_atom(domain) => {
            let quoted = local.len() >= 2
                && local.starts_with('"')
                && local.ends_with('"')
                && !local.chars().any(char::is_control);
            if local.is_empty() || is_dot_atom(local) || quoted {
                format!("{local}@{domain}")
            } else {
                format!("{}@{domain}", value_text(local))
            }
        }
        _ => value_text(address),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Evaluation, Reason};

    fn verdict(result: SpfResult, identity: Identity) -> Verdict {
        Verdict {
            identity,
            client_ip: "192.0.2.1".parse().unwrap(),
            helo: "mail.example.com".into(),
            envelope_from: if identity == Identity::Helo {
                String::new()
            } else {
                "alice@example.com".into()
            },
            sender: if identity == Identity::Helo {
                "postmaster@mail.example.com".into()
            } else {
                "alice@example.com".into()
            },
            domain: "example.com".into(),
            receiver: "mx.havre.test".into(),
            evaluation: Evaluation {
                result,
                mechanism: (result == SpfResult::Pass).then(|| "ip4:192.0.2.0/24".into()),
                explanation: None,
                reason: None,
            },
        }
    }

    #[test]
    fn a_pass_names_the_sender_the_address_and_the_mechanism() {
        assert_eq!(
            verdict(SpfResult::Pass, Identity::MailFrom).received_spf(),
            "pass (mx.havre.test: domain of alice@example.com designates 192.0.2.1 as permitted sender) \
             client-ip=192.0.2.1; envelope-from=\"alice@example.com\"; helo=mail.example.com; \
             receiver=mx.havre.test; identity=mailfrom; mechanism=\"ip4:192.0.2.0/24\";"
        );
        assert_eq!(
            verdict(SpfResult::Pass, Identity::MailFrom).authentication_results(),
            "spf=pass smtp.mailfrom=alice@example.com"
        );
    }

    #[test]
    fn the_helo_identity_and_errors() {
        let mut v = verdict(SpfResult::PermError, Identity::Helo);
        v.client_ip = "2001:db8::1".parse().unwrap();
        v.evaluation.reason = Some(Reason::TooManyMx("example.com".into()));
        assert_eq!(
            v.received_spf(),
            "permerror (mx.havre.test: permanent error in processing domain of postmaster@mail.example.com) \
             client-ip=\"2001:db8::1\"; envelope-from=\"\"; helo=mail.example.com; \
             receiver=mx.havre.test; identity=helo; problem=\"example.com has more than 10 MX records\";"
        );
        assert_eq!(
            v.authentication_results(),
            "spf=permerror (example.com has more than 10 MX records) smtp.helo=mail.example.com"
        );
        let softfail = verdict(SpfResult::SoftFail, Identity::MailFrom).received_spf();
        assert!(
            softfail.starts_with(
                "softfail (mx.havre.test: domain of transitioning alice@example.com does not"
            ),
            "{softfail}"
        );
    }

    #[test]
    fn client_text_cannot_break_out_of_the_header() {
        let mut v = verdict(SpfResult::None, Identity::MailFrom);
        v.helo = "evil\r\nX-Injected: yes".into();
        v.sender = "a(b)c\\@example.com".into();
        v.envelope_from = "\"a b\"@example.com".into();
        let header = v.received_spf();
        assert!(!header.contains('\r') && !header.contains('\n'), "{header}");
        assert!(
            header.contains("helo=\"evil??X-Injected: yes\";"),
            "{header}"
        );
        assert!(
            header.contains("domain of a\\(b\\)c\\\\@example.com"),
            "{header}"
        );
        assert!(
            header.contains("envelope-from=\"\\\"a b\\\"@example.com\";"),
            "{header}"
        );
        assert_eq!(
            v.authentication_results(),
            "spf=none smtp.mailfrom=\"a b\"@example.com"
        );
    }
}
