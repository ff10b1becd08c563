//! `jury db copy` and `jury db migrate`: a SQLite database filled by a real arena run, votes,
//! a benchmark's cache and samples and a load test's requests is copied to PostgreSQL (when
//! `JURY_TEST_POSTGRES` names a cluster; to a second SQLite file otherwise) and back to SQLite,
//! keeping every row and id, and the copy takes new writes afterwards.

mod common;

use std::path::Path;

use common::*;
use jury::perf::{Failure, RequestOutcome};
use jury::store::{BattleScope, CachedLogLikelihood, NewSample, NewUnit, Store, UnitFilter};
use serde_json::Value;

async fn fill(db: &str, dir: &Path, judge_url: &str) {
    write_strong_and_weak(dir, 6);
    let cfg = strong_vs_weak_config(dir, judge_url, "swap_position", "");
    run_config(&cfg, db, false, 2).await;
    let store = Store::connect(db).await.unwrap();
    let pair = store.answered_pairs(None).await.unwrap()[0];
    for pick in 0..3 {
        let battle = store.open_vote_battle(pair.model_a, pair.model_b, None, pick, pick == 1).await.unwrap().unwrap();
        store.cast_vote(battle.battle_id, ["model_a", "tie", "model_b"][pick as usize], "voter-1").await.unwrap();
    }
    let eval = store.create_run("eval", "{\"datasets\": [\"arc_easy\"]}", None, false).await.unwrap();
    let value = CachedLogLikelihood { logprob: -1.25, greedy: true, tokens: 3 };
    store.save_loglikelihood("model-key", "request-1", "Question: why?", " Because", value).await.unwrap();
    store.save_generation("model-key", "request-2", "Q: 2+2?", "4").await.unwrap();
    let samples = [
        NewSample { doc_id: 0, correct: true, sample: "{\"doc\": 0}" },
        NewSample { doc_id: 1, correct: false, sample: "{\"doc\": 1}" },
    ];
    store.save_eval_samples(eval, "arc_easy", &samples).await.unwrap();
    let perf = store.create_run("perf", "{}", None, false).await.unwrap();
    let outcomes = [
        RequestOutcome {
            scheduled_s: 0.0,
            sent_s: 0.001,
            content_at_s: vec![0.05, 0.07],
            end_s: 0.08,
            chunks: 3,
            prompt_tokens: Some(12),
            completion_tokens: Some(2),
            ..Default::default()
        },
        RequestOutcome {
            scheduled_s: 0.1,
            sent_s: 0.1,
            end_s: 0.2,
            failure: Some(Failure::Http(500)),
            ..Default::default()
        },
    ];
    store.save_perf_requests(perf, 0, &outcomes).await.unwrap();
    // A run shared among workers: one unit done (with its outcome), one still waiting.
    let shared = store.create_run("arena", "{}", None, true).await.unwrap();
    let units = [
        NewUnit { spec: "{\"stage\":\"reviews\"}".into(), size: 100, needs_model: None },
        NewUnit { spec: "{\"stage\":\"reviews\"}".into(), size: 40, needs_model: Some("m.gguf".into()) },
    ];
    store.ensure_units(shared, "reviews", &units).await.unwrap();
    let unit = store.claim_unit("host:1", &UnitFilter::default()).await.unwrap().unwrap();
    store.finish_unit(&unit, Some("1 reviews failed"), Some("{\"judge_calls\": 99}")).await.unwrap();
    store.close().await;
}

/// Everything a page or a rating reads, as text, for comparing two databases.
async fn contents(db: &str) -> String {
    let store = Store::connect_existing(db).await.unwrap();
    let scope = BattleScope::default();
    let human = BattleScope { source: Some("human".into()), ..Default::default() };
    let mut out = format!("{:?}\n", store.battles_for_rating(&scope).await.unwrap());
    out += &format!("{:?}\n", store.battles_for_rating(&human).await.unwrap());
    out += &format!("{:?}\n", store.list_battles(&scope, None, None, None, 100, 0).await.unwrap());
    out += &format!("{:?}\n", store.judged_battles(&scope).await.unwrap());
    out += &format!("{:?}\n", store.list_question_sets().await.unwrap());
    out += &format!("{:?}\n", store.list_runs(100).await.unwrap());
    out += &format!("{:?}\n", store.cached_loglikelihood("model-key", "request-1").await.unwrap());
    out += &format!("{:?}\n", store.cached_generation("model-key", "request-2").await.unwrap());
    let eval = store.list_runs_of_kind("eval", 1).await.unwrap()[0].id;
    out += &format!("{:?}\n", store.eval_samples(eval, "arc_easy", false, 10, 0).await.unwrap());
    let perf = store.list_runs_of_kind("perf", 1).await.unwrap()[0].id;
    out += &format!("{:?}\n", store.perf_requests(perf, 0).await.unwrap());
    let shared = store.list_runs_of_kind("arena", 10).await.unwrap()[0].id;
    out += &format!("{:?}\n", store.stage_progress(shared, "reviews").await.unwrap());
    out += &format!("{:?}\n", store.unit_outcomes(shared, "reviews").await.unwrap());
    out += &format!("{:?}\n", store.unit_workers(shared).await.unwrap());
    store.close().await;
    out
}

