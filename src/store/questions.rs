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
        .fetch_one(self.pool())
        .await?;
        Ok(id)
    }

    /// Inserts or updates questions by their external id; returns the row id of each.
    pub async fn upsert_questions(
        &self,
        set_id: i64,
        questions: &[Question],
    ) -> Result<HashMap<QuestionId, i64>, StoreError> {
        let mut tx = self.pool().begin().await?;
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
            .fetch_one(&mut *tx)
            .await?;
            ids.insert(q.id.clone(), id);
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// Makes sure a question seen only in an answer file exists in `set_id`, without
    /// overwriting one that does.
    pub async fn ensure_question(
        &self,
        set_id: i64,
        id: &QuestionId,
        text: &str,
        category: &str,
    ) -> Result<i64, StoreError> {
        let turns = serde_json::to_string(&[text]).unwrap_or_else(|_| "[]".into());
        sqlx::query(
            "INSERT INTO questions (question_set_id, external_id, category, turns) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (question_set_id, external_id) DO NOTHING",
        )
        .bind(set_id)
        .bind(id.key())
        .bind(category)
        .bind(turns)
        .execute(self.pool())
        .await?;
        let row_id =
            sqlx::query_scalar::<_, i64>("SELECT id FROM questions WHERE question_set_id = $1 AND external_id = $2")
                .bind(set_id)
                .bind(id.key())
                .fetch_one(self.pool())
                .await?;
        Ok(row_id)
    }

    pub async fn count_questions(&self, set_id: i64) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM questions WHERE question_set_id = $1")
            .bind(set_id)
            .fetch_one(self.pool())
            .await?)
    }
}
