//! Battles: one decided comparison of two answers, by a judge or by a person.

use sqlx::any::{Any, AnyArguments, AnyRow};
use sqlx::query::QueryAs;

use super::{Flag, Store, StoreError};
use crate::rating::Outcome;
use crate::rating::agreement::Side;
use crate::rating::judges::JudgedBattle;
use crate::rating::style::AnswerBattle;

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

/// A decided battle with what judge reports need: the answers' ids and lengths, and the
/// verdicts of the judgments behind it as the judge gave them.
#[derive(Debug, Clone, sqlx::FromRow)]
struct StoredJudgedBattle {
    pub judge_model: Option<String>,
    pub source: String,
    pub question_id: i64,
    pub answer_a_id: i64,
    pub answer_b_id: i64,
    pub winner: String,
    pub length_a: i64,
    pub length_b: i64,
    pub verdict_1: Option<String>,
    pub verdict_2: Option<String>,
}

impl StoredJudgedBattle {
    /// `None` for an unknown verdict.
    fn judged(self) -> Option<JudgedBattle> {
        // A judgment's verdict names the position: model_a is the answer it was shown first.
        let shown = |verdict: Option<&str>| match verdict? {
            "model_a" => Some(Side::First),
            "model_b" => Some(Side::Second),
            "tie" | "tie (bothbad)" => Some(Side::Tie),
            _ => None,
        };
        Some(JudgedBattle {
            winner: Outcome::from_winner(&self.winner)?,
            judge: if self.source == "human" { None } else { self.judge_model },
            question: self.question_id,
            answer_a: self.answer_a_id,
            answer_b: self.answer_b_id,
            length_a: self.length_a.max(0) as u64,
            length_b: self.length_b.max(0) as u64,
            shown_a_first: shown(self.verdict_1.as_deref()),
            shown_b_first: shown(self.verdict_2.as_deref()),
        })
    }
}

/// A decided battle with both answers' texts (for style control).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredStyleBattle {
    pub model_a: String,
    pub model_b: String,
    pub winner: String,
    pub weight: f64,
    pub answer_a_id: i64,
    pub answer_b_id: i64,
    pub text_a: String,
    pub text_b: String,
}

impl StoredStyleBattle {
    /// The battle as style control reads it; `None` for an unknown verdict.
    pub fn answer_battle(&self) -> Option<AnswerBattle<'_>> {
        Some((
            &self.model_a,
            &self.model_b,
            Outcome::from_winner(&self.winner)?,
            self.weight,
            (self.answer_a_id, &self.text_a),
            (self.answer_b_id, &self.text_b),
        ))
    }
}

impl Store {
    /// Decided battles with their answers' texts, in the order they were recorded.
    pub async fn style_battles(&self, scope: &BattleScope) -> Result<Vec<StoredStyleBattle>, StoreError> {
        let sql = format!(
            "SELECT ma.name AS model_a, mb.name AS model_b, b.winner, b.weight, b.answer_a_id, b.answer_b_id, \
               aa.text AS text_a, ab.text AS text_b \
             FROM battles b \
             JOIN models ma ON ma.id = b.model_a_id JOIN models mb ON mb.id = b.model_b_id \
             JOIN questions q ON q.id = b.question_id \
             JOIN answers aa ON aa.id = b.answer_a_id JOIN answers ab ON ab.id = b.answer_b_id \
             WHERE b.winner IS NOT NULL AND {SCOPE} \
             ORDER BY b.created_at, b.id"
        );
        Ok(scoped::<StoredStyleBattle>(sql, scope).fetch_all(self.pool()).await?)
    }

    /// Decided battles of every judge and of people in the scope, for judge reports (those
    /// with an unknown verdict left out).
    pub async fn judged_battles(&self, scope: &BattleScope) -> Result<Vec<JudgedBattle>, StoreError> {
        let sql = format!(
            "SELECT b.judge_model, b.source, b.question_id, b.answer_a_id, b.answer_b_id, b.winner, \
               length(aa.text) AS length_a, length(ab.text) AS length_b, \
               j1.verdict AS verdict_1, j2.verdict AS verdict_2 \
             FROM battles b \
             JOIN questions q ON q.id = b.question_id \
             JOIN answers aa ON aa.id = b.answer_a_id JOIN answers ab ON ab.id = b.answer_b_id \
             LEFT JOIN judgments j1 ON j1.id = b.judgment_1_id LEFT JOIN judgments j2 ON j2.id = b.judgment_2_id \
             WHERE b.winner IS NOT NULL AND {SCOPE} \
             ORDER BY b.id"
        );
        let rows = scoped::<StoredJudgedBattle>(sql, scope).fetch_all(self.pool()).await?;
        Ok(rows.into_iter().filter_map(StoredJudgedBattle::judged).collect())
    }

