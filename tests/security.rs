//! Regression tests for the security review (issue 15): tenancy of revocation, sessions bound to
//! the entities they were issued for, root and cross-account limits on AssumeRole.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod common;

use common::{ADMIN, ALICE, BOOTSTRAP, DEPLOYER, code};
use sekisho::clock::Clock;
use sekisho::secret::SecretString;

/// Account 222222222222 gets an administrator; account 333333333333 holds the operator, named
/// in `revocation.operators` by [`start`].
fn bootstrap() -> String {
    format!(
        r#"{BOOTSTRAP}
[[accounts.users]]
name = "prodadmin"
inline_policies.all = '{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"*","Resource":"*"}}]}}'
[[accounts.users.access_keys]]
id = "{}"
secret = "{}"

[[accounts]]
id = "333333333333"
root_access_keys = [{{ id = "{}", secret = "{}" }}]
[[accounts.users]]
name = "ops"
inline_policies.revoke = '{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"iam:RevokeSessions","Resource":"*"}}]}}'
[[accounts.users.access_keys]]
id = "{}"
secret = "{}"
"#,
        PROD_ADMIN.0, PROD_ADMIN.1, ROOT3.0, ROOT3.1, OPS.0, OPS.1
    )
}

const PROD_ADMIN: (&str, &str) = (
    "AKIATHPL2AOHOXRILAV5",
    "prodSecretKeyprodSecretKeyprodSecretKey0",
);
const OPS: (&str, &str) = (
    "AKIAZ7QKOPSOPSOPSOPS",
    "opsSecretKeyopsSecretKeyopsSecretKeyops0",
);
const ROOT3: (&str, &str) = (
    "AKIAZ7QKROOTROOTROOT",
    "rootSecretKeyrootSecretKeyrootSecretKey0",
);
const OPS_ARN: &str = "arn:aws:iam::333333333333:user/ops";

async fn start() -> common::Server {
    common::start_configured(&bootstrap(), |cfg| {
        cfg.revocation.operators = vec![OPS_ARN.to_owned()];
    })
    .await
}

