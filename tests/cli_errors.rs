//! Bad input: every malformed config or data file makes `jury arena` exit with code 2 and a
//! message naming the file, the line and the key path; `jury serve` says what it cannot use.

mod common;

use std::path::Path;

use common::*;

/// A valid config whose one candidate is a server that is never reached (validation fails first).
const BASE: &str = "question_file: q.jsonl
answers_gen:
  m:
    api_base: http://127.0.0.1:9/v1
    model: m
    output_file: out/m.jsonl
reviews_gen:
  enable: false
rating_gen:
  enable: false
";

struct Case {
    name: &'static str,
    config: String,
    files: Vec<(&'static str, String)>,
    /// Every one of these must appear in stderr.
    expect: Vec<&'static str>,
}

fn case(name: &'static str, config: &str, expect: &[&'static str]) -> Case {
    Case { name, config: config.to_string(), files: vec![("q.jsonl", questions(2))], expect: expect.to_vec() }
}

fn run_case(c: &Case) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in &c.files {
        write(&dir.path().join(name), text);
    }
    let cfg = write(&dir.path().join("cfg.yaml"), &c.config);
    let out = run(jury().args(["arena", "-c"]).arg(&cfg).arg("--db").arg(db_url(dir.path())));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{}: expected exit 2, stderr:\n{err}", c.name);
    for needle in &c.expect {
        assert!(err.contains(needle), "{}: stderr lacks {needle:?}:\n{err}", c.name);
    }
    assert!(!err.contains("panicked"), "{}: panic:\n{err}", c.name);
}

#[test]
fn malformed_configs_exit_2_naming_file_line_and_key() {
    let reviews = |args: &str| {
        format!(
            "answers_gen: {{}}\nreviews_gen:\n  reviewer:\n    args:\n{args}\n  target_answers: [a.jsonl]\n  review_file: r.jsonl\nrating_gen:\n  report_file: x.csv\n"
        )
    };
    let cases = vec![
        case("yaml syntax", "question_file: q.jsonl\nanswers_gen:\n  m: [unclosed\nreviews_gen: {}\n", &["cfg.yaml:"]),
        case(
            "wrong type",
            &BASE.replace("  enable: false\nrating", "  enable: maybe\nrating"),
            &["cfg.yaml:8:", "reviews_gen.enable", "invalid type"],
        ),
        case(
            "bad mode",
            &reviews("      mode: pairwize"),
            &["cfg.yaml:5:", "reviews_gen.reviewer.args.mode", "pairwize"],
        ),
        case(
            "bad position bias",
            &reviews("      position_bias_mitigation: shuffle"),
            &["cfg.yaml:5:", "position_bias_mitigation", "swap_position"],
        ),
        case("bad parser", &reviews("      fn_completion_parser: magic"), &["cfg.yaml:5:", "fn_completion_parser"]),
        case(
            "missing question file",
            &BASE.replace("q.jsonl", "nope.jsonl"),
            &["cfg.yaml:1:", "question_file", "nope.jsonl", "does not exist"],
        ),
        case(
            "hub id",
            "question_file: q.jsonl\nanswers_gen:\n  chatglm3-6b:\n    model_id_or_path: ZhipuAI/chatglm3-6b\n    output_file: o.jsonl\nreviews_gen: {enable: false}\nrating_gen: {enable: false}\n",
            &["cfg.yaml:4:", "answers_gen.chatglm3-6b.model_id_or_path", "model hub id", ".gguf"],
        ),
        case(
            "negative temperature",
            &BASE.replace("    model: m\n", "    model: m\n    generation_config:\n      temperature: -1\n"),
            &["cfg.yaml:7:", "answers_gen.m.generation_config.temperature", ">= 0"],
        ),
        case(
            "top_p out of range",
            &BASE.replace("    model: m\n", "    model: m\n    generation_config: {top_p: 1.5}\n"),
            &["cfg.yaml:6:", "generation_config.top_p"],
        ),
        case(
            "unknown metric",
            "answers_gen: {}\nreviews_gen: {enable: false, review_file: r.jsonl}\nrating_gen:\n  metrics: [elo, glicko]\n  report_file: x.csv\n",
            &["cfg.yaml:4:", "rating_gen.metrics[1]", "glicko"],
        ),
        case(
            "baseline mode without a baseline",
            &reviews("      mode: pairwise_baseline").replace("[a.jsonl]", "[q.jsonl]"),
            &["reviews_gen.baseline_file", "missing"],
        ),
        case("empty config", "", &["cfg.yaml", "empty"]),
        case(
            "missing review file",
            "answers_gen: {}\nreviews_gen:\n  target_answers: [q.jsonl]\nrating_gen: {enable: false}\n",
            &["reviews_gen.review_file", "missing"],
        ),
        case(
            "target answers of the wrong type",
            "answers_gen: {}\nreviews_gen:\n  target_answers: {a: 1}\n  review_file: r.jsonl\nrating_gen: {enable: false}\n",
            &["cfg.yaml:3:", "reviews_gen.target_answers"],
        ),
        case(
            "missing target answer file",
            "answers_gen: {}\nreviews_gen:\n  target_answers: [q.jsonl, missing.jsonl]\n  review_file: r.jsonl\nrating_gen: {enable: false}\n",
            &["cfg.yaml:3:", "reviews_gen.target_answers[1]", "missing.jsonl"],
        ),
    ];
    assert!(cases.len() >= 10);
    for c in &cases {
        run_case(c);
    }
}

