//! Sampling settings, in the vocabulary of Hugging Face's `generation_config` (which llmuses
//! configs use) and mapped onto each back end.

use serde::{Deserialize, Serialize};

/// What a candidate or judge is asked to generate with. `None` leaves a setting to the back end.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GenerationSettings {
    /// `false` forces greedy decoding whatever the temperature (as in Hugging Face).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub do_sample: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_new_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repetition_penalty: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl GenerationSettings {
    /// Greedy decoding: `do_sample: false`, a temperature of zero, or neither sampling nor a
    /// temperature asked for (Hugging Face's default is `do_sample: false`).
    pub fn is_greedy(&self) -> bool {
        self.do_sample == Some(false)
            || self.temperature.is_some_and(|t| t <= 0.0)
            || (self.do_sample.is_none() && self.temperature.is_none())
    }

    /// The temperature to use: 0 when greedy, else the configured one (1.0 if sampling
    /// was asked for without one, as in Hugging Face).
    pub fn effective_temperature(&self) -> f64 {
        if self.is_greedy() { 0.0 } else { self.temperature.unwrap_or(1.0) }
    }
}
