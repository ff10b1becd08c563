//! Human votes on anonymous battles: a battle is created when a pair is shown, and takes
//! exactly one vote. Which pair to show is the caller's choice (see `web::voting`).

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
        /// The two models' ids, the smaller first.
        pair: (i64, i64),
    },
    AlreadyVoted,
    NotFound,
}

/// A question and two answers about to be shown: each answer as (model id, answer id, text).
struct ShownPair {
    question_id: i64,
    question: String,
    category: String,
    first: (i64, i64, String),
    second: (i64, i64, String),
}

/// Two models that answered common questions (`model_a < model_b`, by id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnsweredPair {
    pub model_a: i64,
    pub model_b: i64,
    /// How many questions both answered.
    pub shared: i64,
}

impl Store {
    /// Every pair of models that answered a common question (of one set, or of all), with how
    /// many they share. Counted here rather than by a self-join in SQL, which would visit every
    /// pair of answers to every question: seconds with a hundred models.
    pub async fn answered_pairs(&self, question_set: Option<i64>) -> Result<Vec<AnsweredPair>, StoreError> {
        let rows = sqlx::query_as::<_, (i64, i64)>(
            "SELECT DISTINCT a.question_id, a.model_id FROM answers a JOIN questions q ON q.id = a.question_id \
             WHERE ($1 IS NULL OR q.question_set_id = $1) ORDER BY a.question_id, a.model_id",
        )
        .bind(question_set)
        .fetch_all(self.pool())
        .await?;
        let mut models: Vec<i64> = rows.iter().map(|r| r.1).collect();
        models.sort_unstable();
        models.dedup();
        let index = |id: i64| models.binary_search(&id).expect("listed above");
        let n = models.len();
        let mut shared = vec![0i64; n * n];
        for question in rows.chunk_by(|x, y| x.0 == y.0) {
            for (k, &(_, a)) in question.iter().enumerate() {
                for &(_, b) in &question[k + 1..] {
                    shared[index(a) * n + index(b)] += 1;
                }
            }
        }
        let mut out = Vec::new();
        for i in 0..n {
            for j in i + 1..n {
                if shared[i * n + j] > 0 {
                    out.push(AnsweredPair { model_a: models[i], model_b: models[j], shared: shared[i * n + j] });
                }
            }
        }
        Ok(out)
    }

