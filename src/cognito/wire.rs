//! The awsJson 1.1 wire format of the Cognito Identity API: the operation from
//! `X-Amz-Target: AWSCognitoIdentityService.<Op>`, the input as a JSON object read through
//! [`Input`] (typed, bounded, AWS's validation messages), and the error body
//! (`{"__type": …, "message": …}`, codes from `crate::error::Code::cognito`).

use serde_json::{Map, Value};

use crate::error::{ApiError, Code};
use crate::wire::params::{check_len, check_range};

/// The `X-Amz-Target` prefix of the service.
pub const TARGET_PREFIX: &str = "AWSCognitoIdentityService.";

/// The content type of requests and answers.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// Most entries in a request map (`Logins`, `SupportedLoginProviders`, tags, role mappings).
pub const MAX_MAP_ENTRIES: usize = 60;

/// The operation a target names, if it is one of this service's.
#[must_use]
pub fn operation(target: &str) -> Option<&str> {
    target
        .strip_prefix(TARGET_PREFIX)
        .filter(|op| !op.is_empty() && op.len() <= 64)
}

/// A request's JSON object, read field by field.
#[derive(Debug, Default)]
pub struct Input {
    fields: Map<String, Value>,
}

fn wrong_type(name: &str, want: &str) -> ApiError {
    ApiError::new(
        Code::ValidationError,
        format!("Value of '{name}' must be {want}"),
    )
}

fn missing(name: &str) -> ApiError {
    ApiError::new(
        Code::MissingParameter,
        format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: \
             Member must not be null",
            crate::wire::params::lower_camel(name)
        ),
    )
}

impl Input {
    /// Parses a request body: a JSON object (an empty body is an empty object).
    ///
    /// # Errors
    /// `InvalidParameterException` when the body is not a JSON object.
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(fields)) => Ok(Self { fields }),
            _ => Err(ApiError::new(
                Code::ValidationError,
                "The request body is not a JSON object.",
            )),
        }
    }

    /// An input from a JSON value (tests, bootstrap).
    #[must_use]
    pub fn from_value(v: Value) -> Self {
        match v {
            Value::Object(fields) => Self { fields },
            _ => Self::default(),
        }
    }

    /// Whether a field is present (and not null).
    #[must_use]
    pub fn has(&self, name: &str) -> bool {
        self.fields.get(name).is_some_and(|v| !v.is_null())
    }

    /// The length of an array field (`None` when absent or not an array).
    #[must_use]
    pub fn array_len(&self, name: &str) -> Option<usize> {
        self.fields
            .get(name)
            .and_then(Value::as_array)
            .map(Vec::len)
    }

    /// An optional string of `min..=max` characters.
    ///
    /// # Errors
    /// Wrong type or length.
    pub fn opt_str(&self, name: &str, min: usize, max: usize) -> Result<Option<String>, ApiError> {
        match self.fields.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => {
                check_len(name, s, min, max)?;
                Ok(Some(s.clone()))
            }
            Some(_) => Err(wrong_type(name, "a string")),
        }
    }

    /// A required string of `min..=max` characters.
    ///
    /// # Errors
    /// Missing, wrong type or length.
    pub fn req_str(&self, name: &str, min: usize, max: usize) -> Result<String, ApiError> {
        self.opt_str(name, min, max)?.ok_or_else(|| missing(name))
    }

    /// An optional boolean.
    ///
    /// # Errors
    /// Wrong type.
    pub fn opt_bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.fields.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(wrong_type(name, "a boolean")),
        }
    }

    /// A required boolean.
    ///
    /// # Errors
    /// Missing or wrong type.
    pub fn req_bool(&self, name: &str) -> Result<bool, ApiError> {
        self.opt_bool(name)?.ok_or_else(|| missing(name))
    }

    /// An optional integer in `min..=max`.
    ///
    /// # Errors
    /// Wrong type or range.
    pub fn opt_int(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        match self.fields.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => {
                let v = n.as_i64().ok_or_else(|| wrong_type(name, "an integer"))?;
                check_range(name, v, min, max)?;
                Ok(Some(v))
            }
            Some(_) => Err(wrong_type(name, "an integer")),
        }
    }

    /// A required integer in `min..=max`.
    ///
    /// # Errors
    /// Missing, wrong type or range.
    pub fn req_int(&self, name: &str, min: i64, max: i64) -> Result<i64, ApiError> {
        self.opt_int(name, min, max)?.ok_or_else(|| missing(name))
    }

    /// A list of strings (absent: empty), each `min..=max` characters, at most `max_items`.
    ///
    /// # Errors
    /// Wrong type, length or count.
    pub fn str_list(
        &self,
        name: &str,
        max_items: usize,
        min: usize,
        max: usize,
    ) -> Result<Vec<String>, ApiError> {
        match self.fields.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(a)) => {
                if a.len() > max_items {
                    return Err(too_many(name, max_items));
                }
                a.iter()
                    .map(|v| {
                        let s = v
                            .as_str()
                            .ok_or_else(|| wrong_type(name, "a list of strings"))?;
                        check_len(name, s, min, max)?;
                        Ok(s.to_owned())
                    })
                    .collect()
            }
            Some(_) => Err(wrong_type(name, "a list of strings")),
        }
    }

    /// A map of strings (absent: empty): keys `1..=key_max`, values `value_min..=value_max`
    /// characters, at most `max_items` entries.
    ///
    /// # Errors
    /// Wrong type, length or count.
    pub fn str_map(
        &self,
        name: &str,
        max_items: usize,
        key_max: usize,
        value_min: usize,
        value_max: usize,
    ) -> Result<Vec<(String, String)>, ApiError> {
        match self.fields.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Object(m)) => {
                if m.len() > max_items.min(MAX_MAP_ENTRIES) {
                    return Err(too_many(name, max_items));
                }
                m.iter()
                    .map(|(k, v)| {
                        let s = v
                            .as_str()
                            .ok_or_else(|| wrong_type(name, "a map of strings"))?;
                        check_len(&format!("{name}.key"), k, 1, key_max)?;
                        check_len(&format!("{name}.value"), s, value_min, value_max)?;
                        Ok((k.clone(), s.to_owned()))
                    })
                    .collect()
            }
            Some(_) => Err(wrong_type(name, "a map of strings")),
        }
    }

    /// A map of JSON values (absent: empty), at most `max_items` entries.
    ///
    /// # Errors
    /// Wrong type or count.
    pub fn value_map(
        &self,
        name: &str,
        max_items: usize,
    ) -> Result<Vec<(String, Value)>, ApiError> {
        match self.fields.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Object(m)) => {
                if m.len() > max_items.min(MAX_MAP_ENTRIES) {
                    return Err(too_many(name, max_items));
                }
                Ok(m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            }
            Some(_) => Err(wrong_type(name, "a map")),
        }
    }
}

