//! Module-level tests: minting, size budgets, tamper detection, rotation, the key-ring file.

#![expect(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use rand::RngCore as _;

use super::claims::tests::typical;
use super::*;
use crate::ids;

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_100, 0).unwrap()
}

fn reason<T: std::fmt::Debug>(r: Result<T, Error>) -> Option<InvalidReason> {
    r.unwrap_err().invalid_reason()
}

/// Random base64 text: incompressible.
fn noise(len: usize) -> String {
    let mut b = vec![0_u8; len];
    rand::rng().fill_bytes(&mut b);
    let mut s = URL_SAFE_NO_PAD.encode(&b);
    s.truncate(len);
    s
}

/// Largest `n` in `0..=hi` with `ok(n)`, given `ok` is monotone (true then false).
fn largest(hi: usize, ok: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, hi);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if ok(mid) { lo = mid } else { hi = mid - 1 }
    }
    lo
}

#[test]
fn mint_then_open_and_derive() {
    let ring = KeyRing::generate_in_memory(t0());
    let m = ring.mint_at(typical(), t0()).unwrap();
    assert!(m.access_key_id.starts_with("ASIA"));
    assert_eq!(m.access_key_id.len(), 20);
    assert_eq!(
        ids::account_from_access_key_id(&m.access_key_id).as_deref(),
        Some("123456789012")
    );
    assert_eq!(m.claims.access_key_id, m.access_key_id);
    assert_eq!(m.secret.expose().len(), 40);
    // The secret is not in the token, in any encoding we use.
    assert!(!m.token.expose().contains(m.secret.expose()));

    let (claims, secret) = ring
        .open_and_derive(m.token.expose(), &m.access_key_id, t0())
        .unwrap();
    assert_eq!(*claims, m.claims);
    assert!(secret.ct_eq(m.secret.expose()));
    assert_eq!(ring.open_at(m.token.expose(), t0()).unwrap(), m.claims);

    // Two mints of the same claims: different ids, secrets, tokens.
    let m2 = ring.mint_at(typical(), t0()).unwrap();
    assert_ne!(m2.access_key_id, m.access_key_id);
    assert!(!m2.secret.ct_eq(m.secret.expose()));
    assert!(!m2.token.ct_eq(m.token.expose()));
}

#[test]
fn token_is_bound_to_its_access_key_id() {
    let ring = KeyRing::generate_in_memory(t0());
    let a = ring.mint_at(typical(), t0()).unwrap();
    let b = ring.mint_at(typical(), t0()).unwrap();
    // Holder of `b` presenting `a`'s token with b's key id: rejected.
    let e = ring
        .open_and_derive(a.token.expose(), &b.access_key_id, t0())
        .unwrap_err();
    assert_eq!(e.invalid_reason(), Some(InvalidReason::AccessKeyMismatch));
    // Same caller-visible message as any other rejection.
    assert_eq!(
        e.to_string(),
        Error::Invalid(InvalidReason::Tampered).to_string()
    );
    let e = ring
        .open_and_derive(a.token.expose(), "", t0())
        .unwrap_err();
    assert_eq!(e.invalid_reason(), Some(InvalidReason::AccessKeyMismatch));
}