#[test]
fn malformed_data_files_exit_2_naming_file_and_line() {
    let mut bad_json = questions(4);
    bad_json = bad_json.replacen("\"question_id\":3,", "\"question_id\":3,,", 1);
    let cases = vec![
        Case { name: "bad json line", config: BASE.into(), files: vec![("q.jsonl", bad_json)], expect: vec!["q.jsonl:3:", "not valid JSON"] },
        Case {
            name: "question without text",
            config: BASE.into(),
            files: vec![("q.jsonl", "{\"question_id\": 1, \"text\": \"hi\"}\n{\"question_id\": 2, \"category\": \"x\"}\n".into())],
            expect: vec!["q.jsonl:2:", "text"],
        },
        Case {
            name: "duplicate question id",
            config: BASE.into(),
            files: vec![("q.jsonl", "{\"question_id\": 1, \"text\": \"a\"}\n{\"question_id\": 1, \"text\": \"b\"}\n".into())],
            expect: vec!["q.jsonl:2:", "question_id", "duplicate", "line 1"],
        },
        Case {
            name: "question id of the wrong type",
            config: BASE.into(),
            files: vec![("q.jsonl", "{\"question_id\": [1], \"text\": \"a\"}\n".into())],
            expect: vec!["q.jsonl:1:", "question_id"],
        },
        Case {
            name: "answer file without model_id",
            config: "answers_gen: {}\nreviews_gen:\n  target_answers: [a.jsonl]\n  review_file: r.jsonl\nrating_gen: {enable: false}\n".into(),
            files: vec![("a.jsonl", answers("m", 2, |i| format!("x{i}")).replacen("\"model_id\":\"m\",", "", 2).lines().map(|l| l.to_string() + "\n").collect())],
            expect: vec!["a.jsonl:1:", "model_id"],
        },
        Case {
            name: "prompt template with a bad placeholder",
            config: "answers_gen: {}\nreviews_gen:\n  prompt_file: p.jsonl\n  target_answers: [a.jsonl]\n  review_file: r.jsonl\nrating_gen: {enable: false}\n".into(),
            files: vec![
                ("a.jsonl", answers("m", 1, |_| "x".into())),
                ("p.jsonl", "{\"name\": \"t\", \"type\": \"pairwise\", \"prompt_template\": \"{question} {0}\"}\n".into()),
            ],
            expect: vec!["p.jsonl:1:", "prompt_template", "{0}"],
        },
    ];
    for c in &cases {
        run_case(c);
    }
}

