//! Condition operators and their evaluation.
//!
//! Shape: `{Op: {Key: v | [v]}}`. Keys within one operator are ANDed, operators are ANDed,
//! values for one key are ORed; a negated operator is the negation of its positive twin, so its
//! values act as NOR. Missing keys: positive operators are false, negated operators true,
//! `…IfExists` true, `Null:true` true. `ForAllValues:` is true for an empty or missing set;
//! `ForAnyValue:` is false for one (unless `…IfExists`). A multi-valued key under an operator
//! without a set qualifier never matches (positive false, negated true), as the IAM simulator does.

use std::net::IpAddr;

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use ipnet::IpNet;

use super::context::{Env, Vals};
use super::error::PolicyError;
use super::matcher::{ArnPattern, Glob, Syntax};

/// The base operators (without `IfExists` or set qualifiers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseOp {
    /// `StringEquals`.
    StringEquals,
    /// `StringNotEquals`.
    StringNotEquals,
    /// `StringEqualsIgnoreCase`.
    StringEqualsIgnoreCase,
    /// `StringNotEqualsIgnoreCase`.
    StringNotEqualsIgnoreCase,
    /// `StringLike`.
    StringLike,
    /// `StringNotLike`.
    StringNotLike,
    /// `NumericEquals`.
    NumericEquals,
    /// `NumericNotEquals`.
    NumericNotEquals,
    /// `NumericLessThan`.
    NumericLessThan,
    /// `NumericLessThanEquals`.
    NumericLessThanEquals,
    /// `NumericGreaterThan`.
    NumericGreaterThan,
    /// `NumericGreaterThanEquals`.
    NumericGreaterThanEquals,
    /// `DateEquals`.
    DateEquals,
    /// `DateNotEquals`.
    DateNotEquals,
    /// `DateLessThan`.
    DateLessThan,
    /// `DateLessThanEquals`.
    DateLessThanEquals,
    /// `DateGreaterThan`.
    DateGreaterThan,
    /// `DateGreaterThanEquals`.
    DateGreaterThanEquals,
    /// `Bool`.
    Bool,
    /// `BinaryEquals`.
    BinaryEquals,
    /// `IpAddress`.
    IpAddress,
    /// `NotIpAddress`.
    NotIpAddress,
    /// `ArnEquals`.
    ArnEquals,
    /// `ArnLike`.
    ArnLike,
    /// `ArnNotEquals`.
    ArnNotEquals,
    /// `ArnNotLike`.
    ArnNotLike,
    /// `Null`.
    Null,
}

/// Every base operator with its policy spelling.
pub const OPERATORS: [(&str, BaseOp); 27] = [
    ("StringEquals", BaseOp::StringEquals),
    ("StringNotEquals", BaseOp::StringNotEquals),
    ("StringEqualsIgnoreCase", BaseOp::StringEqualsIgnoreCase),
    (
        "StringNotEqualsIgnoreCase",
        BaseOp::StringNotEqualsIgnoreCase,
    ),
    ("StringLike", BaseOp::StringLike),
    ("StringNotLike", BaseOp::StringNotLike),
    ("NumericEquals", BaseOp::NumericEquals),
    ("NumericNotEquals", BaseOp::NumericNotEquals),
    ("NumericLessThan", BaseOp::NumericLessThan),
    ("NumericLessThanEquals", BaseOp::NumericLessThanEquals),
    ("NumericGreaterThan", BaseOp::NumericGreaterThan),
    ("NumericGreaterThanEquals", BaseOp::NumericGreaterThanEquals),
    ("DateEquals", BaseOp::DateEquals),
    ("DateNotEquals", BaseOp::DateNotEquals),
    ("DateLessThan", BaseOp::DateLessThan),
    ("DateLessThanEquals", BaseOp::DateLessThanEquals),
    ("DateGreaterThan", BaseOp::DateGreaterThan),
    ("DateGreaterThanEquals", BaseOp::DateGreaterThanEquals),
    ("Bool", BaseOp::Bool),
    ("BinaryEquals", BaseOp::BinaryEquals),
    ("IpAddress", BaseOp::IpAddress),
    ("NotIpAddress", BaseOp::NotIpAddress),
    ("ArnEquals", BaseOp::ArnEquals),
    ("ArnLike", BaseOp::ArnLike),
    ("ArnNotEquals", BaseOp::ArnNotEquals),
    ("ArnNotLike", BaseOp::ArnNotLike),
    ("Null", BaseOp::Null),
];

