//! What `jury perf` shows people: a live bar while a load runs, and tables of the results.

use std::sync::Arc;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::cli::tables::{right, table};
use crate::perf::load::{Live, LoadPlan};
use crate::perf::metrics::{Distribution, PERCENTILES};
use crate::perf::report::RunReport;
use crate::perf::report::number;
use crate::perf::session::Watch;

/// The command line's view of a test: a live bar per load (on a terminal), the tables after
/// each (unless the results are printed as JSON).
pub(super) struct Terminal {
    pub(super) bars: MultiProgress,
    pub(super) bar: bool,
    pub(super) tables: bool,
}

/// A live bar, cleared when dropped.
struct LiveBar(ProgressBar, tokio::task::JoinHandle<()>);

impl Drop for LiveBar {
    fn drop(&mut self) {
        self.1.abort();
        self.0.finish_and_clear();
    }
}

impl Watch for Terminal {
    fn load_started(&self, plan: &LoadPlan, live: Arc<Live>) -> Box<dyn std::any::Any + Send> {
        if !self.bar {
            return Box::new(());
        }
        let (bar, ticker) = live_view(&self.bars, plan, live);
        Box::new(LiveBar(bar, ticker))
    }

    fn load_finished(&self, report: &RunReport, dir: &std::path::Path) {
        if self.tables {
            print_run(report, dir);
        }
    }
}

/// A bar of finished requests with the current request rate and running latency percentiles.
fn live_view(bars: &MultiProgress, plan: &LoadPlan, live: Arc<Live>) -> (ProgressBar, tokio::task::JoinHandle<()>) {
    let bar = bars.add(ProgressBar::new(plan.number as u64));
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(match plan.rate {
        Some(rate) => format!("rate {rate}/s"),
        None => format!("parallel {}", plan.parallel),
    });
    let shown = bar.clone();
    let started = std::time::Instant::now();
    let ticker = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let outcomes = live.snapshot();
            let failed = outcomes.iter().filter(|(ok, _)| !ok).count();
            let latencies: Vec<f64> = outcomes.iter().filter(|(ok, _)| *ok).map(|(_, s)| s * 1000.0).collect();
            let rate = outcomes.len() as f64 / started.elapsed().as_secs_f64().max(1e-9);
            let percentiles = Distribution::of(&latencies)
                .map(|d| format!(", latency p50 {:.0} ms, p99 {:.0} ms", d.p(50), d.p(99)))
                .unwrap_or_default();
            shown.set_position(outcomes.len() as u64);
            shown.set_message(format!("{rate:.1} req/s, {failed} failed{percentiles}"));
        }
    });
    (bar, ticker)
}

