//! Data-driven policy tests.
//!
//! * `tests/policy_cases/*.json`: our own cases (`{"cases":[…]}`), either evaluation cases
//!   (policies + principal + request → `expect` decision and optionally the deciding `sids`) or
//!   parse cases (`document` + `kind` → ok, or an `error` substring).
//! * `politest-cases.json` (shared corpora): IAM `SimulateCustomPolicy` scenarios.
//! * `managed-policies.json` (shared corpora): every AWS managed policy parses and evaluates.
//!
//! Corpora are found via `SEKISHO_CORPORA`, else `../shared/corpora` next to the crate; tests
//! that need them print why and return when absent.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod common;

use std::collections::HashMap;
use std::path::PathBuf;

use sekisho::policy::{
    Context, Decision, Effect, ParseOptions, Policy, PolicyId, PolicyKind, PolicySet, Request,
    RequestPrincipal, Simulation, evaluate, load_managed, parse, parse_with,
};
use serde_json::Value;

/// The shape of one case in `tests/policy_cases/*.json`. Every case is read through it first, so
/// a misspelt key (`"sid"` for `"sids"`, `"expected"` for `"expect"`) fails the case instead of
/// being ignored; the evaluation below reads the same fields.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[expect(
    dead_code,
    reason = "the fields exist to be checked; run_case reads them as JSON"
)]
struct Case {
    name: String,
    // Parse cases.
    document: Option<Value>,
    kind: Option<String>,
    error: Option<String>,
    size_limit: Option<bool>,
    max_size: Option<u64>,
    // Evaluation cases.
    identity: Option<Value>,
    boundary: Option<Value>,
    session: Option<Value>,
    resource_policy: Option<Value>,
    resource_kind: Option<String>,
    trust: Option<bool>,
    bind: Option<serde_json::Map<String, Value>>,
    principal: Option<PrincipalCase>,
    action: Option<String>,
    resource: Option<String>,
    resource_account: Option<String>,
    context: Option<serde_json::Map<String, Value>>,
    expect: Option<Expect>,
    sids: Option<Vec<String>>,
}

/// The request principal of an evaluation case.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[expect(
    dead_code,
    reason = "the fields exist to be checked; principal_from reads them"
)]
struct PrincipalCase {
    arn: Option<String>,
    principal_arn: Option<String>,
    account: Option<String>,
    unique_id: Option<String>,
    federated_provider: Option<String>,
    session_federated_provider: Option<String>,
    service: Option<String>,
    is_root: Option<bool>,
}

/// The decisions a case may expect.
#[derive(Debug, serde::Deserialize)]
enum Expect {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
}

fn doc_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn context_from(v: Option<&Value>) -> Context {
    let mut ctx = Context::new();
    if let Some(Value::Object(m)) = v {
        for (k, v) in m {
            match v {
                Value::Array(a) => ctx.set_multi(k, a.iter().map(doc_text).collect()),
                other => ctx.set(k, doc_text(other)),
            }
        }
    }
    ctx
}

