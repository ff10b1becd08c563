//! A load test queued from the pages: its settings stored with the run, measured by the
//! server's job worker with the built-in questions, its progress kept with the run.

use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::load::{Live, LoadPlan};
use super::metrics::Slo;
use super::report::RunReport;
use super::session::{Session, Shape, Watch};
use super::{Api, Target, client, dataset};
use crate::input::{BadInput, Problem, Problems};
use crate::store::Store;

/// Bounds on a test started from the pages: a form should not be able to start a flood.
pub const MAX_PARALLEL: usize = 512;
pub const MAX_LOADS: usize = 8;
pub const MAX_NUMBER: usize = 5_000;
pub const MAX_RATE: f64 = 1_000.0;
pub const MAX_TOKENS: u32 = 8_192;

/// Where the requests go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PerfTarget {
    /// A model this server serves on its own `/v1`.
    Own { model: String },
    /// An endpoint the server was configured with; its key read from `api_key_env` when the
    /// test runs.
    Endpoint { url: String, model: String, api_key_env: Option<String> },
}

impl PerfTarget {
    pub fn model(&self) -> &str {
        match self {
            PerfTarget::Own { model } | PerfTarget::Endpoint { model, .. } => model,
        }
    }
}

/// This server's own `/v1`, as its job worker reaches it.
#[derive(Debug, Clone)]
pub struct OwnServer {
    /// `http://127.0.0.1:PORT/v1`
    pub base_url: String,
    /// One of its API keys, when it asks for them.
    pub api_key: Option<String>,
}

/// A test queued from the pages, as its run stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuedPerf {
    pub target: PerfTarget,
    pub stream: bool,
    /// Workers of each closed-loop load, one load per value.
    pub parallel: Vec<usize>,
    /// Requests per load.
    pub number: usize,
    /// An open loop at this many requests per second instead of the workers.
    pub rate: Option<f64>,
    pub max_tokens: Option<u32>,
    /// `ttft=200ms,tpot=50ms` for goodput.
    pub slo: Option<String>,
}

impl QueuedPerf {
    /// Every bound checked at once, with the form field each problem is about.
    pub fn check(&self) -> Result<Slo, BadInput> {
        let mut problems = Problems::default();
        let mut bad = |key: &str, message: String| problems.push(Problem::new(message).at_key(key));
        if self.parallel.is_empty() || self.parallel.len() > MAX_LOADS {
            bad("parallel", format!("give 1 to {MAX_LOADS} values"));
        }
        if self.parallel.iter().any(|&p| p == 0 || p > MAX_PARALLEL) {
            bad("parallel", format!("each value must be from 1 to {MAX_PARALLEL}"));
        }
        if self.rate.is_some() && self.parallel.len() > 1 {
            bad("parallel", "an open loop (a rate) takes one value".into());
        }
        if self.number == 0 || self.number > MAX_NUMBER {
            bad("number", format!("must be from 1 to {MAX_NUMBER}"));
        }
        if let Some(rate) = self.rate
            && !(0.01..=MAX_RATE).contains(&rate)
        {
            bad("rate", format!("expected requests per second from 0.01 to {MAX_RATE}, got {rate}"));
        }
        if self.max_tokens.is_some_and(|n| n == 0 || n > MAX_TOKENS) {
            bad("max_tokens", format!("must be from 1 to {MAX_TOKENS}"));
        }
        let slo = match self.slo.as_deref().map(super::metrics::parse_slo) {
            None => Slo::default(),
            Some(Ok(slo)) => slo,
            Some(Err(message)) => {
                bad("slo", message);
                Slo::default()
            }
        };
        problems.into_result()?;
        Ok(slo)
    }

    pub fn label(&self) -> String {
        let load = match self.rate {
            Some(rate) => format!("rate {rate}/s"),
            None => format!("parallel {}", self.parallel.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(" ")),
        };
        format!("{} · {load} · {} requests", self.target.model(), self.number)
    }

    fn plans(&self) -> Vec<LoadPlan> {
        self.parallel
            .iter()
            .map(|&parallel| LoadPlan { parallel, number: self.number, rate: self.rate, duration: None, seed: 0 })
            .collect()
    }
}

