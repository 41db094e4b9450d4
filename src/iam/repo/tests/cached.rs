//! Reads through the read cache, the memo and each thread's front ([`crate::iam::memo::Front`])
//! see this node's writes at once and other nodes' writes as soon as their notification lands.

use std::sync::Arc;
use std::time::Duration;

use super::{ACCT, now, tag, user};
use crate::cache::CachedKv;
use crate::iam::Iam;
use crate::iam::at_rest::AtRestKey;
use crate::iam::model::User;
use crate::store::memory::MemoryKv;
use crate::store::{Batch, Kv};

/// Two nodes sharing one store, each with its read cache (`ttl`) and repository.
fn two_nodes(ttl: Duration) -> (Iam, Iam, Arc<MemoryKv>) {
    let store = Arc::new(MemoryKv::new());
    let at_rest = AtRestKey::ephemeral();
    let node = |at_rest: AtRestKey| {
        let kv: Arc<dyn Kv> = CachedKv::new(store.clone(), ttl, 1000);
        Iam::new(kv, at_rest, Vec::new(), "aws")
    };
    (node(at_rest.clone()), node(at_rest), store)
}

async fn team(iam: &Iam) -> Option<String> {
    let u = iam.user_shared(ACCT, "alice").await.unwrap()?;
    u.tags
        .iter()
        .find(|t| t.key == "team")
        .map(|t| t.value.clone())
}

/// Reads `iam` until `want` (other nodes' notifications arrive on a task), for at most a second:
/// far less than the caches' TTL, so only the notification can have changed the answer.
async fn eventually(iam: &Iam, want: Option<&str>) -> bool {
    for _ in 0..100 {
        if team(iam).await.as_deref() == want {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn a_write_is_seen_at_once_here_and_after_its_notification_elsewhere() {
    let (a, b, _) = two_nodes(Duration::from_secs(600));
    a.create_user(user("alice", "/")).await.unwrap();
    let _: User = a.tag(ACCT, "alice", &[tag("team", "red")]).await.unwrap();
    assert!(eventually(&b, Some("red")).await);
    // Both nodes answer from their copies now: the same decoded value, not a new decoding.
    for iam in [&a, &b] {
        let first = iam.user_shared(ACCT, "alice").await.unwrap().unwrap();
        let again = iam.user_shared(ACCT, "alice").await.unwrap().unwrap();
        assert!(Arc::ptr_eq(&first, &again), "a copy answered");
    }

    let _: User = a.tag(ACCT, "alice", &[tag("team", "blue")]).await.unwrap();
    assert_eq!(team(&a).await.as_deref(), Some("blue"), "read-your-writes");
    assert!(
        eventually(&b, Some("blue")).await,
        "the other node's copy was dropped"
    );

    let _: User = b.tag(ACCT, "alice", &[tag("team", "green")]).await.unwrap();
    assert_eq!(team(&b).await.as_deref(), Some("green"));
    assert!(eventually(&a, Some("green")).await);
}

#[tokio::test]
async fn a_deleted_key_stops_authenticating_on_every_node() {
    let (a, b, _) = two_nodes(Duration::from_secs(600));
    a.create_user(user("alice", "/")).await.unwrap();
    let (key, _) = a
        .create_access_key(ACCT, Some("alice"), None, now())
        .await
        .unwrap();
    for iam in [&a, &b] {
        for _ in 0..2 {
            let found = iam.access_key(&key.id).await.unwrap();
            assert!(found.is_some_and(|k| k.key.id == key.id));
        }
    }
    a.delete_access_key(ACCT, Some("alice"), &key.id)
        .await
        .unwrap();
    assert!(
        a.access_key(&key.id).await.unwrap().is_none(),
        "at once here"
    );
    let mut gone = false;
    for _ in 0..100 {
        if b.access_key(&key.id).await.unwrap().is_none() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(gone, "and on the other node once notified");
}

#[tokio::test]
async fn without_a_notification_a_copy_lives_no_longer_than_the_cache_ttl() {
    // A write straight to the store (a node whose notification was lost): the caches keep
    // their answer for their TTL, and so do the copies in front of them; no longer.
    let (a, _, store) = two_nodes(Duration::from_millis(200));
    a.create_user(user("alice", "/")).await.unwrap();
    let _: User = a.tag(ACCT, "alice", &[tag("team", "red")]).await.unwrap();
    assert_eq!(team(&a).await.as_deref(), Some("red"));
    let key = crate::iam::repo::keys::entity("u", ACCT, "alice");
    let mut u: User = serde_json::from_slice(&store.get(&key).await.unwrap().unwrap()).unwrap();
    u.tags.clear();
    store
        .commit(Batch::new().put(key, serde_json::to_vec(&u).unwrap()))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(team(&a).await, None, "stale answers expire with the TTL");
}
