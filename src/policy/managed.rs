//! Loading the AWS managed policy collection (`managed-policies.json`).

use std::path::Path;

use serde::Deserialize;

/// One AWS managed policy (its default version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedPolicyDoc {
    /// Policy name.
    pub name: String,
    /// Policy ARN (derived from path and name when the collection lacks it).
    pub arn: String,
    /// IAM path (`/`, `/service-role/`, …).
    pub path: String,
    /// Default version id (`v3`).
    pub default_version: String,
    /// Creation date (ISO-8601).
    pub create_date: String,
    /// Last update date (ISO-8601).
    pub update_date: String,
    /// The policy document as compact JSON.
    pub document_json: String,
    /// Description, when known.
    pub description: Option<String>,
}

#[derive(Deserialize)]
struct RawFile {
    policies: Vec<RawPolicy>,
}

#[derive(Deserialize)]
struct RawPolicy {
    name: String,
    arn: Option<String>,
    path: Option<String>,
    default_version: Option<String>,
    create_date: Option<String>,
    update_date: Option<String>,
    document: serde_json::Value,
    description: Option<String>,
}

/// Reads `managed-policies.json`.
///
/// # Errors
/// I/O or format errors, as text.
pub fn load_managed(path: &Path) -> Result<Vec<ManagedPolicyDoc>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let raw: RawFile = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(raw
        .policies
        .into_iter()
        .map(|p| {
            let path = p.path.unwrap_or_else(|| "/".to_owned());
            ManagedPolicyDoc {
                arn: p.arn.unwrap_or_else(|| format!("arn:aws:iam::aws:policy{path}{}", p.name)),
                name: p.name,
                path,
                default_version: p.default_version.unwrap_or_else(|| "v1".to_owned()),
                create_date: p.create_date.unwrap_or_default(),
                update_date: p.update_date.unwrap_or_default(),
                document_json: p.document.to_string(),
                description: p.description,
            }
        })
        .collect())
}
