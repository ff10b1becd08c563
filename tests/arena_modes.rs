//! Each review mode and position-bias strategy against a mock judge, checking the exact
//! review-file shapes, the stored battles and the ratings.

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::Value;

const PAIR_KEYS: [&str; 11] = [
    "model_a",
    "model_b",
    "scores",
    "win",
    "anony",
    "tstamp",
    "language",
    "question_id",
    "category",
    "question",
    "review_text",
];
const SWAP_KEYS: [&str; 12] = [
    "model_a",
    "model_b",
    "win_1",
    "win_2",
    "anony",
    "tstamp",
    "language",
    "question_id",
    "category",
    "question",
    "review_text_1",
    "review_text_2",
];
const SINGLE_KEYS: [&str; 9] =
    ["model", "score", "anony", "tstamp", "language", "question_id", "category", "question", "review_text"];

fn keys(record: &Value) -> BTreeSet<String> {
    record.as_object().unwrap().keys().cloned().collect()
}

fn expect_keys(record: &Value, expected: &[&str]) {
    let expected: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
    assert_eq!(keys(record), expected, "record: {record}");
}

/// strong's answers carry the marker the mock judge prefers; weak's and mid's do not.
fn write_answers(dir: &std::path::Path, n: usize) {
    write(&dir.join("answers/strong.jsonl"), &answers("strong", n, |i| format!("GOOD answer {i}")));
    write(&dir.join("answers/weak.jsonl"), &answers("weak", n, |i| format!("bad answer {i}")));
    write(&dir.join("answers/mid.jsonl"), &answers("mid", n, |i| format!("so-so answer {i}")));
}

#[tokio::test]
async fn pairwise_every_pair_on_every_question() {
    let dir = tempfile::tempdir().unwrap();
    write_answers(dir.path(), 5);
    let judge = MockJudge::start(prefer("GOOD")).await;
    let cfg = write(
        &dir.path().join("cfg.yaml"),
        &review_config(
            &judge.base_url(),
            "pairwise",
            "null",
            &["answers/strong.jsonl", "answers/weak.jsonl", "answers/mid.jsonl"],
            "",
            "",
            "['elo', 'pairwise']",
        ),
    );
    let db = db_url(dir.path());
    let summary = run_config(&cfg, &db, false, 4).await;
    assert!(summary.succeeded(), "{:?}", summary.error);
    let reviews = summary.reviews.as_ref().unwrap();
    assert_eq!(reviews.tasks, 15);
    assert_eq!(reviews.judge_calls, 15);
    assert_eq!(judge.call_count(), 15);
    assert_eq!(reviews.unknown, 0);
    assert_eq!(reviews.prompt_tokens, 1500);
    assert_eq!(reviews.completion_tokens, 300);

    // Every call asked the configured judge model with its settings.
    for call in judge.calls() {
        assert_eq!(call.body["model"], "mock-judge");
        assert_eq!(call.body["temperature"], 0.0);
        assert_eq!(call.body["max_tokens"], 1024);
    }

    let records = read_jsonl(&dir.path().join("reviews/review.jsonl"));
    assert_eq!(records.len(), 15);
    for r in &records {
        expect_keys(r, &PAIR_KEYS);
        let (a, b) = (r["model_a"].as_str().unwrap(), r["model_b"].as_str().unwrap());
        let expected = match (a, b) {
            ("strong", _) => "model_a",
            (_, "strong") => "model_b",
            _ => "tie",
        };
        assert_eq!(r["win"], expected, "{r}");
        assert_eq!(r["anony"], true);
        assert_eq!(r["language"], "NA");
        assert!(r["review_text"].as_str().unwrap().contains("Final verdict"));
        assert!(r["tstamp"].as_f64().unwrap() > 1.7e9);
    }

    // Battles are in the database, with the same winners.
    let pool = open_db(&db).await;
    let battles: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT ma.name, mb.name, b.winner, CASE WHEN b.dry_run THEN 1 ELSE 0 END FROM battles b JOIN models ma ON ma.id = b.model_a_id \
         JOIN models mb ON mb.id = b.model_b_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(battles.len(), 15);
    assert!(battles.iter().all(|(a, _, w, dry)| *dry == 0 && (a != "strong" || w == "model_a")));

    // Ratings: both metrics written, strong on top.
    let elo = std::fs::read_to_string(dir.path().join("reports/rating.csv")).unwrap();
    let mut lines = elo.lines();
    assert_eq!(lines.next(), Some("Model,Elo_Rating,CI_Lower,CI_Upper,Rank_UB,Battles,Wins,Losses,Ties"));
    let top = lines.next().unwrap();
    assert!(top.starts_with("strong,") && top.ends_with(",10,10,0,0"), "{top}");
    let pairwise = std::fs::read_to_string(dir.path().join("reports/rating_pairwise.csv")).unwrap();
    assert!(
        pairwise.starts_with("model,win,loss,tie,win_rate,loss_rate,tie_rate\nstrong,10,0,0,1.000000"),
        "{pairwise}"
    );
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("reports/rating.json")).unwrap()).unwrap();
    assert_eq!(json["elo"]["models"][0]["model"], "strong");
    assert_eq!(json["elo"]["models"][0]["rank_ub"], 1);
    assert_eq!(json["pairwise"][0]["win"], 10);
    let weak = json["pairwise"].as_array().unwrap().iter().find(|r| r["model"] == "weak").unwrap();
    assert_eq!((weak["win"].as_u64(), weak["loss"].as_u64(), weak["tie"].as_u64()), (Some(0), Some(5), Some(5)));
}

