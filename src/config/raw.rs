//! The arena config exactly as written in YAML (llmuses/EvalScope key names, plus jury's
//! extensions). Everything is optional here; `arena.rs` validates and resolves it.

use indexmap::IndexMap;
use serde::{Deserialize, Deserializer};

#[derive(Debug, Default, Deserialize)]
pub struct RawArenaConfig {
    #[serde(alias = "questions_file")]
    pub question_file: Option<String>,
    /// jury extension: record the questions under this stored question set (web-started runs).
    pub question_set_id: Option<i64>,
    pub answers_gen: Option<IndexMap<String, Option<RawCandidate>>>,
    pub reviews_gen: Option<RawReviews>,
    #[serde(alias = "elo_rating")]
    pub rating_gen: Option<RawRating>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawCandidate {
    pub enable: Option<bool>,
    pub model_id_or_path: Option<String>,
    #[serde(default, deserialize_with = "stringish")]
    pub revision: Option<String>,
    #[serde(default, deserialize_with = "stringish")]
    pub precision: Option<String>,
    pub template_type: Option<String>,
    pub generation_config: Option<RawGeneration>,
    pub output_file: Option<String>,
    // jury extensions
    pub system_prompt: Option<String>,
    pub api_base: Option<String>,
    pub api_key_env: Option<String>,
    pub model: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawGeneration {
    pub do_sample: Option<bool>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<i64>,
    #[serde(alias = "max_tokens")]
    pub max_new_tokens: Option<i64>,
    pub repetition_penalty: Option<f32>,
    pub presence_penalty: Option<f32>,
    pub frequency_penalty: Option<f32>,
    #[serde(default, deserialize_with = "one_or_many", alias = "stop_sequences")]
    pub stop: Option<Vec<String>>,
    pub seed: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawReviews {
    pub enable: Option<bool>,
    pub reviewer: Option<RawReviewer>,
    /// A panel of judges (jury extension), each like `reviewer`.
    pub reviewers: Option<Vec<RawPanelReviewer>>,
    /// How a panel's verdicts are combined: majority, mean or weighted.
    pub aggregation: Option<String>,
    /// Each panel judge's weight under `aggregation: weighted`.
    pub weights: Option<std::collections::BTreeMap<String, f64>>,
    /// Peer mode: whether a candidate also judges battles of its own answers.
    pub self_judging: Option<bool>,
    pub prompt_file: Option<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub target_answers: Option<Vec<String>>,
    pub baseline_file: Option<String>,
    pub reference_file: Option<String>,
    pub review_file: Option<String>,
    pub cache_file: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawReviewer {
    #[serde(rename = "ref")]
    pub class_ref: Option<String>,
    pub args: Option<RawReviewerArgs>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawPanelReviewer {
    #[serde(rename = "ref")]
    pub class_ref: Option<String>,
    pub args: Option<RawReviewerArgs>,
    /// Its own judge prompts (default: `reviews_gen.prompt_file`).
    pub prompt_file: Option<String>,
    /// Its own review file (default: the panel's, suffixed with its name).
    pub review_file: Option<String>,
    /// Peer mode: the candidate this judge is (its answers came from a file).
    pub as_candidate: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawReviewerArgs {
    pub model: Option<String>,
    pub max_tokens: Option<i64>,
    pub temperature: Option<f64>,
    pub mode: Option<String>,
    pub position_bias_mitigation: Option<String>,
    pub random_seed: Option<u64>,
    pub fn_completion_parser: Option<String>,
    // jury extensions
    /// The name the judge's verdicts are stored and shown under (default: `model`).
    pub name: Option<String>,
    pub api_base: Option<String>,
    pub api_key_env: Option<String>,
    pub model_id_or_path: Option<String>,
    /// Seconds before one judge request is abandoned and retried.
    pub timeout: Option<f64>,
    /// Retries of a failed request (429, 5xx, timeouts, refused connections).
    pub max_retries: Option<u32>,
    /// Times an unparseable verdict is asked again before it is stored as `unknown`.
    pub parse_retries: Option<u32>,
    /// A reward model instead of a chat model: `vllm_score` or `tei_rerank`.
    pub reward_api: Option<String>,
    /// A reward judge's pairwise verdict is a tie when the two scores differ by at most this.
    pub tie_margin: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawRating {
    pub enable: Option<bool>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub metrics: Option<Vec<String>>,
    pub baseline_model: Option<String>,
    pub report_file: Option<String>,
    // jury extensions
    /// Elo's K (llmuses used 32).
    pub k: Option<f64>,
    /// Bootstrap rounds for the intervals (0: none).
    pub bootstrap: Option<u64>,
    pub seed: Option<u64>,
}

/// Accepts a scalar of any type as text: `revision: v1.0.2`, `revision: 2`, `precision: torch.float16`.
fn stringish<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let value = Option::<serde_yaml::Value>::deserialize(deserializer)?;
    match value {
        None | Some(serde_yaml::Value::Null) => Ok(None),
        Some(serde_yaml::Value::String(s)) => Ok(Some(s)),
        Some(serde_yaml::Value::Number(n)) => Ok(Some(n.to_string())),
        Some(serde_yaml::Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(serde::de::Error::custom("expected a single value, not a list or mapping")),
    }
}

/// Accepts `x` or `[x, y]` where a list is expected.
fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    match Option::<OneOrMany>::deserialize(deserializer) {
        Ok(None) => Ok(None),
        Ok(Some(OneOrMany::One(s))) => Ok(Some(vec![s])),
        Ok(Some(OneOrMany::Many(v))) => Ok(Some(v)),
        Err(_) => Err(serde::de::Error::custom("expected a text value or a list of text values")),
    }
}
