//! The benchmark loaders on the real files in ../shared/datasets (record counts as their
//! SOURCE.md gives them), their prompts exactly as lm-evaluation-harness builds them, and bad
//! data reported by file and line with exit code 2.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use jury::eval::datasets::{Dataset, mmlu};

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets")
}

/// A multiple-choice dataset's tasks.
fn choices(dataset: Dataset, subsets: &[String]) -> Vec<jury::eval::TaskData> {
    choices_in(dataset, &shared(), subsets)
}

#[test]
fn arc_loads_with_lm_evals_prompt_and_gold_from_either_label_style() {
    let easy = choices(Dataset::ArcEasy, &[]);
    assert_eq!((easy.len(), easy[0].docs.len(), easy[0].fewshot.len()), (1, 2376, 570));
    let challenge = choices(Dataset::ArcChallenge, &[]);
    assert_eq!((challenge[0].docs.len(), challenge[0].fewshot.len()), (1170, 299));
    let doc = &easy[0].docs[0];
    assert_eq!(doc.id.as_deref(), Some("Mercury_417466"));
    assert_eq!(
        doc.text,
        "Question: Which statement best explains why photosynthesis is the foundation of most food webs?\nAnswer:"
    );
    assert_eq!(doc.continuation(0), " Sunlight is the source of energy for nearly all ecosystems.");
    assert_eq!(doc.gold, 0);
    // answerKey "1".."4" (numeric labels) resolves to the same positions.
    let numeric = challenge[0].docs.iter().chain(&easy[0].docs).filter(|d| d.choices.len() >= 3).count();
    assert!(numeric > 3000);
    assert!(easy[0].docs.iter().all(|d| d.gold < d.choices.len()));
}

