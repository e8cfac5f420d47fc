mod common;

use havre_directory::*;

async fn directory() -> Directory {
    let users = ["alice@example.test", "bob@example.test", "carol@other.test"];
    Directory::new(common::store_with(&users).await, "+")
}

async fn resolve(dir: &Directory, address: &str) -> Resolution {
    dir.resolve(&Address::parse(address).unwrap())
        .await
        .unwrap()
}

fn mailboxes(list: &[&str]) -> Resolution {
    Resolution::Deliver(
        list.iter()
            .map(|m| Target::Mailbox(m.to_string()))
            .collect(),
    )
}

#[tokio::test]
async fn a_user_is_found_whatever_the_case_of_the_address() {
    let dir = directory().await;
    assert_eq!(
        resolve(&dir, "Alice@Example.TEST").await,
        mailboxes(&["alice@example.test"])
    );
}

#[tokio::test]
async fn an_unknown_user_in_a_local_domain_and_a_foreign_domain_differ() {
    let dir = directory().await;
    assert_eq!(
        resolve(&dir, "nobody@example.test").await,
        Resolution::UnknownUser
    );
    assert_eq!(
        resolve(&dir, "alice@elsewhere.test").await,
        Resolution::NotLocal
    );
}

#[tokio::test]
async fn relay_tricks_in_the_local_part_match_nobody() {
    let dir = directory().await;
    for trick in [
        "alice%elsewhere.test@example.test",
        "elsewhere.test!alice@example.test",
        "alice@elsewhere.test@example.test",
    ] {
        assert_eq!(
            resolve(&dir, trick).await,
            Resolution::UnknownUser,
            "{trick}"
        );
    }
}

#[tokio::test]
async fn sub_addressing_reaches_the_user_and_an_alias() {
    let dir = directory().await;
    dir.store()
        .add_alias("team@example.test", &["bob@example.test".into()])
        .await
        .unwrap();
    assert_eq!(
        resolve(&dir, "alice+lists@example.test").await,
        mailboxes(&["alice@example.test"])
    );
    assert_eq!(
        resolve(&dir, "team+x@example.test").await,
        mailboxes(&["bob@example.test"])
    );
    assert_eq!(
        resolve(&dir, "nobody+x@example.test").await,
        Resolution::UnknownUser
    );
}

#[tokio::test]
async fn an_alias_with_two_targets_delivers_to_both_once() {
    let dir = directory().await;
    let store = dir.store();
    store
        .add_alias(
            "team@example.test",
            &[
                "alice@example.test".into(),
                "bob@example.test".into(),
                "staff@example.test".into(),
            ],
        )
        .await
        .unwrap();
    store
        .add_alias(
            "staff@example.test",
            &["alice@example.test".into(), "team@example.test".into()],
        )
        .await
        .unwrap();
    assert_eq!(
        resolve(&dir, "team@example.test").await,
        mailboxes(&["alice@example.test", "bob@example.test"])
    );
}

#[tokio::test]
async fn a_catch_all_takes_what_no_user_claims_and_can_rewrite_the_domain() {
    let dir = directory().await;
    dir.store()
        .add_alias("@example.test", &["@other.test".into()])
        .await
        .unwrap();
    assert_eq!(
        resolve(&dir, "carol@example.test").await,
        mailboxes(&["carol@other.test"])
    );
    assert_eq!(
        resolve(&dir, "alice@example.test").await,
        mailboxes(&["alice@example.test"])
    );
    assert_eq!(
        resolve(&dir, "ghost@example.test").await,
        Resolution::Deliver(vec![Target::Unknown("ghost@other.test".into())])
    );
}

#[tokio::test]
async fn an_alias_keeping_a_copy_and_forwarding_outside() {
    let dir = directory().await;
    dir.store()
        .add_alias(
            "alice@example.test",
            &["alice@example.test".into(), "alice@partner.test".into()],
        )
        .await
        .unwrap();
    assert_eq!(
        resolve(&dir, "alice@example.test").await,
        Resolution::Deliver(vec![
            Target::Mailbox("alice@example.test".into()),
            Target::Remote("alice@partner.test".into()),
        ])
    );
}

#[tokio::test]
async fn authentication_needs_the_right_password() {
    let dir = directory().await;
    assert!(
        dir.authenticate("alice@example.test", "secret")
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        dir.authenticate("ALICE@example.test", "secret")
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        dir.authenticate("alice@example.test", "wrong")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        dir.authenticate("nobody@example.test", "secret")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_disabled_user_cannot_log_in_even_with_the_right_password_and_still_receives_mail() {
    let dir = directory().await;
    dir.store()
        .modify_user(
            "alice@example.test",
            &havre_store::UserChanges {
                disabled: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(
        dir.authenticate("alice@example.test", "secret")
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        dir.check_login(None, "alice@example.test", "secret")
            .await
            .unwrap(),
        havre_directory::Login::Disabled(_)
    ));
    assert!(matches!(
        dir.check_login(None, "alice@example.test", "wrong")
            .await
            .unwrap(),
        havre_directory::Login::WrongPassword(_)
    ));
    assert_eq!(
        resolve(&dir, "alice@example.test").await,
        Resolution::Deliver(vec![Target::Mailbox("alice@example.test".into())])
    );
}

async fn alias(dir: &Directory, source: &str, targets: &[&str]) {
    let targets: Vec<String> = targets.iter().map(|t| t.to_string()).collect();
    dir.store().add_alias(source, &targets).await.unwrap();
}

#[tokio::test]
async fn two_aliases_naming_each_other_are_a_loop_not_an_empty_delivery() {
    let dir = directory().await;
    alias(&dir, "loopa@example.test", &["loopb@example.test"]).await;
    alias(&dir, "loopb@example.test", &["loopa@example.test"]).await;
    assert_eq!(resolve(&dir, "loopa@example.test").await, Resolution::Loop);
    assert_eq!(resolve(&dir, "loopb@example.test").await, Resolution::Loop);
    assert_eq!(
        dir.alias_cycle("loopa@example.test").await.unwrap(),
        Some(vec![
            "loopa@example.test".to_string(),
            "loopb@example.test".to_string(),
            "loopa@example.test".to_string()
        ])
    );
}

#[tokio::test]
async fn an_alias_to_itself_without_a_user_is_a_loop() {
    let dir = directory().await;
    alias(&dir, "self@example.test", &["self@example.test"]).await;
    assert_eq!(resolve(&dir, "self@example.test").await, Resolution::Loop);
    // The keep-a-copy idiom of a user is not a loop.
    alias(&dir, "alice@example.test", &["alice@example.test"]).await;
    assert_eq!(
        resolve(&dir, "alice@example.test").await,
        mailboxes(&["alice@example.test"])
    );
    assert_eq!(dir.alias_cycle("alice@example.test").await.unwrap(), None);
}

#[tokio::test]
async fn a_loop_beside_a_mailbox_still_delivers_to_the_mailbox() {
    let dir = directory().await;
    alias(
        &dir,
        "team@example.test",
        &["leads@example.test", "bob@example.test"],
    )
    .await;
    alias(&dir, "leads@example.test", &["team@example.test"]).await;
    assert_eq!(
        resolve(&dir, "team@example.test").await,
        mailboxes(&["bob@example.test"])
    );
    assert_eq!(
        resolve(&dir, "leads@example.test").await,
        mailboxes(&["bob@example.test"])
    );
    assert!(
        dir.alias_cycle("leads@example.test")
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(dir.alias_cycle("bob@example.test").await.unwrap(), None);
}
