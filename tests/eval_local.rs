//! `jury eval` end to end on the real SmolLM2 model: ARC and MMLU by log-likelihood, the
//! lm-eval-shaped report, the request cache, and a killed eval resuming without asking again.

#![cfg(feature = "local")]

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

fn model() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    jury::llm::demo::ensure_demo_model(&path).unwrap();
    path
}

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets")
}

fn eval(db: &str, args: &[&str]) -> std::process::Command {
    let mut cmd = jury();
    cmd.arg("eval").arg("--model").arg(model()).arg("--dataset-dir").arg(shared()).args(["--db", db]).args(args);
    cmd
}

/// Requests stored; 0 while the eval has not created its database yet.
fn count_requests(db: &str) -> i64 {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let Ok(store) = jury::store::Store::connect_existing(db).await else { return 0 };
        let n = store.count_eval_requests().await.unwrap();
        store.close().await;
        n
    })
}

#[test]
fn arc_and_mmlu_by_log_likelihood_with_an_lm_eval_report_and_a_cache() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_url(dir.path());
    let out_dir = dir.path().join("out");
    let args = [
        "--datasets",
        "arc_easy",
        "mmlu",
        "--limit",
        "2",
        // Few-shot prompts are checked in eval_datasets.rs; here they would only slow the model.
        "--dataset-args",
        r#"{"mmlu": {"subset_list": ["anatomy", "philosophy"], "few_shot_num": 0}}"#,
        "--json",
        "--output",
    ];
    let out = common::run(eval(&db, &args).arg(&out_dir));
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    // 2 ARC documents x 4 choices, 2 subjects x 2 documents x 4 choices.
    assert_eq!(report["jury"]["requests"], 24, "{report}");
    assert_eq!(report["jury"]["asked"], 24);
    let arc = &report["results"]["arc_easy"];
    for key in ["acc,none", "acc_stderr,none", "acc_norm,none", "acc_norm_stderr,none"] {
        assert!(arc[key].is_f64(), "{key}: {arc}");
    }
    assert_eq!(report["n-samples"]["arc_easy"]["effective"], 2);
    assert_eq!(report["n-samples"]["arc_easy"]["original"], 2376);
    assert_eq!(report["configs"]["mmlu_anatomy"]["num_fewshot"], 0);
    assert!(report["results"]["mmlu_anatomy"].get("acc_norm,none").is_none(), "MMLU reports acc only");
    // The groups: the category (weighted by size) and MMLU over both subjects.
    let (anatomy, philosophy) = (
        report["results"]["mmlu_anatomy"]["acc,none"].as_f64().unwrap(),
        report["results"]["mmlu_philosophy"]["acc,none"].as_f64().unwrap(),
    );
    let mmlu = report["groups"]["mmlu"]["acc,none"].as_f64().unwrap();
    assert!((mmlu - (anatomy + philosophy) / 2.0).abs() < 1e-12, "equal sizes: the plain mean");
    assert_eq!(report["groups"]["mmlu_stem"]["acc,none"].as_f64().unwrap(), anatomy);
    assert_eq!(report["groups"]["mmlu_humanities"]["acc,none"].as_f64().unwrap(), philosophy);
    // Files: results.json as printed, one sample line per document, in order.
    let written: Value = serde_json::from_str(&std::fs::read_to_string(out_dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(written["results"], report["results"]);
    let samples = read_jsonl(&out_dir.join("samples_arc_easy.jsonl"));
    assert_eq!(samples.iter().map(|s| s["doc_id"].as_u64().unwrap()).collect::<Vec<_>>(), [0, 1]);
    let first = &samples[0];
    assert_eq!(first["id"], "Mercury_417466");
    assert_eq!(first["loglikelihoods"].as_array().unwrap().len(), 4);
    assert!(first["loglikelihoods"].as_array().unwrap().iter().all(|l| l.as_f64().unwrap() < 0.0));
    let correct = samples.iter().filter(|s| s["correct"] == true).count() as f64;
    assert!((correct / 2.0 - arc["acc,none"].as_f64().unwrap()).abs() < 1e-12);
    let mmlu_sample = &read_jsonl(&out_dir.join("samples_mmlu_anatomy.jsonl"))[0];
    assert!(
        mmlu_sample["prompt"]
            .as_str()
            .unwrap()
            .starts_with("The following are multiple choice questions (with answers) about anatomy.\n\n")
    );
    assert_eq!(mmlu_sample["choices"], serde_json::json!(["A", "B", "C", "D"]));

    // Again: every request from the cache, the same numbers.
    let out = common::run(eval(&db, &args).arg(&out_dir));
    assert!(out.status.success(), "{}", stderr(&out));
    let again: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!((again["jury"]["asked"].as_u64(), again["jury"]["cache_hits"].as_u64()), (Some(0), Some(24)));
    assert_eq!(again["results"], report["results"]);
    assert_eq!(count_requests(&db), 24);
}

#[test]
fn a_killed_eval_resumes_without_asking_anything_twice() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_url(dir.path());
    let args = ["--datasets", "arc_challenge", "--limit", "4", "--json", "--no-progress"];
    let mut child = eval(&db, &args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let t = Instant::now();
    while count_requests(&db) < 4 {
        assert!(t.elapsed() < Duration::from_secs(120), "the eval stored nothing");
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let stored = count_requests(&db);
    assert!((4..16).contains(&stored), "killed mid-way: {stored}");
    let out = common::run(&mut eval(&db, &args));
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["jury"]["cache_hits"].as_i64().unwrap(), stored);
    assert_eq!(report["jury"]["asked"].as_i64().unwrap(), 16 - stored);
    assert_eq!(count_requests(&db), 16, "every request stored once");
}

#[test]
fn an_evalscope_task_config_runs_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_url(dir.path());
    // Relative paths resolve against the config's folder, as in EvalScope's run_task dict.
    std::fs::create_dir_all(dir.path().join("models")).unwrap();
    std::fs::copy(model(), dir.path().join("models/smol.gguf")).unwrap();
    let cfg = write(
        &dir.path().join("task.yaml"),
        &format!(
            "model: models/smol.gguf\ndatasets: [arc_easy]\ndataset_dir: {}\ndataset_hub: Local\nlimit: 1\n\
             work_dir: outputs\nuse_cache: true\ntemplate_type: chatml\neval_type: checkpoint\ncolour: blue\n",
            shared().display()
        ),
    );
    let out = common::run(jury().args(["eval", "-c"]).arg(&cfg).args(["--db", &db, "--target", "arc_easy=50"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("task.yaml:10: colour: unknown key, ignored"), "{err}");
    assert!(err.contains("task.yaml:8: template_type: ignored"), "{err}");
    let table = stdout(&out);
    assert!(table.contains("Target %") && table.contains("50.00") && table.contains("Delta"), "{table}");
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("outputs/results.json")).unwrap()).unwrap();
    assert_eq!(results["n-samples"]["arc_easy"]["effective"], 1);
    // --use-cache false asks again (and keeps the cache current).
    let out = common::run(jury().args(["eval", "-c"]).arg(&cfg).args(["--db", &db, "--use-cache", "false", "--json"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let again: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(again["jury"]["asked"], 4);
    assert_eq!(again["results"], results["results"]);
}

#[test]
fn gsm8k_by_generation_with_lm_evals_filters() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_url(dir.path());
    let out_dir = dir.path().join("out");
    let args = ["--datasets", "gsm8k", "--limit", "1", "--few-shot", "0", "--json", "--output"];
    let out = common::run(eval(&db, &args).arg(&out_dir));
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let gsm8k = &report["results"]["gsm8k"];
    for key in ["exact_match,strict-match", "exact_match,flexible-extract"] {
        let v = gsm8k[key].as_f64().unwrap_or_else(|| panic!("{key}: {gsm8k}"));
        assert!(v == 0.0 || v == 1.0);
    }
    assert_eq!(report["configs"]["gsm8k"]["output_type"], "generate_until");
    let sample = &read_jsonl(&out_dir.join("samples_gsm8k.jsonl"))[0];
    assert!(!sample["output"].as_str().unwrap().contains("Question:"), "cut at the stop sequence: {sample}");
    assert!(sample["filtered"]["strict-match"].is_string() && sample["filtered"]["flexible-extract"].is_string());
    assert!(sample["target"].as_str().unwrap().ends_with("#### 18"));
    let out = common::run(eval(&db, &args).arg(&out_dir));
    let again: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!((again["jury"]["asked"].as_u64(), again["jury"]["cache_hits"].as_u64()), (Some(0), Some(1)));
    assert_eq!(again["results"], report["results"]);
}

#[test]
fn perplexity_of_a_text_on_the_real_model() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_url(dir.path());
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut cmd = jury();
    cmd.arg("eval").arg("--model").arg(model()).arg("--dataset-dir").arg(&fixtures).args(["--db", &db]);
    let out = common::run(cmd.args(["--datasets", "perplexity", "--json"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let notes = &report["results"]["perplexity_notes"];
    let word = notes["word_perplexity,none"].as_f64().unwrap();
    let byte = notes["byte_perplexity,none"].as_f64().unwrap();
    let bits = notes["bits_per_byte,none"].as_f64().unwrap();
    assert!(word.is_finite() && word > 1.0 && byte > 1.0, "{report}");
    // Bits per byte and byte perplexity are one number in two units; a 135M model needs more
    // than half a bit and less than eight per byte of plain English.
    assert!((byte.log2() - bits).abs() < 1e-9 && bits > 0.5 && bits < 8.0, "{report}");
    let samples = count_requests(&db);
    assert_eq!(samples, 3, "one request per document");
}

/// Q4_1 weights have no fast kernel on CPUs without AVX-512 VNNI: jury writes a Q8_0 copy once
/// into its cache and scores with it (`JURY_TRANSCODE=on` makes it do so on any CPU). The copy
/// must choose as the file itself does, with close log-likelihoods, and the cache must keep
/// results of the two apart.
#[test]
fn q4_1_weights_are_transcoded_once_and_choose_as_the_file_does() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let args = ["--datasets", "arc_easy", "--limit", "8", "--few-shot", "0", "--json", "--no-progress", "--output"];
    let run = |transcode: &str, name: &str| {
        let out_dir = dir.path().join(name);
        std::fs::create_dir_all(&out_dir).unwrap();
        let db = db_url(&out_dir);
        let out =
            common::run(eval(&db, &args).arg(&out_dir).env("JURY_CACHE_DIR", &cache).env("JURY_TRANSCODE", transcode));
        assert!(out.status.success(), "{}", stderr(&out));
        let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
        (report, read_jsonl(&out_dir.join("samples_arc_easy.jsonl")))
    };
    let (transcoded, transcoded_samples) = run("on", "on");
    let copies: Vec<_> = std::fs::read_dir(cache.join("transcoded")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(copies.len(), 1, "one cached copy, no temporary left: {copies:?}");
    let copy = &copies[0];
    assert!(copy.to_string_lossy().ends_with(".q4_1.q8_0.gguf"), "{copy:?}");
    let written = std::fs::metadata(copy).unwrap().modified().unwrap();

    let (as_is, as_is_samples) = run("off", "off");
    let identity = |r: &Value| r["model_identity"].as_str().unwrap().to_string();
    assert!(identity(&transcoded).ends_with(" as Q8_0"), "{}", identity(&transcoded));
    assert!(!identity(&as_is).contains(" as "), "{}", identity(&as_is));
    // The report says what ran: file, weights, threads and sequences.
    let engine = |r: &Value| r["jury"]["local_model"].as_str().unwrap_or_default().to_string();
    let threads = format!("{} threads", jury::llm::engine_threads());
    for (report, transcoded) in [(&transcoded, true), (&as_is, false)] {
        let line = engine(report);
        assert!(line.starts_with("SmolLM2-135M-Instruct.Q4_1.gguf: Q4_1"), "{line}");
        assert_eq!(line.contains(" → Q8_0 (transcoded at load), "), transcoded, "{line}");
        assert!(line.ends_with(&format!(", {threads}, 1 sequence at a time")), "{line}");
    }

    let argmax = |lls: &Value| {
        let lls: Vec<f64> = lls.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        (0..lls.len()).max_by(|&a, &b| lls[a].total_cmp(&lls[b])).unwrap()
    };
    let mut same_choice = 0;
    for (t, o) in transcoded_samples.iter().zip(&as_is_samples) {
        same_choice += usize::from(argmax(&t["loglikelihoods"]) == argmax(&o["loglikelihoods"]));
        let pairs = t["loglikelihoods"].as_array().unwrap().iter().zip(o["loglikelihoods"].as_array().unwrap());
        for (a, b) in pairs {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            assert!((a - b).abs() < 1.5 && (a - b).abs() / b.abs() < 0.1, "{a} (Q8_0) against {b} (Q4_1)");
        }
    }
    assert!(same_choice >= 7, "the same choice on {same_choice} of 8 questions");

    // A second load reuses the copy.
    run("on", "again");
    assert_eq!(std::fs::metadata(copy).unwrap().modified().unwrap(), written);
}

/// An eval's page says what ran the local model: file, weights (and any transcoding), threads and
/// sequences; an endpoint's page has no such line (`tests/eval_endpoint.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eval_page_says_what_ran_the_local_model() {
    let server = common::server::TestServer::start(common::server::Settings::default()).await;
    let db = server.db.clone();
    let out = tokio::task::spawn_blocking(move || {
        common::run(&mut eval(&db, &["--datasets", "arc_easy", "--limit", "2", "--few-shot", "0", "--no-progress"]))
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let threads = jury::llm::engine_threads();
    let weights = common::demo_weights();
    let line = format!("SmolLM2-135M-Instruct.Q4_1.gguf: {weights}, {threads} threads, 1 sequence at a time");
    assert!(stderr(&out).contains(&format!("local model: {line}")), "{}", stderr(&out));
    let id = server.get_json("/api/evals").await[0]["id"].as_i64().unwrap();
    let (_, page) = common::server::Browser::new().get(&server.url(&format!("/evals/{id}"))).await;
    assert!(page.contains(&format!("Local model: {line}")), "{page}");
}
