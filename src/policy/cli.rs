//! Helpers behind the `sekisho policy …` subcommands (the binary wires them into clap).

use std::fmt::Write as _;
use std::path::Path;

use super::context::{Context, RequestPrincipal};
use super::eval::PolicyId;
use super::model::PolicyKind;
use super::parse::{non_whitespace_len, parse};
use super::simulate as sim;
use super::summary::{ActionCatalogue, summary as summarise};

/// Checks a document as `kind`: `Ok` with a short report and the canonical form, or the error.
///
/// # Errors
/// The AWS-style message (`MalformedPolicyDocument: …` / `LimitExceeded: …`).
pub fn check(text: &str, kind: PolicyKind) -> Result<String, String> {
    let p = parse(text, kind).map_err(|e| format!("{}: {e}", e.aws_code()))?;
    let mut warnings = String::new();
    if kind == PolicyKind::Trust {
        for w in super::lint::trust_warnings(&p) {
            warnings.push_str(&format!("WARNING: {w}\n"));
        }
    }
    Ok(format!(
        "OK: {} statement(s), {} non-whitespace characters\n{warnings}{}",
        p.statement_count(),
        non_whitespace_len(text),
        p.to_json()
    ))
}

/// Prints the per-service access-level summary of a managed-style policy.
///
/// # Errors
/// Parse or catalogue errors.
pub fn summary(text: &str, catalogue_path: &Path) -> Result<String, String> {
    let p = parse(text, PolicyKind::Managed).map_err(|e| format!("{}: {e}", e.aws_code()))?;
    let cat = ActionCatalogue::load(catalogue_path)?;
    let mut out = String::new();
    for s in summarise(&p, &cat) {
        let levels: Vec<String> = s
            .access_levels
            .iter()
            .map(|(l, f)| format!("{f}: {l}"))
            .collect();
        let _ = writeln!(out, "{}\t{}", s.service, levels.join(", "));
    }
    if out.is_empty() {
        out.push_str("(no access granted)\n");
    }
    Ok(out)
}

/// Simulates one action on one resource against identity policies. `aws:PrincipalArn` (or
/// `aws:username`) in the context pairs sets the caller; the default is an IAM user.
///
/// # Errors
/// Parse errors, naming the policy index.
pub fn simulate(
    policy_texts: &[String],
    action: &str,
    resource: &str,
    context_pairs: &[(String, String)],
) -> Result<String, String> {
    let mut policies = Vec::with_capacity(policy_texts.len());
    for (i, t) in policy_texts.iter().enumerate() {
        let p = parse(t, PolicyKind::Identity)
            .map_err(|e| format!("policy {i}: {}: {e}", e.aws_code()))?;
        policies.push((PolicyId(format!("policy{i}").into()), p));
    }
    let refs: Vec<(PolicyId, &_)> = policies.iter().map(|(id, p)| (id.clone(), p)).collect();
    let mut ctx = Context::new();
    let mut arn = "arn:aws:iam::123456789012:user/simulator".to_owned();
    for (k, v) in context_pairs {
        if k.eq_ignore_ascii_case("aws:PrincipalArn") {
            arn.clone_from(v);
        }
        // Repeated keys become multi-valued.
        match ctx.get(k).cloned() {
            Some(super::context::ContextValue::Single(prev)) => {
                ctx.set_multi(k, vec![prev.into_owned(), v.clone()])
            }
            Some(super::context::ContextValue::Multi(mut vs)) => {
                vs.push(v.clone());
                ctx.set_multi(k, vs);
            }
            None => ctx.set(k, v.clone()),
        }
    }
    let actions = [action.to_owned()];
    let resources = [resource.to_owned()];
    let simulation = sim::Simulation::new(
        &refs,
        &[],
        None,
        &actions,
        &resources,
        &ctx,
        RequestPrincipal::from_arn(&arn),
        None,
    );
    let mut out = String::new();
    for r in simulation.all() {
        let _ = writeln!(
            out,
            "{} {} {}: {}",
            r.action, r.resource, r.decision, r.reason
        );
        for m in r.matched.iter().filter_map(|m| simulation.statement(*m)) {
            let _ = writeln!(
                out,
                "  matched {} {} sid={}",
                m.effect.as_str(),
                m.policy,
                m.sid.unwrap_or("-")
            );
        }
        if !r.missing_context_keys.is_empty() {
            let _ = writeln!(
                out,
                "  missing context keys: {}",
                r.missing_context_keys.join(", ")
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;

    #[test]
    fn check_and_simulate() {
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"s3:Get*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"red"}}}]}"#;
        assert!(
            check(doc, PolicyKind::Identity)
                .unwrap()
                .starts_with("OK: 1 statement(s)")
        );
        let e = check(r#"{"Statement":[]"#, PolicyKind::Identity).unwrap_err();
        assert!(e.starts_with("MalformedPolicyDocument"), "{e}");
        let out = simulate(&[doc.to_owned()], "s3:GetObject", "arn:aws:s3:::b/k", &[]).unwrap();
        assert!(out.contains("implicitDeny"), "{out}");
        assert!(
            out.contains("missing context keys: aws:PrincipalTag/team"),
            "{out}"
        );
        let ctx = [("aws:PrincipalTag/team".to_owned(), "red".to_owned())];
        let out = simulate(&[doc.to_owned()], "s3:GetObject", "arn:aws:s3:::b/k", &ctx).unwrap();
        assert!(out.contains("allowed") && out.contains("sid=A"), "{out}");
    }
}
