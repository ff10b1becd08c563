//! Length-controlled win rates against a baseline, after AlpacaEval 2: judges prefer longer
//! answers, so for each model a logistic model of its win probability against the baseline is
//! fitted on the (normalised) length difference, and the win rate is read off with the length
//! difference set to zero.
//!
//! logit P(model beats baseline) = θ + φ·tanh(Δ / σ), Δ = model length − baseline length, σ the
//! standard deviation of Δ over all battles against the baseline. The LC win rate is σ(θ).
//! (AlpacaEval also models per-instruction difficulty; battles here carry no instruction
//! identity across models, so that term is left out.)

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Serialize;

use super::bootstrap::round_rng;
use super::percentile::interval95;

/// One battle against the baseline, from the model's side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LengthBattle {
    /// 1 win, 0.5 tie, 0 loss.
    pub score: f64,
    pub length_difference: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LengthControlled {
    pub model: String,
    pub battles: usize,
    /// Plain (wins + ties/2) / battles.
    pub win_rate: f64,
    pub lc_win_rate: f64,
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
    /// How much the win probability's log-odds move per unit of tanh-normalised length difference.
    pub length_coefficient: f64,
}

/// A weak penalty on the length coefficient keeps the fit finite when lengths never differ
/// or one side always wins.
const RIDGE: f64 = 1e-3;

/// Fits θ and φ by Newton's method on the fractional-outcome logistic likelihood.
fn fit(battles: &[LengthBattle], sigma: f64) -> (f64, f64) {
    let xs: Vec<f64> = battles.iter().map(|b| (b.length_difference / sigma).tanh()).collect();
    let (mut theta, mut phi) = (0.0f64, 0.0f64);
    for _ in 0..100 {
        let (mut g0, mut g1, mut h00, mut h01, mut h11) = (0.0, -RIDGE * phi, RIDGE * 1e-3, 0.0, RIDGE);
        g0 -= RIDGE * 1e-3 * theta;
        for (b, &x) in battles.iter().zip(&xs) {
            let p = 1.0 / (1.0 + (-(theta + phi * x)).exp());
            let r = b.score - p;
            g0 += r;
            g1 += r * x;
            let w = p * (1.0 - p);
            h00 += w;
            h01 += w * x;
            h11 += w * x * x;
        }
        let det = h00 * h11 - h01 * h01;
        if det.abs() < 1e-300 {
            break;
        }
        let d0 = (h11 * g0 - h01 * g1) / det;
        let d1 = (h00 * g1 - h01 * g0) / det;
        // Keep steps modest so a separable case walks out slowly instead of overflowing.
        theta += d0.clamp(-5.0, 5.0);
        phi += d1.clamp(-5.0, 5.0);
        if d0.abs() < 1e-10 && d1.abs() < 1e-10 {
            break;
        }
    }
    (theta, phi)
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// LC win rates per model, with bootstrap intervals (battles of each model resampled).
pub fn length_controlled(
    by_model: &BTreeMap<String, Vec<LengthBattle>>,
    rounds: usize,
    seed: u64,
) -> Vec<LengthControlled> {
    let all: Vec<f64> = by_model.values().flatten().map(|b| b.length_difference).collect();
    let mean = all.iter().sum::<f64>() / all.len().max(1) as f64;
    let var = all.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / all.len().max(1) as f64;
    let sigma = if var > 0.0 { var.sqrt() } else { 1.0 };
    let mut out: Vec<LengthControlled> = by_model
        .iter()
        .enumerate()
        .filter(|(_, (_, battles))| !battles.is_empty())
        .map(|(k, (model, battles))| {
            let (theta, phi) = fit(battles, sigma);
            let mut samples: Vec<f64> = (0..rounds as u64)
                .into_par_iter()
                .map(|round| {
                    let mut rng = round_rng(seed ^ (k as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15), round);
                    let drawn: Vec<LengthBattle> = (0..battles.len())
                        .map(|_| battles[rand::Rng::random_range(&mut rng, 0..battles.len())])
                        .collect();
                    sigmoid(fit(&drawn, sigma).0)
                })
                .collect();
            let ci = interval95(&mut samples);
            LengthControlled {
                model: model.clone(),
                battles: battles.len(),
                win_rate: battles.iter().map(|b| b.score).sum::<f64>() / battles.len() as f64,
                lc_win_rate: sigmoid(theta),
                ci_lower: ci.map(|c| c.0),
                ci_upper: ci.map(|c| c.1),
                length_coefficient: phi,
            }
        })
        .collect();
    out.sort_by(|a, b| b.lc_win_rate.total_cmp(&a.lc_win_rate));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_length_effect_lc_equals_the_win_rate() {
        // 3 wins in 4, lengths unrelated to outcomes.
        let battles = vec![
            LengthBattle { score: 1.0, length_difference: 10.0 },
            LengthBattle { score: 1.0, length_difference: -10.0 },
            LengthBattle { score: 1.0, length_difference: 0.0 },
            LengthBattle { score: 0.0, length_difference: 0.0 },
        ];
        let rows = length_controlled(&BTreeMap::from([("m".to_string(), battles)]), 0, 1);
        assert!((rows[0].win_rate - 0.75).abs() < 1e-12);
        assert!((rows[0].lc_win_rate - 0.75).abs() < 1e-3, "{rows:?}");
    }

    #[test]
    fn wins_that_come_from_length_are_discounted() {
        // This model wins exactly when its answer is longer, half the time.
        let mut battles = Vec::new();
        for i in 0..200 {
            let longer = i % 2 == 0;
            battles.push(LengthBattle {
                score: if longer { 1.0 } else { 0.0 },
                length_difference: if longer { 300.0 } else { -300.0 },
            });
        }
        // ...and a second model that always writes longer answers and wins 90%.
        let mut verbose = Vec::new();
        for i in 0..200 {
            verbose.push(LengthBattle {
                score: if i % 10 == 0 { 0.0 } else { 1.0 },
                length_difference: 400.0 + (i % 7) as f64,
            });
        }
        let rows = length_controlled(&BTreeMap::from([("a".to_string(), battles), ("v".to_string(), verbose)]), 20, 7);
        let a = rows.iter().find(|r| r.model == "a").unwrap();
        assert!((a.lc_win_rate - 0.5).abs() < 0.05, "{a:?}");
        assert!(a.length_coefficient > 1.0);
        let v = rows.iter().find(|r| r.model == "v").unwrap();
        assert!((v.win_rate - 0.9).abs() < 1e-9);
        assert!(v.ci_lower.unwrap() <= v.lc_win_rate && v.lc_win_rate <= v.ci_upper.unwrap());
    }
}