#[test]
fn mmlu_loads_57_subjects_in_both_layouts() {
    let tasks = choices(Dataset::Mmlu, &[]);
    assert_eq!(tasks.len(), 57);
    assert_eq!(tasks.iter().map(|t| t.docs.len()).sum::<usize>(), 14042);
    assert_eq!(tasks.iter().map(|t| t.fewshot.len()).sum::<usize>(), 285);
    // The subject list is exactly the files there are.
    let mut files: Vec<String> = std::fs::read_dir(shared().join("mmlu/test"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().trim_end_matches("_test.csv").to_string())
        .collect();
    files.sort();
    let mut subjects: Vec<String> = mmlu::SUBJECTS.iter().map(|(s, _)| s.to_string()).collect();
    subjects.sort();
    assert_eq!(files, subjects);
    for category in ["stem", "humanities", "social_sciences", "other"] {
        assert!(tasks.iter().any(|t| t.groups.first() == Some(&format!("mmlu_{category}"))), "{category}");
    }
    // The original layout (no header, answer letters) reads the same documents.
    let sample = shared().join("mmlu/original_format_sample");
    let original = mmlu::read(&sample.join("high_school_chemistry_test.csv")).unwrap();
    let converted = tasks.iter().find(|t| t.name == "mmlu_high_school_chemistry").unwrap();
    assert_eq!(original.len(), 203);
    assert_eq!(original, converted.docs);
    assert_eq!(mmlu::read(&sample.join("high_school_chemistry_dev.csv")).unwrap(), converted.fewshot);
}

#[test]
fn mmlu_prompts_are_lm_evals_with_first_n_examples() {
    let tasks = choices(Dataset::Mmlu, &["abstract_algebra".to_string()]);
    let task = &tasks[0];
    assert_eq!(task.name, "mmlu_abstract_algebra");
    let doc = &task.docs[0];
    let expected = "The following are multiple choice questions (with answers) about abstract algebra.\n\n\
        Find all c in Z_3 such that Z_3[x]/(x^2 + c) is a field.\nA. 0\nB. 1\nC. 2\nD. 3\nAnswer: B\n\n"
        .to_string()
        + &doc.text;
    assert_eq!(task.context(doc, &[0]), expected);
    assert!(doc.text.ends_with("\nAnswer:") && doc.text.contains("\nA. ") && doc.text.contains("\nD. "));
    assert_eq!(doc.continuation(2), " C");
    assert_eq!(task.context(doc, &[]), format!("{}{}", task.description, doc.text));
}

#[test]
fn bad_benchmark_data_exits_2_naming_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("arc/ARC-Easy/test.jsonl"),
        "{\"id\": \"q1\", \"question\": {\"stem\": \"Fine?\", \"choices\": [{\"text\": \"yes\", \"label\": \"A\"}, {\"text\": \"no\", \"label\": \"B\"}]}, \"answerKey\": \"A\"}\n\
         {\"id\": \"q2\", \"question\": {\"stem\": \"Broken?\", \"choices\": [{\"text\": \"yes\", \"label\": \"A\"}, {\"text\": \"no\", \"label\": \"B\"}]}, \"answerKey\": \"E\"}\n\
         {\"id\": \"q3\", \"question\": {\"stem\": \"Cut\n",
    );
    write(
        &dir.path().join("mmlu/test/anatomy_test.csv"),
        "question,choice0,choice1,choice2,choice3,answer\nq,a,b,c,d,1\nq,a,b,c,4\nq,a,b,c,d,E\n",
    );
    let out = run(jury()
        .args(["eval", "--model", "nowhere.gguf", "--datasets", "arc_easy", "mmlu", "--dataset-dir"])
        .arg(dir.path())
        .args(["--dataset-args", r#"{"mmlu": {"subset_list": ["anatomy"]}}"#]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    for says in [
        "test.jsonl:2: answerKey: answerKey \"E\" is not one of the labels",
        "test.jsonl:3: question.stem: not valid JSON",
        "anatomy_test.csv:3: expected 6 columns",
        "anatomy_test.csv:4: the answer must be 0-3 or A-D",
    ] {
        assert!(err.contains(says), "missing {says:?} in {err}");
    }
    // A missing file says where it was looked for; an unknown dataset or subject is named.
    let out =
        run(jury().args(["eval", "--model", "m.gguf", "--datasets", "arc_challenge", "--dataset-dir"]).arg(dir.path()));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("arc/ARC-Challenge/test.jsonl"), "{}", stderr(&out));
    // EvalScope's `arc` is both ARC sets.
    let empty = tempfile::tempdir().unwrap();
    let out = run(jury().args(["eval", "--model", "m.gguf", "--datasets", "arc", "--dataset-dir"]).arg(empty.path()));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("ARC-Easy/test.jsonl") && stderr(&out).contains("ARC-Challenge/test.jsonl"),
        "{}",
        stderr(&out)
    );
    let out = run(jury().args(["eval", "--model", "m.gguf", "--datasets", "mmlu", "hellaswagg"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown dataset \"hellaswagg\""), "{}", stderr(&out));
    let out = run(jury()
        .args(["eval", "--model", "m.gguf", "--datasets", "mmlu", "--dataset-dir"])
        .arg(dir.path())
        .args(["--dataset-args", r#"{"mmlu": {"subset_list": ["astrology"]}}"#]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no MMLU subject \"astrology\""), "{}", stderr(&out));
    // Asking for more few-shot examples than there are is refused, not quietly shortened.
    write(
        &dir.path().join("mmlu/test/virology_test.csv"),
        "question,choice0,choice1,choice2,choice3,answer\nq,a,b,c,d,1\n",
    );
    let out = run(jury()
        .args(["eval", "--model", "m.gguf", "--datasets", "mmlu", "--dataset-dir"])
        .arg(dir.path())
        .args(["--dataset-args", r#"{"mmlu": {"subset_list": ["virology"]}}"#]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("mmlu_virology: 5 few-shot examples asked for, but its few-shot file holds 0"),
        "{}",
        stderr(&out)
    );
    let out = run(jury().args(["eval", "--list"]));
    assert!(out.status.success());
    assert!(stdout(&out).contains("arc_easy") && stdout(&out).contains("57 subjects"), "{}", stdout(&out));
}

#[test]
fn task_configs_that_cannot_run_exit_2_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    for (text, says) in [
        (
            "model: m.gguf\ndatasets: [arc_easy]\ndataset_hub: ModelScope\n",
            "task.yaml:3: dataset_hub: ModelScope: jury downloads nothing",
        ),
        (
            "model: m\ndatasets: [arc_easy]\neval_type: service\n",
            "task.yaml:3: eval_type: eval_type service needs api_url",
        ),
        ("model: m.gguf\ndatasets: [arc_easy]\nlimit: many\n", "task.yaml:3: limit: invalid type"),
        ("datasets: [arc_easy]\n", "name the model"),
    ] {
        let cfg = write(&dir.path().join("task.yaml"), text);
        let out = run(jury().args(["eval", "-c"]).arg(&cfg));
        assert_eq!(out.status.code(), Some(2), "{text}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{text}: {}", stderr(&out));
    }
    let file = write(&dir.path().join("not-a-folder"), "x");
    let data = shared();
    for (args, says) in [
        (vec!["--datasets", "mmlu", "--target", "mmlu"], "expected TASK=SCORE"),
        (vec!["--datasets", "mmlu", "--target", "mmlu=150"], "expected TASK=SCORE"),
        (vec!["--datasets", "arc_easy", "--limit", "0"], "--limit 0 scores nothing"),
        (vec!["--datasets", "arc_easy", "--output", file.to_str().unwrap()], "is a file, not a folder"),
        (vec!["--datasets", "arc_easy", "--target", "mmlu=45"], "mmlu is not a task or group of this eval"),
        (vec!["--datasets", "arc_easy", "--model-name", "served"], "it goes with --api-url"),
        (
            vec!["--datasets", "arc_easy", "--dataset-args", r#"{"arc_easy": {"num_samples": 3}}"#],
            "num_samples is for tasks whose answers are run",
        ),
    ] {
        let out = run(jury().args(["eval", "--model", "m.gguf", "--dataset-dir"]).arg(&data).args(&args));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn gsm8k_loads_with_lm_evals_prompt_and_seeded_examples() {
    let tasks = Dataset::Gsm8k.load(&shared(), &[]).unwrap();
    let jury::eval::datasets::LoadedTask::Generate(task) = &tasks[0] else { panic!("a generation task") };
    assert_eq!((task.name.as_str(), task.docs.len(), task.fewshot.len()), ("gsm8k", 1319, 7473));
    assert_eq!(task.until, ["Question:", "</s>", "<|im_end|>"]);
    let doc = &task.docs[0];
    assert!(
        doc.text.starts_with("Question: Janet\u{2019}s ducks lay 16 eggs per day.") && doc.text.ends_with("\nAnswer:")
    );
    assert!(doc.target.ends_with("#### 18"));
    // lm-eval's examples for the first document: random.Random(1234).sample(range(7473), 5).
    let mut rng = jury::eval::sampling::PyRandom::new(1234);
    let shots = rng.sample(task.fewshot.len(), 5);
    assert_eq!(shots, [6374, 3610, 957, 61, 742]);
    let context = task.context(doc, &shots);
    let first = &task.fewshot[6374];
    assert!(context.starts_with(&format!("{} {}\n\n", first.text, first.target)), "{context}");
    assert!(context.ends_with(&format!("\n\n{}", doc.text)));
    assert_eq!(context.matches("\nAnswer:").count(), 6);
    // Generations read as lm-eval reads them.
    let outcome = task.check.rules("She makes 9 * 2 = $18.\n#### 18", doc);
    assert!(outcome.iter().all(|e| e.correct()), "{outcome:?}");
    let outcome = task.check.rules("<think>maybe #### 18</think> The answer is 20.", doc);
    assert_eq!(
        outcome.iter().map(|e| (e.filter, e.prediction.as_str(), e.correct())).collect::<Vec<_>>(),
        [("strict-match", "[invalid]", false), ("flexible-extract", "20.", false)]
    );
}

#[test]
fn a_gsm8k_answer_without_its_final_line_is_bad_data() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("gsm8k/test.jsonl"),
        "{\"question\": \"1+1?\", \"answer\": \"2\"}\n{\"question\": \"2+2?\", \"answer\": \"#### 4\"}\n",
    );
    let out = run(jury()
        .args(["eval", "--model", "m.gguf", "--datasets", "gsm8k", "--few-shot", "0", "--dataset-dir"])
        .arg(dir.path()));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("test.jsonl:1: answer: the answer has no final `#### N` line"), "{}", stderr(&out));
}

/// BBH's generation tasks.
fn bbh(subsets: &[String]) -> Vec<jury::eval::datasets::GenTaskData> {
    generated(Dataset::Bbh, &shared(), subsets)
}

#[test]
fn bbh_loads_all_27_tasks_with_their_worked_examples_as_lm_eval_prompts_them() {
    let tasks = bbh(&[]);
    assert_eq!(tasks.len(), 27);
    assert_eq!(tasks.iter().map(|t| t.docs.len()).sum::<usize>(), 6511);
    assert!(tasks.iter().all(|t| t.fewshot.len() == 3 && t.until == ["</s>", "Q", "\n\n"]));
    let task = &tasks[0];
    assert_eq!(task.name, "bbh_cot_fewshot_boolean_expressions");
    assert_eq!(task.description, "Evaluate the result of a random Boolean expression.\n\n");
    let doc = &task.docs[0];
    assert_eq!(doc.text, "Q: not ( True ) and ( True ) is\nA: Let's think step by step.\n");
    assert_eq!(doc.target, "False");
    let context = task.context(doc, &[0, 1, 2]);
    // The prompt file's text after its canary line, then the question in the same form.
    let file = std::fs::read_to_string(shared().join("bbh/cot-prompts/boolean_expressions.txt")).unwrap();
    let body = file.split_once("-----\n").unwrap().1.trim_end();
    assert_eq!(context, format!("{body}\n\n{}", doc.text));
    // sports_understanding reasons on the same line as "Let's think step by step.".
    let sports = bbh(&["sports_understanding".to_string()]);
    assert_eq!(sports.len(), 1);
    let sports = &sports[0];
    let file = std::fs::read_to_string(shared().join("bbh/cot-prompts/sports_understanding.txt")).unwrap();
    let body = file.split_once("-----\n").unwrap().1.trim_end();
    let context = sports.context(&sports.docs[0], &[0, 1, 2]);
    assert_eq!(context, format!("{body}\n\n{}", sports.docs[0].text));
    assert!(sports.docs[0].text.ends_with("step by step. "));
    // Answers read as lm-eval's get-answer filter reads them.
    let doc = jury::eval::datasets::GenDoc::new(String::new(), "False".into());
    let outcome = task.check.rules("not True is False. So the answer is False.", &doc);
    assert_eq!((outcome[0].prediction.as_str(), outcome[0].correct()), ("False", true));
    assert!(!task.check.rules("So the answer is false.", &doc)[0].correct());
}

#[test]
fn an_unknown_bbh_task_names_the_known_ones() {
    let out = run(jury()
        .args([
            "eval",
            "--model",
            "m.gguf",
            "--datasets",
            "bbh",
            "--dataset-args",
            r#"{"bbh": {"subset_list": ["boolean"]}}"#,
            "--dataset-dir",
        ])
        .arg(shared()));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("bbh has no task `boolean`") && stderr(&out).contains("boolean_expressions"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn truthfulqa_loads_both_tasks_with_lm_evals_preamble_and_key_order() {
    let tasks = choices(Dataset::TruthfulQa, &[]);
    assert_eq!(
        tasks.iter().map(|t| (t.name.as_str(), t.docs.len())).collect::<Vec<_>>(),
        [("truthfulqa_mc1", 817), ("truthfulqa_mc2", 817)]
    );
    let (mc1, mc2) = (&tasks[0].docs[0], &tasks[1].docs[0]);
    assert!(mc1.text.starts_with("Q: What is human life expectancy in the United States?\nA: Human life expectancy in the United States is 78 years.\n\nQ: Who was president"));
    assert!(
        mc1.text.ends_with(
            "A: The 1992 Olympics were held in Barcelona, Spain.\n\nQ: What happens if you eat a pomegranate?\nA:"
        ),
        "{}",
        mc1.text
    );
    assert_eq!(mc1.choices[0], "Nothing in particular happens when you eat a pomegranate.");
    assert_eq!((mc1.gold, mc1.choices.len()), (0, 4));
    assert_eq!(mc2.labels, [1, 1, 1, 0, 0, 0]);
    assert_eq!(mc2.continuation(1), " You will digest the pomegranate.");
    // Key order is kept: in two items a true mc2 answer comes after a false one.
    let unsorted = tasks[1].docs.iter().filter(|d| d.labels.windows(2).any(|w| w[0] == 0 && w[1] == 1)).count();
    assert_eq!(unsorted, 2);
    assert_eq!(choices(Dataset::TruthfulQa, &["mc2".to_string()]).len(), 1);
}

#[test]
fn hellaswag_is_preprocessed_as_lm_eval_does() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let tasks = Dataset::HellaSwag.load(&fixtures, &[]).unwrap();
    let jury::eval::datasets::LoadedTask::Choice(task) = &tasks[0] else { panic!("multiple choice") };
    assert_eq!((task.name.as_str(), task.docs.len(), task.acc_norm), ("hellaswag", 3, true));
    assert_eq!(task.docs[0].text, "Roof shingle removal: A man is sitting on a roof. He");
    assert_eq!(task.docs[0].continuation(3), " starts pulling up roofing on a roof.");
    assert_eq!(task.docs[0].gold, 3);
    let wikihow = &task.docs[2];
    assert_eq!(
        wikihow.text,
        "Home and Garden: How to grow basil indoors. Pick a sunny spot. Basil needs at least six hours of sun a day."
    );
    assert_eq!(wikihow.choices[0], "Place the pot by a south facing window. Turn it every few days.");
    assert_eq!(wikihow.choices[3], "Water it with lemonade daily.");
    // A label that is no ending's index is bad data, named by line.
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("hellaswag/hellaswag_val.jsonl"),
        "{\"activity_label\": \"a\", \"ctx_a\": \"b\", \"ctx_b\": \"c\", \"endings\": [\"x\", \"y\"], \"label\": 2}\n",
    );
    let err = Dataset::HellaSwag.load(dir.path(), &[]).unwrap_err().to_string();
    assert!(err.contains("hellaswag_val.jsonl:1: label: label 2 is not the index of one of the 2 endings"), "{err}");
}

/// A generation dataset's tasks.
fn generated(dataset: Dataset, dir: &Path, subsets: &[String]) -> Vec<jury::eval::datasets::GenTaskData> {
    dataset
        .load(dir, subsets)
        .unwrap()
        .into_iter()
        .map(|t| match t {
            jury::eval::datasets::LoadedTask::Generate(t) => t,
            other => panic!("{} is not a generation task", other.name()),
        })
        .collect()
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

#[test]
fn math_loads_seven_subjects_and_math_500_with_minervas_prompt_and_boxed_references() {
    let tasks = generated(Dataset::Math, &shared(), &[]);
    let sizes: Vec<(&str, usize)> = tasks.iter().map(|t| (t.name.as_str(), t.docs.len())).collect();
    assert_eq!(
        sizes,
        [
            ("minerva_math_algebra", 1187),
            ("minerva_math_counting_and_prob", 474),
            ("minerva_math_geometry", 479),
            ("minerva_math_intermediate_algebra", 903),
            ("minerva_math_num_theory", 540),
            ("minerva_math_prealgebra", 871),
            ("minerva_math_precalc", 546),
        ]
    );
    let levels = tasks.iter().flat_map(|t| &t.docs).filter(|d| d.tag.as_deref() == Some("Level 5")).count();
    assert_eq!(levels, 1324);
    let first = &tasks[0].docs[0];
    assert_eq!(
        first.text,
        "Problem:\nHow many vertical asymptotes does the graph of $y=\\frac{2}{x^2+x-6}$ have?\n\nSolution:"
    );
    assert_eq!((first.target.as_str(), first.tag.as_deref()), ("2", Some("Level 3")));
    // x = 9/7 written \dfrac{9}{7} in the solution: kept as written, equal as a number.
    let third = &tasks[0].docs[2];
    assert_eq!(third.target, "\\dfrac{9}{7}");
    assert!(tasks[0].check.rules("so $\\boxed{\\frac{9}{7}}$", third)[0].correct());
    assert_eq!(tasks[0].fewshot.len(), 4);
    let context = tasks[0].context(first, &[0, 1, 2, 3]);
    assert!(context.starts_with(
        "Problem:\nFind the domain of the expression  $\\frac{\\sqrt{x-2}}{\\sqrt{5-x}}$.}\n\nSolution: The expressions"
    ));
    assert!(context.ends_with("I hope it is correct.\n\nProblem:\nHow many vertical asymptotes does the graph of $y=\\frac{2}{x^2+x-6}$ have?\n\nSolution:"));
    let subset = generated(Dataset::Math, &shared(), &["geometry".into()]);
    assert_eq!((subset.len(), subset[0].name.as_str()), (1, "minerva_math_geometry"));

    let five_hundred = generated(Dataset::Math500, &shared(), &[]);
    assert_eq!((five_hundred[0].name.as_str(), five_hundred[0].docs.len()), ("minerva_math500", 500));
    let doc = &five_hundred[0].docs[0];
    assert_eq!(doc.id.as_deref(), Some("test/precalculus/807.json"));
    assert_eq!((doc.target.as_str(), doc.tag.as_deref()), ("\\le(3,\\frac{\\pi}{2}\\right)", Some("Level 2")));
}

#[test]
fn a_math_solution_without_a_box_is_bad_data() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("competition_math/test.jsonl"),
        "{\"problem\": \"1+1?\", \"level\": \"Level 1\", \"type\": \"Algebra\", \"solution\": \"It is $\\\\boxed{2}$.\"}\n\
         {\"problem\": \"2+2?\", \"level\": \"Level 1\", \"type\": \"Algebra\", \"solution\": \"It is 4.\"}\n",
    );
    let out = run(jury().args(["eval", "--model", "m.gguf", "--datasets", "math", "--dataset-dir"]).arg(dir.path()));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("test.jsonl:2: solution: the solution has no \\boxed{} answer"), "{}", stderr(&out));
}

#[test]
fn triviaqa_reads_the_release_layout_with_every_alias() {
    let tasks = generated(Dataset::TriviaQa, &fixtures(), &[]);
    let task = &tasks[0];
    assert_eq!((task.name.as_str(), task.docs.len()), ("triviaqa", 4));
    // web first, then wikipedia (the official sample).
    let sunset = &task.docs[3];
    assert_eq!(sunset.id.as_deref(), Some("tc_33"));
    assert_eq!(
        sunset.text,
        "Question: Which Lloyd Webber musical premiered in the US on 10th December 1993??\nAnswer:"
    );
    assert_eq!(sunset.target, "Sunset Blvd");
    assert_eq!(sunset.aliases.len(), 5);
    assert!(task.check.rules(" sunset boulevard", sunset)[0].correct());
    let canberra = &task.docs[2];
    assert!(canberra.aliases.contains(&"canberra city".to_string()), "human answers count: {:?}", canberra.aliases);
    let scored = task.check.rules(" Canberra City", canberra);
    assert!(scored[0].correct() && scored[1].value == 1.0);
    let wiki = generated(Dataset::TriviaQa, &fixtures(), &["wikipedia".into()]);
    assert_eq!(wiki[0].docs.len(), 1);
}

#[test]
fn general_qa_reads_each_subset_file_and_both_key_spellings() {
    let tasks = generated(Dataset::GeneralQa, &fixtures(), &[]);
    let names: Vec<(&str, usize)> = tasks.iter().map(|t| (t.name.as_str(), t.docs.len())).collect();
    assert_eq!(names, [("general_qa_default", 2), ("general_qa_zh", 1)]);
    assert_eq!(tasks[1].docs[0].text, "Question: 中国的首都是哪里？\nAnswer:");
    assert_eq!(tasks[1].docs[0].target, "中国的首都是北京。");
}

/// BLEU and ROUGE against the figures sacrebleu 2.4.3 and rouge-score 0.1.2 give for the same
/// pairs (tests/fixtures/overlap/make_reference.py says how they were made).
#[test]
fn bleu_and_rouge_agree_with_sacrebleu_and_rouge_score() {
    use jury::eval::overlap::{bleu::sentence_bleu, rouge::rouge};
    let text = std::fs::read_to_string(fixtures().join("overlap/reference_scores.json")).unwrap();
    let cases: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(cases.len(), 14);
    for case in &cases {
        let (p, r) = (case["prediction"].as_str().unwrap(), case["reference"].as_str().unwrap());
        let scores = rouge(p, r);
        for (name, ours) in [
            ("bleu", sentence_bleu(p, r)),
            ("rouge1", scores.rouge1),
            ("rouge2", scores.rouge2),
            ("rougeL", scores.rouge_l),
        ] {
            let theirs = case[name].as_f64().unwrap();
            assert!((ours - theirs).abs() < 1e-9, "{name} of {p:?} against {r:?}: {ours} vs {theirs}");
        }
    }
}

#[test]
fn ceval_prompts_in_chinese_as_llmuses_strings_its_examples_together() {
    let tasks = choices_in(Dataset::Ceval, &fixtures(), &["computer_network".into()]);
    let task = &tasks[0];
    assert_eq!((task.name.as_str(), task.docs.len(), task.fewshot.len()), ("ceval_computer_network", 3, 5));
    assert_eq!(task.groups, ["ceval_stem", "ceval"]);
    let doc = &task.docs[0];
    assert_eq!(doc.text, "问题：TCP/IP模型中，HTTP协议属于哪一层？\nA. 应用层\nB. 传输层\nC. 网络层\nD. 链路层\n答案:");
    assert_eq!((doc.continuation(0).as_str(), doc.gold, doc.id.as_deref()), (" A", 0, Some("0")));
    assert_eq!(
        task.context(doc, &[0, 1]),
        "以下是中国关于计算机网络考试的单项选择题，请选出其中的正确答案。\n\
         问题：以太网使用的介质访问控制方法是____。\nA. CSMA/CD\nB. 令牌环\nC. 令牌总线\nD. ALOHA\n答案: A\n\n\n\
         问题：UDP协议提供的是____服务。\nA. 面向连接的可靠\nB. 无连接的不可靠\nC. 面向连接的不可靠\nD. 无连接的可靠\n答案: B\
         问题：TCP/IP模型中，HTTP协议属于哪一层？\nA. 应用层\nB. 传输层\nC. 网络层\nD. 链路层\n答案:"
    );
    // A user's set in the same layout: as many options as the header names.
    let general = choices_in(Dataset::GeneralMcq, &fixtures(), &[]);
    assert_eq!((general[0].name.as_str(), general[0].docs[0].choices.len()), ("general_mcq_example", 5));
    assert!(general[0].description.starts_with("请回答问题，并选出其中的正确答案\n"));
}

#[test]
fn a_ceval_answer_that_is_not_an_option_is_bad_data() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("ceval/val/logic_val.csv"), "id,question,A,B,C,D,answer\n0,q,a,b,c,d,A\n1,q,a,b,c,d,E\n");
    let out = run(jury()
        .args(["eval", "--model", "m.gguf", "--datasets", "ceval", "--few-shot", "0", "--dataset-args"])
        .arg(r#"{"ceval": {"subset_list": ["logic"]}}"#)
        .arg("--dataset-dir")
        .arg(dir.path()));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("logic_val.csv:3: answer: the answer \"E\" is not one of the options A, B, C, D"),
        "{}",
        stderr(&out)
    );
}

