//! Reward models as judges: a server that scores how good an answer is for a question. Two
//! request shapes are spoken, the ones such servers offer:
//!
//! - vLLM's score API: `POST {api_base}/score` with `{"model", "text_1": QUESTION, "text_2":
//!   [ANSWER, ...]}`, answered with `{"data": [{"index": 0, "score": 0.93}, ...]}`;
//! - Hugging Face text-embeddings-inference's rerank API: `POST {api_base}/rerank` with
//!   `{"query": QUESTION, "texts": [ANSWER, ...], "raw_scores": true}`, answered with
//!   `[{"index": 0, "score": 0.93}, ...]`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::LlmError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RewardApi {
    VllmScore,
    TeiRerank,
}

impl RewardApi {
    pub fn parse(text: &str) -> Option<RewardApi> {
        match text.trim() {
            "vllm_score" | "vllm" | "score" => Some(RewardApi::VllmScore),
            "tei_rerank" | "tei" | "rerank" => Some(RewardApi::TeiRerank),
            _ => None,
        }
    }
}

pub struct RewardModel {
    http: reqwest::Client,
    url: String,
    key: Option<String>,
    model: String,
    api: RewardApi,
}

#[derive(Deserialize)]
struct Scored {
    index: usize,
    score: f64,
}

impl RewardModel {
    pub fn new(
        api: RewardApi,
        api_base: &str,
        key: Option<String>,
        model: &str,
        timeout: Duration,
    ) -> Result<Self, LlmError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| LlmError::Setup(format!("cannot build the HTTP client: {e}")))?;
        let path = match api {
            RewardApi::VllmScore => "score",
            RewardApi::TeiRerank => "rerank",
        };
        let url = format!("{}/{path}", api_base.trim_end_matches('/'));
        Ok(RewardModel { http, url, key, model: model.to_string(), api })
    }

    /// Each answer's score for `question`, in the order given; the server's reply as text.
    pub async fn scores(&self, question: &str, answers: &[&str]) -> Result<(Vec<f64>, String), LlmError> {
        let body = match self.api {
            RewardApi::VllmScore => json!({"model": self.model, "text_1": question, "text_2": answers}),
            RewardApi::TeiRerank => json!({"query": question, "texts": answers, "raw_scores": true}),
        };
        let reply = super::http::post_json(&self.http, &self.url, self.key.as_deref(), &body).await?;
        let list = match self.api {
            RewardApi::VllmScore => reply.get("data").cloned().unwrap_or(serde_json::Value::Null),
            RewardApi::TeiRerank => reply.clone(),
        };
        let bad = |why: String| LlmError::BadResponse(format!("{}: {why}", self.url));
        let scored: Vec<Scored> =
            serde_json::from_value(list).map_err(|e| bad(format!("expected a list of {{index, score}}: {e}")))?;
        let mut scores = vec![None; answers.len()];
        for s in scored {
            let slot = scores.get_mut(s.index).ok_or_else(|| bad(format!("index {} was not asked for", s.index)))?;
            if !s.score.is_finite() {
                return Err(bad(format!("score {} is not a number", s.score)));
            }
            *slot = Some(s.score);
        }
        let scores =
            scores.into_iter().collect::<Option<Vec<f64>>>().ok_or_else(|| bad("an answer has no score".into()))?;
        Ok((scores, reply.to_string()))
    }
}
