//! `jury worker`: a process that does queued runs from a shared database, beside others like it
//! on other machines and the servers' own workers.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::jobs::share::{Sharing, worker_name};
use crate::llm::ModelPool;
use crate::store::{DEFAULT_DATABASE_URL, Store, redact};

#[derive(Debug, clap::Args)]
#[command(
    about = "Do queued runs from a shared database (arena rounds, evals, load tests)",
    long_about = "Takes queued runs from the database and does them: runs started from the pages of \
        any `jury serve` on the database, and runs queued with `jury arena --submit`. Each run is \
        claimed by exactly one worker (on PostgreSQL with FOR UPDATE SKIP LOCKED; workers are told \
        of new work at once through LISTEN/NOTIFY), which cuts its stages into units (20 questions \
        of one candidate, 100 review tasks of one judge, 50 documents of an eval's task) that every worker with nothing of its own \
        to do helps with, so more workers finish one run sooner. Runs and units beat while they \
        are worked on; when a worker dies (killed, or its machine gone) the beats stop, and once \
        the lease has run out (JURY_RUN_LEASE_SECONDS, 30 by default) another worker takes the \
        work up again, reusing every answer and judgment already stored.\n\n\
        Runs name their files by path and their endpoints and key variables by name: these resolve \
        on the worker, so workers share the folders runs are queued from (the servers' --data-dir, \
        the submitted configs' folders) and hold the keys the runs' judges need. Work needing a \
        local model goes to workers that have it (--models).\n\n\
        Ctrl-C or SIGTERM stops it: the work in progress stores what it has and goes back to the queue.",
    after_help = "Examples:\n  jury worker --db postgres://jury@db.internal/jury --concurrency 16\n  \
        jury worker --db postgres://jury@db.internal/jury --models SmolLM2-135M-Instruct.Q4_1.gguf=/models/smol.gguf"
)]
pub struct WorkerArgs {
    /// Database URL: sqlite://PATH, or postgres://USER:PASSWORD@HOST:PORT/DATABASE
    #[arg(long, env = "JURY_DATABASE_URL", default_value = DEFAULT_DATABASE_URL, value_name = "URL")]
    db: String,

    /// Requests in flight at once in a run, for answers and for the judge
    #[arg(long, default_value_t = 8, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    concurrency: u32,

    /// A local model this worker has: NAME is the file name runs' configs give it (for example
    /// SmolLM2-135M-Instruct.Q4_1.gguf), PATH where it is here. Repeatable. With any given,
    /// the worker takes only work that needs no local model or one of these; without, it takes
    /// all work and reads model files at the paths the configs give.
    #[arg(long = "models", value_name = "NAME=PATH", value_parser = super::serve::parse_served_model, num_args = 1..)]
    models: Vec<(String, std::path::PathBuf)>,
}

pub async fn run(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let mut places = BTreeMap::new();
    for (name, path) in &args.models {
        if !path.is_file() {
            eprintln!("error: --models {name}={}: no such file", path.display());
            return Ok(ExitCode::from(2));
        }
        places.insert(name.clone(), crate::config::normalize(&std::path::absolute(path)?));
    }
    let models = (!places.is_empty()).then(|| places.keys().cloned().collect::<Vec<_>>());
    crate::spec::set_local_model_places(places);
    let store = Store::connect(&args.db).await.with_context(|| format!("cannot open the database {}", args.db))?;
    let shutdown = CancellationToken::new();
    let pool = Arc::new(ModelPool::new());
    let sharing = Sharing { worker: worker_name(), models };
    tracing::info!(worker = %sharing.worker, models = ?sharing.models, "worker ready on {}", redact(&args.db));
    let (_jobs, worker) =
        crate::jobs::spawn_worker(store.clone(), shutdown.clone(), args.concurrency as usize, pool, None, sharing);
    crate::web::shutdown_signal().await;
    tracing::info!("stopping: letting the current run store its work");
    shutdown.cancel();
    let _ = worker.await;
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
