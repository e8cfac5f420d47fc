//! The state on a real Redis (127.0.0.1:6379, which the test command starts
//! when it is not running), each test under its own key prefix: the same
//! answers as the embedded state, and two nodes sharing one limit.

use std::time::Duration;

use havre_state::{Persist, Rate, RedisState, State};
use havre_testkit::cluster::{redis_prefix, redis_url};

#[tokio::test]
async fn values_counters_and_listings_behave_as_the_embedded_state() {
    let state = RedisState::connect(&redis_url(), &redis_prefix("values"))
        .await
        .unwrap();
    assert_eq!(state.get("grey:a").await.unwrap(), None);
    state
        .set(
            "grey:a",
            "first-seen",
            Some(Duration::from_secs(60)),
            Persist::Durable,
        )
        .await
        .unwrap();
    state
        .set("ban:192.0.2.7", "hand", None, Persist::Durable)
        .await
        .unwrap();
    state
        .set(
            "ban:192.0.2.8",
            "auto",
            Some(Duration::from_millis(150)),
            Persist::Durable,
        )
        .await
        .unwrap();
    assert_eq!(
        state.get("grey:a").await.unwrap().as_deref(),
        Some("first-seen")
    );
    // One key with its expiry, without a scan: as a listing shows it.
    let one = state.entry("grey:a").await.unwrap().unwrap();
    assert_eq!(
        (one.key.as_str(), one.value.as_str()),
        ("grey:a", "first-seen")
    );
    let left = one
        .expires_at
        .unwrap()
        .duration_since(std::time::SystemTime::now());
    assert!(left.unwrap() > Duration::from_secs(50));
    assert_eq!(
        state
            .entry("ban:192.0.2.7")
            .await
            .unwrap()
            .unwrap()
            .expires_at,
        None
    );
    assert_eq!(state.entry("grey:nobody").await.unwrap(), None);
    // A counter's period starts at its first increment.
    assert_eq!(
        state
            .incr("awl:x", 1, Duration::from_millis(300), Persist::Memory)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        state
            .incr("awl:x", 2, Duration::from_secs(600), Persist::Memory)
            .await
            .unwrap(),
        3
    );
    let err = state
        .incr("grey:a", 1, Duration::from_secs(1), Persist::Memory)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("grey:a does not hold a number"),
        "{err}"
    );
    let bans = state.list("ban:").await.unwrap();
    assert_eq!(
        bans.iter()
            .map(|e| (e.key.as_str(), e.value.as_str()))
            .collect::<Vec<_>>(),
        [("ban:192.0.2.7", "hand"), ("ban:192.0.2.8", "auto")]
    );
    assert!(bans[0].expires_at.is_none() && bans[1].expires_at.is_some());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        state.list("ban:").await.unwrap().len(),
        1,
        "the timed ban expired"
    );
    assert_eq!(
        state
            .incr("awl:x", 1, Duration::from_secs(60), Persist::Memory)
            .await
            .unwrap(),
        1
    );
    assert!(state.delete("ban:192.0.2.7").await.unwrap());
    assert!(!state.delete("ban:192.0.2.7").await.unwrap());
    // A key with glob characters is listed as itself only.
    state
        .set("odd:[*]", "1", None, Persist::Memory)
        .await
        .unwrap();
    state
        .set("odd:x", "2", None, Persist::Memory)
        .await
        .unwrap();
    assert_eq!(state.list("odd:[*").await.unwrap().len(), 1);
    for key in ["odd:[*]", "odd:x", "grey:a", "awl:x"] {
        state.delete(key).await.unwrap();
    }
}

/// Six requests of one unit from `state`; how many were allowed.
async fn ask(state: &RedisState, rate: &Rate) -> usize {
    let mut allowed = 0;
    for _ in 0..6 {
        if state
            .rate("rate:student@example.test", rate, 1)
            .await
            .unwrap()
            .allowed
        {
            allowed += 1;
        }
    }
    allowed
}

#[tokio::test]
async fn ten_a_minute_holds_across_two_nodes_sharing_one_redis() {
    let shared = redis_prefix("rate");
    let a = RedisState::connect(&redis_url(), &shared).await.unwrap();
    let b = RedisState::connect(&redis_url(), &shared).await.unwrap();
    let rate = Rate::new(10, Duration::from_secs(60));
    // Both nodes ask at once, 12 requests in all.
    let (from_a, from_b) = tokio::join!(ask(&a, &rate), ask(&b, &rate));
    assert_eq!(from_a + from_b, 10, "a {from_a}, b {from_b}");
    let refused = a.rate("rate:student@example.test", &rate, 1).await.unwrap();
    assert!(!refused.allowed);
    let wait = refused.retry_after.unwrap();
    assert!(
        wait > Duration::from_secs(5) && wait <= Duration::from_secs(6),
        "{wait:?}"
    );
    // More than the burst at once is never allowed.
    let never = b.rate("rate:big", &rate, 11).await.unwrap();
    assert_eq!((never.allowed, never.retry_after), (false, None));
}

