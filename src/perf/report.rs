//! A load test's results as files and JSON: jury's own object (`--json`), EvalScope's
//! `benchmark_summary.json` and `benchmark_percentile.json`, and every request's timings.

use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::metrics::{Distribution, PERCENTILES, RunMetrics};
use super::outcome::RequestOutcome;

/// One run (one point of a sweep): its load and its figures.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub parallel: usize,
    pub number: usize,
    /// Requests per second of an open loop; `null` for a closed loop.
    pub rate: Option<f64>,
    #[serde(flatten)]
    pub metrics: RunMetrics,
}

/// EvalScope's summary, with its key names (times in seconds).
pub fn evalscope_summary(run: &RunReport) -> Value {
    let m = &run.metrics;
    let mean_s = |d: &Option<Distribution>| d.as_ref().map(|d| round(d.mean / 1000.0, 4));
    let mean = |d: &Option<Distribution>| d.as_ref().map(|d| round(d.mean, 4));
    json!({
        "Time taken for tests (s)": round(m.time_taken_s, 4),
        // An open loop caps nothing: its concurrency is the most requests that were in flight.
        "Number of concurrency": if run.rate.is_some() { m.max_in_flight } else { run.parallel },
        "Request rate (req/s)": run.rate.unwrap_or(-1.0),
        "Total requests": m.requests.total,
        "Succeed requests": m.requests.succeeded,
        "Failed requests": m.requests.failed,
        "Output token throughput (tok/s)": round(m.output_throughput, 4),
        "Total token throughput (tok/s)": round(m.total_throughput, 4),
        "Request throughput (req/s)": round(m.request_throughput, 4),
        "Average latency (s)": mean_s(&m.latency_ms),
        "Average time to first token (s)": mean_s(&m.ttft_ms),
        "Average time per output token (s)": mean_s(&m.tpot_ms),
        "Average inter-token latency (s)": mean_s(&m.itl_ms),
        "Average input tokens per request": mean(&m.input_tokens),
        "Average output tokens per request": mean(&m.output_tokens),
    })
}

/// EvalScope's percentile table: one list per quantity, aligned with `Percentiles`.
pub fn evalscope_percentiles(run: &RunReport) -> Value {
    let m = &run.metrics;
    let column = |d: &Option<Distribution>, scale: f64| -> Value {
        match d {
            Some(d) => PERCENTILES.iter().map(|&p| json!(round(d.p(p) * scale, 4))).collect(),
            None => Value::Null,
        }
    };
    let mut table = Map::new();
    table.insert("Percentiles".into(), PERCENTILES.iter().map(|p| json!(format!("{p}%"))).collect());
    table.insert("TTFT (s)".into(), column(&m.ttft_ms, 0.001));
    table.insert("ITL (s)".into(), column(&m.itl_ms, 0.001));
    table.insert("TPOT (s)".into(), column(&m.tpot_ms, 0.001));
    table.insert("Latency (s)".into(), column(&m.latency_ms, 0.001));
    table.insert("Input tokens".into(), column(&m.input_tokens, 1.0));
    table.insert("Output tokens".into(), column(&m.output_tokens, 1.0));
    table.insert("Output (tok/s)".into(), column(&m.request_output_throughput, 1.0));
    Value::Object(table)
}

/// Writes a run's files into `dir`: the two EvalScope files, `result.json` (jury's object)
/// and `requests.jsonl` (each request's scheduled and actual send time, chunk times, tokens and
/// failure).
pub fn write_run(dir: &Path, run: &RunReport, outcomes: &[RequestOutcome]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let pretty = |v: &Value| serde_json::to_string_pretty(v).expect("JSON values serialise");
    std::fs::write(dir.join("benchmark_summary.json"), pretty(&evalscope_summary(run)))?;
    std::fs::write(dir.join("benchmark_percentile.json"), pretty(&evalscope_percentiles(run)))?;
    std::fs::write(dir.join("result.json"), pretty(&serde_json::to_value(run).expect("plain data")))?;
    let mut lines = String::new();
    for o in outcomes {
        lines.push_str(&serde_json::to_string(o).expect("plain data"));
        lines.push('\n');
    }
    std::fs::write(dir.join("requests.jsonl"), lines)
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}
