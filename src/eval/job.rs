//! An eval as one piece of work: which model, which tasks, scored into an lm-eval-shaped
//! report. The command line runs one in its process; the server's job worker runs those queued
//! from the pages (their settings stored with the run, so a restart resumes them).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::datasets::Dataset;
use super::report::EvalReport;
use super::runner::{DatasetPlan, EvalError, EvalOptions, EvalPart, EvalSummary, PlannedTask, plan_tasks, run_eval};
use crate::input::{BadInput, Problem};
use crate::jobs::share::{Sharing, UnitDone, UnitError, chunks, share_stage};
use crate::llm::LlmError;
use crate::store::{NewUnit, Store};

/// Where the model is: a local file, or an endpoint that echoes log-probabilities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EvalTarget {
    Local { path: PathBuf },
    Endpoint { url: String, name: String, api_key_env: Option<String> },
}

impl EvalTarget {
    pub fn identity(&self) -> String {
        match self {
            EvalTarget::Local { path } => {
                crate::llm::model_identity(&crate::spec::ModelSpec::Local { path: path.clone() })
            }
            EvalTarget::Endpoint { url, name, .. } => crate::spec::ModelSpec::Remote {
                api_base: url.clone(),
                api_key_env: String::new(),
                model: name.clone(),
            }
            .identity(),
        }
    }

    /// What a worker must have to score it: the local model's name (see `jury worker --models`).
    pub fn needs(&self) -> Option<String> {
        match self {
            EvalTarget::Local { path } => Some(crate::spec::local_model_name(path)),
            EvalTarget::Endpoint { .. } => None,
        }
    }

    pub fn label(&self) -> String {
        match self {
            EvalTarget::Local { path } => path.display().to_string(),
            EvalTarget::Endpoint { url, name, .. } => format!("{name} at {url}"),
        }
    }
}

/// Scores `tasks` with the model `target` names (its key, for an endpoint, given or read from
/// its variable); the report and the counts.
pub async fn score(
    target: &EvalTarget,
    key: Option<String>,
    tasks: &[PlannedTask],
    store: &Store,
    run_id: i64,
    options: &EvalOptions,
) -> Result<(EvalReport, EvalSummary), EvalError> {
    let identity = target.identity();
    let (results, summary) = match target {
        EvalTarget::Endpoint { url, name, api_key_env } => {
            let key = key.or_else(|| api_key_env.as_ref().and_then(|v| std::env::var(v).ok()));
            let scorer = crate::llm::completions_scoring::RemoteScorer::new(
                url,
                key,
                name,
                std::time::Duration::from_secs(300),
            )?;
            run_eval(&scorer, &identity, tasks, store, run_id, options).await?
        }
        #[cfg(feature = "local")]
        EvalTarget::Local { path } => {
            if crate::llm::demo::is_demo_model_path(path) {
                let target = path.clone();
                tokio::task::spawn_blocking(move || crate::llm::demo::ensure_demo_model(&target))
                    .await
                    .map_err(|e| LlmError::Setup(e.to_string()))?
                    .map_err(|e| LlmError::Setup(e.to_string()))?;
            }
            let scorer = kept_scorer(path).await?;
            let (results, mut summary) = run_eval(scorer.as_ref(), &identity, tasks, store, run_id, options).await?;
            summary.local_model = Some(scorer.describe());
            (results, summary)
        }
        #[cfg(not(feature = "local"))]
        EvalTarget::Local { path } => {
            return Err(LlmError::Setup(format!(
                "{}: this jury was built without local model support (the `local` cargo feature)",
                path.display()
            ))
            .into());
        }
    };
    Ok((EvalReport::new(target.label(), identity, results), summary))
}

/// The last local model this process scored with, kept for its next eval or unit: a shared
/// eval's units and its own pass would otherwise load the model once each.
#[cfg(feature = "local")]
async fn kept_scorer(path: &std::path::Path) -> Result<std::sync::Arc<crate::llm::scoring::LocalScorer>, LlmError> {
    type Kept = tokio::sync::Mutex<Option<std::sync::Arc<crate::llm::scoring::LocalScorer>>>;
    static KEPT: std::sync::OnceLock<Kept> = std::sync::OnceLock::new();
    let mut kept = KEPT.get_or_init(Default::default).lock().await;
    if let Some(scorer) = kept.as_ref().filter(|s| s.path() == path) {
        return Ok(scorer.clone());
    }
    // The previous model goes before the next one loads.
    *kept = None;
    let scorer = crate::llm::scoring::LocalScorer::load(path).await?;
    *kept = Some(scorer.clone());
    Ok(scorer)
}

/// The report as stored with the run and printed by `--json`: lm-eval's `results.json` with
/// jury's counts beside it.
pub fn report_json(report: &EvalReport, summary: &EvalSummary, run_id: i64) -> Value {
    let mut json = report.lm_eval_json();
    json["jury"] = json!({"run_id": run_id, "requests": summary.requests, "cache_hits": summary.cache_hits,
                          "asked": summary.asked, "seconds": summary.seconds,
                          "docs_per_second": summary.docs_per_second, "local_model": summary.local_model});
    json
}

/// An eval queued from the pages or with `jury eval --submit`, as its run stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuedEval {
    pub target: EvalTarget,
    pub datasets: Vec<String>,
    pub dataset_dir: PathBuf,
    pub limit: Option<usize>,
    /// Each dataset's own settings (subsets, shots, folder, samples), where the command line
    /// gave any; the pages' evals take the datasets' defaults.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plans: Vec<QueuedPlan>,
    /// Whether answered requests are taken from the cache.
    #[serde(default = "yes")]
    pub use_cache: bool,
}

fn yes() -> bool {
    true
}

