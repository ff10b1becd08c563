//! `jury perf`: load-tests an OpenAI-compatible server and reports TTFT, TPOT, ITL, latency and
//! throughput with their percentiles, EvalScope's flags and names.

mod check;
mod view;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use indicatif::MultiProgress;
use serde_json::json;

use self::check::{MAX_RANDOM_PROMPTS, check};
use self::view::{Terminal, print_sla, print_sweep};
use crate::perf::dataset::{self, DatasetKind};
use crate::perf::session::Session;
use crate::perf::tokens::{PerfTokenizer, random_prompts};
use crate::perf::{Api, client};
use crate::store::{DEFAULT_DATABASE_URL, RunStatus, Store};

/// `--submit`: the test queued for the workers, as a test started from the pages is.
async fn submit(args: &PerfArgs) -> anyhow::Result<ExitCode> {
    let mut problems = crate::input::Problems::default();
    let mut refuse = |key: &str, message: &str| problems.push(crate::input::Problem::new(message).at_key(key));
    if args.api != Api::Openai {
        refuse("--api", "a queued test asks chat completions (openai)");
    }
    if args.number.len() > 1 {
        refuse("--number", "a queued test takes one value for all its loads");
    }
    if args.dataset != DatasetKind::Openqa {
        refuse("--dataset", "a queued test sends the built-in questions");
    }
    if args.warmup > 0 || args.prefix_length > 0 || args.min_prompt_length > 0 || args.max_prompt_length != 131_072 {
        refuse("--submit", "a queued test takes no warm-up and no prompt lengths");
    }
    problems.into_result()?;
    let queued = crate::perf::job::QueuedPerf {
        target: crate::perf::job::PerfTarget::Endpoint {
            url: args.url.clone(),
            model: args.model.clone(),
            api_key_env: args.api_key_env.clone(),
        },
        stream: !args.no_stream,
        parallel: args.parallel.clone(),
        number: args.number[0],
        rate: args.rate,
        max_tokens: args.max_tokens,
        slo: args.slo.clone(),
    };
    queued.check()?;
    let name = args.name.clone().unwrap_or_else(|| args.model.replace(['/', '\\'], "_"));
    let dir = std::path::absolute(args.outputs_dir.join(name))?;
    std::fs::create_dir_all(&dir)?;
    let store =
        Store::connect(&args.db).await.map_err(|e| anyhow::anyhow!("cannot open the database {}: {e}", args.db))?;
    let id = store
        .enqueue_run("perf", &queued.label(), &serde_json::to_string(&queued)?, false, &dir.display().to_string())
        .await?;
    super::submit::announce_and_follow(&store, id, args.wait, args.json).await
}

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

    /// A Hugging Face tokenizer.json, or a GGUF model (its own vocabulary): needed by --dataset
    /// random, and counts answer tokens when the server sends no usage
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

    /// Queue the test for the workers on the database (`jury worker`, or `jury serve`'s own)
    /// instead of running it here, and print its id: a chat-completions endpoint with the
    /// built-in questions, --parallel values or a --rate, one --number, --max-tokens, --slo
    #[arg(long, conflicts_with_all = ["dataset_path", "tokenizer_path", "min_tokens", "extra_args", "sweep", "sla", "duration"])]
    submit: bool,

    /// With --submit: follow the test's progress and exit as it ends (0 succeeded, 1 otherwise;
    /// --json prints its summary)
    #[arg(long, requires = "submit")]
    wait: bool,
}

pub async fn run(args: PerfArgs, bars: MultiProgress) -> anyhow::Result<ExitCode> {
    let settings = check(&args)?;
    if args.submit {
        return submit(&args).await;
    }
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
    let about = json!({"name": name, "model": args.model, "url": target.url, "api": args.api, "stream": target.stream,
                       "dataset": args.dataset_path.as_ref().map_or("built-in".to_string(), |p| p.display().to_string()),
                       "max_tokens": args.max_tokens, "slo": settings.slo});
    let run_id = store.create_run("perf", &about.to_string(), None, false).await?;
    let heartbeat = store.keep_alive(run_id);
    let mut session = Session {
        http: client::http_client(Duration::from_secs_f64(args.connect_timeout)),
        target,
        prompts,
        prompt_tokens,
        tokenizer,
        store,
        run_id,
        dir: args.outputs_dir.join(&name),
        warmup: args.warmup,
        slo: settings.slo.clone(),
        watch: Box::new(Terminal {
            bars,
            bar: !args.no_progress && std::io::stderr().is_terminal(),
            tables: !args.json,
        }),
        reports: Vec::new(),
        any_run_all_failed: false,
    };
    let found = session.run(&settings.shape).await?;
    let about = session.summary(about, &found);
    let Session { store, reports, any_run_all_failed, .. } = session;
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
        for (key, value) in found {
            out[key] = value;
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        if reports.len() > 1 {
            print_sweep(&reports);
        }
        if let Some(sla) = found.get("sla") {
            print_sla(sla);
        }
        if let Some(note) = found.get("sweep").and_then(|s| s["stopped_early"].as_str()) {
            println!("{note}");
        }
        println!("stored as load test {run_id} in {} (jury serve shows it at /perf/{run_id})", args.db);
    }
    Ok(if any_run_all_failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
