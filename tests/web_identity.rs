//! `AssumeRoleWithWebIdentity` end to end against a local OIDC issuer (real discovery and JWKS
//! over HTTP on 127.0.0.1), tokens signed by `jsonwebtoken`, calls made by aws-sdk-sts/iam.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::oidc::{Issuer, TestKey, ec_key, rsa_key};
use common::{Server, code, message, start_configured};
use serde_json::{Value, json};

const ACCT: &str = "111111111111";
const AUD: &str = "sts.amazonaws.com";
const GH_SUB: &str = "repo:org/repo:ref:refs/heads/main";

/// The bootstrap: the issuer as a provider, a role trusting it GitHub-style (aud and sub), and
/// a Kubernetes-style role trusting one service account.
fn bootstrap(issuer: &Issuer) -> String {
    let arn = issuer.arn(ACCT);
    let host = issuer.name();
    let gh = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Principal":{"Federated": arn},"Action":["sts:AssumeRoleWithWebIdentity","sts:TagSession"],
        "Condition":{"StringEquals":{format!("{host}:aud"): AUD},
                     "StringLike":{format!("{host}:sub"): "repo:org/repo:ref:refs/heads/main"}}}]});
    let k8s = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Principal":{"Federated": arn},"Action":"sts:AssumeRoleWithWebIdentity",
        "Condition":{"StringEquals":{format!("{host}:aud"): AUD,
            format!("{host}:sub"): "system:serviceaccount:apps:web"}}}]});
    format!(
        r#"
[[accounts]]
id = "{ACCT}"
[[accounts.oidc_providers]]
url = "{url}"
client_ids = ["{AUD}"]
[[accounts.roles]]
name = "ci"
trust_policy = '{gh}'
inline_policies.all = '{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"*","Resource":"*"}}]}}'
[[accounts.roles]]
name = "web"
trust_policy = '{k8s}'
[[accounts.users]]
name = "admin"
inline_policies.all = '{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"*","Resource":"*"}}]}}'
[[accounts.users.access_keys]]
id = "AKIARTXV5AHD2JZDEGXD"
secret = "adminSecretKeyadminSecretKeyadminSecret0"
"#,
        url = issuer.url
    )
}

struct Fixture {
    server: Server,
    issuer: Issuer,
    rsa: TestKey,
    ec: TestKey,
}

async fn fixture(refetch_interval: i64) -> Fixture {
    let rsa = rsa_key("rsa1");
    let ec = ec_key("ec1");
    let issuer = Issuer::start("gh", &[&rsa, &ec]).await;
    let server = start_configured(&bootstrap(&issuer), |c| {
        c.oidc.insecure_http_prefixes = vec!["http://127.0.0.1:".into()];
        c.oidc.refetch_interval_seconds = refetch_interval;
    })
    .await;
    Fixture {
        server,
        issuer,
        rsa,
        ec,
    }
}

impl Fixture {
    fn now(&self) -> i64 {
        sekisho::clock::Clock::now(&self.server.clock).timestamp()
    }

    fn claims(&self) -> Value {
        let now = self.now();
        json!({"iss": self.issuer.url, "aud": AUD, "sub": GH_SUB, "iat": now - 5,
               "nbf": now - 5, "exp": now + 300, "repository": "org/repo",
               "ref": "refs/heads/main", "job_workflow_ref": "org/repo/.github/workflows/d.yml@refs/heads/main"})
    }

    fn with(&self, f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
        let mut c = self.claims();
        f(c.as_object_mut().unwrap());
        c
    }

    async fn assume(
        &self,
        role: &str,
        token: &str,
    ) -> Result<
        aws_sdk_sts::operation::assume_role_with_web_identity::AssumeRoleWithWebIdentityOutput,
        (String, String),
    > {
        self.server
            .sts("AKIAUNUSED0000000000", "unused", None)
            .assume_role_with_web_identity()
            .role_arn(format!("arn:aws:iam::{ACCT}:role/{role}"))
            .role_session_name("gha")
            .web_identity_token(token)
            .send()
            .await
            .map_err(|e| (code(&e), message(&e)))
    }

    async fn refused(&self, token: &str) -> String {
        self.assume("ci", token).await.unwrap_err().0
    }
}

