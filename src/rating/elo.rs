//! Online Elo: battles in order, each moving both ratings by K times the surprise.

use super::battles::{Battle, BattleSet};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EloParams {
    pub k: f64,
    pub scale: f64,
    pub base: f64,
    pub init: f64,
}

impl EloParams {
    /// Chatbot Arena's defaults.
    pub const ARENA: EloParams = EloParams { k: 4.0, scale: 400.0, base: 10.0, init: 1000.0 };
    /// llmuses' arena used K = 32.
    pub const LLMUSES: EloParams = EloParams { k: 32.0, scale: 400.0, base: 10.0, init: 1000.0 };
}

impl Default for EloParams {
    fn default() -> Self {
        EloParams::ARENA
    }
}

/// Ratings after playing every battle in order:
/// `E_a = 1 / (1 + BASE^((R_b − R_a) / SCALE))`, `R_a += K·(S_a − E_a)`, `R_b += K·(1 − S_a − E_b)`.
/// Battle weights are ignored: online Elo counts each battle once, as Chatbot Arena does.
pub fn online_elo(set: &BattleSet, params: EloParams) -> Vec<f64> {
    online_elo_of(set.models().len(), set.battles().iter().map(PackedBattle::new), params)
}

/// A battle in 8 bytes (model A, model B, A's score). Replaying millions of battles drawn at
/// random is bound by memory access; a third of the size keeps most of them in the CPU cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackedBattle(u64);

impl PackedBattle {
    pub fn new(battle: &Battle) -> PackedBattle {
        // Twice A's score: 0, 1 (a tie) or 2.
        let score = (battle.outcome.score_a() * 2.0) as u64;
        PackedBattle(battle.a as u64 | (battle.b as u64) << 31 | score << 62)
    }

    pub fn unpack(self) -> (usize, usize, f64) {
        let mask = (1u64 << 31) - 1;
        ((self.0 & mask) as usize, ((self.0 >> 31) & mask) as usize, (self.0 >> 62) as f64 / 2.0)
    }
}

/// Online Elo over battles among `n` models, in the order given.
pub fn online_elo_of(n: usize, battles: impl Iterator<Item = PackedBattle>, params: EloParams) -> Vec<f64> {
    let mut ratings = vec![params.init; n];
    // BASE^x = e^(x·ln BASE); E_b = 1 − E_a, so one exponential per battle.
    let factor = params.base.ln() / params.scale;
    for battle in battles {
        let (a, b, sa) = battle.unpack();
        let ea = 1.0 / (1.0 + ((ratings[b] - ratings[a]) * factor).exp());
        let eb = 1.0 - ea;
        ratings[a] += params.k * (sa - ea);
        ratings[b] += params.k * (1.0 - sa - eb);
    }
    ratings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rating::battles::Outcome;

    #[test]
    fn one_win_moves_both_by_half_k() {
        let mut set = BattleSet::new();
        set.push("x", "y", Outcome::ModelA, 1.0);
        let r = online_elo(&set, EloParams::LLMUSES);
        assert!((r[0] - 1016.0).abs() < 1e-9);
        assert!((r[1] - 984.0).abs() < 1e-9);
    }

    #[test]
    fn hand_computed_sequence() {
        // x beats y (both start at 1000), then y and x tie.
        let mut set = BattleSet::new();
        set.push("x", "y", Outcome::ModelA, 1.0);
        set.push("y", "x", Outcome::Tie, 1.0);
        let r = online_elo(&set, EloParams { k: 32.0, ..EloParams::ARENA });
        // After the first: x = 1016, y = 984. E_y = 1/(1+10^(32/400)) = 0.454023...
        let e_y = 1.0 / (1.0 + 10f64.powf(32.0 / 400.0));
        let y = 984.0 + 32.0 * (0.5 - e_y);
        let x = 1016.0 + 32.0 * (0.5 - (1.0 - e_y));
        assert!((r[1] - y).abs() < 1e-9, "{} vs {y}", r[1]);
        assert!((r[0] - x).abs() < 1e-9, "{} vs {x}", r[0]);
    }
}
