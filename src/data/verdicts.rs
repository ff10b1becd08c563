//! Verdict files to import into a database: FastChat clean battle JSON and MT-Bench's human and
//! GPT-4 judgments (a JSON array or JSON Lines of `{question_id, model_a, model_b, winner,
//! judge?, turn?}`), and llmuses review JSONL (`win`, or `win_1`/`win_2` for swapped positions).
//! Each record must name its question (`question_id`): it is bound to a stored question and
//! the two models' stored answers to it.

use std::path::Path;

use serde::Deserialize;

use super::ids::QuestionId;
use super::jsonl::parse_jsonl_lenient;
use super::reviews::Win;
use crate::input::{BadInput, Problem, Problems};
use crate::rating::Outcome;

/// One verdict as read.
#[derive(Debug, Clone, PartialEq)]
pub struct VerdictRecord {
    /// Where it was: the line of a JSONL file, the position in a JSON array.
    pub place: String,
    pub question_id: String,
    pub model_a: String,
    pub model_b: String,
    /// `None`: an unknown verdict (an unreadable judge reply), which is never imported.
    pub winner: Option<Outcome>,
    /// The record's `judge`: an annotator's id (MT-Bench's `expert_0`), or a judge model
    /// (the first element of MT-Bench's `["gpt-4", "pair-v2"]`).
    pub rater: Option<String>,
    /// MT-Bench's turn (1 when not given).
    pub turn: u32,
}

/// A file's verdicts, and the single-answer score records it held (not battles, skipped).
#[derive(Debug, Default)]
pub struct VerdictFile {
    pub records: Vec<VerdictRecord>,
    pub single_scores: usize,
}

#[derive(Deserialize)]
struct RawVerdict {
    #[serde(default)]
    question_id: Option<QuestionId>,
    #[serde(default)]
    model_a: Option<String>,
    #[serde(default)]
    model_b: Option<String>,
    #[serde(default)]
    winner: Option<String>,
    #[serde(default)]
    win: Option<String>,
    #[serde(default)]
    win_1: Option<String>,
    #[serde(default)]
    win_2: Option<String>,
    #[serde(default)]
    judge: Option<serde_json::Value>,
    #[serde(default)]
    turn: Option<u32>,
    /// llmuses single-mode records (`{model, score}`) are recognised to be skipped.
    #[serde(default)]
    model: Option<String>,
}

const WINNERS: &str = "model_a, model_b, tie, tie (bothbad) or unknown";

fn winner_of(text: &str, key: &str) -> Result<Option<Outcome>, Problem> {
    match Win::parse(text) {
        Some(Win::Unknown) => Ok(None),
        Some(win) => Ok(Outcome::from_winner(win.as_str())),
        None => Err(Problem::new(format!("\"{text}\" is not a verdict: expected {WINNERS}")).at_key(key)),
    }
}

impl RawVerdict {
    /// The record, `Ok(None)` for a single-answer score record.
    fn into_record(self, place: String) -> Result<Option<VerdictRecord>, Problem> {
        let (model_a, model_b) = match (self.model_a, self.model_b) {
            (Some(a), Some(b)) => (a, b),
            _ if self.model.is_some() => return Ok(None),
            _ => return Err(Problem::new("a verdict needs model_a and model_b")),
        };
        if model_a.trim().is_empty() || model_b.trim().is_empty() || model_a == model_b {
            return Err(Problem::new("model_a and model_b must be two different names"));
        }
        let question_id = self
            .question_id
            .ok_or_else(|| Problem::new("no question_id: a verdict is bound to a stored question by its id"))?;
        let winner = match (self.winner, self.win, self.win_1, self.win_2) {
            (Some(w), _, _, _) => winner_of(&w, "winner")?,
            (None, Some(w), _, _) => winner_of(&w, "win")?,
            (None, None, Some(one), Some(two)) => {
                // llmuses' swapped record: both orders agree, or it is a tie.
                match (winner_of(&one, "win_1")?, winner_of(&two, "win_2")?) {
                    (Some(one), Some(two)) if one == two => Some(one),
                    (Some(_), Some(_)) => Some(Outcome::Tie),
                    _ => None,
                }
            }
            _ => return Err(Problem::new("no verdict: expected winner, win, or win_1 and win_2")),
        };
        let rater = match self.judge {
            Some(serde_json::Value::String(s)) => Some(s),
            Some(serde_json::Value::Array(parts)) => parts.first().and_then(|p| p.as_str()).map(str::to_string),
            _ => None,
        }
        .filter(|r| !r.trim().is_empty());
        Ok(Some(VerdictRecord {
            place,
            question_id: question_id.key().to_string(),
            model_a,
            model_b,
            winner,
            rater,
            turn: self.turn.unwrap_or(1),
        }))
    }
}

