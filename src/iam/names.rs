//! IAM name, path and ARN rules, with AWS's error wording.

use crate::error::{ApiError, Code};
use crate::wire::params::{check_chars, check_len, is_name_char};

/// Checks a user/role/group/policy name: `[\w+=,.@-]+`, 1..=max.
pub fn check_name(param: &str, value: &str, max: usize) -> Result<(), ApiError> {
    check_len(param, value, 1, max)?;
    check_chars(param, value, "[\\w+=,.@-]+", is_name_char)
}

/// Checks a path: `/` or `/…/` with printable ASCII, at most 512.
pub fn check_path(param: &str, value: &str) -> Result<(), ApiError> {
    check_len(param, value, 1, 512)?;
    let ok = value == "/"
        || (value.len() >= 2
            && value.starts_with('/')
            && value.ends_with('/')
            && value.chars().all(|c| ('\u{21}'..='\u{7e}').contains(&c)));
    if ok {
        Ok(())
    } else {
        Err(ApiError::validation(format!(
            "1 validation error detected: Value '{value}' at '{}' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: \
             (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)",
            crate::wire::params::lower_camel(param)
        )))
    }
}

/// An ARN split in its six parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn<'a> {
    /// `aws`.
    pub partition: &'a str,
    /// `iam`, `sts`.
    pub service: &'a str,
    /// Region (empty for IAM).
    pub region: &'a str,
    /// Account id (or `aws`).
    pub account: &'a str,
    /// Everything after the fifth colon.
    pub resource: &'a str,
}

/// Parses `arn:partition:service:region:account:resource`.
///
/// Split at the first five colons by byte search (a colon is ASCII, so every cut is a character
/// boundary): this runs several times per `AssumeRole`, and `str::splitn`'s character searcher
/// was most of its cost.
#[must_use]
pub fn parse_arn(s: &str) -> Option<Arn<'_>> {
    let rest = s.strip_prefix("arn:")?;
    let (partition, rest) = split_colon(rest)?;
    let (service, rest) = split_colon(rest)?;
    let (region, rest) = split_colon(rest)?;
    let (account, resource) = split_colon(rest)?;
    if partition.is_empty() || service.is_empty() || resource.is_empty() {
        return None;
    }
    Some(Arn {
        partition,
        service,
        region,
        account,
        resource,
    })
}

/// `s` cut at its first colon: (before, after), the colon in neither.
fn split_colon(s: &str) -> Option<(&str, &str)> {
    let i = s.bytes().position(|b| b == b':')?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

/// Parses an IAM entity ARN `arn:P:iam::A:KIND/path/NAME` into (account, path, name), all
/// borrowed from `s`: the path (`/` or `/a/b/`) is the text between the kind and the name,
/// both slashes included.
#[must_use]
pub fn parse_entity_arn<'a>(s: &'a str, kind: &str) -> Option<(&'a str, &'a str, &'a str)> {
    let arn = parse_arn(s)?;
    if arn.service != "iam" || !arn.region.is_empty() {
        return None;
    }
    // `/path/NAME`: the path runs from this slash to the last one.
    let slashed = arn.resource.strip_prefix(kind)?;
    if !slashed.starts_with('/') {
        return None;
    }
    let last = slashed.bytes().rposition(|b| b == b'/')?;
    let (path, name) = (slashed.get(..=last)?, slashed.get(last + 1..)?);
    if name.is_empty() {
        return None;
    }
    Some((arn.account, path, name))
}

/// An IAM entity ARN (`arn:P:iam::A:KIND/path/NAME`), parsed where the request is decoded so a
/// malformed one gets AWS's `ValidationError` rather than the answer a missing entity gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityArn {
    /// The ARN as given.
    pub text: String,
    /// The 12-digit account.
    pub account: String,
    /// The path, `/` or `/a/b/`.
    pub path: String,
    /// The entity's name.
    pub name: String,
}

impl EntityArn {
    /// Parses `text` as an ARN of an entity of `kind` (`role`, `user`, `saml-provider`, …) in a
    /// 12-digit account, with a name of IAM's name characters.
    ///
    /// # Errors
    /// `ValidationError` with AWS's wording (`Request ARN is invalid`).
    pub fn parse(param: &str, text: &str, kind: &str) -> Result<Self, ApiError> {
        Self::parse_with_max(param, text, kind, 128)
    }

    /// [`EntityArn::parse`] for a kind whose names may be up to `max_name` characters long
    /// (virtual MFA devices: 226).
    ///
    /// # Errors
    /// `ValidationError` with AWS's wording (`Request ARN is invalid`).
    pub fn parse_with_max(
        param: &str,
        text: &str,
        kind: &str,
        max_name: usize,
    ) -> Result<Self, ApiError> {
        let (account, path, name) = checked(param, text, kind, max_name)?;
        Ok(Self {
            text: text.to_owned(),
            account: account.to_owned(),
            path: path.to_owned(),
            name: name.to_owned(),
        })
    }