#[tokio::test]
async fn swap_position_asks_both_orders_and_maps_labels_back() {
    let dir = tempfile::tempdir().unwrap();
    write_answers(dir.path(), 4);
    let judge = MockJudge::start(prefer("GOOD")).await;
    let cfg = write(
        &dir.path().join("cfg.yaml"),
        &review_config(
            &judge.base_url(),
            "pairwise",
            "swap_position",
            &["answers/weak.jsonl", "answers/strong.jsonl"],
            "",
            "",
            "['pairwise']",
        ),
    );
    let summary = run_config(&cfg, &db_url(dir.path()), false, 4).await;
    let reviews = summary.reviews.unwrap();
    assert_eq!((reviews.tasks, reviews.judge_calls), (4, 8));
    assert_eq!(reviews.consistency_rate, Some(1.0));
    // The judge saw each pair in both orders.
    let calls = judge.calls();
    assert_eq!(calls.iter().filter(|c| c.answer_a().unwrap().starts_with("GOOD")).count(), 4);
    assert_eq!(calls.iter().filter(|c| c.answer_b().unwrap().starts_with("GOOD")).count(), 4);

    let records = read_jsonl(&dir.path().join("reviews/review.jsonl"));
    assert_eq!(records.len(), 4);
    for r in &records {
        expect_keys(r, &SWAP_KEYS);
        assert_eq!((r["model_a"].as_str(), r["model_b"].as_str()), (Some("weak"), Some("strong")));
        // strong is model_b in this record: both verdicts, mapped back, say model_b.
        assert_eq!(r["win_1"], "model_b");
        assert_eq!(r["win_2"], "model_b");
        assert_ne!(r["review_text_1"], r["review_text_2"]);
    }
    let report = summary.report.unwrap();
    let strong = report.pairwise.unwrap().into_iter().find(|r| r.model == "strong").unwrap();
    assert_eq!((strong.win, strong.loss, strong.tie), (4, 0, 0));
}

