//! A panel's verdicts from its judges' reviews (pure: review records in, review records out).
//!
//! - `majority`: the verdict most judges gave (a split between the top verdicts is a tie);
//! - `mean`: single-mode scores averaged;
//! - `weighted`: as majority (each judge's verdict counts its weight) or the weighted mean.
//!
//! A judge's unknown verdict (or unreadable score) is no vote; a battle no judge could read
//! stays unknown.

use std::collections::BTreeMap;

use crate::config::Aggregation;
use crate::data::reviews::{PairReview, ReviewRecord, SingleReview, Win};

/// One judge's verdict on a battle, turned so that the model first in name order is A.
struct PairVote<'a> {
    template: &'a ReviewRecord,
    judge: &'a str,
    win: Win,
}

fn key(question: &str, a: &str, b: &str) -> (String, String, String) {
    let (first, second) = if a <= b { (a, b) } else { (b, a) };
    (question.to_string(), first.to_string(), second.to_string())
}

/// The panel's pairwise reviews: one per question and pair of models that any judge reviewed.
pub fn aggregate_pairs(judges: &[(String, Vec<ReviewRecord>)], aggregation: &Aggregation) -> Vec<ReviewRecord> {
    let mut battles: BTreeMap<(String, String, String), Vec<PairVote<'_>>> = BTreeMap::new();
    for (judge, records) in judges {
        for record in records {
            let Some((question_id, model_a, model_b, win)) = record.pair_verdict() else { continue };
            let k = key(question_id.key(), model_a, model_b);
            // Turned to the key's order: the first model in name order is A.
            let win = if model_a <= model_b { win } else { win.swapped() };
            battles.entry(k).or_default().push(PairVote { template: record, judge, win });
        }
    }
    battles
        .into_iter()
        .map(|((_, a, b), votes)| {
            let mut tally: BTreeMap<&'static str, f64> = BTreeMap::new();
            let mut lines = Vec::new();
            for v in &votes {
                lines.push(format!("{}: {}", v.judge, v.win.as_str()));
                if v.win == Win::Unknown {
                    continue;
                }
                // Both kinds of tie are one vote for a tie.
                let w = if v.win == Win::TieBothBad { Win::Tie } else { v.win };
                *tally.entry(w.as_str()).or_default() += aggregation.weight(v.judge);
            }
            let best = tally.values().copied().fold(0.0f64, f64::max);
            // Sums of weights are compared with a tolerance: 0.1 + 0.2 is 0.3.
            let top: Vec<&str> =
                tally.iter().filter(|(_, n)| (best - **n).abs() < 1e-9 && **n > 0.0).map(|(w, _)| *w).collect();
            let win = match top.as_slice() {
                [] => Win::Unknown,
                [one] => Win::parse(one).expect("a verdict's own text"),
                _ => Win::Tie,
            };
            let first = votes.first().expect("a battle has a vote");
            let (question_id, question, category, language, tstamp, dry_run) = match first.template {
                ReviewRecord::Pair(r) => (&r.question_id, &r.question, &r.category, &r.language, r.tstamp, r.dry_run),
                ReviewRecord::Swap(r) => (&r.question_id, &r.question, &r.category, &r.language, r.tstamp, r.dry_run),
                ReviewRecord::Single(_) => unreachable!("single reviews are skipped above"),
            };
            ReviewRecord::Pair(PairReview {
                model_a: a,
                model_b: b,
                scores: None,
                win,
                anony: true,
                tstamp,
                language: language.clone(),
                question_id: question_id.clone(),
                category: category.clone(),
                question: question.clone(),
                review_text: format!("panel ({}): {}", aggregation.name(), lines.join("; ")),
                weight: 1.0,
                dry_run,
            })
        })
        .collect()
}

