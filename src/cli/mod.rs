//! The `jury` command line. Exit codes: 0 success, 1 the run failed, 2 bad input.

mod arena;
mod logging;
mod tables;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::input::BadInput;
use crate::store::StoreError;

#[derive(Debug, Parser)]
#[command(
    name = "jury",
    version,
    about = "Evaluate large language models: judge-model arenas, ratings, benchmarks",
    long_about = "jury evaluates large language models.\n\n\
        `jury arena` runs an llmuses/EvalScope-style arena from a YAML config: candidate models \
        answer a question set (local GGUF models in-process, or any OpenAI-compatible server), a \
        judge model reviews the answers, and ratings come out.\n\n\
        Results are stored in a database (SQLite by default) so that interrupted runs resume \
        without repeating work.",
    after_help = "Logs go to stderr; set RUST_LOG (for example RUST_LOG=jury=debug) for more detail."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Arena(arena::ArenaArgs),
}

/// Parses arguments, runs the command and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let progress = logging::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Arena(args) => arena::run(args, progress).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(error) => report_error(&error),
    }
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
    if let Some(StoreError::UnsupportedUrl(_)) = find::<StoreError>(error) {
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
