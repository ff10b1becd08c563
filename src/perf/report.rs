//! A load test's results as files and JSON: jury's own object (`--json`), EvalScope's
//! `benchmark_summary.json` and `benchmark_percentile.json`, and every request's timings.

use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::metrics::{Distribution, PERCENTILES, RunMetrics};
use super::outcome::RequestOutcome;

/// A figure of a report as people read it: `decimals` places, or "-" when it is missing.
pub fn number(value: &Value, decimals: usize) -> String {
    value.as_f64().map(|v| format!("{v:.decimals$}")).unwrap_or_else(|| "-".into())
}

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

/// EvalScope's summary (the key names of evalscope 1.14), times as it gives them.
pub fn evalscope_summary(run: &RunReport) -> Value {
    let m = &run.metrics;
    let mean = |d: &Option<Distribution>, scale: f64| d.as_ref().map(|d| round(d.mean * scale, 4));
    let input_sum = m.input_tokens.as_ref().map_or(0.0, |d| d.mean * d.count as f64);
    json!({
        "Test Duration (s)": round(m.time_taken_s, 4),
        // An open loop caps nothing: its concurrency is the most requests that were in flight.
        "Concurrency": if run.rate.is_some() { m.max_in_flight } else { run.parallel },
        "Request Rate (req/s)": run.rate.unwrap_or(-1.0),
        "Total Requests": m.requests.total,
        "Success Requests": m.requests.succeeded,
        "Failed Requests": m.requests.failed,
        "Req Throughput (req/s)": round(m.request_throughput, 4),
        "Avg Latency (s)": mean(&m.latency_ms, 0.001),
        "Avg Input Tokens": mean(&m.input_tokens, 1.0),
        "Output Throughput (tok/s)": round(m.output_throughput, 4),
        "Total Throughput (tok/s)": round(m.total_throughput, 4),
        "Input Throughput (tok/s)": round(if m.time_taken_s > 0.0 { input_sum / m.time_taken_s } else { 0.0 }, 4),
        "Avg TTFT (ms)": mean(&m.ttft_ms, 1.0),
        "Avg TPOT (ms)": mean(&m.tpot_ms, 1.0),
        "Avg ITL (ms)": mean(&m.itl_ms, 1.0),
        "Avg Output Tokens": mean(&m.output_tokens, 1.0),
    })
}

/// EvalScope's percentile table (evalscope 1.14's shape): one row per percentile, `min` first
/// and `max` last.
pub fn evalscope_percentiles(run: &RunReport) -> Value {
    let m = &run.metrics;
    let columns: [(&str, &Option<Distribution>, f64); 7] = [
        ("Latency (s)", &m.latency_ms, 0.001),
        ("TTFT (ms)", &m.ttft_ms, 1.0),
        ("ITL (ms)", &m.itl_ms, 1.0),
        ("TPOT (ms)", &m.tpot_ms, 1.0),
        ("Input tokens", &m.input_tokens, 1.0),
        ("Output tokens", &m.output_tokens, 1.0),
        ("Output (tok/s)", &m.request_output_throughput, 1.0),
    ];
    let row = |label: String, pick: &dyn Fn(&Distribution) -> f64| {
        let mut row = Map::new();
        row.insert("Percentiles".into(), json!(label));
        for (name, d, scale) in &columns {
            row.insert((*name).into(), d.as_ref().map_or(Value::Null, |d| json!(round(pick(d) * scale, 4))));
        }
        Value::Object(row)
    };
    let mut rows = vec![row("min".into(), &|d| d.min)];
    rows.extend(PERCENTILES.iter().map(|&p| row(format!("{p}%"), &move |d: &Distribution| d.p(p))));
    rows.push(row("max".into(), &|d| d.max));
    Value::Array(rows)
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
