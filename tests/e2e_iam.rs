//! End to end through the official `aws-sdk-iam` client: the IAM Query API's lifecycle,
//! authorization, quotas and errors, pagination, simulation, and AWS's way of revoking sessions.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::bool_assert_comparison,
    clippy::expect_used,
    reason = "tests"
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{ADMIN, ALICE, code, message};
use sekisho::clock::Clock;
use sekisho::iam::model::{ManagedPolicy, Origin, PolicyVersion, User};

const ACCT: &str = "111111111111";
const ALLOW_S3_GET: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

fn trust(principal: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{principal}"}},"Action":"sts:AssumeRole"}}]}}"#
    )
}

fn url_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .unwrap()
        .into_owned()
}

#[tokio::test]
async fn user_group_policy_key_lifecycle() {
    let s = common::start().await;
    let iam = s.iam(ADMIN.0, ADMIN.1, None);

    let u = iam
        .create_user()
        .user_name("carol")
        .path("/eng/")
        .send()
        .await
        .unwrap();
    let u = u.user().unwrap();
    assert_eq!(u.arn(), format!("arn:aws:iam::{ACCT}:user/eng/carol"));
    assert!(u.user_id().starts_with("AIDA"));
    let e = iam
        .create_user()
        .user_name("CAROL")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "EntityAlreadyExists");

    iam.create_group()
        .group_name("readers")
        .send()
        .await
        .unwrap();
    let p = iam
        .create_policy()
        .policy_name("s3-read")
        .policy_document(ALLOW_S3_GET)
        .send()
        .await
        .unwrap();
    let parn = p.policy().unwrap().arn().unwrap().to_owned();
    assert_eq!(parn, format!("arn:aws:iam::{ACCT}:policy/s3-read"));
    assert!(p.policy().unwrap().policy_id().unwrap().starts_with("ANPA"));
    iam.attach_group_policy()
        .group_name("readers")
        .policy_arn(&parn)
        .send()
        .await
        .unwrap();
    iam.add_user_to_group()
        .group_name("readers")
        .user_name("carol")
        .send()
        .await
        .unwrap();
    iam.attach_user_policy()
        .user_name("carol")
        .policy_arn(&parn)
        .send()
        .await
        .unwrap();
    iam.put_user_policy()
        .user_name("carol")
        .policy_name("inl")
        .policy_document(ALLOW_S3_GET)
        .send()
        .await
        .unwrap();

    let g = iam.get_group().group_name("readers").send().await.unwrap();
    assert_eq!(
        g.users().iter().map(|u| u.user_name()).collect::<Vec<_>>(),
        ["carol"]
    );
    let gs = iam
        .list_groups_for_user()
        .user_name("carol")
        .send()
        .await
        .unwrap();
    assert_eq!(gs.groups()[0].group_name(), "readers");
    let att = iam
        .list_attached_user_policies()
        .user_name("carol")
        .send()
        .await
        .unwrap();
    assert_eq!(att.attached_policies()[0].policy_arn(), Some(parn.as_str()));
    let ents = iam
        .list_entities_for_policy()
        .policy_arn(&parn)
        .send()
        .await
        .unwrap();
    assert_eq!(ents.policy_users().len(), 1);
    assert_eq!(ents.policy_groups().len(), 1);
    let gp = iam.get_policy().policy_arn(&parn).send().await.unwrap();
    assert_eq!(gp.policy().unwrap().attachment_count(), Some(2));

    // A key: the secret is answered once, and it works through STS.
    let k1 = iam
        .create_access_key()
        .user_name("carol")
        .send()
        .await
        .unwrap();
    let k1 = k1.access_key().unwrap();
    assert!(k1.access_key_id().starts_with("AKIA"));
    assert_eq!(k1.secret_access_key().len(), 40);
    let me = s
        .sts(k1.access_key_id(), k1.secret_access_key(), None)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.arn(),
        Some(format!("arn:aws:iam::{ACCT}:user/eng/carol").as_str())
    );
    let listed = iam
        .list_access_keys()
        .user_name("carol")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.access_key_metadata().len(), 1);

    // Deactivated: refused on the next request.
    iam.update_access_key()
        .user_name("carol")
        .access_key_id(k1.access_key_id())
        .status(aws_sdk_iam::types::StatusType::Inactive)
        .send()
        .await
        .unwrap();
    let e = s
        .sts(k1.access_key_id(), k1.secret_access_key(), None)
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidClientTokenId");

    // Rotation: a second key; a third is over quota.
    let k2 = iam
        .create_access_key()
        .user_name("carol")
        .send()
        .await
        .unwrap();
    let k2 = k2.access_key().unwrap().clone();
    s.sts(k2.access_key_id(), k2.secret_access_key(), None)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    let e = iam
        .create_access_key()
        .user_name("carol")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "LimitExceeded");
    let lu = iam
        .get_access_key_last_used()
        .access_key_id(k2.access_key_id())
        .send()
        .await
        .unwrap();
    assert_eq!(lu.user_name(), Some("carol"));

    // Delete: DeleteConflict until every dependant is gone.
    let e = iam
        .delete_policy()
        .policy_arn(&parn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "DeleteConflict");
    let e = iam
        .delete_group()
        .group_name("readers")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "DeleteConflict");
    let mut steps = 0;
    loop {
        match iam.delete_user().user_name("carol").send().await {
            Ok(_) => break,
            Err(e) => {
                assert_eq!(code(&e), "DeleteConflict", "{}", message(&e));
                let m = message(&e);
                if m.contains("access keys") {
                    for k in [k1.access_key_id(), k2.access_key_id()] {
                        iam.delete_access_key()
                            .user_name("carol")
                            .access_key_id(k)
                            .send()
                            .await
                            .unwrap();
                    }
                } else if m.contains("delete policies") {
                    iam.delete_user_policy()
                        .user_name("carol")
                        .policy_name("inl")
                        .send()
                        .await
                        .unwrap();
                } else if m.contains("detach") {
                    iam.detach_user_policy()
                        .user_name("carol")
                        .policy_arn(&parn)
                        .send()
                        .await
                        .unwrap();
                } else {
                    iam.remove_user_from_group()
                        .group_name("readers")
                        .user_name("carol")
                        .send()
                        .await
                        .unwrap();
                }
            }
        }
        steps += 1;
    }
    assert_eq!(steps, 4);
    let e = iam.get_user().user_name("carol").send().await.unwrap_err();
    assert_eq!(code(&e), "NoSuchEntity");
    // The deleted key is gone for authentication too.
    let e = s
        .sts(k2.access_key_id(), k2.secret_access_key(), None)
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidClientTokenId");
    iam.detach_group_policy()
        .group_name("readers")
        .policy_arn(&parn)
        .send()
        .await
        .unwrap();
    iam.delete_group()
        .group_name("readers")
        .send()
        .await
        .unwrap();
    iam.delete_policy().policy_arn(&parn).send().await.unwrap();
    let e = iam.get_policy().policy_arn(&parn).send().await.unwrap_err();
    assert_eq!(code(&e), "NoSuchEntity");
}