#[test]
fn remembered_tokens_are_checked_again_on_every_use() {
    let ring = KeyRing::generate_in_memory(t0())
        .rotated(t0(), DEFAULT_RETAIN)
        .unwrap();
    let a = ring.mint_at(typical(), t0()).unwrap();
    let b = ring.mint_at(typical(), t0()).unwrap();
    // The first open fills the memo; the next ones are hits with the same answer.
    for _ in 0..3 {
        let (c, s) = ring
            .open_and_derive(a.token.expose(), &a.access_key_id, t0())
            .unwrap();
        assert_eq!(*c, a.claims);
        assert!(s.ct_eq(a.secret.expose()));
    }
    // A hit still checks the access key id.
    assert_eq!(
        reason(ring.open_and_derive(a.token.expose(), &b.access_key_id, t0())),
        Some(InvalidReason::AccessKeyMismatch)
    );
    // A changed character makes another token, which is opened (and refused) afresh.
    let mut chars: Vec<char> = a.token.expose().chars().collect();
    if let Some(c) = chars.get_mut(20) {
        *c = if *c == 'A' { 'B' } else { 'A' };
    }
    let tampered: String = chars.into_iter().collect();
    assert!(
        ring.open_and_derive(&tampered, &a.access_key_id, t0())
            .is_err()
    );

    // A remembered token sealed by a rotated-out key is refused once that key passes its
    // horizon, like a fresh open.
    let old = KeyRing::generate_in_memory(t0());
    let t = old.mint_at(typical(), t0()).unwrap();
    let r1 = t0() + Duration::minutes(5);
    let ring = old.rotated(r1, Duration::hours(1)).unwrap();
    assert!(
        ring.open_and_derive(t.token.expose(), &t.access_key_id, r1)
            .is_ok()
    );
    assert_eq!(
        reason(ring.open_and_derive(t.token.expose(), &t.access_key_id, r1 + Duration::hours(1))),
        Some(InvalidReason::KeyRetired)
    );
    assert!(
        ring.open_and_derive(t.token.expose(), &t.access_key_id, r1)
            .is_ok(),
        "still within the horizon"
    );
}

#[test]
fn open_does_not_judge_expiry_but_claims_do() {
    let ring = KeyRing::generate_in_memory(t0());
    let m = ring.mint_at(typical(), t0()).unwrap();
    let later = DateTime::from_timestamp(m.claims.expires_at + 10, 0).unwrap();
    let c = ring.open_at(m.token.expose(), later).unwrap();
    assert!(c.is_expired(later));
    assert!(!c.is_expired(t0()));
}

#[test]
fn seal_refuses_bad_claims() {
    let ring = KeyRing::generate_in_memory(t0());
    let mut c = typical();
    c.account = "12345".into();
    assert!(matches!(ring.mint_at(c, t0()), Err(Error::Claims(_))));
    // Already expired at `now`.
    let late = DateTime::from_timestamp(typical().expires_at, 0).unwrap();
    assert!(matches!(
        ring.seal_at(&typical(), late),
        Err(Error::Claims(_))
    ));
    // A token that would exceed MAX_TOKEN_LEN is refused at sealing, not produced unopenable.
    let mut c = typical();
    c.session_policy = Some(noise(9000));
    assert!(matches!(ring.seal_at(&c, t0()), Err(Error::Claims(_))));
}

#[test]
fn typical_token_is_under_1_kb() {
    let ring = KeyRing::generate_in_memory(t0());
    let m = ring.mint_at(typical(), t0()).unwrap();
    let len = m.token.expose().len();
    assert!(len < 1024, "typical token is {len} bytes");

    // A SAML session with its bounded federation claims and provider, no policy or tags.
    let mut c = typical();
    c.kind = SessionKind::Saml;
    c.mfa_auth_time = None;
    c.federated_provider = Some("arn:aws:iam::123456789012:saml-provider/CorporateOkta".into());
    c.federation_claims = vec![
        (
            "saml:namequalifier".into(),
            "kKx3OhJ8Pp5OwRzNqp9lgcWrf8s=".into(),
        ),
        ("saml:sub".into(), "alice.example@corp.example.com".into()),
        ("saml:sub_type".into(), "persistent".into()),
    ];
    let len = ring.mint_at(c, t0()).unwrap().token.expose().len();
    assert!(len < 1024, "saml token is {len} bytes");
}

