//! What Dovecot reads beside the messages, written as the index changes:
//! flags in file names, `dovecot-uidlist`, `dovecot-keywords`,
//! `subscriptions`; and what another program changes in names, read back.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use havre_mailbox::{DeliveryRequest, LocalDelivery, MailboxError, Mailboxes};
use havre_store::{FlagMode, MailboxRecord, MessageRecord, SqliteStore};

const USER: &str = "alice@example.test";

struct Setup {
    _dir: tempfile::TempDir,
    spool: PathBuf,
    local: LocalDelivery,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let template = format!("{}/mail/%d/%n/Maildir", dir.path().display());
    let spool = dir.path().join("msg");
    fs::write(&spool, b"Subject: hi\r\n\r\nhello\r\n").unwrap();
    let store = Arc::new(SqliteStore::memory().await.unwrap());
    let mailboxes = Mailboxes::new(store, template, "mx.example.test");
    Setup {
        _dir: dir,
        spool,
        local: LocalDelivery::new(mailboxes),
    }
}

impl Setup {
    fn mailboxes(&self) -> &Mailboxes {
        self.local.mailboxes()
    }

    fn root(&self) -> PathBuf {
        self.local.maildir_of(USER).root().to_path_buf()
    }

    async fn deliver(&self, id: &str) -> u32 {
        let outcome = self
            .local
            .deliver(DeliveryRequest {
                mailbox: USER,
                sender: "bob@remote.test",
                message: &havre_mailbox::MessageSource::file(&self.spool),
                message_id: id,
                check_duplicate: false,
            })
            .await
            .unwrap();
        match outcome {
            havre_mailbox::DeliveryOutcome::Delivered(uid) => uid,
            other => panic!("{other:?}"),
        }
    }

    async fn mailbox(&self, name: &str) -> MailboxRecord {
        self.mailboxes().get(USER, name).await.unwrap().unwrap()
    }

    async fn messages(&self, name: &str) -> Vec<MessageRecord> {
        let mailbox = self.mailbox(name).await;
        self.mailboxes()
            .store()
            .message_list(mailbox.id)
            .await
            .unwrap()
    }

    async fn set(&self, uids: &[u32], mode: FlagMode, flags: &[&str]) {
        let inbox = self.mailbox("INBOX").await;
        let flags: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
        self.mailboxes()
            .update_flags(USER, &inbox, uids, mode, &flags, None)
            .await
            .unwrap();
    }
}

