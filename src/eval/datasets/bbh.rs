//! BIG-Bench Hard with chain-of-thought, from the BIG-Bench-Hard repository's layout:
//! `bbh/bbh/<task>.json` (`{"canary", "examples": [{"input", "target"}]}`) and the three worked
//! examples of `bbh/cot-prompts/<task>.txt`. lm-eval's `bbh_cot_fewshot_<task>`: the prompt file's
//! description, its examples as "Q: {input}\nA: Let's think step by step.\n{reasoning}" separated by
//! blank lines, then the question the same way; generation until "</s>", "Q" or a blank line; the
//! answer is what follows the first "the answer is " on its line, less the line's last character
//! (lm-eval's `(?<=the answer is )(.*)(?=.)`), matched exactly against the target.

use std::path::Path;

use serde::Deserialize;

use super::{Check, Extracted, FewshotSampler, GenDoc, GenTaskData, read_text, required_file};
use crate::eval::extract::FALLBACK;
use crate::input::{BadInput, Problem, Problems};

/// The 27 tasks, in the repository's (alphabetical) order.
pub const TASKS: [&str; 27] = [
    "boolean_expressions",
    "causal_judgement",
    "date_understanding",
    "disambiguation_qa",
    "dyck_languages",
    "formal_fallacies",
    "geometric_shapes",
    "hyperbaton",
    "logical_deduction_five_objects",
    "logical_deduction_seven_objects",
    "logical_deduction_three_objects",
    "movie_recommendation",
    "multistep_arithmetic_two",
    "navigate",
    "object_counting",
    "penguins_in_a_table",
    "reasoning_about_colored_objects",
    "ruin_names",
    "salient_translation_error_detection",
    "snarks",
    "sports_understanding",
    "temporal_sequences",
    "tracking_shuffled_objects_five_objects",
    "tracking_shuffled_objects_seven_objects",
    "tracking_shuffled_objects_three_objects",
    "web_of_lies",
    "word_sorting",
];

const THINK: &str = "A: Let's think step by step.";

#[derive(Deserialize)]
struct RawFile {
    examples: Vec<RawExample>,
}

#[derive(Deserialize)]
struct RawExample {
    input: String,
    target: String,
}

/// The tasks named in `subsets` (all 27 when none are), each with its three worked examples.
pub fn load(dir: &Path, subsets: &[String]) -> Result<Vec<GenTaskData>, BadInput> {
    let mut problems = Problems::default();
    for subset in subsets {
        if !TASKS.contains(&subset.as_str()) {
            problems.push(Problem::new(format!("bbh has no task `{subset}` (its tasks: {})", TASKS.join(", "))));
        }
    }
    problems.into_result()?;
    // A missing folder is one problem, not one per task.
    if !dir.join("bbh/bbh").is_dir() {
        required_file(dir, "bbh/bbh", "BBH task folder")?;
    }
    let chosen: Vec<&str> = if subsets.is_empty() {
        TASKS.to_vec()
    } else {
        TASKS.iter().copied().filter(|t| subsets.iter().any(|s| s == t)).collect()
    };
    let mut tasks = Vec::new();
    let mut problems = Problems::default();
    for task in chosen {
        match load_task(dir, task) {
            Ok(t) => tasks.push(t),
            Err(e) => problems.extend(e),
        }
    }
    problems.into_result()?;
    Ok(tasks)
}

fn load_task(dir: &Path, task: &str) -> Result<GenTaskData, BadInput> {
    let data = required_file(dir, &format!("bbh/bbh/{task}.json"), &format!("BBH {task} file"))?;
    let prompt = required_file(dir, &format!("bbh/cot-prompts/{task}.txt"), &format!("BBH {task} prompt"))?;
    let (description, fewshot, separator) = read_prompt(&prompt)?;
    let text = read_text(&data)?;
    let raw: RawFile = serde_json::from_str(&text).map_err(|e| {
        Problem::new(format!("not a BBH task file ({{\"examples\": [{{\"input\", \"target\"}}]}}): {e}"))
            .in_file(&data)
            .at_line(Some(e.line()))
    })?;
    let docs = raw
        .examples
        .into_iter()
        .map(|e| GenDoc::new(format!("Q: {}\n{THINK}{separator}", e.input), e.target))
        .collect();
    Ok(GenTaskData {
        name: format!("bbh_cot_fewshot_{task}"),
        groups: vec!["bbh_cot_fewshot".into()],
        description,
        docs,
        fewshot,
        target_delimiter: "",
        sampler: FewshotSampler::FirstN,
        until: vec!["</s>".into(), "Q".into(), "\n\n".into()],
        max_tokens: 1024,
        check: Check::Rules(score),
        samples: 1,
    })
}

