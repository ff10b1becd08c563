//! Seeded, reproducible resampling. Each round has its own random stream, so results do not
//! depend on how rounds are spread over threads.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution};

use super::rows::Rows;

/// The random stream of one bootstrap round.
pub fn round_rng(seed: u64, round: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(round);
    rng
}

/// Row counts after drawing as many battles as there are, with replacement. Drawing battles
/// one by one and counting them per row is a multinomial draw over the rows, done here as a
/// chain of binomials: O(rows), not O(battles).
pub fn resample_rows(rows: &Rows, rng: &mut impl Rng) -> Vec<u64> {
    let mut out = vec![0u64; rows.rows.len()];
    let mut remaining_draws: u64 = rows.battles();
    let mut remaining_weight: u64 = remaining_draws;
    for (i, row) in rows.rows.iter().enumerate() {
        if remaining_draws == 0 {
            break;
        }
        if row.count >= remaining_weight {
            out[i] = remaining_draws;
            break;
        }
        let p = row.count as f64 / remaining_weight as f64;
        let k = Binomial::new(remaining_draws, p).map(|b| b.sample(rng)).unwrap_or(0);
        out[i] = k;
        remaining_draws -= k;
        remaining_weight -= row.count;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rating::battles::{BattleSet, Outcome};

    #[test]
    fn resampling_keeps_the_number_of_battles_and_is_reproducible() {
        let mut set = BattleSet::new();
        for i in 0..1000 {
            let o = [Outcome::ModelA, Outcome::ModelB, Outcome::Tie][i % 3];
            set.push(["x", "y", "z"][i % 3], ["y", "z", "x"][(i / 3) % 3], o, 1.0);
        }
        let rows = Rows::from_battles(&set);
        let a = resample_rows(&rows, &mut round_rng(42, 3));
        let b = resample_rows(&rows, &mut round_rng(42, 3));
        let c = resample_rows(&rows, &mut round_rng(42, 4));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.iter().sum::<u64>(), 1000);
        assert_eq!(c.iter().sum::<u64>(), 1000);
    }

    #[test]
    fn resampled_counts_average_to_the_data() {
        let mut set = BattleSet::new();
        for _ in 0..300 {
            set.push("a", "b", Outcome::ModelA, 1.0);
        }
        for _ in 0..100 {
            set.push("a", "b", Outcome::ModelB, 1.0);
        }
        let rows = Rows::from_battles(&set);
        let mut total = vec![0f64; rows.rows.len()];
        for round in 0..400 {
            for (t, c) in total.iter_mut().zip(resample_rows(&rows, &mut round_rng(1, round))) {
                *t += c as f64 / 400.0;
            }
        }
        let expected: Vec<f64> = rows.rows.iter().map(|r| r.count as f64).collect();
        for (t, e) in total.iter().zip(expected) {
            assert!((t - e).abs() < 3.0, "{t} vs {e}");
        }
    }
}
