//! A real HTTP server playing an OpenAI-compatible chat endpoint with scripted timing, for
//! `jury perf`. The request's model name picks the script:
//!
//! - `script`: the first chunk with content after 100 ms, then 19 more 10 ms apart (one word
//!   each), a usage chunk (20 completion tokens, 7 prompt tokens) and `[DONE]`; not streamed:
//!   the whole answer after 290 ms.
//! - `no-usage`: the same without the usage chunk.
//! - `flaky`: every second request answers HTTP 500.
//! - `cut`: five chunks, then the stream ends without `[DONE]`.
//! - `error-event`: two chunks, then an error event; not streamed: HTTP 200 with an error object.
//! - `json-error`: HTTP 200 with an error object, streamed or not.
//! - `hang`: never answers.
//! - `split`: events split across reads (inside a UTF-8 character too), with a comment between.
//! - `instant`: a two-chunk answer at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::time::Instant;

pub const SPLIT_TEXT: &str = "héllo wörld 你好";

fn event(value: &Value) -> String {
    format!("data: {value}\n\n")
}

fn chunk(text: &str) -> Value {
    json!({"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]})
}

/// Waits until `deadline` more precisely than the async timer's millisecond: it sleeps to just
/// before, then yields until the moment comes, so the script's times hold to a fraction of one.
async fn precise_sleep_until(deadline: Instant) {
    if let Some(early) = deadline.checked_sub(Duration::from_millis(5)) {
        tokio::time::sleep_until(early).await;
    }
    while Instant::now() < deadline {
        tokio::task::yield_now().await;
    }
}

/// Pieces of body sent at `start + offset`.
fn timed(pieces: Vec<(Duration, String)>) -> Response {
    let start = Instant::now();
    let stream = futures::stream::iter(pieces).then(move |(at, text)| async move {
        precise_sleep_until(start + at).await;
        Ok::<_, std::convert::Infallible>(Bytes::from(text))
    });
    Response::builder().header("content-type", "text/event-stream").body(Body::from_stream(stream)).unwrap()
}

fn scripted(words: usize, usage: bool, done: bool) -> Vec<(Duration, String)> {
    let mut pieces: Vec<(Duration, String)> =
        (0..words).map(|k| (Duration::from_millis(100 + 10 * k as u64), event(&chunk(&format!("w{k} "))))).collect();
    let last = Duration::from_millis(100 + 10 * (words.max(1) - 1) as u64);
    if usage {
        pieces.push((
            last,
            event(&json!({"id": "c", "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": words, "total_tokens": 7 + words}})),
        ));
    }
    if done {
        pieces.push((last, "data: [DONE]\n\n".into()));
    }
    pieces
}

async fn chat(State(calls): State<Arc<AtomicUsize>>, Json(body): Json<Value>) -> Response {
    let n = calls.fetch_add(1, Ordering::SeqCst);
    let stream = body["stream"].as_bool().unwrap_or(false);
    let model = body["model"].as_str().unwrap_or_default().to_string();
    match (model.as_str(), stream) {
        ("flaky", _) if n % 2 == 1 => (StatusCode::INTERNAL_SERVER_ERROR, "overloaded").into_response(),
        ("script" | "flaky", true) => timed(scripted(20, true, true)),
        ("no-usage", true) => timed(scripted(20, false, true)),
        ("cut", true) => timed(scripted(5, false, false)),
        ("error-event", true) => {
            let mut pieces = scripted(2, false, false);
            pieces.push((
                Duration::from_millis(120),
                "event: error\ndata: {\"error\": {\"message\": \"boom\"}}\n\n".into(),
            ));
            timed(pieces)
        }
        ("split", true) => {
            let whole = format!(
                ": keep-alive\n\n{}{}{}data: [DONE]\n\n",
                event(&chunk("héllo ")),
                event(&chunk("wörld ")),
                event(&chunk("你好"))
            );
            // Cut every 5 bytes: through events, field names and multi-byte characters.
            let bytes = whole.into_bytes();
            let start = Instant::now();
            let pieces: Vec<Bytes> = bytes.chunks(5).map(Bytes::copy_from_slice).collect();
            let stream = futures::stream::iter(pieces.into_iter().enumerate()).then(move |(i, piece)| async move {
                tokio::time::sleep_until(start + Duration::from_millis(2 * i as u64)).await;
                Ok::<_, std::convert::Infallible>(piece)
            });
            Response::builder().header("content-type", "text/event-stream").body(Body::from_stream(stream)).unwrap()
        }
        ("instant", true) => timed(vec![
            (Duration::ZERO, event(&chunk("a "))),
            (Duration::ZERO, event(&chunk("b"))),
            (Duration::ZERO, "data: [DONE]\n\n".into()),
        ]),
        ("hang", _) => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        ("json-error", _) | ("error-event", false) => {
            Json(json!({"error": {"message": "the model is overloaded", "code": 503}})).into_response()
        }
        (_, false) => {
            precise_sleep_until(Instant::now() + Duration::from_millis(290)).await;
            let words: String = (0..20).map(|k| format!("w{k} ")).collect();
            Json(json!({"id": "c", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": words}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 7, "completion_tokens": 20, "total_tokens": 27}}))
            .into_response()
        }
        _ => (StatusCode::NOT_FOUND, "unknown script").into_response(),
    }
}

/// Starts the server on 127.0.0.1:0: its `/v1` base URL and a count of the requests it received.
pub async fn scripted_server() -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let app = Router::new().route("/v1/chat/completions", post(chat)).with_state(calls.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/v1"), calls)
}

/// A server that answers `permits` requests at a time, each after `service` of work: a
/// capacity of permits / service requests per second, beyond which requests queue.
pub async fn capacity_server(permits: usize, service: Duration) -> String {
    let gate = Arc::new(tokio::sync::Semaphore::new(permits));
    let app = Router::new()
        .route(
            "/v1/chat/completions",
            post(move |Json(body): Json<Value>| {
                let gate = gate.clone();
                async move {
                    {
                        let _permit = gate.acquire().await.unwrap();
                        precise_sleep_until(Instant::now() + service).await;
                    }
                    if body["stream"].as_bool().unwrap_or(false) {
                        let usage = json!({"id": "c", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}});
                        timed(vec![
                            (Duration::ZERO, event(&chunk("a "))),
                            (Duration::ZERO, event(&chunk("b"))),
                            (Duration::ZERO, event(&usage)),
                            (Duration::ZERO, "data: [DONE]\n\n".into()),
                        ])
                    } else {
                        Json(json!({"id": "c", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": "a b"}, "finish_reason": "stop"}],
                                    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}))
                        .into_response()
                    }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/v1")
}
