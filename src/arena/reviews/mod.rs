//! Stage 2: the judge reviews the answers. Judgments are stored as they return and the
//! review file grows as reviews complete, so a killed run loses nothing.

mod book;
mod seeds;
mod tasks;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::judge::{JudgeBackend, JudgeError, JudgeService};
use super::part::Part;
use super::plan::{Task, plan};
use super::progress::{Progress, RunProgress};
use super::templates::{TemplateKind, Templates};
use super::{ArenaError, ArenaOptions};
use crate::config::{ArenaConfig, Judge, ReviewMode};
use crate::data::jsonl::JsonlWriter;
use crate::data::{Question, References, read_references};
use crate::input::{BadInput, Problem};
use crate::llm::reward::RewardModel;
use crate::llm::{Backoff, ModelPool, RemoteOptions};
use crate::store::Store;

pub use tasks::combine_swapped;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReviewSummary {
    pub tasks: u64,
    pub reviews_written: u64,
    pub judge_calls: u64,
    pub cache_hits: u64,
    pub seeded_from_cache_file: u64,
    /// Dry-run lines in the `cache_file`, never reused.
    #[serde(default)]
    pub dry_run_seeds_skipped: u64,
    pub retries: u64,
    pub reasks: u64,
    pub unknown: u64,
    pub failed: u64,
    /// Swapped pairs where both verdicts were readable, and how many of those agreed.
    pub consistency_pairs: u64,
    pub consistent: u64,
    pub consistency_rate: Option<f64>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub seconds: f64,
    pub review_file: Option<PathBuf>,
}

impl ReviewSummary {
    /// Adds another judge's figures (a panel's totals).
    pub fn add(&mut self, other: &ReviewSummary) {
        self.tasks += other.tasks;
        self.reviews_written += other.reviews_written;
        self.judge_calls += other.judge_calls;
        self.cache_hits += other.cache_hits;
        self.seeded_from_cache_file += other.seeded_from_cache_file;
        self.dry_run_seeds_skipped += other.dry_run_seeds_skipped;
        self.retries += other.retries;
        self.reasks += other.reasks;
        self.unknown += other.unknown;
        self.failed += other.failed;
        self.consistency_pairs += other.consistency_pairs;
        self.consistent += other.consistent;
        self.consistency_rate =
            (self.consistency_pairs > 0).then(|| self.consistent as f64 / self.consistency_pairs as f64);
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.seconds += other.seconds;
    }
}

