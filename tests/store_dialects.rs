//! The store on either dialect (SQLite here, PostgreSQL in `.ci/run`'s second pass): what
//! differs between them must not show. A statement prepared with a NULL real and then used
//! with a value; queued runs claimed by several processes at once, each by exactly one.

mod common;

use std::collections::HashSet;

use common::*;
use jury::store::{NewJudgment, Store};

fn judgment<'a>(key: &'a str, score: Option<f64>) -> NewJudgment<'a> {
    NewJudgment {
        cache_key: key,
        judge_model: "judge",
        template: "single-v1",
        question_id: None,
        answer_a_id: None,
        answer_b_id: None,
        raw_text: "Rating: [[7]]",
        verdict: "score",
        score_a: score,
        score_b: None,
        weight: 1.0,
        attempts: 1,
        complete: true,
        dry_run: false,
        prompt_tokens: 10,
        completion_tokens: 5,
        run_id: None,
    }
}

#[tokio::test]
async fn a_missing_score_and_then_a_score_go_through_the_same_statement() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&db_url(dir.path())).await.unwrap();
    // Alternating, so that every pooled connection meets the statement with a NULL first.
    let keys: Vec<String> = (0..40).map(|i| format!("judgment {i}")).collect();
    for (i, key) in keys.iter().enumerate() {
        let score = (i % 2 == 1).then_some(i as f64 / 2.0);
        let saved = store.save_judgment(&judgment(key, score)).await.unwrap();
        assert_eq!(saved.score_a, score, "{key}");
    }
    let again = store.judgment("judgment 7").await.unwrap().unwrap();
    assert_eq!((again.score_a, again.score_b, again.complete, again.dry_run), (Some(3.5), None, true, false));
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_queued_run_is_claimed_by_exactly_one_of_several_processes() {
    const RUNS: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let db = db_url(dir.path());
    let store = Store::connect(&db).await.unwrap();
    let mut queued = HashSet::new();
    for i in 0..RUNS {
        queued.insert(store.enqueue_run("arena", &format!("run {i}"), "{}", true, "/nonexistent").await.unwrap());
    }
    // Four stores with pools of their own, as four servers on one database would have.
    let mut claimers = Vec::new();
    for _ in 0..4 {
        let store = Store::connect(&db).await.unwrap();
        claimers.push(tokio::spawn(async move {
            let mut claimed = Vec::new();
            while let Some(run) = store.claim_next_run().await.unwrap() {
                assert_eq!(run.status, "running");
                claimed.push(run.id);
            }
            store.close().await;
            claimed
        }));
    }
    let mut all = Vec::new();
    for claimer in claimers {
        all.extend(claimer.await.unwrap());
    }
    let distinct: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), RUNS, "a run was claimed twice: {all:?}");
    assert_eq!(distinct, queued);
    store.close().await;
}
