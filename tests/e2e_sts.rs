//! End to end through the official `aws-sdk-sts` client: identity, session tokens, AssumeRole
//! across accounts, chaining, federation tokens, verification, revocation, expiry.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod common;

use aws_sdk_sts::types::Tag;
use common::{ADMIN, ALICE, BOB, DEPLOYER, code, message};
use http_body_util::{BodyExt, Full};
use sekisho::clock::Clock;
use sekisho::secret::SecretString;

const AUDITOR: &str = "arn:aws:iam::222222222222:role/auditor";

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build().unwrap()
}

#[tokio::test]
async fn caller_identity_with_long_term_and_session_credentials() {
    let s = common::start().await;
    let admin = s.sts(ADMIN.0, ADMIN.1, None);
    let me = admin.get_caller_identity().send().await.unwrap();
    assert_eq!(me.arn(), Some("arn:aws:iam::111111111111:user/admin"));
    assert_eq!(me.account(), Some("111111111111"));
    assert!(me.user_id().unwrap().starts_with("AIDA"));

    let out = admin
        .get_session_token()
        .duration_seconds(900)
        .send()
        .await
        .unwrap();
    let c = out.credentials().unwrap();
    assert!(c.access_key_id().starts_with("ASIA"));
    assert_eq!(c.access_key_id().len(), 20);
    assert_eq!(c.secret_access_key().len(), 40);
    let temp = s.sts_from(c);
    let me2 = temp.get_caller_identity().send().await.unwrap();
    assert_eq!(me2.arn(), me.arn());
    assert_eq!(me2.user_id(), me.user_id());

    // Session credentials cannot call GetSessionToken again.
    let e = temp.get_session_token().send().await.unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    assert!(message(&e).contains("Cannot call GetSessionToken with session credentials"));
}

#[tokio::test]
async fn bad_credentials_are_refused_with_aws_codes() {
    let s = common::start().await;
    let e = s
        .sts("AKIARTXV5AHD2JZZZZZZ", ADMIN.1, None)
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidClientTokenId");
    let e = s
        .sts(ADMIN.0, "wrongwrongwrongwrongwrongwrongwrongwrong", None)
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "SignatureDoesNotMatch");

    let out = s
        .sts(ADMIN.0, ADMIN.1, None)
        .get_session_token()
        .send()
        .await
        .unwrap();
    let c = out.credentials().unwrap();
    // Tampered token: flip one character in the middle.
    let mut t: Vec<char> = c.session_token().chars().collect();
    let mid = t.len() / 2;
    t[mid] = if t[mid] == 'A' { 'B' } else { 'A' };
    let tampered: String = t.into_iter().collect();
    let e = s
        .sts(c.access_key_id(), c.secret_access_key(), Some(&tampered))
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidClientTokenId");
    // Token of another session with this key id.
    let other = s
        .sts(ADMIN.0, ADMIN.1, None)
        .get_session_token()
        .send()
        .await
        .unwrap();
    let e = s
        .sts(
            c.access_key_id(),
            c.secret_access_key(),
            Some(other.credentials().unwrap().session_token()),
        )
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidClientTokenId");
    // Missing token with an ASIA id.
    let e = s
        .sts(c.access_key_id(), c.secret_access_key(), None)
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidClientTokenId");
}

#[tokio::test]
async fn expired_session_is_refused() {
    let s = common::start().await;
    let out = s
        .sts(ADMIN.0, ADMIN.1, None)
        .get_session_token()
        .duration_seconds(900)
        .send()
        .await
        .unwrap();
    let temp = s.sts_from(out.credentials().unwrap());
    temp.get_caller_identity().send().await.unwrap();
    s.clock.advance(chrono::Duration::seconds(901));
    let e = temp.get_caller_identity().send().await.unwrap_err();
    assert_eq!(code(&e), "ExpiredToken");
}

#[tokio::test]
async fn get_session_token_limits() {
    let s = common::start().await;
    let admin = s.sts(ADMIN.0, ADMIN.1, None);
    let e = admin
        .get_session_token()
        .duration_seconds(899)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationError");
    let e = admin
        .get_session_token()
        .duration_seconds(129_601)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationError");
    let now = s.clock.now().timestamp();
    let out = admin.get_session_token().send().await.unwrap();
    let exp = out.credentials().unwrap().expiration().secs();
    assert_eq!(exp - now, 43200, "default is 12 hours");
    let e = admin
        .get_session_token()
        .serial_number("arn:aws:iam::111111111111:mfa/admin")
        .token_code("123456")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
}

