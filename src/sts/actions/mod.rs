//! One module per STS action.

pub mod assume_role;
pub mod assume_role_with_saml;
pub mod assume_role_with_web_identity;
pub mod decode_authorization_message;
pub mod get_access_key_info;
pub mod get_caller_identity;
pub mod get_federation_token;
pub mod get_session_token;
