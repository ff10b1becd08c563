//! `jury eval`: rule-based benchmarks scored by a local model.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use indicatif::MultiProgress;
use serde_json::{Value, json};

use super::tables::{right, table};
use crate::eval::datasets::Dataset;
use crate::eval::{EvalOptions, EvalReport, plan_tasks};
use crate::input::{BadInput, Problem, Problems};
use crate::store::{DEFAULT_DATABASE_URL, RunStatus, Store};

#[derive(Debug, clap::Args)]
#[command(
    about = "Run rule-based benchmarks (ARC, MMLU) on a local model, lm-evaluation-harness style",
    long_about = "Scores a local GGUF model on benchmarks read from local files in their official \
        layouts (nothing is downloaded), with lm-evaluation-harness's prompts and metrics: each \
        choice's log-likelihood after the prompt, from one forward pass of the model over prompt \
        and choice.\n\n\
        Every model request is stored in the database the moment it returns, keyed by the model \
        file's identity and the request: kill an eval anywhere and run it again, and nothing \
        answered is asked twice; a finished eval re-runs in seconds.\n\n\
        --output DIR writes results.json (lm-evaluation-harness's layout and names) and \
        samples_<task>.jsonl (one line per document: prompt, choices, log-likelihoods, prediction).\n\n\
        Exit codes: 0 success, 1 the eval failed, 2 bad input (arguments, data files).",
    after_help = "Examples:\n  jury eval --list\n  \
        jury eval --model models/SmolLM2-135M-Instruct.Q4_1.gguf --datasets arc_easy mmlu --dataset-dir ../shared/datasets --limit 50\n  \
        jury eval --model my.gguf --datasets mmlu --dataset-args '{\"mmlu\": {\"subset_list\": [\"anatomy\"], \"few_shot_num\": 0}}'"
)]
pub struct EvalArgs {
    /// The model: a local GGUF file, or a folder holding one
    #[arg(long, value_name = "GGUF", required_unless_present = "list")]
    model: Option<String>,

    /// Datasets to run (see --list)
    #[arg(long, num_args = 1.., value_name = "NAME", required_unless_present = "list")]
    datasets: Vec<String>,

    /// The folder holding the datasets in their official layouts (see --list)
    #[arg(long, env = "JURY_DATASET_DIR", default_value = "datasets", value_name = "DIR")]
    dataset_dir: PathBuf,

    /// Per-dataset settings as JSON, as EvalScope's dataset_args:
    /// {"mmlu": {"subset_list": ["anatomy"], "few_shot_num": 5, "local_path": "DIR"}}
    #[arg(long, value_name = "JSON")]
    dataset_args: Option<String>,

    /// Score only the first N documents of each task
    #[arg(long, value_name = "N")]
    limit: Option<usize>,

    /// Few-shot examples before each question, for every dataset (default: each dataset's own)
    #[arg(long, value_name = "N")]
    few_shot: Option<usize>,

    /// Write results.json and samples_<task>.jsonl here
    #[arg(long, visible_alias = "outputs", value_name = "DIR")]
    output: Option<PathBuf>,

    /// Database URL (SQLite: sqlite://PATH)
    #[arg(long, env = "JURY_DATABASE_URL", default_value = DEFAULT_DATABASE_URL, value_name = "URL")]
    db: String,

    /// Print results.json on stdout instead of tables
    #[arg(long)]
    json: bool,

    /// Draw no progress bars
    #[arg(long)]
    no_progress: bool,

    /// List the datasets, their metrics, default shots and where their files are expected
    #[arg(long)]
    list: bool,
}

/// What `--dataset-args` may say about one dataset.
#[derive(Debug, Clone, Default)]
struct DatasetArgs {
    subsets: Vec<String>,
    shots: Option<usize>,
    dir: Option<PathBuf>,
}

