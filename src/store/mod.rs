//! Persistence through sqlx; the only module that writes SQL. SQLite (WAL) is the embedded
//! default and PostgreSQL serves teams on many machines; both go through sqlx's `Any`
//! driver, so every query is written once (`$1` placeholders, built at run time, no database
//! needed at build time), and the few fragments that differ live in [`dialect`].
//!
//! `INSERT … RETURNING` statements are always read with `fetch_all`: stepping one only to
//! its first row (`fetch_one`) leaves SQLite's write transaction open, and every other
//! writer then waits for the busy timeout.

mod answers;
mod battles;
pub mod copy;
mod dialect;
mod evals;
mod imports;
mod judgments;
mod models;
mod notifications;
mod perf;
mod questions;
mod revisions;
mod runs;
mod server_keys;
mod units;
mod votes;

use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::MigrateDatabase;
use sqlx::{Any, AnyPool, ConnectOptions, Executor};

pub use answers::{AnswerImport, ExportedAnswer, ImportedIds, StoredAnswer};
pub use battles::{
    BattleDetail, BattleGroup, BattleScope, BattleSummary, ExportedBattle, NewBattle, StoredBattle, StoredStyleBattle,
};
pub use dialect::{Dialect, Flag, OptionalReal};
pub use evals::{CachedLogLikelihood, NewSample, StoredSample};
pub use imports::{ImportCatalog, ImportedBattle};
pub use judgments::{JudgmentRow, NewJudgment};
pub use perf::PerfRequestRow;
pub use questions::{QuestionSetSummary, StoredQuestion};
pub use revisions::Revisions;
pub use runs::{NEEDS_OWN_SERVER, RunFilter, RunRow, RunStatus};
pub use units::{NewUnit, StageProgress, UnitFilter, UnitRow};
pub use votes::{AnsweredPair, VoteBattle, VoteOutcome};

/// The database used when neither `--db` nor `JURY_DATABASE_URL` names one.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://jury.db";

/// The largest pool a PostgreSQL database is given per process, unless `JURY_DB_POOL_SIZE`
/// says otherwise.
const POSTGRES_POOL_SIZE: u32 = 16;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(
        "unsupported database URL \"{0}\": use sqlite://PATH (for example sqlite://jury.db) or \
         postgres://USER:PASSWORD@HOST:PORT/DATABASE"
    )]
    UnsupportedUrl(String),
    #[error("no database at {0}: check the path (jury arena and jury serve create one)")]
    Missing(String),
}

/// The database. SQLite allows one writer at a time and makes a second one sleep in its busy
/// handler (1 ms, 2 ms, … up to 100 ms), so there writes go through a pool of one connection
/// and queue in-process instead, while reads use a pool of their own (WAL lets them run
/// alongside). PostgreSQL takes concurrent writers: one pool serves both.
#[derive(Clone, Debug)]
pub struct Store {
    writer: AnyPool,
    reader: AnyPool,
    dialect: Dialect,
    url: std::sync::Arc<str>,
}

impl Store {
    /// Opens a database that must exist already (for commands that only read it).
    pub async fn connect_existing(url: &str) -> Result<Store, StoreError> {
        match Dialect::of_url(url) {
            Some(Dialect::Sqlite) if !is_in_memory(url) => {
                let file = sqlite_file(url);
                if !std::path::Path::new(&file).is_file() {
                    return Err(StoreError::Missing(file));
                }
            }
            Some(Dialect::Postgres) => {
                sqlx::any::install_default_drivers();
                if !Any::database_exists(url).await? {
                    return Err(StoreError::Missing(redact(url)));
                }
            }
            _ => {}
        }
        Store::connect(url).await
    }

    /// Opens (creating if needed) the database at `url` and applies the migrations.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::of_url(url).ok_or_else(|| StoreError::UnsupportedUrl(url.to_string()))?;
        let options: AnyConnectOptions = url.parse().map_err(|_| StoreError::UnsupportedUrl(url.to_string()))?;
        let options = options.log_statements(tracing::log::LevelFilter::Debug);
        match dialect {
            Dialect::Sqlite => Store::connect_sqlite(url, options).await,
            Dialect::Postgres => Store::connect_postgres(url, options).await,
        }
    }

    async fn connect_sqlite(url: &str, options: AnyConnectOptions) -> Result<Store, StoreError> {
        let in_memory = is_in_memory(url);
        if !in_memory && !Any::database_exists(url).await? {
            Any::create_database(url).await?;
        }
        let pool = |max: u32| {
            AnyPoolOptions::new()
                .max_connections(max)
                // An in-memory database lives and dies with its one connection.
                .min_connections(if in_memory { 1 } else { 0 })
                .idle_timeout(if in_memory { None } else { Some(Duration::from_secs(600)) })
                .max_lifetime(if in_memory { None } else { Some(Duration::from_secs(1800)) })
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        // Another process (a second `jury`) may hold the write lock for a while:
                        // the wait is set first, since switching to WAL needs that lock too (set
                        // last, a worker migrating a new database made `--submit` fail at once
                        // with "database is locked").
                        conn.execute(
                            "PRAGMA busy_timeout = 30000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON;",
                        )
                        .await?;
                        Ok(())
                    })
                })
        };
        let writer = pool(1).connect_with(options.clone()).await?;
        // Two processes opening a new database at once (a worker and `--submit`) both apply the
        // first migration: the one that read the list of applied migrations before the other
        // committed fails on the other's tables (its own transaction rolled back). Read again.
        let mut tries = 0;
        loop {
            match sqlx::migrate!("./migrations/sqlite").run(&writer).await {
                Ok(()) => break,
                Err(sqlx::migrate::MigrateError::ExecuteMigration(..)) if tries < 5 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100 * tries)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let reader = if in_memory { writer.clone() } else { pool(4).connect_with(options).await? };
        Ok(Store { writer, reader, dialect: Dialect::Sqlite, url: url.into() })
    }

    async fn connect_postgres(url: &str, options: AnyConnectOptions) -> Result<Store, StoreError> {
        if !Any::database_exists(url).await? {
            // Two processes may create it at once: the loser finds it there.
            if let Err(e) = Any::create_database(url).await
                && !Any::database_exists(url).await?
            {
                return Err(e.into());
            }
        }
        let size = std::env::var("JURY_DB_POOL_SIZE").ok().and_then(|s| s.parse().ok()).unwrap_or(POSTGRES_POOL_SIZE);
        let pool = AnyPoolOptions::new()
            .max_connections(size.max(1))
            .idle_timeout(Some(Duration::from_secs(600)))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Store { writer: pool.clone(), reader: pool, dialect: Dialect::Postgres, url: url.into() })
    }

    /// The pool for reads.
    pub fn pool(&self) -> &AnyPool {
        &self.reader
    }

    /// The pool for writes (and for reads that must see this process's latest write).
    pub(crate) fn writer(&self) -> &AnyPool {
        &self.writer
    }

    /// Which SQL the database speaks.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// The file a `sqlite:` URL names.
fn sqlite_file(url: &str) -> String {
    let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
    path.split('?').next().unwrap_or(path).to_string()
}

/// A database URL as it may be shown: without its password.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}
