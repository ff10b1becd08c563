//! Stage 1: every enabled candidate answers every question. Answers are stored as they
//! arrive; a re-run reuses those made with the same model, settings and question.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::part::Part;
use super::progress::{Progress, RunProgress};
use super::{ArenaError, ArenaOptions};
use crate::config::{ArenaConfig, Candidate, ModelSpec};
use crate::data::jsonl::write_jsonl;
use crate::data::{AnswerRecord, Question, QuestionId};
use crate::llm::{Backoff, ChatModel, ChatRequest, ModelPool, RemoteOptions};
use crate::store::Store;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AnswerSummary {
    pub candidates: u64,
    pub generated: u64,
    pub reused: u64,
    pub failed: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Tokens per second of generation across all candidates (wall-clock).
    pub tokens_per_second: Option<f64>,
    pub seconds: f64,
    pub files: Vec<PathBuf>,
    /// What ran each local model file: its weights, threads and sequences decoded together.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub local_models: Vec<String>,
}

/// The hash that says "these answers came from the same model and settings".
pub fn settings_hash(candidate: &Candidate) -> String {
    let key = json!({
        "model": candidate.model,
        "system_prompt": candidate.system_prompt,
        "generation": candidate.generation,
    });
    hex::encode(Sha256::digest(key.to_string().as_bytes()))
}

struct Job {
    candidate: usize,
    question: usize,
}

struct Done {
    candidate: usize,
    question: usize,
    text: String,
    prompt_tokens: u64,
    completion_tokens: u64,
    latency: Duration,
    reused: bool,
}

