//! Runs done by `jury worker` processes sharing the database: a run submitted from the command
//! line and followed to its end, a run queued at a server that runs none itself, and a worker
//! killed with SIGKILL mid-run whose run another worker finishes, every judgment stored once
//! and no judge call repeated beyond the tasks under way at the kill; two workers sharing one run
//! unit by unit, one of them killed mid-unit.

mod common;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::server::{Settings, TestServer, allowed_judge, seed_set};
use common::*;
use jury::store::Store;
use serde_json::{Value, json};

/// The lease the workers here hold runs under: short, so a killed worker's run moves on soon.
const LEASE_SECONDS: &str = "3";

/// A `jury worker` process, killed when dropped.
struct Worker(Child);

impl Worker {
    fn start(db: &str, concurrency: u32) -> Worker {
        let child = jury()
            .args(["worker", "--db", db, "--concurrency", &concurrency.to_string()])
            .env("JURY_RUN_LEASE_SECONDS", LEASE_SECONDS)
            .env("JURY_TEST_KEY", "test-key")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start jury worker");
        Worker(child)
    }

    fn kill(mut self) {
        self.0.kill().unwrap(); // SIGKILL: nothing is stored or handed back
        self.0.wait().unwrap();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_for_run(db: &str, id: i64, timeout: Duration) -> jury::store::RunRow {
    let store = Store::connect_existing(db).await.unwrap();
    let deadline = Instant::now() + timeout;
    loop {
        let run = store.run(id).await.unwrap().unwrap();
        if run.status != "queued" && run.status != "running" {
            store.close().await;
            return run;
        }
        assert!(Instant::now() < deadline, "run {id} did not finish: {run:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn count(db: &str, table: &str) -> i64 {
    let store = Store::connect_existing(db).await.unwrap();
    let n = store.count_rows(table).await.unwrap();
    store.close().await;
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submitted_run_is_done_by_a_worker_and_followed_to_its_end() {
    const QUESTIONS: usize = 4;
    let dir = tempfile::tempdir().unwrap();
    let judge = MockJudge::start(prefer("GOOD")).await;
    write_strong_and_weak(dir.path(), QUESTIONS);
    let cfg = strong_vs_weak_config(dir.path(), &judge.base_url(), "swap_position", "");
    let db = db_url(dir.path());
    let _worker = Worker::start(&db, 4);

    let mut submit = jury();
    submit.args(["arena", "-c"]).arg(&cfg).args(["--db", &db, "--submit", "--wait", "--json"]);
    let out = tokio::task::spawn_blocking(move || run(&mut submit)).await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("queued run 1"), "{}", stderr(&out));
    let summary: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(summary["status"], "succeeded", "{summary}");
    assert_eq!(summary["reviews"]["judge_calls"], 2 * QUESTIONS);
    assert_eq!(judge.call_count(), 2 * QUESTIONS);
    // The worker wrote the run's files beside its config, as `jury arena` would have.
    assert_eq!(read_jsonl(&dir.path().join("reviews/review.jsonl")).len(), QUESTIONS);
    assert!(dir.path().join("reports/rating.csv").is_file());

    // Without --wait: the id, at once.
    let out = run(jury().args(["arena", "-c"]).arg(&cfg).args(["--db", &db, "--submit", "--dry-run"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let id: i64 = stdout(&out).trim().parse().unwrap();
    let run = wait_for_run(&db, id, Duration::from_secs(30)).await;
    assert_eq!(run.status, "succeeded", "{run:?}");
    assert!(run.dry_run);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_queued_at_a_server_without_a_worker_is_done_by_a_worker_process() {
    let judge = MockJudge::start(prefer("GOOD")).await;
    let settings = Settings {
        no_worker: true,
        judges: vec![allowed_judge("mock", "mock-judge", &judge.base_url())],
        ..Settings::default()
    };
    let server = TestServer::start(settings).await;
    let set = seed_set(&server, "fleet", 4, &["good-a", "plain-b"]).await;
    let request = json!({"question_set": set, "candidates": ["good-a", "plain-b"], "judge": "mock",
                         "position_bias": "swap_position"});
    let r = common::server::api_client().post(server.url("/api/runs")).json(&request).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(server.get_json(&format!("/api/runs/{id}")).await["status"], "queued", "the server runs nothing");

    let worker = Worker::start(&server.db, 4);
    // The worker looks at once when it starts; on PostgreSQL a second run queued while it idles
    // reaches it through the database's notification, well before its 15-second poll.
    let run = server.wait_for_run(id, Duration::from_secs(30)).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let request = json!({"question_set": set, "candidates": ["good-a", "plain-b"], "judge": "dry-run"});
    let r = common::server::api_client().post(server.url("/api/runs")).json(&request).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let second = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let run = server.wait_for_run(second, Duration::from_secs(10)).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(judge.call_count(), 8, "the dry run asked no judge");
    worker.kill();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_worker_is_killed_is_finished_by_another_without_repeating_answered_calls() {
    const QUESTIONS: usize = 12;
    const CONCURRENCY: u32 = 2;
    let dir = tempfile::tempdir().unwrap();
    let judge = MockJudge::start(|call: &Call| {
        Reply::Delayed(Duration::from_millis(200), Box::new(Reply::Text(verdict_for(call, "GOOD"))))
    })
    .await;
    write_strong_and_weak(dir.path(), QUESTIONS);
    let cfg = strong_vs_weak_config(dir.path(), &judge.base_url(), "swap_position", "");
    let db = db_url(dir.path());
    let out = run(jury().args(["arena", "-c"]).arg(&cfg).args(["--db", &db, "--submit"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let id: i64 = stdout(&out).trim().parse().unwrap();

    let first = Worker::start(&db, CONCURRENCY);
    let t = Instant::now();
    while judge.call_count() < 8 {
        assert!(t.elapsed() < Duration::from_secs(30), "the first worker never asked the judge");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill();
    let asked_before_kill = judge.call_count();
    let stored_before_kill = count(&db, "judgments").await;
    assert!(stored_before_kill < 2 * QUESTIONS as i64, "killed before the end");

    let _second = Worker::start(&db, CONCURRENCY);
    let run = wait_for_run(&db, id, Duration::from_secs(60)).await;
    assert_eq!(run.status, "succeeded", "{run:?}");

    // Every judgment stored once, every battle once.
    assert_eq!(count(&db, "judgments").await, 2 * QUESTIONS as i64);
    assert_eq!(count(&db, "battles").await, QUESTIONS as i64);
    // Only calls in flight at the kill (at most the concurrency) were asked twice.
    // At most the tasks the review stream keeps going (twice the concurrency: those in a call,
    // and those whose reply came back and is being stored) lose their reply to the kill.
    let repeated: usize = judge.calls_per_prompt().values().map(|n| n - 1).sum();
    assert!(
        repeated <= 2 * CONCURRENCY as usize,
        "{repeated} calls repeated (asked {asked_before_kill} before the kill)"
    );
    assert_eq!(judge.call_count(), 2 * QUESTIONS + repeated);
    assert!(judge.calls_per_prompt().values().all(|&n| n <= 2));
}

/// `(worker, status, attempts)` of every unit of the run, in order.
async fn units(db: &str, run: i64) -> Vec<(Option<String>, String, i64)> {
    let pool = open_db(db).await;
    let rows = sqlx::query_as::<_, (Option<String>, String, i64)>(
        "SELECT worker, status, attempts FROM run_units WHERE run_id = $1 ORDER BY id",
    )
    .bind(run)
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_share_one_run_and_a_unit_whose_worker_is_killed_is_done_by_the_other() {
    // 250 swapped pairs: three units of review tasks (100, 100, 50), 500 judgments.
    const QUESTIONS: usize = 250;
    const CONCURRENCY: u32 = 4;
    let dir = tempfile::tempdir().unwrap();
    let judge = MockJudge::start(|call: &Call| {
        Reply::Delayed(Duration::from_millis(40), Box::new(Reply::Text(verdict_for(call, "GOOD"))))
    })
    .await;
    write_strong_and_weak(dir.path(), QUESTIONS);
    let cfg = strong_vs_weak_config(dir.path(), &judge.base_url(), "swap_position", "");
    let db = db_url(dir.path());
    let out = run(jury().args(["arena", "-c"]).arg(&cfg).args(["--db", &db, "--submit"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let id: i64 = stdout(&out).trim().parse().unwrap();
    // The workers follow the config as it was queued, whatever becomes of its file.
    std::fs::write(&cfg, "reviews_gen: [this is not the config any more").unwrap();

    // The first worker takes the run and cuts its reviews into units; the second helps.
    let _first = Worker::start(&db, CONCURRENCY);
    let t = Instant::now();
    while units(&db, id).await.is_empty() {
        assert!(t.elapsed() < Duration::from_secs(30), "the run was never shared out");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(units(&db, id).await.len(), 3);
    let second = Worker::start(&db, CONCURRENCY);
    let second_name = format!(":{}", second.0.id());
    let t = Instant::now();
    loop {
        let held = units(&db, id).await;
        if held.iter().any(|(w, s, _)| s == "running" && w.as_deref().is_some_and(|w| w.ends_with(&second_name))) {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "the second worker never helped: {held:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Mid-unit: its first calls are out.
    tokio::time::sleep(Duration::from_millis(300)).await;
    second.kill();

    let run = wait_for_run(&db, id, Duration::from_secs(90)).await;
    assert_eq!(run.status, "succeeded", "{run:?}");
    let done = units(&db, id).await;
    assert!(done.iter().all(|(_, s, _)| s == "done"), "{done:?}");
    assert_eq!(
        done.iter().filter(|(_, _, attempts)| *attempts == 2).count(),
        1,
        "the killed unit, claimed again: {done:?}"
    );
    // Every judgment and battle stored once; only the killed unit's calls in flight repeated.
    assert_eq!(count(&db, "judgments").await, 2 * QUESTIONS as i64);
    assert_eq!(count(&db, "battles").await, QUESTIONS as i64);
    // (At most the killed worker's tasks under way: twice its concurrency, as above.)
    let repeated: usize = judge.calls_per_prompt().values().map(|n| n - 1).sum();
    assert!(repeated <= 2 * CONCURRENCY as usize, "{repeated} calls repeated");
    assert_eq!(judge.call_count(), 2 * QUESTIONS + repeated);
    // The run's own worker wrote the whole review file and the ratings.
    assert_eq!(read_jsonl(&dir.path().join("reviews/review.jsonl")).len(), QUESTIONS);
    assert!(dir.path().join("reports/rating.csv").is_file());
    let summary: Value = serde_json::from_str(run.summary.as_deref().unwrap()).unwrap();
    assert_eq!(summary["reviews"]["tasks"], QUESTIONS);
    // The judgments the units asked for count as made, not as cache hits (less those the killed
    // worker stored before it died: the unit that redid its share found them stored).
    let (calls, hits) =
        (summary["reviews"]["judge_calls"].as_u64().unwrap(), summary["reviews"]["cache_hits"].as_u64().unwrap());
    assert_eq!(calls + hits, 2 * QUESTIONS as u64, "{summary}");
    assert!(calls >= QUESTIONS as u64, "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evals_and_load_tests_submitted_from_the_command_line_are_done_by_a_worker() {
    let dir = tempfile::tempdir().unwrap();
    common::mock_completions::arc_easy_file(dir.path());
    let (completions, asked) = common::mock_completions::echo_completions().await;
    let (chat, chats) = common::mock_stream::scripted_server().await;
    let db = db_url(dir.path());
    let _worker = Worker::start(&db, 4);

    // An eval: the worker scores it and --wait --json prints its results.json.
    let mut eval = jury();
    eval.args(["eval", "--api-url", &completions, "--model-name", "served-model", "--datasets", "arc_easy"])
        .arg("--dataset-dir")
        .arg(dir.path())
        .args(["--db", &db, "--submit", "--wait", "--json"]);
    let out = tokio::task::spawn_blocking(move || run(&mut eval)).await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["results"]["arc_easy"]["acc,none"], 1.0, "{report}");
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 6);

    // A load test: two loads of four requests each, measured by the worker.
    let mut perf = jury();
    perf.args(["perf", "--url", &chat, "--model", "script", "--parallel", "1", "2", "--number", "4"])
        .arg("--outputs-dir")
        .arg(dir.path().join("perf"))
        .args(["--db", &db, "--submit", "--wait", "--json"]);
    let out = tokio::task::spawn_blocking(move || run(&mut perf)).await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(chats.load(std::sync::atomic::Ordering::SeqCst), 8, "{summary}");

    // What a queued test cannot do is refused before anything is queued.
    let out =
        run(jury().args(["perf", "--url", &chat, "--model", "script", "--number", "4", "8", "--db", &db, "--submit"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--number"), "{}", stderr(&out));
    let out = run(jury().args(["perf", "--url", &chat, "--model", "script", "--sla", "p99_ttft<=1s", "--submit"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // A worker told of a model file it does not have refuses to start.
    let out = run(jury().args(["worker", "--db", &db, "--models", "smol.gguf=/nonexistent/smol.gguf"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("smol.gguf=/nonexistent/smol.gguf: no such file"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eval_is_shared_among_workers_fifty_documents_a_unit() {
    const QUESTIONS: usize = 120;
    let dir = tempfile::tempdir().unwrap();
    common::mock_completions::arc_easy_questions(dir.path(), QUESTIONS);
    // Examples drawn at random before each question, from one generator in document order: a
    // unit must draw as the whole eval does, or the run's own pass would find other prompts.
    let arc = dir.path().join("arc/ARC-Easy");
    std::fs::copy(arc.join("test.jsonl"), arc.join("dev.jsonl")).unwrap();
    let (completions, asked) = common::mock_completions::echo_completions().await;
    let db = db_url(dir.path());
    let _first = Worker::start(&db, 4);
    let _second = Worker::start(&db, 4);

    let mut eval = jury();
    eval.args(["eval", "--api-url", &completions, "--model-name", "served-model", "--datasets", "arc_easy"])
        .args(["--few-shot", "3", "--dataset-dir"])
        .arg(dir.path())
        .args(["--db", &db, "--submit", "--wait", "--json"]);
    let out = tokio::task::spawn_blocking(move || run(&mut eval)).await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["results"]["arc_easy"]["acc,none"], 1.0, "{report}");
    assert_eq!(report["n-samples"]["arc_easy"]["effective"], QUESTIONS, "{report}");
    // Three units (50, 50, 20 documents), each done once; every request asked once, by the
    // units (the right choice and the shared wrong one per question), and counted as asked.
    let id = report["jury"]["run_id"].as_i64().unwrap();
    let done = units(&db, id).await;
    assert_eq!(done.len(), 3, "{done:?}");
    assert!(done.iter().all(|(_, s, attempts)| s == "done" && *attempts == 1), "{done:?}");
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 2 * QUESTIONS);
    assert_eq!(report["jury"]["asked"], 2 * QUESTIONS, "{report}");
    assert_eq!(report["jury"]["cache_hits"], QUESTIONS, "the wrong choices' second copies: {report}");
    // The samples are the whole eval's, in order.
    let store = Store::connect_existing(&db).await.unwrap();
    let (samples, total) = store.eval_samples(id, "arc_easy", false, 200, 0).await.unwrap();
    assert_eq!((samples.len(), total), (QUESTIONS, QUESTIONS as i64));
    store.close().await;

    // Asked afresh (--use-cache false): the units ask everything again, once; the eval's own
    // pass reads back what they stored rather than asking a third time.
    let mut again = jury();
    again
        .args(["eval", "--api-url", &completions, "--model-name", "served-model", "--datasets", "arc_easy"])
        .args(["--few-shot", "3", "--use-cache", "false", "--dataset-dir"])
        .arg(dir.path())
        .args(["--db", &db, "--submit", "--wait", "--json"]);
    let out = tokio::task::spawn_blocking(move || run(&mut again)).await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["results"]["arc_easy"]["acc,none"], 1.0, "{report}");
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 4 * QUESTIONS);
    assert_eq!(report["jury"]["asked"], 2 * QUESTIONS, "{report}");
}
