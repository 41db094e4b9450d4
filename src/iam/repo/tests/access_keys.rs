//! Access keys: the per-owner limit, sealed secrets, ownership checks and what a delete removes.

use super::{ACCT, now, repo, user};
use crate::iam::model::{KeyStatus, LastUsed};
use crate::iam::repo::{Error, Limit, MAX_ACCESS_KEYS};
use crate::secret::SecretString;

#[tokio::test]
async fn keys_are_limited_per_owner_and_open_to_their_secret() {
    let (iam, kv) = repo();
    let alice = iam.create_user(user("alice", "/")).await.unwrap();
    let mut made = Vec::new();
    for _ in 0..MAX_ACCESS_KEYS {
        made.push(
            iam.create_access_key(ACCT, Some("Alice"), None, now())
                .await
                .unwrap(),
        );
    }
    assert!(matches!(
        iam.create_access_key(ACCT, Some("alice"), None, now())
            .await
            .unwrap_err(),
        Error::LimitExceeded(Limit::AccessKeysPerUser(2))
    ));
    // The root's keys are counted apart.
    let (root_key, _) = iam
        .create_access_key(ACCT, None, None, now())
        .await
        .unwrap();
    assert_eq!(root_key.user, None);
    assert_eq!(kv.keys(&format!("uk/{ACCT}/#root/")).await.len(), 1);

    let (key, secret) = &made[0];
    assert_eq!(key.user_id.as_deref(), Some(alice.id.as_str()));
    assert!(
        !kv.raw(&format!("k/{}", key.id))
            .await
            .unwrap()
            .contains(secret.expose())
    );
    let opened = iam.access_key(&key.id).await.unwrap().unwrap();
    assert_eq!(opened.secret.expose(), secret.expose());
    assert_eq!(
        iam.access_keys_of(ACCT, Some("ALICE")).await.unwrap().len(),
        2
    );

    assert!(matches!(
        iam.create_access_key(ACCT, Some("nobody"), None, now())
            .await
            .unwrap_err(),
        Error::NotFound { kind: "user", .. }
    ));
    // An imported pair whose id is taken.
    iam.create_user(user("bob", "/")).await.unwrap();
    let given = (key.id.clone(), SecretString::from("x"));
    assert!(matches!(
        iam.create_access_key(ACCT, Some("bob"), Some(given), now())
            .await
            .unwrap_err(),
        Error::AccessKeyExists { ref id } if *id == key.id
    ));
}

#[tokio::test]
async fn only_the_owner_changes_or_deletes_a_key() {
    let (iam, kv) = repo();
    iam.create_user(user("alice", "/")).await.unwrap();
    iam.create_user(user("bob", "/")).await.unwrap();
    let (key, _) = iam
        .create_access_key(ACCT, Some("alice"), None, now())
        .await
        .unwrap();
    let not_found = |e: Error| matches!(e, Error::AccessKeyNotFound { ref id } if *id == key.id);
    assert!(not_found(
        iam.set_access_key_status(ACCT, Some("bob"), &key.id, KeyStatus::Inactive)
            .await
            .unwrap_err()
    ));
    assert!(not_found(
        iam.set_access_key_status("222222222222", Some("alice"), &key.id, KeyStatus::Inactive)
            .await
            .unwrap_err()
    ));
    assert!(not_found(
        iam.delete_access_key(ACCT, None, &key.id)
            .await
            .unwrap_err()
    ));
    assert!(matches!(
        iam.set_access_key_status(ACCT, None, "AKIANOTHERE", KeyStatus::Active)
            .await
            .unwrap_err(),
        Error::AccessKeyNotFound { .. }
    ));

    iam.set_access_key_status(ACCT, Some("ALICE"), &key.id, KeyStatus::Inactive)
        .await
        .unwrap();
    let opened = iam.access_key(&key.id).await.unwrap().unwrap();
    assert_eq!(opened.key.status, KeyStatus::Inactive);

    let used = LastUsed {
        date: now(),
        service: "iam".into(),
        region: "us-east-1".into(),
    };
    iam.record_key_use(&key.id, &used).await.unwrap();
    assert_eq!(iam.key_last_used(&key.id).await.unwrap(), Some(used));

    iam.delete_access_key(ACCT, Some("alice"), &key.id)
        .await
        .unwrap();
    for k in [
        format!("k/{}", key.id),
        format!("uk/{ACCT}/alice/{}", key.id),
        format!("lu/{}", key.id),
    ] {
        assert!(kv.raw(&k).await.is_none(), "{k} is gone");
    }
    assert!(iam.access_key(&key.id).await.unwrap().is_none());
    assert!(not_found(
        iam.delete_access_key(ACCT, Some("alice"), &key.id)
            .await
            .unwrap_err()
    ));
}
