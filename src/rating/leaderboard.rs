//! Leaderboards: ratings (Bradley–Terry or online Elo) with bootstrap intervals, Rank (UB),
//! pairwise matrices and results against a baseline — the Chatbot Arena method.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Serialize;

use super::battles::BattleSet;
use rand::Rng;

use super::bootstrap::{resample_rows, round_rng};
use super::bt::{self, PairCounts};
use super::elo::{EloParams, PackedBattle, online_elo_of};
use super::percentile::interval95;
use super::rows::Rows;

/// The penalty used only when maximum-likelihood ratings do not exist (a model that never
/// lost or never won, or groups of models that were never compared). In log10-odds units it
/// is a very wide prior (a standard deviation of 10, i.e. 4,000 rating points): it keeps those
/// ratings finite while barely touching the rest.
pub const DEGENERATE_RIDGE: f64 = 0.01;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Bt,
    Elo,
}

#[derive(Debug, Clone)]
pub struct RatingOptions {
    pub method: Method,
    /// Bootstrap rounds; 0 gives no intervals.
    pub bootstrap: usize,
    pub seed: u64,
    pub elo: EloParams,
    /// Shift all ratings so this model has this rating (else they average 1000).
    pub anchor: Option<(String, f64)>,
    pub baseline: Option<String>,
}

