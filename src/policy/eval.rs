//! The decision: which policies apply to a request and how their verdicts combine.
//!
//! Follows the IAM evaluation logic (sts-spec §10, AWS "Policy evaluation logic"):
//! 1. an explicit Deny in any policy wins;
//! 2. same account: a resource policy naming the user or session (or `*`, a service, a
//!    federated provider) allows on its own; naming the role ARN allows if the boundary and
//!    session policies also allow; naming only the account needs the identity side too;
//! 3. cross-account: the identity side (identity ∩ boundary ∩ session) AND the resource policy;
//! 4. otherwise the identity side alone; the root user's identity side always allows;
//! 5. `require_resource_allow` (role trust policies): the resource policy must allow.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use super::context::{Env, Request, RequestRef};
use super::model::{Policy, PrincipalMatch, Statement, StatementEffect};

/// Names a policy in decisions: `arn:aws:iam::…:policy/x`, `inline:role/foo/name`,
/// `trust:role/x`, `session`, …
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PolicyId(pub std::sync::Arc<str>);

impl PolicyId {
    /// The id made of `parts` in order, with one allocation (the shared string's) when it is
    /// short, as the ids of a caller's policies (`ARN#inline/NAME`, `ARN#trust`) are.
    #[must_use]
    pub fn concat(parts: &[&str]) -> Self {
        match crate::wire::text::join_into(parts, &mut [0; 256]) {
            Some(s) => Self((&*s).into()),
            None => Self(parts.concat().into()),
        }
    }
}

impl fmt::Display for PolicyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Every policy that applies to one request.
#[derive(Debug, Clone, Default)]
pub struct PolicySet<'a> {
    /// Identity-based policies (inline and managed, user + groups, or the role's).
    pub identity: Vec<(PolicyId, &'a Policy)>,
    /// The resource-based policy (for `sts:AssumeRole*`: the role trust policy).
    pub resource: Option<(PolicyId, &'a Policy)>,
    /// Permissions boundaries; several are merged into one (any Allow counts). Empty = none.
    pub boundary: Vec<(PolicyId, &'a Policy)>,
    /// Session policies passed at assume time, taken together (any Allow counts). Empty = none.
    pub session: Vec<(PolicyId, &'a Policy)>,
    /// The resource policy must allow explicitly (role trust policies, KMS key policies).
    pub require_resource_allow: bool,
}

impl PolicySet<'_> {
    /// The set, borrowed.
    #[must_use]
    pub fn view(&self) -> PolicySetRef<'_, &Policy> {
        PolicySetRef {
            identity: &self.identity,
            resource: self.resource.as_ref().map(|(id, p)| (id, *p)),
            boundary: &self.boundary,
            session: &self.session,
            require_resource_allow: self.require_resource_allow,
        }
    }
}

/// The policies of one evaluation read where they lie: a [`PolicySet`] borrowed
/// ([`PolicySet::view`]), or the policies a caller's authorization loaded (`P` =
/// `Arc<Policy>`), with no list built for the one decision.
#[derive(Debug)]
pub struct PolicySetRef<'a, P> {
    /// See [`PolicySet::identity`].
    pub identity: &'a [(PolicyId, P)],
    /// See [`PolicySet::resource`].
    pub resource: Option<(&'a PolicyId, &'a Policy)>,
    /// See [`PolicySet::boundary`].
    pub boundary: &'a [(PolicyId, P)],
    /// See [`PolicySet::session`].
    pub session: &'a [(PolicyId, P)],
    /// See [`PolicySet::require_resource_allow`].
    pub require_resource_allow: bool,
}

/// The final verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// Allowed.
    Allow,
    /// Denied by a Deny statement.
    ExplicitDeny,
    /// No applicable Allow.
    ImplicitDeny,
}

impl Effect {
    /// The simulator spelling: `allowed`, `explicitDeny`, `implicitDeny`.
    #[must_use]
    pub fn as_eval_decision(self) -> &'static str {
        match self {
            Self::Allow => "allowed",
            Self::ExplicitDeny => "explicitDeny",
            Self::ImplicitDeny => "implicitDeny",
        }
    }
}

/// A statement that took part in the decision.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MatchedStatement {
    /// The policy it belongs to.
    pub policy: PolicyId,
    /// Its Sid, if any.
    pub sid: Option<String>,
    /// Its Effect.
    pub effect: StatementEffect,
}

