//! Units of work: a run's stage split into chunks that any worker on the database may claim
//! (`run_units`). A unit is held under the same lease as a run: its worker beats while it works,
//! and a unit whose beats stopped is claimed again by another worker.

use super::runs::{heartbeat_every, run_lease_seconds};
use super::{Store, StoreError};

/// A stage's unit before it is stored: which items, how many, and the local model it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUnit {
    pub spec: String,
    pub size: u64,
    pub needs_model: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UnitRow {
    pub id: i64,
    pub run_id: i64,
    pub stage: String,
    pub chunk: i64,
    pub spec: String,
    pub size: i64,
    pub needs_model: Option<String>,
    pub attempts: i64,
}

/// Which units a worker may take.
#[derive(Debug, Clone, Default)]
pub struct UnitFilter<'a> {
    /// Only this run's units (a run's own worker, sharing out its stage).
    pub run_id: Option<i64>,
    /// The local models the worker has, by file name; `None`: any (it opens the files at the
    /// paths the configs give).
    pub models: Option<&'a [String]>,
}

/// A stage's progress across workers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageProgress {
    pub units: u64,
    pub units_done: u64,
    pub items: u64,
    pub items_done: u64,
}

impl StageProgress {
    pub fn finished(&self) -> bool {
        self.units_done == self.units
    }
}

const UNIT_COLUMNS: &str = "id, run_id, stage, chunk, spec, size, needs_model, attempts";

