//! Progress bars for the stages (done/total, rate, ETA); hidden when not wanted.

use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    pub fn new(bars: Option<&MultiProgress>, stage: &str, total: u64) -> Progress {
        let bar = match bars {
            Some(bars) => bars.add(ProgressBar::new(total)),
            None => ProgressBar::hidden(),
        };
        bar.set_style(
            ProgressStyle::with_template("{prefix:>8} [{bar:30.cyan/blue}] {pos}/{len} {per_sec} ETA {eta} {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(stage.to_string());
        bar.enable_steady_tick(Duration::from_millis(250));
        Progress { bar }
    }

    pub fn inc(&self) {
        self.bar.inc(1);
    }

    pub fn set_message(&self, message: &str) {
        self.bar.set_message(message.to_string());
    }

    /// Prints a line above the bar (or plainly when the bar is hidden).
    pub fn println(&self, line: &str) {
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }

    pub fn finish(&self) {
        self.bar.finish();
    }
}

/// Keeps a run's progress in the database up to date (at most once a second) from a task of
/// its own, so the stage loop never waits on the database while its work is in flight.
pub struct RunProgress {
    tx: tokio::sync::watch::Sender<u64>,
    reporter: Option<tokio::task::JoinHandle<()>>,
    store: crate::store::Store,
    run_id: Option<i64>,
    stage: &'static str,
    total: u64,
}

impl RunProgress {
    pub fn start(store: &crate::store::Store, run_id: Option<i64>, stage: &'static str, total: u64) -> RunProgress {
        let (tx, mut rx) = tokio::sync::watch::channel(0u64);
        let reporter = run_id.map(|run_id| {
            let store = store.clone();
            tokio::spawn(async move {
                loop {
                    let done = *rx.borrow_and_update();
                    if let Err(e) = store.set_run_progress(run_id, stage, done, total).await {
                        tracing::warn!("cannot record progress: {e}");
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    if rx.changed().await.is_err() {
                        break;
                    }
                }
            })
        });
        RunProgress { tx, reporter, store: store.clone(), run_id, stage, total }
    }

    pub fn set(&self, done: u64) {
        self.tx.send_replace(done);
    }

    /// Stops the reporter and records the final count.
    pub async fn finish(mut self) {
        if let Some(reporter) = self.reporter.take() {
            reporter.abort();
            let _ = reporter.await;
        }
        if let Some(run_id) = self.run_id {
            let done = *self.tx.borrow();
            if let Err(e) = self.store.set_run_progress(run_id, self.stage, done, self.total).await {
                tracing::warn!("cannot record progress: {e}");
            }
        }
    }
}
