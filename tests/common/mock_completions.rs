//! A real HTTP server playing vLLM's `/v1/completions` with `echo` and `logprobs`, for evals
//! through an endpoint, and a small ARC-Easy file it answers right.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::post;
use serde_json::{Value, json};

/// Splits the prompt into words (each with its leading space), as a tokenizer might; a word
/// holding "right" is likely (-0.1), any other unlikely (-2.0).
async fn completions(State(calls): State<Arc<AtomicUsize>>, Json(body): Json<Value>) -> Json<Value> {
    calls.fetch_add(1, Ordering::SeqCst);
    assert_eq!(body["echo"], true);
    let prompt = body["prompt"].as_str().unwrap().to_string();
    let mut tokens = Vec::new();
    let mut offsets = Vec::new();
    let mut start = 0;
    for (i, c) in prompt.char_indices() {
        if c == ' ' && i > start {
            tokens.push(prompt[start..i].to_string());
            offsets.push(prompt[..start].chars().count());
            start = i;
        }
    }
    tokens.push(prompt[start..].to_string());
    offsets.push(prompt[..start].chars().count());
    let logprobs: Vec<Value> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| if i == 0 { Value::Null } else { json!(if t.contains("right") { -0.1 } else { -2.0 }) })
        .collect();
    let top: Vec<Value> = tokens.iter().map(|t| json!({ t.clone(): -0.1 })).collect();
    // The one generated token follows the echoed prompt.
    tokens.push("!".into());
    offsets.push(prompt.chars().count());
    let mut logprobs = logprobs;
    logprobs.push(json!(-5.0));
    let mut top = top;
    top.push(json!({"!": -5.0}));
    Json(json!({"id": "x", "object": "text_completion", "model": body["model"],
                "choices": [{"index": 0, "text": format!("{prompt}!"), "finish_reason": "length",
                             "logprobs": {"tokens": tokens, "token_logprobs": logprobs, "top_logprobs": top, "text_offset": offsets}}]}))
}

/// Starts the server on 127.0.0.1:0: its base URL and a count of the requests it answered.
pub async fn echo_completions() -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let app = Router::new().route("/v1/completions", post(completions)).with_state(calls.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/v1"), calls)
}

/// Three ARC-Easy questions whose right choice is "the right one", under `dir/arc/ARC-Easy`.
pub fn arc_easy_file(dir: &std::path::Path) {
    arc_easy_questions(dir, 3);
}

/// `n` such questions (the right one in turn first, second, third).
pub fn arc_easy_questions(dir: &std::path::Path, n: usize) {
    let docs: String = (0..n)
        .map(|i| {
            let choices: Vec<Value> = ["A", "B", "C"]
                .iter()
                .enumerate()
                .map(|(k, l)| json!({"label": l, "text": if k == i % 3 { "the right one" } else { "a wrong one" }}))
                .collect();
            let key = ["A", "B", "C"][i % 3];
            json!({"id": format!("q{i}"), "question": {"stem": format!("Question {i}?"), "choices": choices},
                   "answerKey": key})
            .to_string()
                + "\n"
        })
        .collect();
    super::write(&dir.join("arc/ARC-Easy/test.jsonl"), &docs);
}
