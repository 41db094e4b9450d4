//! IAM: entities (model), their repository over the store, the declarative bootstrap, and (in
//! `actions`) the IAM Query API.

pub mod actions;
pub mod at_rest;
pub mod bootstrap;
mod memo;
pub mod model;
pub mod names;
pub mod repo;

pub use repo::Iam;
