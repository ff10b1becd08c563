//! Answers, keyed by question, model and the settings that produced them.

use sha2::{Digest, Sha256};

use super::{Store, StoreError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredAnswer {
    pub id: i64,
    pub text: String,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub latency_ms: Option<i64>,
}

impl Store {
    pub async fn find_answer(
        &self,
        question_id: i64,
        model_id: i64,
        settings_hash: &str,
    ) -> Result<Option<StoredAnswer>, StoreError> {
        Ok(sqlx::query_as::<_, StoredAnswer>(
            "SELECT id, text, prompt_tokens, completion_tokens, latency_ms FROM answers \
             WHERE question_id = $1 AND model_id = $2 AND settings_hash = $3",
        )
        .bind(question_id)
        .bind(model_id)
        .bind(settings_hash)
        .fetch_optional(self.pool())
        .await?)
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn insert_answer(
        &self,
        question_id: i64,
        model_id: i64,
        settings_hash: &str,
        text: &str,
        prompt_tokens: u64,
        completion_tokens: u64,
        latency_ms: u64,
    ) -> Result<i64, StoreError> {
        let id = sqlx::query_scalar::<_, i64>(
            "INSERT INTO answers (question_id, model_id, settings_hash, text, prompt_tokens, completion_tokens, latency_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (question_id, model_id, settings_hash) DO UPDATE SET text = excluded.text, \
               prompt_tokens = excluded.prompt_tokens, completion_tokens = excluded.completion_tokens, \
               latency_ms = excluded.latency_ms \
             RETURNING id",
        )
        .bind(question_id)
        .bind(model_id)
        .bind(settings_hash)
        .bind(text)
        .bind(prompt_tokens as i64)
        .bind(completion_tokens as i64)
        .bind(latency_ms as i64)
        .fetch_one(self.pool())
        .await?;
        Ok(id)
    }

    /// The stored answer with exactly this text, or a new `imported` one (answers read
    /// from files, such as a baseline or answers produced elsewhere).
    pub async fn answer_id_or_import(&self, question_id: i64, model_id: i64, text: &str) -> Result<i64, StoreError> {
        if let Some(id) = sqlx::query_scalar::<_, i64>(
            "SELECT id FROM answers WHERE question_id = $1 AND model_id = $2 AND text = $3 ORDER BY id LIMIT 1",
        )
        .bind(question_id)
        .bind(model_id)
        .bind(text)
        .fetch_optional(self.pool())
        .await?
        {
            return Ok(id);
        }
        let hash = format!("imported:{}", &hex::encode(Sha256::digest(text.as_bytes()))[..16]);
        sqlx::query(
            "INSERT INTO answers (question_id, model_id, settings_hash, text) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (question_id, model_id, settings_hash) DO NOTHING",
        )
        .bind(question_id)
        .bind(model_id)
        .bind(&hash)
        .bind(text)
        .execute(self.pool())
        .await?;
        Ok(sqlx::query_scalar::<_, i64>(
            "SELECT id FROM answers WHERE question_id = $1 AND model_id = $2 AND settings_hash = $3",
        )
        .bind(question_id)
        .bind(model_id)
        .bind(&hash)
        .fetch_one(self.pool())
        .await?)
    }
}
