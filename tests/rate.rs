//! `jury rate` end to end: exact Bradley–Terry against an independent reference, Elo by hand,
//! intervals, degenerate inputs, llmuses review files, baselines and length control.

mod common;

use std::path::Path;

use common::*;
use serde_json::{Value, json};

fn rate(args: &[&str]) -> Value {
    let out = run(jury().arg("rate").args(args).arg("--json"));
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
}

fn model<'a>(board: &'a Value, name: &str) -> &'a Value {
    board["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == name)
        .unwrap_or_else(|| panic!("{name} in {board}"))
}

fn battles_file(dir: &Path, name: &str, battles: &[(&str, &str, &str)]) -> String {
    let records: Vec<Value> =
        battles.iter().map(|(a, b, w)| json!({"model_a": a, "model_b": b, "winner": w, "anony": true})).collect();
    write(&dir.join(name), &serde_json::to_string(&records).unwrap()).display().to_string()
}

#[test]
fn bradley_terry_matches_an_unregularised_logistic_regression() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bt");
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures.join("expected_sklearn.json")).unwrap()).unwrap();
    for (file, ratings) in expected.as_object().unwrap() {
        let board = rate(&[fixtures.join(file).to_str().unwrap(), "--bootstrap", "0"]);
        assert_eq!(board["method"], "bt");
        assert_eq!(board["models"].as_array().unwrap().len(), ratings.as_object().unwrap().len(), "{file}");
        for (name, rating) in ratings.as_object().unwrap() {
            let got = model(&board, name)["rating"].as_f64().unwrap();
            // The README claims agreement to 0.0001 rating points: check exactly that.
            assert!((got - rating.as_f64().unwrap()).abs() < 1e-4, "{file} {name}: {got} vs {rating}");
            assert!(model(&board, name)["ci_lower"].is_null(), "no intervals with --bootstrap 0");
        }
        let mean: f64 = board["models"].as_array().unwrap().iter().map(|m| m["rating"].as_f64().unwrap()).sum::<f64>()
            / board["models"].as_array().unwrap().len() as f64;
        assert!((mean - 1000.0).abs() < 1e-6);
    }
}

