//! One request in, one reply out: the facts, the user class, the pipeline,
//! and the verdict in Postfix's words.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use havre_checks::{Action, Outcome, Pipeline, Stage};
use havre_policy_proto::{Limits, Reply, Request};

use crate::Instances;
use crate::facts::facts;

/// The reply text when the service cannot decide: Postfix defers the
/// recipient unless it refuses it for good anyway.
pub const SERVICE_ERROR: &str = "Policy service error";

/// The settings of the service, from `[policy]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySettings {
    pub idle_timeout: Duration,
    pub request_timeout: Duration,
    pub limits: Limits,
}

/// Where the class of an authenticated user comes from (the directory).
#[async_trait]
pub trait Classes: Send + Sync {
    /// The class of `login` (Postfix's `sasl_username`); `None` for a login
    /// the directory does not know. An error is the directory's trouble.
    async fn class_of(&self, login: &str) -> Result<Option<String>, String>;
}

/// What the service answers with; a reload publishes a new one, which the
/// next request (not the next connection: Postfix keeps its connections for
/// minutes) uses.
pub struct PolicyServices {
    pub settings: PolicySettings,
    /// The checks, run as for an mx session: rules, then greylisting.
    pub pipeline: Arc<Pipeline>,
    pub classes: Arc<dyn Classes>,
}

/// The answer to `request` from the Postfix at `host`.
///
/// - A request that is not an `smtpd_access_policy` request the service
///   understands, or whose user class cannot be read, gets
///   `DEFER_IF_PERMIT Policy service error` and a warning in the log.
/// - `DATA`, `VRFY` and `ETRN` have no checks: `DUNNO`.
/// - Otherwise the pipeline runs: a refusal is the reply as the check wrote
///   it (`450 4.7.1 text`, `554 5.7.1 text`; Postfix puts the `<rcpt>:
///   Recipient address rejected:` part in), a permit (a rule's `accept`) is
///   `OK`, nothing against it is `DUNNO`, or `PREPEND Name: value` when a
///   check asked for a header.
/// - Headers: Postfix takes one `PREPEND` per reply, so a message's headers
///   go out one per request, each once per message (greylisting's
///   `X-Greylist:` is asked for at every recipient); those left over go
///   with the next request of the same message, a `DATA` or
///   `END-OF-MESSAGE` one included. `OK` and refusals carry none: a permit
///   wins over a header, which waits for the next request.
pub async fn answer(
    services: &PolicyServices,
    instances: &Instances,
    host: IpAddr,
    request: &Request,
) -> Reply {
    let instance = request.non_empty("instance");
    let facts = match facts(request, SystemTime::now()) {
        Ok(facts) => facts,
        Err(e) => {
            tracing::warn!(target: "policy", role = "policy", "bad request from {host}: {e}");
            return Reply::DeferIfPermit(SERVICE_ERROR.into());
        }
    };
    let Some(mut facts) = facts else {
        return pending_header(instances, host, instance).unwrap_or(Reply::Dunno);
    };
    if let Some(login) = facts.sasl_login.as_deref() {
        match services.classes.class_of(login).await {
            Ok(class) => facts.class = class,
            Err(e) => {
                tracing::warn!(target: "policy", role = "policy", "cannot read the class of {login}: {e}; deferred");
                return Reply::DeferIfPermit(SERVICE_ERROR.into());
            }
        }
    }
    if facts.stage == Stage::Rcpt
        && let Some(instance) = instance
    {
        facts.recipient_count = instances.with(host, instance, |m| m.recipients);
    }
    let outcome = services.pipeline.run(&facts).await;
    tracing::debug!(target: "policy", role = "policy", "{} {} from {}: {:?}", facts.queue_id.as_deref().unwrap_or("NOQUEUE"), facts.stage, facts.client_label(), outcome.action);
    let Some(instance) = instance else {
        // Without an instance nothing can be remembered: the first header,
        // if any, goes now.
        return match (&outcome.action, outcome.headers.first()) {
            (Action::Accept, Some((_, header))) => Reply::Prepend(header.to_string()),
            _ => reply(&outcome),
        };
    };
    instances.with(host, instance, |message| {
        message.add_headers(&outcome);
        let refused = matches!(outcome.action, Action::Reject(_) | Action::Defer(_));
        if facts.stage == Stage::Rcpt && !refused {
            message.recipients += 1;
        }
        match outcome.action {
            Action::Accept => message
                .next_header()
                .map(|h| Reply::Prepend(h.to_string()))
                .unwrap_or(Reply::Dunno),
            _ => reply(&outcome),
        }
    })
}

/// The reply of an outcome, headers aside.
fn reply(outcome: &Outcome) -> Reply {
    match &outcome.action {
        Action::Accept => Reply::Dunno,
        Action::Permit => Reply::Ok,
        Action::Reject(r) | Action::Defer(r) => Reply::Refuse(r.to_string()),
    }
}

fn pending_header(instances: &Instances, host: IpAddr, instance: Option<&str>) -> Option<Reply> {
    let instance = instance?;
    instances
        .with(host, instance, |m| m.next_header())
        .map(|h| Reply::Prepend(h.to_string()))
}
