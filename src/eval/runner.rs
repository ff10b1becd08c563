//! An eval: every document of every task scored by the model, each request taken from the
//! cache in the database or asked and stored the moment it returns.

use std::path::PathBuf;
use std::time::Instant;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::datasets::{Check, ChoiceScoring, Dataset, Extracted, LoadedTask, McqDoc};
use super::extract::pick_choice;
use super::metrics::pass_at_k;
use super::metrics::{argmax, choice_scores, true_mass};
use super::report::{MetricValue, TaskResult};
use super::sandbox::{Limits, Sandbox};
use crate::input::{BadInput, Problem};
use crate::llm::{LlmError, LogLikelihood, Sampling};
use crate::store::{CachedLogLikelihood, NewSample, Store, StoreError};

/// A model `jury eval` can ask: a local GGUF (`llm::scoring`) or an OpenAI-compatible
/// endpoint (`llm::completions_scoring`). Used with generics only, so the futures' auto
/// traits are the implementor's.
#[allow(async_fn_in_trait)]
pub trait EvalModel {
    async fn loglikelihood(&self, context: &str, continuation: &str) -> Result<LogLikelihood, LlmError>;
    /// Whether `loglikelihoods` shares work between continuations (else each is asked, and
    /// stored, on its own: nothing paid for is lost to an interruption).
    fn shares_work(&self) -> bool {
        false
    }
    /// Several continuations of one context (a question's choices); a model that can share
    /// work between them does.
    async fn loglikelihoods(&self, context: &str, continuations: &[String]) -> Result<Vec<LogLikelihood>, LlmError> {
        let mut scored = Vec::with_capacity(continuations.len());
        for continuation in continuations {
            scored.push(self.loglikelihood(context, continuation).await?);
        }
        Ok(scored)
    }
    /// Text after `prompt` (greedy without `sampling`), cut at the first stop sequence.
    async fn generate(
        &self,
        prompt: &str,
        until: &[String],
        max_tokens: usize,
        sampling: Option<Sampling>,
    ) -> Result<String, LlmError>;
    /// The log-likelihood of a whole text (perplexity).
    async fn rolling_loglikelihood(&self, text: &str) -> Result<LogLikelihood, LlmError>;
}

#[cfg(feature = "local")]
impl EvalModel for crate::llm::scoring::LocalScorer {
    /// lm-eval's pair encoding: trailing spaces of the context move to the continuation; the
    /// continuation's tokens are those of the whole text after the context's.
    async fn loglikelihood(&self, context: &str, continuation: &str) -> Result<LogLikelihood, LlmError> {
        let mut scored = EvalModel::loglikelihoods(self, context, &[continuation.to_string()]).await?;
        Ok(scored.remove(0))
    }

    fn shares_work(&self) -> bool {
        true
    }

    async fn loglikelihoods(&self, context: &str, continuations: &[String]) -> Result<Vec<LogLikelihood>, LlmError> {
        let trimmed = context.trim_end();
        let context_tokens = self.tokenize(trimmed).await?;
        let mut continuation_tokens = Vec::with_capacity(continuations.len());
        for continuation in continuations {
            let continuation = format!("{}{continuation}", &context[trimmed.len()..]);
            let whole = self.tokenize(&format!("{trimmed}{continuation}")).await?;
            let split = context_tokens.len().min(whole.len());
            continuation_tokens.push(whole[split..].to_vec());
        }
        crate::llm::scoring::LocalScorer::loglikelihoods(self, &context_tokens, &continuation_tokens).await
    }

    async fn generate(
        &self,
        prompt: &str,
        until: &[String],
        max_tokens: usize,
        sampling: Option<Sampling>,
    ) -> Result<String, LlmError> {
        crate::llm::scoring::LocalScorer::generate(self, prompt, until, max_tokens, sampling).await
    }

    async fn rolling_loglikelihood(&self, text: &str) -> Result<LogLikelihood, LlmError> {
        crate::llm::scoring::LocalScorer::rolling_loglikelihood(self, text).await
    }
}

