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
use crate::eval::job::{EvalTarget, QueuedEval, QueuedPlan};
use crate::eval::{DatasetPlan, EvalOptions, EvalReport, plan_tasks};
use crate::input::{BadInput, Problem, Problems};
use crate::store::{DEFAULT_DATABASE_URL, RunStatus, Store};

#[derive(Debug, clap::Args)]
#[command(
    about = "Run rule-based benchmarks (ARC, MMLU, GSM8K) on a model, lm-evaluation-harness style",
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
    /// An EvalScope task config (YAML or JSON: model, datasets, dataset_args, dataset_dir,
    /// limit, work_dir, use_cache, ...); flags given beside it win
    #[arg(short = 'c', long = "config", value_name = "TASK.yaml")]
    config: Option<PathBuf>,

    /// The model: a local GGUF file, or a folder holding one
    #[arg(long, value_name = "GGUF")]
    model: Option<String>,

    /// Datasets to run (see --list)
    #[arg(long, num_args = 1.., value_name = "NAME")]
    datasets: Vec<String>,

    /// The folder holding the datasets in their official layouts (see --list) [default: datasets]
    #[arg(long, env = "JURY_DATASET_DIR", value_name = "DIR")]
    dataset_dir: Option<PathBuf>,

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
    #[arg(long, visible_alias = "outputs", alias = "work-dir", value_name = "DIR")]
    output: Option<PathBuf>,

    /// Score with an OpenAI-compatible server instead of a file: its base URL (…/v1). It must
    /// echo prompts with log-probabilities on /v1/completions (vLLM does)
    #[arg(long, value_name = "URL")]
    api_url: Option<String>,

    /// The model the server serves (with --api-url; --model works too)
    #[arg(long, value_name = "NAME")]
    model_name: Option<String>,

    /// The variable holding the server's API key (with --api-url)
    #[arg(long, value_name = "VAR")]
    api_key_env: Option<String>,

    /// Take answered requests from the cache (false: ask them all again)
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
    use_cache: Option<bool>,

    /// A claimed score to compare with, as a fraction or a percentage (TASK=SCORE, repeatable):
    /// adds Target and Delta columns
    #[arg(long = "target", value_name = "TASK=SCORE")]
    targets: Vec<String>,

    /// EvalScope's spelling: only Local is possible (jury downloads nothing)
    #[arg(long, value_name = "HUB")]
    dataset_hub: Option<String>,

    /// Accepted for EvalScope command lines: every request is cached in the database anyway
    #[arg(long)]
    mem_cache: bool,

    /// Accepted for EvalScope command lines and ignored: the GGUF file carries its chat template
    #[arg(long, value_name = "NAME")]
    template_type: Option<String>,

    /// Accepted for EvalScope command lines and ignored: the GGUF file fixes weights and precision
    #[arg(long, value_name = "K=V,...")]
    model_args: Option<String>,

    /// Database URL: sqlite://PATH, or postgres://USER:PASSWORD@HOST:PORT/DATABASE
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

    /// Queue the eval for the workers on the database (`jury worker`, or `jury serve`'s own)
    /// instead of running it here, and print its id. The workers read the model and dataset
    /// files at the same paths, and an endpoint's key from --api-key-env where they run
    #[arg(long, conflicts_with_all = ["output", "targets"])]
    submit: bool,

    /// With --submit: follow the eval's progress and exit as it ends (0 succeeded, 1 otherwise;
    /// --json prints its results.json)
    #[arg(long, requires = "submit")]
    wait: bool,
}

/// What `--dataset-args` may say about one dataset.
#[derive(Debug, Clone, Default)]
struct DatasetArgs {
    subsets: Vec<String>,
    shots: Option<usize>,
    dir: Option<PathBuf>,
    samples: Option<usize>,
}

/// The settings of one eval: the task config's, with the flags laid over them.
struct Settings {
    model: String,
    /// Where a relative model path resolves from.
    model_base: PathBuf,
    datasets: Vec<String>,
    dataset_dir: PathBuf,
    dataset_args: Option<Value>,
    limit: Option<usize>,
    output: Option<PathBuf>,
    use_cache: bool,
    targets: Vec<(String, f64)>,
    /// An endpoint's base URL and key, when the model is served rather than a file.
    endpoint: Option<(String, Option<String>)>,
    /// Where relative paths in `dataset_args` resolve.
    args_base: PathBuf,
}

