//! Identifier formats (stub).
