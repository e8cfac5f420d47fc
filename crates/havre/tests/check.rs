//! `havre check`: a stored message judged by the mx checks without being
//! delivered, each verdict with its reason.

use havre_testkit::Havre;
use havre_testkit::dns::TestDns;

const BIN: &str = env!("CARGO_BIN_EXE_havre");

const ZONE: &str = "\
3.0.0.127.bl.test.  A    127.0.0.2
3.0.0.127.bl.test.  TXT  \"Listed by the test list\"
forged.test.        TXT  \"v=spf1 ip4:192.0.2.1 -all\"
";

const MESSAGE: &str = "From: someone@forged.test\r\nTo: alice@example.test\r\n\
Subject: hello\r\nDate: Fri, 4 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@forged.test>\r\n\r\nHi.\r\n";

#[tokio::test(flavor = "multi_thread")]
async fn a_listed_client_and_a_forged_sender_are_named_with_their_reasons_and_nothing_is_delivered()
{
    let dns = TestDns::start("test", ZONE).await.unwrap();
    let mut node = Havre::init(BIN);
    node.add_user("alice@example.test");
    node.set("dns.nameservers", &format!("[\"{}\"]", dns.addr()));
    node.set("mx.dnsbl", r#"["bl.test=127.0.0.[2..11]"]"#);
    let file = node.dir().join("message.eml");
    std::fs::write(&file, MESSAGE).unwrap();
    let path = file.to_str().unwrap().to_string();

    // A client on no list, sending for a domain whose SPF says it may not.
    let node = tokio::task::spawn_blocking(move || {
        let forged = node.cli(&[
            "check",
            &path,
            "--ip",
            "127.0.0.4",
            "--helo",
            "client.test",
            "--from",
            "someone@forged.test",
            "--rcpt",
            "alice@example.test",
            "--json",
        ]);
        (node, path, forged)
    })
    .await
    .unwrap();
    let (node, path, forged) = node;
    assert!(
        forged.status.success(),
        "{}",
        String::from_utf8_lossy(&forged.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&forged.stdout).unwrap();
    let verdicts = report["verdicts"].as_array().unwrap();
    let spf = verdicts
        .iter()
        .find(|v| v["check"] == "spf")
        .unwrap_or_else(|| panic!("no spf verdict in {report}"));
    assert_eq!(spf["stage"], "mail", "{report}");
    assert!(
        spf["action"]
            .as_str()
            .unwrap()
            .starts_with("reject 550 5.7.23"),
        "{report}"
    );
    assert!(
        report["result"].as_str().unwrap().starts_with("550 5.7.23"),
        "{report}"
    );

    // A listed client: refused at RCPT, the list's words in the reply.
    let listed = node.cli_ok(&[
        "check",
        &path,
        "--ip",
        "127.0.0.3",
        "--from",
        "",
        "--rcpt",
        "alice@example.test",
    ]);
    assert!(listed.contains("dnsbl"), "{listed}");
    assert!(
        listed.contains("result: 554 5.7.1 Service unavailable; Client host [127.0.0.3] blocked using bl.test; Listed by the test list"),
        "{listed}"
    );
    // Nothing was delivered or queued.
    assert_eq!(node.cli_ok(&["queue", "list", "--json"]).trim(), "[]");
}