    /// Checks `text` as [`EntityArn::parse`] does, for a caller that needs only the text (no
    /// copies of its parts are made).
    ///
    /// # Errors
    /// `ValidationError` with AWS's wording (`Request ARN is invalid`).
    pub fn check(param: &str, text: &str, kind: &str) -> Result<(), ApiError> {
        checked(param, text, kind, 128).map(|_| ())
    }
}

/// An entity ARN's (account, path, name), checked: 20–2048 characters, a 12-digit account, a
/// name of at most `max_name` IAM name characters.
fn checked<'a>(
    param: &str,
    text: &'a str,
    kind: &str,
    max_name: usize,
) -> Result<(&'a str, &'a str, &'a str), ApiError> {
    check_len(param, text, 20, 2048)?;
    let invalid = || {
        ApiError::validation("Request ARN is invalid").with_detail(format!(
            "{param} is not an IAM {kind} ARN of a 12-digit account"
        ))
    };
    let (account, path, name) = parse_entity_arn(text, kind).ok_or_else(invalid)?;
    let name_ok = name.len() <= max_name && name.chars().all(is_name_char);
    if !crate::ids::is_valid_account_id(account) || !name_ok {
        return Err(invalid());
    }
    Ok((account, path, name))
}

/// Parses `arn:P:iam::A:oidc-provider/host[:port][/path]` into (account, name): the name is
/// everything after the kind, slashes included (`oidc.eks.<region>.amazonaws.com/id/<ID>`).
#[must_use]
pub fn parse_oidc_provider_arn(s: &str) -> Option<(&str, &str)> {
    let arn = parse_arn(s)?;
    if arn.service != "iam" || !arn.region.is_empty() {
        return None;
    }
    let name = arn.resource.strip_prefix("oidc-provider/")?;
    let host = name.split('/').next().unwrap_or_default();
    let ok = !host.is_empty()
        && name.len() <= 255
        && !name.contains("//")
        && name
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '?' | '#' | '*'));
    (crate::ids::is_valid_account_id(arn.account) && ok).then_some((arn.account, name))
}

/// Parses `arn:P:iam::A:saml-provider/NAME` into (account, name); NAME is 1–128 of `[\w._-]`.
#[must_use]
pub fn parse_saml_provider_arn(s: &str) -> Option<(&str, &str)> {
    let arn = parse_arn(s)?;
    if arn.service != "iam" || !arn.region.is_empty() {
        return None;
    }
    let name = arn.resource.strip_prefix("saml-provider/")?;
    (crate::ids::is_valid_account_id(arn.account) && is_saml_provider_name(name))
        .then_some((arn.account, name))
}

/// A SAML provider name: 1–128 of `[\w._-]`.
#[must_use]
pub fn is_saml_provider_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// `arn:P:iam::A:KIND{path}NAME`.
#[must_use]
pub fn entity_arn(partition: &str, account: &str, kind: &str, path: &str, name: &str) -> String {
    format!("arn:{partition}:iam::{account}:{kind}{path}{name}")
}

