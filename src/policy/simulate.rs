//! A policy simulator shaped like IAM `SimulateCustomPolicy` (`EvaluationResult`).

use super::condition::key_present;
use super::context::{Context, Env, Request, RequestPrincipal};
use super::eval::{MatchedStatement, PolicyId, PolicySet, evaluate};
use super::model::Policy;

/// One (action, resource) evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulationResult {
    /// `EvalActionName`.
    pub action: String,
    /// `EvalResourceName`.
    pub resource: String,
    /// `EvalDecision`: `allowed`, `explicitDeny` or `implicitDeny`.
    pub decision: &'static str,
    /// `MatchedStatements`.
    pub matched: Vec<MatchedStatement>,
    /// `MissingContextValues`: condition keys used by applicable statements but not supplied.
    pub missing_context_keys: Vec<String>,
    /// The evaluator's one-line reason.
    pub reason: String,
}

/// Simulates every action on every resource (`*` when `resources` is empty) with the
/// resource owned by the caller's account.
#[must_use]
pub fn simulate(
    identity: &[(PolicyId, &Policy)],
    boundary: &[(PolicyId, &Policy)],
    resource: Option<(PolicyId, &Policy)>,
    actions: &[String],
    resources: &[String],
    context: &Context,
    principal: RequestPrincipal,
) -> Vec<SimulationResult> {
    simulate_with_owner(
        identity, boundary, resource, actions, resources, context, principal, None,
    )
}

/// [`simulate`] with an explicit resource-owner account (`ResourceOwner`).
#[must_use]
#[expect(
    clippy::too_many_arguments,
    reason = "mirrors the SimulateCustomPolicy parameters"
)]
pub fn simulate_with_owner(
    identity: &[(PolicyId, &Policy)],
    boundary: &[(PolicyId, &Policy)],
    resource: Option<(PolicyId, &Policy)>,
    actions: &[String],
    resources: &[String],
    context: &Context,
    principal: RequestPrincipal,
    resource_account: Option<&str>,
) -> Vec<SimulationResult> {
    let set = PolicySet {
        identity: identity.to_vec(),
        resource: resource.clone(),
        boundary: boundary.to_vec(),
        session: Vec::new(),
        require_resource_allow: false,
    };
    let star = ["*".to_owned()];
    let resources = if resources.is_empty() {
        &star[..]
    } else {
        resources
    };
    let mut req = Request {
        principal,
        action: String::new(),
        resource: String::new(),
        resource_account: resource_account.map(str::to_owned),
        context: context.clone(),
    };
    let mut out = Vec::with_capacity(actions.len() * resources.len());
    for action in actions {
        for res in resources {
            req.action.clone_from(action);
            req.resource.clone_from(res);
            let d = evaluate(&req, &set);
            out.push(SimulationResult {
                action: action.clone(),
                resource: res.clone(),
                decision: d.effect.as_eval_decision(),
                matched: d.matched,
                missing_context_keys: missing_keys(&set, &req),
                reason: d.reason.into_owned(),
            });
        }
    }
    out
}

/// Condition keys of statements whose action and resource match, absent from the request.
fn missing_keys(set: &PolicySet<'_>, req: &Request) -> Vec<String> {
    let env = Env::new(&req.context, &req.principal);
    let action_lc = req.action.to_ascii_lowercase();
    let mut out: Vec<String> = Vec::new();
    let all = set
        .identity
        .iter()
        .chain(&set.boundary)
        .chain(&set.session)
        .chain(set.resource.as_ref());
    for (_, pol) in all {
        for s in &pol.inner.statements {
            let a = s
                .action
                .pats
                .iter()
                .any(|g| g.matches(&action_lc, &env) == Some(true))
                != s.action.not;
            let r = s.resource.as_ref().is_none_or(|r| {
                r.pats
                    .iter()
                    .any(|p| p.matches(&req.resource, &env) == Some(true))
                    != r.not
            });
            if !(a && r) {
                continue;
            }
            for c in &s.conditions {
                if !key_present(c, &env) && !out.iter().any(|k| k.eq_ignore_ascii_case(&c.key)) {
                    out.push(c.key.clone());
                }
            }
        }
    }
    out.sort();
    out
}
