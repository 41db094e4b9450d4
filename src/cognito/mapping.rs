//! Role mappings, pure: checking them when set, and choosing a role for a verified login.
//!
//! - `Token`: the token's `cognito:preferred_role`, else its only `cognito:roles` entry.
//! - `Rules`: the first rule whose claim matches (`Equals`, `Contains`, `StartsWith`,
//!   `NotEqual` — the last only for a claim that is present).
//! - No result: `AmbiguousRoleResolution` says `AuthenticatedRole` (the pool's authenticated
//!   role) or `Deny`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::model::{AmbiguousRoleResolution, MappingType, MatchType, RoleMapping};
use crate::error::{ApiError, Code};
use crate::wire::params::check_len;

/// Most rules in one mapping (Cognito's quota).
pub const MAX_RULES: usize = 25;

/// Most role mappings in one pool (one per login provider; Cognito's quota).
pub const MAX_MAPPINGS: usize = 10;

/// What a mapping chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// This role.
    Role(String),
    /// The pool's authenticated role (no mapping, or an ambiguous one resolved so).
    AuthenticatedRole,
}

/// Parses and checks the `RoleMappings` of `SetIdentityPoolRoles`.
///
/// # Errors
/// `InvalidParameterException` naming what is wrong.
pub fn parse(entries: Vec<(String, Value)>) -> Result<BTreeMap<String, RoleMapping>, ApiError> {
    if entries.len() > MAX_MAPPINGS {
        return Err(invalid(format!(
            "At most {MAX_MAPPINGS} role mappings are allowed."
        )));
    }
    let mut out = BTreeMap::new();
    for (provider, v) in entries {
        check_len("RoleMappings.key", &provider, 1, 128)?;
        let m: RoleMapping = serde_json::from_value(v)
            .map_err(|e| invalid(format!("Invalid RoleMapping for {provider}: {e}")))?;
        if m.ambiguous_role_resolution.is_none() {
            return Err(invalid(format!(
                "AmbiguousRoleResolution must be specified for {provider}"
            )));
        }
        match (&m.kind, &m.rules_configuration) {
            (MappingType::Rules, None) => {
                return Err(invalid(format!(
                    "RulesConfiguration must be provided for Rules type mapping of {provider}"
                )));
            }
            (MappingType::Rules, Some(rc)) => {
                if rc.rules.is_empty() || rc.rules.len() > MAX_RULES {
                    return Err(invalid(format!(
                        "A RulesConfiguration has 1 to {MAX_RULES} rules."
                    )));
                }
                for r in &rc.rules {
                    check_len("Claim", &r.claim, 1, 64)?;
                    check_len("Value", &r.value, 1, 128)?;
                    check_len("RoleARN", &r.role_arn, 20, 2048)?;
                    check_role_arn(&r.role_arn)?;
                }
            }
            (MappingType::Token, Some(_)) => {
                return Err(invalid(format!(
                    "RulesConfiguration is only for Rules type mappings ({provider})"
                )));
            }
            (MappingType::Token, None) => {}
        }
        out.insert(provider, m);
    }
    Ok(out)
}

/// Checks that a role ARN is an IAM role ARN.
///
/// # Errors
/// `InvalidParameterException`.
pub fn check_role_arn(arn: &str) -> Result<(), ApiError> {
    if crate::iam::names::parse_entity_arn(arn, "role").is_some() {
        Ok(())
    } else {
        Err(invalid(format!("{arn} is not a valid role ARN.")))
    }
}

fn invalid(message: String) -> ApiError {
    ApiError::new(Code::InvalidParameterValue, message)
}

/// A claim as text: strings as they are, numbers and booleans printed; anything else absent.
fn claim_text(claims: &Map<String, Value>, name: &str) -> Option<String> {
    match claims.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The claim values a rule looks at: one for a scalar claim, each entry of a list claim.
fn claim_values(claims: &Map<String, Value>, name: &str) -> Vec<String> {
    match claims.get(name) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => claim_text(claims, name).into_iter().collect(),
    }
}

fn matches(kind: MatchType, have: &str, want: &str) -> bool {
    match kind {
        MatchType::Equals => have == want,
        MatchType::Contains => have.contains(want),
        MatchType::StartsWith => have.starts_with(want),
        MatchType::NotEqual => have != want,
    }
}

