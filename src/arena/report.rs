//! Stage 3: ratings from the review file, computed by the rating engine. Every metric listed
//! is written: the first to `report_file`, others beside it as `<stem>_<metric>.csv`, and all
//! of them to `<stem>.json` and to a page, `<stem>.html`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use std::collections::{BTreeMap, HashMap};

use super::ArenaError;
use super::verdict::UNSAFE_SCORE;
use crate::config::{ArenaConfig, Metric};
use crate::data::battles::{Battles, LoadedBattles, ReadOptions, read_battle_files};
use crate::data::{read_answers, read_reviews};
use crate::rating::length::{LengthBattle, LengthControlled, length_controlled};
use crate::rating::safety::{AttackSuccessRow, attack_success};
use crate::rating::scores::ScoreRow;
use crate::rating::{
    BattleSet, EloParams, Leaderboard, Method, RatingOptions, Rows, ScoredAnswer, bradley_terry, elo, mean_scores,
    records,
};

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

#[derive(Debug, Clone, Default, Serialize)]
pub struct RatingReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elo: Option<Leaderboard>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bt: Option<Leaderboard>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pairwise: Option<Vec<PairwiseRow>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<Vec<ScoreRow>>,
    /// Safety sets: each model's attack success rate, overall (`category` "all") and per category.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attack_success: Option<Vec<AttackSuccessRow>>,
    /// Win rates against `baseline_model` with the answers' length difference controlled for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length_controlled: Option<Vec<LengthControlled>>,
    /// Battles used, and reviews left out for an unknown verdict.
    pub battles: u64,
    pub unknown_excluded: u64,
    pub warnings: Vec<String>,
    /// Rated from a dry run's pseudo-random verdicts.
    pub dry_run: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RatingSummary {
    pub metrics: Vec<String>,
    pub files: Vec<PathBuf>,
    pub seconds: f64,
    #[serde(skip)]
    pub report: RatingReport,
}

/// How the metrics are computed.
#[derive(Debug, Clone)]
pub struct MetricOptions {
    pub metrics: Vec<Metric>,
    pub baseline: Option<String>,
    pub elo: EloParams,
    pub bootstrap: usize,
    pub seed: u64,
}

/// Computes the metrics from battles (in order) and single scores.
pub fn compute_report(loaded: &LoadedBattles, options: &MetricOptions) -> RatingReport {
    let empty = BattleSet::new();
    let set = match &loaded.battles {
        Battles::Ordered(set) => set,
        Battles::Counted(_) => &empty,
    };
    let rows = match &loaded.battles {
        Battles::Ordered(set) => Rows::from_battles(set),
        Battles::Counted(builder) => builder.clone().finish(),
    };
    let mut report =
        RatingReport { battles: rows.battles(), unknown_excluded: loaded.unknown, ..RatingReport::default() };
    let rating_options = |method| RatingOptions {
        method,
        bootstrap: options.bootstrap,
        seed: options.seed,
        elo: options.elo,
        anchor: None,
        baseline: None,
    };
    for metric in &options.metrics {
        match metric {
            Metric::Elo => {
                let board = elo(set, &rating_options(Method::Elo));
                if board.models.is_empty() {
                    report.warnings.push("elo: the reviews hold no pairwise battles".into());
                }
                report.elo = Some(board);
            }
            Metric::Bt => {
                let board = bradley_terry(&rows, &rating_options(Method::Bt));
                if board.models.is_empty() {
                    report.warnings.push("bt: the reviews hold no pairwise battles".into());
                }
                report.warnings.extend(board.warnings.iter().map(|w| format!("bt: {w}")));
                report.bt = Some(board);
            }
            Metric::Pairwise => {
                report.pairwise = Some(pairwise(set, options.baseline.as_deref(), &mut report.warnings))
            }
            Metric::Score => {
                let rows = mean_scores(
                    loaded.scores.iter().map(|s| ScoredAnswer {
                        model: &s.model,
                        category: &s.category,
                        score: s.score,
                    }),
                    options.bootstrap,
                    options.seed,
                );
                if rows.is_empty() {
                    report.warnings.push("score: the reviews hold no single-answer scores".into());
                }
                report.score = Some(rows);
            }
            Metric::AttackSuccess => {
                let grades = loaded.scores.iter().map(|s| (s.model.as_str(), s.category.as_str(), s.score));
                let rows = attack_success(grades, UNSAFE_SCORE);
                if rows.is_empty() {
                    report.warnings.push("attack_success: the reviews hold no readable safety grades".into());
                }
                report.attack_success = Some(rows);
            }
        }
    }
    report
}

