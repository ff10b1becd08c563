//! Panels of judges end to end: mock judges that disagree in scripted ways review the same
//! battles; each judge's verdicts are stored under its own name, and the panel's verdicts
//! (majority, weighted) are exactly the ones the scripts imply. Also peer examination (from
//! answer files and from candidates answering through an endpoint) and reward-model judges.

mod common;

use std::path::Path;

use common::mock_judge::{Call, MockJudge, Reply};
use common::*;
use serde_json::Value;

/// `which` wins every question but `against_on`, where the other answer wins.
fn judge_preferring(good: bool, against_on: Option<&'static str>) -> impl Fn(&Call) -> Reply + Send + Sync {
    move |call: &Call| {
        let a = call.answer_a().unwrap_or("");
        let mut a_wins = a.contains("GOOD") == good;
        if against_on.is_some_and(|q| a.ends_with(q)) {
            a_wins = !a_wins;
        }
        Reply::Text(if a_wins { "[[A]]" } else { "[[B]]" }.into())
    }
}

fn panel_config(dir: &Path, judges: &[(&str, &MockJudge)], aggregation: &str) -> std::path::PathBuf {
    let reviewers: String = judges
        .iter()
        .map(|(name, judge)| {
            format!(
                "    - args: {{model: {name}, api_base: {}, api_key_env: JURY_TEST_KEY, mode: pairwise}}\n",
                judge.base_url()
            )
        })
        .collect();
    write(
        &dir.join(format!("cfg_{}.yaml", aggregation.split_whitespace().next().unwrap())),
        &format!(
            "answers_gen: {{}}\nreviews_gen:\n  enable: true\n  reviewers:\n{reviewers}  {aggregation}\n  \
             target_answers: [answers/strong.jsonl, answers/weak.jsonl]\n  review_file: reviews/panel.jsonl\n\
             rating_gen:\n  enable: true\n  metrics: [pairwise]\n  report_file: reports/rating.csv\n"
        ),
    )
}

fn wins(file: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = read_jsonl(file)
        .iter()
        .map(|r: &Value| (r["question_id"].to_string(), r["win"].as_str().unwrap().to_string()))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_panels_verdicts_follow_its_judges_and_each_judge_keeps_its_own() {
    let dir = tempfile::tempdir().unwrap();
    write_strong_and_weak(dir.path(), 4);
    // j1 prefers strong's GOOD answers; j2 too, except on question 1; j3 prefers weak's.
    let j1 = MockJudge::start(judge_preferring(true, None)).await;
    let j2 = MockJudge::start(judge_preferring(true, Some(" 1"))).await;
    let j3 = MockJudge::start(judge_preferring(false, None)).await;
    let judges = [("j1", &j1), ("j2", &j2), ("j3", &j3)];
    let db = db_url(dir.path());
    let summary = run_config(&panel_config(dir.path(), &judges, "aggregation: majority"), &db, false, 4).await;
    assert!(summary.succeeded(), "{:?}", summary.error);
    assert_eq!(summary.panel.iter().map(|m| m.judge.as_str()).collect::<Vec<_>>(), ["j1", "j2", "j3"]);
    assert!(summary.panel.iter().all(|m| m.reviews.judge_calls == 4), "{:?}", summary.panel);

    // Names sort strong before weak: model_a is strong. Question 1: j1 strong, j2 weak, j3 weak
    // → weak; the others: strong twice against weak once → strong.
    let panel = dir.path().join("reviews/panel.jsonl");
    let expected = |q1: &str| {
        vec![
            ("1".to_string(), q1.to_string()),
            ("2".into(), "model_a".into()),
            ("3".into(), "model_a".into()),
            ("4".into(), "model_a".into()),
        ]
    };
    assert_eq!(wins(&panel), expected("model_b"));
    let first = &read_jsonl(&panel)[0];
    assert!(first["review_text"].as_str().unwrap().contains("j2: model_b"), "{first}");
    // Each judge's own review file and battles, under its own name.
    for (name, _) in &judges {
        assert_eq!(read_jsonl(&dir.path().join(format!("reviews/panel_{name}.jsonl"))).len(), 4);
    }
    let pool = open_db(&db).await;
    let per_judge: Vec<(String, i64)> =
        sqlx::query_as("SELECT judge_model, COUNT(*) FROM battles GROUP BY judge_model ORDER BY judge_model")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(per_judge, [("j1".into(), 4), ("j2".into(), 4), ("j3".into(), 4)]);

    // Weighted: j3 weighs 3 and outvotes the other two everywhere. Each judge's verdicts come
    // from its own cache: no judge is asked again.
    let calls = [j1.call_count(), j2.call_count(), j3.call_count()];
    let weighted = "aggregation: weighted\n  weights: {j3: 3}";
    let summary = run_config(&panel_config(dir.path(), &judges, weighted), &db, false, 4).await;
    assert!(summary.succeeded(), "{:?}", summary.error);
    assert_eq!([j1.call_count(), j2.call_count(), j3.call_count()], calls);
    assert_eq!(wins(&panel).iter().filter(|(_, w)| w == "model_b").count(), 4);
    // The ratings are the panel's four battles (not the judges' twelve): weak won all four.
    let report = summary.report.expect("a report");
    assert_eq!(report.battles, 4);
    let weak = report.pairwise.unwrap().into_iter().find(|r| r.model == "weak").unwrap();
    assert_eq!((weak.win, weak.loss, weak.tie), (4, 0, 0));
}

#[test]
fn a_panel_config_is_checked_with_key_paths() {
    let dir = tempfile::tempdir().unwrap();
    write_strong_and_weak(dir.path(), 1);
    let cfg = write(
        &dir.path().join("cfg.yaml"),
        "answers_gen: {}\nreviews_gen:\n  reviewer:\n    args: {model: a}\n  reviewers:\n    - args: {model: a, mode: pairwise}\n    \
         - args: {model: a, mode: single}\n  aggregation: mean\n  weights: {zed: 2}\n  \
         target_answers: [answers/strong.jsonl, answers/weak.jsonl]\n  review_file: reviews/r.jsonl\n",
    );
    let out = run(jury().args(["arena", "-c"]).arg(&cfg).arg("--dry-run"));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    let peer = write(
        &dir.path().join("peer.yaml"),
        "answers_gen: {}\nreviews_gen:\n  reviewer:\n    args: {mode: peer}\n  reviewers:\n    - args: {model: a}\n  \
         target_answers: [answers/strong.jsonl, answers/weak.jsonl]\n  review_file: reviews/r.jsonl\n",
    );
    let out = run(jury().args(["arena", "-c"]).arg(&peer).arg("--dry-run"));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("reviews_gen.reviewers[0].as_candidate"), "{}", stderr(&out));
    assert!(stderr(&out).contains("peer mode needs at least two judges"), "{}", stderr(&out));
    for expected in [
        "reviews_gen.reviewers: give either reviewer",
        "reviews_gen.reviewers[1].args: a second judge named a",
        "reviews_gen.reviewers[1].args.mode: every judge of a panel must use the same mode",
        "reviews_gen.aggregation: expected majority or weighted",
    ] {
        assert!(err.contains(expected), "{expected} in {err}");
    }
}

