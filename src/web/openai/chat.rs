//! `POST /v1/chat/completions` and `POST /v1/completions` over the local models, streamed
//! (Server-Sent Events, `stream_options.include_usage`) or whole.

use std::convert::Infallible;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use serde_json::{Value, json};

use super::error::OpenAiError;
use super::keys::ApiCaller;
use super::served::QueueSlot;
use crate::llm::GenerationSettings;
use crate::llm::local::{LocalPrompt, StreamEvent};
use crate::web::state::AppState;

/// Tokens generated when a request names no `max_tokens`.
const DEFAULT_MAX_TOKENS: u32 = 512;

/// A parsed request.
struct Ask {
    model: String,
    prompt: LocalPrompt,
    settings: GenerationSettings,
    stream: bool,
    include_usage: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Chat,
    Completion,
}

pub async fn chat_completions(_caller: ApiCaller, State(state): State<AppState>, body: Bytes) -> Response {
    answer(state, &body, Kind::Chat).await.unwrap_or_else(IntoResponse::into_response)
}

pub async fn completions(_caller: ApiCaller, State(state): State<AppState>, body: Bytes) -> Response {
    answer(state, &body, Kind::Completion).await.unwrap_or_else(IntoResponse::into_response)
}

async fn answer(state: AppState, body: &[u8], kind: Kind) -> Result<Response, OpenAiError> {
    let body: Value = serde_json::from_slice(body)
        .map_err(|e| OpenAiError::invalid("body", format!("the body is not valid JSON: {e}")))?;
    let ask = parse(&body, kind)?;
    let served = state.served.clone();
    let model = served.find(&ask.model)?;
    let slot = served.admit(model)?;
    let chat = served.pool.open_local_chat(&model.path).await.map_err(|e| {
        tracing::error!("cannot open {}: {e}", model.path.display());
        OpenAiError::new(StatusCode::SERVICE_UNAVAILABLE, "server_error", format!("{} cannot be loaded", ask.model))
    })?;
    let events = chat.stream(ask.prompt.clone(), &ask.settings);
    let meta = Meta { id: response_id(kind), created: now(), model: ask.model.clone(), kind };
    if ask.stream {
        let stream = sse_events(events, slot, meta, ask.include_usage);
        Ok(Sse::new(stream).into_response())
    } else {
        whole(events, slot, meta).await
    }
}

fn parse(body: &Value, kind: Kind) -> Result<Ask, OpenAiError> {
    let model = body["model"].as_str().ok_or_else(|| OpenAiError::invalid("model", "model: expected a string"))?;
    let prompt = match kind {
        Kind::Chat => LocalPrompt::Chat(parse_messages(&body["messages"])?),
        Kind::Completion => match &body["prompt"] {
            Value::String(text) => LocalPrompt::Text(text.clone()),
            Value::Array(items) if items.len() == 1 && items[0].is_string() => {
                LocalPrompt::Text(items[0].as_str().unwrap_or_default().to_string())
            }
            _ => return Err(OpenAiError::invalid("prompt", "prompt: expected a string")),
        },
    };
    let number = |key: &'static str, low: f64, high: f64| -> Result<Option<f64>, OpenAiError> {
        match &body[key] {
            Value::Null => Ok(None),
            v => v
                .as_f64()
                .filter(|x| (low..=high).contains(x))
                .map(Some)
                .ok_or_else(|| OpenAiError::invalid(key, format!("{key}: expected a number from {low} to {high}"))),
        }
    };
    let temperature = number("temperature", 0.0, 2.0)?.unwrap_or(1.0);
    let top_p = number("top_p", 0.0, 1.0)?;
    let max_tokens = number("max_completion_tokens", 1.0, 1e6)?
        .or(number("max_tokens", 1.0, 1e6)?)
        .map_or(DEFAULT_MAX_TOKENS, |n| n as u32);
    let presence = number("presence_penalty", -2.0, 2.0)?;
    let frequency = number("frequency_penalty", -2.0, 2.0)?;
    let stop = match &body["stop"] {
        Value::Null => Vec::new(),
        Value::String(s) => vec![s.clone()],
        Value::Array(items) if items.iter().all(Value::is_string) && items.len() <= 4 => {
            items.iter().filter_map(|s| s.as_str().map(str::to_string)).collect()
        }
        _ => return Err(OpenAiError::invalid("stop", "stop: expected a string or up to 4 strings")),
    };
    if body.get("n").is_some_and(|n| !n.is_null() && n.as_u64() != Some(1)) {
        return Err(OpenAiError::invalid("n", "n: only 1 is supported"));
    }
    let stream = match &body["stream"] {
        Value::Null => false,
        Value::Bool(b) => *b,
        _ => return Err(OpenAiError::invalid("stream", "stream: expected true or false")),
    };
    let settings = GenerationSettings {
        // OpenAI's default temperature is 1; 0 means greedy decoding.
        do_sample: Some(temperature > 0.0),
        temperature: Some(temperature),
        top_p,
        max_new_tokens: Some(max_tokens),
        presence_penalty: presence.map(|p| p as f32),
        frequency_penalty: frequency.map(|p| p as f32),
        stop,
        ..Default::default()
    };
    let include_usage = body["stream_options"]["include_usage"].as_bool().unwrap_or(false);
    Ok(Ask { model: model.to_string(), prompt, settings, stream, include_usage })
}