impl EvalModel for crate::llm::completions_scoring::RemoteScorer {
    async fn loglikelihood(&self, context: &str, continuation: &str) -> Result<LogLikelihood, LlmError> {
        crate::llm::completions_scoring::RemoteScorer::loglikelihood(self, context, continuation).await
    }

    async fn generate(
        &self,
        prompt: &str,
        until: &[String],
        max_tokens: usize,
        sampling: Option<Sampling>,
    ) -> Result<String, LlmError> {
        crate::llm::completions_scoring::RemoteScorer::generate(self, prompt, until, max_tokens, sampling).await
    }

    async fn rolling_loglikelihood(&self, text: &str) -> Result<LogLikelihood, LlmError> {
        crate::llm::completions_scoring::RemoteScorer::rolling_loglikelihood(self, text).await
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    BadInput(#[from] BadInput),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Model(#[from] LlmError),
    #[error("the eval was cancelled; every request answered before that is stored")]
    Cancelled,
}

/// One task to run, with how many examples go before each document.
pub struct PlannedTask {
    pub task: LoadedTask,
    pub dataset: Dataset,
    pub shots: usize,
    /// Documents in the task before `--limit`.
    pub original: usize,
}

pub struct EvalOptions {
    /// Progress bars are drawn here; `None` draws none.
    pub progress: Option<indicatif::MultiProgress>,
    /// Take answered requests from the cache (`false`: ask everything again, and store it).
    pub use_cache: bool,
    pub cancel: Option<tokio_util::sync::CancellationToken>,
    /// Score only these documents of one task (a worker's unit of a shared eval): requests are
    /// asked and stored, nothing else is kept.
    pub part: Option<EvalPart>,
}

/// Documents `from..to` of the `task`-th planned task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct EvalPart {
    pub task: usize,
    pub from: usize,
    pub to: usize,
}

#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct EvalSummary {
    pub requests: u64,
    pub cache_hits: u64,
    pub asked: u64,
    pub seconds: f64,
    /// Documents scored per second (cache hits included).
    pub docs_per_second: f64,
    /// What ran a local model: file, weights, threads, sequences (`LocalScorer::describe`).
    pub local_model: Option<String>,
}

