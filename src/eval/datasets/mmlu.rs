//! MMLU (Hendrycks et al.), 57 subjects, from `mmlu/test/<subject>_test.csv` with few-shot
//! examples from `mmlu/dev/<subject>_dev.csv`. Both CSV layouts load: with a header
//! (`question,choice0..choice3,answer` with answers 0-3) or the original one (no header, answer
//! letter). The prompt is lm-eval's: a description naming the subject, then
//! "{question}\nA. …\nB. …\nC. …\nD. …\nAnswer:", continued by " A" … " D".

use std::path::Path;

use super::{ChoiceScoring, FewshotSampler, McqDoc, PromptStyle, TaskData, required_file};
use crate::input::{BadInput, Problem, Problems};

/// Every subject with its category, as lm-eval groups them.
pub const SUBJECTS: [(&str, &str); 57] = [
    ("abstract_algebra", "stem"),
    ("anatomy", "stem"),
    ("astronomy", "stem"),
    ("business_ethics", "other"),
    ("clinical_knowledge", "other"),
    ("college_biology", "stem"),
    ("college_chemistry", "stem"),
    ("college_computer_science", "stem"),
    ("college_mathematics", "stem"),
    ("college_medicine", "other"),
    ("college_physics", "stem"),
    ("computer_security", "stem"),
    ("conceptual_physics", "stem"),
    ("econometrics", "social_sciences"),
    ("electrical_engineering", "stem"),
    ("elementary_mathematics", "stem"),
    ("formal_logic", "humanities"),
    ("global_facts", "other"),
    ("high_school_biology", "stem"),
    ("high_school_chemistry", "stem"),
    ("high_school_computer_science", "stem"),
    ("high_school_european_history", "humanities"),
    ("high_school_geography", "social_sciences"),
    ("high_school_government_and_politics", "social_sciences"),
    ("high_school_macroeconomics", "social_sciences"),
    ("high_school_mathematics", "stem"),
    ("high_school_microeconomics", "social_sciences"),
    ("high_school_physics", "stem"),
    ("high_school_psychology", "social_sciences"),
    ("high_school_statistics", "stem"),
    ("high_school_us_history", "humanities"),
    ("high_school_world_history", "humanities"),
    ("human_aging", "other"),
    ("human_sexuality", "social_sciences"),
    ("international_law", "humanities"),
    ("jurisprudence", "humanities"),
    ("logical_fallacies", "humanities"),
    ("machine_learning", "stem"),
    ("management", "other"),
    ("marketing", "other"),
    ("medical_genetics", "other"),
    ("miscellaneous", "other"),
    ("moral_disputes", "humanities"),
    ("moral_scenarios", "humanities"),
    ("nutrition", "other"),
    ("philosophy", "humanities"),
    ("prehistory", "humanities"),
    ("professional_accounting", "other"),
    ("professional_law", "humanities"),
    ("professional_medicine", "other"),
    ("professional_psychology", "social_sciences"),
    ("public_relations", "social_sciences"),
    ("security_studies", "social_sciences"),
    ("sociology", "social_sciences"),
    ("us_foreign_policy", "social_sciences"),
    ("virology", "other"),
    ("world_religions", "humanities"),
];

pub const LETTERS: [&str; 4] = ["A", "B", "C", "D"];

/// The subjects named in `subsets` (all when empty), each a task in its category's group.
pub fn load(dir: &Path, subsets: &[String]) -> Result<Vec<TaskData>, BadInput> {
    let unknown: Vec<&String> = subsets.iter().filter(|s| !SUBJECTS.iter().any(|(n, _)| n == s)).collect();
    if !unknown.is_empty() {
        return Err(Problem::new(format!(
            "no MMLU subject {}: `jury eval --list` names them all",
            unknown.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ")
        ))
        .into());
    }
    let mut tasks = Vec::new();
    for (subject, category) in SUBJECTS.iter().filter(|(n, _)| subsets.is_empty() || subsets.iter().any(|s| s == n)) {
        let test = required_file(dir, &format!("mmlu/test/{subject}_test.csv"), "MMLU test file")?;
        let dev = dir.join(format!("mmlu/dev/{subject}_dev.csv"));
        tasks.push(TaskData {
            name: format!("mmlu_{subject}"),
            groups: vec![format!("mmlu_{category}"), "mmlu".into()],
            description: format!(
                "The following are multiple choice questions (with answers) about {}.\n\n",
                subject.replace('_', " ")
            ),
            docs: read(&test)?,
            fewshot: if dev.is_file() { read(&dev)? } else { Vec::new() },
            acc_norm: false,
            scoring: ChoiceScoring::Accuracy,
            sampler: FewshotSampler::FirstN,
            style: PromptStyle::LmEval,
        });
    }
    Ok(tasks)
}

/// Reads one subject's CSV, in either layout; every bad row is reported with its line.
pub fn read(file: &Path) -> Result<Vec<McqDoc>, BadInput> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(file)
        .map_err(|e| Problem::new(format!("cannot read: {e}")).in_file(file))?;
    let mut problems = Problems::default();
    let mut docs = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = record.as_ref().ok().and_then(|r| r.position()).map(|p| p.line() as usize);
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                problems.push(Problem::new(format!("not valid CSV: {e}")).in_file(file).at_line(line));
                continue;
            }
        };
        if i == 0 && record.get(0) == Some("question") {
            continue;
        }
        if record.len() != 6 {
            problems.push(
                Problem::new(format!("expected 6 columns (question, four choices, answer), found {}", record.len()))
                    .in_file(file)
                    .at_line(line),
            );
            continue;
        }
        let answer = record[5].trim();
        let gold = match answer {
            "0" | "1" | "2" | "3" => answer.parse::<usize>().expect("a digit"),
            "A" | "B" | "C" | "D" => LETTERS.iter().position(|l| *l == answer).expect("a letter"),
            other => {
                problems.push(
                    Problem::new(format!("the answer must be 0-3 or A-D, not {other:?}")).in_file(file).at_line(line),
                );
                continue;
            }
        };
        let text = format!(
            "{}\nA. {}\nB. {}\nC. {}\nD. {}\nAnswer:",
            record[0].trim(),
            &record[1],
            &record[2],
            &record[3],
            &record[4]
        );
        docs.push(McqDoc {
            id: None,
            text,
            choices: LETTERS.iter().map(|l| l.to_string()).collect(),
            gold,
            labels: Vec::new(),
        });
    }
    problems.into_result()?;
    Ok(docs)
}