#[tokio::test]
async fn swap_position_turns_a_position_biased_judge_into_ties() {
    let dir = tempfile::tempdir().unwrap();
    write_answers(dir.path(), 3);
    // This judge always prefers whatever it sees first.
    let judge = MockJudge::start(|_call: &Call| Reply::Text("First is best. [[A]]".into())).await;
    let cfg = write(
        &dir.path().join("cfg.yaml"),
        &review_config(
            &judge.base_url(),
            "pairwise",
            "swap_position",
            &["answers/strong.jsonl", "answers/weak.jsonl"],
            "",
            "",
            "['pairwise']",
        ),
    );
    let summary = run_config(&cfg, &db_url(dir.path()), false, 2).await;
    let reviews = summary.reviews.unwrap();
    assert_eq!(reviews.consistency_rate, Some(0.0));
    assert_eq!(reviews.consistency_pairs, 3);
    for r in read_jsonl(&dir.path().join("reviews/review.jsonl")) {
        assert_eq!((r["win_1"].as_str(), r["win_2"].as_str()), (Some("model_a"), Some("model_b")));
    }
    let strong = summary.report.unwrap().pairwise.unwrap().into_iter().find(|r| r.model == "strong").unwrap();
    assert_eq!((strong.win, strong.loss, strong.tie), (0, 0, 3));
}

#[tokio::test]
async fn randomize_order_flips_with_a_seeded_coin_and_keeps_labels_right() {
    let dir = tempfile::tempdir().unwrap();
    write_answers(dir.path(), 20);
    let judge = MockJudge::start(prefer("GOOD")).await;
    let cfg = write(
        &dir.path().join("cfg.yaml"),
        &review_config(
            &judge.base_url(),
            "pairwise",
            "randomize_order",
            &["answers/strong.jsonl", "answers/weak.jsonl"],
            "      random_seed: 7",
            "",
            "['pairwise']",
        ),
    );
    let db = db_url(dir.path());
    let summary = run_config(&cfg, &db, false, 4).await;
    assert_eq!(summary.reviews.as_ref().unwrap().judge_calls, 20);
    let records = read_jsonl(&dir.path().join("reviews/review.jsonl"));
    let flipped = records.iter().filter(|r| r["model_a"] == "weak").count();
    assert!(flipped > 0 && flipped < 20, "the coin should land both ways over 20 questions, flipped {flipped}");
    for r in &records {
        // Whichever side strong was shown on, the verdict names it.
        let expected = if r["model_a"] == "strong" { "model_a" } else { "model_b" };
        assert_eq!(r["win"], expected, "{r}");
    }
    let strong = summary.report.unwrap().pairwise.unwrap().into_iter().find(|r| r.model == "strong").unwrap();
    assert_eq!(strong.win, 20);

    // The same seed flips the same way: a re-run is all cache hits and the same orientation.
    let again = run_config(&cfg, &db, false, 4).await;
    assert_eq!(again.reviews.as_ref().unwrap().cache_hits, 20);
    assert_eq!(judge.call_count(), 20);
    let records_again = read_jsonl(&dir.path().join("reviews/review.jsonl"));
    let orientation = |rs: &[Value]| {
        let mut v: Vec<(String, String)> =
            rs.iter().map(|r| (r["question_id"].to_string(), r["model_a"].as_str().unwrap().to_string())).collect();
        v.sort();
        v
    };
    assert_eq!(orientation(&records), orientation(&records_again));
}

