//! The checks of `[greylist]` and `[[policy.rules]]`, built from a loaded
//! configuration (which the config crate has already validated; what still
//! fails here is reported, never a panic).

use std::sync::Arc;
use std::time::Duration;

use havre_checks::{Check, Header, Stage};
use havre_config::{Config, PolicyAction, PolicyRule, PolicyStage};
use havre_state::{Rate, State};

use crate::{
    Conditions, Exempt, Greylist, GreylistSettings, Pattern, RateKey, RateLimit, RateWhat, Rule,
    RuleAction, parse_network,
};

/// The policy checks of a node, in the order they run: the rules, then
/// greylisting (so an `accept` rule spares its mail the greylist).
pub struct PolicyChecks {
    pub rules: Vec<Arc<dyn Check>>,
    /// `Some` when `greylist.enabled`.
    pub greylist: Option<Arc<Greylist>>,
}

impl PolicyChecks {
    /// Every check, in order, to push onto a pipeline.
    pub fn all(&self) -> Vec<Arc<dyn Check>> {
        let mut out = self.rules.clone();
        if let Some(g) = &self.greylist {
            out.push(g.clone());
        }
        out
    }
}

/// `[greylist]` as the check takes it. Clients in `relay.internal_networks`
/// are exempt too, as Postfix's `permit_mynetworks` before Postgrey spares
/// them.
pub fn greylist_settings(cfg: &Config) -> Result<GreylistSettings, String> {
    let g = &cfg.greylist;
    let internal = cfg
        .relay
        .internal_networks
        .iter()
        .filter_map(|n| parse_network(n));
    let exempt = Exempt::parse(&g.exempt)
        .map_err(|e| format!("greylist.exempt: {e}"))?
        .with_networks(internal);
    Ok(GreylistSettings {
        delay: g.delay.get(),
        retry_window: g.retry_window.get(),
        max_age: g.max_age.get(),
        auto_whitelist_clients: g.auto_whitelist_clients,
        exempt,
        hostname: cfg.server.hostname.clone(),
    })
}

/// The checks of `cfg`, remembering what they must in `state`.
pub fn from_config(cfg: &Config, state: Arc<dyn State>) -> Result<PolicyChecks, String> {
    let greylist = Arc::new(Greylist::new(greylist_settings(cfg)?, state.clone()));
    let mut rules: Vec<Arc<dyn Check>> = Vec::new();
    for (i, spec) in cfg.policy.rules.iter().enumerate() {
        let rule = rule(spec, &state, &greylist)
            .map_err(|e| format!("policy.rules: {}: {e}", spec.label(i)))?;
        rules.push(Arc::new(rule));
    }
    Ok(PolicyChecks {
        rules,
        greylist: cfg.greylist.enabled.then_some(greylist),
    })
}

fn patterns(values: &[String]) -> Result<Vec<Pattern>, String> {
    values.iter().map(|v| Pattern::parse(v)).collect()
}

fn stage(stage: Option<PolicyStage>) -> Stage {
    match stage.unwrap_or(PolicyStage::Rcpt) {
        PolicyStage::Connect => Stage::Connect,
        PolicyStage::Helo => Stage::Helo,
        PolicyStage::Mail => Stage::Mail,
        PolicyStage::Rcpt => Stage::Rcpt,
        PolicyStage::Data => Stage::Data,
    }
}

