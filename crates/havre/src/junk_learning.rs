//! Learning from the Junk folder (`spam.learn_from_junk`): the Bayes side
//! of havre-mailbox's lessons. Each message a user moves into Junk (or out
//! of it) is analysed (havre-content), tokenized and learned (havre-bayes)
//! into her own counts in the store, the owner being her address: learning
//! it again as the same class does nothing, as the other class moves it.

use std::error::Error;
use std::sync::Arc;

use async_trait::async_trait;
use havre_bayes::{digest, tokenize};
use havre_content::{Content, Limits, analyze};
use havre_mailbox::{JunkClass, LESSON_QUEUE, Learned, LessonQueue, Mailboxes, Taught, Teacher};
use havre_store::{BayesClass, BayesLearn, Store};

/// Learns one message into its owner's Bayes counts.
pub struct BayesTeacher {
    store: Arc<dyn Store>,
    limits: Limits,
}

/// Mailboxes that learn from Junk, and the queue whose switch a reload
/// turns. The learning task reads messages through `mailboxes` as given
/// (without the learner).
pub fn learning_mailboxes(mailboxes: Mailboxes, on: bool) -> (Mailboxes, Arc<LessonQueue>) {
    let teacher = Arc::new(BayesTeacher {
        store: mailboxes.store().clone(),
        limits: Limits::default(),
    });
    let queue = LessonQueue::start(mailboxes.clone(), teacher, LESSON_QUEUE, on);
    (mailboxes.with_junk_learner(queue.clone()), queue)
}

#[async_trait]
impl Teacher for BayesTeacher {
    async fn teach(
        &self,
        user: &str,
        class: JunkClass,
        message: Vec<u8>,
    ) -> Result<Taught, Box<dyn Error + Send + Sync>> {
        let limits = self.limits.clone();
        // Analysis is CPU work bounded by the limits: off the IO threads.
        let (lesson, message_id, queue_id) = tokio::task::spawn_blocking(move || {
            let content = analyze(&message, &limits);
            // As `havre spam learn` names it: the same message learned
            // from a folder and from a move is one message.
            let message_id = content.message_id().map(|id| id.trim().to_string());
            let lesson = BayesLearn {
                digest: digest(&message, message_id.as_deref()),
                class: match class {
                    JunkClass::Spam => BayesClass::Spam,
                    JunkClass::Ham => BayesClass::Ham,
                },
                tokens: tokenize(&content).into_vec(),
            };
            (lesson, message_id, our_queue_id(&content))
        })
        .await?;
        let report = self
            .store
            .bayes_learn(&user.to_lowercase(), &[lesson])
            .await?;
        let learned = if report.moved > 0 {
            Learned::Moved
        } else if report.learned > 0 {
            Learned::New
        } else {
            Learned::Already
        };
        Ok(Taught {
            learned,
            queue_id,
            message_id,
        })
    }
}

/// The queue id of the message's way through this system: the `id` of the
/// newest `Received:` that havre wrote (`by HOST (havre) with P id ID`).
fn our_queue_id(content: &Content) -> Option<String> {
    content.header_all("Received").find_map(|value| {
        let (_, ours) = value.split_once("(havre)")?;
        let mut words = ours.split_whitespace();
        words.find(|w| *w == "id")?;
        let id = words.next()?.trim_end_matches(';');
        id.chars()
            .all(|c| c.is_ascii_alphanumeric())
            .then(|| id.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_id_is_the_one_our_received_gave() {
        let raw = b"Return-Path: <b@r.test>\r\n\
            Received: from relay (relay [192.0.2.1])\r\n\tby mx.example.test (havre) with ESMTPS id 0A1B2C3D\r\n\
            \tfor <a@example.test>; Mon, 1 Jan 2024 00:00:00 +0000 (UTC)\r\n\
            Received: from elsewhere by other.test with ESMTP id NOTOURS; Mon, 1 Jan 2024\r\n\
            Message-ID: <1@r.test>\r\n\r\nbody\r\n";
        let content = analyze(raw, &Limits::default());
        assert_eq!(our_queue_id(&content).as_deref(), Some("0A1B2C3D"));
        let foreign = analyze(
            b"Received: from x by y.test with SMTP id ABC; Mon, 1 Jan 2024\r\n\r\nb\r\n",
            &Limits::default(),
        );
        assert_eq!(our_queue_id(&foreign), None);
    }
}
