//! Fuzz config parsing and checking: never panics on any TOML text.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sekisho::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Config::parse(text, Path::new("x.toml"));
});
