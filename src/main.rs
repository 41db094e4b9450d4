//! The `sekisho` command.
fn main() {}
