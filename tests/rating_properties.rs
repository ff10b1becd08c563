//! Properties of the rating engine that must hold for any battles.

use std::collections::HashMap;

use jury::rating::{BattleSet, EloParams, Method, Outcome, RatingOptions, Rows, bradley_terry, bt::PairCounts, elo};
use proptest::prelude::*;

const MODELS: [&str; 5] = ["ant", "bee", "cat", "dog", "eel"];

fn outcome(code: u8) -> Outcome {
    [Outcome::ModelA, Outcome::ModelB, Outcome::Tie, Outcome::TieBothBad][code as usize % 4]
}

fn flipped(o: Outcome) -> Outcome {
    match o {
        Outcome::ModelA => Outcome::ModelB,
        Outcome::ModelB => Outcome::ModelA,
        other => other,
    }
}

fn battles() -> impl Strategy<Value = Vec<(usize, usize, u8)>> {
    prop::collection::vec((0usize..5, 1usize..5, 0u8..4), 1..80)
        .prop_map(|v| v.into_iter().map(|(a, step, o)| (a, (a + step) % 5, o)).collect())
}

fn set_of(battles: &[(usize, usize, u8)], names: &[&str]) -> BattleSet {
    let mut set = BattleSet::new();
    for &(a, b, o) in battles {
        set.push(names[a], names[b], outcome(o), 1.0);
    }
    set
}

fn options(method: Method) -> RatingOptions {
    RatingOptions { method, bootstrap: 0, ..RatingOptions::default() }
}

fn bt_ratings(set: &BattleSet) -> HashMap<String, f64> {
    bradley_terry(&Rows::from_battles(set), &options(Method::Bt))
        .models
        .into_iter()
        .map(|m| (m.model, m.rating))
        .collect()
}

fn elo_ratings(set: &BattleSet) -> HashMap<String, f64> {
    elo(set, &RatingOptions { elo: EloParams { k: 16.0, ..EloParams::ARENA }, ..options(Method::Elo) })
        .models
        .into_iter()
        .map(|m| (m.model, m.rating))
        .collect()
}

fn close(a: &HashMap<String, f64>, b: &HashMap<String, f64>, tolerance: f64) -> bool {
    a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| (v - w).abs() <= tolerance))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Writing a battle the other way round (B vs A, winner flipped) changes nothing.
    #[test]
    fn swapping_sides_and_flipping_the_winner_changes_nothing(battles in battles()) {
        let set = set_of(&battles, &MODELS);
        let mut swapped = BattleSet::new();
        for &(a, b, o) in &battles {
            swapped.push(MODELS[b], MODELS[a], flipped(outcome(o)), 1.0);
        }
        prop_assert!(close(&bt_ratings(&set), &bt_ratings(&swapped), 1e-6));
        prop_assert!(close(&elo_ratings(&set), &elo_ratings(&swapped), 1e-9));
    }

    /// Renaming the models renames the results and changes nothing else.
    #[test]
    fn relabelling_models_permutes_the_result(battles in battles(), shift in 1usize..5) {
        let renamed: Vec<&str> = (0..5).map(|i| MODELS[(i + shift) % 5]).collect();
        let original = bt_ratings(&set_of(&battles, &MODELS));
        let relabelled = bt_ratings(&set_of(&battles, &renamed));
        let back: HashMap<String, f64> = relabelled
            .into_iter()
            .map(|(name, r)| {
                let i = renamed.iter().position(|n| *n == name).unwrap();
                (MODELS[i].to_string(), r)
            })
            .collect();
        prop_assert!(close(&original, &back, 1e-6));
    }

    /// Bradley–Terry depends on proportions: the same battles twice give the same ratings
    /// (whenever the maximum-likelihood ratings exist).
    #[test]
    fn doubling_the_battles_leaves_bradley_terry_unchanged(battles in battles()) {
        let set = set_of(&battles, &MODELS);
        prop_assume!(PairCounts::from_battles(&set).groups().len() == 1);
        let doubled: Vec<_> = battles.iter().chain(battles.iter()).copied().collect();
        prop_assert!(close(&bt_ratings(&set), &bt_ratings(&set_of(&doubled, &MODELS)), 1e-6));
    }

    /// Ratings are always finite and average 1000, degenerate or not.
    #[test]
    fn ratings_are_finite_and_centred(battles in battles()) {
        let board = bradley_terry(&Rows::from_battles(&set_of(&battles, &MODELS)), &RatingOptions { bootstrap: 5, ..options(Method::Bt) });
        let n = board.models.len() as f64;
        prop_assert!(board.models.iter().all(|m| m.rating.is_finite() && m.ci_lower.unwrap().is_finite() && m.ci_upper.unwrap().is_finite()));
        prop_assert!((board.models.iter().map(|m| m.rating).sum::<f64>() / n - 1000.0).abs() < 1e-6);
    }
}
