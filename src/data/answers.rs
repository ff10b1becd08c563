//! Answer files: llmuses' `{question_id, text, category, model_id, metadata, answer}`, also
//! FastChat's model-answer shape `{question_id, model_id, choices: [{turns: [...]}]}`.
//! Reference answers use the same shapes (`model_id` optional).

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::ids::QuestionId;
use super::jsonl::{Line, parse_jsonl_lenient, read_jsonl};
use crate::input::{BadInput, Problem, Problems};

/// One answer, in llmuses' answer-file shape (the field order is the file's).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswerRecord {
    pub question_id: QuestionId,
    /// The question's text.
    pub text: String,
    pub category: String,
    pub model_id: String,
    pub metadata: serde_json::Value,
    pub answer: String,
}

#[derive(Debug, Deserialize)]
struct RawAnswer {
    question_id: QuestionId,
    text: Option<String>,
    category: Option<String>,
    model_id: Option<String>,
    metadata: Option<serde_json::Value>,
    answer: Option<String>,
    choices: Option<Vec<RawChoice>>,
    language: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawChoice {
    turns: Vec<String>,
}

/// An answer as loaded, with the line it came from.
#[derive(Debug, Clone)]
pub struct LoadedAnswer {
    pub record: AnswerRecord,
    pub language: Option<String>,
    pub line: usize,
}

/// Reads an answer file. Every line must carry a `model_id` and an answer.
pub fn read_answers(file: &Path) -> Result<Vec<LoadedAnswer>, BadInput> {
    let text = std::fs::read_to_string(file).map_err(|e| Problem::new(format!("cannot read: {e}")).in_file(file))?;
    parse_answers(&text, file)
}

/// Parses answer JSONL text (`file` names it in messages).
pub fn parse_answers(text: &str, file: &Path) -> Result<Vec<LoadedAnswer>, BadInput> {
    let (lines, mut problems): (Vec<Line<RawAnswer>>, Problems) = parse_jsonl_lenient(text, file);
    let mut seen: HashMap<(String, QuestionId), usize> = HashMap::new();
    let mut out = Vec::with_capacity(lines.len());
    for Line { line, value } in lines {
        let Some(model_id) = value.model_id.clone().filter(|m| !m.trim().is_empty()) else {
            problems
                .push(Problem::new("missing field `model_id`").in_file(file).at_line(Some(line)).at_key("model_id"));
            continue;
        };
        let Some(answer) = answer_text(&value) else {
            problems.push(
                Problem::new("missing the answer: give `answer` or `choices[0].turns[0]`")
                    .in_file(file)
                    .at_line(Some(line)),
            );
            continue;
        };
        if let Some(first) = seen.insert((model_id.clone(), value.question_id.clone()), line) {
            problems.push(
                Problem::new(format!(
                    "a second answer from {model_id} to question {} (the first is on line {first})",
                    value.question_id
                ))
                .in_file(file)
                .at_line(Some(line))
                .at_key("question_id"),
            );
            continue;
        }
        out.push(LoadedAnswer {
            record: AnswerRecord {
                question_id: value.question_id,
                text: value.text.unwrap_or_default(),
                category: value.category.unwrap_or_default(),
                model_id,
                metadata: value.metadata.unwrap_or_else(|| serde_json::json!({})),
                answer,
            },
            language: value.language,
            line,
        });
    }
    problems.sort_by_line();
    problems.into_result()?;
    Ok(out)
}

fn answer_text(value: &RawAnswer) -> Option<String> {
    if let Some(answer) = &value.answer {
        return Some(answer.clone());
    }
    value.choices.as_ref()?.first()?.turns.first().cloned()
}

/// Reference answers keyed by question id, with the question text as a second key
/// (llmuses matched references by text).
#[derive(Debug, Default, Clone)]
pub struct References {
    by_id: HashMap<QuestionId, String>,
    by_text: HashMap<String, String>,
}

impl References {
    pub fn get(&self, id: &QuestionId, text: &str) -> Option<&str> {
        self.by_id.get(id).or_else(|| self.by_text.get(text.trim())).map(String::as_str)
    }

    pub fn insert(&mut self, id: QuestionId, text: &str, answer: String) {
        if !text.trim().is_empty() {
            self.by_text.insert(text.trim().to_string(), answer.clone());
        }
        self.by_id.insert(id, answer);
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// Reads a reference-answer file (either answer shape; `model_id` may be absent).
pub fn read_references(file: &Path) -> Result<References, BadInput> {
    let lines: Vec<Line<RawAnswer>> = read_jsonl(file)?;
    let mut problems = Problems::default();
    let mut references = References::default();
    for Line { line, value } in lines {
        match answer_text(&value) {
            Some(answer) if !answer.trim().is_empty() => {
                let text = value.text.clone().unwrap_or_default();
                references.insert(value.question_id, &text, answer);
            }
            _ => problems.push(
                Problem::new("missing the reference answer: give `answer` or `choices[0].turns[0]`")
                    .in_file(file)
                    .at_line(Some(line)),
            ),
        }
    }
    problems.into_result()?;
    Ok(references)
}