#[tokio::test]
async fn pairwise_baseline_compares_each_candidate_with_the_baseline() {
    let dir = tempfile::tempdir().unwrap();
    write_answers(dir.path(), 3);
    write(&dir.path().join("answers/base.jsonl"), &answers("text_davinci_003", 3, |i| format!("GOOD baseline {i}")));
    let judge = MockJudge::start(prefer("GOOD")).await;
    let mut config = review_config(
        &judge.base_url(),
        "pairwise_baseline",
        "null",
        &["answers/weak.jsonl", "answers/mid.jsonl"],
        "",
        "  baseline_file: answers/base.jsonl",
        "['pairwise']",
    );
    config = config.replace("  report_file:", "  baseline_model: text_davinci_003\n  report_file:");
    let cfg = write(&dir.path().join("cfg.yaml"), &config);
    let summary = run_config(&cfg, &db_url(dir.path()), false, 4).await;
    assert_eq!(summary.reviews.as_ref().unwrap().tasks, 6);
    let records = read_jsonl(&dir.path().join("reviews/review.jsonl"));
    assert_eq!(records.len(), 6);
    for r in &records {
        expect_keys(r, &PAIR_KEYS);
        assert_eq!(r["model_b"], "text_davinci_003");
        assert_eq!(r["win"], "model_b");
    }
    let rows = summary.report.unwrap().pairwise.unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r.model.as_str()).collect();
    assert!(!names.contains(&"text_davinci_003"), "the baseline is not ranked against itself");
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.loss == 3 && r.win_rate == 0.0));
}