#[test]
fn token_at_packed_limit_is_under_4_kb() {
    let ring = KeyRing::generate_in_memory(t0());
    let arns: Vec<String> = (0..10)
        .map(|i| format!("arn:aws:iam::123456789012:policy/team-{i}/ReadOnlyAccessForBuckets{i}"))
        .collect();
    // Several shapes of "as much as fits in 100 %": incompressible policy; incompressible tags;
    // a mix with all 10 ARNs. Each is pushed to the largest size still <= 100 %.
    // Fixed noise, so each shape is a deterministic, monotone function of n.
    let big = noise(40_000);
    let cut = |from: usize, len: usize| big.get(from..from + len).unwrap().to_owned();
    type Shape<'a> =
        Box<dyn Fn(usize) -> (Option<String>, Vec<String>, Vec<(String, String)>) + 'a>;
    let shapes: Vec<Shape<'_>> = vec![
        Box::new(|n| (Some(cut(0, n)), vec![], vec![])),
        Box::new(|n| {
            // Up to 50 tags, each with a 16-char key and up to 256 chars of value.
            let tags = (0..50)
                .map(|i| {
                    (
                        format!("k{i:02}-{}", cut(30_000 + i * 16, 12)),
                        cut(i * 256, n.saturating_sub(i * 256).min(256)),
                    )
                })
                .take(n.div_ceil(256).max(1))
                .collect();
            (None, vec![], tags)
        }),
        Box::new(|n| {
            let tags = vec![
                ("Project".into(), "Blue".into()),
                ("CostCenter".into(), "4711".into()),
            ];
            (Some(cut(0, n)), arns.clone(), tags)
        }),
    ];
    for (i, shape) in shapes.iter().enumerate() {
        let fits = |n: usize| {
            let (p, a, t) = shape(n);
            packed_size_percent(p.as_deref(), &a, &t) <= 100
        };
        let n = largest(12_000, fits);
        let (p, a, t) = shape(n);
        let pct = packed_size_percent(p.as_deref(), &a, &t);
        assert!((95..=100).contains(&pct), "shape {i}: {pct}% at n = {n}");
        let mut c = typical();
        c.session_policy = p;
        c.session_policy_arns = a;
        c.transitive_tag_keys = t.iter().take(50).map(|(k, _)| k.clone()).collect();
        c.tags = t;
        let len = ring.mint_at(c, t0()).unwrap().token.expose().len();
        assert!(len < 4096, "shape {i}: token at {pct}% is {len} bytes");
        // And one step more is over the limit.
        let (p, a, t) = shape(n + 1);
        assert!(packed_size_percent(p.as_deref(), &a, &t) > 100 || n == 12_000);
    }
}

