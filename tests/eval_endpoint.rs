//! `jury eval` against an OpenAI-compatible endpoint that echoes prompts with their
//! log-probabilities (a mock server on 127.0.0.1:0 playing vLLM's /v1/completions).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::post;
use common::*;
use serde_json::{Value, json};

/// The echoing server of `common::mock_completions`.
async fn mock() -> (String, Arc<AtomicUsize>) {
    common::mock_completions::echo_completions().await
}

/// `jury eval` against the server at `url` on the datasets in `data`, from async code.
async fn eval_at(url: &str, model: &str, datasets: &str, data: &std::path::Path, db: &str) -> std::process::Output {
    eval_with(url, model, datasets, data, db, &[]).await
}

/// The same, with more arguments.
async fn eval_with(
    url: &str,
    model: &str,
    datasets: &str,
    data: &std::path::Path,
    db: &str,
    extra: &[&str],
) -> std::process::Output {
    let (url, model, datasets, data, db) =
        (url.to_string(), model.to_string(), datasets.to_string(), data.to_path_buf(), db.to_string());
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        run(jury()
            .args(["eval", "--api-url", &url, "--model", &model, "--json", "--db", &db, "--datasets"])
            .args(datasets.split_whitespace())
            .args(&extra)
            .arg("--dataset-dir")
            .arg(&data))
    })
    .await
    .unwrap()
}

/// A server whose `/v1/completions` answers each prompt with `reply(prompt)`; every request
/// body is kept.
async fn generation_mock(reply: fn(&str) -> String) -> (String, Arc<std::sync::Mutex<Vec<Value>>>) {
    let seen = Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let app = Router::new()
        .route(
            "/v1/completions",
            post(move |State(seen): State<Arc<std::sync::Mutex<Vec<Value>>>>, Json(body): Json<Value>| async move {
                seen.lock().unwrap().push(body.clone());
                let text = reply(body["prompt"].as_str().unwrap());
                Json(json!({"choices": [{"index": 0, "text": text, "finish_reason": "stop"}]}))
            }),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

fn arc_file(dir: &std::path::Path) {
    common::mock_completions::arc_easy_file(dir);
}

#[tokio::test]
async fn an_endpoint_that_echoes_log_probabilities_is_scored_and_cached() {
    let dir = tempfile::tempdir().unwrap();
    arc_file(dir.path());
    let (url, calls) = mock().await;
    let db = db_url(dir.path());
    let eval = |url: String| {
        let db = db.clone();
        let data = dir.path().to_path_buf();
        tokio::task::spawn_blocking(move || {
            run(jury()
                .args(["eval", "--api-url", &url, "--model-name", "served-model", "--datasets", "arc_easy"])
                .arg("--dataset-dir")
                .arg(&data)
                .args(["--db", &db, "--json"]))
        })
    };
    let out = eval(url.clone()).await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["results"]["arc_easy"]["acc,none"], 1.0, "the likely choice is the right one: {report}");
    // 9 choices, but the two wrong choices of a question are one request: asked once.
    assert_eq!((report["jury"]["requests"].as_u64(), report["jury"]["asked"].as_u64()), (Some(9), Some(6)));
    assert_eq!(calls.load(Ordering::SeqCst), 6);
    assert!(report["model"].as_str().unwrap().contains("served-model"));
    // The same server again: nothing asked.
    let out = eval(url.clone()).await.unwrap();
    let again: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(again["jury"]["cache_hits"], 9);
    assert_eq!(calls.load(Ordering::SeqCst), 6);
    // Another server with the same model name is another model: asked afresh.
    let (other, other_calls) = mock().await;
    let out = eval(other).await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(other_calls.load(Ordering::SeqCst), 6);
}

#[tokio::test]
async fn an_endpoint_without_prompt_log_probabilities_is_scored_by_generation_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    arc_file(dir.path());
    // No logprobs at all; its answer names the right choice of every question.
    let (url, seen) = generation_mock(|_| " The right one, I think.\n\nQuestion: next".into()).await;
    let out = eval_at(&url, "m", "arc_easy", dir.path(), &db_url(dir.path())).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot score by log-likelihood") && stderr(&out).contains("scored by generation"));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["results"]["arc_easy"]["acc,none"], 1.0, "{report}");
    assert!(report["results"]["arc_easy"].get("acc_norm,none").is_none(), "no acc_norm from a generation");
    assert_eq!(report["configs"]["arc_easy"]["scored_by"], "generation");
    assert_eq!(report["configs"]["arc_easy"]["output_type"], "generate_until");
    // One log-likelihood request found the server out; then one generation per question.
    let bodies = seen.lock().unwrap().clone();
    assert_eq!(bodies.iter().filter(|b| b["echo"] == true).count(), 1);
    assert_eq!(bodies.iter().filter(|b| b.get("echo").is_none()).count(), 3);
}

