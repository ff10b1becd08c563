//! `/judges`: the judges side by side — position consistency, first-position and longer-answer
//! preference, agreement with people and with each other — for the same filters as `/`.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::{Nav, nav, page, query};
use crate::rating::agreement::Agreement;
use crate::rating::judges::JudgeReports;
use crate::rating::proportion::Proportion;
use crate::web::error::PageError;
use crate::web::leaderboard::{BoardKey, BoardQuery};
use crate::web::state::AppState;

/// One judge's figures as the pages show them.
pub struct JudgeRow {
    pub judge: String,
    /// Its own board on `/`.
    pub board_href: String,
    pub battles: u64,
    pub consistency: String,
    pub first_position: String,
    pub longer_answer: String,
    pub human_with_ties: String,
    pub human_without_ties: String,
    pub kappa: String,
    pub human_pairs: u64,
}

fn share(p: &Option<Proportion>) -> String {
    match p {
        Some(p) => format!("{:.1}% ({:.1}–{:.1}, n={})", p.rate * 100.0, p.ci_lower * 100.0, p.ci_upper * 100.0, p.n),
        None => "–".into(),
    }
}

fn percent(x: Option<f64>) -> String {
    x.map_or("–".into(), |x| format!("{:.1}%", x * 100.0))
}

/// The judges' rows; each links to its board under the same filters as `key`.
pub fn judge_rows(reports: &JudgeReports, key: &BoardKey) -> Vec<JudgeRow> {
    reports
        .judges
        .iter()
        .map(|j| {
            let human = j.human_agreement.as_ref();
            JudgeRow {
                judge: j.judge.clone(),
                board_href: format!(
                    "/{}",
                    query(&[
                        ("judge", Some(j.judge.clone())),
                        ("category", key.scope.category.clone()),
                        ("question_set", key.scope.question_set.map(|s| s.to_string())),
                        ("dry_run", key.scope.dry_run.then(|| "1".to_string())),
                    ])
                ),
                battles: j.battles,
                consistency: share(&j.consistency),
                first_position: share(&j.first_position_rate),
                longer_answer: share(&j.longer_answer_win_rate),
                human_with_ties: percent(human.map(|a| a.with_ties)),
                human_without_ties: percent(human.and_then(|a| a.without_ties)),
                kappa: human.and_then(|a| a.kappa).map_or("–".into(), |k| format!("{k:.2}")),
                human_pairs: human.map_or(0, |a| a.n),
            }
        })
        .collect()
}

/// People's longer-answer win rate, the figure to hold the judges' against.
pub fn people_longer_answer(reports: &JudgeReports) -> Option<String> {
    reports.people.as_ref().map(|p| share(&p.longer_answer_win_rate))
}

/// One cell of the judge-by-judge agreement matrix.
pub struct AgreementCell {
    pub text: String,
    pub title: String,
}

#[derive(Template)]
#[template(path = "judges.html")]
struct JudgesPage {
    nav: Nav,
    judges: Vec<JudgeRow>,
    people_longer: Option<String>,
    people_battles: u64,
    names: Vec<String>,
    matrix: Vec<(String, Vec<AgreementCell>)>,
    dry_run: bool,
}

fn cell(a: Option<&Agreement>) -> AgreementCell {
    match a {
        Some(a) => AgreementCell {
            text: format!("{:.0}%", a.with_ties * 100.0),
            title: format!(
                "with ties {:.1}%, without ties {}, kappa {}, {} pairs",
                a.with_ties * 100.0,
                percent(a.without_ties),
                a.kappa.map_or("–".into(), |k| format!("{k:.2}")),
                a.n
            ),
        },
        None => AgreementCell { text: "–".into(), title: "no battle decided by both".into() },
    }
}

pub async fn show(
    State(state): State<AppState>,
    Query(q): Query<BoardQuery>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let (nav, cookie) = nav(&state, &headers, "judges");
    let mut key = q.key()?;
    // Every judge, whatever the board's source or judge filter.
    key.scope.source = None;
    key.scope.judge = None;
    key.style_control = false;
    key.judges = true;
    let view = state.boards.get(&state.store, &key).await?;
    let reports = &view.judges;
    let names: Vec<String> = reports.judges.iter().map(|j| j.judge.clone()).collect();
    let matrix = reports
        .judges
        .iter()
        .map(|j| {
            let cells = names
                .iter()
                .map(|other| {
                    if other == &j.judge {
                        AgreementCell { text: "·".into(), title: j.judge.clone() }
                    } else {
                        cell(j.agreement.get(other))
                    }
                })
                .collect();
            (j.judge.clone(), cells)
        })
        .collect();
    let template = JudgesPage {
        judges: judge_rows(reports, &key),
        people_longer: people_longer_answer(reports),
        people_battles: reports.people.as_ref().map_or(0, |p| p.battles),
        names,
        matrix,
        dry_run: key.scope.dry_run,
        nav,
    };
    page(template, cookie)
}