/// Scores every planned task with `model`, known to the cache as `model_key`; samples are
/// stored under `run_id`.
pub async fn run_eval<M: EvalModel>(
    model: &M,
    model_key: &str,
    tasks: &[PlannedTask],
    store: &Store,
    run_id: i64,
    options: &EvalOptions,
) -> Result<(Vec<TaskResult>, EvalSummary), EvalError> {
    let started = Instant::now();
    let total: u64 = tasks.iter().map(|t| t.task.len() as u64).sum();
    let progress = crate::arena::progress::Progress::new(options.progress.as_ref(), "documents", total);
    // A unit's progress is counted by the eval's own worker, unit by unit.
    let reported = options.part.is_none().then_some(run_id);
    let run_progress = crate::arena::progress::RunProgress::start(store, reported, "documents", total);
    let mut summary = EvalSummary::default();
    let mut results = Vec::new();
    let mut done = 0u64;
    let mut sandboxes = LazySandbox::default();
    let mut ask =
        Asker { model, model_key, store, use_cache: options.use_cache, summary: &mut summary, by_generation: false };
    for (index, planned) in tasks.iter().enumerate() {
        let docs = match &options.part {
            Some(part) if part.task != index => continue,
            Some(part) => {
                let to = part.to.min(planned.task.len());
                part.from.min(to)..to
            }
            None => 0..planned.task.len(),
        };
        let mut samples: Vec<(bool, Value)> = Vec::with_capacity(planned.task.len());
        let mut tagged: Vec<(String, f64)> = Vec::new();
        let mut scored_by_generation = false;
        let mut rolling = RollingTotals::default();
        let mut per_metric: Vec<(&'static str, &'static str, Vec<f64>)> = Vec::new();
        let mut record = |metric: &'static str, filter: &'static str, value: f64| match per_metric
            .iter_mut()
            .find(|(m, f, _)| *m == metric && *f == filter)
        {
            Some((_, _, values)) => values.push(value),
            None => per_metric.push((metric, filter, vec![value])),
        };
        // lm-eval draws every document's examples from one generator seeded 1234, in order.
        let mut fewshot_rng = crate::eval::sampling::PyRandom::new(FEWSHOT_SEED);
        for doc_id in 0..docs.end {
            if doc_id < docs.start {
                // Before a unit's documents: draw their examples as scoring them would, so the
                // unit's prompts are the whole eval's.
                match &planned.task {
                    LoadedTask::Choice(data) => {
                        data.sampler.pick(&mut fewshot_rng, data.fewshot.len(), planned.shots);
                    }
                    LoadedTask::Generate(data) => {
                        data.sampler.pick(&mut fewshot_rng, data.fewshot.len(), planned.shots);
                    }
                    LoadedTask::Rolling(_) => {}
                }
                continue;
            }
            if options.cancel.as_ref().is_some_and(|c| c.is_cancelled()) {
                progress.finish();
                run_progress.finish().await;
                return Err(EvalError::Cancelled);
            }
            match &planned.task {
                LoadedTask::Choice(data) => {
                    let doc = &data.docs[doc_id];
                    let shots = data.sampler.pick(&mut fewshot_rng, data.fewshot.len(), planned.shots);
                    let context = data.context(doc, &shots);
                    let lls = if ask.by_generation { None } else { ask.choice_loglikelihoods(&context, doc).await? };
                    let Some(lls) = lls else {
                        // The server gives no prompt log-probabilities: the choice its answer names.
                        let output = ask.generate(&context, &[String::from("\n\n")], FALLBACK_TOKENS).await?;
                        let picked = pick_choice(&output, &doc.choices);
                        let correct = match data.scoring {
                            ChoiceScoring::Accuracy => picked == Some(doc.gold),
                            ChoiceScoring::TrueMass => picked.is_some_and(|i| doc.labels.get(i) == Some(&1)),
                        };
                        record("acc", "none", f64::from(u8::from(correct)));
                        scored_by_generation = true;
                        samples.push((
                            correct,
                            json!({"doc_id": doc_id, "id": doc.id, "prompt": context, "choices": doc.choices,
                                   "target": doc.choices[doc.gold], "gold": doc.gold, "output": output,
                                   "prediction": picked.map(|i| &doc.choices[i]), "correct": correct,
                                   "acc": f64::from(u8::from(correct)), "scored_by": "generation"}),
                        ));
                        done += 1;
                        progress.inc();
                        run_progress.set(done);
                        continue;
                    };
                    let mut scored = score_doc(doc_id, doc, &context, &lls, data.acc_norm);
                    if data.scoring == ChoiceScoring::TrueMass {
                        scored.acc = true_mass(&lls, &doc.labels);
                        scored.sample["acc"] = json!(scored.acc);
                        scored.sample["labels"] = json!(doc.labels);
                        // For mass-on-the-truth scores, "correct" means most of the mass.
                        scored.sample["correct"] = json!(scored.acc >= 0.5);
                    }
                    record("acc", "none", scored.acc);
                    if let Some(norm) = scored.acc_norm {
                        record("acc_norm", "none", norm);
                    }
                    let correct = scored.sample["correct"] == json!(true);
                    samples.push((correct, scored.sample));
                }
                LoadedTask::Rolling(data) => {
                    let doc = &data.docs[doc_id];
                    let ll = ask.rolling_loglikelihood(&doc.text).await?;
                    rolling.add(ll.logprob, doc.words, doc.bytes);
                    samples.push((
                        true,
                        json!({"doc_id": doc_id, "id": doc.id, "prompt": doc.text, "loglikelihood": ll.logprob,
                               "tokens": ll.tokens, "words": doc.words, "bytes": doc.bytes}),
                    ));
                }
                LoadedTask::Generate(data) => {
                    let doc = &data.docs[doc_id];
                    let shots = data.sampler.pick(&mut fewshot_rng, data.fewshot.len(), planned.shots);
                    let context = data.context(doc, &shots);
                    let output = ask.generate(&context, &data.until, data.max_tokens).await?;
                    let mut run_status = None;
                    let extracted = match data.check {
                        Check::Rules(score) => score(&output, doc),
                        Check::RunTests => {
                            // One greedy answer, or `samples` drawn as the pass@k papers draw them.
                            let mut outputs = vec![output.clone()];
                            for i in 1..data.samples {
                                let sampling =
                                    Sampling { temperature: 0.8, top_p: 0.95, seed: FEWSHOT_SEED + i as u64 };
                                outputs.push(ask.sample(&context, &data.until, data.max_tokens, Some(sampling)).await?);
                            }
                            let mut runs = Vec::new();
                            for completion in &outputs {
                                let sandbox = sandboxes.get()?;
                                let program = super::datasets::humaneval::program(doc, completion);
                                let outcome =
                                    tokio::task::spawn_blocking(move || sandbox.run(&program)).await.map_err(|e| {
                                        EvalError::Model(LlmError::Setup(format!("the sandbox failed: {e}")))
                                    })?;
                                runs.push(outcome);
                            }
                            let passed = runs.iter().filter(|r| r.passed).count();
                            let listed: Vec<Value> = runs
                                .iter()
                                .zip(&outputs)
                                .map(|(r, o)| json!({"output": o, "status": r.status, "stderr": r.stderr}))
                                .collect();
                            run_status = Some(json!(listed));
                            PASS_AT
                                .iter()
                                .filter(|(k, _)| *k <= outputs.len())
                                .map(|(k, metric)| Extracted {
                                    metric,
                                    filter: "create_test",
                                    prediction: format!("{passed} of {} passed", outputs.len()),
                                    value: pass_at_k(outputs.len(), passed, *k),
                                })
                                .collect()
                        }
                    };
                    for e in &extracted {
                        record(e.metric, e.filter, e.value);
                    }
                    if let (Some(tag), Some(headline)) = (&doc.tag, extracted.first()) {
                        tagged.push((tag.clone(), headline.value));
                    }
                    let filtered: serde_json::Map<String, Value> =
                        extracted.iter().map(|e| (e.filter.to_string(), json!(e.prediction))).collect();
                    let scores: BTreeMap<String, f64> =
                        extracted.iter().map(|e| (format!("{},{}", e.metric, e.filter), e.value)).collect();
                    let correct = extracted.first().is_some_and(Extracted::correct);
                    samples.push((
                        correct,
                        json!({"doc_id": doc_id, "id": doc.id, "prompt": context, "target": doc.target,
                               "aliases": (!doc.aliases.is_empty()).then_some(&doc.aliases), "tag": doc.tag,
                               "output": output, "prediction": extracted.first().map(|e| &e.prediction),
                               "filtered": filtered, "correct": correct, "scores": scores, "run": run_status}),
                    ));
                }
            }
            done += 1;
            progress.inc();
            run_progress.set(done);
        }
        if options.part.is_some() {
            continue;
        }
        let texts: Vec<String> = samples.iter().map(|(_, s)| s.to_string()).collect();
        let rows: Vec<NewSample<'_>> = samples
            .iter()
            .zip(&texts)
            .enumerate()
            .map(|(i, ((correct, _), text))| NewSample { doc_id: i as i64, correct: *correct, sample: text })
            .collect();
        store.save_eval_samples(run_id, planned.task.name(), &rows).await?;
        let mut metrics: Vec<MetricValue> =
            per_metric.iter().map(|(m, f, values)| MetricValue::of(m, f, values)).collect();
        if matches!(planned.task, LoadedTask::Rolling(_)) {
            metrics = rolling.metrics();
        }
        let mut result = TaskResult::new(planned, metrics, samples.into_iter().map(|(_, s)| s).collect(), tagged);
        if matches!(&planned.task, LoadedTask::Generate(t) if matches!(t.check, Check::RunTests)) {
            result.note = sandboxes.note();
        }
        if scored_by_generation {
            result.scored_by = "generation";
            result.output_type = "generate_until";
        }
        results.push(result);
    }
    progress.finish();
    run_progress.finish().await;
    summary.seconds = started.elapsed().as_secs_f64();
    summary.docs_per_second = if summary.seconds > 0.0 { total as f64 / summary.seconds } else { 0.0 };
    Ok((results, summary))
}

