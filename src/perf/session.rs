//! One load test at work, for `jury perf` and for tests started from the pages: each load
//! measured, stored and written; fixed loads, sweeps and SLA searches.

use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::load::{self, Live, LoadPlan};
use super::metrics::{Slo, summarize};
use super::report::{RunReport, write_run};
use super::search::{self, Objective};
use super::tokens::PerfTokenizer;
use super::{Prompt, Target, client};
use crate::store::Store;

/// The most workers an SLA search tries.
pub const MAX_SEARCH_PARALLEL: f64 = 4096.0;
/// The highest rate an open loop or an SLA search over rates uses.
pub const MAX_RATE: f64 = 1_000_000.0;

/// What a session shows while it works: the command line draws a bar and prints tables; the
/// job worker records progress with the run.
pub trait Watch: Send + Sync {
    /// A load starts; the returned value is dropped when it ends.
    fn load_started(&self, plan: &LoadPlan, live: Arc<Live>) -> Box<dyn Any + Send>;
    /// A load ended; its files are in `dir`.
    fn load_finished(&self, report: &RunReport, dir: &Path);
}

/// Shows nothing.
pub struct Quiet;

impl Watch for Quiet {
    fn load_started(&self, _: &LoadPlan, _: Arc<Live>) -> Box<dyn Any + Send> {
        Box::new(())
    }
    fn load_finished(&self, _: &RunReport, _: &Path) {}
}

/// What a test measures: fixed loads one after another, a sweep from idle to saturation, or
/// the highest load meeting objectives.
#[derive(Debug, Clone)]
pub enum Shape {
    Loads(Vec<LoadPlan>),
    /// A synchronous run, a throughput run, then `rates` open-loop rates between them.
    Sweep {
        rates: usize,
        plan: LoadPlan,
    },
    Sla {
        objectives: Vec<Objective>,
        repeats: usize,
        plan: LoadPlan,
    },
}

/// What every measurement of one test shares.
pub struct Session {
    pub http: reqwest::Client,
    pub target: Arc<Target>,
    pub prompts: Arc<Vec<Prompt>>,
    /// Each prompt's length where the tokenizer or the dataset knows it.
    pub prompt_tokens: Vec<Option<u64>>,
    pub tokenizer: Option<PerfTokenizer>,
    pub store: Store,
    pub run_id: i64,
    /// Each load's files go in a folder here.
    pub dir: PathBuf,
    /// Requests sent one at a time before each load, not counted.
    pub warmup: usize,
    pub slo: Slo,
    pub watch: Box<dyn Watch>,
    pub reports: Vec<RunReport>,
    pub any_run_all_failed: bool,
}

impl Session {
    /// Measures `shape`; what a sweep or a search found besides its loads (`{"sweep": …}` or
    /// `{"sla": …}`).
    pub async fn run(&mut self, shape: &Shape) -> anyhow::Result<Map<String, Value>> {
        let mut found = Map::new();
        match shape {
            Shape::Loads(plans) => {
                for plan in plans {
                    self.measure(plan.clone()).await?;
                }
            }
            Shape::Sweep { rates, plan } => {
                found.insert("sweep".into(), self.sweep(*rates, plan).await?);
            }
            Shape::Sla { objectives, repeats, plan } => {
                found.insert("sla".into(), self.sla_search(objectives, *repeats, plan).await?);
            }
        }
        Ok(found)
    }

    /// The test's description `about` with its loads' figures and `found` added: what the run
    /// stores as its summary.
    pub fn summary(&self, mut about: Value, found: &Map<String, Value>) -> Value {
        about["runs"] = serde_json::to_value(&self.reports).unwrap_or_default();
        for (key, value) in found {
            about[key] = value.clone();
        }
        about
    }

    /// Runs one load, stores and writes it, and returns its report.
    pub async fn measure(&mut self, plan: LoadPlan) -> anyhow::Result<RunReport> {
        for _ in 0..self.warmup {
            let _ = client::send(&self.http, &self.target, &self.prompts[0], std::time::Instant::now(), 0.0).await;
        }
        let live = Arc::new(Live::default());
        let shown = self.watch.load_started(&plan, live.clone());
        let done = load::run(&self.http, self.target.clone(), self.prompts.clone(), &plan, live).await;
        drop(shown);
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
        self.watch.load_finished(&report, &dir);
        self.reports.push(report.clone());
        Ok(report)
    }

    /// A synchronous run (one worker) for the baseline rate, a throughput run (the plan's
    /// workers, 64 when it has one) for the peak, then `rates` open-loop rates between them,
    /// stopping early once the server is saturated.
    async fn sweep(&mut self, rates: usize, plan: &LoadPlan) -> anyhow::Result<Value> {
        let synchronous = self.measure(LoadPlan { parallel: 1, rate: None, ..plan.clone() }).await?;
        let workers = if plan.parallel > 1 { plan.parallel } else { 64 };
        let peak = self.measure(LoadPlan { parallel: workers, rate: None, ..plan.clone() }).await?;
        let (low, high) = (synchronous.metrics.request_throughput, peak.metrics.request_throughput);
        let mut stopped_early = None;
        let mut previous = synchronous.metrics.clone();
        let schedule = search::sweep_rates(low, high, rates);
        for rate in schedule.iter().copied().filter(|r| *r > 0.0) {
            let point = self.measure(LoadPlan { rate: Some(rate), ..plan.clone() }).await?;
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

    /// The highest load meeting every objective, over the plan's workers (closed loop) or,
    /// when it has a rate, over rates (open loop); each load is run `repeats` times and meets
    /// only if every repeat does.
    async fn sla_search(&mut self, objectives: &[Objective], repeats: usize, plan: &LoadPlan) -> anyhow::Result<Value> {
        let over_rate = plan.rate.is_some();
        let start = plan.rate.unwrap_or(plan.parallel as f64);
        let mut bisection =
            search::Bisection::new(start, !over_rate, if over_rate { MAX_RATE } else { MAX_SEARCH_PARALLEL });
        let mut points = Vec::new();
        while let Some(load) = bisection.next() {
            let mut measured = Vec::new();
            for _ in 0..repeats {
                let this = if over_rate {
                    LoadPlan { rate: Some(load), ..plan.clone() }
                } else {
                    LoadPlan { parallel: load as usize, ..plan.clone() }
                };
                measured.push(self.measure(this).await?.metrics);
            }
            let met = measured.iter().all(|m| objectives.iter().all(|o| o.met(m)));
            let spread: Vec<Value> = objectives
                .iter()
                .map(|o| {
                    let values: Vec<f64> = measured.iter().filter_map(|m| o.value(m)).collect();
                    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
                    let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    json!({"objective": o.label(), "min_ms": low.is_finite().then_some(low), "max_ms": high.is_finite().then_some(high)})
                })
                .collect();
            points.push(json!({"load": load, "met": met, "spread": spread,
                               "failed_requests": measured.iter().map(|m| m.requests.failed).sum::<usize>()}));
            bisection.record(load, met);
        }
        let over = if over_rate { "rate" } else { "parallel" };
        Ok(
            json!({"over": over, "objectives": objectives, "repeats": repeats, "best": bisection.best(), "points": points}),
        )
    }
}
