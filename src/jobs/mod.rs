//! Background runs: arena rounds started from the web are queued in the `runs` table and run
//! here one at a time. They keep going when the page is closed, can be cancelled, and after a
//! restart resume where they stopped (every answer and judgment is already stored). Several
//! servers on one database share the queue: each run is claimed by one of them, and its
//! stages may be shared out among all of them (`share`).

pub mod share;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::arena::part::Part;
use crate::arena::{ArenaError, ArenaOptions, run_arena, run_unit};
use crate::config::load_arena_config;
use crate::eval::job::{EvalTarget, QueuedEval, run_queued};
use crate::eval::{EvalError, EvalOptions};
use crate::llm::ModelPool;
use crate::perf::job::{OwnServer, PerfJobError, QueuedPerf};
use crate::store::{RunFilter, RunRow, RunStatus, Store, UnitRow};
use share::Sharing;

/// The config file every queued run keeps in its work folder.
pub const RUN_CONFIG_FILE: &str = "config.yaml";

/// How often an idle worker looks at the queue (and for runs whose process died).
const POLL: Duration = Duration::from_secs(2);
/// The same where the database tells workers of queued runs (PostgreSQL).
const POLL_WHEN_TOLD: Duration = Duration::from_secs(15);

/// Wakes the worker when a run is queued; stops it on shutdown.
#[derive(Clone)]
pub struct Jobs {
    wake: Arc<Notify>,
}

impl Jobs {
    /// For a server that runs no jobs (`jury serve --models-only`): queuing wakes nobody.
    pub fn none() -> Jobs {
        Jobs { wake: Arc::new(Notify::new()) }
    }

    /// A run was queued: look now rather than at the next poll.
    pub fn notify(&self) {
        self.wake.notify_one();
    }
}

/// Starts the worker. It stops taking runs when `shutdown` is cancelled; a run in progress is
/// stopped between steps and put back in the queue.
///
/// Every run shares `pool`, so a local model is loaded once per process, not once per run;
/// load tests of the server's own models reach them through `own`. With no run to start, the
/// worker helps with the units of other workers' runs that `sharing` allows.
pub fn spawn_worker(
    store: Store,
    shutdown: CancellationToken,
    concurrency: usize,
    pool: Arc<ModelPool>,
    own: Option<OwnServer>,
    sharing: Sharing,
) -> (Jobs, JoinHandle<()>) {
    let wake = Arc::new(Notify::new());
    let jobs = Jobs { wake: wake.clone() };
    // Told when another process queues a run, the worker polls only as a fallback.
    let told = store.wake_on_queued_runs(wake.clone(), shutdown.clone());
    let poll = if told { POLL_WHEN_TOLD } else { POLL };
    let handle = tokio::spawn(async move {
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            // Runs of a process that died (this server's last life, or another server on the
            // same database) are picked up once their heartbeat is stale.
            match store.requeue_interrupted_runs().await {
                Ok(n) if n > 0 => tracing::info!(runs = n, "resuming runs whose process stopped"),
                Ok(_) => {}
                Err(e) => tracing::error!("cannot requeue interrupted runs: {e}"),
            }
            let runs = RunFilter { models: sharing.models.as_deref(), own_server: own.is_some() };
            let claimed = match store.claim_next_run_for(&runs).await {
                Ok(None) => store.claim_unit(&sharing.worker, &sharing.filter(None)).await.map(|u| u.map(Claim::Unit)),
                other => other.map(|r| r.map(Claim::Run)),
            };
            match claimed {
                Ok(Some(claim)) => {
                    // On a task of its own, so that a panic in the work fails that work, not
                    // this worker (which would stop taking any).
                    let failed = match &claim {
                        Claim::Run(run) => Failed::Run(run.id),
                        Claim::Unit(unit) => Failed::Unit(unit.clone()),
                    };
                    let job = {
                        let (store, shutdown, pool, own, sharing) =
                            (store.clone(), shutdown.clone(), pool.clone(), own.clone(), sharing.clone());
                        tokio::spawn(async move {
                            match claim {
                                Claim::Run(run) if run.kind == "perf" => {
                                    execute_perf(&store, run, &shutdown, own.as_ref()).await
                                }
                                Claim::Run(run) => execute(&store, run, &shutdown, concurrency, &pool, &sharing).await,
                                Claim::Unit(unit) => execute_unit(&store, unit, &shutdown, concurrency, &pool).await,
                            }
                        })
                    };
                    if let Err(e) = job.await {
                        let why = format!("the worker failed: {e}");
                        tracing::error!("{why}");
                        let _ = match failed {
                            Failed::Run(id) => store.finish_run(id, RunStatus::Failed, None, Some(&why)).await,
                            Failed::Unit(unit) => store.finish_unit(&unit, Some(&why), None).await,
                        };
                    }
                }
                Ok(None) => {
                    tokio::select! {
                        _ = wake.notified() => {}
                        _ = tokio::time::sleep(poll) => {}
                        _ = shutdown.cancelled() => break,
                    }
                }
                Err(e) => {
                    tracing::error!("cannot read the run queue: {e}");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
    });
    (jobs, handle)
}

/// What a worker took from the queue: a run of its own, or a unit of another worker's run.
enum Claim {
    Run(RunRow),
    Unit(UnitRow),
}

/// What to mark failed when the work on a claim panicked.
enum Failed {
    Run(i64),
    Unit(UnitRow),
}

/// A token cancelled when the run's cancel is asked for (checked twice a second) or the server
/// shuts down, and the task that watches.
fn watch_for_cancel(store: &Store, id: i64, shutdown: &CancellationToken) -> (CancellationToken, JoinHandle<()>) {
    let cancel = CancellationToken::new();
    let watcher = {
        let (store, cancel, shutdown) = (store.clone(), cancel.clone(), shutdown.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => { cancel.cancel(); break; }
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {
                        if store.cancel_requested(id).await.unwrap_or(false) {
                            cancel.cancel();
                            break;
                        }
                    }
                }
            }
        })
    };
    (cancel, watcher)
}