fn raw(header: &Value, claims: &Value, sig: &str) -> String {
    format!(
        "{}.{}.{sig}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

#[tokio::test]
async fn rs256_and_es256_tokens_give_web_identity_sessions() {
    let f = fixture(60).await;
    for key in [&f.rsa, &f.ec] {
        let out = f.assume("ci", &key.sign(&f.claims())).await.unwrap();
        assert_eq!(out.subject_from_web_identity_token(), Some(GH_SUB));
        assert_eq!(out.provider(), Some(f.issuer.url.as_str()));
        assert_eq!(out.audience(), Some(AUD));
        let user = out.assumed_role_user().unwrap();
        assert_eq!(
            user.arn(),
            format!("arn:aws:sts::{ACCT}:assumed-role/ci/gha")
        );
        let creds = out.credentials().unwrap();
        assert!(creds.access_key_id().starts_with("ASIA"));
        let who = f
            .server
            .sts_from(creds)
            .get_caller_identity()
            .send()
            .await
            .unwrap();
        assert_eq!(who.arn(), Some(user.arn()));
    }
    assert_eq!(f.issuer.jwks_hits(), 1, "one fetch for both keys");
}

#[tokio::test]
async fn the_github_trust_pattern_checks_the_sub_key_of_the_local_host() {
    let f = fixture(60).await;
    let other = f.with(|c| {
        c.insert("sub".into(), json!("repo:org/repo:ref:refs/heads/feature"));
    });
    let (c, m) = f.assume("ci", &f.rsa.sign(&other)).await.unwrap_err();
    assert_eq!(c, "AccessDenied");
    assert_eq!(m, "Not authorized to perform sts:AssumeRoleWithWebIdentity");
    let fork = f.with(|c| {
        c.insert("sub".into(), json!("repo:evil/repo:ref:refs/heads/main"));
    });
    assert_eq!(f.refused(&f.rsa.sign(&fork)).await, "AccessDenied");
    // The Kubernetes-style role takes only its service account.
    let sa = f.with(|c| {
        c.insert("sub".into(), json!("system:serviceaccount:apps:web"));
        c.insert(
            "kubernetes.io".into(),
            json!({"namespace":"apps","serviceaccount":{"name":"web"}}),
        );
    });
    f.assume("web", &f.rsa.sign(&sa)).await.unwrap();
    assert_eq!(
        f.assume("web", &f.rsa.sign(&f.claims()))
            .await
            .unwrap_err()
            .0,
        "AccessDenied"
    );
}

#[tokio::test]
async fn every_refusal_end_to_end() {
    let f = fixture(60).await;
    let now = f.now();
    let c = f.claims();
    let rsa = &f.rsa;
    // alg none; HS256 keyed with the RSA public key.
    assert_eq!(
        f.refused(&raw(&json!({"alg":"none","kid":"rsa1"}), &c, ""))
            .await,
        "InvalidIdentityToken"
    );
    let n = rsa.jwk["n"].as_str().unwrap().as_bytes().to_vec();
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    h.kid = Some("rsa1".into());
    let hs = jsonwebtoken::encode(&h, &c, &jsonwebtoken::EncodingKey::from_secret(&n)).unwrap();
    assert_eq!(f.refused(&hs).await, "InvalidIdentityToken");
    // Unknown kid; a key of another issuer.
    let stranger = rsa_key("stranger");
    assert_eq!(f.refused(&stranger.sign(&c)).await, "InvalidIdentityToken");
    let evil = Issuer::start("evil", &[&stranger]).await;
    let theirs = f.with(|m| {
        m.insert("iss".into(), json!(evil.url));
    });
    let (code, msg) = f.assume("ci", &stranger.sign(&theirs)).await.unwrap_err();
    assert_eq!(code, "InvalidIdentityToken");
    assert!(msg.contains("No OpenIDConnect provider found"), "{msg}");
    // Times.
    let expired = f.with(|m| {
        m.insert("exp".into(), json!(now - 400));
    });
    let (code, msg) = f.assume("ci", &rsa.sign(&expired)).await.unwrap_err();
    assert_eq!(code, "ExpiredTokenException");
    assert!(msg.starts_with("Token expired"), "{msg}");
    let early = f.with(|m| {
        m.insert("nbf".into(), json!(now + 400));
    });
    assert_eq!(f.refused(&rsa.sign(&early)).await, "InvalidIdentityToken");
    let string_exp = f.with(|m| {
        m.insert("exp".into(), json!((now + 300).to_string()));
    });
    assert_eq!(
        f.refused(&rsa.sign(&string_exp)).await,
        "InvalidIdentityToken"
    );
    // Audience, subject.
    let aud = f.with(|m| {
        m.insert("aud".into(), json!("someone-else"));
    });
    let (code, msg) = f.assume("ci", &rsa.sign(&aud)).await.unwrap_err();
    assert_eq!(
        (code.as_str(), msg.as_str()),
        ("InvalidIdentityToken", "Incorrect token audience")
    );
    let nosub = f.with(|m| {
        m.remove("sub");
    });
    assert_eq!(f.refused(&rsa.sign(&nosub)).await, "InvalidIdentityToken");
    // Size.
    let big = f.with(|m| {
        m.insert("pad".into(), json!("x".repeat(20_000)));
    });
    assert_eq!(f.refused(&rsa.sign(&big)).await, "ValidationError");
    // Keys the token names itself.
    let signed = rsa.sign(&c);
    let parts: Vec<&str> = signed.split('.').collect();
    for header in [
        json!({"alg":"RS256","kid":"rsa1","jku": format!("{}/jwks", evil.url)}),
        json!({"alg":"RS256","kid":"stranger","jwk": stranger.jwk}),
    ] {
        let t = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            parts[1],
            parts[2]
        );
        assert_eq!(f.refused(&t).await, "InvalidIdentityToken");
    }
    // A tampered payload under a genuine signature.
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(
            f.with(|m| {
                m.insert("sub".into(), json!("x-admin"));
            })
            .to_string()
        ),
        parts[2]
    );
    assert_eq!(f.refused(&tampered).await, "InvalidIdentityToken");
    // None of this hit the evil issuer.
    assert_eq!(evil.jwks_hits(), 0);
    f.assume("ci", &signed).await.unwrap();
}

