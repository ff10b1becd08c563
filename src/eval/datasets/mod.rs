//! The datasets `jury eval` knows, read from local files in their official layouts.

pub mod arc;
pub mod bbh;
pub mod ceval;
pub mod general_qa;
pub mod gsm8k;
pub mod hellaswag;
pub mod humaneval;
pub mod math;
pub mod mmlu;
pub mod perplexity;
pub mod race;
pub mod triviaqa;
pub mod truthfulqa;

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
    /// Each choice's truth, where the metric needs more than the gold one (TruthfulQA's mc2).
    pub labels: Vec<u8>,
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
    /// The groups it reports into, innermost first (`mmlu_stem`, `mmlu`).
    pub groups: Vec<String>,
    pub description: String,
    pub docs: Vec<McqDoc>,
    /// Where few-shot examples come from, in order.
    pub fewshot: Vec<McqDoc>,
    /// The metrics the task reports (`acc`, and `acc_norm` where lm-eval has it).
    pub acc_norm: bool,
    pub scoring: ChoiceScoring,
    pub sampler: FewshotSampler,
    pub style: PromptStyle,
}

/// How a multiple-choice prompt strings its examples together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptStyle {
    /// lm-eval's: each example and its answer followed by a blank line, then the document.
    LmEval,
    /// llmuses' (EvalScope's C-Eval): examples two blank lines apart, the last one's answer
    /// running straight into the document (its `'\n'.join(...).strip()`).
    Llmuses,
}

/// How few-shot examples are picked, as lm-eval's task says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FewshotSampler {
    /// The first N, for every document (MMLU).
    FirstN,
    /// N drawn at random per document from one generator seeded 1234 (lm-eval's default).
    Random,
}

impl FewshotSampler {
    /// The `n` examples (indices into a pool of `pool` examples) for the next document; `rng` is
    /// the task's one generator, advanced only by random sampling.
    pub fn pick(self, rng: &mut crate::eval::sampling::PyRandom, pool: usize, n: usize) -> Vec<usize> {
        match self {
            FewshotSampler::FirstN => (0..n).collect(),
            FewshotSampler::Random => rng.sample(pool, n),
        }
    }
}

/// How a multiple-choice document's log-likelihoods become its score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChoiceScoring {
    /// The likeliest choice is the gold one.
    Accuracy,
    /// The probability mass on the true choices (TruthfulQA mc2).
    TrueMass,
}

impl TaskData {
    /// The full context for `doc` with the examples `shots` picks (indices into `fewshot`), as
    /// lm-eval builds it: the description, each example followed by its answer and a blank
    /// line, then the doc.
    pub fn context(&self, doc: &McqDoc, shots: &[usize]) -> String {
        let mut out = self.description.clone();
        let answered = shots.iter().map(|&i| &self.fewshot[i]).map(|e| format!("{}{}", e.text, e.continuation(e.gold)));
        match self.style {
            PromptStyle::LmEval => answered.for_each(|example| {
                out.push_str(&example);
                out.push_str("\n\n");
            }),
            PromptStyle::Llmuses => out.push_str(&answered.collect::<Vec<_>>().join("\n\n\n")),
        }
        out.push_str(&doc.text);
        out
    }
}

/// A document answered by generation: the prompt, and the reference the answer is compared with
/// (for an example, the text that follows the prompt).
#[derive(Debug, Clone, PartialEq)]
pub struct GenDoc {
    pub id: Option<String>,
    pub text: String,
    pub target: String,
    /// Other answers that count as right (TriviaQA's aliases).
    pub aliases: Vec<String>,
    /// A slice of the task the report breaks scores down by (MATH's `Level 3`).
    pub tag: Option<String>,
}

impl GenDoc {
    pub fn new(text: String, target: String) -> GenDoc {
        GenDoc { id: None, text, target, aliases: Vec::new(), tag: None }
    }
}

