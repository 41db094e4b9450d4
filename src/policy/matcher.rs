//! Wildcard patterns and policy variables, compiled once per policy.
//!
//! * Actions: case-insensitive glob (`*`, `?`) over the whole `service:Name`.
//! * Resources and `Arn*` condition values: case-sensitive glob per ARN segment: the first five
//!   colon-separated segments are matched separately (a `*` there never crosses a `:`), in the
//!   resource segment `*` spans `/` and `:`; `"*"` alone matches everything.
//! * Policy variables (`Version` 2012-10-17 only): `${aws:username}`, `${key, 'default'}`, and the
//!   escapes `${*}`, `${?}`, `${$}`. A variable whose key is missing (or multi-valued) and has no
//!   default is *unresolvable*: the pattern then matches nothing (callers see `None`).
//!
//! Matching splits a pattern at its `*`s into segments and finds them greedily left to right
//! (first anchored at the start, last at the end); this is exact for `*`/`?` globs and linear-ish.

use std::borrow::Cow;

/// Where variable values come from (the request context).
pub(crate) trait VarSource {
    /// The single value of the (lower-cased) key, if present and single-valued.
    fn single(&self, key_lc: &str) -> Option<&str>;
}

/// A reference to a policy variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VarRef {
    /// The context key, lower-cased.
    pub(crate) key_lc: Box<str>,
    /// The default from `${key, 'default'}`.
    pub(crate) default: Option<Box<str>>,
}

/// One token of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(Box<str>),
    One,
    Star,
    Var(usize),
}

/// How a string is tokenised.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Syntax {
    /// `*` and `?` are wildcards.
    pub(crate) wildcards: bool,
    /// `${…}` are policy variables (2012-10-17).
    pub(crate) variables: bool,
    /// Literals are lower-cased (actions).
    pub(crate) lowercase: bool,
}

fn tokenize(s: &str, syn: Syntax) -> (Vec<Tok>, Vec<VarRef>) {
    let mut toks = Vec::new();
    let mut vars = Vec::new();
    let mut lit = String::new();
    let flush = |lit: &mut String, toks: &mut Vec<Tok>| {
        if !lit.is_empty() {
            toks.push(Tok::Lit(std::mem::take(lit).into_boxed_str()));
        }
    };
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if syn.variables && rest.starts_with("${") {
            if let Some(end) = rest.find('}') {
                let inner = rest.get(2..end).unwrap_or_default().trim();
                rest = rest.get(end + 1..).unwrap_or_default();
                match inner {
                    "*" | "?" | "$" => lit.push_str(inner),
                    _ => {
                        flush(&mut lit, &mut toks);
                        toks.push(Tok::Var(vars.len()));
                        vars.push(parse_var(inner));
                    }
                }
                continue;
            }
        }
        rest = rest.get(c.len_utf8()..).unwrap_or_default();
        match c {
            '*' if syn.wildcards => {
                flush(&mut lit, &mut toks);
                toks.push(Tok::Star);
            }
            '?' if syn.wildcards => {
                flush(&mut lit, &mut toks);
                toks.push(Tok::One);
            }
            _ if syn.lowercase => lit.extend(c.to_lowercase()),
            _ => lit.push(c),
        }
    }
    flush(&mut lit, &mut toks);
    (toks, vars)
}

/// `aws:PrincipalTag/team, 'company-wide'` → key + default.
fn parse_var(inner: &str) -> VarRef {
    if let Some((key, dflt)) = inner.split_once(',') {
        let d = dflt.trim();
        if d.len() >= 2 && d.starts_with('\'') && d.ends_with('\'') {
            return VarRef {
                key_lc: key.trim().to_lowercase().into_boxed_str(),
                default: Some(d.get(1..d.len() - 1).unwrap_or_default().into()),
            };
        }
    }
    VarRef { key_lc: inner.to_lowercase().into_boxed_str(), default: None }
}

