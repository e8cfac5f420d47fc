//! The spam filter over real SMTP (Python's smtplib) against a node whose
//! resolver is the test's own DNS server, which serves a URI blocklist:
//! GTUBE refused at the MX, ordinary mail accepted with its score, a
//! spammy message tagged and filed into Junk, a middling one greylisted
//! once; and `havre spam check` / `havre check` printing the symbols.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use havre_testkit::Havre;
use havre_testkit::dns::TestDns;

const BIN: &str = env!("CARGO_BIN_EXE_havre");

/// The GTUBE test string (SpamAssassin's).
const GTUBE: &str = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

/// Sends one message; prints `stage: code text` for each reply, stopping at
/// the first refusal.
const SEND: &str = r#"
import smtplib, sys
port, sender, rcpt, path = sys.argv[1:5]
s = smtplib.SMTP("127.0.0.1", int(port), timeout=60)
s.ehlo("client.sender.test")
code, msg = s.docmd("MAIL", "FROM:<%s>" % sender)
print("mail:", code, msg.decode())
code, msg = s.docmd("RCPT", "TO:<%s>" % rcpt)
print("rcpt:", code, msg.decode())
try:
    code, msg = s.data(open(path, "rb").read())
except smtplib.SMTPDataError as e:
    code, msg = e.smtp_code, e.smtp_error
print("data:", code, msg.decode())
s.quit()
"#;

/// The test's DNS: an empty `test.` zone (SPF, DMARC: nothing published)
/// and a URI list that lists `evil.example`.
async fn dns() -> TestDns {
    TestDns::start_zones(&[
        ("test", ""),
        ("uribl.test", "evil.example.multi  IN A  127.0.0.2\n"),
    ])
    .await
    .unwrap()
}

