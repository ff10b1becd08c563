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
    let server = TestServer::start(Settings::default()).await;
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
    assert!(shots >= 8, "expected a screenshot per step, found {shots}");
}