impl BaseOp {
    /// True for the negated operators (`StringNotEquals`, `NotIpAddress`, …).
    #[must_use]
    pub fn is_negated(self) -> bool {
        matches!(
            self,
            Self::StringNotEquals
                | Self::StringNotEqualsIgnoreCase
                | Self::StringNotLike
                | Self::NumericNotEquals
                | Self::DateNotEquals
                | Self::NotIpAddress
                | Self::ArnNotEquals
                | Self::ArnNotLike
        )
    }
}

/// `ForAllValues:` / `ForAnyValue:` qualifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOp {
    /// No qualifier (single-valued semantics; on a multi-valued key, any value may match).
    None,
    /// `ForAllValues:`.
    ForAllValues,
    /// `ForAnyValue:`.
    ForAnyValue,
}

/// A parsed operator name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operator {
    /// The base operator.
    pub base: BaseOp,
    /// `…IfExists`.
    pub if_exists: bool,
    /// The set qualifier.
    pub set: SetOp,
}

impl Operator {
    /// Parses `ForAnyValue:StringLikeIfExists` etc.; `None` for unknown names.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        let (set, rest) = if let Some(r) = name.strip_prefix("ForAllValues:") {
            (SetOp::ForAllValues, r)
        } else if let Some(r) = name.strip_prefix("ForAnyValue:") {
            (SetOp::ForAnyValue, r)
        } else {
            (SetOp::None, name)
        };
        let (if_exists, base_name) = match rest.strip_suffix("IfExists") {
            Some(b) => (true, b),
            None => (false, rest),
        };
        let base = OPERATORS
            .iter()
            .find(|(n, _)| *n == base_name)
            .map(|(_, b)| *b)?;
        // `Null` has no IfExists form and no set form.
        if base == BaseOp::Null && (if_exists || set != SetOp::None) {
            return None;
        }
        Some(Self {
            base,
            if_exists,
            set,
        })
    }
}

/// Compiled policy values of one condition key.
#[derive(Debug, Clone, PartialEq)]
enum Values {
    /// StringEquals / NotEquals / IgnoreCase, BinaryEquals: templates (variables allowed).
    Text(Vec<Glob>),
    /// StringLike / NotLike.
    Like(Vec<Glob>),
    Num(Vec<f64>),
    /// Milliseconds since the epoch.
    Date(Vec<i64>),
    Bool(Vec<bool>),
    Ip(Vec<IpNet>),
    Arn(Vec<ArnPattern>),
    Null(Vec<bool>),
}

/// One `Op: {Key: values}` entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CondEntry {
    pub(crate) op_name: String,
    pub(crate) op: Operator,
    pub(crate) key: String,
    pub(crate) key_lc: String,
    pub(crate) raw: Vec<String>,
    values: Values,
}

impl CondEntry {
    /// Compiles one entry; `loc` names it in errors.
    pub(crate) fn new(
        op_name: &str,
        op: Operator,
        key: &str,
        raw: Vec<String>,
        variables: bool,
        loc: &str,
    ) -> Result<Self, PolicyError> {
        let bad = |v: &str, what: &str| {
            PolicyError::malformed(
                loc,
                format!("invalid {what} value '{v}' for operator {op_name}"),
            )
        };
        let text = Syntax {
            wildcards: false,
            variables,
            lowercase: false,
        };
        let like = Syntax {
            wildcards: true,
            variables,
            lowercase: false,
        };
        let values = match op.base {
            BaseOp::StringEquals
            | BaseOp::StringNotEquals
            | BaseOp::StringEqualsIgnoreCase
            | BaseOp::StringNotEqualsIgnoreCase
            | BaseOp::BinaryEquals => {
                Values::Text(raw.iter().map(|v| Glob::new(v, text)).collect())
            }
            BaseOp::StringLike | BaseOp::StringNotLike => {
                Values::Like(raw.iter().map(|v| Glob::new(v, like)).collect())
            }
            BaseOp::NumericEquals
            | BaseOp::NumericNotEquals
            | BaseOp::NumericLessThan
            | BaseOp::NumericLessThanEquals
            | BaseOp::NumericGreaterThan
            | BaseOp::NumericGreaterThanEquals => Values::Num(
                raw.iter()
                    .map(|v| parse_number(v).ok_or_else(|| bad(v, "numeric")))
                    .collect::<Result<_, _>>()?,
            ),
            BaseOp::DateEquals
            | BaseOp::DateNotEquals
            | BaseOp::DateLessThan
            | BaseOp::DateLessThanEquals
            | BaseOp::DateGreaterThan
            | BaseOp::DateGreaterThanEquals => Values::Date(
                raw.iter()
                    .map(|v| parse_date(v).ok_or_else(|| bad(v, "date")))
                    .collect::<Result<_, _>>()?,
            ),
            BaseOp::Bool => Values::Bool(
                raw.iter()
                    .map(|v| parse_bool(v).ok_or_else(|| bad(v, "boolean")))
                    .collect::<Result<_, _>>()?,
            ),
            BaseOp::Null => Values::Null(
                raw.iter()
                    .map(|v| parse_bool(v).ok_or_else(|| bad(v, "boolean")))
                    .collect::<Result<_, _>>()?,
            ),
            BaseOp::IpAddress | BaseOp::NotIpAddress => Values::Ip(
                raw.iter()
                    .map(|v| parse_cidr(v).ok_or_else(|| bad(v, "IP address")))
                    .collect::<Result<_, _>>()?,
            ),
            BaseOp::ArnEquals | BaseOp::ArnLike | BaseOp::ArnNotEquals | BaseOp::ArnNotLike => {
                Values::Arn(raw.iter().map(|v| ArnPattern::new(v, variables)).collect())
            }
        };
        Ok(Self {
            op_name: op_name.to_owned(),
            op,
            key: key.to_owned(),
            key_lc: key.to_lowercase(),
            raw,
            values,
        })
    }

