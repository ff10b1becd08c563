//! A local model's memory stays flat however many requests it answers. mistral.rs keeps a
//! finished sequence's key-value cache for prefix reuse and, on the CPU, never evicts it: each
//! request would hold on to its cache (about 24 MB for the demo model) until the process ends.
//! Its own test binary, so no other test's allocations are counted.

#![cfg(feature = "local")]

use std::path::PathBuf;

use jury::config::ModelSpec;
use jury::llm::{ChatRequest, GenerationSettings, ModelPool, RemoteOptions};

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[tokio::test]
async fn answering_many_requests_does_not_grow_memory() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    jury::llm::demo::ensure_demo_model(&path).expect("demo model");
    let pool = ModelPool::new();
    let model = pool.open(&ModelSpec::Local { path }, RemoteOptions::default()).await.expect("load the model");
    let settings = GenerationSettings { do_sample: Some(false), max_new_tokens: Some(4), ..Default::default() };
    let ask = |i: usize| ChatRequest { system: None, user: format!("Say the number {i}."), settings: settings.clone() };
    // Warm-up: the first requests pay one-time allocations.
    for i in 0..3 {
        model.chat(&ask(i)).await.unwrap();
    }
    let before = resident_bytes();
    for i in 0..20 {
        let reply = model.chat(&ask(100 + i)).await.unwrap();
        assert!(reply.usage.completion_tokens >= 1);
    }
    let grown = resident_bytes().saturating_sub(before);
    assert!(grown < 100 << 20, "20 requests grew the process by {} MiB", grown >> 20);
}