fn print_run(report: &RunReport, dir: &std::path::Path) {
    let m = &report.metrics;
    let load = match report.rate {
        Some(rate) => format!("open loop at {rate} req/s"),
        None => format!("parallel {}", report.parallel),
    };
    println!(
        "Benchmark: {load}, {} requests ({} failed), {:.2} s",
        m.requests.total, m.requests.failed, m.time_taken_s
    );
    let mut t = table(&["metric", "value"]);
    let mut row = |name: &str, value: String| {
        t.add_row(vec![comfy_table::Cell::new(name), right(value)]);
    };
    row("Request throughput (req/s)", format!("{:.3}", m.request_throughput));
    row("Output token throughput (tok/s)", format!("{:.2}", m.output_throughput));
    row("Total token throughput (tok/s)", format!("{:.2}", m.total_throughput));
    if let Some(goodput) = m.goodput {
        row("Goodput (req/s within the SLOs)", format!("{goodput:.3}"));
    }
    let mean = |d: &Option<Distribution>| d.as_ref().map(|d| format!("{:.2}", d.mean)).unwrap_or_else(|| "-".into());
    row("Average latency (ms)", mean(&m.latency_ms));
    row("Average TTFT (ms)", mean(&m.ttft_ms));
    row("Average TPOT (ms)", mean(&m.tpot_ms));
    row("Average ITL (ms)", mean(&m.itl_ms));
    row("Average input tokens", mean(&m.input_tokens));
    row("Average output tokens", mean(&m.output_tokens));
    row("Chunks per request", format!("{:.1}", m.chunks_per_request));
    row("Tokens counted from", format!("{:?}", m.tokens_from).to_lowercase());
    row("Most requests in flight", m.max_in_flight.to_string());
    if report.rate.is_some() {
        row(
            "Send lateness p99 (ms)",
            m.send_lateness_ms.as_ref().map(|d| format!("{:.3}", d.p(99))).unwrap_or_default(),
        );
    }
    for (reason, n) in &m.requests.failures {
        row(&format!("Failed: {reason}"), n.to_string());
    }
    println!("{t}");
    let mut p = table(&[
        "percentile",
        "TTFT (ms)",
        "ITL (ms)",
        "TPOT (ms)",
        "latency (ms)",
        "input tok",
        "output tok",
        "output tok/s",
    ]);
    let cell =
        |d: &Option<Distribution>, q: u32| d.as_ref().map(|d| format!("{:.2}", d.p(q))).unwrap_or_else(|| "-".into());
    for q in PERCENTILES {
        p.add_row(vec![
            comfy_table::Cell::new(format!("{q}%")),
            right(cell(&m.ttft_ms, q)),
            right(cell(&m.itl_ms, q)),
            right(cell(&m.tpot_ms, q)),
            right(cell(&m.latency_ms, q)),
            right(cell(&m.input_tokens, q)),
            right(cell(&m.output_tokens, q)),
            right(cell(&m.request_output_throughput, q)),
        ]);
    }
    println!("{p}");
    println!("files: {}\n", dir.display());
}

/// One line per run of a sweep.
pub(super) fn print_sweep(reports: &[RunReport]) {
    let mut t = table(&[
        "parallel",
        "rate",
        "requests",
        "failed",
        "req/s",
        "output tok/s",
        "TTFT p50 (ms)",
        "TTFT p99 (ms)",
        "TPOT p50 (ms)",
        "latency p99 (ms)",
    ]);
    let at =
        |d: &Option<Distribution>, q: u32| d.as_ref().map(|d| format!("{:.1}", d.p(q))).unwrap_or_else(|| "-".into());
    for r in reports {
        let m = &r.metrics;
        t.add_row(vec![
            right(r.parallel),
            right(r.rate.map(|x| x.to_string()).unwrap_or_else(|| "-".into())),
            right(m.requests.total),
            right(m.requests.failed),
            right(format!("{:.2}", m.request_throughput)),
            right(format!("{:.1}", m.output_throughput)),
            right(at(&m.ttft_ms, 50)),
            right(at(&m.ttft_ms, 99)),
            right(at(&m.tpot_ms, 50)),
            right(at(&m.latency_ms, 99)),
        ]);
    }
    println!("Sweep\n{t}");
}

pub(super) fn print_sla(sla: &serde_json::Value) {
    let over = sla["over"].as_str().unwrap_or("parallel");
    let mut t = table(&[over, "met", "spread of each objective (ms, over the repeats)"]);
    for p in sla["points"].as_array().into_iter().flatten() {
        let spread: Vec<String> = p["spread"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                format!(
                    "{}: {}–{}",
                    s["objective"].as_str().unwrap_or(""),
                    number(&s["min_ms"], 1),
                    number(&s["max_ms"], 1)
                )
            })
            .collect();
        t.add_row(vec![
            right(&p["load"]),
            comfy_table::Cell::new(if p["met"] == true { "yes" } else { "no" }),
            comfy_table::Cell::new(spread.join("; ")),
        ]);
    }
    println!("SLA search\n{t}");
    match sla["best"].as_f64() {
        Some(best) => println!("highest {over} meeting every objective: {best}"),
        None => println!("no {over} tried met every objective"),
    }
}
