//! One review task: render the prompt, judge it (both orders for a swapped pair), append the
//! review line and store the battle.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Mutex;

use super::seeds::SeedIndex;
use crate::arena::judge::{JudgeError, JudgeService, Judgment, Prompt};
use crate::arena::plan::{AnswerInfo, Order, QuestionInfo, Task};
use crate::arena::templates::{Template, TemplateKind, Templates};
use crate::arena::verdict::{Verdict, VerdictFormat};
use crate::config::ParserKind;
use crate::data::jsonl::JsonlWriter;
use crate::data::{PairReview, ReviewRecord, SingleReview, SwapReview, Win};
use crate::store::{NewBattle, Store};

/// Everything the stage needs that does not change per task.
pub struct Context {
    pub service: JudgeService,
    pub templates: Templates,
    pub parser: ParserKind,
    pub store: Store,
    pub run_id: Option<i64>,
    pub judge_name: String,
    /// The review file; `None` for a worker doing a unit (the run's own pass writes it whole).
    pub writer: Mutex<Option<JsonlWriter>>,
    pub seeds: SeedIndex,
    pub consistency_pairs: AtomicU64,
    pub consistent: AtomicU64,
    pub written: AtomicU64,
}

pub async fn run_task(ctx: &Context, task: Task) -> Result<(), JudgeError> {
    let dry_run = ctx.service.dry_run();
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
                dry_run,
            });
            write(ctx, &record).await?;
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
                        dry_run,
                    });
                    write(ctx, &record).await?;
                    save_battle(ctx, &question, first, second, win, weight, Some(j.id), None).await?;
                }
                Order::Both => {
                    let prompt_1 = render(ctx, template, &question, &a, Some(&b));
                    let prompt_2 = render(ctx, template, &question, &b, Some(&a));
                    let (seed_1, seed_2) = ctx.seeds.swap(&a.model, &b.model, &question.text);
                    let (j1, j2) =
                        tokio::try_join!(ctx.service.judge(&prompt_1, seed_1), ctx.service.judge(&prompt_2, seed_2))?;
                    let (win_1, scores_1, weight_1) = pair_parts(&j1);
                    let (win_2_shown, scores_2, weight_2) = pair_parts(&j2);
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
                        weight_1,
                        weight_2,
                        scores_1,
                        scores_2,
                        dry_run,
                    });
                    write(ctx, &record).await?;
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
        question: question.text.clone(),
        answers: std::iter::once(first).chain(second).map(|a| a.text.clone()).collect(),
    }
}

/// Appends a review line. A line that cannot be written fails the run: the ratings are read
/// from this file, and a report rated from part of it would be wrong without saying so.
async fn write(ctx: &Context, record: &ReviewRecord) -> Result<(), JudgeError> {
    let mut writer = ctx.writer.lock().await;
    let Some(writer) = writer.as_mut() else {
        return Ok(());
    };
    writer
        .append(record)
        .map_err(|e| JudgeError::ReviewFile(format!("cannot append to {}: {e}", writer.path().display())))?;
    ctx.written.fetch_add(1, Ordering::Relaxed);
    Ok(())
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
