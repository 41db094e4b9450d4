//! The compiled policy model and its canonical JSON form.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::condition::CondEntry;
use super::context::PrincipalRef;
use super::matcher::{ArnPattern, Glob};

/// The policy type; governs validation and size limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// An inline identity policy (user, group, role).
    Identity,
    /// A resource-based policy (bucket policy, key policy, …).
    Resource,
    /// A role trust policy (the resource policy of `sts:AssumeRole*`).
    Trust,
    /// A session policy passed to STS.
    Session,
    /// A permissions boundary (a managed policy used as a boundary).
    Boundary,
    /// A customer managed policy.
    Managed,
}

impl PolicyKind {
    /// Parses `identity`, `resource`, `trust`, `session`, `boundary`, `managed` (any case).
    #[must_use]
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "identity" | "inline" => Self::Identity,
            "resource" => Self::Resource,
            "trust" => Self::Trust,
            "session" => Self::Session,
            "boundary" => Self::Boundary,
            "managed" => Self::Managed,
            _ => return None,
        })
    }

    /// May (must) statements carry `Principal`/`NotPrincipal`?
    pub(crate) fn has_principal(self) -> bool {
        matches!(self, Self::Resource | Self::Trust)
    }
}

/// `Version`: 2012-10-17 enables policy variables; 2008-10-17 (and a missing Version) does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `2008-10-17`, or no Version element: variables are literal text.
    V2008,
    /// `2012-10-17`.
    V2012,
}

/// A statement's `Effect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatementEffect {
    /// `"Allow"`.
    Allow,
    /// `"Deny"`.
    Deny,
}

impl StatementEffect {
    /// The policy spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "Allow",
            Self::Deny => "Deny",
        }
    }
}

/// How strongly a principal entry matched (resource policies only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PrincipalMatch {
    /// Matched through the account (`123456789012`, `…:root`): identity must also allow.
    Account,
    /// Matched through the role ARN: boundary and session policies still cap.
    Role,
    /// Matched the user, the session, `*`, a federated provider or a service.
    Direct,
}

/// One compiled principal value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PrincipalEntry {
    Any,
    Account(String),
    User { arn: String, bound: Option<String> },
    Role { arn: String, bound: Option<String> },
    Session(String),
    UniqueId(String),
    Federated(String),
    Service(String),
    Canonical(String),
}

impl PrincipalEntry {
    fn matches(&self, p: PrincipalRef<'_>) -> Option<PrincipalMatch> {
        let bound_ok = |bound: &Option<String>| match bound {
            Some(id) => p.unique_id == Some(id.as_str()),
            None => true,
        };
        let hit = match self {
            Self::Any => return Some(PrincipalMatch::Direct),
            Self::Account(a) => {
                return (!a.is_empty() && *a == p.account).then_some(PrincipalMatch::Account);
            }
            Self::User { arn, bound } => *arn == p.principal_arn && bound_ok(bound),
            Self::Role { arn, bound } => {
                return (*arn == p.principal_arn && bound_ok(bound))
                    .then_some(PrincipalMatch::Role);
            }
            Self::Session(arn) => *arn == p.arn,
            Self::UniqueId(id) => {
                let m = p.unique_id == Some(id.as_str());
                if id.starts_with("AROA") {
                    return m.then_some(PrincipalMatch::Role);
                }
                m
            }
            // Only the request that authenticates with the provider itself, never a session
            // it once issued (`federated_provider`) making a signed call.
            Self::Federated(f) => p.federation == Some(f.as_str()),
            Self::Service(s) => p.service == Some(s.as_str()),
            Self::Canonical(_) => false,
        };
        hit.then_some(PrincipalMatch::Direct)
    }
}

/// `Principal` / `NotPrincipal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PrincipalBlock {
    pub(crate) not: bool,
    /// The bare string `"*"`.
    pub(crate) star: bool,
    /// (type, raw values, compiled values) in key order.
    pub(crate) groups: Vec<(String, Vec<String>, Vec<PrincipalEntry>)>,
}

impl PrincipalBlock {
    /// How the principal is matched by this block (for `NotPrincipal`: not listed → Direct, as `"*"`).
    pub(crate) fn matches(&self, p: PrincipalRef<'_>) -> Option<PrincipalMatch> {
        let best = if self.star {
            Some(PrincipalMatch::Direct)
        } else {
            self.groups
                .iter()
                .flat_map(|(_, _, es)| es)
                .filter_map(|e| e.matches(p))
                .max()
        };
        if self.not {
            // NotPrincipal applies to every principal *not* listed, as `"*"` would (AWS: with
            // Allow it grants everyone but those listed, anonymous callers included).
            match best {
                Some(_) => None,
                None => Some(PrincipalMatch::Direct),
            }
        } else {
            best
        }
    }
}

/// `Action`/`NotAction` or `Resource`/`NotResource`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Block<T> {
    pub(crate) not: bool,
    pub(crate) raw: Vec<String>,
    pub(crate) pats: Vec<T>,
}

/// One compiled statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Statement {
    pub(crate) sid: Option<String>,
    pub(crate) effect: StatementEffect,
    pub(crate) principal: Option<PrincipalBlock>,
    pub(crate) action: Block<Glob>,
    pub(crate) resource: Option<Block<ArnPattern>>,
    pub(crate) conditions: Vec<CondEntry>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PolicyInner {
    pub(crate) source: String,
    pub(crate) kind: PolicyKind,
    pub(crate) version: Version,
    pub(crate) version_raw: Option<String>,
    pub(crate) id: Option<String>,
    pub(crate) statements: Vec<Statement>,
}

