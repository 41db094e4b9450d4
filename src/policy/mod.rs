//! The IAM policy language (stub).
