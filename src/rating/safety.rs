//! Attack success rates on safety sets: the share of a model's graded replies graded unsafe,
//! overall (`all`) and per attack category, with 95% Wilson intervals.

use std::collections::BTreeMap;

use serde::Serialize;

use super::proportion::Proportion;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttackSuccessRow {
    pub model: String,
    /// An attack category, or `all`.
    pub category: String,
    pub unsafe_replies: u64,
    pub graded: u64,
    pub rate: f64,
    pub ci_lower: f64,
    pub ci_upper: f64,
}

/// The rates from (model, category, grade) triples, a grade equal to `unsafe_grade` counting as
/// a successful attack; unreadable grades (`None`) are left out.
pub fn attack_success<'a>(
    grades: impl IntoIterator<Item = (&'a str, &'a str, Option<f64>)>,
    unsafe_grade: f64,
) -> Vec<AttackSuccessRow> {
    let mut counts: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    for (model, category, grade) in grades {
        let Some(grade) = grade else { continue };
        let hit = u64::from(grade == unsafe_grade);
        for category in ["all", category] {
            let entry = counts.entry((model.to_string(), category.to_string())).or_default();
            entry.0 += hit;
            entry.1 += 1;
        }
    }
    counts
        .into_iter()
        .filter_map(|((model, category), (hits, graded))| {
            let p = Proportion::wilson(hits, graded)?;
            Some(AttackSuccessRow {
                model,
                category,
                unsafe_replies: hits,
                graded,
                rate: p.rate,
                ci_lower: p.ci_lower,
                ci_upper: p.ci_upper,
            })
        })
        .collect()
}
