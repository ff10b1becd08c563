//! Stage 3: ratings from the review file. Every metric listed is written: the first to
//! `report_file`, others beside it as `<stem>_<metric>.csv`, and all of them to `<stem>.json`
//! and to a page, `<stem>.html`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use super::ArenaError;
use crate::config::{ArenaConfig, Metric};
use crate::data::{ReviewRecord, Win, read_reviews};
use crate::rating::{BattleSet, EloParams, Outcome, ScoredAnswer, mean_scores, online_elo, records};

#[derive(Debug, Clone, Serialize)]
pub struct EloRow {
    pub model: String,
    pub rating: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PairwiseRow {
    pub model: String,
    pub win: u64,
    pub loss: u64,
    pub tie: u64,
    pub win_rate: f64,
    pub loss_rate: f64,
    pub tie_rate: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScoreRowOut {
    pub model: String,
    pub score: Option<f64>,
    pub count: u64,
    pub unknown: u64,
    pub by_category: std::collections::BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RatingReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elo: Option<Vec<EloRow>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pairwise: Option<Vec<PairwiseRow>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<Vec<ScoreRowOut>>,
    /// Battles used, and reviews left out (unknown verdicts, non-anonymous records).
    pub battles: u64,
    pub unknown_excluded: u64,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RatingSummary {
    pub metrics: Vec<String>,
    pub files: Vec<PathBuf>,
    pub seconds: f64,
    #[serde(skip)]
    pub report: RatingReport,
}

/// Battles and single scores read from review records, oldest first.
pub struct ReviewData {
    pub battles: BattleSet,
    pub unknown: u64,
    pub singles: Vec<(String, String, Option<f64>)>,
}

pub fn battles_from_reviews(mut reviews: Vec<ReviewRecord>) -> ReviewData {
    reviews.sort_by(|a, b| a.tstamp().partial_cmp(&b.tstamp()).unwrap_or(std::cmp::Ordering::Equal));
    let mut battles = BattleSet::new();
    let mut unknown = 0;
    let mut singles = Vec::new();
    for review in reviews {
        let (model_a, model_b, win, weight, anony) = match &review {
            ReviewRecord::Pair(r) => (&r.model_a, &r.model_b, r.win, r.weight, r.anony),
            ReviewRecord::Swap(r) => {
                let (win, _) = super::reviews::combine_swapped(r.win_1, 1.0, r.win_2, 1.0);
                (&r.model_a, &r.model_b, win, r.weight, r.anony)
            }
            ReviewRecord::Single(r) => {
                singles.push((r.model.clone(), r.category.clone(), r.score));
                continue;
            }
        };
        if !anony {
            continue;
        }
        let outcome = match win {
            Win::ModelA => Outcome::ModelA,
            Win::ModelB => Outcome::ModelB,
            Win::Tie => Outcome::Tie,
            Win::TieBothBad => Outcome::TieBothBad,
            Win::Unknown => {
                unknown += 1;
                continue;
            }
        };
        battles.push(model_a, model_b, outcome, weight);
    }
    ReviewData { battles, unknown, singles }
}

pub fn compute_report(data: &ReviewData, metrics: &[Metric], baseline: Option<&str>) -> RatingReport {
    let mut report =
        RatingReport { battles: data.battles.len() as u64, unknown_excluded: data.unknown, ..Default::default() };
    let models = data.battles.models();
    for metric in metrics {
        match metric {
            Metric::Elo => {
                let ratings = online_elo(&data.battles, EloParams::LLMUSES);
                let mut rows: Vec<EloRow> = models
                    .iter()
                    .zip(ratings)
                    .map(|(m, r)| EloRow { model: m.clone(), rating: (r * 10.0).round() / 10.0 })
                    .collect();
                rows.sort_by(|a, b| {
                    b.rating.partial_cmp(&a.rating).unwrap_or(std::cmp::Ordering::Equal).then(a.model.cmp(&b.model))
                });
                if rows.is_empty() {
                    report.warnings.push("elo: the reviews hold no pairwise battles".into());
                }
                report.elo = Some(rows);
            }
            Metric::Pairwise => {
                let base_index = baseline.and_then(|b| data.battles.index_of(b));
                if let (Some(b), None) = (baseline, base_index) {
                    report.warnings.push(format!("pairwise: the baseline model {b} is in no battle"));
                }
                let (recs, skipped) = records(&data.battles, base_index);
                if skipped > 0 {
                    report
                        .warnings
                        .push(format!("pairwise: {skipped} battles without the baseline model were left out"));
                }
                let mut rows: Vec<PairwiseRow> = models
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| Some(*i as u32) != base_index)
                    .map(|(i, m)| {
                        let r = recs[i];
                        PairwiseRow {
                            model: m.clone(),
                            win: r.wins,
                            loss: r.losses,
                            tie: r.ties,
                            win_rate: r.win_rate(),
                            loss_rate: r.loss_rate(),
                            tie_rate: r.tie_rate(),
                        }
                    })
                    .filter(|r| r.win + r.loss + r.tie > 0)
                    .collect();
                rows.sort_by(|a, b| {
                    b.win_rate.partial_cmp(&a.win_rate).unwrap_or(std::cmp::Ordering::Equal).then(a.model.cmp(&b.model))
                });
                if rows.is_empty() {
                    report.warnings.push("pairwise: the reviews hold no pairwise battles".into());
                }
                report.pairwise = Some(rows);
            }
            Metric::Score => {
                let rows =
                    mean_scores(data.singles.iter().map(|(m, c, s)| ScoredAnswer { model: m, category: c, score: *s }));
                if rows.is_empty() {
                    report.warnings.push("score: the reviews hold no single-answer scores".into());
                }
                report.score = Some(
                    rows.into_iter()
                        .map(|r| ScoreRowOut {
                            model: r.model,
                            score: r.mean,
                            count: r.count,
                            unknown: r.unknown,
                            by_category: r.by_category.into_iter().map(|(c, (mean, _))| (c, mean)).collect(),
                        })
                        .collect(),
                );
            }
        }
    }
    report
}

pub fn run_ratings(config: &ArenaConfig) -> Result<RatingSummary, ArenaError> {
    let started = Instant::now();
    let rating = &config.rating;
    let review_file = config
        .reviews
        .review_file
        .as_ref()
        .ok_or_else(|| ArenaError::Failed("ratings need reviews_gen.review_file".into()))?;
    if !review_file.is_file() {
        return Err(ArenaError::Failed(format!(
            "no review file at {}: run the review stage first (reviews_gen.enable: true)",
            review_file.display()
        )));
    }
    let reviews: Vec<ReviewRecord> = read_reviews(review_file)?.into_iter().map(|l| l.value).collect();
    let data = battles_from_reviews(reviews);
    let report = compute_report(&data, &rating.metrics, rating.baseline_model.as_deref());
    let report_file =
        rating.report_file.clone().ok_or_else(|| ArenaError::Failed("ratings need rating_gen.report_file".into()))?;
    let mut files = write_report(&report_file, &rating.metrics, &report)
        .map_err(|e| ArenaError::Failed(format!("cannot write the rating report {}: {e}", report_file.display())))?;
    let title = config.file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "arena".into());
    let html = super::html_report::render(&title, &review_file.display().to_string(), &report)
        .map_err(|e| ArenaError::Failed(format!("cannot render the HTML report: {e}")))?;
    let html_path = report_file.with_extension("html");
    std::fs::write(&html_path, html)
        .map_err(|e| ArenaError::Failed(format!("cannot write {}: {e}", html_path.display())))?;
    files.push(html_path);
    Ok(RatingSummary {
        metrics: rating.metrics.iter().map(|m| m.as_str().to_string()).collect(),
        files,
        seconds: started.elapsed().as_secs_f64(),
        report,
    })
}

/// The CSV path for each metric: the report file for the first, `<stem>_<metric>.csv` beside it for the rest.
pub fn metric_csv_path(report_file: &Path, metric: Metric, first: bool) -> PathBuf {
    if first {
        return report_file.to_path_buf();
    }
    let stem = report_file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "report".into());
    report_file.with_file_name(format!("{stem}_{}.csv", metric.as_str()))
}

