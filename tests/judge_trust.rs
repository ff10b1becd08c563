//! How far judges can be trusted, end to end: a judge with a scripted position bias judges
//! with swapped positions, people vote on some of the same battles, and `jury rate --db`,
//! `/api/judges`, `/judges` and the judge board on `/` report the figures computed by hand.

mod common;

use common::mock_judge::{Call, MockJudge, Reply};
use common::server::{Settings, TestServer};
use common::*;
use serde_json::Value;

fn rate_json(args: &[&str]) -> Value {
    let out = run(jury().arg("rate").args(args).arg("--json"));
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

/// Prefers the GOOD answer on questions 1–4; on 5 and 6 picks whatever it is shown first.
fn biased_judge(call: &Call) -> Reply {
    let (a, b) = (call.answer_a().unwrap_or(""), call.answer_b().unwrap_or(""));
    let position_bound = [a, b].iter().any(|t| t.ends_with(" 5") || t.ends_with(" 6"));
    let pick = if position_bound || a.contains("GOOD") { "[[A]]" } else { "[[B]]" };
    Reply::Text(format!("Final verdict: {pick}"))
}

/// A human vote on question `question` (1-based) between strong and weak.
async fn vote(store: &jury::store::Store, ids: (i64, i64), question: i64, winner: &str) {
    let battle = store.open_vote_battle(ids.0, ids.1, None, question - 1, false).await.unwrap().unwrap();
    assert!(battle.answer_a.contains(&format!("answer {question}")), "{}", battle.answer_a);
    let outcome = store.cast_vote(battle.battle_id, winner, "tester").await.unwrap();
    assert!(matches!(outcome, jury::store::VoteOutcome::Recorded { .. }), "{outcome:?}");
}

#[tokio::test]
async fn judge_reports_from_swapped_verdicts_and_human_votes() {
    let server = TestServer::start(Settings::default()).await;
    let dir = server.dir.path();
    write_strong_and_weak(dir, 6);
    let judge = MockJudge::start(biased_judge).await;
    let cfg = strong_vs_weak_config(dir, &judge.base_url(), "swap_position", "");
    let summary = run_config(&cfg, &server.db, false, 4).await;
    assert!(summary.succeeded(), "{:?}", summary.error);

    let store = jury::store::Store::connect(&server.db).await.unwrap();
    let id = |name: &'static str| {
        let pool = store.pool().clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT id FROM models WHERE name = $1")
                .bind(name)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let ids = (id("strong").await, id("weak").await);
    // Question 1: one vote agrees with the judge (strong), one does not; question 2: a tie
    // against the judge's strong; question 5: a tie, as the judge's two orders combined.
    vote(&store, ids, 1, "model_a").await;
    vote(&store, ids, 1, "model_b").await;
    vote(&store, ids, 2, "tie").await;
    vote(&store, ids, 5, "tie").await;
    store.close().await;

    let out = rate_json(&["--db", &server.db, "--bootstrap", "0"]);
    let judges = out["judges"].as_array().unwrap();
    assert_eq!(judges.len(), 1, "{out}");
    let j = &judges[0];
    assert_eq!(j["judge"], "mock-judge");
    assert_eq!(j["battles"], 6);
    // Questions 1–4 agree across the two orders, 5 and 6 do not.
    assert_eq!((j["consistency"]["count"].as_u64(), j["consistency"]["n"].as_u64()), (Some(4), Some(6)));
    // Twelve decisive verdicts: four each way on 1–4, and all four on 5–6 for the first shown.
    assert_eq!(
        (j["first_position_rate"]["count"].as_u64(), j["first_position_rate"]["n"].as_u64()),
        (Some(8), Some(12))
    );
    let wilson = &j["first_position_rate"];
    assert!((wilson["ci_lower"].as_f64().unwrap() - 0.391_2).abs() < 1e-3, "{wilson}");
    // The GOOD answers are the longer ones; 5 and 6 are ties and do not count.
    assert_eq!(j["longer_answer_win_rate"]["rate"], 1.0);
    assert_eq!(j["longer_answer_win_rate"]["n"], 4);
    // Pairs: (S,S) (S,W) (S,T) (T,T): 2 of 4 agree; without ties 1 of 2; kappa by hand 3/11.
    let human = &j["human_agreement"];
    assert_eq!((human["n"].as_u64(), human["with_ties"].as_f64()), (Some(4), Some(0.5)), "{human}");
    assert_eq!(human["without_ties"].as_f64(), Some(0.5));
    assert!((human["kappa"].as_f64().unwrap() - 3.0 / 11.0).abs() < 1e-9, "{human}");
    assert_eq!(out["people"]["battles"], 4);
    assert_eq!(out["people"]["longer_answer_win_rate"]["n"], 2);

    // One judge's board: its six battles only, and its report only.
    let one = rate_json(&["--db", &server.db, "--judge", "mock-judge", "--bootstrap", "0"]);
    assert_eq!(one["battles"], 6);
    assert_eq!(one["judges"].as_array().unwrap().len(), 1);
    let nobody = rate_json(&["--db", &server.db, "--judge", "nobody", "--bootstrap", "0"]);
    assert_eq!(nobody["battles"], 0);
    assert!(nobody["warnings"].to_string().contains("mock-judge"), "{}", nobody["warnings"]);
    // Style control over the stored answers. Their length ratio never varies here (strong's are
    // always one character longer), so that feature carries nothing and stays at zero.
    let styled = rate_json(&["--db", &server.db, "--source", "judge", "--style-control", "--bootstrap", "0"]);
    let style = &styled["style_control"];
    assert_eq!((style["battles"].as_u64(), style["models"].as_array().unwrap().len()), (Some(6), 2), "{style}");
    assert_eq!(
        style["coefficients"][0],
        serde_json::json!({"feature": "length", "coefficient": 0.0, "ci_lower": null, "ci_upper": null})
    );
    let table = stdout(&run(jury().args(["rate", "--db", &server.db, "--bootstrap", "0"])));
    assert!(table.contains("position consistency") && table.contains("66.7%"), "{table}");

    // The same figures through the API and the pages.
    let api = server.get_json("/api/judges").await;
    assert_eq!(api["judges"][0]["consistency"], j["consistency"]);
    assert_eq!(api["judges"][0]["human_agreement"], j["human_agreement"]);
    let page = reqwest::get(server.url("/judges")).await.unwrap().text().await.unwrap();
    assert!(page.contains("mock-judge") && page.contains("66.7% (") && page.contains("50.0%"), "{page}");
    let board = reqwest::get(server.url("/?source=judge")).await.unwrap().text().await.unwrap();
    assert!(board.contains("id=\"judge-trust\"") && board.contains("66.7% ("), "{board}");
    let judge_board = reqwest::get(server.url("/?judge=mock-judge")).await.unwrap().text().await.unwrap();
    assert!(judge_board.contains("6 battles (one judge)"), "{judge_board}");
    let styled = reqwest::get(server.url("/?source=judge&style_control=1")).await.unwrap().text().await.unwrap();
    assert!(styled.contains("id=\"style-board\"") && styled.contains("<td>length</td>"), "{styled}");
    let api = server.get_json("/api/leaderboard?source=judge&style_control=1").await;
    assert_eq!(api["style_control"]["models"].as_array().unwrap().len(), 2, "{api}");
    assert!(server.get_json("/api/leaderboard").await["style_control"].is_null());
    let unknown = reqwest::get(server.url("/?judge=nobody")).await.unwrap();
    assert_eq!(unknown.status(), 400);
    server.stop().await;
}

#[tokio::test]
async fn verdicts_from_files_are_bound_to_stored_answers_once() {
    let server = TestServer::start(Settings { admin_token: Some("admin-secret".into()), ..Settings::default() }).await;
    let dir = server.dir.path();
    write_strong_and_weak(dir, 6);
    let judge = MockJudge::start(biased_judge).await;
    let cfg = strong_vs_weak_config(dir, &judge.base_url(), "swap_position", "");
    assert!(run_config(&cfg, &server.db, false, 4).await.succeeded());

    // MT-Bench's human judgments, as published: a JSON array, two turns, annotators as judges.
    let human = serde_json::json!([
        {"question_id": 1, "model_a": "strong", "model_b": "weak", "winner": "model_a", "judge": "expert_0", "turn": 1},
        {"question_id": 1, "model_a": "strong", "model_b": "weak", "winner": "model_a", "judge": "expert_1", "turn": 1},
        {"question_id": 1, "model_a": "strong", "model_b": "weak", "winner": "model_b", "judge": "expert_0", "turn": 2},
        {"question_id": 2, "model_a": "weak", "model_b": "strong", "winner": "model_b", "judge": "expert_0", "turn": 1},
        {"question_id": 99, "model_a": "strong", "model_b": "weak", "winner": "model_a", "judge": "expert_0", "turn": 1},
        {"question_id": 3, "model_a": "strong", "model_b": "gpt-4", "winner": "model_a", "judge": "expert_0", "turn": 1},
        {"question_id": 4, "model_a": "strong", "model_b": "weak", "winner": "tie", "judge": "expert_2", "turn": 1}
    ]);
    let file = write(&dir.join("human.json"), &human.to_string());
    let import = |extra: &[&str]| {
        let out = run(jury().args(["import", "battles"]).arg(&file).args(["--db", &server.db, "--json"]).args(extra));
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_str::<Value>(&stdout(&out)).unwrap()
    };
    let summary = import(&[]);
    assert_eq!(
        (&summary["records"], &summary["imported"], &summary["unmatched"], &summary["later_turns"]),
        (&7.into(), &4.into(), &2.into(), &1.into()),
        "{summary}"
    );
    let reasons = summary["unmatched_records"].to_string();
    assert!(reasons.contains("record 5") && reasons.contains("no question 99 in the database"), "{reasons}");
    assert!(reasons.contains("record 6") && reasons.contains("no model named gpt-4"), "{reasons}");
    // Again: nothing new.
    let again = import(&[]);
    assert_eq!((&again["imported"], &again["already_imported"]), (&0.into(), &4.into()), "{again}");
    // Another file with a vote like one already imported: a new vote, not a repeat.
    let later = write(&dir.join("later.json"), &serde_json::json!([human[0].clone()]).to_string());
    let out = run(jury().args(["import", "battles"]).arg(&later).args(["--db", &server.db, "--json"]));
    let later: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(later["imported"], 1, "{later}");

    // Four votes on the judge's battles: strong, strong (q1), strong (q2), tie (q4); the judge
    // picked strong on all three questions.
    // And the later one: strong again on q1.
    let rated = rate_json(&["--db", &server.db, "--source", "human", "--bootstrap", "0"]);
    assert_eq!(rated["battles"], 5);
    let agreement = &rated["judges"][0]["human_agreement"];
    assert_eq!((agreement["n"].as_u64(), agreement["with_ties"].as_f64()), (Some(5), Some(0.8)), "{agreement}");
    let votes = server.get_json("/api/leaderboard?source=human").await;
    assert_eq!(votes["battles"], 5);

    // Bad input exits 2 with the file, the place and the key.
    let bad = write(
        &dir.join("bad.jsonl"),
        "{\"question_id\": 1, \"model_a\": \"strong\", \"model_b\": \"weak\", \"winner\": \"A\"}\n",
    );
    let out = run(jury().args(["import", "battles"]).arg(&bad).args(["--db", &server.db]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("bad.jsonl:1") && stderr(&out).contains("winner"), "{}", stderr(&out));
    let unnamed = write(
        &dir.join("judge.jsonl"),
        "{\"question_id\": 1, \"model_a\": \"strong\", \"model_b\": \"weak\", \"win\": \"model_b\"}\n",
    );
    let out = run(jury().args(["import", "battles"]).arg(&unnamed).args(["--db", &server.db, "--source", "judge"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--judge NAME"), "{}", stderr(&out));

    // The API, admin only: a second judge's llmuses review, disagreeing with the first on q1.
    let client = reqwest::Client::new();
    let post = |auth: Option<&str>| {
        let mut request = client
            .post(server.url("/api/battles/import?source=judge&judge=other-judge"))
            .header("content-type", "application/jsonl")
            .header("x-requested-with", "test")
            .body(std::fs::read_to_string(&unnamed).unwrap());
        if let Some(token) = auth {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    assert_eq!(post(None).await.unwrap().status(), 401);
    let answer = post(Some("admin-secret")).await.unwrap();
    assert_eq!(answer.status(), 200);
    let summary: Value = answer.json().await.unwrap();
    assert_eq!(summary["imported"], 1, "{summary}");
    let judges = server.get_json("/api/judges").await;
    let other = judges["judges"].as_array().unwrap().iter().find(|j| j["judge"] == "other-judge").unwrap().clone();
    assert_eq!(other["agreement"]["mock-judge"]["with_ties"], 0.0, "{other}");
    assert_eq!(other["human_agreement"]["n"], 3, "{other}");
    server.stop().await;
}

#[tokio::test]
async fn calibration_votes_are_on_pairs_a_judge_decided() {
    let server = TestServer::start(Settings::default()).await;
    // Nothing judged yet (the registry's demo set has no judge battles): nothing to calibrate.
    let empty = reqwest::get(server.url("/api/vote/next?calibration=1")).await.unwrap();
    assert_eq!(empty.status(), 409);
    let page = reqwest::get(server.url("/vote?calibration=1")).await.unwrap().text().await.unwrap();
    assert!(page.contains("nothing to calibrate"), "{page}");

    let dir = server.dir.path();
    write_strong_and_weak(dir, 3);
    let judge = MockJudge::start(biased_judge).await;
    let cfg = strong_vs_weak_config(dir, &judge.base_url(), "null", "");
    assert!(run_config(&cfg, &server.db, false, 4).await.succeeded());

    let client = reqwest::Client::new();
    let mut shown = Vec::new();
    for _ in 0..3 {
        let battle = server.get_json("/api/vote/next?calibration=1").await;
        let answers = [battle["answer_a"].as_str().unwrap(), battle["answer_b"].as_str().unwrap()];
        // Exactly the strong and weak answers to one question, as the judge saw them.
        let number = |t: &str| t.rsplit(' ').next().unwrap().to_string();
        assert_eq!(number(answers[0]), number(answers[1]), "{battle}");
        assert!(answers.iter().any(|a| a.starts_with("GOOD")) && answers.iter().any(|a| a.starts_with("bad")));
        shown.push(number(answers[0]));
        let winner = if answers[0].starts_with("GOOD") { "model_a" } else { "model_b" };
        let voted = client
            .post(server.url(&format!("/api/vote/{}", battle["battle_id"])))
            .header("x-requested-with", "test")
            .json(&serde_json::json!({"winner": winner}))
            .send()
            .await
            .unwrap();
        assert_eq!(voted.status(), 200);
    }
    // The fewest votes first: each of the three judged pairs once.
    shown.sort();
    assert_eq!(shown, ["1", "2", "3"]);
    let judges = server.get_json("/api/judges").await;
    let agreement = &judges["judges"][0]["human_agreement"];
    assert_eq!((agreement["n"].as_u64(), agreement["with_ties"].as_f64()), (Some(3), Some(1.0)), "{judges}");
    server.stop().await;
}