/// A checked, compiled policy. Cloning is cheap (shared).
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub(crate) inner: Arc<PolicyInner>,
}

impl Policy {
    /// The document text this policy was parsed from.
    #[must_use]
    pub fn source(&self) -> &str {
        &self.inner.source
    }

    /// The policy type it was validated as.
    #[must_use]
    pub fn kind(&self) -> PolicyKind {
        self.inner.kind
    }

    /// The language version.
    #[must_use]
    pub fn version(&self) -> Version {
        self.inner.version
    }

    /// Number of statements.
    #[must_use]
    pub fn statement_count(&self) -> usize {
        self.inner.statements.len()
    }

    /// The statements' Sids, in order (`None` where absent).
    #[must_use]
    pub fn sids(&self) -> Vec<Option<&str>> {
        self.inner
            .statements
            .iter()
            .map(|s| s.sid.as_deref())
            .collect()
    }

    /// The user and role ARNs named in `Principal`/`NotPrincipal` (for unique-id resolution).
    #[must_use]
    pub fn principal_arns(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .inner
            .statements
            .iter()
            .filter_map(|s| s.principal.as_ref())
            .flat_map(|p| p.groups.iter().flat_map(|(_, _, es)| es))
            .filter_map(|e| match e {
                PrincipalEntry::User { arn, .. } | PrincipalEntry::Role { arn, .. } => {
                    Some(arn.clone())
                }
                _ => None,
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The federated providers named in `Principal` (`{"Federated": …}`), each with whether
    /// its statement constrains the token's subject or audience (a condition on a `…:sub`,
    /// `…:aud` or `…:oaud` key): a web identity trust without one admits every token the
    /// provider issues for any of its clients.
    #[must_use]
    pub fn federated_principals(&self) -> Vec<(String, bool)> {
        let mut out: Vec<(String, bool)> = Vec::new();
        for st in &self.inner.statements {
            let Some(p) = st.principal.as_ref().filter(|p| !p.not) else {
                continue;
            };
            let constrained = st.conditions.iter().any(|c| {
                let k = c.key.to_ascii_lowercase();
                k.ends_with(":sub") || k.ends_with(":aud") || k.ends_with(":oaud")
            });
            for e in p.groups.iter().flat_map(|(_, _, es)| es) {
                if let PrincipalEntry::Federated(f) = e {
                    out.push((f.clone(), constrained));
                }
            }
        }
        out
    }

    /// Binds user/role ARN principals to unique ids: a bound principal then matches only a
    /// caller whose `unique_id` equals the id (a re-created role does not inherit trust).
    pub fn bind_principal_ids(&mut self, map: &HashMap<String, String>) {
        let inner = Arc::make_mut(&mut self.inner);
        for st in &mut inner.statements {
            let Some(p) = st.principal.as_mut() else {
                continue;
            };
            for (_, _, es) in &mut p.groups {
                for e in es.iter_mut() {
                    if let PrincipalEntry::User { arn, bound }
                    | PrincipalEntry::Role { arn, bound } = e
                    {
                        *bound = map.get(arn.as_str()).cloned();
                    }
                }
            }
        }
    }

    /// Canonical serialization: sorted keys, `Statement` and every value list as arrays,
    /// condition values as strings. `parse(to_json(p))` yields an equivalent policy.
    #[must_use]
    pub fn to_json(&self) -> String {
        let i = &self.inner;
        let mut top = Map::new();
        if let Some(v) = &i.version_raw {
            top.insert("Version".into(), json!(v));
        }
        if let Some(id) = &i.id {
            top.insert("Id".into(), json!(id));
        }
        let sts: Vec<Value> = i.statements.iter().map(statement_json).collect();
        top.insert("Statement".into(), Value::Array(sts));
        Value::Object(top).to_string()
    }
}

fn statement_json(s: &Statement) -> Value {
    let mut m = Map::new();
    if let Some(sid) = &s.sid {
        m.insert("Sid".into(), json!(sid));
    }
    m.insert("Effect".into(), json!(s.effect.as_str()));
    if let Some(p) = &s.principal {
        let v = if p.star {
            json!("*")
        } else {
            Value::Object(
                p.groups
                    .iter()
                    .map(|(t, raw, _)| (t.clone(), json!(raw)))
                    .collect(),
            )
        };
        m.insert(if p.not { "NotPrincipal" } else { "Principal" }.into(), v);
    }
    m.insert(
        if s.action.not { "NotAction" } else { "Action" }.into(),
        json!(s.action.raw),
    );
    if let Some(r) = &s.resource {
        m.insert(
            if r.not { "NotResource" } else { "Resource" }.into(),
            json!(r.raw),
        );
    }
    if !s.conditions.is_empty() {
        let mut c: Map<String, Value> = Map::new();
        for e in &s.conditions {
            let ops = c
                .entry(e.op_name.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(keys) = ops {
                keys.insert(e.key.clone(), json!(e.raw));
            }
        }
        m.insert("Condition".into(), Value::Object(c));
    }
    Value::Object(m)
}
