//! The store on either dialect (SQLite here, PostgreSQL in `.ci/run`'s second pass): what
//! differs between them must not show. A statement prepared with a NULL real and then used
//! with a value; queued runs claimed by several processes at once, each by exactly one.

mod common;

use std::collections::HashSet;

use common::*;
use jury::store::{NEEDS_OWN_SERVER, NewJudgment, NewUnit, RunFilter, StageProgress, Store, UnitFilter};

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

fn unit(spec: &str, needs_model: Option<&str>) -> NewUnit {
    NewUnit { spec: spec.into(), size: 10, needs_model: needs_model.map(str::to_string) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn units_are_claimed_once_by_workers_that_have_their_model_and_again_when_a_lease_runs_out() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_url(dir.path());
    let store = Store::connect(&db).await.unwrap();
    let run = store.enqueue_run("arena", "shared", "{}", true, "/nonexistent").await.unwrap();
    let units = [unit("a", None), unit("b", Some("big.gguf")), unit("c", None), unit("d", Some("small.gguf"))];
    store.ensure_units(run, "reviews", &units).await.unwrap();
    // Recording them again (a run taken up after its worker died) adds nothing.
    store.ensure_units(run, "reviews", &units).await.unwrap();
    assert_eq!(store.count_rows("run_units").await.unwrap(), 4);

    let any = UnitFilter::default();
    assert!(store.claim_unit("w0", &any).await.unwrap().is_none(), "the run is queued, not running");
    assert_eq!(store.claim_next_run().await.unwrap().unwrap().id, run);

    // A worker with no local model takes only the units that need none.
    let none: Vec<String> = Vec::new();
    let plain = UnitFilter { run_id: None, models: Some(&none) };
    let mut taken = Vec::new();
    while let Some(u) = store.claim_unit("w1", &plain).await.unwrap() {
        taken.push(u);
    }
    assert_eq!(taken.iter().map(|u| u.spec.as_str()).collect::<Vec<_>>(), ["a", "c"]);
    // One that has small.gguf takes its unit and not big.gguf's.
    let small = vec!["small.gguf".to_string()];
    let with_small = UnitFilter { run_id: Some(run), models: Some(&small) };
    let u = store.claim_unit("w2", &with_small).await.unwrap().unwrap();
    assert_eq!((u.spec.as_str(), u.needs_model.as_deref()), ("d", Some("small.gguf")));
    assert!(store.claim_unit("w2", &with_small).await.unwrap().is_none());
    // One that takes anything gets the last.
    let b = store.claim_unit("w3", &any).await.unwrap().unwrap();
    assert_eq!(b.spec, "b");
    assert_eq!(
        store.stage_progress(run, "reviews").await.unwrap(),
        StageProgress { units: 4, units_done: 0, items: 40, items_done: 0 }
    );

    store.finish_unit(&u, None, None).await.unwrap();
    store.finish_unit(&b, Some("2 reviews failed"), None).await.unwrap();
    let progress = store.stage_progress(run, "reviews").await.unwrap();
    assert_eq!((progress.units_done, progress.items_done), (2, 20));
    assert!(!progress.finished());

    // Units whose worker stopped beating (their lease ran out) are claimed again, each by one
    // of several claimers, and remember it.
    let stale_by = if db.starts_with("postgres") { "extract(epoch FROM clock_timestamp()) - 3600" } else { "0" };
    let q = format!("UPDATE run_units SET heartbeat_at = {stale_by} WHERE status = 'running'");
    let pool = open_db(&db).await;
    sqlx::query(sqlx::AssertSqlSafe(q)).execute(&pool).await.unwrap();
    let mut claimers = Vec::new();
    for i in 0..3 {
        let store = Store::connect(&db).await.unwrap();
        claimers.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(u) = store.claim_unit(&format!("late{i}"), &UnitFilter::default()).await.unwrap() {
                got.push((u.spec, u.attempts));
            }
            store.close().await;
            got
        }));
    }
    let mut again = Vec::new();
    for c in claimers {
        again.extend(c.await.unwrap());
    }
    again.sort();
    assert_eq!(again, [("a".to_string(), 2), ("c".to_string(), 2)]);
    // The first claims, late, can neither finish nor hand back what others now hold.
    store.finish_unit(&taken[0], None, Some("{}")).await.unwrap();
    store.release_unit(&taken[1]).await.unwrap();
    let after = store.stage_progress(run, "reviews").await.unwrap();
    assert_eq!((after.units_done, after.items_done), (2, 20));
    assert!(store.claim_unit("w4", &UnitFilter::default()).await.unwrap().is_none(), "nothing went back to the queue");
    store.close().await;
}

#[tokio::test]
async fn queued_runs_go_only_to_workers_that_can_do_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&db_url(dir.path())).await.unwrap();
    let plain = store.enqueue_run("arena", "any worker", "{}", true, "/nonexistent").await.unwrap();
    let needs = |model| store.enqueue_run_needing("eval", "scores a local model", "{}", false, "/nonexistent", model);
    let small = needs(Some("small.gguf")).await.unwrap();
    let big = needs(Some("big.gguf")).await.unwrap();
    let own = needs(Some(NEEDS_OWN_SERVER)).await.unwrap();

    // A `jury worker` with small.gguf: the plain run, then the one needing its model; never a
    // test of a server's own /v1, nor big.gguf's eval.
    let small_only = vec!["small.gguf".to_string()];
    let worker = RunFilter { models: Some(&small_only), own_server: false };
    assert_eq!(store.claim_next_run_for(&worker).await.unwrap().unwrap().id, plain);
    assert_eq!(store.claim_next_run_for(&worker).await.unwrap().unwrap().id, small);
    assert!(store.claim_next_run_for(&worker).await.unwrap().is_none());
    // A `jury worker` without --models takes big.gguf's eval (reading the file where it was
    // queued), still not the own-server test.
    let any_model = RunFilter { models: None, own_server: false };
    assert_eq!(store.claim_next_run_for(&any_model).await.unwrap().unwrap().id, big);
    assert!(store.claim_next_run_for(&any_model).await.unwrap().is_none());
    // A server's worker takes that.
    assert_eq!(store.claim_next_run().await.unwrap().unwrap().id, own);
    store.close().await;
}