#[tokio::test]
async fn read_only_user_may_list_but_not_change() {
    let s = common::start().await;
    let admin = s.iam(ADMIN.0, ADMIN.1, None);
    admin
        .create_user()
        .user_name("viewer")
        .send()
        .await
        .unwrap();
    admin
        .put_user_policy()
        .user_name("viewer")
        .policy_name("ro")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:List*","iam:Get*"],"Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let k = admin
        .create_access_key()
        .user_name("viewer")
        .send()
        .await
        .unwrap();
    let k = k.access_key().unwrap();
    let ro = s.iam(k.access_key_id(), k.secret_access_key(), None);
    assert!(ro.list_users().send().await.unwrap().users().len() >= 3);
    ro.get_user().user_name("alice").send().await.unwrap();
    // No UserName: the caller itself.
    assert_eq!(
        ro.get_user()
            .send()
            .await
            .unwrap()
            .user()
            .unwrap()
            .user_name(),
        "viewer"
    );

    let e = ro
        .create_user()
        .user_name("mallory")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    assert!(message(&e).contains("iam:CreateUser"), "{}", message(&e));
    let e = ro
        .attach_user_policy()
        .user_name("viewer")
        .policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    let e = ro
        .delete_user()
        .user_name("alice")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    let e = ro.create_access_key().send().await.unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    // Nothing changed.
    assert!(admin.get_user().user_name("mallory").send().await.is_err());
    assert!(
        admin
            .list_attached_user_policies()
            .user_name("viewer")
            .send()
            .await
            .unwrap()
            .attached_policies()
            .is_empty()
    );
}

/// Creates role `name` trusting alice, with `inline` as its policy; returns alice's session.
async fn alice_session(s: &common::Server, role: &str) -> aws_sdk_sts::types::Credentials {
    let out = s
        .sts(ALICE.0, ALICE.1, None)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{ACCT}:role/{role}"))
        .role_session_name("sess")
        .send()
        .await
        .unwrap();
    out.credentials().unwrap().clone()
}

fn iam_from(s: &common::Server, c: &aws_sdk_sts::types::Credentials) -> aws_sdk_iam::Client {
    s.iam(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token()),
    )
}

