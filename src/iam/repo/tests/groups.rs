//! Groups: memberships (both sides kept together), paging of members, a rename that renames
//! the group in its members' records in the same batch, and deletion rules.

use super::{ACCT, DOC, group, managed, repo, user};
use crate::iam::model::{Group, User};
use crate::iam::repo::{Dependants, EntityKind, Error, Limit, MAX_GROUPS_PER_USER};

#[tokio::test]
async fn create_get_list_and_already_exists() {
    let (iam, _) = repo();
    for (name, path) in [("admins", "/"), ("Ops", "/eng/"), ("readers", "/")] {
        let g = iam.create_group(group(name, path)).await.unwrap();
        assert_eq!(g.arn, format!("arn:aws:iam::{ACCT}:group{path}{name}"));
    }
    assert_eq!(iam.group(ACCT, "ops").await.unwrap().unwrap().name, "Ops");
    let e = iam.create_group(group("OPS", "/")).await.unwrap_err();
    assert!(matches!(e, Error::AlreadyExists { kind: "group", .. }));
    let first = iam.list::<Group>(ACCT, "/", None, 2).await.unwrap();
    assert_eq!(first.items.len(), 2);
    let second = iam
        .list::<Group>(ACCT, "/", first.next_marker.as_deref(), 2)
        .await
        .unwrap();
    assert_eq!(second.items[0].name, "readers");
    assert!(second.next_marker.is_none());
    let eng = iam.list::<Group>(ACCT, "/eng/", None, 10).await.unwrap();
    assert_eq!(eng.items.len(), 1);
}

#[tokio::test]
async fn memberships_are_kept_on_both_sides_and_limited() {
    let (iam, kv) = repo();
    iam.create_user(user("alice", "/")).await.unwrap();
    iam.create_group(group("Ops", "/")).await.unwrap();
    let e = iam
        .add_user_to_group(ACCT, "nope", "alice")
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound { kind: "group", ref name } if name == "nope"));
    let e = iam
        .add_user_to_group(ACCT, "ops", "nobody")
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound { kind: "user", ref name } if name == "nobody"));

    iam.add_user_to_group(ACCT, "ops", "ALICE").await.unwrap();
    iam.add_user_to_group(ACCT, "OPS", "alice").await.unwrap();
    assert_eq!(
        iam.user(ACCT, "alice").await.unwrap().unwrap().groups,
        ["Ops"]
    );
    assert_eq!(kv.keys(&format!("gm/{ACCT}/ops/")).await.len(), 1);

    for i in 1..MAX_GROUPS_PER_USER {
        iam.create_group(group(&format!("g{i}"), "/"))
            .await
            .unwrap();
        iam.add_user_to_group(ACCT, &format!("g{i}"), "alice")
            .await
            .unwrap();
    }
    iam.create_group(group("one-too-many", "/")).await.unwrap();
    let e = iam
        .add_user_to_group(ACCT, "one-too-many", "alice")
        .await
        .unwrap_err();
    assert!(matches!(e, Error::LimitExceeded(Limit::GroupsPerUser(10))));
    assert!(
        kv.keys(&format!("gm/{ACCT}/one-too-many/"))
            .await
            .is_empty()
    );

    iam.remove_user_from_group(ACCT, "ops", "alice")
        .await
        .unwrap();
    assert!(kv.keys(&format!("gm/{ACCT}/ops/")).await.is_empty());
    let e = iam
        .remove_user_from_group(ACCT, "ops", "alice")
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotInGroup { .. }));
    let e = iam
        .remove_user_from_group(ACCT, "nope", "alice")
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound { kind: "group", .. }));
}

#[tokio::test]
async fn members_come_in_pages() {
    let (iam, _) = repo();
    iam.create_group(group("ops", "/")).await.unwrap();
    for name in ["a", "b", "c"] {
        iam.create_user(user(name, "/")).await.unwrap();
        iam.add_user_to_group(ACCT, "ops", name).await.unwrap();
    }
    let p1 = iam.group_members(ACCT, "ops", None, 2).await.unwrap();
    assert_eq!(p1.items.len(), 2);
    let p2 = iam
        .group_members(ACCT, "ops", p1.next_marker.as_deref(), 2)
        .await
        .unwrap();
    assert_eq!(
        p2.items.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(),
        ["c"]
    );
    assert!(p2.next_marker.is_none());
}

