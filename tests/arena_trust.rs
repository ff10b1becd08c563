//! Results that must never be wrong: dry-run verdicts never become real ones, a review file
//! that cannot be written fails the run, the review cache knows which judge answered, seeded
//! verdicts keep their weights and scores, and settings that cannot take effect say so.

mod common;

use common::*;
use serde_json::{Value, json};

async fn battles(db: &str, dry_run: bool) -> Vec<(String, String, f64)> {
    let pool = open_db(db).await;
    sqlx::query_as::<_, (String, String, f64)>(
        "SELECT ma.name, b.winner, b.weight FROM battles b JOIN models ma ON ma.id = b.model_a_id \
         JOIN questions q ON q.id = b.question_id WHERE b.dry_run = $1 ORDER BY q.external_id",
    )
    .bind(dry_run)
    .fetch_all(&pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_dry_run_never_seeds_a_real_run_even_when_the_cache_file_is_the_review_file() {
    let dir = tempfile::tempdir().unwrap();
    write_strong_and_weak(dir.path(), 4);
    let judge = MockJudge::start(prefer("GOOD")).await;
    // As the shipped cfg_pairwise_baseline.yaml (and upstream) does: cache_file = review_file.
    let cfg = strong_vs_weak_config(dir.path(), &judge.base_url(), "null", "  cache_file: reviews/review.jsonl");
    let db = db_url(dir.path());
    let dry = run_config(&cfg, &db, true, 2).await;
    assert!(dry.succeeded(), "{:?}", dry.error);
    assert_eq!(judge.call_count(), 0);
    // Every line, report and stored battle of the dry run carries its mark; its files go beside
    // the real ones, so a real review file that is also the cache file is never overwritten.
    assert!(!dir.path().join("reviews/review.jsonl").exists());
    let lines = read_jsonl(&dir.path().join("reviews/review.dry-run.jsonl"));
    assert_eq!(lines.len(), 4);
    assert!(lines.iter().all(|l| l["dry_run"] == true), "{lines:?}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("reports/rating.dry-run.json")).unwrap())
            .unwrap();
    assert_eq!(report["dry_run"], true);
    let csv = std::fs::read_to_string(dir.path().join("reports/rating.dry-run.csv")).unwrap();
    assert!(
        csv.lines().next().unwrap().ends_with(",Dry_Run") && csv.lines().nth(1).unwrap().ends_with(",true"),
        "{csv}"
    );
    let html = std::fs::read_to_string(dir.path().join("reports/rating.dry-run.html")).unwrap();
    assert!(html.contains("Dry run."), "the page says so");
    assert_eq!(battles(&db, true).await.len(), 4);
    // Even a dry-run file named as the cache file is not reused: its lines carry the mark.
    std::fs::copy(dir.path().join("reviews/review.dry-run.jsonl"), dir.path().join("reviews/review.jsonl")).unwrap();

    // The real run asks the judge for every pair: nothing of the dry run is reused.
    let real = run_config(&cfg, &db, false, 2).await;
    assert!(real.succeeded(), "{:?}", real.error);
    let r = real.reviews.as_ref().unwrap();
    assert_eq!((r.judge_calls, r.seeded_from_cache_file, r.dry_run_seeds_skipped), (4, 0, 4));
    assert_eq!(judge.call_count(), 4);
    let real_battles = battles(&db, false).await;
    assert_eq!(real_battles.len(), 4);
    assert!(real_battles.iter().all(|(a, w, _)| (a == "strong") == (w == "model_a")), "{real_battles:?}");
    let lines = read_jsonl(&dir.path().join("reviews/review.jsonl"));
    assert!(lines.iter().all(|l| l.get("dry_run").is_none()), "real lines carry no mark");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("reports/rating.json")).unwrap()).unwrap();
    assert_eq!(report["dry_run"], false);
    // A later dry run leaves the real review file as it is.
    let real_file = std::fs::read_to_string(dir.path().join("reviews/review.jsonl")).unwrap();
    assert!(run_config(&cfg, &db, true, 2).await.succeeded());
    assert_eq!(std::fs::read_to_string(dir.path().join("reviews/review.jsonl")).unwrap(), real_file);
}

#[tokio::test]
async fn seeded_verdicts_keep_their_weights_and_scores_and_old_dry_run_lines_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    write_strong_and_weak(dir.path(), 3);
    let question = |i: usize| format!("Question number {i}?");
    let old = [
        // Five-level verdicts, both orders agreeing that strong is much better.
        json!({"model_a": "strong", "model_b": "weak", "win_1": "model_a", "win_2": "model_a", "weight": 3.0,
               "anony": true, "tstamp": 1.0, "language": "NA", "question_id": 1, "category": "generic",
               "question": question(1), "review_text_1": "[[A>>B]]", "review_text_2": "[[B<<A]]"}),
        // Per-order weights and scores as jury writes them.
        json!({"model_a": "strong", "model_b": "weak", "win_1": "model_a", "win_2": "model_a", "weight": 2.0,
               "weight_1": 3.0, "scores_1": [9.0, 2.0], "scores_2": [3.0, 8.0],
               "anony": true, "tstamp": 1.0, "language": "NA", "question_id": 2, "category": "generic",
               "question": question(2), "review_text_1": "[[9, 2]]", "review_text_2": "[[3, 8]]"}),
        // A dry-run line from before lines carried the mark: its note gives it away.
        json!({"model_a": "strong", "model_b": "weak", "win_1": "model_b", "win_2": "model_b",
               "anony": true, "tstamp": 1.0, "language": "NA", "question_id": 3, "category": "generic",
               "question": question(3),
               "review_text_1": "Dry run: no judge was asked; this verdict is pseudo-random.\n[[B]]",
               "review_text_2": "Dry run: no judge was asked; this verdict is pseudo-random.\n[[A]]"}),
    ];
    write(&dir.path().join("old.jsonl"), &old.iter().map(|v| v.to_string() + "\n").collect::<String>());
    let judge = MockJudge::start(prefer("GOOD")).await;
    let cfg = strong_vs_weak_config(dir.path(), &judge.base_url(), "swap_position", "  cache_file: old.jsonl");
    let db = db_url(dir.path());
    let summary = run_config(&cfg, &db, false, 2).await;
    assert!(summary.succeeded(), "{:?}", summary.error);
    let r = summary.reviews.as_ref().unwrap();
    assert_eq!((r.seeded_from_cache_file, r.dry_run_seeds_skipped, r.judge_calls), (4, 1, 2));
    let stored = battles(&db, false).await;
    assert_eq!(stored.len(), 3);
    // Question 1: weight 3 kept; question 2: the mean of 3 and 1; question 3 judged afresh.
    assert_eq!(stored.iter().map(|b| b.2).collect::<Vec<_>>(), vec![3.0, 2.0, 1.0], "{stored:?}");
    let pool = open_db(&db).await;
    let scores: Vec<(Option<f64>, Option<f64>)> =
        sqlx::query_as("SELECT score_a, score_b FROM judgments WHERE score_a IS NOT NULL ORDER BY score_a")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(scores, vec![(Some(3.0), Some(8.0)), (Some(9.0), Some(2.0))]);
}

