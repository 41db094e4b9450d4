//! Virtual MFA end to end through `aws-sdk-iam` and `aws-sdk-sts`, with the server's clock
//! fixed: RFC 6238 vectors from the shared corpus, the device lifecycle, MFA sessions and the
//! "require MFA" trust pattern (chained too), single-use codes and the window edges,
//! throttling, foreign serials, root devices, and the race — two requests with the same fresh
//! code, exactly one wins — on the memory, embedded and Redis stores.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests"
)]

mod common;

use chrono::{DateTime, Duration, Utc};
use common::{ADMIN, ALICE, BOB, code, message};
use sekisho::clock::Clock;
use sekisho::config::Backend;
use sekisho::mfa::totp::{self, Seed};

const DEV: &str = "111111111111";
const PROD_MFA: &str = "arn:aws:iam::222222222222:role/prod-mfa";
const PROD_MFA_CHAIN: &str = "arn:aws:iam::222222222222:role/prod-mfa-chain";
const INVALID: &str = "MultiFactorAuthentication failed with invalid MFA one time pass code.";
const ROOT3: (&str, &str) = (
    "AKIAZ7QKROOTROOTROOT",
    "rootSecretKeyrootSecretKeyrootSecretKey0",
);

/// The test bootstrap plus two MFA-protected roles in prod and a third account with root keys.
fn bootstrap() -> String {
    format!(
        r#"{}
[[accounts.roles]]
name = "prod-mfa"
trust_policy = '{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::111111111111:root"}},"Action":"sts:AssumeRole","Condition":{{"Bool":{{"aws:MultiFactorAuthPresent":"true"}},"NumericLessThan":{{"aws:MultiFactorAuthAge":"3600"}}}}}}]}}'
inline_policies.all = '{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*","Condition":{{"BoolIfExists":{{"aws:MultiFactorAuthPresent":"true"}}}}}}]}}'
[[accounts.roles]]
name = "prod-mfa-chain"
trust_policy = '{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::222222222222:role/prod-mfa"}},"Action":"sts:AssumeRole","Condition":{{"Bool":{{"aws:MultiFactorAuthPresent":"true"}}}}}}]}}'

[[accounts]]
id = "333333333333"
root_access_keys = [{{ id = "{}", secret = "{}" }}]
"#,
        common::BOOTSTRAP,
        ROOT3.0,
        ROOT3.1
    )
}

/// An authenticator app: the seed, and codes relative to the server's clock.
struct App {
    seed: Seed,
    serial: String,
}

impl App {
    fn code_at(&self, t: DateTime<Utc>, steps: i64) -> String {
        let step = totp::step_at(t.timestamp()).unwrap();
        totp::code_at_step(&self.seed, step.checked_add_signed(steps).unwrap())
    }
}

/// Sets the clock 5 s into a step, so ±steps land where the test means them to.
fn align(s: &common::Server) -> DateTime<Utc> {
    let now = s.clock.now().timestamp();
    let t = now - now.rem_euclid(30) + 35;
    let at = DateTime::from_timestamp(t, 0).unwrap();
    s.clock.set(at);
    at
}

/// Creates a virtual device named `name` (as `who`) and returns the authenticator for it.
async fn create(s: &common::Server, who: (&str, &str), name: &str) -> App {
    let iam = s.iam(who.0, who.1, None);
    let out = iam
        .create_virtual_mfa_device()
        .virtual_mfa_device_name(name)
        .send()
        .await
        .unwrap();
    let d = out.virtual_mfa_device().unwrap();
    let seed_text = std::str::from_utf8(d.base32_string_seed().unwrap().as_ref())
        .unwrap()
        .to_owned();
    let png = d.qr_code_png().unwrap().as_ref();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    App {
        seed: Seed::from_base32(&seed_text).unwrap(),
        serial: d.serial_number().to_owned(),
    }
}