/// A generation task's documents and how its answers are generated.
#[derive(Debug, Clone)]
pub struct GenTaskData {
    pub name: String,
    /// The groups it reports into, innermost first.
    pub groups: Vec<String>,
    /// Text before the examples (BBH's task description), or empty.
    pub description: String,
    pub docs: Vec<GenDoc>,
    pub fewshot: Vec<GenDoc>,
    /// Between an example's prompt and its answer (a space, or nothing where the prompt ends
    /// with its own separator).
    pub target_delimiter: &'static str,
    pub sampler: FewshotSampler,
    /// Generation stops at the first of these.
    pub until: Vec<String>,
    pub max_tokens: usize,
    /// How an answer is judged.
    pub check: Check,
    /// Answers generated per document: 1 is greedy; more are sampled (HumanEval's pass@k).
    pub samples: usize,
}

/// How a generated answer is judged.
#[derive(Debug, Clone, Copy)]
pub enum Check {
    /// Read against the document's references: one outcome per metric and filter, the headline
    /// first.
    Rules(fn(output: &str, doc: &GenDoc) -> Vec<Extracted>),
    /// Run with the document's tests in the sandbox (HumanEval).
    RunTests,
}

impl Check {
    /// The rules' outcomes (none for answers that are run).
    pub fn rules(&self, output: &str, doc: &GenDoc) -> Vec<Extracted> {
        match self {
            Check::Rules(score) => score(output, doc),
            Check::RunTests => Vec::new(),
        }
    }
}

/// What one filter read out of a generation, and its score under one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Extracted {
    pub metric: &'static str,
    pub filter: &'static str,
    pub prediction: String,
    /// 1.0 or 0.0 for a match; a fraction for overlap metrics (F1, BLEU, ROUGE).
    pub value: f64,
}

impl Extracted {
    /// An exact-match outcome.
    pub fn matched(metric: &'static str, filter: &'static str, prediction: String, correct: bool) -> Extracted {
        Extracted { metric, filter, prediction, value: f64::from(u8::from(correct)) }
    }

    /// Full credit.
    pub fn correct(&self) -> bool {
        self.value >= 1.0
    }
}

impl GenTaskData {
    /// The context for a document with the examples `shots` picks (indices into `fewshot`):
    /// the description, each example followed by its answer and a blank line, then the document.
    pub fn context(&self, doc: &GenDoc, shots: &[usize]) -> String {
        let mut out = self.description.clone();
        for &i in shots {
            let example = &self.fewshot[i];
            out.push_str(&example.text);
            out.push_str(self.target_delimiter);
            out.push_str(&example.target);
            out.push_str("\n\n");
        }
        out.push_str(&doc.text);
        out
    }
}

/// What a dataset loads into.
#[derive(Debug, Clone)]
pub enum LoadedTask {
    Choice(TaskData),
    Generate(GenTaskData),
    /// Texts scored whole, for perplexity.
    Rolling(perplexity::TextTaskData),
}

impl LoadedTask {
    pub fn name(&self) -> &str {
        match self {
            LoadedTask::Choice(t) => &t.name,
            LoadedTask::Generate(t) => &t.name,
            LoadedTask::Rolling(t) => &t.name,
        }
    }

    pub fn groups(&self) -> &[String] {
        match self {
            LoadedTask::Choice(t) => &t.groups,
            LoadedTask::Generate(t) => &t.groups,
            LoadedTask::Rolling(_) => &[],
        }
    }

