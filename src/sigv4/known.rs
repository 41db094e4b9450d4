//! The headers SigV4 reads on every request (its authentication, date and session token, the
//! content hash, and the `host` and `content-type` every SDK signs), found in one pass over the
//! request's headers when it is parsed, instead of one look-up each (a `HeaderMap` look-up hashes
//! the name; a `/verify` list is scanned once per name).

use super::Headers;

/// What one pass saw of one header: its first value, and whether there were more.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Seen<'a> {
    /// The first value, in arrival order.
    pub(crate) first: Option<&'a [u8]>,
    /// Whether the header appeared more than once.
    pub(crate) more: bool,
}

impl<'a> Seen<'a> {
    fn add(&mut self, value: &'a [u8]) {
        if self.first.is_none() {
            self.first = Some(value);
        } else {
            self.more = true;
        }
    }
}

/// The scanned headers of one request, and which headers they were read from: they answer only
/// for those very headers (the same map or list), never for another request's.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct KnownHeaders<'a> {
    source: Option<Headers<'a>>,
    authorization: Seen<'a>,
    date: Seen<'a>,
    x_amz_date: Seen<'a>,
    security_token: Seen<'a>,
    content_sha256: Seen<'a>,
    host: Seen<'a>,
    content_type: Seen<'a>,
}

impl<'a> KnownHeaders<'a> {
    /// One pass over `headers`.
    pub(crate) fn scan(headers: Headers<'a>) -> Self {
        let mut k = Self {
            source: Some(headers),
            ..Self::default()
        };
        match headers {
            // A map's names are lower case already.
            Headers::Map(m) => {
                for (name, value) in m {
                    k.note(name.as_str(), value.as_bytes(), true);
                }
            }
            Headers::List(list) => {
                for (name, value) in list {
                    k.note(name, value.as_bytes(), false);
                }
            }
        }
        k
    }

    fn note(&mut self, name: &str, value: &'a [u8], lower: bool) {
        let is = |want: &str| {
            if lower {
                name == want
            } else {
                name.eq_ignore_ascii_case(want)
            }
        };
        let slot = match name.len() {
            4 if is("host") => &mut self.host,
            4 if is("date") => &mut self.date,
            10 if is("x-amz-date") => &mut self.x_amz_date,
            12 if is("content-type") => &mut self.content_type,
            13 if is("authorization") => &mut self.authorization,
            20 if is("x-amz-security-token") => &mut self.security_token,
            20 if is("x-amz-content-sha256") => &mut self.content_sha256,
            _ => return,
        };
        slot.add(value);
    }

    /// What the pass saw of `name` (lower case) in `headers`: `None` when `name` is not one of
    /// the scanned names or `headers` are not the ones scanned (then look it up).
    pub(crate) fn get(&self, headers: Headers<'_>, name: &str) -> Option<Seen<'a>> {
        if !self.source.is_some_and(|s| s.same(headers)) {
            return None;
        }
        Some(match name {
            "host" => self.host,
            "date" => self.date,
            "x-amz-date" => self.x_amz_date,
            "content-type" => self.content_type,
            "authorization" => self.authorization,
            "x-amz-security-token" => self.security_token,
            "x-amz-content-sha256" => self.content_sha256,
            _ => return None,
        })
    }

    /// The first value of `name` (lower case) in `headers` and whether there are more: as the
    /// pass saw it when these are the scanned headers and `name` a scanned name, else looked up.
    pub(crate) fn first_and_more<'h>(
        &self,
        headers: Headers<'h>,
        name: &str,
    ) -> (Option<&'h [u8]>, bool)
    where
        'a: 'h,
    {
        match self.get(headers, name) {
            Some(seen) => (seen.first, seen.more),
            None => {
                let mut all = headers.get_all(name);
                (all.next(), all.next().is_some())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NAMES: [&str; 9] = [
        "host",
        "date",
        "x-amz-date",
        "content-type",
        "authorization",
        "x-amz-security-token",
        "x-amz-content-sha256",
        "user-agent",
        "x-amz-other",
    ];

    /// What [`Headers::get_all`] finds: the first value and whether there is a second.
    fn looked_up<'a>(h: Headers<'a>, name: &str) -> (Option<&'a [u8]>, bool) {
        let mut it = h.get_all(name);
        (it.next(), it.next().is_some())
    }

    proptest! {
        /// The pass sees what a look-up by name finds, in a map and in a list (any case).
        #[test]
        fn the_pass_sees_what_lookups_find(
            pairs in proptest::collection::vec((0..NAMES.len(), "[a-z0-9 ]{0,6}", any::<bool>()), 0..12),
        ) {
            let mut map = http::HeaderMap::new();
            let mut list = Vec::new();
            for (i, value, upper) in &pairs {
                let name = NAMES.get(*i).copied().unwrap_or("x");
                if let Ok(v) = http::HeaderValue::from_str(value) {
                    map.append(http::HeaderName::from_static(name), v);
                }
                let shown = if *upper { name.to_ascii_uppercase() } else { name.to_owned() };
                list.push((shown, value.clone()));
            }
            let list: Vec<(&str, &str)> = list.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            for headers in [Headers::Map(&map), Headers::List(&list)] {
                let known = KnownHeaders::scan(headers);
                for name in NAMES {
                    let want = looked_up(headers, name);
                    match known.get(headers, name) {
                        Some(seen) => prop_assert_eq!((seen.first, seen.more), want, "{}", name),
                        None => prop_assert!(name.starts_with("user") || name == "x-amz-other"),
                    }
                }
            }
        }
    }

    /// Scanned headers answer only for the headers they were read from.
    #[test]
    fn another_requests_headers_are_not_answered_for() {
        let mut a = http::HeaderMap::new();
        a.insert("host", http::HeaderValue::from_static("a"));
        let b = a.clone();
        let known = KnownHeaders::scan(Headers::Map(&a));
        assert_eq!(
            known.get(Headers::Map(&a), "host").and_then(|s| s.first),
            Some(&b"a"[..])
        );
        assert!(known.get(Headers::Map(&b), "host").is_none());
        let list = [("host", "a")];
        assert!(known.get(Headers::List(&list), "host").is_none());
        assert!(
            KnownHeaders::default()
                .get(Headers::Map(&a), "host")
                .is_none()
        );
    }
}
