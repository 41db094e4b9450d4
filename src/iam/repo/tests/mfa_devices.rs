//! Virtual MFA devices: sealed seeds, enabling (quota, in use), the owner index by unique id
//! (a rename keeps it; DeleteUser refuses), single-use codes, a state changed under a check,
//! deactivation and deletion.

use super::{ACCT, now, repo, user};
use crate::iam::model::MfaDevice;
use crate::iam::repo::{Dependants, Error, Limit, MAX_MFA_DEVICES_PER_USER, MfaUse};
use crate::mfa::guard::{DeviceState, Refusal};
use crate::mfa::totp::{self, Code, Seed};
use crate::store::{Batch, Check};

fn device(name: &str) -> MfaDevice {
    MfaDevice {
        account: ACCT.into(),
        name: name.into(),
        path: "/".into(),
        arn: String::new(),
        create_date: now(),
        seed_sealed: String::new(),
        tags: Vec::new(),
        assigned: None,
    }
}

fn step() -> u64 {
    totp::step_at(now().timestamp()).unwrap()
}

fn code(seed: &Seed, step: u64) -> Code {
    Code::parse(&totp::code_at_step(seed, step)).unwrap()
}

#[tokio::test]
async fn seeds_are_sealed_and_devices_enabled_once() {
    let (iam, kv) = repo();
    let seed = Seed::generate();
    let d = iam.create_mfa_device(device("Phone"), &seed).await.unwrap();
    assert_eq!(d.arn, format!("arn:aws:iam::{ACCT}:mfa/Phone"));
    let raw = kv.raw(&format!("mfa/{ACCT}/phone")).await.unwrap();
    assert!(!raw.contains(seed.to_base32().expose()), "sealed at rest");
    assert!(matches!(
        iam.create_mfa_device(device("PHONE"), &Seed::generate())
            .await
            .unwrap_err(),
        Error::AlreadyExists { kind: "mfa", .. }
    ));
    let alice = iam.create_user(user("alice", "/")).await.unwrap();
    let n = step();
    // Wrong pair: refused as a code error, nothing written.
    assert!(matches!(
        iam.enable_mfa_device(
            ACCT,
            "phone",
            &d.arn,
            &alice.id,
            &code(&seed, n),
            &code(&seed, n),
            now()
        )
        .await
        .unwrap_err(),
        Error::MfaCode(Refusal::Code(totp::Error::Invalid))
    ));
    assert!(kv.keys("mfao/").await.is_empty());
    // Another ARN for the same name (another path): no such device.
    assert!(matches!(
        iam.enable_mfa_device(
            ACCT,
            "phone",
            &format!("arn:aws:iam::{ACCT}:mfa/x/Phone"),
            &alice.id,
            &code(&seed, n - 1),
            &code(&seed, n),
            now()
        )
        .await
        .unwrap_err(),
        Error::MfaDeviceNotFound { .. }
    ));
    let e = iam
        .enable_mfa_device(
            ACCT,
            "phone",
            &d.arn,
            &alice.id,
            &code(&seed, n - 1),
            &code(&seed, n),
            now(),
        )
        .await
        .unwrap();
    assert!(e.is_assigned_to(&alice.id));
    assert_eq!(
        kv.keys("mfao/").await,
        vec![format!("mfao/{ACCT}/{}/phone", alice.id)]
    );
    let state: DeviceState =
        serde_json::from_str(&kv.raw(&format!("mfas/{ACCT}/phone")).await.unwrap()).unwrap();
    assert_eq!(state.last_step, Some(n), "the enabling codes are used");
    // In use: not again, not for anyone.
    assert!(matches!(
        iam.enable_mfa_device(
            ACCT,
            "phone",
            &d.arn,
            "AIDAOTHER",
            &code(&seed, n),
            &code(&seed, n + 1),
            now()
        )
        .await
        .unwrap_err(),
        Error::MfaDeviceInUse { .. }
    ));
    assert_eq!(iam.mfa_devices_in_use(ACCT).await.unwrap(), (1, false));
}

