//! Battles grouped into unique rows — (model A, model B, outcome, weight) with a count — the
//! sufficient statistics of every rating here. A million battles among a hundred models are
//! a few thousand rows.

use rustc_hash::FxHashMap;

use super::battles::{BattleSet, Outcome};
use super::bt::PairCounts;
use super::names::Names;
use super::records::Record;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Row {
    pub a: u32,
    pub b: u32,
    pub outcome: Outcome,
    pub weight: f64,
    pub count: u64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    pub models: Vec<String>,
    pub rows: Vec<Row>,
}

/// Accumulates rows while battles stream in (the file readers use it directly, never holding
/// the battles themselves).
#[derive(Debug, Clone, Default)]
pub struct RowBuilder {
    models: Names,
    // FxHash: hit once per battle, millions of times.
    rows: FxHashMap<(u32, u32, u8, u64), u64>,
}

fn outcome_code(o: Outcome) -> u8 {
    match o {
        Outcome::ModelA => 0,
        Outcome::ModelB => 1,
        Outcome::Tie => 2,
        Outcome::TieBothBad => 3,
    }
}

fn outcome_of(code: u8) -> Outcome {
    match code {
        0 => Outcome::ModelA,
        1 => Outcome::ModelB,
        2 => Outcome::Tie,
        _ => Outcome::TieBothBad,
    }
}

impl RowBuilder {
    pub fn model(&mut self, name: &str) -> u32 {
        self.models.id(name)
    }

    pub fn push(&mut self, model_a: &str, model_b: &str, outcome: Outcome, weight: f64) {
        let a = self.model(model_a);
        let b = self.model(model_b);
        self.push_indexed(a, b, outcome, weight, 1);
    }

    /// Rows are kept with the lower model index first (the outcome flipped to match) and
    /// both kinds of tie as one, since ratings cannot tell them apart: fewer rows, a faster
    /// bootstrap.
    pub fn push_indexed(&mut self, a: u32, b: u32, outcome: Outcome, weight: f64, count: u64) {
        let outcome = if outcome == Outcome::TieBothBad { Outcome::Tie } else { outcome };
        let (a, b, outcome) = if a <= b {
            (a, b, outcome)
        } else {
            let flipped = match outcome {
                Outcome::ModelA => Outcome::ModelB,
                Outcome::ModelB => Outcome::ModelA,
                other => other,
            };
            (b, a, flipped)
        };
        *self.rows.entry((a, b, outcome_code(outcome), weight.to_bits())).or_default() += count;
    }

    /// Adds another builder's rows (from a parallel reader), translating its model indices.
    pub fn merge(&mut self, other: RowBuilder) {
        let map: Vec<u32> = other.models.as_slice().iter().map(|m| self.model(m)).collect();
        for ((a, b, o, w), count) in other.rows {
            self.push_indexed(map[a as usize], map[b as usize], outcome_of(o), f64::from_bits(w), count);
        }
    }

    /// The rows, in a fixed order (so seeded bootstraps are reproducible).
    pub fn finish(self) -> Rows {
        let mut rows: Vec<Row> = self
            .rows
            .into_iter()
            .map(|((a, b, o, w), count)| Row { a, b, outcome: outcome_of(o), weight: f64::from_bits(w), count })
            .collect();
        rows.sort_by(|x, y| {
            (x.a, x.b, outcome_code(x.outcome), x.weight.to_bits()).cmp(&(
                y.a,
                y.b,
                outcome_code(y.outcome),
                y.weight.to_bits(),
            ))
        });
        Rows { models: self.models.into_vec(), rows }
    }
}

impl Rows {
    pub fn from_battles(set: &BattleSet) -> Rows {
        let mut builder = RowBuilder::default();
        for m in set.models() {
            builder.model(m);
        }
        for b in set.battles() {
            builder.push_indexed(b.a, b.b, b.outcome, b.weight, 1);
        }
        builder.finish()
    }

    pub fn battles(&self) -> u64 {
        self.rows.iter().map(|r| r.count).sum()
    }

    pub fn index_of(&self, model: &str) -> Option<usize> {
        self.models.iter().position(|m| m == model)
    }

    /// Pair counts with each row counted `counts[r]` times (the data itself when `None`).
    pub fn pair_counts(&self, counts: Option<&[u64]>) -> PairCounts {
        let mut pc = PairCounts::new(self.models.len());
        for (i, r) in self.rows.iter().enumerate() {
            let c = counts.map_or(r.count, |c| c[i]);
            if c > 0 {
                pc.add(r.a as usize, r.b as usize, r.outcome, r.weight * c as f64);
            }
        }
        pc
    }

    /// Win/loss/tie counts per model (unweighted battles).
    pub fn records(&self) -> Vec<Record> {
        let mut out = vec![Record::default(); self.models.len()];
        for r in &self.rows {
            let (a, b) = (r.a as usize, r.b as usize);
            match r.outcome {
                Outcome::ModelA => {
                    out[a].wins += r.count;
                    out[b].losses += r.count;
                }
                Outcome::ModelB => {
                    out[b].wins += r.count;
                    out[a].losses += r.count;
                }
                Outcome::Tie | Outcome::TieBothBad => {
                    out[a].ties += r.count;
                    out[b].ties += r.count;
                }
            }
        }
        out
    }

    /// Battles between every pair (symmetric) and wins of the row model over the column
    /// model, from resampled counts or the data.
    pub fn pair_tables(&self, counts: Option<&[u64]>) -> (Vec<Vec<u64>>, Vec<Vec<u64>>) {
        let n = self.models.len();
        let mut battles = vec![vec![0u64; n]; n];
        let mut wins = vec![vec![0u64; n]; n];
        for (i, r) in self.rows.iter().enumerate() {
            let c = counts.map_or(r.count, |c| c[i]);
            let (a, b) = (r.a as usize, r.b as usize);
            battles[a][b] += c;
            battles[b][a] += c;
            match r.outcome {
                Outcome::ModelA => wins[a][b] += c,
                Outcome::ModelB => wins[b][a] += c,
                _ => {}
            }
        }
        (battles, wins)
    }
}