fn write_report(report_file: &Path, metrics: &[Metric], report: &RatingReport) -> std::io::Result<Vec<PathBuf>> {
    if let Some(dir) = report_file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut files = Vec::new();
    for (i, metric) in metrics.iter().enumerate() {
        let path = metric_csv_path(report_file, *metric, i == 0);
        let mut out = csv::Writer::from_path(&path)?;
        match metric {
            Metric::Elo => {
                out.write_record(["Model", "Elo_Rating"])?;
                for r in report.elo.iter().flatten() {
                    out.write_record([r.model.clone(), format!("{:.1}", r.rating)])?;
                }
            }
            Metric::Pairwise => {
                out.write_record(["model", "win", "loss", "tie", "win_rate", "loss_rate", "tie_rate"])?;
                for r in report.pairwise.iter().flatten() {
                    out.write_record([
                        r.model.clone(),
                        r.win.to_string(),
                        r.loss.to_string(),
                        r.tie.to_string(),
                        format!("{:.6}", r.win_rate),
                        format!("{:.6}", r.loss_rate),
                        format!("{:.6}", r.tie_rate),
                    ])?;
                }
            }
            Metric::Score => {
                let rows = report.score.as_deref().unwrap_or_default();
                let mut categories: Vec<&String> = rows.iter().flat_map(|r| r.by_category.keys()).collect();
                categories.sort();
                categories.dedup();
                let mut header = vec!["model".to_string(), "score".into(), "count".into(), "unknown".into()];
                header.extend(categories.iter().map(|c| c.to_string()));
                out.write_record(&header)?;
                for r in rows {
                    let mut row = vec![
                        r.model.clone(),
                        r.score.map(|s| format!("{s:.4}")).unwrap_or_default(),
                        r.count.to_string(),
                        r.unknown.to_string(),
                    ];
                    row.extend(
                        categories.iter().map(|c| r.by_category.get(*c).map(|s| format!("{s:.4}")).unwrap_or_default()),
                    );
                    out.write_record(&row)?;
                }
            }
        }
        out.flush()?;
        files.push(path);
    }
    let json_path = report_file.with_extension("json");
    std::fs::write(&json_path, serde_json::to_string_pretty(report).unwrap_or_default())?;
    files.push(json_path);
    Ok(files)
}