#[tokio::test]
async fn permissions_boundary_limits_a_role_session() {
    let s = common::start().await;
    let admin = s.iam(ADMIN.0, ADMIN.1, None);
    let b = admin
        .create_policy()
        .policy_name("list-only")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:List*","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let barn = b.policy().unwrap().arn().unwrap().to_owned();
    admin
        .create_role()
        .role_name("bounded")
        .assume_role_policy_document(trust(&format!("arn:aws:iam::{ACCT}:user/alice")))
        .send()
        .await
        .unwrap();
    admin
        .put_role_policy()
        .role_name("bounded")
        .policy_name("all")
        .policy_document(ALLOW_ALL)
        .send()
        .await
        .unwrap();
    // Without the boundary the session may create users.
    let c = alice_session(&s, "bounded").await;
    iam_from(&s, &c)
        .create_user()
        .user_name("made-by-role")
        .send()
        .await
        .unwrap();
    admin
        .put_role_permissions_boundary()
        .role_name("bounded")
        .permissions_boundary(&barn)
        .send()
        .await
        .unwrap();
    let r = admin.get_role().role_name("bounded").send().await.unwrap();
    assert_eq!(
        r.role()
            .unwrap()
            .permissions_boundary()
            .unwrap()
            .permissions_boundary_arn(),
        Some(barn.as_str())
    );
    // With it: list yes, create no (even for the already-issued session).
    let sess = iam_from(&s, &c);
    sess.list_users().send().await.unwrap();
    let e = sess
        .create_user()
        .user_name("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    // Removing the boundary restores it.
    admin
        .delete_role_permissions_boundary()
        .role_name("bounded")
        .send()
        .await
        .unwrap();
    sess.create_user()
        .user_name("yes-again")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn aws_revoke_older_sessions_policy_denies_old_sessions_only() {
    let s = common::start().await;
    let admin = s.iam(ADMIN.0, ADMIN.1, None);
    admin
        .create_role()
        .role_name("worker")
        .assume_role_policy_document(trust(&format!("arn:aws:iam::{ACCT}:user/alice")))
        .send()
        .await
        .unwrap();
    admin
        .put_role_policy()
        .role_name("worker")
        .policy_name("work")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:ListUsers","sts:AssumeRole"],"Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let old = alice_session(&s, "worker").await;
    iam_from(&s, &old).list_users().send().await.unwrap();

    s.clock.advance(chrono::Duration::seconds(5));
    let cutoff = s.clock.now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let revoke = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Action":["*"],"Resource":["*"],"Condition":{{"DateLessThan":{{"aws:TokenIssueTime":"{cutoff}"}}}}}}]}}"#
    );
    admin
        .put_role_policy()
        .role_name("worker")
        .policy_name("AWSRevokeOlderSessions")
        .policy_document(revoke)
        .send()
        .await
        .unwrap();
    s.clock.advance(chrono::Duration::seconds(1));

    let e = iam_from(&s, &old).list_users().send().await.unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    assert!(message(&e).contains("explicit deny"), "{}", message(&e));
    let e = s
        .sts_from(&old)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{ACCT}:role/worker"))
        .role_session_name("chain")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");

    let new = alice_session(&s, "worker").await;
    iam_from(&s, &new).list_users().send().await.unwrap();
}

#[tokio::test]
async fn trust_follows_unique_ids_not_names() {
    let s = common::start().await;
    let admin = s.iam(ADMIN.0, ADMIN.1, None);
    let make_user = || async {
        admin.create_user().user_name("temp").send().await.unwrap();
        admin
            .put_user_policy()
            .user_name("temp")
            .policy_name("assume")
            .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#)
            .send()
            .await
            .unwrap();
        let k = admin
            .create_access_key()
            .user_name("temp")
            .send()
            .await
            .unwrap();
        k.access_key().unwrap().clone()
    };
    let k = make_user().await;
    admin
        .create_role()
        .role_name("for-temp")
        .assume_role_policy_document(trust(&format!("arn:aws:iam::{ACCT}:user/temp")))
        .send()
        .await
        .unwrap();
    let role_arn = format!("arn:aws:iam::{ACCT}:role/for-temp");
    let assume = |k: aws_sdk_iam::types::AccessKey| {
        let s = &s;
        let role_arn = role_arn.clone();
        async move {
            s.sts(k.access_key_id(), k.secret_access_key(), None)
                .assume_role()
                .role_arn(role_arn)
                .role_session_name("xx")
                .send()
                .await
        }
    };
    assume(k.clone()).await.unwrap();
    // Delete and re-create a same-named user: the old trust does not apply.
    admin
        .delete_access_key()
        .user_name("temp")
        .access_key_id(k.access_key_id())
        .send()
        .await
        .unwrap();
    admin
        .delete_user_policy()
        .user_name("temp")
        .policy_name("assume")
        .send()
        .await
        .unwrap();
    admin.delete_user().user_name("temp").send().await.unwrap();
    let k2 = make_user().await;
    let e = assume(k2.clone()).await.unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    // Re-writing the trust policy binds the new user.
    admin
        .update_assume_role_policy()
        .role_name("for-temp")
        .policy_document(trust(&format!("arn:aws:iam::{ACCT}:user/temp")))
        .send()
        .await
        .unwrap();
    assume(k2).await.unwrap();
    // A trust policy naming an entity that does not exist is refused.
    let e = admin
        .create_role()
        .role_name("ghost")
        .assume_role_policy_document(trust(&format!("arn:aws:iam::{ACCT}:user/nobody")))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "MalformedPolicyDocument");
}

#[tokio::test]
async fn roles_shapes_rules_and_errors() {
    let s = common::start().await;
    let admin = s.iam(ADMIN.0, ADMIN.1, None);
    let doc = trust(&format!("arn:aws:iam::{ACCT}:root"));
    let e = admin
        .create_role()
        .role_name("bad name")
        .assume_role_policy_document(&doc)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationError");
    let e = admin
        .create_role()
        .role_name("r")
        .assume_role_policy_document(&doc)
        .max_session_duration(100)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationError");
    let e = admin
        .create_role()
        .role_name("r")
        .assume_role_policy_document(ALLOW_ALL)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "MalformedPolicyDocument");
    let e = admin
        .create_role()
        .role_name("r")
        .assume_role_policy_document("{nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "MalformedPolicyDocument");
    let e = admin
        .create_role()
        .role_name("r")
        .path("no-slash")
        .assume_role_policy_document(&doc)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationError");

    let r = admin
        .create_role()
        .role_name("r")
        .path("/svc/")
        .description("d")
        .assume_role_policy_document(&doc)
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("env")
                .value("dev")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(r.role().unwrap().role_id().starts_with("AROA"));
    admin
        .update_role()
        .role_name("r")
        .max_session_duration(7200)
        .description("d2")
        .send()
        .await
        .unwrap();
    let e = admin
        .update_role()
        .role_name("r")
        .max_session_duration(43201)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationError");
    admin
        .tag_role()
        .role_name("r")
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("team")
                .value("x")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    admin
        .untag_role()
        .role_name("r")
        .tag_keys("ENV")
        .send()
        .await
        .unwrap();
    let got = admin.get_role().role_name("r").send().await.unwrap();
    let role = got.role().unwrap();
    assert_eq!(role.arn(), format!("arn:aws:iam::{ACCT}:role/svc/r"));
    assert_eq!(role.max_session_duration(), Some(7200));
    assert_eq!(role.description(), Some("d2"));
    assert_eq!(url_decode(role.assume_role_policy_document().unwrap()), doc);
    assert!(
        role.assume_role_policy_document()
            .unwrap()
            .starts_with("%7B")
    );
    assert_eq!(
        role.tags().iter().map(|t| t.key()).collect::<Vec<_>>(),
        ["team"]
    );
    assert!(role.role_last_used().is_some());
    let tags = admin.list_role_tags().role_name("r").send().await.unwrap();
    assert_eq!(tags.tags().len(), 1);

    admin
        .put_role_policy()
        .role_name("r")
        .policy_name("p")
        .policy_document(ALLOW_S3_GET)
        .send()
        .await
        .unwrap();
    let gp = admin
        .get_role_policy()
        .role_name("r")
        .policy_name("p")
        .send()
        .await
        .unwrap();
    assert_eq!(url_decode(gp.policy_document()), ALLOW_S3_GET);
    assert_eq!(
        admin
            .list_role_policies()
            .role_name("r")
            .send()
            .await
            .unwrap()
            .policy_names(),
        ["p"]
    );
    let e = admin.delete_role().role_name("r").send().await.unwrap_err();
    assert_eq!(code(&e), "DeleteConflict");
    let e = admin
        .get_role_policy()
        .role_name("r")
        .policy_name("zz")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchEntity");
    admin
        .delete_role_policy()
        .role_name("r")
        .policy_name("p")
        .send()
        .await
        .unwrap();
    admin.delete_role().role_name("r").send().await.unwrap();
    let e = admin.get_role().role_name("r").send().await.unwrap_err();
    assert_eq!(code(&e), "NoSuchEntity");
    assert_eq!(message(&e), "The role with name r cannot be found.");
}