fn principal_from(v: Option<&Value>) -> RequestPrincipal {
    let get = |k: &str| {
        v.and_then(|p| p.get(k))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let arn = get("arn").unwrap_or_else(|| "arn:aws:iam::111111111111:user/alice".to_owned());
    let mut p = RequestPrincipal::from_arn(&arn);
    if let Some(pa) = get("principal_arn") {
        p.principal_arn = pa;
    }
    if let Some(a) = get("account") {
        p.account = a;
    }
    p.unique_id = get("unique_id");
    // `federated_provider`: an unsigned federation request (it matches `Federated`);
    // `session_federated_provider`: a session from that IdP making a later signed call.
    p.federated_provider = get("federated_provider").or_else(|| get("session_federated_provider"));
    p.federation = get("federated_provider");
    p.service = get("service");
    if let Some(r) = v.and_then(|p| p.get("is_root")).and_then(Value::as_bool) {
        p.is_root = r;
    }
    p
}

fn kind_from(v: Option<&Value>, default: PolicyKind) -> PolicyKind {
    v.and_then(Value::as_str)
        .map_or(default, |s| PolicyKind::from_name(s).expect("kind"))
}

/// Runs one of our cases; returns an error description on mismatch.
fn run_case(c: &Value) -> Result<(), String> {
    let case: Case =
        serde_json::from_value(c.clone()).map_err(|e| format!("malformed case: {e}"))?;
    if case.document.is_none() && (case.action.is_none() || case.expect.is_none()) {
        return Err("an evaluation case needs action and expect".into());
    }
    if let Some(doc) = c.get("document") {
        let kind = kind_from(c.get("kind"), PolicyKind::Identity);
        let opts = ParseOptions {
            max_size: c
                .get("max_size")
                .and_then(Value::as_u64)
                .map(|n| n as usize),
            aws_managed: false,
        };
        let r = parse_with(&doc_text(doc), kind, opts);
        return match (c.get("error").and_then(Value::as_str), r) {
            (None, Ok(p)) => {
                // Canonical form re-parses to the same canonical form.
                let again = parse_with(&p.to_json(), kind, opts)
                    .map_err(|e| format!("canonical re-parse: {e}"))?;
                if again.to_json() == p.to_json() {
                    Ok(())
                } else {
                    Err("canonical form unstable".into())
                }
            }
            (None, Err(e)) => Err(format!("unexpected error: {e}")),
            (Some(want), Ok(_)) => Err(format!("expected error containing '{want}', parsed fine")),
            (Some(want), Err(e)) => {
                let size = c
                    .get("size_limit")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                if !e.to_string().contains(want) {
                    Err(format!("error '{e}' does not contain '{want}'"))
                } else if e.is_size_limit() != size {
                    Err(format!("is_size_limit() = {} for '{e}'", e.is_size_limit()))
                } else {
                    Ok(())
                }
            }
        };
    }
    let parse_list = |key: &str, kind: PolicyKind| -> Result<Vec<(PolicyId, Policy)>, String> {
        let items: Vec<Value> = match c.get(key) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(other) => vec![other.clone()],
        };
        items
            .iter()
            .enumerate()
            .map(|(i, d)| {
                parse(&doc_text(d), kind)
                    .map(|p| (PolicyId(format!("{key}[{i}]").into()), p))
                    .map_err(|e| format!("{key}[{i}]: {e}"))
            })
            .collect()
    };
    let identity = parse_list("identity", PolicyKind::Identity)?;
    let boundary = parse_list("boundary", PolicyKind::Boundary)?;
    let session = parse_list("session", PolicyKind::Session)?;
    let trust = c.get("trust").and_then(Value::as_bool).unwrap_or(false);
    let rkind = kind_from(
        c.get("resource_kind"),
        if trust {
            PolicyKind::Trust
        } else {
            PolicyKind::Resource
        },
    );
    let mut resource = match c.get("resource_policy") {
        None | Some(Value::Null) => None,
        Some(d) => Some(parse(&doc_text(d), rkind).map_err(|e| format!("resource_policy: {e}"))?),
    };
    if let (Some(p), Some(Value::Object(b))) = (resource.as_mut(), c.get("bind")) {
        let map: HashMap<String, String> =
            b.iter().map(|(k, v)| (k.clone(), doc_text(v))).collect();
        p.bind_principal_ids(&map);
    }
    let req = Request {
        principal: principal_from(c.get("principal")),
        action: c["action"].as_str().ok_or("action")?.to_owned(),
        resource: c
            .get("resource")
            .and_then(Value::as_str)
            .unwrap_or("*")
            .to_owned(),
        resource_account: c
            .get("resource_account")
            .and_then(Value::as_str)
            .map(str::to_owned),
        context: context_from(c.get("context")),
    };
    let set = PolicySet {
        identity: refs(&identity),
        resource: resource.as_ref().map(|p| (PolicyId("resource".into()), p)),
        boundary: refs(&boundary),
        session: refs(&session),
        require_resource_allow: trust,
    };
    let d: Decision = evaluate(&req, &set);
    let want = match c["expect"].as_str().ok_or("expect")? {
        "Allow" => Effect::Allow,
        "ExplicitDeny" => Effect::ExplicitDeny,
        "ImplicitDeny" => Effect::ImplicitDeny,
        other => return Err(format!("bad expect {other}")),
    };
    if d.effect != want {
        return Err(format!("got {:?} ({}), want {want:?}", d.effect, d.reason));
    }
    if let Some(Value::Array(sids)) = c.get("sids") {
        let mut want: Vec<String> = sids.iter().map(doc_text).collect();
        let mut got: Vec<String> = d
            .matched
            .iter()
            .map(|m| m.sid.clone().unwrap_or_else(|| "-".into()))
            .collect();
        want.sort();
        got.sort();
        got.dedup();
        want.dedup();
        if want != got {
            return Err(format!("matched sids {got:?}, want {want:?}"));
        }
    }
    Ok(())
}

