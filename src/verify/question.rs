//! Reading a `/verify` question from its JSON body.
//!
//! The usual question — plain strings (no escapes), no `context`, each field once — is read by
//! a small parser of that shape alone ([`plain`]); anything else (escapes, a `context`, an
//! unknown or repeated field, bad JSON) goes to serde_json, which gives the answer or the error
//! it always gave. Both give the same `VerifyInput` for a question the small parser reads
//! (a property test holds them equal), so the fast path changes no answer and no error.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::{SignedRequest, VerifyInput};
use crate::wire::json::Text;
use crate::wire::json_out::escape_marks;

/// Reads a verification question from `body`, with serde_json's errors.
///
/// The body is checked as UTF-8 once, so serde_json reads it as a `str` and does not check
/// each string again; a body that is not UTF-8 is read as bytes, for serde_json's error.
///
/// # Errors
/// serde_json's, for a body that is not a question.
pub fn parse_question(body: &[u8]) -> Result<VerifyInput<'_>, serde_json::Error> {
    match std::str::from_utf8(body) {
        Ok(s) => plain(s).map_or_else(|| serde_json::from_str(s), Ok),
        Err(_) => serde_json::from_slice(body),
    }
}

/// The question in `body` when it has the plain shape (see the module), else `None`.
fn plain(body: &str) -> Option<VerifyInput<'_>> {
    let mut c = Cursor { s: body, i: 0 };
    let mut request = None;
    let mut service = None;
    let mut action = None;
    let mut resource = None;
    let mut resource_account = None;
    let mut source_ip = None;
    c.object(|c, key| match key {
        "request" => set(&mut request, signed_request(c)?),
        "service" => set(&mut service, c.str()?),
        "action" => set(&mut action, c.opt_str()?),
        "resource" => set(&mut resource, c.opt_str()?),
        "resource_account" => set(&mut resource_account, c.opt_str()?),
        "source_ip" => set(&mut source_ip, c.opt_str()?),
        _ => None,
    })?;
    c.skip_ws();
    if c.i != body.len() {
        return None;
    }
    Some(VerifyInput {
        request: request?,
        service: Cow::Borrowed(service?),
        action: action.flatten().map(Text::from),
        resource: resource.flatten().map(Text::from),
        resource_account: resource_account.flatten().map(Text::from),
        context: BTreeMap::new(),
        source_ip: source_ip.flatten().map(Text::from),
    })
}

/// The `request` object, plain.
fn signed_request<'a>(c: &mut Cursor<'a>) -> Option<SignedRequest<'a>> {
    let mut method = None;
    let mut path = None;
    let mut query = None;
    let mut headers = None;
    let mut payload_hash = None;
    let mut scheme = None;
    c.object(|c, key| match key {
        "method" => set(&mut method, c.str()?),
        "path" => set(&mut path, c.str()?),
        "query" => set(&mut query, c.str()?),
        "headers" => set(&mut headers, header_list(c)?),
        "payload_hash" => set(&mut payload_hash, c.str()?),
        "scheme" => set(&mut scheme, c.opt_str()?),
        _ => None,
    })?;
    Some(SignedRequest {
        method: Cow::Borrowed(method?),
        path: Cow::Borrowed(path?),
        query: Cow::Borrowed(query.unwrap_or_default()),
        headers: headers?,
        payload_hash: Cow::Borrowed(payload_hash?),
        scheme: scheme.flatten().map(Text::from),
    })
}

/// `[[name, value], …]`, plain.
fn header_list<'a>(c: &mut Cursor<'a>) -> Option<Vec<(Text<'a>, Text<'a>)>> {
    let mut v = Vec::with_capacity(8);
    c.eat(b'[')?;
    if c.peek()? == b']' {
        c.i += 1;
        return Some(v);
    }
    loop {
        c.eat(b'[')?;
        let name = c.str()?;
        c.eat(b',')?;
        let value = c.str()?;
        c.eat(b']')?;
        v.push((Text::from(name), Text::from(value)));
        match c.peek()? {
            b',' => c.i += 1,
            b']' => {
                c.i += 1;
                return Some(v);
            }
            _ => return None,
        }
    }
}