#[test]
fn style_control_matches_scikit_learn() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/style");
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures.join("expected_sklearn.json")).unwrap()).unwrap();
    let file = fixtures.join("battles.json");
    let out = rate(&[file.to_str().unwrap(), "--style-control", "--bootstrap", "20"]);
    let style = &out["style_control"];
    assert_eq!(style["battles"], 900);
    for (name, rating) in expected["ratings"].as_object().unwrap() {
        let got = style["models"].as_array().unwrap().iter().find(|m| &m["model"] == name).unwrap();
        // The README claims agreement to 0.001 rating points.
        assert!((got["rating"].as_f64().unwrap() - rating.as_f64().unwrap()).abs() < 1e-3, "{name}: {got} vs {rating}");
        assert!(got["ci_lower"].as_f64().unwrap() < got["rating"].as_f64().unwrap());
    }
    for c in style["coefficients"].as_array().unwrap() {
        let want = expected["coefficients"][c["feature"].as_str().unwrap()].as_f64().unwrap();
        assert!((c["coefficient"].as_f64().unwrap() - want).abs() < 1e-5, "{c} vs {want}");
    }
    // The plain board is unchanged beside it, and the verbose model loses most to the control.
    assert!(model(&out, "beta")["rating"].as_f64().unwrap() > 1170.0);
    let out = run(jury().arg("rate").arg(&file).args(["--style-control", "--method", "elo"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn hand_computed_ratings_records_and_matrices() {
    let dir = tempfile::tempdir().unwrap();
    // x beats y 3 times, y beats x once, one tie: x has 3.5 "wins" to 1.5 → P = 0.7.
    let file = battles_file(
        dir.path(),
        "b.json",
        &[
            ("x", "y", "model_a"),
            ("y", "x", "model_b"),
            ("x", "y", "model_a"),
            ("y", "x", "model_a"),
            ("x", "y", "tie"),
        ],
    );
    let board = rate(&[&file, "--bootstrap", "0"]);
    let half_gap = 200.0 * (0.7f64 / 0.3).log10();
    assert!((model(&board, "x")["rating"].as_f64().unwrap() - (1000.0 + half_gap)).abs() < 1e-6);
    assert!((model(&board, "y")["rating"].as_f64().unwrap() - (1000.0 - half_gap)).abs() < 1e-6);
    let x = model(&board, "x");
    assert_eq!(
        (x["battles"].as_u64(), x["wins"].as_u64(), x["losses"].as_u64(), x["ties"].as_u64()),
        (Some(5), Some(3), Some(1), Some(1))
    );
    assert_eq!((x["rank_ub"].as_u64(), model(&board, "y")["rank_ub"].as_u64()), (Some(1), Some(2)));
    assert_eq!(board["battle_counts"]["x"]["y"], 5);
    assert_eq!(board["battle_counts"]["y"]["x"], 5);
    assert_eq!(board["win_fraction"]["x"]["y"], 0.75, "ties are excluded: 3 of 4 decisive battles");
    assert_eq!(board["win_fraction"]["y"]["x"], 0.25);
    assert!((board["predicted_win_rate"]["x"]["y"].as_f64().unwrap() - 0.7).abs() < 1e-9);

    // Online Elo with K = 32, in file order: x wins three times, then y wins, then a tie.
    let board = rate(&[&file, "--method", "elo", "--k", "32", "--bootstrap", "0"]);
    let (mut rx, mut ry) = (1000.0f64, 1000.0f64);
    for score_x in [1.0, 1.0, 1.0, 0.0, 0.5] {
        let ex = 1.0 / (1.0 + 10f64.powf((ry - rx) / 400.0));
        rx += 32.0 * (score_x - ex);
        ry += 32.0 * ((1.0 - score_x) - (1.0 - ex));
    }
    assert!((model(&board, "x")["rating"].as_f64().unwrap() - rx).abs() < 1e-9);
    assert!((model(&board, "y")["rating"].as_f64().unwrap() - ry).abs() < 1e-9);
}

#[test]
fn intervals_are_reproducible_and_rank_ub_reads_them() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bt");
    let file = fixtures.join("five_models.json");
    let a = rate(&[file.to_str().unwrap(), "--bootstrap", "200", "--seed", "7"]);
    let b = rate(&[file.to_str().unwrap(), "--bootstrap", "200", "--seed", "7"]);
    let c = rate(&[file.to_str().unwrap(), "--bootstrap", "200", "--seed", "8"]);
    assert_eq!(a, b, "same seed, same numbers");
    assert_ne!(a["models"], c["models"]);
    let models = a["models"].as_array().unwrap();
    for m in models {
        let (lo, r, hi) =
            (m["ci_lower"].as_f64().unwrap(), m["rating"].as_f64().unwrap(), m["ci_upper"].as_f64().unwrap());
        assert!(lo < r && r < hi, "{m}");
        // Rank (UB) = 1 + models whose lower bound is above this upper bound.
        let better = models.iter().filter(|o| o["ci_lower"].as_f64().unwrap() > hi).count();
        assert_eq!(m["rank_ub"].as_u64().unwrap() as usize, 1 + better);
    }
    // Sorted best first.
    let ratings: Vec<f64> = models.iter().map(|m| m["rating"].as_f64().unwrap()).collect();
    assert!(ratings.windows(2).all(|w| w[0] >= w[1]));
}

#[test]
fn degenerate_inputs_give_finite_flagged_results() {
    let dir = tempfile::tempdir().unwrap();
    // (name, battles, expected (model, flag) pairs)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str, &'a str)>, Vec<(&'a str, &'a str)>);
    let cases: Vec<Case> = vec![
        // (name, battles, expected (model, flag) pairs)
        (
            "never_loses",
            vec![("champ", "a", "model_a"), ("b", "champ", "model_b"), ("a", "b", "model_a"), ("b", "a", "model_a")],
            vec![("champ", "never lost")],
        ),
        (
            "never_wins",
            vec![("a", "b", "model_a"), ("b", "a", "model_a"), ("a", "dud", "model_a"), ("dud", "b", "model_b")],
            vec![("dud", "never won")],
        ),
        ("single_battle", vec![("a", "b", "model_a")], vec![("a", "never lost"), ("b", "never won")]),
        (
            "two_islands",
            vec![("a", "b", "model_a"), ("b", "a", "model_a"), ("c", "d", "model_a"), ("d", "c", "model_a")],
            vec![("a", "group"), ("c", "group")],
        ),
        (
            "only_ties",
            vec![("a", "b", "model_a"), ("b", "a", "model_a"), ("calm", "a", "tie"), ("b", "calm", "tie (bothbad)")],
            vec![("calm", "only ties")],
        ),
    ];
    for (name, battles, flags) in cases {
        let file = battles_file(dir.path(), &format!("{name}.json"), &battles);
        for method in ["bt", "elo"] {
            let board = rate(&[&file, "--method", method, "--bootstrap", "50"]);
            for m in board["models"].as_array().unwrap() {
                for key in ["rating", "ci_lower", "ci_upper"] {
                    assert!(m[key].as_f64().is_some_and(f64::is_finite), "{name}/{method}: {key} of {m}");
                }
            }
            if method == "bt" {
                for (model_name, flag) in &flags {
                    let m = model(&board, model_name);
                    assert!(
                        m["flags"].as_array().is_some_and(|f| f.iter().any(|x| x.as_str().unwrap().contains(flag))),
                        "{name}: {model_name} should be flagged {flag}: {m}"
                    );
                }
                if name != "only_ties" {
                    let warnings = board["warnings"].to_string();
                    assert!(warnings.contains("do not exist") && warnings.contains("penalty"), "{name}: {warnings}");
                }
            }
        }
    }
    // The unbeaten model still ranks first; the winless one last.
    let board = rate(&[
        &battles_file(
            dir.path(),
            "n.json",
            &[("champ", "a", "model_a"), ("b", "champ", "model_b"), ("a", "b", "model_a"), ("b", "a", "model_a")],
        ),
        "--bootstrap",
        "0",
    ]);
    assert_eq!(board["models"][0]["model"], "champ");

    // Zero battles: an empty leaderboard and a warning, not an error.
    let empty = write(&dir.path().join("empty.json"), "[]").display().to_string();
    let board = rate(&[&empty]);
    assert_eq!(board["models"], json!([]));
    assert!(board["warnings"].to_string().contains("no battles"));
    let unknown_only = battles_file(dir.path(), "u.json", &[("a", "b", "unknown")]);
    let board = rate(&[&unknown_only]);
    assert_eq!(board["models"], json!([]));
    assert_eq!(board["unknown_excluded"], 1);
}

#[test]
fn llmuses_reviews_rate_with_unknowns_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let base = |a: &str, b: &str, t: f64| json!({"model_a": a, "model_b": b, "anony": true, "tstamp": t, "language": "NA", "question_id": 1, "category": "math", "question": "q"});
    let mut lines = Vec::new();
    let mut pair = |a: &str, b: &str, win: &str, t: f64| {
        let mut r = base(a, b, t);
        r["win"] = json!(win);
        r["scores"] = Value::Null;
        r["review_text"] = json!("...");
        lines.push(r);
    };
    pair("p", "q", "model_a", 1.0);
    pair("p", "q", "model_a", 2.0);
    pair("q", "p", "model_a", 3.0);
    pair("p", "q", "unknown", 4.0);
    let mut swap = |win_1: &str, win_2: &str, t: f64| {
        let mut r = base("p", "q", t);
        r["win_1"] = json!(win_1);
        r["win_2"] = json!(win_2);
        r["review_text_1"] = json!("");
        r["review_text_2"] = json!("");
        lines.push(r);
    };
    swap("model_a", "model_a", 5.0); // agreement: p wins
    swap("model_a", "model_b", 6.0); // disagreement: a tie
    swap("model_b", "unknown", 7.0); // unreadable: left out
    let single = |model: &str, score: Value| json!({"model": model, "score": score, "anony": true, "tstamp": 8.0, "language": "NA", "question_id": 1, "category": "math", "question": "q", "review_text": ""});
    lines.push(single("p", json!(8.0)));
    lines.push(single("p", json!(6.0)));
    lines.push(single("q", json!(-1)));
    let text: String = lines.iter().map(|l| l.to_string() + "\n").collect();
    let file = write(&dir.path().join("reviews.jsonl"), &text).display().to_string();
    let board = rate(&[&file, "--bootstrap", "20"]);
    assert_eq!(board["unknown_excluded"], 2);
    let p = model(&board, "p");
    assert_eq!((p["wins"].as_u64(), p["losses"].as_u64(), p["ties"].as_u64()), (Some(3), Some(1), Some(1)));
    assert!(board["warnings"].to_string().contains("2 battles with an unknown verdict"));
    let scores = board["scores"].as_array().unwrap();
    assert_eq!(scores[0]["model"], "p");
    assert_eq!(scores[0]["overall"]["mean"], 7.0);
    let q = scores.iter().find(|s| s["model"] == "q").unwrap();
    assert!(q["overall"].is_null());
    assert_eq!(q["unknown"], 1);
    // The category filter keeps only matching records.
    let out = run(jury().args(["rate", &file, "--category", "writing", "--json"]));
    let board: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(board["models"], json!([]));
    assert_eq!(board["filtered_out"], 10);
}

#[test]
fn baseline_win_rates_and_length_control() {
    let dir = tempfile::tempdir().unwrap();
    // "long" wins 75% against the baseline but only because its answers are longer;
    // "sharp" wins 60% with answers as long as the baseline's.
    let mut records = Vec::new();
    for i in 0..400 {
        let (model, longer, won) =
            if i % 2 == 0 { ("long", i % 4 != 2, i % 4 != 2 || i % 8 == 6) } else { ("sharp", i % 4 == 1, i % 10 < 6) };
        let (la, lb) = if longer { (900.0, 300.0) } else { (300.0, 300.0) };
        let flip = i % 3 == 0;
        let winner = if won { "model_a" } else { "model_b" };
        let r = if flip {
            json!({"model_a": "base", "model_b": model, "winner": if won {"model_b"} else {"model_a"}, "conv_metadata": {"sum_assistant_a_tokens": lb, "sum_assistant_b_tokens": la}})
        } else {
            json!({"model_a": model, "model_b": "base", "winner": winner, "conv_metadata": {"sum_assistant_a_tokens": la, "sum_assistant_b_tokens": lb}})
        };
        records.push(r);
    }
    let file = write(&dir.path().join("b.json"), &serde_json::to_string(&records).unwrap()).display().to_string();
    let board = rate(&[&file, "--baseline", "base", "--bootstrap", "50"]);
    assert_eq!(model(&board, "base")["rating"].as_f64().unwrap(), 1000.0, "the baseline anchors the scale");
    let rows = board["baseline"]["rows"].as_array().unwrap();
    let long = rows.iter().find(|r| r["model"] == "long").unwrap();
    let expected_long = records.iter().filter(|r| r["model_a"] == "long" || r["model_b"] == "long").count() as f64;
    assert_eq!(long["battles"].as_f64().unwrap(), expected_long);
    let wins = records
        .iter()
        .filter(|r| {
            (r["model_a"] == "long" && r["winner"] == "model_a") || (r["model_b"] == "long" && r["winner"] == "model_b")
        })
        .count() as f64;
    assert!((long["win_rate"].as_f64().unwrap() - wins / expected_long).abs() < 1e-12);
    assert!(long["win_rate_ci_lower"].as_f64().unwrap() < long["win_rate"].as_f64().unwrap());
    assert!((long["predicted_win_rate"].as_f64().unwrap() - long["win_rate"].as_f64().unwrap()).abs() < 0.02);

    let lc = board["length_controlled"].as_array().unwrap();
    let long_lc = lc.iter().find(|r| r["model"] == "long").unwrap();
    let sharp_lc = lc.iter().find(|r| r["model"] == "sharp").unwrap();
    assert!(long_lc["win_rate"].as_f64().unwrap() > sharp_lc["win_rate"].as_f64().unwrap());
    assert!(
        long_lc["lc_win_rate"].as_f64().unwrap() < sharp_lc["lc_win_rate"].as_f64().unwrap(),
        "length control reverses the order: {long_lc} {sharp_lc}"
    );
}

#[test]
fn anchors_and_bad_arguments() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bt");
    let file = fixtures.join("five_models.json");
    let board = rate(&[file.to_str().unwrap(), "--anchor", "model-c=1200", "--bootstrap", "10"]);
    assert_eq!(model(&board, "model-c")["rating"], 1200.0);
    let plain = rate(&[file.to_str().unwrap(), "--bootstrap", "0"]);
    let shift = 1200.0 - model(&plain, "model-c")["rating"].as_f64().unwrap();
    let diff =
        model(&board, "model-a")["rating"].as_f64().unwrap() - model(&plain, "model-a")["rating"].as_f64().unwrap();
    assert!((diff - shift).abs() < 1e-9, "anchoring shifts every rating alike");

    for args in [vec!["--anchor", "oops"], vec!["--method", "glicko"], vec!["--k", "-1"]] {
        let out = run(jury().args(["rate", file.to_str().unwrap()]).args(&args));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        &dir.path().join("bad.json"),
        "[{\"model_a\": \"x\", \"model_b\": \"y\", \"winner\": \"tie\"},\n{\"model_a\": 3}]",
    );
    let out = run(jury().arg("rate").arg(&bad));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("bad.json:2"), "{}", stderr(&out));
    let out = run(jury().args(["rate", "/nonexistent/battles.json"]));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_table_shows_rank_rating_interval_and_record() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bt");
    let out = run(jury().arg("rate").arg(fixtures.join("five_models.json")));
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("rank (UB)") && text.contains("95% CI") && text.contains("model-"), "{text}");
    assert!(text.contains("2000 battles"), "{text}");
}