/// Parses a verdict file's text (`label` names it in messages); every bad record is reported.
pub fn parse_verdicts(text: &str, label: &Path) -> Result<VerdictFile, BadInput> {
    let text = text.trim_start_matches('\u{feff}');
    let mut problems = Problems::default();
    let mut file = VerdictFile::default();
    let mut take =
        |raw: RawVerdict, place: String, line: Option<usize>, key_prefix: &str, problems: &mut Problems| match raw
            .into_record(place)
        {
            Ok(Some(record)) => file.records.push(record),
            Ok(None) => file.single_scores += 1,
            Err(p) => {
                let key = format!("{key_prefix}{}", p.key_path.clone().map(|k| format!(".{k}")).unwrap_or_default());
                problems.push(p.in_file(label).at_line(line).at_key(key.trim_start_matches('.')));
            }
        };
    if text.trim_start().starts_with('[') {
        let values: Vec<serde_json::Value> = serde_json::from_str(text).map_err(|e| {
            Problem::new(format!("not a JSON array of verdicts: {e}")).in_file(label).at_line(Some(e.line()))
        })?;
        for (i, value) in values.into_iter().enumerate() {
            match serde_path_to_error::deserialize::<_, RawVerdict>(value) {
                Ok(raw) => take(raw, format!("record {}", i + 1), None, &format!("[{i}]"), &mut problems),
                Err(e) => problems
                    .push(Problem::new(e.inner().to_string()).in_file(label).at_key(format!("[{i}].{}", e.path()))),
            }
        }
    } else {
        let (lines, bad) = parse_jsonl_lenient::<RawVerdict>(text, label);
        if let Err(bad) = bad.into_result() {
            problems.extend(bad);
        }
        for l in lines {
            take(l.value, format!("line {}", l.line), Some(l.line), "", &mut problems);
        }
    }
    problems.into_result()?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_shapes_read_as_verdicts() {
        let mt_bench = r#"[{"question_id": 81, "model_a": "alpaca-13b", "model_b": "gpt-3.5-turbo", "winner": "model_b", "judge": "expert_0", "turn": 1},
            {"question_id": 81, "model_a": "a", "model_b": "b", "winner": "tie", "judge": ["gpt-4", "pair-v2"], "turn": 2}]"#;
        let read = parse_verdicts(mt_bench, Path::new("h.json")).unwrap();
        assert_eq!(read.records.len(), 2);
        assert_eq!(read.records[0].winner, Some(Outcome::ModelB));
        assert_eq!(read.records[0].rater.as_deref(), Some("expert_0"));
        assert_eq!((read.records[1].rater.as_deref(), read.records[1].turn), (Some("gpt-4"), 2));
        let llmuses = "{\"model_a\": \"a\", \"model_b\": \"b\", \"win\": \"model_a\", \"question_id\": \"q1\"}\n\
                       {\"model_a\": \"a\", \"model_b\": \"b\", \"win_1\": \"model_a\", \"win_2\": \"model_b\", \"question_id\": 2}\n\
                       {\"model_a\": \"a\", \"model_b\": \"b\", \"win\": \"unknown\", \"question_id\": 3}\n\
                       {\"model\": \"a\", \"score\": 7, \"question_id\": 4}\n";
        let read = parse_verdicts(llmuses, Path::new("r.jsonl")).unwrap();
        let winners: Vec<_> = read.records.iter().map(|r| r.winner).collect();
        assert_eq!(winners, [Some(Outcome::ModelA), Some(Outcome::Tie), None]);
        assert_eq!((read.records[1].question_id.as_str(), read.single_scores), ("2", 1));
    }

    #[test]
    fn bad_records_are_reported_with_place_and_key() {
        let err = parse_verdicts(
            "{\"model_a\": \"a\", \"model_b\": \"b\", \"winner\": \"a wins\", \"question_id\": 1}\n\
             {\"model_a\": \"a\", \"model_b\": \"b\", \"winner\": \"tie\"}\n",
            Path::new("v.jsonl"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("v.jsonl:1") && err.contains("winner") && err.contains("not a verdict"), "{err}");
        assert!(err.contains("v.jsonl:2") && err.contains("no question_id"), "{err}");
        let err = parse_verdicts("[{\"model_a\": 3}]", Path::new("v.json")).unwrap_err().to_string();
        assert!(err.contains("[0].model_a"), "{err}");
    }
}