#[tokio::test]
async fn single_mode_scores_each_answer() {
    let dir = tempfile::tempdir().unwrap();
    write_answers(dir.path(), 4);
    let judge = MockJudge::start(prefer("GOOD")).await;
    let cfg = write(
        &dir.path().join("cfg.yaml"),
        &review_config(
            &judge.base_url(),
            "single",
            "null",
            &["answers/strong.jsonl", "answers/weak.jsonl"],
            "",
            "",
            "['score']",
        ),
    );
    let summary = run_config(&cfg, &db_url(dir.path()), false, 4).await;
    assert_eq!(summary.reviews.as_ref().unwrap().judge_calls, 8);
    let records = read_jsonl(&dir.path().join("reviews/review.jsonl"));
    assert_eq!(records.len(), 8);
    for r in &records {
        expect_keys(r, &SINGLE_KEYS);
        let expected = if r["model"] == "strong" { 9.0 } else { 3.0 };
        assert_eq!(r["score"].as_f64(), Some(expected));
    }
    let csv = std::fs::read_to_string(dir.path().join("reports/rating.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("model,score,ci_lower,ci_upper,count,unknown,generic"));
    assert_eq!(lines.next(), Some("strong,9.0000,9.0000,9.0000,4,0,9.0000"));
    assert_eq!(lines.next(), Some("weak,3.0000,3.0000,3.0000,4,0,3.0000"));
}

#[tokio::test]
async fn a_rerun_is_served_from_the_cache_and_a_changed_answer_is_judged_again() {
    let dir = tempfile::tempdir().unwrap();
    write_answers(dir.path(), 5);
    let judge = MockJudge::start(prefer("GOOD")).await;
    let cfg = write(
        &dir.path().join("cfg.yaml"),
        &review_config(
            &judge.base_url(),
            "pairwise",
            "swap_position",
            &["answers/strong.jsonl", "answers/weak.jsonl"],
            "",
            "",
            "['elo']",
        ),
    );
    let db = db_url(dir.path());
    let first = run_config(&cfg, &db, false, 4).await;
    assert_eq!(first.reviews.as_ref().unwrap().judge_calls, 10);
    let first_records = read_jsonl(&dir.path().join("reviews/review.jsonl"));

    let second = run_config(&cfg, &db, false, 4).await;
    let r = second.reviews.as_ref().unwrap();
    assert_eq!((r.judge_calls, r.cache_hits), (0, 10));
    assert_eq!(judge.call_count(), 10, "no judge call on a re-run");
    let mut a: Vec<String> = first_records.iter().map(|r| r["review_text_1"].to_string()).collect();
    let mut b: Vec<String> =
        read_jsonl(&dir.path().join("reviews/review.jsonl")).iter().map(|r| r["review_text_1"].to_string()).collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);

    // One changed answer: only its two prompts (both orders) are judged again.
    write(
        &dir.path().join("answers/weak.jsonl"),
        &answers("weak", 5, |i| if i == 3 { "a rewritten answer".into() } else { format!("bad answer {i}") }),
    );
    let third = run_config(&cfg, &db, false, 4).await;
    let r = third.reviews.as_ref().unwrap();
    assert_eq!((r.judge_calls, r.cache_hits), (2, 8));
    assert_eq!(judge.call_count(), 12);
}

#[tokio::test]
async fn dry_run_asks_no_judge_and_never_mixes_with_real_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    write_answers(dir.path(), 6);
    let judge = MockJudge::start(prefer("GOOD")).await;
    let cfg = write(
        &dir.path().join("cfg.yaml"),
        &review_config(
            &judge.base_url(),
            "pairwise",
            "null",
            &["answers/strong.jsonl", "answers/weak.jsonl", "answers/mid.jsonl"],
            "",
            "",
            "['elo', 'pairwise']",
        ),
    );
    let db = db_url(dir.path());
    let dry = run_config(&cfg, &db, true, 4).await;
    assert!(dry.dry_run && dry.succeeded());
    assert_eq!(judge.call_count(), 0, "a dry run calls no judge");
    // Its reviews go beside the real ones, never over them.
    assert!(!dir.path().join("reviews/review.jsonl").exists());
    let records = read_jsonl(&dir.path().join("reviews/review.dry-run.jsonl"));
    assert_eq!(records.len(), 18);
    let wins: BTreeSet<&str> = records.iter().map(|r| r["win"].as_str().unwrap()).collect();
    // Verdicts are drawn per prompt and judge, and the mock judge's port is part of its
    // identity, so which ones these 18 are varies between runs: check their kinds here, and
    // that ties come up on fixed prompts below.
    assert!(wins.len() >= 2 && wins.iter().all(|w| ["model_a", "model_b", "tie"].contains(w)), "{wins:?}");
    let ties = (0..100)
        .filter(|i| {
            let reply = jury::arena::judge::dry_run_reply(
                &format!("prompt {i}"),
                0,
                jury::arena::verdict::VerdictFormat::Abc,
                jury::arena::templates::TemplateKind::Pairwise,
            );
            reply.ends_with("[[C]]")
        })
        .count();
    assert!((15..=55).contains(&ties), "dry-run verdicts include ties: {ties} of 100");
    assert!(records.iter().all(|r| r["review_text"].as_str().unwrap().starts_with("Dry run")));

    // Reproducible: a second dry run gives the same verdicts (from the dry-run cache).
    let dry_again = run_config(&cfg, &db, true, 4).await;
    assert_eq!(dry_again.reviews.as_ref().unwrap().cache_hits, 18);

    // A real run judges everything: dry-run verdicts are not real ones.
    let real = run_config(&cfg, &db, false, 4).await;
    assert_eq!(real.reviews.as_ref().unwrap().judge_calls, 18);
    assert_eq!(judge.call_count(), 18);
    let pool = open_db(&db).await;
    let counts: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT CASE WHEN dry_run THEN 1 ELSE 0 END AS d, COUNT(*) FROM judgments GROUP BY d ORDER BY d",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(counts, vec![(0, 18), (1, 18)]);
    let battles: Vec<(i64, i64)> =
        sqlx::query_as("SELECT CASE WHEN dry_run THEN 1 ELSE 0 END AS d, COUNT(*) FROM battles GROUP BY d ORDER BY d")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(battles, vec![(0, 18), (1, 18)]);
}