/// Resolves every variable, or `None` if one is unresolvable.
fn resolve<'a>(vars: &'a [VarRef], src: &'a dyn VarSource) -> Option<Vec<&'a str>> {
    vars.iter().map(|v| src.single(&v.key_lc).or(v.default.as_deref())).collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Fast {
    Any,
    Exact(Box<str>),
    Prefix(Box<str>),
    General,
}

/// A compiled glob (or, without wildcards, a template with variables).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Glob {
    /// Segments between `*`s; never contain `Tok::Star`.
    segs: Vec<Vec<Tok>>,
    vars: Vec<VarRef>,
    fast: Fast,
}

impl Glob {
    /// Compiles `pattern` with the given syntax.
    pub(crate) fn new(pattern: &str, syn: Syntax) -> Self {
        let (toks, vars) = tokenize(pattern, syn);
        let mut segs = vec![Vec::new()];
        for t in toks {
            match t {
                Tok::Star => segs.push(Vec::new()),
                other => {
                    if let Some(last) = segs.last_mut() {
                        last.push(other);
                    }
                }
            }
        }
        let simple = |seg: &Vec<Tok>| -> Option<Box<str>> {
            match seg.as_slice() {
                [] => Some("".into()),
                [Tok::Lit(l)] => Some(l.clone()),
                _ => None,
            }
        };
        let fast = match segs.as_slice() {
            [only] => simple(only).map_or(Fast::General, Fast::Exact),
            [a, b] if a.is_empty() && b.is_empty() => Fast::Any,
            [a, b] if b.is_empty() => simple(a).map_or(Fast::General, Fast::Prefix),
            _ => Fast::General,
        };
        Self { segs, vars, fast }
    }


    /// Matches `s`; `None` when a variable is unresolvable.
    pub(crate) fn matches(&self, s: &str, src: &dyn VarSource) -> Option<bool> {
        match &self.fast {
            Fast::Any => return Some(true),
            Fast::Exact(l) => return Some(s == &**l),
            Fast::Prefix(p) => return Some(s.starts_with(&**p)),
            Fast::General => {}
        }
        let vals = resolve(&self.vars, src)?;
        Some(self.general(s, &vals))
    }

    /// Renders a wildcard-free template; `None` when a variable is unresolvable.
    pub(crate) fn render<'a>(&'a self, src: &'a dyn VarSource) -> Option<Cow<'a, str>> {
        if let Fast::Exact(l) = &self.fast {
            return Some(Cow::Borrowed(l));
        }
        let vals = resolve(&self.vars, src)?;
        let mut out = String::new();
        for (i, seg) in self.segs.iter().enumerate() {
            if i > 0 {
                out.push('*');
            }
            for t in seg {
                match t {
                    Tok::Lit(l) => out.push_str(l),
                    Tok::One => out.push('?'),
                    Tok::Var(v) => out.push_str(vals.get(*v).copied().unwrap_or_default()),
                    Tok::Star => out.push('*'),
                }
            }
        }
        Some(Cow::Owned(out))
    }

    fn general(&self, s: &str, vals: &[&str]) -> bool {
        let n = self.segs.len();
        let (Some(first), Some(last)) = (self.segs.first(), self.segs.last()) else {
            return false;
        };
        if n == 1 {
            return seg_at(first, s, 0, vals) == Some(s.len());
        }
        let Some(mut pos) = seg_at(first, s, 0, vals) else {
            return false;
        };
        let Some(tail) = nth_char_from_end(s, seg_char_len(last, vals)) else {
            return false;
        };
        if tail < pos || seg_at(last, s, tail, vals) != Some(s.len()) {
            return false;
        }
        for seg in self.segs.get(1..n - 1).unwrap_or_default() {
            let mut j = pos;
            let found = loop {
                if let Some(e) = seg_at(seg, s, j, vals)
                    && e <= tail
                {
                    break Some(e);
                }
                if j >= tail {
                    break None;
                }
                j += s.get(j..).and_then(|r| r.chars().next()).map_or(1, char::len_utf8);
            };
            match found {
                Some(e) => pos = e,
                None => return false,
            }
        }
        true
    }
}