#[test]
fn json_cases() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/policy_cases");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let (mut total, mut failures) = (0, Vec::new());
    for f in &files {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(f).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        for c in v["cases"].as_array().expect("cases") {
            total += 1;
            if let Err(e) = run_case(c) {
                let name = c["name"].as_str().unwrap_or("?");
                failures.push(format!(
                    "{}: {name}: {e}",
                    f.file_name().unwrap().to_string_lossy()
                ));
            }
        }
    }
    println!("{total} policy cases in {} files", files.len());
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(total >= 300, "only {total} cases");
}

fn refs(v: &[(PolicyId, Policy)]) -> Vec<(PolicyId, &Policy)> {
    v.iter().map(|(i, p)| (i.clone(), p)).collect()
}

fn corpora() -> Option<PathBuf> {
    let p = std::env::var_os("SEKISHO_CORPORA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpora"));
    if p.is_dir() {
        Some(p)
    } else {
        common::skip(&format!(
            "corpora directory {} not found (set SEKISHO_CORPORA)",
            p.display()
        ));
        None
    }
}

/// Cases we pass out of politest's 459. The other 106 are all from `examples/athena-policy`,
/// whose policy still holds politest template placeholders that the flattening did not resolve
/// (`<ACCOUNT_NO>`, `${DATA_PLANE_NONPROD_ORG_PATH}`, `${DNS_HUB_DEV_ACCOUNT_ID}`, …): the
/// expectations assume substituted values, so AWS itself would not reproduce them either.
const POLITEST_FLOOR: usize = 353;

