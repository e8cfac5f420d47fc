//! Importing a Maildir the way Dovecot leaves it behind.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use havre_mailbox::{
    DeliveryOutcome, DeliveryRequest, ImportError, LocalDelivery, Mailboxes, import_dovecot_maildir,
};
use havre_store::MessageRecord;

const USER: &str = "alice@example.test";

/// A message file as Dovecot names it, with its mtime (the internal date);
/// returns the name as `dovecot-uidlist` has it (up to the ':').
fn message(dir: &Path, sub: &str, base: &str, info: &str, body: &str, mtime: u64) -> String {
    let lines = body.matches('\n').count() as u64;
    let (size, vsize) = (body.len() as u64, body.len() as u64 + lines);
    let key = format!("{base},S={size},W={vsize}");
    let path = dir.join(sub).join(format!("{key}{info}"));
    fs::write(&path, body).unwrap();
    fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(UNIX_EPOCH + Duration::from_secs(mtime))
        .unwrap();
    key
}

fn folder(root: &Path, dir: &str) -> PathBuf {
    let path = if dir.is_empty() {
        root.to_path_buf()
    } else {
        root.join(dir)
    };
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(path.join(sub)).unwrap();
    }
    if !dir.is_empty() {
        fs::write(path.join("maildirfolder"), "").unwrap();
    }
    path
}

/// The tree Dovecot 2.3 leaves: INBOX with three messages (two read in cur/,
/// one still in new/), Sent, Lists/rust, Envoyés (modified UTF-7 on disk,
/// never opened by Dovecot so without a uidlist) and "Deleted Messages".
fn dovecot_tree(root: &Path) {
    let inbox = folder(root, "");
    let one = message(
        &inbox,
        "cur",
        "1600000001.M1P100.old",
        ":2,S",
        "Subject: one\n\nfirst\n",
        1_600_000_001,
    );
    let two = message(
        &inbox,
        "cur",
        "1600000002.M2P100.old",
        ":2,FRa",
        "Subject: two\n\nsecond\n",
        1_600_000_002,
    );
    let three = message(
        &inbox,
        "new",
        "1600000003.M3P100.old",
        "",
        "Subject: three\n\nthird\n",
        1_600_000_003,
    );
    // Dovecot's own files, and a delivery that never finished.
    fs::write(inbox.join("tmp/1600000004.M4P100.old"), "Subject: partial").unwrap();
    fs::write(inbox.join("cur/.hidden"), "not a message").unwrap();
    fs::write(inbox.join("dovecot.index.log"), [0u8, 1, 2]).unwrap();
    fs::write(
        inbox.join("dovecot-uidlist"),
        format!(
            "3 V1600000000 N13 G3085f01b7f11094c501100008c4a11c1\n\
             5 :{one}\n9 :{two}\n12 :{three}\n"
        ),
    )
    .unwrap();
    fs::write(inbox.join("dovecot-keywords"), "0 $Label1\n1 $Junk\n").unwrap();
    fs::write(inbox.join("subscriptions"), "INBOX\nSent\nLists.rust\n").unwrap();

    let sent = folder(root, ".Sent");
    let sent_one = message(
        &sent,
        "cur",
        "1600000100.M1P200.old",
        ":2,S",
        "Subject: sent\n\nbye\n",
        1_600_000_100,
    );
    fs::write(
        sent.join("dovecot-uidlist"),
        format!("3 V1600000001 N3\n2 W999 :{sent_one}\n"),
    )
    .unwrap();

    // One listed message, one delivered after Dovecot last looked.
    let lists = folder(root, ".Lists.rust");
    let listed = message(
        &lists,
        "cur",
        "1600000200.M1P300.old",
        ":2,",
        "Subject: rust\n\nhi\n",
        1_600_000_200,
    );
    message(
        &lists,
        "new",
        "1600000300.M1P300.old",
        "",
        "Subject: later\n\nho\n",
        1_600_000_300,
    );
    fs::write(
        lists.join("dovecot-uidlist"),
        format!("3 V1600000002 N7\n4 :{listed}\n"),
    )
    .unwrap();

    // A file name without sizes: the size is counted.
    let envoyes = folder(root, ".Envoy&AOk-s");
    fs::write(
        envoyes.join("cur/1600000400.M1P400.old:2,S"),
        "Subject: envoy\u{e9}\n\nx\n",
    )
    .unwrap();

    folder(root, ".Deleted Messages");
}

async fn setup(template: Option<String>) -> (tempfile::TempDir, PathBuf, Mailboxes) {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("dovecot/alice/Maildir");
    dovecot_tree(&source);
    let store = common::store_with_user(USER).await;
    let template =
        template.unwrap_or_else(|| format!("{}/mail/%d/%n/Maildir", dir.path().display()));
    let mailboxes = Mailboxes::new(store, template, "mx.example.test");
    // As `havre user add` does.
    mailboxes.ensure_defaults(USER).await.unwrap();
    (dir, source, mailboxes)
}

