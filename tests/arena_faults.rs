//! A judge that fails in the ways real APIs do: 5xx, 429 with Retry-After, requests that
//! hang, replies with no verdict, replies that are not JSON. Runs finish with correct counts.

mod common;

use std::time::{Duration, Instant};

use common::*;

fn setup(dir: &std::path::Path, n: usize) {
    write(&dir.join("answers/strong.jsonl"), &answers("strong", n, |i| format!("GOOD answer {i}")));
    write(&dir.join("answers/weak.jsonl"), &answers("weak", n, |i| format!("bad answer {i}")));
}

fn config(judge: &MockJudge, extra_args: &str) -> String {
    review_config(
        &judge.base_url(),
        "pairwise",
        "null",
        &["answers/strong.jsonl", "answers/weak.jsonl"],
        extra_args,
        "",
        "['pairwise']",
    )
}

#[tokio::test]
async fn server_errors_are_retried() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path(), 4);
    let good = prefer("GOOD");
    let judge =
        MockJudge::start(
            move |call: &Call| {
                if call.attempt == 0 { Reply::Status { code: 500, retry_after: None } } else { good(call) }
            },
        )
        .await;
    let cfg = write(&dir.path().join("cfg.yaml"), &config(&judge, ""));
    let summary = run_config(&cfg, &db_url(dir.path()), false, 4).await;
    assert!(summary.succeeded(), "{:?}", summary.error);
    let r = summary.reviews.unwrap();
    assert_eq!((r.judge_calls, r.retries, r.failed, r.unknown), (4, 4, 0, 0));
    assert_eq!(judge.call_count(), 8);
    let strong = summary.report.unwrap().pairwise.unwrap().into_iter().find(|r| r.model == "strong").unwrap();
    assert_eq!(strong.win, 4);
}

#[tokio::test]
async fn rate_limits_honour_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path(), 2);
    let good = prefer("GOOD");
    let judge = MockJudge::start(move |call: &Call| {
        if call.attempt == 0 { Reply::Status { code: 429, retry_after: Some("2".into()) } } else { good(call) }
    })
    .await;
    let cfg = write(&dir.path().join("cfg.yaml"), &config(&judge, ""));
    let summary = run_config(&cfg, &db_url(dir.path()), false, 4).await;
    assert!(summary.succeeded());
    assert_eq!(summary.reviews.unwrap().retries, 2);
    // Each retry waited for the Retry-After the server asked for (not the shorter backoff).
    let calls = judge.calls();
    for retry in calls.iter().filter(|c| c.attempt == 1) {
        let first = calls.iter().find(|c| c.attempt == 0 && c.user == retry.user).unwrap();
        let waited = retry.at - first.at;
        assert!(waited >= Duration::from_millis(1900), "waited only {waited:?}");
    }
}

#[tokio::test]
async fn hanging_requests_time_out_and_are_retried() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path(), 2);
    let good = prefer("GOOD");
    let judge = MockJudge::start(move |call: &Call| if call.attempt == 0 { Reply::Hang } else { good(call) }).await;
    let cfg = write(&dir.path().join("cfg.yaml"), &config(&judge, "").replace("timeout: 5", "timeout: 1"));
    let started = Instant::now();
    let summary = run_config(&cfg, &db_url(dir.path()), false, 4).await;
    assert!(summary.succeeded(), "{:?}", summary.error);
    assert!(started.elapsed() >= Duration::from_secs(1));
    let r = summary.reviews.unwrap();
    assert_eq!((r.judge_calls, r.retries, r.failed), (2, 2, 0));
}

#[tokio::test]
async fn unreadable_verdicts_are_asked_again_then_stored_as_unknown() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path(), 3);
    // Question 1's prompt never gets a verdict; the others get one on the second try.
    let good = prefer("GOOD");
    let judge = MockJudge::start(move |call: &Call| {
        if call.user.contains("Question number 1?") || call.attempt == 0 {
            Reply::Text("Both answers have merit and I cannot decide.".into())
        } else {
            good(call)
        }
    })
    .await;
    let cfg = write(&dir.path().join("cfg.yaml"), &config(&judge, "      parse_retries: 2"));
    let db = db_url(dir.path());
    let summary = run_config(&cfg, &db, false, 2).await;
    assert!(summary.succeeded());
    let r = summary.reviews.as_ref().unwrap();
    // Question 1: 3 asks; questions 2 and 3: 2 asks each.
    assert_eq!((r.judge_calls, r.reasks, r.unknown), (7, 4, 1));
    let records = read_jsonl(&dir.path().join("reviews/review.jsonl"));
    let q1 = records.iter().find(|r| r["question_id"] == 1).unwrap();
    assert_eq!(q1["win"], "unknown");
    // unknown never counts for either side.
    let report = summary.report.as_ref().unwrap();
    assert_eq!(report.unknown_excluded, 1);
    let rows = report.pairwise.as_ref().unwrap();
    let strong = rows.iter().find(|r| r.model == "strong").unwrap();
    let weak = rows.iter().find(|r| r.model == "weak").unwrap();
    assert_eq!((strong.win, strong.loss, strong.tie), (2, 0, 0));
    assert_eq!((weak.win, weak.loss, weak.tie), (0, 2, 0));
    // The unknown is final: a re-run asks nothing.
    let again = run_config(&cfg, &db, false, 2).await;
    assert_eq!(again.reviews.unwrap().judge_calls, 0);
    assert_eq!(judge.call_count(), 7);
}

#[tokio::test]
async fn a_judge_that_keeps_failing_fails_the_run_and_a_rerun_asks_only_for_the_missing() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path(), 4);
    // Question 2 always gets a 503, question 3 a body that is not JSON.
    let good = prefer("GOOD");
    let broken = MockJudge::start(move |call: &Call| {
        if call.user.contains("Question number 2?") {
            Reply::Status { code: 503, retry_after: None }
        } else if call.user.contains("Question number 3?") {
            Reply::Garbage
        } else {
            good(call)
        }
    })
    .await;
    let cfg = write(&dir.path().join("cfg.yaml"), &config(&broken, "      max_retries: 2"));
    let db = db_url(dir.path());
    let summary = run_config(&cfg, &db, false, 4).await;
    assert!(!summary.succeeded());
    let r = summary.reviews.as_ref().unwrap();
    assert_eq!((r.judge_calls, r.failed), (2, 2));
    assert!(summary.error.as_deref().unwrap().contains("2 reviews failed"));
    // 2 good + 3 tries at question 2 + 1 at question 3.
    assert_eq!(broken.call_count(), 6);

    // The same judge, recovered (the review cache knows a judge by its endpoint too).
    broken.answer_with(prefer("GOOD"));
    let healthy = &broken;
    let summary = run_config(&cfg, &db, false, 4).await;
    assert!(summary.succeeded());
    let r = summary.reviews.unwrap();
    assert_eq!((r.judge_calls, r.cache_hits), (2, 2));
    let asked: Vec<String> = healthy.calls().iter().map(|c| c.user.clone()).collect();
    assert!(asked.iter().all(|u| u.contains("Question number 2?") || u.contains("Question number 3?")));
    assert_eq!(read_jsonl(&dir.path().join("reviews/review.jsonl")).len(), 4);
}