    /// Evaluates this entry against the request.
    pub(crate) fn eval(&self, env: &Env<'_>) -> bool {
        let req = env.lookup(&self.key_lc);
        if let Values::Null(want_absent) = &self.values {
            let absent = req.is_none();
            return want_absent.contains(&absent);
        }
        let negated = self.op.base.is_negated();
        // Per request value: the operator's verdict (negated = no policy value matches).
        let verdict = |v: &str| self.positive(v, env) != negated;
        match (self.op.set, req) {
            // Missing key, single-valued form: IfExists → true; else positive false, negated true.
            (SetOp::None, None) => self.op.if_exists || negated,
            // A single value: positive = it matches some policy value; negated = it matches none.
            (SetOp::None, Some(Vals::One(v))) => self.positive(v, env) != negated,
            // A multi-valued key under a single-valued operator never matches (the IAM
            // simulator's behaviour, even for a one-element list): positive false, negated true.
            (SetOp::None, Some(Vals::Many(_))) => negated,
            // ForAnyValue on an empty/missing set is false (IfExists makes it true).
            (SetOp::ForAnyValue, None) => self.op.if_exists,
            (SetOp::ForAnyValue, Some(vals)) => vals.iter().any(verdict),
            // ForAllValues on an empty/missing set is vacuously true.
            (SetOp::ForAllValues, None) => true,
            (SetOp::ForAllValues, Some(vals)) => vals.iter().all(verdict),
        }
    }

    /// Does request value `v` match at least one policy value (positive sense)?
    fn positive(&self, v: &str, env: &Env<'_>) -> bool {
        match &self.values {
            Values::Text(ts) => match self.op.base {
                BaseOp::StringEqualsIgnoreCase | BaseOp::StringNotEqualsIgnoreCase => ts
                    .iter()
                    .filter_map(|t| t.render(env))
                    .any(|t| eq_ignore_case(&t, v)),
                _ => ts.iter().filter_map(|t| t.render(env)).any(|t| *t == *v),
            },
            Values::Like(gs) => gs.iter().any(|g| g.matches(v, env) == Some(true)),
            Values::Num(ns) => {
                parse_number(v).is_some_and(|x| ns.iter().any(|n| cmp(self.op.base, x, *n)))
            }
            Values::Date(ds) => parse_date(v)
                .is_some_and(|x| ds.iter().any(|d| cmp(self.op.base, x as f64, *d as f64))),
            Values::Bool(bs) => parse_bool(v).is_some_and(|x| bs.contains(&x)),
            Values::Ip(nets) => parse_ip(v).is_some_and(|ip| nets.iter().any(|n| n.contains(&ip))),
            Values::Arn(ps) => ps.iter().any(|p| p.matches(v, env) == Some(true)),
            Values::Null(_) => false,
        }
    }
}

/// Numeric / date comparison by base operator (request value `x`, policy value `p`).
fn cmp(op: BaseOp, x: f64, p: f64) -> bool {
    match op {
        BaseOp::NumericEquals
        | BaseOp::NumericNotEquals
        | BaseOp::DateEquals
        | BaseOp::DateNotEquals => x == p,
        BaseOp::NumericLessThan | BaseOp::DateLessThan => x < p,
        BaseOp::NumericLessThanEquals | BaseOp::DateLessThanEquals => x <= p,
        BaseOp::NumericGreaterThan | BaseOp::DateGreaterThan => x > p,
        BaseOp::NumericGreaterThanEquals | BaseOp::DateGreaterThanEquals => x >= p,
        _ => false,
    }
}

fn eq_ignore_case(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
        || a.chars()
            .flat_map(char::to_lowercase)
            .eq(b.chars().flat_map(char::to_lowercase))
}

