//! Verdicts imported from files, bound to the stored questions and answers they are about.

use std::collections::HashMap;

use super::{Store, StoreError};

/// What an imported verdict can be bound to: questions by their id as written in their file,
/// models by name, and each model's latest answer to each question.
#[derive(Debug, Default)]
pub struct ImportCatalog {
    /// External id → (question id, question set id), for every set in scope.
    pub questions: HashMap<String, Vec<(i64, i64)>>,
    pub models: HashMap<String, i64>,
    /// (question id, model id) → the latest answer's id.
    pub answers: HashMap<(i64, i64), i64>,
}

/// A verdict ready to store.
#[derive(Debug, Clone)]
pub struct ImportedBattle {
    pub question_id: i64,
    pub answer_a_id: i64,
    pub answer_b_id: i64,
    pub model_a_id: i64,
    pub model_b_id: i64,
    pub winner: &'static str,
    /// `human` or `judge`.
    pub source: &'static str,
    /// The judge's name for judge verdicts; `None` for people's.
    pub judge_model: Option<String>,
    /// Who cast a human vote (kept with the vote).
    pub voter: String,
    pub import_key: String,
}

impl Store {
    /// The question set named `name`, if there is one (the newest of that name).
    pub async fn question_set_named(&self, name: &str) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar::<_, i64>("SELECT id FROM question_sets WHERE name = $1 ORDER BY id DESC LIMIT 1")
            .bind(name)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Everything imported verdicts may be bound to, within one question set or all.
    pub async fn import_catalog(&self, question_set: Option<i64>) -> Result<ImportCatalog, StoreError> {
        let mut catalog = ImportCatalog::default();
        let questions = sqlx::query_as::<_, (String, i64, i64)>(
            "SELECT external_id, id, question_set_id FROM questions WHERE ($1 IS NULL OR question_set_id = $1)",
        )
        .bind(question_set)
        .fetch_all(self.pool())
        .await?;
        for (external, id, set) in questions {
            catalog.questions.entry(external).or_default().push((id, set));
        }
        catalog.models = sqlx::query_as::<_, (String, i64)>("SELECT name, id FROM models")
            .fetch_all(self.pool())
            .await?
            .into_iter()
            .collect();
        let answers = sqlx::query_as::<_, (i64, i64, i64)>(
            "SELECT a.question_id, a.model_id, MAX(a.id) FROM answers a JOIN questions q ON q.id = a.question_id \
             WHERE ($1 IS NULL OR q.question_set_id = $1) GROUP BY a.question_id, a.model_id",
        )
        .bind(question_set)
        .fetch_all(self.pool())
        .await?;
        catalog.answers = answers.into_iter().map(|(q, m, a)| ((q, m), a)).collect();
        Ok(catalog)
    }

    /// Stores the verdicts in one transaction; each is `true` when stored, `false` when it was
    /// there already (imported before, or a judge's verdict on the same two answers).
    pub async fn insert_imported_battles(&self, battles: &[ImportedBattle]) -> Result<Vec<bool>, StoreError> {
        let mut tx = self.writer().begin().await?;
        let mut stored = Vec::with_capacity(battles.len());
        for b in battles {
            let id = sqlx::query_scalar::<_, i64>(
                "INSERT INTO battles (question_id, answer_a_id, answer_b_id, model_a_id, model_b_id, winner, source, \
                   judge_model, import_key) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING RETURNING id",
            )
            .bind(b.question_id)
            .bind(b.answer_a_id)
            .bind(b.answer_b_id)
            .bind(b.model_a_id)
            .bind(b.model_b_id)
            .bind(b.winner)
            .bind(b.source)
            .bind(&b.judge_model)
            .bind(&b.import_key)
            .fetch_optional(&mut *tx)
            .await?;
            if let (Some(id), "human") = (id, b.source) {
                sqlx::query("INSERT INTO votes (battle_id, voter, winner) VALUES ($1, $2, $3)")
                    .bind(id)
                    .bind(&b.voter)
                    .bind(b.winner)
                    .execute(&mut *tx)
                    .await?;
            }
            stored.push(id.is_some());
        }
        tx.commit().await?;
        Ok(stored)
    }
}