fn too_many(name: &str, max: usize) -> ApiError {
    ApiError::new(
        Code::ValidationError,
        format!(
            "1 validation error detected: Value at '{}' failed to satisfy constraint: Member \
             must have length less than or equal to {max}",
            crate::wire::params::lower_camel(name)
        ),
    )
}

/// The error body and HTTP status of `e`, as the Cognito service answers.
#[must_use]
pub fn error_body(e: &ApiError) -> (u16, String) {
    let (code, status) = e.code.cognito();
    let body = serde_json::json!({ "__type": code, "message": e.message });
    (status, body.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;

    #[test]
    fn targets_name_operations_of_this_service_only() {
        assert_eq!(operation("AWSCognitoIdentityService.GetId"), Some("GetId"));
        assert_eq!(operation("AWSCognitoIdentityService."), None);
        assert_eq!(operation("AmazonSQS.SendMessage"), None);
    }

    #[test]
    fn inputs_are_typed_and_bounded() {
        let i = Input::parse(br#"{"A":"x","B":true,"C":["a","b"],"D":{"k":"v"},"N":5}"#).unwrap();
        assert_eq!(i.req_str("A", 1, 5).unwrap(), "x");
        assert!(i.req_bool("B").unwrap());
        assert_eq!(i.str_list("C", 5, 1, 5).unwrap().len(), 2);
        assert_eq!(
            i.str_map("D", 5, 5, 1, 5).unwrap(),
            vec![("k".into(), "v".into())]
        );
        assert_eq!(i.opt_int("N", 1, 60).unwrap(), Some(5));
        assert_eq!(
            i.req_str("B", 1, 5).unwrap_err().code,
            Code::ValidationError
        );
        assert_eq!(
            i.req_str("Z", 1, 5).unwrap_err().code,
            Code::MissingParameter
        );
        assert_eq!(
            i.req_str("A", 2, 5).unwrap_err().code,
            Code::ValidationError
        );
        assert!(i.str_list("C", 1, 1, 5).is_err());
        assert!(i.opt_int("N", 6, 60).is_err());
        assert!(Input::parse(b"[1]").is_err());
        assert!(Input::parse(b"{").is_err());
        assert!(!Input::parse(b"").unwrap().has("A"));
    }

    #[test]
    fn errors_carry_cognitos_type_and_status() {
        let (status, body) = error_body(&ApiError::access_denied("no"));
        assert_eq!(status, 400);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["__type"], "NotAuthorizedException");
        assert_eq!(v["message"], "no");
        let (status, body) = error_body(&ApiError::internal("secret detail"));
        assert_eq!(status, 500);
        assert!(!body.contains("secret detail"), "details stay off the wire");
    }
}
