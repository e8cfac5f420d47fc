//! Messages crossing the Junk folder's border reach the teacher, read from
//! their new folder, without the command waiting for the learning.

use std::error::Error;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use havre_mailbox::{JunkClass, Learned, LessonQueue, Mailboxes, Taught, Teacher, Transfer};
use havre_store::{MailboxRecord, MessageRecord, SqliteStore};
use tokio::sync::Semaphore;

const USER: &str = "alice@example.test";

/// What the learning side received: (user, class, the message's bytes).
/// It learns only when `gate` lets it, so a test can hold it back.
#[derive(Default)]
struct Classroom {
    got: Mutex<Vec<(String, JunkClass, Vec<u8>)>>,
    gate: Option<Arc<Semaphore>>,
}

#[async_trait]
impl Teacher for Classroom {
    async fn teach(
        &self,
        user: &str,
        class: JunkClass,
        message: Vec<u8>,
    ) -> Result<Taught, Box<dyn Error + Send + Sync>> {
        if let Some(gate) = &self.gate {
            gate.acquire().await?.forget();
        }
        self.got
            .lock()
            .unwrap()
            .push((user.to_string(), class, message));
        Ok(Taught {
            learned: Learned::New,
            queue_id: None,
            message_id: None,
        })
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    mailboxes: Mailboxes,
    classroom: Arc<Classroom>,
}

async fn setup(capacity: usize, gate: Option<Arc<Semaphore>>) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let template = format!("{}/mail/%d/%n/Maildir", dir.path().display());
    let store = Arc::new(SqliteStore::memory().await.unwrap());
    let plain = Mailboxes::new(store, template, "mx.example.test");
    let classroom = Arc::new(Classroom {
        got: Mutex::default(),
        gate,
    });
    let queue = LessonQueue::start(plain.clone(), classroom.clone(), capacity, true);
    let mailboxes = plain.with_junk_learner(queue);
    mailboxes.ensure_defaults(USER).await.unwrap();
    Setup {
        _dir: dir,
        mailboxes,
        classroom,
    }
}

impl Setup {
    async fn mailbox(&self, name: &str) -> MailboxRecord {
        self.mailboxes.get(USER, name).await.unwrap().unwrap()
    }

    async fn append(&self, name: &str, body: &str) -> MessageRecord {
        let mailbox = self.mailbox(name).await;
        let uid = self
            .mailboxes
            .append(
                USER,
                &mailbox,
                format!("Subject: {body}\r\n\r\n{body}\r\n").into_bytes(),
                Vec::new(),
                None,
            )
            .await
            .unwrap();
        self.mailboxes
            .store()
            .message_get(mailbox.id, uid)
            .await
            .unwrap()
            .unwrap()
    }

    async fn transfer(&self, from: &str, message: &MessageRecord, to: &str, how: Transfer) {
        let (source, target) = (self.mailbox(from).await, self.mailbox(to).await);
        self.mailboxes
            .transfer(USER, &source, std::slice::from_ref(message), &target, how)
            .await
            .unwrap();
    }

    /// Waits until the teacher got `count` lessons; returns (class, body).
    async fn taught(&self, count: usize) -> Vec<(JunkClass, String)> {
        for _ in 0..200 {
            if self.classroom.got.lock().unwrap().len() >= count {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.classroom
            .got
            .lock()
            .unwrap()
            .iter()
            .map(|(user, class, bytes)| {
                assert_eq!(user, USER);
                (*class, String::from_utf8_lossy(bytes).into_owned())
            })
            .collect()
    }
}

fn subject(text: &str) -> &str {
    text.lines().next().unwrap().trim_start_matches("Subject: ")
}

#[tokio::test]
async fn moving_into_junk_teaches_spam_and_out_of_it_ham_but_not_into_trash() {
    let s = setup(16, None).await;
    let offer = s.append("INBOX", "offer").await;
    let hello = s.append("INBOX", "hello").await;
    s.transfer("INBOX", &offer, "Junk", Transfer::Move).await;
    s.transfer("INBOX", &hello, "Archive", Transfer::Copy).await;
    let taught = s.taught(1).await;
    assert_eq!(taught.len(), 1, "{taught:?}");
    assert_eq!(taught[0].0, JunkClass::Spam);
    assert_eq!(subject(&taught[0].1), "offer");

    // Out of Junk: to a folder, ham; to Trash, nothing.
    let junk = s.mailbox("Junk").await;
    let in_junk = s.mailboxes.store().message_list(junk.id).await.unwrap();
    s.transfer("Junk", &in_junk[0], "INBOX", Transfer::Copy)
        .await;
    s.transfer("Junk", &in_junk[0], "Trash", Transfer::Move)
        .await;
    s.transfer("Junk", &in_junk[0], "Junk", Transfer::Copy)
        .await;
    let taught = s.taught(2).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let taught_later = s.taught(2).await;
    assert_eq!(taught, taught_later, "only one more lesson");
    assert_eq!(taught.len(), 2);
    assert_eq!(taught[1].0, JunkClass::Ham);
    assert_eq!(subject(&taught[1].1), "offer");
}

#[tokio::test]
async fn a_message_appended_to_junk_is_spam_even_in_a_renamed_junk() {
    let s = setup(16, None).await;
    let junk = s.mailbox("Junk").await;
    s.mailboxes.rename(USER, &junk, "Pourriel").await.unwrap();
    s.append("Pourriel", "bargain").await;
    s.append("INBOX", "minutes").await;
    let taught = s.taught(1).await;
    assert_eq!(taught.len(), 1);
    assert_eq!(taught[0].0, JunkClass::Spam);
    assert_eq!(subject(&taught[0].1), "bargain");
}

#[tokio::test]
async fn a_full_queue_drops_lessons_instead_of_holding_the_command() {
    let gate = Arc::new(Semaphore::new(0));
    let s = setup(2, Some(gate.clone())).await;
    let mut records = Vec::new();
    for i in 0..6 {
        records.push(s.append("INBOX", &format!("junk{i}")).await);
    }
    let (inbox, junk) = (s.mailbox("INBOX").await, s.mailbox("Junk").await);
    // The teacher is stuck: the MOVE still completes at once.
    tokio::time::timeout(
        Duration::from_secs(5),
        s.mailboxes
            .transfer(USER, &inbox, &records, &junk, Transfer::Move),
    )
    .await
    .expect("the MOVE does not wait for learning")
    .unwrap();
    gate.add_permits(100);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let taught = s.taught(6).await;
    // One taken by the task before it blocked, two queued; the rest dropped.
    assert!((2..=3).contains(&taught.len()), "{taught:?}");
}

#[tokio::test]
async fn switched_off_nothing_is_taught() {
    let dir = tempfile::tempdir().unwrap();
    let template = format!("{}/mail/%d/%n/Maildir", dir.path().display());
    let store = Arc::new(SqliteStore::memory().await.unwrap());
    let plain = Mailboxes::new(store, template, "mx.example.test");
    let classroom = Arc::new(Classroom::default());
    let queue = LessonQueue::start(plain.clone(), classroom.clone(), 16, true);
    queue.set_enabled(false);
    let s = Setup {
        _dir: dir,
        mailboxes: plain.with_junk_learner(queue),
        classroom,
    };
    s.mailboxes.ensure_defaults(USER).await.unwrap();
    let offer = s.append("INBOX", "offer").await;
    s.transfer("INBOX", &offer, "Junk", Transfer::Move).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(s.taught(0).await.is_empty());
}
