//! `--submit [--wait]`: a run (arena, eval) queued in the database for the workers instead of
//! run here, and followed to its end.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::store::Store;

/// Queues the arena config at `path` and prints the run's id; with `wait`, follows it.
pub async fn submit_arena(
    store: &Store,
    path: &Path,
    config_text: &str,
    dry_run: bool,
    wait: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let path = std::path::absolute(path)?;
    let folder = path.parent().unwrap_or(Path::new("/"));
    let title = format!("{}{}", path.display(), if dry_run { " · dry run" } else { "" });
    let id = store
        .submit_run("arena", &title, config_text, &path.display().to_string(), dry_run, &folder.display().to_string())
        .await?;
    announce_and_follow(store, id, wait, json).await
}

/// Prints the queued run's id (on stdout, unless `--wait --json` prints its summary there);
/// with `wait`, follows it to its end.
pub async fn announce_and_follow(store: &Store, id: i64, wait: bool, json: bool) -> anyhow::Result<ExitCode> {
    eprintln!("queued run {id}");
    if !json || !wait {
        println!("{id}");
    }
    if !wait {
        return Ok(ExitCode::SUCCESS);
    }
    follow(store, id, json).await
}

/// Prints the run's stage and progress as they change until it ends; its summary then.
async fn follow(store: &Store, id: i64, json: bool) -> anyhow::Result<ExitCode> {
    let mut shown = String::new();
    loop {
        let run = store.run(id).await?.ok_or_else(|| anyhow::anyhow!("run {id} is gone from the database"))?;
        let line = match run.status.as_str() {
            "queued" => "queued: waiting for a worker".to_string(),
            _ => format!(
                "{}: {} {}/{}",
                run.shown_status(),
                run.stage.as_deref().unwrap_or("starting"),
                run.progress_done,
                run.progress_total
            ),
        };
        if line != shown {
            eprintln!("run {id} {line}");
            shown = line;
        }
        if !matches!(run.status.as_str(), "queued" | "running") {
            if json {
                println!("{}", run.summary.as_deref().unwrap_or("null"));
            }
            return Ok(if run.status == "succeeded" {
                eprintln!("run {id} succeeded");
                ExitCode::SUCCESS
            } else {
                eprintln!("error: run {id} {}: {}", run.status, run.error.as_deref().unwrap_or("no reason given"));
                ExitCode::from(1)
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
