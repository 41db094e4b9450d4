//! One module per Cognito Identity operation.

pub mod create_identity_pool;
pub mod delete_identity_pool;
pub mod describe_identity_pool;
pub mod get_credentials_for_identity;
pub mod get_id;
pub mod get_identity_pool_roles;
pub mod get_open_id_token;
pub mod list_identity_pools;
pub mod set_identity_pool_roles;
pub mod update_identity_pool;
