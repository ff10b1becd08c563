//! `jury db`: the database itself — bring its schema up to date, or copy it to another
//! database (SQLite to PostgreSQL when a team outgrows one machine).

use std::io::IsTerminal;
use std::process::ExitCode;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::store::copy::CopyError;
use crate::store::{DEFAULT_DATABASE_URL, Store, redact};

#[derive(Debug, clap::Args)]
#[command(about = "Migrate a database, or copy one to another (SQLite ⇄ PostgreSQL)")]
pub struct DbArgs {
    #[command(subcommand)]
    what: DbCommand,
}

#[derive(Debug, clap::Subcommand)]
enum DbCommand {
    Migrate(MigrateArgs),
    Copy(CopyArgs),
}

#[derive(Debug, clap::Args)]
#[command(
    about = "Create the database if needed and apply every migration it lacks",
    long_about = "Creates the database if it does not exist and applies the migrations it lacks (every jury \
        command does this when it opens a database; run it on its own before starting a fleet of new \
        versions). Prints the schema version reached.",
    after_help = "Examples:\n  jury db migrate --db sqlite://jury.db\n  jury db migrate --db postgres://jury:secret@db.internal/jury"
)]
struct MigrateArgs {
    /// Database URL: sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE
    #[arg(long, env = "JURY_DATABASE_URL", default_value = DEFAULT_DATABASE_URL, value_name = "URL")]
    db: String,
}

#[derive(Debug, clap::Args)]
#[command(
    about = "Copy every row of one database into another, empty one, and check the copy by counts",
    long_about = "Copies every table (runs, question sets, questions, models, answers, judgments, battles, \
        votes, benchmark requests and samples, load-test requests) from one database to another of either \
        dialect, keeping every id, then counts each table on both sides. The target is created and \
        migrated if needed and must hold no rows. Stop writers to the source while it copies.\n\n\
        Exit codes: 0 copied and the counts agree, 1 the copy failed or a count differs, 2 bad input \
        (a missing source, a non-empty target, an unsupported URL).",
    after_help = "Examples:\n  jury db copy --from sqlite://jury.db --to postgres://jury:secret@db.internal/jury"
)]
struct CopyArgs {
    /// The database to copy (it must exist)
    #[arg(long, value_name = "URL")]
    from: String,

    /// The database to copy into (created if missing; it must be empty)
    #[arg(long, value_name = "URL")]
    to: String,

    /// Print the counts as JSON
    #[arg(long)]
    json: bool,

    /// Draw no progress bar
    #[arg(long)]
    no_progress: bool,
}

pub async fn run(args: DbArgs, bars: MultiProgress) -> anyhow::Result<ExitCode> {
    match args.what {
        DbCommand::Migrate(args) => migrate(args).await,
        DbCommand::Copy(args) => copy(args, bars).await,
    }
}

async fn migrate(args: MigrateArgs) -> anyhow::Result<ExitCode> {
    let store = Store::connect(&args.db).await?;
    let version = store.schema_version().await?;
    println!("{} database {} is at schema version {version}", store.dialect().name(), redact(&args.db));
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

async fn copy(args: CopyArgs, bars: MultiProgress) -> anyhow::Result<ExitCode> {
    if args.from == args.to {
        return Err(
            crate::input::BadInput::one(crate::input::Problem::new("--from and --to name the same database")).into()
        );
    }
    let source = Store::connect_existing(&args.from).await?;
    let target = Store::connect(&args.to).await?;
    let bar = (!args.no_progress && std::io::stderr().is_terminal()).then(|| {
        bars.add(ProgressBar::new(0).with_style(
            ProgressStyle::with_template("{msg:>14} [{bar:30}] {pos}/{len} rows").expect("a valid template"),
        ))
    });
    let counts = source
        .copy_to(&target, |table, done, total| {
            if let Some(bar) = &bar {
                bar.set_message(table.to_string());
                bar.set_length(total.max(0) as u64);
                bar.set_position(done.max(0) as u64);
            }
        })
        .await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let counts = match counts {
        Ok(counts) => counts,
        Err(e @ CopyError::TargetNotEmpty(_)) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
        Err(e) => return Err(e.into()),
    };
    let differ: Vec<_> = counts.iter().filter(|c| c.source != c.target).collect();
    if args.json {
        println!("{}", serde_json::json!({"tables": counts, "ok": differ.is_empty()}));
    } else {
        println!("{:<16} {:>10} {:>10}", "table", "source", "target");
        for c in &counts {
            println!(
                "{:<16} {:>10} {:>10}{}",
                c.table,
                c.source,
                c.target,
                if c.source == c.target { "" } else { "  ≠" }
            );
        }
    }
    source.close().await;
    target.close().await;
    if differ.is_empty() {
        eprintln!("copied {} to {}: every table's count agrees", redact(&args.from), redact(&args.to));
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("error: the copy differs from the source in {} table(s)", differ.len());
        Ok(ExitCode::from(1))
    }
}