#[test]
fn politest_corpus() {
    let Some(dir) = corpora() else { return };
    let path = dir.join("policy-eval/politest-cases.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let policies = v["policies"].as_object().unwrap();
    let load = |key: &Value, kind: PolicyKind| -> Option<Policy> {
        let k = key.as_str()?;
        Some(
            parse_with(
                &policies[k].to_string(),
                kind,
                ParseOptions {
                    max_size: None,
                    aws_managed: true,
                },
            )
            .unwrap_or_else(|e| panic!("{k}: {e}")),
        )
    };
    let cases = v["cases"].as_array().unwrap();
    let (mut pass, mut fails) = (0usize, Vec::new());
    for c in cases {
        let identity = load(&c["identity_policy"], PolicyKind::Identity);
        let boundary = load(
            &c["permissions_boundary_merged_scps_rcps"],
            PolicyKind::Boundary,
        );
        let resource = load(&c["resource_policy"], PolicyKind::Resource);
        let mut ctx = Context::new();
        for e in c["context_entries"].as_array().unwrap() {
            let key = e["ContextKeyName"].as_str().unwrap();
            let vals: Vec<String> = e["ContextKeyValues"]
                .as_array()
                .unwrap()
                .iter()
                .map(doc_text)
                .collect();
            let ty = e["ContextKeyType"].as_str().unwrap_or("string");
            if ty.ends_with("List") {
                ctx.set_multi(key, vals);
            } else if let Some(first) = vals.into_iter().next() {
                ctx.set(key, first);
            }
        }
        let principal = c["caller_arn"]
            .as_str()
            .map(RequestPrincipal::from_arn)
            .unwrap_or_default();
        let owner = c["resource_owner"]
            .as_str()
            .and_then(|o| o.split(':').nth(4))
            .map(str::to_owned);
        let id: Vec<(PolicyId, &Policy)> = identity
            .iter()
            .map(|p| (PolicyId("identity".into()), p))
            .collect();
        let b: Vec<(PolicyId, &Policy)> = boundary
            .iter()
            .map(|p| (PolicyId("scp".into()), p))
            .collect();
        let resources: Vec<String> = c["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(doc_text)
            .collect();
        let actions = [c["action"].as_str().unwrap().to_owned()];
        let simulation = Simulation::new(
            &id,
            &b,
            resource.as_ref().map(|p| (PolicyId("resource".into()), p)),
            &actions,
            &resources,
            &ctx,
            principal,
            owner.as_deref(),
        );
        let results = simulation.all();
        // One EvalDecision over several ResourceArns: any explicit deny, else all allowed.
        let got = if results.iter().any(|r| r.decision == "explicitDeny") {
            "explicitDeny"
        } else if results.iter().all(|r| r.decision == "allowed") {
            "allowed"
        } else {
            "implicitDeny"
        };
        if got == c["expected"].as_str().unwrap() {
            pass += 1;
        } else {
            let why: Vec<String> = results
                .iter()
                .map(|r| {
                    let sids: Vec<&str> = r
                        .matched
                        .iter()
                        .filter_map(|m| simulation.statement(*m)?.sid)
                        .collect();
                    format!(
                        "{} [{}] {:?}",
                        r.reason,
                        sids.join(","),
                        r.missing_context_keys
                    )
                })
                .collect();
            fails.push(format!(
                "{}: {} got {got}, want {}; {}",
                c["id"],
                c["name"],
                c["expected"],
                why.join(" | ")
            ));
        }
    }
    println!("politest: {pass}/{} pass", cases.len());
    for f in &fails {
        println!("  FAIL {f}");
    }
    assert!(
        pass >= POLITEST_FLOOR,
        "politest: {pass}/{} (floor {POLITEST_FLOOR})",
        cases.len()
    );
}

#[test]
fn every_aws_managed_policy_parses_and_evaluates() {
    let Some(dir) = corpora() else { return };
    let docs = load_managed(&dir.join("aws-managed-policies/managed-policies.json")).unwrap();
    assert!(docs.len() > 1000, "only {} policies", docs.len());
    let mut ctx = Context::new();
    ctx.set("aws:SourceIp", "203.0.113.7");
    ctx.set("aws:PrincipalTag/team", "red");
    ctx.set_multi("aws:TagKeys", vec!["team".into()]);
    let req = Request {
        principal: RequestPrincipal::from_arn("arn:aws:iam::111122223333:user/alice"),
        action: "s3:GetObject".into(),
        resource: "arn:aws:s3:::bucket/key".into(),
        resource_account: None,
        context: ctx,
    };
    let admin_req = Request {
        action: "iam:CreateUser".into(),
        resource: "arn:aws:iam::111122223333:user/x".into(),
        ..req.clone()
    };
    let mut over_customer_limit = 0;
    for d in &docs {
        let p = parse_with(
            &d.document_json,
            PolicyKind::Managed,
            ParseOptions {
                max_size: None,
                aws_managed: true,
            },
        )
        .unwrap_or_else(|e| panic!("{}: {e}", d.name));
        if parse(&d.document_json, PolicyKind::Managed).is_err_and(|e| e.is_size_limit()) {
            over_customer_limit += 1;
        }
        let set = PolicySet {
            identity: vec![(PolicyId(d.arn.clone().into()), &p)],
            ..PolicySet::default()
        };
        let dec = evaluate(&req, &set);
        let adm = evaluate(&admin_req, &set);
        if d.name == "AdministratorAccess" {
            assert_eq!(adm.effect, Effect::Allow);
        }
        if d.name == "ReadOnlyAccess" {
            assert_eq!(dec.effect, Effect::Allow);
            assert_ne!(adm.effect, Effect::Allow);
        }
        // Round trip of the canonical form.
        let again = parse_with(
            &p.to_json(),
            PolicyKind::Managed,
            ParseOptions {
                max_size: None,
                aws_managed: true,
            },
        )
        .unwrap();
        assert_eq!(again.to_json(), p.to_json(), "{}", d.name);
    }
    println!(
        "{} managed policies parsed and evaluated; {over_customer_limit} exceed the customer 6144 quota",
        docs.len()
    );
    assert!(
        over_customer_limit > 0,
        "the size check should trip on some AWS policies"
    );
}

#[test]
fn a_misspelt_case_key_fails_the_case() {
    let good = serde_json::json!({
        "name": "x", "identity": [], "action": "s3:GetObject", "expect": "ImplicitDeny"
    });
    assert_eq!(run_case(&good), Ok(()));
    for (k, v) in [
        ("sid", serde_json::json!(["A"])),
        ("expected", serde_json::json!("Allow")),
    ] {
        let mut bad = good.clone();
        bad[k] = v;
        assert!(run_case(&bad).is_err(), "{k} accepted");
    }
    let mut bad = good.clone();
    bad["expect"] = serde_json::json!("Allowed");
    assert!(run_case(&bad).is_err());
}
