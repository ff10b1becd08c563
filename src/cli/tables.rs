//! Human-readable tables for the terminal.

use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};

use crate::arena::ArenaSummary;
use crate::rating::Leaderboard;
use crate::rating::judges::JudgeReports;
use crate::rating::length::LengthControlled;
use crate::rating::proportion::Proportion;
use crate::rating::scores::ScoreRow;
use crate::rating::style::StyleControlled;

pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header(header.iter().map(Cell::new));
    t
}

pub fn right(text: impl ToString) -> Cell {
    Cell::new(text.to_string()).set_alignment(CellAlignment::Right)
}

/// Rank (UB), model, rating, 95% interval as +/−, battles and the win/loss/tie record.
pub fn leaderboard(board: &Leaderboard) -> Table {
    let mut t = table(&["rank (UB)", "model", "rating", "95% CI", "battles", "wins", "losses", "ties"]);
    for m in &board.models {
        let ci = match (m.ci_lower, m.ci_upper) {
            (Some(lo), Some(hi)) => format!("+{:.1}/-{:.1}", hi - m.rating, m.rating - lo),
            _ => "-".into(),
        };
        let name = if m.flags.is_empty() { m.model.clone() } else { format!("{} ({})", m.model, m.flags.join(", ")) };
        t.add_row(vec![
            right(m.rank_ub),
            Cell::new(name),
            right(format!("{:.1}", m.rating)),
            right(ci),
            right(m.battles),
            right(m.wins),
            right(m.losses),
            right(m.ties),
        ]);
    }
    t
}

/// Plain and length-controlled win rates against a baseline.
pub fn length_controlled(rows: &[LengthControlled]) -> Table {
    let mut t = table(&["model", "battles", "win rate", "LC win rate", "95% CI"]);
    for r in rows {
        t.add_row(vec![
            Cell::new(&r.model),
            right(r.battles),
            right(format!("{:.1}%", r.win_rate * 100.0)),
            right(format!("{:.1}%", r.lc_win_rate * 100.0)),
            right(match (r.ci_lower, r.ci_upper) {
                (Some(lo), Some(hi)) => format!("{:.1}% - {:.1}%", lo * 100.0, hi * 100.0),
                _ => "-".into(),
            }),
        ]);
    }
    t
}

/// Mean single-answer scores with their intervals.
pub fn scores(rows: &[ScoreRow]) -> Table {
    let mut t = table(&["model", "mean score", "95% CI", "scored", "unreadable"]);
    for r in rows {
        let o = r.overall.as_ref();
        t.add_row(vec![
            Cell::new(&r.model),
            right(o.map(|m| format!("{:.2}", m.mean)).unwrap_or_else(|| "-".into())),
            right(match o.and_then(|m| m.ci_lower.zip(m.ci_upper)) {
                Some((lo, hi)) => format!("{lo:.2} - {hi:.2}"),
                None => "-".into(),
            }),
            right(o.map_or(0, |m| m.count)),
            right(r.unknown),
        ]);
    }
    t
}

pub fn print_summary(summary: &ArenaSummary) {
    if let Some(report) = &summary.report {
        if let Some(board) = &report.elo {
            println!("Elo ratings (online)\n{}", leaderboard(board));
        }
        if let Some(board) = &report.bt {
            println!("Bradley-Terry ratings\n{}", leaderboard(board));
        }
        if let Some(rows) = &report.pairwise {
            let mut t = table(&["model", "win", "loss", "tie", "win rate", "loss rate", "tie rate"]);
            for r in rows {
                t.add_row(vec![
                    Cell::new(&r.model),
                    right(r.win),
                    right(r.loss),
                    right(r.tie),
                    right(format!("{:.1}%", r.win_rate * 100.0)),
                    right(format!("{:.1}%", r.loss_rate * 100.0)),
                    right(format!("{:.1}%", r.tie_rate * 100.0)),
                ]);
            }
            println!("Pairwise results\n{t}");
        }
        if let Some(rows) = &report.length_controlled {
            println!("Length-controlled win rates\n{}", length_controlled(rows));
        }
        if let Some(rows) = &report.score {
            println!("Single-answer scores\n{}", scores(rows));
        }
        for w in &report.warnings {
            eprintln!("note: {w}");
        }
    }

    let mut t = table(&["", ""]);
    t.set_header(vec!["run", &format!("#{}{}", summary.run_id, if summary.dry_run { " (dry run)" } else { "" })]);
    for (label, value) in summary.facts() {
        t.add_row(vec![Cell::new(label), right(value)]);
    }
    for f in summary.ratings.iter().flat_map(|r| &r.files) {
        t.add_row(vec![Cell::new("report"), Cell::new(f.display())]);
    }
    println!("{t}");
}

