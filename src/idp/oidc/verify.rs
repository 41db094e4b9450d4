//! The pure JWT check of a web identity token: a function of the token, the provider's key set,
//! the provider's rules and `now`; no I/O, no clock of its own.
//!
//! Two steps, so the caller can do its I/O in between:
//! 1. [`inspect`] (in [`super::read`]) reads, without trusting anything, what is needed to find
//!    the provider and its key (`iss`, `kid`, `alg`), and refuses early what can never pass
//!    (size, `none`, HMAC, a header naming its own key);
//! 2. [`verify`] checks the signature with the key the provider's JWKS holds for that `kid`,
//!    then every claim (OIDC Core §3.1.3.7, as AWS applies it to `AssumeRoleWithWebIdentity`).

use std::sync::Arc;

use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};

use super::error::Error;
use super::keys::KeySet;
use super::memo::{MAX_READ_TOKEN, ReadToken};
use super::read::{Inspected, inspect_for_verify};

/// What one provider accepts.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    /// The provider URL: `iss` must equal it exactly (trailing slash included).
    pub issuer: &'a str,
    /// The provider's client ids: an audience must be one of them.
    pub client_ids: &'a [String],
    /// Whether `azp` counts as the audience (Google: `azp` is the client, `aud` the other
    /// party, and AWS matches the client id against `azp`).
    pub azp_is_audience: bool,
    /// Leeway for `exp`, `nbf` and `iat`, seconds (decision 3: default 300, at most 900).
    pub leeway_seconds: i64,
    /// The oldest `iat` accepted, seconds before `now`.
    pub max_age_seconds: i64,
}

/// A verified token: the claims AWS uses, plus all of them for provider-specific keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// `iss`.
    pub iss: String,
    /// `sub`.
    pub sub: String,
    /// Every audience of the token.
    pub aud: Vec<String>,
    /// The client id that matched (the `Audience` of the response).
    pub audience: String,
    /// `azp`, if present.
    pub azp: Option<String>,
    /// `amr` (multi-valued), if present.
    pub amr: Vec<String>,
    /// `iat`.
    pub iat: i64,
    /// `exp`.
    pub exp: i64,
    /// The key that verified it (`-` when the token named none).
    pub kid: String,
    /// The algorithm it was verified with.
    pub alg: Algorithm,
    /// All claims (provider-specific condition keys, session tags).
    pub claims: Arc<Map<String, Value>>,
}

/// An integer claim (a time): absent → `None`; any other type (a string, a fraction) refused.
fn int_claim(claims: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, Error> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or(Error::ClaimType(name)),
        Some(_) => Err(Error::ClaimType(name)),
    }
}

/// A string-or-array-of-strings claim (`aud`, `amr`).
fn strings_claim(claims: &Map<String, Value>, name: &'static str) -> Result<Vec<String>, Error> {
    match claims.get(name) {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or(Error::ClaimType(name)))
            .collect(),
        Some(_) => Err(Error::ClaimType(name)),
    }
}

/// Verifies `token` with the provider's `keys` and `rules` at `now` (Unix seconds).
///
/// # Errors
/// Every refusal of [`inspect`]; [`Error::UnknownKid`] when the key set has no key for the
/// token's `kid` (the caller may refetch once and retry); [`Error::AlgorithmMismatch`],
/// [`Error::Signature`]; then the claim checks: `iss`, `aud`/`azp`, `sub`, `exp`, `nbf`,
/// `iat` and the maximum age.
///
/// A token whose signature this key set verified before (the same text, byte for byte) is not
/// verified again ([`super::memo`]); every other check runs each time.
pub fn verify(token: &str, keys: &KeySet, rules: &Rules<'_>, now: i64) -> Result<Verified, Error> {
    verify_inspected(inspect_for_verify(token)?, keys, rules, now)
}

