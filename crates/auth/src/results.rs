//! The `Authentication-Results:` header (RFC 8601): the authserv-id, then
//! one `method=result (comment) property=value` part per check.
//!
//! Values come from the client (HELO, MAIL FROM) or from signatures
//! (`d=`, `s=`): anything that is not a dot-atom is quoted and control
//! characters replaced, so no client can end the header or add a part.

/// The parts of one header, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Results {
    authserv_id: String,
    parts: Vec<String>,
}

impl Results {
    /// A header for `authserv_id` (the host name of this node).
    pub fn new(authserv_id: &str) -> Results {
        Results {
            authserv_id: value(authserv_id),
            parts: Vec::new(),
        }
    }

    /// Adds one `method=result ...` part.
    pub fn push(&mut self, part: impl Into<String>) {
        self.parts.push(part.into());
    }

    pub fn parts(&self) -> &[String] {
        &self.parts
    }

    /// The header's value: `mx.example.org; spf=pass ...; dkim=none`, or
    /// `mx.example.org; none` when nothing was checked (RFC 8601 2.2).
    pub fn value(&self) -> String {
        if self.parts.is_empty() {
            return format!("{}; none", self.authserv_id);
        }
        format!("{}; {}", self.authserv_id, self.parts.join("; "))
    }
}

/// RFC 5322 `atext`.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

fn is_dot_atom(text: &str) -> bool {
    !text.is_empty()
        && text
            .split('.')
            .all(|a| !a.is_empty() && a.chars().all(is_atext))
}

/// A property value: a dot-atom as it is, anything else quoted.
pub fn value(text: &str) -> String {
    if is_dot_atom(text) {
        return text.to_owned();
    }
    let mut out = String::from('"');
    for c in text.chars() {
        let c = if c.is_control() { '?' } else { c };
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Text for inside a `(comment)`: parentheses and backslashes escaped,
/// control characters replaced.
pub fn comment(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let c = if c.is_control() { '?' } else { c };
        if matches!(c, '(' | ')' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_follow_the_authserv_id_and_hostile_values_stay_inside() {
        let mut r = Results::new("mx.example.test");
        assert_eq!(r.value(), "mx.example.test; none");
        r.push(format!(
            "dkim=fail ({}) header.d={}",
            comment("bad (sig)\r\n"),
            value("a b\"\r\nX: y")
        ));
        assert_eq!(
            r.value(),
            "mx.example.test; dkim=fail (bad \\(sig\\)??) header.d=\"a b\\\"??X: y\""
        );
    }
}