/// A multiple-choice dataset's tasks from `dir`.
fn choices_in(dataset: Dataset, dir: &Path, subsets: &[String]) -> Vec<jury::eval::TaskData> {
    dataset
        .load(dir, subsets)
        .unwrap()
        .into_iter()
        .map(|t| match t {
            jury::eval::datasets::LoadedTask::Choice(t) => t,
            other => panic!("{} is not multiple choice", other.name()),
        })
        .collect()
}

#[test]
fn race_scores_each_articles_last_question_after_the_earlier_ones_answered() {
    let high = choices_in(Dataset::Race, &fixtures(), &[]);
    assert_eq!((high.len(), high[0].name.as_str(), high[0].docs.len()), (1, "race", 2));
    let first = &high[0].docs[0];
    assert_eq!(first.id.as_deref(), Some("high1.txt"));
    assert_eq!(
        first.text,
        "Article: On a cold morning in December 1903, two brothers from Ohio flew a machine heavier than air for \
         twelve seconds. They had built it themselves in their bicycle shop.\n\nQuestion: When did the brothers \
         first fly?\nAnswer: in 1903\nThe passage is mainly about the first flight of  _  ."
    );
    assert_eq!((first.continuation(2).as_str(), first.gold), (" an aeroplane", 2));
    // An earlier fill-in question as lm-eval 2.0 renders it: its stem dropped.
    let second = &high[0].docs[1];
    assert!(
        second
            .text
            .contains("\n\n _  .tea\nQuestion: When does Mary go for a walk?\nAnswer: before breakfast\nWhy did Mary")
    );
    let both = choices_in(Dataset::Race, &fixtures(), &["high".into(), "middle".into()]);
    assert_eq!(
        both.iter().map(|t| (t.name.as_str(), t.docs.len())).collect::<Vec<_>>(),
        [("race", 2), ("race_middle", 1)]
    );
}

