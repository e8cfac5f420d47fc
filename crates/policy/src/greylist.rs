//! Greylisting with Postgrey's semantics and defaults.
//!
//! A message is identified by its triplet: the client's network (its /24 for
//! IPv4, /64 for IPv6: Postgrey's `--lookup-by-subnet`, so a sender's pool
//! of outgoing servers counts as one), the sender as Postgrey normalises it
//! (lower-case; in the local part, `+extension` removed and each run of
//! digits standing alone replaced by `#`, so VERP and per-message bounce
//! addresses make one triplet: `bounce-1234-77@lists.example` →
//! `bounce-#-#@lists.example`), and the recipient (lower-case). An IPv4
//! client whose reverse name contains its last two address bytes is a
//! dial-up pool: it counts by its own address, as in Postgrey.
//!
//! The first RCPT of a triplet is deferred (`450 4.7.1 ... Greylisted,
//! please try again in N seconds`); a retry after `delay` passes, and the
//! message gets `X-Greylist: delayed N seconds by havre-VERSION at HOST;
//! DATE`; later messages of a triplet that passed pass without a header. A
//! first retry that comes after `retry_window` starts over. A triplet is
//! forgotten `max_age` after it was last seen (one that never passed,
//! `retry_window` after). A client address that passed greylisting
//! `auto_whitelist_clients` times (at most once an hour counts) is no longer
//! greylisted, whatever the triplet (Postgrey's `--auto-whitelist-clients`).
//!
//! Never greylisted: authenticated clients, `exempt` networks, and mail
//! whose recipient or sender domain, or client's confirmed name, is an
//! `exempt` domain or under one. (A sender domain can be forged: exempt
//! sender domains only where that does not matter.)
//!
//! Entries are durable keys of the state (`grey:NET/SENDER/RCPT` = `first,last`,
//! `awl:IP` = `count,last`, unix seconds): they survive a restart. If the
//! state cannot be read or written, mail is let through (logged): a broken
//! greylist must not stop mail.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use havre_checks::{Check, Facts, Stage, Verdict};
use havre_state::{Persist, State};
use ipnet::IpNet;

/// An auto-whitelisted client's use is recorded at most this often.
const AWL_RECORD_EVERY: i64 = 3600;

/// `greylist.*`, as the check needs them.
#[derive(Debug, Clone)]
pub struct GreylistSettings {
    pub delay: Duration,
    pub retry_window: Duration,
    pub max_age: Duration,
    /// Successful retries after which a client address is no longer
    /// greylisted (0: never).
    pub auto_whitelist_clients: u32,
    pub exempt: Exempt,
    /// Named in the `X-Greylist:` header.
    pub hostname: String,
}

impl Default for GreylistSettings {
    /// Postgrey's defaults: 300 s, 2 days, 35 days, 5.
    fn default() -> Self {
        GreylistSettings {
            delay: Duration::from_secs(300),
            retry_window: Duration::from_secs(2 * 86_400),
            max_age: Duration::from_secs(35 * 86_400),
            auto_whitelist_clients: 5,
            exempt: Exempt::default(),
            hostname: "localhost".into(),
        }
    }
}

/// Networks and domains that are never greylisted.
#[derive(Debug, Clone, Default)]
pub struct Exempt {
    networks: Vec<IpNet>,
    domains: Vec<String>,
}

impl Exempt {
    /// `greylist.exempt`: each entry a network (`192.0.2.0/24`), an address,
    /// or a domain (`example.org`, which covers its subdomains).
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Exempt, String> {
        let mut exempt = Exempt::default();
        for entry in entries {
            let entry = entry.as_ref().trim();
            if let Some(net) = parse_network(entry) {
                exempt.networks.push(net);
            } else if is_domain(entry) {
                exempt
                    .domains
                    .push(entry.trim_end_matches('.').to_ascii_lowercase());
            } else {
                return Err(format!(
                    "expected a network like \"192.0.2.0/24\" or a domain like \"example.org\", found {entry:?}"
                ));
            }
        }
        Ok(exempt)
    }

