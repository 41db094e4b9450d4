//! Inputs shared by the actions that create sessions: session policies (inline and ARNs), session
//! tags and transitive keys, source identity — parsed and checked with AWS's rules and messages.

use std::sync::Arc;

use crate::error::{ApiError, Code};
use crate::iam::Iam;
use crate::policy::{Policy, PolicyKind};
use crate::wire::Params;
use crate::wire::params::{check_chars, check_len, is_name_char};

/// Session policies as passed.
#[derive(Debug, Clone, Default)]
pub struct SessionPolicies {
    /// The inline policy text.
    pub inline: Option<String>,
    /// Managed policy ARNs.
    pub arns: Vec<String>,
}

/// Reads `Policy` and `PolicyArns.member.N.arn`. `inline_max` is the plaintext limit.
pub fn read_policies(
    p: &mut Params,
    inline_max: Option<usize>,
) -> Result<SessionPolicies, ApiError> {
    let inline = p.opt("Policy");
    let arns: Vec<String> = p
        .struct_list("PolicyArns", &["arn"])?
        .into_iter()
        .map(|m| m.get("arn").cloned().unwrap_or_default())
        .collect();
    if let Some(text) = &inline {
        check_len("Policy", text, 1, inline_max.unwrap_or(usize::MAX))?;
        check_chars(
            "Policy",
            text,
            "[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+",
            |c| matches!(c, '\t' | '\n' | '\r') || ('\u{20}'..='\u{ff}').contains(&c),
        )?;
    }
    if arns.len() > 10 {
        return Err(ApiError::validation(
            "1 validation error detected: Value at 'policyArns' failed to satisfy constraint: \
             Member must have length less than or equal to 10",
        ));
    }
    for a in &arns {
        check_len("PolicyArns.member.arn", a, 20, 2048)?;
    }
    Ok(SessionPolicies { inline, arns })
}

/// Checks session policies: the inline one parses as a session policy, each ARN names an
/// existing managed policy of `account` (the role's, or the caller's for GetFederationToken) or
/// an AWS managed policy. Policies of other accounts get the same answer as missing ones, before
/// any lookup, so the check reveals nothing about other accounts. Returns the parsed inline
/// policy.
pub async fn check_policies(
    iam: &Iam,
    sp: &SessionPolicies,
    account: &str,
) -> Result<Option<Arc<Policy>>, ApiError> {
    for arn in &sp.arns {
        let reachable =
            policy_of(arn, &iam.partition, account) || policy_of(arn, &iam.partition, "aws");
        if !reachable || iam.managed_policy(arn).await?.is_none() {
            return Err(ApiError::validation(format!(
                "Policy {arn} does not exist or is not attachable."
            )));
        }
    }
    match &sp.inline {
        None => Ok(None),
        Some(text) => iam
            .policies
            .get_or_parse(text, PolicyKind::Session)
            .map(Some)
            .map_err(|e| {
                // A session policy too large for the packed budget is AWS's PackedPolicyTooLarge
                // (checked after this); one that does not parse is MalformedPolicyDocument.
                ApiError::new(Code::MalformedPolicyDocument, e.to_string())
            }),
    }
}

/// Whether `arn` starts `arn:P:iam::OWNER:policy/` (read in place: no prefix is built).
fn policy_of(arn: &str, partition: &str, owner: &str) -> bool {
    arn.strip_prefix("arn:")
        .and_then(|r| r.strip_prefix(partition))
        .and_then(|r| r.strip_prefix(":iam::"))
        .and_then(|r| r.strip_prefix(owner))
        .is_some_and(|r| r.starts_with(":policy/"))
}

/// Tag key characters: `[\p{L}\p{Z}\p{N}_.:/=+\-@]`.
fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric()
        || c.is_whitespace()
        || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
}