#[tokio::test]
async fn gsm8k_through_an_endpoint_reads_its_answers_as_lm_eval_does() {
    let dir = tempfile::tempdir().unwrap();
    let doc = |q: &str, a: &str| json!({"question": q, "answer": format!("Some steps.\n#### {a}")}).to_string() + "\n";
    write(&dir.path().join("gsm8k/test.jsonl"), &(doc("What is 2+2?", "4") + &doc("What is 3+3?", "6")));
    write(
        &dir.path().join("gsm8k/train.jsonl"),
        &(1..=5).map(|i| doc(&format!("Example {i}?"), &i.to_string())).collect::<String>(),
    );
    let (url, seen) = generation_mock(|prompt| {
        // Right about 2+2, wrong about 3+3; it runs on past the stop sequence.
        let answer = if prompt.ends_with("What is 2+2?\nAnswer:") { "4" } else { "7" };
        format!(" 2 and 2 make {answer}.\n#### {answer}\n\nQuestion: next")
    })
    .await;
    let out = eval_at(&url, "m", "gsm8k", dir.path(), &db_url(dir.path())).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["results"]["gsm8k"]["exact_match,strict-match"], 0.5, "{report}");
    assert_eq!(report["results"]["gsm8k"]["exact_match,flexible-extract"], 0.5);
    assert_eq!(report["configs"]["gsm8k"]["num_fewshot"], 5);
    let bodies = seen.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0]["stop"], json!(["Question:", "</s>", "<|im_end|>"]));
    assert_eq!(bodies[0]["temperature"], 0);
    // Five examples before each question, each with its whole answer.
    assert_eq!(bodies[0]["prompt"].as_str().unwrap().matches("#### ").count(), 5);
}

#[tokio::test]
async fn bbh_through_an_endpoint_prompts_the_worked_examples_and_reads_the_answer_is() {
    let dir = tempfile::tempdir().unwrap();
    let task = "web_of_lies";
    let examples = json!({"canary": "c", "examples": [
        {"input": "Does Ka tell the truth?", "target": "Yes"},
        {"input": "Does Bo tell the truth?", "target": "No"}]});
    write(&dir.path().join(format!("bbh/bbh/{task}.json")), &examples.to_string());
    let shot = |i: u32| format!("Q: Example {i}?\nA: Let's think step by step.\nStep {i}. So the answer is Yes.");
    write(
        &dir.path().join(format!("bbh/cot-prompts/{task}.txt")),
        &format!("canary\n-----\nEvaluate a function.\n\n{}\n\n{}\n\n{}\n", shot(1), shot(2), shot(3)),
    );
    // "Yes" to both: right about Ka, wrong about Bo.
    let (url, seen) = generation_mock(|_| "Ka lies? No. So the answer is Yes.".into()).await;
    let subsets = r#"{"bbh": {"subset_list": ["web_of_lies"]}}"#;
    let out = eval_with(&url, "m", "bbh", dir.path(), &db_url(dir.path()), &["--dataset-args", subsets]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let name = format!("bbh_cot_fewshot_{task}");
    assert_eq!(report["results"][&name]["exact_match,get-answer"], 0.5, "{report}");
    assert_eq!(report["configs"][&name]["num_fewshot"], 3);
    assert_eq!(report["configs"][&name]["target_delimiter"], "");
    // The group over the tasks, on their own metric.
    assert_eq!(report["groups"]["bbh_cot_fewshot"]["exact_match,get-answer"], 0.5, "{report}");
    let bodies = seen.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0]["stop"], json!(["</s>", "Q", "\n\n"]));
    assert_eq!(
        bodies[0]["prompt"],
        format!(
            "Evaluate a function.\n\n{}\n\n{}\n\n{}\n\nQ: Does Ka tell the truth?\nA: Let's think step by step.\n",
            shot(1),
            shot(2),
            shot(3)
        )
    );
}