#[test]
fn bad_arguments_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(&dir.path().join("cfg.yaml"), BASE);
    write(&dir.path().join("q.jsonl"), &questions(1));
    let out = run(jury().args(["arena", "-c"]).arg(&cfg).args(["--concurrency", "0"]));
    assert_eq!(out.status.code(), Some(2));
    let out = run(jury().args(["arena", "-c"]).arg(dir.path().join("missing.yaml")));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("missing.yaml"));
    let out = run(jury().args(["arena", "-c"]).arg(&cfg).args(["--db", "mysql://localhost/x"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("sqlite://"));
}

#[test]
fn unknown_keys_are_warnings_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        &dir.path().join("cfg.yaml"),
        "answers_gen:\n  m:\n    enable: false\n    colour: blue\n    output_file: o.jsonl\n    model_id_or_path: x.gguf\nreviews_gen: {enable: false, review_file: r.jsonl, flavour: 1}\nrating_gen: {enable: false}\n",
    );
    let out = run(jury().args(["arena", "-c"]).arg(&cfg).arg("--db").arg(db_url(dir.path())));
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("cfg.yaml:4: answers_gen.m.colour: unknown key"), "{err}");
    assert!(err.contains("cfg.yaml:7: reviews_gen.flavour: unknown key"), "{err}");
}

/// llmuses' own three configs parse unchanged: the only problems reported are the model hub
/// ids of enabled candidates, each with the hint to use a local file.
#[test]
fn upstream_llmuses_configs_load_as_is() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/llmuses");
    for (name, enabled) in [
        ("cfg_arena.yaml", vec!["chatglm3-6b", "Baichuan2-7B-Base"]),
        ("cfg_pairwise_baseline.yaml", vec!["chatglm3-6b", "Baichuan2-7B-Base"]),
        ("cfg_single.yaml", vec!["chatglm3-6b", "Qwen-7B"]),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join(name);
        std::fs::copy(fixtures.join(name), &cfg).unwrap();
        // The data files the configs name, as an llmuses checkout would have them.
        for prefix in ["", "llmuses/"] {
            write(&dir.path().join(format!("{prefix}registry/data/question.jsonl")), &questions(2));
            for model in ["chatglm3-6b", "Baichuan2-7B-Base", "text_davinci_003"] {
                write(
                    &dir.path().join(format!("{prefix}registry/data/arena/answers/answer_{model}.jsonl")),
                    &answers(model, 2, |i| format!("a{i}")),
                );
            }
            write(&dir.path().join(format!("{prefix}registry/data/prompt_template/prompt_templates.jsonl")), "");
            write(&dir.path().join(format!("{prefix}registry/data/prompt_template/lmsys_v2.jsonl")), "");
        }
        let out = run(jury().args(["arena", "-c"]).arg(&cfg).arg("--db").arg(db_url(dir.path())));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), enabled.len(), "{name}: {err}");
        for model in &enabled {
            assert!(
                errors.iter().any(|e| e.contains(&format!("answers_gen.{model}.model_id_or_path")) && e.contains("model hub id")),
                "{name}: {err}"
            );
        }
        assert!(err.contains("reviews_gen.reviewer.ref: noted and ignored"), "{name}: {err}");
    }
}

/// A run that cannot finish (here: no judge listens) exits 1, not 2, and says why.
#[test]
fn a_failed_run_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("a.jsonl"), &answers("a", 2, |i| format!("x{i}")));
    write(&dir.path().join("b.jsonl"), &answers("b", 2, |i| format!("y{i}")));
    let cfg = write(
        &dir.path().join("cfg.yaml"),
        "reviews_gen:\n  reviewer:\n    args:\n      api_base: http://127.0.0.1:9/v1\n      api_key_env: JURY_TEST_KEY\n      max_retries: 0\n  \
         target_answers: [a.jsonl, b.jsonl]\n  review_file: r.jsonl\nrating_gen: {enable: false}\n",
    );
    let out = run(jury().args(["arena", "-c"]).arg(&cfg).arg("--db").arg(db_url(dir.path())));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("2 reviews failed"), "{err}");
    assert!(err.contains("cannot reach http://127.0.0.1:9/v1"), "{err}");
}

#[test]
fn serve_names_the_address_it_cannot_listen_on_and_creates_no_database() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = run(jury().args(["serve", "--addr", &addr, "--db"]).arg(db_url(dir.path())));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(&format!("cannot listen on {addr}")), "{}", stderr(&out));
    assert!(!dir.path().join("jury.db").exists());

    let out = run(jury().args(["serve", "--addr", "127.0.0.1:0", "--db", "mysql://elsewhere/jury"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unsupported database URL"), "{}", stderr(&out));
}
