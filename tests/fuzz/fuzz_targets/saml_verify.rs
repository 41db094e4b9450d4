//! Fuzz the SAML response path: the strict XML reader, `verify::peek`, IdP metadata parsing,
//! and `idp::saml::verify` (shape and algorithm checks, samael/xmlsec reduction, decryption of
//! `EncryptedAssertion` with a fixed RSA key, the condition checks, the AWS attributes) on any
//! text. Never panics; never accepts (no input can carry a valid signature for the fixed
//! certificate, whose key is made at start and never leaves the process).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use openssl::asn1::Asn1Time;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509, X509NameBuilder};
use sekisho::idp::saml::{self, Rules, Trust};

fn trust() -> &'static (Trust, PKey<Private>) {
    static T: OnceLock<(Trust, PKey<Private>)> = OnceLock::new();
    T.get_or_init(|| {
        let key = PKey::from_rsa(Rsa::generate(2048).expect("rsa")).expect("pkey");
        let mut name = X509NameBuilder::new().expect("name");
        name.append_entry_by_text("CN", "fuzz").expect("cn");
        let name = name.build();
        let mut b = X509::builder().expect("builder");
        b.set_subject_name(&name).expect("subject");
        b.set_issuer_name(&name).expect("issuer");
        b.set_pubkey(&key).expect("pubkey");
        b.set_not_before(&Asn1Time::days_from_now(0).expect("t")).expect("nb");
        b.set_not_after(&Asn1Time::days_from_now(1).expect("t")).expect("na");
        b.sign(&key, MessageDigest::sha256()).expect("sign");
        let cert = b.build().to_der().expect("der");
        let t = Trust {
            entity_id: "https://idp.example.com".into(),
            certs: vec![cert.into()],
            decryption_keys: vec![key.clone()],
            encryption_required: false,
            preferred: Default::default(),
        };
        (t, key)
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = saml::xml::parse(&text);
    let _ = saml::verify::peek(&text);
    let _ = saml::metadata::parse(&text);
    let (trust, _) = trust();
    for allow_sha1 in [false, true] {
        let rules = Rules {
            audiences: vec!["urn:amazon:webservices".into()],
            recipients: vec!["https://signin.aws.amazon.com/saml".into()],
            aws_regional_recipients: true,
            leeway_seconds: 300,
            allow_sha1,
        };
        if let Ok(v) = saml::verify(&text, trust, &rules, 1_800_000_000) {
            // Unreachable without the key; if it ever happens, the attribute readers run too.
            let _ = saml::attributes::session_attributes(&v);
            let _ = saml::attributes::role_pairs(&v);
            panic!("a fuzzed response verified");
        }
    }
    let _ = saml::decode(&text);
});
