//! `AssumeRoleWithSAML` and the SAML provider IAM actions end to end: responses signed by the
//! `xmlsec1` command (RSA and ECDSA keys made at test time, signed Response or signed
//! Assertion), calls made by aws-sdk-sts / aws-sdk-iam. Every refusal of the issue's list has
//! its test here: unsigned, other key, a key in KeyInfo, tampered, each signature-wrapping
//! shape, comment in NameID, times, audience, recipient, issuer, role pair, replay, DTD and
//! entities, oversize, encryption Required / plain.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests"
)]

mod common;

use common::saml::{
    Claims, Key, SignWhat, assertion_of, aws_rules, b64, encrypted_response, have_xmlsec1,
    metadata, pure_trust, signed_response,
};
use common::{ADMIN, Server, code, message, skip, start_configured};
use serde_json::json;

const ACCT: &str = "111111111111";
const ISSUER: &str = "http://www.okta.com/exk1test";
const PROVIDER: &str = "arn:aws:iam::111111111111:saml-provider/Okta";
const ROLE: &str = "arn:aws:iam::111111111111:role/dev";
const OTHER_ROLE: &str = "arn:aws:iam::111111111111:role/ops";

fn bootstrap(meta: &str) -> String {
    let trust = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Principal":{"Federated": PROVIDER},
        "Action":["sts:AssumeRoleWithSAML","sts:TagSession","sts:SetSourceIdentity"],
        "Condition":{"StringEquals":{"saml:aud": "https://signin.aws.amazon.com/saml"}}}]});
    let ops = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Principal":{"Federated": PROVIDER},"Action":"sts:AssumeRoleWithSAML",
        "Condition":{"StringEquals":{"saml:sub": "victim@corp.com"}}}]});
    format!(
        r#"
[[accounts]]
id = "{ACCT}"
[[accounts.saml_providers]]
name = "Okta"
metadata = '''{meta}'''
[[accounts.roles]]
name = "dev"
max_session_duration = 7200
trust_policy = '{trust}'
inline_policies.all = '{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"*","Resource":"*"}}]}}'
[[accounts.roles]]
name = "ops"
trust_policy = '{ops}'
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
    rsa: Key,
    ec: Key,
    other: Key,
}

async fn fixture_with(tweak: impl FnOnce(&mut sekisho::config::Config)) -> Option<Fixture> {
    if !have_xmlsec1() {
        skip("the xmlsec1 command (apt install xmlsec1) signs the test responses");
        return None;
    }
    let (rsa, ec, other) = (Key::rsa(), Key::ec(), Key::rsa());
    let server = start_configured(&bootstrap(&metadata(ISSUER, &[&rsa, &ec])), tweak).await;
    Some(Fixture {
        server,
        rsa,
        ec,
        other,
    })
}

async fn fixture() -> Option<Fixture> {
    fixture_with(|_| {}).await
}

type Out = aws_sdk_sts::operation::assume_role_with_saml::AssumeRoleWithSamlOutput;

impl Fixture {
    fn claims(&self) -> Claims {
        Claims::new(ISSUER, ROLE, PROVIDER)
    }

    async fn assume_as(&self, role: &str, xml: &str) -> Result<Out, (String, String)> {
        self.server
            .sts("AKIAUNUSED0000000000", "unused", None)
            .assume_role_with_saml()
            .role_arn(role)
            .principal_arn(PROVIDER)
            .saml_assertion(b64(xml))
            .send()
            .await
            .map_err(|e| (code(&e), message(&e)))
    }

    async fn assume(&self, xml: &str) -> Result<Out, (String, String)> {
        self.assume_as(ROLE, xml).await
    }

    async fn refused(&self, xml: &str) -> String {
        self.assume(xml).await.unwrap_err().0
    }

    fn signed(&self, c: &Claims) -> String {
        signed_response(c, &self.rsa, SignWhat::Assertion)
    }
}

