//! Symbols of the checks that ran before the filter, read from the headers
//! they added: our `Authentication-Results:` (RFC 8601; the authserv-id is
//! this node's host name), `Received-SPF:` (RFC 7208 9.1) and
//! greylisting's `X-Greylist:`.
//!
//! During the SMTP transaction those headers are not in the message yet:
//! they come from [`havre_checks::Facts::added`]. In a stored message
//! they are at its top; only those naming our host are believed (the mx
//! removes any `Authentication-Results:` a client forged with our name).

use crate::score::Found;

/// Symbols from `fields` (name, value), for the authserv-id `ours`.
pub fn symbols<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>, ours: &str) -> Vec<Found> {
    let mut found = Vec::new();
    let mut spf_seen = false;
    let mut received_spf: Option<String> = None;
    let mut results_seen = false;
    let mut greylisted = false;
    for (name, value) in fields {
        if name.eq_ignore_ascii_case("Authentication-Results") {
            // The first of ours is the newest: a message relayed through
            // this node twice keeps the first check.
            if results_seen {
                continue;
            }
            let Some(parts) = parse_results(value, ours) else {
                continue;
            };
            results_seen = true;
            for (method, result, detail) in parts {
                match method.as_str() {
                    "spf" if !spf_seen => {
                        spf_seen = true;
                        found.extend(spf(&result));
                    }
                    "dkim" => found.extend(dkim(&result)),
                    "dmarc" => found.extend(dmarc(&result, &detail)),
                    "arc" => found.extend(arc(&result)),
                    _ => {}
                }
            }
        } else if name.eq_ignore_ascii_case("Received-SPF") && received_spf.is_none() {
            if receiver(value).is_some_and(|r| r.eq_ignore_ascii_case(ours)) {
                received_spf = value
                    .split_whitespace()
                    .next()
                    .map(|w| w.to_ascii_lowercase());
            }
        } else if name.eq_ignore_ascii_case("X-Greylist")
            && !greylisted
            && greylisted_here(value, ours)
        {
            greylisted = true;
            found.push(Found::new("GREYLIST_DELAYED"));
        }
    }
    if !spf_seen && let Some(result) = received_spf {
        found.extend(spf(&result));
    }
    // Two signatures may give both DKIM symbols, but each once.
    let mut unique: Vec<Found> = Vec::new();
    for f in found {
        if !unique.iter().any(|u| u.name == f.name) {
            unique.push(f);
        }
    }
    unique
}

fn spf(result: &str) -> Option<Found> {
    Some(Found::new(match result {
        "pass" => "R_SPF_ALLOW",
        "fail" => "R_SPF_FAIL",
        "softfail" => "R_SPF_SOFTFAIL",
        "neutral" => "R_SPF_NEUTRAL",
        "none" => "R_SPF_NA",
        "temperror" => "R_SPF_DNSFAIL",
        "permerror" => "R_SPF_PERMFAIL",
        _ => return None,
    }))
}

fn dkim(result: &str) -> Option<Found> {
    Some(Found::new(match result {
        "pass" => "R_DKIM_ALLOW",
        "fail" => "R_DKIM_REJECT",
        "temperror" => "R_DKIM_TEMPFAIL",
        "permerror" | "policy" | "neutral" => "R_DKIM_PERMFAIL",
        "none" => "R_DKIM_NA",
        _ => return None,
    }))
}

/// `dmarc=fail (p=reject dis=reject)`: the policy is in the comment.
fn dmarc(result: &str, comment: &str) -> Option<Found> {
    let policy = comment
        .split_whitespace()
        .find_map(|w| w.strip_prefix("p="))
        .unwrap_or("none");
    Some(Found::new(match result {
        "pass" => "DMARC_POLICY_ALLOW",
        "fail" => match policy {
            "reject" => "DMARC_POLICY_REJECT",
            "quarantine" => "DMARC_POLICY_QUARANTINE",
            _ => "DMARC_POLICY_SOFTFAIL",
        },
        "none" => "DMARC_NA",
        "temperror" => "DMARC_DNSFAIL",
        "permerror" => "DMARC_BAD_POLICY",
        _ => return None,
    }))
}

fn arc(result: &str) -> Option<Found> {
    Some(Found::new(match result {
        "pass" => "ARC_ALLOW",
        "fail" => "ARC_REJECT",
        "none" => "ARC_NA",
        "temperror" => "ARC_DNSFAIL",
        "permerror" | "neutral" | "policy" => "ARC_INVALID",
        _ => return None,
    }))
}

/// The parts of an `Authentication-Results:` value whose authserv-id is
/// `ours`: (method, result, comment text), lower case; `None` for another
/// host's.
fn parse_results(value: &str, ours: &str) -> Option<Vec<(String, String, String)>> {
    let statements = split_outside(value, ';');
    let mut iter = statements.into_iter();
    let id = iter.next()?;
    let id = strip_comments(&id).0;
    // RFC 8601 2.2: the authserv-id may be followed by a version number.
    let id = id.split_whitespace().next()?.trim_matches('"');
    if !id.eq_ignore_ascii_case(ours) {
        return None;
    }
    let mut parts = Vec::new();
    for statement in iter {
        let (text, comment) = strip_comments(&statement);
        let Some((method, rest)) = text.trim().split_once('=') else {
            continue;
        };
        // `dkim/1=pass`: a method version.
        let method = method
            .trim()
            .split('/')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let result = rest
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        parts.push((method, result, comment.to_ascii_lowercase()));
    }
    Some(parts)
}

