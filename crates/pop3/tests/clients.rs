//! curl, another real client, against the server: STLS on the plain port,
//! implicit TLS on the other, RETR with dot-unstuffing, UIDL, LIST, DELE.

mod common;

use common::{Server, USER, curl};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_retrieves_messages_over_stls_byte_for_byte() {
    let server = Server::with_messages().await;
    let messages = server.messages(USER).await;
    for n in [1usize, 2] {
        let output = curl(vec![
            "-s".into(),
            "--ssl-reqd".into(),
            "-k".into(),
            format!("pop3://127.0.0.1:{}/{n}", server.port),
            "-u".into(),
            "alice@example.test:secret".into(),
        ])
        .await;
        assert!(
            output.status.success(),
            "curl failed: {:?} {}",
            output.status,
            text(&output.stderr)
        );
        let expected = server.wire_bytes(USER, &messages[n - 1]).await;
        assert_eq!(text(&output.stdout), text(&expected), "message {n}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_lists_uidls_and_sizes_over_pop3s() {
    let server = Server::with_messages().await;
    let messages = server.messages(USER).await;
    let inbox = server.inbox(USER).await;
    let base = format!("pop3s://127.0.0.1:{}/", server.tls_port);
    let run = |extra: Vec<&str>| {
        let mut args: Vec<String> = vec!["-s".into(), "-k".into()];
        args.extend(extra.into_iter().map(str::to_string));
        args.extend([
            base.clone(),
            "-u".into(),
            "alice@example.test:secret".into(),
        ]);
        curl(args)
    };
    let uidl = run(vec!["-X", "UIDL"]).await;
    assert!(uidl.status.success(), "{}", text(&uidl.stderr));
    let expected: String = messages
        .iter()
        .enumerate()
        .map(|(i, m)| format!("{} {:08X}{:08X}\r\n", i + 1, m.uid, inbox.uidvalidity))
        .collect();
    assert_eq!(text(&uidl.stdout), expected);
    let list = run(vec![]).await;
    assert!(list.status.success(), "{}", text(&list.stderr));
    let expected: String = messages
        .iter()
        .enumerate()
        .map(|(i, m)| format!("{} {}\r\n", i + 1, m.size))
        .collect();
    assert_eq!(text(&list.stdout), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_deletes_a_message_with_dele() {
    let server = Server::with_messages().await;
    let before = server.messages(USER).await;
    let output = curl(vec![
        "-s".into(),
        "-k".into(),
        "-X".into(),
        "DELE".into(),
        "-I".into(),
        format!("pop3s://127.0.0.1:{}/1", server.tls_port),
        "-u".into(),
        "alice@example.test:secret".into(),
    ])
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    // curl's QUIT may still be under way when it exits: wait for UPDATE.
    let mut after = server.messages(USER).await;
    for _ in 0..100 {
        if after.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        after = server.messages(USER).await;
    }
    assert_eq!(
        after.iter().map(|m| m.uid).collect::<Vec<_>>(),
        vec![before[1].uid, before[2].uid]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_without_tls_cannot_log_in_and_gets_nothing() {
    let server = Server::with_messages().await;
    let output = curl(vec![
        "-s".into(),
        format!("pop3://127.0.0.1:{}/1", server.port),
        "-u".into(),
        "alice@example.test:secret".into(),
    ])
    .await;
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "{}", text(&output.stdout));
}