/// The decision with its explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Allow, explicit deny or implicit deny.
    pub effect: Effect,
    /// The deciding statements: the Deny statements for an explicit deny, the Allow statements
    /// relied on for an allow, none for an implicit deny.
    pub matched: Vec<MatchedStatement>,
    /// One line for operators: which statement denied, or which policy type failed to allow.
    pub reason: Cow<'static, str>,
}

impl Decision {
    /// True for [`Effect::Allow`].
    #[must_use]
    pub fn is_allowed(&self) -> bool {
        self.effect == Effect::Allow
    }
}

/// Verdicts of one policy type.
#[derive(Default)]
struct Side {
    allow: Vec<MatchedStatement>,
    deny: Vec<MatchedStatement>,
    /// Strongest principal match among Allow statements (resource policies).
    grant: Option<PrincipalMatch>,
}

/// How [`evaluate_with`] reads a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvalOptions {
    /// The simulator's resource `*` (no resource given) stands for "some resource": an Allow
    /// statement applies whatever its `Resource`/`NotResource`, as AWS's policy simulator
    /// answers it, while a Deny applies only where its patterns match `*` itself (a Deny of one
    /// resource does not deny "some resource"). Never set for real requests.
    pub any_resource: bool,
}

/// The one action every principal may always call (AWS: "No permissions are required to
/// perform this operation. If an administrator attaches a policy to your identity that
/// explicitly denies access to the sts:GetCallerIdentity action, you can still perform it").
const ALWAYS_ALLOWED: &str = "sts:getcalleridentity";

/// Does statement `s` apply to the request? `Some(principal match)` if so.
pub(crate) fn statement_applies(
    s: &Statement,
    action_lc: &str,
    req: &RequestRef<'_>,
    env: &Env<'_>,
    check_principal: bool,
    opts: EvalOptions,
) -> Option<PrincipalMatch> {
    let action_hit = s
        .action
        .pats
        .iter()
        .any(|g| g.matches(action_lc, env) == Some(true));
    if action_hit == s.action.not {
        return None;
    }
    let any_resource = opts.any_resource && s.effect == StatementEffect::Allow;
    if let Some(r) = s.resource.as_ref().filter(|_| !any_resource) {
        // An unresolvable variable makes the whole statement not apply (Resource or NotResource).
        let mut hit = false;
        for p in &r.pats {
            if p.matches(req.resource, env)? {
                hit = true;
                break;
            }
        }
        if hit == r.not {
            return None;
        }
    }
    let pm = match (&s.principal, check_principal) {
        (Some(p), true) => p.matches(req.principal)?,
        _ => PrincipalMatch::Direct,
    };
    s.conditions.iter().all(|c| c.eval(env)).then_some(pm)
}

fn scan<'p>(
    policies: impl IntoIterator<Item = (&'p PolicyId, &'p Policy)>,
    action_lc: &str,
    req: &RequestRef<'_>,
    env: &Env<'_>,
    principal: bool,
    opts: EvalOptions,
) -> Side {
    let mut side = Side::default();
    for (id, pol) in policies {
        for s in &pol.inner.statements {
            let Some(pm) = statement_applies(s, action_lc, req, env, principal, opts) else {
                continue;
            };
            let m = MatchedStatement {
                policy: id.clone(),
                sid: s.sid.clone(),
                effect: s.effect,
            };
            match s.effect {
                StatementEffect::Deny => side.deny.push(m),
                StatementEffect::Allow => {
                    side.grant = side.grant.max(Some(pm));
                    side.allow.push(m);
                }
            }
        }
    }
    side
}

/// The state of the resource-policy side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResourceSide {
    /// No resource policy applies to this request.
    Absent,
    /// There is one, but no Allow statement matched.
    NoAllow,
    /// An Allow matched, naming the principal this strongly.
    Grant(PrincipalMatch),
}

/// Evaluates one request against its policies.
#[must_use]
pub fn evaluate(req: &Request, set: &PolicySet<'_>) -> Decision {
    evaluate_with(req, set, EvalOptions::default())
}

/// [`evaluate`], with options (the simulator's reading of resource `*`).
#[must_use]
pub fn evaluate_with(req: &Request, set: &PolicySet<'_>, opts: EvalOptions) -> Decision {
    evaluate_ref(&req.view(), &set.view(), opts)
}