#[tokio::test]
async fn rsa_and_ecdsa_signed_responses_and_assertions_give_saml_sessions() {
    let Some(f) = fixture().await else { return };
    for key in [&f.rsa, &f.ec] {
        for what in [SignWhat::Assertion, SignWhat::Response] {
            let xml = signed_response(&f.claims(), key, what);
            let out = f
                .assume(&xml)
                .await
                .unwrap_or_else(|e| panic!("{what:?}: {e:?}"));
            assert_eq!(out.subject(), Some("alice@example.com"));
            assert_eq!(out.subject_type(), Some("persistent"));
            assert_eq!(out.issuer(), Some(ISSUER));
            assert_eq!(out.audience(), Some("https://signin.aws.amazon.com/saml"));
            assert!(
                out.name_qualifier().is_some_and(|q| q.len() == 28),
                "base64 of SHA-1"
            );
            let user = out.assumed_role_user().unwrap();
            assert_eq!(
                user.arn(),
                format!("arn:aws:sts::{ACCT}:assumed-role/dev/alice")
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
    }
}

#[tokio::test]
async fn session_attributes_tags_source_identity_and_duration() {
    let Some(f) = fixture().await else { return };
    let mut c = f.claims();
    c.extra = vec![
        (
            format!("{}PrincipalTag:dept", common::saml::ATTR),
            vec!["eng".into()],
        ),
        (
            format!("{}TransitiveTagKeys", common::saml::ATTR),
            vec!["dept".into()],
        ),
        (
            format!("{}SourceIdentity", common::saml::ATTR),
            vec!["alice".into()],
        ),
        (
            format!("{}SessionDuration", common::saml::ATTR),
            vec!["1800".into()],
        ),
    ];
    // The pair in provider,role order is accepted too.
    c.roles = vec![format!("{PROVIDER},{ROLE}")];
    let out = f
        .server
        .sts("AKIAUNUSED0000000000", "unused", None)
        .assume_role_with_saml()
        .role_arn(ROLE)
        .principal_arn(PROVIDER)
        .saml_assertion(b64(&f.signed(&c)))
        .duration_seconds(7200)
        .send()
        .await
        .unwrap();
    assert_eq!(out.source_identity(), Some("alice"));
    #[allow(deprecated, reason = "the model's name for AWS's PackedPolicySize")]
    let packed = out.packed_policy_size();
    assert!(packed.is_some(), "session tags are packed");
    let creds = out.credentials().unwrap();
    let left = creds.expiration().secs() - chrono::Utc::now().timestamp();
    assert!(
        (1700..=1800).contains(&left),
        "SessionDuration caps the session: {left}"
    );
    // A duration above the role's maximum is refused.
    let too_long = f
        .server
        .sts("AKIAUNUSED0000000000", "unused", None)
        .assume_role_with_saml()
        .role_arn(ROLE)
        .principal_arn(PROVIDER)
        .saml_assertion(b64(&f.signed(&f.claims())))
        .duration_seconds(10800)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&too_long), "ValidationError");
    // SessionNotOnOrAfter caps it too.
    let mut c = f.claims();
    c.session_not_on_or_after = Some(1000);
    let out = f.assume(&f.signed(&c)).await.unwrap();
    let left = out.credentials().unwrap().expiration().secs() - chrono::Utc::now().timestamp();
    assert!((900..=1000).contains(&left), "{left}");
}

#[tokio::test]
async fn signature_refusals() {
    let Some(f) = fixture().await else { return };
    // Unsigned.
    let unsigned = signed_response(&f.claims(), &f.rsa, SignWhat::Nothing);
    let (c, m) = f.assume(&unsigned).await.unwrap_err();
    assert_eq!(
        (c.as_str(), m.as_str()),
        ("InvalidIdentityToken", "Response signature invalid")
    );
    // Signed by a key the provider does not trust (its certificate in KeyInfo, as IdPs send).
    for what in [SignWhat::Assertion, SignWhat::Response] {
        let other = signed_response(&f.claims(), &f.other, what);
        assert_eq!(f.refused(&other).await, "InvalidIdentityToken", "{what:?}");
    }
    // Signed by the other key with the trusted certificate pasted into KeyInfo.
    let other = signed_response(&f.claims(), &f.other, SignWhat::Assertion);
    let trusted_cert = f.rsa.cert_b64();
    let start = other
        .find("<X509Certificate>")
        .or_else(|| other.find("<ds:X509Certificate>"));
    let forged = match start {
        Some(s) => {
            let open = other[s..].find('>').unwrap() + s + 1;
            let close = other[open..].find("</").unwrap() + open;
            format!("{}{trusted_cert}{}", &other[..open], &other[close..])
        }
        None => other.clone(),
    };
    assert_eq!(f.refused(&forged).await, "InvalidIdentityToken");
    // Tampered after signing (NameID and the role pair).
    let good = f.signed(&f.claims());
    let tampered = good.replace("alice@example.com", "admin@example.com");
    assert_eq!(f.refused(&tampered).await, "InvalidIdentityToken");
    let tampered = good.replace(ROLE, OTHER_ROLE);
    assert_eq!(f.refused(&tampered).await, "InvalidIdentityToken");
    // Response signature, then the assertion changed.
    let good = signed_response(&f.claims(), &f.rsa, SignWhat::Response);
    assert_eq!(
        f.refused(&good.replace("alice", "mallory")).await,
        "InvalidIdentityToken"
    );
    // The untouched ones pass (the refusals above are the changes, not the harness).
    f.assume(&good).await.unwrap();
}

