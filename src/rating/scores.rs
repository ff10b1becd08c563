//! Single-answer scores: the mean per model, overall and per category.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub struct ScoreRow {
    pub model: String,
    pub mean: Option<f64>,
    pub count: u64,
    /// Replies with no readable score, excluded from the mean.
    pub unknown: u64,
    pub by_category: BTreeMap<String, (f64, u64)>,
}

/// One judged answer: its model, category and score (`None` when unreadable).
pub struct ScoredAnswer<'a> {
    pub model: &'a str,
    pub category: &'a str,
    pub score: Option<f64>,
}

/// Mean scores, best first (models with no readable score last).
pub fn mean_scores<'a>(items: impl IntoIterator<Item = ScoredAnswer<'a>>) -> Vec<ScoreRow> {
    #[derive(Default)]
    struct Acc {
        sum: f64,
        count: u64,
        unknown: u64,
        cats: BTreeMap<String, (f64, u64)>,
    }
    let mut by_model: BTreeMap<String, Acc> = BTreeMap::new();
    for item in items {
        let acc = by_model.entry(item.model.to_string()).or_default();
        match item.score {
            Some(s) => {
                acc.sum += s;
                acc.count += 1;
                let cat = acc.cats.entry(item.category.to_string()).or_default();
                cat.0 += s;
                cat.1 += 1;
            }
            None => acc.unknown += 1,
        }
    }
    let mut rows: Vec<ScoreRow> = by_model
        .into_iter()
        .map(|(model, acc)| ScoreRow {
            model,
            mean: (acc.count > 0).then(|| acc.sum / acc.count as f64),
            count: acc.count,
            unknown: acc.unknown,
            by_category: acc.cats.into_iter().map(|(c, (sum, n))| (c, (sum / n as f64, n))).collect(),
        })
        .collect();
    rows.sort_by(|x, y| {
        y.mean
            .unwrap_or(f64::NEG_INFINITY)
            .partial_cmp(&x.mean.unwrap_or(f64::NEG_INFINITY))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| x.model.cmp(&y.model))
    });
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
        let rows = mean_scores(items);
        assert_eq!(rows[0].model, "n");
        assert_eq!(rows[1].mean, Some(7.0));
        assert_eq!(rows[1].unknown, 1);
        assert_eq!(rows[1].by_category["math"], (8.0, 1));
    }
}
