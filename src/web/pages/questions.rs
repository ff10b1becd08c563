//! `/questions`: question sets — list, view, upload (questions, or answers produced
//! elsewhere), delete.

use askama::Template;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Nav, TokenOnly, ago, nav, page};
use crate::store::{QuestionSetSummary, StoredQuestion};
use crate::web::error::{PageError, WebError};
use crate::web::guards::{AdminPage, CsrfForm};
use crate::web::security::check_csrf;
use crate::web::state::AppState;
use crate::web::{imports, uploads};

pub struct SetRow {
    pub set: QuestionSetSummary,
    pub when: String,
}

#[derive(Template)]
#[template(path = "questions.html")]
struct QuestionsPage {
    nav: Nav,
    sets: Vec<SetRow>,
    max_upload_kib: usize,
}

pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    let (nav, cookie) = nav(&state, &headers, "questions");
    let sets = state
        .store
        .list_question_sets()
        .await?
        .into_iter()
        .map(|s| SetRow { when: ago(s.created_at), set: s })
        .collect();
    page(QuestionsPage { nav, sets, max_upload_kib: state.max_upload_bytes / 1024 }, cookie)
}

pub struct QuestionRow {
    pub q: StoredQuestion,
    pub text: String,
    pub turns: usize,
}

#[derive(Template)]
#[template(path = "question_set.html")]
struct QuestionSetPage {
    nav: Nav,
    set: QuestionSetSummary,
    questions: Vec<QuestionRow>,
    models: Vec<String>,
    imported: Option<String>,
}

#[derive(Deserialize)]
pub struct ShowQuery {
    imported: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<ShowQuery>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let (nav, cookie) = nav(&state, &headers, "questions");
    let set = state.store.question_set(id).await?.ok_or(WebError::NotFound)?;
    let questions = state
        .store
        .questions_of(id)
        .await?
        .into_iter()
        .map(|q| {
            let turns: Vec<String> = serde_json::from_str(&q.turns).unwrap_or_default();
            QuestionRow { text: turns.first().cloned().unwrap_or_default(), turns: turns.len(), q }
        })
        .collect();
    let models = state.store.models_with_answers(id).await?;
    page(QuestionSetPage { nav, set, questions, models, imported: q.imported }, cookie)
}

/// The fields of an upload form: text fields, and one file. As an extractor it reads the whole
/// form and checks its token before the handler sees it.
pub struct UploadForm {
    name: String,
    file_name: String,
    bytes: Vec<u8>,
}

impl FromRequest<AppState> for UploadForm {
    type Rejection = PageError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, PageError> {
        let headers = request.headers().clone();
        let multipart = Multipart::from_request(request, state)
            .await
            .map_err(|e| WebError::BadRequest(format!("expected a file upload form: {}", e.body_text())))?;
        let (csrf, form) = read_form(multipart).await?;
        check_csrf(&headers, &state.secrets, &csrf)?;
        Ok(form)
    }
}

async fn read_form(mut form: Multipart) -> Result<(String, UploadForm), WebError> {
    let mut csrf = String::new();
    let mut out = UploadForm { name: String::new(), file_name: "upload".into(), bytes: Vec::new() };
    while let Some(field) =
        form.next_field().await.map_err(|e| WebError::BadRequest(format!("unreadable form: {e}")))?
    {
        let name = field.name().unwrap_or("").to_string();
        match name.as_str() {
            "file" => {
                if let Some(f) = field.file_name() {
                    out.file_name = f.to_string();
                }
                out.bytes = field
                    .bytes()
                    .await
                    .map_err(|e| WebError::BadRequest(format!("the upload broke off: {e}")))?
                    .to_vec();
            }
            "csrf" | "name" => {
                let text = field.text().await.map_err(|e| WebError::BadRequest(format!("unreadable form: {e}")))?;
                if name == "csrf" {
                    csrf = text;
                } else {
                    out.name = text;
                }
            }
            _ => {}
        }
    }
    Ok((csrf, out))
}

pub async fn upload(State(state): State<AppState>, _: AdminPage, form: UploadForm) -> Result<Response, PageError> {
    let name = if form.name.trim().is_empty() {
        form.file_name.rsplit_once('.').map(|(stem, _)| stem.to_string()).unwrap_or(form.file_name.clone())
    } else {
        form.name.trim().to_string()
    };
    let questions =
        uploads::questions(&form.bytes, &form.file_name, state.max_upload_bytes).map_err(WebError::Rejected)?;
    let id = state.store.create_question_set(&name, None, &questions).await?;
    Ok(Redirect::to(&format!("/questions/{id}")).into_response())
}

pub async fn upload_answers(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    _: AdminPage,
    form: UploadForm,
) -> Result<Response, PageError> {
    let (answers, models) = imports::answers(&state, id, &form.bytes, &form.file_name).await?;
    Ok(Redirect::to(&format!("/questions/{id}?imported={answers}+answers+from+{models}+models")).into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    _: AdminPage,
    _: CsrfForm<TokenOnly>,
) -> Result<Response, PageError> {
    if !state.store.delete_question_set(id).await? {
        return Err(WebError::NotFound.into());
    }
    state.boards.invalidate();
    Ok(Redirect::to("/questions").into_response())
}
