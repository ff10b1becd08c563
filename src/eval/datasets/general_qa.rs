//! Users' own question–answer sets, as EvalScope's `general_qa`: every `general_qa/<subset>.jsonl`
//! (or the subsets named), one `{"question", "answer"}` per line (EvalScope's `query`/`response`
//! spellings too). Prompt "Question: {question}\nAnswer:", greedy generation until a blank line or
//! "Question:", scored against the answer by sentence BLEU and ROUGE-1/2/L.

use std::path::Path;

use serde::Deserialize;

use super::{Check, Extracted, FewshotSampler, GenDoc, GenTaskData, read_lines, required_file, subset_names};
use crate::eval::extract::strip_thinking;
use crate::eval::overlap::{bleu::sentence_bleu, rouge::rouge};
use crate::input::{BadInput, Problems};

#[derive(Deserialize)]
struct RawPair {
    #[serde(alias = "query")]
    question: String,
    #[serde(alias = "response")]
    answer: String,
    #[serde(default)]
    id: Option<serde_json::Value>,
}

pub fn load(dir: &Path, subsets: &[String]) -> Result<Vec<GenTaskData>, BadInput> {
    let folder = dir.join("general_qa");
    let names = subset_names(&folder, ".jsonl", subsets)?;
    let mut tasks = Vec::new();
    let mut problems = Problems::default();
    for name in names {
        match required_file(dir, &format!("general_qa/{name}.jsonl"), "general_qa subset").and_then(|f| read(&f)) {
            Ok(docs) => tasks.push(GenTaskData {
                name: format!("general_qa_{name}"),
                groups: Vec::new(),
                description: String::new(),
                docs,
                fewshot: Vec::new(),
                target_delimiter: " ",
                sampler: FewshotSampler::FirstN,
                until: vec!["\n\n".into(), "Question:".into()],
                max_tokens: 256,
                check: Check::Rules(score),
                samples: 1,
            }),
            Err(e) => problems.extend(e),
        }
    }
    problems.into_result()?;
    Ok(tasks)
}

/// The answer (thinking taken out, trimmed) by sentence BLEU, then ROUGE-1, ROUGE-2 and ROUGE-L F.
pub fn score(output: &str, doc: &GenDoc) -> Vec<Extracted> {
    let prediction = strip_thinking(output).trim().to_string();
    let r = rouge(&prediction, &doc.target);
    let metric = |metric, value| Extracted { metric, filter: "none", prediction: prediction.clone(), value };
    vec![
        metric("bleu", sentence_bleu(&prediction, &doc.target)),
        metric("rouge1", r.rouge1),
        metric("rouge2", r.rouge2),
        metric("rougeL", r.rouge_l),
    ]
}

fn read(file: &Path) -> Result<Vec<GenDoc>, BadInput> {
    let (lines, problems) = read_lines::<RawPair>(file)?;
    problems.into_result()?;
    Ok(lines
        .into_iter()
        .map(|line| {
            let raw = line.value;
            let id = raw.id.map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string));
            GenDoc { id, ..GenDoc::new(format!("Question: {}\nAnswer:", raw.question), raw.answer) }
        })
        .collect())
}
