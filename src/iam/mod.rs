//! IAM: entities (model), their repository over the store (`repo`: one file per entity kind
//! over `repo::keys`, generic operations through `repo::kind`), the decoded-entity memo,
//! secrets sealed at rest, the declarative bootstrap, and (in `actions`) the IAM Query API.

pub mod actions;
pub mod at_rest;
pub mod bootstrap;
mod memo;
pub mod model;
pub mod names;
pub mod repo;

pub use repo::Iam;