fn settings(args: &EvalArgs) -> Result<Settings, BadInput> {
    let task = match &args.config {
        Some(file) => crate::config::load_eval_task(file)?,
        None => crate::config::EvalTask::default(),
    };
    for warning in &task.warnings {
        eprintln!("warning: {warning}");
    }
    for (given, note) in [
        (args.mem_cache, "--mem-cache: every request is cached in the database anyway"),
        (args.template_type.is_some(), "--template-type: ignored: the GGUF file carries its chat template"),
        (args.model_args.is_some(), "--model-args: ignored: the GGUF file fixes the weights and their precision"),
    ] {
        if given {
            eprintln!("warning: {note}");
        }
    }
    if let Some(hub) = &args.dataset_hub
        && !hub.eq_ignore_ascii_case("local")
    {
        return Err(Problem::new(format!("{hub}: jury downloads nothing; use Local and --dataset-dir"))
            .at_key("--dataset-hub")
            .into());
    }
    let named = args.model_name.as_ref().or(args.model.as_ref());
    let (model, model_base) = match (named, &task.model) {
        (Some(m), _) => (m.clone(), PathBuf::from(".")),
        (None, Some(m)) => (m.clone(), task.base_dir.clone()),
        (None, None) => {
            return Err(Problem::new(
                "name the model: --model FILE.gguf, or --api-url URL with --model-name NAME (or model: in the task config)",
            )
            .into());
        }
    };
    let endpoint = match args.api_url.clone().or_else(|| task.api_url.clone()) {
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
            let key =
                match &args.api_key_env {
                    // A queued eval's key is read where it runs.
                    Some(_) if args.submit => None,
                    Some(var) => Some(std::env::var(var).map_err(|_| {
                        BadInput::from(Problem::new(format!("{var} is not set")).at_key("--api-key-env"))
                    })?),
                    None => task.api_key.clone(),
                };
            // EvalScope's api_url names the chat endpoint; scoring uses the completions one beside it.
            let base = url.trim_end_matches('/').trim_end_matches("/chat/completions").trim_end_matches("/completions");
            Some((base.to_string(), key))
        }
        Some(url) => {
            return Err(Problem::new(format!("expected an http:// or https:// URL, got {url:?}"))
                .at_key("--api-url")
                .into());
        }
        None => None,
    };
    let datasets = if args.datasets.is_empty() { task.datasets.clone() } else { args.datasets.clone() };
    if datasets.is_empty() {
        return Err(Problem::new("name the datasets: --datasets NAME... (see jury eval --list)").into());
    }
    let (dataset_args, args_base) =
        match (&args.dataset_args, &task.dataset_args) {
            (Some(text), _) => (
                Some(serde_json::from_str(text).map_err(|e| {
                    BadInput::from(Problem::new(format!("not valid JSON: {e}")).at_key("--dataset-args"))
                })?),
                PathBuf::from("."),
            ),
            (None, v) => (v.clone(), task.base_dir.clone()),
        };
    if args.model_name.is_some() && args.api_url.is_none() && task.api_url.is_none() {
        return Err(Problem::new("--model-name names a served model: it goes with --api-url")
            .at_key("--model-name")
            .into());
    }
    let use_cache = args.use_cache.unwrap_or(match &task.use_cache {
        Some(serde_yaml::Value::Bool(b)) => *b,
        Some(serde_yaml::Value::String(s)) => !s.eq_ignore_ascii_case("false"),
        _ => true,
    });
    let from_task = |d: &Option<String>| d.as_deref().map(|d| task.path(d));
    Ok(Settings {
        model,
        model_base,
        datasets,
        dataset_dir: args
            .dataset_dir
            .clone()
            .or_else(|| from_task(&task.dataset_dir))
            .unwrap_or_else(|| PathBuf::from("datasets")),
        dataset_args,
        limit: args.limit.or(task.limit),
        output: args.output.clone().or_else(|| from_task(&task.outputs)).or_else(|| from_task(&task.work_dir)),
        use_cache,
        targets: parse_targets(&args.targets)?,
        endpoint,
        args_base,
    })
}

