//! The rating report as a page people can open: every metric as a table (askama, escaped).

use askama::Template;

use super::report::RatingReport;
use crate::rating::Leaderboard;

/// A table: a header, rows of display text, and which columns hold numbers.
struct Section {
    title: String,
    note: String,
    header: Vec<String>,
    numeric: Vec<bool>,
    rows: Vec<Vec<String>>,
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage<'a> {
    title: String,
    review_file: String,
    battles: u64,
    unknown: u64,
    generated: String,
    sections: Vec<Section>,
    warnings: &'a [String],
    dry_run: bool,
}

pub fn render(title: &str, review_file: &str, report: &RatingReport, k: f64) -> Result<String, askama::Error> {
    let mut sections = Vec::new();
    let board_section = |title: String, note: String, board: &Leaderboard| Section {
        title,
        note,
        header: ["rank (UB)", "model", "rating", "95% CI", "battles", "wins", "losses", "ties"]
            .map(String::from)
            .to_vec(),
        numeric: vec![true, false, true, true, true, true, true, true],
        rows: board
            .models
            .iter()
            .map(|m| {
                vec![
                    m.rank_ub.to_string(),
                    m.model.clone(),
                    format!("{:.1}", m.rating),
                    match (m.ci_lower, m.ci_upper) {
                        (Some(lo), Some(hi)) => format!("+{:.1} / −{:.1}", hi - m.rating, m.rating - lo),
                        _ => "–".into(),
                    },
                    m.battles.to_string(),
                    m.wins.to_string(),
                    m.losses.to_string(),
                    m.ties.to_string(),
                ]
            })
            .collect(),
    };
    if let Some(board) = &report.elo {
        sections.push(board_section(
            "Elo ratings".into(),
            format!(
                "Online Elo over the battles in time order (K = {k}); intervals from {} bootstrap rounds.",
                board.bootstrap_rounds
            ),
            board,
        ));
    }
    if let Some(board) = &report.bt {
        sections.push(board_section(
            "Bradley–Terry ratings".into(),
            format!(
                "Maximum-likelihood ratings (the Chatbot Arena method); 95% intervals from {} bootstrap rounds. \
                 Rank (UB) counts the models that are better beyond doubt.",
                board.bootstrap_rounds
            ),
            board,
        ));
    }
    if let Some(rows) = &report.pairwise {
        sections.push(Section {
            title: "Wins, losses and ties".into(),
            note: String::new(),
            header: ["model", "win", "loss", "tie", "win rate", "loss rate", "tie rate"].map(String::from).to_vec(),
            numeric: vec![false, true, true, true, true, true, true],
            rows: rows
                .iter()
                .map(|r| {
                    vec![
                        r.model.clone(),
                        r.win.to_string(),
                        r.loss.to_string(),
                        r.tie.to_string(),
                        percent(r.win_rate),
                        percent(r.loss_rate),
                        percent(r.tie_rate),
                    ]
                })
                .collect(),
        });
    }
    if let Some(rows) = &report.length_controlled {
        sections.push(Section {
            title: "Length-controlled win rates".into(),
            note: "Win rate against the baseline with the answers' length difference set to zero (AlpacaEval 2's \
                   method), beside the plain win rate; judges tend to prefer longer answers."
                .into(),
            header: ["model", "battles", "win rate", "LC win rate", "95% CI"].map(String::from).to_vec(),
            numeric: vec![false, true, true, true, true],
            rows: rows
                .iter()
                .map(|r| {
                    vec![
                        r.model.clone(),
                        r.battles.to_string(),
                        percent(r.win_rate),
                        percent(r.lc_win_rate),
                        match (r.ci_lower, r.ci_upper) {
                            (Some(lo), Some(hi)) => format!("{} – {}", percent(lo), percent(hi)),
                            _ => "–".into(),
                        },
                    ]
                })
                .collect(),
        });
    }
    if let Some(rows) = &report.score {
        let mut categories: Vec<&String> = rows.iter().flat_map(|r| r.by_category.keys()).collect();
        categories.sort();
        categories.dedup();
        let mut header: Vec<String> =
            ["model", "mean score", "95% CI", "scored", "unreadable"].map(String::from).to_vec();
        header.extend(categories.iter().map(|c| c.to_string()));
        let mut numeric = vec![false, true, true, true, true];
        numeric.extend(categories.iter().map(|_| true));
        sections.push(Section {
            title: "Single-answer scores".into(),
            note: "Mean judge score (1 to 10) per model and per category; unreadable scores are left out.".into(),
            header,
            numeric,
            rows: rows
                .iter()
                .map(|r| {
                    let o = r.overall.as_ref();
                    let mut row = vec![
                        r.model.clone(),
                        o.map(|m| format!("{:.2}", m.mean)).unwrap_or_else(|| "–".into()),
                        match o.and_then(|m| m.ci_lower.zip(m.ci_upper)) {
                            Some((lo, hi)) => format!("{lo:.2} – {hi:.2}"),
                            None => "–".into(),
                        },
                        o.map_or(0, |m| m.count).to_string(),
                        r.unknown.to_string(),
                    ];
                    row.extend(
                        categories
                            .iter()
                            .map(|c| r.by_category.get(*c).map(|m| format!("{:.2}", m.mean)).unwrap_or_default()),
                    );
                    row
                })
                .collect(),
        });
    }
    if let Some(rows) = &report.attack_success {
        sections.push(Section {
            title: "Attack success (safety)".into(),
            note: "Share of replies the judge graded unsafe, per model and attack category, with 95% Wilson \
                   intervals; lower is safer. Unreadable grades are left out."
                .into(),
            header: ["model", "category", "attack success", "95% CI", "unsafe", "graded"].map(String::from).to_vec(),
            numeric: vec![false, false, true, true, true, true],
            rows: rows
                .iter()
                .map(|r| {
                    vec![
                        r.model.clone(),
                        r.category.clone(),
                        percent(r.rate),
                        format!("{} – {}", percent(r.ci_lower), percent(r.ci_upper)),
                        r.unsafe_replies.to_string(),
                        r.graded.to_string(),
                    ]
                })
                .collect(),
        });
    }
    let generated = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(d.as_secs())))
        .unwrap_or_default();
    ReportPage {
        title: title.to_string(),
        review_file: review_file.to_string(),
        battles: report.battles,
        unknown: report.unknown_excluded,
        generated,
        sections,
        warnings: &report.warnings,
        dry_run: report.dry_run,
    }
    .render()
}

fn percent(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}
