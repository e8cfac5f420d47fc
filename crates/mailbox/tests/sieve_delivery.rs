//! Delivery under a user's Sieve script: where the message lands, with
//! which flags, and that a script never loses it.

mod common;

use std::sync::Arc;

use havre_mailbox::{
    DeliveryOutcome, DeliveryRequest, Filed, LocalDelivery, Mailboxes, MessageSource, SieveScripts,
};
use havre_sieve::Limits;
use havre_store::Store;

const USER: &str = "alice@example.test";

const LIST_MAIL: &[u8] = b"From: bob@lists.example\r\nTo: talk@lists.example\r\n\
List-Id: Talk <talk.lists.example>\r\nSubject: news\r\n\r\nhello\r\n";

struct Setup {
    _dir: tempfile::TempDir,
    local: LocalDelivery,
    store: Arc<dyn Store>,
}

async fn setup(script: Option<&str>) -> Setup {
    setup_with_site(script, &[]).await
}

async fn setup_with_site(script: Option<&str>, before: &[(String, String)]) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let template = format!("{}/mail/%d/%n/Maildir", dir.path().display());
    let store: Arc<dyn Store> = common::store_with_user(USER).await;
    if let Some(script) = script {
        store.sieve_put(USER, "main", script).await.unwrap();
        assert!(store.sieve_activate(USER, Some("main")).await.unwrap());
    }
    let scripts = SieveScripts::new(store.clone(), Limits::default())
        .with_site_scripts(before, &[], &[])
        .unwrap();
    let mailboxes = Mailboxes::new(store.clone(), template, "mx.example.test");
    let local = LocalDelivery::new(mailboxes).with_sieve(Arc::new(scripts));
    Setup {
        _dir: dir,
        local,
        store,
    }
}

impl Setup {
    async fn deliver(&self, message: &[u8], id: &str) -> Vec<Filed> {
        let source = MessageSource::Bytes(message.into());
        let request = DeliveryRequest {
            mailbox: USER,
            sender: "bob@lists.example",
            message: &source,
            message_id: id,
            check_duplicate: false,
        };
        let plan = self.local.plan(&request, None).await;
        self.local.deliver_plan(request, &plan).await.unwrap()
    }

    /// (uid, flags) of each message in `folder`.
    async fn messages(&self, folder: &str) -> Vec<(u32, Vec<String>)> {
        let Some(mailbox) = self.local.mailboxes().get(USER, folder).await.unwrap() else {
            return Vec::new();
        };
        self.store
            .message_list(mailbox.id)
            .await
            .unwrap()
            .into_iter()
            .map(|m| (m.uid, m.flags))
            .collect()
    }
}

fn filed(folder: &str, uid: u32) -> Filed {
    Filed {
        folder: folder.into(),
        outcome: DeliveryOutcome::Delivered(uid),
    }
}

#[tokio::test]
async fn a_script_files_mail_from_a_list_into_its_folder_and_flags_it() {
    let s = setup(Some(
        "require [\"fileinto\", \"imap4flags\"];\n\
         if header :contains \"List-Id\" \"talk.lists.example\" {\n\
           fileinto :flags [\"\\\\Seen\", \"$Lists\"] \"Archive\";\n\
         }\n",
    ))
    .await;
    assert_eq!(s.deliver(LIST_MAIL, "0001").await, [filed("Archive", 1)]);
    assert_eq!(
        s.messages("Archive").await,
        [(1, vec!["\\Seen".to_string(), "$Lists".to_string()])]
    );
    assert!(s.messages("INBOX").await.is_empty());
    // Dovecot reads the flags from the file's name: in cur/, `S` and the
    // keyword's letter, the letter in the folder's dovecot-keywords.
    let archive = s
        ._dir
        .path()
        .join("mail/example.test/alice/Maildir/.Archive");
    assert_eq!(std::fs::read_dir(archive.join("new")).unwrap().count(), 0);
    let names: Vec<String> = std::fs::read_dir(archive.join("cur"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].ends_with(":2,Sa"), "{names:?}");
    let keywords = std::fs::read_to_string(archive.join("dovecot-keywords")).unwrap();
    assert_eq!(keywords.trim(), "0 $Lists");
    // Other mail is kept in INBOX.
    let plain = b"From: carol@example.test\r\nSubject: hi\r\n\r\nhello\r\n";
    assert_eq!(s.deliver(plain, "0002").await, [filed("INBOX", 1)]);
}