#[tokio::test]
async fn access_key_info_needs_permission() {
    let s = common::start().await;
    let out = s
        .sts(ALICE.0, ALICE.1, None)
        .get_access_key_info()
        .access_key_id(BOB.0)
        .send()
        .await
        .unwrap();
    assert_eq!(out.account(), Some("111111111111"));
    let e = s
        .sts(BOB.0, BOB.1, None)
        .get_access_key_info()
        .access_key_id(ALICE.0)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
}

#[tokio::test]
async fn cross_account_assume_role_with_external_id() {
    let s = common::start().await;
    let alice = s.sts(ALICE.0, ALICE.1, None);
    let out = alice
        .assume_role()
        .role_arn(DEPLOYER)
        .role_session_name("alice-deploy")
        .external_id("ext-123")
        .send()
        .await
        .unwrap();
    let u = out.assumed_role_user().unwrap();
    assert_eq!(
        u.arn(),
        "arn:aws:sts::222222222222:assumed-role/deployer/alice-deploy"
    );
    assert!(u.assumed_role_id().starts_with("AROA"));
    assert!(u.assumed_role_id().ends_with(":alice-deploy"));
    let me = s
        .sts_from(out.credentials().unwrap())
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(me.arn(), Some(u.arn()));
    assert_eq!(me.account(), Some("222222222222"));
    assert_eq!(me.user_id(), Some(u.assumed_role_id()));

    for ext in [Some("wrong-id"), None] {
        let mut req = alice
            .assume_role()
            .role_arn(DEPLOYER)
            .role_session_name("x1");
        if let Some(x) = ext {
            req = req.external_id(x);
        }
        let e = req.send().await.unwrap_err();
        assert_eq!(code(&e), "AccessDenied");
        assert_eq!(
            message(&e),
            format!(
                "User: arn:aws:iam::111111111111:user/alice is not authorized to perform: sts:AssumeRole on resource: {DEPLOYER}"
            )
        );
    }
    // Bob's own policies allow nothing: cross-account needs both sides.
    let e = s
        .sts(BOB.0, BOB.1, None)
        .assume_role()
        .role_arn(DEPLOYER)
        .role_session_name("bob")
        .external_id("ext-123")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    // A role that does not exist gets the same answer.
    let e = alice
        .assume_role()
        .role_arn("arn:aws:iam::222222222222:role/nope")
        .role_session_name("x1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    // Durations: above the role's maximum, and bad session names.
    let e = alice
        .assume_role()
        .role_arn(DEPLOYER)
        .role_session_name("x1")
        .external_id("ext-123")
        .duration_seconds(7201)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationError");
    assert_eq!(
        message(&e),
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    );
    let e = alice
        .assume_role()
        .role_arn(DEPLOYER)
        .role_session_name("bad name")
        .external_id("ext-123")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationError");
    assert!(message(&e).contains("roleSessionName"));
}

/// Signs a request for service `svc` with temporary credentials and asks `/verify` about it.
async fn verify(
    s: &common::Server,
    caller: (&str, &str),
    creds: &aws_sdk_sts::types::Credentials,
    action: &str,
) -> serde_json::Value {
    let body = verify_question(s, creds, action).to_string();
    let (status, answer) = verify_raw(s, caller, body).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

/// The `/verify` question for an S3 GET signed with `creds`.
fn verify_question(
    s: &common::Server,
    creds: &aws_sdk_sts::types::Credentials,
    action: &str,
) -> serde_json::Value {
    let now = s.clock.now();
    let mut h = http::HeaderMap::new();
    h.insert("host", "bucket.s3.local".parse().unwrap());
    let body = b"";
    let signed = sekisho::sigv4::sign_request(
        "GET",
        "/key.txt",
        "",
        &h,
        body,
        creds.access_key_id(),
        &SecretString::from(creds.secret_access_key()),
        Some(creds.session_token()),
        "us-east-1",
        "s3",
        now,
    );
    let mut headers: Vec<(String, String)> = vec![("host".into(), "bucket.s3.local".into())];
    headers.extend(signed);
    serde_json::json!({
        "request": {
            "method": "GET", "path": "/key.txt", "query": "", "headers": headers,
            "payload_hash": hex::encode(<sha2::Sha256 as sha2::Digest>::digest(body)),
        },
        "service": "s3",
        "action": action,
        "resource": "arn:aws:s3:::bucket/key.txt",
    })
}

/// Posts `body` to `/verify`, signed by `caller`: the HTTP status and the JSON answer.
async fn verify_raw(
    s: &common::Server,
    caller: (&str, &str),
    body: String,
) -> (u16, serde_json::Value) {
    let now = s.clock.now();
    let mut vh = http::HeaderMap::new();
    let host = s.endpoint.trim_start_matches("http://").to_owned();
    vh.insert("host", host.parse().unwrap());
    vh.insert("content-type", "application/json".parse().unwrap());
    let auth = sekisho::sigv4::sign_request(
        "POST",
        "/verify",
        "",
        &vh,
        body.as_bytes(),
        caller.0,
        &SecretString::from(caller.1),
        None,
        "us-east-1",
        "sts",
        now,
    );
    let mut req = http::Request::builder()
        .method("POST")
        .uri(format!("{}/verify", s.endpoint));
    for (k, v) in vh.iter() {
        req = req.header(k, v);
    }
    for (k, v) in auth {
        req = req.header(k, v);
    }
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let resp = client
        .request(req.body(Full::new(bytes::Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    if status == 200 {
        (status, serde_json::from_slice(&bytes).unwrap())
    } else {
        (
            status,
            serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned()),
        )
    }
}

#[tokio::test]
async fn verify_reads_header_lists_as_sent_and_refuses_malformed_ones() {
    let s = common::start().await;
    let c = &common::assume_deployer(&s, "headers").await;
    let question = verify_question(&s, c, "s3:GetObject");
    let with_headers = |edit: &dyn Fn(&mut Vec<serde_json::Value>)| {
        let mut q = question.clone();
        let list = q["request"]["headers"].as_array_mut().unwrap();
        edit(list);
        q
    };

    // Names in any case, and JSON escapes in names and values, are read as sent.
    let upper = with_headers(&|list| {
        for pair in list.iter_mut() {
            let name = pair[0].as_str().unwrap().to_ascii_uppercase();
            pair[0] = serde_json::Value::String(name);
        }
    });
    let (status, answer) = verify_raw(&s, ADMIN, upper.to_string()).await;
    assert_eq!(status, 200);
    assert_eq!(answer["authenticated"], true, "{answer}");
    let escaped = question
        .to_string()
        .replacen("\"host\"", "\"\\u0068ost\"", 1)
        .replacen("\"x-amz-date\"", "\"x-amz-\\u0064ate\"", 1);
    assert!(escaped.contains("\\u0068ost") && escaped.contains("\\u0064ate"));
    let (status, answer) = verify_raw(&s, ADMIN, escaped).await;
    assert_eq!(status, 200);
    assert_eq!(answer["authenticated"], true, "{answer}");

    // A signed header sent twice is refused as AWS refuses it.
    let twice = with_headers(&|list| {
        let date = list.iter().find(|p| p[0] == "x-amz-date").unwrap().clone();
        list.push(date);
    });
    let (status, answer) = verify_raw(&s, ADMIN, twice.to_string()).await;
    assert_eq!(status, 200);
    assert_eq!(answer["authenticated"], false);
    assert_eq!(answer["error"]["code"], "IncompleteSignature", "{answer}");

    // Control characters in a value, or a name that is not a token: a ValidationError.
    for bad in [
        serde_json::json!(["x-note", "line\nbreak"]),
        serde_json::json!(["x-note", "bell\u{7}"]),
        serde_json::json!(["bad name", "v"]),
        serde_json::json!(["", "v"]),
    ] {
        let q = with_headers(&|list| list.push(bad.clone()));
        let (status, answer) = verify_raw(&s, ADMIN, q.to_string()).await;
        assert_eq!(status, 400, "{bad}: {answer}");
        assert!(answer.to_string().contains("ValidationError"), "{answer}");
    }
}

#[tokio::test]
async fn session_policy_narrows_and_tags_are_visible_to_resource_servers() {
    let s = common::start().await;
    let alice = s.sts(ALICE.0, ALICE.1, None);
    let out = alice
        .assume_role()
        .role_arn(DEPLOYER)
        .role_session_name("narrow")
        .external_id("ext-123")
        .policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","sts:AssumeRole","sts:TagSession"],"Resource":"*"}]}"#)
        .tags(tag("project", "apollo"))
        .tags(tag("cost", "42"))
        .transitive_tag_keys("project")
        .send()
        .await
        .unwrap();
    #[allow(deprecated, reason = "PackedPolicySize is what AWS still sends")]
    let packed = out.packed_policy_size().unwrap();
    assert!(packed > 0);
    let c = out.credentials().unwrap();
    let get = verify(&s, ADMIN, c, "s3:GetObject").await;
    assert_eq!(get["authenticated"], true);
    assert_eq!(
        get["principal"]["arn"],
        "arn:aws:sts::222222222222:assumed-role/deployer/narrow"
    );
    assert_eq!(get["principal"]["account"], "222222222222");
    assert_eq!(get["sessionTags"]["project"], "apollo");
    assert_eq!(get["sessionTags"]["cost"], "42");
    assert_eq!(get["transitiveTagKeys"][0], "project");
    assert_eq!(get["decision"]["effect"], "Allow", "{get}");
    let put = verify(&s, ADMIN, c, "s3:PutObject").await;
    assert_eq!(
        put["decision"]["effect"], "ImplicitDeny",
        "the session policy narrows: {put}"
    );
    let encoded = put["decision"]["encodedMessage"]
        .as_str()
        .unwrap()
        .to_owned();
    // The message is about account 222222222222's policies: the asker (another account) cannot
    // read it (tests/security.rs decodes it from the signer's own account).
    let e = s
        .sts(ADMIN.0, ADMIN.1, None)
        .decode_authorization_message()
        .encoded_message(&encoded)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidAuthorizationMessageException");
    let e = s
        .sts(BOB.0, BOB.1, None)
        .decode_authorization_message()
        .encoded_message(&encoded)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    let e = s
        .sts(ADMIN.0, ADMIN.1, None)
        .decode_authorization_message()
        .encoded_message("garbage")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidAuthorizationMessageException");

    // Chaining: one hour cap, transitive tags carry over and cannot be overridden.
    let chain = s.sts_from(c);
    let e = chain
        .assume_role()
        .role_arn(AUDITOR)
        .role_session_name("chain")
        .duration_seconds(3601)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationError");
    assert!(message(&e).contains("role chaining"));
    let e = chain
        .assume_role()
        .role_arn(AUDITOR)
        .role_session_name("chain")
        .tags(tag("project", "other"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidParameterValue");
    let out2 = chain
        .assume_role()
        .role_arn(AUDITOR)
        .role_session_name("chain")
        .send()
        .await
        .unwrap();
    let c2 = out2.credentials().unwrap();
    let v = verify(&s, ADMIN, c2, "s3:GetObject").await;
    assert_eq!(
        v["principal"]["arn"],
        "arn:aws:sts::222222222222:assumed-role/auditor/chain"
    );
    assert_eq!(
        v["sessionTags"]["project"], "apollo",
        "transitive tag carried: {v}"
    );
    assert!(
        v["sessionTags"].get("cost").is_none(),
        "non-transitive tag dropped: {v}"
    );
    assert_eq!(v["decision"]["effect"], "Allow");
}

#[tokio::test]
async fn revoke_before_now_kills_old_sessions_only() {
    let s = common::start().await;
    let alice = s.sts(ALICE.0, ALICE.1, None);
    let assume = |name: &'static str| {
        alice
            .assume_role()
            .role_arn(DEPLOYER)
            .role_session_name(name)
            .external_id("ext-123")
            .send()
    };
    let old = assume("old").await.unwrap();
    let old_client = s.sts_from(old.credentials().unwrap());
    old_client.get_caller_identity().send().await.unwrap();
    s.clock.advance(chrono::Duration::seconds(5));
    // Revoke through the IAM-style action, as the prod account's admin would: here the dev admin
    // is in another account and must be refused.
    let params = sekisho::cli::revoke_params(&sekisho::cli::RevokeArgs {
        role: Some(DEPLOYER.into()),
        user: None,
        account: None,
        all: false,
        access_key: None,
        before: "now".into(),
        lower: false,
        endpoint_url: s.endpoint.clone(),
        region: "us-east-1".into(),
    })
    .unwrap();
    let (status, body) = sekisho::cli::signed_post(
        &s.endpoint,
        "us-east-1",
        "iam",
        &params,
        ADMIN.0,
        &SecretString::from(ADMIN.1),
        None,
    )
    .await
    .unwrap();
    assert_eq!(status, 403, "cross-account revoke refused: {body}");
    old_client.get_caller_identity().send().await.unwrap();
    // The role's own account revokes (through the library, as the admin action does).
    let role = &s
        .state
        .iam
        .role_view_by_arn(DEPLOYER)
        .await
        .unwrap()
        .unwrap()
        .role;
    s.state
        .revocations
        .revoke(
            &sekisho::revocation::Scope::Role(role.id.clone()),
            s.clock.now(),
        )
        .await
        .unwrap();
    let e = old_client.get_caller_identity().send().await.unwrap_err();
    assert_eq!(code(&e), "ExpiredToken");
    let e = s
        .sts_from(old.credentials().unwrap())
        .assume_role()
        .role_arn(AUDITOR)
        .role_session_name("x2")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ExpiredToken");
    s.clock.advance(chrono::Duration::seconds(1));
    let new = assume("new").await.unwrap();
    s.sts_from(new.credentials().unwrap())
        .get_caller_identity()
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn federation_token() {
    let s = common::start().await;
    let alice = s.sts(ALICE.0, ALICE.1, None);
    let out = alice
        .get_federation_token()
        .name("partner")
        .policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let f = out.federated_user().unwrap();
    assert_eq!(f.arn(), "arn:aws:sts::111111111111:federated-user/partner");
    assert_eq!(f.federated_user_id(), "111111111111:partner");
    let fed = s.sts_from(out.credentials().unwrap());
    let me = fed.get_caller_identity().send().await.unwrap();
    assert_eq!(me.arn(), Some(f.arn()));
    let e = fed
        .assume_role()
        .role_arn(DEPLOYER)
        .role_session_name("x1")
        .external_id("ext-123")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    let e = s
        .sts(BOB.0, BOB.1, None)
        .get_federation_token()
        .name("partner")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&e),
        "AccessDenied",
        "bob may not call GetFederationToken"
    );
}

/// Security issue 15, finding 4: the question's `context` cannot set keys Sekisho owns, the
/// transport comes from the described request, and another account's policies are not named.
#[tokio::test]
async fn verify_context_cannot_override_global_keys() {
    let s = common::start().await;
    let c = &common::assume_deployer(&s, "revoked").await;
    s.clock.advance(chrono::Duration::seconds(5));
    // The AWS way of revoking: deny sessions issued before now.
    let cutoff = sekisho::wire::time::iso8601(&s.clock.now());
    let revoke = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"RevokeOlder","Effect":"Deny","Action":"*","Resource":"*","Condition":{{"DateLessThan":{{"aws:TokenIssueTime":"{cutoff}"}}}}}}]}}"#
    );
    s.state
        .iam
        .put_inline_policy(
            sekisho::iam::repo::EntityKind::Role,
            "222222222222",
            "deployer",
            "revoke",
            &revoke,
        )
        .await
        .unwrap();
    let denied = verify(&s, ADMIN, c, "s3:GetObject").await;
    assert_eq!(denied["decision"]["effect"], "ExplicitDeny", "{denied}");

    // Every global key is refused, whatever its case; so are STS/IAM/SAML/federation keys and
    // keys without a service prefix.
    let future = "2099-01-01T00:00:00Z";
    for (key, value) in [
        ("aws:TokenIssueTime", serde_json::json!(future)),
        ("AWS:tokenissuetime", serde_json::json!(future)),
        ("aws:PrincipalTag/team", serde_json::json!("admins")),
        (
            "aws:PrincipalArn",
            serde_json::json!("arn:aws:iam::222222222222:root"),
        ),
        ("aws:userid", serde_json::json!("AIDAEXAMPLE")),
        ("aws:MultiFactorAuthPresent", serde_json::json!("true")),
        ("aws:SecureTransport", serde_json::json!("true")),
        ("aws:SourceIp", serde_json::json!("10.0.0.1")),
        ("sts:ExternalId", serde_json::json!("x")),
        ("iam:PolicyARN", serde_json::json!("x")),
        ("saml:aud", serde_json::json!("x")),
        ("accounts.google.com:sub", serde_json::json!("x")),
        (
            "cognito-identity.amazonaws.com:amr",
            serde_json::json!(["authenticated"]),
        ),
        (
            "token.actions.githubusercontent.com:sub",
            serde_json::json!("repo:x"),
        ),
        ("noprefix", serde_json::json!("x")),
    ] {
        let mut q = verify_question(&s, c, "s3:GetObject");
        q["context"] = serde_json::json!({ key: value });
        let (status, answer) = verify_raw(&s, ADMIN, q.to_string()).await;
        assert_eq!(status, 400, "{key}: {answer}");
        assert!(answer.to_string().contains("ValidationError"), "{answer}");
    }
    // The revoked session stays denied; service keys are still taken.
    let mut q = verify_question(&s, c, "s3:GetObject");
    q["context"] = serde_json::json!({ "s3:prefix": "logs/" });
    let (status, answer) = verify_raw(&s, ADMIN, q.to_string()).await;
    assert_eq!(status, 200);
    assert_eq!(answer["decision"]["effect"], "ExplicitDeny", "{answer}");

    // The asker (account 111111111111) is not told which of 222222222222's policies decided.
    let text = answer.to_string();
    assert!(
        !text.contains("RevokeOlder") && !text.contains("deployer#inline"),
        "{text}"
    );
    assert_eq!(
        answer["decision"]["matched"][0]["policy"],
        "HIDDEN_DUE_TO_SECURITY_REASONS"
    );
    assert_eq!(answer["decision"]["matched"][0]["effect"], "Deny");
}

