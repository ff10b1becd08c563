//! `jury rate`: a leaderboard with confidence intervals from battle files.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use comfy_table::Cell;
use serde::Serialize;

use super::tables::{
    judges as judges_table, leaderboard, length_controlled as length_controlled_table, right, scores as scores_table,
    style as style_tables, table,
};
use crate::data::battles::{Battles, LengthObservation, LoadedBattles, ReadOptions, read_battle_files};
use crate::input::{BadInput, Problem};
use crate::rating::judges::{JudgeReport, JudgeReports, PeopleReport, judge_reports};
use crate::rating::length::{LengthBattle, LengthControlled, length_controlled};
use crate::rating::scores::ScoreRow;
use crate::rating::style::{StyleControlled, StyleSet, style_controlled};
use crate::rating::{
    EloParams, Leaderboard, Method, Outcome, RatingOptions, ScoredAnswer, bradley_terry, elo, mean_scores,
};
use crate::store::{BattleScope, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MethodArg {
    /// Bradley–Terry maximum likelihood (Chatbot Arena's current method)
    Bt,
    /// Online Elo over the battles in order
    Elo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SourceArg {
    Judge,
    Human,
    All,
}

#[derive(Debug, clap::Args)]
#[command(
    about = "Rate models from battle files: Bradley-Terry or Elo with bootstrap confidence intervals",
    long_about = "Rates models from battle files and prints a leaderboard: Rank (UB), model, rating, 95% \
        confidence interval, battles, wins, losses and ties.\n\n\
        Files may be FastChat clean battle JSON (a JSON array or JSON Lines of {model_a, model_b, winner, \
        ...}, winner one of model_a, model_b, tie, tie (bothbad)) or llmuses review JSONL ({win} records, \
        {win_1, win_2} swapped-position records where a disagreement is a tie, and single-mode {model, \
        score} records, which give mean scores). Battles with an unknown verdict are left out and counted.\n\n\
        Bradley-Terry ratings are the maximum-likelihood fit (a tie is half a win for each side), scaled \
        as 400*beta + 1000 and averaging 1000 unless anchored. Intervals are 95% percentile intervals over \
        bootstrap rounds that resample the battles with replacement; the same seed gives the same numbers. \
        Rank (UB) is 1 + the number of models whose lower bound is above this model's upper bound.\n\n\
        Online Elo plays FastChat battles in file order and llmuses reviews in time order.\n\n\
        With --db, the battles stored by `jury arena` (and, later, human votes) are rated too; \
        --source picks judge or human battles, --category filters by question category, and answer \
        lengths feed the length-controlled win rates.\n\n\
        Exit codes: 0 success, 2 bad input.",
    after_help = "Examples:\n  jury rate clean_battle.json\n  jury rate reviews.jsonl --baseline gpt-4-0314 --json\n  \
        jury rate battles.json --method elo --k 4 --bootstrap 1000 --seed 7\n  \
        jury rate --db sqlite://jury.db --source judge --baseline smollm2-greedy"
)]
pub struct RateArgs {
    /// Battle files (FastChat clean battle JSON/JSONL, llmuses review JSONL)
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,

    /// Also rate the battles stored in this database (sqlite://PATH or postgres://…), such as an arena's
    #[arg(long, value_name = "URL")]
    db: Option<String>,

    /// With --db: judge battles, human battles, or both
    #[arg(long, value_enum, default_value_t = SourceArg::All, requires = "db")]
    source: SourceArg,

    /// With --db: rate only this judge's battles (its name as stored, e.g. the judge model)
    #[arg(long, value_name = "NAME", requires = "db")]
    judge: Option<String>,

    /// With --db: rate the dry-run battles instead of the real ones
    #[arg(long, requires = "db")]
    dry_run: bool,

    /// Rating method
    #[arg(long, value_enum, default_value_t = MethodArg::Bt)]
    method: MethodArg,

    /// Bootstrap rounds for the intervals (0: no intervals)
    #[arg(long, default_value_t = 100, value_name = "N")]
    bootstrap: usize,

    /// Seed of the bootstrap
    #[arg(long, default_value_t = 42, value_name = "S")]
    seed: u64,