#[tokio::test]
async fn a_script_that_does_not_compile_keeps_the_message_in_inbox() {
    // Stored past the checks (as a file another tool wrote): never run.
    let s = setup(Some("require \"fileinto\";\nfilein \"Archive\";\n")).await;
    assert_eq!(s.deliver(LIST_MAIL, "0001").await, [filed("INBOX", 1)]);
}

#[tokio::test]
async fn a_script_that_fails_while_running_keeps_the_message_in_inbox() {
    let s = setup(Some(
        "require [\"fileinto\", \"include\"];\nfileinto \"Archive\";\ninclude \"missing\";\n",
    ))
    .await;
    assert_eq!(s.deliver(LIST_MAIL, "0001").await, [filed("INBOX", 1)]);
    assert!(s.messages("Archive").await.is_empty());
}

#[tokio::test]
async fn fileinto_a_missing_folder_keeps_in_inbox_unless_create_makes_it() {
    let s = setup(Some(
        "require [\"fileinto\", \"mailbox\"];\n\
         if header :is \"Subject\" \"news\" { fileinto \"Lists/Talk\"; }\n\
         else { fileinto :create \"Lists/Other\"; }\n",
    ))
    .await;
    assert_eq!(s.deliver(LIST_MAIL, "0001").await, [filed("INBOX", 1)]);
    assert!(
        s.local
            .mailboxes()
            .get(USER, "Lists/Talk")
            .await
            .unwrap()
            .is_none()
    );
    let other = b"From: carol@example.test\r\nSubject: other\r\n\r\nhello\r\n";
    assert_eq!(s.deliver(other, "0002").await, [filed("Lists/Other", 1)]);
    assert_eq!(s.messages("Lists/Other").await.len(), 1);
}

#[tokio::test]
async fn discard_delivers_nothing_and_keep_with_copy_delivers_twice_once_per_folder() {
    let s = setup(Some("discard;\n")).await;
    assert_eq!(s.deliver(LIST_MAIL, "0001").await, []);
    assert!(s.messages("INBOX").await.is_empty());

    let s = setup(Some(
        "require [\"fileinto\", \"copy\"];\n\
         fileinto :copy \"Archive\";\nfileinto \"Archive\";\nkeep;\n",
    ))
    .await;
    assert_eq!(
        s.deliver(LIST_MAIL, "0001").await,
        [filed("Archive", 1), filed("INBOX", 1)]
    );
}

#[tokio::test]
async fn a_redirect_is_planned_and_a_loop_back_through_the_user_is_kept_instead() {
    let s = setup(Some("redirect \"carol@elsewhere.example\";\n")).await;
    let source = MessageSource::Bytes(LIST_MAIL.into());
    let request = DeliveryRequest {
        mailbox: USER,
        sender: "bob@lists.example",
        message: &source,
        message_id: "0001",
        check_duplicate: false,
    };
    let plan = s.local.plan(&request, None).await;
    assert_eq!(plan.redirects, ["carol@elsewhere.example"]);
    assert!(plan.filings.is_empty() && plan.discarded());
    let out = plan.redirected_message(USER);
    assert!(out.starts_with(b"Delivered-To: alice@example.test\r\nFrom: bob@lists.example"));
    // It comes back: kept, not sent round again.
    let back = MessageSource::Bytes(out.into());
    let again = DeliveryRequest {
        message: &back,
        message_id: "0002",
        ..request
    };
    let plan = s.local.plan(&again, None).await;
    assert!(plan.redirects.is_empty());
    assert_eq!(
        s.local.deliver_plan(again, &plan).await.unwrap(),
        [filed("INBOX", 1)]
    );
}

#[tokio::test]
async fn the_sites_before_script_runs_first_and_its_stop_ends_the_sequence() {
    let before = [(
        "spam.sieve".to_string(),
        "require \"fileinto\";\n\
         if header :contains \"Subject\" \"[SPAM]\" { fileinto \"Junk\"; stop; }\n"
            .to_string(),
    )];
    let s = setup_with_site(Some("discard;\n"), &before).await;
    let spam = b"From: x@spam.example\r\nSubject: [SPAM] buy\r\n\r\nbuy\r\n";
    assert_eq!(s.deliver(spam, "0001").await, [filed("Junk", 1)]);
    assert_eq!(s.deliver(LIST_MAIL, "0002").await, []);
}

