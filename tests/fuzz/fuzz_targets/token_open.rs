//! Fuzz session-token opening: arbitrary text must be refused cleanly, never panic.
#![no_main]

use std::sync::OnceLock;

use chrono::{DateTime, TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use sekisho::token::KeyRing;

fn now() -> DateTime<Utc> {
    Utc.timestamp_opt(1_750_000_000, 0)
        .single()
        .unwrap_or_default()
}

fn ring() -> &'static KeyRing {
    static RING: OnceLock<KeyRing> = OnceLock::new();
    RING.get_or_init(|| KeyRing::generate_in_memory(now()))
}

fuzz_target!(|data: &[u8]| {
    let token = String::from_utf8_lossy(data);
    let _ = ring().open_at(&token, now());
});
