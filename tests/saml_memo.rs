//! The SAML reduction memo (`[saml] verification_memo_entries`) end to end: a response replayed
//! as it is skips xmlsec's work, and nothing else — the times against the server's clock, the
//! replay mark, the provider's current certificates and entity id — is remembered with it.
//! The provider's trust material kept between requests is likewise re-derived after every
//! `UpdateSAMLProvider`. Responses are signed by the `xmlsec1` command; calls are made by
//! aws-sdk-sts / aws-sdk-iam.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests"
)]

mod common;

use common::saml::{
    Claims, Key, SignWhat, aws_rules, b64, encrypted_response, have_xmlsec1, metadata, pure_trust,
    signed_response,
};
use common::{ADMIN, Server, code, message, skip, start_configured};
use serde_json::json;

const ACCT: &str = "111111111111";
const ISSUER: &str = "http://www.okta.com/exk1memo";
const PROVIDER: &str = "arn:aws:iam::111111111111:saml-provider/Okta";
const ROLE: &str = "arn:aws:iam::111111111111:role/dev";

fn bootstrap(meta: &str) -> String {
    let trust = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Principal":{"Federated": PROVIDER},
        "Action":"sts:AssumeRoleWithSAML",
        "Condition":{"StringEquals":{"saml:aud": "https://signin.aws.amazon.com/saml"}}}]});
    format!(
        r#"
[[accounts]]
id = "{ACCT}"
[[accounts.saml_providers]]
name = "Okta"
metadata = '''{meta}'''
[[accounts.roles]]
name = "dev"
trust_policy = '{trust}'
[[accounts.users]]
name = "admin"
inline_policies.all = '{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"*","Resource":"*"}}]}}'
[[accounts.users.access_keys]]
id = "{}"
secret = "{}"
"#,
        ADMIN.0, ADMIN.1
    )
}

struct Fixture {
    server: Server,
    key: Key,
}

async fn fixture(tweak: impl FnOnce(&mut sekisho::config::Config)) -> Option<Fixture> {
    if !have_xmlsec1() {
        skip("the xmlsec1 command (apt install xmlsec1) signs the test responses");
        return None;
    }
    let key = Key::rsa();
    let server = start_configured(&bootstrap(&metadata(ISSUER, &[&key])), tweak).await;
    Some(Fixture { server, key })
}

impl Fixture {
    fn response(&self, what: SignWhat) -> String {
        signed_response(&Claims::new(ISSUER, ROLE, PROVIDER), &self.key, what)
    }

    async fn assume(&self, xml: &str) -> Result<String, (String, String)> {
        self.server
            .sts("AKIAUNUSED0000000000", "unused", None)
            .assume_role_with_saml()
            .role_arn(ROLE)
            .principal_arn(PROVIDER)
            .saml_assertion(b64(xml))
            .send()
            .await
            .map(|o| o.subject().unwrap_or_default().to_owned())
            .map_err(|e| (code(&e), message(&e)))
    }

    fn memoized(&self) -> usize {
        self.server.state.saml_memo.len()
    }

    async fn update_metadata(&self, meta: String) {
        self.server
            .iam(ADMIN.0, ADMIN.1, None)
            .update_saml_provider()
            .saml_provider_arn(PROVIDER)
            .saml_metadata_document(meta)
            .send()
            .await
            .unwrap();
    }
}

fn reuse(c: &mut sekisho::config::Config) {
    c.saml.allow_assertion_reuse = true;
}