#[tokio::test]
async fn policy_versions_and_aws_managed_policies() {
    let s = common::start().await;
    let admin = s.iam(ADMIN.0, ADMIN.1, None);
    let p = admin
        .create_policy()
        .policy_name("v")
        .policy_document(ALLOW_S3_GET)
        .send()
        .await
        .unwrap();
    let arn = p.policy().unwrap().arn().unwrap().to_owned();
    for i in 2..=5 {
        let v = admin
            .create_policy_version()
            .policy_arn(&arn)
            .policy_document(ALLOW_ALL)
            .set_as_default(i == 3)
            .send()
            .await
            .unwrap();
        assert_eq!(
            v.policy_version().unwrap().version_id(),
            Some(format!("v{i}").as_str())
        );
    }
    let e = admin
        .create_policy_version()
        .policy_arn(&arn)
        .policy_document(ALLOW_ALL)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "LimitExceeded");
    let got = admin.get_policy().policy_arn(&arn).send().await.unwrap();
    assert_eq!(got.policy().unwrap().default_version_id(), Some("v3"));
    let e = admin
        .delete_policy_version()
        .policy_arn(&arn)
        .version_id("v3")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "DeleteConflict");
    let v = admin
        .get_policy_version()
        .policy_arn(&arn)
        .version_id("v1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        url_decode(v.policy_version().unwrap().document().unwrap()),
        ALLOW_S3_GET
    );
    assert_eq!(v.policy_version().unwrap().is_default_version(), false);
    let vs = admin
        .list_policy_versions()
        .policy_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(vs.versions().len(), 5);
    assert_eq!(vs.versions()[0].version_id(), Some("v5"));
    admin
        .set_default_policy_version()
        .policy_arn(&arn)
        .version_id("v1")
        .send()
        .await
        .unwrap();
    let e = admin
        .delete_policy()
        .policy_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "DeleteConflict");
    for v in ["v2", "v3", "v4", "v5"] {
        admin
            .delete_policy_version()
            .policy_arn(&arn)
            .version_id(v)
            .send()
            .await
            .unwrap();
    }
    let e = admin.create_policy_version().policy_arn(&arn).policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}"#).send().await.unwrap_err();
    assert_eq!(code(&e), "MalformedPolicyDocument");
    admin.delete_policy().policy_arn(&arn).send().await.unwrap();

    // AWS managed: listed, readable, attachable, never writable.
    let aws = admin
        .list_policies()
        .scope(aws_sdk_iam::types::PolicyScopeType::Aws)
        .max_items(5)
        .send()
        .await
        .unwrap();
    if let Some(first) = aws.policies().first() {
        let aarn = first.arn().unwrap().to_owned();
        assert!(aarn.starts_with("arn:aws:iam::aws:policy/"));
        assert!(aws.is_truncated());
        admin.get_policy().policy_arn(&aarn).send().await.unwrap();
        admin
            .attach_user_policy()
            .user_name("bob")
            .policy_arn(&aarn)
            .send()
            .await
            .unwrap();
        let only = admin
            .list_policies()
            .only_attached(true)
            .send()
            .await
            .unwrap();
        assert!(
            only.policies()
                .iter()
                .any(|p| p.arn() == Some(aarn.as_str()))
        );
        let e = admin
            .create_policy_version()
            .policy_arn(&aarn)
            .policy_document(ALLOW_ALL)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "AccessDenied");
        let e = admin
            .delete_policy()
            .policy_arn(&aarn)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "AccessDenied");
        admin
            .detach_user_policy()
            .user_name("bob")
            .policy_arn(&aarn)
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn pagination_returns_every_item_exactly_once() {
    let s = common::start().await;
    let iam = &s.state.iam;
    let now = s.clock.now();
    const USERS: usize = 2500;
    const POLICIES: usize = 1200;
    for i in 0..USERS {
        let path = if i % 3 == 0 { "/three/" } else { "/" };
        iam.create_user(User {
            account: ACCT.into(),
            name: format!("bulk-{i:05}"),
            path: path.into(),
            id: sekisho::ids::new_unique_id("AIDA", ACCT),
            arn: String::new(),
            create_date: now,
            tags: Vec::new(),
            permissions_boundary: None,
            inline_policies: BTreeMap::new(),
            attached_policies: Vec::new(),
            groups: Vec::new(),
            origin: Origin::Api,
        })
        .await
        .unwrap();
    }
    for i in 0..POLICIES {
        iam.create_policy(ManagedPolicy {
            account: ACCT.into(),
            name: format!("pol-{i:05}"),
            path: "/".into(),
            id: sekisho::ids::new_unique_id("ANPA", ACCT),
            arn: String::new(),
            description: None,
            create_date: now,
            update_date: now,
            default_version_id: "v1".into(),
            versions: vec![PolicyVersion {
                version_id: "v1".into(),
                document: ALLOW_S3_GET.into(),
                create_date: now,
            }],
            next_version: 2,
            attachment_count: 0,
            tags: Vec::new(),
            origin: Origin::Api,
        })
        .await
        .unwrap();
    }
    let admin = s.iam(ADMIN.0, ADMIN.1, None);

    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = admin
            .list_users()
            .max_items(97)
            .set_marker(marker.clone())
            .send()
            .await
            .unwrap();
        assert!(out.users().len() <= 97);
        seen.extend(out.users().iter().map(|u| u.user_name().to_owned()));
        if !out.is_truncated() {
            assert!(out.marker().is_none());
            break;
        }
        marker = Some(out.marker().unwrap().to_owned());
    }
    let set: BTreeSet<_> = seen.iter().cloned().collect();
    assert_eq!(set.len(), seen.len(), "no duplicates");
    assert_eq!(set.iter().filter(|n| n.starts_with("bulk-")).count(), USERS);
    assert_eq!(seen.len(), USERS + 3, "plus admin, alice, bob");

    // With a path prefix (a filtered scan), through the SDK paginator.
    let filtered: Vec<String> = admin
        .list_users()
        .path_prefix("/three/")
        .max_items(50)
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .map(|u| u.unwrap().user_name().to_owned())
        .collect();
    assert_eq!(filtered.len(), USERS.div_ceil(3));
    assert_eq!(
        filtered.iter().collect::<BTreeSet<_>>().len(),
        filtered.len()
    );

    let mut pols = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = admin
            .list_policies()
            .scope(aws_sdk_iam::types::PolicyScopeType::Local)
            .max_items(41)
            .set_marker(marker.clone())
            .send()
            .await
            .unwrap();
        pols.extend(
            out.policies()
                .iter()
                .map(|p| p.policy_name().unwrap().to_owned()),
        );
        if !out.is_truncated() {
            break;
        }
        marker = Some(out.marker().unwrap().to_owned());
    }
    assert_eq!(pols.len(), POLICIES);
    assert_eq!(pols.iter().collect::<BTreeSet<_>>().len(), POLICIES);

    // Scope=All crosses from AWS managed to local policies without loss.
    let all: Vec<String> = admin
        .list_policies()
        .max_items(333)
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .map(|p| p.unwrap().arn().unwrap().to_owned())
        .collect();
    let aws_count = s.state.iam.aws_managed().len();
    assert_eq!(all.len(), POLICIES + aws_count);
    assert_eq!(all.iter().collect::<BTreeSet<_>>().len(), all.len());
}

