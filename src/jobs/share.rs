//! A queued run shared by several workers: the worker that claims it cuts a stage into units
//! stored in the database (`run_units`; what a unit holds is its stage's business: see
//! `arena::part`, `eval::job`), which any worker may claim. The run's own worker does units
//! too and waits until every unit is done; then it makes its ordinary pass over the stage,
//! which finds everything stored, asks no model again and writes the stage's results whole.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::store::{NewUnit, Store, StoreError, UnitFilter};

/// Who this worker is, and which local models it has, for claiming units.
#[derive(Debug, Clone)]
pub struct Sharing {
    /// `host:pid`, recorded on the units it does.
    pub worker: String,
    /// The local models it has by name (`jury worker --models`); `None`: any, at the paths
    /// the runs give.
    pub models: Option<Vec<String>>,
}

impl Sharing {
    /// This process, taking any unit.
    pub fn this_process() -> Sharing {
        Sharing { worker: worker_name(), models: None }
    }

    pub fn filter(&self, run_id: Option<i64>) -> UnitFilter<'_> {
        UnitFilter { run_id, models: self.models.as_deref() }
    }
}

/// `host:pid`.
pub fn worker_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}:{}", std::process::id())
}

/// What one unit did: what failed in it (the run's own pass asks for those again), and its
/// stage summary as JSON (what it asked of models, added to the run's summary).
#[derive(Debug, Clone)]
pub struct UnitDone {
    pub failed: Option<String>,
    pub outcome: String,
}

/// The errors of a stage that can be shared: a store error is one, and a cancelled unit goes
/// back to the queue rather than being marked done.
pub trait UnitError: From<StoreError> + std::fmt::Display {
    fn cancelled() -> Self;
    fn is_cancelled(&self) -> bool;
}

/// `[from, to)` ranges of `size` over `len` items.
pub fn chunks(len: usize, size: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..len).step_by(size.max(1)).map(move |from| (from, (from + size).min(len)))
}

/// Shares a stage's units out and does them alongside the other workers until every one is
/// done; `do_unit` does one here, given its spec. A stage of one unit is left to the run's
/// own pass.
#[allow(clippy::too_many_arguments)]
pub async fn share_stage<F, Fut, E>(
    store: &Store,
    run_id: i64,
    stage: &'static str,
    units: Vec<NewUnit>,
    sharing: &Sharing,
    cancel: Option<&CancellationToken>,
    mut do_unit: F,
) -> Result<(), E>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<UnitDone, E>>,
    E: UnitError,
{
    if units.len() < 2 {
        return Ok(());
    }
    store.ensure_units(run_id, stage, &units).await?;
    let cancel = cancel.cloned().unwrap_or_default();
    let filter = sharing.filter(Some(run_id));
    let mut reported = None::<Instant>;
    let mut waiting_since = None::<Instant>;
    loop {
        if cancel.is_cancelled() {
            return Err(E::cancelled());
        }
        let progress = store.stage_progress(run_id, stage).await?;
        if reported.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) || progress.finished() {
            store.set_run_progress(run_id, stage, progress.items_done, progress.items).await?;
            reported = Some(Instant::now());
        }
        if progress.finished() {
            return Ok(());
        }
        let Some(unit) = store.claim_unit(&sharing.worker, &filter).await? else {
            // The rest is with other workers: wait for them (or for their leases to run out).
            // Units needing a local model no live worker has would wait for ever: say so.
            let since = *waiting_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= Duration::from_secs(60) {
                tracing::warn!(
                    run = run_id,
                    stage,
                    units_left = progress.units - progress.units_done,
                    "still waiting for other workers: units needing a local model go only to workers started \
                     with --models that name it"
                );
                waiting_since = Some(Instant::now());
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                _ = cancel.cancelled() => {}
            }
            continue;
        };
        waiting_since = None;
        let beat = store.keep_unit_alive(&unit);
        let result = do_unit(unit.spec.clone()).await;
        drop(beat);
        match result {
            Ok(done) => store.finish_unit(&unit, done.failed.as_deref(), Some(&done.outcome)).await?,
            Err(e) if e.is_cancelled() => {
                store.release_unit(&unit).await?;
                return Err(e);
            }
            Err(e) => {
                store.finish_unit(&unit, Some(&e.to_string()), None).await?;
                return Err(e);
            }
        }
    }
}
