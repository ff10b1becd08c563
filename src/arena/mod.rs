//! The arena run: questions → candidate answers → judge reviews → ratings.

pub mod answers;
mod html_report;
pub mod judge;
pub mod panel;
pub mod part;
pub mod plan;
pub mod progress;
pub mod report;
pub mod reviews;
pub mod templates;
pub mod verdict;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::config::ArenaConfig;
use crate::data::read_questions;
use crate::input::BadInput;
use crate::jobs::share::{UnitDone, share_stage};
use crate::llm::{LlmError, ModelPool};
use crate::store::{RunStatus, Store, StoreError};

pub use answers::AnswerSummary;
pub use report::{RatingReport, RatingSummary};
pub use reviews::ReviewSummary;

#[derive(Debug, Clone)]
pub struct ArenaOptions {
    /// Generate answers, but let no judge be asked: verdicts are seeded pseudo-random.
    pub dry_run: bool,
    /// Requests in flight at once, for answers and for the judge.
    pub concurrency: usize,
    /// Where progress bars are drawn; `None` draws none.
    pub progress: Option<indicatif::MultiProgress>,
    /// Record the run under this existing `runs` row (a queued job) instead of a new one.
    pub run_id: Option<i64>,
    /// Stops the run: calls in flight are dropped, what came back before is kept.
    pub cancel: Option<tokio_util::sync::CancellationToken>,
    /// The models to use, shared with other runs of the same process (a server loads each
    /// local model once); `None` opens them for this run alone.
    pub pool: Option<Arc<ModelPool>>,
    /// Share each stage with the other workers on the database, as this worker (queued runs).
    pub sharing: Option<crate::jobs::share::Sharing>,
    /// Do only this unit of a stage (a worker helping with another's run).
    pub part: Option<part::Part>,
}

impl Default for ArenaOptions {
    fn default() -> Self {
        ArenaOptions {
            dry_run: false,
            concurrency: 8,
            progress: None,
            run_id: None,
            cancel: None,
            pool: None,
            sharing: None,
            part: None,
        }
    }
}