    /// Elo: K factor
    #[arg(long, default_value_t = 4.0, value_name = "K")]
    k: f64,

    /// Elo: rating difference that makes one model BASE times likelier to win
    #[arg(long, default_value_t = 400.0, value_name = "SCALE")]
    scale: f64,

    /// Elo: odds base
    #[arg(long, default_value_t = 10.0, value_name = "BASE")]
    base: f64,

    /// Elo: starting rating
    #[arg(long, default_value_t = 1000.0, value_name = "INIT")]
    init: f64,

    /// Fix one model's rating (the others shift with it)
    #[arg(long, value_name = "MODEL=RATING", value_parser = parse_anchor)]
    anchor: Option<(String, f64)>,

    /// Report win rates against this model (anchored at 1000 unless --anchor says otherwise)
    #[arg(long, value_name = "MODEL")]
    baseline: Option<String>,

    /// Only battles of this category (records with a `category` field)
    #[arg(long, value_name = "C")]
    category: Option<String>,

    /// Also fit the style-controlled Bradley-Terry board (Chatbot Arena's): answer length and
    /// Markdown headers, lists and bold as covariates, from FastChat's conv_metadata or the
    /// stored answers
    #[arg(long)]
    style_control: bool,

    /// Print one JSON object instead of tables
    #[arg(long)]
    json: bool,
}

fn parse_anchor(text: &str) -> Result<(String, f64), String> {
    let (model, rating) = text.rsplit_once('=').ok_or("expected MODEL=RATING, for example gpt-4=1000")?;
    let rating: f64 = rating.trim().parse().map_err(|_| format!("\"{rating}\" is not a number"))?;
    if model.trim().is_empty() || !rating.is_finite() {
        return Err("expected MODEL=RATING, for example gpt-4=1000".into());
    }
    Ok((model.trim().to_string(), rating))
}

#[derive(Serialize)]
struct RateOutput<'a> {
    #[serde(flatten)]
    board: &'a Leaderboard,
    unknown_excluded: u64,
    filtered_out: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    length_controlled: Option<Vec<LengthControlled>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scores: Option<Vec<ScoreRow>>,
    /// With --db: how far each judge can be trusted.
    #[serde(skip_serializing_if = "Option::is_none")]
    judges: Option<Vec<JudgeReport>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    people: Option<PeopleReport>,
    /// With --style-control.
    #[serde(skip_serializing_if = "Option::is_none")]
    style_control: Option<StyleControlled>,
}

