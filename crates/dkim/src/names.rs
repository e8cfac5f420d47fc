//! Domain and selector names. Both become path components, so only DNS
//! names are accepted: no `/`, no `..`, no empty label.

use crate::DkimError;

fn labels_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// The form keys are filed under: lower-case ASCII (IDNA for internationalised
/// names), without a trailing dot. The same as `havre domain add` stores.
pub fn normalize_domain(domain: &str) -> Result<String, DkimError> {
    let invalid = || DkimError::InvalidDomain(domain.to_owned());
    let trimmed = domain.strip_suffix('.').unwrap_or(domain);
    if trimmed.is_empty() || trimmed.starts_with('[') {
        return Err(invalid());
    }
    let ascii = idna::domain_to_ascii(trimmed).map_err(|_| invalid())?;
    if labels_ok(&ascii) {
        Ok(ascii)
    } else {
        Err(invalid())
    }
}

/// A selector (RFC 6376 3.1: a sub-domain), in lower case.
pub fn normalize_selector(selector: &str) -> Result<String, DkimError> {
    let lower = selector.to_ascii_lowercase();
    if labels_ok(&lower) {
        Ok(lower)
    } else {
        Err(DkimError::InvalidSelector(selector.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_lower_case_ascii_without_the_root_dot() {
        assert_eq!(normalize_domain("Example.ORG.").unwrap(), "example.org");
        assert_eq!(
            normalize_domain("bücher.example").unwrap(),
            "xn--bcher-kva.example"
        );
        for bad in ["", ".", "a..b", "../etc", "a/b", "[192.0.2.1]", "-a.test"] {
            assert!(normalize_domain(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn selectors_are_dns_labels() {
        assert_eq!(normalize_selector("Havre2026").unwrap(), "havre2026");
        assert_eq!(normalize_selector("2026.eu").unwrap(), "2026.eu");
        for bad in ["", "a b", "../x", "a/b", ".x", "x.", "_x", "a..b"] {
            assert!(normalize_selector(bad).is_err(), "{bad:?}");
        }
    }
}
