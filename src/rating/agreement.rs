//! Agreement between two sources of verdicts (a judge and people, or two judges) on the same
//! items, as the MT-Bench paper measures it: every pair of one verdict from each source on the
//! same item counts once, so an item with two human votes and one judge verdict gives two pairs.
//! "With ties" counts a tie as a verdict like any other; "without ties" keeps only the pairs
//! where neither side called a tie. Cohen's kappa is taken over the with-ties pairs.

use std::collections::HashMap;
use std::hash::Hash;

use serde::Serialize;

/// A verdict on an item whose two sides are put in a fixed order (say, by answer id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    First,
    Second,
    Tie,
}

impl Side {
    fn index(self) -> usize {
        match self {
            Side::First => 0,
            Side::Second => 1,
            Side::Tie => 2,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Agreement {
    /// Share of pairs that agree, ties included.
    pub with_ties: f64,
    /// Share of pairs that agree among those where neither side is a tie (`None`: no such pair).
    pub without_ties: Option<f64>,
    /// Cohen's kappa over the with-ties pairs (`None` when chance agreement is certain).
    pub kappa: Option<f64>,
    /// Pairs of verdicts it rests on, and how many of them have no tie.
    pub n: u64,
    pub n_without_ties: u64,
}

/// The agreement of `left` and `right`, two lists of (item, verdict); `None` when they share
/// no item.
pub fn agreement<K: Eq + Hash>(left: &[(K, Side)], right: &[(K, Side)]) -> Option<Agreement> {
    let mut by_item: HashMap<&K, [u64; 3]> = HashMap::new();
    for (item, side) in right {
        by_item.entry(item).or_default()[side.index()] += 1;
    }
    // confusion[i][j]: pairs where left said i and right said j.
    let mut confusion = [[0u64; 3]; 3];
    for (item, side) in left {
        if let Some(counts) = by_item.get(item) {
            for (j, &c) in counts.iter().enumerate() {
                confusion[side.index()][j] += c;
            }
        }
    }
    from_confusion(&confusion)
}

fn from_confusion(confusion: &[[u64; 3]; 3]) -> Option<Agreement> {
    let n: u64 = confusion.iter().flatten().sum();
    if n == 0 {
        return None;
    }
    let agree: u64 = (0..3).map(|i| confusion[i][i]).sum();
    let decisive = confusion[0][0] + confusion[0][1] + confusion[1][0] + confusion[1][1];
    let decisive_agree = confusion[0][0] + confusion[1][1];
    let total = n as f64;
    let observed = agree as f64 / total;
    let chance: f64 = (0..3)
        .map(|k| {
            let left: u64 = confusion[k].iter().sum();
            let right: u64 = (0..3).map(|i| confusion[i][k]).sum();
            (left as f64 / total) * (right as f64 / total)
        })
        .sum();
    Some(Agreement {
        with_ties: observed,
        without_ties: (decisive > 0).then(|| decisive_agree as f64 / decisive as f64),
        kappa: (chance < 1.0 - 1e-12).then(|| (observed - chance) / (1.0 - chance)),
        n,
        n_without_ties: decisive,
    })
}

#[cfg(test)]
mod tests {
    use super::Side::*;
    use super::*;

    #[test]
    fn hand_computed_agreement_and_kappa() {
        // Items 1–4 judged once each; people voted twice on item 1, once on 2 and 3, never on 4.
        let judge = [(1, First), (2, Second), (3, Tie), (4, First)];
        let people = [(1, First), (1, Second), (2, Second), (3, First), (5, First)];
        let a = agreement(&judge, &people).unwrap();
        // Pairs: (F,F) (F,S) (S,S) (T,F): 2 of 4 agree; without ties (F,F) (F,S) (S,S): 2 of 3.
        assert_eq!((a.n, a.n_without_ties), (4, 3));
        assert_eq!(a.with_ties, 0.5);
        assert_eq!(a.without_ties, Some(2.0 / 3.0));
        // Judge margins F 2/4, S 1/4, T 1/4; people F 2/4, S 2/4, T 0: chance = 1/4 + 1/8 = 3/8.
        let kappa = (0.5 - 0.375) / (1.0 - 0.375);
        assert!((a.kappa.unwrap() - kappa).abs() < 1e-12, "{a:?}");
        assert!(agreement(&judge, &[(9, First)]).is_none());
    }

    #[test]
    fn perfect_agreement_on_one_class_has_no_kappa() {
        let a = agreement(&[(1, First), (2, First)], &[(1, First), (2, First)]).unwrap();
        assert_eq!((a.with_ties, a.kappa), (1.0, None));
    }
}
