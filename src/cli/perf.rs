//! `jury perf`: load-tests an OpenAI-compatible server and reports TTFT, TPOT, ITL, latency and
//! throughput with their percentiles, EvalScope's flags and names.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde_json::json;

use super::tables::{right, table};
use crate::input::{BadInput, Problem, Problems};
use crate::perf::dataset::{self, DatasetKind, LengthRange};
use crate::perf::load::{self, Live, LoadPlan};
use crate::perf::metrics::{Distribution, PERCENTILES, Slo, summarize};
use crate::perf::report::{RunReport, write_run};
use crate::perf::search;
use crate::perf::tokens::{PerfTokenizer, random_prompts};
use crate::perf::{Api, Target, client};
use crate::store::{DEFAULT_DATABASE_URL, RunStatus, Store};

#[derive(Debug, clap::Args)]
#[command(
    about = "Load-test an OpenAI-compatible server: time to first token, time per output token, throughput, percentiles",
    long_about = "Sends requests to an OpenAI-compatible server (vLLM, mistral.rs, Ollama, TGI, …) \
        and measures how fast it answers: time to first token (TTFT: send to the first chunk with content), \
        time per output token (TPOT: (latency − TTFT) / (output tokens − 1)), inter-token latency (ITL: \
        every gap between content chunks), latency, and request and token throughput, each with its \
        percentiles (10 25 50 66 75 80 90 95 98 99).\n\n\
        Closed loop (default): --parallel workers, each sending its next request when its last one \
        ends. Open loop (--rate R): Poisson arrivals at R requests per second on a fixed schedule, \
        whatever the server does (no coordinated omission); how late each request left is reported.\n\n\
        Several --parallel (and --number) values run one after another, with a comparison table at \
        the end. Token counts come from the server's usage (streams ask for it with \
        stream_options.include_usage), else one per content chunk; the report says which.\n\n\
        Exit codes: 0 the runs completed, 1 every request of a run failed (a server that is down is not \
        a result), 2 bad arguments or dataset.",
    after_help = "Examples:\n  jury perf --url http://127.0.0.1:8000/v1/chat/completions --model qwen2.5 --parallel 1 8 32 --number 50 200 800\n  \
        jury perf --url http://127.0.0.1:8000/v1 --model m --rate 20 --number 400 --slo ttft=200ms,tpot=50ms --json\n  \
        jury perf --url http://127.0.0.1:8000/v1 --model m --dataset openqa --dataset-path open_qa.jsonl --max-tokens 256"
)]
pub struct PerfArgs {
    /// The endpoint (`…/v1/chat/completions`, `…/v1/completions`), or the base URL (`…/v1`)
    #[arg(long, value_name = "URL")]
    url: String,

    /// The model name sent in each request
    #[arg(long, value_name = "NAME")]
    model: String,

    /// The API: chat completions (openai) or completions (openai-completions)
    #[arg(long, value_enum, default_value = "openai")]
    api: Api,

    /// The environment variable holding the API key (sent as a Bearer token), if the server needs one
    #[arg(long, value_name = "VAR")]
    api_key_env: Option<String>,

    /// Requests in flight at once (closed loop); several values run a sweep
    #[arg(long, num_args = 1.., default_values_t = [1usize], value_name = "N")]
    parallel: Vec<usize>,

    /// Requests per run; one value for all runs, or one per --parallel value
    #[arg(short = 'n', long, num_args = 1.., default_values_t = [100usize], value_name = "N")]
    number: Vec<usize>,

    /// Open loop: requests per second, Poisson arrivals on a fixed schedule; requests in flight
    /// are not capped (--parallel takes one value and is not used)
    #[arg(long, value_name = "R")]
    rate: Option<f64>,

    /// Stop sending after this many seconds or --number requests, whichever comes first
    /// (requests in flight are awaited)
    #[arg(long, value_name = "S")]
    duration: Option<f64>,

    /// Stream the answers (the default; needed for TTFT, TPOT and ITL)
    #[arg(long, overrides_with = "no_stream")]
    stream: bool,

    /// Ask for whole answers: TTFT is then the latency
    #[arg(long, overrides_with = "stream")]
    no_stream: bool,

