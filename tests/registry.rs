//! What ships in registry/: the three demo configs are valid, run offline on the demo model
//! with distinct candidates, and their data files load.

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