impl ArenaOptions {
    pub(crate) fn cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(|c| c.is_cancelled())
    }

    fn for_part(&self, part: part::Part) -> ArenaOptions {
        ArenaOptions { part: Some(part), sharing: None, progress: None, ..self.clone() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ArenaError {
    #[error(transparent)]
    BadInput(#[from] BadInput),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Model(#[from] LlmError),
    #[error("{0}")]
    Failed(String),
    #[error("the run was cancelled; everything finished before that is stored")]
    Cancelled,
}

/// What a run did; stored as JSON with the run, and read back by its page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArenaSummary {
    pub run_id: i64,
    pub dry_run: bool,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answers: Option<AnswerSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviews: Option<ReviewSummary>,
    /// With a panel of judges: each judge's own reviews (`reviews` holds the totals).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub panel: Vec<panel::PanelMember>,
    /// Peer mode: each judge's weight, the weighted and unweighted win rates, self-preference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_rank: Option<panel::peer::PeerRank>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratings: Option<RatingSummary>,
    #[serde(skip_serializing_if = "Option::is_none", skip_deserializing)]
    pub report: Option<RatingReport>,
    pub seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ArenaSummary {
    pub fn succeeded(&self) -> bool {
        self.status == RunStatus::Succeeded.as_str()
    }

    /// The run's figures as label and value, for the terminal's table and the run's page.
    pub fn facts(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(a) = &self.answers {
            out.push(("answers generated", a.generated.to_string()));
            out.push(("answers reused", a.reused.to_string()));
            if a.failed > 0 {
                out.push(("answers failed", a.failed.to_string()));
            }
            out.push(("answer tokens (prompt / completion)", format!("{} / {}", a.prompt_tokens, a.completion_tokens)));
            if let Some(tps) = a.tokens_per_second {
                out.push(("generation speed", format!("{tps:.1} tokens/s")));
            }
            out.push(("answers time", format!("{:.1} s", a.seconds)));
            for local in &a.local_models {
                out.push(("local model", local.clone()));
            }
        }
        if let Some(r) = &self.reviews {
            out.push(("reviews", r.tasks.to_string()));
            out.push(("judgments made", r.judge_calls.to_string()));
            out.push(("cache hits", (r.cache_hits + r.seeded_from_cache_file).to_string()));
            out.push(("retries (HTTP)", r.retries.to_string()));
            out.push(("re-asked (unreadable verdict)", r.reasks.to_string()));
            out.push(("unknown verdicts", r.unknown.to_string()));
            if r.failed > 0 {
                out.push(("reviews failed", r.failed.to_string()));
            }
            if let Some(rate) = r.consistency_rate {
                out.push((
                    "judge consistency (swapped positions)",
                    format!("{:.1}% of {}", rate * 100.0, r.consistency_pairs),
                ));
            }
            for m in &self.panel {
                let consistency = m.reviews.consistency_rate.map_or(String::new(), |rate| {
                    format!(", consistent on {:.1}% of {} swapped pairs", rate * 100.0, m.reviews.consistency_pairs)
                });
                out.push((
                    "panel judge",
                    format!(
                        "{}: {} reviews, {} judgments made, {} cache hits, {} unknown{consistency}",
                        m.judge, m.reviews.tasks, m.reviews.judge_calls, m.reviews.cache_hits, m.reviews.unknown
                    ),
                ));
            }
            if let Some(rank) = &self.peer_rank {
                let list = |m: &std::collections::BTreeMap<String, f64>, percent: bool| {
                    m.iter()
                        .map(|(k, v)| if percent { format!("{k} {:.1}%", v * 100.0) } else { format!("{k} {v:.3}") })
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let state = if rank.converged { "converged" } else { "did not converge" };
                out.push((
                    "peer rank weights",
                    format!("{} ({state} in {} rounds)", list(&rank.weights, false), rank.rounds),
                ));
                out.push(("peer win rates, weighted", list(&rank.weighted_scores, true)));
                out.push(("peer win rates, unweighted", list(&rank.unweighted_scores, true)));
                for s in &rank.self_preference {
                    out.push((
                        "self-preference",
                        format!(
                            "{} wins {:.1}% of its {} battles in its own verdicts, {:.1}% in the others'",
                            s.model,
                            s.own_verdicts * 100.0,
                            s.battles,
                            s.others_verdicts * 100.0
                        ),
                    ));
                }
            }
            out.push(("judge tokens (prompt / completion)", format!("{} / {}", r.prompt_tokens, r.completion_tokens)));
            out.push(("reviews time", format!("{:.1} s", r.seconds)));
        }
        out.push(("total time", format!("{:.1} s", self.seconds)));
        out
    }

    /// The files the run wrote: answers, reviews, reports.
    pub fn files(&self) -> Vec<&Path> {
        let answers = self.answers.iter().flat_map(|a| a.files.iter().map(PathBuf::as_path));
        let reviews = self.reviews.iter().filter_map(|r| r.review_file.as_deref());
        let reports = self.ratings.iter().flat_map(|r| r.files.iter().map(PathBuf::as_path));
        answers.chain(reviews).chain(reports).collect()
    }
}

/// Runs the three stages in order, each skipped when disabled. Returns the summary; the
/// run is recorded in the database with its outcome.
pub async fn run_arena(
    config: &ArenaConfig,
    config_text: &str,
    store: &Store,
    options: &ArenaOptions,
) -> Result<ArenaSummary, ArenaError> {
    let started = Instant::now();
    let config = config_for(config, options);
    let config = config.as_ref();
    // Read every input before anything is generated or paid for.
    let questions = match &config.question_file {
        Some(file) => Some(read_questions(file)?),
        None => None,
    };
    let run_id = match options.run_id {
        Some(id) => id,
        None => {
            store.create_run("arena", config_text, Some(&config.file.display().to_string()), options.dry_run).await?
        }
    };
    let mut summary = ArenaSummary {
        run_id,
        dry_run: options.dry_run,
        status: RunStatus::Running.as_str().into(),
        answers: None,
        reviews: None,
        panel: Vec::new(),
        peer_rank: None,
        ratings: None,
        report: None,
        seconds: 0.0,
        error: None,
    };
    let heartbeat = store.keep_alive(run_id);
    let result = run_stages(config, store, options, questions, run_id, &mut summary).await;
    drop(heartbeat);
    summary.seconds = started.elapsed().as_secs_f64();
    let status = match &result {
        Ok(()) => RunStatus::Succeeded,
        Err(ArenaError::Cancelled) => {
            summary.error = Some(ArenaError::Cancelled.to_string());
            RunStatus::Cancelled
        }
        Err(e) => {
            summary.error = Some(e.to_string());
            RunStatus::Failed
        }
    };
    summary.status = status.as_str().into();
    let summary_json = serde_json::to_string(&summary).unwrap_or_default();
    store.finish_run(run_id, status, Some(&summary_json), summary.error.as_deref()).await?;
    match result {
        Ok(()) => Ok(summary),
        // Bad input found mid-run (an answer or review file) is still bad input.
        Err(ArenaError::BadInput(e)) => Err(ArenaError::BadInput(e)),
        Err(_) => Ok(summary),
    }
}

async fn run_stages(
    config: &ArenaConfig,
    store: &Store,
    options: &ArenaOptions,
    questions: Option<Vec<crate::data::Question>>,
    run_id: i64,
    summary: &mut ArenaSummary,
) -> Result<(), ArenaError> {
    let pool = pool_for(options);
    let pool = pool.as_ref();
    let question_set = record_questions(config, store, questions.as_deref()).await?;

    if config.enabled_candidates().next().is_some() {
        let (questions, (_, ids)) =
            (questions.as_deref().unwrap_or_default(), question_set.as_ref().expect("validated"));
        if let Some(sharing) = &options.sharing {
            let units = part::answer_units(config, questions.len());
            share_stage(store, run_id, "answers", units, sharing, options.cancel.as_ref(), |spec| async move {
                let options = options.for_part(part::parse(&spec)?);
                let done =
                    answers::generate_answers(config, store, pool, questions, ids, Some(run_id), &options).await?;
                Ok::<_, ArenaError>(part::answers_done(&done))
            })
            .await?;
        }
        let mut answers = answers::generate_answers(config, store, pool, questions, ids, Some(run_id), options).await?;
        if options.sharing.is_some() {
            part::add_answer_units(&mut answers, &store.unit_outcomes(run_id, "answers").await?);
        }
        let failed = answers.failed;
        summary.answers = Some(answers);
        if failed > 0 {
            return Err(ArenaError::Failed(format!(
                "{failed} answers could not be generated; the others are stored, so a re-run only retries these"
            )));
        }
    }

    if options.cancelled() {
        return Err(ArenaError::Cancelled);
    }
    if config.reviews.enable {
        let qs = questions.as_deref().zip(question_set.as_ref().map(|(id, _)| *id));
        if let Some(sharing) = &options.sharing {
            let units = part::review_units(config, store, qs, run_id).await?;
            share_stage(store, run_id, "reviews", units, sharing, options.cancel.as_ref(), |spec| async move {
                let options = options.for_part(part::parse(&spec)?);
                review_part(config, store, pool, qs, run_id, &options).await
            })
            .await?;
        }
        let mut reviews = if config.reviews.panel.is_empty() {
            reviews::run_reviews(config, store, pool, qs, Some(run_id), options).await?
        } else {
            let outcome = panel::run_panel(config, store, pool, qs, Some(run_id), options).await?;
            summary.panel = outcome.members;
            summary.peer_rank = outcome.peer_rank;
            outcome.totals
        };
        if options.sharing.is_some() {
            part::add_review_units(&mut reviews, &store.unit_outcomes(run_id, "reviews").await?);
        }
        let failed = reviews.failed;
        summary.reviews = Some(reviews);
        if failed > 0 {
            return Err(ArenaError::Failed(format!(
                "{failed} reviews failed (the judge did not answer after retries); every judgment that \
                 returned is stored, so a re-run only asks for the missing ones"
            )));
        }
    }

    if options.cancelled() {
        return Err(ArenaError::Cancelled);
    }
    if config.rating.enable {
        let ratings = report::run_ratings(config, options.dry_run)?;
        summary.report = Some(ratings.report.clone());
        summary.ratings = Some(ratings);
    }
    Ok(())
}

/// The config the run follows: a dry run's own, whose reviews and reports go beside the real ones.
fn config_for<'a>(config: &'a ArenaConfig, options: &ArenaOptions) -> std::borrow::Cow<'a, ArenaConfig> {
    if options.dry_run { std::borrow::Cow::Owned(config.for_dry_run()) } else { std::borrow::Cow::Borrowed(config) }
}

/// The models the run uses: the process's shared pool, or one of its own.
fn pool_for(options: &ArenaOptions) -> Arc<ModelPool> {
    options.pool.clone().unwrap_or_else(|| Arc::new(ModelPool::new()))
}

/// Makes sure the run's questions have rows; returns their set and ids.
async fn record_questions(
    config: &ArenaConfig,
    store: &Store,
    questions: Option<&[crate::data::Question]>,
) -> Result<Option<(i64, std::collections::HashMap<crate::data::QuestionId, i64>)>, ArenaError> {
    let (Some(questions), Some(file)) = (questions, &config.question_file) else {
        return Ok(None);
    };
    let set_id = match config.question_set_id {
        Some(id) => id,
        None => {
            let name = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let source = std::fs::canonicalize(file).unwrap_or_else(|_| file.clone());
            store.question_set_for_source(&name, &source.display().to_string()).await?
        }
    };
    let ids = store.upsert_questions(set_id, questions).await?;
    Ok(Some((set_id, ids)))
}

/// One unit of the reviews stage.
async fn review_part(
    config: &ArenaConfig,
    store: &Store,
    pool: &ModelPool,
    questions: Option<(&[crate::data::Question], i64)>,
    run_id: i64,
    options: &ArenaOptions,
) -> Result<UnitDone, ArenaError> {
    let done = if config.reviews.panel.is_empty() {
        reviews::run_reviews(config, store, pool, questions, Some(run_id), options).await?
    } else {
        panel::run_panel(config, store, pool, questions, Some(run_id), options).await?.totals
    };
    Ok(part::reviews_done(&done))
}

/// Does one unit of another worker's run (`part`, in `options`): the questions are read and
/// the stage's share done as that worker would; nothing but the database is written.
pub async fn run_unit(
    config: &ArenaConfig,
    store: &Store,
    run_id: i64,
    options: &ArenaOptions,
) -> Result<UnitDone, ArenaError> {
    let config = config_for(config, options);
    let config = config.as_ref();
    let pool = pool_for(options);
    let pool = pool.as_ref();
    let questions = match &config.question_file {
        Some(file) => Some(read_questions(file)?),
        None => None,
    };
    let question_set = record_questions(config, store, questions.as_deref()).await?;
    match &options.part {
        Some(part::Part::Answers { .. }) => {
            let (Some(questions), Some((_, ids))) = (&questions, &question_set) else {
                return Err(ArenaError::Failed("an answers unit of a run without questions".into()));
            };
            let done = answers::generate_answers(config, store, pool, questions, ids, Some(run_id), options).await?;
            Ok(part::answers_done(&done))
        }
        Some(part::Part::Reviews { .. }) => {
            let qs = questions.as_deref().zip(question_set.as_ref().map(|(id, _)| *id));
            review_part(config, store, pool, qs, run_id, options).await
        }
        None => Err(ArenaError::Failed("no unit to do".into())),
    }
}
