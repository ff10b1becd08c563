//! A share of trials with its 95% Wilson score interval: closed-form, and sensible at the
//! extremes (0 of 10 or 10 of 10) where the normal approximation collapses to a point.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Proportion {
    pub rate: f64,
    pub ci_lower: f64,
    pub ci_upper: f64,
    /// Successes and trials it rests on.
    pub count: u64,
    pub n: u64,
}

const Z95: f64 = 1.959_963_984_540_054;

impl Proportion {
    /// `None` without trials.
    pub fn wilson(count: u64, n: u64) -> Option<Proportion> {
        if n == 0 {
            return None;
        }
        let (k, n_f) = (count as f64, n as f64);
        let p = k / n_f;
        let z2 = Z95 * Z95;
        let centre = (p + z2 / (2.0 * n_f)) / (1.0 + z2 / n_f);
        let half = Z95 / (1.0 + z2 / n_f) * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt();
        Some(Proportion {
            rate: p,
            // Exact at the ends, where rounding would leave 1e-16 off.
            ci_lower: if count == 0 { 0.0 } else { (centre - half).max(0.0) },
            ci_upper: if count == n { 1.0 } else { (centre + half).min(1.0) },
            count,
            n,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_intervals_match_published_values() {
        // statsmodels.stats.proportion.proportion_confint(8, 10, method="wilson")
        let p = Proportion::wilson(8, 10).unwrap();
        assert!((p.ci_lower - 0.490_162).abs() < 1e-5 && (p.ci_upper - 0.943_318).abs() < 1e-5, "{p:?}");
        let all = Proportion::wilson(10, 10).unwrap();
        assert_eq!(all.ci_upper, 1.0);
        assert!((all.ci_lower - 0.722_467).abs() < 1e-5, "{all:?}");
        assert!(Proportion::wilson(0, 0).is_none());
    }
}