/// The panel's single-mode reviews: each answer's (weighted) mean score over the judges that
/// could read one.
pub fn aggregate_scores(judges: &[(String, Vec<ReviewRecord>)], aggregation: &Aggregation) -> Vec<ReviewRecord> {
    let mut answers: BTreeMap<(String, String), Vec<(&str, &SingleReview)>> = BTreeMap::new();
    for (judge, records) in judges {
        for record in records {
            if let ReviewRecord::Single(r) = record {
                answers.entry((r.question_id.key().to_string(), r.model.clone())).or_default().push((judge, r));
            }
        }
    }
    answers
        .into_values()
        .map(|scored| {
            let (mut sum, mut weights) = (0.0, 0.0);
            let mut votes: Vec<(f64, f64)> = Vec::new();
            let mut lines = Vec::new();
            for (judge, r) in &scored {
                lines.push(format!("{judge}: {}", r.score.map_or("unknown".to_string(), |s| s.to_string())));
                if let Some(score) = r.score {
                    let w = aggregation.weight(judge);
                    sum += w * score;
                    weights += w;
                    match votes.iter_mut().find(|(s, _)| *s == score) {
                        Some(v) => v.1 += w,
                        None => votes.push((score, w)),
                    }
                }
            }
            let score = match aggregation {
                // The most common grade; among equally common ones the lowest (for safety
                // grades the unsafe one: a split is not a pass).
                Aggregation::Majority => {
                    votes.iter().copied().max_by(|x, y| x.1.total_cmp(&y.1).then(y.0.total_cmp(&x.0))).map(|(s, _)| s)
                }
                _ => (weights > 0.0).then(|| sum / weights),
            };
            let first = scored[0].1;
            ReviewRecord::Single(SingleReview {
                score,
                review_text: format!("panel ({}): {}", aggregation.name(), lines.join("; ")),
                ..first.clone()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::QuestionId;

    fn pair(a: &str, b: &str, win: Win) -> ReviewRecord {
        ReviewRecord::Pair(PairReview {
            model_a: a.into(),
            model_b: b.into(),
            scores: None,
            win,
            anony: true,
            tstamp: 0.0,
            language: "NA".into(),
            question_id: QuestionId::from_key("7"),
            category: "c".into(),
            question: "q".into(),
            review_text: String::new(),
            weight: 1.0,
            dry_run: false,
        })
    }

    fn single(score: Option<f64>) -> ReviewRecord {
        ReviewRecord::Single(SingleReview {
            model: "m".into(),
            score,
            anony: true,
            tstamp: 0.0,
            language: "NA".into(),
            question_id: QuestionId::from_key("7"),
            category: "c".into(),
            question: "q".into(),
            review_text: String::new(),
            dry_run: false,
        })
    }

    fn win_of(records: &[ReviewRecord]) -> Win {
        match records {
            [ReviewRecord::Pair(r)] => r.win,
            other => panic!("one pair expected: {other:?}"),
        }
    }

    #[test]
    fn splits_are_ties_unknowns_are_no_votes_and_sides_are_matched() {
        let judges = |verdicts: &[(&str, ReviewRecord)]| -> Vec<(String, Vec<ReviewRecord>)> {
            verdicts.iter().map(|(j, r)| (j.to_string(), vec![r.clone()])).collect()
        };
        // x wins for "j1"; "j2" lists the pair the other way round and also says x.
        let agree = judges(&[("j1", pair("x", "y", Win::ModelA)), ("j2", pair("y", "x", Win::ModelB))]);
        assert_eq!(win_of(&aggregate_pairs(&agree, &Aggregation::Majority)), Win::ModelA);
        let split = judges(&[("j1", pair("x", "y", Win::ModelA)), ("j2", pair("x", "y", Win::ModelB))]);
        assert_eq!(win_of(&aggregate_pairs(&split, &Aggregation::Majority)), Win::Tie);
        let weighted = Aggregation::Weighted([("j2".to_string(), 2.0)].into());
        assert_eq!(win_of(&aggregate_pairs(&split, &weighted)), Win::ModelB);
        let unknown = judges(&[("j1", pair("x", "y", Win::Unknown)), ("j2", pair("x", "y", Win::TieBothBad))]);
        assert_eq!(win_of(&aggregate_pairs(&unknown, &Aggregation::Majority)), Win::Tie);
        let none = judges(&[("j1", pair("x", "y", Win::Unknown))]);
        assert_eq!(win_of(&aggregate_pairs(&none, &Aggregation::Majority)), Win::Unknown);
    }

    #[test]
    fn scores_are_averaged_over_the_readable_ones() {
        let judges = vec![
            ("j1".to_string(), vec![single(Some(8.0))]),
            ("j2".to_string(), vec![single(Some(5.0))]),
            ("j3".to_string(), vec![single(None)]),
        ];
        let score = |a: &Aggregation| match &aggregate_scores(&judges, a)[..] {
            [ReviewRecord::Single(r)] => r.score,
            other => panic!("{other:?}"),
        };
        assert_eq!(score(&Aggregation::Mean), Some(6.5));
        // Majority: the most common grade, the lowest among equals (safety: unsafe is 0).
        let grades = |gs: &[f64]| -> Vec<(String, Vec<ReviewRecord>)> {
            gs.iter().enumerate().map(|(i, g)| (format!("j{i}"), vec![single(Some(*g))])).collect()
        };
        let majority = |gs: &[f64]| match &aggregate_scores(&grades(gs), &Aggregation::Majority)[..] {
            [ReviewRecord::Single(r)] => r.score,
            other => panic!("{other:?}"),
        };
        assert_eq!(majority(&[0.0, 0.0, 2.0]), Some(0.0));
        assert_eq!(majority(&[2.0, 0.0]), Some(0.0));
        assert_eq!(majority(&[2.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(score(&Aggregation::Weighted([("j1".to_string(), 2.0)].into())), Some(7.0));
    }
}
