//! `jury perf --sla` and `--sweep` against a server of known capacity (a binary of its own, so
//! its load does not disturb the timing checks of tests/perf.rs).

mod common;

use std::time::Duration;

use common::mock_stream::capacity_server;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sla_search_finds_the_most_workers_within_the_objective() {
    // Two requests at a time, 100 ms each: with k workers a request takes about k × 50 ms.
    let url = capacity_server(2, Duration::from_millis(100)).await;
    let (code, out, err) = perf(
        &url,
        &["--model", "m", "--no-stream", "--number", "8", "--sla", "p99_latency<=225ms", "--sla-repeats", "1"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let sla = &out["sla"];
    assert_eq!(sla["over"], "parallel");
    let tried: Vec<f64> = sla["points"].as_array().unwrap().iter().map(|p| p["load"].as_f64().unwrap()).collect();
    assert_eq!(tried, vec![1.0, 2.0, 4.0, 8.0, 6.0, 5.0], "{sla}");
    assert_eq!(sla["best"], 4.0, "{sla}");
    assert_eq!(out["runs"].as_array().unwrap().len(), 6);
    let spread = &sla["points"][2]["spread"][0];
    assert_eq!(spread["objective"], "p99_latency<=225ms");
    assert!(spread["max_ms"].as_f64().unwrap() < 225.0, "{spread}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_runs_from_idle_to_peak() {
    let url = capacity_server(2, Duration::from_millis(100)).await;
    let (code, out, err) = perf(&url, &["--model", "m", "--number", "8", "--parallel", "4", "--sweep", "2"]).await;
    assert_eq!(code, 0, "{err}");
    let sweep = &out["sweep"];
    let (low, high) = (sweep["synchronous_rate"].as_f64().unwrap(), sweep["peak_rate"].as_f64().unwrap());
    // One worker: about 10 requests per second; four workers on two places: about 20.
    assert!((7.0..11.0).contains(&low), "{sweep}");
    assert!((14.0..21.0).contains(&high), "{sweep}");
    let rates: Vec<f64> = sweep["rates"].as_array().unwrap().iter().map(|r| r.as_f64().unwrap()).collect();
    assert_eq!(rates.len(), 2);
    assert!((rates[0] - (low + (high - low) / 3.0)).abs() < 1e-9 && rates[1] > rates[0] && rates[1] < high);
    let runs = out["runs"].as_array().unwrap();
    assert_eq!((runs[0]["parallel"].as_u64(), runs[1]["parallel"].as_u64()), (Some(1), Some(4)));
    assert!(runs[0]["rate"].is_null() && runs[1]["rate"].is_null());
    let open: Vec<f64> = runs[2..].iter().map(|r| r["rate"].as_f64().unwrap()).collect();
    assert!(!open.is_empty() && open.iter().zip(&rates).all(|(a, b)| a == b), "{open:?}");
    assert_eq!(runs.len() == 3, sweep["stopped_early"].is_string(), "{sweep}");
}