#[tokio::test]
async fn truthfulqa_mc2_is_the_probability_mass_on_the_true_answers() {
    let dir = tempfile::tempdir().unwrap();
    let item = json!({"question": "Which one?", "mc1_targets": {"the right one": 1, "a wrong one": 0},
                      "mc2_targets": {"right answer": 1, "also right": 1, "wrong": 0}});
    write(&dir.path().join("truthful_qa/data/mc_task.json"), &json!([item]).to_string());
    let (url, _) = mock().await;
    let out = eval_at(&url, "m", "truthfulqa", dir.path(), &db_url(dir.path())).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["results"]["truthfulqa_mc1"]["acc,none"], 1.0, "{report}");
    // Each word holding "right" has log-probability -0.1, any other -2.0.
    let (t, f) = ((-2.1f64).exp(), (-2.0f64).exp());
    let expected = 2.0 * t / (2.0 * t + f);
    let got = report["results"]["truthfulqa_mc2"]["acc,none"].as_f64().unwrap();
    assert!((got - expected).abs() < 1e-12, "{got} vs {expected}");
}

#[tokio::test]
async fn evals_show_in_the_pages_with_their_samples() {
    use common::server::{Browser, Settings, TestServer};
    let server = TestServer::start(Settings::default()).await;
    let dir = server.dir.path().join("arc");
    let doc = |id: &str, stem: &str, choices: [&str; 2], key: &str| {
        json!({"id": id, "question": {"stem": stem, "choices": [{"label": "A", "text": choices[0]}, {"label": "B", "text": choices[1]}]},
               "answerKey": key})
        .to_string()
            + "\n"
    };
    // The mock prefers words holding "right": the first is answered right, the second wrong.
    write(
        &dir.join("arc/ARC-Easy/test.jsonl"),
        &(doc("q0", "Which is right?", ["the right one", "a wrong one"], "A")
            + &doc("q1", "Pick <script>alert(1)</script>?", ["right", "plain <b>bold</b>"], "B")),
    );
    let (url, _) = mock().await;
    let out = eval_at(&url, "served", "arc_easy", &dir, &server.db).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let evals = server.get_json("/api/evals").await;
    let id = evals[0]["id"].as_i64().unwrap();
    assert_eq!(evals[0]["status"], "succeeded");
    assert_eq!(evals[0]["results"]["results"]["arc_easy"]["acc,none"], 0.5);
    let mut browser = Browser::new();
    let (_, list) = browser.get(&server.url("/evals")).await;
    assert!(list.contains("served at http://") && list.contains("arc_easy acc 50.00%"), "{list}");
    let (_, page) = browser.get(&server.url(&format!("/evals/{id}"))).await;
    assert!(page.contains("<svg") && page.contains("50.00") && page.contains("±50.00"), "{page}");
    assert!(!page.contains("Local model:"), "an endpoint runs no local model: {page}");
    let (_, wrong) = browser.get(&server.url(&format!("/evals/{id}/samples?task=arc_easy&wrong=1"))).await;
    assert!(
        wrong.contains("1 documents") && wrong.contains("status-failed") && !wrong.contains("status-succeeded"),
        "{wrong}"
    );
    assert!(
        !wrong.contains("<script>alert") && !wrong.contains("<b>bold"),
        "model and dataset text is escaped: {wrong}"
    );
    let (status, _) = browser.get(&server.url("/evals/999")).await;
    assert_eq!(status, 404);
    let (status, _) = browser.get(&server.url(&format!("/evals/{id}/samples"))).await;
    assert_eq!(status, 400);
    server.stop().await;
}

