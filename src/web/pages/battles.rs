//! `/battles` and `/battles/{id}`: read what was compared and why the judge decided.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use super::{Nav, Pager, ago, nav, page, query};
use crate::store::{BattleDetail, BattleScope, BattleSummary};
use crate::web::error::{PageError, WebError};
use crate::web::markdown;
use crate::web::state::AppState;

const PER_PAGE: i64 = 50;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct BattleQuery {
    pub model: Option<String>,
    pub other: Option<String>,
    pub category: Option<String>,
    pub winner: Option<String>,
    pub source: Option<String>,
    pub question_set: Option<String>,
    pub dry_run: Option<String>,
    /// One judge's battles.
    pub judge: Option<String>,
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
        let question_set =
            match clean(&self.question_set) {
                None => None,
                Some(s) => Some(s.parse::<i64>().map_err(|_| {
                    WebError::BadRequest(format!("question_set must be a question set's number, not {s}"))
                })?),
            };
        Ok(BattleScope {
            source,
            category: clean(&self.category),
            question_set,
            judge: clean(&self.judge),
            dry_run: super::is_on(&self.dry_run),
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
    question_sets: Vec<Choice>,
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
    let facts = state
        .boards
        .facts_where(&state.store, |f| scope.question_set.map_or(Ok(()), |id| f.check_question_set(id)))
        .await?;
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
                ("question_set", scope.question_set.map(|id| id.to_string())),
                ("dry_run", scope.dry_run.then(|| "1".to_string())),
                ("judge", scope.judge.clone()),
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
    let category_options: Vec<(&str, &str)> = facts.categories.iter().map(|c| (c.as_str(), c.as_str())).collect();
    let set_values: Vec<(String, String)> = facts
        .question_sets
        .iter()
        .map(|s| (s.id.to_string(), format!("{} ({} questions)", s.name, s.questions)))
        .collect();
    let set_options: Vec<(&str, &str)> = set_values.iter().map(|(v, l)| (v.as_str(), l.as_str())).collect();
    let current_set = scope.question_set.map(|id| id.to_string());
    let template = BattlesPage {
        nav,
        pager: Pager::new(page_no, PER_PAGE, total, link),
        items,
        categories: choices(&category_options, q.category.as_deref()),
        question_sets: choices(&set_options, current_set.as_deref()),
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

/// One judge review as the battle page shows it: in the battle's own labels.
pub struct Review {
    pub heading: String,
    pub text: String,
    pub verdict: String,
    /// "model: score" for each side, when the judge gave scores.
    pub scores: Option<String>,
}

impl Review {
    /// `swapped`: the judge saw model B first, so its verdict and scores are mapped back.
    fn new(
        b: &BattleDetail,
        text: &str,
        verdict_shown: Option<&str>,
        scores: (Option<f64>, Option<f64>),
        swapped: bool,
    ) -> Review {
        let verdict_shown = verdict_shown.unwrap_or("unknown");
        let (label, (first, second)) = if swapped {
            let label = match verdict_shown {
                "model_a" => "model_b",
                "model_b" => "model_a",
                other => other,
            };
            (label, (scores.1, scores.0))
        } else {
            (verdict_shown, scores)
        };
        let heading = match (b.review_2.is_some(), swapped) {
            (false, _) => "Judge's review".to_string(),
            (true, false) => format!("Judge's review, {} shown first", b.model_a),
            (true, true) => format!("Judge's review, {} shown first", b.model_b),
        };
        Review {
            heading,
            text: markdown::render(text),
            verdict: verdict(Some(label), &b.model_a, &b.model_b),
            scores: first.zip(second).map(|(a, s)| format!("{}: {a}, {}: {s}", b.model_a, b.model_b)),
        }
    }
}

#[derive(Template)]
#[template(path = "battle.html")]
struct BattlePage {
    nav: Nav,
    b: BattleDetail,
    /// Rendered Markdown, sanitised.
    question: String,
    more_turns: Vec<String>,
    reference: Option<String>,
    answer_a: String,
    answer_b: String,
    reviews: Vec<Review>,
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
    let mut reviews = Vec::new();
    if let Some(text) = &b.review_1 {
        reviews.push(Review::new(&b, text, b.verdict_1.as_deref(), (b.score_1_a, b.score_1_b), false));
    }
    if let Some(text) = &b.review_2 {
        reviews.push(Review::new(&b, text, b.verdict_2.as_deref(), (b.score_2_a, b.score_2_b), true));
    }
    let template = BattlePage {
        nav,
        question: markdown::render(turns.first().map(String::as_str).unwrap_or_default()),
        more_turns: turns.iter().skip(1).map(|t| markdown::render(t)).collect(),
        reference: b.reference_answer.as_deref().map(markdown::render),
        answer_a: markdown::render(&b.answer_a),
        answer_b: markdown::render(&b.answer_b),
        reviews,
        verdict: verdict(b.winner.as_deref(), &b.model_a, &b.model_b),
        when: ago(b.created_at),
        b,
    };
    page(template, cookie)
}
