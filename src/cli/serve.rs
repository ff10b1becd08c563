//! `jury serve`: the web server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::store::DEFAULT_DATABASE_URL;
use crate::web::{ServeOptions, serve};

#[derive(Debug, clap::Args)]
#[command(
    about = "Serve the leaderboard, battles, question sets, runs and human voting in the browser",
    long_about = "Serves jury's pages and JSON API from one database:\n\n\
        /           leaderboards (judge, human, combined) with 95% intervals, filters and charts\n\
        /battles    every battle, with both answers and the judge's reviews\n\
        /questions  question sets: upload (JSONL or CSV), view, delete; upload answers made elsewhere\n\
        /runs       start an arena round (question set, candidates, mode, judge, dry run), watch it, cancel it\n\
        /vote       anonymous side-by-side battles decided by people\n\
        /api/...    the same as JSON (see README.md)\n\n\
        On an empty database the demo question set is added. Without JURY_ADMIN_TOKEN anyone who can \
        reach the address can upload, delete and start runs, so the default address is 127.0.0.1. \
        Runs keep going when the page is closed; on Ctrl-C or SIGTERM the current run stores its work \
        and resumes at the next start.",
    after_help = "Examples:\n  jury serve\n  JURY_ADMIN_TOKEN=s3cret jury serve --addr 0.0.0.0:8080 --db sqlite:///var/lib/jury/jury.db"
)]
pub struct ServeArgs {
    /// Address to listen on
    #[arg(long, env = "JURY_ADDR", default_value = "127.0.0.1:8080", value_name = "HOST:PORT")]
    addr: SocketAddr,

    /// Database URL (SQLite: sqlite://PATH)
    #[arg(long, env = "JURY_DATABASE_URL", default_value = DEFAULT_DATABASE_URL, value_name = "URL")]
    db: String,

    /// Token that uploads, deletions and runs require (Authorization: Bearer for the API, a
    /// sign-in for pages); reading and voting stay open
    #[arg(long, env = "JURY_ADMIN_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    admin_token: Option<String>,

    /// Folder for the files of runs started from the web
    #[arg(long, env = "JURY_DATA_DIR", default_value = "jury-data", value_name = "DIR")]
    data_dir: PathBuf,

    /// The shipped configs and demo data
    #[arg(long, env = "JURY_REGISTRY", default_value = "registry", value_name = "DIR")]
    registry: PathBuf,

    /// Largest upload accepted, in bytes
    #[arg(long, env = "JURY_MAX_UPLOAD_BYTES", default_value_t = 10 * 1024 * 1024, value_name = "BYTES")]
    max_upload_bytes: usize,

    /// Votes per client per minute (0: no limit)
    #[arg(long, env = "JURY_VOTES_PER_MINUTE", default_value_t = 30, value_name = "N")]
    votes_per_minute: u32,

    /// Requests in flight at once in a run
    #[arg(long, default_value_t = 8, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    concurrency: u32,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    serve(ServeOptions {
        addr: args.addr,
        db: args.db,
        admin_token: args.admin_token,
        data_dir: args.data_dir,
        registry_dir: args.registry,
        max_upload_bytes: args.max_upload_bytes,
        votes_per_minute: args.votes_per_minute,
        concurrency: args.concurrency as usize,
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}
