//! A backend's side of a director's login: what the login needs next (her
//! folders read) runs while her account is read, and only for a director
//! whose token is good: a stranger's attempt reads nothing.

mod common;

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};

use havre_directory::Directory;
use havre_directory::cluster::ClusterLogin;

const ALICE: &str = "alice@example.test";
const SECRET: &[u8] = b"the cluster's secret";

async fn backend() -> Directory {
    let trusted = vec!["127.0.0.0/8".parse().unwrap()];
    Directory::new(common::store_with(&[ALICE]).await, "+")
        .with_cluster_login(ClusterLogin::new(SECRET, trusted))
}

#[tokio::test]
async fn a_director_s_login_reads_her_folders_alongside_and_a_stranger_s_reads_nothing() {
    let directory = backend().await;
    let director: IpAddr = "127.0.0.9".parse().unwrap();
    let token = ClusterLogin::new(SECRET, Vec::new())
        .token(ALICE)
        .await
        .unwrap();
    let ran = AtomicBool::new(false);
    let folders = || async {
        ran.store(true, Ordering::SeqCst);
        "her folders"
    };

    let (user, looked) = directory
        .authenticate_director_with(director, ALICE, &token, folders())
        .await;
    assert_eq!(user.unwrap().unwrap().email, ALICE);
    assert_eq!(looked, Some("her folders"));
    assert!(ran.swap(false, Ordering::SeqCst));

    // A wrong token from a director's address, a good one from elsewhere.
    for (from, token) in [
        (director, "v1.0.bad"),
        ("192.0.2.7".parse().unwrap(), token.as_str()),
    ] {
        let (user, looked) = directory
            .authenticate_director_with(from, ALICE, token, folders())
            .await;
        assert!(user.unwrap().is_none());
        assert_eq!(looked, None);
        assert!(!ran.load(Ordering::SeqCst), "read for {from} with {token}");
    }
}

#[tokio::test]
async fn a_director_s_probe_is_answered_only_with_its_token_from_its_networks() {
    use havre_directory::cluster::PROBE_LOGIN;
    let directory = backend().await;
    let director: IpAddr = "127.0.0.9".parse().unwrap();
    let signer = ClusterLogin::new(SECRET, Vec::new());
    let probe = signer.token(PROBE_LOGIN).await.unwrap();
    assert!(directory.answer_probe(director, &probe).await.unwrap());
    // Alice's token is not a probe's, nor a probe's from elsewhere.
    let alices = signer.token(ALICE).await.unwrap();
    assert!(!directory.answer_probe(director, &alices).await.unwrap());
    let stranger: IpAddr = "192.0.2.7".parse().unwrap();
    assert!(!directory.answer_probe(stranger, &probe).await.unwrap());
    // A node that takes no director logins answers no probe.
    let alone = Directory::new(common::store_with(&[ALICE]).await, "+");
    assert!(!alone.answer_probe(director, &probe).await.unwrap());
}

#[tokio::test]
async fn a_director_takes_no_login_on_a_user_s_behalf_even_from_its_own_networks() {
    use havre_directory::cluster::PROBE_LOGIN;
    // A director listed among the backends by mistake: its own probes and
    // logins must fail there, not go round in circles.
    let director_node = backend().await.as_director();
    let from: IpAddr = "127.0.0.1".parse().unwrap();
    assert!(director_node.trusts_director(from));
    let signer = ClusterLogin::new(SECRET, Vec::new());
    let probe = signer.token(PROBE_LOGIN).await.unwrap();
    assert!(!director_node.answer_probe(from, &probe).await.unwrap());
    let token = signer.token(ALICE).await.unwrap();
    let user = director_node
        .authenticate_director(from, ALICE, &token)
        .await;
    assert!(user.unwrap().is_none());
}