#[test]
fn a_review_file_that_cannot_be_written_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    write_strong_and_weak(dir.path(), 2);
    let judge = MockJudge::start_in_background(prefer("GOOD"));
    // /dev/full opens, and every write to it fails (no space left).
    let cfg = strong_vs_weak_config(dir.path(), &judge.base_url(), "null", "");
    write(
        &cfg,
        &std::fs::read_to_string(&cfg).unwrap().replace("review_file: reviews/review.jsonl", "review_file: /dev/full"),
    );
    let out = run(jury().arg("arena").arg("-c").arg(&cfg).arg("--db").arg(db_url(dir.path())).arg("--no-progress"));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("/dev/full"), "{}", stderr(&out));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let status: String = runtime.block_on(async {
        let pool = open_db(&db_url(dir.path())).await;
        sqlx::query_scalar("SELECT status FROM runs ORDER BY id DESC LIMIT 1").fetch_one(&pool).await.unwrap()
    });
    assert_eq!(status, "failed");
}

#[tokio::test]
async fn another_server_with_the_same_model_name_is_another_judge() {
    let dir = tempfile::tempdir().unwrap();
    write_strong_and_weak(dir.path(), 3);
    let first = MockJudge::start(prefer("GOOD")).await;
    let second = MockJudge::start(prefer("GOOD")).await;
    let db = db_url(dir.path());
    let cfg = strong_vs_weak_config(dir.path(), &first.base_url(), "null", "");
    assert!(run_config(&cfg, &db, false, 2).await.succeeded());
    assert_eq!(first.call_count(), 3);
    // The same server again: everything from the cache.
    let again = run_config(&cfg, &db, false, 2).await;
    assert_eq!(again.reviews.as_ref().unwrap().cache_hits, 3);
    assert_eq!(first.call_count(), 3);
    // Another server answering as "mock-judge" is asked afresh.
    strong_vs_weak_config(dir.path(), &second.base_url(), "null", "");
    let other = run_config(&cfg, &db, false, 2).await;
    assert_eq!(other.reviews.as_ref().unwrap().cache_hits, 0);
    assert_eq!(second.call_count(), 3);
}

#[test]
fn a_seed_for_sampled_local_answers_is_reported_as_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let text = "question_file: q.jsonl\n\
                answers_gen:\n  sampled:\n    model_id_or_path: models/SmolLM2-135M-Instruct.Q4_1.gguf\n    \
                generation_config: {do_sample: true, temperature: 0.7, seed: 7}\n    output_file: a.jsonl\n  \
                greedy:\n    model_id_or_path: models/SmolLM2-135M-Instruct.Q4_1.gguf\n    \
                generation_config: {do_sample: false, seed: 7}\n    output_file: b.jsonl\n\
                reviews_gen: {enable: false}\nrating_gen: {enable: false}\n";
    write(&dir.path().join("q.jsonl"), &questions(1));
    let file = write(&dir.path().join("cfg.yaml"), text);
    let config = jury::config::load_arena_config(&file).unwrap_or_else(|e| panic!("{e}"));
    let seeds: Vec<&String> = config.warnings.iter().filter(|w| w.contains("seed")).collect();
    assert_eq!(seeds.len(), 1, "only the sampled candidate: {:?}", config.warnings);
    assert!(
        seeds[0].contains("answers_gen.sampled.generation_config.seed") && seeds[0].contains("no per-request seed")
    );
    assert!(seeds[0].contains("cfg.yaml:5"), "{}", seeds[0]);
}
