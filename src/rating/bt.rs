//! Bradley–Terry maximum likelihood, fitted on sufficient statistics (per-pair weighted win
//! counts), so memory is O(models²) however many battles there are.
//!
//! P(i beats j) = 1 / (1 + 10^((R_j − R_i) / 400)) with R = 400·β + 1000. A tie counts as half
//! a win for each side, and each battle may carry a weight. This is the likelihood that
//! Chatbot Arena maximises with an unregularised logistic regression on duplicated rows.

use nalgebra::{DMatrix, DVector};

use super::battles::{BattleSet, Outcome};

const LN_10: f64 = std::f64::consts::LN_10;

/// Weighted wins between every ordered pair of models.
#[derive(Debug, Clone, PartialEq)]
pub struct PairCounts {
    n: usize,
    /// `wins[i * n + j]`: how often i beat j, ties counting half for each side.
    wins: Vec<f64>,
}

impl PairCounts {
    pub fn new(n: usize) -> PairCounts {
        PairCounts { n, wins: vec![0.0; n * n] }
    }

    pub fn from_battles(set: &BattleSet) -> PairCounts {
        let mut counts = PairCounts::new(set.models().len());
        for b in set.battles() {
            counts.add(b.a as usize, b.b as usize, b.outcome, b.weight);
        }
        counts
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    pub fn add(&mut self, a: usize, b: usize, outcome: Outcome, weight: f64) {
        let score = outcome.score_a();
        self.wins[a * self.n + b] += weight * score;
        self.wins[b * self.n + a] += weight * (1.0 - score);
    }

    /// Weighted wins of `i` over `j`.
    pub fn wins(&self, i: usize, j: usize) -> f64 {
        self.wins[i * self.n + j]
    }

    /// Weighted battles between `i` and `j`.
    pub fn total(&self, i: usize, j: usize) -> f64 {
        self.wins(i, j) + self.wins(j, i)
    }

    /// Adds another table of the same models (used to merge partial counts).
    pub fn merge(&mut self, other: &PairCounts) {
        debug_assert_eq!(self.n, other.n);
        for (x, y) in self.wins.iter_mut().zip(&other.wins) {
            *x += y;
        }
    }

    /// Groups of models within which every model can be reached from every other by "won
    /// at least something against" steps (strongly connected components). The maximum-likelihood
    /// ratings exist, finite, exactly when there is one group.
    pub fn groups(&self) -> Vec<Vec<usize>> {
        strongly_connected(self.n, |i, j| i != j && self.wins(i, j) > 0.0)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct BtFit {
    /// Log10-odds strengths, centred on zero: rating = 400·β + 1000.
    pub beta: Vec<f64>,
    pub iterations: usize,
    pub converged: bool,
}

/// Fits the strengths by Newton's method. `ridge` adds a weak L2 penalty (0 for the plain
/// maximum likelihood); `start` warm-starts from an earlier fit (the bootstrap does).
pub fn fit(counts: &PairCounts, ridge: f64, start: Option<&[f64]>) -> BtFit {
    let n = counts.len();
    let mut beta: Vec<f64> = match start {
        Some(s) if s.len() == n => s.to_vec(),
        _ => vec![0.0; n],
    };
    if n <= 1 {
        return BtFit { beta: vec![0.0; n], iterations: 0, converged: true };
    }
    let total_weight: f64 = counts.wins.iter().sum();
    let tolerance = 1e-10 * total_weight.max(1.0);
    let mut ll = log_likelihood(counts, &beta, ridge);
    let mut converged = false;
    let mut iterations = 0;
    for _ in 0..100 {
        iterations += 1;
        let (gradient, hessian) = gradient_and_negative_hessian(counts, &beta, ridge);
        if gradient.amax() < tolerance {
            converged = true;
            break;
        }
        let Some(step) = solve(hessian, &gradient, ridge) else { break };
        // Damped Newton: halve the step until the likelihood does not fall.
        let mut t = 1.0;
        let mut accepted = false;
        for _ in 0..40 {
            let candidate: Vec<f64> = beta.iter().zip(step.iter()).map(|(b, s)| b + t * s).collect();
            let candidate_ll = log_likelihood(counts, &candidate, ridge);
            if candidate_ll >= ll - 1e-12 * ll.abs().max(1.0) {
                beta = candidate;
                ll = candidate_ll;
                accepted = true;
                break;
            }
            t *= 0.5;
        }
        if !accepted || step.amax() * t < 1e-13 {
            converged = gradient_and_negative_hessian(counts, &beta, ridge).0.amax() < tolerance * 1e3;
            break;
        }
    }
    centre(&mut beta);
    BtFit { beta, iterations, converged }
}

fn centre(beta: &mut [f64]) {
    let mean = beta.iter().sum::<f64>() / beta.len().max(1) as f64;
    for b in beta.iter_mut() {
        *b -= mean;
    }
}

/// log σ(x), computed without overflow for large |x|.
fn log_sigmoid(x: f64) -> f64 {
    if x >= 0.0 { -(-x).exp().ln_1p() } else { x - x.exp().ln_1p() }
}

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

pub fn log_likelihood(counts: &PairCounts, beta: &[f64], ridge: f64) -> f64 {
    let n = counts.len();
    let mut ll = 0.0;
    for i in 0..n {
        for j in (i + 1)..n {
            let (wij, wji) = (counts.wins(i, j), counts.wins(j, i));
            if wij + wji == 0.0 {
                continue;
            }
            let d = LN_10 * (beta[i] - beta[j]);
            ll += wij * log_sigmoid(d) + wji * log_sigmoid(-d);
        }
    }
    ll - 0.5 * ridge * beta.iter().map(|b| b * b).sum::<f64>()
}

fn gradient_and_negative_hessian(counts: &PairCounts, beta: &[f64], ridge: f64) -> (DVector<f64>, DMatrix<f64>) {
    let n = counts.len();
    let mut g = DVector::zeros(n);
    let mut h = DMatrix::zeros(n, n);
    for i in 0..n {
        for j in (i + 1)..n {
            let (wij, wji) = (counts.wins(i, j), counts.wins(j, i));
            let total = wij + wji;
            if total == 0.0 {
                continue;
            }
            let p = sigmoid(LN_10 * (beta[i] - beta[j]));
            let gi = LN_10 * (wij - total * p);
            g[i] += gi;
            g[j] -= gi;
            let c = LN_10 * LN_10 * total * p * (1.0 - p);
            h[(i, i)] += c;
            h[(j, j)] += c;
            h[(i, j)] -= c;
            h[(j, i)] -= c;
        }
    }
    for i in 0..n {
        g[i] -= ridge * beta[i];
        h[(i, i)] += ridge;
    }
    (g, h)
}

/// Solves H·δ = g. Without a ridge, H (a weighted graph Laplacian) is singular along
/// "shift everything"; adding 1·1ᵀ removes that direction and, since g sums to zero,
/// gives the step whose components sum to zero.
fn solve(mut h: DMatrix<f64>, g: &DVector<f64>, ridge: f64) -> Option<DVector<f64>> {
    let n = h.nrows();
    if ridge == 0.0 {
        let scale = h.diagonal().max().max(1e-12) / n as f64;
        h.add_scalar_mut(scale);
    }
    if let Some(chol) = h.clone().cholesky() {
        return Some(chol.solve(g));
    }
    h.lu().solve(g)
}

/// Tarjan's strongly connected components over `edge(i, j)`, iteratively (no recursion,
/// so thousands of models cannot overflow the stack).
fn strongly_connected(n: usize, edge: impl Fn(usize, usize) -> bool) -> Vec<Vec<usize>> {
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut next = 0;
    let mut groups = Vec::new();
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        // (node, next neighbour to look at)
        let mut work = vec![(root, 0usize)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut k)) = work.last_mut() {
            if *k < n {
                let w = *k;
                *k += 1;
                if !edge(v, w) {
                    continue;
                }
                if index[w] == usize::MAX {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                work.pop();
                if let Some(&(parent, _)) = work.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut group = Vec::new();
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        group.push(w);
                        if w == v {
                            break;
                        }
                    }
                    group.sort_unstable();
                    groups.push(group);
                }
            }
        }
    }
    groups.sort();
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(n: usize, battles: &[(usize, usize, Outcome)]) -> PairCounts {
        let mut c = PairCounts::new(n);
        for &(a, b, o) in battles {
            c.add(a, b, o, 1.0);
        }
        c
    }

