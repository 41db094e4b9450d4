//! Decoding of AWS Query parameters (form body or query string) into a checked map, and the
//! model-constraint checks with AWS's `ValidationError` wording.
//!
//! Names are case-sensitive. A parameter given twice is refused; parameters an action does not
//! read are refused by [`Params::finish`] (mini-redis `parse.finish()`), so typos surface.

use std::collections::BTreeMap;

use crate::error::{ApiError, Code};

/// The most parameters one request may carry.
pub const MAX_PARAMS: usize = 1000;

/// Decoded Query parameters.
#[derive(Debug, Clone, Default)]
pub struct Params {
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

impl Params {
    /// Decodes `application/x-www-form-urlencoded` text (a body or a query string), merging into
    /// `self`. SigV4 presign parameters are skipped. Duplicates are refused.
    pub fn add_urlencoded(&mut self, raw: &[u8]) -> Result<(), ApiError> {
        for pair in pairs(raw) {
            let (k, v) = decode_pair(pair);
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
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
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
    pub fn peek(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(|e| e.value.as_str())
    }

    /// An optional parameter.
    pub fn opt(&mut self, name: &str) -> Option<String> {
        let e = self.map.get_mut(name)?;
        e.used = true;
        Some(e.value.clone())
    }

    /// A required parameter (`ValidationError … Member must not be null`).
    pub fn req(&mut self, name: &str) -> Result<String, ApiError> {
        self.opt(name).ok_or_else(|| {
            ApiError::validation(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: \
                 Member must not be null",
                lower_camel(name)
            ))
        })
    }

    /// An optional integer.
    pub fn opt_i64(&mut self, name: &str) -> Result<Option<i64>, ApiError> {
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
    pub fn opt_bool(&mut self, name: &str) -> Result<Option<bool>, ApiError> {
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
    pub fn list(&mut self, name: &str) -> Result<Vec<String>, ApiError> {
        let entries = self.members(name, "")?;
        Ok(entries.into_iter().map(|(_, v)| v).collect())
    }

    /// A list that may be given empty: `Some` when the request names it at all — as members, or
    /// as the bare `Name=` that botocore and the CLI send for `[]` — and `None` when it is absent.
    pub fn list_given(&mut self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
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
    pub fn struct_list(
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
    pub fn finish(&self) -> Result<(), ApiError> {
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
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
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

/// One `name=value` pair, decoded exactly as `form_urlencoded` does (`+` is a space, `%XX` a
/// byte, invalid UTF-8 replaced). A part with neither `%` nor `+` — most of a signed request,
/// and all of a JWT — is only checked for UTF-8 (vectorised), not decoded byte by byte.
fn decode_pair(pair: &[u8]) -> (std::borrow::Cow<'_, str>, std::borrow::Cow<'_, str>) {
    let (name, value) = match memchr::memchr(b'=', pair) {
        Some(i) => (
            pair.get(..i).unwrap_or_default(),
            pair.get(i + 1..).unwrap_or_default(),
        ),
        None => (pair, &b""[..]),
    };
    (decode(name), decode(value))
}

/// `+` → space and `%XX` → the byte, then UTF-8 with replacement, as `form_urlencoded` decodes
/// a part (it replaces `+` first, so a `%2B` stays `+`); runs between the two are copied whole
/// (a SAML response is 10 KB of base64 whose `+`, `/` and `=` arrive percent-encoded).
fn decode(part: &[u8]) -> std::borrow::Cow<'_, str> {
    if !has_escapes(part) {
        return utf8(part);
    }
    let hex = |b: Option<&u8>| b.and_then(|b| char::from(*b).to_digit(16));
    let mut out = Vec::with_capacity(part.len());
    let mut rest = part;
    while let Some(i) = memchr::memchr2(b'%', b'+', rest) {
        out.extend_from_slice(rest.get(..i).unwrap_or_default());
        let step = if rest.get(i) == Some(&b'+') {
            out.push(b' ');
            1
        } else if let (Some(h), Some(l)) = (hex(rest.get(i + 1)), hex(rest.get(i + 2))) {
            // Two hex digits: at most 0xff.
            out.push(u8::try_from(h * 16 + l).unwrap_or(b'%'));
            3
        } else {
            out.push(b'%');
            1
        };
        rest = rest.get(i + step..).unwrap_or_default();
    }
    out.extend_from_slice(rest);
    match String::from_utf8(out) {
        Ok(s) => std::borrow::Cow::Owned(s),
        Err(e) => std::borrow::Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

/// `bytes` as text: the vectorised check first (`from_utf8_lossy` walks chunk by chunk even
/// when nothing needs replacing), the replacing one only for invalid UTF-8.
/// Whether a part holds a `%` or a `+`. Short parts (names, most values) are scanned plainly:
/// for them the vectorised search's set-up costs more than the scan.
fn has_escapes(part: &[u8]) -> bool {
    if part.len() <= 32 {
        part.iter().any(|&b| b == b'%' || b == b'+')
    } else {
        memchr::memchr2(b'%', b'+', part).is_some()
    }
}

fn utf8(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// The non-empty `&`-separated parts of `raw`.
fn pairs(raw: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = raw;
    std::iter::from_fn(move || {
        loop {
            if rest.is_empty() {
                return None;
            }
            let (part, next) = match memchr::memchr(b'&', rest) {
                Some(i) => (rest.get(..i)?, rest.get(i + 1..)?),
                None => (rest, &b""[..]),
            };
            rest = next;
            if !part.is_empty() {
                return Some(part);
            }
        }
    })
}

fn parse_index(s: &str) -> Option<usize> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<usize>().ok().filter(|n| *n >= 1)
}

fn bad_member(k: &str) -> ApiError {
    ApiError::new(
        Code::InvalidParameterValue,
        format!("Invalid list parameter {k}"),
    )
}

fn check_contiguous(name: &str, idx: impl Iterator<Item = usize>) -> Result<(), ApiError> {
    for (expect, got) in (1..).zip(idx) {
        if expect != got {
            return Err(ApiError::new(
                Code::InvalidParameterValue,
                format!("List parameter {name} skips member {expect}"),
            ));
        }
    }
    Ok(())
}

/// `RoleSessionName` → `roleSessionName`, as AWS names members in validation messages.
#[must_use]
pub fn lower_camel(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Checks a model length constraint (in characters).
pub fn check_len(name: &str, value: &str, min: usize, max: usize) -> Result<(), ApiError> {
    let n = value.chars().count();
    if (min..=max).contains(&n) {
        return Ok(());
    }
    let shown = redact_for_message(value);
    if n < min {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{shown}' at '{}' failed to satisfy constraint: \
             Member must have length greater than or equal to {min}",
            lower_camel(name)
        )));
    }
    if n > max {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{shown}' at '{}' failed to satisfy constraint: \
             Member must have length less than or equal to {max}",
            lower_camel(name)
        )));
    }
    Ok(())
}

/// Checks that every character satisfies `ok`, reporting AWS's pattern text.
pub fn check_chars(
    name: &str,
    value: &str,
    pattern: &str,
    ok: impl Fn(char) -> bool,
) -> Result<(), ApiError> {
    if value.chars().all(ok) {
        Ok(())
    } else {
        Err(ApiError::validation(format!(
            "1 validation error detected: Value '{}' at '{}' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: {pattern}",
            redact_for_message(value),
            lower_camel(name)
        )))
    }
}

/// Checks a numeric range constraint.
pub fn check_range(name: &str, value: i64, min: i64, max: i64) -> Result<(), ApiError> {
    if value < min {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{value}' at '{}' failed to satisfy constraint: \
             Member must have value greater than or equal to {min}",
            lower_camel(name)
        )));
    }
    if value > max {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{value}' at '{}' failed to satisfy constraint: \
             Member must have value less than or equal to {max}",
            lower_camel(name)
        )));
    }
    Ok(())
}

