//! `/runs`: start an arena round, watch it, cancel it.

use std::path::PathBuf;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Nav, TokenOnly, ago, nav, page};
use crate::arena::ArenaSummary;
use crate::config::ModelSpec;
use crate::store::{QuestionSetSummary, RunRow};
use crate::web::error::{PageError, WebError};
use crate::web::guards::{AdminPage, CsrfForm};
use crate::web::runs::{RunRequest, interrupted_run, start};
use crate::web::state::AppState;

pub struct RunItem {
    pub run: RunRow,
    /// The status as shown: `interrupted` for a run whose process stopped beating.
    pub status: String,
    pub when: String,
    pub percent: i64,
}

impl RunItem {
    fn new(run: RunRow) -> RunItem {
        let percent = if run.progress_total > 0 { run.progress_done * 100 / run.progress_total } else { 0 };
        RunItem { status: run.shown_status().to_string(), when: ago(run.created_at), percent, run }
    }
}

pub struct CandidateOption {
    pub name: String,
    pub description: String,
}

#[derive(Template)]
#[template(path = "runs.html")]
struct RunsPage {
    nav: Nav,
    runs: Vec<RunItem>,
    question_sets: Vec<QuestionSetSummary>,
    candidates: Vec<CandidateOption>,
    /// The configured judges: name and what they are.
    judges: Vec<(String, String)>,
    /// The demo model is being fetched, or could not be.
    demo_model: Option<String>,
}

pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    let (nav, cookie) = nav(&state, &headers, "runs");
    let runs = state.store.list_runs(50).await?.into_iter().map(RunItem::new).collect();
    let mut candidates: Vec<CandidateOption> = state
        .registry
        .candidates
        .iter()
        .map(|c| CandidateOption {
            name: c.name.clone(),
            description: format!(
                "generates answers with {}{}",
                match &c.model {
                    ModelSpec::Local { path } =>
                        path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
                    other => other.describe(),
                },
                c.system_prompt.as_ref().map(|p| format!("; system prompt: \"{p}\"")).unwrap_or_default()
            ),
        })
        .collect();
    for name in state.store.model_names().await? {
        if !candidates.iter().any(|c| c.name == name) {
            candidates.push(CandidateOption { name, description: "stored answers".into() });
        }
    }
    let judges = state.judges.iter().map(|j| (j.name.clone(), format!("{} at {}", j.model, j.api_base()))).collect();
    let template = RunsPage {
        nav,
        runs,
        question_sets: state.store.list_question_sets().await?,
        candidates,
        judges,
        demo_model: state.demo_model.get(),
    };
    page(template, cookie)
}

pub async fn create(
    State(state): State<AppState>,
    _: AdminPage,
    CsrfForm(fields): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let id = start(&state, &RunRequest::from_form(fields)).await?;
    Ok(Redirect::to(&format!("/runs/{id}")).into_response())
}

#[derive(Template)]
#[template(path = "run.html")]
struct RunPage {
    nav: Nav,
    item: RunItem,
    /// The summary's figures, label and value.
    facts: Vec<(&'static str, String)>,
    /// The files the run wrote that can be fetched: their number and name.
    files: Vec<(usize, String)>,
    /// The whole summary, pretty-printed.
    summary: Option<String>,
    active: bool,
}

pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let (nav, cookie) = nav(&state, &headers, "runs");
    let run = state.store.run(id).await?.ok_or(WebError::NotFound)?;
    let json = run.summary.as_deref().and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok());
    let parsed = json.as_ref().and_then(|v| ArenaSummary::deserialize(v).ok());
    let facts = parsed.as_ref().map(|s| s.facts()).unwrap_or_default();
    let files = parsed
        .as_ref()
        .map(|s| run_files(&run, s).into_iter().map(|(n, path)| (n, file_name(&path))).collect())
        .unwrap_or_default();
    let summary = json.and_then(|v| serde_json::to_string_pretty(&v).ok());
    let active = (run.status == "queued" || run.status == "running") && !run.interrupted();
    page(RunPage { nav, facts, files, summary, active, item: RunItem::new(run) }, cookie)
}

/// The files a run wrote, by their number in its summary, that are still there and inside the
/// run's own folder (runs started from the command line write wherever their config says, and
/// are not served).
fn run_files(run: &RunRow, summary: &ArenaSummary) -> Vec<(usize, PathBuf)> {
    let Some(dir) = run.work_dir.as_deref().and_then(|d| std::fs::canonicalize(d).ok()) else { return Vec::new() };
    summary
        .files()
        .into_iter()
        .enumerate()
        .filter_map(|(n, f)| std::fs::canonicalize(f).ok().map(|f| (n, f)))
        .filter(|(_, f)| f.starts_with(&dir) && f.is_file())
        .collect()
}

fn file_name(path: &std::path::Path) -> String {
    path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default()
}

/// `/runs/{id}/files/{n}`: a file the run wrote; reports open in the browser, the rest download.
pub async fn file(State(state): State<AppState>, Path((id, n)): Path<(i64, usize)>) -> Result<Response, PageError> {
    let run = state.store.run(id).await?.ok_or(WebError::NotFound)?;
    let summary =
        run.summary.as_deref().and_then(|s| serde_json::from_str::<ArenaSummary>(s).ok()).ok_or(WebError::NotFound)?;
    let (_, path) = run_files(&run, &summary).into_iter().find(|(i, _)| *i == n).ok_or(WebError::NotFound)?;
    let body = tokio::fs::read(&path).await.map_err(|e| WebError::Internal(format!("{}: {e}", path.display())))?;
    let (content_type, disposition) = match path.extension().and_then(|e| e.to_str()) {
        Some("html") => ("text/html; charset=utf-8", "inline"),
        Some("csv") => ("text/csv; charset=utf-8", "attachment"),
        Some("json") => ("application/json", "attachment"),
        _ => ("application/x-ndjson; charset=utf-8", "attachment"),
    };
    let name = file_name(&path).replace(['"', '\\'], "_");
    let disposition = format!("{disposition}; filename=\"{name}\"");
    // A report carries its style inline (it is also opened from disk); it holds no script, and
    // this policy lets none run.
    let policy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'";
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CONTENT_SECURITY_POLICY, policy.to_string()),
        ],
        body,
    )
        .into_response())
}

pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    _: AdminPage,
    _: CsrfForm<TokenOnly>,
) -> Result<Response, PageError> {
    state.store.run(id).await?.ok_or(WebError::NotFound)?;
    state.store.request_cancel(id).await?;
    Ok(Redirect::to(&format!("/runs/{id}")).into_response())
}

/// Resumes an interrupted run in this server's worker.
pub async fn resume(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    _: AdminPage,
    _: CsrfForm<TokenOnly>,
) -> Result<Response, PageError> {
    interrupted_run(&state, id, true).await?;
    state.store.resume_run(id).await?;
    state.jobs.notify();
    Ok(Redirect::to(&format!("/runs/{id}")).into_response())
}

/// Gives up on an interrupted run.
pub async fn dismiss(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    _: AdminPage,
    _: CsrfForm<TokenOnly>,
) -> Result<Response, PageError> {
    interrupted_run(&state, id, false).await?;
    state.store.dismiss_run(id).await?;
    Ok(Redirect::to(&format!("/runs/{id}")).into_response())
}
