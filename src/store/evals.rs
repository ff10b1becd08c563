//! Benchmark requests (the cache) and scored samples.

use super::{Flag, Store, StoreError};

/// A log-likelihood the model gave, as cached.
#[derive(Debug, Clone, Copy, PartialEq, sqlx::FromRow)]
pub struct CachedLogLikelihood {
    pub logprob: f64,
    #[sqlx(try_from = "Flag")]
    pub greedy: bool,
    pub tokens: i64,
}

/// A stored sample (its JSON as `samples_<task>.jsonl` holds it).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredSample {
    pub doc_id: i64,
    #[sqlx(try_from = "Flag")]
    pub correct: bool,
    pub sample: String,
}

/// One scored document.
pub struct NewSample<'a> {
    pub doc_id: i64,
    pub correct: bool,
    pub sample: &'a str,
}

impl Store {
    pub async fn cached_loglikelihood(
        &self,
        model_key: &str,
        request_key: &str,
    ) -> Result<Option<CachedLogLikelihood>, StoreError> {
        Ok(sqlx::query_as::<_, CachedLogLikelihood>(
            "SELECT logprob, greedy, tokens FROM eval_requests WHERE model_key = $1 AND request_key = $2 \
             AND kind = 'loglikelihood'",
        )
        .bind(model_key)
        .bind(request_key)
        .fetch_optional(self.pool())
        .await?)
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn save_loglikelihood(
        &self,
        model_key: &str,
        request_key: &str,
        context: &str,
        continuation: &str,
        value: CachedLogLikelihood,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO eval_requests (model_key, request_key, kind, context, continuation, logprob, greedy, tokens) \
             VALUES ($1, $2, 'loglikelihood', $3, $4, $5, $6, $7) ON CONFLICT (model_key, request_key) DO UPDATE SET \
             logprob = excluded.logprob, greedy = excluded.greedy, tokens = excluded.tokens",
        )
        .bind(model_key)
        .bind(request_key)
        .bind(context)
        .bind(continuation)
        .bind(value.logprob)
        .bind(value.greedy)
        .bind(value.tokens)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Stores a task's samples for a run at once (replacing any from an earlier attempt).
    pub async fn save_eval_samples(
        &self,
        run_id: i64,
        task: &str,
        samples: &[NewSample<'_>],
    ) -> Result<(), StoreError> {
        let mut tx = self.writer().begin().await?;
        for s in samples {
            sqlx::query(
                "INSERT INTO eval_samples (run_id, task, doc_id, correct, sample) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (run_id, task, doc_id) DO UPDATE SET correct = excluded.correct, sample = excluded.sample",
            )
            .bind(run_id)
            .bind(task)
            .bind(s.doc_id)
            .bind(s.correct)
            .bind(s.sample)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn cached_generation(&self, model_key: &str, request_key: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar::<_, Option<String>>(
            "SELECT output FROM eval_requests WHERE model_key = $1 AND request_key = $2 AND kind = 'generate'",
        )
        .bind(model_key)
        .bind(request_key)
        .fetch_optional(self.pool())
        .await?
        .flatten())
    }

    pub async fn save_generation(
        &self,
        model_key: &str,
        request_key: &str,
        context: &str,
        output: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO eval_requests (model_key, request_key, kind, context, output) VALUES ($1, $2, 'generate', $3, $4) \
             ON CONFLICT (model_key, request_key) DO UPDATE SET output = excluded.output",
        )
        .bind(model_key)
        .bind(request_key)
        .bind(context)
        .bind(output)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// A page of a task's samples, in document order; only the wrong ones when asked; and how
    /// many there are in all.
    pub async fn eval_samples(
        &self,
        run_id: i64,
        task: &str,
        wrong_only: bool,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<StoredSample>, i64), StoreError> {
        let rows = sqlx::query_as::<_, StoredSample>(
            "SELECT doc_id, correct, sample FROM eval_samples WHERE run_id = $1 AND task = $2 \
             AND ($3 = FALSE OR correct = FALSE) ORDER BY doc_id LIMIT $4 OFFSET $5",
        )
        .bind(run_id)
        .bind(task)
        .bind(wrong_only)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM eval_samples WHERE run_id = $1 AND task = $2 AND ($3 = FALSE OR correct = FALSE)",
        )
        .bind(run_id)
        .bind(task)
        .bind(wrong_only)
        .fetch_one(self.pool())
        .await?;
        Ok((rows, total))
    }

    pub async fn count_eval_requests(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM eval_requests").fetch_one(self.pool()).await?)
    }
}
