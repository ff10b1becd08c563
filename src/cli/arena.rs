//! `jury arena`: run an llmuses-style arena config.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use indicatif::MultiProgress;

use super::tables;
use crate::arena::{ArenaOptions, run_arena};
use crate::config::load_arena_config;
use crate::store::{DEFAULT_DATABASE_URL, Store};

#[derive(Debug, clap::Args)]
#[command(
    about = "Run an arena from an llmuses/EvalScope YAML config: answers, judge reviews, ratings",
    long_about = "Runs an arena from an llmuses/EvalScope YAML config (cfg_arena.yaml, cfg_single.yaml, \
        cfg_pairwise_baseline.yaml) in three stages, each skipped when disabled:\n\n\
        1. answers  (answers_gen): every enabled candidate answers every question in question_file \
        and its answers go to output_file (llmuses answer JSONL).\n\
        2. reviews  (reviews_gen): a judge compares answers pairwise, against a baseline, or scores \
        them one by one, and review_file receives llmuses review JSONL as judgments complete.\n\
        3. ratings  (rating_gen): the metrics (elo, bt, pairwise, score) are written to report_file \
        (CSV), with a JSON file and an HTML page beside it.\n\n\
        Relative paths in the config are resolved against the config file's folder.\n\n\
        A candidate or the judge is either a local GGUF model run in-process (model_id_or_path: a \
        .gguf file, or a folder holding one) or an OpenAI-compatible server (api_base, model, and \
        api_key_env naming the variable that holds the key). The judge defaults to OPENAI_BASE_URL \
        and OPENAI_API_KEY, like the official OpenAI clients. A candidate may set system_prompt. \
        README.md lists every config key.\n\n\
        Everything is stored in the database as it happens: answers are reused when the model, \
        settings and question are unchanged, and a judgment is never asked for twice (the review \
        cache is keyed by judge model, template and rendered prompt). A killed run resumes where \
        it stopped.\n\n\
        With --submit the run is queued in the database for the workers that share it (`jury \
        worker`, `jury serve`), which may be on other machines.\n\n\
        Exit codes: 0 success, 1 the run failed, 2 bad input (config, data files, arguments).",
    after_help = "Examples:\n  jury arena -c registry/config/cfg_arena.yaml --dry-run\n  \
        jury arena -c my_arena.yaml --db postgres://jury@db.internal/jury --submit --wait\n  \
        OPENAI_BASE_URL=http://127.0.0.1:8000/v1 jury arena -c my_arena.yaml --concurrency 32"
)]
pub struct ArenaArgs {
    /// The arena config (YAML); relative paths inside it resolve against its folder
    #[arg(short = 'c', long = "config", visible_alias = "cfg-file", value_name = "CONFIG.yaml")]
    config: PathBuf,

    /// Generate answers but ask no judge: verdicts are seeded pseudo-random (ties included)
    /// and stored marked as dry-run, apart from real ones
    #[arg(long)]
    dry_run: bool,

    /// Database URL: sqlite://PATH, or postgres://USER:PASSWORD@HOST:PORT/DATABASE
    #[arg(long, env = "JURY_DATABASE_URL", default_value = DEFAULT_DATABASE_URL, value_name = "URL")]
    db: String,

    /// Requests in flight at once, for answer generation and for the judge
    #[arg(long, default_value_t = 8, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    concurrency: u32,

    /// Print the run summary as JSON on stdout instead of tables
    #[arg(long)]
    json: bool,

    /// Draw no progress bars
    #[arg(long)]
    no_progress: bool,

    /// Queue the run for the workers on the database (`jury worker`, or `jury serve`'s own)
    /// instead of running it here, and print its id. The workers read the config and the files
    /// it names at the same paths, and resolve endpoints and key variables where they run.
    #[arg(long)]
    submit: bool,

    /// With --submit: follow the run's progress and exit as it ends (0 succeeded, 1 otherwise)
    #[arg(long, requires = "submit")]
    wait: bool,
}

pub async fn run(args: ArenaArgs, bars: MultiProgress) -> anyhow::Result<ExitCode> {
    let config = load_arena_config(&args.config)?;
    for warning in &config.warnings {
        eprintln!("warning: {warning}");
    }
    let config_text = std::fs::read_to_string(&args.config).unwrap_or_default();
    let store = Store::connect(&args.db).await.with_context(|| format!("cannot open the database {}", args.db))?;
    if args.submit {
        return super::submit::submit_arena(&store, &args.config, &config_text, args.dry_run, args.wait, args.json)
            .await;
    }
    let show_progress = !args.no_progress && std::io::stderr().is_terminal();
    let options = ArenaOptions {
        dry_run: args.dry_run,
        concurrency: args.concurrency as usize,
        progress: show_progress.then_some(bars),
        ..ArenaOptions::default()
    };
    let summary = run_arena(&config, &config_text, &store, &options).await?;
    store.close().await;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        tables::print_summary(&summary);
    }
    if summary.succeeded() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("error: {}", summary.error.as_deref().unwrap_or("the run failed"));
        Ok(ExitCode::from(1))
    }
}