pub async fn generate_answers(
    config: &ArenaConfig,
    store: &Store,
    pool: &ModelPool,
    questions: &[Question],
    question_ids: &HashMap<QuestionId, i64>,
    run_id: Option<i64>,
    options: &ArenaOptions,
) -> Result<AnswerSummary, ArenaError> {
    let started = Instant::now();
    // A worker doing a unit answers one candidate's share of the questions.
    let (only, range) = match &options.part {
        Some(Part::Answers { candidate, from, to }) => {
            let to = (*to).min(questions.len());
            (Some(candidate.as_str()), (*from).min(to)..to)
        }
        _ => (None, 0..questions.len()),
    };
    let part = only.is_some();
    let questions = &questions[range];
    let candidates: Vec<&Candidate> =
        config.enabled_candidates().filter(|c| only.is_none_or(|name| c.name == name)).collect();
    let mut summary = AnswerSummary { candidates: candidates.len() as u64, ..Default::default() };
    if candidates.is_empty() {
        return Ok(summary);
    }

    // Models open on first use: where every answer is stored already (a re-run, or the run's
    // own pass after workers answered), no local model is loaded at all. Candidates sharing a
    // local file share one load.
    let models: Vec<tokio::sync::OnceCell<ChatModel>> = candidates.iter().map(|_| Default::default()).collect();
    let mut model_ids = Vec::new();
    let mut hashes = Vec::new();
    for c in &candidates {
        let backend = match c.model {
            ModelSpec::Local { .. } => "local",
            ModelSpec::Remote { .. } => "remote",
        };
        let description = json!({
            "model": c.model,
            "system_prompt": c.system_prompt,
            "generation": c.generation,
        });
        model_ids.push(store.upsert_model(&c.name, backend, &description).await?);
        hashes.push(settings_hash(c));
    }

    let jobs: Vec<Job> = (0..candidates.len())
        .flat_map(|c| (0..questions.len()).map(move |q| Job { candidate: c, question: q }))
        .collect();
    let progress = Progress::new(options.progress.as_ref(), "answers", jobs.len() as u64);
    let mut results: Vec<Vec<Option<Done>>> =
        candidates.iter().map(|_| (0..questions.len()).map(|_| None).collect()).collect();
    let models = Arc::new(models);
    let cancel = options.cancel.clone().unwrap_or_default();
    let mut stream = futures::stream::iter(jobs.into_iter().map(|job| {
        let models = models.clone();
        let candidate = candidates[job.candidate];
        let question = &questions[job.question];
        let question_db_id = question_ids[&question.id];
        let model_db_id = model_ids[job.candidate];
        let hash = hashes[job.candidate].clone();
        let cancel = cancel.clone();
        async move {
            if let Some(stored) = store.find_answer(question_db_id, model_db_id, &hash).await? {
                return Ok::<_, ArenaError>(Done {
                    candidate: job.candidate,
                    question: job.question,
                    text: stored.text,
                    prompt_tokens: stored.prompt_tokens.unwrap_or(0) as u64,
                    completion_tokens: stored.completion_tokens.unwrap_or(0) as u64,
                    latency: Duration::from_millis(stored.latency_ms.unwrap_or(0) as u64),
                    reused: true,
                });
            }
            let request = ChatRequest {
                system: candidate.system_prompt.clone(),
                user: question.text.clone(),
                settings: candidate.generation.clone(),
            };
            let model = models[job.candidate]
                .get_or_try_init(|| async {
                    if let ModelSpec::Local { path } = &candidate.model {
                        tracing::info!(candidate = %candidate.name, model = %path.display(), "opening local model");
                    }
                    let remote = RemoteOptions { timeout: Duration::from_secs(600), backoff: Backoff::default() };
                    pool.open(&candidate.model, remote).await
                })
                .await?;
            // Only the call is cut short on cancel: an answer that came back is stored below.
            let reply = tokio::select! {
                biased;
                reply = model.chat(&request) => reply,
                _ = cancel.cancelled() => return Err(ArenaError::Cancelled),
            };
            let reply = reply.map_err(|e| {
                ArenaError::Failed(format!("{} could not answer question {}: {e}", candidate.name, question.id))
            })?;
            store
                .insert_answer(
                    question_db_id,
                    model_db_id,
                    &hash,
                    &reply.text,
                    reply.usage.prompt_tokens,
                    reply.usage.completion_tokens,
                    reply.latency.as_millis() as u64,
                )
                .await?;
            Ok(Done {
                candidate: job.candidate,
                question: job.question,
                text: reply.text,
                prompt_tokens: reply.usage.prompt_tokens,
                completion_tokens: reply.usage.completion_tokens,
                latency: reply.latency,
                reused: false,
            })
        }
    }))
    .take_until(Box::pin(cancel.clone().cancelled_owned()))
    .buffer_unordered(options.concurrency.max(1));

    let mut done_count = 0u64;
    let total = (candidates.len() * questions.len()) as u64;
    // A unit's progress is counted by the run's own worker, unit by unit.
    let run_progress = RunProgress::start(store, run_id.filter(|_| !part), "answers", total);
    let mut generated_tokens = 0u64;
    while let Some(result) = stream.next().await {
        done_count += 1;
        progress.inc();
        match result {
            Ok(done) => {
                if done.reused {
                    summary.reused += 1;
                } else {
                    summary.generated += 1;
                    summary.prompt_tokens += done.prompt_tokens;
                    summary.completion_tokens += done.completion_tokens;
                    generated_tokens += done.completion_tokens;
                }
                let (c, q) = (done.candidate, done.question);
                results[c][q] = Some(done);
            }
            Err(ArenaError::Failed(message)) => {
                summary.failed += 1;
                progress.println(&message);
            }
            Err(ArenaError::Cancelled) => {}
            Err(other) => return Err(other),
        }
        run_progress.set(done_count);
    }
    drop(stream);
    run_progress.finish().await;
    progress.finish();
    if cancel.is_cancelled() {
        return Err(ArenaError::Cancelled);
    }
    #[cfg(feature = "local")]
    for model in models.iter().filter_map(|m| m.get()) {
        if let ChatModel::Local(local) = model {
            let line = local.describe();
            if !summary.local_models.contains(&line) {
                summary.local_models.push(line);
            }
        }
    }
    summary.seconds = started.elapsed().as_secs_f64();
    if part {
        // The run's own pass writes the answer files whole.
        return Ok(summary);
    }

    for (c, candidate) in candidates.iter().enumerate() {
        let records: Vec<AnswerRecord> = results[c]
            .iter()
            .enumerate()
            .filter_map(|(q, done)| done.as_ref().map(|d| answer_record(candidate, &questions[q], d)))
            .collect();
        write_jsonl(&candidate.output_file, &records)
            .map_err(|e| ArenaError::Failed(format!("cannot write {}: {e}", candidate.output_file.display())))?;
        summary.files.push(candidate.output_file.clone());
    }
    summary.seconds = started.elapsed().as_secs_f64();
    if summary.generated > 0 && summary.seconds > 0.0 {
        summary.tokens_per_second = Some(generated_tokens as f64 / summary.seconds);
    }
    Ok(summary)
}

fn answer_record(candidate: &Candidate, question: &Question, done: &Done) -> AnswerRecord {
    AnswerRecord {
        question_id: question.id.clone(),
        text: question.text.clone(),
        category: question.category.clone(),
        model_id: candidate.name.clone(),
        metadata: json!({
            "generation_config": candidate.generation,
            "system_prompt": candidate.system_prompt,
            "prompt_tokens": done.prompt_tokens,
            "completion_tokens": done.completion_tokens,
            "latency_ms": done.latency.as_millis() as u64,
        }),
        answer: done.text.clone(),
    }
}
