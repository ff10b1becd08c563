//! A scripted OpenAI-compatible server on 127.0.0.1:0: the only thing jury's tests mock is
//! the remote judge API, and this mock is a real HTTP server.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// One request the mock received.
#[derive(Debug, Clone)]
pub struct Call {
    /// 0-based over all requests.
    pub index: usize,
    /// How many earlier requests carried exactly the same messages.
    pub attempt: usize,
    pub model: String,
    pub system: String,
    pub user: String,
    pub body: Value,
    pub at: Instant,
}

impl Call {
    /// The text between `<tag>` and `</tag>` in the user message (jury's templates).
    pub fn section(&self, tag: &str) -> Option<&str> {
        let open = format!("<{tag}>");
        let close = format!("</{tag}>");
        let start = self.user.find(&open)? + open.len();
        let end = self.user[start..].find(&close)? + start;
        Some(self.user[start..end].trim())
    }

    /// The text between two markers in the user message.
    pub fn between(&self, open: &str, close: &str) -> Option<&str> {
        let start = self.user.find(open)? + open.len();
        let end = self.user[start..].find(close)? + start;
        Some(self.user[start..end].trim())
    }

    /// Answer A, in jury's templates or FastChat's.
    pub fn answer_a(&self) -> Option<&str> {
        self.section("answer_a")
            .or_else(|| self.between("[The Start of Assistant A's Answer]", "[The End of Assistant A's Answer]"))
    }

    pub fn answer_b(&self) -> Option<&str> {
        self.section("answer_b")
            .or_else(|| self.between("[The Start of Assistant B's Answer]", "[The End of Assistant B's Answer]"))
    }

    /// The single answer, in jury's templates or FastChat's.
    pub fn single_answer(&self) -> Option<&str> {
        self.section("answer")
            .or_else(|| self.between("[The Start of Assistant's Answer]", "[The End of Assistant's Answer]"))
    }
}

pub enum Reply {
    /// A normal completion with this content.
    Text(String),
    /// An error status, optionally with `Retry-After`.
    Status { code: u16, retry_after: Option<String> },
    /// Never answers (until the client gives up).
    Hang,
    /// Answers after a delay.
    Delayed(Duration, Box<Reply>),
    /// 200 with a body that is not JSON.
    Garbage,
}

type Script = dyn Fn(&Call) -> Reply + Send + Sync;

struct Inner {
    script: std::sync::RwLock<Box<Script>>,
    calls: Mutex<Vec<Call>>,
    seen: Mutex<HashMap<String, usize>>,
    counter: AtomicUsize,
    /// Requests whose reply was fully produced (hung ones never are).
    answered: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

pub struct MockJudge {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl MockJudge {
    /// Starts the server on the current tokio runtime.
    pub async fn start(script: impl Fn(&Call) -> Reply + Send + Sync + 'static) -> MockJudge {
        let inner = Arc::new(Inner {
            script: std::sync::RwLock::new(Box::new(script)),
            calls: Mutex::new(Vec::new()),
            seen: Mutex::new(HashMap::new()),
            counter: AtomicUsize::new(0),
            answered: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        });
        let app = Router::new().route("/v1/chat/completions", post(handle)).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        MockJudge { addr, inner, shutdown: Some(tx) }
    }

    /// Starts the server on a runtime of its own thread, for tests that drive the `jury`
    /// binary from synchronous code.
    pub fn start_in_background(script: impl Fn(&Call) -> Reply + Send + Sync + 'static) -> MockJudge {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(async move {
                let mut judge = MockJudge::start(script).await;
                let shutdown = judge.shutdown.take();
                tx.send(judge).unwrap();
                // Keep serving until the test process ends.
                let _keep = shutdown;
                std::future::pending::<()>().await;
            });
        });
        rx.recv().unwrap()
    }

    /// The same server, at the same address, answers with `script` from now on (a judge that
    /// was restarted, or recovered); calls are counted afresh.
    pub fn answer_with(&self, script: impl Fn(&Call) -> Reply + Send + Sync + 'static) {
        *self.inner.script.write().unwrap() = Box::new(script);
        self.inner.calls.lock().unwrap().clear();
        self.inner.seen.lock().unwrap().clear();
        self.inner.counter.store(0, Ordering::SeqCst);
        self.inner.answered.store(0, Ordering::SeqCst);
        self.inner.max_in_flight.store(0, Ordering::SeqCst);
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn calls(&self) -> Vec<Call> {
        self.inner.calls.lock().unwrap().clone()
    }

    pub fn call_count(&self) -> usize {
        self.inner.counter.load(Ordering::SeqCst)
    }

    /// The most requests that were open at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.inner.max_in_flight.load(Ordering::SeqCst)
    }

    pub fn answered(&self) -> usize {
        self.inner.answered.load(Ordering::SeqCst)
    }

    /// Calls per distinct prompt (system + user).
    pub fn calls_per_prompt(&self) -> HashMap<String, usize> {
        let mut out = HashMap::new();
        for c in self.calls() {
            *out.entry(format!("{}\u{0}{}", c.system, c.user)).or_default() += 1;
        }
        out
    }
}

