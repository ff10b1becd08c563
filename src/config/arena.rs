//! The validated arena config: what `jury arena` runs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::lines::LineIndex;
use super::raw::{RawArenaConfig, RawCandidate, RawGeneration, RawRating, RawReviewerArgs, RawReviews};
use crate::input::{Problem, Problems};
use crate::spec::GenerationSettings;
use crate::spec::{DEFAULT_API_KEY_ENV, ModelSpec, OPENAI_DEFAULT_BASE, resolve_local_model};

#[derive(Debug, Clone)]
pub struct ArenaConfig {
    /// The config file itself; relative paths inside it were resolved against its folder.
    pub file: PathBuf,
    pub question_file: Option<PathBuf>,
    /// The stored question set the questions belong to (else one is made from the file).
    pub question_set_id: Option<i64>,
    /// In file order, enabled or not (disabled ones still name answer files for reviews).
    pub candidates: Vec<Candidate>,
    pub reviews: Reviews,
    pub rating: Rating,
    /// Unknown keys and settings that have no effect here; printed, never fatal.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    /// The key under `answers_gen`; answers are labelled with it (`model_id`).
    pub name: String,
    pub enable: bool,
    pub model: ModelSpec,
    pub system_prompt: Option<String>,
    pub generation: GenerationSettings,
    pub output_file: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewMode {
    Pairwise,
    PairwiseBaseline,
    Single,
}

impl ReviewMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewMode::Pairwise => "pairwise",
            ReviewMode::PairwiseBaseline => "pairwise_baseline",
            ReviewMode::Single => "single",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PositionBias {
    None,
    /// Judge both orders; a disagreement is a tie.
    SwapPosition,
    /// Flip the order with a seeded coin per question.
    RandomizeOrder,
}

/// How the judge's reply is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParserKind {
    /// By the template's `output_format`: `[[A]]`, `[[rating]]`, `[[rating_a,rating_b]]`, `[[A>>B]]`.
    Lmsys,
    /// upstream's `[{'model': 'model_a', 'rank': 1}, ...]` list.
    Ranking,
    /// A JSON object such as `{"winner": "A"}` or `{"score": 7}`.
    Json,
}

#[derive(Debug, Clone)]
pub struct Judge {
    pub model: ModelSpec,
    /// The name the judge is known by in the review cache and the reports.
    pub name: String,
    pub max_tokens: u32,
    pub temperature: f64,
    pub mode: ReviewMode,
    pub position_bias: PositionBias,
    pub random_seed: u64,
    pub parser: ParserKind,
    pub timeout: Duration,
    pub max_retries: u32,
    pub parse_retries: u32,
    /// A reward model that scores answers, instead of a chat model that writes verdicts.
    pub reward: Option<RewardJudge>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RewardJudge {
    pub api: crate::llm::reward::RewardApi,
    /// Scores that differ by at most this make a tie.
    pub tie_margin: f64,
}

/// How a panel's verdict on a battle is made from its judges'.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// The verdict most judges gave; a split between the top verdicts is a tie.
    Majority,
    /// Single-mode scores averaged.
    Mean,
    /// As majority or mean, each judge counting its weight (a judge not listed weighs 1).
    Weighted(std::collections::BTreeMap<String, f64>),
    /// Peer examination: weighted majority, each judge weighing its own model's standing
    /// (Peer Rank, iterated to a fixed point; see `arena::panel::peer`).
    PeerRank,
}

impl Aggregation {
    pub fn weight(&self, judge: &str) -> f64 {
        match self {
            Aggregation::Weighted(weights) => weights.get(judge).copied().unwrap_or(1.0),
            _ => 1.0,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Aggregation::Majority => "majority",
            Aggregation::Mean => "mean",
            Aggregation::Weighted(_) => "weighted",
            Aggregation::PeerRank => "peer_rank",
        }
    }
}

/// A judge of a panel, with its own prompts and review file.
#[derive(Debug, Clone)]
pub struct PanelJudge {
    pub judge: Judge,
    pub prompt_file: Option<PathBuf>,
    pub review_file: PathBuf,
    /// Peer mode: the candidate this judge is.
    pub as_candidate: Option<String>,
}