pub async fn run(args: EvalArgs, bars: MultiProgress) -> anyhow::Result<ExitCode> {
    if args.list {
        print_list();
        return Ok(ExitCode::SUCCESS);
    }
    let datasets = parse_datasets(&args.datasets)?;
    let extra = parse_dataset_args(args.dataset_args.as_deref(), &datasets)?;
    let plan: Vec<_> = datasets
        .iter()
        .map(|d| {
            let a = extra.get(d.name()).cloned().unwrap_or_default();
            (*d, a.subsets, args.few_shot.or(a.shots), a.dir.unwrap_or_else(|| args.dataset_dir.clone()))
        })
        .collect();
    let tasks = plan_tasks(&plan, args.limit)?;
    let model_arg = args.model.clone().unwrap_or_default();
    let path = crate::spec::resolve_local_model(&model_arg, std::path::Path::new("."))
        .map_err(|e| BadInput::from(Problem::new(e.to_string()).at_key("--model")))?;
    let store = Store::connect(&args.db).await.with_context(|| format!("cannot open the database {}", args.db))?;
    let config = json!({"model": model_arg, "datasets": args.datasets, "dataset_dir": args.dataset_dir,
                        "limit": args.limit, "few_shot": args.few_shot, "dataset_args": args.dataset_args});
    let run_id = store.create_run("eval", &config.to_string(), None, false).await?;
    let outcome = evaluate(&args, &path, &tasks, &store, run_id, bars).await;
    let (status, summary, error) = match &outcome {
        Ok(report) => (RunStatus::Succeeded, Some(report.to_string()), None),
        Err(e) => (RunStatus::Failed, None, Some(format!("{e:#}"))),
    };
    store.finish_run(run_id, status, summary.as_deref(), error.as_deref()).await?;
    store.close().await;
    match outcome {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("error: {e:#}");
            Ok(ExitCode::from(1))
        }
    }
}

/// Loads the model, scores every task, prints and writes the report; its JSON.
async fn evaluate(
    args: &EvalArgs,
    path: &std::path::Path,
    tasks: &[crate::eval::PlannedTask],
    store: &Store,
    run_id: i64,
    bars: MultiProgress,
) -> anyhow::Result<Value> {
    #[cfg(not(feature = "local"))]
    {
        let _ = (args, tasks, store, run_id, bars);
        anyhow::bail!(
            "{}: this jury was built without local model support (the `local` cargo feature)",
            path.display()
        );
    }
    #[cfg(feature = "local")]
    {
        if crate::llm::demo::is_demo_model_path(path) {
            crate::llm::demo::ensure_demo_model(path)?;
        }
        let identity = crate::spec::ModelSpec::Local { path: path.to_path_buf() }.identity();
        let scorer = crate::llm::scoring::LocalScorer::load(path).await?;
        let show_progress = !args.no_progress && std::io::stderr().is_terminal();
        let options = EvalOptions { progress: show_progress.then_some(bars), cancel: None };
        let (results, summary) =
            crate::eval::run_eval(scorer.as_ref(), &identity, tasks, store, run_id, &options).await?;
        let report = EvalReport::new(path.display().to_string(), identity, results);
        let mut json = report.lm_eval_json();
        json["jury"] = json!({"run_id": run_id, "requests": summary.requests, "cache_hits": summary.cache_hits,
                              "asked": summary.asked, "seconds": summary.seconds,
                              "docs_per_second": summary.docs_per_second, "method": "loglikelihood"});
        if let Some(dir) = &args.output {
            report.write(dir).with_context(|| format!("cannot write the report to {}", dir.display()))?;
        }
        if args.json {
            println!("{}", serde_json::to_string_pretty(&json)?);
        } else {
            print_report(&report);
            eprintln!(
                "{} requests: {} from the cache, {} asked; {:.1} s ({:.1} documents/s)",
                summary.requests, summary.cache_hits, summary.asked, summary.seconds, summary.docs_per_second
            );
        }
        Ok(json)
    }
}

fn parse_datasets(names: &[String]) -> Result<Vec<Dataset>, BadInput> {
    let mut problems = Problems::default();
    let mut out = Vec::new();
    for name in names {
        match Dataset::parse(name) {
            Some(d) if !out.contains(&d) => out.push(d),
            Some(_) => {}
            None => problems.push(
                Problem::new(format!(
                    "unknown dataset {name:?}: choose from {}",
                    Dataset::ALL.map(Dataset::name).join(", ")
                ))
                .at_key("--datasets"),
            ),
        }
    }
    problems.into_result()?;
    Ok(out)
}