/// [`verify`] of a token [`inspect_for_verify`] has read.
///
/// # Errors
/// As [`verify`].
pub fn verify_inspected(
    inspected: Inspected<'_>,
    keys: &KeySet,
    rules: &Rules<'_>,
    now: i64,
) -> Result<Verified, Error> {
    let Inspected {
        token,
        unverified: u,
        claims,
        digest,
        reads,
        remembered,
    } = inspected;
    let kid_label = u.kid.clone().unwrap_or_else(|| "-".to_owned());
    // The key comes from the provider's set, by kid; nothing in the header chooses it otherwise.
    let key = keys
        .find(u.kid.as_deref())
        .ok_or_else(|| Error::UnknownKid {
            kid: kid_label.clone(),
            refetch_limited: false,
        })?;
    // The algorithm is the key's: the header's alg must be one the key allows.
    if !key.algorithms().contains(&u.alg) {
        return Err(Error::AlgorithmMismatch {
            kid: kid_label,
            header_alg: format!("{:?}", u.alg),
            allowed: key
                .algorithms()
                .iter()
                .map(|a| format!("{a:?}"))
                .collect::<Vec<_>>()
                .join("/"),
        });
    }
    if !keys.memo().contains(&digest) {
        let mut v = Validation::new(u.alg);
        // The library's time checks read the system clock: off; ours below use `now`. Its
        // required list replaces the default one, so every required claim is named. Its checks
        // depend on the token's bytes, the key (both fixed for a memo entry) and the issuer,
        // which is checked below every time as well.
        v.validate_exp = false;
        v.validate_nbf = false;
        v.validate_aud = false;
        v.leeway = 0;
        v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        v.set_issuer(&[rules.issuer]);
        // The claims were read above (the same bytes); the library's copy is not kept.
        jsonwebtoken::decode::<serde::de::IgnoredAny>(token, key.decoding_key(), &v).map_err(
            |e| match library_error(&e, &kid_label, rules.issuer, &u.iss) {
                // Present but not an integer (a string `exp`): a type error, not an absence.
                Error::MissingClaim(c) if claims.contains_key(c) => Error::ClaimType(c),
                other => other,
            },
        )?;
        keys.memo().insert(digest);
    }
    // Signed by the provider's key: its reading may be remembered (never trusted on its own).
    if let Some(reads) = reads
        && !remembered
        && token.len() <= MAX_READ_TOKEN
    {
        reads.insert(
            digest,
            Arc::new(ReadToken {
                unverified: u.clone(),
                claims: Arc::clone(&claims),
            }),
        );
    }

    // OIDC Core 3.1.3.7 (2): the issuer must exactly match the provider URL.
    if u.iss != rules.issuer {
        return Err(Error::Issuer {
            got: u.iss,
            want: rules.issuer.to_owned(),
        });
    }
    // (3) an audience must be a client id of the provider (AWS: or `azp`, for Google).
    let aud = strings_claim(&claims, "aud")?;
    if aud.is_empty() {
        return Err(Error::MissingClaim("aud"));
    }
    let azp = match claims.get("azp") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(Error::ClaimType("azp")),
    };
    let is_client = |a: &String| rules.client_ids.iter().any(|c| c == a);
    let audience = azp
        .as_ref()
        .filter(|a| rules.azp_is_audience && is_client(a))
        .or_else(|| aud.iter().find(|a| is_client(a)))
        .cloned()
        .ok_or_else(|| Error::Audience {
            got: aud.join(",").chars().take(512).collect(),
        })?;
    // `sub` is required: it names the session's subject.
    let sub = match claims.get("sub") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) | None => return Err(Error::MissingClaim("sub")),
        Some(_) => return Err(Error::ClaimType("sub")),
    };
    // (9) exp, (10) iat: required integers; nbf an integer when present; all with the leeway.
    let leeway = rules.leeway_seconds;
    let exp = int_claim(&claims, "exp")?.ok_or(Error::MissingClaim("exp"))?;
    let iat = int_claim(&claims, "iat")?.ok_or(Error::MissingClaim("iat"))?;
    let nbf = int_claim(&claims, "nbf")?;
    if now > exp.saturating_add(leeway) {
        return Err(Error::Expired { exp, now, leeway });
    }
    if let Some(nbf) = nbf
        && nbf > now.saturating_add(leeway)
    {
        return Err(Error::NotYetValid { nbf, now });
    }
    if iat > now.saturating_add(leeway) {
        return Err(Error::IssuedInFuture { iat, now });
    }
    let age = now.saturating_sub(iat);
    if age > rules.max_age_seconds.saturating_add(leeway) {
        return Err(Error::TooOld {
            age,
            max: rules.max_age_seconds,
        });
    }
    let amr = strings_claim(&claims, "amr")?;
    Ok(Verified {
        iss: u.iss,
        sub,
        aud,
        audience,
        azp,
        amr,
        iat,
        exp,
        kid: kid_label,
        alg: u.alg,
        claims,
    })
}