/// The role a verified login's `claims` get under `mapping` (`None`: the provider has no
/// mapping).
///
/// # Errors
/// `NotAuthorizedException` (AccessDenied) when the mapping is ambiguous and says `Deny`.
pub fn choose(
    mapping: Option<&RoleMapping>,
    claims: &Map<String, Value>,
) -> Result<Choice, ApiError> {
    let Some(m) = mapping else {
        return Ok(Choice::AuthenticatedRole);
    };
    let chosen = match m.kind {
        MappingType::Token => claim_text(claims, "cognito:preferred_role").or_else(|| match claims
            .get("cognito:roles")
        {
            Some(Value::Array(a)) if a.len() == 1 => {
                a.first().and_then(Value::as_str).map(str::to_owned)
            }
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        }),
        MappingType::Rules => m.rules_configuration.as_ref().and_then(|rc| {
            rc.rules
                .iter()
                .find(|r| {
                    let values = claim_values(claims, &r.claim);
                    match r.match_type {
                        // NotEqual: present, and no value equal to the rule's.
                        MatchType::NotEqual => {
                            !values.is_empty() && values.iter().all(|v| v != &r.value)
                        }
                        t => values.iter().any(|v| matches(t, v, &r.value)),
                    }
                })
                .map(|r| r.role_arn.clone())
        }),
    };
    match (chosen, m.ambiguous_role_resolution) {
        (Some(role), _) => Ok(Choice::Role(role)),
        (None, Some(AmbiguousRoleResolution::AuthenticatedRole)) => Ok(Choice::AuthenticatedRole),
        (None, _) => Err(ApiError::access_denied(
            "Unable to resolve a role for this login: the pool's role mapping denies it.",
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use serde_json::json;

    use super::*;

    const ADMIN: &str = "arn:aws:iam::111111111111:role/admin";
    const DEV: &str = "arn:aws:iam::111111111111:role/dev";

    fn rules(resolution: &str) -> RoleMapping {
        let v = json!({"Type": "Rules", "AmbiguousRoleResolution": resolution,
            "RulesConfiguration": {"Rules": [
                {"Claim": "groups", "MatchType": "Contains", "Value": "admins", "RoleARN": ADMIN},
                {"Claim": "email", "MatchType": "StartsWith", "Value": "dev-", "RoleARN": DEV},
                {"Claim": "tier", "MatchType": "NotEqual", "Value": "free", "RoleARN": DEV}]}});
        parse(vec![("idp".into(), v)])
            .unwrap()
            .remove("idp")
            .unwrap()
    }

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn rules_pick_the_first_match_in_order() {
        let m = rules("AuthenticatedRole");
        let pick = |c| choose(Some(&m), &claims(c)).unwrap();
        assert_eq!(
            pick(json!({"groups": ["users", "admins"], "email": "dev-a"})),
            Choice::Role(ADMIN.into())
        );
        assert_eq!(pick(json!({"email": "dev-a"})), Choice::Role(DEV.into()));
        assert_eq!(pick(json!({"tier": "gold"})), Choice::Role(DEV.into()));
        // NotEqual needs the claim: absent is no match.
        assert_eq!(pick(json!({"email": "x"})), Choice::AuthenticatedRole);
        assert_eq!(pick(json!({"tier": "free"})), Choice::AuthenticatedRole);
        // A substring of the rule value does not equal it.
        assert_eq!(pick(json!({"groups": "admin"})), Choice::AuthenticatedRole);
    }

    #[test]
    fn ambiguity_resolves_as_configured() {
        let deny = rules("Deny");
        let e = choose(Some(&deny), &claims(json!({}))).unwrap_err();
        assert_eq!(e.code, Code::AccessDenied);
        assert_eq!(
            choose(None, &claims(json!({}))).unwrap(),
            Choice::AuthenticatedRole
        );
        let token = parse(vec![(
            "idp".into(),
            json!({"Type": "Token", "AmbiguousRoleResolution": "Deny"}),
        )])
        .unwrap()
        .remove("idp")
        .unwrap();
        let pick = |c| choose(Some(&token), &claims(c));
        assert_eq!(
            pick(json!({"cognito:preferred_role": DEV, "cognito:roles": [ADMIN, DEV]})).unwrap(),
            Choice::Role(DEV.into())
        );
        assert_eq!(
            pick(json!({"cognito:roles": [ADMIN]})).unwrap(),
            Choice::Role(ADMIN.into())
        );
        assert!(pick(json!({"cognito:roles": [ADMIN, DEV]})).is_err());
    }

    #[test]
    fn malformed_mappings_are_refused() {
        let bad = |v: Value| parse(vec![("idp".into(), v)]).unwrap_err().code;
        assert_eq!(
            bad(json!({"Type": "Rules", "AmbiguousRoleResolution": "Deny"})),
            Code::InvalidParameterValue
        );
        assert_eq!(bad(json!({"Type": "Token"})), Code::InvalidParameterValue);
        assert_eq!(
            bad(json!({"Type": "Magic", "AmbiguousRoleResolution": "Deny"})),
            Code::InvalidParameterValue
        );
        assert_eq!(
            bad(json!({"Type": "Rules", "AmbiguousRoleResolution": "Deny",
                "RulesConfiguration": {"Rules": []}})),
            Code::InvalidParameterValue
        );
        assert_eq!(
            bad(json!({"Type": "Rules", "AmbiguousRoleResolution": "Deny",
                "RulesConfiguration": {"Rules": [{"Claim": "a", "MatchType": "Equals",
                "Value": "b", "RoleARN": "arn:aws:iam::111111111111:user/not-a-role"}]}})),
            Code::InvalidParameterValue
        );
        let many: Vec<_> = (0..=MAX_MAPPINGS)
            .map(|i| {
                (
                    format!("p{i}"),
                    json!({"Type": "Token", "AmbiguousRoleResolution": "Deny"}),
                )
            })
            .collect();
        assert!(parse(many).is_err());
    }
}
