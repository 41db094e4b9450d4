//! The model-constraint checks, with AWS's `ValidationError` wording.

use crate::error::ApiError;

/// `RoleSessionName` → `roleSessionName`, as AWS names members in validation messages.
#[must_use]
pub fn lower_camel(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Checks a model length constraint (in characters).
pub fn check_len(name: &str, value: &str, min: usize, max: usize) -> Result<(), ApiError> {
    let n = value.chars().count();
    if (min..=max).contains(&n) {
        return Ok(());
    }
    let shown = redact_for_message(value);
    if n < min {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{shown}' at '{}' failed to satisfy constraint: \
             Member must have length greater than or equal to {min}",
            lower_camel(name)
        )));
    }
    if n > max {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{shown}' at '{}' failed to satisfy constraint: \
             Member must have length less than or equal to {max}",
            lower_camel(name)
        )));
    }
    Ok(())
}

/// Checks that every character satisfies `ok`, reporting AWS's pattern text.
pub fn check_chars(
    name: &str,
    value: &str,
    pattern: &str,
    ok: impl Fn(char) -> bool,
) -> Result<(), ApiError> {
    if value.chars().all(ok) {
        Ok(())
    } else {
        Err(ApiError::validation(format!(
            "1 validation error detected: Value '{}' at '{}' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: {pattern}",
            redact_for_message(value),
            lower_camel(name)
        )))
    }
}

/// Checks a numeric range constraint.
pub fn check_range(name: &str, value: i64, min: i64, max: i64) -> Result<(), ApiError> {
    if value < min {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{value}' at '{}' failed to satisfy constraint: \
             Member must have value greater than or equal to {min}",
            lower_camel(name)
        )));
    }
    if value > max {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{value}' at '{}' failed to satisfy constraint: \
             Member must have value less than or equal to {max}",
            lower_camel(name)
        )));
    }
    Ok(())
}

/// `[\w+=,.@-]`: the character class of session names, user names and friends.
#[must_use]
pub fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '-')
}

/// Values echoed in messages are cut short so a huge or hostile value is not reflected whole.
fn redact_for_message(v: &str) -> String {
    if v.chars().count() > 64 {
        let head: String = v.chars().take(64).collect();
        format!("{head}…")
    } else {
        v.to_owned()
    }
}
