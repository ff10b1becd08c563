//! Load tests started from the pages: the request becomes a queued run whose config is the
//! test's settings; the job worker measures it. Targets are the server's own choices (the
//! models its `/v1` serves and its configured judges' endpoints), never a request's URL.

use serde::Deserialize;

use super::error::WebError;
use super::state::AppState;
use crate::perf::job::{PerfTarget, QueuedPerf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerfRequest {
    /// `own:NAME` (a model this server's `/v1` serves) or `served:NAME` (a configured judge's
    /// endpoint).
    pub target: String,
    #[serde(default = "one_worker")]
    pub parallel: Vec<usize>,
    #[serde(default = "twenty")]
    pub number: usize,
    #[serde(default)]
    pub rate: Option<f64>,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(default = "yes")]
    pub stream: bool,
    #[serde(default)]
    pub slo: Option<String>,
}

fn one_worker() -> Vec<usize> {
    vec![1]
}
fn twenty() -> usize {
    20
}
fn yes() -> bool {
    true
}

impl PerfRequest {
    /// From the HTML form: `parallel` as a list of numbers ("1 4 16"), empty fields absent, the
    /// stream box ticked or not.
    pub fn from_form(fields: Vec<(String, String)>) -> Result<PerfRequest, WebError> {
        let mut r = PerfRequest {
            target: String::new(),
            parallel: one_worker(),
            number: twenty(),
            rate: None,
            max_tokens: None,
            stream: false,
            slo: None,
        };
        fn number<T: std::str::FromStr>(key: &str, v: &str) -> Result<T, WebError> {
            v.trim().parse().map_err(|_| WebError::BadRequest(format!("{key}: not a number: {v:?}")))
        }
        for (k, v) in fields {
            if v.trim().is_empty() {
                continue;
            }
            match k.as_str() {
                "target" => r.target = v,
                "parallel" => {
                    r.parallel = v
                        .split(|c: char| c == ',' || c.is_whitespace())
                        .filter(|p| !p.is_empty())
                        .map(|p| number("parallel", p))
                        .collect::<Result<_, _>>()?
                }
                "number" => r.number = number("number", &v)?,
                "rate" => r.rate = Some(number("rate", &v)?),
                "max_tokens" => r.max_tokens = Some(number("max_tokens", &v)?),
                "stream" => r.stream = true,
                "slo" => r.slo = Some(v),
                _ => {}
            }
        }
        Ok(r)
    }
}

/// What a test from the pages may target: label and request value.
pub fn target_choices(state: &AppState) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = state
        .served
        .models
        .iter()
        .map(|m| (format!("{} on this server's /v1", m.name), format!("own:{}", m.name)))
        .collect();
    for j in state.judges.iter() {
        out.push((format!("{} at {}", j.model, j.api_base()), format!("served:{}", j.name)));
    }
    out
}

/// Checks the request and queues the test.
pub async fn start(state: &AppState, request: &PerfRequest) -> Result<i64, WebError> {
    let target = match request.target.split_once(':') {
        Some(("own", name)) => match state.served.models.iter().find(|m| m.name == name) {
            Some(m) => PerfTarget::Own { model: m.name.clone() },
            None => return Err(WebError::BadRequest(format!("this server serves no model {name}"))),
        },
        Some(("served", name)) => match state.judges.iter().find(|j| j.name == name) {
            Some(j) => PerfTarget::Endpoint {
                url: j.api_base(),
                model: j.model.clone(),
                api_key_env: Some(j.api_key_env.clone()),
            },
            None => return Err(WebError::BadRequest(format!("no configured endpoint {name}"))),
        },
        _ => return Err(WebError::BadRequest("choose a target: own:NAME or served:NAME".into())),
    };
    let queued = QueuedPerf {
        target,
        stream: request.stream,
        parallel: request.parallel.clone(),
        number: request.number,
        rate: request.rate,
        max_tokens: request.max_tokens,
        slo: request.slo.clone().filter(|s| !s.trim().is_empty()),
    };
    queued.check().map_err(WebError::Rejected)?;
    let config = serde_json::to_string(&queued).map_err(|e| WebError::Internal(e.to_string()))?;
    // A work folder for its files, and so a server that stopped without a word puts the test
    // back in the queue.
    let dir = state.data_dir.join("perf").join(super::security::new_session_id());
    std::fs::create_dir_all(&dir).map_err(|e| WebError::Internal(format!("cannot make {}: {e}", dir.display())))?;
    // A test of this server's own /v1 is for a server's worker, not a `jury worker`'s.
    let needs =
        matches!(queued.target, crate::perf::job::PerfTarget::Own { .. }).then_some(crate::store::NEEDS_OWN_SERVER);
    let id = state
        .store
        .enqueue_run_needing("perf", &queued.label(), &config, false, &dir.display().to_string(), needs)
        .await?;
    state.jobs.notify();
    Ok(id)
}
