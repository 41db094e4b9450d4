//! Users: the generic operations through the user kind, and a rename that carries the user's
//! memberships, attachments and access keys in one batch.

use super::{ACCT, DOC, group, managed, now, repo, tag, user};
use crate::iam::model::{KeyStatus, LastUsed, User};
use crate::iam::repo::{Dependants, EntityKind, Error, Limit, MAX_TAGS, encode_marker};
use crate::store::Batch;

#[tokio::test]
async fn create_get_and_list_with_markers() {
    let (iam, _) = repo();
    for (name, path) in [
        ("alice", "/"),
        ("Bob", "/eng/"),
        ("carol", "/"),
        ("dave", "/eng/"),
        ("erin", "/"),
    ] {
        let u = iam.create_user(user(name, path)).await.unwrap();
        assert_eq!(u.arn, format!("arn:aws:iam::{ACCT}:user{path}{name}"));
    }
    // Names are unique case-insensitively; the record keeps its case.
    let bob = iam.user(ACCT, "BOB").await.unwrap().unwrap();
    assert_eq!(bob.name, "Bob");
    assert_eq!(iam.user_by_id(&bob.id).await.unwrap().unwrap().name, "Bob");
    assert!(iam.user(ACCT, "nobody").await.unwrap().is_none());
    assert!(matches!(
        iam.user_required(ACCT, "nobody").await,
        Err(Error::NotFound { kind: "user", ref name }) if name == "nobody"
    ));

    // Pages of two, every user once, in key order.
    let mut seen = Vec::new();
    let mut marker = None;
    loop {
        let page = iam
            .list::<User>(ACCT, "/", marker.as_deref(), 2)
            .await
            .unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.into_iter().map(|u| u.name));
        match page.next_marker {
            Some(m) => marker = Some(m),
            None => break,
        }
    }
    assert_eq!(seen, ["alice", "Bob", "carol", "dave", "erin"]);

    // The path prefix filters; the marker continues after the last item kept.
    let eng = iam.list::<User>(ACCT, "/eng/", None, 1).await.unwrap();
    assert_eq!(eng.items[0].name, "Bob");
    let rest = iam
        .list::<User>(ACCT, "/eng/", eng.next_marker.as_deref(), 1)
        .await
        .unwrap();
    assert_eq!(rest.items[0].name, "dave");
    assert!(rest.next_marker.is_none());
    assert_eq!(iam.count::<User>(ACCT).await.unwrap(), 5);
    assert_eq!(iam.all::<User>(ACCT).await.unwrap().len(), 5);

    // A marker that is not ours.
    assert!(matches!(
        iam.list::<User>(ACCT, "/", Some("!!!"), 2).await,
        Err(Error::InvalidMarker)
    ));
    // One that is ours but points past everything: an empty last page.
    let past = encode_marker("u/111111111111/zzz");
    let page = iam.list::<User>(ACCT, "/", Some(&past), 2).await.unwrap();
    assert!(page.items.is_empty() && page.next_marker.is_none());
}

#[tokio::test]
async fn a_taken_name_is_already_exists() {
    let (iam, _) = repo();
    iam.create_user(user("alice", "/")).await.unwrap();
    let e = iam.create_user(user("ALICE", "/x/")).await.unwrap_err();
    assert!(matches!(e, Error::AlreadyExists { kind: "user", ref name } if name == "ALICE"));
    assert_eq!(iam.user(ACCT, "alice").await.unwrap().unwrap().path, "/");
}

#[tokio::test]
async fn tags_are_merged_case_insensitively_limited_and_removed() {
    let (iam, _) = repo();
    iam.create_user(user("alice", "/")).await.unwrap();
    let u: User = iam
        .tag(ACCT, "alice", &[tag("Team", "a"), tag("env", "prod")])
        .await
        .unwrap();
    assert_eq!(u.tags.len(), 2);
    // A new value replaces, whatever the key's case.
    let u: User = iam.tag(ACCT, "alice", &[tag("TEAM", "b")]).await.unwrap();
    assert_eq!(u.tags.len(), 2);
    assert!(u.tags.iter().any(|t| t.key == "TEAM" && t.value == "b"));

    let many: Vec<_> = (0..MAX_TAGS).map(|i| tag(&format!("k{i}"), "v")).collect();
    let e = iam.tag::<User>(ACCT, "alice", &many).await.unwrap_err();
    assert!(matches!(e, Error::LimitExceeded(Limit::Tags(50))));
    assert_eq!(iam.tags::<User>(ACCT, "alice").await.unwrap().len(), 2);

    let u: User = iam
        .untag(ACCT, "alice", &["team".into(), "absent".into()])
        .await
        .unwrap();
    assert_eq!(u.tags, [tag("env", "prod")]);
    assert_eq!(
        iam.tags::<User>(ACCT, "alice").await.unwrap(),
        [tag("env", "prod")]
    );

    for e in [
        iam.tag::<User>(ACCT, "nobody", &[tag("a", "b")])
            .await
            .unwrap_err(),
        iam.untag::<User>(ACCT, "nobody", &["a".into()])
            .await
            .unwrap_err(),
        iam.tags::<User>(ACCT, "nobody").await.unwrap_err(),
    ] {
        assert!(matches!(e, Error::NotFound { kind: "user", .. }), "{e:?}");
    }
}

