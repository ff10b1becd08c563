//! Browser end-to-end tests: a real `jury serve` driven by headless Chromium through
//! playwright-core (`tests/browser/e2e.mjs`). Needs Debian's `chromium` and
//! `npm ci --prefix tests/browser`; `.ci/run` installs both and sets JURY_REQUIRE_BROWSER=1 so
//! that a missing browser fails the run instead of skipping it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::server::{Settings, TestServer};

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

fn chromium() -> PathBuf {
    std::env::var_os("JURY_CHROMIUM").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// Why the browser tests cannot run here, if they cannot.
fn missing_prerequisite() -> Option<String> {
    if !chromium().exists() {
        return Some(format!("{} not found (apt-get install chromium)", chromium().display()));
    }
    if !browser_dir().join("node_modules/playwright-core").exists() {
        return Some("playwright-core not installed (npm ci --prefix tests/browser)".into());
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node not found".into());
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_uploads_runs_a_round_and_votes_in_chromium() {
    if let Some(why) = missing_prerequisite() {
        if std::env::var("JURY_REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!("browser tests are required but {why}");
        }
        eprintln!("skipping the browser tests: {why}");
        return;
    }
    // A server to run evals on from the page: a real endpoint echoing log-probabilities, and
    // three ARC-Easy questions in the server's dataset folder.
    let (endpoint, _) = common::mock_completions::echo_completions().await;
    // And a streaming chat endpoint to load-test from the page.
    let (streaming, _) = common::mock_stream::scripted_server().await;
    let data = tempfile::tempdir().unwrap();
    common::mock_completions::arc_easy_file(data.path());
    let server = TestServer::start(Settings {
        judges: vec![
            common::server::allowed_judge("echo", "served-model", &endpoint),
            common::server::allowed_judge("stream", "script", &streaming),
        ],
        dataset_dir: Some(data.path().to_path_buf()),
        ..Settings::default()
    })
    .await;
    seed_eval(&server.db).await;
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-artifacts");
    let _ = std::fs::remove_dir_all(&artifacts);

    let script = browser_dir().join("e2e.mjs");
    let out = tokio::process::Command::new("node")
        .arg(&script)
        .env("JURY_URL", &server.base)
        .env("JURY_ARTIFACTS", &artifacts)
        .env("JURY_CHROMIUM", chromium())
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    server.stop().await;
    assert!(
        out.status.success(),
        "browser checks failed (screenshots in {}):\n{stdout}\n{stderr}",
        artifacts.display()
    );
    let shots = std::fs::read_dir(&artifacts)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "png"))
        .count();
    assert!(shots >= 9, "expected a screenshot per step, found {shots}");
}

/// An eval as `jury eval` stores it: two ARC documents, one answered wrong, with markup in the
/// texts that must show as text.
async fn seed_eval(db: &str) {
    use jury::store::{NewSample, RunStatus, Store};
    let store = Store::connect(db).await.unwrap();
    let id = store.create_run("eval", r#"{"model": "browser-model"}"#, None, false).await.unwrap();
    let xss = "<script>window.__pwned = 3</script>";
    let samples = [
        serde_json::json!({"doc_id": 0, "prompt": "Question: Which is right?\nAnswer:", "choices": ["yes", "no"],
                           "target": "yes", "loglikelihoods": [-1.0, -3.0], "prediction": "yes", "correct": true}),
        serde_json::json!({"doc_id": 1, "prompt": format!("Question: {xss}?\nAnswer:"), "choices": [xss, "plain"],
                           "target": "plain", "loglikelihoods": [-0.5, -2.0], "prediction": xss, "correct": false}),
    ];
    let texts: Vec<String> = samples.iter().map(|s| s.to_string()).collect();
    let rows: Vec<NewSample<'_>> =
        texts.iter().enumerate().map(|(i, t)| NewSample { doc_id: i as i64, correct: i == 0, sample: t }).collect();
    store.save_eval_samples(id, "arc_easy", &rows).await.unwrap();
    let results = serde_json::json!({
        "results": {"arc_easy": {"alias": "arc_easy", "acc,none": 0.5, "acc_stderr,none": 0.5, "acc_norm,none": 0.5, "acc_norm_stderr,none": 0.5}},
        "groups": {}, "configs": {}, "n-samples": {"arc_easy": {"original": 2376, "effective": 2}}, "versions": {},
        "model": "browser-model",
    });
    store.finish_run(id, RunStatus::Succeeded, Some(&results.to_string()), None).await.unwrap();
    store.close().await;
}