/// Reads `Tags.member.N.Key/Value` (≤ 50, keys unique case-insensitively).
pub fn read_tags(p: &mut Params) -> Result<Vec<(String, String)>, ApiError> {
    let raw = p.struct_list("Tags", &["Key", "Value"])?;
    if raw.len() > 50 {
        return Err(ApiError::validation(
            "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member \
             must have length less than or equal to 50",
        ));
    }
    let mut out: Vec<(String, String)> = Vec::with_capacity(raw.len());
    for m in raw {
        let k = m.get("Key").cloned().ok_or_else(|| {
            ApiError::validation(
                "1 validation error detected: Value null at 'tags.member.key' \
                failed to satisfy constraint: Member must not be null",
            )
        })?;
        let v = m.get("Value").cloned().unwrap_or_default();
        check_len("Tags.member.Key", &k, 1, 128)?;
        check_chars(
            "Tags.member.Key",
            &k,
            "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+",
            is_tag_char,
        )?;
        check_len("Tags.member.Value", &v, 0, 256)?;
        check_chars(
            "Tags.member.Value",
            &v,
            "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*",
            |c| is_tag_char(c) || c == '*',
        )?;
        if out.iter().any(|(x, _)| x.eq_ignore_ascii_case(&k)) {
            return Err(ApiError::new(
                Code::InvalidParameterValue,
                format!(
                    "Duplicate tag keys found. Please note that Tag keys are case insensitive. ({k})"
                ),
            ));
        }
        out.push((k, v));
    }
    Ok(out)
}

/// Reads `TransitiveTagKeys.member.N` (≤ 50; each must be among the passed tags).
pub fn read_transitive(p: &mut Params, tags: &[(String, String)]) -> Result<Vec<String>, ApiError> {
    let keys = p.list("TransitiveTagKeys")?;
    if keys.len() > 50 {
        return Err(ApiError::validation(
            "1 validation error detected: Value at 'transitiveTagKeys' failed to satisfy \
             constraint: Member must have length less than or equal to 50",
        ));
    }
    for k in &keys {
        check_len("TransitiveTagKeys.member", k, 1, 128)?;
        if !tags.iter().any(|(t, _)| t.eq_ignore_ascii_case(k)) {
            return Err(ApiError::new(
                Code::InvalidParameterValue,
                format!("The transitive tag key {k} is not among the session tags passed."),
            ));
        }
    }
    Ok(keys)
}

/// Checks a `SourceIdentity`: 2–64, `[\w+=,.@-]*`, not starting with `aws:`.
pub fn check_source_identity(s: &str) -> Result<(), ApiError> {
    check_len("SourceIdentity", s, 2, 64)?;
    check_chars("SourceIdentity", s, "[\\w+=,.@-]*", is_name_char)?;
    if s.to_ascii_lowercase().starts_with("aws:") {
        return Err(ApiError::validation(
            "SourceIdentity must not start with 'aws:'",
        ));
    }
    Ok(())
}

/// Checks a `RoleSessionName` or federated `Name`.
pub fn check_session_name(param: &str, s: &str, max: usize) -> Result<(), ApiError> {
    check_len(param, s, 2, max)?;
    check_chars(param, s, "[\\w+=,.@-]*", is_name_char)
}

/// The PackedPolicySize percentage, refusing more than 100 %.
pub fn packed_size(sp: &SessionPolicies, tags: &[(String, String)]) -> Result<u32, ApiError> {
    let pct = crate::token::packed_size_percent(sp.inline.as_deref(), &sp.arns, tags);
    if pct > 100 {
        return Err(ApiError::new(
            Code::PackedPolicyTooLarge,
            format!("Packed policy consumes {pct}% of allotted space, please use smaller policy."),
        ));
    }
    Ok(pct)
}

/// The actions a role session request must be allowed (by the trust policy, and by a signed
/// caller's own policies): `first` (`sts:AssumeRole`, `sts:AssumeRoleWithSAML`, …), plus
/// `sts:TagSession` when the session gets tags and `sts:SetSourceIdentity` when it gets a source
/// identity.
#[must_use]
pub fn needed_actions(
    first: &'static str,
    claims: &crate::token::SessionClaims,
) -> Vec<&'static str> {
    needed(first, claims).to_vec()
}

