//! Persistence through sqlx; the only module that writes SQL. SQLite (WAL) is the embedded
//! default. Queries are built at run time with `$1` placeholders, so no database is needed
//! at build time.
//!
//! `INSERT … RETURNING` statements are always read with `fetch_all`: stepping one only to
//! its first row (`fetch_one`) leaves SQLite's write transaction open, and every other
//! writer then waits for the busy timeout.

mod answers;
mod battles;
mod evals;
mod imports;
mod judgments;
mod models;
mod perf;
mod questions;
mod revisions;
mod runs;
mod votes;

use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub use answers::{AnswerImport, ExportedAnswer, ImportedIds, StoredAnswer};
pub use battles::{
    BattleDetail, BattleGroup, BattleScope, BattleSummary, ExportedBattle, NewBattle, StoredBattle, StoredStyleBattle,
};
pub use evals::{CachedLogLikelihood, NewSample, StoredSample};
pub use imports::{ImportCatalog, ImportedBattle};
pub use judgments::{JudgmentRow, NewJudgment};
pub use perf::PerfRequestRow;
pub use questions::{QuestionSetSummary, StoredQuestion};
pub use revisions::Revisions;
pub use runs::{RunRow, RunStatus};
pub use votes::{AnsweredPair, VoteBattle, VoteOutcome};

/// The database used when neither `--db` nor `JURY_DATABASE_URL` names one.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://jury.db";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL \"{0}\": use sqlite://PATH (for example sqlite://jury.db)")]
    UnsupportedUrl(String),
    #[error("no database at {0}: check the path (jury arena and jury serve create one)")]
    Missing(String),
}

/// The database. SQLite allows one writer at a time and makes a second one sleep in its busy
/// handler (1 ms, 2 ms, … up to 100 ms), so writes go through a pool of one connection and
/// queue in-process instead; reads use a pool of their own (WAL lets them run alongside).
#[derive(Clone, Debug)]
pub struct Store {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl Store {
    /// Opens (creating if needed) the database at `url` and applies the migrations.
    /// Opens a database that must exist already (for commands that only read it).
    pub async fn connect_existing(url: &str) -> Result<Store, StoreError> {
        let options = SqliteConnectOptions::from_str(url).map_err(|_| StoreError::UnsupportedUrl(url.to_string()))?;
        let file = options.get_filename();
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        if !in_memory && !file.is_file() {
            return Err(StoreError::Missing(file.display().to_string()));
        }
        Store::connect(url).await
    }

    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        if !url.starts_with("sqlite:") {
            return Err(StoreError::UnsupportedUrl(url.to_string()));
        }
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|_| StoreError::UnsupportedUrl(url.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // Another process (a second `jury`) may hold the write lock for a while.
            .busy_timeout(Duration::from_secs(30));
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let pool = |max: u32| {
            SqlitePoolOptions::new()
                .max_connections(max)
                // An in-memory database lives and dies with its one connection.
                .min_connections(if in_memory { 1 } else { 0 })
                .idle_timeout(if in_memory { None } else { Some(Duration::from_secs(600)) })
                .max_lifetime(if in_memory { None } else { Some(Duration::from_secs(1800)) })
        };
        let writer = pool(1).connect_with(options.clone()).await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let reader = if in_memory { writer.clone() } else { pool(4).connect_with(options).await? };
        Ok(Store { writer, reader })
    }

    /// The pool for reads.
    pub fn pool(&self) -> &SqlitePool {
        &self.reader
    }

    /// The pool for writes (and for reads that must see this process's latest write).
    pub(crate) fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}