/// A [`DatasetPlan`] as a queued eval stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuedPlan {
    pub dataset: String,
    #[serde(default)]
    pub subsets: Vec<String>,
    pub shots: Option<usize>,
    pub dir: PathBuf,
    pub samples: Option<usize>,
}

impl From<&DatasetPlan> for QueuedPlan {
    fn from(plan: &DatasetPlan) -> QueuedPlan {
        QueuedPlan {
            dataset: plan.dataset.name().to_string(),
            subsets: plan.subsets.clone(),
            shots: plan.shots,
            dir: plan.dir.clone(),
            samples: plan.samples,
        }
    }
}

impl QueuedEval {
    /// The tasks it will score, read now: bad data is refused before anything is queued.
    pub fn plan(&self) -> Result<Vec<PlannedTask>, BadInput> {
        let mut datasets: Vec<DatasetPlan> = Vec::new();
        for plan in &self.plans {
            let dataset = Dataset::parse(&plan.dataset).ok_or_else(|| {
                BadInput::from(Problem::new(format!("unknown dataset {:?}", plan.dataset)).at_key("datasets"))
            })?;
            datasets.push(DatasetPlan {
                dataset,
                subsets: plan.subsets.clone(),
                shots: plan.shots,
                dir: plan.dir.clone(),
                samples: plan.samples,
            });
        }
        for name in &self.datasets {
            let dataset = Dataset::parse(name)
                .ok_or_else(|| BadInput::from(Problem::new(format!("unknown dataset {name:?}")).at_key("datasets")))?;
            if !datasets.iter().any(|d| d.dataset == dataset) {
                datasets.push(DatasetPlan::new(dataset, self.dataset_dir.clone()));
            }
        }
        if datasets.is_empty() {
            return Err(Problem::new("choose at least one dataset").at_key("datasets").into());
        }
        if self.limit == Some(0) {
            return Err(Problem::new("a limit of 0 scores nothing").at_key("limit").into());
        }
        plan_tasks(&datasets, self.limit)
    }
}

/// Documents per unit when an eval is shared among workers.
pub const EVAL_CHUNK: usize = 50;

/// Runs a queued eval (the worker's side); the report JSON. With `sharing`, each task's
/// documents are shared out among the workers in units first (see `jobs::share`); the report
/// is then made from what they stored.
pub async fn run_queued(
    queued: &QueuedEval,
    store: &Store,
    run_id: i64,
    options: &EvalOptions,
    sharing: Option<&Sharing>,
) -> Result<Value, EvalError> {
    let tasks = queued.plan()?;
    let units = eval_units(queued, &tasks);
    let shared = units.len() >= 2 && sharing.is_some();
    if let Some(sharing) = sharing.filter(|_| shared) {
        share_stage(store, run_id, "documents", units, sharing, options.cancel.as_ref(), |spec| {
            let tasks = &tasks;
            async move {
                let part = parse_part(&spec)?;
                let options =
                    EvalOptions { progress: None, part: Some(part), cancel: options.cancel.clone(), ..*options };
                let (_, summary) = score(&queued.target, None, tasks, store, run_id, &options).await?;
                Ok::<_, EvalError>(unit_done(&summary))
            }
        })
        .await?;
    }
    // After the units, everything is stored: read it back even when the eval asks afresh
    // (`use_cache: false`), which the units did.
    let options = EvalOptions {
        progress: options.progress.clone(),
        use_cache: options.use_cache || shared,
        cancel: options.cancel.clone(),
        part: None,
    };
    let (report, mut summary) = score(&queued.target, None, &tasks, store, run_id, &options).await?;
    if shared {
        // What the units asked was asked for this eval, not found in the cache.
        for unit in store.unit_outcomes(run_id, "documents").await? {
            if let Ok(unit) = serde_json::from_str::<EvalSummary>(&unit) {
                summary.asked += unit.asked;
                summary.cache_hits = summary.cache_hits.saturating_sub(unit.asked);
            }
        }
    }
    Ok(report_json(&report, &summary, run_id))
}

/// One unit of another worker's shared eval.
pub async fn run_unit(
    queued: &QueuedEval,
    spec: &str,
    store: &Store,
    run_id: i64,
    options: &EvalOptions,
) -> Result<UnitDone, EvalError> {
    let tasks = queued.plan()?;
    let options =
        EvalOptions { progress: None, part: Some(parse_part(spec)?), cancel: options.cancel.clone(), ..*options };
    let (_, summary) = score(&queued.target, None, &tasks, store, run_id, &options).await?;
    Ok(unit_done(&summary))
}

/// Each task's documents in chunks, needing the eval's local model if it has one.
fn eval_units(queued: &QueuedEval, tasks: &[PlannedTask]) -> Vec<NewUnit> {
    let needs = queued.target.needs();
    let mut units = Vec::new();
    for (task, planned) in tasks.iter().enumerate() {
        for (from, to) in chunks(planned.task.len(), EVAL_CHUNK) {
            units.push(NewUnit {
                spec: serde_json::to_string(&EvalPart { task, from, to }).expect("serializable"),
                size: (to - from) as u64,
                needs_model: needs.clone(),
            });
        }
    }
    units
}

fn parse_part(spec: &str) -> Result<EvalPart, EvalError> {
    serde_json::from_str(spec).map_err(|e| EvalError::Model(LlmError::Setup(format!("unreadable unit {spec}: {e}"))))
}

fn unit_done(summary: &EvalSummary) -> UnitDone {
    UnitDone { failed: None, outcome: serde_json::to_string(summary).unwrap_or_default() }
}

impl UnitError for EvalError {
    fn cancelled() -> Self {
        EvalError::Cancelled
    }

    fn is_cancelled(&self) -> bool {
        matches!(self, EvalError::Cancelled)
    }
}