/// alice, in group ops, with a customer policy attached and two access keys (one used).
async fn furnished() -> (crate::iam::Iam, std::sync::Arc<super::Racing>, User, String) {
    let (iam, kv) = repo();
    let alice = iam.create_user(user("alice", "/")).await.unwrap();
    iam.create_group(group("ops", "/")).await.unwrap();
    iam.add_user_to_group(ACCT, "ops", "alice").await.unwrap();
    let p = iam.create_policy(managed("Read", ACCT)).await.unwrap();
    iam.attach_policy(EntityKind::User, ACCT, "alice", &p.arn)
        .await
        .unwrap();
    for _ in 0..2 {
        iam.create_access_key(ACCT, Some("alice"), None, now())
            .await
            .unwrap();
    }
    let used = LastUsed {
        date: now(),
        service: "sts".into(),
        region: "us-east-1".into(),
    };
    let first = &iam.access_keys_of(ACCT, Some("alice")).await.unwrap()[0];
    iam.record_key_use(&first.id, &used).await.unwrap();
    (iam, kv, alice, p.arn)
}

#[tokio::test]
async fn a_rename_moves_memberships_attachments_and_keys_in_one_batch() {
    let (iam, kv, alice, parn) = furnished().await;
    let (before, after) = iam
        .rename::<User>(ACCT, "alice", Some("Bob"), Some("/eng/"))
        .await
        .unwrap();
    assert_eq!(before.arn, alice.arn);
    assert_eq!(after.arn, format!("arn:aws:iam::{ACCT}:user/eng/Bob"));
    assert_eq!(after.id, alice.id, "the unique id is kept");

    // Nothing is left under the old name.
    assert!(kv.keys(&format!("u/{ACCT}/alice")).await.is_empty());
    assert!(kv.keys(&format!("gm/{ACCT}/ops/alice")).await.is_empty());
    assert!(kv.keys(&format!("uk/{ACCT}/alice/")).await.is_empty());
    assert!(
        kv.keys(&format!("pa/{parn}/u/{ACCT}/alice"))
            .await
            .is_empty()
    );
    assert!(iam.user(ACCT, "alice").await.unwrap().is_none());

    // Everything follows to the new one.
    assert_eq!(iam.user(ACCT, "bob").await.unwrap().unwrap(), after);
    assert_eq!(
        iam.user_by_id(&alice.id).await.unwrap().unwrap().name,
        "Bob"
    );
    assert_eq!(
        kv.raw(&format!("uid/{}", alice.id)).await.unwrap(),
        format!("\"u/{ACCT}/bob\"")
    );
    let members = iam.group_members(ACCT, "ops", None, 10).await.unwrap();
    assert_eq!(members.items, std::slice::from_ref(&after));
    assert_eq!(
        iam.attachments(&parn).await.unwrap(),
        [(EntityKind::User, ACCT.to_owned(), "bob".to_owned())]
    );
    let keys = iam.access_keys_of(ACCT, Some("bob")).await.unwrap();
    assert_eq!(keys.len(), 2);
    for k in &keys {
        assert_eq!(k.user.as_deref(), Some("Bob"));
        let opened = iam.access_key(&k.id).await.unwrap().unwrap();
        assert_eq!(opened.key.user.as_deref(), Some("Bob"));
    }
    assert_eq!(
        kv.keys(&format!("lu/{}", keys[0].id)).await.len()
            + kv.keys(&format!("lu/{}", keys[1].id)).await.len(),
        1,
        "last use stays with its key"
    );
    assert!(
        iam.access_keys_of(ACCT, Some("alice"))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_rename_that_meets_a_concurrent_change_writes_nothing() {
    let (iam, kv, alice, parn) = furnished().await;
    let key = iam.access_keys_of(ACCT, Some("alice")).await.unwrap()[0].clone();
    let snapshot = kv.keys("").await;
    // A key is deactivated between the rename's reads and its commit.
    let mut changed = key.clone();
    changed.status = KeyStatus::Inactive;
    kv.race(Batch::new().put(
        format!("k/{}", key.id),
        serde_json::to_vec(&changed).unwrap(),
    ));
    let e = iam
        .rename::<User>(ACCT, "alice", Some("bob"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Store(crate::store::Error::Conflict(_))),
        "{e:?}"
    );
    // All or nothing: the same keys as before, the user still alice.
    assert_eq!(kv.keys("").await, snapshot);
    assert_eq!(iam.user(ACCT, "alice").await.unwrap().unwrap().id, alice.id);
    assert!(iam.user(ACCT, "bob").await.unwrap().is_none());
    assert_eq!(iam.attachments(&parn).await.unwrap()[0].2, "alice");
    let raced = iam.access_key(&key.id).await.unwrap().unwrap();
    assert_eq!(
        raced.key.status,
        KeyStatus::Inactive,
        "the racing write landed"
    );
    // Retried, the rename goes through.
    iam.rename::<User>(ACCT, "alice", Some("bob"), None)
        .await
        .unwrap();
    assert_eq!(
        iam.access_keys_of(ACCT, Some("bob")).await.unwrap().len(),
        2
    );
}

#[tokio::test]
async fn a_rename_onto_a_taken_name_is_already_exists_and_writes_nothing() {
    let (iam, kv, _, _) = furnished().await;
    iam.create_user(user("carol", "/")).await.unwrap();
    let snapshot = kv.keys("").await;
    let e = iam
        .rename::<User>(ACCT, "alice", Some("CAROL"), None)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::AlreadyExists { kind: "user", ref name } if name == "CAROL"));
    assert_eq!(kv.keys("").await, snapshot);

    let e = iam
        .rename::<User>(ACCT, "nobody", Some("x"), None)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound { kind: "user", .. }));

    // A change of case or of path alone keeps the key.
    let (_, after) = iam
        .rename::<User>(ACCT, "alice", Some("Alice"), Some("/x/"))
        .await
        .unwrap();
    assert_eq!(after.arn, format!("arn:aws:iam::{ACCT}:user/x/Alice"));
    assert_eq!(
        iam.access_keys_of(ACCT, Some("alice")).await.unwrap().len(),
        2
    );
}

