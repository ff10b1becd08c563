//! Human votes on anonymous battles: a battle is created when a pair is shown, and takes
//! exactly one vote.

use rand::Rng;
use rand::seq::IndexedRandom;

use super::{Store, StoreError};

/// A battle waiting for a vote, as shown to the voter (no model names).
#[derive(Debug, Clone)]
pub struct VoteBattle {
    pub battle_id: i64,
    pub question: String,
    pub category: String,
    pub answer_a: String,
    pub answer_b: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum VoteOutcome {
    /// Recorded; the names of the two models, now revealed.
    Recorded {
        model_a: String,
        model_b: String,
    },
    AlreadyVoted,
    NotFound,
}

#[derive(sqlx::FromRow)]
struct Pair {
    model_a: i64,
    model_b: i64,
    shared: i64,
    votes: i64,
}

impl Store {
    /// Picks the pair of models with the fewest human battles so far (among pairs that answered
    /// a common question), a random question both answered, and a random side for each; records
    /// the battle and returns it. `None` when no two models share a question.
    pub async fn next_vote_battle(&self, question_set: Option<i64>) -> Result<Option<VoteBattle>, StoreError> {
        let pairs = sqlx::query_as::<_, Pair>(
            "WITH shared AS ( \
               SELECT a1.model_id AS model_a, a2.model_id AS model_b, COUNT(DISTINCT a1.question_id) AS shared \
               FROM answers a1 JOIN answers a2 ON a2.question_id = a1.question_id AND a2.model_id > a1.model_id \
               JOIN questions q ON q.id = a1.question_id \
               WHERE ($1 IS NULL OR q.question_set_id = $1) \
               GROUP BY a1.model_id, a2.model_id), \
             votes AS ( \
               SELECT MIN(model_a_id, model_b_id) AS model_a, MAX(model_a_id, model_b_id) AS model_b, COUNT(*) AS votes \
               FROM battles WHERE source = 'human' AND winner IS NOT NULL GROUP BY 1, 2) \
             SELECT s.model_a, s.model_b, s.shared, COALESCE(v.votes, 0) AS votes \
             FROM shared s LEFT JOIN votes v ON v.model_a = s.model_a AND v.model_b = s.model_b",
        )
        .bind(question_set)
        .fetch_all(self.pool())
        .await?;
        let Some(fewest) = pairs.iter().map(|p| p.votes).min() else { return Ok(None) };
        let candidates: Vec<&Pair> = pairs.iter().filter(|p| p.votes == fewest && p.shared > 0).collect();
        let (pair, flip, pick) = {
            let mut rng = rand::rng();
            let Some(pair) = candidates.choose(&mut rng) else { return Ok(None) };
            (*pair, rng.random_bool(0.5), rng.random_range(0..pair.shared))
        };
        // The question: the pick-th of those both models answered (latest answer of each).
        let row = sqlx::query_as::<_, (i64, i64, i64, String, String, String, String)>(
            "SELECT q.id, \
               (SELECT id FROM answers WHERE question_id = q.id AND model_id = $1 ORDER BY id DESC LIMIT 1), \
               (SELECT id FROM answers WHERE question_id = q.id AND model_id = $2 ORDER BY id DESC LIMIT 1), \
               json_extract(q.turns, '$[0]'), q.category, \
               (SELECT text FROM answers WHERE question_id = q.id AND model_id = $1 ORDER BY id DESC LIMIT 1), \
               (SELECT text FROM answers WHERE question_id = q.id AND model_id = $2 ORDER BY id DESC LIMIT 1) \
             FROM questions q \
             WHERE ($3 IS NULL OR q.question_set_id = $3) \
               AND EXISTS (SELECT 1 FROM answers WHERE question_id = q.id AND model_id = $1) \
               AND EXISTS (SELECT 1 FROM answers WHERE question_id = q.id AND model_id = $2) \
             ORDER BY q.id LIMIT 1 OFFSET $4",
        )
        .bind(pair.model_a)
        .bind(pair.model_b)
        .bind(question_set)
        .bind(pick)
        .fetch_optional(self.pool())
        .await?;
        let Some((question_id, answer_1, answer_2, question, category, text_1, text_2)) = row else { return Ok(None) };
        let (model_a, model_b, answer_a, answer_b, text_a, text_b) = if flip {
            (pair.model_b, pair.model_a, answer_2, answer_1, text_2, text_1)
        } else {
            (pair.model_a, pair.model_b, answer_1, answer_2, text_1, text_2)
        };
        let battle_id = sqlx::query_scalar::<_, i64>(
            "INSERT INTO battles (question_id, answer_a_id, answer_b_id, model_a_id, model_b_id, source) \
             VALUES ($1, $2, $3, $4, $5, 'human') RETURNING id",
        )
        .bind(question_id)
        .bind(answer_a)
        .bind(answer_b)
        .bind(model_a)
        .bind(model_b)
        .fetch_all(self.writer())
        .await?
        .pop()
        .ok_or(sqlx::Error::RowNotFound)?;
        Ok(Some(VoteBattle { battle_id, question, category, answer_a: text_a, answer_b: text_b }))
    }

    /// Records a vote, once: a battle that already has one (or is not a human battle) is refused.
    pub async fn cast_vote(&self, battle_id: i64, winner: &str, voter: &str) -> Result<VoteOutcome, StoreError> {
        let mut tx = self.writer().begin().await?;
        let updated =
            sqlx::query("UPDATE battles SET winner = $1 WHERE id = $2 AND source = 'human' AND winner IS NULL")
                .bind(winner)
                .bind(battle_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if updated == 0 {
            let existing = sqlx::query_scalar::<_, Option<String>>(
                "SELECT winner FROM battles WHERE id = $1 AND source = 'human'",
            )
            .bind(battle_id)
            .fetch_optional(&mut *tx)
            .await?;
            tx.rollback().await?;
            return Ok(match existing {
                Some(Some(_)) => VoteOutcome::AlreadyVoted,
                _ => VoteOutcome::NotFound,
            });
        }
        sqlx::query("INSERT INTO votes (battle_id, voter, winner) VALUES ($1, $2, $3)")
            .bind(battle_id)
            .bind(voter)
            .bind(winner)
            .execute(&mut *tx)
            .await?;
        let (model_a, model_b) = sqlx::query_as::<_, (String, String)>(
            "SELECT ma.name, mb.name FROM battles b JOIN models ma ON ma.id = b.model_a_id \
             JOIN models mb ON mb.id = b.model_b_id WHERE b.id = $1",
        )
        .bind(battle_id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(VoteOutcome::Recorded { model_a, model_b })
    }

    pub async fn count_votes(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM votes").fetch_one(self.pool()).await?)
    }
}
