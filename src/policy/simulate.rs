//! A policy simulator shaped like IAM `SimulateCustomPolicy` (`EvaluationResult`).
//!
//! The grid of actions × resources is evaluated a page at a time ([`Simulation::page`]): a
//! request names up to thousands of actions and resources, and only the page asked for is
//! computed. A page also stops early when its work (patterns examined) reaches a budget —
//! AWS allows a page to hold fewer than `MaxItems` results while `IsTruncated` is true — so the
//! cost of one call is bounded whatever the policies' size. Deciding statements are kept as
//! positions ([`MatchRef`]), not copies.

use super::condition::key_present;
use super::context::{Context, Env, Request, RequestPrincipal};
use super::eval::{EvalOptions, MatchedStatement, PolicyId, PolicySet, evaluate_with};
use super::model::{Policy, StatementEffect};

/// A statement that decided a simulated request, by position: the policy (an index into the
/// simulation's policies, see [`Simulation::statement`]) and the statement within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MatchRef {
    /// Index of the policy (identity policies, then boundaries, then the resource policy).
    pub policy: usize,
    /// Index of the statement in that policy.
    pub statement: usize,
}

/// One (action, resource) evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulationResult {
    /// Position in the grid (`action index × resources + resource index`).
    pub index: usize,
    /// `EvalActionName`.
    pub action: String,
    /// `EvalResourceName`.
    pub resource: String,
    /// `EvalDecision`: `allowed`, `explicitDeny` or `implicitDeny`.
    pub decision: &'static str,
    /// `MatchedStatements`, as positions.
    pub matched: Vec<MatchRef>,
    /// `MissingContextValues`: condition keys used by applicable statements but not supplied.
    pub missing_context_keys: Vec<String>,
    /// The evaluator's one-line reason.
    pub reason: String,
}

/// One page of a simulation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulationPage {
    /// The results, in grid order.
    pub results: Vec<SimulationResult>,
    /// The grid index to continue from, when there are more results.
    pub next: Option<usize>,
}

/// A statement as [`Simulation::statement`] describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatementInfo<'s> {
    /// Its policy's id.
    pub policy: &'s PolicyId,
    /// Its `Sid`, if any.
    pub sid: Option<&'s str>,
    /// Its `Effect`.
    pub effect: StatementEffect,
}

/// A simulation: policies, context and the action × resource grid, evaluated on demand.
#[derive(Debug)]
pub struct Simulation<'a> {
    set: PolicySet<'a>,
    actions: &'a [String],
    /// Empty: the single resource `*`.
    resources: &'a [String],
    context: &'a Context,
    principal: RequestPrincipal,
    resource_account: Option<String>,
}

