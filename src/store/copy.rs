//! Copying a whole database to another, of either dialect (`jury db copy`): SQLite to
//! PostgreSQL when a team outgrows one machine, or back. Rows keep their ids, so every
//! reference between them holds; the copy is checked by counting each table on both sides.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Flag, OptionalReal, Store, StoreError};

/// How a column's values are carried over.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Int,
    Real,
    Text,
    /// `INTEGER` 0/1 in SQLite, `BOOLEAN` in PostgreSQL.
    Flag,
}

use Kind::{Flag as F, Int as I, Real as R, Text as T};

/// Every table, parents before children, with every column. A migration that adds a table or
/// a column adds it here too (the copy test compares this list with the database). Not copied:
/// `server_keys`, each database's own signing key (sessions do not move with the data).
const TABLES: &[(&str, &[(&str, Kind)])] = &[
    (
        "runs",
        &[
            ("id", I),
            ("kind", T),
            ("config", T),
            ("config_path", T),
            ("status", T),
            ("dry_run", F),
            ("stage", T),
            ("progress_done", I),
            ("progress_total", I),
            ("summary", T),
            ("error", T),
            ("created_at", R),
            ("finished_at", R),
            ("cancel_requested", F),
            ("work_dir", T),
            ("title", T),
            ("heartbeat_at", R),
            ("needs_model", T),
        ],
    ),
    ("question_sets", &[("id", I), ("name", T), ("source", T), ("created_at", R)]),
    (
        "questions",
        &[
            ("id", I),
            ("question_set_id", I),
            ("external_id", T),
            ("category", T),
            ("turns", T),
            ("reference_answer", T),
            ("language", T),
        ],
    ),
    ("models", &[("id", I), ("name", T), ("backend", T), ("settings", T), ("created_at", R)]),
    (
        "answers",
        &[
            ("id", I),
            ("question_id", I),
            ("model_id", I),
            ("settings_hash", T),
            ("text", T),
            ("prompt_tokens", I),
            ("completion_tokens", I),
            ("latency_ms", I),
            ("created_at", R),
        ],
    ),
    (
        "judgments",
        &[
            ("id", I),
            ("cache_key", T),
            ("judge_model", T),
            ("template", T),
            ("question_id", I),
            ("answer_a_id", I),
            ("answer_b_id", I),
            ("raw_text", T),
            ("verdict", T),
            ("score_a", R),
            ("score_b", R),
            ("weight", R),
            ("attempts", I),
            ("complete", F),
            ("dry_run", F),
            ("prompt_tokens", I),
            ("completion_tokens", I),
            ("run_id", I),
            ("created_at", R),
        ],
    ),
    (
        "battles",
        &[
            ("id", I),
            ("question_id", I),
            ("answer_a_id", I),
            ("answer_b_id", I),
            ("model_a_id", I),
            ("model_b_id", I),
            ("winner", T),
            ("source", T),
            ("judge_model", T),
            ("weight", R),
            ("dry_run", F),
            ("judgment_1_id", I),
            ("judgment_2_id", I),
            ("run_id", I),
            ("created_at", R),
            ("import_key", T),
        ],
    ),
    ("votes", &[("id", I), ("battle_id", I), ("voter", T), ("winner", T), ("created_at", R)]),
    (
        "run_units",
        &[
            ("id", I),
            ("run_id", I),
            ("stage", T),
            ("chunk", I),
            ("spec", T),
            ("size", I),
            ("needs_model", T),
            ("status", T),
            ("worker", T),
            ("attempts", I),
            ("heartbeat_at", R),
            ("error", T),
            ("outcome", T),
        ],
    ),
    (
        "eval_requests",
        &[
            ("id", I),
            ("model_key", T),
            ("request_key", T),
            ("kind", T),
            ("context", T),
            ("continuation", T),
            ("logprob", R),
            ("greedy", F),
            ("tokens", I),
            ("output", T),
            ("created_at", R),
        ],
    ),
    ("eval_samples", &[("id", I), ("run_id", I), ("task", T), ("doc_id", I), ("correct", F), ("sample", T)]),
    (
        "perf_requests",
        &[
            ("id", I),
            ("run_id", I),
            ("point", I),
            ("seq", I),
            ("scheduled_s", R),
            ("sent_s", R),
            ("first_content_s", R),
            ("end_s", R),
            ("content_chunks", I),
            ("chunks", I),
            ("prompt_tokens", I),
            ("completion_tokens", I),
            ("failure", T),
            ("content_at", T),
        ],
    ),
];

/// Rows read and written at a time: few enough that one INSERT stays under both dialects'
/// limits on bound values (at most 19 columns here).
const BATCH: usize = 500;