    /// Human votes cast so far per pair of models, `(model_a, model_b, votes)` with `model_a < model_b`.
    pub async fn votes_per_pair(&self) -> Result<Vec<(i64, i64, i64)>, StoreError> {
        Ok(sqlx::query_as::<_, (i64, i64, i64)>(
            "SELECT CASE WHEN model_a_id < model_b_id THEN model_a_id ELSE model_b_id END, \
               CASE WHEN model_a_id < model_b_id THEN model_b_id ELSE model_a_id END, COUNT(*) \
             FROM battles WHERE source = 'human' AND winner IS NOT NULL GROUP BY 1, 2",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// Opens a human battle between two models on the `pick`-th question (by id) that both
    /// answered, with the latest answer of each; `flip` puts `second` on side A. `None` when
    /// they share no such question (any more).
    pub async fn open_vote_battle(
        &self,
        first: i64,
        second: i64,
        question_set: Option<i64>,
        pick: i64,
        flip: bool,
    ) -> Result<Option<VoteBattle>, StoreError> {
        let row = sqlx::query_as::<_, (i64, i64, i64, String, String, String, String)>(sqlx::AssertSqlSafe(format!(
            "SELECT q.id, \
               (SELECT id FROM answers WHERE question_id = q.id AND model_id = $1 ORDER BY id DESC LIMIT 1), \
               (SELECT id FROM answers WHERE question_id = q.id AND model_id = $2 ORDER BY id DESC LIMIT 1), \
               {question}, q.category, \
               (SELECT text FROM answers WHERE question_id = q.id AND model_id = $1 ORDER BY id DESC LIMIT 1), \
               (SELECT text FROM answers WHERE question_id = q.id AND model_id = $2 ORDER BY id DESC LIMIT 1) \
             FROM questions q \
             WHERE ($3 IS NULL OR q.question_set_id = $3) \
               AND EXISTS (SELECT 1 FROM answers WHERE question_id = q.id AND model_id = $1) \
               AND EXISTS (SELECT 1 FROM answers WHERE question_id = q.id AND model_id = $2) \
             ORDER BY q.id LIMIT 1 OFFSET $4",
            question = self.dialect().first_turn("q.turns")
        )))
        .bind(first)
        .bind(second)
        .bind(question_set)
        .bind(pick)
        .fetch_optional(self.pool())
        .await?;
        let Some((question_id, answer_1, answer_2, question, category, text_1, text_2)) = row else { return Ok(None) };
        let pair = ShownPair {
            question_id,
            question,
            category,
            first: (first, answer_1, text_1),
            second: (second, answer_2, text_2),
        };
        Ok(Some(self.open_human_battle(pair, flip).await?))
    }

    /// Stores a human battle on `pair` (with `flip`, its second answer on side A) and returns it
    /// as the voter sees it.
    async fn open_human_battle(&self, pair: ShownPair, flip: bool) -> Result<VoteBattle, StoreError> {
        let ((model_a, answer_a, text_a), (model_b, answer_b, text_b)) =
            if flip { (pair.second, pair.first) } else { (pair.first, pair.second) };
        let battle_id = sqlx::query_scalar::<_, i64>(
            "INSERT INTO battles (question_id, answer_a_id, answer_b_id, model_a_id, model_b_id, source) \
             VALUES ($1, $2, $3, $4, $5, 'human') RETURNING id",
        )
        .bind(pair.question_id)
        .bind(answer_a)
        .bind(answer_b)
        .bind(model_a)
        .bind(model_b)
        .fetch_one(self.writer())
        .await?;
        Ok(VoteBattle {
            battle_id,
            question: pair.question,
            category: pair.category,
            answer_a: text_a,
            answer_b: text_b,
        })
    }

    /// Opens a battle on a question and pair of answers a judge already decided (a real
    /// battle, not a dry run), choosing among those with the fewest human votes so far: a
    /// calibration vote, which measures the judges against people. `None` when no judge has
    /// decided a battle (in that question set).
    pub async fn open_calibration_battle(
        &self,
        question_set: Option<i64>,
        flip: bool,
    ) -> Result<Option<VoteBattle>, StoreError> {
        let row = sqlx::query_as::<_, (i64, i64, i64, i64, i64, String, String, String, String)>(sqlx::AssertSqlSafe(
            format!(
                "SELECT b.question_id, b.answer_a_id, b.answer_b_id, b.model_a_id, b.model_b_id, \
               {question}, q.category, aa.text, ab.text \
             FROM battles b JOIN questions q ON q.id = b.question_id \
             JOIN answers aa ON aa.id = b.answer_a_id JOIN answers ab ON ab.id = b.answer_b_id \
             WHERE b.source = 'judge' AND b.dry_run = FALSE AND b.winner IS NOT NULL AND b.winner <> 'unknown' \
               AND ($1 IS NULL OR q.question_set_id = $1) \
             ORDER BY (SELECT COUNT(*) FROM battles h \
                       WHERE h.source = 'human' AND h.winner IS NOT NULL AND h.question_id = b.question_id \
                         AND ((h.answer_a_id = b.answer_a_id AND h.answer_b_id = b.answer_b_id) \
                           OR (h.answer_a_id = b.answer_b_id AND h.answer_b_id = b.answer_a_id))), \
               RANDOM() \
             LIMIT 1",
                question = self.dialect().first_turn("q.turns")
            ),
        ))
        .bind(question_set)
        .fetch_optional(self.pool())
        .await?;
        let Some((question_id, answer_1, answer_2, model_1, model_2, question, category, text_1, text_2)) = row else {
            return Ok(None);
        };
        let pair = ShownPair {
            question_id,
            question,
            category,
            first: (model_1, answer_1, text_1),
            second: (model_2, answer_2, text_2),
        };
        Ok(Some(self.open_human_battle(pair, flip).await?))
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
        let (model_a, model_b, id_a, id_b) = sqlx::query_as::<_, (String, String, i64, i64)>(
            "SELECT ma.name, mb.name, ma.id, mb.id FROM battles b JOIN models ma ON ma.id = b.model_a_id \
             JOIN models mb ON mb.id = b.model_b_id WHERE b.id = $1",
        )
        .bind(battle_id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(VoteOutcome::Recorded { model_a, model_b, pair: (id_a.min(id_b), id_a.max(id_b)) })
    }

    /// Deletes human battles shown at least `age` ago and never voted on: a voter who walked
    /// away, or a crawler following the vote link, leaves one behind each time.
    pub async fn delete_unvoted_battles(&self, age: std::time::Duration) -> Result<u64, StoreError> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let cutoff = now.as_secs_f64() - age.as_secs_f64();
        Ok(sqlx::query("DELETE FROM battles WHERE source = 'human' AND winner IS NULL AND created_at <= $1")
            .bind(cutoff)
            .execute(self.writer())
            .await?
            .rows_affected())
    }

    pub async fn count_votes(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM votes").fetch_one(self.pool()).await?)
    }
}