#[tokio::test]
async fn simulation_and_account_reports() {
    let s = common::start().await;
    let admin = s.iam(ADMIN.0, ADMIN.1, None);
    let out = admin
        .simulate_custom_policy()
        .policy_input_list(ALLOW_S3_GET)
        .action_names("s3:GetObject")
        .action_names("s3:PutObject")
        .send()
        .await
        .unwrap();
    let r = out.evaluation_results();
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].eval_decision().as_str(), "allowed");
    assert_eq!(
        r[0].matched_statements()[0].source_policy_id(),
        Some("PolicyInputList.1")
    );
    assert_eq!(r[1].eval_decision().as_str(), "implicitDeny");

    let out = admin
        .simulate_principal_policy()
        .policy_source_arn(format!("arn:aws:iam::{ACCT}:user/alice"))
        .action_names("sts:AssumeRole")
        .action_names("iam:CreateUser")
        .send()
        .await
        .unwrap();
    let r = out.evaluation_results();
    assert_eq!(r[0].eval_decision().as_str(), "allowed");
    assert_eq!(
        r[0].matched_statements()[0]
            .source_policy_type()
            .map(|t| t.as_str()),
        Some("user")
    );
    assert_eq!(r[1].eval_decision().as_str(), "implicitDeny");
    let e = admin
        .simulate_custom_policy()
        .policy_input_list("{")
        .action_names("s3:GetObject")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "MalformedPolicyDocument");

    let sum = admin.get_account_summary().send().await.unwrap();
    let m = sum.summary_map().unwrap();
    assert_eq!(m.get(&aws_sdk_iam::types::SummaryKeyType::Users), Some(&3));
    assert_eq!(m.get(&aws_sdk_iam::types::SummaryKeyType::Groups), Some(&1));

    let d = admin
        .get_account_authorization_details()
        .send()
        .await
        .unwrap();
    assert_eq!(d.user_detail_list().len(), 3);
    let adm = d
        .user_detail_list()
        .iter()
        .find(|u| u.user_name() == Some("admin"))
        .unwrap();
    assert_eq!(adm.group_list(), ["admins"]);
    assert_eq!(
        d.group_detail_list()[0].group_policy_list()[0].policy_name(),
        Some("all")
    );
    // Another account's entities never appear.
    assert!(d.role_detail_list().is_empty());
}

