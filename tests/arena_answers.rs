//! Stage 1 against OpenAI-compatible candidates (served by the mock), and the whole
//! pipeline: answers, reviews and ratings in one run.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

/// Candidates answer with their model name; `cand-good` marks its answers GOOD. The judge
/// (model `mock-judge`) prefers GOOD.
fn server_script(call: &Call) -> Reply {
    if call.model == "mock-judge" {
        return Reply::Text(verdict_for(call, "GOOD"));
    }
    let marker = if call.model == "cand-good" { "GOOD" } else { "meh" };
    let question = call.user.lines().next().unwrap_or("").to_string();
    Reply::Delayed(
        Duration::from_millis(50),
        Box::new(Reply::Text(format!("{marker}: {} answers '{question}'", call.model))),
    )
}

fn config(url: &str, temperature: f64) -> String {
    format!(
        "question_file: q.jsonl
answers_gen:
  good:
    api_base: {url}
    model: cand-good
    api_key_env: JURY_TEST_KEY
    system_prompt: Be helpful.
    generation_config:
      do_sample: true
      temperature: {temperature}
      top_p: 0.8
      top_k: 20
      max_new_tokens: 64
      repetition_penalty: 1.05
      stop: ['###']
      seed: 42
    output_file: answers/good.jsonl
  plain:
    api_base: {url}
    model: cand-plain
    api_key_env: JURY_TEST_KEY
    generation_config:
      do_sample: false
      max_new_tokens: 32
    output_file: answers/plain.jsonl
  unused:
    enable: false
    model_id_or_path: nowhere/model
    output_file: answers/unused.jsonl
reviews_gen:
  reviewer:
    args:
      model: mock-judge
      api_base: {url}
      api_key_env: JURY_TEST_KEY
      mode: pairwise
      position_bias_mitigation: swap_position
  review_file: reviews/review.jsonl
rating_gen:
  metrics: [elo, pairwise]
  report_file: reports/rating.csv
"
    )
}

#[tokio::test]
async fn the_whole_pipeline_runs_and_every_setting_takes_effect() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("q.jsonl"), &questions(6));
    let server = MockJudge::start(server_script).await;
    let cfg = write(&dir.path().join("cfg.yaml"), &config(&server.base_url(), 0.7));
    let db = db_url(dir.path());
    let summary = run_config(&cfg, &db, false, 4).await;
    assert!(summary.succeeded(), "{:?}", summary.error);
    let answers = summary.answers.as_ref().unwrap();
    assert_eq!((answers.candidates, answers.generated, answers.reused, answers.failed), (2, 12, 0, 0));
    assert_eq!(answers.completion_tokens, 12 * 20);
    assert!(server.max_in_flight() >= 2, "answers were generated concurrently");

    // Each candidate's generation_config and system prompt reached the server.
    let calls = server.calls();
    let good = calls.iter().find(|c| c.model == "cand-good").unwrap();
    assert_eq!(good.system, "Be helpful.");
    assert_eq!(good.body["temperature"], 0.7);
    assert_eq!(good.body["top_p"], 0.8);
    assert_eq!(good.body["top_k"], 20);
    assert_eq!(good.body["max_tokens"], 64);
    assert_eq!(good.body["repetition_penalty"].as_f64().map(|v| (v * 100.0).round()), Some(105.0));
    assert_eq!(good.body["stop"], serde_json::json!(["###"]));
    assert_eq!(good.body["seed"], 42);
    let plain = calls.iter().find(|c| c.model == "cand-plain").unwrap();
    assert_eq!(plain.system, "", "no system prompt configured");
    assert_eq!(plain.body["temperature"], 0.0, "do_sample: false is greedy");
    assert_eq!(plain.body.get("top_p"), None);
    assert_eq!(plain.body["max_tokens"], 32);

    // Answer files in llmuses' shape and key order.
    let text = std::fs::read_to_string(dir.path().join("answers/good.jsonl")).unwrap();
    let first_line = text.lines().next().unwrap();
    assert!(first_line.starts_with("{\"question_id\":1,\"text\":\"Question number 1?\",\"category\":\"generic\",\"model_id\":\"good\",\"metadata\":{"), "{first_line}");
    let records = read_jsonl(&dir.path().join("answers/good.jsonl"));
    assert_eq!(records.len(), 6);
    for (i, r) in records.iter().enumerate() {
        let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(sorted, ["answer", "category", "metadata", "model_id", "question_id", "text"]);
        assert_eq!(r["question_id"], i + 1);
        assert!(r["answer"].as_str().unwrap().starts_with("GOOD: cand-good answers"));
        assert_eq!(r["metadata"]["completion_tokens"], 20);
    }
    assert!(!dir.path().join("answers/unused.jsonl").exists());

    // Reviews of the two enabled candidates (the disabled one has no answer file), swapped.
    let reviews = summary.reviews.as_ref().unwrap();
    assert_eq!((reviews.tasks, reviews.judge_calls), (6, 12));
    assert_eq!(reviews.consistency_rate, Some(1.0));
    let review_records = read_jsonl(&dir.path().join("reviews/review.jsonl"));
    assert!(
        review_records.iter().all(|r| r["model_a"] == "good" && r["win_1"] == "model_a" && r["win_2"] == "model_a")
    );
    let report = summary.report.as_ref().unwrap();
    assert_eq!(report.elo.as_ref().unwrap().models[0].model, "good");

    // The database holds the answers and the run.
    let pool = open_db(&db).await;
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM answers").fetch_one(&pool).await.unwrap();
    assert_eq!(n, 12);
    let (status, stage): (String, String) = sqlx::query_as("SELECT status, stage FROM runs WHERE id = $1")
        .bind(summary.run_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!((status.as_str(), stage.as_str()), ("succeeded", "reviews"));

    // A re-run reuses every answer and every judgment: the server sees no new request.
    let before = server.call_count();
    let again = run_config(&cfg, &db, false, 4).await;
    assert_eq!(again.answers.as_ref().unwrap().reused, 12);
    assert_eq!(again.reviews.as_ref().unwrap().cache_hits, 12);
    assert_eq!(server.call_count(), before);

    // Changing one candidate's settings regenerates only its answers, and re-judges them.
    let cfg = write(&dir.path().join("cfg.yaml"), &config(&server.base_url(), 0.3));
    let changed = run_config(&cfg, &db, false, 4).await;
    let a = changed.answers.as_ref().unwrap();
    assert_eq!((a.generated, a.reused), (6, 6));
    let new_calls: Vec<Call> = server.calls().into_iter().skip(before).collect();
    assert!(
        new_calls
            .iter()
            .filter(|c| c.model != "mock-judge")
            .all(|c| c.model == "cand-good" && c.body["temperature"] == 0.3)
    );
}