/// The description (with the blank line after it), the worked examples, and what follows
/// "Let's think step by step." in them (a newline, or a space in sports_understanding).
fn read_prompt(file: &Path) -> Result<(String, Vec<GenDoc>, String), BadInput> {
    let text = read_text(file)?;
    let bad = |why: &str| -> BadInput {
        Problem::new(format!("not a BBH chain-of-thought prompt: {why}")).in_file(file).into()
    };
    let body = text.split_once("-----\n").map_or(text.as_str(), |(_, body)| body).trim_end();
    let mut blocks = body.split("\n\nQ: ");
    let description = format!("{}\n\n", blocks.next().unwrap_or_default().trim());
    let mut fewshot = Vec::new();
    let mut separator = String::from("\n");
    for (i, block) in blocks.enumerate() {
        let marker = format!("\n{THINK}");
        let Some((input, reasoning)) = block.split_once(&marker) else {
            return Err(bad(&format!("example {} has no \"{THINK}\" line", i + 1)));
        };
        let sep = match reasoning.chars().next() {
            Some(c @ ('\n' | ' ')) => c.to_string(),
            _ => String::new(),
        };
        if i == 0 && !sep.is_empty() {
            separator = sep.clone();
        }
        fewshot.push(GenDoc::new(format!("Q: {input}\n{THINK}{sep}"), reasoning[sep.len()..].to_string()));
    }
    if fewshot.is_empty() {
        return Err(bad("no \"Q: \" examples after the description"));
    }
    Ok((description, fewshot, separator))
}

/// lm-eval's `get-answer` filter and `exact_match`.
pub fn score(output: &str, doc: &GenDoc) -> Vec<Extracted> {
    let prediction = answer_after_the_answer_is(output).unwrap_or_else(|| FALLBACK.to_string());
    let correct = prediction == doc.target;
    vec![Extracted::matched("exact_match", "get-answer", prediction, correct)]
}

/// `(?<=the answer is )(.*)(?=.)`, first match: after "the answer is ", the rest of the line but
/// its last character (usually the full stop); a phrase with nothing after it on its line does not
/// match, and the search goes on.
fn answer_after_the_answer_is(output: &str) -> Option<String> {
    const PHRASE: &str = "the answer is ";
    output.match_indices(PHRASE).find_map(|(at, _)| {
        let rest = &output[at + PHRASE.len()..];
        let line = rest.split('\n').next().unwrap_or_default();
        let mut chars = line.chars();
        chars.next_back()?;
        Some(chars.as_str().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_is_the_rest_of_its_line_less_one_character() {
        assert_eq!(answer_after_the_answer_is("So the answer is (B).\n\nmore").as_deref(), Some("(B)"));
        assert_eq!(answer_after_the_answer_is("So the answer is False.").as_deref(), Some("False"));
        // Without a full stop, lm-eval's pattern still drops the last character.
        assert_eq!(answer_after_the_answer_is("So the answer is True").as_deref(), Some("Tru"));
        // Nothing after the phrase on its line: the next occurrence is tried.
        assert_eq!(answer_after_the_answer_is("the answer is \nthe answer is 12.").as_deref(), Some("12"));
        assert_eq!(answer_after_the_answer_is("The answer is 3."), None);
        let doc = GenDoc::new(String::new(), "24".into());
        let scored = score("Let me see. So the answer is 24.", &doc);
        assert!(scored[0].correct() && scored[0].filter == "get-answer");
        assert_eq!(score("no idea", &doc)[0].prediction, FALLBACK);
    }
}
