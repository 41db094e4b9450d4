//! Fuzz the web identity token path: `idp::oidc::inspect` and `verify` on any text, against a
//! key set parsed from the input's first part (or a fixed one), and the tags/context
//! extraction behind them. Never panics; never accepts (no input can carry a valid signature
//! for the fixed keys); a second verification (the key set's signature memo) answers the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sekisho::idp::oidc::{self, KeySet, Rules};

/// RSA (an arbitrary 2048-bit modulus), P-256 and Ed25519 keys, in the shapes IdPs publish.
const JWKS: &str = r#"{"keys":[
 {"kty":"RSA","kid":"rsa1","alg":"RS256","use":"sig","e":"AQAB",
  "n":"xcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcU"},
 {"kty":"EC","kid":"ec1","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
  "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
 {"kty":"OKP","kid":"ed1","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
]}"#;

fuzz_target!(|data: &[u8]| {
    let (jwks, token) = match data.iter().position(|b| *b == 0) {
        Some(i) => (data.get(..i).unwrap_or_default(), data.get(i + 1..).unwrap_or_default()),
        None => (&[][..], data),
    };
    let keys = KeySet::parse(jwks)
        .or_else(|_| KeySet::parse(JWKS.as_bytes()))
        .unwrap_or_default();
    let token = String::from_utf8_lossy(token);
    let _ = oidc::inspect(&token);
    let ids = vec!["sts.amazonaws.com".to_owned()];
    for azp in [false, true] {
        let rules = Rules {
            issuer: "https://token.actions.githubusercontent.com",
            client_ids: &ids,
            azp_is_audience: azp,
            leeway_seconds: 300,
            max_age_seconds: 86400,
        };
        let first = oidc::verify(&token, &keys, &rules, 1_800_000_000);
        // The key set's signature memo never changes an answer.
        assert_eq!(first, oidc::verify(&token, &keys, &rules, 1_800_000_000));
        if let Ok(v) = first {
            // Unreachable without a private key; if it ever happens the rest must not panic.
            let _ = oidc::context::session_tags(&v);
            let mut ctx = sekisho::policy::Context::new();
            oidc::context::fill(&mut ctx, "token.actions.githubusercontent.com", &v);
        }
    }
});