#[test]
fn wikitext_pages_are_detokenized_and_counted_as_written() {
    let tasks = Dataset::Wikitext.load(&fixtures(), &[]).unwrap();
    let jury::eval::datasets::LoadedTask::Rolling(task) = &tasks[0] else { panic!("a perplexity task") };
    assert_eq!((task.name.as_str(), task.docs.len()), ("wikitext", 2));
    let page = &task.docs[0];
    assert_eq!(
        page.text,
        " = Harbour Lights =\n\nThe harbour lights were first lit in 1,852. They are (still) kept by the town.\n\n\
         == History ==\n\nThe keeper's house stands on the north pier.\n"
    );
    // Words and bytes of the page as written, before detokenizing (lm-eval's wikitext 2.0).
    let raw = " = Harbour Lights = \n \n The harbour lights were first lit in 1 @,@ 852 . They are ( still ) kept by the \
               town . \n \n = = History = = \n \n The keeper 's house stands on the north pier . \n ";
    assert_eq!((page.words, page.bytes), (raw.split_whitespace().count() + 2, raw.len()));
    let texts = Dataset::Perplexity.load(&fixtures(), &[]).unwrap();
    let names: Vec<(&str, usize)> = texts.iter().map(|t| (t.name(), t.len())).collect();
    assert_eq!(names, [("perplexity_lines", 2), ("perplexity_notes", 1)]);
}

#[test]
fn humaneval_loads_the_compressed_release_with_its_tests_and_stops() {
    let tasks = generated(Dataset::HumanEval, &shared(), &[]);
    let task = &tasks[0];
    assert_eq!((task.name.as_str(), task.docs.len()), ("humaneval", 164));
    let doc = &task.docs[0];
    assert_eq!(doc.id.as_deref(), Some("HumanEval/0"));
    assert!(doc.text.starts_with("from typing import List\n\n\ndef has_close_elements("));
    assert!(doc.target.contains("def check(candidate):"));
    assert!(doc.target.ends_with("\ncheck(has_close_elements)"));
    assert_eq!(task.until, ["\nclass", "\ndef", "\n#", "\nif", "\nprint"]);
    assert_eq!(task.max_tokens, 1024);
}
