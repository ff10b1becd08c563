//! RACE (reading comprehension from English exams), in the release's layout:
//! `RACE/test/{high,middle}/<n>.txt`, each one article as JSON `{"article", "questions",
//! "options", "answers", "id"}`. lm-eval's `race` (version 2.0): one document per article, its
//! last question scored; the earlier ones, each followed by its right option's text, come after
//! "Article: {article}\n\n" as "Question: {q}\nAnswer: {option}\n" (a fill-in question ending
//! "  _  ." as lm-eval renders it, " _  .{option}\n", its stem dropped), then the last question
//! as it is, continued by " {option}". Files are read in path order.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{ChoiceScoring, FewshotSampler, McqDoc, PromptStyle, TaskData, read_text, required_file};
use crate::input::{BadInput, Problem, Problems};

/// The release's levels: (subset, task name). lm-eval's `race` is the high-school set.
pub const LEVELS: [(&str, &str); 2] = [("high", "race"), ("middle", "race_middle")];

#[derive(Deserialize)]
struct RawArticle {
    article: String,
    questions: Vec<String>,
    options: Vec<Vec<String>>,
    answers: Vec<String>,
    #[serde(default)]
    id: Option<String>,
}

/// The levels named in `subsets` (the high-school set, lm-eval's `race`, when none are).
pub fn load(dir: &Path, subsets: &[String]) -> Result<Vec<TaskData>, BadInput> {
    let mut problems = Problems::default();
    for subset in subsets {
        if !LEVELS.iter().any(|(level, _)| level == subset) {
            problems.push(Problem::new(format!("race has no subset `{subset}` (its subsets: high, middle)")));
        }
    }
    problems.into_result()?;
    let mut tasks = Vec::new();
    for (level, name) in LEVELS {
        let wanted = if subsets.is_empty() { level == "high" } else { subsets.iter().any(|s| s == level) };
        if !wanted {
            continue;
        }
        let folder = dir.join(format!("RACE/test/{level}"));
        if !folder.is_dir() {
            required_file(dir, &format!("RACE/test/{level}"), "RACE test folder")?;
        }
        tasks.push(TaskData {
            name: name.into(),
            groups: Vec::new(),
            description: String::new(),
            docs: read_folder(&folder)?,
            fewshot: Vec::new(),
            acc_norm: false,
            scoring: ChoiceScoring::Accuracy,
            sampler: FewshotSampler::FirstN,
            style: PromptStyle::LmEval,
        });
    }
    Ok(tasks)
}

fn read_folder(folder: &Path) -> Result<Vec<McqDoc>, BadInput> {
    let entries = std::fs::read_dir(folder).map_err(|e| Problem::new(format!("cannot list: {e}")).in_file(folder))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    let mut problems = Problems::default();
    let mut docs = Vec::new();
    for file in files {
        match read_article(&file) {
            Ok(doc) => docs.push(doc),
            Err(e) => problems.extend(e),
        }
    }
    problems.into_result()?;
    Ok(docs)
}

fn read_article(file: &Path) -> Result<McqDoc, BadInput> {
    let raw: RawArticle = serde_json::from_str(&read_text(file)?).map_err(|e| {
        Problem::new(format!("not a RACE article ({{\"article\", \"questions\", \"options\", \"answers\"}}): {e}"))
            .in_file(file)
            .at_line(Some(e.line()))
    })?;
    let bad = |key: String, why: String| -> BadInput { Problem::new(why).in_file(file).at_key(key).into() };
    let n = raw.questions.len();
    if n == 0 || raw.options.len() != n || raw.answers.len() != n {
        return Err(bad(
            "questions".into(),
            format!(
                "{} questions, {} option lists and {} answers: each question needs its options and answer",
                n,
                raw.options.len(),
                raw.answers.len()
            ),
        ));
    }
    let mut golds = Vec::with_capacity(n);
    for (i, (answer, options)) in raw.answers.iter().zip(&raw.options).enumerate() {
        let gold = ["A", "B", "C", "D"].iter().position(|l| l == answer).filter(|g| *g < options.len());
        match gold {
            Some(g) if options.len() >= 2 => golds.push(g),
            _ => {
                return Err(bad(
                    format!("answers[{i}]"),
                    format!("the answer {answer:?} is not one of the letters of its {} options", options.len()),
                ));
            }
        }
    }
    let mut text = format!("Article: {}\n\n", raw.article);
    for ((question, options), gold) in raw.questions.iter().zip(&raw.options).zip(&golds).take(n - 1) {
        let option = &options[*gold];
        match question.strip_suffix("  _  .") {
            // lm-eval 2.0 keeps only the question's last five characters here.
            Some(_) => text.push_str(&format!(" _  .{option}\n")),
            None => text.push_str(&format!("Question: {question}\nAnswer: {option}\n")),
        }
    }
    text.push_str(&raw.questions[n - 1]);
    Ok(McqDoc { id: raw.id, text, choices: raw.options[n - 1].clone(), gold: golds[n - 1], labels: Vec::new() })
}