fn parse_messages(value: &Value) -> Result<Vec<(String, String)>, OpenAiError> {
    let bad = |message: String| OpenAiError::invalid("messages", message);
    let items = value
        .as_array()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| bad("messages: expected a list of messages".into()))?;
    items
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let role = m["role"].as_str().filter(|r| matches!(*r, "system" | "user" | "assistant" | "developer"));
            let role = role.ok_or_else(|| bad(format!("messages[{i}].role: expected system, user or assistant")))?;
            let content = match &m["content"] {
                Value::String(text) => text.clone(),
                // Content parts: the text ones, joined.
                Value::Array(parts) => parts
                    .iter()
                    .map(|p| match (p["type"].as_str(), p["text"].as_str()) {
                        (Some("text"), Some(text)) => Ok(text),
                        _ => Err(bad(format!("messages[{i}].content: only text parts are supported"))),
                    })
                    .collect::<Result<Vec<_>, _>>()?
                    .join(""),
                _ => return Err(bad(format!("messages[{i}].content: expected a string"))),
            };
            let role = if role == "developer" { "system" } else { role };
            Ok((role.to_string(), content))
        })
        .collect()
}

struct Meta {
    id: String,
    created: u64,
    model: String,
    kind: Kind,
}

impl Meta {
    fn chunk(&self, text: Option<&str>, finish: Option<&str>) -> Value {
        match self.kind {
            Kind::Chat => {
                json!({"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "choices": [{"index": 0, "delta": text.map_or(json!({}), |t| json!({"role": "assistant", "content": t})), "finish_reason": finish}]})
            }
            Kind::Completion => {
                json!({"id": self.id, "object": "text_completion", "created": self.created, "model": self.model,
                "choices": [{"index": 0, "text": text.unwrap_or_default(), "finish_reason": finish, "logprobs": null}]})
            }
        }
    }

    fn usage_chunk(&self, prompt: u64, completion: u64) -> Value {
        let object = if self.kind == Kind::Chat { "chat.completion.chunk" } else { "text_completion" };
        json!({"id": self.id, "object": object, "created": self.created, "model": self.model, "choices": [],
               "usage": usage(prompt, completion)})
    }
}

fn usage(prompt: u64, completion: u64) -> Value {
    json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion})
}

/// `stop` or `length`, the two reasons OpenAI clients know for a plain answer.
fn finish_reason(engine: &str) -> &'static str {
    if engine.contains("length") { "length" } else { "stop" }
}

/// The answer as events; the queue place and the engine's channel live as long as the stream,
/// so a client that goes away frees both.
fn sse_events(
    events: tokio::sync::mpsc::Receiver<StreamEvent>,
    slot: QueueSlot,
    meta: Meta,
    include_usage: bool,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let state = (events, slot, meta, Vec::<Event>::new(), false);
    futures::stream::unfold(state, move |(mut events, slot, meta, mut pending, mut finished)| async move {
        loop {
            if let Some(event) = pending.pop() {
                return Some((Ok(event), (events, slot, meta, pending, finished)));
            }
            if finished {
                return None;
            }
            let data = |v: Value| Event::default().data(v.to_string());
            match events.recv().await {
                Some(StreamEvent::Text(text)) => pending.push(data(meta.chunk(Some(&text), None))),
                Some(StreamEvent::End { finish_reason: reason, prompt_tokens, completion_tokens }) => {
                    // Popped from the end: pushed in reverse order.
                    pending.push(Event::default().data("[DONE]"));
                    if include_usage {
                        pending.push(data(meta.usage_chunk(prompt_tokens, completion_tokens)));
                    }
                    pending.push(data(meta.chunk(None, Some(finish_reason(&reason)))));
                    finished = true;
                }
                Some(StreamEvent::Failed(message)) => {
                    tracing::error!("a /v1 stream failed: {message}");
                    pending.push(data(
                        json!({"error": {"message": "the model failed while answering", "type": "server_error"}}),
                    ));
                    finished = true;
                }
                None => {
                    pending.push(data(json!({"error": {"message": "the answer stopped", "type": "server_error"}})));
                    finished = true;
                }
            }
        }
    })
}

async fn whole(
    mut events: tokio::sync::mpsc::Receiver<StreamEvent>,
    slot: QueueSlot,
    meta: Meta,
) -> Result<Response, OpenAiError> {
    let mut text = String::new();
    let failed =
        || OpenAiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "the model failed while answering");
    let (reason, prompt, completion) = loop {
        match events.recv().await {
            Some(StreamEvent::Text(t)) => text.push_str(&t),
            Some(StreamEvent::End { finish_reason, prompt_tokens, completion_tokens }) => {
                break (finish_reason, prompt_tokens, completion_tokens);
            }
            Some(StreamEvent::Failed(message)) => {
                tracing::error!("a /v1 request failed: {message}");
                return Err(failed());
            }
            None => return Err(failed()),
        }
    };
    drop(slot);
    let reason = finish_reason(&reason);
    let body = match meta.kind {
        Kind::Chat => json!({"id": meta.id, "object": "chat.completion", "created": meta.created, "model": meta.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": reason}],
            "usage": usage(prompt, completion)}),
        Kind::Completion => {
            json!({"id": meta.id, "object": "text_completion", "created": meta.created, "model": meta.model,
            "choices": [{"index": 0, "text": text, "finish_reason": reason, "logprobs": null}],
            "usage": usage(prompt, completion)})
        }
    };
    Ok(Json(body).into_response())
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn response_id(kind: Kind) -> String {
    let prefix = if kind == Kind::Chat { "chatcmpl" } else { "cmpl" };
    format!("{prefix}-{}", hex::encode(rand::random::<[u8; 12]>()))
}