impl Store {
    /// Records a stage's units unless they are already there (a run taken up again after its
    /// worker died finds its stage half done, and keeps what was done).
    pub async fn ensure_units(&self, run_id: i64, stage: &str, units: &[NewUnit]) -> Result<(), StoreError> {
        let mut tx = self.writer().begin().await?;
        for (chunk, unit) in units.iter().enumerate() {
            sqlx::query(
                "INSERT INTO run_units (run_id, stage, chunk, spec, size, needs_model) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (run_id, stage, chunk) DO NOTHING",
            )
            .bind(run_id)
            .bind(stage)
            .bind(chunk as i64)
            .bind(&unit.spec)
            .bind(unit.size as i64)
            .bind(unit.needs_model.as_deref())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Takes the first unit that waits (or whose worker stopped beating) of a running run,
    /// for `worker`. Workers claiming at once take different units, or none.
    pub async fn claim_unit(&self, worker: &str, filter: &UnitFilter<'_>) -> Result<Option<UnitRow>, StoreError> {
        let now = self.dialect().now();
        // $1 worker, $2 lease; then the run and the models, numbered in order.
        let mut conditions = vec![format!(
            "(u.status = 'queued' OR (u.status = 'running' AND COALESCE(u.heartbeat_at, 0) < {now} - $2))"
        )];
        conditions.push("u.run_id IN (SELECT id FROM runs WHERE status = 'running')".into());
        let mut next = 3;
        if filter.run_id.is_some() {
            conditions.push(format!("u.run_id = ${next}"));
            next += 1;
        }
        if let Some(models) = filter.models {
            let list: Vec<String> = (0..models.len()).map(|i| format!("${}", next + i)).collect();
            conditions.push(if list.is_empty() {
                "u.needs_model IS NULL".into()
            } else {
                format!("(u.needs_model IS NULL OR u.needs_model IN ({}))", list.join(", "))
            });
        }
        let sql = format!(
            "UPDATE run_units SET status = 'running', worker = $1, heartbeat_at = {now}, attempts = attempts + 1 \
             WHERE id = (SELECT u.id FROM run_units u WHERE {} ORDER BY u.id LIMIT 1{}) \
             RETURNING {UNIT_COLUMNS}",
            conditions.join(" AND "),
            self.dialect().skip_locked(),
        );
        let mut query = sqlx::query_as::<_, UnitRow>(sqlx::AssertSqlSafe(sql)).bind(worker).bind(run_lease_seconds());
        if let Some(run_id) = filter.run_id {
            query = query.bind(run_id);
        }
        for model in filter.models.unwrap_or_default() {
            query = query.bind(model.as_str());
        }
        Ok(query.fetch_all(self.writer()).await?.pop())
    }

    /// Beats for the unit while the returned guard lives (as [`Store::keep_alive`] for runs).
    /// Only this claim of it beats: once another worker has claimed it again (this one's beats
    /// were late past the lease), these change nothing.
    pub fn keep_unit_alive(&self, unit: &UnitRow) -> tokio_util::task::AbortOnDropHandle<()> {
        let (store, id, attempt) = (self.clone(), unit.id, unit.attempts);
        tokio_util::task::AbortOnDropHandle::new(tokio::spawn(async move {
            loop {
                let beat = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE run_units SET heartbeat_at = {} WHERE id = $1 AND attempts = $2 AND status = 'running'",
                    store.dialect().now()
                )))
                .bind(id)
                .bind(attempt)
                .execute(store.writer())
                .await;
                if let Err(e) = beat {
                    tracing::warn!("cannot record the unit's heartbeat: {e}");
                }
                tokio::time::sleep(heartbeat_every()).await;
            }
        }))
    }

    /// The unit is done: its items are stored (or, with `error`, some failed; the run's own
    /// pass over the stage asks for those again). `outcome` is its stage summary, as JSON.
    /// A claim another worker has taken over changes nothing: that worker finishes the unit.
    pub async fn finish_unit(
        &self,
        unit: &UnitRow,
        error: Option<&str>,
        outcome: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE run_units SET status = 'done', error = $1, outcome = $2 \
             WHERE id = $3 AND attempts = $4 AND status = 'running'",
        )
        .bind(error)
        .bind(outcome)
        .bind(unit.id)
        .bind(unit.attempts)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Gives a unit back to the queue (its worker is stopping); the work it stored stays.
    pub async fn release_unit(&self, unit: &UnitRow) -> Result<(), StoreError> {
        sqlx::query("UPDATE run_units SET status = 'queued' WHERE id = $1 AND attempts = $2 AND status = 'running'")
            .bind(unit.id)
            .bind(unit.attempts)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    pub async fn stage_progress(&self, run_id: i64, stage: &str) -> Result<StageProgress, StoreError> {
        let (units, units_done, items, items_done) = sqlx::query_as::<_, (i64, i64, i64, i64)>(
            // PostgreSQL sums BIGINTs into NUMERIC: cast them back.
            "SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN status = 'done' THEN 1 ELSE 0 END), 0) AS BIGINT), \
               CAST(COALESCE(SUM(size), 0) AS BIGINT), \
               CAST(COALESCE(SUM(CASE WHEN status = 'done' THEN size ELSE 0 END), 0) AS BIGINT) \
             FROM run_units WHERE run_id = $1 AND stage = $2",
        )
        .bind(run_id)
        .bind(stage)
        .fetch_one(self.pool())
        .await?;
        Ok(StageProgress {
            units: units as u64,
            units_done: units_done as u64,
            items: items as u64,
            items_done: items_done as u64,
        })
    }

    /// The stage summaries (JSON) of a stage's finished units.
    pub async fn unit_outcomes(&self, run_id: i64, stage: &str) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar::<_, String>(
            "SELECT outcome FROM run_units WHERE run_id = $1 AND stage = $2 AND outcome IS NOT NULL ORDER BY id",
        )
        .bind(run_id)
        .bind(stage)
        .fetch_all(self.pool())
        .await?)
    }

    /// The workers that did a run's units, each with the units it finished.
    pub async fn unit_workers(&self, run_id: i64) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(sqlx::query_as::<_, (String, i64)>(
            "SELECT worker, COUNT(*) FROM run_units WHERE run_id = $1 AND status = 'done' AND worker IS NOT NULL \
             GROUP BY worker ORDER BY worker",
        )
        .bind(run_id)
        .fetch_all(self.pool())
        .await?)
    }
}
