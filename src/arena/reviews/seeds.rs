//! Verdicts from an earlier review file (`cache_file`), reused instead of asking the judge.

use std::collections::HashMap;
use std::path::Path;

use crate::arena::judge::{DRY_RUN_NOTE, Seed};
use crate::arena::verdict::Verdict;
use crate::data::{PairReview, ReviewRecord, SingleReview, SwapReview, Win, read_reviews};
use crate::input::BadInput;

/// Matched like llmuses did: by the two models in their order and the question text.
/// Unreadable verdicts are not reused, and neither is anything a dry run wrote: its
/// verdicts are pseudo-random and must never stand in for a judge's.
#[derive(Default)]
pub struct SeedIndex {
    pairs: HashMap<(String, String, String), PairReview>,
    swaps: HashMap<(String, String, String), SwapReview>,
    singles: HashMap<(String, String), SingleReview>,
    /// Dry-run records found in the file and left out.
    pub dry_run_skipped: u64,
}

fn from_dry_run(record: &ReviewRecord) -> bool {
    let texts: Vec<&str> = match record {
        ReviewRecord::Pair(r) => vec![&r.review_text],
        ReviewRecord::Swap(r) => vec![&r.review_text_1, &r.review_text_2],
        ReviewRecord::Single(r) => vec![&r.review_text],
    };
    // Files written before records carried the mark still carry the note.
    record.dry_run() || texts.iter().any(|t| t.starts_with(DRY_RUN_NOTE))
}

impl SeedIndex {
    pub fn load(file: &Path) -> Result<SeedIndex, BadInput> {
        let mut index = SeedIndex::default();
        for line in read_reviews(file)? {
            if from_dry_run(&line.value) {
                index.dry_run_skipped += 1;
                continue;
            }
            match line.value {
                ReviewRecord::Pair(r) => {
                    index.pairs.insert((r.model_a.clone(), r.model_b.clone(), r.question.trim().to_string()), r);
                }
                ReviewRecord::Swap(r) => {
                    index.swaps.insert((r.model_a.clone(), r.model_b.clone(), r.question.trim().to_string()), r);
                }
                ReviewRecord::Single(r) => {
                    index.singles.insert((r.model.clone(), r.question.trim().to_string()), r);
                }
            }
        }
        Ok(index)
    }

    pub fn pair(&self, a: &str, b: &str, question: &str) -> Option<Seed> {
        let r = self.pairs.get(&(a.to_string(), b.to_string(), question.trim().to_string()))?;
        (r.win != Win::Unknown).then(|| Seed {
            raw_text: r.review_text.clone(),
            verdict: Some(Verdict::Pair { win: r.win, scores: r.scores, weight: r.weight }),
        })
    }

    /// Both orders of a swapped pair, each as the judge saw it.
    pub fn swap(&self, a: &str, b: &str, question: &str) -> (Option<Seed>, Option<Seed>) {
        let Some(r) = self.swaps.get(&(a.to_string(), b.to_string(), question.trim().to_string())) else {
            return (None, None);
        };
        // Files without per-order weights: agreeing orders each carry the record's weight.
        let (weight_1, weight_2) = if r.weight_1 == 1.0 && r.weight_2 == 1.0 && r.win_1 == r.win_2 {
            (r.weight, r.weight)
        } else {
            (r.weight_1, r.weight_2)
        };
        let seed = |win: Win, scores: Option<[f64; 2]>, weight: f64, text: &str| {
            (win != Win::Unknown)
                .then(|| Seed { raw_text: text.to_string(), verdict: Some(Verdict::Pair { win, scores, weight }) })
        };
        // win_2 is recorded in a/b terms; the judge saw b first, so store it as shown.
        (
            seed(r.win_1, r.scores_1, weight_1, &r.review_text_1),
            seed(r.win_2.swapped(), r.scores_2, weight_2, &r.review_text_2),
        )
    }

    pub fn single(&self, model: &str, question: &str) -> Option<Seed> {
        let r = self.singles.get(&(model.to_string(), question.trim().to_string()))?;
        r.score.map(|s| Seed { raw_text: r.review_text.clone(), verdict: Some(Verdict::Score(s)) })
    }
}
