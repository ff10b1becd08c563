//! An eval: every document of every task scored by the model, each request taken from the
//! cache in the database or asked and stored the moment it returns.

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::datasets::{Dataset, McqDoc, TaskData};
use super::metrics::{argmax, choice_scores};
use super::report::TaskResult;
use crate::input::{BadInput, Problem};
use crate::llm::{LlmError, LogLikelihood};
use crate::store::{CachedLogLikelihood, NewSample, Store, StoreError};

/// A model that can score continuations: a local GGUF (`llm::scoring`) or an endpoint that
/// echoes prompts with log-probabilities (`llm::completions_scoring`). Used with generics
/// only, so the futures' auto traits are the implementor's.
#[allow(async_fn_in_trait)]
pub trait LogLikelihoodModel {
    async fn loglikelihood(&self, context: &str, continuation: &str) -> Result<LogLikelihood, LlmError>;
}

#[cfg(feature = "local")]
impl LogLikelihoodModel for crate::llm::scoring::LocalScorer {
    /// lm-eval's pair encoding: trailing spaces of the context move to the continuation; the
    /// continuation's tokens are those of the whole text after the context's.
    async fn loglikelihood(&self, context: &str, continuation: &str) -> Result<LogLikelihood, LlmError> {
        let trimmed = context.trim_end();
        let continuation = format!("{}{continuation}", &context[trimmed.len()..]);
        let whole = self.tokenize(&format!("{trimmed}{continuation}")).await?;
        let context_tokens = self.tokenize(trimmed).await?;
        let split = context_tokens.len().min(whole.len());
        crate::llm::scoring::LocalScorer::loglikelihood(self, &context_tokens, &whole[split..]).await
    }
}

impl LogLikelihoodModel for crate::llm::completions_scoring::RemoteScorer {
    async fn loglikelihood(&self, context: &str, continuation: &str) -> Result<LogLikelihood, LlmError> {
        crate::llm::completions_scoring::RemoteScorer::loglikelihood(self, context, continuation).await
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
    pub data: TaskData,
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
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct EvalSummary {
    pub requests: u64,
    pub cache_hits: u64,
    pub asked: u64,
    pub seconds: f64,
    /// Documents scored per second (cache hits included).
    pub docs_per_second: f64,
}

/// Scores every planned task with `model`, known to the cache as `model_key`; samples are
/// stored under `run_id`.
pub async fn run_eval<M: LogLikelihoodModel>(
    model: &M,
    model_key: &str,
    tasks: &[PlannedTask],
    store: &Store,
    run_id: i64,
    options: &EvalOptions,
) -> Result<(Vec<TaskResult>, EvalSummary), EvalError> {
    let started = Instant::now();
    let total: u64 = tasks.iter().map(|t| t.data.docs.len() as u64).sum();
    let progress = crate::arena::progress::Progress::new(options.progress.as_ref(), "documents", total);
    let run_progress = crate::arena::progress::RunProgress::start(store, Some(run_id), "documents", total);
    let mut summary = EvalSummary::default();
    let mut results = Vec::new();
    let mut done = 0u64;
    for task in tasks {
        let mut scored = Vec::with_capacity(task.data.docs.len());
        for (doc_id, doc) in task.data.docs.iter().enumerate() {
            if options.cancel.as_ref().is_some_and(|c| c.is_cancelled()) {
                progress.finish();
                run_progress.finish().await;
                return Err(EvalError::Cancelled);
            }
            let context = task.data.context(doc, task.shots);
            let mut lls = Vec::with_capacity(doc.choices.len());
            for i in 0..doc.choices.len() {
                let continuation = doc.continuation(i);
                let value =
                    score(model, model_key, store, &context, &continuation, options.use_cache, &mut summary).await?;
                lls.push(value.logprob);
            }
            scored.push(score_doc(doc_id, doc, &context, &lls, task.data.acc_norm));
            done += 1;
            progress.inc();
            run_progress.set(done);
        }
        let samples: Vec<String> = scored.iter().map(|s| s.sample.to_string()).collect();
        let rows: Vec<NewSample<'_>> = scored
            .iter()
            .zip(&samples)
            .map(|(s, text)| NewSample { doc_id: s.doc_id as i64, correct: s.acc == 1.0, sample: text })
            .collect();
        store.save_eval_samples(run_id, &task.data.name, &rows).await?;
        results.push(TaskResult::from_scored(task, &scored));
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

/// One log-likelihood: from the cache, or asked and stored before it is used.
async fn score<M: LogLikelihoodModel>(
    model: &M,
    model_key: &str,
    store: &Store,
    context: &str,
    continuation: &str,
    use_cache: bool,
    summary: &mut EvalSummary,
) -> Result<CachedLogLikelihood, EvalError> {
    summary.requests += 1;
    let key = hex::encode(Sha256::digest(
        json!({"kind": "loglikelihood", "context": context, "continuation": continuation}).to_string().as_bytes(),
    ));
    if use_cache && let Some(cached) = store.cached_loglikelihood(model_key, &key).await? {
        summary.cache_hits += 1;
        return Ok(cached);
    }
    let ll = model.loglikelihood(context, continuation).await?;
    let value = CachedLogLikelihood { logprob: ll.logprob, greedy: ll.greedy, tokens: ll.tokens as i64 };
    store.save_loglikelihood(model_key, &key, context, continuation, value).await?;
    summary.asked += 1;
    Ok(value)
}

/// The tasks of `datasets`, read from `dir` before any model is loaded.
pub fn plan_tasks(
    datasets: &[(Dataset, Vec<String>, Option<usize>, PathBuf)],
    limit: Option<usize>,
) -> Result<Vec<PlannedTask>, BadInput> {
    let mut planned = Vec::new();
    let mut problems = crate::input::Problems::default();
    for (dataset, subsets, shots, dir) in datasets {
        match dataset.load(dir, subsets) {
            Ok(tasks) => {
                for mut data in tasks {
                    let original = data.docs.len();
                    if let Some(n) = limit {
                        data.docs.truncate(n);
                    }
                    let shots = shots.unwrap_or(dataset.default_shots());
                    // Fewer examples than asked would be a different benchmark, reported as this one.
                    if shots > data.fewshot.len() {
                        problems.push(Problem::new(format!(
                            "{}: {shots} few-shot examples asked for, but its few-shot file holds {} (see jury eval --list \
                             for where it goes, or lower --few-shot)",
                            data.name,
                            data.fewshot.len()
                        )));
                        continue;
                    }
                    planned.push(PlannedTask { data, dataset: *dataset, shots, original });
                }
            }
            Err(e) => problems.extend(e),
        }
    }
    problems.into_result()?;
    Ok(planned)
}
