//! Runs: one row per `jury arena` (and later bench/perf) invocation, with live progress.

use super::{Flag, Store, StoreError};

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
        let id = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
            "INSERT INTO runs (kind, config, config_path, status, dry_run, heartbeat_at) \
             VALUES ($1, $2, $3, 'running', $4, {now}) RETURNING id",
            now = self.dialect().now()
        )))
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

    /// Beats for `run_id` every [`heartbeat_every`] until the returned guard is dropped (when
    /// the run returns or unwinds: a run that died stops beating).
    pub fn keep_alive(&self, run_id: i64) -> tokio_util::task::AbortOnDropHandle<()> {
        let store = self.clone();
        tokio_util::task::AbortOnDropHandle::new(tokio::spawn(async move {
            loop {
                if let Err(e) = store.beat_run(run_id).await {
                    tracing::warn!("cannot record the run's heartbeat: {e}");
                }
                tokio::time::sleep(heartbeat_every()).await;
            }
        }))
    }

    /// The run is alive: its process beats every few seconds while it works.
    pub async fn beat_run(&self, run_id: i64) -> Result<(), StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE runs SET heartbeat_at = {} WHERE id = $1",
            self.dialect().now()
        )))
        .bind(run_id)
        .execute(self.writer())
        .await?;
        Ok(())
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
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE runs SET status = $1, summary = $2, error = $3, finished_at = {now} WHERE id = $4",
            now = self.dialect().now()
        )))
        .bind(status.as_str())
        .bind(summary)
        .bind(error)
        .bind(run_id)
        .execute(self.writer())
        .await?;
        Ok(())
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RunRow {
    pub id: i64,
    pub kind: String,
    pub title: Option<String>,
    pub config: String,
    pub status: String,
    #[sqlx(try_from = "Flag")]
    pub dry_run: bool,
    pub stage: Option<String>,
    pub progress_done: i64,
    pub progress_total: i64,
    pub summary: Option<String>,
    pub error: Option<String>,
    #[sqlx(try_from = "Flag")]
    pub cancel_requested: bool,
    pub work_dir: Option<String>,
    pub created_at: f64,
    pub finished_at: Option<f64>,
    pub heartbeat_at: Option<f64>,
    pub config_path: Option<String>,
}

/// What a load test of a server's own `/v1` needs: that server's worker.
pub const NEEDS_OWN_SERVER: &str = ":own-server";

/// Which queued runs a worker takes.
#[derive(Debug, Clone, Copy)]
pub struct RunFilter<'a> {
    /// The local models it has, by name (`jury worker --models`); `None`: any.
    pub models: Option<&'a [String]>,
    /// Whether it runs beside a `/v1` of its own (a server's worker).
    pub own_server: bool,
}

/// A running run whose last beat is older than this lost its process (its lease ran out) and
/// is taken up again by a live worker: `JURY_RUN_LEASE_SECONDS`, 30 by default.
pub fn run_lease_seconds() -> f64 {
    static LEASE: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *LEASE.get_or_init(|| {
        std::env::var("JURY_RUN_LEASE_SECONDS")
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 1.0)
            .unwrap_or(30.0)
    })
}

/// How often a running run beats: six times a lease, so a slow beat or two never loses it.
pub fn heartbeat_every() -> std::time::Duration {
    std::time::Duration::from_secs_f64(run_lease_seconds() / 6.0)
}

impl RunRow {
    /// Whether this server's worker can pick the run up again (arena runs; evals re-run from
    /// the command line, their answered requests cached).
    pub fn resumable(&self) -> bool {
        self.kind == "arena"
    }

    /// Marked running, but its process stopped beating (killed, or its machine went away).
    pub fn interrupted(&self) -> bool {
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        self.status == "running" && now - self.heartbeat_at.unwrap_or(self.created_at) > run_lease_seconds()
    }

