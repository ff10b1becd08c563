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
        reach the address can upload, delete and start runs, so the default address is 127.0.0.1 \
        (and only loopback host names are answered to). API writes need an `X-Requested-With` \
        header (or the bearer token), so no other site can make them through a browser. Judges for \
        web runs come from --judges FILE. \
        Runs keep going when the page is closed; on Ctrl-C or SIGTERM the current run stores its work \
        and resumes at the next start.",
    after_help = "Examples:\n  jury serve\n  JURY_ADMIN_TOKEN=s3cret jury serve --addr 0.0.0.0:8080 --db sqlite:///var/lib/jury/jury.db"
)]
pub struct ServeArgs {
    /// Address to listen on
    #[arg(long, env = "JURY_ADDR", default_value = "127.0.0.1:8080", value_name = "HOST:PORT")]
    addr: SocketAddr,

    /// Database URL: sqlite://PATH, or postgres://USER:PASSWORD@HOST:PORT/DATABASE
    #[arg(long, env = "JURY_DATABASE_URL", default_value = DEFAULT_DATABASE_URL, value_name = "URL")]
    db: String,

    /// Token that uploads, deletions and runs require (Authorization: Bearer for the API, a
    /// sign-in for pages); reading and voting stay open
    #[arg(long, env = "JURY_ADMIN_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    admin_token: Option<String>,

    /// A secret the sessions, form tokens and voters' pseudonyms are signed with; give every
    /// replica the same. Without it a key kept in the database is used, which anyone able to
    /// read the database could use to tie votes to addresses
    #[arg(long, env = "JURY_SECRET_KEY", hide_env_values = true, value_name = "SECRET")]
    secret_key: Option<String>,

    /// Folder for the files of runs started from the web
    #[arg(long, env = "JURY_DATA_DIR", default_value = "jury-data", value_name = "DIR")]
    data_dir: PathBuf,

    /// The shipped configs and demo data [default: ./registry, else the one beside the jury
    /// binary, else the one of the source tree it was built from]
    #[arg(long, env = "JURY_REGISTRY", value_name = "DIR")]
    registry: Option<PathBuf>,

    /// Largest upload accepted, in bytes
    #[arg(long, env = "JURY_MAX_UPLOAD_BYTES", default_value_t = 10 * 1024 * 1024, value_name = "BYTES")]
    max_upload_bytes: usize,

    /// Votes per client per minute (0: no limit)
    #[arg(long, env = "JURY_VOTES_PER_MINUTE", default_value_t = 30, value_name = "N")]
    votes_per_minute: u32,

    /// Requests in flight at once in a run
    #[arg(long, default_value_t = 8, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    concurrency: u32,

    /// YAML file listing the judges web runs may use (name, model, api_base, api_key_env); a
    /// run picks one by name and never names an endpoint or key variable itself
    #[arg(long, env = "JURY_JUDGES", value_name = "FILE")]
    judges: Option<PathBuf>,

    /// Behind a reverse proxy: the header it puts the client's address in (X-Forwarded-For,
    /// X-Real-IP), used for vote and sign-in limits; only set it when a proxy you trust sets it
    #[arg(long, env = "JURY_CLIENT_IP_HEADER", value_name = "HEADER")]
    client_ip_header: Option<String>,

    /// Mark cookies Secure (the site is served over HTTPS); behind a proxy named by
    /// --client-ip-header, `X-Forwarded-Proto: https` does the same per request
    #[arg(long, env = "JURY_SECURE_COOKIES")]
    secure_cookies: bool,

    /// Host names the site is reached by (comma-separated); requests naming other hosts are
    /// refused. On a loopback address loopback names are always allowed
    #[arg(long, env = "JURY_ALLOWED_HOSTS", value_name = "HOSTS", value_delimiter = ',')]
    allowed_hosts: Vec<String>,

    /// Where evals started from the pages read their benchmark files (see `jury eval --list`)
    #[arg(long, env = "JURY_DATASET_DIR", default_value = "datasets", value_name = "DIR")]
    dataset_dir: PathBuf,

    /// A local GGUF model served on the OpenAI-compatible /v1 under NAME (repeatable); the demo
    /// model is served as smollm2-135m-instruct
    #[arg(long = "model", value_name = "NAME=PATH", value_parser = parse_served_model)]
    models: Vec<(String, PathBuf)>,

    /// Keys callers of /v1 must give as Bearer tokens, comma-separated (without any: callers on
    /// this machine only)
    #[arg(
        long,
        env = "JURY_API_KEYS",
        hide_env_values = true,
        value_delimiter = ',',
        value_name = "KEYS",
        hide = true
    )]
    api_keys: Vec<String>,

    /// Requests one /v1 model admits at once, running and waiting; more are answered 429 with Retry-After
    #[arg(long, default_value_t = 16, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    queue_size: u32,

    /// Serve only the OpenAI-compatible /v1 over the local models: a model server, with no pages,
    /// no other API and no background runs
    #[arg(long)]
    models_only: bool,

    /// Run no queued runs in this process: leave them to `jury worker` processes (or other
    /// servers) on the same database
    #[arg(long)]
    no_worker: bool,
}

/// `NAME=PATH` of `--model`.
pub(super) fn parse_served_model(text: &str) -> Result<(String, PathBuf), String> {
    let (name, path) = text.split_once('=').ok_or_else(|| format!("expected NAME=PATH, got {text:?}"))?;
    let (name, path) = (name.trim(), path.trim());
    if name.is_empty() || path.is_empty() {
        return Err(format!("expected NAME=PATH, got {text:?}"));
    }
    Ok((name.to_string(), PathBuf::from(path)))
}

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let judges = match &args.judges {
        Some(file) => crate::web::judges::load_judges(file)?,
        None => Vec::new(),
    };
    serve(ServeOptions {
        addr: args.addr,
        db: args.db,
        admin_token: args.admin_token,
        secret_key: args.secret_key,
        data_dir: args.data_dir,
        registry_dir: args.registry.unwrap_or_else(find_registry),
        max_upload_bytes: args.max_upload_bytes,
        votes_per_minute: args.votes_per_minute,
        concurrency: args.concurrency as usize,
        judges,
        client_ip_header: args.client_ip_header,
        secure_cookies: args.secure_cookies,
        allowed_hosts: args.allowed_hosts,
        dataset_dir: args.dataset_dir,
        models: args.models,
        api_keys: args.api_keys,
        queue_size: args.queue_size as usize,
        models_only: args.models_only,
        no_worker: args.no_worker,
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// The shipped registry: in the working folder, beside the binary (or a few folders up, as
/// from target/release/jury), or in the source tree the binary was built from. Without one
/// the server still starts, with the built-in demo questions, and says where it looked.
fn find_registry() -> PathBuf {
    let mut places = vec![PathBuf::from("registry")];
    if let Some(dir) = std::env::current_exe().ok().and_then(|e| e.parent().map(PathBuf::from)) {
        places.extend(dir.ancestors().take(4).map(|d| d.join("registry")));
    }
    places.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("registry"));
    if let Some(found) = places.iter().find(|p| p.join("config").is_dir()) {
        return found.clone();
    }
    let looked: Vec<String> = places.iter().map(|p| p.display().to_string()).collect();
    tracing::warn!(
        "no registry found (looked in {}): serving the built-in demo questions without shipped models; \
         pass --registry DIR",
        looked.join(", ")
    );
    places.swap_remove(0)
}
