//! What a new entity kind takes: a record type and its [`Kind`] (+ [`Tagged`]) impl, below,
//! shaped like a SAML provider (no path of its own); every generic operation then works. A real
//! kind takes its `PREFIX` from a constant added to `keys.rs`; this one is private to the test.

use serde::{Deserialize, Serialize};

use super::{ACCT, repo, tag};
use crate::iam::model::Tag;
use crate::iam::repo::kind::{record_fields, tags_field};
use crate::iam::repo::{Dependants, Error, Kind, NameRules};

/// A SAML-provider-like record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Provider {
    account: String,
    name: String,
    arn: String,
    metadata: String,
    tags: Vec<Tag>,
}

impl Kind for Provider {
    const WORD: &'static str = "saml-provider";
    const ELEMENT: &'static str = "SAMLProvider";
    const PREFIX: &'static str = "test-sp";
    const NAME: NameRules = NameRules {
        param: "Name",
        create_max: 128,
        max: 128,
    };
    record_fields!(flat);
}

tags_field!(Provider);

fn provider(name: &str) -> Provider {
    Provider {
        account: ACCT.into(),
        name: name.into(),
        arn: String::new(),
        metadata: "<EntityDescriptor/>".into(),
        tags: Vec::new(),
    }
}

#[tokio::test]
async fn a_new_kind_gets_every_generic_operation() {
    let (iam, kv) = repo();
    let p = iam.create(provider("Okta")).await.unwrap();
    assert_eq!(p.arn, format!("arn:aws:iam::{ACCT}:saml-provider/Okta"));
    assert!(matches!(
        iam.create(provider("okta")).await.unwrap_err(),
        Error::AlreadyExists {
            kind: "saml-provider",
            ..
        }
    ));
    iam.create(provider("Azure")).await.unwrap();
    let page = iam.list::<Provider>(ACCT, "/", None, 1).await.unwrap();
    assert_eq!(page.items[0].name, "Azure");
    assert!(page.next_marker.is_some());

    let tagged: Provider = iam.tag(ACCT, "okta", &[tag("k", "v")]).await.unwrap();
    assert_eq!(tagged.tags, [tag("k", "v")]);
    let _: Provider = iam.untag(ACCT, "okta", &["K".into()]).await.unwrap();
    assert!(iam.tags::<Provider>(ACCT, "okta").await.unwrap().is_empty());

    let updated: Provider = iam
        .update(ACCT, "okta", |p: &mut Provider, _| {
            p.metadata = "<new/>".into();
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(updated.metadata, "<new/>");

    let (_, after) = iam
        .rename::<Provider>(ACCT, "okta", Some("Okta2"), None)
        .await
        .unwrap();
    assert_eq!(
        after.arn,
        format!("arn:aws:iam::{ACCT}:saml-provider/Okta2")
    );
    assert_eq!(kv.keys(&format!("test-sp/{ACCT}/")).await.len(), 2);
    assert!(iam.get::<Provider>(ACCT, "okta").await.unwrap().is_none());

    let e = iam
        .delete_if(ACCT, "okta2", |_: &Provider| {
            Some(Dependants::InlinePolicies)
        })
        .await
        .unwrap_err();
    assert!(matches!(e, Error::DeleteConflict(_)));
    iam.delete_if(ACCT, "okta2", |_: &Provider| None)
        .await
        .unwrap();
    assert_eq!(iam.count::<Provider>(ACCT).await.unwrap(), 1);
    assert!(matches!(
        iam.require::<Provider>(ACCT, "okta2").await.unwrap_err(),
        Error::NotFound {
            kind: "saml-provider",
            ..
        }
    ));
}
