//! Answers uploaded into a question set (shared by the page and the API).

use std::collections::HashMap;

use super::error::WebError;
use super::state::AppState;
use super::uploads;
use crate::input::{BadInput, Problem, Problems};
use crate::store::AnswerImport;

/// Validates every line (known question, one answer per model and question), then stores
/// them all. Returns how many answers and models.
pub async fn answers(state: &AppState, set_id: i64, bytes: &[u8], label: &str) -> Result<(usize, usize), WebError> {
    let set = state.store.question_set(set_id).await?.ok_or(WebError::NotFound)?;
    let loaded = uploads::answers(bytes, label, state.max_upload_bytes).map_err(WebError::Rejected)?;
    let questions: HashMap<String, (String, String)> = state
        .store
        .questions_of(set.id)
        .await?
        .into_iter()
        .map(|q| {
            let turns: Vec<String> = serde_json::from_str(&q.turns).unwrap_or_default();
            (q.external_id, (turns.into_iter().next().unwrap_or_default(), q.category))
        })
        .collect();
    let mut problems = Problems::default();
    for a in &loaded {
        if !questions.contains_key(a.record.question_id.key()) {
            problems.push(
                Problem::new(format!("question {} is not in the set {}", a.record.question_id, set.name))
                    .in_file(label)
                    .at_line(Some(a.line))
                    .at_key("question_id"),
            );
        }
    }
    problems.into_result().map_err(WebError::Rejected)?;
    if loaded.is_empty() {
        return Err(WebError::Rejected(BadInput::one(Problem::new("holds no answers").in_file(label))));
    }
    let imports: Vec<AnswerImport<'_>> = loaded
        .iter()
        .map(|a| {
            let (text, category) = &questions[a.record.question_id.key()];
            AnswerImport {
                question_id: &a.record.question_id,
                question_text: text,
                category,
                model: &a.record.model_id,
                answer: &a.record.answer,
            }
        })
        .collect();
    state.store.import_answers(set.id, &imports).await?;
    let mut models: Vec<&str> = loaded.iter().map(|a| a.record.model_id.as_str()).collect();
    models.sort();
    models.dedup();
    Ok((loaded.len(), models.len()))
}
