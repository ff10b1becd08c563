//! Uploaded question and answer files, validated whole before anything is written: JSONL in
//! llmuses' `{question_id, text, category}` or MT-Bench's `{question_id, category, turns}`
//! shape, or CSV with a header (`question_id`, `text`, optional `category`, `reference`).

use std::path::Path;

use serde_json::json;

use crate::data::{LoadedAnswer, Question, parse_answers, parse_questions};
use crate::input::{BadInput, Problem, Problems};

/// An uploaded file's text: within the size limit, UTF-8, not empty.
pub fn text_of<'a>(bytes: &'a [u8], label: &str, max_bytes: usize) -> Result<&'a str, BadInput> {
    if bytes.len() > max_bytes {
        return Err(Problem::new(format!(
            "the file is {} bytes; the limit is {max_bytes} (set JURY_MAX_UPLOAD_BYTES to change it)",
            bytes.len()
        ))
        .in_file(label)
        .into());
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|e| Problem::new(format!("not UTF-8 text (byte {})", e.valid_up_to())).in_file(label))?;
    if text.trim().is_empty() {
        return Err(Problem::new("the file is empty").in_file(label).into());
    }
    Ok(text)
}

pub fn questions(bytes: &[u8], label: &str, max_bytes: usize) -> Result<Vec<Question>, BadInput> {
    let text = text_of(bytes, label, max_bytes)?;
    let first = text.trim_start_matches('\u{feff}').trim_start();
    if first.starts_with('{') {
        return parse_questions(text, Path::new(label));
    }
    questions_from_csv(text, label)
}

/// CSV rows become JSON lines (keeping each row's line number), then go through the same
/// validation as JSONL.
fn questions_from_csv(text: &str, label: &str) -> Result<Vec<Question>, BadInput> {
    let mut reader =
        csv::ReaderBuilder::new().flexible(false).from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| Problem::new(format!("not a CSV file: {e}")).in_file(label).at_line(Some(1)))?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let column = |names: &[&str]| headers.iter().position(|h| names.contains(&h.as_str()));
    let (Some(id_col), Some(text_col)) = (column(&["question_id", "id"]), column(&["text", "question", "prompt"]))
    else {
        return Err(Problem::new(format!(
            "the header needs question_id and text columns (found: {})",
            headers.join(", ")
        ))
        .in_file(label)
        .at_line(Some(1))
        .into());
    };
    let category_col = column(&["category"]);
    let reference_col = column(&["reference", "reference_answer"]);
    let mut lines = Vec::new();
    let mut line_of = Vec::new();
    let mut problems = Problems::default();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line() as usize);
                problems.push(Problem::new(format!("unreadable CSV row: {e}")).in_file(label).at_line(line));
                continue;
            }
        };
        let line = record.position().map(|p| p.line() as usize).unwrap_or(0);
        let field = |c: Option<usize>| c.and_then(|c| record.get(c)).map(str::to_string);
        let id = field(Some(id_col)).unwrap_or_default();
        let id = match id.trim().parse::<i64>() {
            Ok(n) => json!(n),
            Err(_) => json!(id.trim()),
        };
        let mut object = json!({"question_id": id, "text": field(Some(text_col)).unwrap_or_default()});
        if let Some(c) = field(category_col).filter(|c| !c.trim().is_empty()) {
            object["category"] = json!(c);
        }
        if let Some(r) = field(reference_col).filter(|r| !r.trim().is_empty()) {
            object["reference"] = json!(r);
        }
        lines.push(object.to_string());
        line_of.push(line);
    }
    problems.into_result()?;
    parse_questions(&lines.join("\n"), Path::new(label)).map_err(|mut bad| {
        for p in &mut bad.problems {
            p.line = p.line.and_then(|l| line_of.get(l - 1).copied());
        }
        bad
    })
}

pub fn answers(bytes: &[u8], label: &str, max_bytes: usize) -> Result<Vec<LoadedAnswer>, BadInput> {
    parse_answers(text_of(bytes, label, max_bytes)?, Path::new(label))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_keep_their_line_numbers() {
        let csv = "question_id,text,category\n1,\"What is\nsix times seven?\",math\n2,,writing\n3,Hello,\n";
        let err = questions(csv.as_bytes(), "q.csv", 1 << 20).unwrap_err();
        assert_eq!(err.problems.len(), 1);
        assert_eq!(err.problems[0].line, Some(4), "{err}");
        let ok = questions(b"id,question\n7,Why?\n", "q.csv", 1 << 20).unwrap();
        assert_eq!(ok[0].text, "Why?");
        assert_eq!(ok[0].category, "general");
    }

    #[test]
    fn oversized_files_are_refused() {
        assert!(questions(&[b'x'; 100], "big.jsonl", 10).unwrap_err().to_string().contains("limit is 10"));
    }
}
