//! `/vote`: anonymous side-by-side battles, decided by people.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use super::{Nav, nav, page};
use crate::store::VoteBattle;
use crate::web::error::{PageError, WebError};
use crate::web::security::check_csrf;
use crate::web::state::AppState;
use crate::web::voting;

#[derive(Deserialize, Default)]
pub struct VoteQuery {
    pub question_set: Option<String>,
}

pub fn parse_set(v: &Option<String>) -> Result<Option<i64>, WebError> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => {
            s.parse().map(Some).map_err(|_| WebError::BadRequest(format!("question_set must be a number, not {s}")))
        }
    }
}

#[derive(Template)]
#[template(path = "vote.html")]
struct VotePage {
    nav: Nav,
    battle: Option<VoteBattle>,
    question_set: Option<i64>,
}

pub async fn show(
    State(state): State<AppState>,
    Query(q): Query<VoteQuery>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let (nav, cookie) = nav(&state, &headers, "vote");
    let question_set = parse_set(&q.question_set)?;
    let battle = voting::next_battle(&state, question_set).await?;
    page(VotePage { nav, battle, question_set }, cookie)
}

#[derive(Deserialize)]
pub struct VoteForm {
    csrf: String,
    winner: String,
    question_set: Option<String>,
}

#[derive(Template)]
#[template(path = "vote_result.html")]
struct VoteResultPage {
    nav: Nav,
    model_a: String,
    model_b: String,
    choice: String,
    next: String,
    battle_id: i64,
}

pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<VoteForm>,
) -> Result<Response, PageError> {
    check_csrf(&headers, &state.secrets, &form.csrf)?;
    let next = match parse_set(&form.question_set)? {
        Some(s) => format!("/vote?question_set={s}"),
        None => "/vote".into(),
    };
    let (model_a, model_b) = voting::cast(&state, id, &form.winner, client.ip()).await?;
    let (nav, cookie) = nav(&state, &headers, "vote");
    let choice = match form.winner.as_str() {
        "model_a" => format!("A ({model_a}) is better"),
        "model_b" => format!("B ({model_b}) is better"),
        "tie" => "a tie".into(),
        _ => "both are bad".into(),
    };
    page(VoteResultPage { nav, model_a, model_b, choice, next, battle_id: id }, cookie)
}
