//! `jury serve`'s OpenAI-compatible `/v1` on the real SmolLM2 model: answers through the
//! async-openai client, streamed and whole, completions, errors in OpenAI's shape, the bounded
//! queue, a disconnect that frees the model, and API keys.

#![cfg(feature = "local")]

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::StreamExt;
use jury::llm::{ChatRequest, GenerationSettings, OpenAiChat, RemoteOptions};
use jury::web::{ServeOptions, Server, start};
use serde_json::{Value, json};

fn model_path() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    jury::llm::demo::ensure_demo_model(&path).expect("demo model");
    path
}

async fn serve(dir: &std::path::Path, queue_size: usize, api_keys: Vec<String>) -> (Server, String) {
    let db = format!("sqlite://{}", dir.join("jury.db").display());
    let server = start(ServeOptions {
        data_dir: dir.join("data"),
        registry_dir: dir.join("no-registry"),
        models: vec![("smol".into(), model_path())],
        queue_size,
        api_keys,
        ..ServeOptions::new("127.0.0.1:0".parse().unwrap(), &db)
    })
    .await
    .unwrap();
    let base = format!("http://{}/v1", server.addr);
    (server, base)
}

fn chat_body(question: &str, max_tokens: u32, stream: bool) -> Value {
    json!({"model": "smol", "messages": [{"role": "system", "content": "You are concise."}, {"role": "user", "content": question}],
           "temperature": 0, "max_tokens": max_tokens, "stream": stream, "stream_options": {"include_usage": true}})
}

