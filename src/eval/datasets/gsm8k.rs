//! GSM8K (grade-school maths), from `gsm8k/test.jsonl` with few-shot examples from
//! `gsm8k/train.jsonl` (`{"question", "answer"}`, the answer's reasoning ending `#### N`).
//! lm-eval's `gsm8k` task: "Question: {question}\nAnswer:" and, for an example, the whole
//! answer after it; five examples drawn at random (seed 1234) per document; generation until
//! "Question:", "</s>" or "<|im_end|>"; exact match after the strict (`#### N`) and the
//! flexible (last number) filters.

use std::path::Path;

use serde::Deserialize;

use std::sync::LazyLock;

use regex::Regex;

use super::{Check, Extracted, FewshotSampler, GenDoc, GenTaskData, read_lines, required_file};
use crate::eval::extract::{exact_match, regex_filter, strip_thinking};
use crate::input::{BadInput, Problem};

#[derive(Deserialize)]
struct RawDoc {
    question: String,
    answer: String,
}

pub fn load(dir: &Path) -> Result<GenTaskData, BadInput> {
    let test = required_file(dir, "gsm8k/test.jsonl", "GSM8K test file")?;
    let docs = read(&test)?;
    let train = dir.join("gsm8k/train.jsonl");
    let fewshot = if train.is_file() { read(&train)? } else { Vec::new() };
    Ok(GenTaskData {
        name: "gsm8k".into(),
        groups: Vec::new(),
        description: String::new(),
        docs,
        fewshot,
        target_delimiter: " ",
        sampler: FewshotSampler::Random,
        until: vec!["Question:".into(), "</s>".into(), "<|im_end|>".into()],
        max_tokens: 256,
        check: Check::Rules(score),
        samples: 1,
    })
}

// lm-eval's gsm8k.yaml, as written there.
static STRICT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"#### (\-?[0-9\.\,]+)").unwrap());
static FLEXIBLE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(-?[$0-9.,]{2,})|(-?[0-9]+)").unwrap());
static IGNORE: LazyLock<[Regex; 4]> = LazyLock::new(|| {
    [
        Regex::new(",").unwrap(),
        Regex::new(r"\$").unwrap(),
        Regex::new(r"(?s).*#### ").unwrap(),
        Regex::new(r"\.$").unwrap(),
    ]
});

/// Strict (`#### N`) and flexible (the last number) extraction, each matched exactly against
/// the reference after lm-eval's normalisation. A thinking block is taken out first.
pub fn score(output: &str, doc: &GenDoc) -> Vec<Extracted> {
    let answer = strip_thinking(output);
    [("strict-match", regex_filter(&answer, &STRICT, 0)), ("flexible-extract", regex_filter(&answer, &FLEXIBLE, -1))]
        .into_iter()
        .map(|(filter, prediction)| {
            let correct = exact_match(&prediction, &doc.target, IGNORE.as_slice(), true);
            Extracted::matched("exact_match", filter, prediction, correct)
        })
        .collect()
}

fn read(file: &Path) -> Result<Vec<GenDoc>, BadInput> {
    let (lines, mut problems) = read_lines::<RawDoc>(file)?;
    let mut docs = Vec::new();
    for line in lines {
        let raw = line.value;
        if !raw.answer.contains("#### ") {
            problems.push(
                Problem::new("the answer has no final `#### N` line")
                    .in_file(file)
                    .at_line(Some(line.line))
                    .at_key("answer"),
            );
            continue;
        }
        docs.push(GenDoc::new(format!("Question: {}\nAnswer:", raw.question), raw.answer));
    }
    problems.into_result()?;
    Ok(docs)
}
