//! Unit tests of the repository on the memory store.