/// One table's rows on each side after a copy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableCount {
    pub table: &'static str,
    pub source: i64,
    pub target: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the target database already holds data ({0} has rows): copy into an empty database")]
    TargetNotEmpty(&'static str),
}

impl From<sqlx::Error> for CopyError {
    fn from(e: sqlx::Error) -> Self {
        CopyError::Store(e.into())
    }
}

/// The tables a copy carries, in order.
pub fn tables() -> impl Iterator<Item = &'static str> {
    TABLES.iter().map(|(name, _)| *name)
}

impl Store {
    /// The latest migration applied to this database.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar::<_, i64>("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_one(self.pool())
            .await?)
    }

    /// How many rows `table` holds (one of [`tables`]).
    pub async fn count_rows(&self, table: &str) -> Result<i64, StoreError> {
        assert!(tables().any(|t| t == table), "not a table of jury's: {table}");
        Ok(sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(self.pool())
            .await?)
    }

    /// Copies every row of `self` into `target`, which must be empty (both were brought to
    /// this version's schema when they were opened), calling `progress` with
    /// each table's name and the rows copied so far; returns both sides' counts per table.
    pub async fn copy_to(
        &self,
        target: &Store,
        mut progress: impl FnMut(&str, i64, i64),
    ) -> Result<Vec<TableCount>, CopyError> {
        for table in tables() {
            if target.count_rows(table).await? > 0 {
                return Err(CopyError::TargetNotEmpty(table));
            }
        }
        for &(table, columns) in TABLES {
            let total = self.count_rows(table).await?;
            let names: Vec<&str> = columns.iter().map(|c| c.0).collect();
            let select = format!("SELECT {} FROM {table} WHERE id > $1 ORDER BY id LIMIT {BATCH}", names.join(", "));
            let (mut last_id, mut copied) = (0i64, 0i64);
            progress(table, 0, total);
            loop {
                let rows =
                    sqlx::query(sqlx::AssertSqlSafe(select.clone())).bind(last_id).fetch_all(self.pool()).await?;
                let Some(last) = rows.last() else { break };
                last_id = last.try_get("id")?;
                target.insert_rows(table, columns, &rows).await?;
                copied += rows.len() as i64;
                progress(table, copied, total);
            }
            target.after_explicit_ids(table).await?;
        }
        let mut counts = Vec::new();
        for table in tables() {
            counts.push(TableCount {
                table,
                source: self.count_rows(table).await?,
                target: target.count_rows(table).await?,
            });
        }
        Ok(counts)
    }

    async fn insert_rows(&self, table: &str, columns: &[(&str, Kind)], rows: &[AnyRow]) -> Result<(), CopyError> {
        let names: Vec<&str> = columns.iter().map(|c| c.0).collect();
        let width = columns.len();
        let values: Vec<String> = (0..rows.len())
            .map(|r| {
                let slots: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
                format!("({})", slots.join(", "))
            })
            .collect();
        let sql = format!("INSERT INTO {table} ({}) VALUES {}", names.join(", "), values.join(", "));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for row in rows {
            for (i, &(_, kind)) in columns.iter().enumerate() {
                query = match kind {
                    Kind::Int => query.bind(row.try_get::<Option<i64>, _>(i)?),
                    Kind::Real => query.bind(OptionalReal(row.try_get::<Option<f64>, _>(i)?)),
                    Kind::Text => query.bind(row.try_get::<Option<String>, _>(i)?),
                    Kind::Flag => query.bind(row.try_get::<Option<Flag>, _>(i)?.map(bool::from)),
                };
            }
        }
        let mut tx = self.writer().begin().await?;
        query.execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// After rows were inserted with their ids, new rows must still get new ids.
    async fn after_explicit_ids(&self, table: &str) -> Result<(), StoreError> {
        if let Some(sql) = self.dialect().continue_ids_after(table) {
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(self.writer()).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_column_of_every_table_is_copied() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        let mut in_database: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name NOT IN ('_sqlx_migrations', 'revisions', 'server_keys')",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        in_database.sort();
        let mut listed: Vec<String> = tables().map(String::from).collect();
        listed.sort();
        assert_eq!(listed, in_database);
        for &(table, columns) in TABLES {
            let mut in_table: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info($1)")
                .bind(table)
                .fetch_all(store.pool())
                .await
                .unwrap();
            in_table.sort();
            let mut listed: Vec<String> = columns.iter().map(|c| c.0.to_string()).collect();
            listed.sort();
            assert_eq!(listed, in_table, "{table}");
        }
    }
}
