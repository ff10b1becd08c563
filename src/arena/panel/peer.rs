//! Peer examination: the candidates judge each other's battles, and each judge's say is weighed
//! by its own standing, as Peer Rank (Li et al., "PRD: Peer Rank and Discussion Improve Large
//! Language Model based Evaluations", 2023) does:
//!
//! score_i = Σ_r w_r · wins_ri / Σ_r w_r · battles_ri   (model i's weighted win rate, a tie ½)
//! w_r     = score_r / Σ_r' score_r'                    (a judge weighs what its model scores)
//!
//! starting from equal weights and repeated until no weight moves by more than 1e-9 (at most
//! 1,000 rounds; the summary says whether it converged). The unweighted result is the first
//! round's scores.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::data::reviews::ReviewRecord;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerRank {
    /// Each judge's (model's) final weight, summing to 1.
    pub weights: BTreeMap<String, f64>,
    /// Each model's win rate with the judges weighted, and with every judge counting the same.
    pub weighted_scores: BTreeMap<String, f64>,
    pub unweighted_scores: BTreeMap<String, f64>,
    pub rounds: usize,
    pub converged: bool,
    /// Models that judged their own battles: how they rated themselves against how the others did.
    pub self_preference: Vec<SelfPreference>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelfPreference {
    pub model: String,
    /// Its win rate on its own battles in its own verdicts, and in the other judges' verdicts
    /// on the same battles.
    pub own_verdicts: f64,
    pub others_verdicts: f64,
    pub battles: u64,
}

const TOLERANCE: f64 = 1e-9;
const MAX_ROUNDS: usize = 1000;

/// One judge's readable verdicts: (question, model A, model B, A's score), a tie ½.
type Verdict = (String, String, String, f64);

fn tally(records: &[ReviewRecord]) -> Vec<Verdict> {
    let mut out = Vec::new();
    for record in records {
        let Some((q, a, b, win)) = record.pair_verdict() else { continue };
        let Some(score_a) = win.score_a() else { continue };
        out.push((q.key().to_string(), a.to_string(), b.to_string(), score_a));
    }
    out
}

/// Peer Rank over the judges' reviews; `judges` are (the judge's model, its reviews).
pub fn peer_rank(judges: &[(String, Vec<ReviewRecord>)]) -> PeerRank {
    // wins[(judge, model)] and battles[(judge, model)].
    let mut wins: BTreeMap<(&str, String), f64> = BTreeMap::new();
    let mut battles: BTreeMap<(&str, String), f64> = BTreeMap::new();
    let mut models: Vec<String> = Vec::new();
    let tallies: Vec<(&str, Vec<Verdict>)> =
        judges.iter().map(|(judge, records)| (judge.as_str(), tally(records))).collect();
    for (judge, verdicts) in &tallies {
        for (_, a, b, score_a) in verdicts {
            for (model, score) in [(a, *score_a), (b, 1.0 - score_a)] {
                *wins.entry((judge, model.clone())).or_default() += score;
                *battles.entry((judge, model.clone())).or_default() += 1.0;
                if !models.contains(model) {
                    models.push(model.clone());
                }
            }
        }
    }
    models.sort();
    let names: Vec<&str> = judges.iter().map(|(j, _)| j.as_str()).collect();
    let scores = |weights: &BTreeMap<&str, f64>| -> BTreeMap<String, f64> {
        models
            .iter()
            .map(|m| {
                let (mut won, mut played) = (0.0, 0.0);
                for judge in &names {
                    let w = weights[judge];
                    won += w * wins.get(&(*judge, m.clone())).copied().unwrap_or(0.0);
                    played += w * battles.get(&(*judge, m.clone())).copied().unwrap_or(0.0);
                }
                (m.clone(), if played > 0.0 { won / played } else { 0.0 })
            })
            .collect()
    };
    let equal = 1.0 / names.len().max(1) as f64;
    let mut weights: BTreeMap<&str, f64> = names.iter().map(|j| (*j, equal)).collect();
    let unweighted = scores(&weights);
    let (mut rounds, mut converged) = (0, false);
    let mut current = unweighted.clone();
    while rounds < MAX_ROUNDS {
        rounds += 1;
        let total: f64 = names.iter().map(|j| current.get(*j).copied().unwrap_or(0.0)).sum();
        let next: BTreeMap<&str, f64> = names
            .iter()
            .map(|j| (*j, if total > 0.0 { current.get(*j).copied().unwrap_or(0.0) / total } else { equal }))
            .collect();
        let moved = names.iter().map(|j| (next[j] - weights[j]).abs()).fold(0.0, f64::max);
        weights = next;
        current = scores(&weights);
        if moved < TOLERANCE {
            converged = true;
            break;
        }
    }
    let self_preference = self_preference(&tallies);
    PeerRank {
        weights: weights.into_iter().map(|(j, w)| (j.to_string(), w)).collect(),
        weighted_scores: current,
        unweighted_scores: unweighted,
        rounds,
        converged,
        self_preference,
    }
}

/// For each judge that judged battles of its own model: its win rate there in its own verdicts
/// and in everyone else's verdicts on the same battles (question and pair, either order).
fn self_preference(tallies: &[(&str, Vec<Verdict>)]) -> Vec<SelfPreference> {
    let mut out = Vec::new();
    for (judge, verdicts) in tallies {
        // The judge's model's share of a verdict on one of its battles.
        let share = |(_, a, _, score_a): &Verdict| if a == judge { *score_a } else { 1.0 - score_a };
        let own: Vec<&Verdict> = verdicts.iter().filter(|(_, a, b, _)| a == judge || b == judge).collect();
        // A battle: its question and its two models in name order.
        let battle = |(q, a, b, _): &Verdict| (q.clone(), a.min(b).clone(), a.max(b).clone());
        let own_battles: HashSet<(String, String, String)> = own.iter().map(|v| battle(v)).collect();
        let others: Vec<f64> = tallies
            .iter()
            .filter(|(other, _)| other != judge)
            .flat_map(|(_, vs)| vs.iter())
            .filter(|v| own_battles.contains(&battle(v)))
            .map(share)
            .collect();
        if own.is_empty() || others.is_empty() {
            continue;
        }
        out.push(SelfPreference {
            model: judge.to_string(),
            own_verdicts: own.iter().map(|v| share(v)).sum::<f64>() / own.len() as f64,
            others_verdicts: others.iter().sum::<f64>() / others.len() as f64,
            battles: own.len() as u64,
        });
    }
    out
}