    /// Decided battles in the order they were recorded.
    pub async fn battles_for_rating(&self, scope: &BattleScope) -> Result<Vec<StoredBattle>, StoreError> {
        let sql = format!(
            "SELECT ma.name AS model_a, mb.name AS model_b, b.winner, b.weight, q.category, \
               length(aa.text) AS length_a, length(ab.text) AS length_b \
             FROM battles b \
             JOIN models ma ON ma.id = b.model_a_id JOIN models mb ON mb.id = b.model_b_id \
             JOIN questions q ON q.id = b.question_id \
             JOIN answers aa ON aa.id = b.answer_a_id JOIN answers ab ON ab.id = b.answer_b_id \
             WHERE b.winner IS NOT NULL AND {SCOPE} \
             ORDER BY b.created_at, b.id"
        );
        Ok(scoped::<StoredBattle>(sql, scope).fetch_all(self.pool()).await?)
    }

    /// How many battles the dry-run switch would have added (to point users at it).
    pub async fn count_battles(&self, dry_run: bool) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM battles WHERE winner IS NOT NULL AND dry_run = $1")
            .bind(dry_run)
            .fetch_one(self.pool())
            .await?)
    }
}

/// Which battles a leaderboard, a list or `jury rate --db` uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct BattleScope {
    /// `judge`, `human`, or `None` for both.
    pub source: Option<String>,
    pub category: Option<String>,
    pub question_set: Option<i64>,
    /// One judge's battles only.
    pub judge: Option<String>,
    /// The dry-run battles instead of the real ones (they never mix).
    pub dry_run: bool,
}

/// Battles grouped by models and outcome: what ratings need, a few thousand rows however
/// many battles there are.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BattleGroup {
    pub model_a: String,
    pub model_b: String,
    pub winner: String,
    pub weight: f64,
    pub count: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BattleSummary {
    pub id: i64,
    pub model_a: String,
    pub model_b: String,
    pub winner: Option<String>,
    pub source: String,
    pub judge_model: Option<String>,
    pub category: String,
    pub question_external_id: String,
    pub question_set_id: i64,
    pub question: String,
    pub weight: f64,
    #[sqlx(try_from = "Flag")]
    pub dry_run: bool,
    pub created_at: f64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BattleDetail {
    pub id: i64,
    pub model_a: String,
    pub model_b: String,
    pub winner: Option<String>,
    pub source: String,
    pub judge_model: Option<String>,
    pub category: String,
    pub question_external_id: String,
    pub question_set_id: i64,
    pub turns: String,
    pub reference_answer: Option<String>,
    pub answer_a: String,
    pub answer_b: String,
    pub weight: f64,
    #[sqlx(try_from = "Flag")]
    pub dry_run: bool,
    pub created_at: f64,
    /// The judgment that saw model A first, and its verdict and scores in A/B terms.
    pub review_1: Option<String>,
    pub verdict_1: Option<String>,
    pub score_1_a: Option<f64>,
    pub score_1_b: Option<f64>,
    /// With swapped positions: the judgment that saw model B first, its verdict and scores as
    /// shown (its "A" is this battle's model B).
    pub review_2: Option<String>,
    pub verdict_2: Option<String>,
    pub score_2_a: Option<f64>,
    pub score_2_b: Option<f64>,
}

/// A battle in FastChat's clean battle shape.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExportedBattle {
    pub model_a: String,
    pub model_b: String,
    pub winner: String,
    pub source: String,
    pub judge_model: Option<String>,
    pub category: String,
    pub question_id: String,
    pub tstamp: f64,
}

/// The shared WHERE clause of battle queries ($1 dry_run, $2 source, $3 category, $4 question set).
const SCOPE: &str = "b.dry_run = $1 AND ($2 IS NULL OR b.source = $2) AND ($3 IS NULL OR q.category = $3) \
                     AND ($4 IS NULL OR q.question_set_id = $4) AND ($5 IS NULL OR b.judge_model = $5)";

/// A query whose WHERE clause includes [`SCOPE`], with the scope bound as $1–$5.
fn scoped<'q, O>(sql: String, scope: &'q BattleScope) -> QueryAs<'q, Any, O, AnyArguments>
where
    O: for<'r> sqlx::FromRow<'r, AnyRow>,
{
    sqlx::query_as::<_, O>(sqlx::AssertSqlSafe(sql))
        .bind(scope.dry_run)
        .bind(&scope.source)
        .bind(&scope.category)
        .bind(scope.question_set)
        .bind(&scope.judge)
}

