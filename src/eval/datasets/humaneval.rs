//! HumanEval (OpenAI), from the release's `humaneval/HumanEval.jsonl.gz` (or the uncompressed
//! `HumanEval.jsonl`): `{"task_id", "prompt", "canonical_solution", "test", "entry_point"}`.
//! lm-eval's `humaneval`: the prompt as it is, greedy generation up to 1024 tokens until a new
//! top-level `class`, `def`, `#`, `if` or `print`; the program `prompt + completion + "\n" + test +
//! "\ncheck(entry_point)"` is run in the sandbox and passes when it exits cleanly.

use std::io::Read;
use std::path::Path;

use serde::Deserialize;

use super::{Check, FewshotSampler, GenDoc, GenTaskData, required_file};
use crate::input::{BadInput, Problem, Problems};

#[derive(Deserialize)]
struct RawProblem {
    task_id: String,
    prompt: String,
    test: String,
    entry_point: String,
}

pub fn load(dir: &Path) -> Result<GenTaskData, BadInput> {
    let plain = dir.join("humaneval/HumanEval.jsonl");
    let file =
        if plain.is_file() { plain } else { required_file(dir, "humaneval/HumanEval.jsonl.gz", "HumanEval file")? };
    let bytes = std::fs::read(&file).map_err(|e| Problem::new(format!("cannot read: {e}")).in_file(&file))?;
    let text = if file.extension().is_some_and(|e| e == "gz") {
        let mut text = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .map_err(|e| Problem::new(format!("not a gzip-compressed JSON Lines file: {e}")).in_file(&file))?;
        text
    } else {
        String::from_utf8(bytes).map_err(|e| Problem::new(format!("not UTF-8: {e}")).in_file(&file))?
    };
    let (lines, problems) = crate::data::jsonl::parse_jsonl_lenient::<RawProblem>(&text, &file);
    let mut problems: Problems = problems;
    let mut docs = Vec::new();
    for line in lines {
        let raw = line.value;
        if raw.entry_point.trim().is_empty() {
            problems.push(
                Problem::new("an empty entry_point").in_file(&file).at_line(Some(line.line)).at_key("entry_point"),
            );
            continue;
        }
        let target = format!("{}\ncheck({})", raw.test, raw.entry_point);
        docs.push(GenDoc { id: Some(raw.task_id), ..GenDoc::new(raw.prompt, target) });
    }
    problems.into_result()?;
    Ok(GenTaskData {
        name: "humaneval".into(),
        groups: Vec::new(),
        description: String::new(),
        docs,
        fewshot: Vec::new(),
        target_delimiter: "",
        sampler: FewshotSampler::FirstN,
        until: ["\nclass", "\ndef", "\n#", "\nif", "\nprint"].map(String::from).to_vec(),
        max_tokens: 1024,
        check: Check::RunTests,
        samples: 1,
    })
}

/// The program a completion is checked by (lm-eval's `build_predictions`, then code_eval's
/// candidate + "\n" + test).
pub fn program(doc: &GenDoc, completion: &str) -> String {
    format!("{}{completion}\n{}", doc.text, doc.target)
}
