//! Relay domains (Postfix's `relay_domains`) and the recipients accepted
//! for them (`relay_recipient_maps`): mail this node is not the final
//! destination of but takes from anyone, to pass on (a backup MX, the labs'
//! own servers).

use std::collections::HashSet;

/// `relay.domains` and `relay.recipients`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelayDomains {
    /// Domains, lower-case; `.parent` for its subdomains.
    domains: Vec<String>,
    /// Addresses, lower-case, and `@domain` for a whole domain.
    recipients: HashSet<String>,
    /// Recipients are also looked up in LDAP (`relay.recipients_from_ldap`):
    /// the directory decides what is not listed.
    ldap: bool,
}

/// What RCPT makes of an address at a domain that is not the node's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayVerdict {
    /// Not a relay domain: only clients that may relay send there.
    NotRelayed,
    /// A relay domain, and the recipient is known (or any is accepted).
    Accepted,
    /// A relay domain whose recipients are listed, and this one is not
    /// (Postfix: "User unknown in relay recipient table").
    UnknownRecipient,
}

/// What the list alone says: a verdict, or "ask LDAP" (a relay domain whose
/// recipients LDAP verifies, the recipient not listed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listed {
    Verdict(RelayVerdict),
    AskLdap,
}

impl RelayDomains {
    pub fn new(domains: &[String], recipients: &[String]) -> RelayDomains {
        let clean = |s: &String| s.trim().trim_end_matches('.').to_ascii_lowercase();
        RelayDomains {
            domains: domains
                .iter()
                .map(clean)
                .filter(|d| !d.is_empty())
                .collect(),
            recipients: recipients
                .iter()
                .map(clean)
                .filter(|r| !r.is_empty())
                .collect(),
            ldap: false,
        }
    }

    /// These relay domains verifying their recipients in LDAP too (the
    /// account or group an address belongs to), as Postfix's
    /// `relay_recipient_maps = ldap:...`.
    pub fn with_ldap_recipients(mut self, ldap: bool) -> RelayDomains {
        self.ldap = ldap;
        self
    }

    pub fn ldap_recipients(&self) -> bool {
        self.ldap
    }

    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }

    /// Whether `domain` (any case) is a relay domain: listed, or under a
    /// listed `.parent`.
    pub fn relays(&self, domain: &str) -> bool {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        self.domains.iter().any(|d| match d.strip_prefix('.') {
            Some(parent) => domain
                .strip_suffix(parent)
                .is_some_and(|sub| sub.ends_with('.') && sub.len() > 1),
            None => *d == domain,
        })
    }

    /// The verdict on `address` (`local@domain`, any case) by the list
    /// alone; [`crate::Directory::relay_verdict`] asks LDAP when told to.
    pub(crate) fn listed(&self, address: &str) -> Listed {
        let address = address.to_ascii_lowercase();
        let Some((_, domain)) = address.rsplit_once('@') else {
            return Listed::Verdict(RelayVerdict::NotRelayed);
        };
        if !self.relays(domain) {
            return Listed::Verdict(RelayVerdict::NotRelayed);
        }
        if (self.recipients.is_empty() && !self.ldap)
            || self.recipients.contains(&address)
            || self.recipients.contains(&format!("@{domain}"))
        {
            Listed::Verdict(RelayVerdict::Accepted)
        } else if self.ldap {
            Listed::AskLdap
        } else {
            Listed::Verdict(RelayVerdict::UnknownRecipient)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_relay_domain_and_the_subdomains_of_a_parent() {
        let relay = RelayDomains::new(&strings(&["Lab.Example.edu", ".backup.test"]), &[]);
        assert!(relay.relays("lab.example.edu"));
        assert!(relay.relays("LAB.example.edu."));
        assert!(!relay.relays("x.lab.example.edu"));
        assert!(relay.relays("a.backup.test"));
        assert!(relay.relays("b.a.backup.test"));
        assert!(!relay.relays("backup.test"));
        assert!(!relay.relays("notbackup.test"));
        assert_eq!(
            relay.listed("anyone@lab.example.edu"),
            Listed::Verdict(RelayVerdict::Accepted)
        );
        assert_eq!(
            relay.listed("x@elsewhere.test"),
            Listed::Verdict(RelayVerdict::NotRelayed)
        );
    }

    #[test]
    fn listed_recipients_are_the_only_ones_accepted() {
        let relay = RelayDomains::new(
            &strings(&["lab.example.edu", "open.example.edu"]),
            &strings(&["Alice@lab.example.edu", "@open.example.edu"]),
        );
        assert_eq!(
            relay.listed("alice@LAB.example.edu"),
            Listed::Verdict(RelayVerdict::Accepted)
        );
        assert_eq!(
            relay.listed("mallory@lab.example.edu"),
            Listed::Verdict(RelayVerdict::UnknownRecipient)
        );
        assert_eq!(
            relay.listed("anyone@open.example.edu"),
            Listed::Verdict(RelayVerdict::Accepted)
        );
    }

    #[test]
    fn with_ldap_the_recipients_not_listed_are_asked_there() {
        let relay = RelayDomains::new(
            &strings(&["lab.example.edu"]),
            &strings(&["root@lab.example.edu"]),
        )
        .with_ldap_recipients(true);
        assert_eq!(
            relay.listed("root@lab.example.edu"),
            Listed::Verdict(RelayVerdict::Accepted)
        );
        assert_eq!(relay.listed("ana@lab.example.edu"), Listed::AskLdap);
        assert_eq!(
            relay.listed("x@elsewhere.test"),
            Listed::Verdict(RelayVerdict::NotRelayed)
        );
        let only_ldap =
            RelayDomains::new(&strings(&["lab.example.edu"]), &[]).with_ldap_recipients(true);
        assert_eq!(only_ldap.listed("ana@lab.example.edu"), Listed::AskLdap);
    }
}