#[tokio::test]
async fn a_rename_renames_the_group_in_its_members_records() {
    let (iam, kv) = repo();
    let g = iam.create_group(group("ops", "/")).await.unwrap();
    let p = iam.create_policy(managed("Read", ACCT)).await.unwrap();
    iam.attach_policy(EntityKind::Group, ACCT, "ops", &p.arn)
        .await
        .unwrap();
    for name in ["alice", "bob"] {
        iam.create_user(user(name, "/")).await.unwrap();
        iam.add_user_to_group(ACCT, "ops", name).await.unwrap();
    }
    let (_, after) = iam
        .rename::<Group>(ACCT, "ops", Some("Platform"), Some("/infra/"))
        .await
        .unwrap();
    assert_eq!(after.id, g.id);
    assert_eq!(
        after.arn,
        format!("arn:aws:iam::{ACCT}:group/infra/Platform")
    );
    for name in ["alice", "bob"] {
        let u: User = iam.user(ACCT, name).await.unwrap().unwrap();
        assert_eq!(u.groups, ["Platform"]);
    }
    assert!(kv.keys(&format!("g/{ACCT}/ops")).await.is_empty());
    assert!(kv.keys(&format!("gm/{ACCT}/ops/")).await.is_empty());
    assert!(
        kv.keys(&format!("pa/{}/g/{ACCT}/ops", p.arn))
            .await
            .is_empty()
    );
    assert_eq!(kv.keys(&format!("gm/{ACCT}/platform/")).await.len(), 2);
    assert_eq!(
        iam.attachments(&p.arn).await.unwrap(),
        [(EntityKind::Group, ACCT.to_owned(), "platform".to_owned())]
    );
    let members = iam.group_members(ACCT, "platform", None, 10).await.unwrap();
    assert_eq!(members.items.len(), 2);

    // A member that changed meanwhile makes the rename fail whole.
    iam.create_group(group("other", "/")).await.unwrap();
    let snapshot = kv.keys("").await;
    let mut alice = iam.user(ACCT, "alice").await.unwrap().unwrap();
    alice.path = "/moved/".into();
    kv.race(crate::store::Batch::new().put(
        format!("u/{ACCT}/alice"),
        serde_json::to_vec(&alice).unwrap(),
    ));
    let e = iam
        .rename::<Group>(ACCT, "platform", Some("ops"), None)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Store(crate::store::Error::Conflict(_))));
    assert_eq!(kv.keys("").await, snapshot);
    let raced = iam.user(ACCT, "alice").await.unwrap().unwrap();
    assert_eq!(
        (raced.path.as_str(), raced.groups[0].as_str()),
        ("/moved/", "Platform")
    );

    let e = iam
        .rename::<Group>(ACCT, "platform", Some("OTHER"), None)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::AlreadyExists { kind: "group", .. }));
    assert_eq!(kv.keys("").await, snapshot);
}

#[tokio::test]
async fn a_group_is_deleted_only_without_members_or_policies() {
    let (iam, _) = repo();
    iam.create_group(group("ops", "/")).await.unwrap();
    iam.create_user(user("alice", "/")).await.unwrap();
    iam.add_user_to_group(ACCT, "ops", "alice").await.unwrap();
    iam.put_inline_policy(EntityKind::Group, ACCT, "ops", "p", DOC)
        .await
        .unwrap();
    iam.attach_policy(EntityKind::Group, ACCT, "ops", super::AWS_POLICY)
        .await
        .unwrap();
    let is = |d: Dependants, e: Error| matches!(e, Error::DeleteConflict(x) if x == d);
    assert!(is(
        Dependants::GroupMembers,
        iam.delete_group(ACCT, "ops").await.unwrap_err()
    ));
    iam.remove_user_from_group(ACCT, "ops", "alice")
        .await
        .unwrap();
    assert!(is(
        Dependants::InlinePolicies,
        iam.delete_group(ACCT, "ops").await.unwrap_err()
    ));
    iam.delete_inline_policy(EntityKind::Group, ACCT, "ops", "p")
        .await
        .unwrap();
    assert!(is(
        Dependants::AttachedPolicies,
        iam.delete_group(ACCT, "ops").await.unwrap_err()
    ));
    iam.detach_policy(EntityKind::Group, ACCT, "ops", super::AWS_POLICY)
        .await
        .unwrap();
    iam.delete_group(ACCT, "ops").await.unwrap();
    assert!(iam.group(ACCT, "ops").await.unwrap().is_none());
    assert!(matches!(
        iam.delete_group(ACCT, "ops").await.unwrap_err(),
        Error::NotFound { kind: "group", .. }
    ));
}
