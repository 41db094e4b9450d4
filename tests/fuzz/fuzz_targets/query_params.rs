//! Fuzz the AWS Query parameter decoder: never panics, whatever the body or query string.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sekisho::wire::Params;

fuzz_target!(|data: &[u8]| {
    let mut p = Params::default();
    if p.add_urlencoded(data).is_err() {
        return;
    }
    let _ = p.peek("Action");
    let _ = p.opt("RoleArn");
    let _ = p.opt_i64("DurationSeconds");
    let _ = p.opt_bool("IsTruncated");
    let _ = p.list("PolicyArns");
    let _ = p.list("TransitiveTagKeys");
    let _ = p.struct_list("Tags", &["Key", "Value"]);
    let _ = p.struct_list("PolicyArns", &["arn"]);
    let _ = p.finish();
    let _ = p.iter().count();
    // A second decode into the same map must refuse duplicates or merge, never panic.
    let _ = p.add_urlencoded(data);
});
