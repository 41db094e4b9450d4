//! Trust-policy lint: patterns AWS accepts but that let more callers in than the author likely
//! meant (peers.md §7, "trust-policy foot-guns"). Pure; the IAM API logs the warnings when a
//! role's trust policy is written, and `sekisho policy check --kind trust` prints them.

use super::model::{Policy, PrincipalEntry, StatementEffect};

/// The built-in federated principal of identity pools.
pub const COGNITO_IDENTITY: &str = "cognito-identity.amazonaws.com";

/// Whether an `amr` condition admits guests: its values mention `unauthenticated` (exactly or
/// through a wildcard).
fn admits_guests(values: &[String]) -> bool {
    values.iter().any(|v| {
        let v = v.to_ascii_lowercase();
        v == "unauthenticated"
            || v == "*"
            || (v.contains('*') && "unauthenticated".contains(v.trim_matches('*')))
    })
}

/// The warnings for a trust policy, one line each.
#[must_use]
pub fn trust_warnings(p: &Policy) -> Vec<String> {
    let mut out = Vec::new();
    let aud_key = format!("{COGNITO_IDENTITY}:aud");
    let amr_key = format!("{COGNITO_IDENTITY}:amr");
    for (i, st) in p.inner.statements.iter().enumerate() {
        if st.effect != StatementEffect::Allow {
            continue;
        }
        let Some(pb) = st.principal.as_ref().filter(|pb| !pb.not) else {
            continue;
        };
        let names_pools = pb
            .groups
            .iter()
            .flat_map(|(_, _, es)| es)
            .any(|e| matches!(e, PrincipalEntry::Federated(f) if f == COGNITO_IDENTITY));
        if !names_pools {
            continue;
        }
        let has_aud = st.conditions.iter().any(|c| c.key_lc == aud_key);
        let amr: Vec<&[String]> = st
            .conditions
            .iter()
            .filter(|c| c.key_lc == amr_key)
            .map(|c| c.raw.as_slice())
            .collect();
        let guests = amr.is_empty() || amr.iter().any(|v| admits_guests(v));
        let sid = st.sid.as_deref().map_or_else(
            || format!("statement {}", i + 1),
            |s| format!("statement {s}"),
        );
        if !has_aud && guests {
            out.push(format!(
                "{sid} trusts {COGNITO_IDENTITY} for unauthenticated (guest) identities without \
                 a {aud_key} condition: a guest of any identity pool could assume this role \
                 (confused deputy); add StringEquals {aud_key} = <your pool id>"
            ));
        } else if !has_aud {
            out.push(format!(
                "{sid} trusts {COGNITO_IDENTITY} without a {aud_key} condition: identities of \
                 any pool could assume this role, and Sekisho refuses such trust at assume time, \
                 as AWS does"
            ));
        }
    }
    out
}

/// Whether every statement allowing the identity-pool principal conditions `:aud` (AWS refuses
/// to let identity-pool identities assume a role whose trust does not).
#[must_use]
pub fn pool_trust_has_aud(p: &Policy) -> bool {
    let aud_key = format!("{COGNITO_IDENTITY}:aud");
    p.inner.statements.iter().all(|st| {
        let names_pools =
            st.effect == StatementEffect::Allow
                && st.principal.as_ref().is_some_and(|pb| {
                    !pb.not
                        && pb.groups.iter().flat_map(|(_, _, es)| es).any(
                            |e| matches!(e, PrincipalEntry::Federated(f) if f == COGNITO_IDENTITY),
                        )
                });
        !names_pools || st.conditions.iter().any(|c| c.key_lc == aud_key)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;
    use crate::policy::{PolicyKind, parse};

    fn trust(cond: &str) -> Policy {
        parse(
            &format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow",
                "Principal":{{"Federated":"cognito-identity.amazonaws.com"}},
                "Action":"sts:AssumeRoleWithWebIdentity","Condition":{{{cond}}}}}]}}"#
            ),
            PolicyKind::Trust,
        )
        .unwrap()
    }

    #[test]
    fn guest_trust_without_aud_is_flagged() {
        let guest = trust(
            r#""ForAnyValue:StringLike":{"cognito-identity.amazonaws.com:amr":"unauthenticated"}"#,
        );
        let w = trust_warnings(&guest);
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("guest"), "{w:?}");
        assert!(!pool_trust_has_aud(&guest));
        let any = trust(r#""StringLike":{"cognito-identity.amazonaws.com:sub":"*"}"#);
        assert!(trust_warnings(&any)[0].contains("guest"));
        let authed = trust(
            r#""ForAnyValue:StringLike":{"cognito-identity.amazonaws.com:amr":"authenticated"}"#,
        );
        let w = trust_warnings(&authed);
        assert_eq!(w.len(), 1);
        assert!(!w[0].contains("guest"), "{w:?}");
    }

    #[test]
    fn trust_with_aud_is_clean() {
        let ok = trust(
            r#""StringEquals":{"cognito-identity.amazonaws.com:aud":"us-east-1:ab"},
            "ForAnyValue:StringLike":{"cognito-identity.amazonaws.com:amr":"unauthenticated"}"#,
        );
        assert!(trust_warnings(&ok).is_empty());
        assert!(pool_trust_has_aud(&ok));
        let other = parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
            "Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"sts:AssumeRole"}]}"#,
            PolicyKind::Trust,
        )
        .unwrap();
        assert!(trust_warnings(&other).is_empty());
        assert!(pool_trust_has_aud(&other));
    }
}