/// EvalScope's `dataset_args`: per dataset `subset_list`, `few_shot_num`, `local_path`.
fn parse_dataset_args(text: Option<&str>, datasets: &[Dataset]) -> Result<HashMap<String, DatasetArgs>, BadInput> {
    let mut out = HashMap::new();
    let Some(text) = text else { return Ok(out) };
    let bad = |key: String, message: String| BadInput::from(Problem::new(message).at_key(key));
    let value: Value =
        serde_json::from_str(text).map_err(|e| bad("--dataset-args".into(), format!("not valid JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(bad("--dataset-args".into(), "expected a JSON object of datasets".into()));
    };
    let mut problems = Problems::default();
    for (name, settings) in map {
        let key = format!("--dataset-args.{name}");
        let Some(dataset) = Dataset::parse(&name) else {
            problems.push(Problem::new(format!("unknown dataset {name:?}")).at_key(key));
            continue;
        };
        if !datasets.contains(&dataset) {
            eprintln!("warning: {key}: {name} is not among --datasets; ignored");
        }
        let Value::Object(settings) = settings else {
            problems.push(Problem::new("expected an object of settings").at_key(key));
            continue;
        };
        let mut args = DatasetArgs::default();
        for (k, v) in settings {
            match (k.as_str(), v) {
                ("subset_list", Value::Array(items)) => {
                    for item in items {
                        match item {
                            Value::String(s) => args.subsets.push(s),
                            other => problems.push(
                                Problem::new(format!("expected subset names, got {other}"))
                                    .at_key(format!("{key}.subset_list")),
                            ),
                        }
                    }
                }
                ("few_shot_num", Value::Number(n)) if n.as_u64().is_some() => {
                    args.shots = n.as_u64().map(|n| n as usize)
                }
                ("local_path", Value::String(s)) => args.dir = Some(PathBuf::from(s)),
                ("subset_list" | "few_shot_num" | "local_path", other) => {
                    problems.push(Problem::new(format!("unexpected value {other}")).at_key(format!("{key}.{k}")))
                }
                (other, _) => eprintln!("warning: {key}.{other}: unknown setting, ignored"),
            }
        }
        out.insert(dataset.name().to_string(), args);
    }
    problems.into_result()?;
    Ok(out)
}

fn print_list() {
    let mut t = table(&["dataset", "subsets", "metrics", "default shots", "files under --dataset-dir"]);
    for d in Dataset::ALL {
        let subsets = match d {
            Dataset::Mmlu => format!("{} subjects", crate::eval::datasets::mmlu::SUBJECTS.len()),
            _ => "-".into(),
        };
        t.add_row(vec![
            comfy_table::Cell::new(d.name()),
            comfy_table::Cell::new(subsets),
            comfy_table::Cell::new(d.metrics()),
            right(d.default_shots()),
            comfy_table::Cell::new(d.expected_layout()),
        ]);
    }
    println!("{t}");
}

fn print_report(report: &EvalReport) {
    let pct = |x: f64| format!("{:.2}", 100.0 * x);
    let se = |x: Option<f64>| x.map(|v| format!("±{:.2}", 100.0 * v)).unwrap_or_else(|| "-".into());
    let mut t = table(&["task", "shots", "n", "acc %", "stderr", "acc_norm %", "stderr"]);
    for task in &report.tasks {
        t.add_row(vec![
            comfy_table::Cell::new(&task.name),
            right(task.shots),
            right(task.n),
            right(pct(task.acc)),
            right(se(task.acc_stderr)),
            right(task.acc_norm.map(pct).unwrap_or_else(|| "-".into())),
            right(se(task.acc_norm_stderr)),
        ]);
    }
    println!("{t}");
    if !report.groups.is_empty() {
        let mut g = table(&["group", "tasks", "n", "WeightedAvg %", "stderr", "Avg %"]);
        for group in &report.groups {
            g.add_row(vec![
                comfy_table::Cell::new(&group.name),
                right(group.tasks),
                right(group.n),
                right(pct(group.acc)),
                right(se(group.acc_stderr)),
                right(pct(group.macro_acc)),
            ]);
        }
        println!("{g}");
    }
}
