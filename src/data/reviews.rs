//! Review files in llmuses' shapes: a pairwise record (`win`, `review_text`), a swapped-position
//! record (`win_1`, `win_2`, `review_text_1`, `review_text_2`) and a single-answer record
//! (`model`, `score`). jury writes them and reads them back (review cache, ratings).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::ids::QuestionId;
use super::jsonl::{Line, read_jsonl};
use crate::input::{BadInput, Problem, Problems};

/// A judge's verdict on a pair, in llmuses' words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Win {
    #[serde(rename = "model_a")]
    ModelA,
    #[serde(rename = "model_b")]
    ModelB,
    #[serde(rename = "tie")]
    Tie,
    #[serde(rename = "tie (bothbad)")]
    TieBothBad,
    /// The judge's reply could not be read; never a win for either side.
    #[serde(rename = "unknown")]
    Unknown,
}

impl Win {
    pub fn as_str(self) -> &'static str {
        match self {
            Win::ModelA => "model_a",
            Win::ModelB => "model_b",
            Win::Tie => "tie",
            Win::TieBothBad => "tie (bothbad)",
            Win::Unknown => "unknown",
        }
    }

    /// Model A's share of the battle: 1 for a win, 0 for a loss, ½ for either tie; `None` for
    /// an unknown verdict.
    pub fn score_a(self) -> Option<f64> {
        match self {
            Win::ModelA => Some(1.0),
            Win::ModelB => Some(0.0),
            Win::Tie | Win::TieBothBad => Some(0.5),
            Win::Unknown => None,
        }
    }

    /// The same verdict seen with the two models' places exchanged.
    pub fn swapped(self) -> Win {
        match self {
            Win::ModelA => Win::ModelB,
            Win::ModelB => Win::ModelA,
            other => other,
        }
    }

    pub fn parse(text: &str) -> Option<Win> {
        Some(match text {
            "model_a" => Win::ModelA,
            "model_b" => Win::ModelB,
            "tie" => Win::Tie,
            "tie (bothbad)" => Win::TieBothBad,
            "unknown" => Win::Unknown,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairReview {
    pub model_a: String,
    pub model_b: String,
    pub scores: Option<[f64; 2]>,
    pub win: Win,
    pub anony: bool,
    pub tstamp: f64,
    pub language: String,
    pub question_id: QuestionId,
    pub category: String,
    pub question: String,
    pub review_text: String,
    /// Strong verdicts (`[[A>>B]]`) weigh 3; written only when not 1.
    #[serde(default = "one", skip_serializing_if = "is_one", deserialize_with = "super::battles::weight")]
    pub weight: f64,
    /// A dry run's pseudo-random verdict: never a real judgment, never reused as one.
    #[serde(default, skip_serializing_if = "is_false")]
    pub dry_run: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SwapReview {
    pub model_a: String,
    pub model_b: String,
    /// The verdict with `model_a` shown first.
    pub win_1: Win,
    /// The verdict with `model_b` shown first, mapped back to this record's labels.
    pub win_2: Win,
    pub anony: bool,
    pub tstamp: f64,
    pub language: String,
    pub question_id: QuestionId,
    pub category: String,
    pub question: String,
    pub review_text_1: String,
    pub review_text_2: String,
    /// The weight of the combined verdict.
    #[serde(default = "one", skip_serializing_if = "is_one", deserialize_with = "super::battles::weight")]
    pub weight: f64,
    /// Each order's own weight and scores (in the order shown), so a later run can reuse them.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub weight_1: f64,
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub weight_2: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scores_1: Option<[f64; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scores_2: Option<[f64; 2]>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub dry_run: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SingleReview {
    pub model: String,
    /// `None` (`null`) when the judge's reply held no readable score.
    pub score: Option<f64>,
    pub anony: bool,
    pub tstamp: f64,
    pub language: String,
    pub question_id: QuestionId,
    pub category: String,
    pub question: String,
    pub review_text: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub dry_run: bool,
}

fn one() -> f64 {
    1.0
}

fn is_one(w: &f64) -> bool {
    *w == 1.0
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, PartialEq)]
pub enum ReviewRecord {
    Pair(PairReview),
    Swap(SwapReview),
    Single(SingleReview),
}

impl ReviewRecord {
    pub fn question(&self) -> &str {
        match self {
            ReviewRecord::Pair(r) => &r.question,
            ReviewRecord::Swap(r) => &r.question,
            ReviewRecord::Single(r) => &r.question,
        }
    }

    /// A pairwise review's battle: (question, model A, model B, verdict). With swapped positions
    /// the verdict is the two orders combined: both agree, or it is a tie; an unreadable side
    /// makes it unknown. `None` for a single-answer review.
    pub fn pair_verdict(&self) -> Option<(&QuestionId, &str, &str, Win)> {
        match self {
            ReviewRecord::Pair(r) => Some((&r.question_id, &r.model_a, &r.model_b, r.win)),
            ReviewRecord::Swap(r) => {
                let win = if r.win_1 == Win::Unknown || r.win_2 == Win::Unknown {
                    Win::Unknown
                } else if r.win_1 == r.win_2 {
                    r.win_1
                } else {
                    Win::Tie
                };
                Some((&r.question_id, &r.model_a, &r.model_b, win))
            }
            ReviewRecord::Single(_) => None,
        }
    }

    /// Written by a dry run: its verdict is pseudo-random.
    pub fn dry_run(&self) -> bool {
        match self {
            ReviewRecord::Pair(r) => r.dry_run,
            ReviewRecord::Swap(r) => r.dry_run,
            ReviewRecord::Single(r) => r.dry_run,
        }
    }

    pub fn tstamp(&self) -> f64 {
        match self {
            ReviewRecord::Pair(r) => r.tstamp,
            ReviewRecord::Swap(r) => r.tstamp,
            ReviewRecord::Single(r) => r.tstamp,
        }
    }
}

impl Serialize for ReviewRecord {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ReviewRecord::Pair(r) => r.serialize(serializer),
            ReviewRecord::Swap(r) => r.serialize(serializer),
            ReviewRecord::Single(r) => r.serialize(serializer),
        }
    }
}

/// Reads a review file, telling the three shapes apart by their keys. Upstream files may
/// lack `anony`, `tstamp` or `language`; a single score of -1 (upstream's "unparsed") reads as unknown.
pub fn read_reviews(file: &Path) -> Result<Vec<Line<ReviewRecord>>, BadInput> {
    let lines: Vec<Line<serde_json::Value>> = read_jsonl(file)?;
    let mut problems = Problems::default();
    let mut out = Vec::with_capacity(lines.len());
    for Line { line, mut value } in lines {
        let Some(object) = value.as_object_mut() else {
            problems.push(Problem::new("expected a JSON object").in_file(file).at_line(Some(line)));
            continue;
        };
        object.entry("anony").or_insert(serde_json::Value::Bool(true));
        object.entry("tstamp").or_insert(serde_json::json!(0.0));
        object.entry("language").or_insert(serde_json::json!("NA"));
        object.entry("category").or_insert(serde_json::json!(""));
        object.entry("question").or_insert(serde_json::json!(""));
        for key in ["review_text", "review_text_1", "review_text_2"] {
            if object.get(key).is_some_and(|v| v.is_null()) {
                object.insert(key.to_string(), serde_json::json!(""));
            }
        }
        let parsed = if object.contains_key("win_1") {
            object.entry("review_text_1").or_insert(serde_json::json!(""));
            object.entry("review_text_2").or_insert(serde_json::json!(""));
            serde_path_to_error::deserialize(&value).map(ReviewRecord::Swap)
        } else if object.contains_key("win") {
            object.entry("scores").or_insert(serde_json::Value::Null);
            object.entry("review_text").or_insert(serde_json::json!(""));
            serde_path_to_error::deserialize(&value).map(ReviewRecord::Pair)
        } else if object.contains_key("model") {
            object.entry("review_text").or_insert(serde_json::json!(""));
            if object.get("score").and_then(|s| s.as_f64()).is_some_and(|s| s < 0.0) {
                object.insert("score".into(), serde_json::Value::Null);
            }
            object.entry("score").or_insert(serde_json::Value::Null);
            serde_path_to_error::deserialize(&value).map(ReviewRecord::Single)
        } else {
            problems.push(
                Problem::new("not a review: expected `win`, `win_1`/`win_2` (pairwise) or `model`/`score` (single)")
                    .in_file(file)
                    .at_line(Some(line)),
            );
            continue;
        };
        match parsed {
            Ok(record) => out.push(Line { line, value: record }),
            Err(e) => {
                let key = e.path().to_string();
                let message = e.into_inner().to_string();
                problems.push(Problem::new(message).in_file(file).at_line(Some(line)).at_key(key));
            }
        }
    }
    problems.into_result()?;
    Ok(out)
}