    /// The prompts: built-in questions when no --dataset-path is given; random: random tokens
    /// (needs --tokenizer-path and --max-prompt-length)
    #[arg(long, value_enum, default_value = "openqa")]
    dataset: DatasetKind,

    /// The dataset file (openqa: JSON Lines with `question`; line_by_line: a prompt per line;
    /// jsonl: JSON Lines with `messages` or `prompt`)
    #[arg(long, value_name = "FILE")]
    dataset_path: Option<PathBuf>,

    /// A Hugging Face tokenizer.json: needed by --dataset random, and counts answer tokens when
    /// the server sends no usage
    #[arg(long, value_name = "FILE")]
    tokenizer_path: Option<PathBuf>,

    /// random: the tokens every prompt starts with (a shared prefix, for prefix caches)
    #[arg(long, default_value_t = 0, value_name = "N")]
    prefix_length: usize,

    /// Keep prompts of at least this many characters (random: tokens)
    #[arg(long, default_value_t = 0, value_name = "N")]
    min_prompt_length: usize,

    /// Keep prompts of at most this many characters (random: tokens)
    #[arg(long, default_value_t = 131_072, value_name = "N")]
    max_prompt_length: usize,

    /// max_tokens of each request
    #[arg(long, value_name = "N")]
    max_tokens: Option<u32>,

    /// min_tokens of each request (vLLM's extension), for answers of a known length
    #[arg(long, value_name = "N")]
    min_tokens: Option<u32>,

    /// A JSON object merged into every request body ({"temperature": 0, "ignore_eos": true})
    #[arg(long, value_name = "JSON")]
    extra_args: Option<String>,

    /// Requests sent one at a time before each run, not counted
    #[arg(long, default_value_t = 0, value_name = "N")]
    warmup: usize,

    /// Service-level objectives for goodput: ttft=200ms,tpot=50ms,latency=2s
    #[arg(long, value_name = "SLOS")]
    slo: Option<String>,

    /// Answer "how does it behave from idle to saturated": a synchronous run, a throughput run
    /// (--parallel workers, 64 when not given), then N open-loop rates between the two, stopping
    /// early once time to first token and requests in flight both rise by half or more
    #[arg(long, value_name = "N")]
    sweep: Option<usize>,

    /// Find the highest load meeting every objective, such as "p99_ttft<=200ms,p99_tpot<=50ms":
    /// over --parallel (from its value, doubling then bisecting), or over rates when --rate is given
    #[arg(long, value_name = "OBJECTIVES")]
    sla: Option<String>,

    /// Runs of each load in an --sla search; a load meets the objectives only if every run does
    #[arg(long, default_value_t = 3, value_name = "N")]
    sla_repeats: usize,

    /// Seed of the open loop's arrival times
    #[arg(long, default_value_t = 0)]
    seed: u64,

    /// The name of this test (its folder under --outputs-dir)
    #[arg(long, value_name = "NAME")]
    name: Option<String>,

    /// Where each run's files go: <DIR>/<name>/parallel_<P>_number_<N>/
    #[arg(long, visible_alias = "outputs", default_value = "outputs/perf", value_name = "DIR")]
    outputs_dir: PathBuf,

    /// Seconds to wait for an answer to start, and then for each next chunk
    #[arg(long, default_value_t = 120.0, value_name = "S")]
    read_timeout: f64,

    /// Seconds to wait for a connection
    #[arg(long, default_value_t = 10.0, value_name = "S")]
    connect_timeout: f64,

    /// The database the test and every request's timings are stored in
    #[arg(long, env = "JURY_DATABASE_URL", default_value = DEFAULT_DATABASE_URL, value_name = "URL")]
    db: String,

    /// Print the results as one JSON object instead of tables
    #[arg(long)]
    json: bool,

    /// Draw no live view
    #[arg(long)]
    no_progress: bool,
}