impl Drop for MockJudge {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

async fn handle(State(inner): State<Arc<Inner>>, body: String) -> Response {
    let body: Value = match serde_json::from_str(&body) {
        Ok(v) => v,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("bad json: {e}")).into_response(),
    };
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let text_of = |role: &str| {
        messages
            .iter()
            .filter(|m| m["role"] == role)
            .filter_map(|m| m["content"].as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (system, user) = (text_of("system"), text_of("user"));
    let key = format!("{system}\u{0}{user}");
    let attempt = {
        let mut seen = inner.seen.lock().unwrap();
        let n = seen.entry(key).or_default();
        *n += 1;
        *n - 1
    };
    let call = Call {
        index: inner.counter.fetch_add(1, Ordering::SeqCst),
        attempt,
        model: body["model"].as_str().unwrap_or("").to_string(),
        system,
        user,
        body: body.clone(),
        at: Instant::now(),
    };
    inner.calls.lock().unwrap().push(call.clone());
    let now = inner.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    inner.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let reply = (inner.script.read().unwrap())(&call);
    let response = render(reply, &call).await;
    inner.in_flight.fetch_sub(1, Ordering::SeqCst);
    inner.answered.fetch_add(1, Ordering::SeqCst);
    response
}

async fn render(reply: Reply, call: &Call) -> Response {
    let mut reply = reply;
    loop {
        match reply {
            Reply::Delayed(d, next) => {
                tokio::time::sleep(d).await;
                reply = *next;
            }
            Reply::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return StatusCode::GATEWAY_TIMEOUT.into_response();
            }
            Reply::Garbage => return (StatusCode::OK, "this is not json").into_response(),
            Reply::Status { code, retry_after } => {
                let mut headers = HeaderMap::new();
                if let Some(r) = retry_after {
                    headers.insert("retry-after", HeaderValue::from_str(&r).unwrap());
                }
                let body = json!({"error": {"message": format!("mock error {code}"), "type": "mock", "param": null, "code": null}});
                return (StatusCode::from_u16(code).unwrap(), headers, body.to_string()).into_response();
            }
            Reply::Text(text) => {
                let body = json!({
                    "id": format!("mock-{}", call.index),
                    "object": "chat.completion",
                    "created": 0,
                    "model": call.model,
                    // Some servers send finish reasons outside OpenAI's list.
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "eos_token"}],
                    "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
                });
                return (StatusCode::OK, [("content-type", "application/json")], body.to_string()).into_response();
            }
        }
    }
}

/// A judge that prefers the answer containing `marker`: `[[A]]`, `[[B]]`, or `[[C]]` when
/// neither or both do. Single-answer prompts get `[[9]]` with the marker, `[[3]]` without.
pub fn prefer(marker: &'static str) -> impl Fn(&Call) -> Reply + Send + Sync {
    move |call: &Call| Reply::Text(verdict_for(call, marker))
}

pub fn verdict_for(call: &Call, marker: &str) -> String {
    if let Some(answer) = call.single_answer() {
        let score = if answer.contains(marker) { 9 } else { 3 };
        return format!("The answer is judged. Rating: [[{score}]]");
    }
    let a = call.answer_a().unwrap_or("").contains(marker);
    let b = call.answer_b().unwrap_or("").contains(marker);
    let v = match (a, b) {
        (true, false) => "[[A]]",
        (false, true) => "[[B]]",
        _ => "[[C]]",
    };
    format!("I compared them; the format asks for [[A]] or [[B]]. Final verdict: {v}")
}
