//! `jury serve` under load: the real binary on loopback over a database of 100 models,
//! 1,000 questions, 100,000 answers and 100,000 judge battles.
//!
//!     cargo bench --bench serve_load
//!
//! Measures the leaderboard page (`/`) at a fixed 200 requests/s (open loop: latency counts
//! from when each request was due, so a stall is not hidden by the client waiting), the most
//! requests/s it serves with 32 connections, the vote round trip (`/api/vote/next` then
//! `POST /api/vote/{id}`), and the page at 200 requests/s while votes keep changing the human
//! and combined boards. Prints one JSON line at the end.
//!
//! With `JURY_BENCH_POSTGRES=postgres://…/postgres` the seeded database is copied (`jury db
//! copy`) to a fresh database on that server, and `JURY_BENCH_REPLICAS` servers (2 by default
//! there, 1 on SQLite) share it, the client spreading requests over them as a proxy would:
//!
//!     JURY_BENCH_POSTGRES=$(scripts/throwaway-postgres.sh start /tmp/pg) cargo bench --bench serve_load

use std::collections::HashSet;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jury::data::{QuestionId, parse_questions};
use jury::rating::percentile::quantile;
use jury::store::{AnswerImport, Store};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde_json::{Value, json};
use sqlx::Connection;

const MODELS: usize = 100;
const QUESTIONS: usize = 1_000;
const BATTLES: usize = 100_000;
const PAGE_RATE: f64 = 200.0;
const OPEN_LOOP: Duration = Duration::from_secs(20);
const CLOSED_LOOP: Duration = Duration::from_secs(10);
const CONNECTIONS: usize = 32;
const VOTE_RATE: f64 = 20.0;