/// One document's outcome.
pub struct ScoredDoc {
    pub doc_id: usize,
    pub acc: f64,
    pub acc_norm: Option<f64>,
    pub sample: serde_json::Value,
}

fn score_doc(doc_id: usize, doc: &McqDoc, context: &str, lls: &[f64], with_norm: bool) -> ScoredDoc {
    let (acc, acc_norm) = choice_scores(lls, &doc.choices, doc.gold);
    let prediction = argmax(lls).unwrap_or(0);
    let sample = json!({
        "doc_id": doc_id,
        "id": doc.id,
        "prompt": context,
        "choices": doc.choices,
        "target": doc.choices[doc.gold],
        "gold": doc.gold,
        "loglikelihoods": lls,
        "prediction": doc.choices[prediction],
        "correct": acc == 1.0,
        "acc": acc,
        "acc_norm": with_norm.then_some(acc_norm),
    });
    ScoredDoc { doc_id, acc, acc_norm: with_norm.then_some(acc_norm), sample }
}

/// The k of the pass@k reported, where there are at least k samples.
const PASS_AT: [(usize, &str); 6] =
    [(1, "pass@1"), (5, "pass@5"), (10, "pass@10"), (25, "pass@25"), (50, "pass@50"), (100, "pass@100")];

/// The sandbox, found the first time a task runs programs.
#[derive(Default)]
struct LazySandbox(Option<std::sync::Arc<Sandbox>>);