fn copy(from: &str, to: &str) -> (Option<i32>, Value, String) {
    let out = run(jury().args(["db", "copy", "--json", "--from", from, "--to", to]));
    (out.status.code(), serde_json::from_str(&stdout(&out)).unwrap_or(Value::Null), stderr(&out))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_is_copied_to_the_other_dialect_and_back_with_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let judge = MockJudge::start(prefer("GOOD")).await;
    let source = format!("sqlite://{}", dir.path().join("source.db").display());
    fill(&source, dir.path(), &judge.base_url()).await;
    let target = match postgres_cluster() {
        Some(cluster) => postgres_database(&cluster, dir.path()),
        None => format!("sqlite://{}", dir.path().join("target.db").display()),
    };

    let (code, report, err) = tokio::task::spawn_blocking({
        let (source, target) = (source.clone(), target.clone());
        move || copy(&source, &target)
    })
    .await
    .unwrap();
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(report["ok"], true);
    let tables = report["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 12);
    for t in tables {
        assert!(t["source"].as_i64().unwrap() > 0, "nothing to copy in {t}");
        assert_eq!(t["source"], t["target"], "{t}");
    }
    let expected: Vec<(&str, i64)> = vec![("battles", 6 + 3), ("votes", 3), ("judgments", 12), ("answers", 12)];
    for (table, n) in expected {
        let row = tables.iter().find(|t| t["table"] == table).unwrap();
        assert_eq!(row["target"], n, "{table}");
    }
    assert_eq!(contents(&target).await, contents(&source).await);

    // A second copy into the same database is refused: it holds data now.
    let (code, _, err) = tokio::task::spawn_blocking({
        let (source, target) = (source.clone(), target.clone());
        move || copy(&source, &target)
    })
    .await
    .unwrap();
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("already holds data"), "{err}");

    // The copy takes new writes: ids continue past the copied ones, the revisions move.
    let store = Store::connect_existing(&target).await.unwrap();
    let before = store.revisions().await.unwrap();
    let largest: i64 = sqlx::query_scalar("SELECT MAX(id) FROM battles").fetch_one(store.pool()).await.unwrap();
    let pair = store.answered_pairs(None).await.unwrap()[0];
    let battle = store.open_vote_battle(pair.model_a, pair.model_b, None, 3, false).await.unwrap().unwrap();
    assert!(battle.battle_id > largest, "{} after {largest}", battle.battle_id);
    let after = store.revisions().await.unwrap();
    assert!(after.battles > before.battles, "{before:?} -> {after:?}");
    sqlx::query("DELETE FROM battles WHERE id = $1").bind(battle.battle_id).execute(store.pool()).await.unwrap();
    store.close().await;

    // And back to SQLite, row for row.
    let back = format!("sqlite://{}", dir.path().join("back.db").display());
    let (code, report, err) = tokio::task::spawn_blocking({
        let (target, back) = (target.clone(), back.clone());
        move || copy(&target, &back)
    })
    .await
    .unwrap();
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(report["ok"], true);
    assert_eq!(contents(&back).await, contents(&source).await);
}

#[test]
fn migrate_reports_the_schema_version_and_a_missing_source_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_url(dir.path());
    let out = run(jury().args(["db", "migrate", "--db", &db]));
    assert!(out.status.success(), "{}", stderr(&out));
    let expected = if db.starts_with("postgres") { 20261207000009_i64 } else { 20261207000008 };
    assert!(stdout(&out).contains(&format!("is at schema version {expected}")), "{}", stdout(&out));

    let missing = format!("sqlite://{}", dir.path().join("missing.db").display());
    let (code, _, err) = copy(&missing, &format!("sqlite://{}", dir.path().join("to.db").display()));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("missing.db"), "{err}");
    assert!(!dir.path().join("missing.db").exists());

    let out = run(jury().args(["db", "migrate", "--db", "mysql://localhost/jury"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("postgres://"), "{}", stderr(&out));
}
