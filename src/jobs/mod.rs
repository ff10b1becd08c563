//! Background runs: arena rounds started from the web are queued in the `runs` table and run
//! here one at a time. They keep going when the page is closed, can be cancelled, and after a
//! restart resume where they stopped (every answer and judgment is already stored). Several
//! servers on one database share the queue: each run is claimed by one of them.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::arena::{ArenaError, ArenaOptions, run_arena};
use crate::config::load_arena_config;
use crate::eval::job::{QueuedEval, run_queued};
use crate::eval::{EvalError, EvalOptions};
use crate::llm::ModelPool;
use crate::perf::job::{OwnServer, PerfJobError, QueuedPerf};
use crate::store::{RunRow, RunStatus, Store};

/// The config file every queued run keeps in its work folder.
pub const RUN_CONFIG_FILE: &str = "config.yaml";

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
/// load tests of the server's own models reach them through `own`.
pub fn spawn_worker(
    store: Store,
    shutdown: CancellationToken,
    concurrency: usize,
    pool: Arc<ModelPool>,
    own: Option<OwnServer>,
) -> (Jobs, JoinHandle<()>) {
    let wake = Arc::new(Notify::new());
    let jobs = Jobs { wake: wake.clone() };
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
            match store.claim_next_run().await {
                Ok(Some(run)) if run.kind == "perf" => execute_perf(&store, run, &shutdown, own.as_ref()).await,
                Ok(Some(run)) => execute(&store, run, &shutdown, concurrency, &pool).await,
                Ok(None) => {
                    tokio::select! {
                        _ = wake.notified() => {}
                        _ = tokio::time::sleep(Duration::from_secs(2)) => {}
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

/// An eval queued from the pages: its settings are the run's config.
async fn execute_eval(store: &Store, run: RunRow, shutdown: &CancellationToken) {
    let queued: QueuedEval = match serde_json::from_str(&run.config) {
        Ok(q) => q,
        Err(e) => {
            let message = format!("unreadable eval settings: {e}");
            let _ = store.finish_run(run.id, RunStatus::Failed, None, Some(&message)).await;
            return;
        }
    };
    let (cancel, watcher) = watch_for_cancel(store, run.id, shutdown);
    let heartbeat = store.keep_alive(run.id);
    let options = EvalOptions { progress: None, use_cache: true, cancel: Some(cancel) };
    let result = run_queued(&queued, store, run.id, &options).await;
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

async fn execute(store: &Store, run: RunRow, shutdown: &CancellationToken, concurrency: usize, pool: &Arc<ModelPool>) {
    tracing::info!(run = run.id, title = run.title.as_deref().unwrap_or(""), "starting run");
    if run.kind == "eval" {
        return execute_eval(store, run, shutdown).await;
    }
    // Web runs keep their config in their work folder; a command-line run resumed from the
    // runs page reads its config file where it was.
    let config_file = match (&run.work_dir, &run.config_path) {
        (Some(dir), _) => Path::new(dir).join(RUN_CONFIG_FILE),
        (None, Some(path)) => Path::new(path).to_path_buf(),
        (None, None) => {
            let _ =
                store.finish_run(run.id, RunStatus::Failed, None, Some("the run has no config to resume from")).await;
            return;
        }
    };
    let config = match load_arena_config(&config_file) {
        Ok(c) => c,
        Err(e) => {
            let _ = store.finish_run(run.id, RunStatus::Failed, None, Some(&e.to_string())).await;
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