/// An eval queued from the pages or the command line: its settings are the run's config.
async fn execute_eval(store: &Store, run: RunRow, shutdown: &CancellationToken, sharing: &Sharing) {
    let queued = match queued_eval(&run) {
        Ok(q) => q,
        Err(message) => {
            let _ = store.finish_run(run.id, RunStatus::Failed, None, Some(&message)).await;
            return;
        }
    };
    let (cancel, watcher) = watch_for_cancel(store, run.id, shutdown);
    let heartbeat = store.keep_alive(run.id);
    let options = EvalOptions { progress: None, use_cache: queued.use_cache, cancel: Some(cancel), part: None };
    let result = run_queued(&queued, store, run.id, &options, Some(sharing)).await;
    drop(heartbeat);
    watcher.abort();
    let _ = match result {
        Ok(report) => store.finish_run(run.id, RunStatus::Succeeded, Some(&report.to_string()), None).await,
        Err(EvalError::Cancelled) if shutdown.is_cancelled() => {
            tracing::info!(run = run.id, "stopped by the shutdown; it will resume at the next start");
            store.requeue_run(run.id).await
        }
        Err(EvalError::Cancelled) => {
            store.finish_run(run.id, RunStatus::Cancelled, None, Some(&EvalError::Cancelled.to_string())).await
        }
        Err(e) => store.finish_run(run.id, RunStatus::Failed, None, Some(&e.to_string())).await,
    };
}

