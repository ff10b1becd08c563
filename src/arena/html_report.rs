//! The rating report as a page people can open: every metric as a table (askama, escaped).

use askama::Template;

use super::report::RatingReport;

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
}

pub fn render(title: &str, review_file: &str, report: &RatingReport) -> Result<String, askama::Error> {
    let mut sections = Vec::new();
    if let Some(rows) = &report.elo {
        sections.push(Section {
            title: "Elo ratings".into(),
            note: "Online Elo over the battles in time order (K = 32, as in llmuses).".into(),
            header: vec!["#".into(), "model".into(), "rating".into()],
            numeric: vec![true, false, true],
            rows: rows
                .iter()
                .enumerate()
                .map(|(i, r)| vec![(i + 1).to_string(), r.model.clone(), format!("{:.1}", r.rating)])
                .collect(),
        });
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
    if let Some(rows) = &report.score {
        let mut categories: Vec<&String> = rows.iter().flat_map(|r| r.by_category.keys()).collect();
        categories.sort();
        categories.dedup();
        let mut header: Vec<String> = ["model", "mean score", "scored", "unreadable"].map(String::from).to_vec();
        header.extend(categories.iter().map(|c| c.to_string()));
        let mut numeric = vec![false, true, true, true];
        numeric.extend(categories.iter().map(|_| true));
        sections.push(Section {
            title: "Single-answer scores".into(),
            note: "Mean judge score (1 to 10) per model and per category; unreadable scores are left out.".into(),
            header,
            numeric,
            rows: rows
                .iter()
                .map(|r| {
                    let mut row = vec![
                        r.model.clone(),
                        r.score.map(|s| format!("{s:.2}")).unwrap_or_else(|| "–".into()),
                        r.count.to_string(),
                        r.unknown.to_string(),
                    ];
                    row.extend(
                        categories.iter().map(|c| r.by_category.get(*c).map(|s| format!("{s:.2}")).unwrap_or_default()),
                    );
                    row
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
    }
    .render()
}

fn percent(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}