    #[test]
    fn two_models_match_the_closed_form() {
        // 3 wins to 1: P = 3/4, so β0 − β1 = log10(3) and the ratings are ±200·log10(3).
        let c = counts(
            2,
            &[(0, 1, Outcome::ModelA), (0, 1, Outcome::ModelA), (1, 0, Outcome::ModelB), (0, 1, Outcome::ModelB)],
        );
        let f = fit(&c, 0.0, None);
        assert!(f.converged);
        let expect = 3f64.log10() / 2.0;
        assert!((f.beta[0] - expect).abs() < 1e-9, "{:?}", f.beta);
        assert!((f.beta[1] + expect).abs() < 1e-9);
    }

    #[test]
    fn ties_count_half_a_win_each() {
        // One win each way plus two ties: even. One win and two ties against nothing: 2 vs 1.
        let even = counts(
            2,
            &[(0, 1, Outcome::ModelA), (0, 1, Outcome::ModelB), (0, 1, Outcome::Tie), (1, 0, Outcome::TieBothBad)],
        );
        let f = fit(&even, 0.0, None);
        assert!(f.beta[0].abs() < 1e-9);
        let lean =
            counts(2, &[(0, 1, Outcome::ModelA), (0, 1, Outcome::Tie), (0, 1, Outcome::Tie), (0, 1, Outcome::ModelB)]);
        // 0 has 1 + 0.5 + 0.5 = 2 wins, 1 has 1 + 0.5 + 0.5 = 2: even again.
        assert!(fit(&lean, 0.0, None).beta[0].abs() < 1e-9);
        let ahead = counts(2, &[(0, 1, Outcome::ModelA), (0, 1, Outcome::Tie)]);
        let f = fit(&ahead, 0.0, None);
        // 1.5 : 0.5 wins → P = 3/4.
        assert!((f.beta[0] - f.beta[1] - 3f64.log10()).abs() < 1e-9);
    }

    #[test]
    fn strongly_connected_groups() {
        // 0 and 1 beat each other; 2 only ever beats 0; 3 only ever loses to 2.
        let c = counts(
            4,
            &[(0, 1, Outcome::ModelA), (1, 0, Outcome::ModelA), (2, 0, Outcome::ModelA), (2, 3, Outcome::ModelA)],
        );
        assert_eq!(c.groups(), vec![vec![0, 1], vec![2], vec![3]]);
        let tied = counts(3, &[(0, 1, Outcome::Tie), (1, 2, Outcome::Tie)]);
        assert_eq!(tied.groups(), vec![vec![0, 1, 2]]);
    }

    #[test]
    fn a_ridge_keeps_an_unbeaten_model_finite() {
        let c = counts(2, &[(0, 1, Outcome::ModelA), (0, 1, Outcome::ModelA)]);
        let f = fit(&c, 0.01, None);
        assert!(f.beta.iter().all(|b| b.is_finite()));
        assert!(f.beta[0] > 1.0 && f.beta[0] < 5.0, "{:?}", f.beta);
    }
}
