//! Wake-ups across processes: PostgreSQL notifies `jury_runs_queued` (a trigger on `runs`)
//! whenever a run is queued (or a run's units are), so every worker on the database looks at once instead of at its
//! next poll. SQLite has no such channel; there workers poll.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{Dialect, Store};

const CHANNEL: &str = "jury_runs_queued";

impl Store {
    /// Wakes `wake` whenever any process queues a run, until `stop`; returns whether it will
    /// (only PostgreSQL tells).
    pub fn wake_on_queued_runs(&self, wake: Arc<Notify>, stop: CancellationToken) -> bool {
        if self.dialect != Dialect::Postgres {
            return false;
        }
        let url = self.url.clone();
        tokio::spawn(async move {
            while !stop.is_cancelled() {
                match sqlx::postgres::PgListener::connect(&url).await {
                    Ok(mut listener) => match listener.listen(CHANNEL).await {
                        Ok(()) => loop {
                            tokio::select! {
                                received = listener.recv() => match received {
                                    Ok(_) => wake.notify_one(),
                                    // It reconnects on the next call (woken then, for what was
                                    // missed meanwhile); a second later, not in a tight loop.
                                    Err(e) => {
                                        tracing::warn!("the queued-run channel broke: {e}");
                                        tokio::time::sleep(Duration::from_secs(1)).await;
                                        wake.notify_one();
                                    }
                                },
                                _ = stop.cancelled() => return,
                            }
                        },
                        Err(e) => tracing::warn!("cannot listen for queued runs: {e}"),
                    },
                    Err(e) => tracing::warn!("cannot connect to listen for queued runs: {e}"),
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                    _ = stop.cancelled() => return,
                }
            }
        });
        true
    }
}