/// An attacker's assertion: another id, the other role, their subject.
fn evil_assertion(signed: &str, id: &str) -> String {
    let a = assertion_of(signed);
    let without_sig = match (a.find("<ds:Signature"), a.find("</ds:Signature>")) {
        (Some(s), Some(e)) => format!("{}{}", &a[..s], &a[e + "</ds:Signature>".len()..]),
        _ => a.to_owned(),
    };
    let old_id = without_sig
        .split("ID=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    without_sig
        .replace(old_id, id)
        .replace("alice@example.com", "mallory@example.com")
        .replace(ROLE, OTHER_ROLE)
}

#[tokio::test]
async fn every_signature_wrapping_shape_is_refused() {
    let Some(f) = fixture().await else { return };
    let mut c = f.claims();
    c.roles.push(format!("{OTHER_ROLE},{PROVIDER}"));
    c.subject = "victim@corp.com".into();
    let signed = f.signed(&c);
    let a = assertion_of(&signed).to_owned();
    let evil = evil_assertion(&signed, "_evil");
    let signed_id = a
        .split("ID=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let shapes = [
        // XSW: evil assertion before / after the signed one.
        ("before", signed.replace(&a, &format!("{evil}{a}"))),
        ("after", signed.replace(&a, &format!("{a}{evil}"))),
        // The signed assertion wrapped inside the evil one.
        (
            "wrapping",
            signed.replace(
                &a,
                &evil.replace("</saml:Assertion>", &format!("{a}</saml:Assertion>")),
            ),
        ),
        // The signed assertion moved into Extensions, the evil one in its place.
        (
            "extensions",
            signed.replace(
                &a,
                &format!("<samlp:Extensions>{a}</samlp:Extensions>{evil}"),
            ),
        ),
        // The signed assertion moved into the evil one's signature Object.
        (
            "object",
            signed.replace(
                &a,
                &evil.replace(
                    "<saml:Subject>",
                    &format!(
                        "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">\
                         <ds:Object>{a}</ds:Object></ds:Signature><saml:Subject>"
                    ),
                ),
            ),
        ),
        // Duplicate IDs: the evil assertion carries the signed one's ID.
        (
            "duplicate id",
            signed.replace(&a, &format!("{}{a}", evil.replace("_evil", &signed_id))),
        ),
        // The evil assertion alone, with the signed one's signature copied in.
        ("copied signature", {
            let sig_s = a.find("<ds:Signature").unwrap();
            let sig_e = a.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
            let sig = &a[sig_s..sig_e];
            signed.replace(
                &a,
                &evil
                    .replace("_evil", &signed_id)
                    .replace("</saml:Issuer>", &format!("</saml:Issuer>{sig}")),
            )
        }),
    ];
    for (name, xml) in &shapes {
        let got = f.assume_as(OTHER_ROLE, xml).await;
        assert!(got.is_err(), "{name}: accepted");
        let got = f.assume(xml).await;
        assert!(got.is_err(), "{name}: accepted for the signed role too");
    }
    // A signed response wrapped inside an evil response (response-level XSW).
    let signed = signed_response(&c, &f.rsa, SignWhat::Response);
    let body = signed.split_once("?>").map_or(signed.as_str(), |(_, b)| b);
    let evil_resp = format!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_evilr" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>{ISSUER}</saml:Issuer><samlp:Extensions>{body}</samlp:Extensions>{}</samlp:Response>"#,
        evil_assertion(&signed, "_evil2")
    );
    assert!(f.assume_as(OTHER_ROLE, &evil_resp).await.is_err());
    // The signed original passes for the role it names (the refusals are the shapes').
    f.assume_as(OTHER_ROLE, &f.signed(&c)).await.unwrap();
}

