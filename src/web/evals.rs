//! Evals started from the pages: the request becomes a queued run whose config is the eval's
//! settings; the job worker runs it like an arena round. Models are the server's own choices
//! (its shipped local models and its configured judges' endpoints), never a request's.

use serde::Deserialize;

use super::error::WebError;
use super::state::AppState;
use crate::config::ModelSpec;
use crate::eval::job::{EvalTarget, QueuedEval};

#[derive(Debug, Clone, Default, Deserialize)]
pub struct EvalRequest {
    /// `local:NAME` (a shipped local model) or `served:NAME` (a configured judge's endpoint).
    pub model: String,
    #[serde(default)]
    pub datasets: Vec<String>,
    #[serde(default)]
    pub limit: Option<usize>,
}

impl EvalRequest {
    /// From an HTML form, where each ticked dataset is its own `datasets` field.
    pub fn from_form(fields: Vec<(String, String)>) -> Result<EvalRequest, WebError> {
        let mut r = EvalRequest::default();
        for (k, v) in fields {
            match k.as_str() {
                "model" => r.model = v,
                "datasets" => r.datasets.push(v),
                "limit" if !v.trim().is_empty() => {
                    r.limit =
                        Some(v.trim().parse().map_err(|_| WebError::BadRequest(format!("limit: not a number: {v}")))?)
                }
                _ => {}
            }
        }
        Ok(r)
    }
}

/// The models an eval from the pages may use: label and request value.
pub fn model_choices(state: &AppState) -> Vec<(String, String)> {
    let mut out = Vec::new();
    // An eval runs the file greedily whatever a candidate's sampling: each file once.
    let mut files = Vec::new();
    for c in &state.registry.candidates {
        if let ModelSpec::Local { path } = &c.model
            && !files.contains(&path)
        {
            files.push(path);
            let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
            out.push((format!("{file} (local)"), format!("local:{}", c.name)));
        }
    }
    for j in state.judges.iter() {
        out.push((format!("{} at {}", j.model, j.api_base()), format!("served:{}", j.name)));
    }
    out
}

/// Checks the request, reads its datasets (bad data is refused now), and queues the eval.
pub async fn start(state: &AppState, request: &EvalRequest) -> Result<i64, WebError> {
    let target = match request.model.split_once(':') {
        Some(("local", name)) => match state.registry.candidate(name).map(|c| &c.model) {
            Some(ModelSpec::Local { path }) => EvalTarget::Local { path: path.clone() },
            _ => return Err(WebError::BadRequest(format!("no shipped local model {name}"))),
        },
        Some(("served", name)) => match state.judges.iter().find(|j| j.name == name) {
            Some(j) => EvalTarget::Endpoint {
                url: j.api_base(),
                name: j.model.clone(),
                api_key_env: Some(j.api_key_env.clone()),
            },
            None => return Err(WebError::BadRequest(format!("no configured endpoint {name}"))),
        },
        _ => return Err(WebError::BadRequest("choose a model: local:NAME or served:NAME".into())),
    };
    let queued = QueuedEval {
        target,
        datasets: request.datasets.clone(),
        dataset_dir: state.dataset_dir.clone(),
        limit: request.limit,
        plans: Vec::new(),
        use_cache: true,
    };
    queued.plan().map_err(WebError::Rejected)?;
    let config = serde_json::to_string(&queued).map_err(|e| WebError::Internal(e.to_string()))?;
    let title = format!("{} · {}", queued.target.label(), queued.datasets.join(", "));
    // A work folder, so a server that stopped without a word puts the eval back in the queue.
    let dir = state.data_dir.join("evals").join(super::security::new_session_id());
    std::fs::create_dir_all(&dir).map_err(|e| WebError::Internal(format!("cannot make {}: {e}", dir.display())))?;
    let needs = queued.target.needs();
    let id = state
        .store
        .enqueue_run_needing("eval", &title, &config, false, &dir.display().to_string(), needs.as_deref())
        .await?;
    state.jobs.notify();
    Ok(id)
}