/// Creates a device for `user` (by the admin) and enables it with the codes of the steps before
/// and at the clock's step; the clock then moves one step on, so the next step's code is fresh.
async fn enrolled(s: &common::Server, user: &str) -> App {
    let app = create(s, ADMIN, user).await;
    let t = align(s);
    s.iam(ADMIN.0, ADMIN.1, None)
        .enable_mfa_device()
        .user_name(user)
        .serial_number(&app.serial)
        .authentication_code1(app.code_at(t, -1))
        .authentication_code2(app.code_at(t, 0))
        .send()
        .await
        .unwrap();
    s.clock.advance(Duration::seconds(30));
    app
}

#[test]
fn rfc6238_and_rfc4226_vectors_from_the_corpus() {
    let corpora = std::env::var("SEKISHO_CORPORA").map_or_else(
        |_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpora"),
        std::path::PathBuf::from,
    );
    let path = corpora.join("totp/rfc6238-rfc4226-vectors.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        common::skip(&format!(
            "{} not found (set SEKISHO_CORPORA)",
            path.display()
        ));
        return;
    };
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let rfc6238 = &v["rfc6238"];
    let seed_hex = rfc6238["seeds"]["SHA1"]["hex"].as_str().unwrap();
    let seed = Seed::new(hex::decode(seed_hex).unwrap());
    let b32 = rfc6238["seeds"]["SHA1"]["base32"].as_str().unwrap();
    let from_b32 = Seed::from_base32(b32).unwrap();
    let digits = u32::try_from(rfc6238["digits"].as_u64().unwrap()).unwrap();
    let mut checked = 0;
    for case in rfc6238["vectors"].as_array().unwrap() {
        // Virtual MFA devices are HMAC-SHA1 only.
        if case["algorithm"] != "SHA1" {
            continue;
        }
        let t = case["unix_time"].as_i64().unwrap();
        let want = case["totp"].as_str().unwrap();
        let step = totp::step_at(t).unwrap();
        assert_eq!(
            format!("{step:016X}"),
            case["T_hex"].as_str().unwrap(),
            "{t}"
        );
        assert_eq!(totp::hotp(&seed, step, digits), want, "{t}");
        assert_eq!(totp::hotp(&from_b32, step, digits), want, "{t}");
        // What a six-digit app shows is the low six digits, and it verifies at that time.
        let six = &want[want.len() - 6..];
        let c = totp::Code::parse(six).unwrap();
        assert_eq!(totp::verify(&seed, &c, t, 0, None), Ok(step), "{t}");
        checked += 1;
    }
    assert_eq!(checked, 6);
    let rfc4226 = &v["rfc4226"];
    let seed = Seed::new(
        rfc4226["secret_ascii"]
            .as_str()
            .unwrap()
            .as_bytes()
            .to_vec(),
    );
    for case in rfc4226["vectors"].as_array().unwrap() {
        let counter = case["counter"].as_u64().unwrap();
        assert_eq!(
            totp::hotp(&seed, counter, 6),
            case["hotp"].as_str().unwrap()
        );
    }
}