#[tokio::test]
async fn a_replayed_response_is_reduced_once_and_still_expires() {
    let Some(f) = fixture(reuse).await else {
        return;
    };
    for what in [SignWhat::Assertion, SignWhat::Response] {
        let xml = f.response(what);
        let before = f.memoized();
        assert_eq!(f.assume(&xml).await.unwrap(), "alice@example.com");
        assert_eq!(
            f.memoized(),
            before + 1,
            "{what:?}: the reduction is remembered"
        );
        assert_eq!(f.assume(&xml).await.unwrap(), "alice@example.com");
        assert_eq!(f.memoized(), before + 1, "{what:?}: the replay was a hit");
    }
    // One changed byte (another assertion id, same claims otherwise) is verified afresh.
    let xml = f.response(SignWhat::Assertion);
    let tampered = xml.replacen("alice@example.com", "alicf@example.com", 1);
    let (got, m) = f.assume(&tampered).await.unwrap_err();
    assert_eq!(
        (got.as_str(), m.as_str()),
        ("InvalidIdentityToken", "Response signature invalid"),
        "a one-byte change of a memoized response misses the memo"
    );
    f.assume(&xml).await.unwrap();
    // Past NotOnOrAfter (300 s) and the leeway (300 s): refused although remembered.
    let n = f.memoized();
    f.server.clock.advance(chrono::Duration::seconds(700));
    let (got, _) = f.assume(&xml).await.unwrap_err();
    assert_eq!(got, "ExpiredTokenException");
    assert_eq!(f.memoized(), n, "the reduction was still remembered");
}

#[tokio::test]
async fn a_memoized_response_is_still_a_replay_when_reuse_is_off() {
    let Some(f) = fixture(|_| {}).await else {
        return;
    };
    let xml = f.response(SignWhat::Assertion);
    f.assume(&xml).await.unwrap();
    assert_eq!(f.memoized(), 1);
    let (got, m) = f.assume(&xml).await.unwrap_err();
    assert_eq!(
        (got.as_str(), m.as_str()),
        (
            "InvalidIdentityToken",
            "The SAML response has already been used"
        )
    );
    let (got, _) = f.assume(&xml).await.unwrap_err();
    assert_eq!(got, "InvalidIdentityToken", "and again");
}

#[tokio::test]
async fn a_memoized_response_is_refused_once_the_provider_has_another_certificate() {
    let Some(f) = fixture(reuse).await else {
        return;
    };
    let xml = f.response(SignWhat::Response);
    f.assume(&xml).await.unwrap();
    f.assume(&xml).await.unwrap();
    // The IdP's key is replaced: the old response no longer verifies, memo or not.
    let new = Key::rsa();
    f.update_metadata(metadata(ISSUER, &[&new])).await;
    let (got, m) = f.assume(&xml).await.unwrap_err();
    assert_eq!(
        (got.as_str(), m.as_str()),
        ("InvalidIdentityToken", "Response signature invalid")
    );
    // A response of the new key is accepted (the provider's new certificate is in use).
    let fresh = signed_response(
        &Claims::new(ISSUER, ROLE, PROVIDER),
        &new,
        SignWhat::Response,
    );
    f.assume(&fresh).await.unwrap();
    // Both keys during a rotation: the old response verifies again (a new certificate set).
    f.update_metadata(metadata(ISSUER, &[&new, &f.key])).await;
    f.assume(&xml).await.unwrap();
}

#[tokio::test]
async fn a_memoized_response_is_refused_once_the_provider_has_another_entity_id() {
    let Some(f) = fixture(reuse).await else {
        return;
    };
    let xml = f.response(SignWhat::Assertion);
    f.assume(&xml).await.unwrap();
    // Same certificate (the memo key is unchanged), another entity id: the issuer check runs.
    f.update_metadata(metadata("http://www.okta.com/another", &[&f.key]))
        .await;
    let (got, m) = f.assume(&xml).await.unwrap_err();
    assert_eq!(
        (got.as_str(), m.as_str()),
        (
            "InvalidIdentityToken",
            "Issuer not present in specified provider"
        )
    );
}