#[tokio::test]
async fn reference_templates_are_used_only_with_a_reference() {
    let dir = tempfile::tempdir().unwrap();
    let q = |i: usize, cat: &str| serde_json::json!({"question_id": i, "text": format!("What is {i} + {i}?"), "category": cat, "model_id": "m", "metadata": {}, "answer": ""});
    let mk = |model: &str, marker: &str| -> String {
        [q(1, "math"), q(2, "math"), q(3, "writing")]
            .iter()
            .map(|v| {
                let mut v = v.clone();
                v["model_id"] = model.into();
                v["answer"] = format!("{marker} {}", v["question_id"]).into();
                v.to_string() + "\n"
            })
            .collect()
    };
    write(&dir.path().join("answers/a.jsonl"), &mk("a", "GOOD"));
    write(&dir.path().join("answers/b.jsonl"), &mk("b", "bad"));
    // A reference for question 1 only.
    write(
        &dir.path().join("refs.jsonl"),
        "{\"question_id\": 1, \"text\": \"What is 1 + 1?\", \"answer\": \"REFERENCE-TWO\"}\n",
    );
    let judge = MockJudge::start(prefer("GOOD")).await;
    let cfg = write(
        &dir.path().join("cfg.yaml"),
        &review_config(
            &judge.base_url(),
            "pairwise",
            "null",
            &["answers/a.jsonl", "answers/b.jsonl"],
            "",
            "  reference_file: refs.jsonl",
            "['pairwise']",
        ),
    );
    run_config(&cfg, &db_url(dir.path()), false, 2).await;
    let calls = judge.calls();
    assert_eq!(calls.len(), 3);
    for call in &calls {
        assert!(!call.user.contains("None"), "no literal None: {}", call.user);
        if call.user.contains("What is 1 + 1?") {
            assert!(
                call.user.contains("<reference_answer>\nREFERENCE-TWO"),
                "math with a reference uses the reference template"
            );
        } else {
            assert!(!call.user.contains("reference_answer"), "no reference, no reference template: {}", call.user);
        }
    }
}

#[tokio::test]
async fn fastchat_judge_prompts_and_mt_bench_files_load_as_is() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fastchat");
    // Answers to three MT-Bench questions (81: writing, 111: math with a reference, 121: coding).
    let mk = |model: &str, marker: &str| -> String {
        [81, 111, 121]
            .iter()
            .map(|id| {
                serde_json::json!({"question_id": id, "model_id": model, "choices": [{"index": 0, "turns": [format!("{marker} reply to {id}")]}]})
                    .to_string()
                    + "\n"
            })
            .collect()
    };
    write(&dir.path().join("answers/a.jsonl"), &mk("model-a", "GOOD"));
    write(&dir.path().join("answers/b.jsonl"), &mk("model-b", "bad"));
    let judge = MockJudge::start(prefer("GOOD")).await;
    let mut config = review_config(
        &judge.base_url(),
        "pairwise",
        "null",
        &["answers/a.jsonl", "answers/b.jsonl"],
        "",
        &format!(
            "  prompt_file: {}\n  reference_file: {}",
            fixtures.join("judge_prompts.jsonl").display(),
            fixtures.join("mt_bench_reference_gpt-4.jsonl").display()
        ),
        "['pairwise']",
    );
    config = format!("question_file: {}\n{config}", fixtures.join("mt_bench_question.jsonl").display());
    let cfg = write(&dir.path().join("cfg.yaml"), &config);
    let summary = run_config(&cfg, &db_url(dir.path()), false, 2).await;
    assert!(summary.succeeded(), "{:?}", summary.error);
    let calls = judge.calls();
    assert_eq!(calls.len(), 3);
    // FastChat's pair-v2 for writing, pair-math-v1 (with GPT-4's reference) for math; never a multi-turn template.
    let writing = calls.iter().find(|c| c.user.contains("reply to 81")).unwrap();
    assert!(writing.user.starts_with("[User Question]\nCompose an engaging travel blog post"));
    let math = calls.iter().find(|c| c.user.contains("reply to 111")).unwrap();
    assert!(math.user.contains("[The Start of Reference Answer]"), "{}", math.user);
    assert!(!calls.iter().any(|c| c.user.contains("{question_1}") || c.user.contains("### User:")));
    let records = read_jsonl(&dir.path().join("reviews/review.jsonl"));
    assert!(records.iter().all(|r| r["win"] == "model_a"));
    let math_record = records.iter().find(|r| r["question_id"] == 111).unwrap();
    assert_eq!(math_record["category"], "math");
}

