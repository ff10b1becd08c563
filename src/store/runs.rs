//! Runs: one row per `jury arena` (and later bench/perf) invocation, with live progress.

use super::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }
}

impl Store {
    pub async fn create_run(
        &self,
        kind: &str,
        config: &str,
        config_path: Option<&str>,
        dry_run: bool,
    ) -> Result<i64, StoreError> {
        let id = sqlx::query_scalar::<_, i64>(
            "INSERT INTO runs (kind, config, config_path, status, dry_run) VALUES ($1, $2, $3, 'running', $4) RETURNING id",
        )
        .bind(kind)
        .bind(config)
        .bind(config_path)
        .bind(dry_run)
        .fetch_all(self.writer())
        .await?
        .pop()
        .ok_or(sqlx::Error::RowNotFound)?;
        Ok(id)
    }

    pub async fn set_run_progress(&self, run_id: i64, stage: &str, done: u64, total: u64) -> Result<(), StoreError> {
        sqlx::query("UPDATE runs SET stage = $1, progress_done = $2, progress_total = $3 WHERE id = $4")
            .bind(stage)
            .bind(done as i64)
            .bind(total as i64)
            .bind(run_id)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    pub async fn finish_run(
        &self,
        run_id: i64,
        status: RunStatus,
        summary: Option<&str>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE runs SET status = $1, summary = $2, error = $3, \
             finished_at = (julianday('now') - 2440587.5) * 86400.0 WHERE id = $4",
        )
        .bind(status.as_str())
        .bind(summary)
        .bind(error)
        .bind(run_id)
        .execute(self.writer())
        .await?;
        Ok(())
    }
}