impl LazySandbox {
    fn get(&mut self) -> Result<std::sync::Arc<Sandbox>, EvalError> {
        if self.0.is_none() {
            let sandbox = Sandbox::detect(Limits::default()).map_err(|e| EvalError::Model(LlmError::Setup(e)))?;
            if !sandbox.network_isolated() {
                tracing::warn!("no network namespace can be made here: programs run with network access");
            }
            self.0 = Some(std::sync::Arc::new(sandbox));
        }
        Ok(self.0.clone().expect("just set"))
    }

    /// How the programs ran, for the report.
    fn note(&self) -> Option<String> {
        self.0.as_ref().map(|s| {
            let network = if s.network_isolated() {
                "in a network namespace of its own (no network)"
            } else {
                "WITH network access (no network namespace could be made)"
            };
            format!("each program ran in its own python3 -I process under CPU, memory and process limits, {network}")
        })
    }
}

/// A perplexity task's sums over its documents: lm-eval's `weighted_perplexity` and
/// `bits_per_byte` aggregate the total log-likelihood over the total words or bytes.
#[derive(Default)]
struct RollingTotals {
    logprob: f64,
    words: usize,
    bytes: usize,
}

impl RollingTotals {
    fn add(&mut self, logprob: f64, words: usize, bytes: usize) {
        self.logprob += logprob;
        self.words += words;
        self.bytes += bytes;
    }

    fn metrics(&self) -> Vec<MetricValue> {
        let per = |n: usize| -self.logprob / n.max(1) as f64;
        let value = |metric, value| MetricValue { metric, filter: "none", value, stderr: None };
        vec![
            value("word_perplexity", per(self.words).exp()),
            value("byte_perplexity", per(self.bytes).exp()),
            value("bits_per_byte", per(self.bytes) / std::f64::consts::LN_2),
        ]
    }
}