/// `[\w+=,.@-]`: the character class of session names, user names and friends.
#[must_use]
pub fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '-')
}

/// Values echoed in messages are cut short so a huge or hostile value is not reflected whole.
fn redact_for_message(v: &str) -> String {
    if v.chars().count() > 64 {
        let head: String = v.chars().take(64).collect();
        format!("{head}…")
    } else {
        v.to_owned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;

    #[test]
    fn escapes_are_found_in_short_and_long_parts() {
        for len in [0, 1, 31, 32, 33, 100] {
            let plain = vec![b'a'; len];
            assert!(!has_escapes(&plain), "{len}");
            for at in 0..len {
                for esc in [b'%', b'+'] {
                    let mut p = plain.clone();
                    p[at] = esc;
                    assert!(has_escapes(&p), "{len} {at} {esc}");
                }
            }
        }
    }

    #[test]
    fn decodes_and_refuses_duplicates() {
        let mut p = Params::default();
        p.add_urlencoded(b"Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Date=x")
            .unwrap();
        assert_eq!(p.peek("Action"), Some("GetCallerIdentity"));
        assert_eq!(p.peek("X-Amz-Date"), None);
        let e = p.add_urlencoded(b"Action=Other").unwrap_err();
        assert_eq!(e.code, Code::MalformedQueryString);
    }

    #[test]
    fn decoding_matches_form_urlencoded_on_every_shape() {
        // The fast path (no `%`, no `+`) and the general one must decode exactly as the
        // library does, pair for pair, on every shape a client (or an attacker) can send.
        let cases: &[&[u8]] = &[
            b"",
            b"&&&",
            b"a",
            b"a=",
            b"=b",
            b"=",
            b"a=b=c",
            b"a=1&&b=2&",
            b"RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fx&RoleSessionName=s",
            b"P=a+b%20c&Q=%zz&R=%4&S=%E2%82%AC&T=%FF%FE",
            b"k+x=v&k%2By=w",
            b"t=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln-_",
            b"u=\xff\xfe&v=caf\xc3\xa9",
            b"w=\xe2\x82&x=%",
            b"a=%2+&b=%+2&c=%%41&d=%4a%4A%4g&e=100%25&f=%2B%2F%3D+",
            b"g=%e2%82%ac&h=%e2%82&i=%c3%a9%c3&j=%00%7f%80%ff",
            b"%41%42=%43&+=+&%=%",
        ];
        for raw in cases {
            let want: Vec<(String, String)> = form_urlencoded::parse(raw)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let got: Vec<(String, String)> = pairs(raw)
                .map(|p| {
                    let (k, v) = decode_pair(p);
                    (k.into_owned(), v.into_owned())
                })
                .collect();
            assert_eq!(got, want, "{}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn decoding_matches_form_urlencoded_on_generated_input() {
        // 20,000 strings over the bytes that matter (separators, `%`, `+`, hex digits in both
        // cases, a non-hex letter, UTF-8 lead and continuation bytes, an invalid byte).
        const ALPHABET: &[u8] = b"&=%+0aAfFgz9\xc3\xa9\xe2\x82\xac\xff ";
        let mut seed: u64 = 0x05ec_1500;
        for _ in 0..20_000 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let len = (seed >> 59) as usize;
            let raw: Vec<u8> = (0..len)
                .map(|i| {
                    let r = seed.rotate_left(u32::try_from(i * 7).unwrap_or(0)) >> 58;
                    ALPHABET[usize::try_from(r).unwrap_or(0) % ALPHABET.len()]
                })
                .collect();
            let want: Vec<(String, String)> = form_urlencoded::parse(&raw)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let got: Vec<(String, String)> = pairs(&raw)
                .map(|p| {
                    let (k, v) = decode_pair(p);
                    (k.into_owned(), v.into_owned())
                })
                .collect();
            assert_eq!(got, want, "{raw:?}");
        }
    }

    #[test]
    fn lists_and_structs() {
        let mut p = Params::default();
        p.add_urlencoded(
            b"TransitiveTagKeys.member.2=b&TransitiveTagKeys.member.1=a&\
              Tags.member.1.Key=k&Tags.member.1.Value=v&Tags.member.2.Key=k2&Tags.member.2.Value=",
        )
        .unwrap();
        assert_eq!(p.list("TransitiveTagKeys").unwrap(), vec!["a", "b"]);
        let tags = p.struct_list("Tags", &["Key", "Value"]).unwrap();
        assert_eq!(tags.len(), 2);
        assert_eq!(tags[1].get("Key").unwrap(), "k2");
        assert_eq!(tags[1].get("Value").unwrap(), "");
        p.finish().unwrap();
    }

    #[test]
    fn empty_list_and_gaps() {
        let mut p = Params::default();
        p.add_urlencoded(b"PolicyArns=").unwrap();
        assert!(p.struct_list("PolicyArns", &["arn"]).unwrap().is_empty());
        p.finish().unwrap();
        let mut p = Params::default();
        p.add_urlencoded(b"X.member.1=a&X.member.3=c").unwrap();
        assert!(p.list("X").is_err());
        let mut p = Params::default();
        p.add_urlencoded(b"X.member.0=a").unwrap();
        assert!(p.list("X").is_err());
    }

    #[test]
    fn unknown_parameters_are_refused() {
        let mut p = Params::default();
        p.add_urlencoded(b"Action=A&Version=v&RoleArn=x&Bogus=1")
            .unwrap();
        let _ = p.opt("RoleArn");
        let e = p.finish().unwrap_err();
        assert!(e.message.contains("Bogus"));
    }

    #[test]
    fn validation_messages_match_aws() {
        let e = check_chars("RoleSessionName", "a b", "[\\w+=,.@-]*", is_name_char).unwrap_err();
        assert_eq!(
            e.message,
            "1 validation error detected: Value 'a b' at 'roleSessionName' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        );
        let e = check_len("RoleSessionName", &"x".repeat(65), 2, 64).unwrap_err();
        assert!(
            e.message
                .ends_with("Member must have length less than or equal to 64")
        );
        assert!(check_range("DurationSeconds", 899, 900, 43200).is_err());
        assert!(check_range("DurationSeconds", 900, 900, 43200).is_ok());
    }
}
