//! Shared helpers for jury's integration tests.

#![allow(dead_code)]

pub mod mock_completions;
pub mod mock_judge;
pub mod mock_stream;
pub mod server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

#[allow(unused_imports)]
pub use mock_judge::{Call, MockJudge, Reply, prefer, verdict_for};

/// The `jury` binary built for these tests.
pub fn jury() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jury"));
    cmd.env_remove("OPENAI_BASE_URL").env_remove("OPENAI_API_KEY").env_remove("JURY_DATABASE_URL");
    cmd.env("RUST_LOG", "warn");
    cmd
}

/// What the demo file's weights run as here (src/llm/transcode.rs): its Q4_1 matrices as they
/// are where jury's candle computes them in SIMD tiles (AVX-512 VNNI), in CUDA builds and with
/// `JURY_TRANSCODE=off`; else (or with `JURY_TRANSCODE=on`) as Q8_0.
#[cfg(feature = "local")]
pub fn demo_weights() -> &'static str {
    let (as_is, copy) = ("Q4_1, Q8_0", "Q4_1 → Q8_0 (transcoded at load)");
    if cfg!(feature = "cuda") {
        return as_is;
    }
    match std::env::var("JURY_TRANSCODE").unwrap_or_default().trim().to_lowercase().as_str() {
        "off" | "0" | "false" | "no" => as_is,
        "on" | "1" | "true" | "yes" => copy,
        _ if candle_core::quantized::k_quants::has_simd_q4_1_matmul() => as_is,
        _ => copy,
    }
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run jury")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn write(path: &Path, text: &str) -> PathBuf {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(path, text).unwrap();
    path.to_path_buf()
}

pub fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The database a test uses: a SQLite file in `dir`, or, when `JURY_TEST_POSTGRES` names a
/// PostgreSQL cluster (as `.ci/run` does for its second pass), a database of its own there
/// named after `dir` (so the same folder always gives the same database), which jury creates
/// on first use.
pub fn db_url(dir: &Path) -> String {
    match postgres_cluster() {
        Some(cluster) => postgres_database(&cluster, dir),
        None => format!("sqlite://{}", dir.join("jury.db").display()),
    }
}

/// The PostgreSQL cluster the tests run against, if any.
pub fn postgres_cluster() -> Option<String> {
    std::env::var("JURY_TEST_POSTGRES").ok().filter(|url| !url.is_empty())
}

/// The database on `cluster` that belongs to the test folder `dir`.
pub fn postgres_database(cluster: &str, dir: &Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    dir.hash(&mut hasher);
    let mut url = url::Url::parse(cluster).expect("JURY_TEST_POSTGRES is a URL");
    url.set_path(&format!("jury_test_{:016x}", hasher.finish()));
    url.to_string()
}

/// Questions 1..=n in llmuses' shape, with categories cycling through general ones.
pub fn questions(n: usize) -> String {
    (1..=n)
        .map(|i| {
            json!({"question_id": i, "text": format!("Question number {i}?"), "category": "generic"}).to_string() + "\n"
        })
        .collect()
}

/// An llmuses answer file for `model`, answering questions 1..=n with `text(i)`.
pub fn answers(model: &str, n: usize, text: impl Fn(usize) -> String) -> String {
    (1..=n)
        .map(|i| {
            json!({
                "question_id": i,
                "text": format!("Question number {i}?"),
                "category": "generic",
                "model_id": model,
                "metadata": {},
                "answer": text(i),
            })
            .to_string()
                + "\n"
        })
        .collect()
}

/// A config that reviews existing answer files with a judge at `judge_url`.
pub fn review_config(
    judge_url: &str,
    mode: &str,
    bias: &str,
    targets: &[&str],
    extra_args: &str,
    extra_reviews: &str,
    metrics: &str,
) -> String {
    let targets = targets.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(", ");
    format!(
        "answers_gen: {{}}\n\
         reviews_gen:\n  enable: true\n  reviewer:\n    args:\n      model: mock-judge\n      api_base: {judge_url}\n      \
         api_key_env: JURY_TEST_KEY\n      mode: {mode}\n      position_bias_mitigation: {bias}\n      \
         timeout: 5\n{extra_args}\n  target_answers: [{targets}]\n  review_file: reviews/review.jsonl\n{extra_reviews}\n\
         rating_gen:\n  enable: true\n  metrics: {metrics}\n  report_file: reports/rating.csv\n"
    )
}

/// Answer files for `strong` (whose answers carry the marker the mock judge prefers) and `weak`.
pub fn write_strong_and_weak(dir: &Path, n: usize) {
    write(&dir.join("answers/strong.jsonl"), &answers("strong", n, |i| format!("GOOD answer {i}")));
    write(&dir.join("answers/weak.jsonl"), &answers("weak", n, |i| format!("bad answer {i}")));
}

/// `dir/cfg.yaml`: a pairwise review of strong against weak by the judge at `judge_url`.
pub fn strong_vs_weak_config(dir: &Path, judge_url: &str, bias: &str, extra_reviews: &str) -> PathBuf {
    let targets = ["answers/strong.jsonl", "answers/weak.jsonl"];
    write(
        &dir.join("cfg.yaml"),
        &review_config(judge_url, "pairwise", bias, &targets, "", extra_reviews, "['pairwise']"),
    )
}

/// Loads and runs a config in-process, as `jury arena` would.
pub async fn run_config(config_path: &Path, db: &str, dry_run: bool, concurrency: usize) -> jury::arena::ArenaSummary {
    let config = jury::config::load_arena_config(config_path).unwrap_or_else(|e| panic!("config: {e}"));
    let store = jury::store::Store::connect(db).await.unwrap();
    let options = jury::arena::ArenaOptions { dry_run, concurrency, ..Default::default() };
    let summary = jury::arena::run_arena(&config, "", &store, &options).await.unwrap_or_else(|e| panic!("run: {e}"));
    store.close().await;
    summary
}

pub async fn open_db(db: &str) -> sqlx::AnyPool {
    jury::store::Store::connect(db).await.unwrap().pool().clone()
}

/// Runs `jury perf` against `url` with `args` (its own database and output folder); its exit
/// code, `--json` output and standard error.
pub async fn perf(url: &str, args: &[&str]) -> (i32, Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = jury();
    cmd.args(["perf", "--url", url, "--json", "--no-progress", "--outputs-dir"]).arg(dir.path()).args(args);
    cmd.arg("--db").arg(db_url(dir.path()));
    let out = tokio::task::spawn_blocking(move || run(&mut cmd)).await.unwrap();
    let json = serde_json::from_str(&stdout(&out)).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), json, stderr(&out))
}
