//! The JSON API: what the pages show, for scripts.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::error::{ApiError, WebError};
use super::guards::{AdminApi, ApiWrite, ClientIp};
use super::imports;
use super::leaderboard::BoardQuery;
use super::pages::vote::{VoteQuery, parse_set};
use super::runs::{RunRequest, interrupted_run, start};
use super::state::AppState;
use super::uploads;
use super::voting;
use crate::import;
use crate::store::RunRow;

type ApiResult = Result<Response, ApiError>;

#[derive(Serialize)]
struct BoardModel<'a> {
    model: &'a str,
    rating: f64,
    ci_lower: Option<f64>,
    ci_upper: Option<f64>,
    rank_ub: usize,
    battles: u64,
    wins: u64,
    losses: u64,
    ties: u64,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    flags: &'a [String],
}

pub async fn leaderboard(State(state): State<AppState>, Query(q): Query<BoardQuery>) -> ApiResult {
    let key = q.key()?;
    let view = state.boards.get(&state.store, &key).await?;
    let b = &view.board;
    let models: Vec<BoardModel<'_>> = b
        .models
        .iter()
        .map(|m| BoardModel {
            model: &m.model,
            rating: m.rating,
            ci_lower: m.ci_lower,
            ci_upper: m.ci_upper,
            rank_ub: m.rank_ub,
            battles: m.battles,
            wins: m.wins,
            losses: m.losses,
            ties: m.ties,
            flags: &m.flags,
        })
        .collect();
    Ok(Json(json!({
        "method": b.method,
        "source": key.scope.source.as_deref().unwrap_or("all"),
        "judge": key.scope.judge,
        "category": key.scope.category,
        "question_set": key.scope.question_set,
        "dry_run": key.scope.dry_run,
        "battles": b.battles,
        "bootstrap_rounds": b.bootstrap_rounds,
        "models": models,
        "win_fraction": b.win_fraction,
        "battle_counts": b.battle_counts,
        "baseline": b.baseline,
        "scores": view.scores,
        "style_control": view.style,
        "warnings": b.warnings,
        "computed_at": view.computed_at,
    }))
    .into_response())
}

/// `GET /api/judges`: each judge's trust figures (as `jury rate --db --json` gives them) and
/// people's, under the leaderboard's filters (`category`, `question_set`, `dry_run`).
pub async fn judges(State(state): State<AppState>, Query(q): Query<BoardQuery>) -> ApiResult {
    let mut key = q.key()?;
    key.scope.source = None;
    key.scope.judge = None;
    key.style_control = false;
    key.judges = true;
    let view = state.boards.get(&state.store, &key).await?;
    Ok(Json(json!({
        "category": key.scope.category,
        "question_set": key.scope.question_set,
        "dry_run": key.scope.dry_run,
        "judges": view.judges.judges,
        "people": view.judges.people,
    }))
    .into_response())
}

#[derive(Deserialize)]
pub struct NameQuery {
    name: Option<String>,
}

/// The content types a raw upload may declare: a browser form cannot send these, and a file
/// sent as something else is refused rather than guessed at.
const QUESTION_TYPES: &[&str] =
    &["application/jsonl", "application/x-ndjson", "application/json", "application/x-jsonlines", "text/csv"];
const ANSWER_TYPES: &[&str] =
    &["application/jsonl", "application/x-ndjson", "application/json", "application/x-jsonlines"];

fn check_content_type(headers: &HeaderMap, allowed: &[&str]) -> Result<(), WebError> {
    let given = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = given.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if allowed.contains(&essence.as_str()) {
        Ok(())
    } else {
        Err(WebError::UnsupportedType(format!(
            "declare the file's type: Content-Type must be one of {}, not {:?}",
            allowed.join(", "),
            given
        )))
    }
}

pub async fn create_question_set(
    State(state): State<AppState>,
    _: AdminApi,
    headers: HeaderMap,
    Query(q): Query<NameQuery>,
    body: Bytes,
) -> ApiResult {
    check_content_type(&headers, QUESTION_TYPES)?;
    let name = q
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| WebError::BadRequest("name the set: POST /api/question-sets?name=NAME".into()))?;
    let questions = uploads::questions(&body, "upload", state.max_upload_bytes).map_err(WebError::Rejected)?;
    let id = state.store.create_question_set(name, None, &questions).await?;
    Ok((StatusCode::CREATED, Json(json!({"id": id, "questions": questions.len()}))).into_response())
}

pub async fn list_question_sets(State(state): State<AppState>) -> ApiResult {
    let sets: Vec<Value> = state
        .store
        .list_question_sets()
        .await?
        .into_iter()
        .map(|s| json!({"id": s.id, "name": s.name, "questions": s.questions, "answers": s.answers, "models": s.models, "created_at": s.created_at}))
        .collect();
    Ok(Json(sets).into_response())
}