#[test]
fn realistic_2kb_policy_is_well_under_the_limit() {
    let stmt = r#"{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::example-bucket-NN","arn:aws:s3:::example-bucket-NN/*"]},"#;
    let mut policy = String::from(r#"{"Version":"2012-10-17","Statement":["#);
    let mut i = 0;
    while policy.len() + stmt.len() < 2040 {
        policy.push_str(&stmt.replace("NN", &format!("{i:02}")));
        i += 1;
    }
    policy.pop();
    policy.push_str("]}");
    assert!(policy.len() <= 2048);
    let pct = packed_size_percent(Some(&policy), &[], &[]);
    assert!(pct < 50, "{pct}%");
}

/// Flips every bit of a real token, in its text form and in its decoded bytes: every single
/// flip must be rejected.
#[test]
fn every_single_bit_flip_is_rejected() {
    let ring = KeyRing::generate_in_memory(t0());
    let m = ring.mint_at(typical(), t0()).unwrap();
    let token = m.token.expose().as_bytes().to_vec();
    for pos in 0..token.len() * 8 {
        let mut t = token.clone();
        *t.get_mut(pos / 8).unwrap() ^= 1 << (pos % 8);
        let t = String::from_utf8_lossy(&t);
        assert!(ring.open_at(&t, t0()).is_err(), "text bit {pos}");
    }
    let raw = URL_SAFE_NO_PAD.decode(token.get(4..).unwrap()).unwrap();
    for pos in 0..raw.len() * 8 {
        let mut r = raw.clone();
        *r.get_mut(pos / 8).unwrap() ^= 1 << (pos % 8);
        let t = format!("SKS1{}", URL_SAFE_NO_PAD.encode(&r));
        let e = ring.open_at(&t, t0()).unwrap_err();
        assert!(
            matches!(
                e.invalid_reason(),
                Some(
                    InvalidReason::Tampered
                        | InvalidReason::UnknownKey
                        | InvalidReason::UnknownVersion
                )
            ),
            "raw bit {pos}: {e:?}"
        );
    }
}

#[test]
fn truncations_and_extensions_are_rejected() {
    let ring = KeyRing::generate_in_memory(t0());
    let m = ring.mint_at(typical(), t0()).unwrap();
    let token = m.token.expose();
    for cut in 0..token.len() {
        assert!(
            ring.open_at(token.get(..cut).unwrap(), t0()).is_err(),
            "cut at {cut}"
        );
    }
    for extra in ["A", "AA", "AAA", "AAAA", "=", "\n", " "] {
        assert!(
            ring.open_at(&format!("{token}{extra}"), t0()).is_err(),
            "{extra:?}"
        );
    }
    assert_eq!(
        reason(ring.open_at(&"A".repeat(MAX_TOKEN_LEN + 1), t0())),
        Some(InvalidReason::Oversize)
    );
}

#[test]
fn other_rings_tokens_are_unknown() {
    let a = KeyRing::generate_in_memory(t0());
    let b = KeyRing::generate_in_memory(t0());
    let m = a.mint_at(typical(), t0()).unwrap();
    assert_eq!(
        reason(b.open_at(m.token.expose(), t0())),
        Some(InvalidReason::UnknownKey)
    );
}

#[test]
fn rotation_retains_then_refuses_then_prunes() {
    let ring = KeyRing::generate_in_memory(t0());
    let old_id = ring.active_key_id();
    let old = ring.mint_at(typical(), t0()).unwrap();

    let r1 = t0() + Duration::hours(1);
    let ring = ring.rotated(r1, DEFAULT_RETAIN).unwrap();
    assert_ne!(ring.active_key_id(), old_id);
    let keys = ring.keys();
    assert_eq!(keys.len(), 2);
    assert!(keys.first().unwrap().active && !keys.get(1).unwrap().active);
    assert_eq!(keys.get(1).unwrap().open_until, Some(r1 + DEFAULT_RETAIN));

    // Rotated out but retained: old tokens still open, with the same derived secret.
    let (c, s) = ring
        .open_and_derive(old.token.expose(), &old.access_key_id, r1)
        .unwrap();
    assert_eq!(*c, old.claims);
    assert!(s.ct_eq(old.secret.expose()));
    // New tokens use the new key.
    let new = ring.mint_at(typical(), r1).unwrap();
    assert!(ring.open_at(new.token.expose(), r1).is_ok());

    // Past the horizon, still in the ring: refused.
    let past = r1 + DEFAULT_RETAIN;
    assert_eq!(
        reason(ring.open_at(old.token.expose(), past)),
        Some(InvalidReason::KeyRetired)
    );
    assert_eq!(
        ring.open_at(old.token.expose(), past - Duration::seconds(1))
            .unwrap(),
        old.claims
    );

    // Next rotation after the horizon prunes it.
    let ring = ring.rotated(past, DEFAULT_RETAIN).unwrap();
    assert_eq!(ring.keys().len(), 2);
    assert!(ring.keys().iter().all(|k| k.id != old_id.to_string()));
    assert_eq!(
        reason(ring.open_at(old.token.expose(), past)),
        Some(InvalidReason::UnknownKey)
    );
    // The key of `new` is retained.
    assert!(ring.open_at(new.token.expose(), past).is_ok());
    assert!(
        KeyRing::generate_in_memory(t0())
            .rotated(t0(), Duration::seconds(-1))
            .is_err()
    );
}

#[test]
fn json_round_trip_preserves_keys() {
    let ring = KeyRing::generate_in_memory(t0())
        .rotated(t0(), DEFAULT_RETAIN)
        .unwrap();
    let json = ring.to_json().unwrap();
    let back = KeyRing::from_json(json.expose()).unwrap();
    assert_eq!(back.keys(), ring.keys());
    let m = ring.mint_at(typical(), t0()).unwrap();
    let (_, s) = back
        .open_and_derive(m.token.expose(), &m.access_key_id, t0())
        .unwrap();
    assert!(s.ct_eq(m.secret.expose()));
}

mod file {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn entries(dir: &std::path::Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn create_load_rotate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.json");
        let a = KeyRing::load_or_create(&path, t0()).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(entries(dir.path()), vec!["keyring.json".to_owned()]);

        // A second node loads the same ring.
        let b = KeyRing::load_or_create(&path, t0() + Duration::hours(5)).unwrap();
        assert_eq!(a.keys(), b.keys());
        let m = a.mint_at(typical(), t0()).unwrap();
        assert!(b.open_at(m.token.expose(), t0()).is_ok());

        let r = KeyRing::rotate(&path, t0() + Duration::hours(1), DEFAULT_RETAIN).unwrap();
        assert_ne!(r.active_key_id(), a.active_key_id());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(entries(dir.path()), vec!["keyring.json".to_owned()]);
        let c = KeyRing::load_or_create(&path, t0()).unwrap();
        assert_eq!(c.keys(), r.keys());
        assert!(
            c.open_at(m.token.expose(), t0() + Duration::hours(2))
                .is_ok()
        );
    }

    #[test]
    fn rotate_needs_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let e = KeyRing::rotate(&dir.path().join("none.json"), t0(), DEFAULT_RETAIN).unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{e:?}");
    }

    #[test]
    fn corrupt_files_are_rejected_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let good = KeyRing::generate_in_memory(t0())
            .rotated(t0(), DEFAULT_RETAIN)
            .unwrap();
        let good: serde_json::Value =
            serde_json::from_str(good.to_json().unwrap().expose()).unwrap();
        let edit = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v = good.clone();
            f(&mut v);
            v.to_string()
        };
        let cases: Vec<(&str, String, &str)> = vec![
            ("empty", String::new(), "EOF"),
            ("not json", "{{{".into(), "key must be a string"),
            ("not utf8", "\u{0}".into(), "expected value"),
            ("format", edit(&|v| v["format"] = "other".into()), "format"),
            (
                "version",
                edit(&|v| v["version"] = 2.into()),
                "unsupported version",
            ),
            (
                "unknown field",
                edit(&|v| v["extra"] = 1.into()),
                "unknown field",
            ),
            (
                "no keys",
                edit(&|v| v["keys"] = serde_json::json!([])),
                "no active key",
            ),
            (
                "no active",
                edit(&|v| {
                    v["keys"].as_array_mut().unwrap().remove(0);
                }),
                "no active key",
            ),
            (
                "two active",
                edit(&|v| {
                    v["keys"][1]["retired_at"] = serde_json::Value::Null;
                    v["keys"][1]["open_until"] = serde_json::Value::Null;
                }),
                "more than one active",
            ),
            (
                "dup id",
                edit(&|v| v["keys"][1]["id"] = v["keys"][0]["id"].clone()),
                "duplicate key id",
            ),
            (
                "bad id",
                edit(&|v| v["keys"][0]["id"] = "xyz".into()),
                "not 8 hex digits",
            ),
            (
                "short key",
                edit(&|v| v["keys"][0]["key"] = "AAAA".into()),
                "expected 32",
            ),
            (
                "bad base64",
                edit(&|v| v["keys"][0]["key"] = "!!".into()),
                "key ",
            ),
            (
                "half retired",
                edit(&|v| v["keys"][1]["open_until"] = serde_json::Value::Null),
                "go together",
            ),
        ];
        for (name, body, needle) in cases {
            let path = dir.path().join(format!("{name}.json"));
            std::fs::write(&path, body).unwrap();
            let e = KeyRing::load_or_create(&path, t0()).unwrap_err();
            let msg = e.to_string();
            assert!(matches!(e, Error::CorruptKeyRing { .. }), "{name}: {e:?}");
            assert!(
                msg.contains(needle) && msg.contains(&format!("{name}.json")),
                "{name}: {msg}"
            );
            // The corrupt file was not replaced.
            assert!(KeyRing::rotate(&path, t0(), DEFAULT_RETAIN).is_err());
        }
        let path = dir.path().join("binary.json");
        std::fs::write(&path, [0xff_u8, 0xfe]).unwrap();
        assert!(matches!(
            KeyRing::load_or_create(&path, t0()),
            Err(Error::CorruptKeyRing { .. })
        ));
    }
}

