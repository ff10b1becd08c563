//! A run killed with SIGKILL part-way resumes without repeating a judge call that returned
//! and without losing a review.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

const QUESTIONS: usize = 12;

/// Judgments stored complete; 0 while the run has not created its database yet.
fn count_judgments(db: &str) -> i64 {
    // Read the real database the killed process wrote, as a user would.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let Ok(store) = jury::store::Store::connect_existing(db).await else { return 0 };
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM judgments WHERE complete = TRUE")
            .fetch_one(store.pool())
            .await
            .unwrap();
        store.close().await;
        n
    })
}

#[test]
fn a_killed_run_resumes_without_repeating_paid_judge_calls() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("answers/strong.jsonl"), &answers("strong", QUESTIONS, |i| format!("GOOD answer {i}")));
    write(&dir.path().join("answers/weak.jsonl"), &answers("weak", QUESTIONS, |i| format!("bad answer {i}")));

    // First judge: answers the first 7 requests, then hangs, so the run is mid-way when killed.
    const ANSWERED: usize = 7;
    let good = prefer("GOOD");
    let first =
        MockJudge::start_in_background(move |call: &Call| if call.index < ANSWERED { good(call) } else { Reply::Hang });
    let cfg = write(
        &dir.path().join("cfg.yaml"),
        &review_config(
            &first.base_url(),
            "pairwise",
            "swap_position",
            &["answers/strong.jsonl", "answers/weak.jsonl"],
            "",
            "",
            "['elo', 'pairwise']",
        ),
    );
    let db = db_url(dir.path());
    let mut child = jury()
        .args(["arena", "-c"])
        .arg(&cfg)
        .arg("--db")
        .arg(&db)
        .args(["--concurrency", "3"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    // Wait until every answered judgment is in the database, then kill -9.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if first.call_count() > ANSWERED && count_judgments(&db) as usize >= ANSWERED {
            break;
        }
        assert!(Instant::now() < deadline, "the run never stored {ANSWERED} judgments");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(first.call_count() > ANSWERED, "requests were still in flight when killed");
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    assert_eq!(count_judgments(&db), ANSWERED as i64);
    // The review file already holds every review completed before the kill.
    let partial = read_jsonl(&dir.path().join("reviews/review.jsonl"));
    assert!(!partial.is_empty() && partial.len() <= ANSWERED / 2 + 1);

    // The second run, against a healthy judge, asks only for what never came back.
    let answered_prompts: Vec<String> =
        first.calls().iter().filter(|c| c.index < ANSWERED).map(|c| c.user.clone()).collect();
    // The same judge, answering again (the review cache knows a judge by its endpoint too).
    first.answer_with(prefer("GOOD"));
    let second = &first;
    let out = run(jury().args(["arena", "-c"]).arg(&cfg).arg("--db").arg(&db).arg("--json"));
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(summary["reviews"]["cache_hits"], ANSWERED);
    assert_eq!(summary["reviews"]["judge_calls"], 2 * QUESTIONS - ANSWERED);
    assert_eq!(second.call_count(), 2 * QUESTIONS - ANSWERED);
    for call in second.calls() {
        assert!(!answered_prompts.contains(&call.user), "a paid judge call was repeated");
    }
    // Nothing lost: every review is in the file and the database.
    let records = read_jsonl(&dir.path().join("reviews/review.jsonl"));
    assert_eq!(records.len(), QUESTIONS);
    assert!(records.iter().all(|r| r["win_1"] == "model_a" && r["win_2"] == "model_a"));
    assert_eq!(count_judgments(&db), 2 * QUESTIONS as i64);
}
