//! Style control, as Chatbot Arena computes it: the Bradley–Terry board refitted with four
//! style features per battle — answer length, Markdown headers, list items and bold spans —
//! so that a model's rating no longer pays for style alone. Each feature is (a − b)/(a + b + 1)
//! over the two answers' counts, standardised over all battles, and fitted with the model terms
//! in one L2-regularised logistic regression:
//!
//! logit P(A beats B) = ln 10 · (r_A − r_B) + Σ_k β_k x_k, loss = −Σ w·log-likelihood + ¼‖θ‖²
//!
//! (FastChat's `fit_contextual_bt` with `reg = 0.5`; a tie is an outcome of ½). Ratings are
//! 400·r + 1000. Intervals resample the battles with the features fixed, as FastChat does.

use std::collections::HashMap;
use std::sync::LazyLock;

use nalgebra::{DMatrix, DVector};
use rand::Rng;
use rayon::prelude::*;
use regex::Regex;
use serde::Serialize;

use super::battles::Outcome;
use super::bootstrap::round_rng;
use super::names::Names;
use super::percentile::interval95;

pub const STYLE_FEATURES: [&str; 4] = ["length", "headers", "lists", "bold"];

/// One answer's style: its length and its Markdown headers, list items and bold spans.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StyleCounts(pub [f64; 4]);

static CODE_BLOCK: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"```[^`]*```").expect("valid"));
static HEADER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?m)^#{1,6}\s").expect("valid"));
static ORDERED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?m)^\s*\d+\.\s").expect("valid"));
static UNORDERED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?m)^\s*[-*+]\s").expect("valid"));
static BOLD_STARS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\*\*[^*\n]+\*\*").expect("valid"));
static BOLD_UNDERSCORES: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"__[^_\n]+__").expect("valid"));

impl StyleCounts {
    /// FastChat's counts (`count_markdown_elements`, code blocks removed first); the length is
    /// in characters here, where FastChat counts tokens.
    pub fn of_markdown(text: &str) -> StyleCounts {
        let prose = CODE_BLOCK.replace_all(text, "");
        let count = |re: &Regex| re.find_iter(&prose).count() as f64;
        StyleCounts([
            text.chars().count() as f64,
            count(&HEADER),
            count(&ORDERED) + count(&UNORDERED),
            count(&BOLD_STARS) + count(&BOLD_UNDERSCORES),
        ])
    }
}

/// One battle with both answers' styles.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StyleBattle {
    pub a: u32,
    pub b: u32,
    /// 1 when A won, 0 when B won, ½ for a tie.
    pub score: f64,
    pub weight: f64,
    pub style_a: StyleCounts,
    pub style_b: StyleCounts,
}

/// Battles with both answers' style counts, models interned.
#[derive(Debug, Default)]
pub struct StyleSet {
    pub models: Names,
    pub battles: Vec<StyleBattle>,
    /// Battles without style metadata (left out of style control).
    pub missing: u64,
}