#[tokio::test]
async fn mt_bench_questions_are_answered_on_their_first_turn() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fastchat");
    let mt: String = std::fs::read_to_string(fixtures.join("mt_bench_question.jsonl"))
        .unwrap()
        .lines()
        .take(3)
        .map(|l| l.to_string() + "\n")
        .collect();
    write(&dir.path().join("q.jsonl"), &mt);
    let server = MockJudge::start(|call: &Call| Reply::Text(format!("echo: {}", call.user))).await;
    let cfg = write(
        &dir.path().join("cfg.yaml"),
        &format!(
            "question_file: q.jsonl\nanswers_gen:\n  m:\n    api_base: {}\n    model: x\n    output_file: a.jsonl\nreviews_gen: {{enable: false}}\nrating_gen: {{enable: false}}\n",
            server.base_url()
        ),
    );
    let summary = run_config(&cfg, &db_url(dir.path()), false, 2).await;
    assert!(summary.succeeded());
    let records = read_jsonl(&dir.path().join("a.jsonl"));
    assert_eq!(records.len(), 3);
    let first: Value = serde_json::from_str(mt.lines().next().unwrap()).unwrap();
    assert_eq!(records[0]["question_id"], 81);
    assert_eq!(records[0]["category"], "writing");
    assert_eq!(records[0]["text"], first["turns"][0]);
    assert_eq!(records[0]["answer"], format!("echo: {}", first["turns"][0].as_str().unwrap()));
}

#[tokio::test]
async fn a_candidate_that_cannot_answer_fails_the_run_before_any_review() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("q.jsonl"), &questions(3));
    let server = MockJudge::start(|call: &Call| {
        if call.model == "mock-judge" {
            Reply::Text("[[A]]".into())
        } else if call.user.contains("number 2") {
            Reply::Status { code: 400, retry_after: None }
        } else {
            Reply::Text("fine".into())
        }
    })
    .await;
    let cfg = write(&dir.path().join("cfg.yaml"), &config(&server.base_url(), 0.7));
    let summary = run_config(&cfg, &db_url(dir.path()), false, 4).await;
    assert!(!summary.succeeded());
    assert_eq!(summary.answers.as_ref().unwrap().failed, 2);
    assert!(summary.reviews.is_none());
    assert!(server.calls().iter().all(|c| c.model != "mock-judge"));
}
