//! A test SAML IdP: keys and self-signed certificates made at test time (openssl), responses
//! written as XML text, **signed by the `xmlsec1` command** (an implementation independent of
//! the broker's samael/xmlsec bindings), and encrypted assertions made with openssl primitives.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::fmt::Write as _;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509, X509NameBuilder};

pub const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const AWS_AUD: &str = "urn:amazon:webservices";
pub const AWS_RECIPIENT: &str = "https://signin.aws.amazon.com/saml";
pub const ATTR: &str = "https://aws.amazon.com/SAML/Attributes/";

/// Whether the `xmlsec1` command is there (else the caller skips).
pub fn have_xmlsec1() -> bool {
    Command::new("xmlsec1")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A key pair and its self-signed certificate.
pub struct Key {
    pub pkey: PKey<Private>,
    pub cert: X509,
    pub ec: bool,
}

impl Key {
    /// RSA 2048.
    pub fn rsa() -> Self {
        Self::new(PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap(), false)
    }

    /// ECDSA P-256.
    pub fn ec() -> Self {
        let g = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        Self::new(
            PKey::from_ec_key(EcKey::generate(&g).unwrap()).unwrap(),
            true,
        )
    }

    fn new(pkey: PKey<Private>, ec: bool) -> Self {
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "test-idp").unwrap();
        let name = name.build();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_serial_number(&BigNum::from_u32(7).unwrap().to_asn1_integer().unwrap())
            .unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&pkey).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(365).unwrap())
            .unwrap();
        b.sign(&pkey, MessageDigest::sha256()).unwrap();
        Self {
            pkey,
            cert: b.build(),
            ec,
        }
    }

    /// The certificate, DER in base64 (as in metadata and KeyInfo).
    pub fn cert_b64(&self) -> String {
        STANDARD.encode(self.cert.to_der().unwrap())
    }

    /// The private key, PEM (PKCS#8).
    pub fn key_pem(&self) -> String {
        String::from_utf8(self.pkey.private_key_to_pem_pkcs8().unwrap()).unwrap()
    }

    fn sig_alg(&self) -> &'static str {
        if self.ec {
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
        } else {
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
        }
    }
}

/// IdP metadata naming `entity_id` with `keys` as signing certificates (padded past AWS's
/// 1,000-character minimum with an Organization element).
pub fn metadata(entity_id: &str, keys: &[&Key]) -> String {
    let mut kd = String::new();
    for k in keys {
        write!(
            kd,
            r#"<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
            k.cert_b64()
        )
        .unwrap();
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity_id}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{kd}<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/sso/redirect"/><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.example.com/sso/post"/></md:IDPSSODescriptor><md:Organization><md:OrganizationName xml:lang="en">Example Test Identity Provider for Sekisho's SAML tests</md:OrganizationName><md:OrganizationDisplayName xml:lang="en">Example Test IdP (padding the document past AWS's minimum metadata length of one thousand characters)</md:OrganizationDisplayName><md:OrganizationURL xml:lang="en">https://idp.example.com/</md:OrganizationURL></md:Organization></md:EntityDescriptor>"#
    )
}

/// Where a signature goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignWhat {
    Assertion,
    Response,
    Nothing,
}

/// What a response says. `Default` is a valid AWS-style response for `role`/`provider`.
#[derive(Debug, Clone)]
pub struct Claims {
    pub issuer: String,
    pub subject: String,
    pub recipient: String,
    pub audience: String,
    /// Seconds from now.
    pub not_before: i64,
    pub not_on_or_after: i64,
    pub roles: Vec<String>,
    pub session_name: Option<String>,
    /// Extra `(Name, [values])` attributes.
    pub extra: Vec<(String, Vec<String>)>,
    pub assertion_id: String,
    pub session_not_on_or_after: Option<i64>,
}

impl Claims {
    pub fn new(issuer: &str, role: &str, provider: &str) -> Self {
        Self {
            issuer: issuer.into(),
            subject: "alice@example.com".into(),
            recipient: AWS_RECIPIENT.into(),
            audience: AWS_AUD.into(),
            not_before: -60,
            not_on_or_after: 300,
            roles: vec![format!("{role},{provider}")],
            session_name: Some("alice".into()),
            extra: Vec::new(),
            assertion_id: format!("_a{}", uuid::Uuid::new_v4().simple()),
            session_not_on_or_after: None,
        }
    }
}

