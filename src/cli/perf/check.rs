//! `jury perf`'s arguments, checked all at once (problems exit 2).

use std::time::Duration;

use crate::input::{BadInput, Problem, Problems};
use crate::perf::dataset::{DatasetKind, LengthRange};
use crate::perf::load::LoadPlan;
use crate::perf::metrics::{Slo, parse_slo};
use crate::perf::search;
use crate::perf::session::{MAX_RATE, Shape};
use crate::perf::{Api, Target};

use super::PerfArgs;

pub(super) const MIN_RATE: f64 = 0.001;
/// Random prompts drawn at most (requests take them in turn).
pub(super) const MAX_RANDOM_PROMPTS: usize = 10_000;
/// Thirty days: longer waits are mistakes, and larger values would not fit a timer.
pub(super) const MAX_SECONDS: f64 = 30.0 * 86_400.0;

pub(super) struct Settings {
    pub(super) target: Target,
    pub(super) shape: Shape,
    pub(super) slo: Slo,
    pub(super) lengths: LengthRange,
}

/// Every argument checked at once; problems exit 2.
pub(super) fn check(args: &PerfArgs) -> Result<Settings, BadInput> {
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
            bad(
                "--tokenizer-path",
                "--dataset random draws tokens from a tokenizer: give its tokenizer.json or the model's GGUF file"
                    .into(),
            );
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
    let plans: Vec<LoadPlan> = pairs
        .into_iter()
        .map(|(parallel, number)| LoadPlan { parallel, number, rate: args.rate, duration, seed: args.seed })
        .collect();
    let shape = match (args.sweep, objectives) {
        (Some(rates), _) => Shape::Sweep { rates, plan: plans[0].clone() },
        (None, Some(objectives)) => Shape::Sla { objectives, repeats: args.sla_repeats, plan: plans[0].clone() },
        (None, None) => Shape::Loads(plans),
    };
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
    Ok(Settings { target, shape, slo, lengths })
}