/// Tokens a multiple-choice answer may take when scored by generation.
const FALLBACK_TOKENS: usize = 32;

/// lm-eval's `fewshot_random_seed`.
const FEWSHOT_SEED: u64 = 1234;

/// Asks the model through the cache: each answer from the database when it was asked before,
/// else asked and stored before it is used.
struct Asker<'a, M> {
    model: &'a M,
    model_key: &'a str,
    store: &'a Store,
    use_cache: bool,
    summary: &'a mut EvalSummary,
    /// The model gives no prompt log-probabilities: multiple choice is scored by generation.
    by_generation: bool,
}

impl<M: EvalModel> Asker<'_, M> {
    fn key(request: &Value) -> String {
        hex::encode(Sha256::digest(request.to_string().as_bytes()))
    }

    fn loglikelihood_key(context: &str, continuation: &str) -> String {
        Self::key(&json!({"kind": "loglikelihood", "context": context, "continuation": continuation}))
    }

    async fn rolling_loglikelihood(&mut self, text: &str) -> Result<CachedLogLikelihood, EvalError> {
        self.summary.requests += 1;
        let key = Self::key(&json!({"kind": "rolling", "text": text}));
        if self.use_cache
            && let Some(cached) = self.store.cached_loglikelihood(self.model_key, &key).await?
        {
            self.summary.cache_hits += 1;
            return Ok(cached);
        }
        let ll = self.model.rolling_loglikelihood(text).await?;
        let value = CachedLogLikelihood { logprob: ll.logprob, greedy: ll.greedy, tokens: ll.tokens as i64 };
        self.store.save_loglikelihood(self.model_key, &key, text, "", value).await?;
        self.summary.asked += 1;
        Ok(value)
    }

    /// Each choice's log-likelihood after `context`, or `None` (and generation from then on)
    /// when the model cannot give them. Choices not in the cache are asked together, so that
    /// the model can share work between them, and stored one by one.
    async fn choice_loglikelihoods(&mut self, context: &str, doc: &McqDoc) -> Result<Option<Vec<f64>>, EvalError> {
        let continuations: Vec<String> = (0..doc.choices.len()).map(|i| doc.continuation(i)).collect();
        let keys: Vec<String> = continuations.iter().map(|c| Self::loglikelihood_key(context, c)).collect();
        self.summary.requests += continuations.len() as u64;
        let mut lls: Vec<Option<f64>> = vec![None; continuations.len()];
        if self.use_cache {
            for (ll, key) in lls.iter_mut().zip(&keys) {
                if let Some(cached) = self.store.cached_loglikelihood(self.model_key, key).await? {
                    self.summary.cache_hits += 1;
                    *ll = Some(cached.logprob);
                }
            }
        }
        // A choice whose text repeats another's is asked once and counts as a cache hit.
        let mut missing: Vec<usize> = Vec::new();
        let mut repeats: Vec<(usize, usize)> = Vec::new();
        for i in (0..lls.len()).filter(|&i| lls[i].is_none()) {
            match missing.iter().find(|&&m| keys[m] == keys[i]) {
                Some(&first) => repeats.push((i, first)),
                None => missing.push(i),
            }
        }
        let groups: Vec<&[usize]> =
            if self.model.shares_work() { vec![&missing[..]] } else { missing.chunks(1).collect() };
        for missing in groups.into_iter().filter(|g| !g.is_empty()) {
            let asked: Vec<String> = missing.iter().map(|&i| continuations[i].clone()).collect();
            let scored = match self.model.loglikelihoods(context, &asked).await {
                Ok(scored) => scored,
                Err(LlmError::NoPromptLogprobs(why)) => {
                    tracing::warn!(
                        "{why}; multiple-choice tasks are scored by generation instead, and the report says so"
                    );
                    self.by_generation = true;
                    return Ok(None);
                }
                Err(e) => return Err(e.into()),
            };
            for (&i, ll) in missing.iter().zip(scored) {
                let value = CachedLogLikelihood { logprob: ll.logprob, greedy: ll.greedy, tokens: ll.tokens as i64 };
                self.store.save_loglikelihood(self.model_key, &keys[i], context, &continuations[i], value).await?;
                self.summary.asked += 1;
                lls[i] = Some(ll.logprob);
            }
        }
        for (i, first) in repeats {
            self.summary.cache_hits += 1;
            lls[i] = lls[first];
        }
        Ok(Some(lls.into_iter().map(|ll| ll.expect("every choice is scored")).collect()))
    }

    async fn generate(&mut self, context: &str, until: &[String], max_tokens: usize) -> Result<String, EvalError> {
        self.sample(context, until, max_tokens, None).await
    }

    /// A generation, greedy or sampled (each sample its own cache entry).
    async fn sample(
        &mut self,
        context: &str,
        until: &[String],
        max_tokens: usize,
        sampling: Option<Sampling>,
    ) -> Result<String, EvalError> {
        self.summary.requests += 1;
        let mut request = json!({"kind": "generate", "context": context, "until": until, "max_tokens": max_tokens});
        if let Some(s) = sampling {
            request["sampling"] = json!(s);
        }
        let key = Self::key(&request);
        if self.use_cache
            && let Some(cached) = self.store.cached_generation(self.model_key, &key).await?
        {
            self.summary.cache_hits += 1;
            return Ok(cached);
        }
        let output = self.model.generate(context, until, max_tokens, sampling).await?;
        self.store.save_generation(self.model_key, &key, context, &output).await?;
        self.summary.asked += 1;
        Ok(output)
    }
}