/// The battles an arena stored are rated straight from the database, filtered by source,
/// category and dry-run-ness, with answer lengths for length control.
#[tokio::test]
async fn battles_in_the_database_are_rated() {
    let dir = tempfile::tempdir().unwrap();
    // "long" writes long answers and wins; "short" writes short ones and loses to the baseline.
    let q = |i: usize| if i.is_multiple_of(2) { "math" } else { "writing" };
    let mk = |model: &str, text: &dyn Fn(usize) -> String| -> String {
        (1..=6)
            .map(|i| {
                json!({"question_id": i, "text": format!("Question {i}?"), "category": q(i), "model_id": model, "metadata": {}, "answer": text(i)})
                    .to_string()
                    + "\n"
            })
            .collect()
    };
    write(&dir.path().join("a/long.jsonl"), &mk("long", &|i| format!("GOOD {}", "detail ".repeat(40 + i))));
    write(&dir.path().join("a/short.jsonl"), &mk("short", &|i| format!("brief {i}")));
    write(&dir.path().join("a/base.jsonl"), &mk("base", &|i| format!("GOOD base answer {i} with some words")));
    let judge = MockJudge::start(|call: &Call| {
        let (a, b) = (call.answer_a().unwrap_or(""), call.answer_b().unwrap_or(""));
        // Prefers the longer GOOD answer: a length-biased judge.
        let pick = if a.contains("GOOD") && (!b.contains("GOOD") || a.len() > b.len()) {
            "[[A]]"
        } else if b.contains("GOOD") {
            "[[B]]"
        } else {
            "[[C]]"
        };
        Reply::Text(pick.into())
    })
    .await;
    let config = review_config(
        &judge.base_url(),
        "pairwise_baseline",
        "null",
        &["a/long.jsonl", "a/short.jsonl"],
        "",
        "  baseline_file: a/base.jsonl",
        "[pairwise, bt]",
    )
    .replace("  report_file:", "  baseline_model: base\n  report_file:");
    let cfg = write(&dir.path().join("cfg.yaml"), &config);
    let db = db_url(dir.path());
    let summary = run_config(&cfg, &db, false, 4).await;
    assert!(summary.succeeded(), "{:?}", summary.error);
    // Stage 3 reports length-controlled win rates from the answer files.
    let lc = summary.report.as_ref().unwrap().length_controlled.as_ref().expect("length-controlled rates");
    let long = lc.iter().find(|r| r.model == "long").unwrap();
    assert_eq!((long.battles, long.win_rate), (6, 1.0));

    let board = rate(&["--db", &db, "--bootstrap", "20", "--baseline", "base"]);
    assert_eq!(board["battles"], 12);
    assert_eq!(model(&board, "long")["wins"], 6);
    assert_eq!(model(&board, "short")["losses"], 6);
    assert_eq!(model(&board, "base")["rating"], 1000.0);
    let lc = board["length_controlled"].as_array().unwrap();
    assert!(lc.iter().any(|r| r["model"] == "long" && r["battles"] == 6), "{lc:?}");

    let math_only = rate(&["--db", &db, "--category", "math", "--bootstrap", "0"]);
    assert_eq!(math_only["battles"], 6);
    let human = rate(&["--db", &db, "--source", "human", "--bootstrap", "0"]);
    assert_eq!(human["models"], json!([]));
    let judge_only = rate(&["--db", &db, "--source", "judge", "--bootstrap", "0"]);
    assert_eq!(judge_only["battles"], 12);
    let dry = rate(&["--db", &db, "--dry-run", "--bootstrap", "0"]);
    assert_eq!(dry["models"], json!([]));
    assert!(dry["warnings"].to_string().contains("drop --dry-run"), "{}", dry["warnings"]);
}
