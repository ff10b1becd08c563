//! `jury perf` against real HTTP servers with scripted timing: every figure matches the
//! script, failures are counted by reason, bad arguments exit 2.

mod common;

use std::time::{Duration, Instant};

use common::mock_stream::{SPLIT_TEXT, scripted_server};
use common::*;
use jury::perf::client::{Api, Prompt, Target, http_client, send};
use jury::perf::{Failure, poisson_schedule};
use serde_json::{Value, json};

/// One test at a time: the figures are checked to the millisecond, and another test's load on
/// the same two cores would move them.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A time the script fixes: never early (1 ms for timer granularity), at most `late` ms late.
fn on_time(v: &Value, expected: f64, late: f64) -> bool {
    v.as_f64().is_some_and(|x| (expected - 1.0..=expected + late).contains(&x))
}

fn within(value: &Value, expected: f64, tolerance: f64) -> bool {
    value.as_f64().is_some_and(|v| (v - expected).abs() <= tolerance)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_figures_match_the_script() {
    let _serial = SERIAL.lock().await;
    let (url, _) = scripted_server().await;
    let (code, out, err) = perf(&url, &["--model", "script", "--parallel", "4", "--number", "16"]).await;
    assert_eq!(code, 0, "{err}");
    let run = &out["runs"][0];
    assert_eq!(run["parallel"], 4);
    assert_eq!(run["requests"]["total"], 16);
    assert_eq!(run["requests"]["succeeded"], 16);
    assert_eq!(run["tokens_from"], "usage");
    // First content after 100 ms, 19 more 10 ms apart: TTFT 100, ITL 10, TPOT 10, latency 290.
    // A busy machine only ever adds time to a request's first token and its end, so those are
    // checked one-sidedly: never early (1 ms for timer granularity), at most 6 ms late at the
    // median and 10 ms on the mean (one stalled request of 16 moves a mean). Gaps between
    // tokens can shrink after a stall as well as grow: medians within 2 ms, means within 5.
    for (metric, expected) in [("ttft_ms", 100.0), ("latency_ms", 290.0)] {
        let (p50, mean) = (&run[metric]["p50"], &run[metric]["mean"]);
        assert!(on_time(p50, expected, 6.0), "{metric} p50 {p50}, expected {expected} (+6) ms");
        assert!(on_time(mean, expected, 10.0), "{metric} mean {mean}, expected {expected} (+10) ms");
    }
    for (metric, expected) in [("itl_ms", 10.0), ("tpot_ms", 10.0)] {
        let p50 = &run[metric]["p50"];
        assert!(within(p50, expected, 2.0), "{metric} p50 {p50}, expected {expected} ± 2 ms");
        let mean = &run[metric]["mean"];
        assert!(within(mean, expected, 5.0), "{metric} mean {mean}, expected {expected} ± 5 ms");
    }
    assert_eq!(run["itl_ms"]["count"], 16 * 19);
    assert_eq!(run["output_tokens"]["mean"], 20.0);
    assert_eq!(run["input_tokens"]["mean"], 7.0);
    // 20 content chunks and the usage chunk.
    assert!(within(&run["chunks_per_request"], 21.0, 1e-9), "{}", run["chunks_per_request"]);
    // Four at a time, 290 ms each: four rounds, about 1.16 s.
    let duration = run["duration_s"].as_f64().unwrap();
    assert!((1.16..1.5).contains(&duration), "{duration}");
    assert!(within(&run["output_throughput"], 320.0 / duration, 1e-6));
    assert!(within(&run["request_throughput"], 16.0 / duration, 1e-6));
    assert_eq!(run["max_in_flight"], 4);
    assert!(run["goodput"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_answers_goodput_and_a_sweep() {
    let _serial = SERIAL.lock().await;
    let (url, _) = scripted_server().await;
    let (code, out, err) = perf(
        &url,
        &["--model", "script", "--no-stream", "--parallel", "1", "2", "--number", "5", "6", "--slo", "latency=250ms"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let runs = out["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!((runs[0]["parallel"].clone(), runs[0]["number"].clone()), (1.into(), 5.into()));
    assert_eq!((runs[1]["parallel"].clone(), runs[1]["number"].clone()), (2.into(), 6.into()));
    for run in runs {
        // Not streamed: the first content is the whole answer, at 290 ms (a busy machine only
        // makes it later).
        assert!(on_time(&run["ttft_ms"]["p50"], 290.0, 6.0), "{}", run["ttft_ms"]);
        assert!(on_time(&run["latency_ms"]["p50"], 290.0, 6.0), "{}", run["latency_ms"]);
        // No request is within a 250 ms latency objective.
        assert_eq!(run["goodput"], 0.0);
        assert_eq!(run["output_tokens"]["mean"], 20.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_for_people() {
    let _serial = SERIAL.lock().await;
    let (url, _) = scripted_server().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = jury();
    cmd.args(["perf", "--url", &url, "--model", "instant", "--parallel", "1", "2", "--number", "4", "--no-progress"])
        .args(["--name", "tables", "--outputs-dir"])
        .arg(dir.path())
        .arg("--db")
        .arg(db_url(dir.path()));
    let out = tokio::task::spawn_blocking(move || run(&mut cmd)).await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "Benchmark: parallel 1, 4 requests (0 failed)",
        "Benchmark: parallel 2",
        "Request throughput (req/s)",
        "TTFT (ms)",
        "99%",
        "Sweep",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from:\n{text}");
    }
    assert!(dir.path().join("tables/parallel_2_number_4/result.json").is_file());
    assert!(text.contains("stored as load test 1"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tests_are_stored_and_shown_by_the_server() {
    let _serial = SERIAL.lock().await;
    let (url, _) = scripted_server().await;
    let dir = tempfile::tempdir().unwrap();
    let db = db_url(dir.path());
    let mut cmd = jury();
    cmd.args(["perf", "--url", &url, "--model", "<script>alert(1)</script>", "--parallel", "1", "2", "--number", "3"])
        .args(["--json", "--no-progress", "--outputs-dir"])
        .arg(dir.path())
        .args(["--db", &db]);
    let out = tokio::task::spawn_blocking(move || run(&mut cmd)).await.unwrap();
    // The mock does not know that model: every request fails (404), and the test is stored as failed.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let mut cmd = jury();
    cmd.args(["perf", "--url", &url, "--model", "script", "--parallel", "1", "2", "--number", "3"])
        .args(["--json", "--no-progress", "--outputs-dir"])
        .arg(dir.path())
        .args(["--db", &db]);
    let out = tokio::task::spawn_blocking(move || run(&mut cmd)).await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let id = serde_json::from_str::<Value>(&stdout(&out)).unwrap()["id"].as_i64().unwrap();

    let server = jury::web::start(jury::web::ServeOptions {
        data_dir: dir.path().join("data"),
        registry_dir: dir.path().join("no-registry"),
        ..jury::web::ServeOptions::new("127.0.0.1:0".parse().unwrap(), &db)
    })
    .await
    .unwrap();
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::new();
    let list = http.get(format!("{base}/perf")).send().await.unwrap().text().await.unwrap();
    assert!(list.contains("&#60;script&#62;alert(1)") && !list.contains("<script>alert"), "{list}");
    assert!(list.contains(&format!("/perf/{id}")));
    let page = http.get(format!("{base}/perf/{id}")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("parallel 1") && page.contains("parallel 2"), "{page}");
    assert!(page.contains("Time to first token of 3 successful requests"), "{page}");
    assert!(page.contains("<polyline"));
    assert!(page.contains("Time to first token by when the request was sent"), "{page}");
    assert!(page.contains("Output tokens per second by load"), "{page}");
    let api: Value = http.get(format!("{base}/api/perf/{id}")).send().await.unwrap().json().await.unwrap();
    assert_eq!(api["status"], "succeeded");
    assert_eq!(api["summary"]["model"], "script");
    assert_eq!(api["summary"]["runs"].as_array().unwrap().len(), 2);
    let requests = api["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].as_array().unwrap().len(), 3);
    let first = &requests[0][0];
    let ttft = first["first_content_s"].as_f64().unwrap() - first["sent_s"].as_f64().unwrap();
    assert!((ttft - 0.1).abs() < 0.01, "{first}");
    assert_eq!(first["completion_tokens"], 20);
    let all: Value = http.get(format!("{base}/api/perf")).send().await.unwrap().json().await.unwrap();
    assert_eq!(all["tests"].as_array().unwrap().len(), 2);
    assert_eq!(http.get(format!("{base}/perf/999")).send().await.unwrap().status(), 404);
    server.stop().await;
}

/// POSTs a load test to `/api/perf`; its status and body.
async fn start_test(server: &common::server::TestServer, body: Value) -> (u16, Value) {
    let response = common::server::api_client().post(server.url("/api/perf")).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// Waits for a load test to leave queued/running; its `/api/perf/{id}` JSON.
async fn finished_test(server: &common::server::TestServer, id: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let test = server.get_json(&format!("/api/perf/{id}")).await;
        if !matches!(test["status"].as_str(), Some("queued" | "running")) {
            return test;
        }
        assert!(Instant::now() < deadline, "load test {id} did not finish: {test}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tests_started_from_the_pages_run_as_jobs_and_compare_side_by_side() {
    use common::server::{Settings, TestServer, allowed_judge};
    let _serial = SERIAL.lock().await;
    let (url, calls) = scripted_server().await;
    let server = TestServer::start(Settings {
        judges: vec![allowed_judge("mock", "script", &url), allowed_judge("stuck", "hang", &url)],
        ..Settings::default()
    })
    .await;
    let page = reqwest::get(server.url("/perf")).await.unwrap().text().await.unwrap();
    assert!(page.contains("id=\"start-perf\"") && page.contains("value=\"served:mock\""), "{page}");

    // Targets are the server's own choices; every bound is checked before anything is queued.
    for (body, expected) in [
        (json!({"target": "served:mock", "parallel": [0]}), "parallel"),
        (json!({"target": "served:mock", "parallel": [1, 2], "rate": 5.0}), "one value"),
        (json!({"target": "served:mock", "number": 100_000}), "number"),
        (json!({"target": "served:mock", "max_tokens": 0}), "max_tokens"),
        (json!({"target": "served:mock", "slo": "speed=1ms"}), "slo"),
        (json!({"target": "served:nobody"}), "no configured endpoint"),
        (json!({"target": "http://169.254.169.254/v1"}), "choose a target"),
        (json!({"target": "served:mock", "url": "http://elsewhere/v1"}), "url"),
    ] {
        let (status, answer) = start_test(&server, body.clone()).await;
        assert!((400..500).contains(&status), "{body} → {status} {answer}");
        assert!(answer.to_string().contains(expected), "{body} → {answer}");
    }
    assert!(server.get_json("/api/perf").await["tests"].as_array().unwrap().is_empty());

    let (status, a) =
        start_test(&server, json!({"target": "served:mock", "parallel": [1, 2], "number": 4, "max_tokens": 20})).await;
    assert_eq!(status, 201, "{a}");
    let a = a["id"].as_i64().unwrap();
    let test = finished_test(&server, a).await;
    assert_eq!(test["status"], "succeeded", "{test}");
    let summary = &test["summary"];
    assert_eq!(summary["model"], "script");
    assert_eq!(summary["started_from"], "pages");
    assert_eq!(summary["url"], format!("{url}/chat/completions"));
    let runs = summary["runs"].as_array().unwrap();
    assert_eq!(runs.iter().map(|r| r["parallel"].as_u64().unwrap()).collect::<Vec<_>>(), [1, 2]);
    for run in runs {
        assert_eq!(run["requests"]["succeeded"], 4, "{run}");
        assert!(within(&run["ttft_ms"]["p50"], 100.0, 5.0), "{}", run["ttft_ms"]);
        assert_eq!(run["output_tokens"]["mean"], 20.0);
    }
    assert_eq!(test["requests"][1].as_array().unwrap().len(), 4);
    assert_eq!((test["progress"]["done"].clone(), test["progress"]["total"].clone()), (8.into(), 8.into()));

    // Whole answers: the first token comes with the last, about 290 ms after the send.
    let (_, b) =
        start_test(&server, json!({"target": "served:mock", "parallel": [2], "number": 4, "stream": false})).await;
    let b = b["id"].as_i64().unwrap();
    let test = finished_test(&server, b).await;
    assert!(within(&test["summary"]["runs"][0]["ttft_ms"]["p50"], 290.0, 10.0), "{test}");

    let compare = reqwest::get(server.url(&format!("/perf/compare?id={a}&id={b}"))).await.unwrap();
    assert_eq!(compare.status(), 200);
    let compare = compare.text().await.unwrap();
    // A's parallel 2 is paired with B's parallel 2 (not with A's first load); B's TTFT is worse.
    assert!(compare.contains("A parallel 2 · B parallel 2") && !compare.contains("A parallel 1"), "{compare}");
    let ttft_row = compare.split("TTFT p50 (ms)").nth(1).unwrap().split("</tr>").next().unwrap();
    assert!(ttft_row.contains("(worse)") && ttft_row.contains("+1"), "{ttft_row}");
    assert_eq!(compare.matches("<polyline").count(), 4, "two curves on each of two charts");
    let one = reqwest::get(server.url(&format!("/perf/compare?id={a}"))).await.unwrap();
    assert_eq!(one.status(), 400);

    // An open loop against a server that hangs is cancelled: its sends stop, its requests are dropped.
    let (_, c) = start_test(&server, json!({"target": "served:stuck", "number": 100, "rate": 4.0})).await;
    let c = c["id"].as_i64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.get_json(&format!("/api/perf/{c}")).await["status"] != "running" {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let page = reqwest::get(server.url(&format!("/perf/{c}"))).await.unwrap().text().await.unwrap();
    assert!(page.contains("http-equiv=\"refresh\"") && page.contains("<progress"), "{page}");
    let cancel = common::server::api_client().delete(server.url(&format!("/api/runs/{c}"))).send().await.unwrap();
    assert_eq!(cancel.status(), 202);
    assert_eq!(finished_test(&server, c).await["status"], "cancelled");
    let sent = calls.load(std::sync::atomic::Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), sent, "requests were still sent after the cancel");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_usage_tokens_are_counted_by_chunk_and_the_report_says_so() {
    let _serial = SERIAL.lock().await;
    let (url, _) = scripted_server().await;
    let (code, out, err) = perf(&url, &["--model", "no-usage", "--number", "2"]).await;
    assert_eq!(code, 0, "{err}");
    let run = &out["runs"][0];
    assert_eq!(run["tokens_from"], "chunks");
    assert_eq!(run["output_tokens"]["mean"], 20.0);
    assert!(within(&run["tpot_ms"]["mean"], 10.0, 2.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_counted_by_reason_and_never_as_successes() {
    let _serial = SERIAL.lock().await;
    let (url, calls) = scripted_server().await;
    let (code, out, err) = perf(&url, &["--model", "flaky", "--number", "10"]).await;
    assert_eq!(code, 0, "{err}");
    let run = &out["runs"][0];
    assert_eq!(run["requests"]["succeeded"], 5);
    assert_eq!(run["requests"]["failed"], 5);
    assert_eq!(run["requests"]["failures"]["http_500"], 5);
    assert_eq!(run["latency_ms"]["count"], 5);
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 10);

    for (model, reason, extra) in [
        ("cut", "stream_cut", vec![]),
        ("error-event", "error_in_body", vec![]),
        ("error-event", "error_in_body", vec!["--no-stream"]),
        ("json-error", "error_in_body", vec![]),
        ("hang", "timeout", vec!["--read-timeout", "0.3"]),
    ] {
        let mut args = vec!["--model", model, "--number", "3", "--parallel", "3"];
        args.extend(extra);
        let (code, out, err) = perf(&url, &args).await;
        // Every request failed: not a benchmark result.
        assert_eq!(code, 1, "{model}: {err}");
        let run = &out["runs"][0];
        assert_eq!(run["requests"]["succeeded"], 0, "{model}");
        assert_eq!(run["requests"]["failures"][reason], 3, "{model}: {}", run["requests"]);
        assert!(run["ttft_ms"].is_null() && run["output_throughput"] == 0.0, "{model}");
        assert!(err.contains("every request failed"), "{model}: {err}");
    }

    // A closed port.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (code, out, _) = perf(&format!("http://127.0.0.1:{port}/v1"), &["--model", "m", "--number", "2"]).await;
    assert_eq!(code, 1);
    assert_eq!(out["runs"][0]["requests"]["failures"]["connection"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_reader_joins_split_events_and_characters() {
    let _serial = SERIAL.lock().await;
    let (url, _) = scripted_server().await;
    let client = http_client(Duration::from_secs(5));
    let target = Target {
        url: Target::endpoint(&url, Api::Openai),
        api: Api::Openai,
        model: "split".into(),
        api_key: None,
        stream: true,
        max_tokens: None,
        min_tokens: None,
        extra: Default::default(),
        read_timeout: Duration::from_secs(5),
    };
    let outcome = send(&client, &target, &Prompt::Text("hi".into()), Instant::now(), 0.0).await;
    assert_eq!(outcome.failure, None, "{:?}", outcome.detail);
    assert_eq!(outcome.text, SPLIT_TEXT);
    assert_eq!(outcome.content_at_s.len(), 3);
    // The comment is no event; `[DONE]` is not a chunk.
    assert_eq!(outcome.chunks, 3);

    let cut = send(
        &client,
        &Target { model: "cut".into(), ..target.clone() },
        &Prompt::Text("hi".into()),
        Instant::now(),
        0.0,
    )
    .await;
    assert_eq!(cut.failure, Some(Failure::StreamCut));
    assert_eq!(cut.content_at_s.len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_loop_keeps_its_schedule_whatever_the_server_does() {
    let _serial = SERIAL.lock().await;
    let (url, _) = scripted_server().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = jury();
    cmd.args(["perf", "--url", &url, "--model", "script", "--rate", "40", "--number", "40", "--seed", "3"])
        .args(["--json", "--no-progress", "--name", "open", "--outputs-dir"])
        .arg(dir.path())
        .arg("--db")
        .arg(db_url(dir.path()));
    let out = tokio::task::spawn_blocking(move || run(&mut cmd)).await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let run = &json["runs"][0];
    assert_eq!(run["rate"], 40.0);
    assert_eq!(run["requests"]["succeeded"], 40);
    // Each request takes 290 ms and one arrives every 25 ms on average: several are in flight,
    // which a closed loop of one would never allow.
    assert!(run["max_in_flight"].as_u64().unwrap() >= 5, "{}", run["max_in_flight"]);
    assert!(run["send_lateness_ms"]["p99"].as_f64().unwrap() < 20.0, "{}", run["send_lateness_ms"]);

    // Every request's scheduled time is the seeded Poisson schedule, and it left on time.
    let requests = read_jsonl(&dir.path().join("open/rate_40.000_number_40/requests.jsonl"));
    assert_eq!(requests.len(), 40);
    let mut scheduled: Vec<f64> = requests.iter().map(|r| r["scheduled_s"].as_f64().unwrap()).collect();
    scheduled.sort_by(f64::total_cmp);
    let expected = poisson_schedule(40.0, 40, 3);
    for (got, want) in scheduled.iter().zip(&expected) {
        assert!((got - want).abs() < 1e-9);
    }
    for r in &requests {
        let late = r["sent_s"].as_f64().unwrap() - r["scheduled_s"].as_f64().unwrap();
        assert!((0.0..0.05).contains(&late), "{r}");
    }
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("open/rate_40.000_number_40/benchmark_summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["Total Requests"], 40);
    assert!(within(&summary["Avg TTFT (ms)"], 100.0, 3.0), "{summary}");
    let percentiles: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("open/rate_40.000_number_40/benchmark_percentile.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(percentiles[0]["Percentiles"], "min");
    assert_eq!(percentiles[3]["Percentiles"], "50%");
    assert!(within(&percentiles[3]["ITL (ms)"], 10.0, 2.0), "{percentiles}");
    assert!(within(&percentiles[3]["Latency (s)"], 0.29, 0.003), "{percentiles}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompts_come_from_the_dataset_file() {
    let _serial = SERIAL.lock().await;
    let (url, calls) = scripted_server().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        &dir.path().join("open_qa.jsonl"),
        "{\"question\": \"short?\"}\n{\"question\": \"a much longer question?\"}\n",
    );
    let (code, out, err) = perf(
        &url,
        &[
            "--model",
            "instant",
            "--number",
            "4",
            "--dataset",
            "openqa",
            "--dataset-path",
            file.to_str().unwrap(),
            "--min-prompt-length",
            "10",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out["runs"][0]["requests"]["succeeded"], 4);
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 4);
}

#[test]
fn bad_arguments_and_datasets_exit_2_with_where() {
    let _serial = SERIAL.blocking_lock();
    let dir = tempfile::tempdir().unwrap();
    let bad_file = write(&dir.path().join("qa.jsonl"), "{\"question\": \"fine\"}\n{\"question\": 3}\n");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--parallel", "0"], "--parallel: must be at least 1"),
        (
            vec!["--parallel", "1", "2", "3", "--number", "4", "5"],
            "--number: give one value or one per --parallel value",
        ),
        (vec!["--slo", "ttft=soon"], "--slo: ttft: expected a time"),
        (vec!["--extra-args", "[1]"], "--extra-args: expected a JSON object"),
        (vec!["--rate", "0"], "--rate: expected requests per second from"),
        (vec!["--rate", "5", "--parallel", "1", "2"], "--parallel: an open loop (--rate) does not cap"),
        (vec!["--read-timeout", "1e20"], "--read-timeout: expected seconds above 0, at most"),
        (vec!["--api", "openai-completions"], "--api:"),
        (vec!["--api-key-env", "JURY_TEST_UNSET_KEY"], "the variable JURY_TEST_UNSET_KEY is not set"),
        (vec!["--dataset-path", bad_file.to_str().unwrap()], "qa.jsonl:2"),
        (vec!["--dataset", "line_by_line"], "--dataset-path: --dataset line_by_line needs a file"),
        (vec!["--sla", "p99_ttft<=fast"], "--sla: p99_ttft: expected a time"),
        (vec!["--sweep", "3", "--rate", "5"], "--sweep: a sweep chooses its own rates"),
        (vec!["--sweep", "3", "--sla", "p99_ttft<=1s"], "--sweep: give --sweep or --sla, not both"),
    ];
    for (args, message) in cases {
        let url =
            if args.contains(&"--api") { "http://127.0.0.1:9/v1/chat/completions" } else { "http://127.0.0.1:9/v1" };
        let out = run(jury().args(["perf", "--url", url, "--model", "m"]).args(&args));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    }
    let out = run(jury().args(["perf", "--url", "ftp://x", "--model", "m"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--url: expected an http(s) URL"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_prompts_have_exact_token_lengths_and_the_tokenizer_counts_answers() {
    let _serial = SERIAL.lock().await;
    let (url, _) = scripted_server().await;
    let tokenizer = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/perf/word_tokenizer.json");
    let tokenizer = tokenizer.to_str().unwrap();
    let (code, out, err) = perf(
        &url,
        &["--model", "no-usage", "--number", "6", "--dataset", "random", "--tokenizer-path", tokenizer]
            .into_iter()
            .chain(["--min-prompt-length", "12", "--max-prompt-length", "12", "--prefix-length", "4"])
            .collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let run = &out["runs"][0];
    // No usage from the server: prompts are as long as drawn, answers counted by the tokenizer
    // ("w0 w1 … w19": 20 words).
    assert_eq!(run["tokens_from"], "tokenizer");
    assert_eq!(run["input_tokens"]["min"], 12.0);
    assert_eq!(run["input_tokens"]["max"], 12.0);
    assert_eq!(run["output_tokens"]["mean"], 20.0);

    let (code, _, err) = perf(&url, &["--model", "m", "--dataset", "random", "--max-prompt-length", "8"]).await;
    assert_eq!(code, 2);
    assert!(err.contains("--tokenizer-path: --dataset random draws tokens from a tokenizer"), "{err}");
}
