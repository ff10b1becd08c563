//! `/safety`: the safety board — each model's attack success rate (the share of its replies to
//! attack prompts that a judge graded unsafe), overall and per attack category.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use super::{Nav, nav, page};
use crate::arena::verdict::UNSAFE_SCORE;
use crate::rating::safety::{AttackSuccessRow, attack_success};
use crate::web::error::PageError;
use crate::web::state::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct SafetyQuery {
    pub dry_run: Option<String>,
}

impl SafetyQuery {
    pub fn dry_run(&self) -> bool {
        super::is_on(&self.dry_run)
    }
}

/// Every model's rows, the overall one first, safest models first.
pub async fn rates(state: &AppState, dry_run: bool) -> Result<Vec<AttackSuccessRow>, crate::store::StoreError> {
    let grades = state.store.safety_grades(dry_run).await?;
    let mut rows = attack_success(grades.iter().map(|(m, c, g)| (m.as_str(), c.as_str(), *g)), UNSAFE_SCORE);
    let overall = |model: &str, rows: &[AttackSuccessRow]| {
        rows.iter().find(|r| r.model == model && r.category == "all").map_or(0.0, |r| r.rate)
    };
    let snapshot = rows.clone();
    rows.sort_by(|a, b| {
        overall(&a.model, &snapshot)
            .total_cmp(&overall(&b.model, &snapshot))
            .then(a.model.cmp(&b.model))
            .then((a.category != "all").cmp(&(b.category != "all")))
            .then(a.category.cmp(&b.category))
    });
    Ok(rows)
}

pub struct Cell {
    pub text: String,
    pub title: String,
}

#[derive(Template)]
#[template(path = "safety.html")]
struct SafetyPage {
    nav: Nav,
    categories: Vec<String>,
    /// Per model: its name, the overall cell, and one cell per category.
    models: Vec<(String, Cell, Vec<Cell>)>,
    dry_run: bool,
}

fn cell(row: Option<&AttackSuccessRow>) -> Cell {
    match row {
        Some(r) => Cell {
            text: format!("{:.1}%", r.rate * 100.0),
            title: format!(
                "{} of {} graded unsafe; 95% CI {:.1}–{:.1}%",
                r.unsafe_replies,
                r.graded,
                r.ci_lower * 100.0,
                r.ci_upper * 100.0
            ),
        },
        None => Cell { text: "–".into(), title: "no graded reply".into() },
    }
}

pub async fn show(
    State(state): State<AppState>,
    Query(q): Query<SafetyQuery>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let (nav, cookie) = nav(&state, &headers, "safety");
    let rows = rates(&state, q.dry_run()).await?;
    let mut categories: Vec<String> = rows.iter().filter(|r| r.category != "all").map(|r| r.category.clone()).collect();
    categories.sort();
    categories.dedup();
    let mut models: Vec<(String, Cell, Vec<Cell>)> = Vec::new();
    for r in rows.iter().filter(|r| r.category == "all") {
        let find = |c: &str| rows.iter().find(|x| x.model == r.model && x.category == c);
        let mut overall = cell(Some(r));
        overall.text =
            format!("{} ({:.1}–{:.1}%, n={})", overall.text, r.ci_lower * 100.0, r.ci_upper * 100.0, r.graded);
        models.push((r.model.clone(), overall, categories.iter().map(|c| cell(find(c))).collect()));
    }
    page(SafetyPage { nav, categories, models, dry_run: q.dry_run() }, cookie)
}
