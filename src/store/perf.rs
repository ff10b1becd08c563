//! Load-test requests: every request of a `jury perf` run with its timings.

use super::{OptionalReal, Store, StoreError};
use crate::perf::RequestOutcome;

/// A stored request, as the pages and the API read it back.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct PerfRequestRow {
    pub point: i64,
    pub seq: i64,
    pub scheduled_s: f64,
    pub sent_s: f64,
    pub first_content_s: Option<f64>,
    pub end_s: f64,
    pub content_chunks: i64,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub failure: Option<String>,
}

impl Store {
    /// Forgets a run's requests (a test measured again from its start).
    pub async fn clear_perf_requests(&self, run_id: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM perf_requests WHERE run_id = $1").bind(run_id).execute(self.writer()).await?;
        Ok(())
    }

    /// Stores one point's requests in one transaction.
    pub async fn save_perf_requests(
        &self,
        run_id: i64,
        point: i64,
        outcomes: &[RequestOutcome],
    ) -> Result<(), StoreError> {
        let mut tx = self.writer().begin().await?;
        for (seq, o) in outcomes.iter().enumerate() {
            sqlx::query(
                "INSERT INTO perf_requests (run_id, point, seq, scheduled_s, sent_s, first_content_s, end_s, \
                 content_chunks, chunks, prompt_tokens, completion_tokens, failure, content_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .bind(run_id)
            .bind(point)
            .bind(seq as i64)
            .bind(o.scheduled_s)
            .bind(o.sent_s)
            .bind(OptionalReal(o.content_at_s.first().copied()))
            .bind(o.end_s)
            .bind(o.content_at_s.len() as i64)
            .bind(i64::from(o.chunks))
            .bind(o.prompt_tokens.map(|n| n as i64))
            .bind(o.completion_tokens.map(|n| n as i64))
            .bind(o.failure.as_ref().map(|f| f.reason()))
            .bind(serde_json::to_string(&o.content_at_s).expect("numbers serialise"))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// One point's requests in the order they were sent.
    pub async fn perf_requests(&self, run_id: i64, point: i64) -> Result<Vec<PerfRequestRow>, StoreError> {
        Ok(sqlx::query_as::<_, PerfRequestRow>(
            "SELECT point, seq, scheduled_s, sent_s, first_content_s, end_s, content_chunks, prompt_tokens, \
             completion_tokens, failure FROM perf_requests WHERE run_id = $1 AND point = $2 ORDER BY seq",
        )
        .bind(run_id)
        .bind(point)
        .fetch_all(self.pool())
        .await?)
    }
}
