//! The datasets `jury eval` knows, read from local files in their official layouts.

pub mod arc;
pub mod mmlu;

use std::path::{Path, PathBuf};

use crate::input::{BadInput, Problem};

/// A multiple-choice document, ready to score: the prompt that ends where the answer begins,
/// the continuations to compare, and which one is right.
#[derive(Debug, Clone, PartialEq)]
pub struct McqDoc {
    /// The dataset's own id, where it has one.
    pub id: Option<String>,
    /// The text before the answer (without few-shot examples or description).
    pub text: String,
    /// The choices as the metric sees them (lengths for `acc_norm`).
    pub choices: Vec<String>,
    pub gold: usize,
}

impl McqDoc {
    /// The continuation scored for choice `i`: the choice after the target delimiter.
    pub fn continuation(&self, i: usize) -> String {
        format!(" {}", self.choices[i])
    }
}

/// One task's documents and what its prompt needs.
#[derive(Debug, Clone)]
pub struct TaskData {
    /// lm-evaluation-harness's task name (`arc_easy`, `mmlu_anatomy`).
    pub name: String,
    /// The group it reports into (`mmlu_stem`), if any.
    pub group: Option<String>,
    pub description: String,
    pub docs: Vec<McqDoc>,
    /// Where few-shot examples come from, in order.
    pub fewshot: Vec<McqDoc>,
    /// The metrics the task reports (`acc`, and `acc_norm` where lm-eval has it).
    pub acc_norm: bool,
}

impl TaskData {
    /// The full context for `doc` with `shots` examples before it, as lm-eval builds it:
    /// the description, each example followed by its answer and a blank line, then the doc.
    pub fn context(&self, doc: &McqDoc, shots: usize) -> String {
        let mut out = self.description.clone();
        for example in self.fewshot.iter().filter(|e| *e != doc).take(shots) {
            out.push_str(&example.text);
            out.push_str(&example.continuation(example.gold));
            out.push_str("\n\n");
        }
        out.push_str(&doc.text);
        out
    }
}

/// A dataset name as given on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    ArcEasy,
    ArcChallenge,
    Mmlu,
}

impl Dataset {
    pub const ALL: [Dataset; 3] = [Dataset::ArcEasy, Dataset::ArcChallenge, Dataset::Mmlu];

    pub fn parse(name: &str) -> Option<Dataset> {
        match name.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "arc_easy" | "arc_e" => Some(Dataset::ArcEasy),
            "arc_challenge" | "arc_c" => Some(Dataset::ArcChallenge),
            "mmlu" => Some(Dataset::Mmlu),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dataset::ArcEasy => "arc_easy",
            Dataset::ArcChallenge => "arc_challenge",
            Dataset::Mmlu => "mmlu",
        }
    }

    /// Few-shot examples by default (lm-eval's: ARC 0; MMLU 5, as model cards quote it).
    pub fn default_shots(self) -> usize {
        match self {
            Dataset::ArcEasy | Dataset::ArcChallenge => 0,
            Dataset::Mmlu => 5,
        }
    }

    /// Where under `--dataset-dir` the files are expected.
    pub fn expected_layout(self) -> &'static str {
        match self {
            Dataset::ArcEasy => "arc/ARC-Easy/test.jsonl (and dev.jsonl for few-shot examples)",
            Dataset::ArcChallenge => "arc/ARC-Challenge/test.jsonl (and dev.jsonl for few-shot examples)",
            Dataset::Mmlu => "mmlu/test/<subject>_test.csv and mmlu/dev/<subject>_dev.csv",
        }
    }

    pub fn metrics(self) -> &'static str {
        match self {
            Dataset::ArcEasy | Dataset::ArcChallenge => "acc, acc_norm",
            Dataset::Mmlu => "acc per subject; weighted averages per category and overall",
        }
    }

    /// Reads the dataset's tasks from `dir`, keeping `subsets` when any are named.
    pub fn load(self, dir: &Path, subsets: &[String]) -> Result<Vec<TaskData>, BadInput> {
        match self {
            Dataset::ArcEasy => Ok(vec![arc::load(dir, "ARC-Easy", "arc_easy")?]),
            Dataset::ArcChallenge => Ok(vec![arc::load(dir, "ARC-Challenge", "arc_challenge")?]),
            Dataset::Mmlu => mmlu::load(dir, subsets),
        }
    }
}

/// The file at `dir/relative`, or a problem naming where it was looked for.
pub(crate) fn required_file(dir: &Path, relative: &str, what: &str) -> Result<PathBuf, BadInput> {
    let path = dir.join(relative);
    if path.is_file() {
        Ok(path)
    } else {
        Err(Problem::new(format!(
            "no {what} at {} (jury reads benchmarks from local files in their official layouts: point \
             --dataset-dir at the folder that holds them)",
            path.display()
        ))
        .into())
    }
}