/// Seeds the database: the questions and answers through the store, as an upload would, and
/// the battles in one transaction (a judge run would write them over hours).
async fn seed(path: &Path) {
    let url = format!("sqlite://{}", path.display());
    let store = Store::connect(&url).await.unwrap();
    let lines: String = (0..QUESTIONS)
        .map(|q| {
            let category = ["writing", "math", "coding", "reasoning"][q % 4];
            json!({"question_id": q, "text": format!("Question {q}: explain topic {q} briefly."), "category": category})
                .to_string()
                + "\n"
        })
        .collect();
    let questions = parse_questions(&lines, Path::new("bench.jsonl")).unwrap();
    let set = store.create_question_set("bench", None, &questions).await.unwrap();
    let ids: Vec<QuestionId> = questions.iter().map(|q| q.id.clone()).collect();
    let models: Vec<String> = (0..MODELS).map(|m| format!("model-{m:03}")).collect();
    let texts: Vec<String> =
        (0..QUESTIONS * MODELS).map(|i| format!("Answer {i}: {}", "lorem ipsum ".repeat(20))).collect();
    let rows: Vec<AnswerImport> = (0..QUESTIONS * MODELS)
        .map(|i| AnswerImport {
            question_id: &ids[i / MODELS],
            question_text: &questions[i / MODELS].text,
            category: &questions[i / MODELS].category,
            model: &models[i % MODELS],
            answer: &texts[i],
        })
        .collect();
    let imported = store.import_answers(set, &rows).await.unwrap();
    store.close().await;

    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let normal = Normal::new(0.0, 0.6).unwrap();
    let strength: Vec<f64> = (0..MODELS).map(|_| normal.sample(&mut rng)).collect();
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    let mut seen = HashSet::new();
    while seen.len() < BATTLES {
        let q = rng.random_range(0..QUESTIONS);
        let a = rng.random_range(0..MODELS);
        let b = (a + rng.random_range(1..MODELS)) % MODELS;
        if !seen.insert((q, a, b)) {
            continue;
        }
        let p = 1.0 / (1.0 + 10f64.powf(strength[b] - strength[a]));
        let winner = if rng.random::<f64>() < 0.1 {
            "tie"
        } else if rng.random::<f64>() < p {
            "model_a"
        } else {
            "model_b"
        };
        let (x, y) = (imported[q * MODELS + a], imported[q * MODELS + b]);
        sqlx::query(
            "INSERT INTO battles (question_id, answer_a_id, answer_b_id, model_a_id, model_b_id, winner, source, judge_model) \
             VALUES ($1, $2, $3, $4, $5, $6, 'judge', 'bench-judge')",
        )
        .bind(x.question)
        .bind(x.answer)
        .bind(y.answer)
        .bind(x.model)
        .bind(y.model)
        .bind(winner)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(db: &str, dir: &Path) -> (Server, String) {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let registry = dir.join("registry");
    std::fs::create_dir_all(&registry).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_jury"))
        .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--votes-per-minute", "0"])
        .args(["--db", db])
        .arg("--registry")
        .arg(&registry)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    (Server(child), format!("http://127.0.0.1:{port}"))
}

#[derive(Default)]
struct Latencies {
    ms: Vec<f64>,
    errors: usize,
}

impl Latencies {
    fn merge(&mut self, other: Latencies) {
        self.ms.extend(other.ms);
        self.errors += other.errors;
    }

    fn summary(&mut self, elapsed: Duration) -> Value {
        let n = self.ms.len();
        let mut q = |p| (quantile(&mut self.ms, p).unwrap_or(f64::NAN) * 100.0).round() / 100.0;
        json!({
            "requests": n, "errors": self.errors,
            "per_s": (n as f64 / elapsed.as_secs_f64()).round(),
            "p50_ms": q(0.5), "p90_ms": q(0.9), "p99_ms": q(0.99), "max_ms": q(1.0),
        })
    }
}

async fn get_page(client: reqwest::Client, url: String) -> bool {
    match client.get(url).send().await {
        Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
        _ => false,
    }
}

/// One vote: ask for a battle, vote on it. Returns whether both steps succeeded.
async fn vote(client: reqwest::Client, base: String, n: usize) -> bool {
    let Ok(r) = client.get(format!("{base}/api/vote/next")).send().await else { return false };
    let Ok(next) = r.json::<Value>().await else { return false };
    let Some(id) = next["battle_id"].as_i64() else { return false };
    let winner = ["model_a", "model_b", "tie", "model_a"][n % 4];
    matches!(
        client
            .post(format!("{base}/api/vote/{id}"))
            .header("x-requested-with", "serve-load")
            .json(&json!({"winner": winner}))
            .send()
            .await,
        Ok(r) if r.status().is_success()
    )
}

/// Sends `job` at a fixed rate for `length`; each latency counts from when it was due.
async fn open_loop<F, Fut>(rate: f64, length: Duration, job: F) -> Latencies
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let start = tokio::time::Instant::now();
    let total = (rate * length.as_secs_f64()) as usize;
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(due).await;
        let fut = job(i);
        tasks.push(tokio::spawn(async move {
            let ok = fut.await;
            (ok, due.elapsed().as_secs_f64() * 1e3)
        }));
    }
    let mut out = Latencies::default();
    for t in tasks {
        let (ok, ms) = t.await.unwrap();
        if ok {
            out.ms.push(ms);
        } else {
            out.errors += 1;
        }
    }
    out
}

