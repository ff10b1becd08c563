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

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct QuestionSetSummary {
    pub id: i64,
    pub name: String,
    pub source: Option<String>,
    pub created_at: f64,
    pub questions: i64,
    pub answers: i64,
    pub models: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredQuestion {
    pub id: i64,
    pub external_id: String,
    pub category: String,
    pub turns: String,
    pub reference_answer: Option<String>,
    pub answers: i64,
}

impl Store {
    pub async fn list_question_sets(&self) -> Result<Vec<QuestionSetSummary>, StoreError> {
        Ok(sqlx::query_as::<_, QuestionSetSummary>(
            "SELECT s.id, s.name, s.source, s.created_at, \
               (SELECT COUNT(*) FROM questions q WHERE q.question_set_id = s.id) AS questions, \
               (SELECT COUNT(*) FROM answers a JOIN questions q ON q.id = a.question_id WHERE q.question_set_id = s.id) AS answers, \
               (SELECT COUNT(DISTINCT a.model_id) FROM answers a JOIN questions q ON q.id = a.question_id \
                  WHERE q.question_set_id = s.id) AS models \
             FROM question_sets s ORDER BY s.id",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// Every category of the stored questions (for filter menus).
    pub async fn question_categories(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar::<_, String>("SELECT DISTINCT category FROM questions ORDER BY 1")
            .fetch_all(self.pool())
            .await?)
    }

    pub async fn question_set(&self, id: i64) -> Result<Option<QuestionSetSummary>, StoreError> {
        Ok(self.list_question_sets().await?.into_iter().find(|s| s.id == id))
    }

    pub async fn questions_of(&self, set_id: i64) -> Result<Vec<StoredQuestion>, StoreError> {
        Ok(sqlx::query_as::<_, StoredQuestion>(
            "SELECT q.id, q.external_id, q.category, q.turns, q.reference_answer, \
               (SELECT COUNT(*) FROM answers a WHERE a.question_id = q.id) AS answers \
             FROM questions q WHERE q.question_set_id = $1 ORDER BY q.id",
        )
        .bind(set_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Creates a question set from validated questions, all or nothing.
    pub async fn create_question_set(
        &self,
        name: &str,
        source: Option<&str>,
        questions: &[Question],
    ) -> Result<i64, StoreError> {
        let mut tx = self.writer().begin().await?;
        let id = sqlx::query_scalar::<_, i64>("INSERT INTO question_sets (name, source) VALUES ($1, $2) RETURNING id")
            .bind(name)
            .bind(source)
            .fetch_all(&mut *tx)
            .await?
            .pop()
            .ok_or(sqlx::Error::RowNotFound)?;
        for q in questions {
            sqlx::query(
                "INSERT INTO questions (question_set_id, external_id, category, turns, reference_answer, language) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(q.id.key())
            .bind(&q.category)
            .bind(serde_json::to_string(&q.turns).unwrap_or_else(|_| "[]".into()))
            .bind(&q.reference)
            .bind(&q.language)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// Deletes a set with its questions, answers to them and battles over them.
    pub async fn delete_question_set(&self, id: i64) -> Result<bool, StoreError> {
        Ok(sqlx::query("DELETE FROM question_sets WHERE id = $1")
            .bind(id)
            .execute(self.writer())
            .await?
            .rows_affected()
            > 0)
    }

    /// The external ids of a set's questions.
    pub async fn question_ids(&self, set_id: i64) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar::<_, String>("SELECT external_id FROM questions WHERE question_set_id = $1")
            .bind(set_id)
            .fetch_all(self.pool())
            .await?)
    }
}