/// Matches one star-free segment at byte `i`; returns the end index.
fn seg_at(seg: &[Tok], s: &str, mut i: usize, vals: &[&str]) -> Option<usize> {
    for t in seg {
        let rest = s.get(i..)?;
        match t {
            Tok::Lit(l) => {
                if !rest.starts_with(&**l) {
                    return None;
                }
                i += l.len();
            }
            Tok::Var(v) => {
                let l = vals.get(*v)?;
                if !rest.starts_with(l) {
                    return None;
                }
                i += l.len();
            }
            Tok::One => i += rest.chars().next()?.len_utf8(),
            Tok::Star => return None,
        }
    }
    Some(i)
}

fn seg_char_len(seg: &[Tok], vals: &[&str]) -> usize {
    seg.iter()
        .map(|t| match t {
            Tok::Lit(l) => l.chars().count(),
            Tok::Var(v) => vals.get(*v).map_or(0, |l| l.chars().count()),
            Tok::One => 1,
            Tok::Star => 0,
        })
        .sum()
}

fn nth_char_from_end(s: &str, n: usize) -> Option<usize> {
    if n == 0 {
        return Some(s.len());
    }
    s.char_indices().rev().nth(n - 1).map(|(i, _)| i)
}

/// Splits an ARN pattern at its first five colons outside `${…}`.
fn split_arn(raw: &str, variables: bool) -> Vec<&str> {
    let mut parts = Vec::with_capacity(6);
    let mut start = 0;
    let mut depth = false;
    let bytes = raw.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if parts.len() == 5 {
            break;
        }
        match b {
            b'$' if variables && bytes.get(i + 1) == Some(&b'{') => depth = true,
            b'}' if depth => depth = false,
            b':' if !depth => {
                parts.push(raw.get(start..i).unwrap_or_default());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(raw.get(start..).unwrap_or_default());
    parts
}

/// A compiled resource / ARN pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ArnPattern {
    /// `"*"`.
    Any,
    /// Six segments, each its own glob.
    Arn(Box<[Glob; 6]>),
    /// Not ARN-shaped: one glob over the whole string.
    Plain(Glob),
}

impl ArnPattern {
    /// Compiles a resource pattern (case-sensitive).
    pub(crate) fn new(raw: &str, variables: bool) -> Self {
        if raw == "*" {
            return Self::Any;
        }
        let syn = Syntax { wildcards: true, variables, lowercase: false };
        let parts = split_arn(raw, variables);
        match <[&str; 6]>::try_from(parts.as_slice()) {
            Ok(p) => Self::Arn(Box::new(p.map(|s| Glob::new(s, syn)))),
            Err(_) => Self::Plain(Glob::new(raw, syn)),
        }
    }


    /// Matches a concrete resource ARN; `None` when a variable is unresolvable.
    pub(crate) fn matches(&self, arn: &str, src: &dyn VarSource) -> Option<bool> {
        match self {
            Self::Any => Some(true),
            Self::Plain(g) => g.matches(arn, src),
            Self::Arn(globs) => {
                let mut parts = arn.splitn(6, ':');
                let mut result = true;
                for g in globs.iter() {
                    let Some(part) = parts.next() else {
                        // Not enough segments; still resolve variables for the tri-state.
                        result = false;
                        g.matches("", src)?;
                        continue;
                    };
                    if !g.matches(part, src)? {
                        result = false;
                    }
                }
                Some(result)
            }
        }
    }
}

/// Action patterns: case-insensitive, no variables.
pub(crate) fn action_glob(raw: &str) -> Glob {
    Glob::new(raw, Syntax { wildcards: true, variables: false, lowercase: true })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    struct Src(HashMap<&'static str, &'static str>);
    impl VarSource for Src {
        fn single(&self, k: &str) -> Option<&str> {
            self.0.get(k).copied()
        }
    }
    fn src() -> Src {
        Src(HashMap::from([("aws:username", "alice"), ("aws:principaltag/team", "red")]))
    }
    const LIKE: Syntax = Syntax { wildcards: true, variables: true, lowercase: false };

    fn m(p: &str, s: &str) -> Option<bool> {
        Glob::new(p, LIKE).matches(s, &src())
    }

    #[test]
    fn globs() {
        assert_eq!(m("*", "anything"), Some(true));
        assert_eq!(m("a*c", "abbbc"), Some(true));
        assert_eq!(m("a*c", "abbbcd"), Some(false));
        assert_eq!(m("a?c", "abc"), Some(true));
        assert_eq!(m("a?c", "ac"), Some(false));
        assert_eq!(m("*a*b*", "xxaxxbxx"), Some(true));
        assert_eq!(m("*a*b*", "xxbxxaxx"), Some(false));
        assert_eq!(m("ab*ba", "aba"), Some(false));
        assert_eq!(m("ab*ba", "abba"), Some(true));
        assert_eq!(m("?", "é"), Some(true));
        assert_eq!(m("é*", "éa"), Some(true));
        assert_eq!(m("", ""), Some(true));
        assert_eq!(m("*?", ""), Some(false));
        assert_eq!(m("Case", "case"), Some(false));
    }

    #[test]
    fn variables_and_escapes() {
        assert_eq!(m("home/${aws:username}/*", "home/alice/x"), Some(true));
        assert_eq!(m("home/${aws:username}/*", "home/bob/x"), Some(false));
        assert_eq!(m("home/${aws:userid}/*", "home/bob/x"), None);
        assert_eq!(m("${aws:PrincipalTag/Team}", "red"), Some(true));
        assert_eq!(m("${aws:PrincipalTag/dept, 'all'}", "all"), Some(true));
        assert_eq!(m("a${*}b", "a*b"), Some(true));
        assert_eq!(m("a${*}b", "axb"), Some(false));
        assert_eq!(m("a${?}", "a?"), Some(true));
        assert_eq!(m("a${$}", "a$"), Some(true));
        let legacy = Syntax { wildcards: true, variables: false, lowercase: false };
        assert_eq!(
            Glob::new("${aws:username}", legacy).matches("${aws:username}", &src()),
            Some(true)
        );
    }

    #[test]
    fn actions_case_insensitive() {
        let g = action_glob("IAM:*AccessKey*");
        assert_eq!(g.matches("iam:createaccesskey", &src()), Some(true));
        assert_eq!(g.matches("iam:createuser", &src()), Some(false));
    }

    #[test]
    fn arn_segments() {
        let p = ArnPattern::new("arn:aws:s3:::bucket/*", true);
        assert_eq!(p.matches("arn:aws:s3:::bucket/a/b:c", &src()), Some(true));
        assert_eq!(p.matches("arn:aws:s3:::other/a", &src()), Some(false));
        let p = ArnPattern::new("arn:aws:iam::*:role/x", true);
        assert_eq!(p.matches("arn:aws:iam::123:role/x", &src()), Some(true));
        // `*` in the account segment does not cross a colon.
        let p = ArnPattern::new("arn:aws:iam:*:role/x", true);
        assert_eq!(p.matches("arn:aws:iam::123:role/x", &src()), Some(false));
        let p = ArnPattern::new("arn:aws:s3:::${aws:username}/*", true);
        assert_eq!(p.matches("arn:aws:s3:::alice/k", &src()), Some(true));
        let p = ArnPattern::new("arn:aws:s3:::${aws:nope}/*", true);
        assert_eq!(p.matches("arn:aws:s3:::alice/k", &src()), None);
        assert_eq!(ArnPattern::new("*", true).matches("whatever", &src()), Some(true));
    }
}
