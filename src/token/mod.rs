//! Session tokens (stub).
