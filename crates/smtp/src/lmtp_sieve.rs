//! What LMTP does with a recipient's Sieve plan beyond its folders: the
//! vacation reply and the redirects queued (the reply from `<>`, the
//! redirects from the message's envelope sender, as Pigeonhole sends
//! them), a refusal turned into the recipient's reply.

use havre_mailbox::Plan;
use havre_queue::Queue;
use havre_smtp_codec::Reply;

/// Queues the plan's vacation reply (due whatever becomes of the
/// delivery: the state already counts it as sent).
pub(crate) async fn send_vacation(queue: &Queue, plan: &mut Plan, user: &str, id: &str) {
    if let Some(reply) = plan.vacation_reply.take() {
        queue
            .enqueue_vacation(&reply.to, &reply.message, user, id)
            .await;
    }
}

/// Queues the plan's redirects: after its folders are written when it has
/// any (a delivery that fails and is retried does not redirect twice),
/// before otherwise. One that cannot be queued must not lose the message:
/// with no folder in the plan, it is kept in INBOX.
pub(crate) async fn send_redirects(
    queue: &Queue,
    plan: &mut Plan,
    user: &str,
    sender: &str,
    id: &str,
) {
    if plan.redirects.is_empty() {
        return;
    }
    let message = plan.redirected_message(user);
    let sent = queue
        .enqueue_redirects(sender, &plan.redirects, &message, user, id)
        .await;
    plan.redirects.clear();
    if !sent && plan.filings.is_empty() {
        *plan = Plan::keep();
    }
}

/// The reply refusing a recipient for her script's `reject`/`ereject`
/// (RFC 5429 2.1: in protocol, a 550 5.7.1 with the reason), the reason on
/// one line and bounded.
pub(crate) fn rejected_reply(rcpt: &str, reason: &str) -> Reply {
    let line: String = reason
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("rejected by the recipient's filter")
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    Reply::new(550, "5.7.1", format!("<{rcpt}> {line}"))
}
