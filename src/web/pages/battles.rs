//! `/battles` and `/battles/{id}`: read what was compared and why the judge decided.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use super::{Nav, Pager, ago, nav, page, query};
use crate::store::{BattleDetail, BattleScope, BattleSummary};
use crate::web::error::{PageError, WebError};
use crate::web::state::AppState;

const PER_PAGE: i64 = 50;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct BattleQuery {
    pub model: Option<String>,
    pub other: Option<String>,
    pub category: Option<String>,
    pub winner: Option<String>,
    pub source: Option<String>,
    pub dry_run: Option<String>,
    pub page: Option<i64>,
}

fn clean(v: &Option<String>) -> Option<String> {
    v.as_ref().map(|s| s.trim().to_string()).filter(|s| !s.is_empty() && s != "all")
}

impl BattleQuery {
    pub fn scope(&self) -> Result<BattleScope, WebError> {
        let source = clean(&self.source);
        if let Some(s) = &source
            && s != "judge"
            && s != "human"
        {
            return Err(WebError::BadRequest(format!("source must be judge, human or all, not {s}")));
        }
        Ok(BattleScope {
            source,
            category: clean(&self.category),
            question_set: None,
            dry_run: matches!(self.dry_run.as_deref(), Some("1" | "true" | "on")),
        })
    }
}

pub struct Item {
    pub battle: BattleSummary,
    pub when: String,
    pub verdict: String,
}

/// Who won, in words.
pub fn verdict(winner: Option<&str>, a: &str, b: &str) -> String {
    match winner {
        Some("model_a") => format!("{a} won"),
        Some("model_b") => format!("{b} won"),
        Some("tie") => "tie".into(),
        Some("tie (bothbad)") => "tie (both bad)".into(),
        Some("unknown") => "unknown (no readable verdict)".into(),
        Some(other) => other.into(),
        None => "awaiting a vote".into(),
    }
}

/// A `<select>` option.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

fn choices(options: &[(&str, &str)], current: Option<&str>) -> Vec<Choice> {
    options
        .iter()
        .map(|(value, label)| Choice {
            value: value.to_string(),
            label: label.to_string(),
            selected: current == Some(*value),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "battles.html")]
struct BattlesPage {
    nav: Nav,
    q: BattleQuery,
    items: Vec<Item>,
    pager: Pager,
    categories: Vec<Choice>,
    verdicts: Vec<Choice>,
    sources: Vec<Choice>,
    dry_run: bool,
}

pub async fn list(
    State(state): State<AppState>,
    Query(q): Query<BattleQuery>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let (nav, cookie) = nav(&state, &headers, "battles");
    let scope = q.scope()?;
    let page_no = q.page.unwrap_or(1).max(1);
    let (battles, total) = state
        .store
        .list_battles(
            &scope,
            clean(&q.model).as_deref(),
            clean(&q.other).as_deref(),
            clean(&q.winner).as_deref(),
            PER_PAGE,
            (page_no - 1) * PER_PAGE,
        )
        .await?;
    let link = |p: i64| {
        format!(
            "/battles{}",
            query(&[
                ("model", clean(&q.model)),
                ("other", clean(&q.other)),
                ("category", clean(&q.category)),
                ("winner", clean(&q.winner)),
                ("source", clean(&q.source)),
                ("dry_run", scope.dry_run.then(|| "1".to_string())),
                ("page", Some(p.to_string())),
            ])
        )
    };
    let items = battles
        .into_iter()
        .map(|b| Item {
            when: ago(b.created_at),
            verdict: verdict(b.winner.as_deref(), &b.model_a, &b.model_b),
            battle: b,
        })
        .collect();
    let facts = state.boards.facts(&state.store).await?;
    let category_options: Vec<(&str, &str)> = facts.categories.iter().map(|c| (c.as_str(), c.as_str())).collect();
    let template = BattlesPage {
        nav,
        pager: Pager::new(page_no, PER_PAGE, total, link),
        items,
        categories: choices(&category_options, q.category.as_deref()),
        verdicts: choices(
            &[
                ("model_a", "A won"),
                ("model_b", "B won"),
                ("tie", "tie"),
                ("tie (bothbad)", "both bad"),
                ("unknown", "unknown"),
            ],
            q.winner.as_deref(),
        ),
        sources: choices(
            &[("all", "judge and human"), ("judge", "judge"), ("human", "human")],
            Some(q.source.as_deref().unwrap_or("all")),
        ),
        dry_run: scope.dry_run,
        q,
    };
    page(template, cookie)
}

#[derive(Template)]
#[template(path = "battle.html")]
struct BattlePage {
    nav: Nav,
    b: BattleDetail,
    question: String,
    more_turns: Vec<String>,
    verdict: String,
    when: String,
}

pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let (nav, cookie) = nav(&state, &headers, "battles");
    let b = state.store.battle_detail(id).await?.ok_or(WebError::NotFound)?;
    if b.source == "human" && b.winner.is_none() {
        // Undecided human battles stay anonymous until voted on.
        return Err(WebError::NotFound.into());
    }
    let turns: Vec<String> = serde_json::from_str(&b.turns).unwrap_or_default();
    let template = BattlePage {
        nav,
        question: turns.first().cloned().unwrap_or_default(),
        more_turns: turns.into_iter().skip(1).collect(),
        verdict: verdict(b.winner.as_deref(), &b.model_a, &b.model_b),
        when: ago(b.created_at),
        b,
    };
    page(template, cookie)
}