fn ts(now: chrono::DateTime<chrono::Utc>, secs: i64) -> String {
    (now + chrono::Duration::seconds(secs)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A signature template for the element with `id`, carrying `key`'s certificate in KeyInfo.
pub fn sig_template(id: &str, alg: &str) -> String {
    format!(
        r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="{alg}"/><ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data></ds:X509Data></ds:KeyInfo></ds:Signature>"##
    )
}

/// The assertion element's XML (with a signature template when `sign_alg` is given). The raw
/// subject text is inserted unescaped when it holds a comment (`<!---->`).
pub fn assertion_xml(
    c: &Claims,
    now: chrono::DateTime<chrono::Utc>,
    sign_alg: Option<&str>,
) -> String {
    let id = &c.assertion_id;
    let sig = sign_alg.map(|a| sig_template(id, a)).unwrap_or_default();
    let subject = if c.subject.contains("<!--") {
        c.subject.clone()
    } else {
        esc(&c.subject)
    };
    let mut attrs = String::new();
    let mut attr = |name: &str, vals: &[String]| {
        write!(attrs, r#"<saml:Attribute Name="{}">"#, esc(name)).unwrap();
        for v in vals {
            write!(
                attrs,
                "<saml:AttributeValue>{}</saml:AttributeValue>",
                esc(v)
            )
            .unwrap();
        }
        attrs.push_str("</saml:Attribute>");
    };
    if !c.roles.is_empty() {
        attr(&format!("{ATTR}Role"), &c.roles);
    }
    if let Some(n) = &c.session_name {
        attr(&format!("{ATTR}RoleSessionName"), std::slice::from_ref(n));
    }
    for (n, v) in &c.extra {
        attr(n, v);
    }
    let session_end = c
        .session_not_on_or_after
        .map(|s| format!(r#" SessionNotOnOrAfter="{}""#, ts(now, s)))
        .unwrap_or_default();
    format!(
        r#"<saml:Assertion xmlns:saml="{SAML}" ID="{id}" Version="2.0" IssueInstant="{now_s}"><saml:Issuer>{issuer}</saml:Issuer>{sig}<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">{subject}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{noa}" Recipient="{recipient}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{nb}" NotOnOrAfter="{noa}"><saml:AudienceRestriction><saml:Audience>{aud}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{now_s}" SessionIndex="_s1"{session_end}><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement>{attrs}</saml:AttributeStatement></saml:Assertion>"#,
        now_s = ts(now, 0),
        issuer = esc(&c.issuer),
        noa = ts(now, c.not_on_or_after),
        nb = ts(now, c.not_before),
        recipient = esc(&c.recipient),
        aud = esc(&c.audience),
    )
}

/// A whole response around `inner` (an assertion or encrypted assertion), with a response
/// signature template when `sign_alg` is given.
pub fn response_xml(
    issuer: &str,
    inner: &str,
    now: chrono::DateTime<chrono::Utc>,
    sign_alg: Option<&str>,
) -> String {
    let id = format!("_r{}", uuid::Uuid::new_v4().simple());
    let sig = sign_alg.map(|a| sig_template(&id, a)).unwrap_or_default();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><samlp:Response xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="{id}" Version="2.0" IssueInstant="{now_s}" Destination="{AWS_RECIPIENT}"><saml:Issuer>{issuer}</saml:Issuer>{sig}<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>{inner}</samlp:Response>"#,
        now_s = ts(now, 0),
        issuer = esc(issuer),
    )
}

/// Signs the (first) signature template of `xml` with `key` by running `xmlsec1`.
pub fn xmlsec1_sign(xml: &str, key: &Key) -> String {
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("key.pem");
    let cert_path = dir.path().join("cert.pem");
    let input = dir.path().join("in.xml");
    let output = dir.path().join("out.xml");
    std::fs::write(&key_path, key.key_pem()).unwrap();
    std::fs::write(&cert_path, key.cert.to_pem().unwrap()).unwrap();
    std::fs::write(&input, xml).unwrap();
    let out = Command::new("xmlsec1")
        .arg("--sign")
        .arg("--privkey-pem")
        .arg(format!("{},{}", key_path.display(), cert_path.display()))
        .args(["--id-attr:ID", &format!("{SAMLP}:Response")])
        .args(["--id-attr:ID", &format!("{SAML}:Assertion")])
        .arg("--output")
        .arg(&output)
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "xmlsec1: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(&output).unwrap()
}

/// A complete response: `what` signed by `key`.
pub fn signed_response(c: &Claims, key: &Key, what: SignWhat) -> String {
    let now = chrono::Utc::now();
    let alg = key.sig_alg();
    let a = assertion_xml(c, now, (what == SignWhat::Assertion).then_some(alg));
    let r = response_xml(
        &c.issuer,
        &a,
        now,
        (what == SignWhat::Response).then_some(alg),
    );
    if what == SignWhat::Nothing {
        r
    } else {
        xmlsec1_sign(&r, key)
    }
}

/// A response whose assertion (signed by `key`) is encrypted for `sp` (RSA-OAEP key transport,
/// AES-128-CBC content), with openssl's primitives.
pub fn encrypted_response(c: &Claims, key: &Key, sp: &Key) -> String {
    use openssl::rsa::Padding;
    use openssl::symm::{Cipher, encrypt};
    let now = chrono::Utc::now();
    // Sign the assertion alone, as the IdP does before encrypting it.
    let a = assertion_xml(c, now, Some(key.sig_alg()));
    let signed = xmlsec1_sign(
        &format!(r#"<?xml version="1.0" encoding="UTF-8"?>{a}"#),
        key,
    );
    let body = signed.trim_start_matches(|ch| ch != '<');
    let body = body
        .strip_prefix(r#"<?xml version="1.0" encoding="UTF-8"?>"#)
        .unwrap_or(body)
        .trim();
    let mut aes = [0u8; 16];
    let mut iv = [0u8; 16];
    openssl::rand::rand_bytes(&mut aes).unwrap();
    openssl::rand::rand_bytes(&mut iv).unwrap();
    let ct = encrypt(Cipher::aes_128_cbc(), &aes, Some(&iv), body.as_bytes()).unwrap();
    let mut data = iv.to_vec();
    data.extend(ct);
    let rsa = sp.pkey.rsa().unwrap();
    let mut wrapped = vec![0u8; rsa.size() as usize];
    let n = rsa
        .public_encrypt(&aes, &mut wrapped, Padding::PKCS1_OAEP)
        .unwrap();
    wrapped.truncate(n);
    let enc = format!(
        r#"<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"/><xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion>"#,
        STANDARD.encode(&wrapped),
        STANDARD.encode(&data)
    );
    response_xml(&c.issuer, &enc, now, None)
}

/// Base64, as the `SAMLAssertion` parameter carries it.
pub fn b64(xml: &str) -> String {
    STANDARD.encode(xml)
}

/// The assertion element of a response (from `<saml:Assertion` to `</saml:Assertion>`).
pub fn assertion_of(xml: &str) -> &str {
    let s = xml.find("<saml:Assertion").unwrap();
    let e = xml.rfind("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    &xml[s..e]
}

/// What the pure verifier trusts for an IdP `entity_id` signing with `k` (no decryption key,
/// encryption not required).
pub fn pure_trust(entity_id: &str, k: &Key) -> sekisho::idp::saml::Trust {
    sekisho::idp::saml::Trust {
        entity_id: entity_id.into(),
        certs: vec![k.cert.to_der().unwrap().into()],
        decryption_keys: vec![],
        encryption_required: false,
        preferred: Default::default(),
    }
}

/// The pure verifier's rules for AWS's audience and recipient, SHA-1 refused, 300 s leeway.
pub fn aws_rules() -> sekisho::idp::saml::Rules {
    sekisho::idp::saml::Rules {
        audiences: vec![AWS_AUD.into()],
        recipients: vec![AWS_RECIPIENT.into()],
        aws_regional_recipients: false,
        leeway_seconds: 300,
        allow_sha1: false,
    }
}