#[tokio::test]
async fn a_comment_in_the_name_id_does_not_truncate_it() {
    let Some(f) = fixture().await else { return };
    // The IdP signs the attacker's own address, which has a comment in it; the ops role trusts
    // only saml:sub = victim@corp.com. The response is refused, or read in full — never as
    // the victim.
    let mut c = f.claims();
    c.subject = "victim@corp.com<!---->.evil.com".into();
    c.roles = vec![format!("{OTHER_ROLE},{PROVIDER}")];
    match f.assume_as(OTHER_ROLE, &f.signed(&c)).await {
        Ok(out) => panic!("accepted as {:?}", out.subject()),
        Err((got, _)) => assert!(
            got == "InvalidIdentityToken" || got == "AccessDenied",
            "{got}"
        ),
    }
    c.roles = vec![format!("{ROLE},{PROVIDER}")];
    c.assertion_id = format!("{}x", c.assertion_id);
    if let Ok(out) = f.assume(&f.signed(&c)).await {
        assert_eq!(out.subject(), Some("victim@corp.com.evil.com"));
    }
    // The real victim passes, so the refusal above is the comment's.
    let mut v = f.claims();
    v.subject = "victim@corp.com".into();
    v.roles = vec![format!("{OTHER_ROLE},{PROVIDER}")];
    f.assume_as(OTHER_ROLE, &f.signed(&v)).await.unwrap();
}

#[tokio::test]
async fn time_audience_recipient_issuer_and_role_refusals() {
    let Some(f) = fixture().await else { return };
    let mut c = f.claims();
    c.not_on_or_after = -400; // past the 300 s leeway
    c.not_before = -600;
    let (got, m) = f.assume(&f.signed(&c)).await.unwrap_err();
    assert_eq!(got, "ExpiredTokenException", "{m}");
    let mut c = f.claims();
    c.not_on_or_after = -100; // within the leeway
    f.assume(&f.signed(&c)).await.unwrap();
    let mut c = f.claims();
    c.not_before = 400;
    c.not_on_or_after = 900;
    assert_eq!(f.refused(&f.signed(&c)).await, "InvalidIdentityToken");
    let mut c = f.claims();
    c.audience = "https://other-sp.example.com".into();
    let (got, m) = f.assume(&f.signed(&c)).await.unwrap_err();
    assert_eq!(
        (got.as_str(), m.as_str()),
        (
            "IDPRejectedClaim",
            "Response does not contain the required audience"
        )
    );
    let mut c = f.claims();
    c.recipient = "https://other-sp.example.com/acs".into();
    assert_eq!(f.refused(&f.signed(&c)).await, "IDPRejectedClaim");
    // Sekisho's own ACS URL and AWS's regional sign-in URL are recipients too.
    let mut c = f.claims();
    c.recipient = "https://us-east-2.signin.aws.amazon.com/saml".into();
    let (got, _) = f.assume(&f.signed(&c)).await.unwrap_err();
    assert_eq!(
        got, "AccessDenied",
        "accepted, then the trust's saml:aud condition refuses"
    );
    let mut c = f.claims();
    c.issuer = "http://www.okta.com/someone-else".into();
    let (got, m) = f.assume(&f.signed(&c)).await.unwrap_err();
    assert_eq!(
        (got.as_str(), m.as_str()),
        (
            "InvalidIdentityToken",
            "Issuer not present in specified provider"
        )
    );
    // The pair asked for is not in the assertion.
    let (got, _) = f
        .assume_as(OTHER_ROLE, &f.signed(&f.claims()))
        .await
        .unwrap_err();
    assert_eq!(got, "IDPRejectedClaim");
    let mut c = f.claims();
    c.roles = vec![];
    assert_eq!(f.refused(&f.signed(&c)).await, "IDPRejectedClaim");
    // RoleSessionName is required and checked.
    let mut c = f.claims();
    c.session_name = None;
    let (got, m) = f.assume(&f.signed(&c)).await.unwrap_err();
    assert_eq!(
        (got.as_str(), m.as_str()),
        (
            "InvalidIdentityToken",
            "RoleSessionName is required in AuthnResponse"
        )
    );
    let mut c = f.claims();
    c.session_name = Some("bad name!".into());
    assert_eq!(f.refused(&f.signed(&c)).await, "InvalidIdentityToken");
    // Unknown provider.
    let err = f
        .server
        .sts("AKIAUNUSED0000000000", "unused", None)
        .assume_role_with_saml()
        .role_arn(ROLE)
        .principal_arn("arn:aws:iam::111111111111:saml-provider/Nope")
        .saml_assertion(b64(&f.signed(&f.claims())))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (code(&err).as_str(), message(&err).as_str()),
        ("InvalidIdentityToken", "Specified provider doesn't exist")
    );
}