/// The data of each event of a streamed answer.
async fn events(response: reqwest::Response) -> Vec<String> {
    let body = response.text().await.unwrap();
    body.split("\n\n").filter_map(|e| e.strip_prefix("data: ")).map(str::to_string).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_answers_openai_clients_streamed_and_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (server, base) = serve(dir.path(), 4, Vec::new()).await;
    let http = reqwest::Client::new();

    let models: Value = http.get(format!("{base}/models")).send().await.unwrap().json().await.unwrap();
    assert_eq!(models["object"], "list");
    assert_eq!(models["data"][0]["id"], "smol");
    assert_eq!(models["data"][0]["file"], "SmolLM2-135M-Instruct.Q4_1.gguf");

    // The async-openai client jury's arena uses for remote models.
    let client = OpenAiChat::new(&base, None, "smol", RemoteOptions::default()).unwrap();
    let settings = GenerationSettings { do_sample: Some(false), max_new_tokens: Some(12), ..Default::default() };
    let request = ChatRequest {
        system: Some("You are concise.".into()),
        user: "What is the capital of France?".into(),
        settings,
    };
    let whole = client.chat(&request).await.unwrap();
    assert!(!whole.text.trim().is_empty());
    assert!((1..=12).contains(&whole.usage.completion_tokens), "{:?}", whole.usage);
    assert!(whole.usage.prompt_tokens > 5);

    // Streamed, greedy: the same text, then the finish chunk, the usage chunk and [DONE].
    let response = http
        .post(format!("{base}/chat/completions"))
        .json(&chat_body("What is the capital of France?", 12, true))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let data = events(response).await;
    assert_eq!(data.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = data[..data.len() - 1].iter().map(|d| serde_json::from_str(d).unwrap()).collect();
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, whole.text);
    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!(usage["completion_tokens"], whole.usage.completion_tokens);
    assert!(chunks[chunks.len() - 2]["choices"][0]["finish_reason"].is_string());
    assert!(chunks.iter().all(|c| c["object"] == "chat.completion.chunk"));

    // Completions continue a raw text.
    let completion: Value = http
        .post(format!("{base}/completions"))
        .json(&json!({"model": "smol", "prompt": "The capital of France is", "temperature": 0, "max_tokens": 6}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(completion["object"], "text_completion");
    assert!(completion["choices"][0]["text"].as_str().unwrap().contains("Paris"), "{completion}");
    assert_eq!(completion["usage"]["completion_tokens"], 6);
    let streamed = http
        .post(format!("{base}/completions"))
        .json(&json!({"model": "smol", "prompt": "The capital of France is", "temperature": 0, "max_tokens": 6, "stream": true}))
        .send()
        .await
        .unwrap();
    let data = events(streamed).await;
    let text: String = data
        .iter()
        .filter(|d| *d != "[DONE]")
        .filter_map(|d| serde_json::from_str::<Value>(d).ok()?["choices"][0]["text"].as_str().map(str::to_string))
        .collect();
    assert_eq!(text, completion["choices"][0]["text"].as_str().unwrap());

    // Fields a client sends as null are as good as absent.
    let nulls = http
        .post(format!("{base}/chat/completions"))
        .json(&json!({"model": "smol", "messages": [{"role": "user", "content": "Hi"}], "n": null, "stream": null,
                      "temperature": null, "max_tokens": 3, "stop": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(nulls.status(), 200);

    // Errors in OpenAI's shape.
    for (body, status, param) in [
        (json!({"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]}), 404, "model"),
        (
            json!({"model": "smol", "messages": [{"role": "user", "content": "hi"}], "temperature": 7}),
            400,
            "temperature",
        ),
        (json!({"model": "smol", "messages": "hi"}), 400, "messages"),
        (json!({"model": "smol", "messages": [{"role": "wizard", "content": "hi"}]}), 400, "messages"),
        (json!({"model": "smol", "messages": [{"role": "user", "content": "hi"}], "n": 2}), 400, "n"),
    ] {
        let response = http.post(format!("{base}/chat/completions")).json(&body).send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["param"], param, "{error}");
        assert!(error["error"]["message"].is_string());
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_429_and_a_disconnect_frees_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let (server, base) = serve(dir.path(), 1, Vec::new()).await;
    let http = reqwest::Client::new();
    // A long answer, streamed; read its first chunk so it is surely running.
    let mut body = chat_body("Write a very long story about a dragon.", 400, true);
    body["stop"] = json!([]);
    let long = http.post(format!("{base}/chat/completions")).json(&body).send().await.unwrap();
    assert_eq!(long.status(), 200);
    let mut stream = long.bytes_stream();
    stream.next().await.unwrap().unwrap();

    let refused = http.post(format!("{base}/chat/completions")).json(&chat_body("Hi", 4, false)).send().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["type"], "rate_limit_error");

    // The client goes away: the generation stops at its next token and the model is free. The
    // 400-token answer would take over ten seconds more on this model; the next one gets in at once.
    drop(stream);
    let started = Instant::now();
    let next = loop {
        let response =
            http.post(format!("{base}/chat/completions")).json(&chat_body("Hi", 4, false)).send().await.unwrap();
        if response.status() != 429 {
            break response;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "the queue place was not given back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(next.status(), 200);
    let answer: Value = next.json().await.unwrap();
    assert!(answer["usage"]["completion_tokens"].as_u64().unwrap() <= 4);
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "the cancelled answer held the model for {:?}",
        started.elapsed()
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_only_serves_v1_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("jury.db").display());
    let server = start(ServeOptions {
        data_dir: dir.path().join("data"),
        registry_dir: dir.path().join("no-registry"),
        models: vec![("smol".into(), model_path())],
        models_only: true,
        ..ServeOptions::new("127.0.0.1:0".parse().unwrap(), &db)
    })
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let base = format!("http://{}", server.addr);
    let models: Value = http.get(format!("{base}/v1/models")).send().await.unwrap().json().await.unwrap();
    assert_eq!(models["data"][0]["id"], "smol");
    // What runs: the demo file's weights (transcoded where this CPU has no fast Q4_1 kernel), one
    // sequence at a time.
    assert_eq!(models["data"][0]["file"], "SmolLM2-135M-Instruct.Q4_1.gguf");
    assert_eq!(models["data"][0]["weights"], common::demo_weights(), "{models}");
    assert_eq!(models["data"][0]["max_sequences"], 1);
    assert!(models["data"][0]["threads"].as_u64().unwrap() >= 1);
    for path in ["/", "/runs", "/api/leaderboard", "/perf"] {
        assert_eq!(http.get(format!("{base}{path}")).send().await.unwrap().status(), 404, "{path}");
    }
    let answer =
        http.post(format!("{base}/v1/chat/completions")).json(&chat_body("Hi", 3, false)).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_guard_the_models() {
    let dir = tempfile::tempdir().unwrap();
    let (server, base) = serve(dir.path(), 4, vec!["key-one".into(), "key-two".into()]).await;
    let http = reqwest::Client::new();
    let none = http.get(format!("{base}/models")).send().await.unwrap();
    assert_eq!(none.status(), 401);
    let error: Value = none.json().await.unwrap();
    assert!(error["error"]["message"].as_str().unwrap().contains("API key"));
    let wrong = http.get(format!("{base}/models")).bearer_auth("key-three").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let right = http.get(format!("{base}/models")).bearer_auth("key-two").send().await.unwrap();
    assert_eq!(right.status(), 200);

    // A load test started from the pages reaches the server's own /v1 with one of its keys.
    let site = base.trim_end_matches("/v1");
    let started = http
        .post(format!("{site}/api/perf"))
        .header("x-requested-with", "jury-tests")
        .json(&json!({"target": "own:smol", "parallel": [1], "number": 2, "max_tokens": 4}))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 201);
    let id = started.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let test = loop {
        let test: Value = http.get(format!("{site}/api/perf/{id}")).send().await.unwrap().json().await.unwrap();
        if !matches!(test["status"].as_str(), Some("queued" | "running")) {
            break test;
        }
        assert!(Instant::now() < deadline, "{test}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(test["status"], "succeeded", "{test}");
    let run = &test["summary"]["runs"][0];
    assert_eq!(run["requests"]["succeeded"], 2, "{run}");
    assert_eq!(run["tokens_from"], "usage");
    let tokens = run["output_tokens"]["mean"].as_f64().unwrap();
    assert!((1.0..=4.0).contains(&tokens), "{tokens}");
    assert_eq!(test["summary"]["url"], format!("{base}/chat/completions"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gguf_vocabulary_counts_tokens_as_the_engine_does() {
    use jury::perf::Prompt;
    use jury::perf::tokens::{PerfTokenizer, random_prompts};
    let dir = tempfile::tempdir().unwrap();
    let (server, base) = serve(dir.path(), 4, Vec::new()).await;
    let tokenizer = PerfTokenizer::load(&model_path()).expect("the GGUF's vocabulary");
    let mut texts: Vec<(String, u64)> = random_prompts(&tokenizer, 3, 24, 24, 4, 7)
        .into_iter()
        .map(|(p, n)| match p {
            Prompt::Text(t) => (t, n),
            Prompt::Messages(_) => unreachable!(),
        })
        .collect();
    texts.push(("Hello, world! Ünïcödé, 12345 and\nnew lines.".to_string(), 0));
    let http = reqwest::Client::new();
    for (i, (text, drawn)) in texts.iter().enumerate() {
        if i < 3 {
            assert_eq!(*drawn, 24, "{text:?}");
        }
        let answer: Value = http
            .post(format!("{base}/completions"))
            .json(&json!({"model": "smol", "prompt": text, "max_tokens": 1, "temperature": 0}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let engine = answer["usage"]["prompt_tokens"].as_u64().expect("usage");
        assert_eq!(tokenizer.count(text), engine, "{text:?}: {answer}");
    }
    server.stop().await;
}
