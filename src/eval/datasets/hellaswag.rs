//! HellaSwag, from the official `hellaswag/hellaswag_val.jsonl` (`{"activity_label", "ctx_a",
//! "ctx_b", "endings", "label", …}`; few-shot examples from `hellaswag_train.jsonl` when there).
//! lm-eval's preprocessing: the query is "{activity_label}: {ctx_a} {Ctx_b}" with `ctx_b`
//! capitalised as Python capitalises, then every text stripped, " [title]" turned into ". ",
//! bracketed artefacts removed and double spaces halved; the endings are the choices.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;

use super::{ChoiceScoring, FewshotSampler, McqDoc, PromptStyle, TaskData, read_lines, required_file};
use crate::input::{BadInput, Problem};

#[derive(Deserialize)]
struct RawDoc {
    #[serde(default)]
    ind: Option<serde_json::Value>,
    activity_label: String,
    ctx_a: String,
    ctx_b: String,
    endings: Vec<String>,
    label: serde_json::Value,
}

static BRACKETS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\[.*?\]").unwrap());

/// lm-eval's `preprocess`.
pub fn preprocess(text: &str) -> String {
    let text = text.trim().replace(" [title]", ". ");
    BRACKETS.replace_all(&text, "").replace("  ", " ")
}

/// Python's `str.capitalize`: the first character upper case, the rest lower case.
pub fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars.flat_map(char::to_lowercase)).collect(),
        None => String::new(),
    }
}

pub fn load(dir: &Path) -> Result<TaskData, BadInput> {
    let val = required_file(dir, "hellaswag/hellaswag_val.jsonl", "HellaSwag validation file")?;
    let train = dir.join("hellaswag/hellaswag_train.jsonl");
    Ok(TaskData {
        name: "hellaswag".into(),
        groups: Vec::new(),
        description: String::new(),
        docs: read(&val)?,
        fewshot: if train.is_file() { read(&train)? } else { Vec::new() },
        acc_norm: true,
        scoring: ChoiceScoring::Accuracy,
        sampler: FewshotSampler::Random,
        style: PromptStyle::LmEval,
    })
}

fn read(file: &Path) -> Result<Vec<McqDoc>, BadInput> {
    let (lines, mut problems) = read_lines::<RawDoc>(file)?;
    let mut docs = Vec::new();
    for line in lines {
        let raw = line.value;
        let label = match &raw.label {
            serde_json::Value::Number(n) => n.as_u64().map(|n| n as usize),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        match label {
            Some(gold) if gold < raw.endings.len() => {
                let context = format!("{} {}", raw.ctx_a, capitalize(&raw.ctx_b));
                docs.push(McqDoc {
                    id: raw.ind.map(|v| v.to_string()),
                    text: preprocess(&format!("{}: {context}", raw.activity_label)),
                    choices: raw.endings.iter().map(|e| preprocess(e)).collect(),
                    gold,
                    labels: Vec::new(),
                });
            }
            _ => problems.push(
                Problem::new(format!(
                    "label {} is not the index of one of the {} endings",
                    raw.label,
                    raw.endings.len()
                ))
                .in_file(file)
                .at_line(Some(line.line))
                .at_key("label"),
            ),
        }
    }
    problems.into_result()?;
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preprocessing_as_lm_eval() {
        assert_eq!(capitalize("then, the man writes"), "Then, the man writes");
        assert_eq!(capitalize("THE Man"), "The man", "Python lowers the rest");
        assert_eq!(
            preprocess("  Home and Garden [title] How to grow [step] basil.  "),
            "Home and Garden. How to grow basil."
        );
        assert_eq!(preprocess("a  b"), "a b");
        assert_eq!(preprocess("x [header] y"), "x y");
    }
}