/// Sets a field seen for the first time (a repeated field is serde's to refuse).
fn set<T>(slot: &mut Option<T>, v: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(v);
    Some(())
}

/// The length of the string that starts `rest`, up to its closing quote; `None` when a
/// backslash or a control character comes first (serde's to read or refuse) or no quote comes.
///
/// Strings here are mostly short (names, keys), a few long (a session token is ~1 KB): the
/// first sixteen bytes are looked at a word at a time, and a string longer than that has its
/// closing quote found by `memchr`, then the bytes before it checked in one vectorised pass.
fn plain_len(rest: &[u8]) -> Option<usize> {
    let (words, _) = rest.as_chunks::<8>();
    for (n, w) in words.iter().take(2).enumerate() {
        let m = escape_marks(u64::from_le_bytes(*w));
        if m != 0 {
            let at = n * 8 + (m.trailing_zeros() / 8) as usize;
            return (rest.get(at) == Some(&b'"')).then_some(at);
        }
    }
    long_plain_len(rest, words.len().min(2) * 8)
}

/// [`plain_len`] of a string with no quote, backslash or control character in its first
/// `from` bytes. Out of line: the short strings' path stays small (fewer registers to save).
#[inline(never)]
fn long_plain_len(rest: &[u8], from: usize) -> Option<usize> {
    let len = from + memchr::memchr(b'"', rest.get(from..)?)?;
    // Every byte looked at (no early exit), so the loop is vectorised.
    let escaped = rest
        .get(from..len)?
        .iter()
        .fold(false, |bad, &b| bad | (b < 0x20) | (b == b'\\'));
    (!escaped).then_some(len)
}

