//! `/`: the leaderboards (combined, judge, human), with filters and charts.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::{Nav, ago, date, nav, page, query};
use crate::rating::ModelRating;
use crate::rating::leaderboard::BaselineRow;
use crate::rating::scores::ScoreRow;
use crate::rating::style::{StyleCoefficient, StyleRating};
use crate::store::QuestionSetSummary;
use crate::web::charts::{self, HeatMap, IntervalChart};
use crate::web::error::PageError;
use crate::web::leaderboard::BoardQuery;
use crate::web::pages::judges::{JudgeRow, judge_rows, people_longer_answer};
use crate::web::state::AppState;

pub struct Tab {
    pub label: &'static str,
    pub href: String,
    pub active: bool,
}

pub struct Row {
    pub model: ModelRating,
    pub ci: String,
    pub flags: String,
    pub baseline: Option<BaselineRow>,
    pub battles_href: String,
}

#[derive(Template)]
#[template(path = "leaderboard.html")]
struct LeaderboardPage {
    nav: Nav,
    tabs: Vec<Tab>,
    source_label: &'static str,
    human: bool,
    query: BoardQuery,
    categories: Vec<String>,
    question_sets: Vec<QuestionSetSummary>,
    rows: Vec<Row>,
    baseline: Option<String>,
    battles: u64,
    votes: i64,
    updated: String,
    updated_date: String,
    intervals: Option<IntervalChart>,
    win_fraction: Option<HeatMap>,
    battle_counts: Option<HeatMap>,
    scores: Vec<ScoreRow>,
    score_categories: Vec<String>,
    warnings: Vec<String>,
    dry_run: bool,
    dry_run_only: bool,
    bootstrap_rounds: usize,
    selected_set: Option<i64>,
    /// The judges' trust figures, shown beside judge boards.
    judges: Vec<JudgeRow>,
    judge_names: Vec<String>,
    people_longer: Option<String>,
    people_battles: u64,
    show_judges: bool,
    /// With `?style_control=1`: the style-controlled ratings beside the plain ones.
    style_rows: Vec<StyleRow>,
    style_coefficients: Vec<StyleCoefficient>,
    style_control: bool,
    style_href: String,
}

pub struct StyleRow {
    pub rating: StyleRating,
    pub ci: String,
    pub plain: String,
    pub change: String,
}

impl LeaderboardPage {
    fn score_cell(&self, row: &ScoreRow, category: &str) -> String {
        row.by_category.get(category).map(|m| format!("{:.2}", m.mean)).unwrap_or_default()
    }

    fn score_mean(&self, row: &ScoreRow) -> String {
        row.overall.as_ref().map(|m| format!("{:.2}", m.mean)).unwrap_or_else(|| "–".into())
    }

    fn score_interval(&self, row: &ScoreRow) -> String {
        match row.overall.as_ref().and_then(|m| m.ci_lower.zip(m.ci_upper)) {
            Some((lo, hi)) => format!("{lo:.2} – {hi:.2}"),
            None => "–".into(),
        }
    }

    fn score_count(&self, row: &ScoreRow) -> u64 {
        row.overall.as_ref().map_or(0, |m| m.count)
    }

    fn rating(&self, row: &Row) -> String {
        format!("{:.1}", row.model.rating)
    }

    fn coefficient(&self, c: &StyleCoefficient) -> String {
        format!("{:.3}", c.coefficient)
    }

    fn coefficient_ci(&self, c: &StyleCoefficient) -> String {
        match (c.ci_lower, c.ci_upper) {
            (Some(lo), Some(hi)) => format!("{lo:.3} – {hi:.3}"),
            _ => "–".into(),
        }
    }

    fn style_rating(&self, r: &StyleRow) -> String {
        format!("{:.1}", r.rating.rating)
    }

    fn percent(&self, x: &f64) -> String {
        format!("{:.1}%", x * 100.0)
    }

    fn is_selected_set(&self, id: &i64) -> bool {
        self.selected_set == Some(*id)
    }
}