/// Each judge's trust figures: position consistency, first-position and longer-answer
/// preference (with 95% intervals), and agreement with people.
pub fn judges(reports: &JudgeReports) -> Table {
    let share = |p: &Option<Proportion>| match p {
        Some(p) => format!("{:.1}% ({:.1}-{:.1}) of {}", p.rate * 100.0, p.ci_lower * 100.0, p.ci_upper * 100.0, p.n),
        None => "-".into(),
    };
    let mut t = table(&[
        "judge",
        "battles",
        "position consistency",
        "first position wins",
        "longer answer wins",
        "agrees with people (ties / no ties)",
        "kappa",
    ]);
    for j in &reports.judges {
        let (agree, kappa) = match &j.human_agreement {
            Some(a) => (
                format!(
                    "{:.1}% / {} of {}",
                    a.with_ties * 100.0,
                    a.without_ties.map_or("-".into(), |w| format!("{:.1}%", w * 100.0)),
                    a.n
                ),
                a.kappa.map_or("-".into(), |k| format!("{k:.2}")),
            ),
            None => ("-".into(), "-".into()),
        };
        t.add_row(vec![
            Cell::new(&j.judge),
            right(j.battles),
            right(share(&j.consistency)),
            right(share(&j.first_position_rate)),
            right(share(&j.longer_answer_win_rate)),
            right(agree),
            right(kappa),
        ]);
    }
    if let Some(p) = &reports.people {
        t.add_row(vec![
            Cell::new("(people)"),
            right(p.battles),
            right("-"),
            right("-"),
            right(share(&p.longer_answer_win_rate)),
            right("-"),
            right("-"),
        ]);
    }
    t
}

/// The style-controlled board beside the plain ratings, and the style coefficients.
pub fn style(style: &StyleControlled, plain: &Leaderboard) -> (Table, Table) {
    let mut ratings = table(&["rank (UB)", "model", "style-controlled", "95% CI", "plain", "change"]);
    for m in &style.models {
        let ci = match (m.ci_lower, m.ci_upper) {
            (Some(lo), Some(hi)) => format!("+{:.1}/-{:.1}", hi - m.rating, m.rating - lo),
            _ => "-".into(),
        };
        let plain = plain.models.iter().find(|p| p.model == m.model).map(|p| p.rating);
        ratings.add_row(vec![
            right(m.rank_ub),
            Cell::new(&m.model),
            right(format!("{:.1}", m.rating)),
            right(ci),
            right(plain.map_or("-".into(), |p| format!("{p:.1}"))),
            right(plain.map_or("-".into(), |p| format!("{:+.1}", m.rating - p))),
        ]);
    }
    let mut coefficients = table(&["feature", "coefficient", "95% CI"]);
    for c in &style.coefficients {
        coefficients.add_row(vec![
            Cell::new(c.feature),
            right(format!("{:.3}", c.coefficient)),
            right(match (c.ci_lower, c.ci_upper) {
                (Some(lo), Some(hi)) => format!("{lo:.3} - {hi:.3}"),
                _ => "-".into(),
            }),
        ]);
    }
    (ratings, coefficients)
}
