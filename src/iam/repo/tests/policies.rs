//! Managed policies, their versions and attachments; inline policies and their size limits.

use super::{ACCT, AWS_POLICY, DOC, group, managed, now, repo, role, user};
use crate::iam::repo::{Dependants, EntityKind, Error, Limit, MAX_ATTACHED, MAX_POLICY_VERSIONS};

#[tokio::test]
async fn create_read_list_and_already_exists() {
    let (iam, _) = repo();
    let p = iam.create_policy(managed("Read", ACCT)).await.unwrap();
    assert_eq!(p.arn, format!("arn:aws:iam::{ACCT}:policy/Read"));
    assert!(matches!(
        iam.create_policy(managed("READ", ACCT)).await.unwrap_err(),
        Error::PolicyExists { ref name } if name == "READ"
    ));
    let mut bad = managed("Bad", ACCT);
    bad.versions[0].document = "{".into();
    assert!(matches!(
        iam.create_policy(bad).await.unwrap_err(),
        Error::Invalid(_)
    ));
    assert_eq!(iam.managed_policy(&p.arn).await.unwrap().unwrap(), p);
    assert!(iam.managed_policy(AWS_POLICY).await.unwrap().is_some());
    assert!(
        iam.customer_policy_shared(AWS_POLICY)
            .await
            .unwrap()
            .is_none()
    );
    let wrong_path = format!("arn:aws:iam::{ACCT}:policy/x/Read");
    assert!(iam.managed_policy(&wrong_path).await.unwrap().is_none());

    iam.create_policy(managed("Write", ACCT)).await.unwrap();
    let page = iam.list_policies(ACCT, None, 1, |_| true).await.unwrap();
    assert_eq!(page.items[0].name, "Read");
    let page = iam
        .list_policies(ACCT, page.next_marker.as_deref(), 1, |_| true)
        .await
        .unwrap();
    assert_eq!(page.items[0].name, "Write");
    assert!(page.next_marker.is_none());
    assert_eq!(iam.customer_policies(ACCT).await.unwrap().len(), 2);
}

#[tokio::test]
async fn versions_are_limited_and_the_default_is_kept() {
    let (iam, _) = repo();
    let arn = iam.create_policy(managed("P", ACCT)).await.unwrap().arn;
    for i in 2..=MAX_POLICY_VERSIONS {
        let v = iam
            .create_policy_version(&arn, DOC, i == 3, now())
            .await
            .unwrap();
        assert_eq!(v.version_id, format!("v{i}"));
    }
    assert!(matches!(
        iam.create_policy_version(&arn, DOC, false, now())
            .await
            .unwrap_err(),
        Error::LimitExceeded(Limit::PolicyVersions(5))
    ));
    assert!(matches!(
        iam.create_policy_version(&arn, "{", false, now())
            .await
            .unwrap_err(),
        Error::Invalid(_)
    ));
    let p = iam.managed_policy(&arn).await.unwrap().unwrap();
    assert_eq!(p.default_version_id, "v3");

    assert!(matches!(
        iam.set_default_policy_version(&arn, "v9", now())
            .await
            .unwrap_err(),
        Error::VersionNotFound {
            deleting: false,
            ..
        }
    ));
    iam.set_default_policy_version(&arn, "v1", now())
        .await
        .unwrap();
    assert!(matches!(
        iam.delete_policy_version(&arn, "v1").await.unwrap_err(),
        Error::DeleteConflict(Dependants::DefaultVersion)
    ));
    assert!(matches!(
        iam.delete_policy_version(&arn, "v9").await.unwrap_err(),
        Error::VersionNotFound { deleting: true, .. }
    ));
    // AWS managed policies have no versions to change here.
    assert!(matches!(
        iam.create_policy_version(AWS_POLICY, DOC, false, now())
            .await
            .unwrap_err(),
        Error::PolicyNotAttachable { .. }
    ));

    // Deleting: refused while other versions remain.
    assert!(matches!(
        iam.delete_policy(&arn).await.unwrap_err(),
        Error::DeleteConflict(Dependants::PolicyVersions)
    ));
    for v in 2..=MAX_POLICY_VERSIONS {
        iam.delete_policy_version(&arn, &format!("v{v}"))
            .await
            .unwrap();
    }
    iam.delete_policy(&arn).await.unwrap();
    assert!(iam.managed_policy(&arn).await.unwrap().is_none());
}

