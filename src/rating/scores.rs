//! Single-answer scores: the mean per model, overall and per category, with bootstrap
//! intervals. Unreadable scores are left out and counted.

use std::collections::BTreeMap;

use rand::Rng;
use serde::Serialize;

use super::bootstrap::round_rng;
use super::percentile::interval95;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mean {
    pub mean: f64,
    pub count: u64,
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreRow {
    pub model: String,
    /// `None` when no score of this model was readable.
    pub overall: Option<Mean>,
    /// Replies with no readable score, excluded from the means.
    pub unknown: u64,
    pub by_category: BTreeMap<String, Mean>,
}

/// One judged answer: its model, category and score (`None` when unreadable).
pub struct ScoredAnswer<'a> {
    pub model: &'a str,
    pub category: &'a str,
    pub score: Option<f64>,
}

fn mean_of(values: &[f64], rounds: usize, seed: u64) -> Mean {
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let mut samples: Vec<f64> = (0..rounds as u64)
        .map(|round| {
            let mut rng = round_rng(seed, round);
            (0..values.len()).map(|_| values[rng.random_range(0..values.len())]).sum::<f64>() / values.len() as f64
        })
        .collect();
    let ci = interval95(&mut samples);
    Mean { mean, count: values.len() as u64, ci_lower: ci.map(|c| c.0), ci_upper: ci.map(|c| c.1) }
}

/// Mean scores, best first (models with no readable score last), with `rounds` bootstrap
/// rounds for the intervals (0 for none).
pub fn mean_scores<'a>(items: impl IntoIterator<Item = ScoredAnswer<'a>>, rounds: usize, seed: u64) -> Vec<ScoreRow> {
    #[derive(Default)]
    struct Acc {
        all: Vec<f64>,
        unknown: u64,
        cats: BTreeMap<String, Vec<f64>>,
    }
    let mut by_model: BTreeMap<String, Acc> = BTreeMap::new();
    for item in items {
        let acc = by_model.entry(item.model.to_string()).or_default();
        match item.score {
            Some(s) => {
                acc.all.push(s);
                acc.cats.entry(item.category.to_string()).or_default().push(s);
            }
            None => acc.unknown += 1,
        }
    }
    let mut rows: Vec<ScoreRow> = by_model
        .into_iter()
        .enumerate()
        .map(|(k, (model, acc))| {
            // A distinct stream per model and category keeps intervals independent.
            let seed_for = |j: u64| seed ^ ((k as u64) << 32 | j).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            ScoreRow {
                overall: (!acc.all.is_empty()).then(|| mean_of(&acc.all, rounds, seed_for(0))),
                unknown: acc.unknown,
                by_category: acc
                    .cats
                    .into_iter()
                    .enumerate()
                    .map(|(j, (c, v))| (c, mean_of(&v, rounds, seed_for(j as u64 + 1))))
                    .collect(),
                model,
            }
        })
        .collect();
    let key = |r: &ScoreRow| r.overall.as_ref().map_or(f64::NEG_INFINITY, |m| m.mean);
    rows.sort_by(|x, y| key(y).total_cmp(&key(x)).then_with(|| x.model.cmp(&y.model)));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn means_exclude_unknown() {
        let items = vec![
            ScoredAnswer { model: "m", category: "math", score: Some(8.0) },
            ScoredAnswer { model: "m", category: "writing", score: Some(6.0) },
            ScoredAnswer { model: "m", category: "math", score: None },
            ScoredAnswer { model: "n", category: "math", score: Some(9.0) },
        ];
        let rows = mean_scores(items, 0, 1);
        assert_eq!(rows[0].model, "n");
        let m = &rows[1];
        assert_eq!(m.overall.as_ref().unwrap().mean, 7.0);
        assert_eq!(m.unknown, 1);
        assert_eq!(m.by_category["math"].mean, 8.0);
        assert_eq!(m.by_category["math"].count, 1);
        assert!(m.overall.as_ref().unwrap().ci_lower.is_none());
    }

    #[test]
    fn intervals_cover_the_mean_and_are_reproducible() {
        let items = || (0..50).map(|i| ScoredAnswer { model: "m", category: "c", score: Some((i % 10) as f64) });
        let a = mean_scores(items(), 200, 3);
        let b = mean_scores(items(), 200, 3);
        assert_eq!(a, b);
        let o = a[0].overall.as_ref().unwrap();
        assert!(o.ci_lower.unwrap() < o.mean && o.mean < o.ci_upper.unwrap());
        assert!((o.mean - 4.5).abs() < 1e-12);
    }
}
