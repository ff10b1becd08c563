//! One request to an OpenAI-compatible server, timed: when it left, when each chunk with
//! content arrived, when it ended, and why it failed.
//!
//! Streams are read incrementally as Server-Sent Events (`eventsource-stream`, which keeps UTF-8
//! characters and events that are split across reads whole and skips comments); a stream must
//! end with `[DONE]`, and an error event or an error object in a chunk fails the request. A
//! streamed request answered with something other than an event stream is read whole (an
//! error object there fails it too).

use std::time::{Duration, Instant};

use eventsource_stream::Eventsource;
use futures::StreamExt;
use serde_json::{Map, Value, json};

use super::outcome::{Failure, RequestOutcome};

/// Which OpenAI API the server is asked through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Api {
    /// `/v1/chat/completions`
    Openai,
    /// `/v1/completions`
    OpenaiCompletions,
}

impl Api {
    fn path(self) -> &'static str {
        match self {
            Api::Openai => "chat/completions",
            Api::OpenaiCompletions => "completions",
        }
    }
}

/// What is sent: a text (a user message, or the prompt for completions) or whole messages.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    Text(String),
    Messages(Vec<Value>),
}

/// Where requests go and what each one asks for.
#[derive(Debug, Clone)]
pub struct Target {
    /// The endpoint itself (`…/v1/chat/completions`).
    pub url: String,
    pub api: Api,
    pub model: String,
    pub api_key: Option<String>,
    pub stream: bool,
    pub max_tokens: Option<u32>,
    pub min_tokens: Option<u32>,
    /// Merged into every request body last (`--extra-args`).
    pub extra: Map<String, Value>,
    /// The longest wait for the answer to start, and then for each next chunk.
    pub read_timeout: Duration,
}

impl Target {
    /// The endpoint for `url`: taken as it is when it names one, else `/chat/completions` or
    /// `/completions` appended (so `http://host:8000/v1` works too).
    pub fn endpoint(url: &str, api: Api) -> String {
        let trimmed = url.trim_end_matches('/');
        if trimmed.ends_with("/completions") { trimmed.to_string() } else { format!("{trimmed}/{}", api.path()) }
    }

    pub fn body(&self, prompt: &Prompt) -> Value {
        let mut body = json!({"model": self.model, "stream": self.stream});
        match (self.api, prompt) {
            (Api::Openai, Prompt::Text(text)) => body["messages"] = json!([{"role": "user", "content": text}]),
            (Api::Openai, Prompt::Messages(messages)) => body["messages"] = json!(messages),
            (Api::OpenaiCompletions, Prompt::Text(text)) => body["prompt"] = json!(text),
            (Api::OpenaiCompletions, Prompt::Messages(messages)) => body["prompt"] = json!(flatten(messages)),
        }
        if self.stream {
            body["stream_options"] = json!({"include_usage": true});
        }
        if let Some(n) = self.max_tokens {
            body["max_tokens"] = json!(n);
        }
        if let Some(n) = self.min_tokens {
            body["min_tokens"] = json!(n);
        }
        // The model and the streaming mode are the run's own: extra arguments do not change them.
        for (key, value) in self.extra.iter().filter(|(k, _)| !matches!(k.as_str(), "model" | "stream")) {
            body[key] = value.clone();
        }
        body
    }
}

/// Messages as one prompt for the completions API: their contents, one per line.
fn flatten(messages: &[Value]) -> String {
    messages.iter().filter_map(|m| m["content"].as_str()).collect::<Vec<_>>().join("\n")
}

/// An HTTP client for load tests: keeps every connection open for reuse, no Nagle delay.
pub fn http_client(connect_timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .tcp_nodelay(true)
        .build()
        .expect("an HTTP client with these settings can always be built")
}

/// Sends `prompt` now; times are seconds since `clock`.
pub async fn send(
    client: &reqwest::Client,
    target: &Target,
    prompt: &Prompt,
    clock: Instant,
    scheduled_s: f64,
) -> RequestOutcome {
    let mut outcome = RequestOutcome { scheduled_s, sent_s: clock.elapsed().as_secs_f64(), ..Default::default() };
    let mut request = client.post(&target.url).json(&target.body(prompt));
    if let Some(key) = &target.api_key {
        request = request.bearer_auth(key);
    }
    let result = match tokio::time::timeout(target.read_timeout, request.send()).await {
        Err(_) => Err((Failure::Timeout, None)),
        Ok(Err(e)) => Err((transport_failure(&e), Some(e.to_string()))),
        Ok(Ok(response)) if !response.status().is_success() => {
            let status = response.status().as_u16();
            let text = tokio::time::timeout(target.read_timeout, response.text()).await.ok().and_then(Result::ok);
            Err((Failure::Http(status), text.map(|t| excerpt(&t))))
        }
        Ok(Ok(response)) if target.stream && is_event_stream(&response) => {
            read_stream(response, target, &mut outcome, clock).await
        }
        Ok(Ok(response)) => read_whole(response, target, &mut outcome, clock).await,
    };
    if outcome.end_s == 0.0 {
        outcome.end_s = clock.elapsed().as_secs_f64();
    }
    if let Err((failure, detail)) = result {
        outcome.failure = Some(failure);
        outcome.detail = detail;
    }
    outcome
}