#[tokio::test]
async fn an_assertion_is_accepted_once_unless_reuse_is_configured() {
    let Some(f) = fixture().await else { return };
    let xml = f.signed(&f.claims());
    f.assume(&xml).await.unwrap();
    let (got, m) = f.assume(&xml).await.unwrap_err();
    assert_eq!(
        (got.as_str(), m.as_str()),
        (
            "InvalidIdentityToken",
            "The SAML response has already been used"
        )
    );
    let Some(g) = fixture_with(|c| c.saml.allow_assertion_reuse = true).await else {
        return;
    };
    let xml = g.signed(&g.claims());
    g.assume(&xml).await.unwrap();
    g.assume(&xml).await.unwrap();
}

#[tokio::test]
async fn dtds_entities_and_oversize_input_are_refused() {
    let Some(f) = fixture().await else { return };
    let good = f.signed(&f.claims());
    let body = good.split_once("?>").map_or(good.as_str(), |(_, b)| b);
    let bomb = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]>{}",
        body.replacen("alice@example.com", "&c;", 1)
    );
    assert_eq!(f.refused(&bomb).await, "InvalidIdentityToken");
    let xxe = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>{}",
        body.replacen("alice@example.com", "&x;", 1)
    );
    assert_eq!(f.refused(&xxe).await, "InvalidIdentityToken");
    let undeclared = good.replacen("alice@example.com", "&x;", 1);
    assert_eq!(f.refused(&undeclared).await, "InvalidIdentityToken");
    // Over 100,000 characters of base64.
    let big = good.replace(
        "<saml:AttributeStatement>",
        &format!("<!--{}--><saml:AttributeStatement>", "x".repeat(80_000)),
    );
    let (got, _) = f.assume(&big).await.unwrap_err();
    assert_eq!(got, "ValidationError");
    // Not base64, not XML, not a Response: clear errors, never a 500.
    for junk in ["%%%%", "PGE+PC9hPg==", "AAAA"] {
        let err = f
            .server
            .sts("AKIAUNUSED0000000000", "unused", None)
            .assume_role_with_saml()
            .role_arn(ROLE)
            .principal_arn(PROVIDER)
            .saml_assertion(junk)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "InvalidIdentityToken", "{junk}");
    }
}

#[tokio::test]
async fn encrypted_assertions_and_required_encryption() {
    let Some(f) = fixture().await else { return };
    let iam = f.server.iam(ADMIN.0, ADMIN.1, None);
    let sp = Key::rsa();
    // Required without a key is refused; with one, plain assertions are refused.
    let err = iam
        .update_saml_provider()
        .saml_provider_arn(PROVIDER)
        .assertion_encryption_mode(aws_sdk_iam::types::AssertionEncryptionModeType::Required)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidInput");
    iam.update_saml_provider()
        .saml_provider_arn(PROVIDER)
        .assertion_encryption_mode(aws_sdk_iam::types::AssertionEncryptionModeType::Required)
        .add_private_key(sp.key_pem())
        .send()
        .await
        .unwrap();
    assert_eq!(
        f.refused(&f.signed(&f.claims())).await,
        "InvalidIdentityToken"
    );
    let out = f
        .assume(&encrypted_response(&f.claims(), &f.rsa, &sp))
        .await
        .unwrap();
    assert_eq!(out.subject(), Some("alice@example.com"));
    // Encrypted for another SP key: refused.
    let wrong = Key::rsa();
    assert_eq!(
        f.refused(&encrypted_response(&f.claims(), &f.rsa, &wrong))
            .await,
        "InvalidIdentityToken"
    );
    // Encrypted, but the inner assertion signed by an untrusted key: refused.
    assert_eq!(
        f.refused(&encrypted_response(&f.claims(), &f.other, &sp))
            .await,
        "InvalidIdentityToken"
    );
    let got = iam
        .get_saml_provider()
        .saml_provider_arn(PROVIDER)
        .send()
        .await
        .unwrap();
    assert_eq!(got.private_key_list().len(), 1);
    assert_eq!(
        got.assertion_encryption_mode(),
        Some(&aws_sdk_iam::types::AssertionEncryptionModeType::Required)
    );
}