/// [`needed_actions`] without a list built for them: the actions, in order, as a slice
/// ([`Needed`] derefs to one).
#[must_use]
pub fn needed(first: &'static str, claims: &crate::token::SessionClaims) -> Needed {
    let tag = (!claims.tags.is_empty()).then_some("sts:TagSession");
    let source = claims
        .source_identity
        .is_some()
        .then_some("sts:SetSourceIdentity");
    let mut out = Needed {
        actions: [first; 3],
        len: 1,
    };
    for a in [tag, source].into_iter().flatten() {
        if let Some(place) = out.actions.get_mut(out.len) {
            *place = a;
            out.len += 1;
        }
    }
    out
}

/// The (at most three) actions of [`needed`].
#[derive(Debug, Clone, Copy)]
pub struct Needed {
    actions: [&'static str; 3],
    len: usize,
}

impl std::ops::Deref for Needed {
    type Target = [&'static str];

    fn deref(&self) -> &[&'static str] {
        self.actions.get(..self.len).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::{needed, needed_actions, policy_of};
    use crate::token::{SessionClaims, SessionKind, SessionSubject};

    /// The actions needed, in order: the request's own, then tagging, then the source identity.
    #[test]
    fn needed_actions_follow_the_session() {
        let who = SessionSubject {
            account: "111111111111".into(),
            arn: "arn:aws:sts::111111111111:assumed-role/r/s".into(),
            principal_arn: "arn:aws:iam::111111111111:role/r".into(),
            principal_id: "AROAEXAMPLEEXAMPLE123".into(),
        };
        let plain = SessionClaims::new(SessionKind::AssumedRole, who, 1_800_000_000, 900);
        let tagged = plain
            .clone()
            .with_tags(vec![("k".into(), "v".into())], Vec::new());
        let sourced = plain.clone().with_source_identity(Some("alice".into()));
        let both = tagged.clone().with_source_identity(Some("alice".into()));
        let first = "sts:AssumeRole";
        for (c, want) in [
            (&plain, &[first][..]),
            (&tagged, &[first, "sts:TagSession"][..]),
            (&sourced, &[first, "sts:SetSourceIdentity"][..]),
            (
                &both,
                &[first, "sts:TagSession", "sts:SetSourceIdentity"][..],
            ),
        ] {
            assert_eq!(&*needed(first, c), want);
            assert_eq!(needed_actions(first, c), want);
        }
    }

    /// Session policy ARNs are reachable only in the role's account or AWS's, in the server's
    /// partition: the prefix read in place answers as `starts_with` of the built prefix did.
    #[test]
    fn policy_arns_are_matched_by_owner_and_partition() {
        let own = "arn:aws:iam::111111111111:policy/p";
        assert!(policy_of(own, "aws", "111111111111"));
        assert!(policy_of("arn:aws:iam::aws:policy/ReadOnly", "aws", "aws"));
        assert!(policy_of(
            "arn:aws:iam::111111111111:policy/a/b/p",
            "aws",
            "111111111111"
        ));
        for (arn, partition, owner) in [
            (own, "aws", "222222222222"),
            (own, "aws-cn", "111111111111"),
            (own, "aw", "111111111111"),
            (own, "aws", "11111111111"),
            ("arn:aws:iam::111111111111:role/p", "aws", "111111111111"),
            ("arn:aws:iam::1111111111112:policy/p", "aws", "111111111111"),
            ("arn:aws:sts::111111111111:policy/p", "aws", "111111111111"),
            ("xarn:aws:iam::111111111111:policy/p", "aws", "111111111111"),
        ] {
            let built = format!("arn:{partition}:iam::{owner}:policy/");
            assert_eq!(
                policy_of(arn, partition, owner),
                arn.starts_with(&built),
                "{arn}"
            );
            assert!(
                !policy_of(arn, partition, owner),
                "{arn} {partition} {owner}"
            );
        }
    }
}