/// `TASK=SCORE` pairs; a score above 1 is a percentage.
fn parse_targets(given: &[String]) -> Result<Vec<(String, f64)>, BadInput> {
    let mut problems = Problems::default();
    let mut out = Vec::new();
    for t in given {
        let parsed = t.split_once('=').map(|(k, v)| {
            let v = v.trim();
            // "45%" is a percentage; a bare number above 1 is one too.
            let (number, percent) = match v.strip_suffix('%') {
                Some(n) => (n.trim(), true),
                None => (v, false),
            };
            (k.trim(), number.parse::<f64>().map(|x| if percent || x > 1.0 { x / 100.0 } else { x }))
        });
        match parsed {
            Some((task, Ok(score))) if !task.is_empty() && score.is_finite() && (0.0..=1.0).contains(&score) => {
                out.push((task.to_string(), score));
            }
            _ => problems.push(
                Problem::new(format!("expected TASK=SCORE (mmlu=0.45 or mmlu=45), got {t:?}")).at_key("--target"),
            ),
        }
    }
    problems.into_result()?;
    Ok(out)
}

pub async fn run(args: EvalArgs, bars: MultiProgress) -> anyhow::Result<ExitCode> {
    if args.list {
        print_list();
        return Ok(ExitCode::SUCCESS);
    }
    let settings = settings(&args)?;
    let datasets = parse_datasets(&settings.datasets)?;
    let extra = parse_dataset_args(settings.dataset_args.as_ref(), &datasets, &settings.args_base)?;
    let plan: Vec<DatasetPlan> = datasets
        .iter()
        .map(|d| {
            let a = extra.get(d.name()).cloned().unwrap_or_default();
            DatasetPlan {
                dataset: *d,
                subsets: a.subsets,
                shots: args.few_shot.or(a.shots),
                dir: a.dir.unwrap_or_else(|| settings.dataset_dir.clone()),
                samples: a.samples,
            }
        })
        .collect();
    if settings.limit == Some(0) {
        return Err(BadInput::from(Problem::new("--limit 0 scores nothing: give at least 1").at_key("--limit")).into());
    }
    if let Some(dir) = &settings.output
        && dir.exists()
        && !dir.is_dir()
    {
        let problem = Problem::new(format!("{} is a file, not a folder for the report", dir.display()));
        return Err(BadInput::from(problem.at_key("--output")).into());
    }
    let tasks = plan_tasks(&plan, settings.limit)?;
    // A target must name a task or group this eval reports, or it would silently print "-".
    let names: Vec<String> = tasks
        .iter()
        .flat_map(|t| {
            let mut names = vec![t.task.name().to_string(), t.dataset.name().to_string()];
            names.extend(t.task.groups().iter().cloned());
            names
        })
        .collect();
    if let Some((unknown, _)) = settings.targets.iter().find(|(task, _)| !names.contains(task)) {
        let problem = Problem::new(format!("{unknown} is not a task or group of this eval"));
        return Err(BadInput::from(problem.at_key("--target")).into());
    }
    let model_arg = settings.model.clone();
    let target = match &settings.endpoint {
        Some((url, _)) => EvalTarget::Endpoint { url: url.clone(), name: model_arg.clone(), api_key_env: None },
        None => EvalTarget::Local {
            path: crate::spec::resolve_local_model(&model_arg, &settings.model_base)
                .map_err(|e| BadInput::from(Problem::new(e.to_string()).at_key("--model")))?,
        },
    };
    let store = Store::connect(&args.db).await.with_context(|| format!("cannot open the database {}", args.db))?;
    if args.submit {
        return submit_eval(&args, &settings, target, &plan, &store).await;
    }
    let config = json!({"model": model_arg, "datasets": settings.datasets, "dataset_dir": settings.dataset_dir,
                        "limit": settings.limit, "few_shot": args.few_shot, "dataset_args": settings.dataset_args});
    let run_id = store.create_run("eval", &config.to_string(), None, false).await?;
    let heartbeat = store.keep_alive(run_id);
    let outcome = evaluate(&args, &settings, &target, &tasks, &store, run_id, bars).await;
    drop(heartbeat);
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

/// `--submit`: the eval queued with absolute paths (a worker runs elsewhere), its key by name.
async fn submit_eval(
    args: &EvalArgs,
    settings: &Settings,
    target: EvalTarget,
    plan: &[DatasetPlan],
    store: &Store,
) -> anyhow::Result<ExitCode> {
    let target = match target {
        EvalTarget::Local { path } => EvalTarget::Local { path: std::path::absolute(path)? },
        EvalTarget::Endpoint { url, name, .. } => {
            if settings.endpoint.as_ref().is_some_and(|(_, key)| key.is_some()) {
                return Err(BadInput::from(
                    Problem::new(
                        "a key written in the task config is not stored in the database: with --submit name \
                         the variable that holds it (--api-key-env VAR), read on the worker",
                    )
                    .at_key("api_key"),
                )
                .into());
            }
            EvalTarget::Endpoint { url, name, api_key_env: args.api_key_env.clone() }
        }
    };
    let mut plans: Vec<QueuedPlan> = plan.iter().map(QueuedPlan::from).collect();
    for p in &mut plans {
        p.dir = std::path::absolute(&p.dir)?;
    }
    let queued = QueuedEval {
        target,
        datasets: Vec::new(),
        dataset_dir: std::path::absolute(&settings.dataset_dir)?,
        limit: settings.limit,
        plans,
        use_cache: settings.use_cache,
    };
    let title = format!("{} · {}", queued.target.label(), settings.datasets.join(", "));
    let work_dir = std::env::current_dir()?;
    let id = store
        .enqueue_run_needing(
            "eval",
            &title,
            &serde_json::to_string(&queued)?,
            false,
            &work_dir.display().to_string(),
            queued.target.needs().as_deref(),
        )
        .await?;
    super::submit::announce_and_follow(store, id, args.wait, args.json).await
}

/// Loads the model, scores every task, prints and writes the report; its JSON.
async fn evaluate(
    args: &EvalArgs,
    settings: &Settings,
    target: &EvalTarget,
    tasks: &[crate::eval::PlannedTask],
    store: &Store,
    run_id: i64,
    bars: MultiProgress,
) -> anyhow::Result<Value> {
    let show_progress = !args.no_progress && std::io::stderr().is_terminal();
    let options = EvalOptions {
        progress: show_progress.then_some(bars),
        use_cache: settings.use_cache,
        cancel: None,
        part: None,
    };
    let key = settings.endpoint.as_ref().and_then(|(_, key)| key.clone());
    let (report, summary) = crate::eval::job::score(target, key, tasks, store, run_id, &options).await?;
    let mut json = crate::eval::job::report_json(&report, &summary, run_id);
    if !settings.targets.is_empty() {
        let targets: Vec<Value> = settings
            .targets
            .iter()
            .map(|(task, target)| {
                let value = report.score(task);
                json!({"task": task, "target": target, "value": value, "delta": value.map(|v| v - target)})
            })
            .collect();
        json["jury"]["targets"] = json!(targets);
    }
    if let Some(dir) = &settings.output {
        report.write(dir).with_context(|| format!("cannot write the report to {}", dir.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print_report(&report, &settings.targets);
        if let Some(local) = &summary.local_model {
            eprintln!("local model: {local}");
        }
        eprintln!(
            "{} requests: {} from the cache, {} asked; {:.1} s ({:.1} documents/s)",
            summary.requests, summary.cache_hits, summary.asked, summary.seconds, summary.docs_per_second
        );
    }
    Ok(json)
}

fn parse_datasets(names: &[String]) -> Result<Vec<Dataset>, BadInput> {
    let mut problems = Problems::default();
    let mut out = Vec::new();
    // EvalScope's `arc` is both of its subsets.
    let names = names.iter().flat_map(|n| {
        if n.trim().eq_ignore_ascii_case("arc") {
            vec!["arc_easy".to_string(), "arc_challenge".to_string()]
        } else {
            vec![n.clone()]
        }
    });
    for name in names {
        match Dataset::parse(&name) {
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
/// `base`: where relative `local_path`s resolve (the task config's folder when they came from it).
fn parse_dataset_args(
    value: Option<&Value>,
    datasets: &[Dataset],
    base: &std::path::Path,
) -> Result<HashMap<String, DatasetArgs>, BadInput> {
    let mut out = HashMap::new();
    let Some(value) = value.cloned() else { return Ok(out) };
    let bad = |key: String, message: String| BadInput::from(Problem::new(message).at_key(key));
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
                ("local_path", Value::String(s)) => args.dir = Some(base.join(s)),
                ("num_samples" | "n", Value::Number(n)) if n.as_u64().is_some_and(|n| (1..=1000).contains(&n)) => {
                    args.samples = n.as_u64().map(|n| n as usize)
                }
                ("subset_list" | "few_shot_num" | "local_path" | "num_samples" | "n", other) => {
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
            Dataset::Bbh => format!("{} tasks", crate::eval::datasets::bbh::TASKS.len()),
            Dataset::Math => crate::eval::datasets::math::SUBJECTS.map(|(name, _)| name).join(", "),
            Dataset::TriviaQa => crate::eval::datasets::triviaqa::SOURCES.join(", "),
            Dataset::GeneralQa => "<subset>.jsonl files".into(),
            Dataset::Ceval => format!("{} subjects", crate::eval::datasets::ceval::SUBJECTS.len()),
            Dataset::GeneralMcq => "<subset>_val.csv files".into(),
            Dataset::Race => "high (default), middle".into(),
            Dataset::Perplexity => "<name> files".into(),
            Dataset::TruthfulQa => "mc1, mc2".into(),
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

fn print_report(report: &EvalReport, targets: &[(String, f64)]) {
    let pct = |x: f64| format!("{:.2}", 100.0 * x);
    let se = |x: Option<f64>| x.map(|v| format!("±{:.2}", 100.0 * v)).unwrap_or_else(|| "-".into());
    // Target and Delta (percentage points) where a claimed score was given.
    let versus = |name: &str, value: f64| -> Vec<comfy_table::Cell> {
        if targets.is_empty() {
            return Vec::new();
        }
        match targets.iter().find(|(t, _)| t == name) {
            Some((_, target)) => vec![right(pct(*target)), right(format!("{:+.2}", 100.0 * (value - target)))],
            None => vec![right("-"), right("-")],
        }
    };
    let with_targets = |mut header: Vec<&'static str>| {
        if !targets.is_empty() {
            header.extend(["Target %", "Delta"]);
        }
        header
    };
    let mut t = table(&with_targets(vec!["task", "shots", "n", "metric", "value (%)", "stderr"]));
    for task in &report.tasks {
        for (i, m) in task.metrics.iter().enumerate() {
            let first = i == 0;
            let mut row = vec![
                comfy_table::Cell::new(if first { task.name.as_str() } else { "" }),
                right(if first { task.shots.to_string() } else { String::new() }),
                right(if first { task.n.to_string() } else { String::new() }),
                comfy_table::Cell::new(if m.filter == "none" { m.metric.to_string() } else { m.label() }),
                right(if m.is_fraction() { pct(m.value) } else { format!("{:.4}", m.value) }),
                right(se(m.stderr)),
            ];
            if first {
                row.extend(versus(&task.name, m.value));
            } else if !targets.is_empty() {
                row.extend([right(""), right("")]);
            }
            t.add_row(row);
        }
    }
    println!("{t}");
    if !report.groups.is_empty() {
        let mut g = table(&with_targets(vec!["group", "tasks", "n", "metric", "WeightedAvg %", "stderr", "Avg %"]));
        for group in &report.groups {
            let metric = group.metric.strip_suffix(",none").unwrap_or(&group.metric);
            let mut row = vec![
                comfy_table::Cell::new(&group.name),
                right(group.tasks),
                right(group.n),
                comfy_table::Cell::new(metric),
                right(pct(group.value)),
                right(se(group.stderr)),
                right(pct(group.macro_value)),
            ];
            row.extend(versus(&group.name, group.value));
            g.add_row(row);
        }
        println!("{g}");
    }
}
