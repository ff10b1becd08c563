//! Judgments: every judge call's result, stored as it returns. This table is the review
//! cache: a judgment whose key matches is never asked for again.

use super::{Flag, OptionalReal, Store, StoreError};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct JudgmentRow {
    pub id: i64,
    pub cache_key: String,
    pub raw_text: String,
    pub verdict: String,
    pub score_a: Option<f64>,
    pub score_b: Option<f64>,
    pub weight: f64,
    pub attempts: i64,
    #[sqlx(try_from = "Flag")]
    pub complete: bool,
    #[sqlx(try_from = "Flag")]
    pub dry_run: bool,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub created_at: f64,
}

#[derive(Debug, Clone)]
pub struct NewJudgment<'a> {
    pub cache_key: &'a str,
    pub judge_model: &'a str,
    pub template: &'a str,
    pub question_id: Option<i64>,
    pub answer_a_id: Option<i64>,
    pub answer_b_id: Option<i64>,
    pub raw_text: &'a str,
    pub verdict: &'a str,
    pub score_a: Option<f64>,
    pub score_b: Option<f64>,
    pub weight: f64,
    pub attempts: u32,
    pub complete: bool,
    pub dry_run: bool,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub run_id: Option<i64>,
}

impl Store {
    pub async fn judgment(&self, cache_key: &str) -> Result<Option<JudgmentRow>, StoreError> {
        Ok(sqlx::query_as::<_, JudgmentRow>(
            "SELECT id, cache_key, raw_text, verdict, score_a, score_b, weight, attempts, complete, dry_run, \
             prompt_tokens, completion_tokens, created_at FROM judgments WHERE cache_key = $1",
        )
        .bind(cache_key)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Stores (or, for a re-asked unreadable reply, updates) a judgment. Token counts
    /// accumulate over attempts, since every attempt was paid for.
    pub async fn save_judgment(&self, j: &NewJudgment<'_>) -> Result<JudgmentRow, StoreError> {
        let row = sqlx::query_as::<_, JudgmentRow>(
            "INSERT INTO judgments (cache_key, judge_model, template, question_id, answer_a_id, answer_b_id, \
               raw_text, verdict, score_a, score_b, weight, attempts, complete, dry_run, prompt_tokens, \
               completion_tokens, run_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
             ON CONFLICT (cache_key) DO UPDATE SET raw_text = excluded.raw_text, verdict = excluded.verdict, \
               score_a = excluded.score_a, score_b = excluded.score_b, weight = excluded.weight, \
               attempts = excluded.attempts, complete = excluded.complete, \
               prompt_tokens = judgments.prompt_tokens + excluded.prompt_tokens, \
               completion_tokens = judgments.completion_tokens + excluded.completion_tokens, \
               run_id = excluded.run_id \
             RETURNING id, cache_key, raw_text, verdict, score_a, score_b, weight, attempts, complete, dry_run, \
               prompt_tokens, completion_tokens, created_at",
        )
        .bind(j.cache_key)
        .bind(j.judge_model)
        .bind(j.template)
        .bind(j.question_id)
        .bind(j.answer_a_id)
        .bind(j.answer_b_id)
        .bind(j.raw_text)
        .bind(j.verdict)
        .bind(OptionalReal(j.score_a))
        .bind(OptionalReal(j.score_b))
        .bind(j.weight)
        .bind(j.attempts as i64)
        .bind(j.complete)
        .bind(j.dry_run)
        .bind(j.prompt_tokens as i64)
        .bind(j.completion_tokens as i64)
        .bind(j.run_id)
        .fetch_all(self.writer())
        .await?
        .pop()
        .ok_or(sqlx::Error::RowNotFound)?;
        Ok(row)
    }
}

impl Store {
    /// Safety grades (model, question category, grade) of the real or the dry-run judgments.
    pub async fn safety_grades(&self, dry_run: bool) -> Result<Vec<(String, String, Option<f64>)>, StoreError> {
        Ok(sqlx::query_as::<_, (String, String, Option<f64>)>(
            "SELECT m.name, q.category, j.score_a \
             FROM judgments j JOIN answers a ON a.id = j.answer_a_id JOIN models m ON m.id = a.model_id \
             JOIN questions q ON q.id = j.question_id \
             WHERE j.answer_b_id IS NULL AND j.complete = TRUE AND j.verdict = 'safety' AND j.dry_run = $1",
        )
        .bind(dry_run)
        .fetch_all(self.pool())
        .await?)
    }

    /// Single-answer scores (model, category, score or `None` when unreadable) in scope.
    pub async fn single_scores(
        &self,
        scope: &super::BattleScope,
    ) -> Result<Vec<(String, String, Option<f64>)>, StoreError> {
        Ok(sqlx::query_as::<_, (String, String, Option<f64>)>(
            "SELECT m.name, q.category, CASE WHEN j.verdict = 'score' THEN j.score_a END \
             FROM judgments j JOIN answers a ON a.id = j.answer_a_id JOIN models m ON m.id = a.model_id \
             JOIN questions q ON q.id = j.question_id \
             WHERE j.answer_b_id IS NULL AND j.complete = TRUE AND j.dry_run = $1 AND j.verdict <> 'safety' \
               AND ($2 IS NULL OR q.category = $2) AND ($3 IS NULL OR q.question_set_id = $3) \
               AND ($4 IS NULL OR j.judge_model = $4)",
        )
        .bind(scope.dry_run)
        .bind(&scope.category)
        .bind(scope.question_set)
        .bind(&scope.judge)
        .fetch_all(self.pool())
        .await?)
    }
}