/// A listing marker for the last key `key` (markers are URL-safe base64 of the last key).
fn base64_marker(key: &str) -> String {
    sekisho::iam::repo::encode_marker(key)
}

/// Security issue 15, finding 2: simulation work is bounded. A request at Sekisho's list limits
/// (400 actions × 400 resources: 160,000 results) answers its pages quickly; lists over
/// the limits, a second boundary or a too-short action name are `ValidationError`s.
#[tokio::test]
async fn simulation_is_bounded_and_pages_the_whole_grid() {
    let s = common::start().await;
    let iam = s.iam(ADMIN.0, ADMIN.1, None);
    let actions: Vec<String> = (0..400).map(|i| format!("s3:GetObject{i}")).collect();
    let resources: Vec<String> = (0..400)
        .map(|i| format!("arn:aws:s3:::bucket/{i}"))
        .collect();
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject*","Resource":"*"},{"Sid":"No7","Effect":"Deny","Action":"*","Resource":"arn:aws:s3:::bucket/7"}]}"#;
    let started = std::time::Instant::now();
    let first = iam
        .simulate_custom_policy()
        .policy_input_list(policy)
        .set_action_names(Some(actions.clone()))
        .set_resource_arns(Some(resources.clone()))
        .max_items(1000)
        .send()
        .await
        .unwrap();
    let r = first.evaluation_results();
    assert_eq!(r.len(), 1000);
    assert!(first.is_truncated());
    assert_eq!(r[0].eval_action_name(), "s3:GetObject0");
    assert_eq!(r[7].eval_decision().as_str(), "explicitDeny");
    assert_eq!(r[8].eval_decision().as_str(), "allowed");
    assert_eq!(r[999].eval_action_name(), "s3:GetObject2");
    assert_eq!(r[999].eval_resource_name(), Some("arn:aws:s3:::bucket/199"));
    // The next page continues the grid.
    let second = iam
        .simulate_custom_policy()
        .policy_input_list(policy)
        .set_action_names(Some(actions.clone()))
        .set_resource_arns(Some(resources.clone()))
        .max_items(2)
        .marker(first.marker().unwrap())
        .send()
        .await
        .unwrap();
    let r2 = second.evaluation_results();
    assert_eq!(r2.len(), 2);
    assert_eq!(r2[0].eval_action_name(), "s3:GetObject2");
    assert_eq!(r2[0].eval_resource_name(), Some("arn:aws:s3:::bucket/200"));
    // The last page, straight from a marker near the end.
    let last = iam
        .simulate_custom_policy()
        .policy_input_list(policy)
        .set_action_names(Some(actions.clone()))
        .set_resource_arns(Some(resources.clone()))
        .marker(base64_marker("00159997"))
        .send()
        .await
        .unwrap();
    assert_eq!(last.evaluation_results().len(), 2);
    assert!(!last.is_truncated());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "three pages of a 160,000-result grid took {:?}",
        started.elapsed()
    );

    fn over<E, R>(e: aws_sdk_iam::error::SdkError<E, R>) -> String
    where
        E: aws_sdk_iam::error::ProvideErrorMetadata + std::fmt::Debug,
        R: std::fmt::Debug,
    {
        assert_eq!(code(&e), "ValidationError", "{e:?}");
        message(&e)
    }
    let mut many = actions.clone();
    many.push("s3:PutObject".into());
    let m = over(
        iam.simulate_custom_policy()
            .policy_input_list(policy)
            .set_action_names(Some(many))
            .send()
            .await
            .unwrap_err(),
    );
    assert!(m.contains("actionNames"), "{m}");
    let mut many = resources.clone();
    many.push("arn:aws:s3:::other".into());
    let m = over(
        iam.simulate_custom_policy()
            .policy_input_list(policy)
            .action_names("s3:GetObject")
            .set_resource_arns(Some(many))
            .send()
            .await
            .unwrap_err(),
    );
    assert!(m.contains("resourceArns"), "{m}");
    over(
        iam.simulate_custom_policy()
            .set_policy_input_list(Some(vec![ALLOW_ALL.to_owned(); 101]))
            .action_names("s3:GetObject")
            .send()
            .await
            .unwrap_err(),
    );
    over(
        iam.simulate_custom_policy()
            .policy_input_list(policy)
            .permissions_boundary_policy_input_list(ALLOW_ALL)
            .permissions_boundary_policy_input_list(ALLOW_ALL)
            .action_names("s3:GetObject")
            .send()
            .await
            .unwrap_err(),
    );
    over(
        iam.simulate_principal_policy()
            .policy_source_arn(format!("arn:aws:iam::{ACCT}:user/alice"))
            .action_names("s3")
            .send()
            .await
            .unwrap_err(),
    );
}

fn iam_tag(k: &str, v: &str) -> aws_sdk_iam::types::Tag {
    aws_sdk_iam::types::Tag::builder()
        .key(k)
        .value(v)
        .build()
        .unwrap()
}