#[tokio::test]
async fn rotation_fetches_the_new_key_once_and_an_outage_keeps_cached_keys() {
    let f = fixture(60).await;
    f.assume("ci", &f.rsa.sign(&f.claims())).await.unwrap();
    assert_eq!(f.issuer.jwks_hits(), 1);
    let next = rsa_key("rsa2");
    f.issuer.publish(&[&f.rsa, &next]);
    f.assume("ci", &next.sign(&f.claims())).await.unwrap();
    f.assume("ci", &next.sign(&f.claims())).await.unwrap();
    assert_eq!(f.issuer.jwks_hits(), 2, "the new kid fetched once");

    f.issuer.set_up(false);
    f.server.clock.advance(chrono::Duration::seconds(120));
    f.assume("ci", &f.rsa.sign(&f.claims())).await.unwrap();
    let third = rsa_key("rsa3");
    let (code, _) = f.assume("ci", &third.sign(&f.claims())).await.unwrap_err();
    assert_eq!(code, "IDPCommunicationError");
    f.assume("ci", &next.sign(&f.claims())).await.unwrap();
}

#[tokio::test]
async fn a_bogus_kid_flood_makes_at_most_one_fetch_per_interval() {
    let f = fixture(60).await;
    f.assume("ci", &f.rsa.sign(&f.claims())).await.unwrap();
    let before = f.issuer.jwks_hits();
    let bogus = rsa_key("bogus");
    let mut handles = Vec::new();
    for i in 0..40 {
        let mut k = TestKey {
            kid: format!("bogus{i}"),
            alg: bogus.alg,
            encoding: bogus.encoding.clone(),
            jwk: Value::Null,
        };
        k.kid = format!("bogus{i}");
        let t = k.sign(&f.claims());
        handles.push(t);
    }
    let results = futures::future::join_all(handles.iter().map(|t| f.assume("ci", t))).await;
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().is_err_and(|(c, _)| c == "InvalidIdentityToken"))
    );
    assert!(
        f.issuer.jwks_hits() - before <= 1,
        "{} fetches",
        f.issuer.jwks_hits() - before
    );
    f.server.clock.advance(chrono::Duration::seconds(61));
    for t in &handles {
        let _ = f.assume("ci", t).await;
    }
    assert!(f.issuer.jwks_hits() - before <= 2);
}

#[tokio::test]
async fn providers_are_managed_through_iam() {
    let f = fixture(60).await;
    let iam = f.server.iam(
        "AKIARTXV5AHD2JZDEGXD",
        "adminSecretKeyadminSecretKeyadminSecret0",
        None,
    );
    let url = "https://oidc.eks.us-east-1.amazonaws.com/id/ABC123";
    let arn = iam
        .create_open_id_connect_provider()
        .url(url)
        .client_id_list(AUD)
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("team")
                .value("k8s")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .open_id_connect_provider_arn()
        .unwrap()
        .to_owned();
    assert_eq!(
        arn,
        format!("arn:aws:iam::{ACCT}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC123")
    );
    let dup = iam
        .create_open_id_connect_provider()
        .url(url)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&dup), "EntityAlreadyExists");
    iam.add_client_id_to_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .client_id("other")
        .send()
        .await
        .unwrap();
    iam.update_open_id_connect_provider_thumbprint()
        .open_id_connect_provider_arn(&arn)
        .thumbprint_list("9e99a48a9960b14926bb7f3b02e22da2b0ab7280")
        .send()
        .await
        .unwrap();
    let got = iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.url(),
        Some("oidc.eks.us-east-1.amazonaws.com/id/ABC123")
    );
    assert_eq!(got.client_id_list(), [AUD.to_owned(), "other".to_owned()]);
    assert_eq!(got.thumbprint_list().len(), 1);
    iam.remove_client_id_from_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .client_id("other")
        .send()
        .await
        .unwrap();
    iam.untag_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    let tags = iam
        .list_open_id_connect_provider_tags()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await
        .unwrap();
    assert!(tags.tags().is_empty());
    let list = iam.list_open_id_connect_providers().send().await.unwrap();
    assert_eq!(list.open_id_connect_provider_list().len(), 2);
    // https only (the local prefix is configured for http://127.0.0.1: only).
    let e = iam
        .create_open_id_connect_provider()
        .url("http://idp.example.com")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidInput");
    // A trust policy naming a provider that does not exist is refused.
    let ghost = format!("arn:aws:iam::{ACCT}:oidc-provider/ghost.example.com");
    let trust = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Principal":{"Federated": ghost},"Action":"sts:AssumeRoleWithWebIdentity"}]});
    let e = iam
        .create_role()
        .role_name("ghostly")
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "MalformedPolicyDocument");
    let trust = trust.to_string().replace(&ghost, &arn);
    iam.create_role()
        .role_name("eks")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    iam.delete_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await
        .unwrap();
    let e = iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchEntity");
}