#[tokio::test]
async fn device_lifecycle_with_the_sdk() {
    let s = common::start_with(&bootstrap()).await;
    let iam = s.iam(ADMIN.0, ADMIN.1, None);
    let app = create(&s, ADMIN, "alice").await;
    assert_eq!(app.serial, format!("arn:aws:iam::{DEV}:mfa/alice"));
    let e = iam
        .create_virtual_mfa_device()
        .virtual_mfa_device_name("ALICE")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "EntityAlreadyExists");
    let listed = iam.list_virtual_mfa_devices().send().await.unwrap();
    let d = &listed.virtual_mfa_devices()[0];
    assert_eq!(d.serial_number(), app.serial);
    assert!(d.base32_string_seed().is_none() && d.qr_code_png().is_none());
    assert!(d.user().is_none());

    // Wrong pairs: not consecutive, reversed, another device's codes.
    let t = align(&s);
    for (c1, c2) in [
        (app.code_at(t, -2), app.code_at(t, 0)),
        (app.code_at(t, 0), app.code_at(t, -1)),
        ("000000".to_owned(), "000000".to_owned()),
    ] {
        let e = iam
            .enable_mfa_device()
            .user_name("alice")
            .serial_number(&app.serial)
            .authentication_code1(c1)
            .authentication_code2(c2)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "InvalidAuthenticationCode");
    }
    // No such user; then enabled for alice.
    let e = iam
        .enable_mfa_device()
        .user_name("nobody")
        .serial_number(&app.serial)
        .authentication_code1(app.code_at(t, -1))
        .authentication_code2(app.code_at(t, 0))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchEntity");
    iam.enable_mfa_device()
        .user_name("alice")
        .serial_number(&app.serial)
        .authentication_code1(app.code_at(t, -1))
        .authentication_code2(app.code_at(t, 0))
        .send()
        .await
        .unwrap();
    // Enabling it again (for anyone) is refused.
    let e = iam
        .enable_mfa_device()
        .user_name("bob")
        .serial_number(&app.serial)
        .authentication_code1(app.code_at(t, 0))
        .authentication_code2(app.code_at(t, 1))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "EntityAlreadyExists");

    let l = iam
        .list_mfa_devices()
        .user_name("alice")
        .send()
        .await
        .unwrap();
    assert_eq!(l.mfa_devices().len(), 1);
    assert_eq!(l.mfa_devices()[0].user_name(), "alice");
    assert_eq!(l.mfa_devices()[0].serial_number(), app.serial);
    let g = iam
        .get_mfa_device()
        .serial_number(&app.serial)
        .send()
        .await
        .unwrap();
    assert_eq!(g.user_name(), Some("alice"));
    let e = iam
        .get_mfa_device()
        .serial_number(&app.serial)
        .user_name("bob")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchEntity");
    // Without iam: permissions, alice can neither create devices nor touch hers.
    let alice_iam = s.iam(ALICE.0, ALICE.1, None);
    let e = alice_iam
        .create_virtual_mfa_device()
        .virtual_mfa_device_name("mine")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    let e = alice_iam
        .deactivate_mfa_device()
        .serial_number(&app.serial)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    let assigned = iam
        .list_virtual_mfa_devices()
        .assignment_status(aws_sdk_iam::types::AssignmentStatusType::Assigned)
        .send()
        .await
        .unwrap();
    assert_eq!(
        assigned.virtual_mfa_devices()[0]
            .user()
            .map(aws_sdk_iam::types::User::user_name),
        Some("alice")
    );
    let unassigned = iam
        .list_virtual_mfa_devices()
        .assignment_status(aws_sdk_iam::types::AssignmentStatusType::Unassigned)
        .send()
        .await
        .unwrap();
    assert!(unassigned.virtual_mfa_devices().is_empty());
    let sum = iam.get_account_summary().send().await.unwrap();
    let m = sum.summary_map().unwrap();
    use aws_sdk_iam::types::SummaryKeyType as K;
    assert_eq!(m.get(&K::MfaDevices), Some(&1));
    assert_eq!(m.get(&K::MfaDevicesInUse), Some(&1));
    assert_eq!(m.get(&K::AccountMfaEnabled), Some(&0));

    // Tags.
    iam.tag_mfa_device()
        .serial_number(&app.serial)
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("k")
                .value("v")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let tags = iam
        .list_mfa_device_tags()
        .serial_number(&app.serial)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags()[0].key(), "k");
    iam.untag_mfa_device()
        .serial_number(&app.serial)
        .tag_keys("k")
        .send()
        .await
        .unwrap();

    // Deleting the user or the assigned device: DeleteConflict.
    let e = iam
        .delete_virtual_mfa_device()
        .serial_number(&app.serial)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "DeleteConflict");
    for k in iam
        .list_access_keys()
        .user_name("alice")
        .send()
        .await
        .unwrap()
        .access_key_metadata()
    {
        iam.delete_access_key()
            .user_name("alice")
            .access_key_id(k.access_key_id().unwrap())
            .send()
            .await
            .unwrap();
    }
    iam.delete_user_policy()
        .user_name("alice")
        .policy_name("assume")
        .send()
        .await
        .unwrap();
    let e = iam
        .delete_user()
        .user_name("alice")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "DeleteConflict");

    // Deactivate (only for its user), then both can go.
    let e = iam
        .deactivate_mfa_device()
        .user_name("bob")
        .serial_number(&app.serial)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchEntity");
    iam.deactivate_mfa_device()
        .user_name("alice")
        .serial_number(&app.serial)
        .send()
        .await
        .unwrap();
    iam.delete_virtual_mfa_device()
        .serial_number(&app.serial)
        .send()
        .await
        .unwrap();
    iam.delete_user().user_name("alice").send().await.unwrap();
    let e = iam
        .get_mfa_device()
        .serial_number(&app.serial)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchEntity");
    let sum = iam.get_account_summary().send().await.unwrap();
    assert_eq!(sum.summary_map().unwrap().get(&K::MfaDevices), Some(&0));

    // The seed never reached the audit file.
    // The writer flushes every 20 ms: wait for the last events of this test.
    let mut audit = String::new();
    for _ in 0..100 {
        audit = std::fs::read_to_string(&s.state.config.audit.path).unwrap_or_default();
        if audit.matches("\"GetAccountSummary\"").count() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let seed_text = app.seed.to_base32();
    assert!(!audit.contains(seed_text.expose()));
    assert!(
        !audit.contains("iVBORw0KGgo"),
        "no PNG (base64) in the audit"
    );
    for c in [app.code_at(t, -1), app.code_at(t, 0)] {
        assert!(
            !audit.contains(&format!("\"{c}\"")),
            "code {c} in the audit"
        );
    }
    assert!(audit.contains("CreateVirtualMFADevice"));
}

