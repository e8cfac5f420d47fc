//! What the filter needs from the configuration (`[spam]`, the lists of
//! `[mx]`, the host name), checked once: a weight for a symbol the filter
//! does not have is refused, so a typo never silently scores nothing.

use std::collections::HashMap;
use std::time::Duration;

use havre_config::{Config, DnsblSite};
use havre_content::Limits;
use ipnet::IpNet;

use crate::symbols::{SYMBOLS, symbol};

/// The weight of every symbol: the defaults of [`SYMBOLS`], some replaced.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    weights: HashMap<&'static str, f64>,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            weights: SYMBOLS.iter().map(|s| (s.name, s.weight)).collect(),
        }
    }
}

impl Weights {
    /// The defaults with `overrides` (name -> weight) in their place.
    pub fn with_overrides<'a>(
        overrides: impl IntoIterator<Item = (&'a str, f64)>,
    ) -> Result<Weights, String> {
        let mut weights = Weights::default();
        for (name, weight) in overrides {
            let Some(known) = symbol(name) else {
                return Err(format!(
                    "spam.weights: no symbol is named {name:?} (`havre spam symbols` lists them)"
                ));
            };
            weights.weights.insert(known.name, weight);
        }
        Ok(weights)
    }

    /// The weight of `name` (0 for a name the table does not have).
    pub fn get(&self, name: &str) -> f64 {
        self.weights.get(name).copied().unwrap_or(0.0)
    }
}

/// How the filter scores and acts.
#[derive(Debug, Clone)]
pub struct Settings {
    /// From this score the message is refused.
    pub reject: f64,
    /// From this score it gets `X-Spam: Yes`.
    pub add_header: f64,
    /// From this score (below `add_header`) it is greylisted once.
    pub greylist: f64,
    /// Above this score it goes into the Junk folder.
    pub junk_above: f64,
    pub level_high: f64,
    pub level_medium: f64,
    pub level_low: f64,
    /// Put before the subject above `level_high` (empty: nothing).
    pub subject_tag: String,
    pub weights: Weights,
    /// Bigger messages are not scored.
    pub max_size: u64,
    /// The bounds of the analysis of one message.
    pub limits: Limits,
    /// Our `Authentication-Results:` carry this authserv-id (the host
    /// name); others' are not believed.
    pub authserv_id: String,
    /// Lists of client addresses (`mx.dnsbl`).
    pub dnsbl: Vec<DnsblSite>,
    /// Lists of domains (`mx.rhsbl`): sender, HELO, client name.
    pub rhsbl: Vec<DnsblSite>,
    /// Lists of URL hosts (`spam.uribl`).
    pub uribl: Vec<DnsblSite>,
    pub uribl_max_hosts: usize,
    /// All the lookups of one message stop after this.
    pub dns_time_limit: Duration,
    /// Clients that are never looked up in DNS lists nor greylisted
    /// (`relay.internal_networks`); their mail is scored and refused as
    /// any other (Rspamd's `local_addrs`).
    pub trusted: Vec<IpNet>,
}

impl Default for Settings {
    /// `[spam]`'s defaults, no lists.
    fn default() -> Self {
        Settings::from_config(&Config::default()).expect("the defaults are valid")
    }
}

impl Settings {
    /// The settings of `config` (already validated by the config crate);
    /// an unknown symbol in `spam.weights` is the error left.
    pub fn from_config(config: &Config) -> Result<Settings, String> {
        let spam = &config.spam;
        let weights =
            Weights::with_overrides(spam.weights.iter().map(|(k, v)| (k.as_str(), v.get())))?;
        let trusted = config
            .relay
            .internal_networks
            .iter()
            .filter_map(|n| havre_policy::parse_network(n))
            .collect();
        Ok(Settings {
            reject: spam.reject.get(),
            add_header: spam.add_header.get(),
            greylist: spam.greylist.get(),
            junk_above: spam.junk_above.get(),
            level_high: spam.level_high.get(),
            level_medium: spam.level_medium.get(),
            level_low: spam.level_low.get(),
            subject_tag: spam.subject_tag.clone(),
            weights,
            max_size: spam.max_size.bytes(),
            limits: Limits::default(),
            authserv_id: config.server.hostname.clone(),
            dnsbl: config.mx.dnsbl.clone(),
            rhsbl: config.mx.rhsbl.clone(),
            uribl: spam.uribl.clone(),
            uribl_max_hosts: spam.uribl_max_hosts as usize,
            dns_time_limit: spam.dns_time_limit.get(),
            trusted,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_replace_the_defaults_and_an_unknown_symbol_is_refused() {
        let w = Weights::with_overrides([("MIME_HTML_ONLY", 2.5)]).unwrap();
        assert_eq!(w.get("MIME_HTML_ONLY"), 2.5);
        assert_eq!(w.get("PHISHING"), symbol("PHISHING").unwrap().weight);
        let err = Weights::with_overrides([("MIME_HTML_ONYL", 1.0)]).unwrap_err();
        assert!(err.contains("MIME_HTML_ONYL"), "{err}");
        let mut config = Config::default();
        config
            .spam
            .weights
            .insert("NOPE".into(), havre_config::Points(1.0));
        assert!(Settings::from_config(&config).is_err());
    }
}