    /// The status as shown: `interrupted` for a running run whose process is gone.
    pub fn shown_status(&self) -> &str {
        if self.interrupted() { "interrupted" } else { &self.status }
    }
}

const RUN_COLUMNS: &str = "id, kind, title, config, status, dry_run, stage, progress_done, progress_total, summary, \
                           error, cancel_requested, work_dir, created_at, finished_at, heartbeat_at, config_path";

impl Store {
    /// Queues a run for the job worker.
    pub async fn enqueue_run(
        &self,
        kind: &str,
        title: &str,
        config: &str,
        dry_run: bool,
        work_dir: &str,
    ) -> Result<i64, StoreError> {
        self.enqueue_run_needing(kind, title, config, dry_run, work_dir, None).await
    }

    /// Queues a run only a worker with `needs` may take: a local model's name, or
    /// [`NEEDS_OWN_SERVER`].
    pub async fn enqueue_run_needing(
        &self,
        kind: &str,
        title: &str,
        config: &str,
        dry_run: bool,
        work_dir: &str,
        needs: Option<&str>,
    ) -> Result<i64, StoreError> {
        self.insert_queued_run(kind, title, config, None, dry_run, work_dir, needs).await
    }

    /// Queues a command-line run for the workers (`jury arena --submit`): they follow the
    /// config text stored with it; relative paths in it resolve against the folder of its file,
    /// `config_path`.
    pub async fn submit_run(
        &self,
        kind: &str,
        title: &str,
        config: &str,
        config_path: &str,
        dry_run: bool,
        work_dir: &str,
    ) -> Result<i64, StoreError> {
        self.insert_queued_run(kind, title, config, Some(config_path), dry_run, work_dir, None).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn insert_queued_run(
        &self,
        kind: &str,
        title: &str,
        config: &str,
        config_path: Option<&str>,
        dry_run: bool,
        work_dir: &str,
        needs: Option<&str>,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar::<_, i64>(
            "INSERT INTO runs (kind, title, config, config_path, status, dry_run, work_dir, needs_model) \
             VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7) RETURNING id",
        )
        .bind(kind)
        .bind(title)
        .bind(config)
        .bind(config_path)
        .bind(dry_run)
        .bind(work_dir)
        .bind(needs)
        .fetch_all(self.writer())
        .await?
        .pop()
        .ok_or(sqlx::Error::RowNotFound)?)
    }

    /// Takes the oldest queued run and marks it running, for a worker that can do any run.
    /// Processes claiming at once take different runs, or none.
    pub async fn claim_next_run(&self) -> Result<Option<RunRow>, StoreError> {
        self.claim_next_run_for(&RunFilter { models: None, own_server: true }).await
    }

    /// The same for a worker that takes only the runs `filter` allows.
    pub async fn claim_next_run_for(&self, filter: &RunFilter<'_>) -> Result<Option<RunRow>, StoreError> {
        let mut conditions = vec!["status = 'queued'".to_string()];
        if !filter.own_server {
            conditions.push(format!("COALESCE(needs_model, '') <> '{NEEDS_OWN_SERVER}'"));
        }
        let models = filter.models.unwrap_or_default();
        if filter.models.is_some() {
            let list: Vec<String> = (1..=models.len()).map(|i| format!("${i}")).collect();
            let mut allowed = format!("needs_model IS NULL OR needs_model = '{NEEDS_OWN_SERVER}'");
            if !list.is_empty() {
                allowed += &format!(" OR needs_model IN ({})", list.join(", "));
            }
            conditions.push(format!("({allowed})"));
        }
        let sql = format!(
            "UPDATE runs SET status = 'running', heartbeat_at = {now} \
             WHERE status = 'queued' \
               AND id = (SELECT id FROM runs WHERE {} ORDER BY id LIMIT 1{skip_locked}) \
             RETURNING {RUN_COLUMNS}",
            conditions.join(" AND "),
            now = self.dialect().now(),
            skip_locked = self.dialect().skip_locked(),
        );
        let mut query = sqlx::query_as::<_, RunRow>(sqlx::AssertSqlSafe(sql));
        for model in models {
            query = query.bind(model.as_str());
        }
        Ok(query.fetch_all(self.writer()).await?.pop())
    }