/// A panel member's review file: the panel's, with the judge's name before the extension.
fn member_review_file(panel_file: &Path, judge: &str) -> PathBuf {
    let safe: String =
        judge.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    let stem = panel_file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = panel_file.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    panel_file.with_file_name(format!("{stem}_{safe}{ext}"))
}

#[derive(Debug, Clone)]
pub struct Reviews {
    pub enable: bool,
    /// The judge (with a panel, its first judge).
    pub judge: Judge,
    /// A panel of judges (`reviewers`, or the candidates themselves in peer mode); empty for
    /// one judge.
    pub panel: Vec<PanelJudge>,
    pub aggregation: Aggregation,
    /// Peer mode (`mode: peer`): whether a candidate judges its own battles too.
    pub self_judging: bool,
    /// Battles of this model are left out (a peer judge's own, without self-judging).
    pub exclude_model: Option<String>,
    /// `None` means jury's own templates (shipped in registry/data/prompts).
    pub prompt_file: Option<PathBuf>,
    /// `None` means the output files of every candidate under `answers_gen`.
    pub target_answers: Option<Vec<PathBuf>>,
    pub baseline_file: Option<PathBuf>,
    pub reference_file: Option<PathBuf>,
    pub review_file: Option<PathBuf>,
    pub cache_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Elo,
    /// Bradley–Terry ratings with bootstrap intervals (jury extension).
    Bt,
    Pairwise,
    Score,
    /// Safety sets: the share of replies graded unsafe, per model and attack category (jury
    /// extension).
    AttackSuccess,
}

impl Metric {
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Elo => "elo",
            Metric::Bt => "bt",
            Metric::Pairwise => "pairwise",
            Metric::Score => "score",
            Metric::AttackSuccess => "attack_success",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Rating {
    pub enable: bool,
    pub metrics: Vec<Metric>,
    pub baseline_model: Option<String>,
    pub report_file: Option<PathBuf>,
    /// Elo's K; llmuses used 32.
    pub k: f64,
    pub bootstrap: usize,
    pub seed: u64,
}

impl ArenaConfig {
    /// The answer files the review stage reads, in order.
    pub fn answer_files_to_review(&self) -> Vec<PathBuf> {
        match &self.reviews.target_answers {
            Some(files) => files.clone(),
            None => self.candidates.iter().map(|c| c.output_file.clone()).collect(),
        }
    }

    pub fn enabled_candidates(&self) -> impl Iterator<Item = &Candidate> {
        self.candidates.iter().filter(|c| c.enable)
    }

    /// The config a dry run follows: its reviews and reports go beside the real ones, with
    /// `.dry-run` in their names (`review.dry-run.jsonl`, `rating.dry-run.csv`), so a dry run
    /// never overwrites a real run's files (a `cache_file` may be the review file itself).
    pub fn for_dry_run(&self) -> ArenaConfig {
        let mut config = self.clone();
        config.reviews.review_file = config.reviews.review_file.as_deref().map(dry_run_path);
        config.rating.report_file = config.rating.report_file.as_deref().map(dry_run_path);
        config
    }
}

/// `dir/name.ext` → `dir/name.dry-run.ext`.
pub fn dry_run_path(path: &Path) -> PathBuf {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}.dry-run.{}", ext.to_string_lossy()),
        None => format!("{stem}.dry-run"),
    };
    path.with_file_name(name)
}

/// Turns the raw YAML into a validated config, collecting every problem with its line.
pub(super) struct Validator<'a> {
    pub file: &'a Path,
    pub base_dir: &'a Path,
    pub lines: &'a LineIndex,
    pub problems: Problems,
    pub warnings: Vec<String>,
}

