//! Text → checked, compiled [`Policy`].
//!
//! Checks, in order: size quota for the policy type (whitespace excluded, as IAM counts it),
//! allowed characters (TAB, LF, CR, U+0020–U+00FF), JSON syntax, then the grammar: `Version`,
//! `Id`, `Statement` (object or array); per statement `Sid`, `Effect`, exactly one of
//! `Principal`/`NotPrincipal` (resource and trust policies only; trust: `Principal` only),
//! exactly one of `Action`/`NotAction`, exactly one of `Resource`/`NotResource` (none in trust
//! policies), and `Condition` with known operators and well-typed values.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::condition::{CondEntry, Operator};
use super::error::PolicyError;
use super::matcher::{ArnPattern, action_glob};
use super::model::{
    Block, Policy, PolicyInner, PolicyKind, PrincipalBlock, PrincipalEntry, Statement,
    StatementEffect, Version,
};

/// Customer managed policy (and boundary) quota, non-whitespace characters.
pub const MANAGED_POLICY_MAX: usize = 6144;
/// Default role trust policy quota (`ACLSizePerRole`; raisable to 4096).
pub const TRUST_POLICY_MAX: usize = 2048;
/// STS session policy plaintext limit.
pub const SESSION_POLICY_MAX: usize = 2048;
/// The API's policy-document field limit.
pub const API_POLICY_MAX: usize = 131_072;

/// Parse options beyond the policy type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// Override the size quota for the type (e.g. a raised trust-policy quota).
    pub max_size: Option<usize>,
    /// An AWS managed policy: customer quotas do not apply.
    pub aws_managed: bool,
}