/// Why a queued test did not finish.
#[derive(Debug, thiserror::Error)]
pub enum PerfJobError {
    #[error("{0}")]
    Settings(String),
    #[error("cancelled")]
    Cancelled,
    #[error("every request of a load failed")]
    AllFailed(Value),
    #[error("{0}")]
    Other(#[from] anyhow::Error),
}

/// Keeps the run's progress (requests finished of all) while a load goes on.
struct Progress {
    store: Store,
    run_id: i64,
    total: u64,
    done_before: Arc<std::sync::atomic::AtomicU64>,
}

impl Watch for Progress {
    fn load_started(&self, _: &LoadPlan, live: Arc<Live>) -> Box<dyn Any + Send> {
        let (store, run_id, total, before) = (self.store.clone(), self.run_id, self.total, self.done_before.clone());
        let ticker = tokio::spawn(async move {
            loop {
                let done = before.load(std::sync::atomic::Ordering::Relaxed) + live.finished() as u64;
                let _ = store.set_run_progress(run_id, "requests", done, total).await;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        Box::new(tokio_util::task::AbortOnDropHandle::new(ticker))
    }

    fn load_finished(&self, report: &RunReport, _: &Path) {
        self.done_before.fetch_add(report.metrics.requests.total as u64, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Runs a queued test (the worker's side); the summary the run stores. Requests stored by an
/// earlier, interrupted attempt are cleared first: a test is measured whole or not at all.
pub async fn run_queued(
    queued: &QueuedPerf,
    store: &Store,
    run_id: i64,
    dir: &Path,
    own: Option<&OwnServer>,
    cancel: &CancellationToken,
) -> Result<Value, PerfJobError> {
    let slo = queued.check().map_err(|e| PerfJobError::Settings(e.to_string()))?;
    let (url, api_key) = match &queued.target {
        PerfTarget::Own { .. } => {
            let own = own.ok_or_else(|| PerfJobError::Settings("this server serves no /v1".into()))?;
            (own.base_url.clone(), own.api_key.clone())
        }
        PerfTarget::Endpoint { url, api_key_env, .. } => {
            (url.clone(), api_key_env.as_ref().and_then(|v| std::env::var(v).ok()).filter(|k| !k.trim().is_empty()))
        }
    };
    let target = Target {
        url: Target::endpoint(&url, Api::Openai),
        api: Api::Openai,
        model: queued.target.model().to_string(),
        api_key,
        stream: queued.stream,
        max_tokens: queued.max_tokens,
        min_tokens: None,
        extra: Default::default(),
        read_timeout: Duration::from_secs(120),
    };
    store.clear_perf_requests(run_id).await.map_err(|e| PerfJobError::Other(e.into()))?;
    let prompts = dataset::builtin();
    let plans = queued.plans();
    let total = plans.iter().map(|p| p.number as u64).sum();
    let about = json!({"name": queued.label(), "model": target.model, "url": target.url, "api": target.api,
                       "stream": target.stream, "dataset": "built-in", "max_tokens": target.max_tokens,
                       "slo": slo, "started_from": "pages"});
    let mut session = Session {
        http: client::http_client(Duration::from_secs(10)),
        target: Arc::new(target),
        prompt_tokens: vec![None; prompts.len()],
        prompts: Arc::new(prompts),
        tokenizer: None,
        store: store.clone(),
        run_id,
        dir: PathBuf::from(dir),
        warmup: 0,
        slo,
        watch: Box::new(Progress { store: store.clone(), run_id, total, done_before: Default::default() }),
        reports: Vec::new(),
        any_run_all_failed: false,
    };
    let shape = Shape::Loads(plans);
    let found = tokio::select! {
        found = session.run(&shape) => found?,
        _ = cancel.cancelled() => return Err(PerfJobError::Cancelled),
    };
    let done = session.reports.iter().map(|r| r.metrics.requests.total as u64).sum();
    store.set_run_progress(run_id, "requests", done, total).await.map_err(|e| PerfJobError::Other(e.into()))?;
    let summary = session.summary(about, &found);
    if session.any_run_all_failed {
        return Err(PerfJobError::AllFailed(summary));
    }
    Ok(summary)
}
