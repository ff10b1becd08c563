//! `jury import battles`: verdicts made elsewhere (people's or a judge's) into a database.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::import::battles::ImportError;
use crate::import::{ImportOptions, ImportSummary, Source, import_battles};
use crate::input::{BadInput, Problem};
use crate::store::{DEFAULT_DATABASE_URL, Store};

#[derive(Debug, clap::Args)]
#[command(about = "Import verdicts made elsewhere into a database")]
pub struct ImportArgs {
    #[command(subcommand)]
    what: ImportCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ImportCommand {
    Battles(BattlesArgs),
}

#[derive(Debug, clap::Args)]
#[command(
    about = "Import human or judge verdicts on stored answers (FastChat battles, MT-Bench judgments, llmuses reviews)",
    long_about = "Imports verdicts on pairs of answers the database already holds, so that people's judgments \
        made elsewhere count as votes (and measure the judges: see `jury rate --db`), or a judge's verdicts \
        count as its battles.\n\n\
        Files: FastChat clean battle JSON or MT-Bench judgments (a JSON array or JSON Lines of {question_id, \
        model_a, model_b, winner, judge?, turn?}), or llmuses review JSONL ({question_id, model_a, model_b, win} \
        or {win_1, win_2}, where a disagreement is a tie).\n\n\
        Each record is bound to the stored question with its question_id (within --question-set when ids \
        repeat across sets) and to the latest stored answer of each model to it. Records that name a \
        question, model or answer the database does not hold are counted and listed, never guessed. \
        Second-turn verdicts (MT-Bench's turn 2), unknown verdicts and single-answer scores are counted \
        and skipped. Several votes on the same pair and question are several votes; importing the same \
        file again adds nothing.\n\n\
        Exit codes: 0 imported (unmatched records are reported, not errors), 2 bad input.",
    after_help = "Examples:\n  jury import battles mt_bench_human_judgments.json --db sqlite://jury.db --question-set mt_bench\n  \
        jury import battles gpt4_pair.jsonl --source judge --judge gpt-4 --db sqlite://jury.db"
)]
struct BattlesArgs {
    /// Verdict files (JSON array or JSON Lines)
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,

    /// Database URL: sqlite://PATH, or postgres://USER:PASSWORD@HOST:PORT/DATABASE; it must exist and hold the questions and answers
    #[arg(long, env = "JURY_DATABASE_URL", default_value = DEFAULT_DATABASE_URL, value_name = "URL")]
    db: String,

    /// Whose verdicts these are
    #[arg(long, value_enum, default_value_t = Source::Human)]
    source: Source,

    /// With --source judge: the judge's name (default: each record's `judge`)
    #[arg(long, value_name = "NAME")]
    judge: Option<String>,

    /// Bind question ids within this question set (by name)
    #[arg(long, value_name = "NAME")]
    question_set: Option<String>,

    /// Print the summary as JSON
    #[arg(long)]
    json: bool,
}

pub async fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let ImportCommand::Battles(args) = args.what;
    if args.judge.is_some() && args.source == Source::Human {
        return Err(BadInput::one(Problem::new("--judge names the judge of --source judge verdicts")).into());
    }
    let mut files = Vec::new();
    for path in &args.files {
        let text = std::fs::read_to_string(path)
            .map_err(|e| BadInput::one(Problem::new(format!("cannot read: {e}")).in_file(path)))?;
        files.push((path.display().to_string(), text));
    }
    // Verdicts are bound to stored answers: a mistyped path is an error, not a new database.
    let store = Store::connect_existing(&args.db).await?;
    let options = ImportOptions { source: args.source, judge: args.judge.clone(), question_set: args.question_set };
    let summary = match import_battles(&store, &files, &options).await {
        Ok(summary) => summary,
        Err(ImportError::BadInput(bad)) => return Err(bad.into()),
        Err(ImportError::Store(e)) => return Err(e.into()),
    };
    store.close().await;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_summary(&summary);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_summary(s: &ImportSummary) {
    println!(
        "{} records: {} imported, {} already there, {} unmatched",
        s.records, s.imported, s.already_imported, s.unmatched
    );
    for (count, what) in [
        (s.unknown_verdicts, "with an unknown verdict"),
        (s.later_turns, "about a second turn (jury stores first-turn answers)"),
        (s.single_scores, "single-answer scores (not battles)"),
    ] {
        if count > 0 {
            println!("skipped {count} {what}");
        }
    }
    for u in &s.unmatched_records {
        println!("unmatched: {} {}: {}", u.file, u.place, u.reason);
    }
    if s.unmatched > s.unmatched_records.len() {
        println!("… and {} more unmatched", s.unmatched - s.unmatched_records.len());
    }
}
