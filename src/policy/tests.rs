//! Property and evaluation unit tests.
