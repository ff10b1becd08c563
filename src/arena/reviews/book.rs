//! The answers under review: read from the answer files (and the baseline's), checked, and
//! recorded in the database before any judge is asked.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::arena::ArenaError;
use crate::arena::plan::{AnswerBook, AnswerInfo, QuestionInfo};
use crate::config::{ArenaConfig, ReviewMode};
use crate::data::{LoadedAnswer, Question, QuestionId, References, read_answers};
use crate::input::{BadInput, Problem, Problems};
use crate::store::{AnswerImport, Store};

/// Reads the answer files under review (and the baseline), and makes sure every question,
/// model and answer has a row in the database.
pub async fn load_answer_book(
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