fn rule(
    spec: &PolicyRule,
    state: &Arc<dyn State>,
    greylist: &Arc<Greylist>,
) -> Result<Rule, String> {
    let client_address = spec
        .client_address
        .iter()
        .map(|n| parse_network(n).ok_or_else(|| format!("client_address: {n:?} is not a network")))
        .collect::<Result<_, _>>()?;
    let conditions = Conditions {
        client_address,
        client_name: patterns(&spec.client_name)?,
        helo: patterns(&spec.helo)?,
        sender: patterns(&spec.sender)?,
        recipient: patterns(&spec.recipient)?,
        sasl_login: patterns(&spec.sasl_login)?,
        class: spec.class.clone(),
        size_min: spec.size_min.map(|s| s.bytes()),
        size_max: spec.size_max.map(|s| s.bytes()),
        recipient_count_min: spec.recipient_count_min,
        recipient_count_max: spec.recipient_count_max,
    };
    let text = |default: &str| spec.text.clone().unwrap_or_else(|| default.to_owned());
    let action = match spec.action.ok_or("action is missing")? {
        PolicyAction::Accept => RuleAction::Accept,
        // Postfix's access(5) texts when none is given.
        PolicyAction::Reject => RuleAction::Reject {
            text: text("Access denied"),
        },
        PolicyAction::Defer => RuleAction::Defer {
            text: text("Try again later"),
        },
        PolicyAction::Greylist => RuleAction::Greylist(greylist.clone()),
        PolicyAction::AddHeader => {
            let header = spec.header.as_deref().ok_or("header is missing")?;
            let (name, value) = header
                .split_once(':')
                .ok_or_else(|| format!("header: expected \"Name: value\", found {header:?}"))?;
            RuleAction::AddHeader(Header::new(name.trim(), value.trim()))
        }
        PolicyAction::Rate => {
            let limit = spec.rate_limit.as_ref().ok_or("rate_limit is missing")?;
            let key = rate_key(limit.key);
            let what = match limit.what {
                havre_config::RateWhat::Messages => RateWhat::Messages,
                havre_config::RateWhat::Recipients => RateWhat::Recipients,
                havre_config::RateWhat::Bytes => RateWhat::Bytes,
            };
            let per: Duration = limit.per.get();
            let rate = Rate {
                count: limit.count,
                per,
                burst: limit.burst.unwrap_or(limit.count),
            };
            RuleAction::Rate {
                limit: RateLimit { rate, key, what },
                text: spec.text.clone(),
                state: state.clone(),
            }
        }
    };
    Ok(Rule::new(&spec.name, stage(spec.stage), conditions, action))
}

fn rate_key(key: havre_config::RateKey) -> RateKey {
    use havre_config::RateKey as K;
    match key {
        K::ClientAddress => RateKey::ClientAddress,
        K::ClientName => RateKey::ClientName,
        K::Helo => RateKey::Helo,
        K::Sender => RateKey::Sender,
        K::SenderDomain => RateKey::SenderDomain,
        K::Recipient => RateKey::Recipient,
        K::RecipientDomain => RateKey::RecipientDomain,
        K::SaslLogin => RateKey::SaslLogin,
        K::Class => RateKey::Class,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::SystemTime;

    use havre_checks::{Action, Facts, Pipeline};
    use havre_state::{EmbeddedState, ManualClock};

    use super::*;

    fn state() -> Arc<dyn State> {
        let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000));
        Arc::new(EmbeddedState::memory_with_clock(Arc::new(clock)))
    }

    fn pipeline(cfg: &Config) -> Pipeline {
        let checks = from_config(cfg, state()).unwrap();
        let mut p = Pipeline::new("test");
        for c in checks.all() {
            p.push(c);
        }
        p
    }

    fn student_message() -> Facts {
        let mut f = Facts::new("192.0.2.7".parse().unwrap());
        f.stage = Stage::Rcpt;
        f.sasl_login = Some("alice@example.edu".into());
        f.class = Some("student".into());
        f.sender = Some("alice@example.edu".into());
        f.recipient = Some("friend@example.net".into());
        f
    }

    #[tokio::test]
    async fn the_default_configuration_defers_a_students_11th_message_in_a_minute() {
        let p = pipeline(&Config::default());
        let f = student_message();
        for _ in 0..10 {
            assert_eq!(p.run(&f).await.action, Action::Accept);
        }
        assert_eq!(
            p.run(&f).await.reply_line(&f).as_deref(),
            Some(
                "450 4.7.1 <friend@example.net>: Recipient address rejected: Rate limit exceeded: 10 messages per minute for class student"
            )
        );
        assert_eq!(
            p.names(),
            ["rule student-rate", "rule staff-rate"],
            "greylisting is off by default"
        );
    }

    #[tokio::test]
    async fn greylisting_on_runs_after_the_rules_and_spares_internal_networks() {
        let cfg = havre_config::parse(
            "[greylist]\nenabled = true\nexempt = [\"example.net\"]\n[relay]\ninternal_networks = [\"10.0.0.0/8\"]\n\
             [[policy.rules]]\nname = \"tag\"\naction = \"add_header\"\nheader = \"X-Seen: yes\"\n",
            Path::new("havre.toml"),
        )
        .unwrap();
        let p = pipeline(&cfg);
        assert_eq!(p.names(), ["rule tag", "greylist"]);
        let mut f = student_message();
        f.sasl_login = None;
        f.recipient = Some("bob@example.edu".into());
        let out = p.run(&f).await;
        assert!(matches!(out.action, Action::Defer(_)), "{out:?}");
        assert_eq!(out.headers.len(), 1);
        f.client_ip = "10.1.2.3".parse().unwrap();
        assert_eq!(p.run(&f).await.action, Action::Accept);
    }
}
