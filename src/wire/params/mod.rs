//! Decoding of AWS Query parameters (form body or query string) into a checked map, and the
//! model-constraint checks with AWS's `ValidationError` wording.
//!
//! Names are case-sensitive. A parameter given twice is refused; parameters an action does not
//! read are refused by [`Params::finish`] (mini-redis `parse.finish()`), so typos surface.
//!
//! A request carries a handful of parameters, so they are kept as a vector sorted by name over
//! one buffer of decoded text: decoding allocates twice per request rather than twice per
//! parameter, a lookup is a binary search, and a list that is not there (the usual case:
//! `PolicyArns`, `Tags`, … on most `AssumeRole`s) costs one search and nothing else.

mod checks;
mod decode;
#[cfg(test)]
mod model;
#[cfg(test)]
mod tests;

use std::cmp::Ordering;
use std::collections::BTreeMap;

pub use checks::{check_chars, check_len, check_range, is_name_char, lower_camel};
use decode::{Decoder, parts};

use crate::error::{ApiError, Code};

/// The most parameters one request may carry.
pub const MAX_PARAMS: usize = 1000;

/// Up to this many parameters, a lookup scans rather than searches.
const SCAN: usize = 16;

/// What follows a list's name in its members' names (`Name.member.N`).
const MEMBER: &str = ".member.";

/// Decoded Query parameters.
#[derive(Debug, Clone, Default)]
pub struct Params {
    /// Every decoded name and value, one after another, in the order they arrived.
    text: String,
    /// One per parameter, sorted by name; names are unique.
    entries: Vec<Entry>,
    /// Whether a name holds a `.` (no list has members otherwise).
    dotted: bool,
    /// A bit ([`seen_bit`]) for every name added: a name whose bit is clear is not there, so
    /// looking up one of the many optional parameters a request does not carry ends here.
    seen: u64,
}

/// Where a piece of [`Params::text`] is.
#[derive(Debug, Clone, Copy)]
pub(super) struct Span {
    start: usize,
    end: usize,
}

/// One parameter's name and value, whether the action read it, and when it arrived.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// The name's first eight bytes ([`key`]): most comparisons end on it.
    key: u64,
    name: Span,
    value: Span,
    used: bool,
    /// Arrival order (a name's start is not enough: empty names and values take no room).
    seq: usize,
}

/// The text of `span` in `text`.
#[inline]
fn at(text: &str, span: Span) -> &str {
    text.get(span.start..span.end).unwrap_or_default()
}

/// The first eight bytes of `bytes`, zero-padded, as a big-endian number: ordered as the texts
/// are (`key(a) < key(b)` implies `a < b`; equal keys say nothing), so comparing keys first and
/// the texts only on a tie orders exactly as comparing the texts.
#[inline]
fn key(bytes: &[u8]) -> u64 {
    let n = bytes.len();
    if let Some(head) = bytes.first_chunk::<8>() {
        return u64::from_be_bytes(*head);
    }
    // Shorter: two loads that may overlap, each put where its bytes go (an overlapped byte is
    // put twice in the same place), rather than a byte at a time.
    if let (Some(head), Some(tail)) = (bytes.first_chunk::<4>(), bytes.last_chunk::<4>()) {
        // 4 ≤ n < 8: the tail's first byte, `bytes[n - 4]`, goes 8 * (11 - n) bits up.
        return u64::from(u32::from_be_bytes(*head)) << 32
            | u64::from(u32::from_be_bytes(*tail)) << (8 * (8 - n));
    }
    // 0 ≤ n ≤ 3: the first, middle and last bytes are all of them.
    let at = |i: usize| u64::from(bytes.get(i).copied().unwrap_or_default()) << (8 * (7 - i));
    match n {
        0 => 0,
        _ => at(0) | at(n / 2) | at(n - 1),
    }
}

/// The bit of [`Params::seen`] a name of key `k` and length `len` sets.
#[inline]
fn seen_bit(k: u64, len: usize) -> u64 {
    // Fibonacci hashing: the product's top six bits.
    let h = (k ^ u64::try_from(len).unwrap_or_default()).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    1 << (h >> 58)
}

/// [`key`] of a text given as bytes.
fn key_of(bytes: impl IntoIterator<Item = u8>) -> u64 {
    let mut k = [0u8; 8];
    for (d, s) in k.iter_mut().zip(bytes) {
        *d = s;
    }
    u64::from_be_bytes(k)
}

/// An entry's name compared with `name` (whose [`key`] is `k`).
#[inline]
fn cmp_name(text: &str, e: &Entry, k: u64, name: &str) -> Ordering {
    e.key.cmp(&k).then_with(|| at(text, e.name).cmp(name))
}

