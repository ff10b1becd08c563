//! A run shared by several workers: each stage is cut into units (a chunk of one candidate's
//! questions, a chunk of one judge's review tasks) stored in the database, which any worker
//! may claim. The run's own worker does units too, waits until every unit is done, then makes
//! its ordinary pass over the stage: everything is stored by then, so that pass asks no model
//! again and writes the stage's files whole.

use std::future::Future;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{AnswerSummary, ArenaError, ArenaOptions, ReviewSummary};
use crate::config::{ArenaConfig, ModelSpec};
use crate::spec::local_model_name;
use crate::store::{NewUnit, Store, UnitFilter};

/// Questions per unit of the answers stage (one candidate's).
pub const ANSWER_CHUNK: usize = 20;
/// Review tasks per unit of the reviews stage (one judge's).
pub const REVIEW_CHUNK: usize = 100;

/// Which items a unit holds (stored as its `spec`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum Part {
    /// Questions `from..to` (in the question file's order) answered by one candidate.
    Answers { candidate: String, from: usize, to: usize },
    /// Review tasks `from..to` of the `of` the judge (a panel's `judge`-th, or the only one)
    /// has; `of` checks that every worker planned the same tasks.
    Reviews { judge: Option<usize>, from: usize, to: usize, of: usize },
}

impl Part {
    pub fn stage(&self) -> &'static str {
        match self {
            Part::Answers { .. } => "answers",
            Part::Reviews { .. } => "reviews",
        }
    }
}

/// Who this worker is, and which local models it has, for claiming units.
#[derive(Debug, Clone)]
pub struct Sharing {
    /// `host:pid`, recorded on the units it does.
    pub worker: String,
    /// The local models it has by name (`jury worker --models`); `None`: any, at the paths
    /// configs give.
    pub models: Option<Vec<String>>,
}

impl Sharing {
    /// This process, taking any unit.
    pub fn this_process() -> Sharing {
        Sharing { worker: worker_name(), models: None }
    }

    pub fn filter(&self, run_id: Option<i64>) -> UnitFilter<'_> {
        UnitFilter { run_id, models: self.models.as_deref() }
    }
}

/// `host:pid`.
pub fn worker_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}:{}", std::process::id())
}

fn needs(model: &ModelSpec) -> Option<String> {
    match model {
        ModelSpec::Local { path } => Some(local_model_name(path)),
        ModelSpec::Remote { .. } => None,
    }
}

fn chunks(len: usize, size: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..len).step_by(size).map(move |from| (from, (from + size).min(len)))
}

/// The answers stage's units: each enabled candidate's questions in chunks.
pub fn answer_units(config: &ArenaConfig, questions: usize) -> Vec<NewUnit> {
    let mut units = Vec::new();
    for candidate in config.enabled_candidates() {
        for (from, to) in chunks(questions, ANSWER_CHUNK) {
            let part = Part::Answers { candidate: candidate.name.clone(), from, to };
            units.push(NewUnit {
                spec: serde_json::to_string(&part).expect("serializable"),
                size: (to - from) as u64,
                needs_model: needs(&candidate.model),
            });
        }
    }
    units
}

/// The reviews stage's units: each judge's planned tasks in chunks (the plans kept for this
/// worker's own units of the run).
pub async fn review_units(
    config: &ArenaConfig,
    store: &Store,
    questions: Option<(&[crate::data::Question], i64)>,
    run_id: i64,
) -> Result<Vec<NewUnit>, ArenaError> {
    let judges: Vec<(Option<usize>, ArenaConfig)> = if config.reviews.panel.is_empty() {
        vec![(None, config.clone())]
    } else {
        (0..config.reviews.panel.len()).map(|j| (Some(j), super::panel::member_config(config, j))).collect()
    };
    let mut units = Vec::new();
    for (judge, one) in judges {
        let (tasks, _) = super::reviews::planned_for_unit(&one, store, questions, run_id).await?;
        let of = tasks.len();
        for (from, to) in chunks(of, REVIEW_CHUNK) {
            let part = Part::Reviews { judge, from, to, of };
            units.push(NewUnit {
                spec: serde_json::to_string(&part).expect("serializable"),
                size: (to - from) as u64,
                needs_model: needs(&one.reviews.judge.model),
            });
        }
    }
    Ok(units)
}

/// What one unit did: what failed in it (the run's own pass asks for those again), and its
/// stage summary as JSON (what it asked of models, added to the run's summary).
#[derive(Debug, Clone)]
pub struct UnitDone {
    pub failed: Option<String>,
    pub outcome: String,
}