#[tokio::test]
async fn verify_takes_secure_transport_from_the_described_request() {
    let s = common::start().await;
    let c = &common::assume_deployer(&s, "tls").await;
    let tls_only = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"BoolIfExists":{"aws:SecureTransport":"false"}}}]}"#;
    s.state
        .iam
        .put_inline_policy(
            sekisho::iam::repo::EntityKind::Role,
            "222222222222",
            "deployer",
            "tls",
            tls_only,
        )
        .await
        .unwrap();
    let ask = |scheme: Option<&str>| {
        let mut q = verify_question(&s, c, "s3:GetObject");
        if let Some(sch) = scheme {
            q["request"]["scheme"] = serde_json::json!(sch);
        }
        q.to_string()
    };
    let effect = |a: &serde_json::Value| a["decision"]["effect"].as_str().unwrap().to_owned();
    let (_, a) = verify_raw(&s, ADMIN, ask(Some("https"))).await;
    assert_eq!(effect(&a), "Allow", "{a}");
    let (_, a) = verify_raw(&s, ADMIN, ask(Some("HTTP"))).await;
    assert_eq!(effect(&a), "ExplicitDeny", "{a}");
    // Unknown transport: the key is absent, so the IfExists guardrail denies.
    let (_, a) = verify_raw(&s, ADMIN, ask(None)).await;
    assert_eq!(effect(&a), "ExplicitDeny", "{a}");
    let (status, _) = verify_raw(&s, ADMIN, ask(Some("ftp"))).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn verify_names_policies_of_the_askers_own_account() {
    let s = common::start().await;
    let out = s
        .sts(ALICE.0, ALICE.1, None)
        .get_session_token()
        .send()
        .await
        .unwrap();
    let c = out.credentials().unwrap();
    // alice (111111111111) may not put objects; admin of the same account asks.
    let (status, a) = verify_raw(
        &s,
        ADMIN,
        verify_question(&s, c, "sts:GetFederationToken").to_string(),
    )
    .await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["decision"]["effect"], "Allow", "{a}");
    assert_eq!(
        a["decision"]["matched"][0]["policy"], "arn:aws:iam::111111111111:user/alice#inline/assume",
        "{a}"
    );
}

#[tokio::test]
async fn a_malformed_role_arn_is_a_validation_error_not_a_denial() {
    let s = common::start().await;
    let alice = s.sts(ALICE.0, ALICE.1, None);
    for arn in [
        "arn:aws:iam:222222222222:role/ops/deployer",
        "arn:aws:iam::222222222222:user/ops/deployer",
        "this-is-not-an-arn-at-all",
    ] {
        let e = alice
            .assume_role()
            .role_arn(arn)
            .role_session_name("x1")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "ValidationError", "{arn}");
    }
    // A well-formed ARN of a role that does not exist is a denial, as AWS answers it.
    let e = alice
        .assume_role()
        .role_arn("arn:aws:iam::222222222222:role/nosuchrole")
        .role_session_name("x1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
}
