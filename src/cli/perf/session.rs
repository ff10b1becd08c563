//! One `jury perf` at work: each load measured, stored and written; sweeps and SLA searches.

use std::path::PathBuf;
use std::sync::Arc;

use indicatif::MultiProgress;
use serde_json::json;

use crate::perf::load::{self, Live, LoadPlan};
use crate::perf::metrics::{Slo, summarize};
use crate::perf::report::{RunReport, write_run};
use crate::perf::search;
use crate::perf::tokens::PerfTokenizer;
use crate::perf::{Target, client};
use crate::store::Store;

use super::PerfArgs;
use super::check::{MAX_RATE, MAX_SEARCH_PARALLEL};
use super::view::{live_view, print_run};

/// What every measurement of one `jury perf` shares.
pub(super) struct Session<'a> {
    pub(super) http: reqwest::Client,
    pub(super) target: Arc<Target>,
    pub(super) prompts: Arc<Vec<crate::perf::Prompt>>,
    pub(super) store: Store,
    pub(super) run_id: i64,
    pub(super) bars: MultiProgress,
    pub(super) show_progress: bool,
    /// `<outputs-dir>/<name>`.
    pub(super) dir: PathBuf,
    pub(super) args: &'a PerfArgs,
    pub(super) slo: Slo,
    pub(super) tokenizer: Option<PerfTokenizer>,
    /// Each prompt's length where the tokenizer or the dataset knows it.
    pub(super) prompt_tokens: Vec<Option<u64>>,
    pub(super) reports: Vec<RunReport>,
    pub(super) any_run_all_failed: bool,
}

impl Session<'_> {
    /// Runs one load, stores and writes it, and returns its report.
    pub(super) async fn measure(&mut self, plan: LoadPlan) -> anyhow::Result<RunReport> {
        for _ in 0..self.args.warmup {
            let _ = client::send(&self.http, &self.target, &self.prompts[0], std::time::Instant::now(), 0.0).await;
        }
        let live = Arc::new(Live::default());
        let view = self.show_progress.then(|| live_view(&self.bars, &plan, live.clone()));
        let done = load::run(&self.http, self.target.clone(), self.prompts.clone(), &plan, live).await;
        if let Some((bar, ticker)) = view {
            ticker.abort();
            bar.finish_and_clear();
        }
        let lengths: Vec<Option<u64>> =
            done.iter().map(|(i, _)| self.prompt_tokens.get(*i).copied().flatten()).collect();
        let outcomes: Vec<_> = done.into_iter().map(|(_, o)| o).collect();
        let count = self.tokenizer.as_ref().map(|t| move |text: &str| t.count(text));
        let metrics = summarize(&outcomes, &lengths, count.as_ref().map(|c| c as &dyn Fn(&str) -> u64), &self.slo);
        if metrics.requests.total > 0 && metrics.requests.succeeded == 0 {
            self.any_run_all_failed = true;
            let example = outcomes.iter().find_map(|o| o.detail.clone()).unwrap_or_default();
            tracing::error!(parallel = plan.parallel, rate = ?plan.rate, failures = ?metrics.requests.failures, "every request failed {example}");
        }
        let point = self.reports.len();
        self.store.save_perf_requests(self.run_id, point as i64, &outcomes).await?;
        let report = RunReport { parallel: plan.parallel, number: plan.number, rate: plan.rate, metrics };
        let mut folder = match plan.rate {
            Some(rate) => format!("rate_{rate:.3}_number_{}", plan.number),
            None => format!("parallel_{}_number_{}", plan.parallel, plan.number),
        };
        // A load measured again (an SLA search's repeats) gets a folder of its own.
        let earlier = self
            .reports
            .iter()
            .filter(|r| r.parallel == plan.parallel && r.rate == plan.rate && r.number == plan.number)
            .count();
        if earlier > 0 {
            folder.push_str(&format!("_{}", earlier + 1));
        }
        let dir = self.dir.join(folder);
        write_run(&dir, &report, &outcomes).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", dir.display()))?;
        if !self.args.json {
            print_run(&report, &dir);
        }
        self.reports.push(report.clone());
        Ok(report)
    }
}

/// `--sweep N`: a synchronous run (one worker) for the baseline rate, a throughput run (the
/// `--parallel` workers, 64 when not given) for the peak, then N open-loop rates between them,
/// stopping early once the server is saturated.
pub(super) async fn sweep(
    session: &mut Session<'_>,
    rates: usize,
    plan: &LoadPlan,
) -> anyhow::Result<serde_json::Value> {
    let synchronous = session.measure(LoadPlan { parallel: 1, rate: None, ..plan.clone() }).await?;
    let workers = if plan.parallel > 1 { plan.parallel } else { 64 };
    let peak = session.measure(LoadPlan { parallel: workers, rate: None, ..plan.clone() }).await?;
    let (low, high) = (synchronous.metrics.request_throughput, peak.metrics.request_throughput);
    let mut stopped_early = None;
    let mut previous = synchronous.metrics.clone();
    let schedule = search::sweep_rates(low, high, rates);
    for rate in schedule.iter().copied().filter(|r| *r > 0.0) {
        let point = session.measure(LoadPlan { rate: Some(rate), ..plan.clone() }).await?;
        if search::saturated(&previous, &point.metrics) {
            stopped_early = Some(format!(
                "the server saturated at {rate:.2} req/s (time to first token and requests in flight both rose by half or more): the sweep stopped there"
            ));
            break;
        }
        previous = point.metrics;
    }
    Ok(json!({"synchronous_rate": low, "peak_rate": high, "rates": schedule, "stopped_early": stopped_early}))
}

/// `--sla`: the highest load meeting every objective, over `--parallel` (closed loop) or, with
/// `--rate`, over rates (open loop); each load is run `--sla-repeats` times and meets only if
/// every repeat does.
pub(super) async fn sla_search(
    session: &mut Session<'_>,
    objectives: &[search::Objective],
    plan: &LoadPlan,
) -> anyhow::Result<serde_json::Value> {
    let over_rate = plan.rate.is_some();
    let start = plan.rate.unwrap_or(plan.parallel as f64);
    let mut bisection =
        search::Bisection::new(start, !over_rate, if over_rate { MAX_RATE } else { MAX_SEARCH_PARALLEL });
    let mut points = Vec::new();
    while let Some(load) = bisection.next() {
        let mut repeats = Vec::new();
        for _ in 0..session.args.sla_repeats {
            let this = if over_rate {
                LoadPlan { rate: Some(load), ..plan.clone() }
            } else {
                LoadPlan { parallel: load as usize, ..plan.clone() }
            };
            repeats.push(session.measure(this).await?.metrics);
        }
        let met = repeats.iter().all(|m| objectives.iter().all(|o| o.met(m)));
        let spread: Vec<serde_json::Value> = objectives
            .iter()
            .map(|o| {
                let values: Vec<f64> = repeats.iter().filter_map(|m| o.value(m)).collect();
                let low = values.iter().copied().fold(f64::INFINITY, f64::min);
                let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                json!({"objective": o.label(), "min_ms": low.is_finite().then_some(low), "max_ms": high.is_finite().then_some(high)})
            })
            .collect();
        points.push(json!({"load": load, "met": met, "spread": spread,
                           "failed_requests": repeats.iter().map(|m| m.requests.failed).sum::<usize>()}));
        bisection.record(load, met);
    }
    let over = if over_rate { "rate" } else { "parallel" };
    Ok(
        json!({"over": over, "objectives": objectives, "repeats": session.args.sla_repeats, "best": bisection.best(), "points": points}),
    )
}
