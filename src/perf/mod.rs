//! `jury perf`: how fast an OpenAI-compatible server answers under load — time to first token,
//! time per output token, inter-token latency, throughput and their percentiles.
//!
//! `client` sends and times one request, `load` shapes the load (closed or open loop),
//! `dataset` reads prompts, `metrics` turns outcomes into figures (pure), `report` writes them.

pub mod client;
pub mod dataset;
#[cfg(feature = "local")]
mod gguf_vocab;
pub mod job;
pub mod load;
pub mod metrics;
pub mod outcome;
pub mod report;
pub mod search;
pub mod session;
pub mod tokens;

pub use client::{Api, Prompt, Target};
pub use load::{LoadPlan, poisson_schedule};
pub use metrics::{Distribution, RunMetrics, Slo, TokensFrom, summarize};
pub use outcome::{Failure, RequestOutcome};
