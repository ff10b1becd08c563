//! Client overhead of `jury perf`: the most streamed requests per second it sustains against a
//! server that answers at once, at parallel 1, 32 and 128; with `JURY_BENCH_EVALSCOPE` set to an
//! `evalscope` executable, `evalscope perf` on the same server in the same run.
//!
//! Then an open loop at 1,000 requests per second for five seconds: how late sends left against
//! their schedule (goal: p99 under 1 ms).
//!
//! The server runs in this process (axum, a fixed eight-chunk stream with usage and `[DONE]`),
//! on the same cores as the client: both figures pay for it alike.
//!
//!     cargo bench --bench perf_client
//!     JURY_BENCH_EVALSCOPE=/path/to/venv/bin/evalscope cargo bench --bench perf_client

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};

fn stream_body() -> String {
    let mut body = String::new();
    for k in 0..8 {
        let chunk = json!({"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": format!("w{k} ")}}]});
        body.push_str(&format!("data: {chunk}\n\n"));
    }
    let usage =
        json!({"id": "c", "choices": [], "usage": {"prompt_tokens": 8, "completion_tokens": 8, "total_tokens": 16}});
    body.push_str(&format!("data: {usage}\n\ndata: [DONE]\n\n"));
    body
}

async fn instant_server() -> String {
    let body = stream_body();
    let app =
        Router::new().route(
            "/v1/chat/completions",
            post(move || {
                let body = body.clone();
                async move {
                    Response::builder().header("content-type", "text/event-stream").body(Body::from(body)).unwrap()
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/v1/chat/completions")
}

fn jury_perf(url: &str, parallel: usize, number: usize, out: &Path) -> f64 {
    let output = Command::new(env!("CARGO_BIN_EXE_jury"))
        .args(["perf", "--url", url, "--model", "m", "--json", "--no-progress", "--outputs-dir"])
        .arg(out)
        .args(["--parallel", &parallel.to_string(), "--number", &number.to_string()])
        .output()
        .expect("run jury perf");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let run = &report["runs"][0];
    assert_eq!(run["requests"]["succeeded"], number);
    run["request_throughput"].as_f64().unwrap()
}

/// `evalscope perf` on the same server: its own summary's request throughput, and the wall time.
fn evalscope_perf(evalscope: &str, url: &str, parallel: usize, number: usize, out: &Path) -> (f64, f64) {
    let prompts = out.join("prompts.txt");
    std::fs::write(&prompts, "What is the capital of France?\nName a colour.\n").unwrap();
    let started = Instant::now();
    let output = Command::new(evalscope)
        .args(["perf", "--url", url, "--api", "openai", "--model", "m", "--stream", "--dataset", "line_by_line"])
        .arg("--dataset-path")
        .arg(&prompts)
        .args(["--parallel", &parallel.to_string(), "--number", &number.to_string(), "--outputs-dir"])
        .arg(out)
        .output()
        .expect("run evalscope perf");
    let wall = started.elapsed().as_secs_f64();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary = find(out, "benchmark_summary.json").expect("evalscope wrote a summary");
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap();
    let throughput = summary.get("Req Throughput (req/s)").or_else(|| summary.get("Request throughput (req/s)"));
    (throughput.and_then(Value::as_f64).unwrap_or(f64::NAN), wall)
}

fn find(dir: &Path, name: &str) -> Option<std::path::PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == name) {
            return Some(path);
        }
        if path.is_dir()
            && let Some(found) = find(&path, name)
        {
            return Some(found);
        }
    }
    None
}

#[tokio::main]
async fn main() {
    let url = instant_server().await;
    let evalscope = std::env::var("JURY_BENCH_EVALSCOPE").ok();
    for (parallel, number) in [(1usize, 2_000usize), (32, 10_000), (128, 10_000)] {
        let dir = tempfile::tempdir().unwrap();
        let url_for_jury = url.clone();
        let path = dir.path().to_path_buf();
        let jury =
            tokio::task::spawn_blocking(move || jury_perf(&url_for_jury, parallel, number, &path)).await.unwrap();
        let mut line = json!({"bench": "perf_client", "parallel": parallel, "requests": number, "jury_requests_per_s": (jury * 10.0).round() / 10.0});
        if let Some(evalscope) = &evalscope {
            let dir = tempfile::tempdir().unwrap();
            let (evalscope, url, path) = (evalscope.clone(), url.clone(), dir.path().to_path_buf());
            let (theirs, wall) =
                tokio::task::spawn_blocking(move || evalscope_perf(&evalscope, &url, parallel, number, &path))
                    .await
                    .unwrap();
            line["evalscope_requests_per_s"] = json!((theirs * 10.0).round() / 10.0);
            line["evalscope_wall_s"] = json!((wall * 100.0).round() / 100.0);
            line["ratio"] = json!((jury / theirs * 100.0).round() / 100.0);
        }
        println!("{line}");
    }
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_jury"))
        .args(["perf", "--url", &url, "--model", "m", "--json", "--no-progress", "--rate", "1000", "--number", "5000"])
        .arg("--outputs-dir")
        .arg(dir.path())
        .output()
        .expect("run jury perf");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let run = &report["runs"][0];
    let late = &run["send_lateness_ms"];
    println!(
        "{}",
        json!({"bench": "perf_open_loop", "rate": 1000, "requests": run["requests"]["total"], "failed": run["requests"]["failed"],
               "send_lateness_ms": {"p50": late["p50"], "p99": late["p99"], "max": late["max"]},
               "request_throughput": run["request_throughput"]})
    );
}
