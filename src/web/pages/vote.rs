//! `/vote`: anonymous side-by-side battles, decided by people.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use super::{Nav, is_on, nav, page};
use crate::store::VoteBattle;
use crate::web::error::{PageError, WebError};
use crate::web::guards::{ClientIp, CsrfForm};
use crate::web::markdown;
use crate::web::state::AppState;
use crate::web::voting;

#[derive(Deserialize, Default)]
pub struct VoteQuery {
    pub question_set: Option<String>,
    /// `1`: battles a judge already decided (calibration votes).
    pub calibration: Option<String>,
}

impl VoteQuery {
    pub fn calibration(&self) -> bool {
        is_on(&self.calibration)
    }
}

/// Where the voter goes next: the same question set and kind of battle.
fn vote_href(question_set: Option<i64>, calibration: bool) -> String {
    format!(
        "/vote{}",
        super::query(&[
            ("question_set", question_set.map(|s| s.to_string())),
            ("calibration", calibration.then(|| "1".to_string())),
        ])
    )
}

pub fn parse_set(v: &Option<String>) -> Result<Option<i64>, WebError> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => {
            s.parse().map(Some).map_err(|_| WebError::BadRequest(format!("question_set must be a number, not {s}")))
        }
    }
}

/// A battle's texts as Markdown rendered to sanitised HTML.
pub struct Rendered {
    pub question: String,
    pub answer_a: String,
    pub answer_b: String,
}

#[derive(Template)]
#[template(path = "vote.html")]
struct VotePage {
    nav: Nav,
    battle: Option<(VoteBattle, Rendered)>,
    question_set: Option<i64>,
    calibration: bool,
    /// The same kind of battle again, and the other kind.
    again_href: String,
    switch_href: String,
}

pub async fn show(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    Query(q): Query<VoteQuery>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let (nav, cookie) = nav(&state, &headers, "vote");
    let question_set = parse_set(&q.question_set)?;
    let calibration = q.calibration();
    let battle = voting::next_battle(&state, question_set, calibration, client).await?.map(|b| {
        let html = Rendered {
            question: markdown::render(&b.question),
            answer_a: markdown::render(&b.answer_a),
            answer_b: markdown::render(&b.answer_b),
        };
        (b, html)
    });
    let again_href = vote_href(question_set, calibration);
    let switch_href = vote_href(question_set, !calibration);
    page(VotePage { nav, battle, question_set, calibration, again_href, switch_href }, cookie)
}

#[derive(Deserialize)]
pub struct VoteForm {
    winner: String,
    question_set: Option<String>,
    calibration: Option<String>,
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
    ClientIp(client): ClientIp,
    Path(id): Path<i64>,
    headers: HeaderMap,
    CsrfForm(form): CsrfForm<VoteForm>,
) -> Result<Response, PageError> {
    let next = vote_href(parse_set(&form.question_set)?, is_on(&form.calibration));
    let (model_a, model_b) = voting::cast(&state, id, &form.winner, client).await?;
    let (nav, cookie) = nav(&state, &headers, "vote");
    let choice = match form.winner.as_str() {
        "model_a" => format!("A ({model_a}) is better"),
        "model_b" => format!("B ({model_b}) is better"),
        "tie" => "a tie".into(),
        _ => "both are bad".into(),
    };
    page(VoteResultPage { nav, model_a, model_b, choice, next, battle_id: id }, cookie)
}