/// Two entries' names compared.
#[inline]
fn cmp_entries(text: &str, a: &Entry, b: &Entry) -> Ordering {
    cmp_name(text, a, b.key, at(text, b.name))
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
    ///
    /// On an error the parameters decoded before the offending one are kept (the audit records
    /// them), as when they were inserted one by one: a duplicate is reported at its second
    /// occurrence, and more than [`MAX_PARAMS`] at the first one past the bound, whichever
    /// comes first.
    pub fn add_urlencoded(&mut self, raw: &[u8]) -> Result<(), ApiError> {
        // Room for the parameters of most requests at once (more grow the vector).
        self.entries.reserve(8);
        let mut decoder = Decoder::new(raw, &mut self.text);
        let mut overflow = false;
        let mut seq = self.entries.iter().map(|e| e.seq + 1).max().unwrap_or(0);
        for part in parts(raw) {
            let name = decoder.decode(part.start, part.name_end, &mut self.text);
            let name_text = at(&self.text, name);
            if is_auth_param(name_text) {
                continue;
            }
            if self.entries.len() >= MAX_PARAMS {
                overflow = true;
                break;
            }
            let value = decoder.decode(part.value_start, part.end, &mut self.text);
            self.push_entry(name, value, seq);
            seq += 1;
        }
        self.sort();
        // Of equal names (adjacent, earliest first, after the sort) every one but the first is
        // a duplicate, and the earliest of those is where one-by-one insertion stops.
        let text = &self.text;
        let first_dup = self
            .entries
            .windows(2)
            .filter_map(|w| match w {
                [a, b] if cmp_entries(text, a, b).is_eq() => Some(*b),
                _ => None,
            })
            .min_by_key(|e| e.seq);
        if let Some(dup) = first_dup {
            let message = format!("Parameter {} is given more than once", at(text, dup.name));
            self.entries.retain(|e| e.seq < dup.seq);
            return Err(ApiError::new(Code::MalformedQueryString, message));
        }
        if overflow {
            return Err(ApiError::new(
                Code::MalformedQueryString,
                "Too many parameters",
            ));
        }
        Ok(())
    }

    /// Adds the entry whose name and value lie at `name` and `value` in the text, noting the
    /// name's key, its [`seen_bit`] and whether it holds a `.`.
    fn push_entry(&mut self, name: Span, value: Span, seq: usize) {
        let name_text = at(&self.text, name);
        let key = key(name_text.as_bytes());
        self.seen |= seen_bit(key, name_text.len());
        self.dotted |= name_text.contains('.');
        self.entries.push(Entry {
            key,
            name,
            value,
            used: false,
            seq,
        });
    }

    /// Builds parameters from pairs (tests, internal calls); of a name given twice, the last
    /// value stays.
    #[must_use]
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let mut p = Self::default();
        for (seq, (k, v)) in pairs.into_iter().enumerate() {
            let k: String = k.into();
            let start = p.text.len();
            p.text.push_str(&k);
            let mid = p.text.len();
            p.text.push_str(&v.into());
            let value = Span {
                start: mid,
                end: p.text.len(),
            };
            p.push_entry(Span { start, end: mid }, value, seq);
        }
        p.sort();
        let text = &p.text;
        // Equal names are adjacent, earliest first: the later value replaces the kept one.
        p.entries.dedup_by(|later, kept| {
            let same = cmp_entries(text, later, kept).is_eq();
            if same {
                kept.value = later.value;
            }
            same
        });
        p
    }

    /// Sorts the entries by name, equal names (only while adding) in arrival order.
    fn sort(&mut self) {
        let text = &self.text;
        let sorted = self
            .entries
            .windows(2)
            .all(|w| matches!(w, [a, b] if cmp_entries(text, a, b).is_lt()));
        if !sorted {
            self.entries
                .sort_unstable_by(|a, b| cmp_entries(text, a, b).then(a.seq.cmp(&b.seq)));
        }
    }

    /// The index of the parameter `name`: a scan of the keys for the handful of parameters a
    /// request usually has, a binary search above that.
    fn find(&self, name: &str) -> Option<usize> {
        let (text, k) = (&self.text, key(name.as_bytes()));
        if self.seen & seen_bit(k, name.len()) == 0 {
            return None;
        }
        if self.entries.len() <= SCAN {
            // Names of at most eight bytes are their key and their length: equal keys and
            // lengths are equal names, and only a longer name's text is compared.
            let short = name.len() <= 8;
            return self.entries.iter().position(|e| {
                e.key == k
                    && e.name.end - e.name.start == name.len()
                    && (short || at(text, e.name) == name)
            });
        }
        self.entries
            .binary_search_by(|e| cmp_name(text, e, k, name))
            .ok()
    }

    /// A parameter without marking it read (dispatch peeks at `Action` and `Version`).
    #[must_use]
    pub fn peek(&self, name: &str) -> Option<&str> {
        let e = self.entries.get(self.find(name)?)?;
        Some(at(&self.text, e.value))
    }

    /// An optional parameter, borrowed (marked read).
    pub fn opt_str(&mut self, name: &str) -> Option<&str> {
        let i = self.find(name)?;
        let e = self.entries.get_mut(i)?;
        e.used = true;
        Some(at(&self.text, e.value))
    }

    /// An optional parameter.
    pub fn opt(&mut self, name: &str) -> Option<String> {
        self.opt_str(name).map(str::to_owned)
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
        match self.opt_str(name) {
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
        match self.opt_str(name) {
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
        let Some((members, skip)) = self.list_members(name) else {
            return Ok(Vec::new());
        };
        let Self { text, entries, .. } = self;
        let mut out = BTreeMap::new();
        for e in entries.get_mut(members).unwrap_or_default() {
            let k = at(text, e.name);
            let idx = k
                .get(skip..)
                .and_then(parse_index)
                .ok_or_else(|| bad_member(k))?;
            e.used = true;
            out.insert(idx, at(text, e.value));
        }
        check_contiguous(name, out.keys().copied())?;
        Ok(out.into_values().map(str::to_owned).collect())
    }

    /// A list that may be given empty: `Some` when the request names it at all — as members, or
    /// as the bare `Name=` that botocore and the CLI send for `[]` — and `None` when it is absent.
    pub fn list_given(&mut self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
        let bare = self.peek(name).map(str::is_empty);
        let members = self.list(name)?;
        match bare {
            Some(false) => Err(ApiError::validation(format!(
                "1 validation error detected: Value at '{}' failed to satisfy constraint: \
                 Member must be a list",
                lower_camel(name)
            ))),
            Some(true) => Ok(Some(members)),
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
        let Some((members, skip)) = self.list_members(name) else {
            return Ok(Vec::new());
        };
        let Self { text, entries, .. } = self;
        let mut by_index: BTreeMap<usize, BTreeMap<String, String>> = BTreeMap::new();
        for e in entries.get_mut(members).unwrap_or_default() {
            let k = at(text, e.name);
            let rest = k.get(skip..).unwrap_or_default();
            let (idx, field) = rest.split_once('.').ok_or_else(|| bad_member(k))?;
            let idx = parse_index(idx).ok_or_else(|| bad_member(k))?;
            if !fields.contains(&field) {
                return Err(bad_member(k));
            }
            e.used = true;
            by_index
                .entry(idx)
                .or_default()
                .insert(field.to_owned(), at(text, e.value).to_owned());
        }
        check_contiguous(name, by_index.keys().copied())?;
        Ok(by_index.into_values().collect())
    }

    /// Refuses parameters that the action did not read.
    pub fn finish(&self) -> Result<(), ApiError> {
        for e in &self.entries {
            let k = at(&self.text, e.name);
            if e.used || k == "Action" || k == "Version" {
                continue;
            }
            return Err(ApiError::new(
                Code::InvalidParameterValue,
                format!("The parameter {k} is not recognized for this action"),
            ));
        }
        Ok(())
    }

    /// Every parameter name and value, sorted by name (audit builds `requestParameters` from
    /// it, redacting).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        self.entries
            .iter()
            .map(|e| (at(&self.text, e.name), at(&self.text, e.value)))
    }

    /// Marks a list's bare name read (`Name=`, an empty list).
    fn mark_bare(&mut self, name: &str) {
        if let Some(e) = self.find(name).and_then(|i| self.entries.get_mut(i)) {
            e.used = true;
        }
    }

    /// A list's members: marks its bare name read (`Name=`, an empty list) and returns the
    /// entries of `name.member.…` and the length of that prefix; `None` when it has none.
    fn list_members(&mut self, name: &str) -> Option<(std::ops::Range<usize>, usize)> {
        self.mark_bare(name);
        let (lo, hi) = self.member_range(name);
        (lo < hi).then(|| (lo..hi, name.len() + MEMBER.len()))
    }

    /// The entries whose names start with `name.member.` (contiguous: the entries are sorted),
    /// found without building the prefix.
    fn member_range(&self, name: &str) -> (usize, usize) {
        if !self.dotted {
            return (0, 0);
        }
        let text = &self.text;
        let k = key_of(name.bytes().chain(MEMBER.bytes()));
        let lo = self.entries.partition_point(|e| {
            e.key
                .cmp(&k)
                .then_with(|| cmp_joined(at(text, e.name), name, MEMBER))
                .is_lt()
        });
        let n = self
            .entries
            .get(lo..)
            .unwrap_or_default()
            .iter()
            .take_while(|e| {
                at(text, e.name)
                    .strip_prefix(name)
                    .is_some_and(|r| r.starts_with(MEMBER))
            })
            .count();
        (lo, lo + n)
    }
}

/// `s` compared with `a` followed by `b`, as `s.cmp(&[a, b].concat())` (byte order).
fn cmp_joined(s: &str, a: &str, b: &str) -> Ordering {
    let (s, a) = (s.as_bytes(), a.as_bytes());
    let head = s.get(..a.len().min(s.len())).unwrap_or_default();
    match head.cmp(a.get(..head.len()).unwrap_or_default()) {
        Ordering::Equal if s.len() < a.len() => Ordering::Less,
        Ordering::Equal => s.get(a.len()..).unwrap_or_default().cmp(b.as_bytes()),
        other => other,
    }
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