    pub fn len(&self) -> usize {
        match self {
            LoadedTask::Choice(t) => t.docs.len(),
            LoadedTask::Generate(t) => t.docs.len(),
            LoadedTask::Rolling(t) => t.docs.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn fewshot_len(&self) -> usize {
        match self {
            LoadedTask::Choice(t) => t.fewshot.len(),
            LoadedTask::Generate(t) => t.fewshot.len(),
            LoadedTask::Rolling(_) => 0,
        }
    }

    pub fn truncate(&mut self, n: usize) {
        match self {
            LoadedTask::Choice(t) => t.docs.truncate(n),
            LoadedTask::Generate(t) => t.docs.truncate(n),
            LoadedTask::Rolling(t) => t.docs.truncate(n),
        }
    }
}

/// A dataset name as given on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    ArcEasy,
    ArcChallenge,
    Mmlu,
    Gsm8k,
    TruthfulQa,
    HellaSwag,
    Bbh,
    Math,
    Math500,
    TriviaQa,
    GeneralQa,
    Ceval,
    GeneralMcq,
    Race,
    Wikitext,
    Perplexity,
    HumanEval,
}

impl Dataset {
    pub const ALL: [Dataset; 17] = [
        Dataset::ArcEasy,
        Dataset::ArcChallenge,
        Dataset::HellaSwag,
        Dataset::Mmlu,
        Dataset::TruthfulQa,
        Dataset::Gsm8k,
        Dataset::Bbh,
        Dataset::Math,
        Dataset::Math500,
        Dataset::TriviaQa,
        Dataset::GeneralQa,
        Dataset::Ceval,
        Dataset::GeneralMcq,
        Dataset::Race,
        Dataset::Wikitext,
        Dataset::Perplexity,
        Dataset::HumanEval,
    ];

    pub fn parse(name: &str) -> Option<Dataset> {
        match name.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "arc_easy" | "arc_e" => Some(Dataset::ArcEasy),
            "arc_challenge" | "arc_c" => Some(Dataset::ArcChallenge),
            "mmlu" => Some(Dataset::Mmlu),
            "gsm8k" => Some(Dataset::Gsm8k),
            "truthfulqa" | "truthful_qa" => Some(Dataset::TruthfulQa),
            "hellaswag" => Some(Dataset::HellaSwag),
            "bbh" | "bbh_cot_fewshot" => Some(Dataset::Bbh),
            "math" | "competition_math" | "minerva_math" | "hendrycks_math" => Some(Dataset::Math),
            "math500" | "math_500" | "minerva_math500" => Some(Dataset::Math500),
            "triviaqa" | "trivia_qa" => Some(Dataset::TriviaQa),
            "general_qa" => Some(Dataset::GeneralQa),
            "ceval" | "c_eval" | "ceval_valid" => Some(Dataset::Ceval),
            "general_mcq" => Some(Dataset::GeneralMcq),
            "race" => Some(Dataset::Race),
            "wikitext" | "wikitext2" | "wikitext_2" => Some(Dataset::Wikitext),
            "perplexity" | "ppl" => Some(Dataset::Perplexity),
            "humaneval" | "openai_humaneval" => Some(Dataset::HumanEval),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dataset::ArcEasy => "arc_easy",
            Dataset::ArcChallenge => "arc_challenge",
            Dataset::Mmlu => "mmlu",
            Dataset::Gsm8k => "gsm8k",
            Dataset::TruthfulQa => "truthfulqa",
            Dataset::HellaSwag => "hellaswag",
            Dataset::Bbh => "bbh",
            Dataset::Math => "math",
            Dataset::Math500 => "math500",
            Dataset::TriviaQa => "triviaqa",
            Dataset::GeneralQa => "general_qa",
            Dataset::Ceval => "ceval",
            Dataset::GeneralMcq => "general_mcq",
            Dataset::Race => "race",
            Dataset::Wikitext => "wikitext",
            Dataset::Perplexity => "perplexity",
            Dataset::HumanEval => "humaneval",
        }
    }

    /// Few-shot examples by default (lm-eval's: ARC 0, GSM8K 5, BBH its 3 worked examples, MATH
    /// minerva's 4; MMLU and C-Eval 5, as model cards quote them; EvalScope's 0 for users' sets).
    pub fn default_shots(self) -> usize {
        match self {
            Dataset::ArcEasy
            | Dataset::ArcChallenge
            | Dataset::TruthfulQa
            | Dataset::HellaSwag
            | Dataset::TriviaQa
            | Dataset::GeneralQa
            | Dataset::GeneralMcq
            | Dataset::Race
            | Dataset::Wikitext
            | Dataset::Perplexity
            | Dataset::HumanEval => 0,
            Dataset::Mmlu | Dataset::Ceval | Dataset::Gsm8k => 5,
            Dataset::Bbh => 3,
            Dataset::Math | Dataset::Math500 => 4,
        }
    }