#[tokio::test]
async fn a_changed_script_is_compiled_again_and_staged_copies_carry_their_flags() {
    let s = setup(Some("require \"fileinto\";\nfileinto \"Archive\";\n")).await;
    assert_eq!(s.deliver(LIST_MAIL, "0001").await, [filed("Archive", 1)]);
    s.store
        .sieve_put(
            USER,
            "main",
            "require \"imap4flags\";\naddflag \"\\\\Flagged\";\n",
        )
        .await
        .unwrap();
    // The relay's way: staged, its row committed by the caller.
    let source = MessageSource::Bytes(LIST_MAIL.into());
    let request = DeliveryRequest {
        mailbox: USER,
        sender: "bob@lists.example",
        message: &source,
        message_id: "0002",
        check_duplicate: false,
    };
    let plan = s.local.plan(&request, None).await;
    let staged = s.local.stage_plan(request, &plan).await.unwrap();
    assert_eq!(staged.len(), 1);
    assert_eq!(staged[0].folder(), "INBOX");
    assert_eq!(staged[0].row().message.flags, ["\\Flagged"]);
}

#[tokio::test]
async fn vacation_answers_a_sender_once_within_its_days_and_never_a_list() {
    let s = setup_with_state(
        "require \"vacation\";\nvacation :days 3 :subject \"Away\" \"Back on Monday.\";\n",
    )
    .await;
    let personal = b"From: carol@remote.example\r\nTo: alice@example.test\r\n\
Message-ID: <c1@remote.example>\r\nSubject: lunch?\r\n\r\nhello\r\n";
    let reply_to = |message: &[u8], sender: &str, id: &str| {
        let source = MessageSource::Bytes(message.into());
        let local = s.local.clone();
        let sender = sender.to_string();
        let id = id.to_string();
        async move {
            let request = DeliveryRequest {
                mailbox: USER,
                sender: &sender,
                message: &source,
                message_id: &id,
                check_duplicate: false,
            };
            let plan = local.plan(&request, None).await;
            // Vacation never stops the delivery itself.
            assert_eq!(plan.filings.len(), 1);
            plan.vacation_reply
        }
    };
    let reply = reply_to(personal, "carol@remote.example", "0001")
        .await
        .unwrap();
    assert_eq!(reply.to, "carol@remote.example");
    let text = String::from_utf8(reply.message).unwrap();
    assert!(
        text.starts_with(
            "From: alice@example.test\r\nTo: <carol@remote.example>\r\nSubject: Away\r\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("In-Reply-To: <c1@remote.example>\r\n"),
        "{text}"
    );
    assert!(text.contains("Auto-Submitted: auto-replied"), "{text}");
    // Once within the period.
    assert!(
        reply_to(personal, "carol@remote.example", "0002")
            .await
            .is_none()
    );
    // Another sender is answered; lists and the null sender never.
    assert!(
        reply_to(personal, "dave@remote.example", "0003")
            .await
            .is_some()
    );
    assert!(
        reply_to(LIST_MAIL, "bob@lists.example", "0004")
            .await
            .is_none()
    );
    assert!(reply_to(personal, "", "0005").await.is_none());
}

/// `setup` with the node's state (vacation, duplicate, notices).
async fn setup_with_state(script: &str) -> Setup {
    let mut s = setup(Some(script)).await;
    let state: Arc<dyn havre_state::State> = Arc::new(havre_state::EmbeddedState::memory());
    let scripts = SieveScripts::new(s.store.clone(), Limits::default()).with_state(state);
    s.local = LocalDelivery::new(s.local.mailboxes().clone()).with_sieve(Arc::new(scripts));
    s
}

#[tokio::test]
async fn a_user_hears_once_that_her_script_does_not_compile_and_again_after_a_change() {
    let s = setup_with_state("require \"fileinto\";\nfilein \"Archive\";\n").await;
    assert_eq!(s.deliver(LIST_MAIL, "0001").await, [filed("INBOX", 2)]);
    // The notice came first, then the message.
    let inbox = s.messages("INBOX").await;
    assert_eq!(inbox.len(), 2);
    s.deliver(LIST_MAIL, "0002").await;
    assert_eq!(s.messages("INBOX").await.len(), 3, "no second notice");
    s.store
        .sieve_put(
            USER,
            "main",
            "require \"fileinto\";\nfileinto \"Archive\"\n",
        )
        .await
        .unwrap();
    s.deliver(LIST_MAIL, "0003").await;
    assert_eq!(
        s.messages("INBOX").await.len(),
        5,
        "a notice for the new error"
    );
    let mailbox = s
        .local
        .mailboxes()
        .get(USER, "INBOX")
        .await
        .unwrap()
        .unwrap();
    let first = s.store.message_list(mailbox.id).await.unwrap();
    let text = s
        .local
        .mailboxes()
        .read_message(USER, &mailbox, &first[0])
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&text);
    assert!(
        text.contains("Subject: Your mail filter \"main\" does not work"),
        "{text}"
    );
    assert!(
        text.contains("line 2, column 1: unknown command 'filein'"),
        "{text}"
    );
}