#[tokio::test]
async fn cache_file_from_an_earlier_run_seeds_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    write_answers(dir.path(), 3);
    // An earlier run's reviews (as llmuses wrote them) for questions 1 and 2.
    let old: String = (1..=2)
        .map(|i| {
            serde_json::json!({
                "model_a": "strong", "model_b": "weak", "scores": null, "win": "model_a", "anony": true,
                "tstamp": 1700000000.0 + i as f64, "language": "NA", "question_id": i, "category": "generic",
                "question": format!("Question number {i}?"), "review_text": format!("old review {i} [[A]]"),
            })
            .to_string()
                + "\n"
        })
        .collect();
    write(&dir.path().join("old_reviews.jsonl"), &old);
    let judge = MockJudge::start(prefer("GOOD")).await;
    let cfg = write(
        &dir.path().join("cfg.yaml"),
        &review_config(
            &judge.base_url(),
            "pairwise",
            "null",
            &["answers/strong.jsonl", "answers/weak.jsonl"],
            "",
            "  cache_file: old_reviews.jsonl",
            "['elo']",
        ),
    );
    let summary = run_config(&cfg, &db_url(dir.path()), false, 2).await;
    let r = summary.reviews.unwrap();
    assert_eq!((r.seeded_from_cache_file, r.judge_calls), (2, 1));
    assert_eq!(judge.call_count(), 1);
    let records = read_jsonl(&dir.path().join("reviews/review.jsonl"));
    let q1 = records.iter().find(|r| r["question_id"] == 1).unwrap();
    assert_eq!(q1["review_text"], "old review 1 [[A]]");
}

#[tokio::test]
async fn a_prompt_rendered_twice_at_once_is_paid_for_once() {
    let dir = tempfile::tempdir().unwrap();
    // Identical answers: with swapped positions both orders render the same prompt.
    write(&dir.path().join("answers/x.jsonl"), &answers("x", 3, |i| format!("same answer {i}")));
    write(&dir.path().join("answers/y.jsonl"), &answers("y", 3, |i| format!("same answer {i}")));
    let judge = MockJudge::start(|_call: &Call| {
        Reply::Delayed(std::time::Duration::from_millis(100), Box::new(Reply::Text("[[C]]".into())))
    })
    .await;
    let cfg = write(
        &dir.path().join("cfg.yaml"),
        &review_config(
            &judge.base_url(),
            "pairwise",
            "swap_position",
            &["answers/x.jsonl", "answers/y.jsonl"],
            "",
            "",
            "['pairwise']",
        ),
    );
    let summary = run_config(&cfg, &db_url(dir.path()), false, 8).await;
    let r = summary.reviews.unwrap();
    assert_eq!((r.judge_calls, r.cache_hits), (3, 3));
    assert_eq!(judge.call_count(), 3);
    assert_eq!(read_jsonl(&dir.path().join("reviews/review.jsonl")).len(), 3);
}

#[tokio::test]
async fn the_html_report_lists_every_metric_and_escapes_names() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("answers/a.jsonl"), &answers("<script>alert(1)</script>", 2, |i| format!("GOOD {i}")));
    write(&dir.path().join("answers/b.jsonl"), &answers("plain & simple", 2, |i| format!("bad {i}")));
    let judge = MockJudge::start(prefer("GOOD")).await;
    let cfg = write(
        &dir.path().join("cfg.yaml"),
        &review_config(
            &judge.base_url(),
            "pairwise",
            "null",
            &["answers/a.jsonl", "answers/b.jsonl"],
            "",
            "",
            "[elo, pairwise]",
        ),
    );
    let summary = run_config(&cfg, &db_url(dir.path()), false, 2).await;
    let files = &summary.ratings.as_ref().unwrap().files;
    let html_path = dir.path().join("reports/rating.html");
    assert!(files.contains(&html_path), "{files:?}");
    let html = std::fs::read_to_string(html_path).unwrap();
    assert!(html.contains("<h2>Elo ratings</h2>") && html.contains("<h2>Wins, losses and ties</h2>"));
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
            || html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>"));
    assert!(html.contains("plain &#38; simple") || html.contains("plain &amp; simple"));
    assert!(html.contains("100.0%"), "the winner's win rate is shown");
}