#[tokio::test]
async fn saml_provider_iam_actions() {
    let Some(f) = fixture().await else { return };
    let iam = f.server.iam(ADMIN.0, ADMIN.1, None);
    let k = Key::rsa();
    let meta = metadata("https://idp.example.org/saml", &[&k]);
    let created = iam
        .create_saml_provider()
        .name("Example")
        .saml_metadata_document(&meta)
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("team")
                .value("id")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let arn = created.saml_provider_arn().unwrap().to_owned();
    assert_eq!(arn, format!("arn:aws:iam::{ACCT}:saml-provider/Example"));
    let dup = iam
        .create_saml_provider()
        .name("example")
        .saml_metadata_document(&meta)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&dup), "EntityAlreadyExists");
    let got = iam
        .get_saml_provider()
        .saml_provider_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(got.saml_metadata_document(), Some(meta.as_str()));
    assert!(got.saml_provider_uuid().is_some());
    assert_eq!(got.tags().len(), 1);
    let list = iam.list_saml_providers().send().await.unwrap();
    let arns: Vec<_> = list
        .saml_provider_list()
        .iter()
        .filter_map(|p| p.arn())
        .collect();
    assert_eq!(arns, vec![arn.as_str(), PROVIDER]);
    iam.tag_saml_provider()
        .saml_provider_arn(&arn)
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("env")
                .value("prod")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    iam.untag_saml_provider()
        .saml_provider_arn(&arn)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    let tags = iam
        .list_saml_provider_tags()
        .saml_provider_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags.tags().iter().map(|t| t.key()).collect::<Vec<_>>(),
        vec!["env"]
    );
    // Metadata without a signing certificate, or not metadata, is refused.
    let no_cert = meta.replace("use=\"signing\"", "use=\"encryption\"");
    let err = iam
        .create_saml_provider()
        .name("NoCert")
        .saml_metadata_document(&no_cert)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (code(&err).as_str(), message(&err).as_str()),
        ("InvalidInput", "Unable to parse metadata")
    );
    let err = iam
        .create_saml_provider()
        .name("Short")
        .saml_metadata_document("<x/>")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationError");
    let err = iam
        .create_saml_provider()
        .name("bad name")
        .saml_metadata_document(&meta)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationError");
    // New metadata (a rotated key) takes effect.
    let k2 = Key::ec();
    iam.update_saml_provider()
        .saml_provider_arn(&arn)
        .saml_metadata_document(metadata("https://idp.example.org/saml", &[&k, &k2]))
        .send()
        .await
        .unwrap();
    let got = iam
        .get_saml_provider()
        .saml_provider_arn(&arn)
        .send()
        .await
        .unwrap();
    assert!(
        got.saml_metadata_document()
            .unwrap()
            .contains(&k2.cert_b64())
    );
    // A trust policy naming a missing provider is refused at write time; an existing one is not.
    let trust = |p: &str| {
        json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":p},
            "Action":"sts:AssumeRoleWithSAML"}]})
        .to_string()
    };
    let err = iam
        .create_role()
        .role_name("r1")
        .assume_role_policy_document(trust("arn:aws:iam::111111111111:saml-provider/Missing"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "MalformedPolicyDocument");
    iam.create_role()
        .role_name("r1")
        .assume_role_policy_document(trust(&arn))
        .send()
        .await
        .unwrap();
    iam.delete_saml_provider()
        .saml_provider_arn(&arn)
        .send()
        .await
        .unwrap();
    let err = iam
        .get_saml_provider()
        .saml_provider_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchEntity");
}