    /// Adds networks (`relay.internal_networks`, when the caller wants them
    /// spared too).
    pub fn with_networks(mut self, networks: impl IntoIterator<Item = IpNet>) -> Exempt {
        self.networks.extend(networks);
        self
    }

    /// Why `facts` are exempt, if they are.
    pub fn why(&self, facts: &Facts) -> Option<String> {
        let ip = canonical_ip(facts.client_ip);
        if let Some(net) = self.networks.iter().find(|n| n.contains(&ip)) {
            return Some(format!("client in exempt network {net}"));
        }
        let candidates = [
            ("recipient domain", facts.recipient_domain()),
            ("sender domain", facts.sender_domain()),
            (
                "client name",
                facts.client_name.as_deref().map(|n| n.to_ascii_lowercase()),
            ),
        ];
        for (what, name) in candidates {
            let Some(name) = name else { continue };
            let name = name.trim_end_matches('.');
            if let Some(d) = self.domains.iter().find(|d| in_domain(name, d)) {
                return Some(format!("{what} {name} in exempt domain {d}"));
            }
        }
        None
    }
}

/// A network or a single address.
pub(crate) fn parse_network(text: &str) -> Option<IpNet> {
    if let Ok(net) = text.parse::<IpNet>() {
        return Some(net);
    }
    text.parse::<IpAddr>().ok().map(IpNet::from)
}

fn is_domain(text: &str) -> bool {
    let text = text.trim_end_matches('.');
    !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn in_domain(name: &str, domain: &str) -> bool {
    name == domain
        || name
            .strip_suffix(domain)
            .is_some_and(|rest| rest.ends_with('.'))
}

/// An IPv4 client seen through an IPv6 socket is that IPv4 client.
fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// The client part of the triplet: /24 or /64, or the address itself for an
/// IPv4 dial-up pool (a reverse name containing the last two bytes).
pub fn client_network(ip: IpAddr, client_name: Option<&str>) -> String {
    match canonical_ip(ip) {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            let name = client_name.unwrap_or("");
            if !name.is_empty()
                && name.contains(&o[2].to_string())
                && name.contains(&o[3].to_string())
            {
                return v4.to_string();
            }
            format!("{}.{}.{}.0", o[0], o[1], o[2])
        }
        IpAddr::V6(v6) => {
            let net = ipnet::Ipv6Net::new(v6, 64).map(|n| n.trunc());
            net.map(|n| n.to_string())
                .unwrap_or_else(|_| v6.to_string())
        }
    }
}