fn arb_text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 0..max).prop_map(|v| v.into_iter().collect())
}

prop_compose! {
    fn arb_claims()(
        kind in prop_oneof![
            Just(SessionKind::AssumedRole), Just(SessionKind::FederatedUser),
            Just(SessionKind::UserSession), Just(SessionKind::Saml), Just(SessionKind::WebIdentity)
        ],
        acct in 0_u64..=999_999_999_999,
        arn in arb_text(120), principal_arn in arb_text(120), principal_id in arb_text(25),
        session_name in proptest::option::of(arb_text(64)),
        issued_at in 0_i64..4_000_000_000, life in 1_i64..200_000,
        mfa in proptest::option::of(any::<i64>()),
        source_identity in proptest::option::of(arb_text(64)),
        tags in proptest::collection::vec((arb_text(20), arb_text(30)), 0..5),
        transitive in proptest::collection::vec(arb_text(20), 0..3),
        policy in proptest::option::of(arb_text(300)),
        arns in proptest::collection::vec(arb_text(60), 0..3),
        parent in proptest::option::of(arb_text(20)), parent_user in proptest::option::of(arb_text(21)),
        chained in any::<bool>(), provider in proptest::option::of(arb_text(80)),
        fed in proptest::collection::vec((arb_text(20), arb_text(60)), 0..=8),
    ) -> SessionClaims {
        SessionClaims {
            kind, account: format!("{acct:012}"), access_key_id: String::new(), arn, principal_arn,
            principal_id, session_name, issued_at, expires_at: issued_at + life, mfa_auth_time: mfa,
            source_identity, tags, transitive_tag_keys: transitive, session_policy: policy,
            session_policy_arns: arns, parent_access_key_id: parent, parent_user_id: parent_user,
            chained, federated_provider: provider, federation_claims: fed,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn mint_open_round_trip(claims in arb_claims()) {
        let ring = KeyRing::generate_in_memory(t0());
        let now = DateTime::from_timestamp(claims.issued_at, 0).unwrap();
        let m = ring.mint_at(claims, now).unwrap();
        let (c, s) = ring.open_and_derive(m.token.expose(), &m.access_key_id, now).unwrap();
        prop_assert_eq!(&*c, &m.claims);
        prop_assert!(s.ct_eq(m.secret.expose()));
        prop_assert_eq!(ids::account_from_access_key_id(&m.access_key_id), Some(c.account.clone()));
    }

    #[test]
    fn any_flipped_bit_is_rejected(claims in arb_claims(), pos in any::<prop::sample::Index>(), bit in 0_u8..8) {
        let ring = KeyRing::generate_in_memory(t0());
        let now = DateTime::from_timestamp(claims.issued_at, 0).unwrap();
        let m = ring.mint_at(claims, now).unwrap();
        let mut t = m.token.expose().as_bytes().to_vec();
        let i = pos.index(t.len());
        *t.get_mut(i).unwrap() ^= 1 << bit;
        let t = String::from_utf8_lossy(&t);
        prop_assert!(ring.open_at(&t, now).is_err());
        prop_assert!(ring.open_and_derive(&t, &m.access_key_id, now).is_err());
    }

    #[test]
    fn garbage_never_panics(s in arb_text(10_000), bytes in proptest::collection::vec(any::<u8>(), 0..10_000)) {
        let ring = KeyRing::generate_in_memory(t0());
        prop_assert!(ring.open_at(&s, t0()).is_err());
        let prefixed = format!("SKS1{s}");
        prop_assert!(ring.open_at(&prefixed, t0()).is_err());
        // Well-formed base64 of random bytes, with and without the real key id.
        let t = format!("SKS1{}", URL_SAFE_NO_PAD.encode(&bytes));
        prop_assert!(ring.open_at(&t, t0()).is_err());
        let mut raw = vec![1_u8];
        raw.extend_from_slice(&hex::decode(ring.active_key_id().to_string()).unwrap());
        raw.extend_from_slice(&bytes);
        let t = format!("SKS1{}", URL_SAFE_NO_PAD.encode(&raw));
        prop_assert!(ring.open_and_derive(&t, "ASIAY34FZKBOKMUTVV7A", t0()).is_err());
    }
}
