//! A fleet on one run: 4,000 pairwise judgments against a mock judge that answers after 200 ms,
//! done by 1, 2 and 4 `jury worker` processes (concurrency 8 each) sharing the database. The
//! ideal is 4000 × 0.2 s / (8 × workers): 100, 50 and 25 s.
//!
//!     cargo bench --bench fleet_throughput
//!     JURY_BENCH_POSTGRES=postgres://jury@127.0.0.1:5432/postgres cargo bench --bench fleet_throughput
//!
//! Without JURY_BENCH_POSTGRES each measurement uses a fresh SQLite file; with it, a fresh
//! database on that server. `JURY_BENCH_WORKERS=1,2` measures other fleet sizes.

#[path = "../tests/common/mock_judge.rs"]
mod mock_judge;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jury::store::Store;
use mock_judge::{Call, MockJudge, Reply, verdict_for};

const JUDGMENTS: usize = 4000;
const CONCURRENCY: usize = 8;
const LATENCY: Duration = Duration::from_millis(200);

fn answers(model: &str, marker: &str) -> String {
    (1..=JUDGMENTS)
        .map(|i| {
            serde_json::json!({"question_id": i, "text": format!("Question {i}?"), "category": "generic",
                "model_id": model, "metadata": {}, "answer": format!("{marker} answer {i}")})
            .to_string()
                + "\n"
        })
        .collect()
}

struct Workers(Vec<Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn database(dir: &std::path::Path, workers: usize) -> String {
    match std::env::var("JURY_BENCH_POSTGRES") {
        Ok(server) => {
            let base = server.rsplit_once('/').map(|(base, _)| base.to_string()).unwrap_or(server);
            format!("{base}/jury_fleet_bench_{}_{workers}", std::process::id())
        }
        Err(_) => format!("sqlite://{}", dir.join(format!("fleet-{workers}.db")).display()),
    }
}

#[tokio::main]
async fn main() {
    let jury = env!("CARGO_BIN_EXE_jury");
    let fleets: Vec<usize> = std::env::var("JURY_BENCH_WORKERS")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 2, 4]);
    let judge =
        MockJudge::start(|call: &Call| Reply::Delayed(LATENCY, Box::new(Reply::Text(verdict_for(call, "GOOD"))))).await;
    let mut base_seconds = None;
    for workers in fleets {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.jsonl"), answers("a", "GOOD")).unwrap();
        std::fs::write(dir.path().join("b.jsonl"), answers("b", "bad")).unwrap();
        let config = format!(
            "reviews_gen:\n  reviewer:\n    args:\n      model: mock-{workers}\n      api_base: {}\n      api_key_env: NONE\n      \
             mode: pairwise\n  target_answers: [a.jsonl, b.jsonl]\n  review_file: review.jsonl\nrating_gen:\n  \
             metrics: [elo]\n  report_file: rating.csv\n",
            judge.base_url()
        );
        let cfg = dir.path().join("cfg.yaml");
        std::fs::write(&cfg, config).unwrap();
        let db = database(dir.path(), workers);
        let out = Command::new(jury)
            .args(["arena", "-c"])
            .arg(&cfg)
            .args(["--db", &db, "--submit"])
            .output()
            .expect("run jury arena --submit");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let id: i64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        let store = Store::connect_existing(&db).await.unwrap();
        let calls_before = judge.call_count();

        let started = Instant::now();
        let fleet = Workers(
            (0..workers)
                .map(|_| {
                    Command::new(jury)
                        .args(["worker", "--db", &db, "--concurrency", &CONCURRENCY.to_string()])
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .spawn()
                        .expect("start jury worker")
                })
                .collect(),
        );
        let run = loop {
            let run = store.run(id).await.unwrap().unwrap();
            if run.status != "queued" && run.status != "running" {
                break run;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let elapsed = started.elapsed().as_secs_f64();
        drop(fleet);
        assert_eq!(run.status, "succeeded", "{run:?}");
        assert_eq!(judge.call_count() - calls_before, JUDGMENTS, "every judgment asked once");
        let helpers = store.unit_workers(id).await.unwrap().len();
        store.close().await;

        let ideal = JUDGMENTS as f64 * LATENCY.as_secs_f64() / (CONCURRENCY * workers) as f64;
        let speedup = base_seconds.map(|base: f64| base / elapsed).unwrap_or(1.0);
        base_seconds.get_or_insert(elapsed);
        println!(
            "{{\"bench\":\"fleet_throughput\",\"database\":\"{}\",\"workers\":{workers},\"concurrency\":{CONCURRENCY},\
             \"judgments\":{JUDGMENTS},\"latency_ms\":{},\"seconds\":{elapsed:.2},\"ideal_seconds\":{ideal:.2},\
             \"ratio\":{:.3},\"speedup\":{speedup:.2},\"workers_that_did_units\":{helpers}}}",
            db.split(':').next().unwrap_or(""),
            LATENCY.as_millis(),
            elapsed / ideal,
        );
    }
}