pub async fn run(args: PerfArgs, bars: MultiProgress) -> anyhow::Result<ExitCode> {
    let settings = check(&args)?;
    let tokenizer = match &args.tokenizer_path {
        Some(path) => Some(PerfTokenizer::load(path)?),
        None => None,
    };
    let (prompts, prompt_tokens): (Vec<_>, Vec<Option<u64>>) = match (&args.dataset_path, &tokenizer) {
        (_, Some(t)) if args.dataset == DatasetKind::Random => {
            let count = args.number.iter().copied().max().unwrap_or(1).min(MAX_RANDOM_PROMPTS);
            random_prompts(t, count, args.min_prompt_length, args.max_prompt_length, args.prefix_length, args.seed)
                .into_iter()
                .map(|(p, n)| (p, Some(n)))
                .unzip()
        }
        (Some(path), _) => dataset::load(args.dataset, path, settings.lengths)?.into_iter().map(|p| (p, None)).unzip(),
        (None, _) => dataset::builtin().into_iter().map(|p| (p, None)).unzip(),
    };
    let prompt_tokens = match &tokenizer {
        // With a tokenizer every prompt's length is known (message lists: their text contents).
        Some(t) => prompts
            .iter()
            .zip(prompt_tokens)
            .map(|(p, known)| {
                known.or_else(|| match p {
                    crate::perf::Prompt::Text(text) => Some(t.count(text)),
                    crate::perf::Prompt::Messages(m) => {
                        Some(m.iter().filter_map(|m| m["content"].as_str()).map(|c| t.count(c)).sum())
                    }
                })
            })
            .collect(),
        None => prompt_tokens,
    };
    let prompts = Arc::new(prompts);
    let target = Arc::new(settings.target.clone());
    let name = args.name.clone().unwrap_or_else(|| args.model.replace(['/', '\\'], "_"));
    let store =
        Store::connect(&args.db).await.map_err(|e| anyhow::anyhow!("cannot open the database {}: {e}", args.db))?;
    let mut about = json!({"name": name, "model": args.model, "url": target.url, "api": args.api, "stream": target.stream,
                       "dataset": args.dataset_path.as_ref().map_or("built-in".to_string(), |p| p.display().to_string()),
                       "max_tokens": args.max_tokens, "slo": settings.slo});
    let run_id = store.create_run("perf", &about.to_string(), None, false).await?;
    let heartbeat = store.keep_alive(run_id);
    let mut session = Session {
        http: client::http_client(Duration::from_secs_f64(args.connect_timeout)),
        target,
        prompts,
        store,
        run_id,
        bars,
        show_progress: !args.no_progress && std::io::stderr().is_terminal(),
        dir: args.outputs_dir.join(&name),
        args: &args,
        slo: settings.slo.clone(),
        tokenizer,
        prompt_tokens,
        reports: Vec::new(),
        any_run_all_failed: false,
    };
    let mut extra = serde_json::Map::new();
    if let Some(rates) = args.sweep {
        extra.insert("sweep".into(), sweep(&mut session, rates, &settings.plans[0]).await?);
    } else if let Some(objectives) = &settings.objectives {
        extra.insert("sla".into(), sla_search(&mut session, objectives, &settings.plans[0]).await?);
    } else {
        for plan in &settings.plans {
            session.measure(plan.clone()).await?;
        }
    }
    let Session { store, reports, any_run_all_failed, .. } = session;
    about["runs"] = serde_json::to_value(&reports)?;
    for (key, value) in &extra {
        about[key] = value.clone();
    }
    let (status, error) = if any_run_all_failed {
        (RunStatus::Failed, Some("every request of a run failed"))
    } else {
        (RunStatus::Succeeded, None)
    };
    drop(heartbeat);
    store.finish_run(run_id, status, Some(&about.to_string()), error).await?;
    store.close().await;
    if args.json {
        let mut out = json!({"id": run_id, "runs": reports});
        for (key, value) in extra {
            out[key] = value;
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        if reports.len() > 1 {
            print_sweep(&reports);
        }
        if let Some(sla) = extra.get("sla") {
            print_sla(sla);
        }
        if let Some(note) = extra.get("sweep").and_then(|s| s["stopped_early"].as_str()) {
            println!("{note}");
        }
        println!("stored as load test {run_id} in {} (jury serve shows it at /perf/{run_id})", args.db);
    }
    Ok(if any_run_all_failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// What every measurement of one `jury perf` shares.
struct Session<'a> {
    http: reqwest::Client,
    target: Arc<Target>,
    prompts: Arc<Vec<crate::perf::Prompt>>,
    store: Store,
    run_id: i64,
    bars: MultiProgress,
    show_progress: bool,
    /// `<outputs-dir>/<name>`.
    dir: PathBuf,
    args: &'a PerfArgs,
    slo: Slo,
    tokenizer: Option<PerfTokenizer>,
    /// Each prompt's length where the tokenizer or the dataset knows it.
    prompt_tokens: Vec<Option<u64>>,
    reports: Vec<RunReport>,
    any_run_all_failed: bool,
}

impl Session<'_> {
    /// Runs one load, stores and writes it, and returns its report.
    async fn measure(&mut self, plan: LoadPlan) -> anyhow::Result<RunReport> {
        for _ in 0..self.args.warmup {
            let _ = client::send(&self.http, &self.target, &self.prompts[0], std::time::Instant::now(), 0.0).await;
        }
        let live = Arc::new(Live::default());
        let view = self.show_progress.then(|| live_view(&self.bars, &plan, live.clone()));
        let done = load::run(&self.http, self.target.clone(), self.prompts.clone(), &plan, live).await;
        if let Some((bar, ticker)) = view {
            ticker.abort();
            bar.finish_and_clear();
        }
        let lengths: Vec<Option<u64>> =
            done.iter().map(|(i, _)| self.prompt_tokens.get(*i).copied().flatten()).collect();
        let outcomes: Vec<_> = done.into_iter().map(|(_, o)| o).collect();
        let count = self.tokenizer.as_ref().map(|t| move |text: &str| t.count(text));
        let metrics = summarize(&outcomes, &lengths, count.as_ref().map(|c| c as &dyn Fn(&str) -> u64), &self.slo);
        if metrics.requests.total > 0 && metrics.requests.succeeded == 0 {
            self.any_run_all_failed = true;
            let example = outcomes.iter().find_map(|o| o.detail.clone()).unwrap_or_default();
            tracing::error!(parallel = plan.parallel, rate = ?plan.rate, failures = ?metrics.requests.failures, "every request failed {example}");
        }
        let point = self.reports.len();
        self.store.save_perf_requests(self.run_id, point as i64, &outcomes).await?;
        let report = RunReport { parallel: plan.parallel, number: plan.number, rate: plan.rate, metrics };
        let mut folder = match plan.rate {
            Some(rate) => format!("rate_{rate:.3}_number_{}", plan.number),
            None => format!("parallel_{}_number_{}", plan.parallel, plan.number),
        };
        // A load measured again (an SLA search's repeats) gets a folder of its own.
        let earlier = self
            .reports
            .iter()
            .filter(|r| r.parallel == plan.parallel && r.rate == plan.rate && r.number == plan.number)
            .count();
        if earlier > 0 {
            folder.push_str(&format!("_{}", earlier + 1));
        }
        let dir = self.dir.join(folder);
        write_run(&dir, &report, &outcomes).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", dir.display()))?;
        if !self.args.json {
            print_run(&report, &dir);
        }
        self.reports.push(report.clone());
        Ok(report)
    }
}

/// `--sweep N`: a synchronous run (one worker) for the baseline rate, a throughput run (the
/// `--parallel` workers, 64 when not given) for the peak, then N open-loop rates between them,
/// stopping early once the server is saturated.
async fn sweep(session: &mut Session<'_>, rates: usize, plan: &LoadPlan) -> anyhow::Result<serde_json::Value> {
    let synchronous = session.measure(LoadPlan { parallel: 1, rate: None, ..plan.clone() }).await?;
    let workers = if plan.parallel > 1 { plan.parallel } else { 64 };
    let peak = session.measure(LoadPlan { parallel: workers, rate: None, ..plan.clone() }).await?;
    let (low, high) = (synchronous.metrics.request_throughput, peak.metrics.request_throughput);
    let mut stopped_early = None;
    let mut previous = synchronous.metrics.clone();
    let schedule = search::sweep_rates(low, high, rates);
    for rate in schedule.iter().copied().filter(|r| *r > 0.0) {
        let point = session.measure(LoadPlan { rate: Some(rate), ..plan.clone() }).await?;
        if search::saturated(&previous, &point.metrics) {
            stopped_early = Some(format!(
                "the server saturated at {rate:.2} req/s (time to first token and requests in flight both rose by half or more): the sweep stopped there"
            ));
            break;
        }
        previous = point.metrics;
    }
    Ok(json!({"synchronous_rate": low, "peak_rate": high, "rates": schedule, "stopped_early": stopped_early}))
}

/// `--sla`: the highest load meeting every objective, over `--parallel` (closed loop) or, with
/// `--rate`, over rates (open loop); each load is run `--sla-repeats` times and meets only if
/// every repeat does.
async fn sla_search(
    session: &mut Session<'_>,
    objectives: &[search::Objective],
    plan: &LoadPlan,
) -> anyhow::Result<serde_json::Value> {
    let over_rate = plan.rate.is_some();
    let start = plan.rate.unwrap_or(plan.parallel as f64);
    let mut bisection =
        search::Bisection::new(start, !over_rate, if over_rate { MAX_RATE } else { MAX_SEARCH_PARALLEL });
    let mut points = Vec::new();
    while let Some(load) = bisection.next() {
        let mut repeats = Vec::new();
        for _ in 0..session.args.sla_repeats {
            let this = if over_rate {
                LoadPlan { rate: Some(load), ..plan.clone() }
            } else {
                LoadPlan { parallel: load as usize, ..plan.clone() }
            };
            repeats.push(session.measure(this).await?.metrics);
        }
        let met = repeats.iter().all(|m| objectives.iter().all(|o| o.met(m)));
        let spread: Vec<serde_json::Value> = objectives
            .iter()
            .map(|o| {
                let values: Vec<f64> = repeats.iter().filter_map(|m| o.value(m)).collect();
                let low = values.iter().copied().fold(f64::INFINITY, f64::min);
                let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                json!({"objective": o.label(), "min_ms": low.is_finite().then_some(low), "max_ms": high.is_finite().then_some(high)})
            })
            .collect();
        points.push(json!({"load": load, "met": met, "spread": spread,
                           "failed_requests": repeats.iter().map(|m| m.requests.failed).sum::<usize>()}));
        bisection.record(load, met);
    }
    let over = if over_rate { "rate" } else { "parallel" };
    Ok(
        json!({"over": over, "objectives": objectives, "repeats": session.args.sla_repeats, "best": bisection.best(), "points": points}),
    )
}

fn print_sla(sla: &serde_json::Value) {
    let over = sla["over"].as_str().unwrap_or("parallel");
    let mut t = table(&[over, "met", "spread of each objective (ms, over the repeats)"]);
    for p in sla["points"].as_array().into_iter().flatten() {
        let spread: Vec<String> = p["spread"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                format!("{}: {}–{}", s["objective"].as_str().unwrap_or(""), number(&s["min_ms"]), number(&s["max_ms"]))
            })
            .collect();
        t.add_row(vec![
            right(&p["load"]),
            comfy_table::Cell::new(if p["met"] == true { "yes" } else { "no" }),
            comfy_table::Cell::new(spread.join("; ")),
        ]);
    }
    println!("SLA search\n{t}");
    match sla["best"].as_f64() {
        Some(best) => println!("highest {over} meeting every objective: {best}"),
        None => println!("no {over} tried met every objective"),
    }
}

