//! `/evals`: benchmark runs (`jury eval`) with their scores, one eval's tables and chart, and
//! its samples (the wrong ones on their own, to see what the model got wrong and why).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::Value;

use super::{Nav, Pager, ago, nav, page, query};
use crate::store::RunRow;
use crate::web::error::{PageError, WebError};
use crate::web::guards::{AdminPage, CsrfForm};
use crate::web::state::AppState;

const SAMPLES_PER_PAGE: i64 = 50;

/// One metric of one task or group, as the page shows it.
pub struct ScoreRow {
    pub name: String,
    pub metric: String,
    /// The value as a fraction (0..1 for accuracies).
    pub fraction: f64,
    pub percent: String,
    /// "%" for shares, nothing for perplexities.
    pub unit: &'static str,
    pub stderr: String,
    /// The bar's length in the chart (0..=300 px).
    pub bar: f64,
}

/// The rows of an lm-eval `results` (or `groups`) object: every `METRIC,FILTER` key but the
/// standard errors, with its standard error beside it.
pub fn score_rows(results: &Value) -> Vec<ScoreRow> {
    let mut rows = Vec::new();
    let Some(map) = results.as_object() else { return rows };
    for (name, metrics) in map {
        let Some(metrics) = metrics.as_object() else { continue };
        for (key, value) in metrics {
            let Some(value) = value.as_f64().filter(|_| key != "alias" && !key.contains("_stderr")) else { continue };
            let stderr_key = key.replacen(',', "_stderr,", 1);
            let stderr = metrics.get(&stderr_key).and_then(Value::as_f64);
            let share = crate::eval::report::is_fraction(key.split(',').next().unwrap_or_default());
            // Perplexities are shown as they are, without a bar.
            let scale = if share { 100.0 } else { 1.0 };
            rows.push(ScoreRow {
                name: name.clone(),
                metric: key.trim_end_matches(",none").to_string(),
                fraction: value,
                percent: if share { format!("{:.2}", 100.0 * value) } else { format!("{value:.4}") },
                unit: if share { "%" } else { "" },
                stderr: stderr.map(|s| format!("±{:.2}", scale * s)).unwrap_or_else(|| "-".into()),
                bar: if share { (value.clamp(0.0, 1.0) * 300.0).round() } else { 0.0 },
            });
        }
    }
    rows
}

pub struct EvalItem {
    pub run: RunRow,
    pub when: String,
    pub model: String,
    pub headline: Vec<ScoreRow>,
}

fn item(run: RunRow) -> EvalItem {
    let summary: Value = run.summary.as_deref().and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default();
    let config: Value = serde_json::from_str(&run.config).unwrap_or_default();
    let model = summary["model"].as_str().or(config["model"].as_str()).unwrap_or("").to_string();
    // The first metric of each task: what a list can show.
    let mut headline: Vec<ScoreRow> = Vec::new();
    for row in score_rows(&summary["results"]) {
        if !headline.iter().any(|h| h.name == row.name) {
            headline.push(row);
        }
    }
    headline.truncate(8);
    EvalItem { when: ago(run.created_at), model, headline, run }
}

#[derive(Template)]
#[template(path = "evals.html")]
struct EvalsPage {
    nav: Nav,
    evals: Vec<EvalItem>,
    /// The form's choices: models (label, value) and datasets.
    models: Vec<(String, String)>,
    datasets: Vec<&'static str>,
}

pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    let (nav, cookie) = nav(&state, &headers, "evals");
    let evals = state.store.list_runs_of_kind("eval", 100).await?.into_iter().map(item).collect();
    let models = crate::web::evals::model_choices(&state);
    let datasets = crate::eval::datasets::Dataset::ALL.iter().map(|d| d.name()).collect();
    page(EvalsPage { nav, evals, models, datasets }, cookie)
}

/// The form: queue an eval, then watch it on its page.
pub async fn create(
    State(state): State<AppState>,
    _: AdminPage,
    CsrfForm(fields): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let request = crate::web::evals::EvalRequest::from_form(fields)?;
    let id = crate::web::evals::start(&state, &request).await?;
    Ok(Redirect::to(&format!("/evals/{id}")).into_response())
}

