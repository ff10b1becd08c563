//! Judge throughput: 1,000 pairwise judgments against a mock judge that answers after
//! 200 ms, at concurrency 32. The ideal is 1000 × 0.2 s / 32 = 6.25 s; the goal is within 1.15×.
//!
//!     cargo bench --bench judge_throughput

#[path = "../tests/common/mock_judge.rs"]
mod mock_judge;

use std::time::{Duration, Instant};

use jury::arena::{ArenaOptions, run_arena};
use jury::config::load_arena_config;
use jury::store::Store;
use mock_judge::{Call, MockJudge, Reply, verdict_for};

const JUDGMENTS: usize = 1000;
const CONCURRENCY: usize = 32;
const LATENCY: Duration = Duration::from_millis(200);

fn answers(model: &str, marker: &str) -> String {
    (1..=JUDGMENTS)
        .map(|i| {
            serde_json::json!({"question_id": i, "text": format!("Question {i}?"), "category": "generic",
                "model_id": model, "metadata": {}, "answer": format!("{marker} answer {i}")})
            .to_string()
                + "\n"
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).try_init();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.jsonl"), answers("a", "GOOD")).unwrap();
    std::fs::write(dir.path().join("b.jsonl"), answers("b", "bad")).unwrap();
    let judge =
        MockJudge::start(|call: &Call| Reply::Delayed(LATENCY, Box::new(Reply::Text(verdict_for(call, "GOOD"))))).await;
    let config = format!(
        "reviews_gen:\n  reviewer:\n    args:\n      model: mock\n      api_base: {}\n      api_key_env: NONE\n      mode: pairwise\n  \
         target_answers: [a.jsonl, b.jsonl]\n  review_file: review.jsonl\nrating_gen:\n  metrics: [elo]\n  report_file: rating.csv\n",
        judge.base_url()
    );
    let cfg = dir.path().join("cfg.yaml");
    std::fs::write(&cfg, config).unwrap();
    let config = load_arena_config(&cfg).unwrap();
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("bench.db").display())).await.unwrap();
    let options = ArenaOptions { concurrency: CONCURRENCY, ..ArenaOptions::default() };

    let started = Instant::now();
    let summary = run_arena(&config, "", &store, &options).await.unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    let reviews = summary.reviews.unwrap_or_else(|| panic!("the run failed: {:?}", summary.error));
    assert_eq!(reviews.judge_calls as usize, JUDGMENTS);
    let ideal = JUDGMENTS as f64 * LATENCY.as_secs_f64() / CONCURRENCY as f64;
    println!(
        "{{\"bench\":\"judge_throughput\",\"judgments\":{JUDGMENTS},\"concurrency\":{CONCURRENCY},\"latency_ms\":{},\
         \"seconds\":{elapsed:.3},\"ideal_seconds\":{ideal:.3},\"ratio\":{:.3},\"max_in_flight\":{}}}",
        LATENCY.as_millis(),
        elapsed / ideal,
        judge.max_in_flight()
    );
    println!(
        "{JUDGMENTS} judgments at concurrency {CONCURRENCY} with a {} ms judge: {elapsed:.2} s (ideal {ideal:.2} s, {:.3}x)",
        LATENCY.as_millis(),
        elapsed / ideal
    );
}