pub async fn run_reviews(
    config: &ArenaConfig,
    store: &Store,
    pool: &ModelPool,
    questions: Option<(&[Question], i64)>,
    run_id: Option<i64>,
    options: &ArenaOptions,
) -> Result<ReviewSummary, ArenaError> {
    let started = Instant::now();
    let reviews = &config.reviews;
    let judge = &reviews.judge;
    let (mut tasks, templates) = match (&options.part, run_id) {
        (Some(Part::Reviews { .. }), Some(run_id)) => planned_for_unit(config, store, questions, run_id).await?,
        _ => planned_tasks(config, store, questions).await?,
    };
    let part = match &options.part {
        Some(Part::Reviews { from, to, of, .. }) => {
            if *of != tasks.len() {
                return Err(ArenaError::Failed(format!(
                    "the run planned {of} reviews but this worker finds {}: the answer files differ between \
                     the machines (workers must share the run's folders)",
                    tasks.len()
                )));
            }
            let to = (*to).min(*of);
            tasks = tasks.drain((*from).min(to)..to).collect();
            true
        }
        _ => false,
    };
    if tasks.is_empty() {
        tracing::warn!("nothing to review: the answer files share no questions (or hold fewer than two models)");
    }
    // Read before the review file is rewritten: the two may be the same file. A dry run reuses
    // nothing: it asks no judge, and what it stores is marked as its own.
    let seeds = match &reviews.cache_file {
        Some(file) if file.is_file() && !options.dry_run => seeds::SeedIndex::load(file)?,
        _ => seeds::SeedIndex::default(),
    };
    if seeds.dry_run_skipped > 0 {
        tracing::warn!(
            lines = seeds.dry_run_skipped,
            "the cache_file holds dry-run reviews; their pseudo-random verdicts are not reused"
        );
    }

    let judge_model = if options.dry_run { None } else { Some(open_judge(config, judge, pool).await?) };
    let review_file = reviews
        .review_file
        .clone()
        .ok_or_else(|| BadInput::one(Problem::new("reviews_gen.review_file is missing").in_file(&config.file)))?;
    let writer = if part {
        None
    } else {
        Some(
            JsonlWriter::create(&review_file)
                .map_err(|e| ArenaError::Failed(format!("cannot write {}: {e}", review_file.display())))?,
        )
    };

    let cancel = options.cancel.clone().unwrap_or_default();
    let service =
        JudgeService::new(store.clone(), judge_model, judge.clone(), run_id, options.concurrency, cancel.clone());
    let dry_run_seeds_skipped = seeds.dry_run_skipped;
    let ctx = Arc::new(tasks::Context {
        service,
        templates,
        parser: judge.parser,
        store: store.clone(),
        run_id,
        judge_name: judge.name.clone(),
        writer: Mutex::new(writer),
        seeds,
        consistency_pairs: AtomicU64::new(0),
        consistent: AtomicU64::new(0),
        written: AtomicU64::new(0),
    });

    let total = tasks.len() as u64;
    let progress = Progress::new(options.progress.as_ref(), "reviews", total);
    // A unit's progress is counted by the run's own worker, unit by unit.
    let run_progress = RunProgress::start(store, run_id.filter(|_| !part), "reviews", total);
    let mut failed = 0u64;
    let mut fatal = None;
    let mut done = 0u64;
    // On cancel no new task starts, and those in flight return at once (their judge calls are
    // dropped); whatever came back before is stored.
    let mut results = futures::stream::iter(tasks.into_iter().map(|task| {
        let ctx = ctx.clone();
        async move { tasks::run_task(&ctx, task).await }
    }))
    .take_until(Box::pin(cancel.clone().cancelled_owned()))
    .buffer_unordered(options.concurrency.max(1) * 2);
    while let Some(result) = results.next().await {
        done += 1;
        progress.inc();
        match result {
            Ok(()) => {}
            Err(JudgeError::Cancelled) => {}
            Err(JudgeError::Llm(e)) => {
                failed += 1;
                progress.println(&format!("judge call failed (it will be retried on the next run): {e}"));
            }
            Err(JudgeError::Store(e)) => {
                fatal = Some(ArenaError::Store(e));
                break;
            }
            Err(JudgeError::ReviewFile(e)) => {
                fatal = Some(ArenaError::Failed(e));
                break;
            }
        }
        run_progress.set(done);
    }
    drop(results);
    run_progress.finish().await;
    progress.finish();
    if let Some(e) = fatal {
        return Err(e);
    }
    if cancel.is_cancelled() {
        return Err(ArenaError::Cancelled);
    }

    let stats = &ctx.service.stats;
    let pairs = ctx.consistency_pairs.load(Ordering::Relaxed);
    let agree = ctx.consistent.load(Ordering::Relaxed);
    Ok(ReviewSummary {
        tasks: total,
        reviews_written: ctx.written.load(Ordering::Relaxed),
        judge_calls: stats.calls.load(Ordering::Relaxed),
        cache_hits: stats.cache_hits.load(Ordering::Relaxed),
        seeded_from_cache_file: stats.seeded.load(Ordering::Relaxed),
        dry_run_seeds_skipped,
        retries: ctx.service.retries(),
        reasks: stats.reasks.load(Ordering::Relaxed),
        unknown: stats.unknown.load(Ordering::Relaxed),
        failed,
        consistency_pairs: pairs,
        consistent: agree,
        consistency_rate: (pairs > 0).then(|| agree as f64 / pairs as f64),
        prompt_tokens: stats.prompt_tokens.load(Ordering::Relaxed),
        completion_tokens: stats.completion_tokens.load(Ordering::Relaxed),
        seconds: started.elapsed().as_secs_f64(),
        review_file: (!part).then_some(review_file),
    })
}

/// What identifies a run's planned review tasks in this process: the run, the judge's review
/// file, and every answer file as it is on disk now (a changed file plans anew).
type PlanKey = (i64, Option<PathBuf>, Vec<(PathBuf, u64, Option<std::time::SystemTime>)>);

/// The plans of the runs this worker helped with last, so that its next unit of the same run
/// does not read and record every answer again (for a run of thousands of answers that costs
/// more than the unit's own work).
static UNIT_PLANS: std::sync::Mutex<Vec<(PlanKey, Vec<Task>, Templates)>> = std::sync::Mutex::new(Vec::new());

pub(crate) async fn planned_for_unit(
    config: &ArenaConfig,
    store: &Store,
    questions: Option<(&[Question], i64)>,
    run_id: i64,
) -> Result<(Vec<Task>, Templates), ArenaError> {
    let files = config
        .answer_files_to_review()
        .into_iter()
        .chain(config.reviews.baseline_file.clone())
        .map(|f| {
            let meta = std::fs::metadata(&f).ok();
            let (len, modified) = (meta.as_ref().map_or(0, |m| m.len()), meta.and_then(|m| m.modified().ok()));
            (f, len, modified)
        })
        .collect();
    let key: PlanKey = (run_id, config.reviews.review_file.clone(), files);
    if let Some((_, tasks, templates)) = UNIT_PLANS.lock().expect("not poisoned").iter().find(|(k, ..)| *k == key) {
        return Ok((tasks.clone(), templates.clone()));
    }
    let (tasks, templates) = planned_tasks(config, store, questions).await?;
    let mut plans = UNIT_PLANS.lock().expect("not poisoned");
    if plans.len() >= 4 {
        plans.remove(0);
    }
    plans.push((key, tasks.clone(), templates.clone()));
    Ok((tasks, templates))
}

