//! The [`JunkLearner`] the server runs: lessons go into a bounded queue
//! and one background task learns them, so a MOVE into Junk answers as
//! fast as any MOVE. A full queue (a user moving thousands of messages
//! at once, a slow disk) drops lessons with a warning: a lesson missed
//! costs a little accuracy, a blocked IMAP session costs the user.
//!
//! The task reads each message from the folder it is in now (following a
//! rename by a flag change) and hands its bytes to a [`Teacher`], which
//! learns them; one line is logged per lesson. Lessons still queued when
//! the process stops are not learned.

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::junk::{JunkClass, JunkLearner, Lesson};
use crate::{MailboxError, Mailboxes};

/// Lessons waiting at most; beyond, new ones are dropped.
pub const LESSON_QUEUE: usize = 1024;

/// What learning one message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Learned {
    /// Counted for the first time.
    New,
    /// Already learned as this class: nothing changed.
    Already,
    /// Learned before as the other class, now moved to this one.
    Moved,
}

/// What the teacher found in the message, for the log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taught {
    pub learned: Learned,
    /// The queue id our `Received:` gave it, if it came through us.
    pub queue_id: Option<String>,
    pub message_id: Option<String>,
}

/// Learns one message for one user (the Bayes classifier, in the binary).
#[async_trait]
pub trait Teacher: Send + Sync {
    async fn teach(
        &self,
        user: &str,
        class: JunkClass,
        message: Vec<u8>,
    ) -> Result<Taught, Box<dyn Error + Send + Sync>>;
}

/// The bounded queue of lessons and the switch that turns learning off.
pub struct LessonQueue {
    sender: mpsc::Sender<Lesson>,
    on: AtomicBool,
}

impl LessonQueue {
    /// Starts the task that learns; `mailboxes` is where it reads messages
    /// (a Mailboxes without this learner: the task only reads). The task
    /// ends when the queue is dropped.
    pub fn start(
        mailboxes: Mailboxes,
        teacher: Arc<dyn Teacher>,
        capacity: usize,
        on: bool,
    ) -> Arc<LessonQueue> {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        tokio::spawn(learn_all(mailboxes, teacher, receiver));
        Arc::new(LessonQueue {
            sender,
            on: AtomicBool::new(on),
        })
    }

    /// Turns learning on or off (`spam.learn_from_junk`, at a reload).
    pub fn set_enabled(&self, on: bool) {
        self.on.store(on, Ordering::Relaxed);
    }
}

impl JunkLearner for LessonQueue {
    fn wants_lessons(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    fn lessons(&self, lessons: Vec<Lesson>) {
        let total = lessons.len();
        let mut dropped = 0;
        let mut who = String::new();
        for lesson in lessons {
            if let Err(e) = self.sender.try_send(lesson) {
                let lesson = match e {
                    mpsc::error::TrySendError::Full(l) | mpsc::error::TrySendError::Closed(l) => l,
                };
                who = lesson.user;
                dropped += 1;
            }
        }
        if dropped > 0 {
            tracing::warn!(target: "spam", role = "spam-learn", "user=<{who}>: {dropped} of {total} lesson(s) from the Junk folder not learned: the queue is full");
        }
    }
}

async fn learn_all(
    mailboxes: Mailboxes,
    teacher: Arc<dyn Teacher>,
    mut receiver: mpsc::Receiver<Lesson>,
) {
    while let Some(lesson) = receiver.recv().await {
        learn_one(&mailboxes, teacher.as_ref(), &lesson).await;
    }
}

async fn learn_one(mailboxes: &Mailboxes, teacher: &dyn Teacher, lesson: &Lesson) {
    let user = &lesson.user;
    let how = match &lesson.from {
        Some(from) => format!(
            "{} from {from} to {}",
            lesson.cause.name(),
            lesson.mailbox.name
        ),
        None => format!("{} to {}", lesson.cause.name(), lesson.mailbox.name),
    };
    let message = match read(mailboxes, lesson).await {
        Ok(message) => message,
        Err(e) => {
            tracing::warn!(target: "spam", role = "spam-learn", "NOQUEUE: not learned as {} from user=<{user}>: {how}, uid={}: {e}", lesson.class.name(), lesson.uid);
            return;
        }
    };
    match teacher.teach(user, lesson.class, message).await {
        Ok(taught) => {
            let queue_id = taught.queue_id.as_deref().unwrap_or("NOQUEUE");
            let what = match taught.learned {
                Learned::New => format!("learned {}", lesson.class.name()),
                Learned::Already => format!("already learned as {}", lesson.class.name()),
                Learned::Moved => format!(
                    "learned {} (was learned as {})",
                    lesson.class.name(),
                    lesson.class.other().name()
                ),
            };
            let id = taught.message_id.as_deref().unwrap_or("none");
            tracing::info!(target: "spam", role = "spam-learn", "{queue_id}: {what} from user=<{user}>: mailbox {how}, uid={}, message-id={id}", lesson.uid);
        }
        Err(e) => {
            tracing::warn!(target: "spam", role = "spam-learn", "NOQUEUE: not learned as {} from user=<{user}>: {how}, uid={}: {e}", lesson.class.name(), lesson.uid);
        }
    }
}

/// The message's bytes where it is now: its folder by id (it may have been
/// renamed since), its file as the index has it.
async fn read(mailboxes: &Mailboxes, lesson: &Lesson) -> Result<Vec<u8>, MailboxError> {
    let store = mailboxes.store();
    let mailbox = store
        .mailbox_by_id(lesson.mailbox.id)
        .await?
        .ok_or_else(|| MailboxError::NoSuchMailbox(lesson.mailbox.name.clone()))?;
    let message = store
        .message_get(mailbox.id, lesson.uid)
        .await?
        .ok_or(MailboxError::Expunged(lesson.uid))?;
    mailboxes
        .read_message(&lesson.user, &mailbox, &message)
        .await
}