fn number(v: &serde_json::Value) -> String {
    v.as_f64().map(|x| format!("{x:.1}")).unwrap_or_else(|| "-".into())
}

const MIN_RATE: f64 = 0.001;
/// Random prompts drawn at most (requests take them in turn).
const MAX_RANDOM_PROMPTS: usize = 10_000;
/// The most workers an SLA search tries.
const MAX_SEARCH_PARALLEL: f64 = 4096.0;
const MAX_RATE: f64 = 1_000_000.0;
/// Thirty days: longer waits are mistakes, and larger values would not fit a timer.
const MAX_SECONDS: f64 = 30.0 * 86_400.0;

struct Settings {
    target: Target,
    plans: Vec<LoadPlan>,
    slo: Slo,
    lengths: LengthRange,
    objectives: Option<Vec<search::Objective>>,
}

/// Every argument checked at once; problems exit 2.
fn check(args: &PerfArgs) -> Result<Settings, BadInput> {
    let mut problems = Problems::default();
    let mut bad = |key: &str, message: String| problems.push(Problem::new(message).at_key(key));
    if !(args.url.starts_with("http://") || args.url.starts_with("https://")) || url::Url::parse(&args.url).is_err() {
        bad("--url", format!("expected an http(s) URL, got {:?}", args.url));
    }
    if args.parallel.contains(&0) {
        bad("--parallel", "must be at least 1".into());
    }
    if args.number.contains(&0) {
        bad("--number", "must be at least 1".into());
    }
    let pairs: Vec<(usize, usize)> = match (args.parallel.len(), args.number.len()) {
        (_, 1) => args.parallel.iter().map(|&p| (p, args.number[0])).collect(),
        (p, n) if p == n => args.parallel.iter().copied().zip(args.number.iter().copied()).collect(),
        (1, _) => args.number.iter().map(|&n| (args.parallel[0], n)).collect(),
        (p, n) => {
            bad("--number", format!("give one value or one per --parallel value ({p}), got {n}"));
            Vec::new()
        }
    };
    if let Some(rate) = args.rate {
        if !(MIN_RATE..=MAX_RATE).contains(&rate) {
            bad("--rate", format!("expected requests per second from {MIN_RATE} to {MAX_RATE}, got {rate}"));
        }
        if args.parallel.len() > 1 {
            bad("--parallel", "an open loop (--rate) does not cap requests in flight: give one value".into());
        }
    }
    let seconds = |value: f64| value.is_finite() && value > 0.0 && value <= MAX_SECONDS;
    for (key, value) in [
        ("--duration", args.duration.unwrap_or(1.0)),
        ("--read-timeout", args.read_timeout),
        ("--connect-timeout", args.connect_timeout),
    ] {
        if !seconds(value) {
            bad(key, format!("expected seconds above 0, at most {MAX_SECONDS}, got {value}"));
        }
    }
    let path = url::Url::parse(&args.url).map(|u| u.path().trim_end_matches('/').to_string()).unwrap_or_default();
    let url_api = if path.ends_with("/chat/completions") {
        Some(Api::Openai)
    } else if path.ends_with("/completions") {
        Some(Api::OpenaiCompletions)
    } else {
        None
    };
    if url_api.is_some_and(|api| api != args.api) {
        bad("--api", format!("{:?} is the other API's endpoint; give --api to match it, or the base URL", args.url));
    }
    if args.min_prompt_length > args.max_prompt_length {
        bad("--min-prompt-length", format!("is above --max-prompt-length ({})", args.max_prompt_length));
    }
    if args.dataset == DatasetKind::Random {
        if args.tokenizer_path.is_none() {
            bad("--tokenizer-path", "--dataset random draws tokens from a tokenizer: give its tokenizer.json".into());
        }
        if args.max_prompt_length > 32_768 {
            bad("--max-prompt-length", "--dataset random needs prompt lengths in tokens, at most 32768".into());
        }
    } else if args.dataset_path.is_none() && args.dataset != DatasetKind::Openqa {
        bad("--dataset-path", format!("--dataset {} needs a file", args.dataset.name()));
    }
    let extra = match args.extra_args.as_deref().map(serde_json::from_str::<serde_json::Value>) {
        None => serde_json::Map::new(),
        Some(Ok(serde_json::Value::Object(map))) => map,
        Some(_) => {
            bad("--extra-args", "expected a JSON object, such as {\"temperature\": 0}".into());
            serde_json::Map::new()
        }
    };
    let slo = match args.slo.as_deref().map(parse_slo) {
        None => Slo::default(),
        Some(Ok(slo)) => slo,
        Some(Err(message)) => {
            bad("--slo", message);
            Slo::default()
        }
    };
    let objectives = match args.sla.as_deref().map(search::Objective::parse_list) {
        None => None,
        Some(Ok(list)) => Some(list),
        Some(Err(message)) => {
            bad("--sla", message);
            None
        }
    };
    if args.sweep.is_some() && args.sla.is_some() {
        bad("--sweep", "give --sweep or --sla, not both".into());
    }
    if args.sweep.is_some() && args.rate.is_some() {
        bad("--sweep", "a sweep chooses its own rates: leave out --rate".into());
    }
    if args.sweep == Some(0) || args.sweep.is_some_and(|n| n > 100) {
        bad("--sweep", "expected 1 to 100 rates".into());
    }
    if (args.sweep.is_some() || args.sla.is_some()) && (args.parallel.len() > 1 || args.number.len() > 1) {
        bad("--parallel", "--sweep and --sla take one --parallel and one --number".into());
    }
    if args.sla_repeats == 0 {
        bad("--sla-repeats", "must be at least 1".into());
    }
    let api_key = match &args.api_key_env {
        None => None,
        Some(var) => match std::env::var(var) {
            Ok(key) if !key.trim().is_empty() => Some(key),
            _ => {
                bad("--api-key-env", format!("the variable {var} is not set"));
                None
            }
        },
    };
    problems.into_result()?;
    let duration = args.duration.map(Duration::from_secs_f64);
    let plans = pairs
        .into_iter()
        .map(|(parallel, number)| LoadPlan { parallel, number, rate: args.rate, duration, seed: args.seed })
        .collect();
    let target = Target {
        url: Target::endpoint(&args.url, args.api),
        api: args.api,
        model: args.model.clone(),
        api_key,
        stream: !args.no_stream,
        max_tokens: args.max_tokens,
        min_tokens: args.min_tokens,
        extra,
        read_timeout: Duration::from_secs_f64(args.read_timeout),
    };
    let lengths = LengthRange { min: args.min_prompt_length, max: args.max_prompt_length };
    Ok(Settings { target, plans, slo, lengths, objectives })
}