pub async fn show(
    State(state): State<AppState>,
    Query(q): Query<BoardQuery>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let (nav, cookie) = nav(&state, &headers, "leaderboard");
    let key = q.key()?;
    let view = state.boards.get(&state.store, &key).await?;
    let facts = state.boards.facts(&state.store).await?;
    let board = &view.board;
    let link = |source: &str| {
        query(&[
            ("source", Some(source.to_string())),
            ("category", key.scope.category.clone()),
            ("question_set", key.scope.question_set.map(|s| s.to_string())),
            ("baseline", key.baseline.clone()),
            ("dry_run", key.scope.dry_run.then(|| "1".to_string())),
        ])
    };
    let judge_names: Vec<String> = view.judges.judges.iter().map(|j| j.judge.clone()).collect();
    let style_rows: Vec<StyleRow> = view
        .style
        .iter()
        .flat_map(|s| &s.models)
        .map(|m| {
            let plain = board.models.iter().find(|p| p.model == m.model).map(|p| p.rating);
            StyleRow {
                ci: match (m.ci_lower, m.ci_upper) {
                    (Some(lo), Some(hi)) => format!("+{:.1} / −{:.1}", hi - m.rating, m.rating - lo),
                    _ => "–".into(),
                },
                plain: plain.map_or("–".into(), |p| format!("{p:.1}")),
                change: plain.map_or("–".into(), |p| format!("{:+.1}", m.rating - p)),
                rating: m.clone(),
            }
        })
        .collect();
    let style_href = format!(
        "/{}",
        query(&[
            ("source", key.scope.source.clone()),
            ("judge", key.scope.judge.clone()),
            ("category", key.scope.category.clone()),
            ("question_set", key.scope.question_set.map(|s| s.to_string())),
            ("baseline", key.baseline.clone()),
            ("dry_run", key.scope.dry_run.then(|| "1".to_string())),
            ("style_control", (!key.style_control).then(|| "1".to_string())),
        ])
    );
    // A judge board: the judge tab, or one judge's battles.
    let show_judges = key.scope.source.as_deref() == Some("judge") && !judge_names.is_empty();
    let current = key.scope.source.clone().unwrap_or_else(|| "all".into());
    let tabs = [("Combined", "all"), ("Judge", "judge"), ("Human", "human")]
        .into_iter()
        .map(|(label, source)| Tab { label, href: format!("/{}", link(source)), active: current == source })
        .collect();
    let rows = board
        .models
        .iter()
        .map(|m| Row {
            ci: match (m.ci_lower, m.ci_upper) {
                (Some(lo), Some(hi)) => format!("+{:.1} / −{:.1}", hi - m.rating, m.rating - lo),
                _ => "–".into(),
            },
            flags: m.flags.join(", "),
            baseline: board.baseline.as_ref().and_then(|b| b.rows.iter().find(|r| r.model == m.model).cloned()),
            battles_href: format!(
                "/battles{}",
                // The battles behind this row: the same filters as the board.
                query(&[
                    ("model", Some(m.model.clone())),
                    ("source", key.scope.source.clone()),
                    ("category", key.scope.category.clone()),
                    ("question_set", key.scope.question_set.map(|id| id.to_string())),
                    ("dry_run", key.scope.dry_run.then(|| "1".to_string())),
                    ("judge", key.scope.judge.clone()),
                ])
            ),
            model: m.clone(),
        })
        .collect();
    let mut score_categories: Vec<String> = view.scores.iter().flat_map(|r| r.by_category.keys().cloned()).collect();
    score_categories.sort();
    score_categories.dedup();
    // A newcomer's demo produces dry-run battles only: point at them.
    // Votes are never dry runs, so the hint only makes sense for judge battles.
    let dry_run_only = !key.scope.dry_run
        && key.scope.source.as_deref() != Some("human")
        && board.models.is_empty()
        && state.store.count_battles(true).await? > 0;
    let template = LeaderboardPage {
        tabs,
        source_label: match (current.as_str(), &key.scope.judge) {
            (_, Some(_)) => "one judge",
            ("judge", None) => "judge",
            ("human", None) => "human",
            _ => "judge and human",
        },
        human: current == "human",
        categories: facts.categories.clone(),
        question_sets: facts.question_sets.clone(),
        baseline: key.baseline.clone(),
        battles: board.battles,
        votes: facts.votes,
        updated: ago(view.computed_at),
        updated_date: date(view.computed_at),
        intervals: charts::intervals(board),
        win_fraction: charts::win_fraction(board),
        battle_counts: charts::battle_counts(board),
        scores: view.scores.clone(),
        score_categories,
        warnings: board.warnings.clone(),
        dry_run: key.scope.dry_run,
        dry_run_only,
        bootstrap_rounds: board.bootstrap_rounds,
        selected_set: key.scope.question_set,
        judges: {
            let mut rows = judge_rows(&view.judges, &key);
            rows.retain(|r| key.scope.judge.as_ref().is_none_or(|j| j == &r.judge));
            rows
        },
        judge_names,
        people_longer: people_longer_answer(&view.judges),
        people_battles: view.judges.people.as_ref().map_or(0, |p| p.battles),
        show_judges,
        style_coefficients: view.style.as_ref().map(|s| s.coefficients.clone()).unwrap_or_default(),
        style_rows,
        style_control: key.style_control,
        style_href,
        rows,
        query: q,
        nav,
    };
    page(template, cookie)
}
