//! Inline SVG charts, drawn by templates from the coordinates computed here (so every label
//! goes through the templates' escaping).

use crate::rating::Leaderboard;

#[derive(Debug, Clone)]
pub struct IntervalRow {
    pub label: String,
    pub y: f64,
    pub x_lower: f64,
    pub x_rating: f64,
    pub x_upper: f64,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct Tick {
    pub x: f64,
    pub label: String,
}

/// Each model's rating as a dot on its 95% interval.
#[derive(Debug, Clone)]
pub struct IntervalChart {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub rows: Vec<IntervalRow>,
    pub ticks: Vec<Tick>,
}

const ROW: f64 = 22.0;
const LABEL_WIDTH: f64 = 180.0;

pub fn intervals(board: &Leaderboard) -> Option<IntervalChart> {
    if board.models.is_empty() {
        return None;
    }
    let lo = board.models.iter().map(|m| m.ci_lower.unwrap_or(m.rating)).fold(f64::INFINITY, f64::min);
    let hi = board.models.iter().map(|m| m.ci_upper.unwrap_or(m.rating)).fold(f64::NEG_INFINITY, f64::max);
    let pad = ((hi - lo) * 0.05).max(5.0);
    let (lo, hi) = (lo - pad, hi + pad);
    let width = 640.0;
    let plot = width - LABEL_WIDTH - 20.0;
    let x = |r: f64| LABEL_WIDTH + (r - lo) / (hi - lo) * plot;
    let rows = board
        .models
        .iter()
        .enumerate()
        .map(|(i, m)| IntervalRow {
            label: m.model.clone(),
            y: 20.0 + i as f64 * ROW,
            x_lower: x(m.ci_lower.unwrap_or(m.rating)),
            x_rating: x(m.rating),
            x_upper: x(m.ci_upper.unwrap_or(m.rating)),
            text: match (m.ci_lower, m.ci_upper) {
                (Some(l), Some(u)) => format!("{}: {:.1} (95% CI {:.1} to {:.1})", m.model, m.rating, l, u),
                _ => format!("{}: {:.1}", m.model, m.rating),
            },
        })
        .collect();
    let step = nice_step((hi - lo) / 5.0);
    let mut ticks = Vec::new();
    let mut t = (lo / step).ceil() * step;
    while t <= hi {
        ticks.push(Tick { x: x(t), label: format!("{t:.0}") });
        t += step;
    }
    Some(IntervalChart { width, height: 30.0 + board.models.len() as f64 * ROW, left: LABEL_WIDTH, rows, ticks })
}

fn nice_step(raw: f64) -> f64 {
    let magnitude = 10f64.powf(raw.max(1e-9).log10().floor());
    let f = raw / magnitude;
    magnitude
        * if f < 1.5 {
            1.0
        } else if f < 3.5 {
            2.0
        } else if f < 7.5 {
            5.0
        } else {
            10.0
        }
}

#[derive(Debug, Clone)]
pub struct HeatCell {
    pub x: f64,
    pub y: f64,
    pub fill: String,
    pub text: String,
    pub title: String,
}

#[derive(Debug, Clone)]
pub struct HeatLabel {
    pub pos: f64,
    pub label: String,
}

/// A grid of values per pair of models (row model against column model).
#[derive(Debug, Clone)]
pub struct HeatMap {
    pub width: f64,
    pub height: f64,
    pub cell: f64,
    pub origin: f64,
    pub labels: Vec<HeatLabel>,
    pub cells: Vec<HeatCell>,
    /// How many models the leaderboard has (the map shows the top [`HEAT_MAP_MODELS`]).
    pub models_total: usize,
}

/// Heat maps show the top models only: a 100 × 100 grid is unreadable and weighs megabytes.
pub const HEAT_MAP_MODELS: usize = 20;

impl HeatMap {
    pub fn models_shown(&self) -> usize {
        self.labels.len()
    }
}

/// Models in leaderboard order; `value(a, b)` in [0, 1] or `None` when the pair never met.
fn heat_map(all_names: &[String], value: impl Fn(&str, &str) -> Option<(f64, String)>) -> Option<HeatMap> {
    if all_names.len() < 2 {
        return None;
    }
    let names = &all_names[..all_names.len().min(HEAT_MAP_MODELS)];
    let cell = if names.len() <= 12 { 34.0 } else { (420.0 / names.len() as f64).max(8.0) };
    let origin = 130.0;
    let mut cells = Vec::new();
    for (i, a) in names.iter().enumerate() {
        for (j, b) in names.iter().enumerate() {
            if i == j {
                continue;
            }
            if let Some((v, text)) = value(a, b) {
                cells.push(HeatCell {
                    x: origin + j as f64 * cell,
                    y: origin + i as f64 * cell,
                    fill: color(v),
                    text: if cell >= 30.0 { text.clone() } else { String::new() },
                    title: format!("{a} vs {b}: {text}"),
                });
            }
        }
    }
    let labels = names
        .iter()
        .enumerate()
        .map(|(i, n)| HeatLabel { pos: origin + i as f64 * cell + cell / 2.0, label: n.clone() })
        .collect();
    let grid = origin + names.len() as f64 * cell;
    Some(HeatMap {
        // Room on the right for the rotated labels of the last columns.
        width: grid + 80.0,
        height: grid + 2.0,
        cell,
        origin,
        labels,
        cells,
        models_total: all_names.len(),
    })
}

/// Blue (0) through white (0.5) to red (1).
fn color(v: f64) -> String {
    let v = v.clamp(0.0, 1.0);
    let (r, g, b) = if v < 0.5 {
        let t = v / 0.5;
        (lerp(49.0, 255.0, t), lerp(104.0, 255.0, t), lerp(196.0, 255.0, t))
    } else {
        let t = (v - 0.5) / 0.5;
        (lerp(255.0, 205.0, t), lerp(255.0, 60.0, t), lerp(255.0, 50.0, t))
    };
    format!("#{:02x}{:02x}{:02x}", r as u8, g as u8, b as u8)
}

fn lerp(a: f64, b: f64, t: f64) -> f64 {
    a + (b - a) * t
}

/// The share of decisive battles the row model won against the column model.
pub fn win_fraction(board: &Leaderboard) -> Option<HeatMap> {
    let names: Vec<String> = board.models.iter().map(|m| m.model.clone()).collect();
    heat_map(&names, |a, b| {
        board.win_fraction.get(a).and_then(|r| r.get(b)).map(|v| (*v, format!("{:.0}%", v * 100.0)))
    })
}

/// How many battles each pair fought, shaded by the largest count.
pub fn battle_counts(board: &Leaderboard) -> Option<HeatMap> {
    let names: Vec<String> = board.models.iter().map(|m| m.model.clone()).collect();
    let max = board.battle_counts.values().flat_map(|r| r.values()).copied().max().unwrap_or(1).max(1) as f64;
    heat_map(&names, |a, b| {
        board.battle_counts.get(a).and_then(|r| r.get(b)).map(|n| (0.5 + 0.5 * (*n as f64 / max), n.to_string()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_run_from_blue_through_white_to_red() {
        assert_eq!(color(0.5), "#ffffff");
        assert_eq!(color(0.0), "#3168c4");
        assert_eq!(color(1.0), "#cd3c32");
        assert_eq!(nice_step(23.0), 20.0);
        assert_eq!(nice_step(0.7), 0.5);
    }

    #[test]
    fn heat_maps_show_the_top_models_only() {
        let names: Vec<String> = (0..30).map(|i| format!("m{i}")).collect();
        let map = heat_map(&names, |_, _| Some((0.5, "50%".into()))).unwrap();
        assert_eq!((map.models_shown(), map.models_total), (HEAT_MAP_MODELS, 30));
        assert_eq!(map.cells.len(), HEAT_MAP_MODELS * (HEAT_MAP_MODELS - 1));
        assert_eq!(map.labels.last().unwrap().label, "m19");
    }
}
