//! The memory backend (unit tests' store) passes the same conformance suite as the others.

mod conformance;

use std::sync::Arc;

use sekisho::store::memory::MemoryKv;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_passes_conformance_suite() {
    conformance::run_suite(Arc::new(MemoryKv::new())).await;
}
