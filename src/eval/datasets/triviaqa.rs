//! TriviaQA without context, in the official release's layout: `triviaqa/qa/web-dev.json` and
//! `triviaqa/qa/wikipedia-dev.json` (`{"Data": [{"Question", "QuestionId", "Answer": {"Aliases",
//! "Value"}}]}`), the two read in that order as lm-eval's `triviaqa` (rc.nocontext validation).
//! Prompt "Question: {question}?\nAnswer:" (lm-eval's, its extra "?" included); greedy generation
//! until a newline, "." or ","; few-shot examples, when asked for, from the `-train.json` files.

use std::path::Path;

use serde::Deserialize;

use super::{Check, Extracted, FewshotSampler, GenDoc, GenTaskData, read_text, required_file};
use crate::eval::extract::strip_thinking;
use crate::eval::overlap::{exact_match_loose, normalize_answer, token_f1};
use crate::input::{BadInput, Problem, Problems};

/// The release's question sets, as subsets.
pub const SOURCES: [&str; 2] = ["web", "wikipedia"];

#[derive(Deserialize)]
struct RawFile {
    #[serde(rename = "Data")]
    data: Vec<RawQuestion>,
}

#[derive(Deserialize)]
struct RawQuestion {
    #[serde(rename = "Question")]
    question: String,
    #[serde(rename = "QuestionId", default)]
    id: Option<String>,
    #[serde(rename = "Answer", default)]
    answer: Option<RawAnswer>,
}

#[derive(Deserialize)]
struct RawAnswer {
    #[serde(rename = "Aliases", default)]
    aliases: Vec<String>,
    #[serde(rename = "Value")]
    value: String,
    /// The verified sets' human answers, which count too.
    #[serde(rename = "HumanAnswers", default)]
    human: Vec<String>,
}

pub fn load(dir: &Path, subsets: &[String]) -> Result<GenTaskData, BadInput> {
    let mut problems = Problems::default();
    for subset in subsets {
        if !SOURCES.contains(&subset.as_str()) {
            problems.push(Problem::new(format!("triviaqa has no subset `{subset}` (its subsets: web, wikipedia)")));
        }
    }
    problems.into_result()?;
    let chosen: Vec<&str> =
        SOURCES.iter().copied().filter(|s| subsets.is_empty() || subsets.iter().any(|x| x == s)).collect();
    let present: Vec<&str> =
        chosen.iter().copied().filter(|s| dir.join(format!("triviaqa/qa/{s}-dev.json")).is_file()).collect();
    // Named subsets must all be there; by default, either file will do.
    let needed = if subsets.is_empty() && !present.is_empty() { present } else { chosen };
    let mut docs = Vec::new();
    let mut fewshot = Vec::new();
    for source in needed {
        docs.extend(read(&required_file(dir, &format!("triviaqa/qa/{source}-dev.json"), "TriviaQA dev file")?)?);
        let train = dir.join(format!("triviaqa/qa/{source}-train.json"));
        if train.is_file() {
            fewshot.extend(read(&train)?);
        }
    }
    Ok(GenTaskData {
        name: "triviaqa".into(),
        groups: Vec::new(),
        description: String::new(),
        docs,
        fewshot,
        target_delimiter: " ",
        sampler: FewshotSampler::Random,
        until: vec!["\n".into(), ".".into(), ",".into()],
        max_tokens: 256,
        check: Check::Rules(score),
        samples: 1,
    })
}

/// lm-eval's `remove_whitespace` filter (leading whitespace) and its case- and
/// punctuation-blind exact match against any alias; then the official script's token F1,
/// the best over the aliases.
pub fn score(output: &str, doc: &GenDoc) -> Vec<Extracted> {
    let prediction = strip_thinking(output).trim_start().to_string();
    let matched = doc.aliases.iter().any(|a| exact_match_loose(&prediction, a));
    let f1 = doc.aliases.iter().map(|a| token_f1(&prediction, a)).fold(0.0, f64::max);
    vec![
        Extracted::matched("exact_match", "remove_whitespace", prediction.clone(), matched),
        Extracted { metric: "f1", filter: "remove_whitespace", prediction, value: f1 },
    ]
}

fn read(file: &Path) -> Result<Vec<GenDoc>, BadInput> {
    let text = read_text(file)?;
    let raw: RawFile = serde_json::from_str(&text).map_err(|e| {
        Problem::new(format!("not a TriviaQA file ({{\"Data\": [{{\"Question\", \"Answer\"}}]}}): {e}"))
            .in_file(file)
            .at_line(Some(e.line()))
    })?;
    let mut problems = Problems::default();
    let mut docs = Vec::new();
    for (i, q) in raw.data.into_iter().enumerate() {
        let Some(answer) = q.answer else {
            problems.push(
                Problem::new("a question without an answer (the test files have none: use the dev files)")
                    .in_file(file)
                    .at_key(format!("Data[{i}].Answer")),
            );
            continue;
        };
        let mut aliases = if answer.aliases.is_empty() { vec![answer.value.clone()] } else { answer.aliases };
        for human in answer.human {
            if !aliases.iter().any(|a| normalize_answer(a) == normalize_answer(&human)) {
                aliases.push(human);
            }
        }
        let target = aliases[0].clone();
        docs.push(GenDoc { id: q.id, aliases, ..GenDoc::new(format!("Question: {}?\nAnswer:", q.question), target) });
    }
    problems.into_result()?;
    Ok(docs)
}
