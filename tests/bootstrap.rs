//! The declarative bootstrap: idempotent, leaves API changes to undeclared entities alone,
//! brings declared attributes back, survives restarts of a durable store.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::sync::Arc;

use chrono::Utc;
use sekisho::iam::Iam;
use sekisho::iam::at_rest::AtRestKey;
use sekisho::iam::bootstrap::{BootstrapFile, apply};
use sekisho::iam::model::{Origin, User};
use sekisho::iam::repo::EntityKind;
use sekisho::store::Kv;
use sekisho::store::embedded::EmbeddedKv;
use sekisho::store::memory::MemoryKv;

const FILE: &str = r#"
[[accounts]]
id = "111111111111"
alias = "dev"
[[accounts.policies]]
name = "ReadS3"
document = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}]}'
[[accounts.groups]]
name = "devs"
attached_policies = ["ReadS3"]
[[accounts.users]]
name = "alice"
groups = ["devs"]
tags = { team = "a" }
[[accounts.users.access_keys]]
id = "AKIARTXV5AHD2JZALICE"
secret = "aliceSecretKeyaliceSecretKeyaliceSecret0"
[[accounts.users]]
name = "carol"
[[accounts.users.access_keys]]
generate = true
[[accounts.roles]]
name = "ops"
trust_policy = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:user/alice"},"Action":"sts:AssumeRole"}]}'
"#;

fn iam(kv: Arc<dyn Kv>, key: AtRestKey) -> Iam {
    Iam::new(kv, key, Vec::new(), "aws")
}

#[tokio::test]
async fn applying_twice_changes_nothing_and_keys_are_generated_once() {
    let file: BootstrapFile = toml::from_str(FILE).unwrap();
    let iam = iam(Arc::new(MemoryKv::new()), AtRestKey::ephemeral());
    let first = apply(&iam, &file, Utc::now()).await.unwrap();
    assert!(first.changed.len() >= 6, "{:?}", first.changed);
    assert_eq!(first.generated_keys.len(), 1, "carol's key is generated");
    let second = apply(&iam, &file, Utc::now()).await.unwrap();
    assert!(
        second.changed.is_empty(),
        "re-apply wrote: {:?}",
        second.changed
    );
    assert!(second.generated_keys.is_empty());

    let alice = iam.user("111111111111", "ALICE").await.unwrap().unwrap();
    assert_eq!(alice.origin, Origin::Bootstrap);
    assert_eq!(alice.groups, vec!["devs"]);
    let role = iam.role("111111111111", "ops").await.unwrap().unwrap();
    assert_eq!(
        role.trust_principal_ids
            .get("arn:aws:iam::111111111111:user/alice"),
        Some(&alice.id)
    );
    let found = iam
        .access_key("AKIARTXV5AHD2JZALICE")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.key.user.as_deref(), Some("alice"));
    assert_eq!(
        found.secret.expose(),
        "aliceSecretKeyaliceSecretKeyaliceSecret0"
    );
}

#[tokio::test]
async fn api_changes_to_undeclared_entities_survive_and_declared_attributes_come_back() {
    let file: BootstrapFile = toml::from_str(FILE).unwrap();
    let kv: Arc<dyn Kv> = Arc::new(MemoryKv::new());
    let iam = iam(kv, AtRestKey::ephemeral());
    apply(&iam, &file, Utc::now()).await.unwrap();
    // An entity the file does not declare, made through the repository as the API does.
    let now = Utc::now();
    iam.create_user(User {
        account: "111111111111".into(),
        name: "dave".into(),
        path: "/".into(),
        id: sekisho::ids::new_unique_id("AIDA", "111111111111"),
        arn: String::new(),
        create_date: now,
        tags: Vec::new(),
        permissions_boundary: None,
        inline_policies: Default::default(),
        attached_policies: Vec::new(),
        groups: Vec::new(),
        origin: Origin::Api,
    })
    .await
    .unwrap();
    // A policy attached through the API to a declared user, and a declared tag changed.
    iam.attach_policy(
        EntityKind::User,
        "111111111111",
        "alice",
        "arn:aws:iam::111111111111:policy/ReadS3",
    )
    .await
    .unwrap();
    iam.update("111111111111", "alice", |u: &mut User, _| {
        u.tags[0].value = "changed".into();
        Ok(())
    })
    .await
    .unwrap();
    let again = apply(&iam, &file, Utc::now()).await.unwrap();
    assert_eq!(
        again.changed.len(),
        1,
        "only alice's declared tags are restored: {:?}",
        again.changed
    );
    let alice = iam.user("111111111111", "alice").await.unwrap().unwrap();
    assert_eq!(alice.tags[0].value, "a");
    assert_eq!(
        alice.attached_policies,
        vec!["arn:aws:iam::111111111111:policy/ReadS3"],
        "API attachment kept"
    );
    assert!(
        iam.user("111111111111", "dave").await.unwrap().is_some(),
        "undeclared user untouched"
    );
}

#[tokio::test]
async fn bad_files_are_refused_with_the_reason() {
    let iam = iam(Arc::new(MemoryKv::new()), AtRestKey::ephemeral());
    let bad_trust: BootstrapFile = toml::from_str(
        r#"
[[accounts]]
id = "111111111111"
[[accounts.roles]]
name = "r"
trust_policy = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:user/nobody"},"Action":"sts:AssumeRole"}]}'
"#,
    )
    .unwrap();
    let e = apply(&iam, &bad_trust, Utc::now()).await.unwrap_err();
    assert!(e.message.contains("Invalid principal"), "{}", e.message);
    let bad_account: BootstrapFile = toml::from_str("[[accounts]]\nid = \"123\"\n").unwrap();
    assert!(apply(&iam, &bad_account, Utc::now()).await.is_err());
    assert!(
        toml::from_str::<BootstrapFile>("[[accounts]]\nid = \"111111111111\"\nbogus = 1\n")
            .is_err()
    );
}

#[tokio::test]
async fn embedded_store_keeps_entities_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let key = AtRestKey::load_or_create(&dir.path().join("store.key")).unwrap();
    let file: BootstrapFile = toml::from_str(FILE).unwrap();
    {
        let kv: Arc<dyn Kv> = Arc::new(EmbeddedKv::open(&dir.path().join("db.redb")).unwrap());
        apply(&iam(kv, key.clone()), &file, Utc::now())
            .await
            .unwrap();
    }
    let kv: Arc<dyn Kv> = Arc::new(EmbeddedKv::open(&dir.path().join("db.redb")).unwrap());
    let iam = iam(
        kv,
        AtRestKey::load_or_create(&dir.path().join("store.key")).unwrap(),
    );
    let found = iam
        .access_key("AKIARTXV5AHD2JZALICE")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        found.secret.expose(),
        "aliceSecretKeyaliceSecretKeyaliceSecret0"
    );
    assert!(
        apply(&iam, &file, Utc::now())
            .await
            .unwrap()
            .changed
            .is_empty()
    );
}
