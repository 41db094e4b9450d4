#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
use super::decode::{Decoder, parts};
use super::*;

/// `raw` decoded pair by pair, in order, as `Params` decodes it.
fn decode_all(raw: &[u8]) -> Vec<(String, String)> {
    let mut out = "(before)".to_owned();
    let mut d = Decoder::new(raw, &mut out);
    let spans: Vec<_> = parts(raw)
        .map(|p| {
            let k = d.decode(p.start, p.name_end, &mut out);
            (k, d.decode(p.value_start, p.end, &mut out))
        })
        .collect();
    spans
        .into_iter()
        .map(|(k, v)| (at(&out, k).to_owned(), at(&out, v).to_owned()))
        .collect()
}

/// `raw` decoded by the `form_urlencoded` crate, the reference.
fn reference(raw: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(raw)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[test]
fn escapes_are_found_wherever_they_are() {
    // The forward search for escapes must find one in any piece, short or long, first or
    // last, whatever came before; with valid and invalid UTF-8 elsewhere in the body.
    for tail in [&b""[..], b"&z=\xff"] {
        for long in [3, 40] {
            let plain: Vec<u8> = (0..4)
                .flat_map(|i| {
                    let mut p = format!("k{i}=").into_bytes();
                    p.extend(std::iter::repeat_n(b'v', long));
                    p.push(b'&');
                    p
                })
                .chain(tail.iter().copied())
                .collect();
            assert_eq!(decode_all(&plain), reference(&plain));
            for at in 0..plain.len() {
                for esc in [&b"+"[..], b"%41", b"%", b"%e2%82%ac"] {
                    let mut raw = plain.clone();
                    raw.splice(at..at, esc.iter().copied());
                    assert_eq!(decode_all(&raw), reference(&raw), "{raw:?}");
                }
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
        assert_eq!(
            decode_all(raw),
            reference(raw),
            "{}",
            String::from_utf8_lossy(raw)
        );
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
        assert_eq!(decode_all(&raw), reference(&raw), "{raw:?}");
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

/// Raw names the generated requests are made of: list members of every shape (gaps, `01`,
/// missing fields, unknown fields, near-miss prefixes), bare list names, presign parameters,
/// escaped names, and plain ones.
const NAMES: &[&str] = &[
    "Action",
    "Version",
    "RoleArn",
    "Tags",
    "Tags.member.1.Key",
    "Tags.member.1.Value",
    "Tags.member.2.Key",
    "Tags.member.3.Value",
    "Tags.member.01.Key",
    "Tags.member.1",
    "Tags.member.x.Key",
    "Tags.member.1.Bogus",
    "Tags.membe",
    "Tags.member.",
    "Tags.memberx",
    "Tags%2Emember%2E2%2EValue",
    "Tag",
    "Tagsa",
    "Tags-",
    "PolicyArns",
    "PolicyArns.member.1.arn",
    "PolicyArns.member.2.arn",
    "TransitiveTagKeys",
    "TransitiveTagKeys.member.1",
    "TransitiveTagKeys.member.2",
    "TransitiveTagKeys.member.3",
    "TransitiveTagKeys.member.10",
    "TransitiveTagKeys.member.01",
    "X-Amz-Date",
    "x-amz-signature",
    "X-Amz-",
    "DurationSeconds",
    "Flag",
    "Fl+ag",
    "",
];

const VALUES: &[&str] = &[
    "",
    "a",
    "v+w",
    "%41b",
    "12",
    " 7 ",
    "true",
    "false",
    "x%zz",
    "%E2%82%AC",
];

/// What an action may ask of the parameters.
#[derive(Debug, Clone)]
enum Op {
    Peek(&'static str),
    Opt(&'static str),
    Req(&'static str),
    OptI64(&'static str),
    OptBool(&'static str),
    List(&'static str),
    ListGiven(&'static str),
    StructList(&'static str, &'static [&'static str]),
    Finish,
}

const ASKED: &[&str] = &[
    "Action",
    "RoleArn",
    "Tags",
    "Tag",
    "PolicyArns",
    "TransitiveTagKeys",
    "DurationSeconds",
    "Flag",
    "Tags.member.1.Key",
    "X-Amz-Date",
    "",
];

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    let name = || proptest::sample::select(ASKED);
    const FIELDS: &[&[&str]] = &[&["Key", "Value"], &["arn"], &[]];
    let fields = proptest::sample::select(FIELDS);
    prop_oneof![
        name().prop_map(Op::Peek),
        name().prop_map(Op::Opt),
        name().prop_map(Op::Req),
        name().prop_map(Op::OptI64),
        name().prop_map(Op::OptBool),
        name().prop_map(Op::List),
        name().prop_map(Op::ListGiven),
        (name(), fields).prop_map(|(n, f)| Op::StructList(n, f)),
        Just(Op::Finish),
    ]
}

/// A query string or body made of `NAMES` and `VALUES` (some parts without `=`, some empty).
fn raw() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    let part = (
        proptest::sample::select(NAMES),
        proptest::option::weighted(0.9, proptest::sample::select(VALUES)),
    )
        .prop_map(|(n, v)| match v {
            Some(v) => format!("{n}={v}"),
            None => n.to_owned(),
        });
    // Up to 20 parts each: above `SCAN` once a query string and a body are merged.
    proptest::collection::vec(part, 0..20).prop_map(|parts| parts.join("&").into_bytes())
}

/// Runs `op` on both and renders the answer (errors with code, message and detail).
fn answer(p: &mut Params, m: &mut super::model::Model, op: &Op) -> (String, String) {
    match *op {
        Op::Peek(n) => (format!("{:?}", p.peek(n)), format!("{:?}", m.peek(n))),
        Op::Opt(n) => (format!("{:?}", p.opt(n)), format!("{:?}", m.opt(n))),
        Op::Req(n) => (format!("{:?}", p.req(n)), format!("{:?}", m.req(n))),
        Op::OptI64(n) => (format!("{:?}", p.opt_i64(n)), format!("{:?}", m.opt_i64(n))),
        Op::OptBool(n) => (
            format!("{:?}", p.opt_bool(n)),
            format!("{:?}", m.opt_bool(n)),
        ),
        Op::List(n) => (format!("{:?}", p.list(n)), format!("{:?}", m.list(n))),
        Op::ListGiven(n) => (
            format!("{:?}", p.list_given(n)),
            format!("{:?}", m.list_given(n)),
        ),
        Op::StructList(n, f) => (
            format!("{:?}", p.struct_list(n, f)),
            format!("{:?}", m.struct_list(n, f)),
        ),
        Op::Finish => (format!("{:?}", p.finish()), format!("{:?}", m.finish())),
    }
}

fn all(p: &Params) -> Vec<(String, String)> {
    p.iter().map(|(k, v)| (k.into(), v.into())).collect()
}

fn all_model(m: &super::model::Model) -> Vec<(String, String)> {
    m.iter().map(|(k, v)| (k.into(), v.into())).collect()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]

    /// The sorted vector answers every question as the `BTreeMap` it replaced: decoding
    /// (a query string, then a body, into the same parameters), duplicates refused with what
    /// was decoded before them kept, every read, every list shape and error, `finish`, and
    /// `iter`'s order.
    #[test]
    fn params_answer_as_the_btreemap_model(
        query in raw(),
        body in raw(),
        ops in proptest::collection::vec(op(), 0..10),
    ) {
        let (mut p, mut m) = (Params::default(), super::model::Model::default());
        let (a, b) = (p.add_urlencoded(&query), m.add_urlencoded(&query));
        proptest::prop_assert_eq!(format!("{a:?}"), format!("{b:?}"));
        if a.is_ok() {
            let (a, b) = (p.add_urlencoded(&body), m.add_urlencoded(&body));
            proptest::prop_assert_eq!(format!("{a:?}"), format!("{b:?}"));
        }
        proptest::prop_assert_eq!(all(&p), all_model(&m));
        for op in &ops {
            let (got, want) = answer(&mut p, &mut m, op);
            proptest::prop_assert_eq!(got, want, "{:?}", op);
        }
        let (got, want) = answer(&mut p, &mut m, &Op::Finish);
        proptest::prop_assert_eq!(got, want);
        proptest::prop_assert_eq!(all(&p), all_model(&m));
    }

    /// Keys order as the texts do: comparing keys, then texts on a tie, is comparing texts.
    #[test]
    fn keys_order_as_the_texts(
        a in proptest::collection::vec(proptest::sample::select(&b"\0\x01Aa.z\xff"[..]), 0..12),
        b in proptest::collection::vec(proptest::sample::select(&b"\0\x01Aa.z\xff"[..]), 0..12),
    ) {
        proptest::prop_assert_eq!(key(&a), key_of(a.iter().copied()));
        let by_key = key(&a).cmp(&key(&b)).then_with(|| a.cmp(&b));
        proptest::prop_assert_eq!(by_key, a.cmp(&b));
    }

    /// `from_pairs` keeps the last value of a name given twice, as collecting into the map did.
    #[test]
    fn from_pairs_answers_as_the_model(
        pairs in proptest::collection::vec(
            (proptest::sample::select(NAMES), proptest::sample::select(VALUES)), 0..12),
    ) {
        let p = Params::from_pairs(pairs.clone());
        let m = super::model::Model::from_pairs(pairs);
        proptest::prop_assert_eq!(all(&p), all_model(&m));
    }
}

/// Around `MAX_PARAMS`: the bound, a duplicate before and after it, presign parameters that do
/// not count, and a body that overflows what the query string started. Each answers (error and
/// what is kept for the audit) as the model.
#[test]
fn the_parameter_bound_and_duplicates_answer_as_the_model() {
    let many = |n: usize| -> Vec<String> { (0..n).map(|i| format!("P{i}=v{i}")).collect() };
    let mut cases: Vec<(String, String)> = Vec::new();
    for n in [MAX_PARAMS - 1, MAX_PARAMS, MAX_PARAMS + 1, MAX_PARAMS + 5] {
        cases.push((many(n).join("&"), String::new()));
        let mut with_auth = many(n);
        with_auth.insert(3, "X-Amz-Signature=s".into());
        cases.push((with_auth.join("&"), String::new()));
        for dup_at in [
            1,
            MAX_PARAMS - 2,
            MAX_PARAMS - 1,
            MAX_PARAMS,
            MAX_PARAMS + 2,
        ] {
            let mut v = many(n);
            if dup_at <= v.len() {
                v.insert(dup_at, "P0=again".into());
                cases.push((v.join("&"), String::new()));
            }
        }
        let half = many(n);
        let (q, b) = half.split_at(n / 2);
        cases.push((q.join("&"), b.join("&")));
        cases.push((q.join("&"), format!("{}&P1=x", b.join("&"))));
    }
    for (query, body) in &cases {
        let (mut p, mut m) = (Params::default(), super::model::Model::default());
        let (a, b) = (
            p.add_urlencoded(query.as_bytes()),
            m.add_urlencoded(query.as_bytes()),
        );
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        let (a, b) = (
            p.add_urlencoded(body.as_bytes()),
            m.add_urlencoded(body.as_bytes()),
        );
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        assert_eq!(all(&p), all_model(&m));
        assert_eq!(p.peek("P7"), m.peek("P7"));
    }
}

/// A duplicate is refused at its second occurrence, and what came before it is kept (the audit
/// records it); the first duplicate in arrival order is the one named.
#[test]
fn the_first_duplicate_is_named_and_earlier_parameters_are_kept() {
    let mut p = Params::default();
    let e = p.add_urlencoded(b"B=1&A=1&C=1&A=2&B=2&D=1").unwrap_err();
    assert_eq!(e.code, Code::MalformedQueryString);
    assert_eq!(e.message, "Parameter A is given more than once");
    assert_eq!(
        all(&p),
        [("A", "1"), ("B", "1"), ("C", "1")].map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
    let mut p = Params::default();
    p.add_urlencoded(b"Action=X&B=1").unwrap();
    let e = p.add_urlencoded(b"Z=1&B=2&Y=3").unwrap_err();
    assert_eq!(e.message, "Parameter B is given more than once");
    assert_eq!(
        p.iter().map(|(k, _)| k).collect::<Vec<_>>(),
        ["Action", "B", "Z"]
    );
    // An empty name with an empty value takes no room in the text, yet arrived before the
    // duplicate: it is kept.
    let mut p = Params::default();
    let e = p.add_urlencoded(b"Tag&=&Tag").unwrap_err();
    assert_eq!(e.message, "Parameter Tag is given more than once");
    assert_eq!(p.iter().collect::<Vec<_>>(), [("", ""), ("Tag", "")]);
}

/// The joined comparison answers as comparing with the concatenation.
#[test]
fn joined_comparison_is_comparison_with_the_concatenation() {
    let words = [
        "",
        "T",
        "Ta",
        "Tags",
        "Tags.",
        "Tags.member.",
        "Tags.member.1",
        "Tagz",
        "U",
    ];
    for s in words {
        for a in words {
            for b in ["", ".member.", "."] {
                assert_eq!(
                    cmp_joined(s, a, b),
                    s.cmp(&[a, b].concat()),
                    "{s:?} {a:?} {b:?}"
                );
            }
        }
    }
}
