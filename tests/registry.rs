//! What ships in registry/: the three demo configs are valid, run offline on the demo model
//! with distinct candidates, and their data files load; the safety set grades replies and
//! reports attack success.

mod common;

use std::collections::HashSet;
use std::path::Path;

use jury::config::{ModelSpec, ReviewMode, load_arena_config};

fn registry() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/registry"))
}

#[test]
fn the_shipped_configs_are_valid_and_use_the_demo_model() {
    for (file, mode) in [
        ("cfg_arena.yaml", ReviewMode::Pairwise),
        ("cfg_single.yaml", ReviewMode::Single),
        ("cfg_pairwise_baseline.yaml", ReviewMode::PairwiseBaseline),
    ] {
        let config = load_arena_config(&registry().join("config").join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(config.reviews.judge.mode, mode, "{file}");
        // Only llmuses' class reference is noted; nothing else is unknown.
        assert!(config.warnings.iter().all(|w| w.contains("reviewer.ref")), "{file}: {:?}", config.warnings);
        let candidates: Vec<_> = config.enabled_candidates().collect();
        assert!(candidates.len() >= 2, "{file}");
        for c in &candidates {
            match &c.model {
                ModelSpec::Local { path } => {
                    assert!(path.ends_with("models/SmolLM2-135M-Instruct.Q4_1.gguf"), "{file}: {path:?}")
                }
                other => panic!("{file}: {other:?}"),
            }
        }
        // Distinct candidates: different sampling or system prompts.
        let distinct: HashSet<String> = candidates.iter().map(|c| jury::arena::answers::settings_hash(c)).collect();
        assert_eq!(distinct.len(), candidates.len(), "{file}");
        let questions = jury::data::read_questions(config.question_file.as_ref().unwrap()).unwrap();
        assert!(questions.len() >= 8);
        let templates = jury::arena::templates::Templates::load(config.reviews.prompt_file.as_ref().unwrap()).unwrap();
        for q in &questions {
            let kind = if mode == ReviewMode::Single {
                jury::arena::templates::TemplateKind::Single
            } else {
                jury::arena::templates::TemplateKind::Pairwise
            };
            assert!(templates.select(kind, &q.category, false).is_some());
        }
        let refs = jury::data::read_references(config.reviews.reference_file.as_ref().unwrap()).unwrap();
        assert!(refs.len() >= 3);
    }
}

#[test]
fn the_graded_prompts_load() {
    let templates =
        jury::arena::templates::Templates::load(&registry().join("data/prompts/jury_graded_prompts.jsonl")).unwrap();
    let t = templates.select(jury::arena::templates::TemplateKind::Pairwise, "general", false).unwrap();
    assert_eq!(t.output_format.as_deref(), Some("[[A>>B]]"));
}

#[tokio::test]
async fn the_safety_set_grades_replies_and_reports_attack_success_per_category() {
    let shipped = load_arena_config(&registry().join("config/cfg_safety.yaml")).unwrap();
    assert_eq!(shipped.reviews.judge.mode, ReviewMode::Single);
    assert!(shipped.warnings.is_empty(), "{:?}", shipped.warnings);
    let questions = jury::data::read_questions(shipped.question_file.as_ref().unwrap()).unwrap();
    let mut per_category: std::collections::BTreeMap<String, usize> = Default::default();
    for q in &questions {
        *per_category.entry(q.category.clone()).or_default() += 1;
    }
    let expected = ["goal_hijacking", "harmful_intent_injection", "prompt_leaking", "role_play", "unsafe_topics"];
    assert_eq!(per_category.keys().map(String::as_str).collect::<Vec<_>>(), expected);
    assert!(per_category.values().all(|&n| n == 6));

    // The shipped questions, prompts and metric, answered by a model that always complies and
    // one that always refuses, graded by a judge that repeats the format before its grade.
    let dir = tempfile::tempdir().unwrap();
    let answers = |model: &str, text: &str| -> String {
        questions
            .iter()
            .map(|q| {
                serde_json::json!({"question_id": q.id.raw(), "text": q.text, "category": q.category,
                    "model_id": model, "metadata": {}, "answer": text})
                .to_string()
                    + "\n"
            })
            .collect()
    };
    std::fs::write(dir.path().join("complier.jsonl"), answers("complier", "Sure! Here is exactly what you asked."))
        .unwrap();
    std::fs::write(dir.path().join("refuser.jsonl"), answers("refuser", "I can't help with that.")).unwrap();
    let judge = common::mock_judge::MockJudge::start(|call: &common::mock_judge::Call| {
        // The safety template's tags: the attack and the reply, nothing else.
        assert!(call.section("user_message").is_some_and(|m| !m.is_empty()), "{}", call.user);
        let answer = call.section("assistant_reply").unwrap_or("");
        let grade = if answer.contains("can't") { "[[safe refusal]]" } else { "[[unsafe]]" };
        common::mock_judge::Reply::Text(format!(
            "The format asks for [[safe refusal]], [[safe completion]] or [[unsafe]].\nGrade: {grade}"
        ))
    })
    .await;
    let config = format!(
        "question_file: {}\nanswers_gen: {{}}\nreviews_gen:\n  reviewer:\n    args: {{model: safety-judge, api_base: {}, \
         api_key_env: JURY_TEST_KEY, mode: single}}\n  target_answers: [complier.jsonl, refuser.jsonl]\n  prompt_file: {}\n  \
         review_file: review.jsonl\nrating_gen:\n  metrics: [attack_success]\n  report_file: attack_success.csv\n",
        shipped.question_file.as_ref().unwrap().display(),
        judge.base_url(),
        shipped.reviews.prompt_file.as_ref().unwrap().display()
    );
    let cfg = dir.path().join("cfg.yaml");
    std::fs::write(&cfg, config).unwrap();
    let server = common::server::TestServer::start(common::server::Settings::default()).await;
    let db = server.db.clone();
    let summary = common::run_config(&cfg, &db, false, 4).await;
    assert!(summary.succeeded(), "{:?}", summary.error);
    assert_eq!(summary.reviews.as_ref().unwrap().unknown, 0);
    let rows = summary.report.as_ref().unwrap().attack_success.clone().unwrap();
    let rate = |model: &str, category: &str| {
        let r = rows.iter().find(|r| r.model == model && r.category == category).unwrap();
        (r.unsafe_replies, r.graded)
    };
    assert_eq!(rate("complier", "all"), (30, 30));
    assert_eq!(rate("refuser", "all"), (0, 30));
    assert_eq!(rate("complier", "role_play"), (6, 6));
    let csv = std::fs::read_to_string(dir.path().join("attack_success.csv")).unwrap();
    assert!(csv.contains("complier,all,1.0000,0.8865,1.0000,30,30"), "{csv}");
    let page = std::fs::read_to_string(dir.path().join("attack_success.html")).unwrap();
    assert!(page.contains("Attack success (safety)") && page.contains("100.0%"), "{page}");
    // The site's safety board: the refuser first, the complier at 100% in every category.
    let board = reqwest::get(server.url("/safety")).await.unwrap().text().await.unwrap();
    let refuser = board.find("<td>refuser</td>").expect("refuser on the board");
    let complier = board.find("<td>complier</td>").expect("complier on the board");
    assert!(refuser < complier && board.contains("100.0% (88.6–100.0%, n=30)"), "{board}");
    assert!(board.contains("<th class=\"num\">prompt_leaking</th>"), "{board}");
    let api = server.get_json("/api/safety").await;
    assert_eq!(api["attack_success"].as_array().unwrap().len(), 2 * 6, "{api}");
    // A dry run of the shipped set reads every pseudo-random grade, and they stay off the real board.
    let dry = common::run_config(&cfg, &db, true, 4).await;
    assert_eq!(dry.reviews.as_ref().unwrap().unknown, 0);
    assert_eq!(server.get_json("/api/safety").await["attack_success"].as_array().unwrap().len(), 12);
    assert_eq!(server.get_json("/api/safety?dry_run=1").await["attack_success"].as_array().unwrap().len(), 12);
    server.stop().await;
}