/// A dataset to run, as the command line or a task config gives it.
#[derive(Debug, Clone)]
pub struct DatasetPlan {
    pub dataset: Dataset,
    pub subsets: Vec<String>,
    pub shots: Option<usize>,
    pub dir: PathBuf,
    /// Samples per document for tasks that run programs (HumanEval's pass@k).
    pub samples: Option<usize>,
}

impl DatasetPlan {
    pub fn new(dataset: Dataset, dir: PathBuf) -> DatasetPlan {
        DatasetPlan { dataset, subsets: Vec::new(), shots: None, dir, samples: None }
    }
}

/// The tasks of `datasets`, read from their folders before any model is loaded.
pub fn plan_tasks(datasets: &[DatasetPlan], limit: Option<usize>) -> Result<Vec<PlannedTask>, BadInput> {
    let mut planned = Vec::new();
    let mut problems = crate::input::Problems::default();
    for plan in datasets {
        let dataset = &plan.dataset;
        match dataset.load(&plan.dir, &plan.subsets) {
            Ok(tasks) => {
                for mut task in tasks {
                    let original = task.len();
                    if let Some(n) = limit {
                        task.truncate(n);
                    }
                    if task.is_empty() {
                        problems.push(Problem::new(format!("{}: no documents to score", task.name())));
                        continue;
                    }
                    if let Some(n) = plan.samples {
                        match &mut task {
                            LoadedTask::Generate(t) if matches!(t.check, Check::RunTests) && n >= 1 => t.samples = n,
                            _ => {
                                problems.push(Problem::new(format!(
                                    "{}: num_samples is for tasks whose answers are run (humaneval), and at least 1",
                                    task.name()
                                )));
                                continue;
                            }
                        }
                    }
                    let shots = plan.shots.unwrap_or(dataset.default_shots());
                    // Fewer examples than asked would be a different benchmark, reported as this one.
                    if shots > task.fewshot_len() {
                        problems.push(Problem::new(format!(
                            "{}: {shots} few-shot examples asked for, but its few-shot file holds {} (see jury eval --list \
                             for where it goes, or lower --few-shot)",
                            task.name(),
                            task.fewshot_len()
                        )));
                        continue;
                    }
                    planned.push(PlannedTask { task, dataset: *dataset, shots, original });
                }
            }
            Err(e) => problems.extend(e),
        }
    }
    problems.into_result()?;
    Ok(planned)
}