impl Default for RatingOptions {
    fn default() -> Self {
        RatingOptions {
            method: Method::Bt,
            bootstrap: 100,
            seed: 42,
            elo: EloParams::ARENA,
            anchor: None,
            baseline: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelRating {
    pub model: String,
    pub rating: f64,
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
    pub rank_ub: usize,
    pub battles: u64,
    pub wins: u64,
    pub losses: u64,
    pub ties: u64,
    /// Why this model's rating needs care (never lost, never won, a separate group…).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaselineRow {
    pub model: String,
    pub battles: u64,
    /// (wins + ties/2) / battles against the baseline.
    pub win_rate: f64,
    pub win_rate_ci_lower: Option<f64>,
    pub win_rate_ci_upper: Option<f64>,
    /// The win rate against the baseline that the ratings predict (Arena-Hard's score).
    pub predicted_win_rate: f64,
    pub predicted_ci_lower: Option<f64>,
    pub predicted_ci_upper: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaselineReport {
    pub model: String,
    pub rows: Vec<BaselineRow>,
}

pub type Matrix<T> = BTreeMap<String, BTreeMap<String, T>>;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Leaderboard {
    pub method: Method,
    /// Best first.
    pub models: Vec<ModelRating>,
    /// Wins of the row model over the column model among their decisive battles.
    pub win_fraction: Matrix<f64>,
    pub battle_counts: Matrix<u64>,
    /// P(row beats column) according to the ratings.
    pub predicted_win_rate: Matrix<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineReport>,
    pub battles: u64,
    pub bootstrap_rounds: usize,
    pub seed: u64,
    pub warnings: Vec<String>,
}

/// Ratings by Bradley–Terry maximum likelihood, with a multinomial bootstrap over the rows.
pub fn bradley_terry(rows: &Rows, options: &RatingOptions) -> Leaderboard {
    let mut warnings = Vec::new();
    if rows.rows.is_empty() {
        warnings.push("no battles: nothing to rate".to_string());
        return empty(Method::Bt, options, warnings);
    }
    let counts = rows.pair_counts(None);
    let groups = counts.groups();
    let degenerate = groups.len() > 1;
    let ridge = if degenerate { DEGENERATE_RIDGE } else { 0.0 };
    let fit = bt::fit(&counts, ridge, None);
    if !fit.converged {
        warnings.push(format!("the rating fit stopped after {} iterations before fully converging", fit.iterations));
    }
    let anchor = anchor_index(rows, options, &mut warnings);
    let ratings = to_ratings(&fit.beta, anchor);

    // Bootstrap rounds in parallel; each round has its own seeded stream.
    let base = options.baseline.as_deref().and_then(|b| rows.index_of(b));
    let rounds: Vec<(Vec<f64>, bool, Vec<f64>)> = (0..options.bootstrap as u64)
        .into_par_iter()
        .map(|round| {
            let resampled = resample_rows(rows, &mut round_rng(options.seed, round));
            let pc = rows.pair_counts(Some(&resampled));
            let round_degenerate = pc.groups().len() > 1;
            let f = bt::fit(&pc, if round_degenerate { DEGENERATE_RIDGE } else { 0.0 }, Some(&fit.beta));
            let baseline_rates = base.map(|b| baseline_rates(rows, &resampled, b)).unwrap_or_default();
            (to_ratings(&f.beta, anchor), round_degenerate, baseline_rates)
        })
        .collect();
    let degenerate_rounds = rounds.iter().filter(|r| r.1).count();
    if degenerate_rounds > 0 && !degenerate {
        warnings.push(format!(
            "{degenerate_rounds} of {} bootstrap rounds drew battles in which some model never lost or never won; \
             those rounds were fitted with a weak penalty (λ = {DEGENERATE_RIDGE})",
            options.bootstrap
        ));
    }
    let samples: Vec<Vec<f64>> = rounds.iter().map(|r| r.0.clone()).collect();

    let mut board = assemble(Method::Bt, rows, &ratings, &samples, options, warnings);
    flag_degenerate(&mut board, rows, &counts, &groups);
    if let Some(b) = base {
        let predicted = |r: &[f64], m: usize| predicted(r[m] - r[b], EloParams::ARENA);
        let round_rates: Vec<&Vec<f64>> = rounds.iter().map(|r| &r.2).collect();
        board.baseline = Some(baseline_report(rows, b, &ratings, &samples, &round_rates, predicted));
    }
    board
}

/// Online Elo over the battles in order; the bootstrap replays battles drawn with replacement.
pub fn elo(set: &BattleSet, options: &RatingOptions) -> Leaderboard {
    let rows = Rows::from_battles(set);
    let mut warnings = Vec::new();
    if set.is_empty() {
        warnings.push("no battles: nothing to rate".to_string());
        return empty(Method::Elo, options, warnings);
    }
    let anchor = anchor_index(&rows, options, &mut warnings);
    let shift = |mut r: Vec<f64>| {
        if let Some((i, value)) = anchor {
            let d = value - r[i];
            r.iter_mut().for_each(|x| *x += d);
        }
        r
    };
    let battles: Vec<PackedBattle> = set.battles().iter().map(PackedBattle::new).collect();
    let ratings = shift(online_elo_of(set.models().len(), battles.iter().copied(), options.elo));
    let rounds: Vec<u64> = (0..options.bootstrap as u64).collect();
    let samples: Vec<Vec<f64>> = rounds
        .par_chunks(ELO_LANES)
        .flat_map_iter(|lanes| elo_replays(set.models().len(), &battles, lanes, options))
        .map(shift)
        .collect();
    let mut board = assemble(Method::Elo, &rows, &ratings, &samples, options, warnings);
    if let Some(b) = options.baseline.as_deref().and_then(|b| rows.index_of(b)) {
        let rounds: Vec<Vec<f64>> = (0..options.bootstrap as u64)
            .into_par_iter()
            .map(|round| baseline_rates(&rows, &resample_rows(&rows, &mut round_rng(options.seed, round)), b))
            .collect();
        let refs: Vec<&Vec<f64>> = rounds.iter().collect();
        let params = options.elo;
        board.baseline = Some(baseline_report(&rows, b, &ratings, &samples, &refs, |r: &[f64], m: usize| {
            predicted(r[m] - r[b], params)
        }));
    }
    board
}

/// Bootstrap rounds replayed side by side in one thread. One online-Elo replay is a chain of
/// dependent updates; interleaving independent rounds lets the CPU overlap them.
const ELO_LANES: usize = 4;

/// Online Elo over battles drawn with replacement, one replay per round in `rounds`; each
/// round uses its own random stream, so the result does not depend on the interleaving.
fn elo_replays(models: usize, battles: &[PackedBattle], rounds: &[u64], options: &RatingOptions) -> Vec<Vec<f64>> {
    let params = options.elo;
    let factor = params.base.ln() / params.scale;
    let n = battles.len() as u32;
    let mut rngs: Vec<_> = rounds.iter().map(|&r| round_rng(options.seed, r)).collect();
    let mut ratings = vec![vec![params.init; models]; rounds.len()];
    for _ in 0..n {
        for (rng, r) in rngs.iter_mut().zip(ratings.iter_mut()) {
            let (a, b, sa) = battles[rng.random_range(0..n) as usize].unpack();
            let ea = 1.0 / (1.0 + ((r[b] - r[a]) * factor).exp());
            r[a] += params.k * (sa - ea);
            r[b] += params.k * (ea - sa);
        }
    }
    ratings
}

/// P(a beats b) for a rating difference.
pub fn predicted(diff: f64, params: EloParams) -> f64 {
    1.0 / (1.0 + params.base.powf(-diff / params.scale))
}

fn empty(method: Method, options: &RatingOptions, warnings: Vec<String>) -> Leaderboard {
    Leaderboard {
        method,
        models: Vec::new(),
        win_fraction: Matrix::new(),
        battle_counts: Matrix::new(),
        predicted_win_rate: Matrix::new(),
        baseline: None,
        battles: 0,
        bootstrap_rounds: options.bootstrap,
        seed: options.seed,
        warnings,
    }
}

fn anchor_index(rows: &Rows, options: &RatingOptions, warnings: &mut Vec<String>) -> Option<(usize, f64)> {
    if let Some((model, value)) = &options.anchor {
        return match rows.index_of(model) {
            Some(i) => Some((i, *value)),
            None => {
                warnings.push(format!("anchor model {model} is in no battle; ratings average 1000 instead"));
                None
            }
        };
    }
    // Against a baseline, the baseline is the fixed point (as in Arena-Hard).
    options.baseline.as_deref().and_then(|b| rows.index_of(b)).map(|i| (i, 1000.0))
}

/// 400·β + 1000, averaging 1000, or shifted so the anchor has its rating.
fn to_ratings(beta: &[f64], anchor: Option<(usize, f64)>) -> Vec<f64> {
    let mean = beta.iter().sum::<f64>() / beta.len().max(1) as f64;
    let mut r: Vec<f64> = beta.iter().map(|b| 400.0 * (b - mean) + 1000.0).collect();
    if let Some((i, value)) = anchor {
        let d = value - r[i];
        r.iter_mut().for_each(|x| *x += d);
    }
    r
}

/// Model ratings, intervals, ranks and the matrices.
fn assemble(
    method: Method,
    rows: &Rows,
    ratings: &[f64],
    samples: &[Vec<f64>],
    options: &RatingOptions,
    warnings: Vec<String>,
) -> Leaderboard {
    let n = rows.models.len();
    let records = rows.records();
    let intervals: Vec<Option<(f64, f64)>> = (0..n)
        .map(|m| {
            let mut values: Vec<f64> = samples.iter().map(|s| s[m]).collect();
            interval95(&mut values)
        })
        .collect();
    let mut models: Vec<ModelRating> = (0..n)
        .map(|m| ModelRating {
            model: rows.models[m].clone(),
            rating: ratings[m],
            ci_lower: intervals[m].map(|i| i.0),
            ci_upper: intervals[m].map(|i| i.1),
            rank_ub: 0,
            battles: records[m].battles(),
            wins: records[m].wins,
            losses: records[m].losses,
            ties: records[m].ties,
            flags: Vec::new(),
        })
        .collect();
    // Rank (UB): 1 + how many models are better beyond doubt (their lower bound above this
    // model's upper bound). Without intervals, the plain rank.
    let bounds: Vec<(f64, f64)> =
        models.iter().map(|m| (m.ci_lower.unwrap_or(m.rating), m.ci_upper.unwrap_or(m.rating))).collect();
    for (i, model) in models.iter_mut().enumerate() {
        model.rank_ub = 1 + bounds.iter().filter(|(lower, _)| *lower > bounds[i].1).count();
    }

    let (battle_table, win_table) = rows.pair_tables(None);
    let params = if method == Method::Elo { options.elo } else { EloParams::ARENA };
    let mut win_fraction = Matrix::new();
    let mut battle_counts = Matrix::new();
    let mut predicted_win_rate = Matrix::new();
    for a in 0..n {
        for b in 0..n {
            if a == b {
                continue;
            }
            let name_a = &rows.models[a];
            let name_b = &rows.models[b];
            predicted_win_rate
                .entry(name_a.clone())
                .or_insert_with(BTreeMap::new)
                .insert(name_b.clone(), predicted(ratings[a] - ratings[b], params));
            if battle_table[a][b] > 0 {
                battle_counts
                    .entry(name_a.clone())
                    .or_insert_with(BTreeMap::new)
                    .insert(name_b.clone(), battle_table[a][b]);
                let decisive = win_table[a][b] + win_table[b][a];
                if decisive > 0 {
                    win_fraction
                        .entry(name_a.clone())
                        .or_insert_with(BTreeMap::new)
                        .insert(name_b.clone(), win_table[a][b] as f64 / decisive as f64);
                }
            }
        }
    }
    models.sort_by(|x, y| y.rating.total_cmp(&x.rating).then_with(|| x.model.cmp(&y.model)));
    Leaderboard {
        method,
        models,
        win_fraction,
        battle_counts,
        predicted_win_rate,
        baseline: None,
        battles: rows.battles(),
        bootstrap_rounds: options.bootstrap,
        seed: options.seed,
        warnings,
    }
}

/// Marks models whose maximum-likelihood rating does not exist, and says how they were handled.
fn flag_degenerate(board: &mut Leaderboard, rows: &Rows, counts: &PairCounts, groups: &[Vec<usize>]) {
    let records = rows.records();
    let mut notes = Vec::new();
    for (m, record) in records.iter().enumerate() {
        let mut flags = Vec::new();
        if record.wins == 0 && record.losses == 0 {
            flags.push("only ties".to_string());
        } else if record.losses == 0 && record.ties == 0 {
            flags.push("never lost".to_string());
        } else if record.wins == 0 && record.ties == 0 {
            flags.push("never won".to_string());
        }
        if let Some(entry) = board.models.iter_mut().find(|r| r.model == rows.models[m]) {
            entry.flags.extend(flags.iter().cloned());
        }
        if flags.iter().any(|f| f != "only ties") {
            notes.push(format!("{} {}", rows.models[m], flags.join(", ")));
        }
    }
    if groups.len() > 1 {
        let described: Vec<String> = groups
            .iter()
            .map(|g| format!("[{}]", g.iter().map(|&i| rows.models[i].as_str()).collect::<Vec<_>>().join(", ")))
            .collect();
        // Which groups were never compared at all (not even one way)?
        let compared = |x: &[usize], y: &[usize]| x.iter().any(|&i| y.iter().any(|&j| counts.total(i, j) > 0.0));
        let isolated = groups.iter().any(|g| groups.iter().all(|h| std::ptr::eq(g, h) || !compared(g, h)));
        let mut message = format!(
            "maximum-likelihood ratings do not exist for these battles: the models fall into {} groups that did \
             not both win and lose against each other {}",
            groups.len(),
            described.join(" ")
        );
        if !notes.is_empty() {
            message.push_str(&format!(" ({})", notes.join("; ")));
        }
        message.push_str(&format!(
            ". Ratings were fitted with a weak penalty (λ = {DEGENERATE_RIDGE}), so they are finite, but the gaps \
             between groups reflect that penalty, not the data"
        ));
        if isolated {
            message.push_str("; groups never compared with each other are not comparable at all");
        }
        board.warnings.push(message);
        for (gi, group) in groups.iter().enumerate() {
            for &m in group {
                if let Some(entry) = board.models.iter_mut().find(|r| r.model == rows.models[m]) {
                    entry.flags.push(format!("group {}", gi + 1));
                }
            }
        }
    }
    for m in &board.models {
        if m.flags.iter().any(|f| f == "only ties") {
            board.warnings.push(format!("{} has only ties: its rating rests on ties alone", m.model));
        }
    }
}

/// (wins + ties/2) / battles against the baseline, per model, from (resampled) row counts.
fn baseline_rates(rows: &Rows, counts: &[u64], base: usize) -> Vec<f64> {
    let n = rows.models.len();
    let mut score = vec![0f64; n];
    let mut total = vec![0u64; n];
    for (r, &c) in rows.rows.iter().zip(counts) {
        let (a, b) = (r.a as usize, r.b as usize);
        let (model, model_score) = if b == base && a != base {
            (a, r.outcome.score_a())
        } else if a == base && b != base {
            (b, 1.0 - r.outcome.score_a())
        } else {
            continue;
        };
        score[model] += model_score * c as f64;
        total[model] += c;
    }
    (0..n).map(|m| if total[m] > 0 { score[m] / total[m] as f64 } else { f64::NAN }).collect()
}

fn baseline_report(
    rows: &Rows,
    base: usize,
    ratings: &[f64],
    samples: &[Vec<f64>],
    round_rates: &[&Vec<f64>],
    predict: impl Fn(&[f64], usize) -> f64,
) -> BaselineReport {
    let data: Vec<u64> = rows.rows.iter().map(|r| r.count).collect();
    let rates = baseline_rates(rows, &data, base);
    let (battle_table, _) = rows.pair_tables(None);
    let mut out = Vec::new();
    for m in 0..rows.models.len() {
        if m == base || battle_table[m][base] == 0 {
            continue;
        }
        let mut rate_samples: Vec<f64> = round_rates.iter().map(|r| r[m]).filter(|x| x.is_finite()).collect();
        let mut predicted_samples: Vec<f64> = samples.iter().map(|s| predict(s, m)).collect();
        let rate_ci = interval95(&mut rate_samples);
        let predicted_ci = interval95(&mut predicted_samples);
        out.push(BaselineRow {
            model: rows.models[m].clone(),
            battles: battle_table[m][base],
            win_rate: rates[m],
            win_rate_ci_lower: rate_ci.map(|c| c.0),
            win_rate_ci_upper: rate_ci.map(|c| c.1),
            predicted_win_rate: predict(ratings, m),
            predicted_ci_lower: predicted_ci.map(|c| c.0),
            predicted_ci_upper: predicted_ci.map(|c| c.1),
        });
    }
    out.sort_by(|x, y| y.predicted_win_rate.total_cmp(&x.predicted_win_rate));
    BaselineReport { model: rows.models[base].clone(), rows: out }
}