/// Prefers alpha over beta over gamma, except that `vain` (if any) always prefers itself.
fn ranking_judge(vain: Option<&'static str>) -> impl Fn(&Call) -> Reply + Send + Sync {
    move |call: &Call| {
        let rank = |text: &str| match text.split_whitespace().next().unwrap_or("") {
            m if Some(m) == vain => 9,
            "alpha" => 3,
            "beta" => 2,
            _ => 1,
        };
        let a_wins = rank(call.answer_a().unwrap_or("")) > rank(call.answer_b().unwrap_or(""));
        Reply::Text(if a_wins { "[[A]]" } else { "[[B]]" }.into())
    }
}

fn peer_config(dir: &Path, judges: &[(&str, &MockJudge)], self_judging: bool) -> std::path::PathBuf {
    let reviewers: String = judges
        .iter()
        .map(|(name, judge)| {
            format!(
                "    - as_candidate: {name}\n      args: {{model: {name}-judge, api_base: {}, api_key_env: JURY_TEST_KEY}}\n",
                judge.base_url()
            )
        })
        .collect();
    write(
        &dir.join("cfg_peer.yaml"),
        &format!(
            "answers_gen: {{}}\nreviews_gen:\n  enable: true\n  reviewer:\n    args: {{mode: peer}}\n  \
             self_judging: {self_judging}\n  reviewers:\n{reviewers}  \
             target_answers: [answers/alpha.jsonl, answers/beta.jsonl, answers/gamma.jsonl]\n  \
             review_file: reviews/peer.jsonl\nrating_gen:\n  enable: true\n  metrics: [pairwise]\n  \
             report_file: reports/rating.csv\n"
        ),
    )
}

