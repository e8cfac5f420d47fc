//! Sender authentication, as checks of the pipeline: who the client is
//! (its forward-confirmed reverse name, [`confirmed_name`]), whether it may
//! send for the domains it claims (SPF, at MAIL: [`SpfCheck`]), and whether
//! the message is what its author's domain signed and what that domain's
//! policy says about it (DKIM, ARC and DMARC at the end of DATA:
//! [`DmarcCheck`]).
//!
//! What a message gets, on the mx role:
//! - `Received-SPF:` (RFC 7208 9.1) for the MAIL FROM identity (the HELO
//!   identity for the null sender); an SPF `fail` of the HELO or MAIL FROM
//!   identity is refused with `550 5.7.23` when `reject_spf_fail` is set
//!   (policyd-spf's default); every other result is accepted: temperror
//!   and permerror too, as policyd-spf does by default;
//! - `Authentication-Results:` (RFC 8601) naming this host, with `spf=`,
//!   one `dkim=` per signature (or `dkim=none`), `dmarc=` and `arc=`;
//! - for a DMARC `fail` whose policy is `reject`: `550 5.7.1 Email rejected
//!   per DMARC policy for <domain>`; `quarantine`: accepted, with the
//!   `X-Havre-Quarantine: dmarc` header that local delivery honours by
//!   filing the message into the recipient's Junk folder.
//!
//! SPF is havre-spf's own `check_host()` (mail-auth 0.13's disagrees with
//! the RFC's conformance cases). DKIM, ARC and DMARC are mail-auth's, with
//! what it lets through refused here: `rsa-sha1` signatures (RFC 8301 3.1)
//! and signatures whose hash the key record's `h=` does not list (RFC 6376
//! 3.6.1) are reported as `dkim=policy` with the reason, and count for
//! nothing in DMARC. DMARC follows mail-auth's DMARCbis evaluation: the DNS
//! tree walk for the organizational domain (no public suffix list), `sp=`
//! and `np=` for subdomains, `t=y` lowering the policy one step; `pct=` no
//! longer exists there and is ignored.
//!
//! Authenticated clients (a SASL login) are not checked. Clients of the
//! trusted networks (`relay.internal_networks`) get the headers and are
//! never refused. A DNS failure is the RFC's temperror, never a refusal.

#![forbid(unsafe_code)]

mod dkim;
mod dmarc;
mod rdns;
mod results;
mod spf;

use std::sync::Arc;
use std::time::Duration;

use havre_checks::Facts;
use havre_spf::{Checker, Dns};
use ipnet::IpNet;
use mail_auth::MessageAuthenticator;

pub use dmarc::{DmarcCheck, QUARANTINE_HEADER};
pub use rdns::confirmed_name;
pub use results::Results;
pub use spf::SpfCheck;

/// How the checks behave, from `[mx]` and `[server]`.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// The authserv-id of `Authentication-Results:` and the `receiver=` of
    /// `Received-SPF:`: this node's host name.
    pub authserv_id: String,
    /// Refuse an SPF `fail` (HELO or MAIL FROM) with 550 5.7.23.
    pub reject_spf_fail: bool,
    /// Clients that get the headers but are never refused.
    pub trusted: Vec<IpNet>,
    /// The longest the end-of-DATA checks (DKIM, ARC, DMARC lookups) may
    /// take; beyond it their results are temperror.
    pub time_limit: Duration,
}

/// What the SPF and DMARC checks share: settings and the node's DNS.
pub struct SenderAuth {
    settings: AuthSettings,
    dns: Arc<dyn Dns>,
    spf: Checker<Arc<dyn Dns>>,
    authenticator: MessageAuthenticator,
}

impl SenderAuth {
    /// `dns` and `authenticator` should ask the same resolver (the node's,
    /// whose cache both then share).
    pub fn new(
        settings: AuthSettings,
        dns: Arc<dyn Dns>,
        authenticator: MessageAuthenticator,
    ) -> Arc<SenderAuth> {
        let spf = Checker::new(dns.clone()).with_receiver(settings.authserv_id.clone());
        Arc::new(SenderAuth {
            settings,
            dns,
            spf,
            authenticator,
        })
    }

    /// The checks to push on the mx pipeline: SPF (MAIL) and DMARC (DATA).
    pub fn checks(self: &Arc<SenderAuth>) -> (Arc<SpfCheck>, Arc<DmarcCheck>) {
        (
            Arc::new(SpfCheck::new(self.clone())),
            Arc::new(DmarcCheck::new(self.clone())),
        )
    }

    fn trusted(&self, facts: &Facts) -> bool {
        let ip = facts.client_ip.to_canonical();
        self.settings.trusted.iter().any(|n| n.contains(&ip))
    }

    /// The SPF verdict of the transaction: the MAIL FROM identity, or the
    /// HELO identity for the null sender.
    async fn spf_mail_from(&self, facts: &Facts) -> havre_spf::Verdict {
        let helo = facts.helo.as_deref().unwrap_or("");
        let sender = facts.sender.as_deref().unwrap_or("");
        self.spf
            .check_mail_from(facts.client_ip, sender, helo)
            .await
    }
}
