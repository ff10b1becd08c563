//! Stage 2: the judge reviews the answers. Judgments are stored as they return and the
//! review file grows as reviews complete, so a killed run loses nothing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::judge::{JudgeError, JudgeService, Judgment, Prompt, Seed};
use super::plan::{AnswerBook, AnswerInfo, Order, QuestionInfo, Task, plan};
use super::progress::{Progress, RunProgress};
use super::templates::{Template, TemplateKind, Templates};
use super::verdict::{Verdict, VerdictFormat};
use super::{ArenaError, ArenaOptions};
use crate::config::{ArenaConfig, ReviewMode};
use crate::data::jsonl::JsonlWriter;
use crate::data::{
    LoadedAnswer, PairReview, Question, QuestionId, References, ReviewRecord, SingleReview, SwapReview, Win,
    read_answers, read_references, read_reviews,
};
use crate::input::{BadInput, Problem, Problems};
use crate::llm::{Backoff, ModelPool, RemoteOptions};
use crate::store::{AnswerImport, NewBattle, Store};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReviewSummary {
    pub tasks: u64,
    pub reviews_written: u64,
    pub judge_calls: u64,
    pub cache_hits: u64,
    pub seeded_from_cache_file: u64,
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

/// Everything the stage needs that does not change per task.
struct Context {
    service: JudgeService,
    templates: Templates,
    parser: crate::config::ParserKind,
    store: Store,
    run_id: Option<i64>,
    judge_name: String,
    writer: Mutex<JsonlWriter>,
    seeds: SeedIndex,
    consistency_pairs: AtomicU64,
    consistent: AtomicU64,
    written: AtomicU64,
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
    let (book, baseline) = load_answer_book(config, store, questions, &references).await?;
    let tasks = plan(&book, judge.mode, judge.position_bias, judge.random_seed, baseline.as_deref());
    check_templates(&tasks, &templates, judge.mode)?;
    if tasks.is_empty() {
        tracing::warn!("nothing to review: the answer files share no questions (or hold fewer than two models)");
    }
    let seeds = match &reviews.cache_file {
        Some(file) if file.is_file() => SeedIndex::load(file)?,
        _ => SeedIndex::default(),
    };

    let judge_model = if options.dry_run {
        None
    } else {
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
        Some(pool.open(&judge.model, remote).await?)
    };
    let review_file = reviews
        .review_file
        .clone()
        .ok_or_else(|| BadInput::one(Problem::new("reviews_gen.review_file is missing").in_file(&config.file)))?;
    let writer = JsonlWriter::create(&review_file)
        .map_err(|e| ArenaError::Failed(format!("cannot write {}: {e}", review_file.display())))?;

    let service = JudgeService::new(store.clone(), judge_model, judge.clone(), run_id, options.concurrency);
    let ctx = Arc::new(Context {
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
    let run_progress = RunProgress::start(store, run_id, "reviews", total);
    let mut failed = 0u64;
    let mut fatal = None;
    let mut done = 0u64;
    let mut results = futures::stream::iter(tasks.into_iter().map(|task| {
        let ctx = ctx.clone();
        async move { run_task(&ctx, task).await }
    }))
    .buffer_unordered(options.concurrency.max(1) * 2);
    while let Some(result) = results.next().await {
        if options.cancelled() {
            fatal = Some(ArenaError::Cancelled);
            break;
        }
        done += 1;
        progress.inc();
        match result {
            Ok(()) => {}
            Err(JudgeError::Llm(e)) => {
                failed += 1;
                progress.println(&format!("judge call failed (it will be retried on the next run): {e}"));
            }
            Err(JudgeError::Store(e)) => {
                fatal = Some(ArenaError::Store(e));
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

    let stats = &ctx.service.stats;
    let pairs = ctx.consistency_pairs.load(Ordering::Relaxed);
    let agree = ctx.consistent.load(Ordering::Relaxed);
    Ok(ReviewSummary {
        tasks: total,
        reviews_written: ctx.written.load(Ordering::Relaxed),
        judge_calls: stats.calls.load(Ordering::Relaxed),
        cache_hits: stats.cache_hits.load(Ordering::Relaxed),
        seeded_from_cache_file: stats.seeded.load(Ordering::Relaxed),
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
        review_file: Some(review_file),
    })
}

/// Reads the answer files under review (and the baseline), and makes sure every question,
/// model and answer has a row in the database.
async fn load_answer_book(
    config: &ArenaConfig,
    store: &Store,
    questions: Option<(&[Question], i64)>,
    references: &References,
) -> Result<(AnswerBook, Option<String>), ArenaError> {
    let judge = &config.reviews.judge;
    let mut files: Vec<PathBuf> = config.answer_files_to_review();
    // llmuses skipped answer files that do not exist (disabled candidates that never ran).
    files.retain(|f| {
        let exists = f.is_file();
        if !exists {
            tracing::warn!(file = %f.display(), "answer file not found; skipped");
        }
        exists
    });
    let mut baseline = None;
    if judge.mode == ReviewMode::PairwiseBaseline
        && let Some(file) = &config.reviews.baseline_file
    {
        let answers = read_answers(file)?;
        let mut models: Vec<&str> = answers.iter().map(|a| a.record.model_id.as_str()).collect();
        models.dedup();
        models.sort();
        models.dedup();
        match models.as_slice() {
            [one] => baseline = Some(one.to_string()),
            [] => return Err(BadInput::one(Problem::new("holds no answers").in_file(file)).into()),
            many => {
                return Err(BadInput::one(
                    Problem::new(format!("a baseline file must hold one model's answers, found {}", many.join(", ")))
                        .in_file(file),
                )
                .into());
            }
        }
        files.retain(|f| f != file);
        files.push(file.clone());
    }

    let (known, set_id) = match questions {
        Some((qs, set_id)) => (qs.iter().map(|q| (q.id.clone(), q)).collect::<HashMap<_, _>>(), set_id),
        None => {
            let source = format!("answers:{}", config.file.display());
            let name = config.file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            (HashMap::new(), store.question_set_for_source(&name, &source).await?)
        }
    };

    // Read and check every file first; then record them all in one transaction.
    let mut pending: Vec<(QuestionInfo, LoadedAnswer)> = Vec::new();
    let mut problems = Problems::default();
    for file in &files {
        let answers = match read_answers(file) {
            Ok(a) => a,
            Err(e) => {
                problems.extend(e);
                continue;
            }
        };
        for loaded in answers {
            let record = &loaded.record;
            let q = known.get(&record.question_id);
            let (text, category) = match q {
                Some(q) => (q.text.clone(), q.category.clone()),
                None => (record.text.clone(), record.category.clone()),
            };
            if text.trim().is_empty() {
                problems.push(
                    Problem::new(format!(
                        "answer to question {} has no question text (`text`), and no question file provides it",
                        record.question_id
                    ))
                    .in_file(file)
                    .at_line(Some(loaded.line)),
                );
                continue;
            }
            let category = if category.trim().is_empty() {
                crate::data::questions::DEFAULT_CATEGORY.to_string()
            } else {
                category
            };
            let language =
                q.and_then(|q| q.language.clone()).or_else(|| loaded.language.clone()).unwrap_or_else(|| "NA".into());
            let question = QuestionInfo {
                id: record.question_id.clone(),
                db_id: 0,
                reference: references.get(&record.question_id, &text).map(str::to_string),
                text,
                category,
                language,
            };
            pending.push((question, loaded));
        }
    }
    problems.into_result()?;

    let imports: Vec<AnswerImport<'_>> = pending
        .iter()
        .map(|(q, a)| AnswerImport {
            question_id: &q.id,
            question_text: &q.text,
            category: &q.category,
            model: &a.record.model_id,
            answer: &a.record.answer,
        })
        .collect();
    let ids = store.import_answers(set_id, &imports).await?;
    let mut book = AnswerBook::default();
    for ((mut question, loaded), ids) in pending.into_iter().zip(ids) {
        let question = match book.question_info.get(&question.id) {
            Some(q) => q.clone(),
            None => {
                question.db_id = ids.question;
                Arc::new(question)
            }
        };
        let answer = Arc::new(AnswerInfo {
            model: loaded.record.model_id,
            model_db_id: ids.model,
            db_id: ids.answer,
            text: loaded.record.answer,
        });
        book.add(question, answer);
    }
    // Keep the question file's order when there is one.
    if let Some((qs, _)) = questions {
        let order: HashMap<&QuestionId, usize> = qs.iter().enumerate().map(|(i, q)| (&q.id, i)).collect();
        book.questions.sort_by_key(|q| order.get(q).copied().unwrap_or(usize::MAX));
    }
    if let Some(base) = &baseline {
        // The baseline goes last so pairs read "candidate vs baseline".
        book.models.retain(|m| m != base);
        book.models.push(base.clone());
    }
    Ok((book, baseline))
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

async fn run_task(ctx: &Context, task: Task) -> Result<(), JudgeError> {
    match task {
        Task::Single { question, answer } => {
            let template = ctx
                .templates
                .select(TemplateKind::Single, &question.category, question.reference.is_some())
                .expect("templates were checked before judging");
            let prompt = render(ctx, template, &question, &answer, None);
            let seed = ctx.seeds.single(&answer.model, &question.text);
            let judgment = ctx.service.judge(&prompt, seed).await?;
            let score = match judgment.verdict {
                Some(Verdict::Score(s)) => Some(s),
                _ => None,
            };
            let record = ReviewRecord::Single(SingleReview {
                model: answer.model.clone(),
                score,
                anony: true,
                tstamp: judgment.created_at,
                language: question.language.clone(),
                question_id: question.id.clone(),
                category: question.category.clone(),
                question: question.text.clone(),
                review_text: judgment.raw_text.clone(),
            });
            write(ctx, &record).await;
        }
        Task::Pair { question, a, b, order } => {
            let template = ctx
                .templates
                .select(TemplateKind::Pairwise, &question.category, question.reference.is_some())
                .expect("templates were checked before judging");
            match order {
                Order::AsIs | Order::Flipped => {
                    let (first, second) = if order == Order::AsIs { (&a, &b) } else { (&b, &a) };
                    let prompt = render(ctx, template, &question, first, Some(second));
                    let seed = ctx.seeds.pair(&first.model, &second.model, &question.text);
                    let j = ctx.service.judge(&prompt, seed).await?;
                    let (win, scores, weight) = pair_parts(&j);
                    let record = ReviewRecord::Pair(PairReview {
                        model_a: first.model.clone(),
                        model_b: second.model.clone(),
                        scores,
                        win,
                        anony: true,
                        tstamp: j.created_at,
                        language: question.language.clone(),
                        question_id: question.id.clone(),
                        category: question.category.clone(),
                        question: question.text.clone(),
                        review_text: j.raw_text.clone(),
                        weight,
                    });
                    write(ctx, &record).await;
                    save_battle(ctx, &question, first, second, win, weight, Some(j.id), None).await?;
                }
                Order::Both => {
                    let prompt_1 = render(ctx, template, &question, &a, Some(&b));
                    let prompt_2 = render(ctx, template, &question, &b, Some(&a));
                    let (seed_1, seed_2) = ctx.seeds.swap(&a.model, &b.model, &question.text);
                    let (j1, j2) =
                        tokio::try_join!(ctx.service.judge(&prompt_1, seed_1), ctx.service.judge(&prompt_2, seed_2))?;
                    let (win_1, _, weight_1) = pair_parts(&j1);
                    let (win_2_shown, _, weight_2) = pair_parts(&j2);
                    // The second judgment saw b first: map its verdict back to a/b.
                    let win_2 = win_2_shown.swapped();
                    let (win, weight) = combine_swapped(win_1, weight_1, win_2, weight_2);
                    if win_1 != Win::Unknown && win_2 != Win::Unknown {
                        ctx.consistency_pairs.fetch_add(1, Ordering::Relaxed);
                        if win_1 == win_2 {
                            ctx.consistent.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    let record = ReviewRecord::Swap(SwapReview {
                        model_a: a.model.clone(),
                        model_b: b.model.clone(),
                        win_1,
                        win_2,
                        anony: true,
                        tstamp: j1.created_at.max(j2.created_at),
                        language: question.language.clone(),
                        question_id: question.id.clone(),
                        category: question.category.clone(),
                        question: question.text.clone(),
                        review_text_1: j1.raw_text.clone(),
                        review_text_2: j2.raw_text.clone(),
                        weight,
                    });
                    write(ctx, &record).await;
                    save_battle(ctx, &question, &a, &b, win, weight, Some(j1.id), Some(j2.id)).await?;
                }
            }
        }
    }
    Ok(())
}

/// Both orders agree: that verdict (with the mean of their weights). They disagree: a tie.
/// Either unreadable: unknown.
pub fn combine_swapped(win_1: Win, weight_1: f64, win_2: Win, weight_2: f64) -> (Win, f64) {
    if win_1 == Win::Unknown || win_2 == Win::Unknown {
        (Win::Unknown, 1.0)
    } else if win_1 == win_2 {
        (win_1, (weight_1 + weight_2) / 2.0)
    } else {
        (Win::Tie, 1.0)
    }
}

fn pair_parts(j: &Judgment) -> (Win, Option<[f64; 2]>, f64) {
    match j.verdict {
        Some(Verdict::Pair { win, scores, weight }) => (win, scores, weight),
        _ => (Win::Unknown, None, 1.0),
    }
}

fn render<'t>(
    ctx: &Context,
    template: &'t Template,
    question: &QuestionInfo,
    first: &AnswerInfo,
    second: Option<&AnswerInfo>,
) -> Prompt<'t> {
    let mut values: HashMap<&str, &str> = HashMap::new();
    values.insert("question", &question.text);
    match second {
        Some(second) => {
            values.insert("answer_a", &first.text);
            values.insert("answer_b", &second.text);
        }
        None => {
            values.insert("answer", &first.text);
        }
    }
    if let Some(reference) = &question.reference {
        values.insert("ref_answer_1", reference);
    }
    // Templates were checked to be fillable; a failure here would be a bug, so say so loudly.
    let user = template.render(&values).unwrap_or_else(|e| panic!("template {} cannot be filled: {e}", template.name));
    Prompt {
        template,
        format: VerdictFormat::for_template(template.output_format.as_deref(), template.kind, ctx.parser),
        system: template.system_prompt.clone(),
        user,
        question_id: question.db_id,
        answer_a_id: first.db_id,
        answer_b_id: second.map(|s| s.db_id),
    }
}

async fn write(ctx: &Context, record: &ReviewRecord) {
    let mut writer = ctx.writer.lock().await;
    if let Err(e) = writer.append(record) {
        tracing::error!(file = %writer.path().display(), "cannot append to the review file: {e}");
    } else {
        ctx.written.fetch_add(1, Ordering::Relaxed);
    }
}

#[allow(clippy::too_many_arguments)]
async fn save_battle(
    ctx: &Context,
    question: &QuestionInfo,
    first: &AnswerInfo,
    second: &AnswerInfo,
    win: Win,
    weight: f64,
    judgment_1: Option<i64>,
    judgment_2: Option<i64>,
) -> Result<(), JudgeError> {
    ctx.store
        .upsert_judge_battle(&NewBattle {
            question_id: question.db_id,
            answer_a_id: first.db_id,
            answer_b_id: second.db_id,
            model_a_id: first.model_db_id,
            model_b_id: second.model_db_id,
            winner: win.as_str(),
            judge_model: &ctx.judge_name,
            weight,
            dry_run: ctx.service.dry_run(),
            judgment_1_id: judgment_1,
            judgment_2_id: judgment_2,
            run_id: ctx.run_id,
        })
        .await?;
    Ok(())
}

/// Verdicts from an earlier review file (`cache_file`), matched like llmuses did: by the
/// two models in their order and the question text. Unreadable verdicts are not reused.
#[derive(Default)]
struct SeedIndex {
    pairs: HashMap<(String, String, String), PairReview>,
    swaps: HashMap<(String, String, String), SwapReview>,
    singles: HashMap<(String, String), SingleReview>,
}

impl SeedIndex {
    fn load(file: &Path) -> Result<SeedIndex, BadInput> {
        let mut index = SeedIndex::default();
        for line in read_reviews(file)? {
            match line.value {
                ReviewRecord::Pair(r) => {
                    index.pairs.insert((r.model_a.clone(), r.model_b.clone(), r.question.trim().to_string()), r);
                }
                ReviewRecord::Swap(r) => {
                    index.swaps.insert((r.model_a.clone(), r.model_b.clone(), r.question.trim().to_string()), r);
                }
                ReviewRecord::Single(r) => {
                    index.singles.insert((r.model.clone(), r.question.trim().to_string()), r);
                }
            }
        }
        Ok(index)
    }

    fn pair(&self, a: &str, b: &str, question: &str) -> Option<Seed> {
        let r = self.pairs.get(&(a.to_string(), b.to_string(), question.trim().to_string()))?;
        (r.win != Win::Unknown).then(|| Seed {
            raw_text: r.review_text.clone(),
            verdict: Some(Verdict::Pair { win: r.win, scores: r.scores, weight: r.weight }),
        })
    }

    fn swap(&self, a: &str, b: &str, question: &str) -> (Option<Seed>, Option<Seed>) {
        let Some(r) = self.swaps.get(&(a.to_string(), b.to_string(), question.trim().to_string())) else {
            return (None, None);
        };
        let seed = |win: Win, text: &str| {
            (win != Win::Unknown).then(|| Seed { raw_text: text.to_string(), verdict: Some(Verdict::pair(win)) })
        };
        // win_2 is recorded in a/b terms; the judge saw b first, so store it as shown.
        (seed(r.win_1, &r.review_text_1), seed(r.win_2.swapped(), &r.review_text_2))
    }

    fn single(&self, model: &str, question: &str) -> Option<Seed> {
        let r = self.singles.get(&(model.to_string(), question.trim().to_string()))?;
        r.score.map(|s| Seed { raw_text: r.review_text.clone(), verdict: Some(Verdict::Score(s)) })
    }
}