async fn messages(mailboxes: &Mailboxes, name: &str) -> Vec<MessageRecord> {
    let mailbox = mailboxes.get(USER, name).await.unwrap().unwrap();
    mailboxes.store().message_list(mailbox.id).await.unwrap()
}

#[tokio::test]
async fn a_mailbox_imported_from_dovecot_keeps_its_uids_so_clients_download_nothing_again() {
    let (_dir, source, mailboxes) = setup(None).await;
    let mut calls = Vec::new();
    let report = import_dovecot_maildir(&mailboxes, USER, &source, |done, total| {
        calls.push((done, total))
    })
    .await
    .unwrap();
    assert_eq!(report.messages(), 7);
    assert_eq!(calls.first(), Some(&(0, 7)));
    assert_eq!(calls.last(), Some(&(7, 7)));

    let names: Vec<String> = mailboxes
        .list(USER)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    for name in ["INBOX", "Sent", "Lists/rust", "Envoyés"] {
        assert!(names.contains(&name.to_string()), "{name} in {names:?}");
    }

    let inbox = mailboxes.get(USER, "INBOX").await.unwrap().unwrap();
    assert_eq!((inbox.uidvalidity, inbox.uidnext), (1_600_000_000, 13));
    let found = messages(&mailboxes, "INBOX").await;
    let uids: Vec<u32> = found.iter().map(|m| m.uid).collect();
    assert_eq!(uids, [5, 9, 12]);
    assert_eq!(found[0].flags, ["\\Seen"]);
    assert_eq!(found[1].flags, ["\\Answered", "\\Flagged", "$Label1"]);
    assert!(found[2].flags.is_empty());
    assert_eq!(
        found.iter().map(|m| m.size).collect::<Vec<_>>(),
        [23, 24, 25]
    );
    assert_eq!(found[1].internal_date, 1_600_000_002);
    // The file is in the user's Maildir under the same name, as it was.
    assert_eq!(found[1].file, "cur/1600000002.M2P100.old,S=21,W=24:2,FRa");
    let copy = mailboxes.message_path(USER, &inbox, &found[1]).unwrap();
    assert_eq!(
        fs::read_to_string(&copy).unwrap(),
        "Subject: two\n\nsecond\n"
    );
    assert_eq!(found[2].file, "new/1600000003.M3P100.old,S=22,W=25");

    // The next message gets the UID Dovecot would have given.
    let spool = source.join("../next.eml");
    fs::write(&spool, "Subject: new\r\n\r\nhello\r\n").unwrap();
    let outcome = LocalDelivery::new(mailboxes.clone())
        .deliver(DeliveryRequest {
            mailbox: USER,
            sender: "bob@remote.test",
            message: &havre_mailbox::MessageSource::file(&spool),
            message_id: "0123ABCD",
            check_duplicate: false,
        })
        .await
        .unwrap();
    assert_eq!(outcome, DeliveryOutcome::Delivered(13));

    let sent = mailboxes.get(USER, "Sent").await.unwrap().unwrap();
    assert_eq!((sent.uidvalidity, sent.uidnext), (1_600_000_001, 3));
    assert_eq!(sent.special_use.as_deref(), Some("\\Sent"));
    // W= of the file name wins over the uidlist's.
    assert_eq!(messages(&mailboxes, "Sent").await[0].size, 22);

    // The file Dovecot had not listed yet gets NEXTUID, as with Dovecot.
    let lists = mailboxes.get(USER, "Lists/rust").await.unwrap().unwrap();
    assert_eq!((lists.uidvalidity, lists.uidnext), (1_600_000_002, 8));
    let uids: Vec<u32> = messages(&mailboxes, "Lists/rust")
        .await
        .iter()
        .map(|m| m.uid)
        .collect();
    assert_eq!(uids, [4, 7]);

    let envoyes = messages(&mailboxes, "Envoyés").await;
    assert_eq!(envoyes.len(), 1);
    assert_eq!(envoyes[0].uid, 1);
    // "Subject: envoyé\n\nx\n" is 20 bytes ('é' is two) and 3 lines.
    assert_eq!(envoyes[0].size, 23);
    let folder = report.folders.iter().find(|f| f.name == "Envoyés").unwrap();
    assert!(!folder.uidvalidity_kept);
    assert!(
        mailboxes
            .root_of(USER)
            .root()
            .join(".Envoy&AOk-s/cur/1600000400.M1P400.old:2,S")
            .is_file()
    );

    let subscribed = |name: &str| {
        let mailboxes = mailboxes.clone();
        let name = name.to_string();
        async move {
            mailboxes
                .get(USER, &name)
                .await
                .unwrap()
                .unwrap()
                .subscribed
        }
    };
    assert!(subscribed("INBOX").await);
    assert!(subscribed("Sent").await);
    assert!(subscribed("Lists/rust").await);
    assert!(!subscribed("Envoyés").await);
}