#[tokio::test]
async fn mfa_sessions_and_the_require_mfa_trust_policy() {
    let s = common::start_with(&bootstrap()).await;
    let app = enrolled(&s, "alice").await;
    let alice = s.sts(ALICE.0, ALICE.1, None);
    let t = s.clock.now();

    // Without MFA: refused by the trust policy.
    let e = alice
        .assume_role()
        .role_arn(PROD_MFA)
        .role_session_name("xx")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied", "{}", message(&e));

    // GetSessionToken with MFA, then AssumeRole with that session (the aws-vault flow).
    let st = alice
        .get_session_token()
        .serial_number(&app.serial)
        .token_code(app.code_at(t, 0))
        .send()
        .await
        .unwrap();
    let session = s.sts_from(st.credentials().unwrap());
    let r = session
        .assume_role()
        .role_arn(PROD_MFA)
        .role_session_name("mfa")
        .send()
        .await
        .unwrap();
    // The role session keeps MFA: it may chain into a role that requires it (decision 4), and
    // its own identity policy's `BoolIfExists` allows it.
    let role = s.sts_from(r.credentials().unwrap());
    role.assume_role()
        .role_arn(PROD_MFA_CHAIN)
        .role_session_name("chained")
        .send()
        .await
        .unwrap();

    // A session without MFA is refused; so is a role session without it.
    let plain = alice.get_session_token().send().await.unwrap();
    let e = s
        .sts_from(plain.credentials().unwrap())
        .assume_role()
        .role_arn(PROD_MFA)
        .role_session_name("xx")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");

    // MultiFactorAuthAge grows: an hour later the MFA session no longer passes `< 3600`.
    s.clock.advance(Duration::seconds(3600));
    let e = session
        .assume_role()
        .role_arn(PROD_MFA)
        .role_session_name("late")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");

    // AssumeRole with a code, straight from long-term keys.
    let now = s.clock.now();
    alice
        .assume_role()
        .role_arn(PROD_MFA)
        .role_session_name("direct")
        .serial_number(&app.serial)
        .token_code(app.code_at(now, 0))
        .send()
        .await
        .unwrap();
    // MFA sessions reach IAM; GetSessionToken sessions without MFA get InvalidClientTokenId.
    let c = plain.credentials().unwrap();
    let e = s
        .iam(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token()),
        )
        .list_users()
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidClientTokenId");
}