/// `ttft=200ms,tpot=50ms,latency=2s` (a bare number is milliseconds).
pub fn parse_slo(text: &str) -> Result<Slo, String> {
    let mut slo = Slo::default();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').ok_or_else(|| format!("expected NAME=TIME, got {part:?}"))?;
        let value = value.trim();
        let (number, scale) = if let Some(v) = value.strip_suffix("ms") {
            (v, 1.0)
        } else if let Some(v) = value.strip_suffix('s') {
            (v, 1000.0)
        } else {
            (value, 1.0)
        };
        let ms = number
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v > 0.0)
            .ok_or_else(|| format!("{key}: expected a time such as 200ms or 2s, got {value:?}"))?
            * scale;
        match key.trim() {
            "ttft" => slo.ttft_ms = Some(ms),
            "tpot" => slo.tpot_ms = Some(ms),
            "latency" | "e2e" => slo.latency_ms = Some(ms),
            other => return Err(format!("unknown objective {other:?} (ttft, tpot or latency)")),
        }
    }
    Ok(slo)
}

/// A bar of finished requests with the current request rate and running latency percentiles.
fn live_view(bars: &MultiProgress, plan: &LoadPlan, live: Arc<Live>) -> (ProgressBar, tokio::task::JoinHandle<()>) {
    let bar = bars.add(ProgressBar::new(plan.number as u64));
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(match plan.rate {
        Some(rate) => format!("rate {rate}/s"),
        None => format!("parallel {}", plan.parallel),
    });
    let shown = bar.clone();
    let started = std::time::Instant::now();
    let ticker = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let outcomes = live.snapshot();
            let failed = outcomes.iter().filter(|(ok, _)| !ok).count();
            let latencies: Vec<f64> = outcomes.iter().filter(|(ok, _)| *ok).map(|(_, s)| s * 1000.0).collect();
            let rate = outcomes.len() as f64 / started.elapsed().as_secs_f64().max(1e-9);
            let percentiles = Distribution::of(&latencies)
                .map(|d| format!(", latency p50 {:.0} ms, p99 {:.0} ms", d.p(50), d.p(99)))
                .unwrap_or_default();
            shown.set_position(outcomes.len() as u64);
            shown.set_message(format!("{rate:.1} req/s, {failed} failed{percentiles}"));
        }
    });
    (bar, ticker)
}