#[tokio::test]
async fn dovecots_trash_under_another_name_replaces_the_empty_default_one() {
    let (_dir, source, mailboxes) = setup(None).await;
    let report = import_dovecot_maildir(&mailboxes, USER, &source, |_, _| {})
        .await
        .unwrap();
    assert_eq!(report.replaced, ["Trash"]);
    let trash = mailboxes
        .get(USER, "Deleted Messages")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(trash.special_use.as_deref(), Some("\\Trash"));
    assert!(mailboxes.get(USER, "Trash").await.unwrap().is_none());
    // Defaults Dovecot did not have stay.
    assert!(mailboxes.get(USER, "Archive").await.unwrap().is_some());
}

#[tokio::test]
async fn an_import_over_mailboxes_with_messages_writes_nothing() {
    let (_dir, source, mailboxes) = setup(None).await;
    let inbox = mailboxes.get(USER, "INBOX").await.unwrap().unwrap();
    mailboxes
        .append(
            USER,
            &inbox,
            b"Subject: here\r\n\r\nx\r\n".to_vec(),
            vec![],
            None,
        )
        .await
        .unwrap();
    let err = import_dovecot_maildir(&mailboxes, USER, &source, |_, _| {})
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ImportError::NotEmpty { mailboxes, .. } if mailboxes == &[("INBOX".to_string(), 1)]),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "nothing was imported: alice@example.test already has messages in INBOX (1); \
         an import only fills empty mailboxes"
    );
    assert!(mailboxes.get(USER, "Lists/rust").await.unwrap().is_none());
    assert_eq!(messages(&mailboxes, "Sent").await.len(), 0);
    assert!(!mailboxes.root_of(USER).root().join(".Lists.rust").exists());
}

#[tokio::test]
async fn an_import_run_again_after_an_interruption_does_only_the_folders_not_done() {
    let (_dir, source, mailboxes) = setup(None).await;
    import_dovecot_maildir(&mailboxes, USER, &source, |_, _| {})
        .await
        .unwrap();
    // As if the import had stopped after copying Lists/rust, before its index.
    let lists = mailboxes.get(USER, "Lists/rust").await.unwrap().unwrap();
    mailboxes.store().mailbox_delete(lists.id).await.unwrap();

    let mut total = 0;
    let report = import_dovecot_maildir(&mailboxes, USER, &source, |_, t| total = t)
        .await
        .unwrap();
    assert_eq!(report.left_alone, ["INBOX", "Envoyés", "Sent"]);
    assert_eq!(total, 2);
    let uids: Vec<u32> = messages(&mailboxes, "Lists/rust")
        .await
        .iter()
        .map(|m| m.uid)
        .collect();
    assert_eq!(uids, [4, 7]);
    assert_eq!(messages(&mailboxes, "INBOX").await.len(), 3);
}

#[tokio::test]
async fn an_unknown_user_is_refused_with_the_command_that_adds_it() {
    let (_dir, source, mailboxes) = setup(None).await;
    let err = import_dovecot_maildir(&mailboxes, "bob@example.test", &source, |_, _| {})
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "no user bob@example.test: add it first with `havre user add bob@example.test`"
    );
}

#[tokio::test]
async fn a_maildir_already_where_havre_keeps_it_is_indexed_without_copies() {
    let dir = tempfile::tempdir().unwrap();
    let template = format!("{}/dovecot/%n/Maildir", dir.path().display());
    let (_keep, _, mailboxes) = setup(Some(template)).await;
    let source = mailboxes.root_of(USER).root().to_path_buf();
    dovecot_tree(&source);
    let report = import_dovecot_maildir(&mailboxes, USER, &source, |_, _| {})
        .await
        .unwrap();
    assert!(report.folders.iter().all(|f| f.in_place));
    let inbox = messages(&mailboxes, "INBOX").await;
    assert_eq!(inbox.iter().map(|m| m.uid).collect::<Vec<_>>(), [5, 9, 12]);
    assert!(fs::read_dir(source.join("tmp")).unwrap().count() == 1);
}

#[tokio::test]
async fn a_directory_that_is_not_a_maildir_is_refused() {
    let (dir, _, mailboxes) = setup(None).await;
    let err = import_dovecot_maildir(&mailboxes, USER, dir.path(), |_, _| {})
        .await
        .unwrap_err();
    assert!(matches!(err, ImportError::NotAMaildir(_)), "{err}");
}
