//! Session-token benchmarks: seal and open, for typical claims and with a 2 KB session policy.
#![expect(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

use std::hint::black_box;

use chrono::{DateTime, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use sekisho::token::{KeyRing, SessionClaims, SessionKind};

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_100, 0).unwrap_or_default()
}

fn typical() -> SessionClaims {
    SessionClaims {
        kind: SessionKind::AssumedRole,
        account: "123456789012".into(),
        access_key_id: "ASIAY34FZKBOKMUTVV7A".into(),
        arn: "arn:aws:sts::123456789012:assumed-role/DeploymentPipelineAdmin/ci-run-4711".into(),
        principal_arn: "arn:aws:iam::123456789012:role/service-role/ci/DeploymentPipelineAdmin"
            .into(),
        principal_id: "AROAY34FZKBOKMUTVV7AB".into(),
        session_name: Some("ci-run-4711".into()),
        issued_at: 1_700_000_000,
        expires_at: 1_700_003_600,
        mfa_auth_time: None,
        source_identity: Some("alice@example.com".into()),
        tags: vec![],
        transitive_tag_keys: vec![],
        session_policy: None,
        session_policy_arns: vec![],
        parent_access_key_id: Some("AKIAY34FZKBOKMUTVV7A".into()),
        parent_user_id: Some("AIDAY34FZKBOKMUTVV7AB".into()),
        chained: false,
        federated_provider: None,
        federation_claims: vec![],
    }
}

/// A realistic ~2 KB session policy (distinct bucket names, so not trivially compressible).
fn with_policy() -> SessionClaims {
    let mut policy = String::from(r#"{"Version":"2012-10-17","Statement":["#);
    let mut i = 0;
    while policy.len() < 1900 {
        policy.push_str(&format!(
            r#"{{"Sid":"S{i}","Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::bucket-{i:03}-data/prefix-{}/*"}},"#,
            i * 7919 % 1000
        ));
        i += 1;
    }
    policy.pop();
    policy.push_str("]}");
    SessionClaims {
        session_policy: Some(policy),
        ..typical()
    }
}

fn bench(c: &mut Criterion) {
    let ring = KeyRing::generate_in_memory(now());
    for (name, claims) in [("typical", typical()), ("policy_2kb", with_policy())] {
        let Ok(token) = ring.seal_at(&claims, now()) else {
            return;
        };
        eprintln!("{name}: token is {} bytes", token.len());
        c.bench_function(&format!("seal/{name}"), |b| {
            b.iter(|| ring.seal_at(black_box(&claims), now()));
        });
        c.bench_function(&format!("open/{name}"), |b| {
            b.iter(|| ring.open_at(black_box(&token), now()));
        });
        // A token the ring has opened before (the common case: clients reuse their session).
        c.bench_function(&format!("open_and_derive_remembered/{name}"), |b| {
            b.iter(|| ring.open_and_derive(black_box(&token), "ASIAY34FZKBOKMUTVV7A", now()));
        });
    }
    c.bench_function("mint/typical", |b| {
        b.iter(|| ring.mint_at(black_box(typical()), now()));
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
