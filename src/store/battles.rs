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

/// Which stored battles to rate.
#[derive(Debug, Clone, Default)]
pub struct BattleFilter {
    /// `judge` or `human`; `None` for both.
    pub source: Option<String>,
    pub category: Option<String>,
    /// Rate the dry-run battles instead of the real ones (they never mix).
    pub dry_run: bool,
}

/// A decided battle as the rating engine needs it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredBattle {
    pub model_a: String,
    pub model_b: String,
    pub winner: String,
    pub weight: f64,
    pub category: String,
    /// Answer lengths in characters (for length-controlled win rates).
    pub length_a: i64,
    pub length_b: i64,
}

impl Store {
    /// Decided battles in the order they were recorded.
    pub async fn battles_for_rating(&self, filter: &BattleFilter) -> Result<Vec<StoredBattle>, StoreError> {
        Ok(sqlx::query_as::<_, StoredBattle>(
            "SELECT ma.name AS model_a, mb.name AS model_b, b.winner, b.weight, q.category, \
               length(aa.text) AS length_a, length(ab.text) AS length_b \
             FROM battles b \
             JOIN models ma ON ma.id = b.model_a_id JOIN models mb ON mb.id = b.model_b_id \
             JOIN questions q ON q.id = b.question_id \
             JOIN answers aa ON aa.id = b.answer_a_id JOIN answers ab ON ab.id = b.answer_b_id \
             WHERE b.winner IS NOT NULL AND b.dry_run = $1 \
               AND ($2 IS NULL OR b.source = $2) AND ($3 IS NULL OR q.category = $3) \
             ORDER BY b.created_at, b.id",
        )
        .bind(filter.dry_run)
        .bind(&filter.source)
        .bind(&filter.category)
        .fetch_all(self.pool())
        .await?)
    }

    /// How many battles the dry-run switch would have added (to point users at it).
    pub async fn count_battles(&self, dry_run: bool) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM battles WHERE winner IS NOT NULL AND dry_run = $1")
            .bind(dry_run)
            .fetch_one(self.pool())
            .await?)
    }
}
