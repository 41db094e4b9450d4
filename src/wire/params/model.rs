//! The `BTreeMap` implementation [`super::Params`] had before round 5, kept (tests only) as the
//! model the sorted vector is checked against: same answers, same errors, same order.
#![allow(
    dead_code,
    reason = "a model: not every method is exercised by every test"
)]

use std::collections::BTreeMap;

use super::{MAX_PARAMS, bad_member, check_contiguous, lower_camel, parse_index};
use crate::error::{ApiError, Code};

/// The model.
#[derive(Debug, Clone, Default)]
pub(super) struct Model {
    map: BTreeMap<String, Entry>,
}

/// One parameter's value, and whether the action read it.
#[derive(Debug, Clone, Default)]
struct Entry {
    value: String,
    used: bool,
}

impl Entry {
    fn new(value: String) -> Self {
        Self { value, used: false }
    }
}

/// Parameter names that belong to SigV4 presigning, not to the action.
fn is_auth_param(name: &str) -> bool {
    name.len() > 6
        && name
            .get(..6)
            .is_some_and(|p| p.eq_ignore_ascii_case("x-amz-"))
}

impl Model {
    /// Decodes `application/x-www-form-urlencoded` text (a body or a query string), merging into
    /// `self`. SigV4 presign parameters are skipped. Duplicates are refused.
    pub(super) fn add_urlencoded(&mut self, raw: &[u8]) -> Result<(), ApiError> {
        for (k, v) in form_urlencoded::parse(raw) {
            if is_auth_param(&k) {
                continue;
            }
            if self.map.len() >= MAX_PARAMS {
                return Err(ApiError::new(
                    Code::MalformedQueryString,
                    "Too many parameters",
                ));
            }
            // One search of the map for the check and the insert.
            match self.map.entry(k.into_owned()) {
                std::collections::btree_map::Entry::Occupied(e) => {
                    return Err(ApiError::new(
                        Code::MalformedQueryString,
                        format!("Parameter {} is given more than once", e.key()),
                    ));
                }
                std::collections::btree_map::Entry::Vacant(e) => {
                    e.insert(Entry::new(v.into_owned()));
                }
            }
        }
        Ok(())
    }

    /// Builds parameters from pairs (tests, internal calls).
    #[must_use]
    pub(super) fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let map = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), Entry::new(v.into())))
            .collect();
        Self { map }
    }

    /// A parameter without marking it read (dispatch peeks at `Action` and `Version`).
    #[must_use]
    pub(super) fn peek(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(|e| e.value.as_str())
    }

    /// An optional parameter.
    pub(super) fn opt(&mut self, name: &str) -> Option<String> {
        let e = self.map.get_mut(name)?;
        e.used = true;
        Some(e.value.clone())
    }

    /// A required parameter (`ValidationError … Member must not be null`).
    pub(super) fn req(&mut self, name: &str) -> Result<String, ApiError> {
        self.opt(name).ok_or_else(|| {
            ApiError::validation(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: \
                 Member must not be null",
                lower_camel(name)
            ))
        })
    }

    /// An optional integer.
    pub(super) fn opt_i64(&mut self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.opt(name) {
            None => Ok(None),
            Some(v) => v.trim().parse::<i64>().map(Some).map_err(|_| {
                ApiError::new(
                    Code::InvalidParameterValue,
                    format!("Value ({v}) for parameter {name} is invalid. Expected an integer."),
                )
            }),
        }
    }

    /// An optional boolean (`true`/`false`).
    pub(super) fn opt_bool(&mut self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.opt(name).as_deref() {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(v) => Err(ApiError::new(
                Code::InvalidParameterValue,
                format!("Value ({v}) for parameter {name} is invalid. Expected true or false."),
            )),
        }
    }

    /// A list sent as `Name.member.1`, `Name.member.2`, … (an empty list is sent as `Name=`).
    pub(super) fn list(&mut self, name: &str) -> Result<Vec<String>, ApiError> {
        let entries = self.members(name, "")?;
        Ok(entries.into_iter().map(|(_, v)| v).collect())
    }

    /// A list that may be given empty: `Some` when the request names it at all — as members, or
    /// as the bare `Name=` that botocore and the CLI send for `[]` — and `None` when it is absent.
    pub(super) fn list_given(&mut self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
        let bare = self.map.get(name).map(|e| e.value.clone());
        let members = self.list(name)?;
        match bare {
            Some(v) if !v.is_empty() => Err(ApiError::validation(format!(
                "1 validation error detected: Value at '{}' failed to satisfy constraint: \
                 Member must be a list",
                lower_camel(name)
            ))),
            Some(_) => Ok(Some(members)),
            None if members.is_empty() => Ok(None),
            None => Ok(Some(members)),
        }
    }

    /// A list of structures: returns, per index, the map of field → value for fields given in
    /// `fields` (e.g. `Tags.member.N.Key`).
    pub(super) fn struct_list(
        &mut self,
        name: &str,
        fields: &[&str],
    ) -> Result<Vec<BTreeMap<String, String>>, ApiError> {
        let prefix = self.mark_list(name);
        let mut by_index: BTreeMap<usize, BTreeMap<String, String>> = BTreeMap::new();
        for (k, e) in self.members_mut(&prefix) {
            let rest = k.get(prefix.len()..).unwrap_or_default();
            let (idx, field) = rest.split_once('.').ok_or_else(|| bad_member(k))?;
            let idx = parse_index(idx).ok_or_else(|| bad_member(k))?;
            if !fields.contains(&field) {
                return Err(bad_member(k));
            }
            e.used = true;
            by_index
                .entry(idx)
                .or_default()
                .insert(field.to_owned(), e.value.clone());
        }
        check_contiguous(name, by_index.keys().copied())?;
        Ok(by_index.into_values().collect())
    }

    fn members(&mut self, name: &str, _suffix: &str) -> Result<Vec<(usize, String)>, ApiError> {
        let prefix = self.mark_list(name);
        let mut out = BTreeMap::new();
        for (k, e) in self.members_mut(&prefix) {
            let idx = k
                .get(prefix.len()..)
                .and_then(parse_index)
                .ok_or_else(|| bad_member(k))?;
            e.used = true;
            out.insert(idx, e.value.clone());
        }
        check_contiguous(name, out.keys().copied())?;
        Ok(out.into_iter().collect())
    }

    /// Refuses parameters that the action did not read.
    pub(super) fn finish(&self) -> Result<(), ApiError> {
        for (k, e) in &self.map {
            if k == "Action" || k == "Version" || e.used {
                continue;
            }
            return Err(ApiError::new(
                Code::InvalidParameterValue,
                format!("The parameter {k} is not recognized for this action"),
            ));
        }
        Ok(())
    }

    /// Every parameter name and value (audit builds `requestParameters` from it, redacting).
    pub(super) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map.iter().map(|(k, e)| (k.as_str(), e.value.as_str()))
    }

    /// Marks a list's bare name read (`Name=`, an empty list) and returns its members' prefix.
    fn mark_list(&mut self, name: &str) -> String {
        if let Some(e) = self.map.get_mut(name) {
            e.used = true;
        }
        let mut prefix = String::with_capacity(name.len() + 8);
        prefix.push_str(name);
        prefix.push_str(".member.");
        prefix
    }

    /// The parameters whose names start with `prefix` (contiguous in the sorted map).
    fn members_mut<'a>(
        &'a mut self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a mut Entry)> + 'a {
        use std::ops::Bound;
        self.map
            .range_mut::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(move |(k, _)| k.starts_with(prefix))
    }
}
