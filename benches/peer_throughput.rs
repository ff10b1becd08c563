//! Peer examination throughput: 8 candidates × 80 questions, every candidate judging the pairs
//! of the other seven (21 pairs × 80 questions × 8 judges = 13,440 judgments) against a mock
//! judge that answers after 200 ms, at concurrency 32. The ideal is 13,440 × 0.2 s / 32 = 84 s.
//!
//!     cargo bench --bench peer_throughput

#[path = "../tests/common/mock_judge.rs"]
mod mock_judge;

use std::time::{Duration, Instant};

use jury::arena::{ArenaOptions, run_arena};
use jury::config::load_arena_config;
use jury::store::Store;
use mock_judge::{Call, MockJudge, Reply};

const CANDIDATES: usize = 8;
const QUESTIONS: usize = 80;
const CONCURRENCY: usize = 32;
const LATENCY: Duration = Duration::from_millis(200);

fn answers(model: &str) -> String {
    (1..=QUESTIONS)
        .map(|i| {
            serde_json::json!({"question_id": i, "text": format!("Question {i}?"), "category": "generic",
                "model_id": model, "metadata": {}, "answer": format!("{model} answer {i}")})
            .to_string()
                + "\n"
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).try_init();
    let dir = tempfile::tempdir().unwrap();
    let models: Vec<String> = (1..=CANDIDATES).map(|i| format!("m{i}")).collect();
    for m in &models {
        std::fs::write(dir.path().join(format!("{m}.jsonl")), answers(m)).unwrap();
    }
    // Every judge prefers the model with the higher number.
    let judge = MockJudge::start(|call: &Call| {
        let number = |t: &str| t.split_whitespace().next().unwrap_or("m0")[1..].parse::<u32>().unwrap_or(0);
        let a_wins = number(call.answer_a().unwrap_or("")) > number(call.answer_b().unwrap_or(""));
        Reply::Delayed(LATENCY, Box::new(Reply::Text(if a_wins { "[[A]]" } else { "[[B]]" }.into())))
    })
    .await;
    let reviewers: String = models
        .iter()
        .map(|m| {
            format!(
                "    - as_candidate: {m}\n      args: {{model: {m}-judge, api_base: {}, api_key_env: NONE}}\n",
                judge.base_url()
            )
        })
        .collect();
    let targets = models.iter().map(|m| format!("{m}.jsonl")).collect::<Vec<_>>().join(", ");
    let config = format!(
        "reviews_gen:\n  reviewer:\n    args: {{mode: peer}}\n  reviewers:\n{reviewers}  target_answers: [{targets}]\n  \
         review_file: review.jsonl\nrating_gen:\n  metrics: [bt]\n  report_file: rating.csv\n"
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
    let judgments = CANDIDATES * (CANDIDATES - 1) * (CANDIDATES - 2) / 2 * QUESTIONS;
    assert_eq!(reviews.judge_calls as usize, judgments);
    let rank = summary.peer_rank.expect("peer rank");
    let ideal = judgments as f64 * LATENCY.as_secs_f64() / CONCURRENCY as f64;
    println!(
        "{{\"bench\":\"peer_throughput\",\"candidates\":{CANDIDATES},\"questions\":{QUESTIONS},\"judgments\":{judgments},\
         \"concurrency\":{CONCURRENCY},\"latency_ms\":{},\"seconds\":{elapsed:.3},\"ideal_seconds\":{ideal:.3},\
         \"ratio\":{:.3},\"judgments_per_s\":{:.1},\"peer_rank_rounds\":{},\"max_in_flight\":{}}}",
        LATENCY.as_millis(),
        elapsed / ideal,
        judgments as f64 / elapsed,
        rank.rounds,
        judge.max_in_flight()
    );
    println!(
        "{judgments} peer judgments at concurrency {CONCURRENCY} with a {} ms judge: {elapsed:.2} s \
         ({:.1} judgments/s; ideal {ideal:.2} s, {:.3}x)",
        LATENCY.as_millis(),
        judgments as f64 / elapsed,
        elapsed / ideal
    );
}