/// Wins, losses and ties per model (only battles against the baseline when one is set).
fn pairwise(set: &BattleSet, baseline: Option<&str>, warnings: &mut Vec<String>) -> Vec<PairwiseRow> {
    let base_index = baseline.and_then(|b| set.index_of(b));
    if let (Some(b), None) = (baseline, base_index) {
        warnings.push(format!("pairwise: the baseline model {b} is in no battle"));
    }
    let (recs, skipped) = records(set, base_index);
    if skipped > 0 {
        warnings.push(format!("pairwise: {skipped} battles without the baseline model were left out"));
    }
    let mut rows: Vec<PairwiseRow> = set
        .models()
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
    rows.sort_by(|a, b| b.win_rate.total_cmp(&a.win_rate).then(a.model.cmp(&b.model)));
    if rows.is_empty() {
        warnings.push("pairwise: the reviews hold no pairwise battles".into());
    }
    rows
}

pub fn run_ratings(config: &ArenaConfig, dry_run: bool) -> Result<RatingSummary, ArenaError> {
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
    let loaded = read_battle_files(&[review_file], &ReadOptions { keep_order: true, ..ReadOptions::default() })?;
    let options = MetricOptions {
        metrics: rating.metrics.clone(),
        baseline: rating.baseline_model.clone(),
        elo: EloParams { k: rating.k, ..EloParams::ARENA },
        bootstrap: rating.bootstrap,
        seed: rating.seed,
    };
    let mut report = compute_report(&loaded, &options);
    report.dry_run = dry_run;
    if dry_run {
        report.warnings.insert(0, "dry run: no judge was asked, every verdict is pseudo-random".into());
    }
    if let Some(baseline) = &rating.baseline_model {
        report.length_controlled = length_controlled_from_answers(config, review_file, baseline, &options)?;
    }
    let report_file =
        rating.report_file.clone().ok_or_else(|| ArenaError::Failed("ratings need rating_gen.report_file".into()))?;
    let mut files = write_report(&report_file, &rating.metrics, &report)
        .map_err(|e| ArenaError::Failed(format!("cannot write the rating report {}: {e}", report_file.display())))?;
    let title = config.file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "arena".into());
    let html = super::html_report::render(&title, &review_file.display().to_string(), &report, rating.k)
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

/// Length-controlled win rates against the baseline, from the review file and the answer
/// files' lengths (in characters). `None` when no battle against the baseline has both lengths.
fn length_controlled_from_answers(
    config: &ArenaConfig,
    review_file: &Path,
    baseline: &str,
    options: &MetricOptions,
) -> Result<Option<Vec<LengthControlled>>, ArenaError> {
    let mut files = config.answer_files_to_review();
    files.extend(config.reviews.baseline_file.clone());
    let mut lengths: HashMap<(String, String), f64> = HashMap::new();
    for file in files.iter().filter(|f| f.is_file()) {
        for a in read_answers(file)? {
            lengths.insert(
                (a.record.model_id.clone(), a.record.question_id.key().to_string()),
                a.record.answer.chars().count() as f64,
            );
        }
    }
    let mut by_model: BTreeMap<String, Vec<LengthBattle>> = BTreeMap::new();
    for line in read_reviews(review_file)? {
        let Some((qid, a, b, win)) = line.value.pair_verdict() else { continue };
        let Some(score_a) = win.score_a() else { continue };
        let (model, score) = if b == baseline && a != baseline {
            (a, score_a)
        } else if a == baseline && b != baseline {
            (b, 1.0 - score_a)
        } else {
            continue;
        };
        let length = |m: &str| lengths.get(&(m.to_string(), qid.key().to_string())).copied();
        if let (Some(lm), Some(lb)) = (length(model), length(baseline)) {
            by_model.entry(model.to_string()).or_default().push(LengthBattle { score, length_difference: lm - lb });
        }
    }
    Ok((!by_model.is_empty()).then(|| length_controlled(&by_model, options.bootstrap, options.seed)))
}

/// The CSV path for each metric: the report file for the first, `<stem>_<metric>.csv` beside it for the rest.
pub fn metric_csv_path(report_file: &Path, metric: Metric, first: bool) -> PathBuf {
    if first {
        return report_file.to_path_buf();
    }
    let stem = report_file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "report".into());
    report_file.with_file_name(format!("{stem}_{}.csv", metric.as_str()))
}