/// A load test queued from the pages: its settings are the run's config.
async fn execute_perf(store: &Store, run: RunRow, shutdown: &CancellationToken, own: Option<&OwnServer>) {
    let queued: QueuedPerf = match serde_json::from_str(&run.config) {
        Ok(q) => q,
        Err(e) => {
            let message = format!("unreadable load test settings: {e}");
            let _ = store.finish_run(run.id, RunStatus::Failed, None, Some(&message)).await;
            return;
        }
    };
    let dir = run.work_dir.clone().map(std::path::PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let (cancel, watcher) = watch_for_cancel(store, run.id, shutdown);
    let heartbeat = store.keep_alive(run.id);
    let result = crate::perf::job::run_queued(&queued, store, run.id, &dir, own, &cancel).await;
    drop(heartbeat);
    watcher.abort();
    let _ = match result {
        Ok(summary) => store.finish_run(run.id, RunStatus::Succeeded, Some(&summary.to_string()), None).await,
        Err(PerfJobError::Cancelled) if shutdown.is_cancelled() => {
            tracing::info!(run = run.id, "stopped by the shutdown; it will be measured again at the next start");
            store.requeue_run(run.id).await
        }
        Err(PerfJobError::Cancelled) => store.finish_run(run.id, RunStatus::Cancelled, None, Some("cancelled")).await,
        Err(PerfJobError::AllFailed(summary)) => {
            let why = "every request of a load failed";
            store.finish_run(run.id, RunStatus::Failed, Some(&summary.to_string()), Some(why)).await
        }
        Err(e) => store.finish_run(run.id, RunStatus::Failed, None, Some(&e.to_string())).await,
    };
}

/// An arena run's config, as stored with the run; its file (where a command-line run's was,
/// in the work folder for web runs) gives the folder relative paths resolve from.
fn load_run_config(run: &RunRow) -> Result<crate::config::ArenaConfig, String> {
    let config_file = match (&run.config_path, &run.work_dir) {
        (Some(path), _) => Path::new(path).to_path_buf(),
        (None, Some(dir)) => Path::new(dir).join(RUN_CONFIG_FILE),
        (None, None) => return Err("the run has no config to resume from".into()),
    };
    if run.config.trim().is_empty() {
        return load_arena_config(&config_file).map_err(|e| e.to_string());
    }
    // The config as the run was queued with: every worker, and every unit, follows the same
    // settings even if the file is edited meanwhile. Relative paths resolve from its folder.
    let file = crate::config::normalize(&std::path::absolute(&config_file).unwrap_or(config_file));
    let base_dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    crate::config::parse_arena_config(&run.config, &file, &base_dir).map_err(|e| e.to_string())
}

/// A unit of another worker's run: done, given back when this worker stops, or marked done
/// with what failed (that worker's own pass asks for it again).
async fn execute_unit(
    store: &Store,
    unit: UnitRow,
    shutdown: &CancellationToken,
    concurrency: usize,
    pool: &Arc<ModelPool>,
) {
    tracing::info!(run = unit.run_id, stage = %unit.stage, chunk = unit.chunk, "helping with a unit");
    let run = match store.run(unit.run_id).await {
        Ok(Some(run)) => run,
        Ok(None) => return,
        Err(e) => {
            tracing::error!("cannot read the unit's run: {e}");
            let _ = store.release_unit(&unit).await;
            return;
        }
    };
    let (cancel, watcher) = watch_for_cancel(store, unit.run_id, shutdown);
    let beat = store.keep_unit_alive(&unit);
    let outcome = match run.kind.as_str() {
        "eval" => eval_unit(store, &run, &unit.spec, cancel).await,
        _ => arena_unit(store, &run, &unit.spec, cancel, concurrency, pool).await,
    };
    drop(beat);
    watcher.abort();
    let _ = match outcome {
        Ok(done) => store.finish_unit(&unit, done.failed.as_deref(), Some(&done.outcome)).await,
        Err(None) => store.release_unit(&unit).await,
        Err(Some(e)) => store.finish_unit(&unit, Some(&e), None).await,
    };
}

/// A unit's outcome as `execute_unit` records it: `Err(None)` when it was cancelled (it goes
/// back to the queue), `Err(Some(why))` when it failed.
type UnitOutcome = Result<share::UnitDone, Option<String>>;

async fn arena_unit(
    store: &Store,
    run: &RunRow,
    spec: &str,
    cancel: CancellationToken,
    concurrency: usize,
    pool: &Arc<ModelPool>,
) -> UnitOutcome {
    let config = load_run_config(run).map_err(Some)?;
    let part: Part = serde_json::from_str(spec).map_err(|e| Some(format!("unreadable unit: {e}")))?;
    let options = ArenaOptions {
        dry_run: run.dry_run,
        concurrency,
        run_id: Some(run.id),
        cancel: Some(cancel),
        pool: Some(pool.clone()),
        part: Some(part),
        ..ArenaOptions::default()
    };
    match run_unit(&config, store, run.id, &options).await {
        Ok(done) => Ok(done),
        Err(ArenaError::Cancelled) => Err(None),
        Err(e) => Err(Some(e.to_string())),
    }
}

async fn eval_unit(store: &Store, run: &RunRow, spec: &str, cancel: CancellationToken) -> UnitOutcome {
    let queued = queued_eval(run).map_err(Some)?;
    let options = EvalOptions { progress: None, use_cache: queued.use_cache, cancel: Some(cancel), part: None };
    match crate::eval::job::run_unit(&queued, spec, store, run.id, &options).await {
        Ok(done) => Ok(done),
        Err(EvalError::Cancelled) => Err(None),
        Err(e) => Err(Some(e.to_string())),
    }
}

/// A queued eval's settings, its local model where this worker keeps it (`--models`), which
/// may not be where it was queued.
fn queued_eval(run: &RunRow) -> Result<QueuedEval, String> {
    let mut queued: QueuedEval =
        serde_json::from_str(&run.config).map_err(|e| format!("unreadable eval settings: {e}"))?;
    if let EvalTarget::Local { path } = &mut queued.target {
        *path = crate::spec::local_model_here(path);
    }
    Ok(queued)
}

async fn execute(
    store: &Store,
    run: RunRow,
    shutdown: &CancellationToken,
    concurrency: usize,
    pool: &Arc<ModelPool>,
    sharing: &Sharing,
) {
    tracing::info!(run = run.id, title = run.title.as_deref().unwrap_or(""), "starting run");
    if run.kind == "eval" {
        return execute_eval(store, run, shutdown, sharing).await;
    }
    let config = match load_run_config(&run) {
        Ok(c) => c,
        Err(e) => {
            let _ = store.finish_run(run.id, RunStatus::Failed, None, Some(&e)).await;
            return;
        }
    };
    let (cancel, watcher) = watch_for_cancel(store, run.id, shutdown);
    let options = ArenaOptions {
        dry_run: run.dry_run,
        concurrency,
        progress: None,
        run_id: Some(run.id),
        cancel: Some(cancel.clone()),
        pool: Some(pool.clone()),
        sharing: Some(sharing.clone()),
        part: None,
    };
    let result = run_arena(&config, &run.config, store, &options).await;
    watcher.abort();
    match result {
        Ok(summary) if summary.status == RunStatus::Cancelled.as_str() && shutdown.is_cancelled() => {
            tracing::info!(run = run.id, "stopped by the shutdown; it will resume at the next start");
            let _ = store.requeue_run(run.id).await;
        }
        Ok(summary) => tracing::info!(run = run.id, status = %summary.status, "run finished"),
        Err(ArenaError::BadInput(e)) => {
            let _ = store.finish_run(run.id, RunStatus::Failed, None, Some(&e.to_string())).await;
        }
        Err(e) => tracing::error!(run = run.id, "run failed: {e}"),
    }
}
