//! Roles: the generic operations through the role kind, trust policies bound to unique ids,
//! the parsed view of the request path, and deletion rules.

use super::{ACCT, DOC, TRUST, managed, repo, role, tag, user};
use crate::iam::model::Role;
use crate::iam::repo::{Dependants, EntityKind, Error};

#[tokio::test]
async fn create_get_list_tag_and_view() {
    let (iam, kv) = repo();
    let r = iam.create_role(role("Deployer", "/ops/")).await.unwrap();
    iam.create_role(role("auditor", "/")).await.unwrap();
    assert_eq!(r.arn, format!("arn:aws:iam::{ACCT}:role/ops/Deployer"));
    assert!(matches!(
        iam.create_role(role("deployer", "/")).await.unwrap_err(),
        Error::AlreadyExists { kind: "role", .. }
    ));
    assert_eq!(
        kv.raw(&format!("rid/{}", r.id)).await.unwrap(),
        format!("\"r/{ACCT}/deployer\"")
    );
    let page = iam.list::<Role>(ACCT, "/", None, 1).await.unwrap();
    assert_eq!(page.items[0].name, "auditor");
    let page = iam
        .list::<Role>(ACCT, "/", page.next_marker.as_deref(), 1)
        .await
        .unwrap();
    assert_eq!(page.items[0].name, "Deployer");
    assert!(page.next_marker.is_none());

    let tagged: Role = iam
        .tag(ACCT, "deployer", &[tag("team", "x")])
        .await
        .unwrap();
    assert_eq!(tagged.tags, [tag("team", "x")]);
    let untagged: Role = iam.untag(ACCT, "deployer", &["TEAM".into()]).await.unwrap();
    assert!(untagged.tags.is_empty());

    // The view: by id and by ARN (whose path must match), policies parsed.
    iam.put_inline_policy(EntityKind::Role, ACCT, "deployer", "p", DOC)
        .await
        .unwrap();
    let by_id = iam.role_view_by_id(&r.id).await.unwrap().unwrap();
    assert_eq!(by_id.role.name, "Deployer");
    assert_eq!(by_id.inline().unwrap().len(), 1);
    by_id.trust().unwrap();
    assert!(iam.role_view_by_arn(&r.arn).await.unwrap().is_some());
    let wrong_path = format!("arn:aws:iam::{ACCT}:role/Deployer");
    assert!(iam.role_view_by_arn(&wrong_path).await.unwrap().is_none());
    assert!(iam.role_view_by_arn("not-an-arn").await.unwrap().is_none());
}

#[tokio::test]
async fn trust_principals_are_bound_to_unique_ids() {
    let (iam, _) = repo();
    let alice = iam.create_user(user("alice", "/")).await.unwrap();
    let doc = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{}"}},"Action":"sts:AssumeRole"}}]}}"#,
        alice.arn
    );
    let (_, ids) = iam.check_trust_policy(&doc).await.unwrap();
    assert_eq!(ids.get(&alice.arn), Some(&alice.id));
    let (_, none) = iam.check_trust_policy(TRUST).await.unwrap();
    assert!(none.is_empty());

    let ghost = doc.replace("user/alice", "user/ghost");
    assert!(matches!(
        iam.check_trust_policy(&ghost).await.unwrap_err(),
        Error::InvalidPrincipal { ref arn } if arn.ends_with("user/ghost")
    ));
    assert!(matches!(
        iam.check_trust_policy("{not json").await.unwrap_err(),
        Error::Invalid(_)
    ));
}

#[tokio::test]
async fn a_rename_moves_the_id_index_and_attachments() {
    let (iam, kv) = repo();
    let r = iam.create_role(role("old", "/")).await.unwrap();
    let p = iam.create_policy(managed("Read", ACCT)).await.unwrap();
    iam.attach_policy(EntityKind::Role, ACCT, "old", &p.arn)
        .await
        .unwrap();
    let (_, after) = iam
        .rename::<Role>(ACCT, "old", Some("new"), None)
        .await
        .unwrap();
    assert_eq!(after.arn, format!("arn:aws:iam::{ACCT}:role/new"));
    let view = iam.role_view_by_id(&r.id).await.unwrap().unwrap();
    assert_eq!(view.role.name, "new");
    assert!(kv.keys(&format!("r/{ACCT}/old")).await.is_empty());
    assert_eq!(
        iam.attachments(&p.arn).await.unwrap(),
        [(EntityKind::Role, ACCT.to_owned(), "new".to_owned())]
    );
}

#[tokio::test]
async fn a_role_is_deleted_only_without_policies() {
    let (iam, kv) = repo();
    let r = iam.create_role(role("r", "/")).await.unwrap();
    iam.put_inline_policy(EntityKind::Role, ACCT, "r", "p", DOC)
        .await
        .unwrap();
    iam.attach_policy(EntityKind::Role, ACCT, "r", super::AWS_POLICY)
        .await
        .unwrap();
    assert!(matches!(
        iam.delete_role(ACCT, "r").await.unwrap_err(),
        Error::DeleteConflict(Dependants::InlinePolicies)
    ));
    iam.delete_inline_policy(EntityKind::Role, ACCT, "r", "p")
        .await
        .unwrap();
    assert!(matches!(
        iam.delete_role(ACCT, "r").await.unwrap_err(),
        Error::DeleteConflict(Dependants::AttachedPolicies)
    ));
    iam.detach_policy(EntityKind::Role, ACCT, "r", super::AWS_POLICY)
        .await
        .unwrap();
    iam.delete_role(ACCT, "r").await.unwrap();
    assert!(iam.role_view_by_id(&r.id).await.unwrap().is_none());
    assert!(kv.keys(&format!("rid/{}", r.id)).await.is_empty());
    assert!(matches!(
        iam.delete_role(ACCT, "r").await.unwrap_err(),
        Error::NotFound { kind: "role", .. }
    ));
}