    /// Where under `--dataset-dir` the files are expected.
    pub fn expected_layout(self) -> &'static str {
        match self {
            Dataset::ArcEasy => "arc/ARC-Easy/test.jsonl (and dev.jsonl for few-shot examples)",
            Dataset::ArcChallenge => "arc/ARC-Challenge/test.jsonl (and dev.jsonl for few-shot examples)",
            Dataset::Mmlu => "mmlu/test/<subject>_test.csv and mmlu/dev/<subject>_dev.csv",
            Dataset::Gsm8k => "gsm8k/test.jsonl (and train.jsonl for few-shot examples)",
            Dataset::TruthfulQa => "truthful_qa/data/mc_task.json",
            Dataset::HellaSwag => "hellaswag/hellaswag_val.jsonl (and hellaswag_train.jsonl for few-shot examples)",
            Dataset::Bbh => {
                "bbh/bbh/<task>.json and bbh/cot-prompts/<task>.txt (the BIG-Bench-Hard repository's layout)"
            }
            Dataset::Math => {
                "competition_math/test.jsonl ({problem, level, type, solution} per line) or MATH/test/<type>/<n>.json"
            }
            Dataset::Math500 => "competition_math/math500_test.jsonl",
            Dataset::TriviaQa => {
                "triviaqa/qa/web-dev.json and/or wikipedia-dev.json (the release's; -train.json for few-shot examples)"
            }
            Dataset::GeneralQa => "general_qa/<subset>.jsonl, one {question, answer} (or {query, response}) per line",
            Dataset::Ceval => {
                "ceval/val/<subject>_val.csv and ceval/dev/<subject>_dev.csv (ceval-exam's; flat <subject>_val.csv too)"
            }
            Dataset::GeneralMcq => "general_mcq/<subset>_val.csv (and <subset>_dev.csv for examples), C-Eval's columns",
            Dataset::Race => "RACE/test/high/<n>.txt and RACE/test/middle/<n>.txt (the release's)",
            Dataset::Wikitext => "wikitext/wikitext-2-raw/wiki.test.raw (the WikiText-2 raw release)",
            Dataset::Perplexity => "perplexity/<name>.txt (one document) or perplexity/<name>.jsonl ({text} per line)",
            Dataset::HumanEval => "humaneval/HumanEval.jsonl.gz (the release's; or HumanEval.jsonl)",
        }
    }

    pub fn metrics(self) -> &'static str {
        match self {
            Dataset::ArcEasy | Dataset::ArcChallenge => "acc, acc_norm",
            Dataset::Mmlu => "acc per subject; weighted averages per category and overall",
            Dataset::Gsm8k => "exact_match, strict-match (#### N) and flexible-extract (last number)",
            Dataset::TruthfulQa => "truthfulqa_mc1 acc (argmax), truthfulqa_mc2 acc (mass on the true answers)",
            Dataset::HellaSwag => "acc, acc_norm",
            Dataset::Bbh => {
                "exact_match, get-answer (what follows \"the answer is\"), per task and weighted over tasks"
            }
            Dataset::Math | Dataset::Math500 => {
                "exact_match, boxed (last \\boxed{}) and none (minerva's final-answer line), per subject and level"
            }
            Dataset::TriviaQa => "exact_match (any alias, case and punctuation ignored), f1 (best over aliases)",
            Dataset::GeneralQa => {
                "bleu (sacrebleu sentence BLEU-4), rouge1, rouge2, rougeL (F); Chinese cut with jieba"
            }
            Dataset::Ceval => "acc per subject; weighted averages per category and overall",
            Dataset::GeneralMcq => "acc per subset",
            Dataset::Race => "acc (the last question of each article)",
            Dataset::Wikitext | Dataset::Perplexity => "word_perplexity, byte_perplexity, bits_per_byte",
            Dataset::HumanEval => "pass@1 (each program run in a sandbox)",
        }
    }

    /// Reads the dataset's tasks from `dir`, keeping `subsets` when any are named.
    pub fn load(self, dir: &Path, subsets: &[String]) -> Result<Vec<LoadedTask>, BadInput> {
        Ok(match self {
            Dataset::ArcEasy => vec![LoadedTask::Choice(arc::load(dir, "ARC-Easy", "arc_easy")?)],
            Dataset::ArcChallenge => vec![LoadedTask::Choice(arc::load(dir, "ARC-Challenge", "arc_challenge")?)],
            Dataset::Mmlu => mmlu::load(dir, subsets)?.into_iter().map(LoadedTask::Choice).collect(),
            Dataset::Gsm8k => vec![LoadedTask::Generate(gsm8k::load(dir)?)],
            Dataset::TruthfulQa => truthfulqa::load(dir, subsets)?.into_iter().map(LoadedTask::Choice).collect(),
            Dataset::HellaSwag => vec![LoadedTask::Choice(hellaswag::load(dir)?)],
            Dataset::Bbh => bbh::load(dir, subsets)?.into_iter().map(LoadedTask::Generate).collect(),
            Dataset::Math => math::load(dir, subsets)?.into_iter().map(LoadedTask::Generate).collect(),
            Dataset::Math500 => vec![LoadedTask::Generate(math::load_500(dir)?)],
            Dataset::TriviaQa => vec![LoadedTask::Generate(triviaqa::load(dir, subsets)?)],
            Dataset::GeneralQa => general_qa::load(dir, subsets)?.into_iter().map(LoadedTask::Generate).collect(),
            Dataset::Ceval => ceval::load(dir, subsets)?.into_iter().map(LoadedTask::Choice).collect(),
            Dataset::GeneralMcq => ceval::load_general(dir, subsets)?.into_iter().map(LoadedTask::Choice).collect(),
            Dataset::Race => race::load(dir, subsets)?.into_iter().map(LoadedTask::Choice).collect(),
            Dataset::Wikitext => vec![LoadedTask::Rolling(perplexity::load_wikitext(dir)?)],
            Dataset::Perplexity => perplexity::load_texts(dir, subsets)?.into_iter().map(LoadedTask::Rolling).collect(),
            Dataset::HumanEval => vec![LoadedTask::Generate(humaneval::load(dir)?)],
        })
    }
}