#[tokio::test]
async fn the_benchmarks_matrix_shows_each_models_latest_scores() {
    use common::server::{Browser, Settings, TestServer};
    let server = TestServer::start(Settings::default()).await;
    let dir = server.dir.path().join("data");
    arc_file(&dir);
    let (url, _) = mock().await;
    for model in ["model-one", "model-two"] {
        let out = eval_at(&url, model, "arc_easy", &dir, &server.db).await;
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let (_, html) = Browser::new().get(&server.url("/benchmarks")).await;
    assert!(html.contains("<th class=\"num\">arc_easy</th>"), "{html}");
    assert!(html.contains("model-one at http://") && html.contains("model-two at http://"), "{html}");
    assert_eq!(html.matches("<td class=\"num\">100.0</td>").count(), 2, "{html}");
    assert!(html.contains("aria-label=\"Scores of model-one"), "a chart per model");
    server.stop().await;
}

#[tokio::test]
async fn evals_started_from_the_pages_run_as_jobs() {
    use common::server::{Browser, Settings, TestServer, allowed_judge, api_client};
    let data = tempfile::tempdir().unwrap();
    arc_file(data.path());
    let (url, calls) = mock().await;
    let server = TestServer::start(Settings {
        judges: vec![allowed_judge("echo", "served-model", &url)],
        dataset_dir: Some(data.path().to_path_buf()),
        ..Settings::default()
    })
    .await;
    // Refused before anything is queued: an unknown model, dataset, or data that is not there.
    for (bad, says) in [
        (json!({"model": "served:nobody", "datasets": ["arc_easy"]}), "no configured endpoint nobody"),
        (json!({"model": "served:echo", "datasets": ["hellaswagg"]}), "unknown dataset"),
        (json!({"model": "served:echo", "datasets": ["mmlu"]}), "no MMLU test file"),
        (json!({"model": "http://127.0.0.1:9/v1", "datasets": ["arc_easy"]}), "choose a model"),
    ] {
        let r = api_client().post(server.url("/api/evals")).json(&bad).send().await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        assert!(r.text().await.unwrap().contains(says), "{bad}: {says}");
    }
    let r = api_client()
        .post(server.url("/api/evals"))
        .json(&json!({"model": "served:echo", "datasets": ["arc_easy"], "limit": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let t = std::time::Instant::now();
    let eval = loop {
        let e = server.get_json(&format!("/api/evals/{id}")).await;
        if e["status"] == "succeeded" || e["status"] == "failed" {
            break e;
        }
        assert!(t.elapsed() < std::time::Duration::from_secs(30), "{e}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(eval["status"], "succeeded", "{eval}");
    assert_eq!(eval["results"]["results"]["arc_easy"]["acc,none"], 1.0);
    assert_eq!(eval["results"]["n-samples"]["arc_easy"]["effective"], 2);
    assert!(calls.load(Ordering::SeqCst) > 0);
    // The same from the page's form.
    let mut browser = Browser::new();
    let csrf = browser.csrf(&server.url("/evals")).await;
    let (_, form) = browser.get(&server.url("/evals")).await;
    assert!(form.contains("value=\"served:echo\"") && form.contains("value=\"gsm8k\""), "{form}");
    let (status, _, location) = browser
        .post_form(
            &server.url("/evals"),
            &[("csrf", &csrf), ("model", "served:echo"), ("datasets", "arc_easy"), ("limit", "1")],
        )
        .await;
    assert_eq!(status, 303);
    let location = location.unwrap();
    let second: i64 = location.trim_start_matches("/evals/").parse().unwrap();
    let t = std::time::Instant::now();
    while server.get_json(&format!("/api/evals/{second}")).await["status"] != "succeeded" {
        assert!(t.elapsed() < std::time::Duration::from_secs(30));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (_, page) = browser.get(&server.url(&location)).await;
    assert!(
        page.contains("served-model at ") && page.contains("arc_easy") && !page.contains("http-equiv=\"refresh\""),
        "{page}"
    );
    server.stop().await;
}

#[tokio::test]
async fn math_triviaqa_and_general_qa_are_generated_and_scored_by_their_own_rules() {
    let dir = tempfile::tempdir().unwrap();
    let problem = |p: &str, answer: &str, level: u8| {
        json!({"problem": p, "solution": format!("Work. So it is $\\boxed{{{answer}}}$."), "answer": answer,
               "subject": "Algebra", "level": level, "unique_id": format!("test/algebra/{level}.json")})
        .to_string()
            + "\n"
    };
    write(
        &dir.path().join("competition_math/math500_test.jsonl"),
        &(problem("Halve one.", "\\frac{1}{2}", 1) + &problem("Add one and one.", "2", 3)),
    );
    let (url, seen) = generation_mock(|prompt| {
        let reply = match prompt.rsplit("Question: ").next().unwrap() {
            _ if prompt.ends_with("Halve one.\n\nSolution:") => {
                " It is $\\boxed{\\frac12}$.\nFinal Answer: The final answer is $0.5$. I hope it is correct.\n\nProblem: more"
            }
            _ if prompt.ends_with("Solution:") => " It is $\\boxed{3}$.\nFinal Answer: The final answer is $3$. I hope it is correct.",
            q if q.starts_with("Which planet") => " Mars. It is red",
            q if q.starts_with("Who wrote") => " Shakespeare wrote it",
            q if q.starts_with("What is the capital") => " Sydney",
            q if q.starts_with("Which Lloyd Webber") => " Sunset Blvd, in 1993",
            q if q.starts_with("What colour") => " The sky is blue on a clear day.\n\nQuestion: next",
            q if q.starts_with("Name the largest") => " The Atlantic.",
            _ => "中国的首都是北京。",
        };
        reply.to_string()
    })
    .await;
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let math_dir = json!({"math500": {"local_path": dir.path()}}).to_string();
    let out = eval_with(
        &url,
        "m",
        "math500 triviaqa general_qa",
        &fixtures,
        &db_url(dir.path()),
        &["--dataset-args", &math_dir],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let results = &report["results"];
    // MATH: the boxed answer is the headline, minerva's final-answer line the second reading.
    assert_eq!(results["minerva_math500"]["exact_match,boxed"], 0.5, "{report}");
    assert_eq!(results["minerva_math500"]["exact_match,none"], 0.5);
    assert_eq!(report["groups"]["minerva_math500_level_1"]["exact_match,boxed"], 1.0, "{report}");
    assert_eq!(report["groups"]["minerva_math500_level_3"]["exact_match,boxed"], 0.0);
    assert_eq!(report["configs"]["minerva_math500"]["num_fewshot"], 4);
    // TriviaQA: Mars and Sunset Blvd match an alias; F1 gives Shakespeare half.
    assert_eq!(results["triviaqa"]["exact_match,remove_whitespace"], 0.5, "{report}");
    assert_eq!(results["triviaqa"]["f1,remove_whitespace"], 0.625);
    // general_qa: the first answer is the reference word for word.
    let default = &results["general_qa_default"];
    let bleu = default["bleu,none"].as_f64().unwrap();
    assert!(bleu > 0.5 && bleu < 1.0, "{default}");
    assert!(default["rougeL,none"].as_f64().unwrap() > 0.5);
    assert_eq!(results["general_qa_zh"]["rouge1,none"], 1.0, "{report}");
    let bodies = seen.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2 + 4 + 3);
    let trivia = bodies.iter().find(|b| b["prompt"].as_str().unwrap().contains("Red Planet")).unwrap();
    assert_eq!(trivia["prompt"], "Question: Which planet is known as the Red Planet?\nAnswer:");
    assert_eq!(trivia["stop"], json!(["\n", ".", ","]));
    let math = bodies.iter().find(|b| b["prompt"].as_str().unwrap().ends_with("Halve one.\n\nSolution:")).unwrap();
    let prompt = math["prompt"].as_str().unwrap();
    assert!(prompt.starts_with("Problem:\nFind the domain of the expression"), "{prompt}");
    assert_eq!(prompt.matches("I hope it is correct.\n\nProblem:\n").count(), 4, "four worked examples: {prompt}");
    assert_eq!(math["stop"], json!(["Problem:"]));
}

#[tokio::test]
async fn ceval_reports_subjects_categories_and_both_averages() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    // Every letter is as likely as the next: the first, A, is chosen throughout.
    let (url, calls) = mock().await;
    let args = json!({"ceval": {"subset_list": ["computer_network", "high_school_history"]}}).to_string();
    let out =
        eval_with(&url, "m", "ceval general_mcq", &fixtures, &db_url(dir.path()), &["--dataset-args", &args]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let close = |v: &Value, x: f64| (v.as_f64().unwrap() - x).abs() < 1e-12;
    assert!(close(&report["results"]["ceval_computer_network"]["acc,none"], 1.0 / 3.0), "{report}");
    assert!(close(&report["results"]["ceval_high_school_history"]["acc,none"], 0.5));
    assert!(close(&report["groups"]["ceval_stem"]["acc,none"], 1.0 / 3.0));
    assert!(close(&report["groups"]["ceval_humanities"]["acc,none"], 0.5));
    assert!(close(&report["groups"]["ceval"]["acc,none"], 0.4), "weighted by size: {report}");
    assert_eq!(report["configs"]["ceval_computer_network"]["num_fewshot"], 5);
    // A user's set: five options, answers C and A.
    assert_eq!(report["results"]["general_mcq_example"]["acc,none"], 0.5, "{report}");
    // Four letters for each of 5 C-Eval questions and five for each of 2 general ones.
    assert_eq!(calls.load(Ordering::SeqCst), 5 * 4 + 2 * 5);
}

#[tokio::test]
async fn perplexity_sums_the_echoed_log_probabilities_over_words_and_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let (url, calls) = mock().await;
    let args = json!({"perplexity": {"subset_list": ["lines"]}}).to_string();
    let out =
        eval_with(&url, "m", "perplexity wikitext", &fixtures, &db_url(dir.path()), &["--dataset-args", &args]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    // "right right right": two scored tokens of -0.1; "a b c": two of -2.0. 6 words, 22 bytes.
    let lines = &report["results"]["perplexity_lines"];
    let close = |key: &str, x: f64| (lines[key].as_f64().unwrap() - x).abs() < 1e-9;
    assert!(close("word_perplexity,none", (4.2f64 / 6.0).exp()), "{report}");
    assert!(close("byte_perplexity,none", (4.2f64 / 22.0).exp()));
    assert!(close("bits_per_byte,none", 4.2 / 22.0 / std::f64::consts::LN_2));
    assert_eq!(report["configs"]["perplexity_lines"]["output_type"], "loglikelihood_rolling");
    assert_eq!(report["n-samples"]["wikitext"]["effective"], 2);
    assert!(report["results"]["wikitext"]["bits_per_byte,none"].as_f64().unwrap() > 0.0);
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    // Asked again: all from the cache.
    let out =
        eval_with(&url, "m", "perplexity wikitext", &fixtures, &db_url(dir.path()), &["--dataset-args", &args]).await;
    let again: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(again["results"]["perplexity_lines"], report["results"]["perplexity_lines"]);
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn humaneval_runs_each_completion_with_its_tests_in_the_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let problem = |n: u32| {
        json!({"task_id": format!("test/{n}"), "prompt": format!("def return{n}():\n"), "canonical_solution": format!("    return {n}"),
               "test": format!("def check(candidate):\n    assert candidate() == {n}"), "entry_point": format!("return{n}")})
        .to_string()
            + "\n"
    };
    write(&dir.path().join("humaneval/HumanEval.jsonl"), &(problem(1) + &problem(2)));
    // Right for the first (the stop sequence cuts what follows), wrong for the second.
    let (url, seen) = generation_mock(|prompt| {
        if prompt.starts_with("def return1") { "    return 1\n\ndef more():\n    pass" } else { "    return 3" }.into()
    })
    .await;
    let out = eval_at(&url, "m", "humaneval", dir.path(), &db_url(dir.path())).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["results"]["humaneval"]["pass@1,create_test"], 0.5, "{report}");
    let note = report["configs"]["humaneval"]["note"].as_str().unwrap();
    assert!(note.contains("python3 -I") && note.contains("network"), "{note}");
    let bodies = seen.lock().unwrap().clone();
    assert_eq!(bodies[0]["prompt"], "def return1():\n");
    assert_eq!(
        bodies[0]["stop"],
        json!(["\nclass", "\ndef", "\n#", "\nif"]),
        "four stops to the server, all five here"
    );
    assert_eq!(bodies[0]["max_tokens"], 1024);
}

#[tokio::test]
async fn humaneval_pass_at_k_from_sampled_answers() {
    let dir = tempfile::tempdir().unwrap();
    let problem = |n: u32| {
        json!({"task_id": format!("test/{n}"), "prompt": format!("def return{n}():\n"),
               "test": format!("def check(candidate):\n    assert candidate() == {n}"), "entry_point": format!("return{n}")})
        .to_string()
            + "\n"
    };
    write(&dir.path().join("humaneval/HumanEval.jsonl"), &(problem(1) + &problem(2)));
    let seen = Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let app = Router::new()
        .route(
            "/v1/completions",
            post(|State(seen): State<Arc<std::sync::Mutex<Vec<Value>>>>, Json(body): Json<Value>| async move {
                seen.lock().unwrap().push(body.clone());
                // The first problem: right when greedy and for even seeds; the second never.
                let right = body["prompt"].as_str().unwrap().starts_with("def return1")
                    && body["seed"].as_u64().is_none_or(|s| s % 2 == 0);
                let text = if right { "    return 1" } else { "    return 3" };
                Json(json!({"choices": [{"index": 0, "text": text, "finish_reason": "stop"}]}))
            }),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let args = r#"{"humaneval": {"num_samples": 5}}"#;
    let out = eval_with(&url, "m", "humaneval", dir.path(), &db_url(dir.path()), &["--dataset-args", args]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let humaneval = &report["results"]["humaneval"];
    // 3 of 5 and 0 of 5 pass: pass@1 = (0.6 + 0) / 2, pass@5 = (1 + 0) / 2.
    assert!((humaneval["pass@1,create_test"].as_f64().unwrap() - 0.3).abs() < 1e-12, "{report}");
    assert_eq!(humaneval["pass@5,create_test"], 0.5);
    assert!(humaneval.get("pass@10,create_test").is_none(), "no pass@k beyond the samples drawn");
    let bodies = seen.lock().unwrap().clone();
    assert_eq!(bodies.len(), 10);
    let sampled: Vec<&Value> = bodies.iter().filter(|b| b.get("seed").is_some()).collect();
    assert_eq!(sampled.len(), 8);
    assert!(sampled.iter().all(|b| b["temperature"] == 0.8 && b["top_p"] == 0.95));
    // Asked again: every sample from the cache.
    let out = eval_with(&url, "m", "humaneval", dir.path(), &db_url(dir.path()), &["--dataset-args", args]).await;
    let again: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(again["results"]["humaneval"], report["results"]["humaneval"]);
    assert_eq!(seen.lock().unwrap().len(), 10);
}