/// [`evaluate_with`] for a request read where it lies: what an authorization evaluates, from
/// the strings its caller and request already hold.
#[must_use]
pub fn evaluate_ref<'a, P: Deref<Target = Policy>>(
    req: &RequestRef<'_>,
    set: &PolicySetRef<'a, P>,
    opts: EvalOptions,
) -> Decision {
    let mut buf = [0; 64];
    let action_lc = lower(req.action, &mut buf);
    let action_lc: &str = &action_lc;
    if action_lc == ALWAYS_ALLOWED {
        return Decision {
            effect: Effect::Allow,
            matched: Vec::new(),
            reason: "sts:GetCallerIdentity needs no permission; no Deny applies to it".into(),
        };
    }
    let env = Env::new(req.context, req.principal);
    let policies = |l: &'a [(PolicyId, P)]| l.iter().map(|(id, p)| (id, &**p));
    let mut identity = scan(policies(set.identity), action_lc, req, &env, false, opts);
    let mut boundary = scan(policies(set.boundary), action_lc, req, &env, false, opts);
    let mut session = scan(policies(set.session), action_lc, req, &env, false, opts);
    let resource_present = set.resource.is_some();
    let mut resource = set
        .resource
        .map(|r| scan([r], action_lc, req, &env, true, opts))
        .unwrap_or_default();

    let denies = joined([
        &mut identity.deny,
        &mut boundary.deny,
        &mut session.deny,
        &mut resource.deny,
    ]);
    let resource_side = match (resource_present, resource.grant) {
        (false, _) => ResourceSide::Absent,
        (true, None) => ResourceSide::NoAllow,
        (true, Some(g)) => ResourceSide::Grant(g),
    };
    // Federated (SAML/OIDC) and service callers have no account of their own, hence no
    // identity side: only the resource (trust) policy speaks for them.
    let cross_account = !req.principal.account.is_empty()
        && req
            .resource_account
            .is_some_and(|a| a != req.principal.account);
    let identity_ok = req.principal.is_root || !identity.allow.is_empty();
    let boundary_ok = set.boundary.is_empty() || !boundary.allow.is_empty();
    // Session policies (inline + managed ARNs) form one policy type: any Allow among them.
    let session_ok = set.session.is_empty() || !session.allow.is_empty();
    let caller_ok = identity_ok && boundary_ok && session_ok;
    let caller_fail = || -> Cow<'static, str> {
        if !identity_ok {
            "no identity-based policy allows the action".into()
        } else if !boundary_ok {
            "the permissions boundary does not allow the action".into()
        } else {
            "a session policy does not allow the action".into()
        }
    };
    // The deciding statements move out of the sides (one arm below takes them).
    let mut caller_allows =
        || joined([&mut identity.allow, &mut boundary.allow, &mut session.allow]);

    // (effect, deciding statements, reason)
    let (effect, matched, reason): (Effect, Vec<MatchedStatement>, Cow<'static, str>) = match (
        !denies.is_empty(),
        resource_side,
        cross_account,
        set.require_resource_allow,
    ) {
        // 1. Any explicit Deny, in any policy type, wins.
        (true, ..) => {
            let first = denies.first().map(describe).unwrap_or_default();
            (
                Effect::ExplicitDeny,
                denies,
                format!("explicitly denied by {first}").into(),
            )
        }
        // 5. The resource policy must allow, and there is none / it does not.
        (false, ResourceSide::Absent | ResourceSide::NoAllow, _, true) => (
            Effect::ImplicitDeny,
            Vec::new(),
            "the resource (trust) policy does not allow the principal".into(),
        ),
        // 3. Cross-account without a resource-policy Allow: the resource side is missing.
        (false, ResourceSide::Absent | ResourceSide::NoAllow, true, false) => (
            Effect::ImplicitDeny,
            Vec::new(),
            "cross-account request: no resource-based policy allows it".into(),
        ),
        // 4. Same account, no resource Allow: the identity side decides.
        (false, ResourceSide::Absent | ResourceSide::NoAllow, false, false) => {
            if caller_ok {
                (
                    Effect::Allow,
                    caller_allows(),
                    "allowed by identity-based policy".into(),
                )
            } else {
                (Effect::ImplicitDeny, Vec::new(), caller_fail())
            }
        }
        // 3. Cross-account with a resource Allow: the caller's side must allow too.
        (false, ResourceSide::Grant(_), true, _) => {
            if caller_ok {
                let mut m = caller_allows();
                m.append(&mut resource.allow);
                (
                    Effect::Allow,
                    m,
                    "allowed by identity-based and resource-based policies".into(),
                )
            } else {
                (
                    Effect::ImplicitDeny,
                    Vec::new(),
                    format!("cross-account request: {}", caller_fail()).into(),
                )
            }
        }
        // 2a. Same account, user/session/`*`/service named: allowed outright.
        (false, ResourceSide::Grant(PrincipalMatch::Direct), false, _) => (
            Effect::Allow,
            std::mem::take(&mut resource.allow),
            "allowed by resource-based policy naming the principal".into(),
        ),
        // 2b. Same account, role ARN named: boundary and session policies still cap.
        (false, ResourceSide::Grant(PrincipalMatch::Role), false, _) => {
            if boundary_ok && session_ok {
                let m = joined([&mut resource.allow, &mut boundary.allow, &mut session.allow]);
                (
                    Effect::Allow,
                    m,
                    "allowed by resource-based policy naming the role".into(),
                )
            } else if !boundary_ok {
                (
                    Effect::ImplicitDeny,
                    Vec::new(),
                    "the permissions boundary does not allow the action".into(),
                )
            } else {
                (
                    Effect::ImplicitDeny,
                    Vec::new(),
                    "a session policy does not allow the action".into(),
                )
            }
        }
        // 2c. Same account, only the account named: the identity side must also allow.
        (false, ResourceSide::Grant(PrincipalMatch::Account), false, _) => {
            if caller_ok {
                let mut m = caller_allows();
                m.append(&mut resource.allow);
                (Effect::Allow, m, "allowed by resource-based policy (account principal) and identity-based policy".into())
            } else {
                (
                    Effect::ImplicitDeny,
                    Vec::new(),
                    format!(
                        "resource-based policy names only the account and {}",
                        caller_fail()
                    )
                    .into(),
                )
            }
        }
    };
    Decision {
        effect,
        matched,
        reason,
    }
}