#[tokio::test]
async fn a_user_is_deleted_only_without_dependants() {
    let (iam, kv, alice, parn) = furnished().await;
    iam.put_inline_policy(EntityKind::User, ACCT, "alice", "p", DOC)
        .await
        .unwrap();
    let conflict = |d| move |e: Error| matches!(e, Error::DeleteConflict(x) if x == d);
    let e = iam.delete_user(ACCT, "alice").await.unwrap_err();
    assert!(conflict(Dependants::AccessKeys)(e));
    for k in iam.access_keys_of(ACCT, Some("alice")).await.unwrap() {
        iam.delete_access_key(ACCT, Some("alice"), &k.id)
            .await
            .unwrap();
    }
    let e = iam.delete_user(ACCT, "alice").await.unwrap_err();
    assert!(conflict(Dependants::InlinePolicies)(e));
    iam.delete_inline_policy(EntityKind::User, ACCT, "alice", "p")
        .await
        .unwrap();
    let e = iam.delete_user(ACCT, "alice").await.unwrap_err();
    assert!(conflict(Dependants::AttachedPolicies)(e));
    iam.detach_policy(EntityKind::User, ACCT, "alice", &parn)
        .await
        .unwrap();
    let e = iam.delete_user(ACCT, "alice").await.unwrap_err();
    assert!(conflict(Dependants::GroupMemberships)(e));
    iam.remove_user_from_group(ACCT, "ops", "alice")
        .await
        .unwrap();

    let gone = iam.delete_user(ACCT, "ALICE").await.unwrap();
    assert_eq!(gone.id, alice.id);
    assert!(iam.user(ACCT, "alice").await.unwrap().is_none());
    assert!(iam.user_by_id(&alice.id).await.unwrap().is_none());
    assert!(kv.keys(&format!("uid/{}", alice.id)).await.is_empty());
    let e = iam.delete_user(ACCT, "alice").await.unwrap_err();
    assert!(matches!(e, Error::NotFound { kind: "user", .. }));
}