/// A decided battle between two stored answers: models, outcome, weight, and each answer's
/// id and text.
pub type AnswerBattle<'a> = (&'a str, &'a str, Outcome, f64, (i64, &'a str), (i64, &'a str));

impl StyleSet {
    pub fn push(&mut self, a: &str, b: &str, outcome: Outcome, weight: f64, style: (StyleCounts, StyleCounts)) {
        let (a, b) = (self.models.id(a), self.models.id(b));
        self.battles.push(StyleBattle { a, b, score: outcome.score_a(), weight, style_a: style.0, style_b: style.1 });
    }

    /// Adds another set's battles (its models interned into this set's).
    pub fn merge(&mut self, other: StyleSet) {
        let map: Vec<u32> = other.models.as_slice().iter().map(|m| self.models.id(m)).collect();
        self.missing += other.missing;
        self.battles.extend(other.battles.into_iter().map(|b| StyleBattle {
            a: map[b.a as usize],
            b: map[b.b as usize],
            ..b
        }));
    }

    /// Battles between stored answers, each answer's counts computed once.
    pub fn from_answers<'a>(battles: impl IntoIterator<Item = AnswerBattle<'a>>) -> StyleSet {
        let mut set = StyleSet::default();
        let mut counts: HashMap<i64, StyleCounts> = HashMap::new();
        let mut of = |(id, text): (i64, &str)| *counts.entry(id).or_insert_with(|| StyleCounts::of_markdown(text));
        for (a, b, outcome, weight, answer_a, answer_b) in battles {
            let style = (of(answer_a), of(answer_b));
            set.push(a, b, outcome, weight, style);
        }
        set
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StyleRating {
    pub model: String,
    pub rating: f64,
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
    /// 1 + the number of models whose lower bound is above this one's upper bound.
    pub rank_ub: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StyleCoefficient {
    pub feature: &'static str,
    /// Log-odds of winning per standard deviation of the feature.
    pub coefficient: f64,
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StyleControlled {
    pub models: Vec<StyleRating>,
    pub coefficients: Vec<StyleCoefficient>,
    pub battles: usize,
    pub bootstrap_rounds: usize,
}

/// FastChat's regularisation (`reg = 0.5`, applied as `reg / 2 · ‖θ‖²`).
const HALF_REG: f64 = 0.25;

/// Each battle's standardised features. A feature that never varies is left at zero.
pub fn features(battles: &[StyleBattle]) -> Vec<[f64; 4]> {
    let raw: Vec<[f64; 4]> = battles
        .iter()
        .map(|b| std::array::from_fn(|k| (b.style_a.0[k] - b.style_b.0[k]) / (b.style_a.0[k] + b.style_b.0[k] + 1.0)))
        .collect();
    let n = raw.len().max(1) as f64;
    let mut out = raw.clone();
    for k in 0..4 {
        let mean = raw.iter().map(|r| r[k]).sum::<f64>() / n;
        // numpy's np.std: the population standard deviation.
        let std = (raw.iter().map(|r| (r[k] - mean).powi(2)).sum::<f64>() / n).sqrt();
        for (o, r) in out.iter_mut().zip(&raw) {
            o[k] = if std > 0.0 { (r[k] - mean) / std } else { 0.0 };
        }
    }
    out
}

/// The regularised maximum-likelihood parameters (model terms, then the four coefficients),
/// by Newton's method; `counts[i]` is how many times battle `i` is drawn.
pub fn fit(battles: &[StyleBattle], features: &[[f64; 4]], models: usize, counts: Option<&[u32]>) -> Vec<f64> {
    let d = models + 4;
    let mut theta = DVector::<f64>::zeros(d);
    let alpha = std::f64::consts::LN_10;
    for _ in 0..100 {
        let mut gradient = -&theta * (2.0 * HALF_REG);
        let mut hessian = DMatrix::<f64>::identity(d, d) * (2.0 * HALF_REG);
        for (i, (b, x)) in battles.iter().zip(features).enumerate() {
            let drawn = counts.map_or(1.0, |c| c[i] as f64);
            if drawn == 0.0 {
                continue;
            }
            let (a, bb) = (b.a as usize, b.b as usize);
            // The row's design: +α for A, −α for B, then the features.
            let mut index = [a, bb, models, models + 1, models + 2, models + 3];
            let mut value = [alpha, -alpha, x[0], x[1], x[2], x[3]];
            if a == bb {
                (index[1], value[1], value[0]) = (a, 0.0, 0.0);
            }
            let logit: f64 = index.iter().zip(&value).map(|(&j, &v)| theta[j] * v).sum();
            let p = 1.0 / (1.0 + (-logit).exp());
            let w = b.weight * drawn;
            let residual = w * (b.score - p);
            let curvature = w * p * (1.0 - p);
            for (&j, &vj) in index.iter().zip(&value) {
                gradient[j] += residual * vj;
                for (&k, &vk) in index.iter().zip(&value) {
                    hessian[(j, k)] += curvature * vj * vk;
                }
            }
        }
        let Some(step) = hessian.cholesky().map(|c| c.solve(&gradient)) else { break };
        theta += &step;
        if step.amax() < 1e-10 {
            break;
        }
    }
    theta.iter().copied().collect()
}

/// The style-controlled board with bootstrap intervals (`rounds` = 0: none).
pub fn style_controlled(battles: &[StyleBattle], models: &[String], rounds: usize, seed: u64) -> StyleControlled {
    let x = features(battles);
    let point = fit(battles, &x, models.len(), None);
    let samples: Vec<Vec<f64>> = (0..rounds)
        .into_par_iter()
        .map(|round| {
            let mut rng = round_rng(seed, round as u64);
            let mut counts = vec![0u32; battles.len()];
            for _ in 0..battles.len() {
                counts[rng.random_range(0..battles.len())] += 1;
            }
            fit(battles, &x, models.len(), Some(&counts))
        })
        .collect();
    let interval = |j: usize, scale: f64, offset: f64| {
        let mut values: Vec<f64> = samples.iter().map(|s| s[j] * scale + offset).collect();
        interval95(&mut values)
    };
    let mut board: Vec<StyleRating> = models
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let ci = interval(i, 400.0, 1000.0);
            StyleRating {
                model: m.clone(),
                rating: point[i] * 400.0 + 1000.0,
                ci_lower: ci.map(|c| c.0),
                ci_upper: ci.map(|c| c.1),
                rank_ub: 0,
            }
        })
        .collect();
    let bounds: Vec<(f64, f64)> =
        board.iter().map(|r| (r.ci_lower.unwrap_or(r.rating), r.ci_upper.unwrap_or(r.rating))).collect();
    for (r, (_, upper)) in board.iter_mut().zip(&bounds) {
        r.rank_ub = 1 + bounds.iter().filter(|(lower, _)| lower > upper).count();
    }
    board.sort_by(|p, q| q.rating.total_cmp(&p.rating));
    let coefficients = STYLE_FEATURES
        .iter()
        .enumerate()
        .map(|(k, &feature)| {
            let ci = interval(models.len() + k, 1.0, 0.0);
            StyleCoefficient {
                feature,
                coefficient: point[models.len() + k],
                ci_lower: ci.map(|c| c.0),
                ci_upper: ci.map(|c| c.1),
            }
        })
        .collect();
    StyleControlled { models: board, coefficients, battles: battles.len(), bootstrap_rounds: rounds }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_counts_follow_fastchat() {
        let text = "# Title\n## Part\nSome **bold** and __this__.\n1. one\n2. two\n- dash\n* star\n\
                    ```\n# not a header\n- not a list\n```\n#nospace";
        let s = StyleCounts::of_markdown(text);
        assert_eq!(s.0[1..], [2.0, 4.0, 2.0]);
        assert_eq!(s.0[0], text.chars().count() as f64);
    }

    #[test]
    fn a_style_preference_moves_into_the_coefficient() {
        // Two equal models; whichever answer is longer wins, and A is longer as often as B.
        let long = StyleCounts([400.0, 0.0, 0.0, 0.0]);
        let short = StyleCounts([100.0, 0.0, 0.0, 0.0]);
        let mut battles = Vec::new();
        for i in 0..200 {
            let a_long = i % 2 == 0;
            let (style_a, style_b) = if a_long { (long, short) } else { (short, long) };
            // Model 0 writes the long answer three times in four.
            let (a, b) = if i % 4 == 3 { (1, 0) } else { (0, 1) };
            battles.push(StyleBattle { a, b, score: if a_long { 1.0 } else { 0.0 }, weight: 1.0, style_a, style_b });
        }
        let models = ["m0".to_string(), "m1".to_string()];
        let board = style_controlled(&battles, &models, 0, 1);
        let length = &board.coefficients[0];
        assert!(length.coefficient > 2.0, "{length:?}");
        // Without style control model 0's 75% wins put it 400·log10(3) ≈ 191 points ahead.
        let gap = (board.models[0].rating - board.models[1].rating).abs();
        assert!(gap < 100.0, "{board:?}");
    }
}