/// Reads what the judge reviews and plans its tasks (the same list on every worker, so a
/// unit's range means the same tasks everywhere); every task has a template.
pub async fn planned_tasks(
    config: &ArenaConfig,
    store: &Store,
    questions: Option<(&[Question], i64)>,
) -> Result<(Vec<Task>, Templates), ArenaError> {
    let reviews = &config.reviews;
    let judge = &reviews.judge;
    let templates = match &reviews.prompt_file {
        Some(file) => Templates::load(file)?,
        None => Templates::builtin(),
    };
    let mut references = match &reviews.reference_file {
        Some(file) => read_references(file)?,
        None => References::default(),
    };
    if let Some((qs, _)) = questions {
        for q in qs {
            if let Some(r) = &q.reference
                && references.get(&q.id, &q.text).is_none()
            {
                references.insert(q.id.clone(), &q.text, r.clone());
            }
        }
    }
    let (book, baseline) = book::load_answer_book(config, store, questions, &references).await?;
    let mut tasks = plan(&book, judge.mode, judge.position_bias, judge.random_seed, baseline.as_deref());
    if let Some(own) = &reviews.exclude_model {
        // A peer judge does not judge its own battles.
        tasks.retain(|t| match t {
            Task::Pair { a, b, .. } => &a.model != own && &b.model != own,
            Task::Single { answer, .. } => &answer.model != own,
        });
    }
    check_templates(&tasks, &templates, judge.mode)?;
    Ok((tasks, templates))
}

/// Opens the judge, refusing OpenAI's API without a key before anything is asked.
async fn open_judge(config: &ArenaConfig, judge: &Judge, pool: &ModelPool) -> Result<JudgeBackend, ArenaError> {
    let remote = RemoteOptions {
        timeout: judge.timeout,
        backoff: Backoff { max_retries: judge.max_retries, ..Backoff::default() },
    };
    if let crate::config::ModelSpec::Remote { api_base, api_key_env, .. } = &judge.model {
        let has_key = std::env::var(api_key_env).is_ok_and(|k| !k.trim().is_empty());
        if !has_key && api_base.starts_with(crate::config::OPENAI_DEFAULT_BASE) {
            return Err(BadInput::one(
                Problem::new(format!(
                    "the judge is OpenAI's API but {api_key_env} is not set: export it, point \
                     OPENAI_BASE_URL (or reviewer.args.api_base) at another server, or use --dry-run"
                ))
                .in_file(&config.file)
                .at_key("reviews_gen.reviewer.args"),
            )
            .into());
        }
    }
    if let (Some(reward), crate::config::ModelSpec::Remote { api_base, api_key_env, model }) =
        (&judge.reward, &judge.model)
    {
        let key = std::env::var(api_key_env).ok().filter(|k| !k.trim().is_empty());
        return Ok(JudgeBackend::Reward(RewardModel::new(reward.api, api_base, key, model, judge.timeout)?));
    }
    Ok(JudgeBackend::Chat(pool.open(&judge.model, remote).await?))
}

/// Every task must have a template before any judge is paid.
fn check_templates(tasks: &[Task], templates: &Templates, mode: ReviewMode) -> Result<(), BadInput> {
    let kind = template_kind(mode);
    let mut missing: Vec<String> = Vec::new();
    for task in tasks {
        let q = match task {
            Task::Pair { question, .. } | Task::Single { question, .. } => question,
        };
        if templates.select(kind, &q.category, q.reference.is_some()).is_none() && !missing.contains(&q.category) {
            missing.push(q.category.clone());
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let kind_name = if kind == TemplateKind::Single { "single" } else { "pairwise" };
    Err(BadInput::one(
        Problem::new(format!(
            "no usable {kind_name} template for categories {}: add a template of type {kind_name} \
             with placeholders jury fills ({{question}}, {}, {{ref_answer_1}})",
            missing.join(", "),
            if kind == TemplateKind::Single { "{answer}" } else { "{answer_a}, {answer_b}" }
        ))
        .in_file(&templates.source),
    ))
}

fn template_kind(mode: ReviewMode) -> TemplateKind {
    if mode == ReviewMode::Single { TemplateKind::Single } else { TemplateKind::Pairwise }
}
