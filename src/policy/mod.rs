//! The IAM policy language: parse, evaluate, simulate, summarise. Pure, no I/O (except the
//! explicit corpus loaders `load_managed` and `ActionCatalogue::load`).
//!
//! Spec: `shared/reference/sts-spec.md` §5 (trust policies) and §10–11 (language, evaluation,
//! quotas), and the AWS IAM User Guide's policy reference and evaluation-logic pages.
//!
//! | file | owns |
//! |---|---|
//! | [`parse`](mod@parse) | text → checked [`Policy`]: size quotas, characters, grammar |
//! | `model` | compiled statements, principals, canonical JSON |
//! | `matcher` | globs, ARN-segment matching, policy variables |
//! | `condition` | the condition operators |
//! | `context` | [`Request`], [`Context`], [`RequestPrincipal`] |
//! | `eval` | [`evaluate`] and the combination rules |
//! | [`lint`] | trust-policy warnings (accepted, but likely too open) |
//! | `simulate`, `summary`, `managed`, `cache`, [`cli`] | tools around the evaluator |

mod cache;
pub mod cli;
mod condition;
mod context;
mod error;
mod eval;
pub mod lint;
mod managed;
mod matcher;
mod model;
pub mod parse;
mod simulate;
mod summary;

#[cfg(test)]
mod tests;

pub use cache::PolicyCache;
pub use condition::{BaseOp, OPERATORS, Operator, SetOp};
pub use context::{
    Context, ContextOf, ContextValue, ContextValueOf, PrincipalRef, Request, RequestPrincipal,
    RequestRef,
};
pub use error::{PolicyError, PolicyErrorKind};
pub use eval::{
    Decision, Effect, EvalOptions, MatchedStatement, PolicyId, PolicySet, PolicySetRef, evaluate,
    evaluate_ref, evaluate_with,
};
pub use managed::{ManagedPolicyDoc, load_managed};
pub use model::{Policy, PolicyKind, StatementEffect, Version};
pub use parse::{
    API_POLICY_MAX, MANAGED_POLICY_MAX, ParseOptions, SESSION_POLICY_MAX, TRUST_POLICY_MAX,
    non_whitespace_len, parse, parse_with,
};
pub use simulate::{
    MatchRef, Simulation, SimulationPage, SimulationResult, StatementInfo, simulate,
};
pub use summary::{ACCESS_LEVELS, ActionCatalogue, ServiceSummary, summary};