/// A `NoSuchEntity` error.
#[must_use]
pub fn no_such(what: &str, name: &str) -> ApiError {
    ApiError::new(
        Code::NoSuchEntity,
        format!("The {what} with name {name} cannot be found."),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn arns() {
        let (a, p, n) = parse_entity_arn("arn:aws:iam::123456789012:role/a/b/R", "role").unwrap();
        assert_eq!((a, p, n), ("123456789012", "/a/b/", "R"));
        let (_, p, n) = parse_entity_arn("arn:aws:iam::123456789012:user/alice", "user").unwrap();
        assert_eq!((p, n), ("/", "alice"));
        assert!(parse_entity_arn("arn:aws:iam::123456789012:user/alice", "role").is_none());
        assert!(parse_entity_arn("arn:aws:sts::123456789012:role/x", "role").is_none());
        assert!(parse_arn("not-an-arn").is_none());
        assert_eq!(
            entity_arn("aws", "1", "role", "/a/", "R"),
            "arn:aws:iam::1:role/a/R"
        );
    }

    /// The byte-search parsers answer exactly as the `splitn`/`format!` forms they replaced, on
    /// every string built from ARN-ish pieces (colons, slashes, empty parts, other kinds).
    #[test]
    fn arn_parsers_match_the_reference_forms() {
        fn reference_arn(s: &str) -> Option<[&str; 5]> {
            let mut it = s.splitn(6, ':');
            if it.next()? != "arn" {
                return None;
            }
            let parts = [it.next()?, it.next()?, it.next()?, it.next()?, it.next()?];
            let [p, svc, _, _, res] = parts;
            (!p.is_empty() && !svc.is_empty() && !res.is_empty()).then_some(parts)
        }
        fn reference_entity(s: &str, kind: &str) -> Option<(String, String, String)> {
            let [_, svc, region, account, resource] = reference_arn(s)?;
            if svc != "iam" || !region.is_empty() {
                return None;
            }
            let rest = resource.strip_prefix(kind)?.strip_prefix('/')?;
            let (path, name) = match rest.rfind('/') {
                Some(i) => (format!("/{}/", rest.get(..i)?), rest.get(i + 1..)?),
                None => ("/".to_owned(), rest),
            };
            (!name.is_empty()).then(|| (account.to_owned(), path, name.to_owned()))
        }
        let heads = [
            "arn:aws:iam::123456789012:",
            "arn:aws:iam:us-east-1:1:",
            "arn::iam::1:",
            "arn:aws:sts::1:",
            "arn:aws::",
            "arn:aws:iam:",
            "arn",
            "arn:",
            "",
            "xarn:aws:iam::1:",
        ];
        let tails = [
            "role/R",
            "role/a/b/R",
            "role//R",
            "role/",
            "role",
            "roles/R",
            "user/u",
            "role/a:b/R",
            "role/R/",
            "role/é/ü",
            "",
            ":",
            "role/a/b/c/d/e",
        ];
        for h in heads {
            for t in tails {
                let s = format!("{h}{t}");
                let got = parse_arn(&s)
                    .map(|a| [a.partition, a.service, a.region, a.account, a.resource]);
                assert_eq!(got, reference_arn(&s), "{s}");
                for kind in ["role", "user"] {
                    let got = parse_entity_arn(&s, kind)
                        .map(|(a, p, n)| (a.to_owned(), p.to_owned(), n.to_owned()));
                    assert_eq!(got, reference_entity(&s, kind), "{s} as {kind}");
                }
            }
        }
    }

    #[test]
    fn oidc_provider_arns_keep_their_slashes() {
        let (a, n) = parse_oidc_provider_arn(
            "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC",
        )
        .unwrap();
        assert_eq!(a, "123456789012");
        assert_eq!(n, "oidc.eks.us-east-1.amazonaws.com/id/ABC");
        let (_, n) =
            parse_oidc_provider_arn("arn:aws:iam::123456789012:oidc-provider/127.0.0.1:8080/gh")
                .unwrap();
        assert_eq!(n, "127.0.0.1:8080/gh");
        for bad in [
            "arn:aws:iam::123456789012:oidc-provider/",
            "arn:aws:iam::123456789012:oidc-provider//x",
            "arn:aws:iam::123456789012:saml-provider/x",
            "arn:aws:iam::12345:oidc-provider/x",
            "arn:aws:iam::123456789012:oidc-provider/a b",
        ] {
            assert!(parse_oidc_provider_arn(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn entity_arns_are_checked_at_the_edge() {
        let r = EntityArn::parse(
            "RoleArn",
            "arn:aws:iam::123456789012:role/ops/deployer",
            "role",
        )
        .unwrap();
        assert_eq!(
            (r.account.as_str(), r.path.as_str()),
            ("123456789012", "/ops/")
        );
        assert_eq!(r.name, "deployer");
        for bad in [
            "arn:aws:iam:123456789012:role/deployer",
            "arn:aws:iam::12345:role/deployer",
            "arn:aws:iam::123456789012:user/deployer",
            "arn:aws:sts::123456789012:role/deployer",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role/bad name",
            "not an arn at all, but long",
        ] {
            let e = EntityArn::parse("RoleArn", bad, "role").unwrap_err();
            assert_eq!(e.code, Code::ValidationError, "{bad}");
            // The check without copies refuses the same, with the same message and detail.
            let c = EntityArn::check("RoleArn", bad, "role").unwrap_err();
            assert_eq!(
                (c.code, c.message, c.detail),
                (e.code, e.message, e.detail),
                "{bad}"
            );
        }
        assert!(
            EntityArn::check("RoleArn", "arn:aws:iam::123456789012:role/ops/d", "role").is_ok()
        );
        let long = format!("arn:aws:iam::123456789012:role/{}", "n".repeat(129));
        assert!(EntityArn::check("RoleArn", &long, "role").is_err());
        assert!(EntityArn::check("RoleArn", "arn:aws:iam::1:role/r", "role").is_err());
    }

    #[test]
    fn names_and_paths() {
        assert!(check_name("UserName", "alice+x@y.z", 64).is_ok());
        assert!(check_name("UserName", "bad name", 64).is_err());
        assert!(check_name("UserName", "", 64).is_err());
        assert!(check_path("Path", "/").is_ok());
        assert!(check_path("Path", "/a/b/").is_ok());
        assert!(check_path("Path", "/a").is_err());
        assert!(check_path("Path", "a/").is_err());
    }
}