pub async fn delete_question_set(State(state): State<AppState>, _: AdminApi, Path(id): Path<i64>) -> ApiResult {
    if !state.store.delete_question_set(id).await? {
        return Err(WebError::NotFound.into());
    }
    state.boards.invalidate();
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
pub struct SetQuery {
    question_set: Option<String>,
}

pub async fn create_answers(
    State(state): State<AppState>,
    _: AdminApi,
    headers: HeaderMap,
    Query(q): Query<SetQuery>,
    body: Bytes,
) -> ApiResult {
    check_content_type(&headers, ANSWER_TYPES)?;
    let set = parse_set(&q.question_set)?
        .ok_or_else(|| WebError::BadRequest("name the set: POST /api/answers?question_set=ID".into()))?;
    let (answers, models) = imports::answers(&state, set, &body, "upload").await?;
    Ok((StatusCode::CREATED, Json(json!({"answers": answers, "models": models}))).into_response())
}

#[derive(Deserialize)]
pub struct ImportQuery {
    source: Option<String>,
    judge: Option<String>,
    question_set: Option<String>,
}

/// `POST /api/battles/import`: verdicts made elsewhere (a verdict file as the body), bound to
/// stored questions and answers, as `jury import battles` does. Admin only.
pub async fn import_battles(
    State(state): State<AppState>,
    _: AdminApi,
    headers: HeaderMap,
    Query(q): Query<ImportQuery>,
    body: Bytes,
) -> ApiResult {
    check_content_type(&headers, ANSWER_TYPES)?;
    let text = uploads::text_of(&body, "upload", state.max_upload_bytes).map_err(WebError::Rejected)?;
    let clean = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
    let source = match clean(&q.source).as_deref() {
        None | Some("human") => import::Source::Human,
        Some("judge") => import::Source::Judge,
        Some(other) => return Err(WebError::BadRequest(format!("source must be human or judge, not {other}")).into()),
    };
    let judge = clean(&q.judge);
    if judge.is_some() && source == import::Source::Human {
        return Err(WebError::BadRequest("judge names the judge of source=judge verdicts".into()).into());
    }
    let options = import::ImportOptions { source, judge, question_set: clean(&q.question_set) };
    let summary = match import::import_battles(&state.store, &[("upload".into(), text.to_string())], &options).await {
        Ok(summary) => summary,
        Err(import::battles::ImportError::BadInput(bad)) => return Err(WebError::Rejected(bad).into()),
        Err(import::battles::ImportError::Store(e)) => return Err(WebError::from(e).into()),
    };
    state.boards.invalidate();
    Ok(Json(summary).into_response())
}

/// `GET /api/safety?dry_run=1`: each model's attack success rate, overall (`all`) and per category.
pub async fn safety(State(state): State<AppState>, Query(q): Query<super::pages::safety::SafetyQuery>) -> ApiResult {
    let rows = super::pages::safety::rates(&state, q.dry_run()).await.map_err(WebError::from)?;
    Ok(Json(json!({"dry_run": q.dry_run(), "attack_success": rows})).into_response())
}

pub async fn next_vote(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    Query(q): Query<VoteQuery>,
) -> ApiResult {
    let battle = voting::next_battle(&state, parse_set(&q.question_set)?, q.calibration(), client).await?.ok_or_else(
        || match q.calibration() {
            true => WebError::Conflict("nothing to calibrate: no judge has decided a (real) battle here".into()),
            false => WebError::Conflict("nothing to vote on: no two models answered the same question".into()),
        },
    )?;
    Ok(Json(json!({
        "battle_id": battle.battle_id,
        "question": battle.question,
        "category": battle.category,
        "answer_a": battle.answer_a,
        "answer_b": battle.answer_b,
    }))
    .into_response())
}

#[derive(Deserialize)]
pub struct VoteBody {
    winner: String,
}

pub async fn vote(
    State(state): State<AppState>,
    _: ApiWrite,
    ClientIp(client): ClientIp,
    Path(id): Path<i64>,
    Json(body): Json<VoteBody>,
) -> ApiResult {
    let (model_a, model_b) = voting::cast(&state, id, &body.winner, client).await?;
    Ok(Json(json!({"model_a": model_a, "model_b": model_b})).into_response())
}

fn run_json(run: &RunRow) -> Value {
    json!({
        "id": run.id,
        "kind": run.kind,
        "title": run.title,
        "status": run.shown_status(),
        "dry_run": run.dry_run,
        "stage": run.stage,
        "progress_done": run.progress_done,
        "progress_total": run.progress_total,
        "error": run.error,
        "cancel_requested": run.cancel_requested,
        "summary": run.summary.as_deref().and_then(|s| serde_json::from_str::<Value>(s).ok()),
        "created_at": run.created_at,
        "finished_at": run.finished_at,
    })
}

pub async fn create_run(State(state): State<AppState>, _: AdminApi, Json(request): Json<RunRequest>) -> ApiResult {
    let id = start(&state, &request).await?;
    let run = state.store.run(id).await?.ok_or(WebError::NotFound)?;
    Ok((StatusCode::CREATED, Json(run_json(&run))).into_response())
}

pub async fn get_run(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult {
    let run = state.store.run(id).await?.ok_or(WebError::NotFound)?;
    Ok(Json(run_json(&run)).into_response())
}

pub async fn cancel_run(State(state): State<AppState>, _: AdminApi, Path(id): Path<i64>) -> ApiResult {
    state.store.run(id).await?.ok_or(WebError::NotFound)?;
    state.store.request_cancel(id).await?;
    let run = state.store.run(id).await?.ok_or(WebError::NotFound)?;
    Ok((StatusCode::ACCEPTED, Json(run_json(&run))).into_response())
}

/// Resumes an interrupted run in this server's worker (its process died; what it stored is kept).
pub async fn resume_run(State(state): State<AppState>, _: AdminApi, Path(id): Path<i64>) -> ApiResult {
    interrupted_run(&state, id, true).await?;
    state.store.resume_run(id).await?;
    state.jobs.notify();
    let run = state.store.run(id).await?.ok_or(WebError::NotFound)?;
    Ok((StatusCode::ACCEPTED, Json(run_json(&run))).into_response())
}

/// Gives up on an interrupted run.
pub async fn dismiss_run(State(state): State<AppState>, _: AdminApi, Path(id): Path<i64>) -> ApiResult {
    interrupted_run(&state, id, false).await?;
    state.store.dismiss_run(id).await?;
    let run = state.store.run(id).await?.ok_or(WebError::NotFound)?;
    Ok(Json(run_json(&run)).into_response())
}

/// Every eval with its status and results (lm-eval's `results.json` as `jury eval` wrote it).
pub async fn list_evals(State(state): State<AppState>) -> ApiResult {
    let evals: Vec<Value> = state.store.list_runs_of_kind("eval", 500).await?.iter().map(eval_json).collect();
    Ok(Json(evals).into_response())
}

pub async fn create_eval(
    State(state): State<AppState>,
    _: AdminApi,
    Json(request): Json<super::evals::EvalRequest>,
) -> ApiResult {
    let id = super::evals::start(&state, &request).await?;
    let run = state.store.run(id).await?.ok_or(WebError::NotFound)?;
    Ok((StatusCode::CREATED, Json(eval_json(&run))).into_response())
}

pub async fn get_eval(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult {
    let run = state.store.run_of_kind(id, "eval").await?.ok_or(WebError::NotFound)?;
    Ok(Json(eval_json(&run)).into_response())
}

fn eval_json(run: &RunRow) -> Value {
    json!({
        "id": run.id,
        "status": run.shown_status(),
        "config": serde_json::from_str::<Value>(&run.config).ok(),
        "results": run.summary.as_deref().and_then(|s| serde_json::from_str::<Value>(s).ok()),
        "error": run.error,
        "created_at": run.created_at,
        "finished_at": run.finished_at,
    })
}

/// Every decided real battle as FastChat clean battle JSON, so other tools can rate them.
pub async fn export_battles(State(state): State<AppState>) -> ApiResult {
    let battles: Vec<Value> = state
        .store
        .export_battles()
        .await?
        .into_iter()
        .map(|b| {
            json!({
                "model_a": b.model_a,
                "model_b": b.model_b,
                "winner": b.winner,
                "judge": b.judge_model.unwrap_or_else(|| "human".into()),
                "source": b.source,
                "anony": true,
                "tstamp": b.tstamp,
                "category": b.category,
                "question_id": b.question_id,
            })
        })
        .collect();
    Ok(Json(battles).into_response())
}

/// `GET /api/perf`: the load tests with their figures.
pub async fn list_perf(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let runs = state.store.list_runs_of_kind("perf", 100).await?;
    let tests: Vec<Value> = runs
        .iter()
        .map(|r| json!({"id": r.id, "status": r.shown_status(), "created_at": r.created_at, "summary": crate::web::pages::perf::summary_of(r)}))
        .collect();
    Ok(Json(json!({"tests": tests})))
}

/// `POST /api/perf` (admin): queues a load test, as the form does; 201 with the test.
pub async fn create_perf(
    State(state): State<AppState>,
    _: AdminApi,
    Json(request): Json<super::perf::PerfRequest>,
) -> ApiResult {
    let id = super::perf::start(&state, &request).await?;
    let run = state.store.run(id).await?.ok_or(WebError::NotFound)?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"id": run.id, "status": run.shown_status(), "settings": crate::web::pages::perf::summary_of(&run)}),
        ),
    )
        .into_response())
}

/// `GET /api/perf/{id}`: one test with its figures and every request's timings.
pub async fn get_perf(State(state): State<AppState>, Path(id): Path<i64>) -> Result<Json<Value>, ApiError> {
    let run = state.store.run_of_kind(id, "perf").await?.ok_or(WebError::NotFound)?;
    let summary = crate::web::pages::perf::summary_of(&run);
    let mut requests = Vec::new();
    for i in 0..summary["runs"].as_array().map_or(0, Vec::len) {
        requests.push(state.store.perf_requests(id, i as i64).await?);
    }
    Ok(Json(json!({"id": run.id, "status": run.shown_status(), "error": run.error,
                    "progress": {"done": run.progress_done, "total": run.progress_total},
                    "summary": summary, "requests": requests})))
}
