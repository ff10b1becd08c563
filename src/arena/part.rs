//! An arena run shared by several workers (see `jobs::share`): its stages' units are a chunk
//! of one candidate's questions, or a chunk of one judge's review tasks.

use serde::{Deserialize, Serialize};

use super::{AnswerSummary, ArenaError, ReviewSummary};
use crate::config::{ArenaConfig, ModelSpec};
use crate::jobs::share::{UnitDone, UnitError, chunks};
use crate::spec::local_model_name;
use crate::store::{NewUnit, Store};

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

fn needs(model: &ModelSpec) -> Option<String> {
    match model {
        ModelSpec::Local { path } => Some(local_model_name(path)),
        ModelSpec::Remote { .. } => None,
    }
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

/// What a unit of the answers stage did.
pub fn answers_done(done: &AnswerSummary) -> UnitDone {
    UnitDone {
        failed: (done.failed > 0).then(|| format!("{} answers failed", done.failed)),
        outcome: serde_json::to_string(done).unwrap_or_default(),
    }
}

/// What a unit of the reviews stage did.
pub fn reviews_done(done: &ReviewSummary) -> UnitDone {
    UnitDone {
        failed: (done.failed > 0).then(|| format!("{} reviews failed", done.failed)),
        outcome: serde_json::to_string(done).unwrap_or_default(),
    }
}

impl UnitError for ArenaError {
    fn cancelled() -> Self {
        ArenaError::Cancelled
    }

    fn is_cancelled(&self) -> bool {
        matches!(self, ArenaError::Cancelled)
    }
}

/// Reads a unit's spec.
pub fn parse(spec: &str) -> Result<Part, ArenaError> {
    serde_json::from_str(spec).map_err(|e| ArenaError::Failed(format!("unreadable unit {spec}: {e}")))
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
