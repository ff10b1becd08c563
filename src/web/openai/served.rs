//! The local models `/v1` serves, each with a bounded queue: a request beyond the bound is
//! answered 429 with Retry-After at once rather than piling up.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use axum::http::StatusCode;

use super::error::OpenAiError;
use crate::llm::ModelPool;

/// The demo model's name on `/v1`.
pub const DEMO_MODEL_NAME: &str = "smollm2-135m-instruct";

pub struct ServedModel {
    pub name: String,
    pub path: PathBuf,
    /// Requests admitted and not yet finished (the one running included).
    admitted: Arc<AtomicUsize>,
    /// What its weights run as, read from the file once it exists.
    weights: OnceLock<String>,
}

impl ServedModel {
    /// The weights' quant type and any transcoding ("Q4_1 → Q8_0 (transcoded at load)"), or
    /// `None` while the file cannot be read (the demo model before its first download).
    pub fn weights(&self) -> Option<&str> {
        if let Some(known) = self.weights.get() {
            return Some(known);
        }
        #[cfg(feature = "local")]
        if let Ok(plan) = crate::llm::transcode::plan(&self.path) {
            return Some(self.weights.get_or_init(|| plan.describe()));
        }
        None
    }
}

pub struct ServedModels {
    pub models: Vec<ServedModel>,
    /// Keys callers must give (`JURY_API_KEYS`); none: clients on this machine only.
    pub api_keys: Vec<String>,
    /// Requests one model admits at once, running and waiting.
    pub queue_size: usize,
    pub pool: Arc<ModelPool>,
}

impl ServedModels {
    pub fn new(models: Vec<(String, PathBuf)>, api_keys: Vec<String>, queue_size: usize, pool: Arc<ModelPool>) -> Self {
        let models = models
            .into_iter()
            .map(|(name, path)| ServedModel {
                name,
                path,
                admitted: Arc::new(AtomicUsize::new(0)),
                weights: OnceLock::new(),
            })
            .collect();
        ServedModels { models, api_keys, queue_size: queue_size.max(1), pool }
    }

    pub fn find(&self, name: &str) -> Result<&ServedModel, OpenAiError> {
        self.models.iter().find(|m| m.name == name).ok_or_else(|| {
            let names: Vec<&str> = self.models.iter().map(|m| m.name.as_str()).collect();
            OpenAiError {
                param: Some("model"),
                ..OpenAiError::new(
                    StatusCode::NOT_FOUND,
                    "invalid_request_error",
                    format!("the model {name:?} is not served here (served: {})", names.join(", ")),
                )
            }
        })
    }

    /// A place in `model`'s queue, or 429 when it is full.
    pub fn admit(&self, model: &ServedModel) -> Result<QueueSlot, OpenAiError> {
        let before = model.admitted.fetch_add(1, Ordering::SeqCst);
        let slot = QueueSlot(model.admitted.clone());
        if before >= self.queue_size {
            drop(slot);
            return Err(OpenAiError {
                retry_after: Some(1),
                ..OpenAiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limit_error",
                    format!("{} has {} requests queued already; try again shortly", model.name, self.queue_size),
                )
            });
        }
        Ok(slot)
    }
}

/// Held while a request is queued or answered; leaving frees the place.
pub struct QueueSlot(Arc<AtomicUsize>);

impl Drop for QueueSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