type Failed = (Failure, Option<String>);

fn is_event_stream(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("text/event-stream"))
}

fn transport_failure(e: &reqwest::Error) -> Failure {
    if e.is_timeout() {
        Failure::Timeout
    } else if e.is_body() || e.is_decode() {
        Failure::StreamCut
    } else {
        Failure::Connection
    }
}

fn excerpt(text: &str) -> String {
    text.chars().take(200).collect()
}

async fn read_whole(
    response: reqwest::Response,
    target: &Target,
    outcome: &mut RequestOutcome,
    clock: Instant,
) -> Result<(), Failed> {
    let body = match tokio::time::timeout(target.read_timeout, response.bytes()).await {
        Err(_) => return Err((Failure::Timeout, None)),
        Ok(Err(e)) => return Err((transport_failure(&e), Some(e.to_string()))),
        Ok(Ok(body)) => body,
    };
    let at = clock.elapsed().as_secs_f64();
    let value: Value = serde_json::from_slice(&body)
        .map_err(|_| (Failure::ErrorInBody, Some(excerpt(&String::from_utf8_lossy(&body)))))?;
    if value.get("error").is_some_and(|e| !e.is_null()) || value.get("choices").is_none() {
        return Err((Failure::ErrorInBody, Some(excerpt(&value.to_string()))));
    }
    let choice = &value["choices"][0];
    let text = choice["message"]["content"].as_str().or_else(|| choice["text"].as_str()).unwrap_or_default();
    outcome.chunks = 1;
    if !text.is_empty() {
        outcome.content_at_s.push(at);
        outcome.text.push_str(text);
    }
    read_usage(&value, outcome);
    Ok(())
}

async fn read_stream(
    response: reqwest::Response,
    target: &Target,
    outcome: &mut RequestOutcome,
    clock: Instant,
) -> Result<(), Failed> {
    let mut events = response.bytes_stream().eventsource();
    loop {
        let event = match tokio::time::timeout(target.read_timeout, events.next()).await {
            Err(_) => return Err((Failure::Timeout, None)),
            // The connection closed before `[DONE]`.
            Ok(None) => return Err((Failure::StreamCut, None)),
            Ok(Some(Err(e))) => return Err((Failure::StreamCut, Some(e.to_string()))),
            Ok(Some(Ok(event))) => event,
        };
        let at = clock.elapsed().as_secs_f64();
        if event.data.trim() == "[DONE]" {
            outcome.end_s = at;
            // Read the body to its end so the connection goes back to the pool for the next request.
            let _ =
                tokio::time::timeout(Duration::from_secs(1), async { while events.next().await.is_some() {} }).await;
            return Ok(());
        }
        outcome.chunks += 1;
        if event.event == "error" {
            return Err((Failure::ErrorInBody, Some(excerpt(&event.data))));
        }
        let value: Value =
            serde_json::from_str(&event.data).map_err(|_| (Failure::ErrorInBody, Some(excerpt(&event.data))))?;
        if value.get("error").is_some_and(|e| !e.is_null()) {
            return Err((Failure::ErrorInBody, Some(excerpt(&event.data))));
        }
        let choice = &value["choices"][0];
        let delta = &choice["delta"];
        let text = delta["content"]
            .as_str()
            .filter(|t| !t.is_empty())
            .or_else(|| delta["reasoning_content"].as_str().filter(|t| !t.is_empty()))
            .or_else(|| delta["reasoning"].as_str())
            .or_else(|| choice["text"].as_str())
            .unwrap_or_default();
        if !text.is_empty() {
            outcome.content_at_s.push(at);
            outcome.text.push_str(text);
        }
        read_usage(&value, outcome);
    }
}

fn read_usage(value: &Value, outcome: &mut RequestOutcome) {
    let usage = &value["usage"];
    if let Some(n) = usage["prompt_tokens"].as_u64() {
        outcome.prompt_tokens = Some(n);
    }
    if let Some(n) = usage["completion_tokens"].as_u64() {
        outcome.completion_tokens = Some(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(api: Api, stream: bool) -> Target {
        Target {
            url: Target::endpoint("http://127.0.0.1:1/v1", api),
            api,
            model: "m".into(),
            api_key: None,
            stream,
            max_tokens: Some(16),
            min_tokens: None,
            extra: serde_json::from_str(r#"{"temperature": 0.5}"#).unwrap(),
            read_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn endpoints_and_bodies() {
        assert_eq!(target(Api::Openai, true).url, "http://127.0.0.1:1/v1/chat/completions");
        assert_eq!(Target::endpoint("http://h/v1/completions", Api::Openai), "http://h/v1/completions");
        let chat = target(Api::Openai, true).body(&Prompt::Text("hi".into()));
        assert_eq!(chat["messages"][0]["content"], "hi");
        assert_eq!(chat["stream_options"]["include_usage"], true);
        assert_eq!(chat["max_tokens"], 16);
        assert_eq!(chat["temperature"], 0.5);
        let completion = target(Api::OpenaiCompletions, false).body(&Prompt::Text("hi".into()));
        assert_eq!(completion["prompt"], "hi");
        assert!(completion.get("stream_options").is_none());
    }
}