/// A position in the body; every step is `None` where the plain shape ends.
struct Cursor<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Cursor<'a> {
    /// Skips JSON whitespace.
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.s.as_bytes().get(self.i) {
            self.i += 1;
        }
    }

    /// The next byte after whitespace, not consumed.
    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.as_bytes().get(self.i).copied()
    }

    /// Consumes `b` after whitespace.
    fn eat(&mut self, b: u8) -> Option<()> {
        (self.peek()? == b).then(|| self.i += 1)
    }

    /// A string without escapes or control characters, borrowed.
    fn str(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let len = plain_len(self.s.as_bytes().get(self.i..)?)?;
        let s = self.s.get(self.i..self.i + len)?;
        self.i += len + 1;
        Some(s)
    }

    /// A string or `null`.
    fn opt_str(&mut self) -> Option<Option<&'a str>> {
        if self.peek()? == b'n' {
            let rest = self.s.as_bytes().get(self.i..)?;
            return rest.starts_with(b"null").then(|| {
                self.i += 4;
                None
            });
        }
        self.str().map(Some)
    }

    /// An object, `field` reading each member's value after its key.
    fn object(&mut self, mut field: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            let key = self.str()?;
            self.eat(b':')?;
            field(self, key)?;
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use proptest::prelude::*;

    use super::*;

    /// serde_json's reading of `body`, as the handler did before: the answer's debug form or
    /// the error's text.
    fn serde(body: &[u8]) -> Result<String, String> {
        serde_json::from_slice::<VerifyInput<'_>>(body)
            .map(|q| format!("{q:?}"))
            .map_err(|e| e.to_string())
    }

    fn ours(body: &[u8]) -> Result<String, String> {
        parse_question(body)
            .map(|q| format!("{q:?}"))
            .map_err(|e| e.to_string())
    }

    const BENCH: &str = r#"{"request": {"method": "GET", "path": "/key.txt", "query": "", "headers": [["host", "bucket.s3.local"], ["x-amz-date", "20261207T074500Z"], ["x-amz-security-token", "IQoJb3JpZ2luX2VjE"], ["authorization", "AWS4-HMAC-SHA256 Credential=ASIA/20261207/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=ab"]], "payload_hash": "e3b0", "scheme": "https"}, "service": "s3", "action": "s3:GetObject", "resource": "arn:aws:s3:::bucket/key.txt"}"#;

    #[test]
    fn the_usual_question_takes_the_plain_path_and_borrows() {
        let q = plain(BENCH).unwrap();
        assert!(matches!(q.service, Cow::Borrowed("s3")));
        assert_eq!(q.request.headers.len(), 4);
        assert!(matches!(
            q.request.headers[0].1.0,
            Cow::Borrowed("bucket.s3.local")
        ));
        assert_eq!(q.action.as_deref(), Some("s3:GetObject"));
        assert_eq!(q.request.scheme.as_deref(), Some("https"));
        assert!(q.source_ip.is_none() && q.context.is_empty());
        assert_eq!(ours(BENCH.as_bytes()), serde(BENCH.as_bytes()));
    }

    #[test]
    fn a_plain_string_ends_at_its_quote_and_nothing_else_is_plain() {
        for n in 0..70 {
            let body = "a".repeat(n);
            assert_eq!(plain_len(format!("{body}\"x\"").as_bytes()), Some(n), "{n}");
            assert_eq!(plain_len(body.as_bytes()), None, "unclosed {n}");
            for bad in ["\\\"", "\n\"", "\u{1f}\""] {
                assert_eq!(
                    plain_len(format!("{body}{bad}").as_bytes()),
                    None,
                    "{n} {bad:?}"
                );
            }
        }
        assert_eq!(plain_len("é\u{7f} ~\"".as_bytes()), Some(5));
        // Whatever follows the quote does not count.
        assert_eq!(plain_len(b"ab\"\\\x01"), Some(2));
        assert_eq!(plain_len(b"abcdefghijklmnopqrstu\"\\"), Some(21));
    }

    proptest! {
        #[test]
        fn a_plain_string_ends_where_a_byte_loop_says(bytes in proptest::collection::vec(
            prop_oneof![8 => 0x20_u8..=0xff, 1 => Just(b'"'), 1 => Just(b'\\'), 1 => 0_u8..0x20],
            0..80,
        )) {
            let first = bytes.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
            let want = first.filter(|&i| bytes[i] == b'"');
            prop_assert_eq!(plain_len(&bytes), want);
        }
    }

    #[test]
    fn other_shapes_go_to_serde() {
        for body in [
            // An escape, a control character, a context, a repeated or unknown field, a
            // missing one, trailing bytes, a trailing comma, a number where a string goes.
            BENCH.replace("/key.txt", r"/key\u002etxt"),
            BENCH.replace("/key.txt", "/key\u{1}.txt"),
            BENCH.replace(
                r#""service""#,
                r#""context": {"s3:prefix": "a"}, "service""#,
            ),
            BENCH.replace(r#""service""#, r#""action": null, "service""#),
            BENCH.replace(r#""service""#, r#""extra": "x", "service""#),
            BENCH.replace(r#""method": "GET", "#, ""),
            format!("{BENCH} x"),
            BENCH.replace(r#""https"}"#, r#""https",}"#),
            BENCH.replace(r#""s3:GetObject""#, "12"),
            BENCH.replace(r#"["host", "bucket.s3.local"]"#, r#"["host", "b", "c"]"#),
        ] {
            assert!(plain(&body).is_none(), "{body}");
            assert_eq!(ours(body.as_bytes()), serde(body.as_bytes()), "{body}");
        }
        let mut bad = BENCH.as_bytes().to_vec();
        bad[40] = 0xff;
        assert!(
            ours(&bad)
                .unwrap_err()
                .contains("invalid unicode code point")
        );
        assert_eq!(ours(&bad), serde(&bad));
    }

    /// A JSON value of the kinds a question has, and some it must not.
    fn value() -> BoxedStrategy<String> {
        prop_oneof![
            100 => "[a-z:/ .é-]{0,6}".prop_map(|s| serde_json::to_string(&s).unwrap()),
            2 => "[a-z\\\\\"\u{1}é]{1,4}".prop_map(|s| serde_json::to_string(&s).unwrap()),
            1 => Just("\"a\\/b\"".to_owned()),
            1 => Just("null".to_owned()),
            1 => Just("12".to_owned()),
            1 => Just("{}".to_owned()),
            1 => Just("[]".to_owned()),
            1 => Just("nul".to_owned()),
            1 => Just(r#"[["h", "v"], ["x-a", "b c"]]"#.to_owned()),
            1 => Just(r#"[["h", "v", "w"]]"#.to_owned()),
            1 => Just(r#"[["h"]]"#.to_owned()),
            1 => Just(r#"{"s3:prefix": ["a", 1]}"#.to_owned()),
        ]
        .boxed()
    }

    fn ws() -> impl Strategy<Value = &'static str> {
        prop_oneof![6 => Just(""), 1 => Just(" "), 1 => Just("\n\t"), 1 => Just("\r ")]
    }

    /// An object of most of `keys` in any order, `nested` (whose value is `inner`) among
    /// them, and sometimes a stray or repeated member.
    fn object(
        keys: &'static [&'static str],
        nested: &'static str,
        inner: BoxedStrategy<String>,
    ) -> BoxedStrategy<String> {
        let val = |k: &str| {
            if k == nested {
                prop_oneof![4 => inner.clone(), 1 => value()].boxed()
            } else {
                value()
            }
        };
        let members: Vec<_> = keys
            .iter()
            .map(|k| proptest::option::weighted(0.9, (Just((*k).to_owned()), val(k), ws(), ws())))
            .collect();
        let stray_key = prop_oneof![
            proptest::sample::select(keys).prop_map(str::to_owned),
            Just("other".to_owned()),
            Just("context".to_owned()),
            Just("meth\\u006fd".to_owned()),
        ];
        let stray = proptest::option::weighted(0.2, (stray_key, value(), ws(), ws()));
        (members, stray)
            .prop_flat_map(|(ms, s)| {
                let all: Vec<_> = ms.into_iter().flatten().chain(s).collect();
                Just(all).prop_shuffle()
            })
            .prop_map(|ms| {
                let body: Vec<String> = ms
                    .into_iter()
                    .map(|(k, v, a, b)| format!("{a}\"{k}\"{b}:{a}{v}{b}"))
                    .collect();
                format!("{{{}}}", body.join(","))
            })
            .boxed()
    }

    fn question() -> impl Strategy<Value = String> {
        let headers = prop_oneof![
            Just(r#"[["host", "b.s3.local"], ["authorization", "AWS4 x=y"]]"#.to_owned()),
            Just("[ ]".to_owned()),
            value(),
        ];
        let request = object(
            &[
                "method",
                "path",
                "query",
                "headers",
                "payload_hash",
                "scheme",
            ],
            "headers",
            headers.boxed(),
        );
        (
            object(
                &[
                    "request",
                    "service",
                    "action",
                    "resource",
                    "resource_account",
                    "source_ip",
                ],
                "request",
                request,
            ),
            ws(),
        )
            .prop_map(|(q, w)| format!("{w}{q}{w}"))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn reads_every_body_as_serde_does(q in question(), cut in any::<prop::sample::Index>(), how in 0..4_u8) {
            let mut body = q.into_bytes();
            let n = body.len();
            match how {
                0 => {}
                1 => body.truncate(cut.index(n + 1)),
                2 if n > 0 => body[cut.index(n)] = b'"',
                _ if n > 0 => body[cut.index(n)] = 0xc3,
                _ => {}
            }
            prop_assert_eq!(ours(&body), serde(&body));
        }

        #[test]
        fn reads_full_questions_as_serde_does(
            method in "[A-Z]{1,6}", path in "/[a-z.\\\\]{0,8}", token in "[A-Za-z0-9+/=\\\\]{0,300}",
            scheme in prop_oneof![Just("null".to_owned()), Just("\"https\"".to_owned()), Just("\"ftp\"".to_owned())],
            w in ws(),
        ) {
            let body = format!(
                r#"{w}{{"request":{{"method":{m},"path":{p},"headers":[["x-amz-security-token",{t}]],{w}"payload_hash":"UNSIGNED-PAYLOAD","scheme":{scheme}}},"service":"s3","action":"s3:GetObject","source_ip":"10.0.0.1"}}{w}"#,
                m = serde_json::to_string(&method).unwrap(),
                p = serde_json::to_string(&path).unwrap(),
                t = serde_json::to_string(&token).unwrap(),
            );
            prop_assert_eq!(ours(body.as_bytes()), serde(body.as_bytes()));
            if !path.contains('\\') && !token.contains('\\') {
                prop_assert!(plain(&body).is_some(), "{}", body);
            }
        }
    }
}