#[tokio::test]
async fn codes_are_single_use_and_the_window_is_one_step() {
    let s = common::start_with(&bootstrap()).await;
    let app = enrolled(&s, "alice").await;
    let alice = s.sts(ALICE.0, ALICE.1, None);
    let gst = |c: String| {
        alice
            .get_session_token()
            .serial_number(&app.serial)
            .token_code(c)
            .send()
    };
    let t = s.clock.now();
    // Two steps either side: outside the window.
    for d in [-2, 2] {
        let e = gst(app.code_at(t, d)).await.unwrap_err();
        assert_eq!(
            (code(&e), message(&e)),
            ("AccessDenied".into(), INVALID.into())
        );
    }
    // One step ahead: inside. Then that code again, and the earlier (current) step: refused.
    gst(app.code_at(t, 1)).await.unwrap();
    let e = gst(app.code_at(t, 1)).await.unwrap_err();
    assert_eq!(message(&e), INVALID);
    let e = gst(app.code_at(t, 0)).await.unwrap_err();
    assert_eq!(message(&e), INVALID);
    // The edges of the window, to the second, past the throttling period of those failures: at
    // the first second of step S+1 the code of step S-1 is refused; at the last second of step
    // S it is accepted.
    let s_step = totp::step_at(t.timestamp()).unwrap() + 11;
    let start = i64::try_from(s_step).unwrap() * 30;
    let at = |secs: i64| DateTime::from_timestamp(secs, 0).unwrap();
    let before = totp::code_at_step(&app.seed, s_step - 1);
    s.clock.set(at(start + 30));
    let e = gst(before.clone()).await.unwrap_err();
    assert_eq!(message(&e), INVALID);
    s.clock.set(at(start + 29));
    gst(before).await.unwrap();
}