#[tokio::test]
async fn duplicate_sees_a_message_id_delivered_before() {
    let s = setup_with_state("require \"duplicate\";\nif duplicate { discard; }\n").await;
    let message = b"Message-ID: <once@remote.example>\r\nSubject: x\r\n\r\nx\r\n";
    assert_eq!(s.deliver(message, "0001").await, [filed("INBOX", 1)]);
    assert_eq!(s.deliver(message, "0002").await, []);
    let other = b"Message-ID: <twice@remote.example>\r\nSubject: x\r\n\r\nx\r\n";
    assert_eq!(s.deliver(other, "0003").await, [filed("INBOX", 2)]);
}

#[tokio::test]
async fn a_script_written_for_dovecots_namespace_finds_the_same_folder() {
    let s = setup(Some(
        "require \"fileinto\";\nfileinto \"INBOX.Lists.Talk\";\n",
    ))
    .await;
    s.local
        .mailboxes()
        .create(USER, "Lists/Talk", None)
        .await
        .unwrap();
    assert_eq!(s.deliver(LIST_MAIL, "0001").await, [filed("Lists/Talk", 1)]);
}

#[tokio::test]
async fn a_user_script_includes_a_global_one_and_its_own_personal_ones() {
    let s = setup(Some(
        "require \"include\";\ninclude :global \"lists\";\ninclude :personal \"mine\";\n",
    ))
    .await;
    s.store
        .sieve_put(
            USER,
            "mine",
            "require \"imap4flags\";\naddflag \"$Mine\";\n",
        )
        .await
        .unwrap();
    let global = [(
        "lists".to_string(),
        "require \"fileinto\";\nif exists \"List-Id\" { fileinto \"Archive\"; }\n".to_string(),
    )];
    let scripts = SieveScripts::new(s.store.clone(), Limits::default())
        .with_site_scripts(&[], &[], &global)
        .unwrap();
    let s = Setup {
        local: LocalDelivery::new(s.local.mailboxes().clone()).with_sieve(Arc::new(scripts)),
        ..s
    };
    assert_eq!(s.deliver(LIST_MAIL, "0001").await, [filed("Archive", 1)]);
    let plain = b"From: carol@example.test\r\nSubject: hi\r\n\r\nhello\r\n";
    assert_eq!(s.deliver(plain, "0002").await, [filed("INBOX", 1)]);
    assert_eq!(s.messages("INBOX").await, [(1, vec!["$Mine".to_string()])]);
}

#[tokio::test]
async fn mailboxexists_sees_the_folders_she_has() {
    let s = setup(Some(
        "require [\"fileinto\", \"mailbox\"];\n\
         if mailboxexists \"Lists\" { fileinto \"Lists\"; } else { fileinto :create \"Elsewhere\"; }\n",
    ))
    .await;
    assert_eq!(s.deliver(LIST_MAIL, "0001").await, [filed("Elsewhere", 1)]);
    s.local
        .mailboxes()
        .create(USER, "Lists", None)
        .await
        .unwrap();
    assert_eq!(s.deliver(LIST_MAIL, "0002").await, [filed("Lists", 1)]);
}

#[tokio::test]
async fn a_light_script_on_a_message_with_huge_header_fields_still_decides() {
    // Each rule compares the 60 KB Subject (one instruction per 256 bytes
    // compared): far past what a run may do on the delivery's own thread,
    // far below the site's limit. The run starts again elsewhere and ends.
    let mut script = String::from("require \"fileinto\";\n");
    for n in 0..40 {
        script.push_str(&format!(
            "if header :contains \"subject\" \"no-such-word-{n}\" {{ fileinto \"Rule{n}\"; }}\n"
        ));
    }
    script.push_str("if header :contains \"subject\" \"needle\" { fileinto :create \"Found\"; }\n");
    let s = setup(Some(&script.replace(
        "require \"fileinto\";",
        "require [\"fileinto\", \"mailbox\"];",
    )))
    .await;
    let subject = "hay ".repeat(15_000) + "needle";
    let message = format!("From: carol@example.test\r\nSubject: {subject}\r\n\r\nx\r\n");
    assert_eq!(
        s.deliver(message.as_bytes(), "0001").await,
        [filed("Found", 1)]
    );
}
