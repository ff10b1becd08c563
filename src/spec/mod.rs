//! What configs and model back ends share: where a model runs and what it is asked to
//! generate with. It depends on nothing else in jury, so `config` and `llm` both build on it.

mod generation;
mod model;

pub use generation::GenerationSettings;
pub use model::{
    DEFAULT_API_KEY_ENV, DEMO_MODEL_FILE, LocalModelError, ModelSpec, OPENAI_DEFAULT_BASE, file_digest,
    is_demo_model_path, local_model_here, local_model_name, resolve_local_model, set_local_model_places,
};