#[tokio::test]
async fn five_level_verdicts_weigh_strong_wins_three_times() {
    let dir = tempfile::tempdir().unwrap();
    write_answers(dir.path(), 2);
    let graded =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("registry/data/prompts/jury_graded_prompts.jsonl");
    // Strong verdicts for GOOD answers, a mild one between the two others.
    let judge = MockJudge::start(|call: &Call| {
        let (a, b) = (call.answer_a().unwrap_or(""), call.answer_b().unwrap_or(""));
        Reply::Text(
            if a.contains("GOOD") {
                "Clearly better. [[A>>B]]"
            } else if b.contains("GOOD") {
                "Clearly worse. [[B>>A]]"
            } else {
                "Slightly better. [[A>B]]"
            }
            .into(),
        )
    })
    .await;
    let cfg = write(
        &dir.path().join("cfg.yaml"),
        &review_config(
            &judge.base_url(),
            "pairwise",
            "null",
            &["answers/weak.jsonl", "answers/strong.jsonl", "answers/mid.jsonl"],
            "",
            &format!("  prompt_file: {}", graded.display()),
            "[pairwise]",
        ),
    );
    let db = db_url(dir.path());
    run_config(&cfg, &db, false, 2).await;
    let records = read_jsonl(&dir.path().join("reviews/review.jsonl"));
    assert_eq!(records.len(), 6);
    for r in &records {
        if r["model_a"] == "strong" || r["model_b"] == "strong" {
            assert_eq!(r["weight"], 3.0, "{r}");
            assert_eq!(r["win"], if r["model_a"] == "strong" { "model_a" } else { "model_b" });
        } else {
            assert!(r.get("weight").is_none(), "weight 1 is not written: {r}");
            assert_eq!(r["win"], "model_a");
        }
    }
    let pool = open_db(&db).await;
    let weights: Vec<(f64, i64)> =
        sqlx::query_as("SELECT weight, COUNT(*) FROM battles GROUP BY weight ORDER BY weight")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(weights, vec![(1.0, 2), (3.0, 4)]);
}

/// A run long enough for several progress updates: the updates must never stall the judging
/// (an update that waits for a database connection held by a paused judgment would).
#[tokio::test]
async fn a_long_run_records_its_progress_and_finishes() {
    let dir = tempfile::tempdir().unwrap();
    write_answers(dir.path(), 150);
    let judge = MockJudge::start(|call: &Call| {
        Reply::Delayed(std::time::Duration::from_millis(40), Box::new(Reply::Text(verdict_for(call, "GOOD"))))
    })
    .await;
    let cfg = write(
        &dir.path().join("cfg.yaml"),
        &review_config(
            &judge.base_url(),
            "pairwise",
            "null",
            &["answers/strong.jsonl", "answers/weak.jsonl", "answers/mid.jsonl"],
            "",
            "",
            "[elo]",
        ),
    );
    let db = db_url(dir.path());
    let run = run_config(&cfg, &db, false, 8);
    let summary = tokio::time::timeout(std::time::Duration::from_secs(60), run).await.expect("the run finishes");
    assert_eq!(summary.reviews.as_ref().unwrap().judge_calls, 450);
    let pool = open_db(&db).await;
    let (stage, done, total): (String, i64, i64) =
        sqlx::query_as("SELECT stage, progress_done, progress_total FROM runs WHERE id = $1")
            .bind(summary.run_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((stage.as_str(), done, total), ("reviews", 450, 450));
}