    /// Queued runs whose worker stopped beating (its process was killed, or its machine went
    /// away) go back to the queue; their finished work is stored, so they resume rather than
    /// restart. A run another live process is doing keeps beating and is left alone.
    pub async fn requeue_interrupted_runs(&self) -> Result<u64, StoreError> {
        Ok(sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE runs SET status = 'queued' WHERE status = 'running' AND work_dir IS NOT NULL \
             AND COALESCE(heartbeat_at, created_at) < {now} - $1",
            now = self.dialect().now()
        )))
        .bind(run_lease_seconds())
        .execute(self.writer())
        .await?
        .rows_affected())
    }

    pub async fn run(&self, id: i64) -> Result<Option<RunRow>, StoreError> {
        Ok(sqlx::query_as::<_, RunRow>(sqlx::AssertSqlSafe(format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1")))
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// The run `id` when it is of `kind` (an eval's page must not show an arena round).
    pub async fn run_of_kind(&self, id: i64, kind: &str) -> Result<Option<RunRow>, StoreError> {
        Ok(sqlx::query_as::<_, RunRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE id = $1 AND kind = $2"
        )))
        .bind(id)
        .bind(kind)
        .fetch_optional(self.pool())
        .await?)
    }

    pub async fn list_runs_of_kind(&self, kind: &str, limit: i64) -> Result<Vec<RunRow>, StoreError> {
        Ok(sqlx::query_as::<_, RunRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE kind = $1 ORDER BY id DESC LIMIT $2"
        )))
        .bind(kind)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn list_runs(&self, limit: i64) -> Result<Vec<RunRow>, StoreError> {
        Ok(sqlx::query_as::<_, RunRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM runs ORDER BY id DESC LIMIT $1"
        )))
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// Asks a run to stop: a queued run is cancelled at once, a running one at its next step.
    pub async fn request_cancel(&self, id: i64) -> Result<bool, StoreError> {
        let changed = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE runs SET cancel_requested = TRUE, \
               status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END, \
               finished_at = CASE WHEN status = 'queued' THEN {now} ELSE finished_at END \
             WHERE id = $1 AND status IN ('queued', 'running')",
            now = self.dialect().now()
        )))
        .bind(id)
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(changed > 0)
    }

    pub async fn cancel_requested(&self, id: i64) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar::<_, Flag>("SELECT cancel_requested FROM runs WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .is_some_and(bool::from))
    }
}

impl Store {
    /// Gives up on an interrupted run: it stays as it was left, marked cancelled.
    pub async fn dismiss_run(&self, id: i64) -> Result<bool, StoreError> {
        let changed = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE runs SET status = 'cancelled', error = 'interrupted: its process stopped and the run was dismissed', \
             finished_at = {now} WHERE id = $1 AND status = 'running'",
            now = self.dialect().now()
        )))
        .bind(id)
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(changed > 0)
    }

    /// Queues an interrupted run for this server's worker, which resumes it (every answer and
    /// judgment it stored is reused).
    pub async fn resume_run(&self, id: i64) -> Result<bool, StoreError> {
        let changed = sqlx::query(
            "UPDATE runs SET status = 'queued', error = NULL, finished_at = NULL, cancel_requested = FALSE \
             WHERE id = $1 AND status = 'running'",
        )
        .bind(id)
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(changed > 0)
    }

    /// Puts a run interrupted by a shutdown back in the queue.
    pub async fn requeue_run(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE runs SET status = 'queued', error = NULL, finished_at = NULL WHERE id = $1")
            .bind(id)
            .execute(self.writer())
            .await?;
        Ok(())
    }
}