#[tokio::test]
async fn the_audit_names_the_saml_user_and_why_a_refusal_happened_without_the_assertion() {
    let Some(f) = fixture().await else { return };
    let xml = f.signed(&f.claims());
    f.assume(&xml).await.unwrap();
    let mut c = f.claims();
    c.audience = "https://wrong.example.com".into();
    let bad = f.signed(&c);
    f.assume(&bad).await.unwrap_err();
    // The writer flushes every 20 ms: wait for both events.
    let path = f.server.state.config.audit.path.clone();
    let mut text = String::new();
    for _ in 0..100 {
        text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.matches("\"AssumeRoleWithSAML\"").count() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(text.contains("\"SAMLUser\""), "{text}");
    assert!(
        text.contains("https://wrong.example.com"),
        "the audience seen is named"
    );
    assert!(
        text.contains("urn:amazon:webservices"),
        "and the accepted ones"
    );
    for secret in [b64(&xml), b64(&bad)] {
        assert!(
            !text.contains(&secret[..200]),
            "the assertion is never in the audit"
        );
    }
}

/// The pure verifier on its own: what it reads from an xmlsec1-signed response.
#[test]
fn the_pure_verifier_reads_only_the_signed_assertion() {
    if !have_xmlsec1() {
        skip("xmlsec1");
        return;
    }
    use sekisho::idp::saml::{Signed, Trust, verify};
    let k = Key::rsa();
    let trust = pure_trust(ISSUER, &k);
    let rules = aws_rules();
    let now = chrono::Utc::now().timestamp();
    let mut commented = Claims::new(ISSUER, ROLE, PROVIDER);
    commented.subject = "victim@corp.com<!---->.evil.com".into();
    let xml = signed_response(&commented, &k, SignWhat::Assertion);
    // samael 0.0.22 refuses it (the verified pre-digest text no longer maps back onto a
    // document with a comment); were it accepted, the text must be read in full.
    match verify(&xml, &trust, &rules, now) {
        Ok(v) => assert_eq!(v.name_id.value, "victim@corp.com.evil.com"),
        Err(e) => assert!(matches!(e, sekisho::idp::saml::Error::Signature(_)), "{e}"),
    }
    // Encrypted for the SP's key.
    let sp = Key::rsa();
    let enc = encrypted_response(&Claims::new(ISSUER, ROLE, PROVIDER), &k, &sp);
    let with_key = Trust {
        decryption_keys: vec![sp.pkey.clone()],
        ..trust.clone()
    };
    let v = verify(&enc, &with_key, &rules, now).unwrap_or_else(|e| panic!("encrypted: {e}"));
    assert!(v.encrypted);
    assert_eq!(v.signed, Signed::Assertion);
    assert_eq!(
        verify(&enc, &trust, &rules, now),
        Err(sekisho::idp::saml::Error::NoDecryptionKey)
    );
    for what in [SignWhat::Assertion, SignWhat::Response] {
        let xml = signed_response(&Claims::new(ISSUER, ROLE, PROVIDER), &k, what);
        let v =
            verify(&xml, &trust, &rules, now).unwrap_or_else(|e| panic!("{what:?}: {e}\n{xml}"));
        assert_eq!(
            v.signed,
            if what == SignWhat::Assertion {
                Signed::Assertion
            } else {
                Signed::Response
            }
        );
        assert_eq!(v.name_id.value, "alice@example.com");
        assert_eq!(v.recipient, "https://signin.aws.amazon.com/saml");
    }
}

/// During a rotation (two certificates), the one that verified last is tried first; which one
/// that is never changes what verifies.
#[test]
fn during_a_rotation_the_certificate_in_use_is_tried_first() {
    if !have_xmlsec1() {
        skip("xmlsec1");
        return;
    }
    use sekisho::idp::saml::verify;
    let (old, new) = (Key::rsa(), Key::rsa());
    let mut trust = pure_trust(ISSUER, &old);
    trust.certs.push(new.cert.to_der().unwrap().into());
    let rules = aws_rules();
    let now = chrono::Utc::now().timestamp();
    let claims = Claims::new(ISSUER, ROLE, PROVIDER);
    let by = |k: &Key| signed_response(&claims, k, SignWhat::Response);
    assert_eq!(trust.preferred.get(), 0);
    verify(&by(&new), &trust, &rules, now).unwrap();
    assert_eq!(trust.preferred.get(), 1, "the new certificate verified");
    verify(&by(&new), &trust.clone(), &rules, now).unwrap();
    assert_eq!(trust.preferred.get(), 1, "shared by clones");
    verify(&by(&old), &trust, &rules, now).unwrap();
    assert_eq!(trust.preferred.get(), 0, "the old one still verifies");
    let stranger = Key::rsa();
    assert!(matches!(
        verify(&by(&stranger), &trust, &rules, now),
        Err(sekisho::idp::saml::Error::Signature(_))
    ));
    assert_eq!(trust.preferred.get(), 0, "a refusal moves nothing");
}
