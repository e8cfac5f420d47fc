//! `havre check FILE --ip IP ...`: a stored message through the mx checks
//! pipeline, stage by stage, without delivering it; every verdict printed
//! with its reason, like `spamassassin -t` or `rspamc symbols`.
//!
//! The checks run on a state in memory: a check leaves no greylist triplet,
//! rate cell or ban behind on the node (so greylisting says what it would
//! do to a first attempt).

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use havre_checks::{Action, AddedHeaders, Facts, Stage};
use serde::Serialize;

use crate::locate;
use crate::output::{self, Report};

#[derive(Serialize)]
struct CheckReport {
    client: String,
    verdicts: Vec<Row>,
    headers: Vec<String>,
    /// `accepted`, `held: REASON` (the quarantine), or the reply that
    /// refused the message.
    result: String,
    /// The spam filter's symbols, when it scored the message.
    #[serde(skip_serializing_if = "Option::is_none")]
    spam: Option<crate::spam_check_cmd::SpamReport>,
}

#[derive(Serialize)]
struct Row {
    stage: String,
    check: String,
    action: String,
    reason: Option<String>,
}

impl Report for CheckReport {
    fn text(&self) -> String {
        let mut out = format!("client: {}\n", self.client);
        for row in &self.verdicts {
            out.push_str(&format!(
                "{:<6} {:<12} {:<10} {}\n",
                row.stage,
                row.check,
                row.action,
                row.reason.as_deref().unwrap_or("")
            ));
        }
        for header in &self.headers {
            out.push_str(&format!("header: {header}\n"));
        }
        out.push_str(&format!("result: {}\n", self.result));
        if let Some(spam) = &self.spam {
            out.push_str("spam ");
            out.push_str(&spam.text());
        }
        out
    }
}

pub struct CheckArgs {
    pub file: PathBuf,
    pub ip: IpAddr,
    pub helo: Option<String>,
    pub from: Option<String>,
    pub rcpt: Vec<String>,
    pub json: bool,
}

pub async fn run(explicit: Option<PathBuf>, args: CheckArgs) -> anyhow::Result<()> {
    let loaded = locate::load(explicit)?;
    let config = &loaded.config;
    let message = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let resolver = havre_outbound::Resolver::new(&config.dns.nameservers)
        .map_err(|e| anyhow!("dns.nameservers: {e}"))?;
    let state = Arc::new(havre_state::EmbeddedState::memory());
    let checks = crate::pipelines::build(
        config,
        state,
        &resolver,
        None,
        &havre_events::Events::disabled(),
    )
    .map_err(|e| anyhow!(e))?;
    let pipeline = checks
        .mx
        .ok_or_else(|| anyhow!("the mx role has no checks to run"))?;

    let mut facts = Facts::new(args.ip);
    if let Some(names) = &checks.names {
        facts.client_name = names.confirmed_name(args.ip).await;
    }
    let mut report = CheckReport {
        client: facts.client_label(),
        verdicts: Vec::new(),
        headers: Vec::new(),
        result: "accepted".into(),
        spam: None,
    };
    // What the checks added so far, as the session keeps it: earlier
    // stages' headers are in the facts of the later ones (and the hold).
    let mut added = AddedHeaders::new();
    let header_end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| message.windows(2).position(|w| w == b"\n\n"))
        .unwrap_or(message.len());
    let mut stages = vec![
        (Stage::Connect, None),
        (Stage::Helo, None),
        (Stage::Mail, None),
    ];
    stages.extend(args.rcpt.iter().map(|r| (Stage::Rcpt, Some(r.clone()))));
    stages.push((Stage::Data, None));
    for (stage, rcpt) in stages {
        facts.stage = stage;
        match stage {
            Stage::Helo => facts.helo = args.helo.clone(),
            Stage::Mail => {
                facts.sender = Some(args.from.clone().unwrap_or_default());
                facts.size = message.len() as u64;
            }
            Stage::Rcpt => facts.recipient = rcpt,
            Stage::Data => {
                facts.recipients = args.rcpt.clone();
                facts.recipient = None;
                facts.headers = Some(message[..header_end].to_vec());
                facts.message = Some(Arc::new(message.clone()));
            }
            Stage::Connect => {}
        }
        facts.added = added.headers().cloned().collect();
        let outcome = pipeline.run(&facts).await;
        added.extend(&outcome);
        for step in &outcome.steps {
            report.verdicts.push(Row {
                stage: stage.to_string(),
                check: step.check.clone(),
                action: match &step.verdict.hold {
                    Some(_) if !step.verdict.action.is_final() => "hold".into(),
                    _ => action_word(&step.verdict.action),
                },
                reason: step.verdict.reason.clone(),
            });
        }
        for (_, header) in &outcome.headers {
            report
                .headers
                .push(format!("{}: {}", header.name, header.value));
        }
        if stage == Stage::Data && pipeline.names().contains(&"spam") {
            report.spam = Some(spam_report(config, &checks_dns(config)?, &facts).await?);
        }
        if let Some(reply) = outcome.action.reply() {
            report.result = reply.line(&facts);
            break;
        }
        if let Some(hold) = added.hold() {
            report.result = format!("held: {}", hold.reason);
        }
        if stage == Stage::Rcpt {
            facts.recipient_count += 1;
        }
    }
    output::print(&report, args.json)
}

fn action_word(action: &Action) -> String {
    match action {
        Action::Accept => "accept".into(),
        Action::Permit => "permit".into(),
        Action::Reject(reply) => format!("reject {reply}"),
        Action::Defer(reply) => format!("defer {reply}"),
    }
}

/// The node's resolver, as the checks ask it.
fn checks_dns(config: &havre_config::Config) -> anyhow::Result<Arc<dyn havre_spf::Dns>> {
    let resolver = havre_outbound::Resolver::new(&config.dns.nameservers)
        .map_err(|e| anyhow!("dns.nameservers: {e}"))?;
    Ok(Arc::new(havre_spf::HickoryDns::new(
        resolver.hickory().clone(),
    )))
}

/// The spam filter's symbols for the message of `facts` (the headers the
/// earlier checks added included), as `havre spam check` prints them.
async fn spam_report(
    config: &havre_config::Config,
    dns: &Arc<dyn havre_spf::Dns>,
    facts: &Facts,
) -> anyhow::Result<crate::spam_check_cmd::SpamReport> {
    let engine = crate::pipelines::spam_engine(config)
        .map_err(|e| anyhow!(e))?
        .with_dns(dns.clone());
    let message = facts.message.clone().unwrap_or_default();
    let score = engine
        .scan(message, &havre_filter::Envelope::from_facts(facts))
        .await;
    Ok(crate::spam_check_cmd::SpamReport::new(
        None,
        score,
        engine.settings(),
    ))
}
