//! Prompts for a load test, from local files in EvalScope's dataset shapes:
//!
//! - `openqa`: JSON Lines with a `question` (HC3's `open_qa.jsonl`);
//! - `line_by_line`: every non-blank line of a text file is a prompt;
//! - `jsonl`: JSON Lines with `messages` (OpenAI chat messages) or a `prompt` text.
//!
//! `--min-prompt-length` / `--max-prompt-length` keep prompts of that many characters, as
//! EvalScope does for these datasets.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::client::Prompt;
use crate::data::jsonl::parse_jsonl;
use crate::input::{BadInput, Problem};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DatasetKind {
    Openqa,
    #[value(name = "line_by_line", alias = "line-by-line")]
    LineByLine,
    Jsonl,
    /// Random tokens of the tokenizer's vocabulary (`--tokenizer-path`), lengths in tokens.
    Random,
}

impl DatasetKind {
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::Openqa => "openqa",
            DatasetKind::LineByLine => "line_by_line",
            DatasetKind::Jsonl => "jsonl",
            DatasetKind::Random => "random",
        }
    }
}

/// Prompt lengths (characters) to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LengthRange {
    pub min: usize,
    pub max: usize,
}

#[derive(Deserialize)]
struct OpenQa {
    question: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ChatLine {
    Messages { messages: Vec<Message> },
    Prompt { prompt: String },
}

#[derive(Deserialize, serde::Serialize)]
struct Message {
    role: String,
    content: Value,
}

/// The prompts of `file`, in file order, those outside `lengths` left out. A file without any
/// prompt left is an error.
pub fn load(kind: DatasetKind, file: &Path, lengths: LengthRange) -> Result<Vec<Prompt>, BadInput> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| BadInput::one(Problem::new(format!("cannot read the dataset: {e}")).in_file(file)))?;
    let prompts: Vec<Prompt> = match kind {
        DatasetKind::Openqa => {
            parse_jsonl::<OpenQa>(&text, file)?.into_iter().map(|l| Prompt::Text(l.value.question)).collect()
        }
        DatasetKind::LineByLine => {
            text.lines().map(str::trim).filter(|l| !l.is_empty()).map(|l| Prompt::Text(l.to_string())).collect()
        }
        DatasetKind::Random => {
            return Err(BadInput::one(
                Problem::new("random prompts are drawn from a tokenizer, not read from a file").in_file(file),
            ));
        }
        DatasetKind::Jsonl => parse_jsonl::<ChatLine>(&text, file)?
            .into_iter()
            .map(|l| match l.value {
                ChatLine::Prompt { prompt } => Prompt::Text(prompt),
                ChatLine::Messages { messages } => Prompt::Messages(
                    messages.into_iter().map(|m| serde_json::to_value(m).expect("plain JSON")).collect(),
                ),
            })
            .collect(),
    };
    let total = prompts.len();
    let kept: Vec<Prompt> = prompts.into_iter().filter(|p| (lengths.min..=lengths.max).contains(&chars(p))).collect();
    if kept.is_empty() {
        let why = if total == 0 {
            "holds no prompt".to_string()
        } else {
            format!("none of its {total} prompts is {} to {} characters long", lengths.min, lengths.max)
        };
        return Err(BadInput::one(Problem::new(why).in_file(file)));
    }
    Ok(kept)
}

/// A prompt's length in characters (a message list: its text contents together).
pub fn chars(prompt: &Prompt) -> usize {
    match prompt {
        Prompt::Text(text) => text.chars().count(),
        Prompt::Messages(messages) => {
            messages.iter().filter_map(|m| m["content"].as_str()).map(|c| c.chars().count()).sum()
        }
    }
}

/// Prompts used when no dataset file is given: short open questions of different lengths.
pub fn builtin() -> Vec<Prompt> {
    [
        "What is the capital of France?",
        "Explain why the sky is blue in two sentences.",
        "Write a haiku about autumn leaves.",
        "List three tips for learning a new language.",
        "What is the difference between a virus and a bacterium?",
        "Summarise the plot of Romeo and Juliet in one paragraph.",
        "How does a binary search work? Give an example.",
        "Translate 'Good morning, how are you?' into Spanish and German.",
        "Why do we have seasons on Earth?",
        "Write a short, polite email declining a meeting invitation.",
        "What are the main causes of inflation?",
        "Describe how to make a cup of tea, step by step.",
        "What is a prime number? Name the first five.",
        "Compare renewable and non-renewable energy sources.",
        "Give a one-sentence definition of machine learning.",
        "Tell a short story about a robot who learns to paint.",
    ]
    .into_iter()
    .map(|p| Prompt::Text(p.to_string()))
    .collect()
}