#[tokio::test]
async fn codes_are_used_once_and_only_by_the_owner() {
    let (iam, _) = repo();
    let seed = Seed::generate();
    let d = iam.create_mfa_device(device("p"), &seed).await.unwrap();
    let n = step();
    iam.enable_mfa_device(
        ACCT,
        "p",
        &d.arn,
        "AIDAA",
        &code(&seed, n - 1),
        &code(&seed, n),
        now(),
    )
    .await
    .unwrap();
    let t = now().timestamp() + 30;
    let use_ = |owner: &'static str, c: Code| {
        let iam = &iam;
        let arn = d.arn.clone();
        async move {
            iam.use_mfa_device(ACCT, "p", &arn, owner, &c, t)
                .await
                .unwrap()
        }
    };
    assert_eq!(use_("AIDAB", code(&seed, n + 1)).await, MfaUse::NotAssigned);
    assert_eq!(
        use_("AIDAA", code(&seed, n + 1)).await,
        MfaUse::Accepted { step: n + 1 }
    );
    assert_eq!(
        use_("AIDAA", code(&seed, n + 1)).await,
        MfaUse::Refused(Refusal::Code(totp::Error::Replayed { step: n + 1 }))
    );
    assert_eq!(
        use_("AIDAA", code(&seed, n)).await,
        MfaUse::Refused(Refusal::Code(totp::Error::Replayed { step: n }))
    );
    assert_eq!(
        use_("AIDAA", code(&seed, n + 2)).await,
        MfaUse::Accepted { step: n + 2 }
    );
}

#[tokio::test]
async fn a_state_changed_under_the_check_is_read_again() {
    let (iam, kv) = repo();
    let seed = Seed::generate();
    let d = iam.create_mfa_device(device("p"), &seed).await.unwrap();
    let n = step();
    iam.enable_mfa_device(
        ACCT,
        "p",
        &d.arn,
        "AIDAA",
        &code(&seed, n - 1),
        &code(&seed, n),
        now(),
    )
    .await
    .unwrap();
    // Another node accepts step n+1 between this node's read and its commit.
    let key = format!("mfas/{ACCT}/p");
    let raw = kv.raw(&key).await.unwrap().into_bytes();
    let mut used: DeviceState = serde_json::from_str(&kv.raw(&key).await.unwrap()).unwrap();
    used.last_step = Some(n + 1);
    let used = serde_json::to_vec(&used).unwrap();
    kv.race(
        Batch::new()
            .check(Check::Equals(key.clone(), raw))
            .put(key.clone(), used),
    );
    let t = now().timestamp() + 30;
    assert_eq!(
        iam.use_mfa_device(ACCT, "p", &d.arn, "AIDAA", &code(&seed, n + 1), t)
            .await
            .unwrap(),
        MfaUse::Refused(Refusal::Code(totp::Error::Replayed { step: n + 1 }))
    );
}

#[tokio::test]
async fn owners_are_unique_ids_renames_keep_devices_and_deletes_are_guarded() {
    let (iam, kv) = repo();
    let alice = iam.create_user(user("alice", "/")).await.unwrap();
    let n = step();
    let mut serials = Vec::new();
    for i in 0..=MAX_MFA_DEVICES_PER_USER {
        let seed = Seed::generate();
        let name = format!("d{i}");
        let d = iam.create_mfa_device(device(&name), &seed).await.unwrap();
        let r = iam
            .enable_mfa_device(
                ACCT,
                &name,
                &d.arn,
                &alice.id,
                &code(&seed, n - 1),
                &code(&seed, n),
                now(),
            )
            .await;
        if i < MAX_MFA_DEVICES_PER_USER {
            r.unwrap();
            serials.push((name, d.arn));
        } else {
            assert!(matches!(
                r.unwrap_err(),
                Error::LimitExceeded(Limit::MfaDevicesPerUser(8))
            ));
        }
    }
    // A rename keeps the devices (the index is by unique id).
    iam.rename::<crate::iam::model::User>(ACCT, "alice", Some("alicia"), None)
        .await
        .unwrap();
    assert_eq!(iam.mfa_devices_of(ACCT, &alice.id).await.unwrap().len(), 8);
    assert!(matches!(
        iam.delete_user(ACCT, "alicia").await.unwrap_err(),
        Error::DeleteConflict(Dependants::MfaDevices)
    ));
    let (name, arn) = &serials[0];
    assert!(matches!(
        iam.delete_mfa_device(ACCT, name, arn).await.unwrap_err(),
        Error::DeleteConflict(Dependants::MfaDevices)
    ));
    // Deactivation is for the owner only, and removes state and index in one batch.
    assert!(matches!(
        iam.deactivate_mfa_device(ACCT, name, arn, "AIDAOTHER")
            .await
            .unwrap_err(),
        Error::MfaDeviceNotFound { .. }
    ));
    for (name, arn) in &serials {
        iam.deactivate_mfa_device(ACCT, name, arn, &alice.id)
            .await
            .unwrap();
    }
    assert!(kv.keys("mfao/").await.is_empty());
    // The states stay, naming no owner: the steps used stay used.
    for k in kv.keys("mfas/").await {
        let st: DeviceState = serde_json::from_str(&kv.raw(&k).await.unwrap()).unwrap();
        assert_eq!((st.owner, st.last_step), (None, Some(n)));
    }
    iam.delete_mfa_device(ACCT, name, arn).await.unwrap();
    assert_eq!(kv.keys("mfas/").await.len(), MAX_MFA_DEVICES_PER_USER - 1);
    assert!(iam.mfa_device(ACCT, name).await.unwrap().is_none());
    iam.delete_user(ACCT, "alicia").await.unwrap();
    // A deactivated device's codes are not checked at all.
    let (other, other_arn) = &serials[1];
    assert_eq!(
        iam.use_mfa_device(
            ACCT,
            other,
            other_arn,
            &alice.id,
            &code(&Seed::generate(), n),
            now().timestamp()
        )
        .await
        .unwrap(),
        MfaUse::NotAssigned
    );
}

