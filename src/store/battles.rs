//! Battles: one decided comparison of two answers, by a judge or by a person.

use super::{Store, StoreError};

#[derive(Debug, Clone)]
pub struct NewBattle<'a> {
    pub question_id: i64,
    pub answer_a_id: i64,
    pub answer_b_id: i64,
    pub model_a_id: i64,
    pub model_b_id: i64,
    pub winner: &'a str,
    pub judge_model: &'a str,
    pub weight: f64,
    pub dry_run: bool,
    pub judgment_1_id: Option<i64>,
    pub judgment_2_id: Option<i64>,
    pub run_id: Option<i64>,
}

impl Store {
    /// Records a judge's battle; judging the same two answers again with the same judge
    /// updates the verdict rather than adding a second battle.
    pub async fn upsert_judge_battle(&self, b: &NewBattle<'_>) -> Result<i64, StoreError> {
        let id = sqlx::query_scalar::<_, i64>(
            "INSERT INTO battles (question_id, answer_a_id, answer_b_id, model_a_id, model_b_id, winner, source, \
               judge_model, weight, dry_run, judgment_1_id, judgment_2_id, run_id) \
             VALUES ($1, $2, $3, $4, $5, $6, 'judge', $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (answer_a_id, answer_b_id, source, judge_model, dry_run) DO UPDATE SET \
               winner = excluded.winner, weight = excluded.weight, judgment_1_id = excluded.judgment_1_id, \
               judgment_2_id = excluded.judgment_2_id, run_id = excluded.run_id \
             RETURNING id",
        )
        .bind(b.question_id)
        .bind(b.answer_a_id)
        .bind(b.answer_b_id)
        .bind(b.model_a_id)
        .bind(b.model_b_id)
        .bind(b.winner)
        .bind(b.judge_model)
        .bind(b.weight)
        .bind(b.dry_run)
        .bind(b.judgment_1_id)
        .bind(b.judgment_2_id)
        .bind(b.run_id)
        .fetch_all(self.writer())
        .await?
        .pop()
        .ok_or(sqlx::Error::RowNotFound)?;
        Ok(id)
    }
}