impl Validator<'_> {
    fn problem(&mut self, key_path: &str, message: impl Into<String>) {
        let problem = Problem::new(message).in_file(self.file).at_line(self.lines.line_of(key_path)).at_key(key_path);
        self.problems.push(problem);
    }

    fn warn(&mut self, key_path: &str, message: impl std::fmt::Display) {
        let place = match self.lines.line_of(key_path) {
            Some(line) => format!("{}:{line}", self.file.display()),
            None => self.file.display().to_string(),
        };
        self.warnings.push(format!("{place}: {key_path}: {message}"));
    }

    fn path(&self, value: &str) -> PathBuf {
        super::normalize(&self.base_dir.join(value))
    }

    /// A file that must exist now.
    fn existing_file(&mut self, key_path: &str, value: &str, what: &str) -> Option<PathBuf> {
        let path = self.path(value);
        if path.is_file() {
            Some(path)
        } else {
            self.problem(
                key_path,
                format!(
                    "{what} {} does not exist (relative paths are resolved against the config file's folder)",
                    path.display()
                ),
            );
            None
        }
    }

    pub fn validate(mut self, raw: RawArenaConfig) -> Result<ArenaConfig, crate::input::BadInput> {
        let question_set_id = raw.question_set_id;
        let candidates = self.candidates(&raw);
        let any_enabled = candidates.iter().any(|c| c.enable);
        let question_file = match &raw.question_file {
            Some(value) => self.existing_file("question_file", value, "question file"),
            None => {
                if any_enabled {
                    self.problem(
                        "question_file",
                        "missing: candidates under answers_gen need a question file to answer",
                    );
                }
                None
            }
        };
        let reviews = self.reviews(raw.reviews_gen.unwrap_or_default(), &candidates);
        let rating = self.rating(raw.rating_gen.unwrap_or_default(), &reviews);
        let Validator { file, problems, warnings, .. } = self;
        if let Err(mut bad) = problems.into_result() {
            // In file order, so the messages read top to bottom.
            bad.problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
            bad.warnings = warnings;
            return Err(bad);
        }
        Ok(ArenaConfig {
            file: file.to_path_buf(),
            question_file,
            question_set_id,
            candidates,
            reviews,
            rating,
            warnings,
        })
    }

    fn candidates(&mut self, raw: &RawArenaConfig) -> Vec<Candidate> {
        let mut out = Vec::new();
        let Some(map) = &raw.answers_gen else { return out };
        for (name, candidate) in map {
            let key = format!("answers_gen.{name}");
            let empty = RawCandidate::default();
            let candidate = candidate.as_ref().unwrap_or(&empty);
            if let Some(c) = self.candidate(&key, name, candidate) {
                out.push(c);
            }
        }
        out
    }

    fn candidate(&mut self, key: &str, name: &str, raw: &RawCandidate) -> Option<Candidate> {
        let enable = raw.enable.unwrap_or(true);
        if name.trim().is_empty() {
            self.problem(key, "a candidate needs a non-empty name");
        }
        let generation = self.generation(&format!("{key}.generation_config"), raw.generation_config.as_ref());
        let output_file = match &raw.output_file {
            Some(value) => self.path(value),
            None => {
                self.problem(&format!("{key}.output_file"), "missing: where to write this candidate's answers (JSONL)");
                return None;
            }
        };
        let model = if raw.api_base.is_some() {
            let model = raw.model.clone().or_else(|| raw.model_id_or_path.clone());
            let Some(model) = model else {
                self.problem(&format!("{key}.model"), "missing: the model name to ask the api_base server for");
                return None;
            };
            ModelSpec::Remote {
                api_base: raw.api_base.clone().unwrap_or_default(),
                api_key_env: raw.api_key_env.clone().unwrap_or_else(|| DEFAULT_API_KEY_ENV.into()),
                model,
            }
        } else {
            let Some(value) = &raw.model_id_or_path else {
                self.problem(
                    &format!("{key}.model_id_or_path"),
                    "missing: a local .gguf file (or folder holding one), or set api_base and model for a server",
                );
                return None;
            };
            if !enable {
                // A disabled candidate only names its answer file; its model is never loaded.
                ModelSpec::Local { path: self.path(value) }
            } else {
                match resolve_local_model(value, self.base_dir).map(|p| super::normalize(&p)) {
                    Ok(path) => {
                        self.require_local_support(&format!("{key}.model_id_or_path"));
                        ModelSpec::Local { path }
                    }
                    Err(e) => {
                        self.problem(&format!("{key}.model_id_or_path"), e.to_string());
                        return None;
                    }
                }
            }
        };
        if enable {
            if raw.revision.is_some() && matches!(model, ModelSpec::Local { .. }) {
                self.warn(&format!("{key}.revision"), "ignored: a local file has no revisions");
            }
            if raw.precision.is_some() {
                self.warn(
                    &format!("{key}.precision"),
                    "ignored: the precision is fixed by the model file or the server",
                );
            }
            if raw.template_type.is_some() {
                self.warn(
                    &format!("{key}.template_type"),
                    "ignored: GGUF files and servers apply their own chat template",
                );
            }
            if let (Some(seed), ModelSpec::Local { .. }) = (generation.seed, &model)
                && !generation.is_greedy()
            {
                self.warn(
                    &format!("{key}.generation_config.seed"),
                    format!(
                        "ignored: the local engine (mistral.rs) takes no per-request seed, so sampled answers \
                         differ from run to run whatever seed {seed} says; use do_sample: false for \
                         reproducible (greedy) answers"
                    ),
                );
            }
        }
        Some(Candidate {
            name: name.to_string(),
            enable,
            model,
            system_prompt: raw.system_prompt.clone(),
            generation,
            output_file,
        })
    }

    fn require_local_support(&mut self, key: &str) {
        if !cfg!(feature = "local") {
            self.problem(
                key,
                "this jury was built without local model support (the `local` cargo feature): \
                 use api_base and model to call a server, or rebuild with default features",
            );
        }
    }

    fn generation(&mut self, key: &str, raw: Option<&RawGeneration>) -> GenerationSettings {
        let Some(raw) = raw else { return GenerationSettings::default() };
        if let Some(t) = raw.temperature
            && !(t >= 0.0 && t.is_finite())
        {
            self.problem(&format!("{key}.temperature"), format!("expected a number >= 0, got {t}"));
        }
        if let Some(p) = raw.top_p
            && !(p > 0.0 && p <= 1.0)
        {
            self.problem(&format!("{key}.top_p"), format!("expected a number in (0, 1], got {p}"));
        }
        if let Some(k) = raw.top_k
            && k < 0
        {
            self.problem(&format!("{key}.top_k"), format!("expected a whole number >= 0, got {k}"));
        }
        if let Some(n) = raw.max_new_tokens
            && (n < 1 || n > u32::MAX as i64)
        {
            self.problem(&format!("{key}.max_new_tokens"), format!("expected a whole number >= 1, got {n}"));
        }
        if let Some(r) = raw.repetition_penalty
            && (r.is_nan() || r <= 0.0)
        {
            self.problem(&format!("{key}.repetition_penalty"), format!("expected a number > 0, got {r}"));
        }
        GenerationSettings {
            do_sample: raw.do_sample,
            temperature: raw.temperature,
            top_p: raw.top_p,
            // Hugging Face treats top_k = 0 as "no top-k filtering".
            top_k: raw.top_k.filter(|k| *k > 0).map(|k| k as u32),
            max_new_tokens: raw.max_new_tokens.filter(|n| *n >= 1).map(|n| n.min(u32::MAX as i64) as u32),
            repetition_penalty: raw.repetition_penalty,
            presence_penalty: raw.presence_penalty,
            frequency_penalty: raw.frequency_penalty,
            stop: raw.stop.clone().unwrap_or_default(),
            seed: raw.seed,
        }
    }

    /// One judge's settings from its `args` (`key` is where they are, for messages).
    fn judge(&mut self, args: RawReviewerArgs, args_key: &str, enable: bool) -> Judge {
        let mode = match args.mode.as_deref().map(str::trim) {
            None | Some("pairwise") => ReviewMode::Pairwise,
            Some("pairwise_baseline") => ReviewMode::PairwiseBaseline,
            Some("single") => ReviewMode::Single,
            Some(other) => {
                self.problem(
                    &format!("{args_key}.mode"),
                    format!("expected one of pairwise, pairwise_baseline, single, peer; got \"{other}\""),
                );
                ReviewMode::Pairwise
            }
        };
        let position_bias = match args.position_bias_mitigation.as_deref().map(str::trim) {
            None => PositionBias::None,
            Some(v) if v.eq_ignore_ascii_case("none") || v.eq_ignore_ascii_case("null") || v.is_empty() => {
                PositionBias::None
            }
            Some("swap_position") => PositionBias::SwapPosition,
            Some("randomize_order") => PositionBias::RandomizeOrder,
            Some(other) => {
                self.problem(
                    &format!("{args_key}.position_bias_mitigation"),
                    format!("expected swap_position, randomize_order or null; got \"{other}\""),
                );
                PositionBias::None
            }
        };
        if mode == ReviewMode::Single && position_bias != PositionBias::None {
            self.warn(
                &format!("{args_key}.position_bias_mitigation"),
                "ignored in single mode: each answer is judged on its own",
            );
        }
        let parser = match args.fn_completion_parser.as_deref().map(str::trim) {
            None | Some("lmsys_parser") => ParserKind::Lmsys,
            Some("ranking_parser") => ParserKind::Ranking,
            Some("json_parser") | Some("json") => ParserKind::Json,
            Some(other) => {
                self.problem(
                    &format!("{args_key}.fn_completion_parser"),
                    format!("expected lmsys_parser, ranking_parser or json_parser; got \"{other}\""),
                );
                ParserKind::Lmsys
            }
        };
        let max_tokens = match args.max_tokens {
            None => 1024,
            Some(n) if n >= 1 && n <= u32::MAX as i64 => n as u32,
            Some(n) => {
                self.problem(&format!("{args_key}.max_tokens"), format!("expected a whole number >= 1, got {n}"));
                1024
            }
        };
        let temperature = args.temperature.unwrap_or(0.0);
        if !(temperature >= 0.0 && temperature.is_finite()) {
            self.problem(&format!("{args_key}.temperature"), format!("expected a number >= 0, got {temperature}"));
        }
        let timeout = args.timeout.unwrap_or(120.0);
        if !(timeout > 0.0 && timeout.is_finite()) {
            self.problem(&format!("{args_key}.timeout"), format!("expected a number of seconds > 0, got {timeout}"));
        }

        let reward = self.reward(&args, args_key);
        let (model, name) = self.judge_model(&args, args_key, enable);
        if reward.is_some() && matches!(model, ModelSpec::Local { .. }) {
            self.problem(
                &format!("{args_key}.reward_api"),
                "a reward model is called over HTTP: give its api_base, not model_id_or_path",
            );
        }
        let name = args.name.clone().filter(|n| !n.trim().is_empty()).unwrap_or(name);
        Judge {
            model,
            name,
            max_tokens,
            temperature,
            mode,
            position_bias,
            random_seed: args.random_seed.unwrap_or(123),
            parser,
            timeout: Duration::from_secs_f64(if timeout > 0.0 && timeout.is_finite() { timeout } else { 120.0 }),
            max_retries: args.max_retries.unwrap_or(6),
            parse_retries: args.parse_retries.unwrap_or(2),
            reward,
        }
    }

    /// A reward model's settings (`reward_api`, `tie_margin`), when the judge is one.
    fn reward(&mut self, args: &RawReviewerArgs, args_key: &str) -> Option<RewardJudge> {
        let Some(api) = args.reward_api.as_deref() else {
            if args.tie_margin.is_some() {
                self.warn(&format!("{args_key}.tie_margin"), "ignored: it applies to reward models (reward_api)");
            }
            return None;
        };
        let Some(api) = crate::llm::reward::RewardApi::parse(api) else {
            self.problem(
                &format!("{args_key}.reward_api"),
                format!("expected vllm_score or tei_rerank; got \"{api}\""),
            );
            return None;
        };
        let tie_margin = args.tie_margin.unwrap_or(0.0);
        if !(tie_margin >= 0.0 && tie_margin.is_finite()) {
            self.problem(&format!("{args_key}.tie_margin"), format!("expected a number >= 0, got {tie_margin}"));
        }
        Some(RewardJudge { api, tie_margin })
    }

    fn note_class_ref(&mut self, key: &str, class_ref: &Option<String>) {
        if let Some(class_ref) = class_ref {
            self.warn(
                key,
                format!("noted and ignored: jury has its own judge (\"{class_ref}\" is a Python class upstream)"),
            );
        }
    }

    /// A panel's judges (`reviews_gen.reviewers`), each with its own prompts and review file,
    /// and how their verdicts are combined.
    fn panel(
        &mut self,
        raw: &mut RawReviews,
        enable: bool,
        review_file: Option<&Path>,
        peer: bool,
    ) -> (Vec<PanelJudge>, Aggregation) {
        let Some(reviewers) = raw.reviewers.take() else { return (Vec::new(), Aggregation::Majority) };
        if raw.reviewer.is_some() && !peer {
            self.problem("reviews_gen.reviewers", "give either reviewer (one judge) or reviewers (a panel), not both");
        }
        if reviewers.is_empty() {
            self.problem("reviews_gen.reviewers", "a panel needs at least one judge");
        }
        let mut panel: Vec<PanelJudge> = Vec::new();
        for (i, reviewer) in reviewers.into_iter().enumerate() {
            let key = format!("reviews_gen.reviewers[{i}]");
            self.note_class_ref(&format!("{key}.ref"), &reviewer.class_ref);
            let judge = self.judge(reviewer.args.unwrap_or_default(), &format!("{key}.args"), enable);
            if panel.iter().any(|p| p.judge.name == judge.name) {
                self.problem(
                    &format!("{key}.args"),
                    format!("a second judge named {}: give each a name of its own (args.name)", judge.name),
                );
            }
            if let Some(first) = panel.first()
                && first.judge.mode != judge.mode
            {
                self.problem(&format!("{key}.args.mode"), "every judge of a panel must use the same mode");
            }
            if peer && reviewer.as_candidate.as_deref().is_none_or(|c| c.trim().is_empty()) {
                self.problem(
                    &format!("{key}.as_candidate"),
                    "in peer mode every judge is a candidate: name the one whose answers it gave",
                );
            }
            let prompt_file = match reviewer.prompt_file.as_deref() {
                Some(v) if enable => self.existing_file(&format!("{key}.prompt_file"), v, "prompt file"),
                Some(v) => Some(self.path(v)),
                None => raw.prompt_file.as_deref().map(|v| self.path(v)),
            };
            let review_file = match (reviewer.review_file.as_deref(), review_file) {
                (Some(v), _) => self.path(v),
                (None, Some(panel_file)) => member_review_file(panel_file, &judge.name),
                (None, None) => PathBuf::new(),
            };
            panel.push(PanelJudge { judge, prompt_file, review_file, as_candidate: reviewer.as_candidate });
        }
        let single = panel.first().is_some_and(|p| p.judge.mode == ReviewMode::Single);
        let aggregation = match raw.aggregation.as_deref().map(str::trim) {
            None => {
                if single {
                    Aggregation::Mean
                } else {
                    Aggregation::Majority
                }
            }
            // For single mode, the most common grade: for categorical grades (safety).
            Some("majority") => Aggregation::Majority,
            Some("mean") if single => Aggregation::Mean,
            Some("weighted") => {
                let weights = raw.weights.take().unwrap_or_default();
                for (name, w) in &weights {
                    if !panel.iter().any(|p| &p.judge.name == name) {
                        self.problem(&format!("reviews_gen.weights.{name}"), "no judge of the panel has this name");
                    }
                    if !(w.is_finite() && *w >= 0.0) {
                        self.problem(
                            &format!("reviews_gen.weights.{name}"),
                            format!("expected a number >= 0, got {w}"),
                        );
                    }
                }
                Aggregation::Weighted(weights)
            }
            Some(other) => {
                let expected = if single { "mean, majority or weighted (single mode)" } else { "majority or weighted" };
                self.problem("reviews_gen.aggregation", format!("expected {expected}; got \"{other}\""));
                Aggregation::Majority
            }
        };
        if raw.weights.is_some() {
            self.warn("reviews_gen.weights", "ignored: weights count only under aggregation: weighted");
        }
        (panel, aggregation)
    }

    fn reviews(&mut self, mut raw: RawReviews, candidates: &[Candidate]) -> Reviews {
        let enable = raw.enable.unwrap_or(true);
        let review_file = raw.review_file.as_deref().map(|v| self.path(v));
        let peer = raw
            .reviewer
            .as_ref()
            .and_then(|r| r.args.as_ref())
            .is_some_and(|a| a.mode.as_deref().map(str::trim) == Some("peer"));
        let (mut panel, mut aggregation) = self.panel(&mut raw, enable, review_file.as_deref(), peer);
        let judge = match panel.first() {
            // The panel's first judge sets the mode and position handling the battles are planned with.
            Some(first) if !peer => first.judge.clone(),
            _ => {
                let reviewer = raw.reviewer.take().unwrap_or_default();
                self.note_class_ref("reviews_gen.reviewer.ref", &reviewer.class_ref);
                let mut args = reviewer.args.unwrap_or_default();
                if peer {
                    args.mode = Some("pairwise".into());
                }
                self.judge(args, "reviews_gen.reviewer.args", enable)
            }
        };
        if peer {
            // Every candidate that can be called judges too, with the reviewer's settings.
            let callable: Vec<PanelJudge> = candidates
                .iter()
                .filter(|c| c.enable)
                .map(|c| PanelJudge {
                    judge: Judge { model: c.model.clone(), name: c.name.clone(), ..judge.clone() },
                    prompt_file: raw.prompt_file.as_deref().map(|v| self.path(v)),
                    review_file: review_file.as_deref().map(|f| member_review_file(f, &c.name)).unwrap_or_default(),
                    as_candidate: Some(c.name.clone()),
                })
                .collect();
            panel.splice(0..0, callable);
            for (i, member) in panel.iter().enumerate() {
                let who = member.as_candidate.as_deref().unwrap_or(&member.judge.name);
                let twice = panel[..i]
                    .iter()
                    .any(|m| m.judge.name == member.judge.name || m.as_candidate.as_deref() == Some(who));
                if twice {
                    self.problem(
                        "reviews_gen.reviewers",
                        format!("{who} judges twice: each candidate is one judge of a peer panel, under its own name"),
                    );
                }
            }
            if enable && panel.len() < 2 {
                self.problem(
                    "reviews_gen.reviewer.args.mode",
                    "peer mode needs at least two judges: enabled candidates, or reviewers with as_candidate",
                );
            }
            if raw.aggregation.is_some() {
                self.warn("reviews_gen.aggregation", "ignored in peer mode: judges are weighed by Peer Rank");
            }
            aggregation = Aggregation::PeerRank;
        }
        let self_judging = raw.self_judging.unwrap_or(false);
        if raw.self_judging.is_some() && !peer {
            self.warn("reviews_gen.self_judging", "ignored: it applies to peer mode (mode: peer)");
        }
        let mode = judge.mode;

        let prompt_file = raw.prompt_file.as_deref().and_then(|v| {
            if enable { self.existing_file("reviews_gen.prompt_file", v, "prompt file") } else { Some(self.path(v)) }
        });
        let produced: Vec<PathBuf> = candidates.iter().filter(|c| c.enable).map(|c| c.output_file.clone()).collect();
        let target_answers = raw.target_answers.map(|files| {
            let mut out = Vec::new();
            for (i, value) in files.iter().enumerate() {
                let path = self.path(value);
                if enable && !path.is_file() && !produced.contains(&path) {
                    self.problem(
                        &format!("reviews_gen.target_answers[{i}]"),
                        format!("answer file {} does not exist and no enabled candidate writes it", path.display()),
                    );
                }
                out.push(path);
            }
            out
        });
        let baseline_file = match raw.baseline_file.as_deref() {
            Some(v) => {
                let path = self.path(v);
                if enable && mode == ReviewMode::PairwiseBaseline && !path.is_file() && !produced.contains(&path) {
                    self.problem(
                        "reviews_gen.baseline_file",
                        format!(
                            "baseline answer file {} does not exist and no enabled candidate writes it",
                            path.display()
                        ),
                    );
                }
                Some(path)
            }
            None => {
                if enable && mode == ReviewMode::PairwiseBaseline {
                    self.problem(
                        "reviews_gen.baseline_file",
                        "missing: pairwise_baseline mode compares every candidate with the answers in baseline_file",
                    );
                }
                None
            }
        };
        let reference_file = raw.reference_file.as_deref().and_then(|v| {
            if enable {
                self.existing_file("reviews_gen.reference_file", v, "reference file")
            } else {
                Some(self.path(v))
            }
        });
        if enable && review_file.is_none() {
            self.problem("reviews_gen.review_file", "missing: where to write the reviews (JSONL)");
        }
        let cache_file = raw.cache_file.as_deref().map(|v| self.path(v));
        Reviews {
            enable,
            judge,
            panel,
            aggregation,
            self_judging,
            exclude_model: None,
            prompt_file,
            target_answers,
            baseline_file,
            reference_file,
            review_file,
            cache_file,
        }
    }

    /// The judge: a local GGUF (`model_id_or_path`) or an OpenAI-compatible server, which
    /// defaults to `OPENAI_BASE_URL` / `OPENAI_API_KEY` as the official clients do.
    fn judge_model(&mut self, args: &RawReviewerArgs, key: &str, enable: bool) -> (ModelSpec, String) {
        if let Some(value) = &args.model_id_or_path
            && args.api_base.is_none()
        {
            let name = args.model.clone().unwrap_or_else(|| {
                Path::new(value).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| value.clone())
            });
            if !enable {
                return (ModelSpec::Local { path: self.path(value) }, name);
            }
            return match resolve_local_model(value, self.base_dir).map(|p| super::normalize(&p)) {
                Ok(path) => {
                    self.require_local_support(&format!("{key}.model_id_or_path"));
                    (ModelSpec::Local { path }, name)
                }
                Err(e) => {
                    self.problem(&format!("{key}.model_id_or_path"), e.to_string());
                    (ModelSpec::Local { path: self.path(value) }, name)
                }
            };
        }
        let model = args.model.clone().unwrap_or_else(|| "gpt-4".to_string());
        let api_base = args
            .api_base
            .clone()
            .or_else(|| std::env::var("OPENAI_BASE_URL").ok().filter(|v| !v.trim().is_empty()))
            .unwrap_or_else(|| OPENAI_DEFAULT_BASE.to_string());
        let api_key_env = args.api_key_env.clone().unwrap_or_else(|| DEFAULT_API_KEY_ENV.to_string());
        (ModelSpec::Remote { api_base, api_key_env, model: model.clone() }, model)
    }

    fn rating(&mut self, raw: RawRating, reviews: &Reviews) -> Rating {
        let enable = raw.enable.unwrap_or(true);
        let mut metrics = Vec::new();
        let names = raw.metrics.unwrap_or_else(|| vec!["elo".to_string()]);
        for (i, name) in names.iter().enumerate() {
            let metric = match name.trim() {
                "elo" => Metric::Elo,
                "bt" => Metric::Bt,
                "pairwise" => Metric::Pairwise,
                "score" => Metric::Score,
                "attack_success" => Metric::AttackSuccess,
                other => {
                    self.problem(
                        &format!("rating_gen.metrics[{i}]"),
                        format!("expected elo, bt, pairwise, score or attack_success; got \"{other}\""),
                    );
                    continue;
                }
            };
            if !metrics.contains(&metric) {
                metrics.push(metric);
            }
        }
        if enable && raw.report_file.is_none() {
            self.problem("rating_gen.report_file", "missing: where to write the rating report (CSV)");
        }
        if enable && reviews.review_file.is_none() && !reviews.enable {
            self.problem("reviews_gen.review_file", "missing: ratings are computed from the review file");
        }
        let k = raw.k.unwrap_or(32.0);
        if !(k > 0.0 && k.is_finite()) {
            self.problem("rating_gen.k", format!("expected a number > 0, got {k}"));
        }
        Rating {
            enable,
            metrics,
            baseline_model: raw.baseline_model,
            report_file: raw.report_file.as_deref().map(|v| self.path(v)),
            k,
            bootstrap: raw.bootstrap.unwrap_or(100).min(100_000) as usize,
            seed: raw.seed.unwrap_or(42),
        }
    }
}