#[tokio::test]
async fn the_root_owns_devices_under_the_account_id() {
    let (iam, _) = repo();
    let seed = Seed::generate();
    let d = iam
        .create_mfa_device(device("root-mfa"), &seed)
        .await
        .unwrap();
    let n = step();
    iam.enable_mfa_device(
        ACCT,
        "root-mfa",
        &d.arn,
        ACCT,
        &code(&seed, n - 1),
        &code(&seed, n),
        now(),
    )
    .await
    .unwrap();
    assert_eq!(iam.mfa_devices_in_use(ACCT).await.unwrap(), (1, true));
    assert_eq!(iam.mfa_devices_of(ACCT, ACCT).await.unwrap().len(), 1);
}

#[tokio::test]
async fn codes_stay_used_across_deactivation_and_re_enabling() {
    let (iam, _) = repo();
    let seed = Seed::generate();
    let d = iam.create_mfa_device(device("p"), &seed).await.unwrap();
    let n = step();
    let enable = |owner: &'static str, a: u64, b: u64| {
        let (iam, arn, seed) = (&iam, d.arn.clone(), seed.clone());
        async move {
            iam.enable_mfa_device(
                ACCT,
                "p",
                &arn,
                owner,
                &code(&seed, a),
                &code(&seed, b),
                now(),
            )
            .await
        }
    };
    enable("AIDAA", n - 1, n).await.unwrap();
    let t = now().timestamp() + 30;
    assert_eq!(
        iam.use_mfa_device(ACCT, "p", &d.arn, "AIDAA", &code(&seed, n + 1), t)
            .await
            .unwrap(),
        MfaUse::Accepted { step: n + 1 }
    );
    iam.deactivate_mfa_device(ACCT, "p", &d.arn, "AIDAA")
        .await
        .unwrap();
    // Re-enabled (for someone else) with a pair at or before the used step: refused as reuse.
    assert!(matches!(
        enable("AIDAB", n, n + 1).await.unwrap_err(),
        Error::MfaCode(Refusal::Code(totp::Error::Replayed { .. }))
    ));
    enable("AIDAB", n + 2, n + 3).await.unwrap();
    // The old owner's codes no longer count; the new owner's next code does.
    assert_eq!(
        iam.use_mfa_device(ACCT, "p", &d.arn, "AIDAA", &code(&seed, n + 4), t + 60)
            .await
            .unwrap(),
        MfaUse::NotAssigned
    );
    assert_eq!(
        iam.use_mfa_device(ACCT, "p", &d.arn, "AIDAB", &code(&seed, n + 4), t + 60)
            .await
            .unwrap(),
        MfaUse::Accepted { step: n + 4 }
    );
}

#[tokio::test]
async fn a_deactivation_between_read_and_commit_wins() {
    let (iam, kv) = repo();
    let seed = Seed::generate();
    let d = iam.create_mfa_device(device("p"), &seed).await.unwrap();
    let n = step();
    iam.enable_mfa_device(
        ACCT,
        "p",
        &d.arn,
        "AIDAA",
        &code(&seed, n - 1),
        &code(&seed, n),
        now(),
    )
    .await
    .unwrap();
    // The device record was read as assigned; the state is deactivated just before the commit.
    let key = format!("mfas/{ACCT}/p");
    let raw = kv.raw(&key).await.unwrap();
    let st: DeviceState = serde_json::from_str(&raw).unwrap();
    kv.race(
        Batch::new()
            .check(Check::Equals(key.clone(), raw.into_bytes()))
            .put(key.clone(), serde_json::to_vec(&st.deactivated()).unwrap()),
    );
    assert_eq!(
        iam.use_mfa_device(
            ACCT,
            "p",
            &d.arn,
            "AIDAA",
            &code(&seed, n + 1),
            now().timestamp() + 30
        )
        .await
        .unwrap(),
        MfaUse::NotAssigned
    );
}