/// The names in `root/sub`, sorted.
fn names(root: &Path, sub: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(root.join(sub))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// `dovecot-uidlist` lines after the header, and the header's fields.
fn uidlist(dir: &Path) -> (String, Vec<String>) {
    let text = fs::read_to_string(dir.join("dovecot-uidlist")).unwrap();
    let mut lines = text.lines().map(str::to_string);
    (lines.next().unwrap(), lines.collect())
}

#[tokio::test]
async fn a_delivery_is_listed_in_dovecot_uidlist_with_the_uid_and_uidvalidity_imap_shows() {
    let s = setup().await;
    let one = s.deliver("0001").await;
    let two = s.deliver("0002").await;
    let inbox = s.mailbox("INBOX").await;
    let (header, records) = uidlist(&s.root());
    let fields: Vec<&str> = header.split(' ').collect();
    assert_eq!(fields[0], "3");
    assert_eq!(fields[1], format!("V{}", inbox.uidvalidity));
    assert!(fields[2].starts_with('N'), "{header}");
    assert!(
        fields[3].starts_with('G') && fields[3].len() == 33,
        "{header}"
    );
    // Delivered messages wait in new/, as Dovecot leaves them until seen.
    let files = names(&s.root(), "new");
    assert_eq!(
        records,
        [
            format!("{one} :{}", files[0]),
            format!("{two} :{}", files[1])
        ]
    );
    // Every folder has its uidlist from the start: Dovecot sees its UIDVALIDITY.
    let sent = s.mailbox("Sent").await;
    let (header, records) = uidlist(&s.root().join(".Sent"));
    assert!(header.starts_with(&format!("3 V{} N1 G", sent.uidvalidity)));
    assert!(records.is_empty());
}

#[tokio::test]
async fn a_flag_change_renames_the_file_to_cur_with_sorted_letters_and_records_the_name() {
    let s = setup().await;
    let uid = s.deliver("0001").await;
    let base = names(&s.root(), "new")[0].clone();
    s.set(&[uid], FlagMode::Add, &["\\Seen", "$Label1", "\\Flagged"])
        .await;
    assert!(names(&s.root(), "new").is_empty());
    assert_eq!(names(&s.root(), "cur"), [format!("{base}:2,FSa")]);
    assert_eq!(
        fs::read_to_string(s.root().join("dovecot-keywords")).unwrap(),
        "0 $Label1\n"
    );
    let record = &s.messages("INBOX").await[0];
    assert_eq!(record.file, format!("cur/{base}:2,FSa"));
    // A second keyword takes the next letter; removing flags keeps ":2,".
    s.set(&[uid], FlagMode::Replace, &["Work"]).await;
    assert_eq!(names(&s.root(), "cur"), [format!("{base}:2,b")]);
    s.set(&[uid], FlagMode::Replace, &[]).await;
    assert_eq!(names(&s.root(), "cur"), [format!("{base}:2,")]);
    assert_eq!(
        fs::read_to_string(s.root().join("dovecot-keywords")).unwrap(),
        "0 $Label1\n1 Work\n"
    );
    // The uidlist names the file by the part no flag change alters.
    assert_eq!(uidlist(&s.root()).1, [format!("{uid} :{base}")]);
}

#[tokio::test]
async fn a_session_still_reads_a_message_whose_file_another_session_renamed() {
    let s = setup().await;
    let uid = s.deliver("0001").await;
    let inbox = s.mailbox("INBOX").await;
    let before = s.messages("INBOX").await.remove(0);
    s.set(&[uid], FlagMode::Add, &["\\Seen"]).await;
    s.set(&[uid], FlagMode::Add, &["\\Answered"]).await;
    // `before` names the file as it was two renames ago.
    let bytes = s
        .mailboxes()
        .read_message(USER, &inbox, &before)
        .await
        .unwrap();
    assert!(bytes.ends_with(b"hello\n"));
    let (_, path) = s
        .mailboxes()
        .open_message(USER, &inbox, &before)
        .await
        .unwrap();
    assert!(path.to_str().unwrap().ends_with(":2,RS"), "{path:?}");
    // An expunge from that stale view removes the file where it is now.
    s.mailboxes()
        .expunge(USER, &inbox, std::slice::from_ref(&before))
        .await
        .unwrap();
    assert!(names(&s.root(), "cur").is_empty());
    assert_eq!(s.mailboxes().sync(USER, &inbox).await.unwrap(), 0);
    assert!(matches!(
        s.mailboxes().read_message(USER, &inbox, &before).await,
        Err(MailboxError::Expunged(_))
    ));
}

#[tokio::test]
async fn a_client_seeing_the_folder_moves_its_messages_from_new_to_cur() {
    let s = setup().await;
    s.deliver("0001").await;
    let base = names(&s.root(), "new")[0].clone();
    let inbox = s.mailbox("INBOX").await;
    s.mailboxes().seen_by_client(USER, &inbox).await.unwrap();
    assert!(names(&s.root(), "new").is_empty());
    assert_eq!(names(&s.root(), "cur"), [format!("{base}:2,")]);
    assert_eq!(s.messages("INBOX").await[0].file, format!("cur/{base}:2,"));
}

#[tokio::test]
async fn flags_another_program_put_in_a_name_are_read_at_sync() {
    let s = setup().await;
    let uid = s.deliver("0001").await;
    // All 26 letters taken: a 27th keyword has none, and lives in the index only.
    let full: String = (0..26).map(|i| format!("{i} k{i}\n")).collect();
    fs::write(s.root().join("dovecot-keywords"), full).unwrap();
    s.set(&[uid], FlagMode::Add, &["\\Seen", "k0", "NoLetter"])
        .await;
    let inbox = s.mailbox("INBOX").await;
    let named = names(&s.root(), "cur")[0].clone();
    let (base, letters) = named.split_once(':').unwrap();
    assert_eq!(letters, "2,Sa");
    // Dovecot (or a mail client) answers and flags it, and takes k0 away.
    fs::rename(
        s.root().join("cur").join(&named),
        s.root().join("cur").join(format!("{base}:2,FRS")),
    )
    .unwrap();
    let mut changes = s.mailboxes().notifier().subscribe(USER);
    assert_eq!(s.mailboxes().sync(USER, &inbox).await.unwrap(), 0);
    let record = &s.messages("INBOX").await[0];
    assert_eq!(record.file, format!("cur/{base}:2,FRS"));
    // The keyword no name can say stays as the index has it.
    assert_eq!(
        record.flags,
        ["\\Answered", "\\Flagged", "\\Seen", "NoLetter"]
    );
    assert_eq!(changes.try_recv().unwrap().messages_of(), Some(inbox.id));
}

#[tokio::test]
async fn a_name_that_does_not_say_the_indexed_flags_is_renamed_at_sync() {
    let s = setup().await;
    let uid = s.deliver("0001").await;
    let inbox = s.mailbox("INBOX").await;
    // As a crash between the index's commit and the rename leaves it (or
    // a Maildir from before havre wrote flags into names).
    s.mailboxes()
        .store()
        .message_update_flags(
            inbox.id,
            &[uid],
            FlagMode::Add,
            &["\\Seen".into(), "$Junk".into()],
            None,
        )
        .await
        .unwrap();
    let base = names(&s.root(), "new")[0].clone();
    s.mailboxes().sync(USER, &inbox).await.unwrap();
    assert_eq!(names(&s.root(), "cur"), [format!("{base}:2,Sa")]);
    let record = &s.messages("INBOX").await[0];
    assert_eq!(record.flags, ["\\Seen", "$Junk"]);
    assert_eq!(record.file, format!("cur/{base}:2,Sa"));
}

#[tokio::test]
async fn expunged_records_stay_in_the_uidlist_until_a_quarter_are_gone() {
    let s = setup().await;
    let mut uids = Vec::new();
    for id in [
        "0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008",
    ] {
        uids.push(s.deliver(id).await);
    }
    let inbox = s.mailbox("INBOX").await;
    let expunge = |uid: u32| {
        let s = &s;
        let inbox = inbox.clone();
        async move {
            let record = s
                .messages("INBOX")
                .await
                .into_iter()
                .find(|m| m.uid == uid)
                .unwrap();
            s.mailboxes()
                .expunge(USER, &inbox, &[record])
                .await
                .unwrap();
        }
    };
    expunge(uids[0]).await;
    expunge(uids[1]).await;
    // Two of eight gone: the file is left alone (Dovecot's 75% rule).
    assert_eq!(uidlist(&s.root()).1.len(), 8);
    expunge(uids[2]).await;
    let (_, records) = uidlist(&s.root());
    let listed: Vec<u32> = records
        .iter()
        .map(|r| r.split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(listed, uids[3..]);
    // Appends go on after a rewrite.
    let next = s.deliver("0009").await;
    assert_eq!(
        uidlist(&s.root()).1.last().unwrap().split(' ').next(),
        Some(next.to_string().as_str())
    );
}

#[tokio::test]
async fn a_missing_or_foreign_uidlist_is_written_again_from_the_index() {
    let s = setup().await;
    let one = s.deliver("0001").await;
    let inbox = s.mailbox("INBOX").await;
    fs::write(s.root().join("dovecot-uidlist"), "3 V1 N2 G00\n1 :other\n").unwrap();
    let two = s.deliver("0002").await;
    let (header, records) = uidlist(&s.root());
    assert!(
        header.starts_with(&format!("3 V{} ", inbox.uidvalidity)),
        "{header}"
    );
    assert_eq!(records.len(), 2, "{records:?}");
    assert!(records[0].starts_with(&format!("{one} :")));
    assert!(records[1].starts_with(&format!("{two} :")));
    fs::remove_file(s.root().join("dovecot-uidlist")).unwrap();
    s.mailboxes().sync(USER, &inbox).await.unwrap();
    assert_eq!(uidlist(&s.root()).1, records);
}

#[tokio::test]
async fn appended_and_copied_messages_carry_their_flags_in_their_names() {
    let s = setup().await;
    s.deliver("0001").await;
    let inbox = s.mailbox("INBOX").await;
    let uid = s
        .mailboxes()
        .append(
            USER,
            &inbox,
            b"Subject: a\r\n\r\nb\r\n".to_vec(),
            vec!["\\Seen".into(), "$Label1".into()],
            None,
        )
        .await
        .unwrap();
    let cur = names(&s.root(), "cur");
    assert_eq!(cur.len(), 1);
    assert!(cur[0].ends_with(":2,Sa"), "{cur:?}");
    let sent = s.mailbox("Sent").await;
    let record = s
        .messages("INBOX")
        .await
        .into_iter()
        .find(|m| m.uid == uid)
        .unwrap();
    let pairs = s
        .mailboxes()
        .copy(USER, &inbox, &[record], &sent)
        .await
        .unwrap();
    let copied = names(&s.root().join(".Sent"), "cur");
    assert!(copied[0].ends_with(":2,Sa"), "{copied:?}");
    assert_eq!(
        fs::read_to_string(s.root().join(".Sent/dovecot-keywords")).unwrap(),
        "0 $Label1\n"
    );
    assert_eq!(
        uidlist(&s.root().join(".Sent")).1,
        [format!(
            "{} :{}",
            pairs[0].1,
            copied[0].split(':').next().unwrap()
        )]
    );
}

#[tokio::test]
async fn the_subscriptions_file_follows_the_list_in_dovecots_format() {
    let s = setup().await;
    s.deliver("0001").await;
    let path = s.root().join("subscriptions");
    // The default folders the server subscribed when it made them.
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "V\t2\n\nArchive\nDrafts\nINBOX\nJunk\nSent\nTrash\n"
    );
    let m = s.mailboxes();
    m.create(USER, "Lists/rust", None).await.unwrap();
    m.subscribe(USER, "Lists/rust", true).await.unwrap();
    m.subscribe(USER, "Junk", false).await.unwrap();
    let lists = s.mailbox("Lists/rust").await;
    m.rename(USER, &lists, "Listes/rust").await.unwrap();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "V\t2\n\nArchive\nDrafts\nINBOX\nListes\trust\nSent\nTrash\n"
    );
    // And for a user from before havre wrote it: at the next login.
    fs::remove_file(&path).unwrap();
    m.ensure_defaults(USER).await.unwrap();
    assert!(path.exists());
}