#[tokio::test]
async fn attachments_are_indexed_counted_and_limited() {
    let (iam, kv) = repo();
    iam.create_user(user("alice", "/")).await.unwrap();
    iam.create_group(group("ops", "/")).await.unwrap();
    iam.create_role(role("r", "/")).await.unwrap();
    let arn = iam.create_policy(managed("P", ACCT)).await.unwrap().arn;
    let missing = format!("arn:aws:iam::{ACCT}:policy/Missing");
    assert!(matches!(
        iam.attach_policy(EntityKind::User, ACCT, "alice", &missing)
            .await
            .unwrap_err(),
        Error::PolicyNotAttachable { .. }
    ));
    assert!(matches!(
        iam.attach_policy(EntityKind::Role, ACCT, "nobody", &arn)
            .await
            .unwrap_err(),
        Error::NotFound { kind: "role", .. }
    ));
    for kind in [EntityKind::User, EntityKind::Group, EntityKind::Role] {
        let name = match kind {
            EntityKind::User => "alice",
            EntityKind::Group => "ops",
            EntityKind::Role => "r",
        };
        iam.attach_policy(kind, ACCT, name, &arn).await.unwrap();
        iam.attach_policy(kind, ACCT, name, &arn).await.unwrap();
        iam.attach_policy(kind, ACCT, name, AWS_POLICY)
            .await
            .unwrap();
    }
    let p = iam.managed_policy(&arn).await.unwrap().unwrap();
    assert_eq!(p.attachment_count, 3);
    assert_eq!(iam.attachments(&arn).await.unwrap().len(), 3);
    assert_eq!(iam.attachment_count_in(AWS_POLICY, ACCT).await.unwrap(), 3);
    assert_eq!(
        iam.attachment_count_in(AWS_POLICY, "222222222222")
            .await
            .unwrap(),
        0
    );
    assert!(matches!(
        iam.delete_policy(&arn).await.unwrap_err(),
        Error::DeleteConflict(Dependants::PolicyAttachments)
    ));

    for i in 2..MAX_ATTACHED {
        let extra = iam
            .create_policy(managed(&format!("X{i}"), ACCT))
            .await
            .unwrap();
        iam.attach_policy(EntityKind::User, ACCT, "alice", &extra.arn)
            .await
            .unwrap();
    }
    let over = iam.create_policy(managed("Over", ACCT)).await.unwrap();
    assert!(matches!(
        iam.attach_policy(EntityKind::User, ACCT, "alice", &over.arn)
            .await
            .unwrap_err(),
        Error::LimitExceeded(Limit::AttachedPolicies("User", 10))
    ));
    assert!(kv.keys(&format!("pa/{}/", over.arn)).await.is_empty());

    iam.detach_policy(EntityKind::Group, ACCT, "ops", &arn)
        .await
        .unwrap();
    assert!(matches!(
        iam.detach_policy(EntityKind::Group, ACCT, "ops", &arn)
            .await
            .unwrap_err(),
        Error::PolicyNotFound { .. }
    ));
    assert!(matches!(
        iam.detach_policy(EntityKind::Group, ACCT, "nope", &arn)
            .await
            .unwrap_err(),
        Error::NotFound { kind: "group", .. }
    ));
    let p = iam.managed_policy(&arn).await.unwrap().unwrap();
    assert_eq!(p.attachment_count, 2);
}

#[tokio::test]
async fn inline_policies_are_limited_in_aggregate_per_kind() {
    let (iam, _) = repo();
    iam.create_user(user("alice", "/")).await.unwrap();
    iam.create_role(role("r", "/")).await.unwrap();
    assert!(matches!(
        iam.put_inline_policy(EntityKind::User, ACCT, "alice", "p", "{")
            .await
            .unwrap_err(),
        Error::Invalid(_)
    ));
    assert!(matches!(
        iam.put_inline_policy(EntityKind::Group, ACCT, "nope", "p", DOC)
            .await
            .unwrap_err(),
        Error::NotFound { kind: "group", .. }
    ));
    // About 90 non-whitespace characters each: a user holds 2048, a role 10240.
    let mut n = 0;
    let e = loop {
        match iam
            .put_inline_policy(EntityKind::User, ACCT, "alice", &format!("p{n}"), DOC)
            .await
        {
            Ok(()) => n += 1,
            Err(e) => break e,
        }
    };
    assert!(matches!(
        e,
        Error::LimitExceeded(Limit::InlinePolicySize {
            kind: "user",
            limit: 2048,
            ..
        })
    ));
    let u = iam.user(ACCT, "alice").await.unwrap().unwrap();
    assert_eq!(u.inline_policies.len(), n, "the failed put wrote nothing");
    for i in 0..=n {
        iam.put_inline_policy(EntityKind::Role, ACCT, "r", &format!("p{i}"), DOC)
            .await
            .unwrap();
    }
    // Replacing a policy does not count it twice.
    iam.put_inline_policy(EntityKind::User, ACCT, "alice", "p0", DOC)
        .await
        .unwrap();

    assert!(matches!(
        iam.delete_inline_policy(EntityKind::User, ACCT, "alice", "absent")
            .await
            .unwrap_err(),
        Error::InlinePolicyNotFound { kind: "user", ref policy } if policy == "absent"
    ));
    assert!(matches!(
        iam.delete_inline_policy(EntityKind::User, ACCT, "nobody", "p0")
            .await
            .unwrap_err(),
        Error::NotFound { kind: "user", .. }
    ));
    iam.delete_inline_policy(EntityKind::User, ACCT, "alice", "p0")
        .await
        .unwrap();
}
