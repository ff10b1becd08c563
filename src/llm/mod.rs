//! One interface for chat models, with two back ends: in-process mistral.rs (`local`
//! feature) and any OpenAI-compatible endpoint.

pub mod completions_scoring;
pub mod demo;
pub mod http;
#[cfg(feature = "local")]
pub mod local;
pub mod openai;
pub mod retry;
pub mod reward;
#[cfg(feature = "local")]
pub mod scoring;
#[cfg(feature = "local")]
pub mod transcode;

/// Threads the engine's CPU kernels use: `RAYON_NUM_THREADS`, else one per core.
pub fn engine_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Requests one local model decodes together (see `local::DEFAULT_MAX_SEQUENCES`).
#[cfg(feature = "local")]
pub const DEFAULT_LOCAL_SEQUENCES: usize = local::DEFAULT_MAX_SEQUENCES;
#[cfg(not(feature = "local"))]
pub const DEFAULT_LOCAL_SEQUENCES: usize = 1;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, OnceCell};

pub use crate::spec::GenerationSettings;
pub use openai::{OpenAiChat, RemoteOptions};
pub use retry::{Backoff, RetryStats};

use crate::spec::ModelSpec;

/// What tells this model's answers apart in caches: `spec.identity()`, plus the weights' quant
/// type where jury runs a local file transcoded (`transcode`), whose answers differ slightly, and
/// for local files a mark of how the engine tokenizes.
pub fn model_identity(spec: &ModelSpec) -> String {
    #[cfg_attr(not(feature = "local"), allow(unused_mut))]
    let mut identity = spec.identity();
    #[cfg(feature = "local")]
    if let ModelSpec::Local { path } = spec {
        // Local engines split text as the file's vocabulary was trained (`tokenizer.ggml.pre`,
        // vendor/README.md); what was cached before that was computed from other tokens.
        identity.push_str(" split per tokenizer.ggml.pre");
        if let Ok(weights) = transcode::plan(path)
            && let Some(suffix) = weights.identity_suffix()
        {
            identity = format!("{identity} {suffix}");
        }
    }
    identity
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    pub system: Option<String>,
    pub user: String,
    pub settings: GenerationSettings,
}

/// Random sampling for generation (greedy when absent): HumanEval's pass@k from several samples.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Sampling {
    pub temperature: f64,
    pub top_p: f64,
    /// Sent to servers that take one; the local engine draws from its own generator.
    pub seed: u64,
}

/// What a model thinks of a continuation after a context.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogLikelihood {
    /// Sum of the natural-log probabilities of the continuation's tokens.
    pub logprob: f64,
    /// Every continuation token was the model's most likely next token.
    pub greedy: bool,
    pub tokens: usize,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

#[derive(Debug, Clone)]
pub struct ChatResponse {
    pub text: String,
    pub usage: Usage,
    pub latency: Duration,
    pub finish_reason: Option<String>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum LlmError {
    #[error("{endpoint} answered HTTP {status}: {message}")]
    Http { endpoint: String, status: u16, message: String },
    #[error("{0} did not answer in time")]
    Timeout(String),
    #[error("cannot reach {0}: {1}")]
    Connect(String, String),
    #[error("{0}")]
    BadResponse(String),
    #[error("{0}")]
    Setup(String),
    /// The server cannot give a prompt's log-probabilities (no echo with logprobs).
    #[error("{0}")]
    NoPromptLogprobs(String),
    #[error("local model: {0}")]
    Local(String),
}

/// A model that can be chatted with.
#[derive(Clone)]
pub enum ChatModel {
    Remote(Arc<OpenAiChat>),
    #[cfg(feature = "local")]
    Local(Arc<local::LocalChat>),
}

impl ChatModel {
    pub async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        match self {
            ChatModel::Remote(m) => m.chat(request).await,
            #[cfg(feature = "local")]
            ChatModel::Local(m) => m.chat(request).await,
        }
    }

    /// Retries made by a remote client so far (local models never retry).
    pub fn retries(&self) -> u64 {
        match self {
            ChatModel::Remote(m) => m.stats().retries(),
            #[cfg(feature = "local")]
            ChatModel::Local(_) => 0,
        }
    }
}

/// Opens models, loading each local file once per process however many candidates and
/// judges use it.
#[derive(Default)]
pub struct ModelPool {
    #[allow(dead_code)]
    local: Mutex<HashMap<PathBuf, Arc<OnceCell<ChatModel>>>>,
    loads: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for ModelPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelPool").field("loaded", &self.loaded()).finish()
    }
}

impl ModelPool {
    pub fn new() -> Self {
        Self::default()
    }

    /// Local model files loaded so far.
    pub fn loaded(&self) -> usize {
        self.loads.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub async fn open(&self, spec: &ModelSpec, remote: RemoteOptions) -> Result<ChatModel, LlmError> {
        match spec {
            ModelSpec::Remote { api_base, api_key_env, model } => {
                let key = std::env::var(api_key_env).ok().filter(|k| !k.trim().is_empty());
                Ok(ChatModel::Remote(Arc::new(OpenAiChat::new(api_base, key, model, remote)?)))
            }
            ModelSpec::Local { path } => self.open_local(path).await,
        }
    }

    #[cfg(feature = "local")]
    async fn open_local(&self, path: &std::path::Path) -> Result<ChatModel, LlmError> {
        // Fetch the demo model before keying the cache on its canonical path.
        if demo::is_demo_model_path(path) && !path.is_file() {
            let target = path.to_path_buf();
            tokio::task::spawn_blocking(move || demo::ensure_demo_model(&target))
                .await
                .map_err(|e| LlmError::Setup(e.to_string()))?
                .map_err(|e| LlmError::Setup(e.to_string()))?;
        }
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let cell = self.local.lock().await.entry(key).or_default().clone();
        let model = cell
            .get_or_try_init(|| async {
                tracing::info!(path = %path.display(), "loading local model");
                let chat = local::LocalChat::load(path).await?;
                self.loads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Ok::<_, LlmError>(ChatModel::Local(Arc::new(chat)))
            })
            .await?;
        Ok(model.clone())
    }

    /// The local model at `path` itself (loaded once per process, as for `open`).
    #[cfg(feature = "local")]
    pub async fn open_local_chat(&self, path: &std::path::Path) -> Result<Arc<local::LocalChat>, LlmError> {
        match self.open_local(path).await? {
            ChatModel::Local(chat) => Ok(chat),
            ChatModel::Remote(_) => Err(LlmError::Setup(format!("{} is not a local model", path.display()))),
        }
    }

    #[cfg(not(feature = "local"))]
    async fn open_local(&self, path: &std::path::Path) -> Result<ChatModel, LlmError> {
        Err(LlmError::Setup(format!(
            "{}: this jury was built without local model support (the `local` cargo feature)",
            path.display()
        )))
    }
}