fn print_run(report: &RunReport, dir: &std::path::Path) {
    let m = &report.metrics;
    let load = match report.rate {
        Some(rate) => format!("open loop at {rate} req/s"),
        None => format!("parallel {}", report.parallel),
    };
    println!(
        "Benchmark: {load}, {} requests ({} failed), {:.2} s",
        m.requests.total, m.requests.failed, m.time_taken_s
    );
    let mut t = table(&["metric", "value"]);
    let mut row = |name: &str, value: String| {
        t.add_row(vec![comfy_table::Cell::new(name), right(value)]);
    };
    row("Request throughput (req/s)", format!("{:.3}", m.request_throughput));
    row("Output token throughput (tok/s)", format!("{:.2}", m.output_throughput));
    row("Total token throughput (tok/s)", format!("{:.2}", m.total_throughput));
    if let Some(goodput) = m.goodput {
        row("Goodput (req/s within the SLOs)", format!("{goodput:.3}"));
    }
    let mean = |d: &Option<Distribution>| d.as_ref().map(|d| format!("{:.2}", d.mean)).unwrap_or_else(|| "-".into());
    row("Average latency (ms)", mean(&m.latency_ms));
    row("Average TTFT (ms)", mean(&m.ttft_ms));
    row("Average TPOT (ms)", mean(&m.tpot_ms));
    row("Average ITL (ms)", mean(&m.itl_ms));
    row("Average input tokens", mean(&m.input_tokens));
    row("Average output tokens", mean(&m.output_tokens));
    row("Chunks per request", format!("{:.1}", m.chunks_per_request));
    row("Tokens counted from", format!("{:?}", m.tokens_from).to_lowercase());
    row("Most requests in flight", m.max_in_flight.to_string());
    if report.rate.is_some() {
        row(
            "Send lateness p99 (ms)",
            m.send_lateness_ms.as_ref().map(|d| format!("{:.3}", d.p(99))).unwrap_or_default(),
        );
    }
    for (reason, n) in &m.requests.failures {
        row(&format!("Failed: {reason}"), n.to_string());
    }
    println!("{t}");
    let mut p = table(&[
        "percentile",
        "TTFT (ms)",
        "ITL (ms)",
        "TPOT (ms)",
        "latency (ms)",
        "input tok",
        "output tok",
        "output tok/s",
    ]);
    let cell =
        |d: &Option<Distribution>, q: u32| d.as_ref().map(|d| format!("{:.2}", d.p(q))).unwrap_or_else(|| "-".into());
    for q in PERCENTILES {
        p.add_row(vec![
            comfy_table::Cell::new(format!("{q}%")),
            right(cell(&m.ttft_ms, q)),
            right(cell(&m.itl_ms, q)),
            right(cell(&m.tpot_ms, q)),
            right(cell(&m.latency_ms, q)),
            right(cell(&m.input_tokens, q)),
            right(cell(&m.output_tokens, q)),
            right(cell(&m.request_output_throughput, q)),
        ]);
    }
    println!("{p}");
    println!("files: {}\n", dir.display());
}

