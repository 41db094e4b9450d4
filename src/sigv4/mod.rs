//! SigV4 verification (stub).
