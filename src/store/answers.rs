//! Answers, keyed by question, model and the settings that produced them.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::{Store, StoreError};
use crate::data::QuestionId;

/// An answer read from a file, to be recorded with its question and model.
pub struct AnswerImport<'a> {
    pub question_id: &'a QuestionId,
    pub question_text: &'a str,
    pub category: &'a str,
    pub model: &'a str,
    pub answer: &'a str,
}

/// The rows an imported answer maps to.
#[derive(Debug, Clone, Copy)]
pub struct ImportedIds {
    pub question: i64,
    pub model: i64,
    pub answer: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredAnswer {
    pub id: i64,
    pub text: String,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub latency_ms: Option<i64>,
}

impl Store {
    pub async fn find_answer(
        &self,
        question_id: i64,
        model_id: i64,
        settings_hash: &str,
    ) -> Result<Option<StoredAnswer>, StoreError> {
        Ok(sqlx::query_as::<_, StoredAnswer>(
            "SELECT id, text, prompt_tokens, completion_tokens, latency_ms FROM answers \
             WHERE question_id = $1 AND model_id = $2 AND settings_hash = $3",
        )
        .bind(question_id)
        .bind(model_id)
        .bind(settings_hash)
        .fetch_optional(self.pool())
        .await?)
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn insert_answer(
        &self,
        question_id: i64,
        model_id: i64,
        settings_hash: &str,
        text: &str,
        prompt_tokens: u64,
        completion_tokens: u64,
        latency_ms: u64,
    ) -> Result<i64, StoreError> {
        let id = sqlx::query_scalar::<_, i64>(
            "INSERT INTO answers (question_id, model_id, settings_hash, text, prompt_tokens, completion_tokens, latency_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (question_id, model_id, settings_hash) DO UPDATE SET text = excluded.text, \
               prompt_tokens = excluded.prompt_tokens, completion_tokens = excluded.completion_tokens, \
               latency_ms = excluded.latency_ms \
             RETURNING id",
        )
        .bind(question_id)
        .bind(model_id)
        .bind(settings_hash)
        .bind(text)
        .bind(prompt_tokens as i64)
        .bind(completion_tokens as i64)
        .bind(latency_ms as i64)
        .fetch_all(self.writer())
        .await?
        .pop()
        .ok_or(sqlx::Error::RowNotFound)?;
        Ok(id)
    }
}

impl Store {
    /// Records answers read from files in one transaction: questions missing from the set are
    /// added (existing ones are left alone), models are created as `imported`, and an answer
    /// whose text is already stored for that question and model keeps its row.
    pub async fn import_answers(&self, set_id: i64, rows: &[AnswerImport<'_>]) -> Result<Vec<ImportedIds>, StoreError> {
        let mut tx = self.writer().begin().await?;
        let mut questions: HashMap<&str, i64> = HashMap::new();
        let mut models: HashMap<&str, i64> = HashMap::new();
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let question = match questions.get(row.question_id.key()) {
                Some(id) => *id,
                None => {
                    let turns = serde_json::to_string(&[row.question_text]).unwrap_or_else(|_| "[]".into());
                    sqlx::query(
                        "INSERT INTO questions (question_set_id, external_id, category, turns) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (question_set_id, external_id) DO NOTHING",
                    )
                    .bind(set_id)
                    .bind(row.question_id.key())
                    .bind(row.category)
                    .bind(turns)
                    .execute(&mut *tx)
                    .await?;
                    let id = sqlx::query_scalar::<_, i64>(
                        "SELECT id FROM questions WHERE question_set_id = $1 AND external_id = $2",
                    )
                    .bind(set_id)
                    .bind(row.question_id.key())
                    .fetch_one(&mut *tx)
                    .await?;
                    questions.insert(row.question_id.key(), id);
                    id
                }
            };
            let model = match models.get(row.model) {
                Some(id) => *id,
                None => {
                    sqlx::query(
                        "INSERT INTO models (name, backend) VALUES ($1, 'imported') ON CONFLICT (name) DO NOTHING",
                    )
                    .bind(row.model)
                    .execute(&mut *tx)
                    .await?;
                    let id = sqlx::query_scalar::<_, i64>("SELECT id FROM models WHERE name = $1")
                        .bind(row.model)
                        .fetch_one(&mut *tx)
                        .await?;
                    models.insert(row.model, id);
                    id
                }
            };
            let existing = sqlx::query_scalar::<_, i64>(
                "SELECT id FROM answers WHERE question_id = $1 AND model_id = $2 AND text = $3 ORDER BY id LIMIT 1",
            )
            .bind(question)
            .bind(model)
            .bind(row.answer)
            .fetch_optional(&mut *tx)
            .await?;
            let answer = match existing {
                Some(id) => id,
                None => {
                    let hash = format!("imported:{}", &hex::encode(Sha256::digest(row.answer.as_bytes()))[..16]);
                    sqlx::query_scalar::<_, i64>(
                        "INSERT INTO answers (question_id, model_id, settings_hash, text) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (question_id, model_id, settings_hash) DO UPDATE SET text = excluded.text \
                         RETURNING id",
                    )
                    .bind(question)
                    .bind(model)
                    .bind(&hash)
                    .bind(row.answer)
                    .fetch_all(&mut *tx)
                    .await?
                    .pop()
                    .ok_or(sqlx::Error::RowNotFound)?
                }
            };
            out.push(ImportedIds { question, model, answer });
        }
        tx.commit().await?;
        Ok(out)
    }
}

/// A stored answer written back out as a file line.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExportedAnswer {
    pub question_id: String,
    pub question: String,
    pub category: String,
    pub answer: String,
}

impl Store {
    /// The models that answered questions of a set.
    pub async fn models_with_answers(&self, set_id: i64) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar::<_, String>(
            "SELECT DISTINCT m.name FROM answers a JOIN models m ON m.id = a.model_id \
             JOIN questions q ON q.id = a.question_id WHERE q.question_set_id = $1 ORDER BY m.name",
        )
        .bind(set_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// A model's latest answer to each question of a set.
    pub async fn answers_for_export(&self, set_id: i64, model: &str) -> Result<Vec<ExportedAnswer>, StoreError> {
        Ok(sqlx::query_as::<_, ExportedAnswer>(sqlx::AssertSqlSafe(format!(
            "SELECT q.external_id AS question_id, {question} AS question, q.category, a.text AS answer \
             FROM answers a JOIN questions q ON q.id = a.question_id JOIN models m ON m.id = a.model_id \
             WHERE q.question_set_id = $1 AND m.name = $2 \
               AND a.id = (SELECT MAX(a2.id) FROM answers a2 WHERE a2.question_id = a.question_id AND a2.model_id = a.model_id) \
             ORDER BY q.id",
            question = self.dialect().first_turn("q.turns")
        )))
        .bind(set_id)
        .bind(model)
        .fetch_all(self.pool())
        .await?)
    }
}