fn spam_node(dns: &TestDns) -> Havre {
    let mut node = Havre::init(BIN);
    node.add_user("alice@example.test");
    node.set("dns.nameservers", &format!("[\"{}\"]", dns.addr()));
    node.set("spam.enabled", "true");
    node.set("spam.uribl", r#"["multi.uribl.test"]"#);
    // The greylist action's delay, short for the test.
    node.set("greylist.delay", "\"2s\"");
    node.start();
    node
}

fn send(node: &Havre, message: &str) -> String {
    let path = node.dir().join(format!("msg-{}", unique()));
    std::fs::write(&path, message).unwrap();
    havre_testkit::python_ok(
        SEND,
        &[
            &node.smtp_port.to_string(),
            "bob@sender.test",
            "alice@example.test",
            path.to_str().unwrap(),
        ],
    )
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// A message as a mail program writes it, dated now, with CRLF line ends.
fn message(subject: &str, extra: &str, body: &str) -> String {
    format!(
        "From: Bob <bob@sender.test>\r\nTo: alice@example.test\r\nSubject: {subject}\r\n\
         Date: {}\r\nMessage-ID: <{}.{}@sender.test>\r\nMIME-Version: 1.0\r\n{extra}\r\n{body}\r\n",
        chrono::Utc::now().to_rfc2822(),
        subject.len(),
        unique()
    )
}

/// The file of the message with `subject` in alice's `folder`, waiting for
/// its delivery.
fn stored(node: &Havre, folder: &str, subject: &str) -> PathBuf {
    stored_in(node, &[folder], &format!("Subject: {subject}"))
}

/// The file of the message in any of alice's `folders` with a line ending
/// in `text` (a subject with or without the spam tag).
fn stored_in(node: &Havre, folders: &[&str], text: &str) -> PathBuf {
    let root = node.maildir("alice@example.test");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        for folder in folders {
            let dir = if *folder == "INBOX" {
                root.clone()
            } else {
                root.join(format!(".{folder}"))
            };
            for sub in ["new", "cur"] {
                for entry in std::fs::read_dir(dir.join(sub))
                    .into_iter()
                    .flatten()
                    .flatten()
                {
                    let file = std::fs::read_to_string(entry.path()).unwrap_or_default();
                    if file.contains(&format!("{text}\n")) {
                        return entry.path();
                    }
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "no message with {text:?} in {folders:?}:\n{}",
            node.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The unfolded value of the first `name:` field of `path`'s header.
fn field(path: &Path, name: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let head = text.split("\n\n").next().unwrap_or("").to_owned();
    let mut out: Option<String> = None;
    for line in head.lines() {
        match &mut out {
            Some(value) if line.starts_with([' ', '\t']) => value.push_str(line),
            Some(_) => break,
            None => {
                if let Some((n, v)) = line.split_once(':')
                    && n.eq_ignore_ascii_case(name)
                {
                    out = Some(v.trim().to_owned());
                }
            }
        }
    }
    out
}

/// HTML only, a link whose text names another site than its href, text
/// hidden from the reader, and a URL whose host is on the URI list.
fn phishing() -> String {
    let hidden = "lorem ipsum dolor sit amet consectetur ".repeat(8);
    message(
        "Your account is locked",
        "Content-Type: text/html; charset=utf-8\r\n",
        &format!(
            "<html><body><p>Dear customer,</p>\r\n\
             <p>Your account is locked. Log in at \
             <a href=\"http://evil.example/login\">www.bank.test</a> within 24 hours.</p>\r\n\
             <div style=\"display:none\">{hidden}</div>\r\n</body></html>"
        ),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn gtube_is_refused_at_the_mx_and_nothing_is_delivered() {
    let dns = dns().await;
    let node = tokio::task::spawn_blocking(move || {
        let node = spam_node(&dns);
        let out = send(
            &node,
            &message("test", "", &format!("This is the GTUBE test:\r\n{GTUBE}")),
        );
        assert!(
            out.contains("data: 554 5.7.1 Spam message rejected"),
            "{out}"
        );
        let log = node.wait_for_log("forced by GTUBE", 1);
        assert!(log.contains("spam: score 1000.0 action reject"), "{log}");
        node
    })
    .await
    .unwrap();
    assert!(node.messages("alice@example.test").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn ordinary_mail_is_accepted_into_the_inbox_with_its_spam_score_and_symbols() {
    let dns = dns().await;
    tokio::task::spawn_blocking(move || {
        let node = spam_node(&dns);
        let out = send(
            &node,
            &message(
                "Lunch on Friday",
                "Content-Type: text/plain; charset=utf-8\r\n",
                "Hi Alice,\r\n\r\nShall we have lunch on Friday at noon?\r\n\r\nBob",
            ),
        );
        assert!(out.contains("data: 250"), "{out}");
        let path = stored(&node, "INBOX", "Lunch on Friday");
        assert_eq!(field(&path, "X-Spam-Score").as_deref(), Some("0.0"));
        let symbols = field(&path, "X-Spam-Symbols").unwrap();
        assert!(
            symbols.contains("R_SPF_NA(0.00)") && symbols.contains("DMARC_NA(0.00)"),
            "the results of SPF and DMARC are weighed: {symbols}"
        );
        assert_eq!(field(&path, "X-Spam-Status"), None);
        assert_eq!(field(&path, "X-Havre-Quarantine"), None);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_phishing_message_is_tagged_spam_high_and_filed_into_junk() {
    let dns = dns().await;
    tokio::task::spawn_blocking(move || {
        let node = spam_node(&dns);
        let out = send(&node, &phishing());
        assert!(out.contains("data: 250"), "{out}");
        let path = stored(&node, "Junk", "[SPAM] Your account is locked");
        assert_eq!(field(&path, "X-Spam-Status").as_deref(), Some("HIGH"));
        assert_eq!(field(&path, "X-Spam").as_deref(), Some("Yes"));
        let symbols = field(&path, "X-Spam-Symbols").unwrap();
        for symbol in [
            "URIBL_LISTED(4.50)",
            "PHISHING(4.00)",
            "HTML_HIDDEN_TEXT(2.00)",
            "MIME_HTML_ONLY(1.00)",
        ] {
            assert!(symbols.contains(symbol), "{symbol} in {symbols}");
        }
        let score: f64 = field(&path, "X-Spam-Score").unwrap().parse().unwrap();
        assert!((11.5..15.0).contains(&score), "{score}");
        assert_eq!(
            field(&path, "X-Havre-Quarantine"),
            Some(format!("spam (score {score:.1})"))
        );
        node.wait_for_log("quarantined: delivered to Junk", 1);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_scored_between_greylist_and_add_header_is_deferred_once_then_accepted() {
    let dns = dns().await;
    tokio::task::spawn_blocking(move || {
        let node = spam_node(&dns);
        // No Date: (1), no Message-ID: (2.5), a subject in capitals (2):
        // 5.5, from the greylist threshold (4) to add_header's (6).
        let middling = "From: Bob <bob@sender.test>\r\nTo: alice@example.test\r\n\
                        Subject: LAST CHANCE TO REGISTER\r\n\r\nThe seminar is tomorrow.\r\n";
        let first = send(&node, middling);
        assert!(
            first.contains("data: 451 4.7.1 Greylisted, please try again in"),
            "{first}"
        );
        std::thread::sleep(Duration::from_millis(2500));
        let again = send(&node, middling);
        assert!(again.contains("data: 250"), "{again}");
        let path = stored(&node, "Junk", "[SPAM] LAST CHANCE TO REGISTER");
        assert_eq!(field(&path, "X-Spam-Score").as_deref(), Some("5.5"));
        assert_eq!(field(&path, "X-Spam-Status").as_deref(), Some("HIGH"));
        assert_eq!(field(&path, "X-Spam"), None, "below add_header");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn havre_spam_check_and_havre_check_print_the_symbols_of_a_stored_message() {
    let dns = dns().await;
    tokio::task::spawn_blocking(move || {
        let node = spam_node(&dns);
        assert!(send(&node, &phishing()).contains("data: 250"));
        let path = stored(&node, "Junk", "[SPAM] Your account is locked");
        let file = path.to_str().unwrap();

        // The stored copy: our Authentication-Results: and Received: on
        // top, the URI list asked again.
        let text = node.cli_ok(&["spam", "check", file]);
        assert!(text.contains("action: add header"), "{text}");
        assert!(text.contains("level: HIGH"), "{text}");
        let uribl = text
            .lines()
            .find(|l| l.trim_start().starts_with("URIBL_LISTED"))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(
            uribl.contains("4.50") && uribl.contains("[evil.example in multi.uribl.test]"),
            "{uribl}"
        );
        assert!(text.contains("R_SPF_NA"), "our results read back: {text}");

        let json: serde_json::Value =
            serde_json::from_str(&node.cli_ok(&["spam", "check", file, "--json"])).unwrap();
        assert_eq!(json["action"], "add_header");
        assert_eq!(json["level"], "HIGH");
        assert_eq!(json["junk"], true);
        let names: Vec<&str> = json["symbols"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"PHISHING"), "{json}");
        assert!(json["score"].as_f64().unwrap() >= 11.5, "{json}");

        let offline = node.cli_ok(&["spam", "check", file, "--no-dns"]);
        assert!(!offline.contains("URIBL_LISTED"), "{offline}");

        // `havre check` runs the mx pipeline on the message as sent, and
        // shows the same symbols.
        let sent = node.dir().join("phishing.eml");
        std::fs::write(&sent, phishing()).unwrap();
        let checked = node.cli_ok(&[
            "check",
            sent.to_str().unwrap(),
            "--ip",
            "127.0.0.1",
            "--from",
            "bob@sender.test",
            "--rcpt",
            "alice@example.test",
        ]);
        assert!(checked.contains("spam score:"), "{checked}");
        assert!(checked.contains("URIBL_LISTED"), "{checked}");
        assert!(checked.contains("X-Spam-Status: HIGH"), "{checked}");

        let symbols = node.cli_ok(&["spam", "symbols"]);
        assert!(
            symbols
                .lines()
                .any(|l| l.starts_with("GTUBE") && l.contains("1000.00")),
            "{symbols}"
        );
    })
    .await
    .unwrap();
}

#[test]
fn a_weight_for_a_symbol_the_filter_does_not_have_is_refused_by_config_check() {
    let mut node = Havre::init(BIN);
    node.set("spam.weights.PHISHING", "6");
    node.cli_ok(&["config", "check"]);
    let symbols = node.cli_ok(&["spam", "symbols"]);
    assert!(
        symbols
            .lines()
            .any(|l| l.starts_with("PHISHING") && l.contains("6.00") && l.contains("(default 4)")),
        "{symbols}"
    );
    node.set("spam.weights.PHISHNIG", "6");
    let out = node.cli(&["config", "check"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("spam.weights: no symbol is named \"PHISHNIG\""),
        "{err}"
    );
}

/// `count` messages of one vocabulary in `dir`, each its own selection.
fn learned_set(dir: &Path, count: usize, words: &[&str], domain: &str) {
    std::fs::create_dir_all(dir).unwrap();
    for n in 0..count {
        let body: Vec<&str> = (0..50)
            .map(|i| words[(i * 7 + n * 3 + i / 5) % words.len()])
            .collect();
        let text = format!(
            "From: Someone <s{n}@{domain}>\r\nTo: alice@example.test\r\nSubject: note {n}\r\n\
             Message-ID: <{n}@{domain}>\r\nDate: Mon, 2 Dec 2024 10:00:00 +0000\r\n\r\n{}\r\n",
            body.join(" ")
        );
        std::fs::write(dir.join(format!("{n:03}.eml")), text).unwrap();
    }
}

const SPAM_WORDS: &[&str] = &[
    "viagra",
    "casino",
    "jackpot",
    "bitcoin",
    "investment",
    "guaranteed",
    "lottery",
    "winner",
    "unsubscribe",
    "pharmacy",
    "discount",
    "miracle",
    "cheap",
    "credit",
    "bonus",
    "prize",
];
const HAM_WORDS: &[&str] = &[
    "seminar",
    "thesis",
    "committee",
    "laboratory",
    "lecture",
    "deadline",
    "colleagues",
    "library",
    "draft",
    "chapter",
    "meeting",
    "department",
    "research",
    "students",
    "grant",
];

#[tokio::test(flavor = "multi_thread")]
async fn once_the_bayes_classifier_has_learned_mail_like_a_new_message_it_adds_bayes_spam() {
    let dns = dns().await;
    tokio::task::spawn_blocking(move || {
        let node = spam_node(&dns);
        let sorted = node.dir().join("sorted");
        learned_set(&sorted.join("spam"), 210, SPAM_WORDS, "offers.example.com");
        learned_set(
            &sorted.join("ham"),
            210,
            HAM_WORDS,
            "university.example.edu",
        );
        // Learned while serve runs: the filter catches up within a second.
        node.cli_ok(&[
            "spam",
            "learn",
            "--spam",
            sorted.join("spam").to_str().unwrap(),
        ]);
        node.cli_ok(&[
            "spam",
            "learn",
            "--ham",
            sorted.join("ham").to_str().unwrap(),
        ]);
        std::thread::sleep(Duration::from_secs(3));
        let words = "guaranteed casino jackpot bonus for the lottery winner: cheap credit, \
                     miracle pharmacy discount, bitcoin investment prize";
        let prize = message("Your prize", "Content-Type: text/plain\r\n", words);
        let file = node.dir().join("prize.eml");
        std::fs::write(&file, &prize).unwrap();
        let checked = node.cli_ok(&["spam", "check", "--no-dns", file.to_str().unwrap()]);
        assert!(
            checked.contains("BAYES_SPAM"),
            "havre spam check asks the same counts: {checked}"
        );
        let mut out = send(&node, &prize);
        if out.contains("data: 451") {
            // Scored between spam.greylist and spam.add_header: deferred
            // once, then accepted when the same message comes back.
            std::thread::sleep(Duration::from_millis(2500));
            out = send(&node, &prize);
        }
        assert!(out.contains("data: 250"), "{out}");
        let symbols = field(
            &stored_in(&node, &["INBOX", "Junk"], "Your prize"),
            "X-Spam-Symbols",
        )
        .unwrap();
        assert!(symbols.contains("BAYES_SPAM("), "{symbols}");
        let out = send(
            &node,
            &message(
                "Thesis draft",
                "Content-Type: text/plain\r\n",
                "the committee read the thesis draft: the chapter for the seminar, \
                 colleagues in the department and the library deadline for the grant",
            ),
        );
        assert!(out.contains("data: 250"), "{out}");
        let symbols = field(&stored(&node, "INBOX", "Thesis draft"), "X-Spam-Symbols").unwrap();
        assert!(symbols.contains("BAYES_HAM("), "{symbols}");
    })
    .await
    .unwrap();
}