#[tokio::test]
async fn the_providers_keys_and_encryption_mode_are_read_anew_after_an_update() {
    use aws_sdk_iam::types::AssertionEncryptionModeType as Mode;
    let Some(f) = fixture(reuse).await else {
        return;
    };
    let iam = f.server.iam(ADMIN.0, ADMIN.1, None);
    let plain = f.response(SignWhat::Assertion);
    f.assume(&plain).await.unwrap();
    assert_eq!(f.server.state.saml_trusts.len(), 1, "the trust is kept");
    let sp = Key::rsa();
    let encrypted = encrypted_response(&Claims::new(ISSUER, ROLE, PROVIDER), &f.key, &sp);
    assert_eq!(
        f.assume(&encrypted).await.unwrap_err().0,
        "InvalidIdentityToken",
        "no private key yet"
    );
    iam.update_saml_provider()
        .saml_provider_arn(PROVIDER)
        .assertion_encryption_mode(Mode::Required)
        .add_private_key(sp.key_pem())
        .send()
        .await
        .unwrap();
    assert_eq!(
        f.assume(&plain).await.unwrap_err().0,
        "InvalidIdentityToken",
        "a memoized plain response is refused once encryption is Required"
    );
    f.assume(&encrypted).await.unwrap();
    let key_id = iam
        .get_saml_provider()
        .saml_provider_arn(PROVIDER)
        .send()
        .await
        .unwrap()
        .private_key_list()[0]
        .key_id()
        .unwrap()
        .to_owned();
    iam.update_saml_provider()
        .saml_provider_arn(PROVIDER)
        .assertion_encryption_mode(Mode::Allowed)
        .remove_private_key(key_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        f.assume(&encrypted).await.unwrap_err().0,
        "InvalidIdentityToken",
        "the removed key no longer decrypts"
    );
    f.assume(&plain).await.unwrap();
}

#[tokio::test]
async fn with_the_memo_off_nothing_is_remembered() {
    let Some(f) = fixture(|c| {
        reuse(c);
        c.saml.verification_memo_entries = 0;
    })
    .await
    else {
        return;
    };
    let xml = f.response(SignWhat::Assertion);
    f.assume(&xml).await.unwrap();
    f.assume(&xml).await.unwrap();
    assert_eq!(f.memoized(), 0);
    f.server.clock.advance(chrono::Duration::seconds(700));
    assert_eq!(f.assume(&xml).await.unwrap_err().0, "ExpiredTokenException");
}

/// The pure verifier with a memo: a hit gives the same answer as a fresh verification, and
/// every check outside the signature work still runs on it.
#[test]
fn a_memo_hit_verifies_as_a_fresh_verification_does() {
    use sekisho::idp::saml::{Error, ReductionMemo, Rules, Trust, verify, verify_memoized};
    if !have_xmlsec1() {
        skip("xmlsec1");
        return;
    }
    let k = Key::rsa();
    let trust = pure_trust(ISSUER, &k);
    let rules = aws_rules();
    let now = chrono::Utc::now().timestamp();
    let memo = ReductionMemo::new(16);
    for what in [SignWhat::Assertion, SignWhat::Response] {
        let xml = signed_response(&Claims::new(ISSUER, ROLE, PROVIDER), &k, what);
        let fresh = verify(&xml, &trust, &rules, now).unwrap();
        let first = verify_memoized(&xml, &trust, &rules, now, &memo).unwrap();
        let hit = verify_memoized(&xml, &trust, &rules, now, &memo).unwrap();
        assert_eq!(fresh, first, "{what:?}");
        assert_eq!(
            fresh, hit,
            "{what:?}: the same Verified, algorithms included"
        );
        assert!(!hit.algorithms.is_empty());
        // Checks outside the memo, on a hit: time, audience, issuer, encryption mode.
        assert!(matches!(
            verify_memoized(&xml, &trust, &rules, now + 700, &memo),
            Err(Error::Expired { .. })
        ));
        let other_aud = Rules {
            audiences: vec!["https://sp.example.com".into()],
            ..rules.clone()
        };
        assert!(matches!(
            verify_memoized(&xml, &trust, &other_aud, now, &memo),
            Err(Error::Audience { .. })
        ));
        let other_issuer = Trust {
            entity_id: "http://www.okta.com/another".into(),
            ..trust.clone()
        };
        assert!(matches!(
            verify_memoized(&xml, &other_issuer, &rules, now, &memo),
            Err(Error::Issuer { .. })
        ));
        let required = Trust {
            encryption_required: true,
            ..trust.clone()
        };
        assert_eq!(
            verify_memoized(&xml, &required, &rules, now, &memo),
            Err(Error::EncryptionRequired)
        );
        // Another key: a miss, and a refusal.
        let other = Trust {
            certs: vec![Key::rsa().cert.to_der().unwrap().into()],
            ..trust.clone()
        };
        assert!(matches!(
            verify_memoized(&xml, &other, &rules, now, &memo),
            Err(Error::Signature(_))
        ));
    }
    assert_eq!(memo.len(), 2, "one entry per response, only successes");
}