/// Sends `RevokeSessions` signed with `who`; returns (status, body).
async fn revoke(s: &common::Server, who: (&str, &str), params: &[(&str, &str)]) -> (u16, String) {
    let mut p = vec![
        ("Action".to_owned(), "RevokeSessions".to_owned()),
        ("Version".to_owned(), "2010-05-08".to_owned()),
    ];
    p.extend(
        params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    sekisho::cli::signed_post(
        &s.endpoint,
        "us-east-1",
        "iam",
        &p,
        who.0,
        &SecretString::from(who.1),
        None,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_tenant_admin_cannot_touch_another_accounts_sessions_by_any_scope() {
    let s = start().await;
    let creds = common::assume_deployer(&s, "victim").await;
    let victim = s.sts_from(&creds);
    victim.get_caller_identity().send().await.unwrap();
    s.clock.advance(chrono::Duration::seconds(2));
    let key = creds.access_key_id().to_owned();
    let attempts: [&[(&str, &str)]; 6] = [
        &[("Scope", "all")],
        &[("Scope", "all"), ("Before", "2099-01-01T00:00:00Z")],
        &[("Scope", "account"), ("Target", "222222222222")],
        &[("Scope", "role"), ("Target", DEPLOYER)],
        &[
            ("Scope", "user"),
            ("Target", "arn:aws:iam::222222222222:user/prodadmin"),
        ],
        &[("Scope", "access-key"), ("Target", &key)],
    ];
    for params in attempts {
        let (status, body) = revoke(&s, ADMIN, params).await;
        assert!(
            status == 403 || status == 400,
            "{params:?} from account 111111111111 must be refused: {status} {body}"
        );
        victim
            .get_caller_identity()
            .send()
            .await
            .unwrap_or_else(|e| panic!("{params:?} affected account 222222222222: {e:?}"));
    }
    // The prod account's own administrator can revoke its own role's sessions.
    let (status, body) = revoke(&s, PROD_ADMIN, &[("Scope", "role"), ("Target", DEPLOYER)]).await;
    assert_eq!(status, 200, "{body}");
    let e = victim.get_caller_identity().send().await.unwrap_err();
    assert_eq!(code(&e), "ExpiredToken");
}

#[tokio::test]
async fn a_cutoff_in_the_future_is_refused_for_every_scope() {
    let s = start().await;
    let later = (s.clock.now() + chrono::Duration::hours(1)).to_rfc3339();
    for params in [
        vec![("Scope", "account"), ("Target", "111111111111")],
        vec![
            ("Scope", "user"),
            ("Target", "arn:aws:iam::111111111111:user/alice"),
        ],
        vec![("Scope", "all")],
    ] {
        let mut p = params.clone();
        p.push(("Before", &later));
        for who in [ADMIN, OPS] {
            let (status, body) = revoke(&s, who, &p).await;
            assert_eq!(status, 400, "{p:?}: {body}");
            assert!(body.contains("ValidationError"), "{body}");
        }
    }
    // Within the allowed skew is fine.
    let soon = (s.clock.now() + chrono::Duration::seconds(30)).to_rfc3339();
    let (status, body) = revoke(
        &s,
        ADMIN,
        &[
            ("Scope", "account"),
            ("Target", "111111111111"),
            ("Before", &soon),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn only_operators_revoke_everything_and_lower_a_cutoff() {
    let s = start().await;
    let victim = s.sts_from(&common::assume_deployer(&s, "victim2").await);
    // Neither an account root nor an admin of another account is an operator.
    for who in [ROOT3, ADMIN] {
        let (status, body) = revoke(&s, who, &[("Scope", "all")]).await;
        assert_eq!(status, 403, "{body}");
        let (status, body) = revoke(
            &s,
            who,
            &[
                ("Scope", "account"),
                ("Target", "333333333333"),
                ("Lower", "true"),
                ("Before", "none"),
            ],
        )
        .await;
        assert_eq!(status, 403, "{body}");
    }
    s.clock.advance(chrono::Duration::seconds(2));
    let (status, body) = revoke(&s, OPS, &[("Scope", "all")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        code(&victim.get_caller_identity().send().await.unwrap_err()),
        "ExpiredToken"
    );
    // The operator lowers the global cut-off again: the session lives.
    let (status, body) = revoke(
        &s,
        OPS,
        &[("Scope", "all"), ("Lower", "true"), ("Before", "none")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    victim.get_caller_identity().send().await.unwrap();
    // Operators reach into any account, by any scope.
    s.clock.advance(chrono::Duration::seconds(2));
    let (status, body) = revoke(&s, OPS, &[("Scope", "role"), ("Target", DEPLOYER)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        code(&victim.get_caller_identity().send().await.unwrap_err()),
        "ExpiredToken"
    );
    let (status, body) = revoke(
        &s,
        OPS,
        &[
            ("Scope", "role"),
            ("Target", DEPLOYER),
            ("Lower", "true"),
            ("Before", "none"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    victim.get_caller_identity().send().await.unwrap();
    // The audit trail names the operator and the lowering (the writer flushes every 20 ms).
    let mut lowered = false;
    for _ in 0..100 {
        let audit = std::fs::read_to_string(&s.state.config.audit.path).unwrap_or_default();
        lowered = audit.lines().any(|l| {
            l.contains("\"RevokeSessions\"")
                && l.contains(OPS_ARN)
                && l.contains("\"lowered\":true")
        });
        if lowered {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        lowered,
        "the lowering is audited with the operator's identity"
    );
}

#[tokio::test]
async fn revocation_by_key_id_takes_only_real_temporary_key_ids() {
    let s = start().await;
    let huge = format!("ASIA{}", "A".repeat(100_000));
    let long_term = ADMIN.0;
    let mangled = "ASIA111111111111111!";
    for target in [huge.as_str(), long_term, mangled] {
        let (status, body) =
            revoke(&s, ADMIN, &[("Scope", "access-key"), ("Target", target)]).await;
        assert_eq!(status, 400, "{body}");
    }
    let mine = s
        .sts(ADMIN.0, ADMIN.1, None)
        .get_session_token()
        .send()
        .await
        .unwrap()
        .credentials()
        .unwrap()
        .clone();
    let (status, body) = revoke(
        &s,
        ADMIN,
        &[("Scope", "access-key"), ("Target", mine.access_key_id())],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        code(
            &s.sts_from(&mine)
                .get_caller_identity()
                .send()
                .await
                .unwrap_err()
        ),
        "ExpiredToken"
    );
}

#[tokio::test]
async fn the_per_account_bound_on_single_session_revocations_holds() {
    let s = common::start_configured(&bootstrap(), |cfg| {
        cfg.revocation.max_session_revocations_per_account = 2;
    })
    .await;
    for i in 0..3 {
        let id = sekisho::ids::new_access_key_id("ASIA", "111111111111");
        let (status, body) = revoke(&s, ADMIN, &[("Scope", "access-key"), ("Target", &id)]).await;
        if i < 2 {
            assert_eq!(status, 200, "{body}");
        } else {
            assert_eq!(status, 409, "{body}");
            assert!(body.contains("LimitExceeded"), "{body}");
        }
    }
}

#[tokio::test]
async fn a_session_dies_with_its_role_even_if_the_name_is_reused() {
    let s = start().await;
    let creds = common::assume_deployer(&s, "old").await;
    let old = s.sts_from(&creds);
    old.get_caller_identity().send().await.unwrap();
    let iam = s.iam(PROD_ADMIN.0, PROD_ADMIN.1, None);
    iam.delete_role_policy()
        .role_name("deployer")
        .policy_name("work")
        .send()
        .await
        .unwrap();
    iam.delete_role()
        .role_name("deployer")
        .send()
        .await
        .unwrap();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"sts:AssumeRole"}]}"#;
    iam.create_role()
        .role_name("deployer")
        .path("/ops/")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    let e = old.get_caller_identity().send().await.unwrap_err();
    assert_eq!(code(&e), "InvalidClientTokenId", "{e:?}");
}

#[tokio::test]
async fn a_key_authenticates_only_as_the_user_it_was_made_for() {
    let s = start().await;
    let iam = s.iam(ADMIN.0, ADMIN.1, None);
    iam.create_user().user_name("temp").send().await.unwrap();
    let key = iam
        .create_access_key()
        .user_name("temp")
        .send()
        .await
        .unwrap()
        .access_key()
        .unwrap()
        .clone();
    s.sts(key.access_key_id(), key.secret_access_key(), None)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    // What a CreateAccessKey racing DeleteUser can leave behind: the user gone, the key stored.
    let kv = s.state.iam.kv();
    let user = s
        .state
        .iam
        .user("111111111111", "temp")
        .await
        .unwrap()
        .unwrap();
    kv.commit(
        sekisho::store::Batch::new()
            .delete("u/111111111111/temp")
            .delete(format!("uid/{}", user.id)),
    )
    .await
    .unwrap();
    iam.create_user().user_name("temp").send().await.unwrap();
    let e = s
        .sts(key.access_key_id(), key.secret_access_key(), None)
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidClientTokenId", "{e:?}");
}

#[tokio::test]
async fn the_root_user_cannot_assume_a_role() {
    let s = start().await;
    // Account 333333333333's root, against a role whose trust policy names that account.
    let iam = s.iam(ROOT3.0, ROOT3.1, None);
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::333333333333:root"},"Action":"sts:AssumeRole"}]}"#;
    let role = iam
        .create_role()
        .role_name("target")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap()
        .role()
        .unwrap()
        .arn()
        .to_owned();
    let e = s
        .sts(ROOT3.0, ROOT3.1, None)
        .assume_role()
        .role_arn(&role)
        .role_session_name("rs")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    assert_eq!(
        common::message(&e),
        "Roles may not be assumed by root accounts."
    );
    // Nor with the root's own session.
    let rs = s
        .sts(ROOT3.0, ROOT3.1, None)
        .get_session_token()
        .send()
        .await
        .unwrap();
    let e = s
        .sts_from(rs.credentials().unwrap())
        .assume_role()
        .role_arn(&role)
        .role_session_name("rs")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    // The ops user of that account can.
    let iam_user_policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#;
    iam.put_user_policy()
        .user_name("ops")
        .policy_name("assume")
        .policy_document(iam_user_policy)
        .send()
        .await
        .unwrap();
    s.sts(OPS.0, OPS.1, None)
        .assume_role()
        .role_arn(&role)
        .role_session_name("rs")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn session_policy_arns_only_from_the_roles_account_or_aws() {
    let s = start().await;
    // A customer managed policy in the dev account (not the role's).
    let dev = s.iam(ADMIN.0, ADMIN.1, None);
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    let foreign = dev
        .create_policy()
        .policy_name("devonly")
        .policy_document(doc)
        .send()
        .await
        .unwrap()
        .policy()
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let prod = s.iam(PROD_ADMIN.0, PROD_ADMIN.1, None);
    let own = prod
        .create_policy()
        .policy_name("prodonly")
        .policy_document(doc)
        .send()
        .await
        .unwrap()
        .policy()
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let assume = |arn: String| {
        s.sts(ALICE.0, ALICE.1, None)
            .assume_role()
            .role_arn(DEPLOYER)
            .role_session_name("ps")
            .external_id("ext-123")
            .policy_arns(
                aws_sdk_sts::types::PolicyDescriptorType::builder()
                    .arn(arn)
                    .build(),
            )
            .send()
    };
    let e = assume(foreign.clone()).await.unwrap_err();
    assert_eq!(code(&e), "ValidationError", "{e:?}");
    // The answer for another account's existing policy is the one for a missing policy.
    let missing = foreign.replace("devonly", "nosuch");
    let e2 = assume(missing.clone()).await.unwrap_err();
    assert_eq!(
        common::message(&e).replace("devonly", "X"),
        common::message(&e2).replace("nosuch", "X")
    );
    assume(own).await.unwrap();
    if s.state
        .iam
        .aws_managed()
        .contains_key("arn:aws:iam::aws:policy/ReadOnlyAccess")
    {
        assume("arn:aws:iam::aws:policy/ReadOnlyAccess".into())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn an_authorization_message_decodes_only_in_the_account_it_is_about() {
    let s = start().await;
    let json = r#"{"allowed":false,"context":{"action":"s3:PutObject"}}"#;
    let encoded = sekisho::verify::encode_message(&s.state, "222222222222", json).unwrap();
    let decoded = s
        .sts(PROD_ADMIN.0, PROD_ADMIN.1, None)
        .decode_authorization_message()
        .encoded_message(&encoded)
        .send()
        .await
        .unwrap();
    assert_eq!(decoded.decoded_message(), Some(json));
    // An administrator of another account, allowed sts:DecodeAuthorizationMessage, cannot.
    let e = s
        .sts(ADMIN.0, ADMIN.1, None)
        .decode_authorization_message()
        .encoded_message(&encoded)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidAuthorizationMessageException");
}
