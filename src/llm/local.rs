//! Local GGUF models run in-process by mistral.rs (CPU, or GPU with the `cuda` feature).

mod stream;

pub use stream::{LocalPrompt, StreamEvent};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Semaphore;

use mistralrs::{GgufModelBuilder, Model, RequestBuilder, SamplingParams, StopTokens, TextMessageRole, TokenSource};

use super::transcode::Weights;
use super::{ChatRequest, ChatResponse, GenerationSettings, LlmError, Usage};

/// One loaded model; shared by every candidate and judge that names the same file.
pub struct LocalChat {
    model: Model,
    path: PathBuf,
    weights: Weights,
    /// Requests the engine decodes together.
    sequences: usize,
    /// Places for requests in flight; each is held until the engine is done with its request,
    /// even when the caller stopped waiting, so the engine never holds more than it was built for.
    slots: Semaphore,
}

/// Sequences one engine decodes together by default: one. On a CPU mistral.rs batches only
/// sequences of equal length, rotates between lengths, and copies each batched sequence's cache
/// in and out at every step, so batching gains little (the demo model: 74.6–85.6 tokens/s one at
/// a time, 102.8–105.3 with sixteen in flight, batched; see the README's benchmarks).
/// `LocalChat::load_batched` batches for those who measured a gain.
pub const DEFAULT_MAX_SEQUENCES: usize = 1;

/// A local engine in a line: its file, its weights (and any transcoding), its threads and how
/// many sequences it decodes together.
pub(crate) fn describe_engine(path: &Path, weights: &Weights, sequences: usize) -> String {
    let file = path.file_name().map_or_else(|| path.display().to_string(), |f| f.to_string_lossy().into());
    let sequences = match sequences {
        1 => "1 sequence at a time".to_string(),
        n => format!("up to {n} sequences batched"),
    };
    format!("{file}: {}, {} threads, {sequences}", weights.describe(), super::engine_threads())
}

/// A builder for the GGUF file at `path`, offline (the file carries its tokenizer and chat
/// template), on the CPU unless built with CUDA, without the prefix cache.
///
/// mistral.rs's prefix cache keeps every finished sequence's key-value cache (room for 512
/// tokens: about 24 MB for the demo model) and evicts only caches on a GPU, so on the CPU a
/// process would grow by that much with each request. It also matches a cached sequence's last
/// token, whose keys and values were never computed. Requests here share little beyond a
/// system prompt, so nothing is lost by turning it off.
///
/// Weights without a fast CPU kernel are loaded from a transcoded copy (`transcode`); what runs
/// is returned beside the builder.
pub async fn gguf_builder(path: &Path, max_sequences: usize) -> Result<(GgufModelBuilder, Weights), LlmError> {
    let source = path.to_path_buf();
    let (load_path, weights) = tokio::task::spawn_blocking(move || super::transcode::prepare(&source))
        .await
        .map_err(|e| LlmError::Local(format!("{}: {e}", path.display())))??;
    let path = load_path.as_path();
    let dir = path.parent().unwrap_or(Path::new("."));
    let file = path
        .file_name()
        .ok_or_else(|| LlmError::Local(format!("{} is not a file", path.display())))?
        .to_string_lossy()
        .into_owned();
    let mut builder = GgufModelBuilder::new(dir.to_string_lossy(), vec![file])
        .with_token_source(TokenSource::None)
        .with_max_num_seqs(max_sequences)
        .with_prefix_cache_n(None);
    // The GGUF builder ignores `with_device`; without CUDA we pin it to the CPU explicitly.
    if !cfg!(feature = "cuda") {
        builder = builder.with_force_cpu();
    }
    Ok((builder, weights))
}

impl LocalChat {
    pub async fn load(path: &Path) -> Result<Self, LlmError> {
        Self::load_batched(path, DEFAULT_MAX_SEQUENCES).await
    }

    /// The model with up to `sequences` requests in flight together, decoded in batches; more
    /// wait for a place.
    pub async fn load_batched(path: &Path, sequences: usize) -> Result<Self, LlmError> {
        let sequences = sequences.max(1);
        let (builder, weights) = gguf_builder(path, sequences).await?;
        let model =
            builder.build().await.map_err(|e| LlmError::Local(format!("cannot load {}: {e:#}", path.display())))?;
        Ok(LocalChat { model, path: path.to_path_buf(), weights, sequences, slots: Semaphore::new(sequences) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What runs, in a line: "FILE: Q4_1 → Q8_0 (transcoded at load), 2 threads, 1 sequence at a time".
    pub fn describe(&self) -> String {
        describe_engine(&self.path, &self.weights, self.sequences)
    }

    /// Answers one request. The engine goes on with a request even when its caller stops
    /// waiting (a cancelled run drops the call), so the request runs in a task of its own that
    /// holds its place until the engine is done.
    pub async fn chat(self: &Arc<Self>, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let model = self.clone();
        let request = request.clone();
        tokio::spawn(async move { model.chat_in_turn(&request).await })
            .await
            .map_err(|e| LlmError::Local(format!("{}: the generation stopped: {e}", self.path.display())))?
    }

    async fn chat_in_turn(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let mut builder = RequestBuilder::new();
        if let Some(system) = &request.system {
            builder = builder.add_message(TextMessageRole::System, system);
        }
        builder =
            builder.add_message(TextMessageRole::User, &request.user).set_sampling(sampling_params(&request.settings));
        let _place = self.slots.acquire().await.map_err(|e| LlmError::Local(e.to_string()))?;
        let started = Instant::now();
        let response = self
            .model
            .send_chat_request(builder)
            .await
            .map_err(|e| LlmError::Local(format!("{}: {e}", self.path.display())))?;
        let latency = started.elapsed();
        let choice = response
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| LlmError::Local("the engine returned no choices".into()))?;
        Ok(ChatResponse {
            text: choice.message.content.unwrap_or_default(),
            usage: Usage {
                prompt_tokens: response.usage.prompt_tokens as u64,
                completion_tokens: response.usage.completion_tokens as u64,
            },
            latency,
            finish_reason: Some(choice.finish_reason),
        })
    }
}

/// Greedy decoding: the highest logit's token. mistral.rs 0.8.1 turns a request without a
/// temperature into one at 1.0 as it queues it (`engine/add_request.rs`), so its
/// `deterministic()` (no temperature, top-k 1) still computes a softmax over the vocabulary and a
/// weighted draw from its one remaining token, every token of every sequence; a temperature of
/// 0 is read as none at all, and the sampler takes the argmax.
pub fn greedy_sampling() -> SamplingParams {
    SamplingParams { temperature: Some(0.0), ..SamplingParams::deterministic() }
}

/// Hugging Face generation settings as mistral.rs sampling parameters.
pub fn sampling_params(s: &GenerationSettings) -> SamplingParams {
    let mut params = if s.is_greedy() {
        greedy_sampling()
    } else {
        let mut p = SamplingParams::neutral();
        p.temperature = Some(s.effective_temperature());
        p.top_p = s.top_p;
        p.top_k = s.top_k.map(|k| k as usize);
        p
    };
    params.max_len = s.max_new_tokens.map(|n| n as usize);
    params.repetition_penalty = s.repetition_penalty;
    params.presence_penalty = s.presence_penalty;
    params.frequency_penalty = s.frequency_penalty;
    if !s.stop.is_empty() {
        params.stop_toks = Some(StopTokens::Seqs(s.stop.clone()));
    }
    params
}