/// A JSON Lines file's good lines and the problems of the bad ones, to be reported with the
/// problems its good lines turn out to have.
pub(crate) fn read_lines<T: serde::de::DeserializeOwned>(
    file: &Path,
) -> Result<(Vec<crate::data::jsonl::Line<T>>, crate::input::Problems), BadInput> {
    let text = read_text(file)?;
    Ok(crate::data::jsonl::parse_jsonl_lenient(&text, file))
}

/// A data file's text, or a problem naming the file.
pub(crate) fn read_text(file: &Path) -> Result<String, BadInput> {
    std::fs::read_to_string(file).map_err(|e| Problem::new(format!("cannot read: {e}")).in_file(file).into())
}

/// The subsets a folder of users' files holds: the names given, else every `<name><suffix>`
/// there, sorted; a folder with none is a problem naming it.
pub(crate) fn subset_names(folder: &Path, suffix: &str, subsets: &[String]) -> Result<Vec<String>, BadInput> {
    if !subsets.is_empty() {
        return Ok(subsets.to_vec());
    }
    let listing = std::fs::read_dir(folder).map_err(|e| {
        Problem::new(format!("cannot list {} ({e}): every <subset>{suffix} there is read", folder.display()))
    })?;
    let mut names: Vec<String> = listing
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(suffix)).map(str::to_string))
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(Problem::new(format!("no <subset>{suffix} files in {}", folder.display())).into());
    }
    Ok(names)
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