/// Security issue 15, finding 3: IAM actions carry the condition keys AWS documents for them,
/// so account guardrails apply — on users, roles and managed policies (their tags), on tagging
/// (`aws:RequestTag/*`, `aws:TagKeys`), on boundaries (`iam:PermissionsBoundary`) and on
/// attaching policies to groups, users and roles (`iam:PolicyARN`). The same actions still
/// succeed where the guardrail does not apply.
#[tokio::test]
async fn iam_guardrails_apply_to_iam_actions() {
    let s = common::start().await;
    let admin = s.iam(ADMIN.0, ADMIN.1, None);
    let bound = format!("arn:aws:iam::{ACCT}:policy/bound");
    let forbidden = format!("arn:aws:iam::{ACCT}:policy/forbidden");
    for name in ["bound", "forbidden", "plain"] {
        admin
            .create_policy()
            .policy_name(name)
            .policy_document(ALLOW_S3_GET)
            .send()
            .await
            .unwrap();
    }
    let guardrails = format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Effect":"Allow","Action":"*","Resource":"*"}},
        {{"Sid":"Protected","Effect":"Deny","Action":"iam:*","Resource":"*",
          "Condition":{{"StringEquals":{{"aws:ResourceTag/protected":"true"}}}}}},
        {{"Sid":"ProtectedIam","Effect":"Deny","Action":"iam:DeleteUser","Resource":"*",
          "Condition":{{"StringEquals":{{"iam:ResourceTag/owner":"security"}}}}}},
        {{"Sid":"NoSelfProtect","Effect":"Deny","Action":["iam:Tag*","iam:Untag*","iam:Create*"],"Resource":"*",
          "Condition":{{"ForAnyValue:StringEqualsIgnoreCase":{{"aws:TagKeys":["protected"]}}}}}},
        {{"Sid":"TeamTag","Effect":"Deny","Action":"iam:CreateRole","Resource":"*",
          "Condition":{{"StringNotEqualsIfExists":{{"aws:RequestTag/team":"red"}}}}}},
        {{"Sid":"Bounded","Effect":"Deny","Action":["iam:CreateUser","iam:PutUserPermissionsBoundary","iam:PutRolePermissionsBoundary"],"Resource":"*",
          "Condition":{{"StringNotEquals":{{"iam:PermissionsBoundary":"{bound}"}}}}}},
        {{"Sid":"KeepBound","Effect":"Deny","Action":["iam:DeleteUserPermissionsBoundary","iam:PutUserPolicy"],"Resource":"*",
          "Condition":{{"StringEquals":{{"iam:PermissionsBoundary":"{bound}"}}}}}},
        {{"Sid":"NoForbidden","Effect":"Deny","Action":["iam:AttachGroupPolicy","iam:AttachUserPolicy","iam:AttachRolePolicy"],"Resource":"*",
          "Condition":{{"ArnEquals":{{"iam:PolicyARN":"{forbidden}"}}}}}}]}}"#
    );
    admin
        .create_policy()
        .policy_name("guardrails")
        .policy_document(&guardrails)
        .send()
        .await
        .unwrap();
    admin.create_user().user_name("ops").send().await.unwrap();
    admin
        .attach_user_policy()
        .user_name("ops")
        .policy_arn(format!("arn:aws:iam::{ACCT}:policy/guardrails"))
        .send()
        .await
        .unwrap();
    let k = admin
        .create_access_key()
        .user_name("ops")
        .send()
        .await
        .unwrap();
    let k = k.access_key().unwrap();
    let ops = s.iam(k.access_key_id(), k.secret_access_key(), None);
    let denied = |e: &str, what: &str| assert_eq!(e, "AccessDenied", "{what}");

    // Roles: the admin protects one; ops may change the other but not the protected one.
    for name in ["open-role", "guarded-role"] {
        let mut c = admin
            .create_role()
            .role_name(name)
            .assume_role_policy_document(trust(&format!("arn:aws:iam::{ACCT}:root")));
        if name == "guarded-role" {
            c = c.tags(iam_tag("protected", "true"));
        }
        c.send().await.unwrap();
    }
    for role in ["open-role", "guarded-role"] {
        let put = ops
            .put_role_policy()
            .role_name(role)
            .policy_name("p")
            .policy_document(ALLOW_S3_GET)
            .send()
            .await;
        let trust_update = ops
            .update_assume_role_policy()
            .role_name(role)
            .policy_document(trust(&format!("arn:aws:iam::{ACCT}:root")))
            .send()
            .await;
        let untag = ops
            .untag_role()
            .role_name(role)
            .tag_keys("team")
            .send()
            .await;
        let attach = ops
            .attach_role_policy()
            .role_name(role)
            .policy_arn(format!("arn:aws:iam::{ACCT}:policy/plain"))
            .send()
            .await;
        if role == "open-role" {
            put.unwrap();
            trust_update.unwrap();
            untag.unwrap();
            attach.unwrap();
        } else {
            denied(
                &code(&put.unwrap_err()),
                "PutRolePolicy on a protected role",
            );
            denied(&code(&trust_update.unwrap_err()), "UpdateAssumeRolePolicy");
            denied(&code(&untag.unwrap_err()), "UntagRole");
            denied(&code(&attach.unwrap_err()), "AttachRolePolicy");
        }
    }

    // Users: aws:ResourceTag and iam:ResourceTag of the target user.
    for (name, tag) in [
        ("u-open", None),
        ("u-guarded", Some(("protected", "true"))),
        ("u-owned", Some(("owner", "security"))),
    ] {
        let mut c = admin.create_user().user_name(name);
        if let Some((k, v)) = tag {
            c = c.tags(iam_tag(k, v));
        }
        c.send().await.unwrap();
    }
    ops.create_access_key()
        .user_name("u-open")
        .send()
        .await
        .unwrap();
    let e = ops
        .create_access_key()
        .user_name("u-guarded")
        .send()
        .await
        .unwrap_err();
    denied(&code(&e), "CreateAccessKey on a protected user");
    let e = ops
        .delete_user()
        .user_name("u-owned")
        .send()
        .await
        .unwrap_err();
    denied(
        &code(&e),
        "DeleteUser on an iam:ResourceTag/owner=security user",
    );
    admin
        .create_user()
        .user_name("u-temp")
        .send()
        .await
        .unwrap();
    ops.delete_user().user_name("u-temp").send().await.unwrap();

    // Managed policies: aws:ResourceTag of the policy.
    admin
        .tag_role()
        .role_name("open-role")
        .tags(iam_tag("team", "blue"))
        .send()
        .await
        .unwrap();
    let guarded_policy = admin
        .create_policy()
        .policy_name("guarded-policy")
        .policy_document(ALLOW_S3_GET)
        .tags(iam_tag("protected", "true"))
        .send()
        .await
        .unwrap();
    let e = ops
        .create_policy_version()
        .policy_arn(guarded_policy.policy().unwrap().arn().unwrap())
        .policy_document(ALLOW_ALL)
        .send()
        .await
        .unwrap_err();
    denied(&code(&e), "CreatePolicyVersion on a protected policy");
    ops.create_policy_version()
        .policy_arn(format!("arn:aws:iam::{ACCT}:policy/plain"))
        .policy_document(ALLOW_ALL)
        .send()
        .await
        .unwrap();

    // Tagging: aws:TagKeys and aws:RequestTag/*.
    let e = ops
        .tag_role()
        .role_name("open-role")
        .tags(iam_tag("Protected", "true"))
        .send()
        .await
        .unwrap_err();
    denied(&code(&e), "TagRole adding the protected key");
    ops.tag_role()
        .role_name("open-role")
        .tags(iam_tag("cost", "1"))
        .send()
        .await
        .unwrap();
    let e = ops
        .untag_user()
        .user_name("u-open")
        .tag_keys("protected")
        .send()
        .await
        .unwrap_err();
    denied(&code(&e), "UntagUser of the protected key");
    let e = ops
        .create_role()
        .role_name("blue-role")
        .assume_role_policy_document(trust(&format!("arn:aws:iam::{ACCT}:root")))
        .tags(iam_tag("team", "blue"))
        .send()
        .await
        .unwrap_err();
    denied(&code(&e), "CreateRole with team=blue");
    ops.create_role()
        .role_name("red-role")
        .assume_role_policy_document(trust(&format!("arn:aws:iam::{ACCT}:root")))
        .tags(iam_tag("team", "red"))
        .send()
        .await
        .unwrap();

    // Boundaries: the requested boundary, then the target's current one.
    let e = ops
        .create_user()
        .user_name("unbounded")
        .send()
        .await
        .unwrap_err();
    denied(&code(&e), "CreateUser without the boundary");
    ops.create_user()
        .user_name("bounded")
        .permissions_boundary(&bound)
        .send()
        .await
        .unwrap();
    let e = ops
        .put_user_permissions_boundary()
        .user_name("bounded")
        .permissions_boundary(&forbidden)
        .send()
        .await
        .unwrap_err();
    denied(&code(&e), "PutUserPermissionsBoundary to another policy");
    let e = ops
        .delete_user_permissions_boundary()
        .user_name("bounded")
        .send()
        .await
        .unwrap_err();
    denied(&code(&e), "DeleteUserPermissionsBoundary of the bound user");
    let e = ops
        .put_user_policy()
        .user_name("bounded")
        .policy_name("p")
        .policy_document(ALLOW_S3_GET)
        .send()
        .await
        .unwrap_err();
    denied(&code(&e), "PutUserPolicy on a user with the boundary");
    ops.put_user_policy()
        .user_name("u-open")
        .policy_name("p")
        .policy_document(ALLOW_S3_GET)
        .send()
        .await
        .unwrap();
    ops.put_role_permissions_boundary()
        .role_name("open-role")
        .permissions_boundary(&bound)
        .send()
        .await
        .unwrap();

    // Groups (and users): iam:PolicyARN.
    admin.create_group().group_name("g").send().await.unwrap();
    let e = ops
        .attach_group_policy()
        .group_name("g")
        .policy_arn(&forbidden)
        .send()
        .await
        .unwrap_err();
    denied(&code(&e), "AttachGroupPolicy of the forbidden policy");
    ops.attach_group_policy()
        .group_name("g")
        .policy_arn(format!("arn:aws:iam::{ACCT}:policy/plain"))
        .send()
        .await
        .unwrap();
    let e = ops
        .attach_user_policy()
        .user_name("u-open")
        .policy_arn(&forbidden)
        .send()
        .await
        .unwrap_err();
    denied(&code(&e), "AttachUserPolicy of the forbidden policy");
}

#[tokio::test]
async fn a_malformed_policy_arn_is_invalid_input_not_a_missing_policy() {
    let s = common::start().await;
    let iam = s.iam(ADMIN.0, ADMIN.1, None);
    for arn in [
        "arn:aws:iam:111111111111:policy/x",
        "arn:aws:iam::111111111111:role/not-a-policy",
        "not an arn, though long enough",
        "arn:aws:iam::12345:policy/short-account",
    ] {
        let e = iam
            .attach_user_policy()
            .user_name("alice")
            .policy_arn(arn)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "InvalidInput", "{arn}");
        assert_eq!(message(&e), format!("ARN {arn} is not valid."));
    }
    let e = iam
        .attach_user_policy()
        .user_name("alice")
        .policy_arn("arn:aws:iam::111111111111:policy/nosuch")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchEntity");
}
