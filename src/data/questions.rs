//! Question files: llmuses' `{question_id, text, category}` and MT-Bench's
//! `{question_id, category, turns: [...]}` (the first turn is the one answered).

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use super::ids::QuestionId;
use super::jsonl::{Line, parse_jsonl_lenient};
use crate::input::{BadInput, Problem, Problems};

#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    pub id: QuestionId,
    /// The text that is asked (the first turn of a multi-turn question).
    pub text: String,
    pub turns: Vec<String>,
    pub category: String,
    pub language: Option<String>,
    /// A reference answer carried by the question file itself, if any.
    pub reference: Option<String>,
}

/// The category given to questions that name none.
pub const DEFAULT_CATEGORY: &str = "general";

#[derive(Debug, Deserialize)]
struct RawQuestion {
    question_id: QuestionId,
    text: Option<String>,
    turns: Option<Vec<String>>,
    category: Option<String>,
    language: Option<String>,
    reference: Option<serde_json::Value>,
}

pub fn read_questions(file: &Path) -> Result<Vec<Question>, BadInput> {
    let text = std::fs::read_to_string(file).map_err(|e| Problem::new(format!("cannot read: {e}")).in_file(file))?;
    parse_questions(&text, file)
}

/// Parses and validates a whole question file: every line must be a question with text,
/// and ids must be unique.
pub fn parse_questions(text: &str, file: &Path) -> Result<Vec<Question>, BadInput> {
    let (lines, mut problems): (Vec<Line<RawQuestion>>, Problems) = parse_jsonl_lenient(text, file);
    let mut seen: HashMap<QuestionId, usize> = HashMap::new();
    let mut out = Vec::with_capacity(lines.len());
    for Line { line, value } in lines {
        let turns: Vec<String> = match (&value.text, &value.turns) {
            (Some(text), _) => {
                let mut turns = vec![text.clone()];
                if let Some(more) = &value.turns {
                    turns.extend(more.iter().skip(1).cloned());
                }
                turns
            }
            (None, Some(turns)) => turns.clone(),
            (None, None) => {
                problems.push(
                    Problem::new("missing the question: give `text` or `turns`").in_file(file).at_line(Some(line)),
                );
                continue;
            }
        };
        let first = turns.first().map(|t| t.trim()).unwrap_or("");
        if first.is_empty() {
            let key = if value.text.is_some() { "text" } else { "turns[0]" };
            problems.push(Problem::new("the question is empty").in_file(file).at_line(Some(line)).at_key(key));
            continue;
        }
        if let Some(first_line) = seen.get(&value.id_ref()) {
            problems.push(
                Problem::new(format!("duplicate question_id {} (first on line {first_line})", value.question_id))
                    .in_file(file)
                    .at_line(Some(line))
                    .at_key("question_id"),
            );
            continue;
        }
        seen.insert(value.question_id.clone(), line);
        let reference = match &value.reference {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(serde_json::Value::Array(items)) => items.first().and_then(|v| v.as_str()).map(str::to_string),
            _ => None,
        };
        out.push(Question {
            id: value.question_id,
            text: turns[0].clone(),
            turns,
            category: value.category.filter(|c| !c.trim().is_empty()).unwrap_or_else(|| DEFAULT_CATEGORY.to_string()),
            language: value.language,
            reference,
        });
    }
    problems.sort_by_line();
    problems.into_result()?;
    if out.is_empty() {
        return Err(Problem::new("holds no questions").in_file(file).into());
    }
    Ok(out)
}

impl RawQuestion {
    fn id_ref(&self) -> QuestionId {
        self.question_id.clone()
    }
}
