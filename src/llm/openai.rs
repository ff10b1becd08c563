//! Any OpenAI-compatible chat-completions server, through async-openai.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::retry::{Backoff, BufferedReqwest, RetryPolicy, RetryStats};
use super::{ChatRequest, ChatResponse, LlmError, Usage};

/// How patient a client is with its server.
#[derive(Debug, Clone)]
pub struct RemoteOptions {
    /// Per attempt, from sending the request to the last byte of the reply.
    pub timeout: Duration,
    pub backoff: Backoff,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        RemoteOptions { timeout: Duration::from_secs(120), backoff: Backoff::default() }
    }
}

pub struct OpenAiChat {
    client: Client<OpenAIConfig>,
    api_base: String,
    model: String,
    stats: Arc<RetryStats>,
}

impl OpenAiChat {
    pub fn new(api_base: &str, api_key: Option<String>, model: &str, options: RemoteOptions) -> Result<Self, LlmError> {
        let api_base = api_base.trim_end_matches('/').to_string();
        let mut config = OpenAIConfig::new().with_api_base(&api_base);
        // async-openai falls back to OPENAI_API_KEY; an explicit empty key keeps a keyless
        // local server from receiving someone else's key.
        config = config.with_api_key(api_key.unwrap_or_default());
        let http = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| LlmError::Setup(format!("cannot build the HTTP client: {e}")))?;
        let stats = Arc::new(RetryStats::default());
        let service = tower::ServiceBuilder::new()
            .retry(RetryPolicy::new(options.backoff.clone(), stats.clone()))
            .service(BufferedReqwest::new(http.clone()));
        let client = Client::build(http, config).with_http_service(service);
        Ok(OpenAiChat { client, api_base, model: model.to_string(), stats })
    }

    pub fn stats(&self) -> &Arc<RetryStats> {
        &self.stats
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    pub async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let body = self.request_body(request);
        let started = Instant::now();
        let reply: LenientResponse = self.client.chat().create_byot(body).await.map_err(|e| self.error(e))?;
        let latency = started.elapsed();
        let choice = reply
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| LlmError::BadResponse(format!("{}: the reply has no choices", self.api_base)))?;
        let text = choice.message.and_then(|m| m.content).or(choice.text).unwrap_or_default();
        let usage = reply.usage.map(|u| Usage {
            prompt_tokens: u.prompt_tokens.unwrap_or(0),
            completion_tokens: u.completion_tokens.unwrap_or(0),
        });
        Ok(ChatResponse {
            text,
            usage: usage.unwrap_or_default(),
            latency,
            finish_reason: choice.finish_reason.map(|v| match v {
                Value::String(s) => s,
                other => other.to_string(),
            }),
        })
    }

    /// The JSON body: standard OpenAI fields, plus `top_k` / `repetition_penalty` only when
    /// set (vLLM, llama.cpp and others accept them; OpenAI's own API rejects them).
    fn request_body(&self, request: &ChatRequest) -> Value {
        let mut messages = Vec::new();
        if let Some(system) = &request.system {
            messages.push(json!({"role": "system", "content": system}));
        }
        messages.push(json!({"role": "user", "content": request.user}));
        let mut body = Map::new();
        body.insert("model".into(), json!(self.model));
        body.insert("messages".into(), Value::Array(messages));
        body.insert("stream".into(), json!(false));
        let s = &request.settings;
        body.insert("temperature".into(), json!(s.effective_temperature()));
        if !s.is_greedy() {
            if let Some(p) = s.top_p {
                body.insert("top_p".into(), json!(p));
            }
            if let Some(k) = s.top_k {
                body.insert("top_k".into(), json!(k));
            }
        }
        if let Some(n) = s.max_new_tokens {
            body.insert("max_tokens".into(), json!(n));
        }
        if let Some(r) = s.repetition_penalty {
            body.insert("repetition_penalty".into(), json!(r));
        }
        if let Some(p) = s.presence_penalty {
            body.insert("presence_penalty".into(), json!(p));
        }
        if let Some(p) = s.frequency_penalty {
            body.insert("frequency_penalty".into(), json!(p));
        }
        if !s.stop.is_empty() {
            body.insert("stop".into(), json!(s.stop));
        }
        if let Some(seed) = s.seed {
            body.insert("seed".into(), json!(seed));
        }
        Value::Object(body)
    }

    fn error(&self, error: OpenAIError) -> LlmError {
        let base = &self.api_base;
        match error {
            OpenAIError::ApiError(e) => {
                LlmError::Http { endpoint: base.clone(), status: e.status_code.as_u16(), message: e.api_error.message }
            }
            OpenAIError::Reqwest(e) if e.is_timeout() => LlmError::Timeout(base.clone()),
            OpenAIError::Reqwest(e) if e.is_connect() => LlmError::Connect(base.clone(), e.to_string()),
            OpenAIError::Reqwest(e) => LlmError::Connect(base.clone(), e.to_string()),
            OpenAIError::JSONDeserialize(e, content) => {
                let mut content = content;
                content.truncate(300);
                LlmError::BadResponse(format!("{base}: unreadable reply ({e}): {content}"))
            }
            other => LlmError::BadResponse(format!("{base}: {other}")),
        }
    }
}

/// The parts of a chat-completion reply we use, read leniently: servers differ in
/// `finish_reason` values and in which fields they fill.
#[derive(Debug, Deserialize)]
struct LenientResponse {
    #[serde(default)]
    choices: Vec<LenientChoice>,
    usage: Option<LenientUsage>,
}

#[derive(Debug, Deserialize)]
struct LenientChoice {
    message: Option<LenientMessage>,
    text: Option<String>,
    finish_reason: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct LenientMessage {
    content: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LenientUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
}