/// The sender as Postgrey keys it: lower-case; in the local part, the
/// `+extension` removed and every run of digits that stands alone (between
/// non-word characters) replaced by `#`.
pub fn normalize_sender(sender: &str) -> String {
    let sender = sender.to_lowercase();
    let Some((user, domain)) = sender.split_once('@') else {
        return sender;
    };
    let user = user.split('+').next().unwrap_or("");
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let chars: Vec<char> = user.chars().collect();
    let mut out = String::with_capacity(user.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() && (i == 0 || !word(chars[i - 1])) {
            let end = (i..chars.len())
                .find(|&j| !chars[j].is_ascii_digit())
                .unwrap_or(chars.len());
            if end == chars.len() || !word(chars[end]) {
                out.push('#');
                i = end;
                continue;
            }
            out.extend(&chars[i..end]);
            i = end;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    format!("{out}@{domain}")
}

/// A stored `first,last` (or `count,last`) pair.
fn pair(value: &str) -> Option<(i64, i64)> {
    let (a, b) = value.split_once(',')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// The greylisting check, at RCPT.
pub struct Greylist {
    settings: GreylistSettings,
    state: Arc<dyn State>,
}

impl Greylist {
    pub fn new(settings: GreylistSettings, state: Arc<dyn State>) -> Greylist {
        Greylist { settings, state }
    }

    /// The state key of the triplet of `facts`.
    pub fn triplet_key(facts: &Facts) -> String {
        format!(
            "grey:{}/{}/{}",
            client_network(facts.client_ip, facts.client_name.as_deref()),
            normalize_sender(facts.sender.as_deref().unwrap_or("")),
            facts.recipient.as_deref().unwrap_or("").to_lowercase()
        )
    }

    /// The state key of the auto-whitelist counter of `facts`' client.
    pub fn awl_key(facts: &Facts) -> String {
        format!("awl:{}", canonical_ip(facts.client_ip))
    }

    /// Greylisting of one message rather than of a triplet (Rspamd's
    /// greylist action, which the spam filter takes for mail of a middling
    /// score): the same rules, exemptions and state, with `message` (a
    /// digest of the message) in the place of the recipient, so the first
    /// delivery of a message is deferred and the same message retried
    /// after the delay passes. At the end of DATA the exemptions read the
    /// first recipient.
    pub async fn check_message(&self, facts: &Facts, message: &str) -> Verdict {
        let mut facts = facts.clone();
        if facts.recipient.is_none() {
            facts.recipient = facts.recipients.first().cloned();
        }
        if facts.sasl_login.is_some() {
            return Verdict::accept().because("authenticated client");
        }
        if let Some(why) = self.settings.exempt.why(&facts) {
            return Verdict::accept().because(why);
        }
        let key = format!(
            "grey:{}/{}/msg:{message}",
            client_network(facts.client_ip, facts.client_name.as_deref()),
            normalize_sender(facts.sender.as_deref().unwrap_or("")),
        );
        self.decide_or_let_through(&facts, key).await
    }

    /// [`Greylist::decide`], mail let through if the state fails.
    async fn decide_or_let_through(&self, facts: &Facts, key: String) -> Verdict {
        match self.decide(facts, key).await {
            Ok(verdict) => verdict,
            Err(e) => {
                tracing::warn!(target: "checks", "greylist: {e}; letting {} through", facts.client_label());
                Verdict::accept().because(format!("state unavailable: {e}"))
            }
        }
    }

    /// The decision on the triplet of state key `key`, or a state error.
    async fn decide(&self, facts: &Facts, key: String) -> havre_state::Result<Verdict> {
        let s = &self.settings;
        let now = facts.unix_time();
        let delay = s.delay.as_secs() as i64;
        let awl_key = Greylist::awl_key(facts);
        let mut awl = None;
        if s.auto_whitelist_clients > 0 {
            awl = self.state.get(&awl_key).await?.as_deref().and_then(pair);
            if let Some((count, last)) = awl
                && count >= i64::from(s.auto_whitelist_clients)
            {
                if now >= last + AWL_RECORD_EVERY {
                    let value = format!("{},{now}", count + 1);
                    self.state
                        .set(&awl_key, &value, Some(s.max_age), Persist::Durable)
                        .await?;
                }
                return Ok(Verdict::accept().because(format!(
                    "client auto-whitelisted after {count} successful retries"
                )));
            }
        }

        let stored = self.state.get(&key).await?.as_deref().and_then(pair);
        let mut passed_before = false;
        let first = match stored {
            Some((first, last)) if last - first >= delay => {
                passed_before = true;
                first
            }
            // A first retry beyond the retry window starts over.
            Some((first, _)) if now - first > s.retry_window.as_secs() as i64 => now,
            Some((first, _)) => first,
            None => now,
        };
        let waited = now - first;
        let passes = waited >= delay;
        let ttl = if passes { s.max_age } else { s.retry_window };
        self.state
            .set(&key, &format!("{first},{now}"), Some(ttl), Persist::Durable)
            .await?;

        if passes && !passed_before && s.auto_whitelist_clients > 0 {
            let due = awl.is_none_or(|(_, last)| now >= last + AWL_RECORD_EVERY);
            if due {
                let count = awl.map_or(0, |(c, _)| c) + 1;
                self.state
                    .set(
                        &awl_key,
                        &format!("{count},{now}"),
                        Some(s.max_age),
                        Persist::Durable,
                    )
                    .await?;
                if count == i64::from(s.auto_whitelist_clients) {
                    tracing::info!(target: "checks", "greylist: client {} auto-whitelisted after {count} successful retries", facts.client_label());
                }
            }
        }

        if !passes {
            let left = delay - waited;
            let why = if stored.is_none() || first == now {
                "new triplet".to_owned()
            } else {
                format!("retried after {waited} s, before the {delay} s delay")
            };
            return Ok(Verdict::defer(
                450,
                "4.7.1",
                format!("Greylisted, please try again in {left} seconds"),
            )
            .because(why));
        }
        if passed_before {
            return Ok(Verdict::accept().because("triplet passed greylisting before"));
        }
        let date = chrono::DateTime::<chrono::Local>::from(facts.time).to_rfc2822();
        let value = format!(
            "delayed {waited} seconds by havre-{} at {}; {date}",
            env!("CARGO_PKG_VERSION"),
            s.hostname
        );
        Ok(Verdict::accept()
            .with_header("X-Greylist", value)
            .because(format!("retried after {waited} s")))
    }
}

#[async_trait]
impl Check for Greylist {
    fn name(&self) -> &str {
        "greylist"
    }

    fn stages(&self) -> &[Stage] {
        &[Stage::Rcpt]
    }

    async fn check(&self, facts: &Facts) -> Verdict {
        if facts.sasl_login.is_some() {
            return Verdict::accept().because("authenticated client");
        }
        if let Some(why) = self.settings.exempt.why(facts) {
            return Verdict::accept().because(why);
        }
        self.decide_or_let_through(facts, Greylist::triplet_key(facts))
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use havre_checks::Action;
    use havre_state::EmbeddedState;

    use super::*;

    const T0: u64 = 1_800_000_000;

    fn facts(ip: &str, sender: &str, rcpt: &str, at: u64) -> Facts {
        let mut f = Facts::new(ip.parse().unwrap());
        f.stage = Stage::Rcpt;
        f.sender = Some(sender.into());
        f.recipient = Some(rcpt.into());
        f.time = SystemTime::UNIX_EPOCH + Duration::from_secs(at);
        f
    }

    fn greylist(settings: GreylistSettings) -> Greylist {
        Greylist::new(settings, Arc::new(EmbeddedState::memory()))
    }

    fn deferred(v: &Verdict) -> Option<String> {
        match &v.action {
            Action::Defer(r) => Some(r.to_string()),
            _ => None,
        }
    }

    #[test]
    fn senders_are_normalised_as_postgrey_does() {
        assert_eq!(normalize_sender("Bob+Lists@Example.ORG"), "bob@example.org");
        assert_eq!(
            normalize_sender("bounce-1234-77@lists.example"),
            "bounce-#-#@lists.example"
        );
        assert_eq!(normalize_sender("user123@x.test"), "user123@x.test");
        assert_eq!(normalize_sender("123@x.test"), "#@x.test");
        assert_eq!(normalize_sender("a.12.b_3@x.test"), "a.#.b_3@x.test");
        assert_eq!(normalize_sender(""), "");
    }

    #[test]
    fn clients_are_grouped_by_network_except_dialup_pools() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(client_network(ip("192.0.2.77"), None), "192.0.2.0");
        assert_eq!(
            client_network(ip("192.0.2.77"), Some("mx3.example.org")),
            "192.0.2.0"
        );
        assert_eq!(
            client_network(ip("198.51.100.77"), Some("host-100-77.pool.isp.example")),
            "198.51.100.77"
        );
        assert_eq!(
            client_network(ip("2001:db8:1:2:3::9"), None),
            "2001:db8:1:2::/64"
        );
        assert_eq!(client_network(ip("::ffff:192.0.2.77"), None), "192.0.2.0");
    }

    #[tokio::test]
    async fn a_triplet_retried_after_the_delay_is_accepted_and_gets_x_greylist() {
        let g = greylist(GreylistSettings {
            hostname: "mx.example.edu".into(),
            ..GreylistSettings::default()
        });
        let first = g
            .check(&facts("192.0.2.7", "a@example.org", "b@example.edu", T0))
            .await;
        assert_eq!(
            deferred(&first).as_deref(),
            Some("450 4.7.1 Greylisted, please try again in 300 seconds")
        );
        let early = g
            .check(&facts(
                "192.0.2.8",
                "a@example.org",
                "B@example.edu",
                T0 + 100,
            ))
            .await;
        assert_eq!(
            deferred(&early).as_deref(),
            Some("450 4.7.1 Greylisted, please try again in 200 seconds"),
            "another address of the /24, same triplet, still early"
        );
        let retry = g
            .check(&facts(
                "192.0.2.7",
                "a@example.org",
                "b@example.edu",
                T0 + 301,
            ))
            .await;
        assert_eq!(retry.action, Action::Accept);
        let header = &retry.headers[0];
        assert_eq!(header.name, "X-Greylist");
        assert!(
            header.value.starts_with(&format!(
                "delayed 301 seconds by havre-{} at mx.example.edu; ",
                env!("CARGO_PKG_VERSION")
            )),
            "{header}"
        );
        let next = g
            .check(&facts(
                "192.0.2.7",
                "a@example.org",
                "b@example.edu",
                T0 + 4000,
            ))
            .await;
        assert_eq!(next.action, Action::Accept);
        assert!(next.headers.is_empty(), "later messages were not delayed");
    }

    #[tokio::test]
    async fn a_triplet_greylisted_before_a_restart_passes_its_retry_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let f = |at| facts("192.0.2.7", "a@example.org", "b@example.edu", at);
        {
            let state = EmbeddedState::open(&path).await.unwrap();
            let g = Greylist::new(GreylistSettings::default(), Arc::new(state));
            assert!(deferred(&g.check(&f(T0)).await).is_some());
        }
        let state = EmbeddedState::open(&path).await.unwrap();
        let g = Greylist::new(GreylistSettings::default(), Arc::new(state));
        let retry = g.check(&f(T0 + 300)).await;
        assert_eq!(retry.action, Action::Accept);
        assert_eq!(retry.headers[0].name, "X-Greylist");
    }

    #[tokio::test]
    async fn a_first_retry_after_the_retry_window_starts_over() {
        let g = greylist(GreylistSettings::default());
        g.check(&facts("192.0.2.7", "a@example.org", "b@example.edu", T0))
            .await;
        let late = g
            .check(&facts(
                "192.0.2.7",
                "a@example.org",
                "b@example.edu",
                T0 + 2 * 86_400 + 1,
            ))
            .await;
        assert_eq!(
            deferred(&late).as_deref(),
            Some("450 4.7.1 Greylisted, please try again in 300 seconds")
        );
    }

    #[tokio::test]
    async fn a_client_whitelisted_after_5_successful_retries_is_not_greylisted_for_a_new_triplet() {
        let g = greylist(GreylistSettings::default());
        let mut t = T0;
        for n in 0..5 {
            let rcpt = format!("user{n}@example.edu");
            let f = facts("192.0.2.7", "a@example.org", &rcpt, t);
            assert!(deferred(&g.check(&f).await).is_some(), "first attempt {n}");
            let f = facts("192.0.2.7", "a@example.org", &rcpt, t + 300);
            assert_eq!(g.check(&f).await.action, Action::Accept, "retry {n}");
            t += 3600;
        }
        let new = facts("192.0.2.7", "other@example.net", "new@example.edu", t);
        let v = g.check(&new).await;
        assert_eq!(v.action, Action::Accept);
        assert!(v.reason.unwrap().contains("auto-whitelisted"));
        let neighbour = facts("192.0.2.8", "other@example.net", "new@example.edu", t);
        assert!(
            deferred(&g.check(&neighbour).await).is_some(),
            "the whitelist is per address, not per network"
        );
    }

    #[tokio::test]
    async fn retries_within_the_same_hour_count_once_for_the_whitelist() {
        let g = greylist(GreylistSettings::default());
        for n in 0..5 {
            let rcpt = format!("user{n}@example.edu");
            g.check(&facts("192.0.2.7", "a@example.org", &rcpt, T0))
                .await;
            g.check(&facts("192.0.2.7", "a@example.org", &rcpt, T0 + 300 + n))
                .await;
        }
        let new = facts(
            "192.0.2.7",
            "other@example.net",
            "new@example.edu",
            T0 + 400,
        );
        assert!(deferred(&g.check(&new).await).is_some());
    }

    #[tokio::test]
    async fn greylist_exempt_networks_and_domains_are_never_greylisted() {
        let exempt =
            Exempt::parse(&["198.51.100.0/24", "2001:db8::/32", "partner.example"]).unwrap();
        let g = greylist(GreylistSettings {
            exempt,
            ..GreylistSettings::default()
        });
        for f in [
            facts("198.51.100.9", "a@example.org", "b@example.edu", T0),
            facts("::ffff:198.51.100.9", "a@example.org", "b@example.edu", T0),
            facts("2001:db8::1", "a@example.org", "b@example.edu", T0),
            facts("192.0.2.7", "a@mail.partner.example", "b@example.edu", T0),
            facts("192.0.2.7", "a@example.org", "b@partner.example", T0),
        ] {
            let v = g.check(&f).await;
            assert_eq!(v.action, Action::Accept, "{f:?}");
        }
        let mut named = facts("192.0.2.7", "a@example.org", "b@example.edu", T0);
        named.client_name = Some("out.partner.example".into());
        assert_eq!(g.check(&named).await.action, Action::Accept);
        let mut login = facts("192.0.2.7", "a@example.org", "b@example.edu", T0);
        login.sasl_login = Some("a@example.org".into());
        assert_eq!(g.check(&login).await.action, Action::Accept);
        let other = facts("192.0.2.7", "a@notpartner.example", "b@example.edu", T0);
        assert!(deferred(&g.check(&other).await).is_some());
        assert!(Exempt::parse(&["not a domain"]).is_err());
        assert!(Exempt::parse(&["10.0.0.0/33"]).is_err());
    }

    #[tokio::test]
    async fn a_message_greylisted_once_passes_when_it_comes_back_and_another_message_waits() {
        let g = greylist(GreylistSettings::default());
        let mut data = facts("192.0.2.7", "a@example.org", "b@example.edu", T0);
        data.stage = Stage::Data;
        data.recipient = None;
        data.recipients = vec!["b@example.edu".into()];
        let first = g.check_message(&data, "d1").await;
        assert_eq!(
            deferred(&first).as_deref(),
            Some("450 4.7.1 Greylisted, please try again in 300 seconds")
        );
        data.time += Duration::from_secs(301);
        let retry = g.check_message(&data, "d1").await;
        assert_eq!(retry.action, Action::Accept, "{retry:?}");
        assert!(
            deferred(&g.check_message(&data, "d2").await).is_some(),
            "another message of the same triplet is greylisted on its own"
        );
        let mut rcpt = facts("192.0.2.7", "a@example.org", "b@example.edu", T0 + 302);
        rcpt.stage = Stage::Rcpt;
        assert!(
            deferred(&g.check(&rcpt).await).is_some(),
            "the message's key is not the RCPT triplet's"
        );
        let exempt = greylist(GreylistSettings {
            exempt: Exempt::parse(&["example.edu"]).unwrap(),
            ..GreylistSettings::default()
        });
        assert_eq!(
            exempt.check_message(&data, "d3").await.action,
            Action::Accept,
            "the first recipient's domain is exempt"
        );
    }
}
