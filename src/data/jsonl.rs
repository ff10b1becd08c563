//! Reading and appending JSON Lines, with every bad line reported by number and key path.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::input::{BadInput, Problem, Problems};

/// At most this many bad lines are listed; the rest are counted.
const MAX_REPORTED: usize = 20;

/// One parsed line, with its 1-based line number.
#[derive(Debug, Clone)]
pub struct Line<T> {
    pub line: usize,
    pub value: T,
}

/// Parses JSONL text. Blank lines are skipped; a UTF-8 byte-order mark is tolerated.
pub fn parse_jsonl<T: DeserializeOwned>(text: &str, file: &Path) -> Result<Vec<Line<T>>, BadInput> {
    let (lines, problems) = parse_jsonl_lenient(text, file);
    problems.into_result()?;
    Ok(lines)
}

/// Like [`parse_jsonl`], but returns the good lines along with the problems of the bad ones,
/// so a caller can check the good lines too and report everything at once.
pub fn parse_jsonl_lenient<T: DeserializeOwned>(text: &str, file: &Path) -> (Vec<Line<T>>, Problems) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    let mut problems = Problems::default();
    let mut extra = 0usize;
    for (i, raw_line) in text.lines().enumerate() {
        if raw_line.trim().is_empty() {
            continue;
        }
        let mut deserializer = serde_json::Deserializer::from_str(raw_line);
        let parsed = serde_path_to_error::deserialize::<_, T>(&mut deserializer)
            .map_err(|e| json_problem(e, file, i + 1))
            .and_then(|value| match deserializer.end() {
                Ok(()) => Ok(value),
                Err(_) => Err(Problem::new("more than one JSON value on this line").in_file(file).at_line(Some(i + 1))),
            });
        match parsed {
            Ok(value) => out.push(Line { line: i + 1, value }),
            Err(problem) => {
                if problems.len() >= MAX_REPORTED {
                    extra += 1;
                    continue;
                }
                problems.push(problem);
            }
        }
    }
    if extra > 0 {
        problems.push(Problem::new(format!("... and {extra} more bad lines")).in_file(file));
    }
    (out, problems)
}

/// Reads and parses a JSONL file.
pub fn read_jsonl<T: DeserializeOwned>(file: &Path) -> Result<Vec<Line<T>>, BadInput> {
    let text = std::fs::read_to_string(file).map_err(|e| Problem::new(format!("cannot read: {e}")).in_file(file))?;
    parse_jsonl(&text, file)
}

fn json_problem(error: serde_path_to_error::Error<serde_json::Error>, file: &Path, line: usize) -> Problem {
    let key_path = error.path().to_string();
    let inner = error.into_inner();
    let mut message = inner.to_string();
    if let Some(cut) = message.find(" at line ") {
        message.truncate(cut);
    }
    if inner.is_syntax() || inner.is_eof() {
        message = format!("not valid JSON ({message})");
    }
    // Syntax errors have no meaningful path (serde_path_to_error writes `?` or `.`).
    let key_path = if key_path == "." || key_path.contains('?') { String::new() } else { key_path };
    Problem::new(message).in_file(file).at_line(Some(line)).at_key(key_path)
}

/// Appends records to a JSONL file one at a time, flushing each, so a killed run keeps
/// everything written so far.
pub struct JsonlWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl JsonlWriter {
    /// Creates (or truncates) the file, making its folder if needed.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).write(true).truncate(true).open(path)?;
        Ok(JsonlWriter { path: path.to_path_buf(), out: BufWriter::new(file) })
    }

    pub fn append<T: Serialize>(&mut self, record: &T) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.out, record)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Writes all records to a file at once (through a temporary file, so readers never see half).
pub fn write_jsonl<T: Serialize>(path: &Path, records: &[T]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("jsonl.tmp");
    {
        let mut out = BufWriter::new(File::create(&tmp)?);
        for record in records {
            serde_json::to_writer(&mut out, record)?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
    }
    std::fs::rename(&tmp, path)
}