#[tokio::test]
async fn wrong_codes_are_throttled_per_device() {
    let s = common::start_with(&bootstrap()).await;
    let alice_app = enrolled(&s, "alice").await;
    let bob_app = enrolled(&s, "bob").await;
    let alice = s.sts(ALICE.0, ALICE.1, None);
    let t = s.clock.now();
    let right = alice_app.code_at(t, 0);
    let wrong = format!(
        "{:06}",
        (right.parse::<u32>().unwrap() + 500_000) % 1_000_000
    );
    for _ in 0..5 {
        let e = alice
            .get_session_token()
            .serial_number(&alice_app.serial)
            .token_code(&wrong)
            .send()
            .await
            .unwrap_err();
        assert_eq!(message(&e), INVALID);
    }
    // Now even the right code is refused, with the same answer.
    let e = alice
        .get_session_token()
        .serial_number(&alice_app.serial)
        .token_code(&right)
        .send()
        .await
        .unwrap_err();
    assert_eq!(message(&e), INVALID);
    // Another device is not affected.
    s.sts(BOB.0, BOB.1, None)
        .get_session_token()
        .serial_number(&bob_app.serial)
        .token_code(bob_app.code_at(t, 0))
        .send()
        .await
        .unwrap();
    // Five minutes later the device works again.
    s.clock.advance(Duration::seconds(300));
    let t = s.clock.now();
    alice
        .get_session_token()
        .serial_number(&alice_app.serial)
        .token_code(alice_app.code_at(t, 0))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn serials_must_be_the_callers_devices() {
    let s = common::start_with(&bootstrap()).await;
    let bob_app = enrolled(&s, "bob").await;
    let spare = create(&s, ADMIN, "spare").await;
    let alice = s.sts(ALICE.0, ALICE.1, None);
    let t = s.clock.now();
    let unable = |e: &aws_sdk_sts::error::SdkError<_, _>| {
        assert_eq!(code(e), "AccessDenied");
        assert!(message(e).contains("unable to validate MFA code"), "{e:?}");
    };
    // Bob's device with its right code, an unassigned device, a missing one, another account's
    // ARN, a hardware serial: all "unable to validate".
    for serial in [
        bob_app.serial.clone(),
        spare.serial.clone(),
        format!("arn:aws:iam::{DEV}:mfa/nobody"),
        "arn:aws:iam::222222222222:mfa/bob".to_owned(),
        "GAHT12345678".to_owned(),
    ] {
        let e = alice
            .get_session_token()
            .serial_number(&serial)
            .token_code(bob_app.code_at(t, 0))
            .send()
            .await
            .unwrap_err();
        unable(&e);
    }
    // Bob's code was not consumed by those attempts.
    s.sts(BOB.0, BOB.1, None)
        .get_session_token()
        .serial_number(&bob_app.serial)
        .token_code(bob_app.code_at(t, 0))
        .send()
        .await
        .unwrap();
    // Malformed: ValidationError, the code not echoed; a code without a serial: refused.
    let e = alice
        .get_session_token()
        .serial_number(&bob_app.serial)
        .token_code("12a456")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationError");
    assert!(!message(&e).contains("12a456"));
    let e = alice
        .get_session_token()
        .token_code("123456")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    let e = alice
        .assume_role()
        .role_arn(PROD_MFA)
        .role_session_name("xx")
        .serial_number("arn:aws:iam::111111111111:user/bob")
        .token_code("123456")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationError");
}

#[tokio::test]
async fn the_root_has_devices_too() {
    let s = common::start_with(&bootstrap()).await;
    let app = create(&s, ROOT3, "root-account-mfa-device").await;
    let iam = s.iam(ROOT3.0, ROOT3.1, None);
    let t = align(&s);
    iam.enable_mfa_device()
        .serial_number(&app.serial)
        .authentication_code1(app.code_at(t, -1))
        .authentication_code2(app.code_at(t, 0))
        .send()
        .await
        .unwrap();
    let sum = iam.get_account_summary().send().await.unwrap();
    use aws_sdk_iam::types::SummaryKeyType as K;
    assert_eq!(
        sum.summary_map().unwrap().get(&K::AccountMfaEnabled),
        Some(&1)
    );
    let listed = iam.list_mfa_devices().send().await.unwrap();
    assert_eq!(listed.mfa_devices()[0].serial_number(), app.serial);
    let st = s
        .sts(ROOT3.0, ROOT3.1, None)
        .get_session_token()
        .serial_number(&app.serial)
        .token_code(app.code_at(t, 1))
        .send()
        .await
        .unwrap();
    let me = s
        .sts_from(st.credentials().unwrap())
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(me.arn(), Some("arn:aws:iam::333333333333:root"));
}

async fn race_on(backend: Backend, redis_url: Option<String>) {
    let s = common::start_configured(&bootstrap(), move |cfg| {
        cfg.store.backend = backend;
        if let Some(url) = redis_url {
            cfg.store.redis_url = url;
            cfg.store.namespace = format!("mfa-race-{}", uuid::Uuid::new_v4().simple());
        }
    })
    .await;
    let app = enrolled(&s, "alice").await;
    let a = s.sts(ALICE.0, ALICE.1, None);
    let b = s.sts(ALICE.0, ALICE.1, None);
    for round in 0..8 {
        let t = s.clock.now();
        let c = app.code_at(t, 0);
        let one = a
            .get_session_token()
            .serial_number(&app.serial)
            .token_code(&c)
            .send();
        let two = b
            .get_session_token()
            .serial_number(&app.serial)
            .token_code(&c)
            .send();
        let (x, y) = tokio::join!(one, two);
        let wins = usize::from(x.is_ok()) + usize::from(y.is_ok());
        assert_eq!(wins, 1, "round {round}: {x:?} / {y:?}");
        let lost = x.err().or(y.err()).unwrap();
        assert_eq!(message(&lost), INVALID);
        s.clock.advance(Duration::seconds(30));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fresh_code_wins_once_in_a_race_on_the_memory_store() {
    race_on(Backend::Memory, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fresh_code_wins_once_in_a_race_on_the_embedded_store() {
    race_on(Backend::Embedded, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fresh_code_wins_once_in_a_race_on_redis() {
    let url = match std::env::var("REDIS_URL") {
        Ok(u) if !u.is_empty() => u,
        _ => {
            common::skip("REDIS_URL not set (scripts/with-redis.sh starts one)");
            return;
        }
    };
    race_on(Backend::Redis, Some(url)).await;
}

/// The repository's compare-and-swap itself, without HTTP in between: `nodes` repositories
/// (each with its own read cache, as separate Sekisho nodes have) over one store, 16 concurrent
/// uses of the same fresh code per round: exactly one is accepted, the others are refused as
/// replays, in every round.
async fn repository_race(stores: Vec<std::sync::Arc<dyn sekisho::store::Kv>>) {
    use sekisho::iam::model::MfaDevice;
    use sekisho::iam::repo::MfaUse;
    use sekisho::mfa::guard::Refusal;
    use std::sync::Arc;

    let at_rest = sekisho::iam::at_rest::AtRestKey::ephemeral();
    let nodes: Vec<Arc<sekisho::iam::Iam>> = stores
        .into_iter()
        .map(|kv| {
            let cached: Arc<dyn sekisho::store::Kv> =
                sekisho::cache::CachedKv::new(kv, std::time::Duration::from_secs(60), 1000);
            Arc::new(sekisho::iam::Iam::new(
                cached,
                at_rest.clone(),
                Vec::new(),
                "aws",
            ))
        })
        .collect();
    let seed = Seed::generate();
    let now = DateTime::from_timestamp(1_800_000_015, 0).unwrap();
    let d = nodes[0]
        .create_mfa_device(
            MfaDevice {
                account: DEV.into(),
                name: "racer".into(),
                path: "/".into(),
                arn: String::new(),
                create_date: now,
                seed_sealed: String::new(),
                tags: Vec::new(),
                assigned: None,
            },
            &seed,
        )
        .await
        .unwrap();
    let step = totp::step_at(now.timestamp()).unwrap();
    let code = |s: u64| totp::Code::parse(&totp::code_at_step(&seed, s)).unwrap();
    nodes[0]
        .enable_mfa_device(
            DEV,
            "racer",
            &d.arn,
            "AIDARACER",
            &code(step - 1),
            &code(step),
            now,
        )
        .await
        .unwrap();
    for round in 1..=5u64 {
        let t = now.timestamp() + i64::try_from(round).unwrap() * 30;
        let c = code(step + round);
        let mut tasks = Vec::new();
        for i in 0..16 {
            let iam = nodes[i % nodes.len()].clone();
            let (arn, c) = (d.arn.clone(), c.clone());
            tasks.push(tokio::spawn(async move {
                iam.use_mfa_device(DEV, "racer", &arn, "AIDARACER", &c, t)
                    .await
                    .unwrap()
            }));
        }
        let mut accepted = 0;
        for task in tasks {
            match task.await.unwrap() {
                MfaUse::Accepted { step: s } => {
                    assert_eq!(s, step + round);
                    accepted += 1;
                }
                MfaUse::Refused(Refusal::Code(totp::Error::Replayed { .. })) => {}
                other => panic!("round {round}: {other:?}"),
            }
        }
        assert_eq!(accepted, 1, "round {round}");
    }
    // Another owner never gets to try the code.
    assert_eq!(
        nodes[0]
            .use_mfa_device(
                DEV,
                "racer",
                &d.arn,
                "AIDAOTHER",
                &code(step + 9),
                now.timestamp()
            )
            .await
            .unwrap(),
        MfaUse::NotAssigned
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_repository_accepts_a_code_once_under_concurrency_on_memory() {
    let kv: std::sync::Arc<dyn sekisho::store::Kv> =
        std::sync::Arc::new(sekisho::store::memory::MemoryKv::new());
    repository_race(vec![kv.clone(), kv]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_repository_accepts_a_code_once_under_concurrency_on_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let kv: std::sync::Arc<dyn sekisho::store::Kv> = std::sync::Arc::new(
        sekisho::store::embedded::EmbeddedKv::open(&dir.path().join("s.redb")).unwrap(),
    );
    repository_race(vec![kv.clone(), kv]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_repository_accepts_a_code_once_under_concurrency_on_redis_from_two_nodes() {
    let url = match std::env::var("REDIS_URL") {
        Ok(u) if !u.is_empty() => u,
        _ => {
            common::skip("REDIS_URL not set (scripts/with-redis.sh starts one)");
            return;
        }
    };
    let ns = format!("mfa-race-{}", uuid::Uuid::new_v4().simple());
    let mut nodes: Vec<std::sync::Arc<dyn sekisho::store::Kv>> = Vec::new();
    for _ in 0..2 {
        nodes.push(std::sync::Arc::new(
            sekisho::store::redis::RedisKv::connect(&url, &ns)
                .await
                .unwrap(),
        ));
    }
    repository_race(nodes).await;
}

#[tokio::test]
async fn device_tags_are_resource_tags_in_policies() {
    let s = common::start_with(&bootstrap()).await;
    let admin = s.iam(ADMIN.0, ADMIN.1, None);
    admin
        .put_user_policy()
        .user_name("bob")
        .policy_name("mfa")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[
              {"Effect":"Allow","Action":["iam:CreateVirtualMFADevice","iam:DeleteVirtualMFADevice","iam:TagMFADevice"],"Resource":"*"},
              {"Effect":"Deny","Action":"iam:DeleteVirtualMFADevice","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/protected":"yes"}}},
              {"Effect":"Deny","Action":"iam:CreateVirtualMFADevice","Resource":"*","Condition":{"Null":{"aws:RequestTag/team":"true"}}}]}"#,
        )
        .send()
        .await
        .unwrap();
    let bob = s.iam(BOB.0, BOB.1, None);
    let tag = |k: &str, v: &str| {
        aws_sdk_iam::types::Tag::builder()
            .key(k)
            .value(v)
            .build()
            .unwrap()
    };
    // A create without the required request tag is denied; with it, allowed.
    let e = bob
        .create_virtual_mfa_device()
        .virtual_mfa_device_name("b1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    let out = bob
        .create_virtual_mfa_device()
        .virtual_mfa_device_name("b1")
        .tags(tag("team", "x"))
        .send()
        .await
        .unwrap();
    let serial = out.virtual_mfa_device().unwrap().serial_number().to_owned();
    // Once tagged protected, the device cannot be deleted by bob.
    bob.tag_mfa_device()
        .serial_number(&serial)
        .tags(tag("protected", "yes"))
        .send()
        .await
        .unwrap();
    let e = bob
        .delete_virtual_mfa_device()
        .serial_number(&serial)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    admin
        .untag_mfa_device()
        .serial_number(&serial)
        .tag_keys("protected")
        .send()
        .await
        .unwrap();
    bob.delete_virtual_mfa_device()
        .serial_number(&serial)
        .send()
        .await
        .unwrap();
    // Gone, or never there (another path, another account): NoSuchEntity, in AWS's words.
    for missing in [
        serial.clone(),
        format!("arn:aws:iam::{DEV}:mfa/other/b1"),
        "arn:aws:iam::222222222222:mfa/b1".to_owned(),
    ] {
        let e = admin
            .list_mfa_device_tags()
            .serial_number(&missing)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "NoSuchEntity");
        assert!(message(&e).contains("doesn't exist"), "{}", message(&e));
        let e = admin
            .tag_mfa_device()
            .serial_number(&missing)
            .tags(tag("a", "b"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "NoSuchEntity");
    }
}
