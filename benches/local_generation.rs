//! Local answer generation with SmolLM2-135M-Instruct on this CPU: tokens/s and answers/s,
//! one request at a time (jury's default) versus many in flight, one at a time or batched by the
//! engine. Each model is loaded before timing.
//!
//!     cargo bench --bench local_generation

use std::path::PathBuf;
use std::time::Instant;

use std::sync::Arc;

use futures::StreamExt;
use jury::llm::local::LocalChat;
use jury::llm::{ChatRequest, GenerationSettings};

const REQUESTS: usize = 16;
const MAX_NEW_TOKENS: u32 = 64;
const PROMPTS: [&str; 4] = [
    "Explain why the sky is blue.",
    "Write a haiku about autumn.",
    "What is a prime number?",
    "Give three tips for learning a language.",
];

#[tokio::main]
async fn main() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    jury::llm::demo::ensure_demo_model(&path).expect("demo model");
    // jury's default (one sequence at a time), then the engine batching up to sixteen.
    let serial = Arc::new(LocalChat::load(&path).await.expect("load the model"));
    measure(&serial, false, &[1, 4, 16]).await;
    drop(serial);
    let batched = Arc::new(LocalChat::load_batched(&path, 16).await.expect("load the model"));
    measure(&batched, true, &[4, 16]).await;
}

async fn measure(model: &Arc<LocalChat>, batched: bool, concurrencies: &[usize]) {
    let settings =
        GenerationSettings { do_sample: Some(false), max_new_tokens: Some(MAX_NEW_TOKENS), ..Default::default() };
    // Warm-up: the first request pays one-time costs.
    let warm = ChatRequest { system: None, user: "Hello".into(), settings: settings.clone() };
    model.chat(&warm).await.unwrap();

    for &concurrency in concurrencies {
        let started = Instant::now();
        let replies: Vec<_> = futures::stream::iter((0..REQUESTS).map(|i| {
            let model = model.clone();
            let request =
                ChatRequest { system: None, user: PROMPTS[i % PROMPTS.len()].into(), settings: settings.clone() };
            async move { model.chat(&request).await.unwrap() }
        }))
        .buffer_unordered(concurrency)
        .collect()
        .await;
        let seconds = started.elapsed().as_secs_f64();
        let tokens: u64 = replies.iter().map(|r| r.usage.completion_tokens).sum();
        println!(
            "{{\"bench\":\"local_generation\",\"batched\":{batched},\"concurrency\":{concurrency},\"answers\":{REQUESTS},\"completion_tokens\":{tokens},\
             \"seconds\":{seconds:.2},\"tokens_per_s\":{:.1},\"answers_per_s\":{:.2}}}",
            tokens as f64 / seconds,
            REQUESTS as f64 / seconds
        );
    }
}