/// `connections` workers each sending `job` back to back for `length`.
async fn closed_loop<F, Fut>(connections: usize, length: Duration, job: F) -> Latencies
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let job = Arc::new(job);
    let end = Instant::now() + length;
    let workers: Vec<_> = (0..connections)
        .map(|w| {
            let job = job.clone();
            tokio::spawn(async move {
                let mut out = Latencies::default();
                let mut n = w;
                while Instant::now() < end {
                    let t = Instant::now();
                    if job(n).await {
                        out.ms.push(t.elapsed().as_secs_f64() * 1e3);
                    } else {
                        out.errors += 1;
                    }
                    n += connections;
                }
                out
            })
        })
        .collect();
    let mut out = Latencies::default();
    for w in workers {
        out.merge(w.await.unwrap());
    }
    out
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bench.db");
    let t = Instant::now();
    seed(&db).await;
    eprintln!("seeded {MODELS} models, {QUESTIONS} questions, {BATTLES} battles in {:.1} s", t.elapsed().as_secs_f64());

    let sqlite = format!("sqlite://{}", db.display());
    let postgres = std::env::var("JURY_BENCH_POSTGRES").ok();
    let url = match &postgres {
        Some(server) => {
            let base = server.rsplit_once('/').map(|(base, _)| base.to_string()).unwrap_or(server.clone());
            let url = format!("{base}/jury_serve_bench_{}", std::process::id());
            let t = Instant::now();
            let copied = Command::new(env!("CARGO_BIN_EXE_jury"))
                .args(["db", "copy", "--no-progress", "--from", &sqlite, "--to", &url])
                .status()
                .unwrap();
            assert!(copied.success(), "jury db copy failed");
            eprintln!("copied to PostgreSQL in {:.1} s", t.elapsed().as_secs_f64());
            url
        }
        None => sqlite,
    };
    let replicas: usize = std::env::var("JURY_BENCH_REPLICAS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(if postgres.is_some() { 2 } else { 1 });
    let (mut servers, mut bases) = (Vec::new(), Vec::new());
    for r in 0..replicas {
        let data = dir.path().join(format!("replica-{r}"));
        let (server, base) = start_server(&url, &data);
        servers.push(server);
        bases.push(base);
    }
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build().unwrap();
    for base in &bases {
        let t = Instant::now();
        while tokio::net::TcpStream::connect(base.trim_start_matches("http://")).await.is_err() {
            assert!(t.elapsed() < Duration::from_secs(60), "the server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let bases = Arc::new(bases);
    // Request n goes to replica n mod R, as a round-robin proxy would send it.
    let page_job = {
        let (c, b) = (client.clone(), bases.clone());
        move |n: usize| get_page(c.clone(), format!("{}/", b[n % b.len()]))
    };
    let vote_job = {
        let (c, b) = (client.clone(), bases.clone());
        move |n: usize| vote(c.clone(), b[n % b.len()].clone(), n)
    };
    let t = Instant::now();
    assert!(page_job(0).await, "the leaderboard page failed");
    let cold_ms = t.elapsed().as_secs_f64() * 1e3;
    eprintln!("first page (fits the ratings): {cold_ms:.0} ms");
    for n in 0..50 {
        page_job(n).await;
    }
    for r in 1..replicas {
        assert!(page_job(r).await, "the leaderboard page failed at replica {r}");
    }

    let page_open = open_loop(PAGE_RATE, OPEN_LOOP, page_job.clone()).await.summary(OPEN_LOOP);
    eprintln!("/ at {PAGE_RATE} req/s: {page_open}");
    let page_max = closed_loop(CONNECTIONS, CLOSED_LOOP, page_job.clone()).await.summary(CLOSED_LOOP);
    eprintln!("/ with {CONNECTIONS} connections: {page_max}");
    let vote_max = closed_loop(CONNECTIONS, CLOSED_LOOP, vote_job.clone()).await.summary(CLOSED_LOOP);
    eprintln!("votes with {CONNECTIONS} connections: {vote_max}");

    // The page while votes keep arriving: each vote invalidates the human and combined boards.
    let voting = tokio::spawn(open_loop(VOTE_RATE, OPEN_LOOP, vote_job));
    let page_voting = open_loop(PAGE_RATE, OPEN_LOOP, page_job).await.summary(OPEN_LOOP);
    let votes_during = voting.await.unwrap().summary(OPEN_LOOP);
    eprintln!("/ at {PAGE_RATE} req/s while {VOTE_RATE} votes/s: {page_voting}; votes: {votes_during}");

    println!(
        "{}",
        json!({
            "bench": "serve_load", "models": MODELS, "battles": BATTLES,
            "database": if postgres.is_some() { "postgres" } else { "sqlite" }, "replicas": replicas,
            "first_page_ms": cold_ms.round(),
            "page_open_loop": page_open, "page_closed_loop": page_max,
            "votes_closed_loop": vote_max,
            "page_while_voting": page_voting, "votes_while_paging": votes_during,
        })
    );
}