/// One line per run of a sweep.
fn print_sweep(reports: &[RunReport]) {
    let mut t = table(&[
        "parallel",
        "rate",
        "requests",
        "failed",
        "req/s",
        "output tok/s",
        "TTFT p50 (ms)",
        "TTFT p99 (ms)",
        "TPOT p50 (ms)",
        "latency p99 (ms)",
    ]);
    let at =
        |d: &Option<Distribution>, q: u32| d.as_ref().map(|d| format!("{:.1}", d.p(q))).unwrap_or_else(|| "-".into());
    for r in reports {
        let m = &r.metrics;
        t.add_row(vec![
            right(r.parallel),
            right(r.rate.map(|x| x.to_string()).unwrap_or_else(|| "-".into())),
            right(m.requests.total),
            right(m.requests.failed),
            right(format!("{:.2}", m.request_throughput)),
            right(format!("{:.1}", m.output_throughput)),
            right(at(&m.ttft_ms, 50)),
            right(at(&m.ttft_ms, 99)),
            right(at(&m.tpot_ms, 50)),
            right(at(&m.latency_ms, 99)),
        ]);
    }
    println!("Sweep\n{t}");
}

#[cfg(test)]
mod tests {
    use super::parse_slo;

    #[test]
    fn objectives_parse_with_units() {
        let slo = parse_slo("ttft=200ms, tpot=0.05s,latency=2s").unwrap();
        assert_eq!(slo.ttft_ms, Some(200.0));
        assert_eq!(slo.tpot_ms, Some(50.0));
        assert_eq!(slo.latency_ms, Some(2000.0));
        assert_eq!(parse_slo("ttft=150").unwrap().ttft_ms, Some(150.0));
        assert!(parse_slo("ttft=fast").is_err());
        assert!(parse_slo("speed=1ms").is_err());
        assert!(parse_slo("ttft").is_err());
    }
}