/// The library's refusals in our terms (signature first: it checks nothing else before it).
fn library_error(e: &jsonwebtoken::errors::Error, kid: &str, want: &str, got: &str) -> Error {
    use jsonwebtoken::errors::ErrorKind as K;
    match e.kind() {
        K::InvalidSignature => Error::Signature {
            kid: kid.to_owned(),
        },
        K::InvalidAlgorithm | K::InvalidAlgorithmName | K::MissingAlgorithm => {
            Error::AlgorithmRefused("mismatch".into())
        }
        K::InvalidIssuer => Error::Issuer {
            got: got.to_owned(),
            want: want.to_owned(),
        },
        K::MissingRequiredClaim(c) => Error::MissingClaim(match c.as_str() {
            "exp" => "exp",
            "iss" => "iss",
            "aud" => "aud",
            "sub" => "sub",
            _ => "claim",
        }),
        K::InvalidClaimFormat(_) => Error::ClaimType("claim"),
        K::InvalidEcdsaKey | K::InvalidRsaKey(_) | K::InvalidKeyFormat => {
            Error::Keys(format!("key {kid} is unusable"))
        }
        _ => Error::Malformed(format!("{e}")),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        reason = "tests"
    )]
    use std::sync::OnceLock;

    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair};
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    use super::*;
    use crate::idp::oidc::memo::ReadMemo;
    use crate::idp::oidc::read::inspect_remembered;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    pub(crate) const ISS: &str = "https://idp.example.com";
    pub(crate) const NOW: i64 = 1_800_000_000;

    /// A test IdP's keys: RSA (kid `rsa1`) and P-256 (kid `ec1`), with their JWKS.
    pub(crate) struct TestKeys {
        pub(crate) rsa: EncodingKey,
        pub(crate) ec: EncodingKey,
        pub(crate) rsa_jwk: Value,
        pub(crate) ec_jwk: Value,
    }

    pub(crate) fn keys() -> &'static TestKeys {
        static K: OnceLock<TestKeys> = OnceLock::new();
        K.get_or_init(|| {
            let rsa = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
            let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der<'_>>::as_der(&rsa).unwrap();
            let b = pkcs8.as_ref();
            // PKCS#8 wraps the PKCS#1 RSAPrivateKey (what the signer takes) in an OCTET
            // STRING after the fixed 2048-bit header: skip to it.
            assert_eq!(b[22], 0x04, "octet string of the PKCS#1 key");
            let pkcs1 = b[26..].to_vec();
            let pc = aws_lc_rs::rsa::PublicKeyComponents::<Vec<u8>>::from(rsa.public_key());
            let rsa_jwk = json!({"kty":"RSA","kid":"rsa1","alg":"RS256","use":"sig",
                "n": URL_SAFE_NO_PAD.encode(&pc.n), "e": URL_SAFE_NO_PAD.encode(&pc.e)});
            let rng = SystemRandom::new();
            let doc =
                EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .unwrap();
            let ec =
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref())
                    .unwrap();
            let point = ec.public_key().as_ref().to_vec();
            let ec_jwk = json!({"kty":"EC","kid":"ec1","crv":"P-256",
                "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                "y": URL_SAFE_NO_PAD.encode(&point[33..65])});
            TestKeys {
                rsa: EncodingKey::from_rsa_der(&pkcs1),
                ec: EncodingKey::from_ec_der(doc.as_ref()),
                rsa_jwk,
                ec_jwk,
            }
        })
    }

    pub(crate) fn key_set() -> KeySet {
        let k = keys();
        KeySet::parse(
            json!({"keys": [k.rsa_jwk, k.ec_jwk]})
                .to_string()
                .as_bytes(),
        )
        .unwrap()
    }

    pub(crate) fn claims() -> Value {
        json!({"iss": ISS, "aud": "sts.amazonaws.com", "sub": "repo:org/repo:ref:refs/heads/main",
               "iat": NOW - 10, "exp": NOW + 600, "nbf": NOW - 10})
    }

    pub(crate) fn sign(alg: Algorithm, kid: &str, claims: &Value) -> String {
        let mut h = Header::new(alg);
        h.kid = Some(kid.to_owned());
        let key = if matches!(alg, Algorithm::ES256) {
            &keys().ec
        } else {
            &keys().rsa
        };
        jsonwebtoken::encode(&h, claims, key).unwrap()
    }

    fn clients() -> Vec<String> {
        vec!["sts.amazonaws.com".to_owned(), "other".to_owned()]
    }

    /// The test provider's rules, for these client ids.
    pub(crate) fn rules(client_ids: &[String]) -> Rules<'_> {
        Rules {
            issuer: ISS,
            client_ids,
            azp_is_audience: false,
            leeway_seconds: 300,
            max_age_seconds: 3600,
        }
    }

    /// A refetched JWKS where kid `rsa1` is another RSA key (a rotation).
    fn rsa1_is_another_key() -> KeySet {
        let other = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let pc = aws_lc_rs::rsa::PublicKeyComponents::<Vec<u8>>::from(other.public_key());
        KeySet::parse(
            json!({"keys": [{"kty":"RSA","kid":"rsa1","alg":"RS256",
                "n": URL_SAFE_NO_PAD.encode(&pc.n), "e": URL_SAFE_NO_PAD.encode(&pc.e)}]})
            .to_string()
            .as_bytes(),
        )
        .unwrap()
    }

    fn check(token: &str) -> Result<Verified, Error> {
        let ids = clients();
        let rules = rules(&ids);
        verify(token, &key_set(), &rules, NOW)
    }

    fn with(f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
        let mut c = claims();
        f(c.as_object_mut().unwrap());
        c
    }

    /// A token of hand-written segments (for headers no library writes).
    fn raw(header: &Value, claims: &Value, sig: &str) -> String {
        format!(
            "{}.{}.{sig}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }

    #[test]
    fn rs256_and_es256_tokens_verify() {
        let v = check(&sign(Algorithm::RS256, "rsa1", &claims())).unwrap();
        assert_eq!(v.sub, "repo:org/repo:ref:refs/heads/main");
        assert_eq!(v.audience, "sts.amazonaws.com");
        assert_eq!(v.kid, "rsa1");
        let v = check(&sign(Algorithm::ES256, "ec1", &claims())).unwrap();
        assert_eq!(v.alg, Algorithm::ES256);
        let listed = with(|c| {
            c.insert("aud".into(), json!(["x", "other"]));
        });
        assert_eq!(
            check(&sign(Algorithm::RS256, "rsa1", &listed))
                .unwrap()
                .audience,
            "other"
        );
    }

    #[test]
    fn white_space_around_a_token_is_ignored_and_inside_it_refused() {
        let t = sign(Algorithm::RS256, "rsa1", &claims());
        let plain = check(&t).unwrap();
        for padded in [format!("{t}\n"), format!("{t}\r\n"), format!(" \t{t} ")] {
            let v = check(&padded).unwrap();
            assert_eq!((v.sub, v.kid), (plain.sub.clone(), plain.kid.clone()));
            // The memo path reads the same text.
            let reads = crate::idp::oidc::memo::ReadMemo::default();
            for _ in 0..2 {
                let ids = clients();
                let inspected = super::super::read::inspect_remembered(&padded, &reads).unwrap();
                assert!(verify_inspected(inspected, &key_set(), &rules(&ids), NOW).is_ok());
            }
        }
        let (head, rest) = t.split_once('.').unwrap();
        assert!(matches!(
            check(&format!("{head}.\n{rest}")),
            Err(Error::Malformed(_))
        ));
        assert!(matches!(
            check(" \n "),
            Err(Error::TooLarge(_) | Error::Malformed(_))
        ));
    }

    #[test]
    fn alg_none_and_hmac_are_refused() {
        let none = raw(&json!({"alg":"none","kid":"rsa1"}), &claims(), "");
        assert_eq!(check(&none), Err(Error::AlgorithmRefused("none".into())));
        // HS256 keyed with the RSA public key (the RS/HS confusion attack).
        let n = keys().rsa_jwk["n"].as_str().unwrap().as_bytes().to_vec();
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some("rsa1".into());
        let hs = jsonwebtoken::encode(&h, &claims(), &EncodingKey::from_secret(&n)).unwrap();
        assert_eq!(check(&hs), Err(Error::AlgorithmRefused("HS256".into())));
    }

    #[test]
    fn the_key_fixes_the_algorithm() {
        // An ES256 signature naming the RSA key, and PS256 when the key says RS256.
        let mut t = sign(Algorithm::ES256, "ec1", &claims());
        t = t.replacen(
            t.split('.').next().unwrap(),
            &URL_SAFE_NO_PAD.encode(json!({"alg":"ES256","kid":"rsa1"}).to_string()),
            1,
        );
        assert!(matches!(check(&t), Err(Error::AlgorithmMismatch { .. })));
        let ps = sign(Algorithm::PS256, "rsa1", &claims());
        assert!(matches!(check(&ps), Err(Error::AlgorithmMismatch { .. })));
    }

    #[test]
    fn unknown_kids_and_keys_of_other_issuers_are_refused() {
        let t = sign(Algorithm::RS256, "nope", &claims());
        assert!(matches!(check(&t), Err(Error::UnknownKid { ref kid, .. }) if kid == "nope"));
        // Another issuer's key: its kid is not in this provider's set.
        let other = with(|c| {
            c.insert("iss".into(), json!("https://evil.example.com"));
        });
        let t = sign(Algorithm::RS256, "evil-kid", &other);
        assert!(matches!(check(&t), Err(Error::UnknownKid { .. })));
        // Signed by a key of the right type that is not the provider's.
        let mut t = sign(Algorithm::RS256, "rsa1", &claims());
        t.push('A');
        assert!(matches!(
            check(&t),
            Err(Error::Signature { .. } | Error::Malformed(_))
        ));
    }

    #[test]
    fn keys_named_by_the_token_are_never_trusted() {
        let c = claims();
        let jku = raw(
            &json!({"alg":"RS256","kid":"rsa1","jku":"https://evil.example.com/jwks"}),
            &c,
            "x",
        );
        assert_eq!(check(&jku), Err(Error::KeyInHeader("jku")));
        let jwk = raw(
            &json!({"alg":"RS256","kid":"rsa1","jwk": keys().rsa_jwk}),
            &c,
            "x",
        );
        assert_eq!(check(&jwk), Err(Error::KeyInHeader("jwk")));
        let x5u = raw(&json!({"alg":"RS256","x5u":"https://e/x"}), &c, "x");
        assert_eq!(check(&x5u), Err(Error::KeyInHeader("x5u")));
    }

    #[test]
    fn times_are_checked_against_the_injected_clock_with_the_leeway() {
        let t = |f: &dyn Fn(&mut serde_json::Map<String, Value>)| {
            check(&sign(Algorithm::RS256, "rsa1", &with(|c| f(c))))
        };
        assert!(matches!(
            t(&|c| {
                c.insert("exp".into(), json!(NOW - 301));
            }),
            Err(Error::Expired { exp, now: NOW, leeway: 300 }) if exp == NOW - 301
        ));
        t(&|c| {
            c.insert("exp".into(), json!(NOW - 299));
        })
        .unwrap();
        assert!(matches!(
            t(&|c| {
                c.insert("nbf".into(), json!(NOW + 301));
            }),
            Err(Error::NotYetValid { .. })
        ));
        assert!(matches!(
            t(&|c| {
                c.insert("iat".into(), json!(NOW + 301));
            }),
            Err(Error::IssuedInFuture { .. })
        ));
        assert!(matches!(
            t(&|c| {
                c.insert("iat".into(), json!(NOW - 4000));
            }),
            Err(Error::TooOld {
                age: 4000,
                max: 3600
            })
        ));
        assert_eq!(
            t(&|c| {
                c.insert("exp".into(), json!((NOW + 600).to_string()));
            }),
            Err(Error::ClaimType("exp"))
        );
        assert_eq!(
            t(&|c| {
                c.insert("iat".into(), json!(1.5));
            }),
            Err(Error::ClaimType("iat"))
        );
        assert_eq!(
            t(&|c| {
                c.remove("exp");
            }),
            Err(Error::MissingClaim("exp"))
        );
        assert_eq!(
            t(&|c| {
                c.remove("iat");
            }),
            Err(Error::MissingClaim("iat"))
        );
    }

    #[test]
    fn a_remembered_reading_is_kept_only_for_signed_tokens_and_trusts_nothing() {
        let ids = clients();
        let rules = rules(&ids);
        let ks = key_set();
        let reads = ReadMemo::default();
        let run = |t: &str, ks: &KeySet, now: i64| {
            verify_inspected(inspect_remembered(t, &reads)?, ks, &rules, now)
        };
        let t = sign(Algorithm::RS256, "rsa1", &claims());
        // Read, verified, remembered; the next request reads it from the memo.
        let first = run(&t, &ks, NOW).unwrap();
        assert_eq!(reads.len(), 1);
        assert!(inspect_remembered(&t, &reads).unwrap().remembered);
        let shown = format!("{:?}", inspect_remembered(&t, &reads).unwrap());
        assert!(
            !shown.contains(&t[..20]) && !shown.contains("sub"),
            "{shown}"
        );
        assert_eq!(run(&t, &ks, NOW).unwrap(), first, "a hit answers the same");
        assert_eq!(
            first,
            verify(&t, &ks, &rules, NOW).unwrap(),
            "as without the memo"
        );
        // Claims from the memo are checked against each request's clock and rules.
        assert!(matches!(
            run(&t, &ks, NOW + 901),
            Err(Error::Expired { .. })
        ));
        // And the signature is still the key set's to accept: another key under kid rsa1
        // (a rotated JWKS, with an empty signature memo) refuses the remembered reading.
        let rotated = rsa1_is_another_key();
        assert!(inspect_remembered(&t, &reads).unwrap().remembered);
        assert!(matches!(
            run(&t, &rotated, NOW),
            Err(Error::Signature { .. })
        ));
        // A token whose signature fails is not remembered; nor is an unsigned one.
        let mut bad = t.clone().into_bytes();
        let i = bad.len() - 10;
        bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
        let bad = String::from_utf8(bad).unwrap();
        assert!(run(&bad, &ks, NOW).is_err());
        let none = raw(&json!({"alg":"none"}), &claims(), "");
        assert!(run(&none, &ks, NOW).is_err());
        assert_eq!(reads.len(), 1, "only the signed token is remembered");
        assert!(!inspect_remembered(&bad, &reads).unwrap().remembered);
        // A token over MAX_READ_TOKEN is verified but not remembered.
        let big = sign(
            Algorithm::RS256,
            "rsa1",
            &with(|c| {
                c.insert("pad".into(), json!("x".repeat(MAX_READ_TOKEN)));
            }),
        );
        run(&big, &ks, NOW).unwrap();
        assert_eq!(reads.len(), 1);
    }

    #[test]
    fn a_remembered_signature_still_has_every_claim_checked() {
        let ids = clients();
        let rules = rules(&ids);
        let ks = key_set();
        let t = sign(Algorithm::RS256, "rsa1", &claims());
        let first = verify(&t, &ks, &rules, NOW).unwrap();
        assert_eq!(ks.memo().len(), 1, "its signature is remembered");
        assert_eq!(
            verify(&t, &ks, &rules, NOW).unwrap(),
            first,
            "a hit answers the same"
        );
        // The time checks use each request's clock: exp = NOW + 600, iat = nbf = NOW - 10.
        assert!(matches!(
            verify(&t, &ks, &rules, NOW + 901),
            Err(Error::Expired { .. })
        ));
        assert!(matches!(
            verify(&t, &ks, &rules, NOW - 311),
            Err(Error::NotYetValid { .. } | Error::IssuedInFuture { .. })
        ));
        // The provider's rules are applied again.
        let others = vec!["someone-else".to_owned()];
        let r = Rules {
            client_ids: &others,
            ..rules
        };
        assert!(matches!(
            verify(&t, &ks, &r, NOW),
            Err(Error::Audience { .. })
        ));
        let r = Rules {
            issuer: "https://other.example.com",
            ..rules
        };
        assert!(matches!(
            verify(&t, &ks, &r, NOW),
            Err(Error::Issuer { .. })
        ));
        // One signature character changed: not remembered, verified, refused.
        let mut bad = t.clone().into_bytes();
        let i = bad.len() - 10;
        bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
        let bad = String::from_utf8(bad).unwrap();
        assert!(matches!(
            verify(&bad, &ks, &rules, NOW),
            Err(Error::Signature { .. })
        ));
        assert_eq!(ks.memo().len(), 1, "a refused token is not remembered");
        // A refetched JWKS where kid rsa1 is another key: nothing remembered, refused.
        let rotated = rsa1_is_another_key();
        assert!(matches!(
            verify(&t, &rotated, &rules, NOW),
            Err(Error::Signature { .. })
        ));
        // A key set without the kid any more: unknown, whatever was remembered.
        let withdrawn =
            KeySet::parse(json!({"keys": [keys().ec_jwk]}).to_string().as_bytes()).unwrap();
        assert!(matches!(
            verify(&t, &withdrawn, &rules, NOW),
            Err(Error::UnknownKid { .. })
        ));
    }

    #[test]
    fn issuer_audience_and_subject_are_required_and_matched() {
        let t = |f: &dyn Fn(&mut serde_json::Map<String, Value>)| {
            check(&sign(Algorithm::RS256, "rsa1", &with(|c| f(c))))
        };
        assert!(matches!(
            t(&|c| {
                c.insert("iss".into(), json!("https://idp.example.com/"));
            }),
            Err(Error::Issuer { .. })
        ));
        assert!(matches!(
            t(&|c| {
                c.insert("aud".into(), json!("someone-else"));
            }),
            Err(Error::Audience { .. })
        ));
        assert!(matches!(
            t(&|c| {
                c.insert("aud".into(), json!([]));
            }),
            Err(Error::MissingClaim("aud"))
        ));
        assert_eq!(
            t(&|c| {
                c.remove("sub");
            }),
            Err(Error::MissingClaim("sub"))
        );
        assert_eq!(
            t(&|c| {
                c.insert("sub".into(), json!(42));
            }),
            Err(Error::ClaimType("sub"))
        );
    }

    #[test]
    fn azp_counts_as_the_audience_only_where_aws_says_so() {
        let c = with(|c| {
            c.insert("aud".into(), json!("web-app"));
            c.insert("azp".into(), json!("sts.amazonaws.com"));
        });
        let t = sign(Algorithm::RS256, "rsa1", &c);
        assert!(matches!(check(&t), Err(Error::Audience { .. })));
        let ids = clients();
        let rules = Rules {
            azp_is_audience: true,
            ..rules(&ids)
        };
        let v = verify(&t, &key_set(), &rules, NOW).unwrap();
        assert_eq!(v.audience, "sts.amazonaws.com");
    }

    #[test]
    fn sizes_and_shapes_are_bounded() {
        let big = with(|c| {
            c.insert("pad".into(), json!("x".repeat(20_000)));
        });
        let t = sign(Algorithm::RS256, "rsa1", &big);
        assert!(matches!(check(&t), Err(Error::TooLarge(n)) if n > 20_000));
        assert!(matches!(check("abc"), Err(Error::TooLarge(3))));
        for bad in ["a.b", "a.b.c.d", "!!!.###.$$$", "e30.e30.x", ".e30."] {
            assert!(check(bad).is_err(), "{bad}");
        }
        let crit = raw(
            &json!({"alg":"RS256","kid":"rsa1","crit":["b64"]}),
            &claims(),
            "x",
        );
        assert!(matches!(check(&crit), Err(Error::Malformed(_))));
    }
}

#[cfg(test)]
mod cost {
    #![allow(clippy::unwrap_used, reason = "measurement")]
    use super::tests::{NOW, claims, key_set, rules, sign};
    use super::*;

    /// The CPU cost of one verification (RS256 and ES256), to decide whether it needs
    /// `spawn_blocking`: `cargo test --release --lib verify_cost -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn verify_cost() {
        let ids = vec!["sts.amazonaws.com".to_owned()];
        let rules = rules(&ids);
        let keys = key_set();
        for (alg, kid) in [(Algorithm::RS256, "rsa1"), (Algorithm::ES256, "ec1")] {
            let t = sign(alg, kid, &claims());
            let n = 2000;
            let fresh: Vec<KeySet> = (0..n).map(|_| keys.clone()).collect();
            let start = std::time::Instant::now();
            for k in &fresh {
                verify(&t, k, &rules, NOW).unwrap();
            }
            let per = start.elapsed() / n;
            let start = std::time::Instant::now();
            for _ in 0..n {
                verify(&t, &keys, &rules, NOW).unwrap();
            }
            let hit = start.elapsed() / n;
            println!("{alg:?}: {per:?} per verification, {hit:?} with the signature remembered");
        }
    }
}