impl UnitDone {
    pub fn answers(done: &AnswerSummary) -> UnitDone {
        UnitDone {
            failed: (done.failed > 0).then(|| format!("{} answers failed", done.failed)),
            outcome: serde_json::to_string(done).unwrap_or_default(),
        }
    }

    pub fn reviews(done: &ReviewSummary) -> UnitDone {
        UnitDone {
            failed: (done.failed > 0).then(|| format!("{} reviews failed", done.failed)),
            outcome: serde_json::to_string(done).unwrap_or_default(),
        }
    }
}

/// The run's own pass over a shared stage found the units' answers stored: they count as
/// generated (by the units), not reused.
pub fn add_answer_units(summary: &mut AnswerSummary, outcomes: &[String]) {
    for unit in outcomes.iter().filter_map(|o| serde_json::from_str::<AnswerSummary>(o).ok()) {
        summary.generated += unit.generated;
        summary.reused = summary.reused.saturating_sub(unit.generated);
        summary.prompt_tokens += unit.prompt_tokens;
        summary.completion_tokens += unit.completion_tokens;
        for line in unit.local_models {
            if !summary.local_models.contains(&line) {
                summary.local_models.push(line);
            }
        }
    }
    if summary.generated > 0 && summary.seconds > 0.0 {
        summary.tokens_per_second = Some(summary.completion_tokens as f64 / summary.seconds);
    }
}

/// The same for judgments: those the units asked for are calls made, not cache hits.
pub fn add_review_units(summary: &mut ReviewSummary, outcomes: &[String]) {
    for unit in outcomes.iter().filter_map(|o| serde_json::from_str::<ReviewSummary>(o).ok()) {
        summary.judge_calls += unit.judge_calls;
        summary.cache_hits = summary.cache_hits.saturating_sub(unit.judge_calls);
        summary.retries += unit.retries;
        summary.reasks += unit.reasks;
        summary.prompt_tokens += unit.prompt_tokens;
        summary.completion_tokens += unit.completion_tokens;
    }
}

/// Shares a stage's units out and does them alongside the other workers until every one is
/// done. `do_part` does one unit here. A stage of one unit is left to the run's own pass.
pub async fn share_stage<F, Fut>(
    store: &Store,
    run_id: i64,
    stage: &'static str,
    units: Vec<NewUnit>,
    sharing: &Sharing,
    options: &ArenaOptions,
    mut do_part: F,
) -> Result<(), ArenaError>
where
    F: FnMut(Part) -> Fut,
    Fut: Future<Output = Result<UnitDone, ArenaError>>,
{
    if units.len() < 2 {
        return Ok(());
    }
    store.ensure_units(run_id, stage, &units).await?;
    let filter = sharing.filter(Some(run_id));
    let mut reported = None::<Instant>;
    let mut waiting_since = None::<Instant>;
    loop {
        if options.cancelled() {
            return Err(ArenaError::Cancelled);
        }
        let progress = store.stage_progress(run_id, stage).await?;
        if reported.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) || progress.finished() {
            store.set_run_progress(run_id, stage, progress.items_done, progress.items).await?;
            reported = Some(Instant::now());
        }
        if progress.finished() {
            return Ok(());
        }
        let Some(unit) = store.claim_unit(&sharing.worker, &filter).await? else {
            // The rest is with other workers: wait for them (or for their leases to run out).
            // Units needing a local model no live worker has would wait for ever: say so.
            let since = *waiting_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= Duration::from_secs(60) {
                tracing::warn!(
                    run = run_id,
                    stage,
                    units_left = progress.units - progress.units_done,
                    "still waiting for other workers: units needing a local model go only to workers started \
                     with --models that name it"
                );
                waiting_since = Some(Instant::now());
            }
            let cancel = options.cancel.clone().unwrap_or_default();
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                _ = cancel.cancelled() => {}
            }
            continue;
        };
        waiting_since = None;
        let part: Part = match serde_json::from_str(&unit.spec) {
            Ok(part) => part,
            Err(e) => {
                store.finish_unit(unit.id, Some(&format!("unreadable unit: {e}")), None).await?;
                continue;
            }
        };
        let beat = store.keep_unit_alive(unit.id);
        let result = do_part(part).await;
        drop(beat);
        match result {
            Ok(done) => store.finish_unit(unit.id, done.failed.as_deref(), Some(&done.outcome)).await?,
            Err(ArenaError::Cancelled) => {
                store.release_unit(unit.id).await?;
                return Err(ArenaError::Cancelled);
            }
            Err(e) => {
                store.finish_unit(unit.id, Some(&e.to_string()), None).await?;
                return Err(e);
            }
        }
    }
}
