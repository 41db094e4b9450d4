//! Evaluator laws (proptest) and parser round-trip properties.
//!
//! Laws: an explicit Deny always wins; statement order never changes the effect; adding an
//! Allow never removes a Deny; `parse → to_json → parse` is stable.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use serde_json::{Value, json};

use super::*;

const ACTIONS: [&str; 6] = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:*",
    "s3:Get*",
    "ec2:*",
    "*",
];
const RESOURCES: [&str; 4] = [
    "*",
    "arn:aws:s3:::b/*",
    "arn:aws:s3:::b/k",
    "arn:aws:s3:::other/*",
];

fn statement() -> impl Strategy<Value = Value> {
    (
        any::<bool>(),
        prop::sample::subsequence(ACTIONS.to_vec(), 1..3),
        prop::sample::subsequence(RESOURCES.to_vec(), 1..3),
        prop::option::of(prop_oneof![
            Just(json!({"StringEquals": {"aws:PrincipalTag/team": "red"}})),
            Just(json!({"StringNotEquals": {"aws:PrincipalTag/team": "red"}})),
            Just(json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})),
            Just(json!({"Null": {"aws:TokenIssueTime": "true"}})),
            Just(json!({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}})),
        ]),
        any::<bool>(),
    )
        .prop_map(|(deny, actions, resources, cond, not_action)| {
            let mut s = json!({
                "Effect": if deny { "Deny" } else { "Allow" },
                (if not_action { "NotAction" } else { "Action" }): actions,
                "Resource": resources,
            });
            if let Some(c) = cond {
                s["Condition"] = c;
            }
            s
        })
}

fn doc(statements: &[Value]) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

fn request() -> impl Strategy<Value = Request> {
    (
        prop::sample::select(vec![
            "s3:GetObject",
            "s3:PutObject",
            "ec2:RunInstances",
            "iam:CreateUser",
        ]),
        prop::sample::select(vec![
            "arn:aws:s3:::b/k",
            "arn:aws:s3:::other/x",
            "arn:aws:ec2:us-east-1:1:instance/i",
        ]),
        prop::option::of(Just("red")),
        prop::option::of(Just("10.1.2.3")),
        prop::option::of(prop::collection::vec(
            prop::sample::select(vec!["a", "b", "c"]),
            0..3,
        )),
    )
        .prop_map(|(action, resource, team, ip, tags)| {
            let mut context = Context::new();
            if let Some(t) = team {
                context.set("aws:PrincipalTag/team", t);
            }
            if let Some(i) = ip {
                context.set("aws:SourceIp", i);
            }
            if let Some(ts) = tags {
                context.set_multi("aws:TagKeys", ts.into_iter().map(str::to_owned).collect());
            }
            Request {
                principal: RequestPrincipal::from_arn("arn:aws:iam::111122223333:user/alice"),
                action: action.into(),
                resource: resource.into(),
                resource_account: None,
                context,
            }
        })
}

fn decide(statements: &[Value], req: &Request) -> Decision {
    let p = parse(&doc(statements), PolicyKind::Identity).unwrap();
    evaluate(
        req,
        &PolicySet {
            identity: vec![(PolicyId("p".into()), &p)],
            ..PolicySet::default()
        },
    )
}