pub fn run(args: RateArgs) -> anyhow::Result<ExitCode> {
    if args.files.is_empty() && args.db.is_none() {
        return Err(BadInput::one(Problem::new(
            "nothing to rate: give battle files, or --db URL to rate the battles stored in a database",
        ))
        .into());
    }
    for (name, value) in [("--k", args.k), ("--scale", args.scale), ("--init", args.init)] {
        if !value.is_finite() || (name != "--init" && value <= 0.0) {
            return Err(BadInput::one(Problem::new(format!("{name} must be a positive number, got {value}"))).into());
        }
    }
    if !(args.base > 1.0 && args.base.is_finite()) {
        return Err(BadInput::one(Problem::new(format!("--base must be a number above 1, got {}", args.base))).into());
    }
    let method = match args.method {
        MethodArg::Bt => Method::Bt,
        MethodArg::Elo => Method::Elo,
    };
    let read = ReadOptions {
        keep_order: method == Method::Elo,
        category: args.category.clone(),
        lengths_against: args.baseline.clone(),
        style: args.style_control,
    };
    let started = std::time::Instant::now();
    let mut loaded = read_battle_files(&args.files, &read)?;
    tracing::debug!(seconds = started.elapsed().as_secs_f64(), "battle files read");
    if args.style_control && args.method == MethodArg::Elo {
        return Err(BadInput::one(Problem::new(
            "--style-control refits Bradley-Terry ratings: it cannot go with --method elo",
        ))
        .into());
    }
    if args.judge.is_some() && args.source == SourceArg::Human {
        return Err(
            BadInput::one(Problem::new("--judge rates one judge's battles: it cannot go with --source human")).into()
        );
    }
    let mut notes = Vec::new();
    let mut reports = JudgeReports::default();
    if let Some(url) = &args.db {
        (notes, reports) = add_stored_battles(&mut loaded, url, &args)?;
    }
    let options = RatingOptions {
        method,
        bootstrap: args.bootstrap,
        seed: args.seed,
        elo: EloParams { k: args.k, scale: args.scale, base: args.base, init: args.init },
        anchor: args.anchor.clone(),
        baseline: args.baseline.clone(),
    };
    let mut board = match loaded.battles {
        Battles::Ordered(ref set) => elo(set, &options),
        Battles::Counted(ref builder) => bradley_terry(&builder.clone().finish(), &options),
    };
    tracing::debug!(seconds = started.elapsed().as_secs_f64(), "ratings computed");
    board.warnings.extend(notes);
    if loaded.unknown > 0 {
        board.warnings.push(format!("{} battles with an unknown verdict were left out", loaded.unknown));
    }
    if loaded.filtered_out > 0 {
        board.warnings.push(format!(
            "{} battles outside category {} were left out",
            loaded.filtered_out,
            args.category.as_deref().unwrap_or("")
        ));
    }
    if let Some(b) = &args.baseline
        && !board.models.iter().any(|m| &m.model == b)
    {
        board.warnings.push(format!("the baseline {b} is in no battle"));
    }
    let length_controlled = (!loaded.lengths.is_empty()).then(|| {
        let mut by_model: BTreeMap<String, Vec<LengthBattle>> = BTreeMap::new();
        for o in &loaded.lengths {
            by_model
                .entry(o.model.clone())
                .or_default()
                .push(LengthBattle { score: o.score, length_difference: o.model_length - o.baseline_length });
        }
        length_controlled(&by_model, args.bootstrap, args.seed)
    });
    let scores = (!loaded.scores.is_empty()).then(|| {
        mean_scores(
            loaded.scores.iter().map(|s| ScoredAnswer { model: &s.model, category: &s.category, score: s.score }),
            args.bootstrap,
            args.seed,
        )
    });
    let style_control = args.style_control.then(|| {
        if loaded.style.missing > 0 {
            board.warnings.push(format!(
                "{} battles have no style metadata (conv_metadata's token, header, list and bold counts) and are \
                 left out of style control",
                loaded.style.missing
            ));
        }
        style_controlled(&loaded.style.battles, loaded.style.models.as_slice(), args.bootstrap, args.seed)
    });
    if args.json {
        let out = RateOutput {
            board: &board,
            unknown_excluded: loaded.unknown,
            filtered_out: loaded.filtered_out,
            length_controlled,
            scores,
            judges: args.db.is_some().then(|| reports.judges.clone()),
            people: reports.people.clone(),
            style_control,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_tables(&board, length_controlled.as_deref(), scores.as_deref(), &options);
        if !reports.judges.is_empty() {
            println!("{}", judges_table(&reports));
        }
        if let Some(style) = &style_control {
            let (ratings, coefficients) = style_tables(style, &board);
            println!(
                "Style-controlled Bradley-Terry ({} battles; length, headers, lists and bold held equal)\n{ratings}\n\
                 Style coefficients (log-odds of winning per standard deviation)\n{coefficients}",
                style.battles
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_tables(
    board: &Leaderboard,
    lc: Option<&[LengthControlled]>,
    scores: Option<&[ScoreRow]>,
    options: &RatingOptions,
) {
    let method = match board.method {
        Method::Bt => "Bradley-Terry".to_string(),
        Method::Elo => format!("online Elo (K={})", options.elo.k),
    };
    if !board.models.is_empty() {
        let intervals = if board.bootstrap_rounds > 0 {
            format!("95% intervals from {} bootstrap rounds, seed {}", board.bootstrap_rounds, board.seed)
        } else {
            "no intervals (--bootstrap 0)".to_string()
        };
        println!("{method}: {} battles, {intervals}\n{}", board.battles, leaderboard(board));
    }
    if let Some(report) = &board.baseline {
        let mut t = table(&["model", "battles", "win rate", "95% CI", "predicted", "95% CI"]);
        let ci = |lo: Option<f64>, hi: Option<f64>| match (lo, hi) {
            (Some(lo), Some(hi)) => format!("{:.1}% - {:.1}%", lo * 100.0, hi * 100.0),
            _ => "-".into(),
        };
        for r in &report.rows {
            t.add_row(vec![
                Cell::new(&r.model),
                right(r.battles),
                right(format!("{:.1}%", r.win_rate * 100.0)),
                right(ci(r.win_rate_ci_lower, r.win_rate_ci_upper)),
                right(format!("{:.1}%", r.predicted_win_rate * 100.0)),
                right(ci(r.predicted_ci_lower, r.predicted_ci_upper)),
            ]);
        }
        println!("Against {} (win rate = (wins + ties/2) / battles; predicted from the ratings)\n{t}", report.model);
    }
    if let Some(rows) = lc {
        println!(
            "Length-controlled win rates (answer length difference set to zero)\n{}",
            length_controlled_table(rows)
        );
    }
    if let Some(rows) = scores {
        println!("Single-answer scores\n{}", scores_table(rows));
    }
    for w in &board.warnings {
        eprintln!("warning: {w}");
    }
}

/// Adds the database's battles; returns notes for the user (such as dry-run battles left out)
/// and the judges' reports (the one `--judge` names, or all).
fn add_stored_battles(
    loaded: &mut LoadedBattles,
    url: &str,
    args: &RateArgs,
) -> anyhow::Result<(Vec<String>, JudgeReports)> {
    let scope = BattleScope {
        source: match (args.source, &args.judge) {
            (SourceArg::Judge, _) | (_, Some(_)) => Some("judge".into()),
            (SourceArg::Human, None) => Some("human".into()),
            (SourceArg::All, None) => None,
        },
        category: args.category.clone(),
        question_set: None,
        judge: args.judge.clone(),
        dry_run: args.dry_run,
    };
    // Judges are measured against people and each other: over every source and judge.
    let everyone = BattleScope { source: None, judge: None, ..scope.clone() };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (battles, other, judged, styled) = runtime.block_on(async {
        // Reading only: a mistyped path is an error, not a new empty database.
        let store = Store::connect_existing(url).await?;
        let battles = store.battles_for_rating(&scope).await?;
        let other = store.count_battles(!args.dry_run).await?;
        let judged = store.judged_battles(&everyone).await?;
        let styled = match args.style_control {
            true => Some(store.style_battles(&scope).await?),
            false => None,
        };
        store.close().await;
        Ok::<_, crate::store::StoreError>((battles, other, judged, styled))
    })?;
    let mut reports = judge_reports(&judged);
    let mut notes = Vec::new();
    if let Some(judge) = &args.judge {
        reports.judges.retain(|r| &r.judge == judge);
        if reports.judges.is_empty() {
            let names: Vec<&str> = judged.iter().filter_map(|b| b.judge.as_deref()).collect();
            let mut names: Vec<&str> =
                names.into_iter().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
            names.truncate(20);
            notes.push(format!(
                "the judge {judge} decided no battles here{}",
                if names.is_empty() { String::new() } else { format!("; judges: {}", names.join(", ")) }
            ));
        }
    }
    if battles.is_empty() && other > 0 {
        notes.push(if args.dry_run {
            format!("the database holds no dry-run battles, but {other} real ones: drop --dry-run to rate them")
        } else {
            format!("the database holds only dry-run battles ({other}): pass --dry-run to rate them")
        });
    }
    if let Some(styled) = styled {
        loaded.style.merge(StyleSet::from_answers(styled.iter().filter_map(|b| b.answer_battle())));
    }
    for b in battles {
        let Some(outcome) = Outcome::from_winner(&b.winner) else {
            loaded.unknown += 1;
            continue;
        };
        if let Some(base) = &args.baseline {
            let observation =
                LengthObservation::against(base, &b.model_a, &b.model_b, outcome, b.length_a as f64, b.length_b as f64);
            loaded.lengths.extend(observation);
        }
        loaded.push(&b.model_a, &b.model_b, outcome, b.weight);
    }
    Ok((notes, reports))
}