#[tokio::test]
async fn peer_examination_reaches_peer_ranks_fixed_point_and_measures_self_preference() {
    let dir = tempfile::tempdir().unwrap();
    for model in ["alpha", "beta", "gamma"] {
        write(
            &dir.path().join(format!("answers/{model}.jsonl")),
            &answers(model, 2, |i| format!("{model} answer {i}")),
        );
    }
    let alpha = MockJudge::start(ranking_judge(None)).await;
    let beta = MockJudge::start(ranking_judge(None)).await;
    let gamma = MockJudge::start(ranking_judge(Some("gamma"))).await;
    let judges = [("alpha", &alpha), ("beta", &beta), ("gamma", &gamma)];
    let db = db_url(dir.path());
    let summary = run_config(&peer_config(dir.path(), &judges, false), &db, false, 4).await;
    assert!(summary.succeeded(), "{:?}", summary.error);
    // Without self-judging each judges only the other two's pair, on both questions.
    assert!(summary.panel.iter().all(|m| m.reviews.judge_calls == 2), "{:?}", summary.panel);
    // By hand: alpha wins everything it is judged on (score 1), gamma nothing (0), so gamma's
    // weight falls to 0, and beta, judged by alpha (wins) and gamma (losses), climbs from ½ to 1.
    // The fixed point: weights alpha ½, beta ½, gamma 0.
    let rank = summary.peer_rank.as_ref().expect("peer rank");
    assert!(rank.converged, "{rank:?}");
    let close = |x: f64, y: f64| (x - y).abs() < 1e-9;
    assert!(
        close(rank.weights["alpha"], 0.5) && close(rank.weights["beta"], 0.5) && close(rank.weights["gamma"], 0.0),
        "{rank:?}"
    );
    assert!(close(rank.unweighted_scores["beta"], 0.5) && close(rank.weighted_scores["beta"], 1.0), "{rank:?}");
    assert!(rank.self_preference.is_empty());
    // The panel's verdicts: gamma's (weight 0) count for nothing, so alpha–beta is unknown.
    let verdicts = read_jsonl(&dir.path().join("reviews/peer.jsonl"));
    let of = |a: &str, b: &str| -> Vec<String> {
        verdicts
            .iter()
            .filter(|r| r["model_a"] == a && r["model_b"] == b)
            .map(|r| r["win"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(of("alpha", "beta"), ["unknown", "unknown"]);
    assert_eq!(of("alpha", "gamma"), ["model_a", "model_a"]);
    assert_eq!(of("beta", "gamma"), ["model_a", "model_a"]);

    // With self-judging, gamma's judge calls every battle of its own for gamma.
    let summary = run_config(&peer_config(dir.path(), &judges, true), &db, false, 4).await;
    assert!(summary.succeeded(), "{:?}", summary.error);
    let rank = summary.peer_rank.expect("peer rank");
    let vain = rank.self_preference.iter().find(|s| s.model == "gamma").expect("gamma judged itself");
    assert_eq!((vain.own_verdicts, vain.others_verdicts, vain.battles), (1.0, 0.0, 4));
    // alpha judges itself the winner of its four battles; of the others' eight verdicts on them
    // gamma's two on alpha–gamma go to gamma: 6 of 8.
    let fair = rank.self_preference.iter().find(|s| s.model == "alpha").unwrap();
    assert_eq!((fair.own_verdicts, fair.others_verdicts), (1.0, 0.75));
}

/// A reward model server speaking vLLM's `/score` and TEI's `/rerank`: a GOOD answer scores
/// 0.9, any other 0.2, except that question 2's answers all score 0.5 (± 0.01).
async fn reward_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use axum::Json;
    use axum::routing::post;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let calls = std::sync::Arc::new(AtomicUsize::new(0));
    let score = |text: &str| {
        if text.ends_with(" 2") {
            if text.contains("GOOD") { 0.51 } else { 0.5 }
        } else if text.contains("GOOD") {
            0.9
        } else {
            0.2
        }
    };
    let (c1, c2) = (calls.clone(), calls.clone());
    let app = axum::Router::new()
        .route(
            "/score",
            post(move |Json(body): Json<Value>| async move {
                c1.fetch_add(1, Ordering::SeqCst);
                assert!(body["text_1"].as_str().unwrap().starts_with("Question number"), "{body}");
                let data: Vec<Value> = body["text_2"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .enumerate()
                    .map(|(i, t)| serde_json::json!({"index": i, "object": "score", "score": score(t.as_str().unwrap())}))
                    .collect();
                Json(serde_json::json!({"object": "list", "data": data}))
            }),
        )
        .route(
            "/rerank",
            post(move |Json(body): Json<Value>| async move {
                c2.fetch_add(1, Ordering::SeqCst);
                assert!(body["query"].as_str().unwrap().starts_with("Question number"), "{body}");
                // TEI sorts by score, highest first.
                let mut out: Vec<Value> = body["texts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .enumerate()
                    .map(|(i, t)| serde_json::json!({"index": i, "score": score(t.as_str().unwrap())}))
                    .collect();
                out.sort_by(|a, b| b["score"].as_f64().unwrap().total_cmp(&a["score"].as_f64().unwrap()));
                Json(Value::Array(out))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), calls)
}

#[tokio::test]
async fn reward_models_judge_by_score_difference_with_a_tie_margin() {
    let dir = tempfile::tempdir().unwrap();
    write_strong_and_weak(dir.path(), 3);
    let (url, calls) = reward_server().await;
    let cfg = write(
        &dir.path().join("cfg.yaml"),
        &format!(
            "answers_gen: {{}}\nreviews_gen:\n  reviewers:\n    \
             - args: {{name: rm-vllm, model: rm, api_base: {url}, api_key_env: JURY_TEST_KEY, reward_api: vllm_score, tie_margin: 0.05}}\n    \
             - args: {{name: rm-tei, model: rm, api_base: {url}, api_key_env: JURY_TEST_KEY, reward_api: tei_rerank}}\n  \
             target_answers: [answers/strong.jsonl, answers/weak.jsonl]\n  review_file: reviews/panel.jsonl\n\
             rating_gen:\n  enable: true\n  metrics: [pairwise]\n  report_file: reports/rating.csv\n"
        ),
    );
    let db = db_url(dir.path());
    let summary = run_config(&cfg, &db, false, 4).await;
    assert!(summary.succeeded(), "{:?}", summary.error);
    // One request per battle and judge: both answers scored together.
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 6);
    // rm-vllm: question 2's scores differ by 0.01, inside its 0.05 margin: a tie. rm-tei has no
    // margin: the 0.51 wins.
    assert_eq!(
        wins(&dir.path().join("reviews/panel_rm-vllm.jsonl")),
        [("1".to_string(), "model_a".to_string()), ("2".into(), "tie".into()), ("3".into(), "model_a".into())]
    );
    assert_eq!(wins(&dir.path().join("reviews/panel_rm-tei.jsonl")).iter().filter(|(_, w)| w == "model_a").count(), 3);
    // The panel: a split on question 2 is a tie.
    assert_eq!(wins(&dir.path().join("reviews/panel.jsonl"))[1], ("2".to_string(), "tie".to_string()));
    // The scores are stored with each judgment; a second run asks nothing.
    let pool = open_db(&db).await;
    let (a, b): (f64, f64) = sqlx::query_as(
        "SELECT j.score_a, j.score_b FROM judgments j JOIN questions q ON q.id = j.question_id \
             WHERE j.judge_model = 'rm-tei' AND q.external_id = '1'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((a, b), (0.9, 0.2));
    assert!(run_config(&cfg, &db, false, 4).await.succeeded());
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 6);
}

#[tokio::test]
async fn candidates_that_answer_through_an_endpoint_judge_each_other() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("questions.jsonl"), &questions(2));
    // One server plays three models: asked a question, "bot-x" answers "bot-x answer"; asked to
    // judge, it prefers bot-a over bot-b over bot-c.
    let server = MockJudge::start(|call: &Call| match (call.answer_a(), call.answer_b()) {
        (Some(a), Some(b)) => Reply::Text(if a < b { "[[A]]" } else { "[[B]]" }.into()),
        _ => Reply::Text(format!("{} answer", call.model)),
    })
    .await;
    let candidates: String = ["bot-a", "bot-b", "bot-c"]
        .iter()
        .map(|m| {
            format!(
                "  {m}:\n    api_base: {}\n    model: {m}\n    api_key_env: JURY_TEST_KEY\n    output_file: answers/{m}.jsonl\n",
                server.base_url()
            )
        })
        .collect();
    let cfg = write(
        &dir.path().join("cfg.yaml"),
        &format!(
            "question_file: questions.jsonl\nanswers_gen:\n{candidates}reviews_gen:\n  reviewer:\n    args: {{mode: peer, api_key_env: JURY_TEST_KEY}}\n  \
             review_file: reviews/peer.jsonl\nrating_gen:\n  metrics: [pairwise]\n  report_file: reports/rating.csv\n"
        ),
    );
    let summary = run_config(&cfg, &db_url(dir.path()), false, 4).await;
    assert!(summary.succeeded(), "{:?}", summary.error);
    assert_eq!(summary.panel.iter().map(|m| m.judge.as_str()).collect::<Vec<_>>(), ["bot-a", "bot-b", "bot-c"]);
    // Each judged the other two's pair on both questions, asking as itself.
    for call in server.calls().iter().filter(|c| c.answer_a().is_some()) {
        let (a, b) = (call.answer_a().unwrap(), call.answer_b().unwrap());
        assert!(!a.starts_with(&call.model) && !b.starts_with(&call.model), "{} judged {a} vs {b}", call.model);
    }
    assert!(summary.panel.iter().all(|m| m.reviews.judge_calls == 2), "{:?}", summary.panel);
    let rank = summary.peer_rank.expect("peer rank");
    assert!((rank.weights["bot-a"] - 0.5).abs() < 1e-9 && rank.weights["bot-c"].abs() < 1e-9, "{rank:?}");
}
