//! Policy decision benchmark: one request against a 20-statement policy with conditions and
//! wildcards (target: ≤ 2 µs median).

#![expect(clippy::unwrap_used, missing_docs, reason = "benchmark")]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use sekisho::policy::{
    Context, PolicyId, PolicyKind, PolicySet, Request, RequestPrincipal, evaluate, parse,
};
use serde_json::json;

fn policy_text() -> String {
    let mut sts = Vec::new();
    for i in 0..18 {
        sts.push(json!({
            "Sid": format!("S{i}"),
            "Effect": "Allow",
            "Action": [format!("svc{i}:Get*"), format!("svc{i}:List*"), "s3:Put*"],
            "Resource": [format!("arn:aws:s3:::bucket{i}/*"), "arn:aws:s3:::home/${aws:username}/*"],
            "Condition": {
                "StringEquals": {"aws:PrincipalTag/team": ["red", "blue"]},
                "IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]},
                "Bool": {"aws:SecureTransport": "true"}
            }
        }));
    }
    sts.push(json!({"Sid": "Read", "Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::data/*",
        "Condition": {"StringLike": {"s3:prefix": ["home/*", "shared/*"]}, "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}}));
    sts.push(
        json!({"Sid": "DenyOutside", "Effect": "Deny", "Action": "*", "Resource": "*",
        "Condition": {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}}}),
    );
    json!({"Version": "2012-10-17", "Statement": sts}).to_string()
}

fn bench(c: &mut Criterion) {
    let p = parse(&policy_text(), PolicyKind::Identity).unwrap();
    assert_eq!(p.statement_count(), 20);
    let mut context = Context::new();
    context.set("aws:PrincipalTag/team", "red");
    context.set("aws:SourceIp", "10.1.2.3");
    context.set("aws:SecureTransport", "true");
    context.set("s3:prefix", "home/alice/x");
    context.set("aws:CurrentTime", "2026-05-01T12:00:00Z");
    let req = Request {
        principal: RequestPrincipal::from_arn("arn:aws:iam::111122223333:user/alice"),
        action: "s3:GetObject".into(),
        resource: "arn:aws:s3:::data/report.csv".into(),
        resource_account: None,
        context,
    };
    let set = PolicySet {
        identity: vec![(PolicyId("bench".into()), &p)],
        ..PolicySet::default()
    };
    assert!(evaluate(&req, &set).is_allowed());
    c.bench_function("evaluate_20_statements", |b| {
        b.iter(|| evaluate(black_box(&req), black_box(&set)))
    });
    let text = policy_text();
    c.bench_function("parse_20_statements", |b| {
        b.iter(|| parse(black_box(&text), PolicyKind::Identity))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
