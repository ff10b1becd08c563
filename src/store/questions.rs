//! Question sets and their questions.

use std::collections::HashMap;

use super::{Store, StoreError};
use crate::data::{Question, QuestionId};

impl Store {
    /// The question set loaded from `source` (a file path), created on first use.
    pub async fn question_set_for_source(&self, name: &str, source: &str) -> Result<i64, StoreError> {
        let id = sqlx::query_scalar::<_, i64>(
            "INSERT INTO question_sets (name, source) VALUES ($1, $2) \
             ON CONFLICT (source) DO UPDATE SET name = excluded.name RETURNING id",
        )
        .bind(name)
        .bind(source)
        .fetch_all(self.writer())
        .await?
        .pop()
        .ok_or(sqlx::Error::RowNotFound)?;
        Ok(id)
    }

    /// Inserts or updates questions by their external id; returns the row id of each.
    pub async fn upsert_questions(
        &self,
        set_id: i64,
        questions: &[Question],
    ) -> Result<HashMap<QuestionId, i64>, StoreError> {
        let mut tx = self.writer().begin().await?;
        let mut ids = HashMap::with_capacity(questions.len());
        for q in questions {
            let turns = serde_json::to_string(&q.turns).unwrap_or_else(|_| "[]".into());
            let id = sqlx::query_scalar::<_, i64>(
                "INSERT INTO questions (question_set_id, external_id, category, turns, reference_answer, language) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (question_set_id, external_id) DO UPDATE SET \
                   category = excluded.category, turns = excluded.turns, \
                   reference_answer = COALESCE(excluded.reference_answer, questions.reference_answer), \
                   language = excluded.language \
                 RETURNING id",
            )
            .bind(set_id)
            .bind(q.id.key())
            .bind(&q.category)
            .bind(turns)
            .bind(&q.reference)
            .bind(&q.language)
            .fetch_all(&mut *tx)
            .await?
            .pop()
            .ok_or(sqlx::Error::RowNotFound)?;
            ids.insert(q.id.clone(), id);
        }
        tx.commit().await?;
        Ok(ids)
    }
}