fn optional(x: Option<f64>, digits: usize) -> String {
    x.map(|v| format!("{v:.digits$}")).unwrap_or_default()
}

/// A CSV file whose rows all end with a `Dry_Run` column in a dry run, so a report file
/// carries its mark wherever it is copied; real reports keep llmuses' columns.
struct CsvOut {
    out: csv::Writer<std::fs::File>,
    dry_run: bool,
    header: bool,
}

impl CsvOut {
    fn create(path: &Path, dry_run: bool) -> csv::Result<CsvOut> {
        Ok(CsvOut { out: csv::Writer::from_path(path)?, dry_run, header: true })
    }

    fn row<S: AsRef<str>>(&mut self, fields: impl IntoIterator<Item = S>) -> csv::Result<()> {
        let mut fields: Vec<String> = fields.into_iter().map(|f| f.as_ref().to_string()).collect();
        if self.dry_run {
            fields.push(if self.header { "Dry_Run".into() } else { "true".into() });
        }
        self.header = false;
        self.out.write_record(&fields)
    }
}

fn write_leaderboard(out: &mut CsvOut, board: &Leaderboard, rating_column: &str) -> csv::Result<()> {
    out.row(["Model", rating_column, "CI_Lower", "CI_Upper", "Rank_UB", "Battles", "Wins", "Losses", "Ties"])?;
    for m in &board.models {
        out.row([
            m.model.clone(),
            format!("{:.1}", m.rating),
            optional(m.ci_lower, 1),
            optional(m.ci_upper, 1),
            m.rank_ub.to_string(),
            m.battles.to_string(),
            m.wins.to_string(),
            m.losses.to_string(),
            m.ties.to_string(),
        ])?;
    }
    Ok(())
}

fn write_report(report_file: &Path, metrics: &[Metric], report: &RatingReport) -> std::io::Result<Vec<PathBuf>> {
    if let Some(dir) = report_file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut files = Vec::new();
    for (i, metric) in metrics.iter().enumerate() {
        let path = metric_csv_path(report_file, *metric, i == 0);
        let mut out = CsvOut::create(&path, report.dry_run)?;
        match metric {
            // llmuses' columns first, then the intervals.
            Metric::Elo => write_leaderboard(&mut out, report.elo.as_ref().expect("computed"), "Elo_Rating")?,
            Metric::Bt => write_leaderboard(&mut out, report.bt.as_ref().expect("computed"), "Rating")?,
            Metric::Pairwise => {
                out.row(["model", "win", "loss", "tie", "win_rate", "loss_rate", "tie_rate"])?;
                for r in report.pairwise.iter().flatten() {
                    out.row([
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
            Metric::AttackSuccess => {
                out.row(["model", "category", "attack_success_rate", "ci_lower", "ci_upper", "unsafe", "graded"])?;
                for r in report.attack_success.as_deref().unwrap_or_default() {
                    out.row([
                        r.model.clone(),
                        r.category.clone(),
                        format!("{:.4}", r.rate),
                        format!("{:.4}", r.ci_lower),
                        format!("{:.4}", r.ci_upper),
                        r.unsafe_replies.to_string(),
                        r.graded.to_string(),
                    ])?;
                }
            }
            Metric::Score => {
                let rows = report.score.as_deref().unwrap_or_default();
                let mut categories: Vec<&String> = rows.iter().flat_map(|r| r.by_category.keys()).collect();
                categories.sort();
                categories.dedup();
                let mut header: Vec<String> =
                    ["model", "score", "ci_lower", "ci_upper", "count", "unknown"].map(String::from).to_vec();
                header.extend(categories.iter().map(|c| c.to_string()));
                out.row(&header)?;
                for r in rows {
                    let o = r.overall.as_ref();
                    let mut row = vec![
                        r.model.clone(),
                        optional(o.map(|m| m.mean), 4),
                        optional(o.and_then(|m| m.ci_lower), 4),
                        optional(o.and_then(|m| m.ci_upper), 4),
                        o.map_or(0, |m| m.count).to_string(),
                        r.unknown.to_string(),
                    ];
                    row.extend(categories.iter().map(|c| optional(r.by_category.get(*c).map(|m| m.mean), 4)));
                    out.row(&row)?;
                }
            }
        }
        out.out.flush()?;
        files.push(path);
    }
    let json_path = report_file.with_extension("json");
    std::fs::write(&json_path, serde_json::to_string_pretty(report).unwrap_or_default())?;
    files.push(json_path);
    Ok(files)
}
