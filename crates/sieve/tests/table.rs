//! A table of scripts and messages with the actions each gives: the
//! filters people write, on the mail they get.

mod support;

use support::*;

const LIST_MAIL: &str = "From: Alice <alice@example.net>\n\
To: sieve-users@lists.example.org\n\
List-Id: Sieve users <sieve-users.lists.example.org>\n\
Subject: [sieve] Re: include question\n\
Message-ID: <list-1@example.net>\n\
\n\
Use :once.\n";

const SPAM: &str = "From: \"Winner\" <prize@lottery.example>\n\
To: undisclosed-recipients:;\n\
Subject: =?UTF-8?B?WU9VIEhBVkUgV09O?=\n\
X-Spam-Flag: YES\n\
X-Spam-Score: 12.5\n\
\n\
Claim your prize now!\n";

const FROM_BOSS: &str = "From: The Boss <boss@work.example>\n\
To: me@work.example\n\
Cc: team@work.example\n\
Subject: Urgent: report\n\
Importance: high\n\
\n\
Where is the report?\n";

const SORTING: &str = r#"require ["fileinto", "imap4flags", "variables", "relational", "comparator-i;ascii-numeric", "envelope", "subaddress"];
if header :is "X-Spam-Flag" "YES" {
    fileinto "Junk";
    stop;
}
if header :matches "List-Id" "*<*.lists.example.org>" {
    fileinto "Lists/${2}";
    stop;
}
if address :is :domain "from" "work.example" {
    if header :contains "subject" "urgent" { addflag "\\Flagged"; }
    fileinto "Work";
}
"#;

#[test]
fn a_sorting_script_on_three_messages() {
    let table: [(&str, &[&str]); 3] = [
        (LIST_MAIL, &["fileinto \"Lists/sieve-users\""]),
        (SPAM, &["fileinto \"Junk\""]),
        (FROM_BOSS, &["fileinto \"Work\" (flags: \\Flagged)"]),
    ];
    for (message, expected) in table {
        assert_eq!(result(SORTING, message), expected, "{message}");
    }
}

#[test]
fn each_script_on_each_message() {
    let scripts: [(&str, &str); 6] = [
        ("nothing", ""),
        (
            "discard spam",
            "if header :contains \"subject\" \"you have won\" { discard; }",
        ),
        (
            "forward work",
            "require \"copy\"; if address :domain \"from\" \"work.example\" { redirect :copy \"me@home.example\"; }",
        ),
        ("big", "if size :over 150 { keep; } else { discard; }"),
        (
            "lists",
            "require \"fileinto\"; if exists \"list-id\" { fileinto \"Lists\"; } else { keep; }",
        ),
        (
            "reject strangers",
            "require \"reject\"; if not address :domain [\"from\"] [\"work.example\", \"example.net\"] { reject \"Who are you?\"; }",
        ),
    ];
    let messages = [("list", LIST_MAIL), ("spam", SPAM), ("boss", FROM_BOSS)];
    let expected: [[&[&str]; 3]; 6] = [
        [&["implicit keep"], &["implicit keep"], &["implicit keep"]],
        [&["implicit keep"], &["discard"], &["implicit keep"]],
        [
            &["implicit keep"],
            &["implicit keep"],
            &["redirect \"me@home.example\" :copy", "implicit keep"],
        ],
        [&["keep"], &["keep"], &["discard"]],
        [&["fileinto \"Lists\""], &["keep"], &["keep"]],
        [
            &["implicit keep"],
            &["reject \"Who are you?\""],
            &["implicit keep"],
        ],
    ];
    for (s, (script_name, script)) in scripts.iter().enumerate() {
        for (m, (message_name, message)) in messages.iter().enumerate() {
            assert_eq!(
                result(script, message),
                expected[s][m],
                "script {script_name} on message {message_name}"
            );
        }
    }
}
