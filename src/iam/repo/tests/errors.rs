//! The repository's errors on the wire: each variant's AWS code, status and words (the words
//! the repository's callers answered before it had an error of its own).

use super::{ACCT, repo, user};
use crate::error::{ApiError, Code};
use crate::iam::repo::{Dependants, Error, Limit};

fn wire(e: Error) -> (Code, u16, String) {
    let a = ApiError::from(e);
    (a.code, a.code.status(), a.message)
}

#[test]
fn every_variant_has_its_aws_code_and_words() {
    let cases: Vec<(Error, Code, &str)> = vec![
        (
            Error::not_found("user", "bob"),
            Code::NoSuchEntity,
            "The user with name bob cannot be found.",
        ),
        (
            Error::AlreadyExists {
                kind: "group",
                name: "ops".into(),
            },
            Code::EntityAlreadyExists,
            "Group with name ops already exists.",
        ),
        (
            Error::PolicyExists { name: "P".into() },
            Code::EntityAlreadyExists,
            "A policy called P already exists. Duplicate names are not allowed.",
        ),
        (
            Error::AccessKeyExists { id: "AKIA1".into() },
            Code::EntityAlreadyExists,
            "Access key AKIA1 already exists.",
        ),
        (
            Error::AccessKeyNotFound { id: "AKIA1".into() },
            Code::NoSuchEntity,
            "The Access Key with id AKIA1 cannot be found.",
        ),
        (
            Error::InlinePolicyNotFound {
                kind: "role",
                policy: "p".into(),
            },
            Code::NoSuchEntity,
            "The role policy with name p cannot be found.",
        ),
        (
            Error::NotInGroup {
                user: "bob".into(),
                group: "ops".into(),
            },
            Code::NoSuchEntity,
            "The user with name bob is not in group ops.",
        ),
        (
            Error::PolicyNotAttachable { arn: "A".into() },
            Code::NoSuchEntity,
            "Policy A does not exist or is not attachable.",
        ),
        (
            Error::PolicyNotFound { arn: "A".into() },
            Code::NoSuchEntity,
            "Policy A was not found.",
        ),
        (
            Error::VersionNotFound {
                arn: "A".into(),
                version: "v2".into(),
                deleting: false,
            },
            Code::NoSuchEntity,
            "Policy A version v2 does not exist.",
        ),
        (
            Error::VersionNotFound {
                arn: "A".into(),
                version: "v2".into(),
                deleting: true,
            },
            Code::NoSuchEntity,
            "Policy A version v2 does not exist or is not deletable.",
        ),
        (
            Error::DeleteConflict(Dependants::AccessKeys),
            Code::DeleteConflict,
            "Cannot delete entity, must delete access keys first.",
        ),
        (
            Error::DeleteConflict(Dependants::GroupMemberships),
            Code::DeleteConflict,
            "Cannot delete entity, must remove user from all groups first.",
        ),
        (
            Error::DeleteConflict(Dependants::GroupMembers),
            Code::DeleteConflict,
            "Cannot delete entity, must remove users from group first.",
        ),
        (
            Error::DeleteConflict(Dependants::DefaultVersion),
            Code::DeleteConflict,
            "Cannot delete the default version of a policy.",
        ),
        (
            Error::DeleteConflict(Dependants::PolicyAttachments),
            Code::DeleteConflict,
            "Cannot delete a policy attached to entities.",
        ),
        (
            Error::LimitExceeded(Limit::GroupsPerUser(10)),
            Code::LimitExceeded,
            "Cannot exceed quota for GroupsPerUser: 10",
        ),
        (
            Error::LimitExceeded(Limit::AttachedPolicies("Role", 10)),
            Code::LimitExceeded,
            "Cannot exceed quota for PoliciesPerRole: 10",
        ),
        (
            Error::LimitExceeded(Limit::AccessKeysPerUser(2)),
            Code::LimitExceeded,
            "Cannot exceed quota for AccessKeysPerUser: 2",
        ),
        (
            Error::LimitExceeded(Limit::InlinePolicySize {
                kind: "user",
                name: "bob".into(),
                limit: 2048,
            }),
            Code::LimitExceeded,
            "Maximum policy size of 2048 bytes exceeded for user bob",
        ),
        (
            Error::LimitExceeded(Limit::Tags(50)),
            Code::LimitExceeded,
            "The number of tags has reached the maximum limit of 50.",
        ),
        (
            Error::InvalidPrincipal { arn: "A".into() },
            Code::MalformedPolicyDocument,
            "Invalid principal in policy: \"AWS\":\"A\"",
        ),
        (Error::InvalidMarker, Code::InvalidInput, "Invalid Marker"),
    ];
    for (e, code, words) in cases {
        let (c, _, m) = wire(e);
        assert_eq!((c, m.as_str()), (code, words));
    }
    let (c, status, _) = wire(Error::Conflict("u/1/bob".into()));
    assert_eq!((c, status), (Code::ConcurrentModification, 409));
    let (c, status, m) = wire(Error::Malformed {
        what: "stored policy".into(),
        reason: "bad".into(),
    });
    assert_eq!((c, status), (Code::InternalFailure, 500));
    assert!(!m.contains("bad"), "the cause stays in the detail");
    let (c, _, _) = wire(Error::Store(crate::store::Error::Backend("down".into())));
    assert_eq!(c, Code::ServiceUnavailable);
    assert_eq!(wire(Error::not_found("user", "x")).1, 404);
    assert_eq!(wire(Error::DeleteConflict(Dependants::AccessKeys)).1, 409);
}

#[test]
fn size_errors_stay_limits_and_other_policy_errors_are_malformed() {
    let too_big = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:*","Resource":"{}"}}]}}"#,
        "x".repeat(200_000)
    );
    let size = crate::policy::parse(&too_big, crate::policy::PolicyKind::Identity).unwrap_err();
    assert!(size.is_size_limit());
    assert_eq!(wire(Error::Invalid(size)).0, Code::LimitExceeded);
    let bad = crate::policy::parse("{", crate::policy::PolicyKind::Identity).unwrap_err();
    assert_eq!(wire(Error::Invalid(bad)).0, Code::MalformedPolicyDocument);
}

#[tokio::test]
async fn errors_of_real_operations_keep_their_words() {
    let (iam, _) = repo();
    iam.create_user(user("alice", "/")).await.unwrap();
    let e = iam.create_user(user("alice", "/")).await.unwrap_err();
    assert_eq!(
        ApiError::from(e).message,
        "User with name alice already exists."
    );
    let e = iam.user_required(ACCT, "Zed").await.unwrap_err();
    assert!(e.is_not_found());
    assert_eq!(
        ApiError::from(e).message,
        "The user with name Zed cannot be found."
    );
    let e = iam
        .remove_user_from_group(ACCT, "ops", "alice")
        .await
        .unwrap_err();
    assert_eq!(
        ApiError::from(e).message,
        "The group with name ops cannot be found."
    );
}