/// `lists` in order, as one list: the statements move, and the first non-empty list's buffer
/// is kept (usually the only one), so joining seldom allocates.
fn joined<const N: usize>(lists: [&mut Vec<MatchedStatement>; N]) -> Vec<MatchedStatement> {
    let mut out = Vec::new();
    for l in lists {
        if out.is_empty() {
            out = std::mem::take(l);
        } else {
            out.append(l);
        }
    }
    out
}

/// `s` in ASCII lower case: borrowed when it is already, in `buf` when it fits (an action
/// name always does), else copied.
fn lower<'b>(s: &'b str, buf: &'b mut [u8]) -> Cow<'b, str> {
    if !s.bytes().any(|b| b.is_ascii_uppercase()) {
        return Cow::Borrowed(s);
    }
    match crate::wire::text::join_into(&[s], buf) {
        Some(lc) => {
            lc.make_ascii_lowercase();
            let lc: &'b str = lc;
            Cow::Borrowed(lc)
        }
        None => Cow::Owned(s.to_ascii_lowercase()),
    }
}

fn describe(m: &MatchedStatement) -> String {
    match &m.sid {
        Some(s) => format!("statement '{s}' of {}", m.policy),
        None => format!("a statement of {}", m.policy),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The fast paths give what the straightforward code gives.
        #[test]
        fn lower_is_ascii_lowercase(s in "\\PC{0,80}", t in "[a-zA-Z:*?-]{0,70}") {
            for x in [&s, &t] {
                let mut buf = [0; 64];
                prop_assert_eq!(&*lower(x, &mut buf), x.to_ascii_lowercase());
            }
        }

        #[test]
        fn concat_is_concat(parts in proptest::collection::vec("\\PC{0,120}", 0..5)) {
            let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
            prop_assert_eq!(&*PolicyId::concat(&parts).0, parts.concat());
        }
    }

    #[test]
    fn joined_keeps_the_order() {
        let m = |sid: &str| MatchedStatement {
            policy: PolicyId("p".into()),
            sid: Some(sid.into()),
            effect: StatementEffect::Allow,
        };
        let (mut a, mut b, mut c) = (Vec::new(), vec![m("1"), m("2")], vec![m("3")]);
        let all = joined([&mut a, &mut b, &mut c]);
        let sids: Vec<_> = all.iter().filter_map(|m| m.sid.as_deref()).collect();
        assert_eq!(sids, ["1", "2", "3"]);
        assert!(b.is_empty() && c.is_empty());
    }
}
