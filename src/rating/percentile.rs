//! Percentiles with linear interpolation between closest ranks (numpy's and pandas' default,
//! "type 7"), which Chatbot Arena's intervals use; statrs implements a different definition.

/// The `q`-quantile (0 ≤ q ≤ 1) of `values`, which it sorts. `None` when empty.
pub fn quantile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let h = (values.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(values.len() - 1);
    Some(values[lo] + (h - lo as f64) * (values[hi] - values[lo]))
}

/// The central 95% interval.
pub fn interval95(values: &mut [f64]) -> Option<(f64, f64)> {
    Some((quantile(values, 0.025)?, quantile(values, 0.975)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_numpy_linear() {
        // numpy.quantile([1, 2, 3, 4], [0.025, 0.5, 0.975]) == [1.075, 2.5, 3.925]
        let mut v = vec![4.0, 1.0, 3.0, 2.0];
        assert!((quantile(&mut v, 0.025).unwrap() - 1.075).abs() < 1e-12);
        assert!((quantile(&mut v, 0.5).unwrap() - 2.5).abs() < 1e-12);
        assert!((quantile(&mut v, 0.975).unwrap() - 3.925).abs() < 1e-12);
        assert_eq!(quantile(&mut [7.0], 0.3), Some(7.0));
        assert_eq!(quantile(&mut [], 0.3), None);
    }
}
