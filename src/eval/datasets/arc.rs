//! ARC (AI2 Reasoning Challenge), Easy and Challenge, in the official JSONL layout:
//! `{"id", "question": {"stem", "choices": [{"text", "label"}]}, "answerKey"}`. The prompt and
//! choices are lm-eval's: "Question: {stem}\nAnswer:" continued by " {choice text}".

use std::path::Path;

use serde::Deserialize;

use super::{ChoiceScoring, FewshotSampler, McqDoc, PromptStyle, TaskData, read_lines, required_file};
use crate::input::{BadInput, Problem};

#[derive(Deserialize)]
struct RawDoc {
    id: String,
    question: RawQuestion,
    #[serde(rename = "answerKey")]
    answer_key: String,
}

#[derive(Deserialize)]
struct RawQuestion {
    stem: String,
    choices: Vec<RawChoice>,
}

#[derive(Deserialize)]
struct RawChoice {
    text: String,
    label: String,
}

pub fn load(dir: &Path, folder: &str, name: &str) -> Result<TaskData, BadInput> {
    let test = required_file(dir, &format!("arc/{folder}/test.jsonl"), "ARC test file")?;
    let docs = read(&test)?;
    let dev = dir.join(format!("arc/{folder}/dev.jsonl"));
    let fewshot = if dev.is_file() { read(&dev)? } else { Vec::new() };
    Ok(TaskData {
        name: name.into(),
        groups: Vec::new(),
        description: String::new(),
        docs,
        fewshot,
        acc_norm: true,
        scoring: ChoiceScoring::Accuracy,
        sampler: FewshotSampler::Random,
        style: PromptStyle::LmEval,
    })
}

/// Reads a file, reporting every bad line (unreadable or not making sense) at once.
fn read(file: &Path) -> Result<Vec<McqDoc>, BadInput> {
    let (lines, mut problems) = read_lines::<RawDoc>(file)?;
    let mut docs = Vec::new();
    for line in lines {
        let raw = line.value;
        let labels: Vec<&str> = raw.question.choices.iter().map(|c| c.label.trim()).collect();
        match labels.iter().position(|l| *l == raw.answer_key.trim()) {
            Some(gold) if raw.question.choices.len() >= 2 => docs.push(McqDoc {
                id: Some(raw.id),
                text: format!("Question: {}\nAnswer:", raw.question.stem),
                choices: raw.question.choices.into_iter().map(|c| c.text).collect(),
                gold,
                labels: Vec::new(),
            }),
            Some(_) => problems
                .push(Problem::new("a question needs at least two choices").in_file(file).at_line(Some(line.line))),
            None => problems.push(
                Problem::new(format!("answerKey {:?} is not one of the labels {labels:?}", raw.answer_key))
                    .in_file(file)
                    .at_line(Some(line.line))
                    .at_key("answerKey"),
            ),
        }
    }
    problems.into_result()?;
    Ok(docs)
}
