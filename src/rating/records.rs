//! Win/loss/tie counts per model, optionally only in battles against a baseline.

use super::battles::{BattleSet, Outcome};

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Record {
    pub wins: u64,
    pub losses: u64,
    pub ties: u64,
}

impl Record {
    pub fn battles(&self) -> u64 {
        self.wins + self.losses + self.ties
    }

    pub fn win_rate(&self) -> f64 {
        ratio(self.wins, self.battles())
    }

    pub fn loss_rate(&self) -> f64 {
        ratio(self.losses, self.battles())
    }

    pub fn tie_rate(&self) -> f64 {
        ratio(self.ties, self.battles())
    }
}

fn ratio(n: u64, d: u64) -> f64 {
    if d == 0 { 0.0 } else { n as f64 / d as f64 }
}

/// Counts per model (indexed like `set.models()`). With a baseline, only battles that
/// involve it count, and `skipped` says how many did not.
pub fn records(set: &BattleSet, baseline: Option<u32>) -> (Vec<Record>, usize) {
    let mut out = vec![Record::default(); set.models().len()];
    let mut skipped = 0;
    for battle in set.battles() {
        if let Some(base) = baseline
            && battle.a != base
            && battle.b != base
        {
            skipped += 1;
            continue;
        }
        let (a, b) = (battle.a as usize, battle.b as usize);
        match battle.outcome {
            Outcome::ModelA => {
                out[a].wins += 1;
                out[b].losses += 1;
            }
            Outcome::ModelB => {
                out[b].wins += 1;
                out[a].losses += 1;
            }
            Outcome::Tie | Outcome::TieBothBad => {
                out[a].ties += 1;
                out[b].ties += 1;
            }
        }
    }
    (out, skipped)
}