#[derive(Template)]
#[template(path = "eval.html")]
struct EvalPage {
    nav: Nav,
    item: EvalItem,
    status: String,
    tasks: Vec<ScoreRow>,
    groups: Vec<ScoreRow>,
    /// Each task's documents: effective and original counts.
    sizes: Vec<(String, i64, i64)>,
    /// Queued or running: the page refreshes itself and offers a cancel.
    active: bool,
    percent: i64,
    /// What ran a local model (file, weights, threads, sequences), once scored.
    local_model: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let (nav, cookie) = nav(&state, &headers, "evals");
    let run = state.store.run_of_kind(id, "eval").await?.ok_or(WebError::NotFound)?;
    let summary: Value = run.summary.as_deref().and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default();
    let groups = score_rows(&summary["groups"]);
    let group_names: Vec<String> = groups.iter().map(|g| g.name.clone()).collect();
    let tasks = score_rows(&summary["results"]).into_iter().filter(|r| !group_names.contains(&r.name)).collect();
    let sizes = summary["n-samples"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v["effective"].as_i64().unwrap_or(0), v["original"].as_i64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default();
    let status = run.shown_status().to_string();
    let active = status == "queued" || status == "running";
    let percent = if run.progress_total > 0 { run.progress_done * 100 / run.progress_total } else { 0 };
    let local_model = summary["jury"]["local_model"].as_str().map(String::from);
    page(EvalPage { nav, item: item(run), status, tasks, groups, sizes, active, percent, local_model }, cookie)
}

#[derive(Deserialize)]
pub struct SampleQuery {
    pub task: Option<String>,
    pub wrong: Option<String>,
    pub page: Option<i64>,
}

pub struct SampleRow {
    pub doc_id: i64,
    pub correct: bool,
    pub prompt: String,
    pub target: String,
    pub prediction: String,
    /// The generation (generation tasks) or each choice's log-likelihood (multiple choice).
    pub detail: String,
}

#[derive(Template)]
#[template(path = "eval_samples.html")]
struct SamplesPage {
    nav: Nav,
    id: i64,
    task: String,
    wrong: bool,
    rows: Vec<SampleRow>,
    pager: Pager,
}

pub async fn samples(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<SampleQuery>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let (nav, cookie) = nav(&state, &headers, "evals");
    state.store.run_of_kind(id, "eval").await?.ok_or(WebError::NotFound)?;
    let task = q
        .task
        .clone()
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| WebError::BadRequest("name the task: ?task=NAME".into()))?;
    let wrong = super::is_on(&q.wrong);
    let page_no = q.page.unwrap_or(1).max(1);
    let (stored, total) =
        state.store.eval_samples(id, &task, wrong, SAMPLES_PER_PAGE, (page_no - 1) * SAMPLES_PER_PAGE).await?;
    let rows = stored
        .into_iter()
        .map(|s| {
            let v: Value = serde_json::from_str(&s.sample).unwrap_or_default();
            let text = |key: &str| match &v[key] {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            let detail = match v.get("output") {
                Some(Value::String(out)) => out.clone(),
                _ => v["choices"]
                    .as_array()
                    .zip(v["loglikelihoods"].as_array())
                    .map(|(c, l)| {
                        c.iter()
                            .zip(l)
                            .map(|(c, l)| {
                                format!("{:.2}  {}", l.as_f64().unwrap_or(f64::NAN), c.as_str().unwrap_or(""))
                            })
                            .collect::<Vec<_>>()
                            .join("\n")
                    })
                    .unwrap_or_default(),
            };
            SampleRow {
                doc_id: s.doc_id,
                correct: s.correct,
                prompt: text("prompt"),
                target: text("target"),
                prediction: text("prediction"),
                detail,
            }
        })
        .collect();
    let link = |p: i64| {
        format!(
            "/evals/{id}/samples{}",
            query(&[
                ("task", Some(task.clone())),
                ("wrong", wrong.then(|| "1".to_string())),
                ("page", Some(p.to_string()))
            ])
        )
    };
    let pager = Pager::new(page_no, SAMPLES_PER_PAGE, total, link);
    page(SamplesPage { nav, id, task, wrong, rows, pager }, cookie)
}

/// One model's row in the matrix: its latest score on each task (headline metric).
pub struct MatrixRow {
    pub model: String,
    pub cells: Vec<Option<String>>,
    /// The same scores as bars (task name, length 0..=160 px, percent).
    pub bars: Vec<(String, f64, String)>,
}

#[derive(Template)]
#[template(path = "benchmarks.html")]
struct BenchmarksPage {
    nav: Nav,
    tasks: Vec<String>,
    rows: Vec<MatrixRow>,
}

/// `/benchmarks`: models × tasks, each cell the latest finished eval's headline score (groups
/// such as `mmlu` included), with a bar chart per model.
pub async fn matrix(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    let (nav, cookie) = nav(&state, &headers, "benchmarks");
    let runs = state.store.list_runs_of_kind("eval", 1000).await?;
    let mut tasks: Vec<String> = Vec::new();
    // Newest first, so the first score seen for a model and task is the latest.
    let mut scores: Vec<(String, std::collections::HashMap<String, f64>)> = Vec::new();
    for run in runs.into_iter().filter(|r| r.status == "succeeded") {
        let e = item(run);
        let index = match scores.iter().position(|(m, _)| *m == e.model) {
            Some(i) => i,
            None => {
                scores.push((e.model.clone(), Default::default()));
                scores.len() - 1
            }
        };
        let summary: Value = e.run.summary.as_deref().and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default();
        let mut seen = Vec::new();
        // Shares only: a perplexity is no percentage beside the others.
        for row in score_rows(&summary["results"]).into_iter().filter(|r| r.unit == "%") {
            if seen.contains(&row.name) {
                continue;
            }
            seen.push(row.name.clone());
            if !tasks.contains(&row.name) {
                tasks.push(row.name.clone());
            }
            scores[index].1.entry(row.name).or_insert(row.fraction);
        }
    }
    tasks.sort();
    let rows = scores
        .into_iter()
        .map(|(model, by_task)| MatrixRow {
            cells: tasks.iter().map(|t| by_task.get(t).map(|v| format!("{:.1}", 100.0 * v))).collect(),
            bars: tasks
                .iter()
                .filter_map(|t| {
                    by_task
                        .get(t)
                        .map(|v| (t.clone(), (v.clamp(0.0, 1.0) * 160.0).round(), format!("{:.1}", 100.0 * v)))
                })
                .collect(),
            model,
        })
        .collect();
    page(BenchmarksPage { nav, tasks, rows }, cookie)
}
