//! The OpenAI-compatible API over the server's local models: `GET /v1/models`,
//! `POST /v1/chat/completions`, `POST /v1/completions`. Errors come in OpenAI's shape; callers
//! need a key from `JURY_API_KEYS`, or are on this machine when none is set.

#[cfg(feature = "local")]
mod chat;
mod error;
mod keys;
pub mod served;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};

use self::keys::ApiCaller;
use crate::web::state::AppState;

pub fn routes() -> Router<AppState> {
    let router = Router::new().route("/v1/models", get(models));
    #[cfg(feature = "local")]
    let router = router
        .route("/v1/chat/completions", axum::routing::post(chat::chat_completions))
        .route("/v1/completions", axum::routing::post(chat::completions));
    router
}

async fn models(_caller: ApiCaller, State(state): State<AppState>) -> Json<Value> {
    let threads = crate::llm::engine_threads();
    let data: Vec<Value> = state
        .served
        .models
        .iter()
        .map(|m| {
            json!({"id": m.name, "object": "model", "created": 0, "owned_by": "jury",
                   "file": m.path.file_name().map(|f| f.to_string_lossy().into_owned()),
                   "weights": m.weights(), "threads": threads,
                   "max_sequences": crate::llm::DEFAULT_LOCAL_SEQUENCES,
                   "queue_size": state.served.queue_size})
        })
        .collect();
    Json(json!({"object": "list", "data": data}))
}