/// `text` cut at each `sep` outside quoted strings and comments.
fn split_outside(text: &str, sep: char) -> Vec<String> {
    let mut out = vec![String::new()];
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    for c in text.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' && (quoted || depth > 0) {
            escaped = true;
        } else if quoted {
            quoted = c != '"';
        } else if c == '"' && depth == 0 {
            quoted = true;
        } else if c == '(' {
            depth += 1;
        } else if c == ')' {
            depth = depth.saturating_sub(1);
        } else if c == sep && depth == 0 {
            out.push(String::new());
            continue;
        }
        if let Some(last) = out.last_mut() {
            last.push(c);
        }
    }
    out
}

/// `text` without its comments, and the comments' text.
fn strip_comments(text: &str) -> (String, String) {
    let (mut plain, mut comments) = (String::new(), String::new());
    let (mut depth, mut escaped, mut quoted) = (0usize, false, false);
    for c in text.chars() {
        if escaped {
            escaped = false;
            if depth > 0 {
                comments.push(c);
            } else {
                plain.push(c);
            }
            continue;
        }
        match c {
            '\\' if depth > 0 || quoted => escaped = true,
            '"' if depth == 0 => {
                quoted = !quoted;
                plain.push(c);
            }
            '(' if !quoted => {
                depth += 1;
                if depth == 1 {
                    comments.push(' ');
                    plain.push(' ');
                    continue;
                }
                comments.push(c);
            }
            ')' if !quoted && depth > 0 => {
                depth -= 1;
                if depth > 0 {
                    comments.push(c);
                }
            }
            _ if depth > 0 => comments.push(c),
            _ => plain.push(c),
        }
    }
    (plain, comments)
}

/// The `receiver=` of a `Received-SPF:` value.
fn receiver(value: &str) -> Option<String> {
    let (plain, _) = strip_comments(value);
    split_outside(&plain, ';').into_iter().find_map(|pair| {
        let (key, v) = pair.trim().split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("receiver")
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// Whether an `X-Greylist:` value was written by this host
/// (`delayed 301 seconds by havre-0.1.0 at mx.example.org; date`).
fn greylisted_here(value: &str, ours: &str) -> bool {
    let head = value.split(';').next().unwrap_or("");
    head.starts_with("delayed ")
        && head
            .split_whitespace()
            .last()
            .is_some_and(|host| host.eq_ignore_ascii_case(ours))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(fields: &[(&str, &str)]) -> Vec<&'static str> {
        symbols(fields.iter().copied(), "mx.example.edu")
            .into_iter()
            .map(|f| f.name)
            .collect()
    }

    #[test]
    fn our_authentication_results_give_spf_dkim_dmarc_and_arc_symbols() {
        let ours = "mx.example.edu; spf=pass smtp.mailfrom=a@example.org; \
                    dkim=pass header.d=example.org header.s=s1; \
                    dkim=fail (body hash did not verify) header.d=other.example; \
                    dmarc=pass (p=reject dis=none) header.from=example.org; arc=none";
        assert_eq!(
            names(&[("Authentication-Results", ours)]),
            [
                "R_SPF_ALLOW",
                "R_DKIM_ALLOW",
                "R_DKIM_REJECT",
                "DMARC_POLICY_ALLOW",
                "ARC_NA"
            ]
        );
        let failing = "MX.example.edu (havre); spf=softfail (x; y) smtp.mailfrom=\"a;b\"@x.example; \
                       dkim=none; dmarc=fail (p=quarantine dis=quarantine) header.from=x.example; \
                       arc=fail (signature \\(bad\\))";
        assert_eq!(
            names(&[("Authentication-Results", failing)]),
            [
                "R_SPF_SOFTFAIL",
                "R_DKIM_NA",
                "DMARC_POLICY_QUARANTINE",
                "ARC_REJECT"
            ]
        );
        assert_eq!(
            names(&[(
                "Authentication-Results",
                "mx.example.edu; spf=none; dkim=temperror; dmarc=fail (p=none dis=none); arc=temperror (x)"
            )]),
            [
                "R_SPF_NA",
                "R_DKIM_TEMPFAIL",
                "DMARC_POLICY_SOFTFAIL",
                "ARC_DNSFAIL"
            ]
        );
    }

    #[test]
    fn another_hosts_results_are_not_believed() {
        assert!(
            names(&[(
                "Authentication-Results",
                "mx.example.edu.evil.example; spf=pass; dkim=pass; dmarc=pass"
            )])
            .is_empty()
        );
        assert!(names(&[("Authentication-Results", "elsewhere.example; dmarc=pass")]).is_empty());
        assert!(
            names(&[(
                "Received-SPF",
                "pass (x) client-ip=192.0.2.7; receiver=other.example; identity=mailfrom;"
            )])
            .is_empty()
        );
    }

    #[test]
    fn received_spf_counts_when_no_results_say_spf_and_greylisting_when_it_was_ours() {
        let spf = "fail (mx.example.edu: domain of a@x.example does not designate 192.0.2.7 as permitted sender) \
                   client-ip=192.0.2.7; envelope-from=\"a@x.example\"; helo=h; receiver=mx.example.edu; identity=mailfrom;";
        assert_eq!(names(&[("Received-SPF", spf)]), ["R_SPF_FAIL"]);
        let both = [
            ("Received-SPF", spf),
            (
                "Authentication-Results",
                "mx.example.edu; spf=fail smtp.mailfrom=a@x.example",
            ),
        ];
        assert_eq!(names(&both), ["R_SPF_FAIL"], "once");
        assert_eq!(
            names(&[(
                "X-Greylist",
                "delayed 301 seconds by havre-0.1.0 at mx.example.edu; Mon, 1 Jan 2029 10:00:00 +0000"
            )]),
            ["GREYLIST_DELAYED"]
        );
        assert!(
            names(&[(
                "X-Greylist",
                "delayed 301 seconds by postgrey-1.37 at elsewhere.example; Mon, 1 Jan 2029"
            )])
            .is_empty()
        );
    }
}