impl Store {
    pub async fn battle_groups(&self, scope: &BattleScope) -> Result<Vec<BattleGroup>, StoreError> {
        let sql = format!(
            "SELECT ma.name AS model_a, mb.name AS model_b, b.winner, b.weight, COUNT(*) AS count \
             FROM battles b JOIN models ma ON ma.id = b.model_a_id JOIN models mb ON mb.id = b.model_b_id \
             JOIN questions q ON q.id = b.question_id \
             WHERE b.winner IS NOT NULL AND {SCOPE} \
             GROUP BY ma.name, mb.name, b.winner, b.weight"
        );
        Ok(scoped::<BattleGroup>(sql, scope).fetch_all(self.pool()).await?)
    }

    /// One page of battles, newest first, and how many match. `model` matches either side;
    /// `other` (with `model`) the opponent; `winner` the verdict.
    pub async fn list_battles(
        &self,
        scope: &BattleScope,
        model: Option<&str>,
        other: Option<&str>,
        winner: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<BattleSummary>, i64), StoreError> {
        let filter = format!(
            "FROM battles b JOIN models ma ON ma.id = b.model_a_id JOIN models mb ON mb.id = b.model_b_id \
             JOIN questions q ON q.id = b.question_id \
             WHERE b.winner IS NOT NULL AND {SCOPE} \
               AND ($6 IS NULL OR ma.name = $6 OR mb.name = $6) \
               AND ($7 IS NULL OR (ma.name = $6 AND mb.name = $7) OR (ma.name = $7 AND mb.name = $6)) \
               AND ($8 IS NULL OR b.winner = $8)"
        );
        let rows = scoped::<BattleSummary>(
            format!(
                "SELECT b.id, ma.name AS model_a, mb.name AS model_b, b.winner, b.source, b.judge_model, q.category, \
                   q.external_id AS question_external_id, q.question_set_id, {question} AS question, \
                   b.weight, b.dry_run, b.created_at {filter} ORDER BY b.id DESC LIMIT $9 OFFSET $10",
                question = self.dialect().first_turn("q.turns")
            ),
            scope,
        )
        .bind(model)
        .bind(other)
        .bind(winner)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        let total = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) {filter}")))
            .bind(scope.dry_run)
            .bind(&scope.source)
            .bind(&scope.category)
            .bind(scope.question_set)
            .bind(&scope.judge)
            .bind(model)
            .bind(other)
            .bind(winner)
            .fetch_one(self.pool())
            .await?;
        Ok((rows, total))
    }

    pub async fn battle_detail(&self, id: i64) -> Result<Option<BattleDetail>, StoreError> {
        Ok(sqlx::query_as::<_, BattleDetail>(
            "SELECT b.id, ma.name AS model_a, mb.name AS model_b, b.winner, b.source, b.judge_model, q.category, \
               q.external_id AS question_external_id, q.question_set_id, q.turns, q.reference_answer, \
               aa.text AS answer_a, ab.text AS answer_b, b.weight, b.dry_run, b.created_at, \
               j1.raw_text AS review_1, j1.verdict AS verdict_1, j1.score_a AS score_1_a, j1.score_b AS score_1_b, \
               j2.raw_text AS review_2, j2.verdict AS verdict_2, j2.score_a AS score_2_a, j2.score_b AS score_2_b \
             FROM battles b JOIN models ma ON ma.id = b.model_a_id JOIN models mb ON mb.id = b.model_b_id \
             JOIN questions q ON q.id = b.question_id \
             JOIN answers aa ON aa.id = b.answer_a_id JOIN answers ab ON ab.id = b.answer_b_id \
             LEFT JOIN judgments j1 ON j1.id = b.judgment_1_id LEFT JOIN judgments j2 ON j2.id = b.judgment_2_id \
             WHERE b.id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Every decided real battle, oldest first, for export.
    pub async fn export_battles(&self) -> Result<Vec<ExportedBattle>, StoreError> {
        Ok(sqlx::query_as::<_, ExportedBattle>(
            "SELECT ma.name AS model_a, mb.name AS model_b, b.winner, b.source, b.judge_model, q.category, \
               q.external_id AS question_id, b.created_at AS tstamp \
             FROM battles b JOIN models ma ON ma.id = b.model_a_id JOIN models mb ON mb.id = b.model_b_id \
             JOIN questions q ON q.id = b.question_id \
             WHERE b.winner IS NOT NULL AND b.winner != 'unknown' AND b.dry_run = FALSE ORDER BY b.created_at, b.id",
        )
        .fetch_all(self.pool())
        .await?)
    }
}
