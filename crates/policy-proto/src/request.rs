//! One request: its attributes in the order they came.

/// The attributes of one request. Postfix's README lets a server keep the
/// first or the last value of an attribute sent twice: [`Request::get`]
/// keeps the last.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    attributes: Vec<(String, String)>,
}

impl Request {
    pub fn new() -> Request {
        Request::default()
    }

    /// The same request with `name=value` added (clients, tests).
    pub fn with(mut self, name: &str, value: &str) -> Request {
        self.push(name.to_owned(), value.to_owned());
        self
    }

    pub(crate) fn push(&mut self, name: String, value: String) {
        self.attributes.push((name, value));
    }

    /// The value of `name` (the last one if it came more than once).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name`, `None` when missing or empty (Postfix sends
    /// `name=` for what it does not know).
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    /// Every attribute, in the order it came.
    pub fn attributes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.attributes
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.attributes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty()
    }

    /// The request as a client sends it: `name=value` lines and the empty
    /// line. A name or value holding a newline, a NUL or (in a name) `=`
    /// cannot be sent; such characters are replaced by spaces.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, value) in &self.attributes {
            out.extend(name.bytes().map(|b| match b {
                b'\n' | b'\r' | 0 | b'=' => b' ',
                b => b,
            }));
            out.push(b'=');
            out.extend(value.bytes().map(|b| match b {
                b'\n' | b'\r' | 0 => b' ',
                b => b,
            }));
            out.push(b'\n');
        }
        out.push(b'\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_value_of_a_repeated_attribute_wins_and_empty_values_are_none() {
        let r = Request::new()
            .with("sender", "a@example.org")
            .with("sasl_username", "")
            .with("sender", "b@example.org");
        assert_eq!(r.get("sender"), Some("b@example.org"));
        assert_eq!(r.get("sasl_username"), Some(""));
        assert_eq!(r.non_empty("sasl_username"), None);
        assert_eq!(r.get("recipient"), None);
        assert_eq!(r.len(), 3);
    }

    #[test]
    fn a_request_is_encoded_as_lines_and_an_empty_line() {
        let r = Request::new()
            .with("request", "smtpd_access_policy")
            .with("helo_name", "evil\nrecipient=x");
        assert_eq!(
            r.encode(),
            b"request=smtpd_access_policy\nhelo_name=evil recipient=x\n\n"
        );
    }
}
