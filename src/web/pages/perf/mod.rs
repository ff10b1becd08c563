//! `/perf`: load tests (`jury perf`, or started here) with their figures; one test's points,
//! each with its percentile table and charts of latency and time to first token drawn from its
//! requests; two tests side by side.

mod charts;
pub mod compare;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::Value;

use self::charts::{Histogram, Scatter, histogram, scatter};
use super::{Nav, ago, nav, page};
use crate::perf::metrics::PERCENTILES;
use crate::perf::report::number;
use crate::store::{PerfRequestRow, RunRow};
use crate::web::error::{PageError, WebError};
use crate::web::guards::{AdminPage, CsrfForm};
use crate::web::state::AppState;

pub struct PerfItem {
    pub run: RunRow,
    pub when: String,
    pub model: String,
    pub url: String,
    /// One line per point: its load and headline figures.
    pub points: Vec<String>,
}

pub(crate) fn summary_of(run: &RunRow) -> Value {
    run.summary.as_deref().or(Some(run.config.as_str())).and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default()
}

pub(crate) fn load_label(point: &Value) -> String {
    match point["rate"].as_f64() {
        Some(rate) => format!("rate {rate}/s"),
        None => format!("parallel {}", point["parallel"]),
    }
}

fn item(run: RunRow) -> PerfItem {
    let summary = summary_of(&run);
    let points = summary["runs"]
        .as_array()
        .map(|runs| {
            runs.iter()
                .map(|p| {
                    format!(
                        "{}: {} req/s, TTFT p50 {} ms, {} failed",
                        load_label(p),
                        number(&p["request_throughput"], 2),
                        number(&p["ttft_ms"]["p50"], 1),
                        p["requests"]["failed"]
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    // A test queued from the pages has only its settings until it starts.
    let model = summary["model"].as_str().or(summary["target"]["model"].as_str());
    let url = summary["url"].as_str().or(summary["target"]["url"].as_str()).unwrap_or("this server's /v1");
    PerfItem {
        when: ago(run.created_at),
        model: model.unwrap_or_default().to_string(),
        url: url.to_string(),
        points,
        run,
    }
}

#[derive(Template)]
#[template(path = "perf_runs.html")]
struct PerfRunsPage {
    nav: Nav,
    tests: Vec<PerfItem>,
    /// The form's targets (label, value).
    targets: Vec<(String, String)>,
}

pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    let (nav, cookie) = nav(&state, &headers, "perf");
    let tests = state.store.list_runs_of_kind("perf", 100).await?.into_iter().map(item).collect();
    let targets = crate::web::perf::target_choices(&state);
    page(PerfRunsPage { nav, tests, targets }, cookie)
}

/// The form: queue a load test, then watch it on its page.
pub async fn create(
    State(state): State<AppState>,
    _: AdminPage,
    CsrfForm(fields): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let request = crate::web::perf::PerfRequest::from_form(fields)?;
    let id = crate::web::perf::start(&state, &request).await?;
    Ok(Redirect::to(&format!("/perf/{id}")).into_response())
}

pub struct PointView {
    pub label: String,
    /// Time to first token of each request against when it was sent.
    pub ttft_over_time: Option<Scatter>,
    /// (figure, value) rows.
    pub figures: Vec<(String, String)>,
    /// Percentile label, then TTFT, ITL, TPOT, latency (ms), input and output tokens.
    pub percentiles: Vec<Vec<String>>,
    pub failures: Vec<(String, String)>,
    pub charts: Vec<Histogram>,
}

fn point_view(point: &Value, requests: &[PerfRequestRow]) -> PointView {
    let figures = [
        ("Requests", point["requests"]["total"].to_string()),
        ("Succeeded", point["requests"]["succeeded"].to_string()),
        ("Duration (s)", number(&point["duration_s"], 2)),
        ("Request throughput (req/s)", number(&point["request_throughput"], 3)),
        ("Output token throughput (tok/s)", number(&point["output_throughput"], 2)),
        ("Total token throughput (tok/s)", number(&point["total_throughput"], 2)),
        ("Goodput (req/s)", number(&point["goodput"], 3)),
        ("Most requests in flight", point["max_in_flight"].to_string()),
        ("Tokens counted from", point["tokens_from"].as_str().unwrap_or("-").to_string()),
        ("Send lateness p99 (ms)", number(&point["send_lateness_ms"]["p99"], 3)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let columns = ["ttft_ms", "itl_ms", "tpot_ms", "latency_ms", "input_tokens", "output_tokens"];
    let percentiles = PERCENTILES
        .iter()
        .map(|p| {
            let mut row = vec![format!("{p}%")];
            row.extend(columns.iter().map(|c| number(&point[*c][format!("p{p}")], 2)));
            row
        })
        .collect();
    let failures = point["requests"]["failures"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.to_string())).collect())
        .unwrap_or_default();
    let ok: Vec<&PerfRequestRow> = requests.iter().filter(|r| r.failure.is_none()).collect();
    let latency: Vec<f64> = ok.iter().map(|r| (r.end_s - r.sent_s) * 1000.0).collect();
    let ttft: Vec<f64> = ok.iter().filter_map(|r| r.first_content_s.map(|f| (f - r.sent_s) * 1000.0)).collect();
    let charts =
        [histogram("Latency", &latency), histogram("Time to first token", &ttft)].into_iter().flatten().collect();
    let over_time: Vec<(f64, f64)> =
        ok.iter().filter_map(|r| r.first_content_s.map(|f| (r.sent_s, (f - r.sent_s) * 1000.0))).collect();
    let ttft_over_time = scatter("Time to first token by when the request was sent", &over_time, "s", "ms", false);
    PointView { label: load_label(point), ttft_over_time, figures, percentiles, failures, charts }
}

#[derive(Template)]
#[template(path = "perf_run.html")]
struct PerfRunPage {
    nav: Nav,
    item: PerfItem,
    status: String,
    views: Vec<PointView>,
    /// Several points: throughput against the load of each.
    throughput: Option<Scatter>,
    /// Queued or running: the page refreshes itself and offers a cancel.
    active: bool,
    percent: i64,
}

pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let (nav, cookie) = nav(&state, &headers, "perf");
    let run = state.store.run_of_kind(id, "perf").await?.ok_or(WebError::NotFound)?;
    let summary = summary_of(&run);
    let mut views = Vec::new();
    for (i, point) in summary["runs"].as_array().cloned().unwrap_or_default().iter().enumerate() {
        let requests = state.store.perf_requests(id, i as i64).await?;
        views.push(point_view(point, &requests));
    }
    let status = run.shown_status().to_string();
    let throughput = throughput_chart(&summary);
    let active = status == "queued" || status == "running";
    let percent = if run.progress_total > 0 { run.progress_done * 100 / run.progress_total } else { 0 };
    page(PerfRunPage { nav, item: item(run), status, views, throughput, active, percent }, cookie)
}

/// Output tokens per second against each point's load (workers, or the offered rate), in the
/// order the points ran; for a test of two points or more.
fn throughput_chart(summary: &Value) -> Option<Scatter> {
    let runs = summary["runs"].as_array().filter(|r| r.len() > 1)?;
    let mut points: Vec<(f64, f64)> = runs
        .iter()
        .filter_map(|p| {
            let load = p["rate"].as_f64().or_else(|| p["parallel"].as_f64())?;
            Some((load, p["output_throughput"].as_f64().unwrap_or(0.0)))
        })
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    scatter("Output tokens per second by load (workers or requests per second)", &points, "", "tok/s", true)
}