impl<'a> Simulation<'a> {
    /// A simulation of every action on every resource (`*` when `resources` is empty), with
    /// the resource owned by `resource_account` (`None`: the caller's account).
    #[must_use]
    #[expect(
        clippy::too_many_arguments,
        reason = "mirrors the SimulateCustomPolicy parameters"
    )]
    pub fn new(
        identity: &[(PolicyId, &'a Policy)],
        boundary: &[(PolicyId, &'a Policy)],
        resource: Option<(PolicyId, &'a Policy)>,
        actions: &'a [String],
        resources: &'a [String],
        context: &'a Context,
        principal: RequestPrincipal,
        resource_account: Option<&str>,
    ) -> Self {
        Self {
            set: PolicySet {
                identity: identity.to_vec(),
                resource,
                boundary: boundary.to_vec(),
                session: Vec::new(),
                require_resource_allow: false,
            },
            actions,
            resources,
            context,
            principal,
            resource_account: resource_account.map(str::to_owned),
        }
    }

    /// Number of results in the grid.
    #[must_use]
    pub fn len(&self) -> usize {
        self.actions
            .len()
            .saturating_mul(self.resources.len().max(1))
    }

    /// True when there is nothing to simulate.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The work of one result, in patterns examined: every statement of every policy (one,
    /// plus its action and resource patterns and its conditions), twice — the decision and the
    /// missing context keys.
    #[must_use]
    pub fn cost_per_result(&self) -> usize {
        let n: usize = self
            .policies()
            .flat_map(|(_, p)| &p.inner.statements)
            .map(|s| {
                1 + s.action.pats.len()
                    + s.resource.as_ref().map_or(0, |r| r.pats.len())
                    + s.conditions.len()
            })
            .sum();
        n.saturating_mul(2).max(1)
    }

    /// The policies in [`MatchRef::policy`] order.
    fn policies(&self) -> impl Iterator<Item = &(PolicyId, &'a Policy)> {
        self.set
            .identity
            .iter()
            .chain(&self.set.boundary)
            .chain(self.set.resource.as_ref())
    }

    /// The statement a [`MatchRef`] points at.
    #[must_use]
    pub fn statement(&self, m: MatchRef) -> Option<StatementInfo<'_>> {
        let (id, pol) = self.policies().nth(m.policy)?;
        let s = pol.inner.statements.get(m.statement)?;
        Some(StatementInfo {
            policy: id,
            sid: s.sid.as_deref(),
            effect: s.effect,
        })
    }

    /// Results from grid index `start`: at most `max_items`, and no more than the work
    /// `budget` (in patterns examined, see [`Self::cost_per_result`]) allows — but always at
    /// least one, so paging makes progress.
    #[must_use]
    pub fn page(&self, start: usize, max_items: usize, budget: usize) -> SimulationPage {
        let total = self.len();
        let by_budget = (budget / self.cost_per_result()).max(1);
        let end = start.saturating_add(max_items.min(by_budget)).min(total);
        let mut req = Request {
            principal: self.principal.clone(),
            action: String::new(),
            resource: String::new(),
            resource_account: self.resource_account.clone(),
            context: self.context.clone(),
        };
        let results = (start..end)
            .filter_map(|i| self.result_with(&mut req, i))
            .collect();
        SimulationPage {
            results,
            next: (end < total).then_some(end),
        }
    }

    /// Every result (for small local simulations: the CLI and tests).
    #[must_use]
    pub fn all(&self) -> Vec<SimulationResult> {
        self.page(0, usize::MAX, usize::MAX).results
    }

    fn result_with(&self, req: &mut Request, i: usize) -> Option<SimulationResult> {
        let r = self.resources.len().max(1);
        let action = self.actions.get(i / r)?;
        let resource = self.resources.get(i % r).map_or("*", String::as_str);
        req.action.clone_from(action);
        resource.clone_into(&mut req.resource);
        // The resource `*` (the default when none is given) stands for "some resource", as
        // AWS's simulator reads it.
        let opts = EvalOptions {
            any_resource: resource == "*",
        };
        let d = evaluate_with(req, &self.set, opts);
        Some(SimulationResult {
            index: i,
            action: action.clone(),
            resource: resource.to_owned(),
            decision: d.effect.as_eval_decision(),
            matched: d.matched.iter().filter_map(|m| self.locate(m)).collect(),
            missing_context_keys: missing_keys(&self.set, req, opts),
            reason: d.reason.into_owned(),
        })
    }

    /// The position of a matched statement. The evaluator names the policy (by a shared id)
    /// and the statement's Sid and Effect; the first statement of that policy with the same
    /// Sid and Effect stands for it (statements that share both read the same in an answer).
    fn locate(&self, m: &MatchedStatement) -> Option<MatchRef> {
        let (policy, (_, pol)) = self
            .policies()
            .enumerate()
            .find(|(_, (id, _))| std::sync::Arc::ptr_eq(&id.0, &m.policy.0) || *id == m.policy)?;
        let statement = pol
            .inner
            .statements
            .iter()
            .position(|s| s.sid == m.sid && s.effect == m.effect)?;
        Some(MatchRef { policy, statement })
    }
}

/// Simulates every action on every resource (`*` when `resources` is empty) with the
/// resource owned by the caller's account; every result, for local use (see [`Simulation`]).
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
    Simulation::new(
        identity, boundary, resource, actions, resources, context, principal, None,
    )
    .all()
}

/// Condition keys of statements whose action and resource match, absent from the request.
fn missing_keys(set: &PolicySet<'_>, req: &Request, opts: EvalOptions) -> Vec<String> {
    let env = Env::new(&req.context, req.principal.view());
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
            let r = (opts.any_resource && s.effect == StatementEffect::Allow)
                || s.resource.as_ref().is_none_or(|r| {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;
    use crate::policy::{PolicyKind, parse};

    fn grid(n: usize, prefix: &str) -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i}")).collect()
    }

    #[test]
    fn the_default_resource_star_reads_as_some_resource() {
        let p = parse(
            r#"{"Version":"2012-10-17","Statement":[
                {"Sid":"A","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},
                {"Sid":"D","Effect":"Deny","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/x"},
                {"Sid":"P","Effect":"Allow","Action":"s3:PutObject","Resource":"*"}]}"#,
            PolicyKind::Identity,
        )
        .unwrap();
        let id = [(PolicyId("p".into()), &p)];
        let actions = vec![
            "s3:GetObject".to_owned(),
            "s3:PutObject".to_owned(),
            "s3:ListBucket".to_owned(),
        ];
        let ctx = Context::new();
        let who = RequestPrincipal::from_arn("arn:aws:iam::111111111111:user/alice");
        let star = simulate(&id, &[], None, &actions, &[], &ctx, who.clone());
        let got: Vec<&str> = star.iter().map(|r| r.decision).collect();
        // An Allow on some resources allows "some resource"; a Deny of one resource does not
        // deny it; nothing allows ListBucket.
        assert_eq!(got, ["allowed", "allowed", "implicitDeny"]);
        // A concrete resource is matched as given.
        let other = simulate(
            &id,
            &[],
            None,
            &actions,
            &["arn:aws:s3:::c/k".to_owned()],
            &ctx,
            who,
        );
        let got: Vec<&str> = other.iter().map(|r| r.decision).collect();
        assert_eq!(got, ["implicitDeny", "allowed", "implicitDeny"]);
    }

    #[test]
    fn pages_compute_only_what_they_return_and_cover_the_grid_once() {
        let p = parse(
            r#"{"Version":"2012-10-17","Statement":[
                {"Sid":"Get","Effect":"Allow","Action":"s3:Get*","Resource":"*"},
                {"Sid":"NoB","Effect":"Deny","Action":"*","Resource":"arn:aws:s3:::b1"}]}"#,
            PolicyKind::Identity,
        )
        .unwrap();
        let ids = [(PolicyId("p".into()), &p)];
        let actions = vec!["s3:GetObject".to_owned(), "s3:PutObject".to_owned()];
        let resources = grid(3, "arn:aws:s3:::b");
        let ctx = Context::new();
        let sim = Simulation::new(
            &ids,
            &[],
            None,
            &actions,
            &resources,
            &ctx,
            RequestPrincipal::from_arn("arn:aws:iam::123456789012:user/u"),
            None,
        );
        assert_eq!(sim.len(), 6);
        let all = sim.all();
        let mut paged = Vec::new();
        let mut start = 0;
        loop {
            let page = sim.page(start, 4, usize::MAX);
            paged.extend(page.results);
            match page.next {
                Some(n) => start = n,
                None => break,
            }
        }
        assert_eq!(paged, all);
        assert_eq!(
            all.iter().map(|r| r.decision).collect::<Vec<_>>(),
            [
                "allowed",
                "explicitDeny",
                "allowed",
                "implicitDeny",
                "explicitDeny",
                "implicitDeny"
            ]
        );
        let deny = sim.statement(all[1].matched[0]).unwrap();
        assert_eq!(deny.sid, Some("NoB"));
        assert_eq!(deny.effect, StatementEffect::Deny);
        // A budget of one result's work still makes progress, one result at a time.
        let page = sim.page(2, 100, 1);
        assert_eq!(page.results.len(), 1);
        assert_eq!(page.results[0].index, 2);
        assert_eq!(page.next, Some(3));
    }

    #[test]
    fn a_huge_grid_costs_one_page() {
        let p = parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
            PolicyKind::Identity,
        )
        .unwrap();
        let ids = [(PolicyId("p".into()), &p)];
        let actions = grid(10_000, "s3:Action");
        let resources = grid(10_000, "arn:aws:s3:::bucket/");
        let ctx = Context::new();
        let sim = Simulation::new(
            &ids,
            &[],
            None,
            &actions,
            &resources,
            &ctx,
            RequestPrincipal::default(),
            None,
        );
        assert_eq!(sim.len(), 100_000_000);
        let t = std::time::Instant::now();
        let page = sim.page(99_999_990, 1000, 1_000_000);
        assert_eq!(page.results.len(), 10);
        assert_eq!(page.results[9].action, "s3:Action9999");
        assert_eq!(page.next, None);
        let page = sim.page(0, 1000, 1_000_000);
        assert_eq!(page.results.len(), 1000);
        assert_eq!(page.next, Some(1000));
        assert!(t.elapsed() < std::time::Duration::from_secs(5));
    }
}