#[tokio::test]
async fn two_directors_claiming_a_user_at_once_agree_on_one_backend() {
    let shared = redis_prefix("claim");
    let a = RedisState::connect(&redis_url(), &shared).await.unwrap();
    let b = RedisState::connect(&redis_url(), &shared).await.unwrap();
    let ttl = Some(Duration::from_millis(300));
    let (first, second) = tokio::join!(
        a.claim("director:alice", "127.0.0.2", None, ttl, Persist::Memory),
        b.claim("director:alice", "127.0.0.3", None, ttl, Persist::Memory)
    );
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first, second);
    assert!(first == "127.0.0.2" || first == "127.0.0.3", "{first}");
    // A move replaces only the value it saw.
    let stale = a.claim(
        "director:alice",
        "127.0.0.9",
        Some("192.0.2.1"),
        ttl,
        Persist::Memory,
    );
    assert_eq!(stale.await.unwrap(), first);
    // Expired, the next claim wins.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let after = b.claim("director:alice", "127.0.0.4", None, None, Persist::Memory);
    assert_eq!(after.await.unwrap(), "127.0.0.4");
    assert_eq!(
        a.get("director:alice").await.unwrap().as_deref(),
        Some("127.0.0.4")
    );
}

#[tokio::test]
async fn an_assignment_dropped_by_one_director_is_not_brought_back_by_another_s_renewal() {
    let shared = redis_prefix("extend");
    let a = RedisState::connect(&redis_url(), &shared).await.unwrap();
    let b = RedisState::connect(&redis_url(), &shared).await.unwrap();
    let ttl = Duration::from_millis(1500);
    a.claim(
        "director:alice",
        "127.0.0.2",
        None,
        Some(ttl),
        Persist::Memory,
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let held = b.extend("director:alice", "127.0.0.2", ttl).await.unwrap();
    assert_eq!(held.as_deref(), Some("127.0.0.2"));
    // Renewed: still there past the claim's own expiry.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(a.get("director:alice").await.unwrap().is_some());
    // Another value is left alone, and said.
    let other = b.extend("director:alice", "127.0.0.3", ttl).await.unwrap();
    assert_eq!(other.as_deref(), Some("127.0.0.2"));
    // Dropped (a flush): a renewal does not set it again.
    a.delete("director:alice").await.unwrap();
    assert_eq!(
        b.extend("director:alice", "127.0.0.2", ttl).await.unwrap(),
        None
    );
    assert_eq!(a.get("director:alice").await.unwrap(), None);
}

#[tokio::test]
async fn a_redis_that_does_not_answer_is_a_clear_error() {
    // A port nobody listens on.
    let err = RedisState::connect("redis://127.0.0.1:1/0", "x:")
        .await
        .err()
        .unwrap();
    assert!(err.to_string().starts_with("redis: "), "{err}");
    let err = RedisState::connect("not a url", "x:").await.err().unwrap();
    assert!(err.to_string().starts_with("redis: "), "{err}");
}

#[tokio::test]
async fn a_change_published_by_one_node_reaches_the_others_and_outlives_a_redis_restart() {
    let shared = redis_prefix("changes");
    let redis: std::net::SocketAddr = "127.0.0.1:6379".parse().unwrap();
    let proxy = havre_testkit::CutProxy::start(redis);
    let through_proxy = format!("redis://127.0.0.1:{}/0", proxy.port());
    let a = RedisState::connect(&redis_url(), &shared).await.unwrap();
    let b = RedisState::connect(&through_proxy, &shared).await.unwrap();
    let mut heard = b.subscribe("mailbox-changes");
    // Subscribing takes a round trip: publish until it is heard.
    let mut got = None;
    for _ in 0..50 {
        a.publish("mailbox-changes", "first").await.unwrap();
        got = tokio::time::timeout(std::time::Duration::from_millis(100), heard.recv())
            .await
            .ok()
            .flatten();
        if got.is_some() {
            break;
        }
    }
    assert_eq!(got.as_deref(), Some("first"));
    // Another prefix is another site: not heard.
    let other = RedisState::connect(&redis_url(), &redis_prefix("elsewhere"))
        .await
        .unwrap();
    other.publish("mailbox-changes", "not ours").await.unwrap();
    // The subscriber's connection is cut (Redis restarting), then back.
    proxy.cut();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    proxy.restore();
    let mut again = None;
    for _ in 0..50 {
        a.publish("mailbox-changes", "after").await.unwrap();
        again = tokio::time::timeout(std::time::Duration::from_millis(200), heard.recv())
            .await
            .ok()
            .flatten();
        if again.as_deref() == Some("after") {
            break;
        }
        assert_ne!(again.as_deref(), Some("not ours"));
    }
    assert_eq!(again.as_deref(), Some("after"));
}