/// Counts characters that are not whitespace (IAM's measure for policy quotas).
#[must_use]
pub fn non_whitespace_len(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

/// Parses and checks a policy of the given type.
///
/// # Errors
/// `PolicyError` naming the problem and where; [`PolicyError::is_size_limit`] for quota errors.
pub fn parse(text: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
    parse_with(text, kind, ParseOptions::default())
}

/// [`parse`] with explicit options.
///
/// # Errors
/// As [`parse`].
pub fn parse_with(text: &str, kind: PolicyKind, opts: ParseOptions) -> Result<Policy, PolicyError> {
    check_size(text, kind, opts)?;
    if let Some((pos, c)) =
        text.char_indices().find(|(_, c)| !matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}'))
    {
        return Err(PolicyError::malformed(
            "",
            format!("character U+{:04X} at byte {pos} is not allowed in a policy", c as u32),
        ));
    }
    let doc: Value = serde_json::from_str(text).map_err(|e| {
        PolicyError::malformed("", format!("Syntax errors in policy (line {}, column {})", e.line(), e.column()))
    })?;
    let Value::Object(top) = doc else {
        return Err(PolicyError::malformed("", "Syntax errors in policy: the document must be a JSON object"));
    };
    for k in top.keys() {
        if !matches!(k.as_str(), "Version" | "Id" | "Statement") {
            return Err(PolicyError::malformed("", format!("Unknown field {k}")));
        }
    }
    let (version, version_raw) = match top.get("Version") {
        None => (Version::V2008, None),
        Some(Value::String(v)) if v == "2012-10-17" => (Version::V2012, Some(v.clone())),
        Some(Value::String(v)) if v == "2008-10-17" => (Version::V2008, Some(v.clone())),
        Some(v) => {
            return Err(PolicyError::malformed("Version", format!("The policy must contain a valid version string, not {v}")));
        }
    };
    let id = match top.get("Id") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(PolicyError::malformed("Id", "Id must be a string")),
    };
    let raw_statements: Vec<(String, &Map<String, Value>)> = match top.get("Statement") {
        None => return Err(PolicyError::malformed("", "Missing required field Statement")),
        Some(Value::Object(m)) => vec![("Statement".to_owned(), m)],
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Object(m) => Ok((format!("Statement[{i}]"), m)),
                _ => Err(PolicyError::malformed(format!("Statement[{i}]"), "a statement must be a JSON object")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(PolicyError::malformed("Statement", "Statement must be an object or an array")),
    };
    let iam = !matches!(kind, PolicyKind::Resource);
    let mut statements = Vec::with_capacity(raw_statements.len());
    for (loc, m) in &raw_statements {
        let st = statement(m, loc, kind, version, iam && !opts.aws_managed)?;
        if iam
            && let Some(sid) = &st.sid
            && statements.iter().any(|s: &Statement| s.sid.as_deref() == Some(sid.as_str()))
        {
            return Err(PolicyError::malformed(
                format!("{loc}.Sid"),
                format!("Statement IDs (SID) in a single policy must be unique: '{sid}'"),
            ));
        }
        statements.push(st);
    }
    Ok(Policy {
        inner: Arc::new(PolicyInner { source: text.to_owned(), kind, version, version_raw, id, statements }),
    })
}

fn check_size(text: &str, kind: PolicyKind, opts: ParseOptions) -> Result<(), PolicyError> {
    if opts.aws_managed {
        return Ok(());
    }
    if text.len() > API_POLICY_MAX {
        return Err(PolicyError::size_limit(format!(
            "Policy document exceeds the maximum length of {API_POLICY_MAX} characters"
        )));
    }
    let (limit, len, msg) = match kind {
        PolicyKind::Managed | PolicyKind::Boundary => {
            let l = opts.max_size.unwrap_or(MANAGED_POLICY_MAX);
            (l, non_whitespace_len(text), format!("Cannot exceed quota for PolicySize: {l}"))
        }
        PolicyKind::Trust => {
            let l = opts.max_size.unwrap_or(TRUST_POLICY_MAX);
            (l, non_whitespace_len(text), format!("Cannot exceed quota for ACLSizePerRole: {l}"))
        }
        PolicyKind::Session => {
            // STS counts the plaintext, whitespace included.
            let l = opts.max_size.unwrap_or(SESSION_POLICY_MAX);
            (l, text.chars().count(), format!("Session policy exceeds the maximum size of {l} characters"))
        }
        // Inline identity aggregates are checked by the IAM layer; resource policies are
        // bounded by their service and here by the API limit only.
        PolicyKind::Identity | PolicyKind::Resource => match opts.max_size {
            Some(l) => (l, non_whitespace_len(text), format!("Maximum policy size of {l} bytes exceeded")),
            None => return Ok(()),
        },
    };
    if len > limit { Err(PolicyError::size_limit(msg)) } else { Ok(()) }
}

fn strings(v: &Value, loc: &str, what: &str) -> Result<Vec<String>, PolicyError> {
    let one = |x: &Value| match x {
        Value::String(s) => Ok(s.clone()),
        _ => Err(PolicyError::malformed(loc, format!("{what} values must be strings"))),
    };
    match v {
        Value::Array(a) if a.is_empty() => Err(PolicyError::malformed(loc, format!("{what} must not be empty"))),
        Value::Array(a) => a.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

fn statement(
    m: &Map<String, Value>,
    loc: &str,
    kind: PolicyKind,
    version: Version,
    strict_sid: bool,
) -> Result<Statement, PolicyError> {
    for k in m.keys() {
        if !matches!(
            k.as_str(),
            "Sid" | "Effect" | "Principal" | "NotPrincipal" | "Action" | "NotAction" | "Resource" | "NotResource" | "Condition"
        ) {
            return Err(PolicyError::malformed(loc, format!("Unknown field {k}")));
        }
    }
    let sid = match m.get("Sid") {
        None => None,
        Some(Value::String(s)) => {
            if strict_sid && !s.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(PolicyError::malformed(
                    format!("{loc}.Sid"),
                    format!("Statement IDs (SID) must be alpha-numeric: '{s}'"),
                ));
            }
            Some(s.clone())
        }
        Some(_) => return Err(PolicyError::malformed(format!("{loc}.Sid"), "Sid must be a string")),
    };
    let effect = match m.get("Effect") {
        Some(Value::String(s)) if s == "Allow" => StatementEffect::Allow,
        Some(Value::String(s)) if s == "Deny" => StatementEffect::Deny,
        Some(v) => return Err(PolicyError::malformed(format!("{loc}.Effect"), format!("Invalid effect: {v}"))),
        None => return Err(PolicyError::malformed(loc, "Missing required field Effect")),
    };
    let principal = principal_block(m, loc, kind)?;
    let action = match (m.get("Action"), m.get("NotAction")) {
        (Some(_), Some(_)) => {
            return Err(PolicyError::malformed(loc, "Statement must not contain both Action and NotAction"));
        }
        (None, None) => return Err(PolicyError::malformed(loc, "Missing required field Action")),
        (Some(v), None) | (None, Some(v)) => {
            let not = m.contains_key("NotAction");
            let aloc = format!("{loc}.{}", if not { "NotAction" } else { "Action" });
            let raw = strings(v, &aloc, "Action")?;
            for a in &raw {
                if !valid_action(a) {
                    return Err(PolicyError::malformed(
                        &aloc,
                        format!("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc. ('{a}')"),
                    ));
                }
            }
            let pats = raw.iter().map(|a| action_glob(a)).collect();
            Block { not, raw, pats }
        }
    };
    let variables = version == Version::V2012;
    let resource = match (m.get("Resource"), m.get("NotResource"), kind) {
        (Some(_), _, PolicyKind::Trust) => return Err(PolicyError::malformed(loc, "Has prohibited field Resource")),
        (_, Some(_), PolicyKind::Trust) => return Err(PolicyError::malformed(loc, "Has prohibited field NotResource")),
        (None, None, PolicyKind::Trust) => None,
        (Some(_), Some(_), _) => {
            return Err(PolicyError::malformed(loc, "Statement must not contain both Resource and NotResource"));
        }
        (None, None, _) => return Err(PolicyError::malformed(loc, "Missing required field Resource")),
        (Some(v), None, _) | (None, Some(v), _) => {
            let not = m.contains_key("NotResource");
            let rloc = format!("{loc}.{}", if not { "NotResource" } else { "Resource" });
            let raw = strings(v, &rloc, "Resource")?;
            if kind != PolicyKind::Resource {
                for r in &raw {
                    if !(r == "*" || (r.starts_with("arn:") && r.matches(':').count() >= 5)) {
                        return Err(PolicyError::malformed(
                            &rloc,
                            format!("Resource {r} must be in ARN format or \"*\"."),
                        ));
                    }
                }
            }
            let pats = raw.iter().map(|r| ArnPattern::new(r, variables)).collect();
            Some(Block { not, raw, pats })
        }
    };
    let conditions = match m.get("Condition") {
        None => Vec::new(),
        Some(v) => conditions(v, &format!("{loc}.Condition"), variables)?,
    };
    Ok(Statement { sid, effect, principal, action, resource, conditions })
}

/// `*`, or `vendor:pattern` with a vendor of letters, digits, `-`, `_`, `.`.
fn valid_action(a: &str) -> bool {
    if a == "*" {
        return true;
    }
    match a.split_once(':') {
        Some((vendor, name)) => {
            !vendor.is_empty()
                && vendor.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                && !name.is_empty()
                && !name.contains(':')
        }
        None => false,
    }
}

fn principal_block(m: &Map<String, Value>, loc: &str, kind: PolicyKind) -> Result<Option<PrincipalBlock>, PolicyError> {
    let (p, np) = (m.get("Principal"), m.get("NotPrincipal"));
    if !kind.has_principal() {
        if p.is_some() || np.is_some() {
            return Err(PolicyError::malformed(loc, "Policy document should not specify a principal."));
        }
        return Ok(None);
    }
    let (v, not) = match (p, np, kind) {
        (_, Some(_), PolicyKind::Trust) => {
            return Err(PolicyError::malformed(loc, "Has prohibited field NotPrincipal"));
        }
        (Some(_), Some(_), _) => {
            return Err(PolicyError::malformed(loc, "Statement must not contain both Principal and NotPrincipal"));
        }
        (None, None, _) => return Err(PolicyError::malformed(loc, "Missing required field Principal")),
        (Some(v), None, _) => (v, false),
        (None, Some(v), _) => (v, true),
    };
    let ploc = format!("{loc}.{}", if not { "NotPrincipal" } else { "Principal" });
    let invalid = |t: &str, s: &str| PolicyError::malformed(&ploc, format!("Invalid principal in policy: \"{t}\":\"{s}\""));
    match v {
        Value::String(s) if s == "*" => return Ok(Some(PrincipalBlock { not, star: true, groups: Vec::new() })),
        Value::Object(map) if !map.is_empty() => {
            let mut groups = Vec::new();
            for (t, vals) in map {
                let raw = strings(vals, &ploc, "Principal")?;
                let mut es = Vec::with_capacity(raw.len());
                for s in &raw {
                    let e = match t.as_str() {
                        "AWS" => aws_principal(s).ok_or_else(|| invalid(t, s))?,
                        "Federated" if !s.is_empty() && !s.contains('*') => PrincipalEntry::Federated(s.clone()),
                        "Service" if s == "*" && kind == PolicyKind::Resource => PrincipalEntry::Any,
                        "Service" if !s.is_empty() && !s.contains('*') => PrincipalEntry::Service(s.clone()),
                        "CanonicalUser" if !s.is_empty() && kind == PolicyKind::Resource => {
                            PrincipalEntry::Canonical(s.clone())
                        }
                        _ => return Err(invalid(t, s)),
                    };
                    es.push(e);
                }
                groups.push((t.clone(), raw, es));
            }
            Ok(Some(PrincipalBlock { not, star: false, groups }))
        }
        other => Err(PolicyError::malformed(&ploc, format!("Invalid principal in policy: {other}"))),
    }
}

/// Compiles one `AWS` principal value; `None` when invalid. No wildcards inside ARNs.
fn aws_principal(s: &str) -> Option<PrincipalEntry> {
    if s == "*" {
        return Some(PrincipalEntry::Any);
    }
    if s.len() == 12 && s.chars().all(|c| c.is_ascii_digit()) {
        return Some(PrincipalEntry::Account(s.to_owned()));
    }
    if s.contains('*') || s.contains('?') {
        return None;
    }
    if !s.starts_with("arn:") {
        // Unique ids (AIDA…, AROA…) are how IAM stores principals of deleted entities.
        return (s.len() >= 16 && s.chars().all(|c| c.is_ascii_alphanumeric()) && s.starts_with('A'))
            .then(|| PrincipalEntry::UniqueId(s.to_owned()));
    }
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    let [_, _, service, _, account, res] = parts.as_slice() else { return None };
    if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    match (*service, *res) {
        ("iam", "root") => Some(PrincipalEntry::Account((*account).to_owned())),
        ("iam", r) if r.starts_with("user/") && r.len() > 5 => Some(PrincipalEntry::User { arn: s.to_owned(), bound: None }),
        ("iam", r) if r.starts_with("role/") && r.len() > 5 => Some(PrincipalEntry::Role { arn: s.to_owned(), bound: None }),
        ("sts", r) if r.starts_with("assumed-role/") || r.starts_with("federated-user/") => {
            Some(PrincipalEntry::Session(s.to_owned()))
        }
        _ => None,
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn conditions(v: &Value, loc: &str, variables: bool) -> Result<Vec<CondEntry>, PolicyError> {
    let Value::Object(ops) = v else {
        return Err(PolicyError::malformed(loc, "Condition must be an object"));
    };
    let mut out = Vec::new();
    for (op_name, keys) in ops {
        let op = Operator::parse(op_name)
            .ok_or_else(|| PolicyError::malformed(loc, format!("unknown operator '{op_name}'")))?;
        let Value::Object(keys) = keys else {
            return Err(PolicyError::malformed(format!("{loc}.{op_name}"), "must map condition keys to values"));
        };
        if keys.is_empty() {
            return Err(PolicyError::malformed(format!("{loc}.{op_name}"), "has no condition keys"));
        }
        for (key, vals) in keys {
            let kloc = format!("{loc}.{op_name}.{key}");
            if key.is_empty() || key.chars().any(char::is_whitespace) {
                return Err(PolicyError::malformed(&kloc, format!("invalid condition key '{key}'")));
            }
            let raw: Vec<String> = match vals {
                Value::Array(a) => a
                    .iter()
                    .map(|x| scalar(x).ok_or_else(|| PolicyError::malformed(&kloc, "condition values must be strings, numbers or booleans")))
                    .collect::<Result<_, _>>()?,
                other => vec![scalar(other).ok_or_else(|| {
                    PolicyError::malformed(&kloc, "condition values must be strings, numbers or booleans")
                })?],
            };
            out.push(CondEntry::new(op_name, op, key, raw, variables, &kloc)?);
        }
    }
    Ok(out)
}
