//! Benchmark arithmetic on plain numbers, as lm-evaluation-harness computes it.

/// The index of the largest value; the first one on ties (numpy's argmax).
pub fn argmax(values: &[f64]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, v) in values.iter().enumerate() {
        if best.is_none_or(|b| *v > values[b]) {
            best = Some(i);
        }
    }
    best
}

/// Multiple choice by log-likelihood: `acc` (the likeliest choice is the gold one) and
/// `acc_norm` (the same after dividing each log-likelihood by its choice's length in
/// characters), each 1.0 or 0.0.
pub fn choice_scores(loglikelihoods: &[f64], choices: &[String], gold: usize) -> (f64, f64) {
    let acc = argmax(loglikelihoods) == Some(gold);
    let normed: Vec<f64> =
        loglikelihoods.iter().zip(choices).map(|(ll, c)| ll / c.chars().count().max(1) as f64).collect();
    let acc_norm = argmax(&normed) == Some(gold);
    (f64::from(u8::from(acc)), f64::from(u8::from(acc_norm)))
}

/// TruthfulQA's mc2: the probability mass on the true choices among all of them. As lm-eval,
/// the choices before the first false label are the true ones.
pub fn true_mass(loglikelihoods: &[f64], labels: &[u8]) -> f64 {
    let split = labels.iter().position(|l| *l == 0).unwrap_or(labels.len());
    let p: Vec<f64> = loglikelihoods.iter().map(|ll| ll.exp()).collect();
    let total: f64 = p.iter().sum();
    if total > 0.0 { p[..split.min(p.len())].iter().sum::<f64>() / total } else { 0.0 }
}

/// The unbiased pass@k of a problem with `correct` of `n` samples passing (Chen et al. 2021, as
/// HumanEval's and lm-eval's `estimate_pass_at_k`): 1 - C(n-c, k) / C(n, k).
pub fn pass_at_k(n: usize, correct: usize, k: usize) -> f64 {
    if n < k || n - correct < k {
        return if correct > 0 { 1.0 } else { 0.0 };
    }
    1.0 - ((n - correct + 1)..=n).map(|i| 1.0 - k as f64 / i as f64).product::<f64>()
}

pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// The standard error of the mean: the sample standard deviation (n - 1) over √n.
pub fn mean_stderr(values: &[f64]) -> Option<f64> {
    let n = values.len();
    if n < 2 {
        return None;
    }
    let m = mean(values)?;
    let var = values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1) as f64;
    Some((var / n as f64).sqrt())
}

/// The mean of per-task scores weighted by their sizes (a group's score over all its documents).
pub fn weighted_mean(values: &[f64], sizes: &[usize]) -> Option<f64> {
    let total: usize = sizes.iter().sum();
    (total > 0).then(|| values.iter().zip(sizes).map(|(v, n)| v * *n as f64).sum::<f64>() / total as f64)
}

/// A group's standard error from its tasks' (lm-eval's `pooled_sample_stderr`).
pub fn pooled_stderr(stderrs: &[f64], sizes: &[usize]) -> Option<f64> {
    let total: usize = sizes.iter().sum();
    if total <= sizes.len() {
        return None;
    }
    let pooled_var: f64 =
        stderrs.iter().zip(sizes).map(|(se, n)| (*n as f64 - 1.0) * se.powi(2) * *n as f64).sum::<f64>()
            / (total - sizes.len()) as f64;
    Some((pooled_var / total as f64).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn pass_at_k_is_the_unbiased_estimator() {
        assert!(close(pass_at_k(10, 3, 1), 0.3));
        assert!(close(pass_at_k(10, 3, 5), 1.0 - 21.0 / 252.0), "1 - C(7,5)/C(10,5)");
        assert!(close(pass_at_k(20, 2, 10), 1.0 - 90.0 / 380.0), "1 - C(18,10)/C(20,10)");
        assert_eq!((pass_at_k(5, 0, 1), pass_at_k(5, 5, 2), pass_at_k(1, 1, 1)), (0.0, 1.0, 1.0));
    }

    #[test]
    fn argmax_takes_the_first_of_equals() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0]), Some(1));
        assert_eq!(argmax(&[-2.0, -1.0]), Some(1));
        assert_eq!(argmax(&[]), None);
    }

    #[test]
    fn acc_norm_divides_by_characters() {
        let choices = vec!["a".to_string(), "a much longer choice".to_string()];
        // Raw: the short one wins; per character the long one does.
        assert_eq!(choice_scores(&[-2.0, -10.0], &choices, 1), (0.0, 1.0));
        assert_eq!(choice_scores(&[-2.0, -10.0], &choices, 0), (1.0, 0.0));
    }

    #[test]
    fn true_mass_splits_at_the_first_false_label() {
        let lls = [0.5f64.ln(), 0.25f64.ln(), 0.25f64.ln()];
        assert!(close(true_mass(&lls, &[1, 0, 0]), 0.5));
        assert!(close(true_mass(&lls, &[1, 1, 0]), 0.75));
        // A true answer after a false one counts as false, as in lm-eval.
        assert!(close(true_mass(&lls, &[1, 0, 1]), 0.5));
    }

    #[test]
    fn standard_errors_by_hand() {
        // [1, 0, 1, 1]: mean 0.75, sample variance 0.25, stderr sqrt(0.25 / 4) = 0.25.
        assert!(close(mean(&[1.0, 0.0, 1.0, 1.0]).unwrap(), 0.75));
        assert!(close(mean_stderr(&[1.0, 0.0, 1.0, 1.0]).unwrap(), 0.25));
        assert_eq!(mean_stderr(&[1.0]), None);
        // Two tasks (3 and 5 documents): weighted mean and pooled standard error.
        assert!(close(weighted_mean(&[1.0 / 3.0, 0.6], &[3, 5]).unwrap(), 4.0 / 8.0));
        let (se1, se2) = (0.3, 0.2);
        let expected = (((2.0 * se1 * se1 * 3.0) + (4.0 * se2 * se2 * 5.0)) / 6.0 / 8.0f64).sqrt();
        assert!(close(pooled_stderr(&[se1, se2], &[3, 5]).unwrap(), expected));
    }
}