fn config() -> Config {
    Config {
        cases: 256,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn explicit_deny_always_wins(sts in prop::collection::vec(statement(), 1..6), req in request()) {
        let d = decide(&sts, &req);
        // Model: a Deny statement applies iff evaluating it alone yields ExplicitDeny.
        let any_deny = sts.iter().any(|s| decide(std::slice::from_ref(s), &req).effect == Effect::ExplicitDeny);
        prop_assert_eq!(d.effect == Effect::ExplicitDeny, any_deny);
        if any_deny {
            prop_assert!(d.matched.iter().all(|m| m.effect == StatementEffect::Deny));
        }
        // Adding a Deny-everything statement always yields ExplicitDeny.
        let mut with_deny = sts.clone();
        with_deny.push(json!({"Effect": "Deny", "Action": "*", "Resource": "*"}));
        prop_assert_eq!(decide(&with_deny, &req).effect, Effect::ExplicitDeny);
    }

    #[test]
    fn statement_order_never_matters(sts in prop::collection::vec(statement(), 1..6), req in request(), seed in any::<u64>()) {
        let mut shuffled = sts.clone();
        let n = shuffled.len();
        for i in (1..n).rev() {
            let j = (seed.wrapping_mul(6364136223846793005).wrapping_add(i as u64) % (i as u64 + 1)) as usize;
            shuffled.swap(i, j);
        }
        let a = decide(&sts, &req);
        let b = decide(&shuffled, &req);
        prop_assert_eq!(a.effect, b.effect);
        let mut ma = a.matched.clone();
        let mut mb = b.matched.clone();
        ma.sort_by_key(|m| format!("{m:?}"));
        mb.sort_by_key(|m| format!("{m:?}"));
        prop_assert_eq!(ma, mb);
    }

    #[test]
    fn adding_an_allow_never_removes_a_deny(
        sts in prop::collection::vec(statement(), 1..6),
        extra in statement(),
        req in request(),
    ) {
        let before = decide(&sts, &req);
        let mut allow = extra;
        allow["Effect"] = json!("Allow");
        let mut more = sts.clone();
        more.push(allow);
        let after = decide(&more, &req);
        if before.effect == Effect::ExplicitDeny {
            prop_assert_eq!(after.effect, Effect::ExplicitDeny);
        }
        // And an Allow never turns an Allow into a deny.
        if before.effect == Effect::Allow {
            prop_assert_eq!(after.effect, Effect::Allow);
        }
    }

    #[test]
    fn parse_serialize_parse_is_stable(sts in prop::collection::vec(statement(), 1..6)) {
        let p1 = parse(&doc(&sts), PolicyKind::Identity).unwrap();
        let j1 = p1.to_json();
        let p2 = parse(&j1, PolicyKind::Identity).unwrap();
        prop_assert_eq!(&j1, &p2.to_json());
        prop_assert_eq!(p1.statement_count(), p2.statement_count());
    }

    #[test]
    fn parser_never_panics(s in "\\PC{0,200}") {
        for kind in [PolicyKind::Identity, PolicyKind::Resource, PolicyKind::Trust, PolicyKind::Session] {
            let _ = parse(&s, kind);
        }
    }
}

#[test]
fn error_messages_name_the_place() {
    let e = parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},
        {"Effect":"Allow","Action":"s3:*","Resource":"*"},
        {"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEqualz":{"a:b":"c"}}}]}"#,
        PolicyKind::Identity,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Statement[2].Condition: unknown operator 'StringEqualz'"
    );
    assert_eq!(e.location(), "Statement[2].Condition");
}

#[test]
fn principal_arns_and_binding() {
    let mut p = parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"AWS":["arn:aws:iam::111122223333:role/r","arn:aws:iam::111122223333:user/u","111122223333"]}}]}"#,
        PolicyKind::Trust,
    )
    .unwrap();
    assert_eq!(
        p.principal_arns(),
        vec![
            "arn:aws:iam::111122223333:role/r".to_owned(),
            "arn:aws:iam::111122223333:user/u".to_owned()
        ]
    );
    let mut caller = RequestPrincipal::from_arn("arn:aws:iam::111122223333:user/u");
    caller.account = "999999999999".into();
    caller.unique_id = Some("AIDAOLD".into());
    let req = Request {
        principal: caller,
        action: "sts:AssumeRole".into(),
        resource: "*".into(),
        ..Request::default()
    };
    let set = |p: &Policy| {
        evaluate(
            &req,
            &PolicySet {
                resource: Some((PolicyId("trust".into()), p)),
                require_resource_allow: true,
                ..PolicySet::default()
            },
        )
        .effect
    };
    assert_eq!(set(&p), Effect::Allow);
    let map = std::collections::HashMap::from([(
        "arn:aws:iam::111122223333:user/u".to_owned(),
        "AIDANEW".to_owned(),
    )]);
    p.bind_principal_ids(&map);
    assert_eq!(
        set(&p),
        Effect::ImplicitDeny,
        "a re-created user must not inherit trust"
    );
}

#[test]
fn aws_managed_flag_skips_quota() {
    let actions: Vec<String> = (0..400).map(|i| format!("s3:GetThing{i:04}")).collect();
    let text = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":actions,"Resource":"*"}]}).to_string();
    assert!(
        parse(&text, PolicyKind::Managed)
            .unwrap_err()
            .is_size_limit()
    );
    assert!(
        parse_with(
            &text,
            PolicyKind::Managed,
            ParseOptions {
                max_size: None,
                aws_managed: true
            }
        )
        .is_ok()
    );
    assert_eq!(non_whitespace_len(" a b\tc\n"), 3);
}
