//! Fuzz the policy parser: never panics, and accepted documents round-trip canonically and
//! evaluate without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sekisho::policy::{
    ParseOptions, PolicyId, PolicyKind, PolicySet, Request, RequestPrincipal, evaluate, parse,
    parse_with,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for kind in [
        PolicyKind::Identity,
        PolicyKind::Resource,
        PolicyKind::Trust,
        PolicyKind::Session,
    ] {
        if let Ok(p) = parse(text, kind) {
            // The canonical form may be longer (arrays), so quotas are not re-checked.
            let opts = ParseOptions {
                max_size: None,
                aws_managed: true,
            };
            let again = parse_with(&p.to_json(), kind, opts).expect("canonical form must re-parse");
            assert_eq!(again.to_json(), p.to_json());
            let req = Request {
                principal: RequestPrincipal::from_arn("arn:aws:iam::111122223333:user/alice"),
                action: "s3:GetObject".into(),
                resource: "arn:aws:s3:::b/k".into(),
                ..Request::default()
            };
            let _ = evaluate(
                &req,
                &PolicySet {
                    identity: vec![(PolicyId("f".into()), &p)],
                    ..PolicySet::default()
                },
            );
        }
    }
});
