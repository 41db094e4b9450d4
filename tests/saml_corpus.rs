//! Real IdP responses (../shared/corpora/saml: python3-saml, ruby-saml, node-saml, crewjam/saml
//! and samael test fixtures, with the certificates their suites trust) through the pure
//! verifier, at each sample's suggested clock, SHA-1 allowed (most are old), with the sample's
//! own audiences and recipients accepted.
//!
//! Every sample must be read by the strict XML reader. Every sample with one plain assertion and
//! signatures that verify (independently checked with signxml when the corpus was made) must
//! pass the signature step: it is accepted, or refused only for a condition of its own (a
//! missing bearer confirmation, no audience restriction…), never for its signature — except the
//! samples whose IDs start with a digit, which libxml2 refuses as `xs:ID` (crates.md).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests"
)]

mod common;

use sekisho::idp::saml::{Error, Rules, Trust, verify, xml};
use serde_json::Value;

fn corpus() -> Option<std::path::PathBuf> {
    let dir = std::env::var("SEKISHO_CORPORA").map_or_else(
        |_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpora"),
        std::path::PathBuf::from,
    );
    let saml = dir.join("saml");
    saml.join("manifest.json").exists().then_some(saml)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn real_idp_responses_parse_and_their_signatures_verify() {
    let Some(dir) = corpus() else {
        common::skip("../shared/corpora/saml is absent");
        return;
    };
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let (mut accepted, mut condition, mut digit_ids, mut checked) = (0, 0, 0, 0);
    for case in manifest["cases"].as_array().unwrap() {
        let id = case["id"].as_str().unwrap();
        let text = std::fs::read_to_string(dir.join(case["file"].as_str().unwrap())).unwrap();
        let root = xml::parse(&text).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(root.name, "Response", "{id}");
        let verifies = case["signatures"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["verifies_with_trusted_cert"] == Value::Bool(true));
        let plain_one = case["encrypted_assertion"] == Value::Bool(false)
            && case["assertion_ids"].as_array().unwrap().len() == 1;
        if !verifies || !plain_one {
            continue;
        }
        checked += 1;
        let pem = std::fs::read(dir.join(case["trusted_cert"].as_str().unwrap())).unwrap();
        let cert = openssl::x509::X509::from_pem(&pem)
            .unwrap()
            .to_der()
            .unwrap();
        let trust = Trust {
            entity_id: strings(&case["issuers"])
                .into_iter()
                .next()
                .unwrap_or_default(),
            certs: vec![cert.into()],
            decryption_keys: Vec::new(),
            encryption_required: false,
            preferred: Default::default(),
        };
        let rules = Rules {
            audiences: strings(&case["audiences"]),
            recipients: strings(&case["recipients"]),
            aws_regional_recipients: false,
            leeway_seconds: 300,
            allow_sha1: true,
        };
        let now = chrono::DateTime::parse_from_rfc3339(case["suggested_clock"].as_str().unwrap())
            .unwrap()
            .timestamp();
        match verify(&text, &trust, &rules, now) {
            Ok(v) => {
                accepted += 1;
                assert_eq!(v.id, case["assertion_ids"][0].as_str().unwrap(), "{id}");
            }
            Err(Error::Signature(why)) if why.contains("ID attribute") => {
                let ids = strings(&case["assertion_ids"]);
                let starts_with_digit = |s: &String| s.starts_with(|c: char| c.is_ascii_digit());
                assert!(
                    ids.iter().any(starts_with_digit)
                        || case["response_id"]
                            .as_str()
                            .is_some_and(|r| { r.starts_with(|c: char| c.is_ascii_digit()) }),
                    "{id}: {why}"
                );
                digit_ids += 1;
            }
            Err(
                e @ (Error::Signature(_) | Error::Algorithm(_) | Error::Xml(_) | Error::Unsigned),
            ) => {
                panic!("{id}: a sample that verifies was refused: {e}")
            }
            Err(_) => condition += 1,
        }
    }
    eprintln!(
        "saml corpus: {checked} signed single-assertion samples: {accepted} accepted, \
         {condition} refused for a condition of their own, {digit_ids} for digit-leading IDs"
    );
    assert!(accepted >= 20, "{accepted} of {checked} accepted");
}