/// Integers or decimals (`-3`, `2.5`); no exponents, no hex.
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    let digits = t
        .strip_prefix('-')
        .or_else(|| t.strip_prefix('+'))
        .unwrap_or(t);
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    t.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// `true` / `false`, case-insensitive.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// ISO-8601 (date, date-time with or without zone, fractional seconds) or epoch seconds → ms.
pub(crate) fn parse_date(s: &str) -> Option<i64> {
    let t = s.trim();
    if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()) {
        return t.parse::<i64>().ok()?.checked_mul(1000);
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some(d.timestamp_millis());
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.fZ",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%MZ",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(t, f) {
            return Some(d.and_utc().timestamp_millis());
        }
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%z"] {
        if let Ok(d) = DateTime::parse_from_str(t, f) {
            return Some(d.timestamp_millis());
        }
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp_millis())
}

/// A CIDR block or a bare address (= /32 or /128).
pub(crate) fn parse_cidr(s: &str) -> Option<IpNet> {
    let t = s.trim();
    t.parse::<IpNet>()
        .ok()
        .or_else(|| t.parse::<IpAddr>().ok().map(IpNet::from))
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    let t = s.trim();
    t.parse::<IpAddr>()
        .ok()
        .or_else(|| t.parse::<IpNet>().ok().map(|n| n.addr()))
}

/// Used by the simulator: does this entry's key appear in the request?
pub(crate) fn key_present(e: &CondEntry, env: &Env<'_>) -> bool {
    env.lookup(&e.key_lc).is_some()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;
    use crate::policy::context::{Context, RequestPrincipal};

    fn entry(op: &str, key: &str, vals: &[&str]) -> CondEntry {
        let o = Operator::parse(op).unwrap();
        CondEntry::new(
            op,
            o,
            key,
            vals.iter().map(|s| (*s).to_owned()).collect(),
            true,
            "t",
        )
        .unwrap()
    }

    fn run(e: &CondEntry, ctx: &Context) -> bool {
        let p = RequestPrincipal::from_arn("arn:aws:iam::111122223333:user/alice");
        e.eval(&Env::new(ctx, p.view()))
    }

    #[test]
    fn operator_names() {
        assert!(Operator::parse("StringEqualz").is_none());
        assert!(Operator::parse("NullIfExists").is_none());
        assert!(Operator::parse("ForAnyValue:Null").is_none());
        let o = Operator::parse("ForAllValues:StringLikeIfExists").unwrap();
        assert_eq!(
            (o.base, o.if_exists, o.set),
            (BaseOp::StringLike, true, SetOp::ForAllValues)
        );
        assert_eq!(OPERATORS.len(), 27);
    }

    #[test]
    fn missing_key_semantics() {
        let c = Context::new();
        assert!(!run(&entry("StringEquals", "k:x", &["a"]), &c));
        assert!(run(&entry("StringNotEquals", "k:x", &["a"]), &c));
        assert!(run(&entry("StringEqualsIfExists", "k:x", &["a"]), &c));
        assert!(run(&entry("Null", "k:x", &["true"]), &c));
        assert!(!run(&entry("Null", "k:x", &["false"]), &c));
        assert!(run(&entry("ForAllValues:StringEquals", "k:x", &["a"]), &c));
        assert!(!run(&entry("ForAnyValue:StringEquals", "k:x", &["a"]), &c));
        assert!(!run(
            &entry("ForAnyValue:StringNotEquals", "k:x", &["a"]),
            &c
        ));
    }

    #[test]
    fn values_and_types() {
        let mut c = Context::new();
        c.set("aws:SourceIp", "10.1.2.3");
        c.set("n:n", "10");
        c.set("d:d", "2020-06-01T00:00:00Z");
        assert!(run(
            &entry("IpAddress", "aws:sourceip", &["10.0.0.0/8"]),
            &c
        ));
        assert!(!run(
            &entry("NotIpAddress", "aws:sourceip", &["10.0.0.0/8"]),
            &c
        ));
        assert!(run(&entry("NumericLessThan", "n:n", &["11"]), &c));
        assert!(!run(&entry("NumericLessThan", "n:n", &["10"]), &c));
        assert!(run(&entry("DateGreaterThan", "d:d", &["2020-01-01"]), &c));
        assert!(run(&entry("DateLessThan", "d:d", &["1600000000"]), &c));
        assert!(
            Operator::parse("NumericEquals")
                .map(
                    |o| CondEntry::new("NumericEquals", o, "n:n", vec!["x".into()], true, "t")
                        .is_err()
                )
                .unwrap()
        );
    }

    #[test]
    fn dates_parse() {
        assert_eq!(parse_date("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_date("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_date("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_date("5"), Some(5000));
        assert_eq!(parse_date("yesterday"), None);
    }
}
