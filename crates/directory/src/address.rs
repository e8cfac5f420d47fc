//! Mail addresses as the directory sees them.
//!
//! The local part is kept as the client wrote it (for `Delivered-To:` and logs)
//! but compared case-insensitively, as Postfix's virtual maps do. The domain is
//! lower-cased, converted to its ASCII (IDNA) form and stripped of one trailing
//! dot, so `alice@EXAMPLE.TEST.` and `alice@example.test` are the same mailbox.
//! IP literals (`user@[192.0.2.1]`) are refused: havre never treats them as local
//! and never relays to them.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("address has no @domain")]
    NoDomain,
    #[error("address has an empty local part")]
    EmptyLocalPart,
    #[error("address literals like [{0}] are not accepted")]
    IpLiteral(String),
    #[error("invalid domain {0:?}")]
    InvalidDomain(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    local: String,
    domain: String,
}

impl Address {
    /// Splits at the last `@`: in `"a@b"@example.test` (quotes already removed by
    /// the SMTP parser) the domain is `example.test` and the local part `a@b`,
    /// which then matches no user. Splitting at the first `@` would make it an
    /// open relay.
    pub fn parse(address: &str) -> Result<Address, AddressError> {
        let (local, domain) = address.rsplit_once('@').ok_or(AddressError::NoDomain)?;
        if local.is_empty() {
            return Err(AddressError::EmptyLocalPart);
        }
        Ok(Address {
            local: local.to_string(),
            domain: normalize_domain(domain)?,
        })
    }

    pub fn local(&self) -> &str {
        &self.local
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The lookup key: lower-case `local@domain`.
    pub fn key(&self) -> String {
        format!("{}@{}", self.local.to_lowercase(), self.domain)
    }

    pub fn with_local(&self, local: &str) -> Address {
        Address {
            local: local.to_string(),
            domain: self.domain.clone(),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

/// Lower-case ASCII form of a domain, as stored in the directory.
pub fn normalize_domain(domain: &str) -> Result<String, AddressError> {
    if let Some(literal) = domain.strip_prefix('[') {
        return Err(AddressError::IpLiteral(
            literal.trim_end_matches(']').to_string(),
        ));
    }
    let trimmed = domain.strip_suffix('.').unwrap_or(domain);
    let invalid = || AddressError::InvalidDomain(domain.to_string());
    if trimmed.is_empty() || trimmed.len() > 253 {
        return Err(invalid());
    }
    let ascii = idna::domain_to_ascii(trimmed).map_err(|_| invalid())?;
    let labels_ok = ascii.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    });
    if !labels_ok {
        return Err(invalid());
    }
    Ok(ascii)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_case_and_a_trailing_dot_name_the_same_domain() {
        let a = Address::parse("Alice@EXAMPLE.Test.").unwrap();
        assert_eq!(a.key(), "alice@example.test");
        assert_eq!(a.to_string(), "Alice@example.test");
    }

    #[test]
    fn a_quoted_local_part_holding_an_at_sign_stays_in_the_local_part() {
        let a = Address::parse("victim@evil.test@example.test").unwrap();
        assert_eq!(a.domain(), "example.test");
        assert_eq!(a.local(), "victim@evil.test");
    }

    #[test]
    fn ip_literals_and_broken_domains_are_refused() {
        assert!(matches!(
            Address::parse("x@[192.0.2.1]"),
            Err(AddressError::IpLiteral(_))
        ));
        assert!(Address::parse("x@exa mple.test").is_err());
        assert!(Address::parse("x@a..test").is_err());
        assert!(Address::parse("x@").is_err());
        assert_eq!(Address::parse("nodomain"), Err(AddressError::NoDomain));
        assert_eq!(Address::parse("@x.test"), Err(AddressError::EmptyLocalPart));
    }

    #[test]
    fn international_domains_are_compared_in_their_ascii_form() {
        let a = Address::parse("anne@université.test").unwrap();
        assert_eq!(a.domain(), "xn--universit-j4a.test");
    }
}
