//! One module per STS action.

pub mod get_access_key_info;
pub mod get_caller_identity;
pub mod get_session_token;
