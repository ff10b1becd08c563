//! A load test's figures from its requests: pure computation, no I/O.
//!
//! - TTFT: send to the first chunk with content.
//! - TPOT: (latency − TTFT) / (output tokens − 1), per request with at least two output tokens.
//! - ITL: every gap between two consecutive content chunks, pooled over requests.
//! - Latency: send to the end of the answer.
//! - Throughputs divide by the time taken (first send to last end); failed requests count in
//!   `failed`, never in token or latency figures.

use std::collections::BTreeMap;

use serde::Serialize;

use super::outcome::RequestOutcome;
use crate::rating::percentile::quantile;

/// The percentiles every distribution reports.
pub const PERCENTILES: [u32; 10] = [10, 25, 50, 66, 75, 80, 90, 95, 98, 99];

/// Mean, extremes and percentiles of one quantity (type-7 percentiles, numpy's default).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Distribution {
    pub count: usize,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    #[serde(flatten)]
    pub percentiles: BTreeMap<String, f64>,
}

impl Distribution {
    /// `None` for no values.
    pub fn of(values: &[f64]) -> Option<Distribution> {
        if values.is_empty() {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(|a, b| a.total_cmp(b));
        let percentiles = PERCENTILES
            .iter()
            .map(|&p| (format!("p{p}"), quantile(&mut sorted, f64::from(p) / 100.0).unwrap_or(f64::NAN)))
            .collect();
        Some(Distribution {
            count: sorted.len(),
            mean: sorted.iter().sum::<f64>() / sorted.len() as f64,
            min: sorted[0],
            max: sorted[sorted.len() - 1],
            percentiles,
        })
    }

    pub fn p(&self, percentile: u32) -> f64 {
        self.percentiles.get(&format!("p{percentile}")).copied().unwrap_or(f64::NAN)
    }

    fn scaled(mut self, factor: f64) -> Distribution {
        self.mean *= factor;
        self.min *= factor;
        self.max *= factor;
        self.percentiles.values_mut().for_each(|v| *v *= factor);
        self
    }
}

/// Where token counts came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokensFrom {
    /// The server's `usage` on every successful request.
    Usage,
    /// The tokenizer given with `--tokenizer-path`, where the server sent no usage.
    Tokenizer,
    /// One token per content chunk, where the server sent no usage and no tokenizer was given.
    Chunks,
}

/// A time limit as users write it, in milliseconds: `200ms`, `0.2s`, or a bare number of
/// milliseconds; `None` unless it is a positive, finite time.
pub fn parse_millis(text: &str) -> Option<f64> {
    let text = text.trim();
    let (number, scale) = match (text.strip_suffix("ms"), text.strip_suffix('s')) {
        (Some(ms), _) => (ms, 1.0),
        (None, Some(s)) => (s, 1000.0),
        _ => (text, 1.0),
    };
    number.trim().parse::<f64>().ok().filter(|v| v.is_finite() && *v > 0.0).map(|v| v * scale)
}

/// Service-level objectives: a request that meets all of them counts towards goodput.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Slo {
    pub ttft_ms: Option<f64>,
    pub tpot_ms: Option<f64>,
    pub latency_ms: Option<f64>,
}

impl Slo {
    pub fn is_empty(&self) -> bool {
        self.ttft_ms.is_none() && self.tpot_ms.is_none() && self.latency_ms.is_none()
    }
}

/// The figures of one run (one point of a sweep).
#[derive(Debug, Clone, Serialize)]
pub struct RunMetrics {
    /// First send to last end.
    #[serde(rename = "duration_s")]
    pub time_taken_s: f64,
    pub requests: RequestCounts,
    /// Successful requests per second.
    pub request_throughput: f64,
    /// Output tokens per second.
    pub output_throughput: f64,
    /// Input and output tokens per second.
    pub total_throughput: f64,
    /// Successful requests meeting every SLO, per second (`null` without SLOs).
    pub goodput: Option<f64>,
    /// The most requests in flight at once.
    pub max_in_flight: usize,
    pub ttft_ms: Option<Distribution>,
    pub tpot_ms: Option<Distribution>,
    pub itl_ms: Option<Distribution>,
    pub latency_ms: Option<Distribution>,
    pub input_tokens: Option<Distribution>,
    pub output_tokens: Option<Distribution>,
    /// Output tokens per second of each request (output tokens / latency).
    pub request_output_throughput: Option<Distribution>,
    pub chunks_per_request: f64,
    pub tokens_from: TokensFrom,
    /// How late requests left against their schedule.
    pub send_lateness_ms: Option<Distribution>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RequestCounts {
    pub total: usize,
    pub succeeded: usize,
    pub failed: usize,
    /// Failed requests by reason (`http_500`, `timeout`, `connection`, `stream_cut`, `error_in_body`).
    pub failures: BTreeMap<String, usize>,
}

/// Counts a text's tokens (a tokenizer), for answers that came without usage.
pub type TokenCount<'a> = &'a dyn Fn(&str) -> u64;

/// The figures of `outcomes`; `prompt_tokens[i]`, where known, is request i's prompt length,
/// and `count` a tokenizer (both used where the server sent no usage).
pub fn summarize(
    outcomes: &[RequestOutcome],
    prompt_tokens: &[Option<u64>],
    count: Option<TokenCount>,
    slo: &Slo,
) -> RunMetrics {
    let mut requests = RequestCounts { total: outcomes.len(), ..Default::default() };
    for o in outcomes {
        match &o.failure {
            None => requests.succeeded += 1,
            Some(f) => {
                requests.failed += 1;
                *requests.failures.entry(f.reason()).or_default() += 1;
            }
        }
    }
    let start = outcomes.iter().map(|o| o.sent_s).fold(f64::INFINITY, f64::min);
    let end = outcomes.iter().map(|o| o.end_s).fold(f64::NEG_INFINITY, f64::max);
    let time_taken_s = if outcomes.is_empty() { 0.0 } else { (end - start).max(0.0) };
    let per_second = |n: f64| if time_taken_s > 0.0 { n / time_taken_s } else { 0.0 };

    let mut tokens_from = TokensFrom::Usage;
    let (mut ttft, mut tpot, mut itl, mut latency) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut input, mut output, mut request_output) = (Vec::new(), Vec::new(), Vec::new());
    let mut chunks = 0u64;
    let mut good = 0usize;
    for (i, o) in outcomes.iter().enumerate().filter(|(_, o)| o.succeeded()) {
        let completion = o.completion_tokens.unwrap_or_else(|| match count {
            Some(count) => {
                if tokens_from == TokensFrom::Usage {
                    tokens_from = TokensFrom::Tokenizer;
                }
                count(&o.text)
            }
            None => {
                tokens_from = TokensFrom::Chunks;
                o.content_at_s.len() as u64
            }
        });
        let prompt = o.prompt_tokens.or_else(|| prompt_tokens.get(i).copied().flatten());
        let request_latency = o.latency();
        let request_ttft = o.ttft();
        // Only a streamed answer (two chunks with content or more) has a time per token.
        let request_tpot = match request_ttft {
            Some(first) if completion > 1 && o.content_at_s.len() > 1 => {
                Some((request_latency - first) / (completion - 1) as f64)
            }
            _ => None,
        };
        latency.push(request_latency);
        ttft.extend(request_ttft);
        tpot.extend(request_tpot);
        itl.extend(o.content_at_s.windows(2).map(|w| w[1] - w[0]));
        output.push(completion as f64);
        input.extend(prompt.map(|p| p as f64));
        if request_latency > 0.0 {
            request_output.push(completion as f64 / request_latency);
        }
        chunks += u64::from(o.chunks);
        let within = |limit_ms: Option<f64>, value_s: Option<f64>| match (limit_ms, value_s) {
            (None, _) => true,
            (Some(limit), Some(v)) => v * 1000.0 <= limit,
            (Some(_), None) => false,
        };
        if within(slo.ttft_ms, request_ttft)
            && within(slo.tpot_ms, request_tpot.or(Some(0.0)))
            && within(slo.latency_ms, Some(request_latency))
        {
            good += 1;
        }
    }
    let lateness: Vec<f64> = outcomes.iter().map(|o| o.lateness()).collect();
    let ms = |values: &[f64]| Distribution::of(values).map(|d| d.scaled(1000.0));
    let output_sum: f64 = output.iter().sum();
    let input_sum: f64 = input.iter().sum();
    RunMetrics {
        time_taken_s,
        request_throughput: per_second(requests.succeeded as f64),
        output_throughput: per_second(output_sum),
        total_throughput: per_second(output_sum + input_sum),
        goodput: (!slo.is_empty()).then(|| per_second(good as f64)),
        max_in_flight: max_in_flight(outcomes),
        ttft_ms: ms(&ttft),
        tpot_ms: ms(&tpot),
        itl_ms: ms(&itl),
        latency_ms: ms(&latency),
        input_tokens: Distribution::of(&input),
        output_tokens: Distribution::of(&output),
        request_output_throughput: Distribution::of(&request_output),
        chunks_per_request: if requests.succeeded > 0 { chunks as f64 / requests.succeeded as f64 } else { 0.0 },
        tokens_from,
        send_lateness_ms: ms(&lateness),
        requests,
    }
}

/// The most requests that were in flight at one moment.
fn max_in_flight(outcomes: &[RequestOutcome]) -> usize {
    let mut edges: Vec<(f64, i32)> = outcomes.iter().flat_map(|o| [(o.sent_s, 1), (o.end_s, -1)]).collect();
    // Ends before starts at the same instant: a request that ends as another starts is not overlap.
    edges.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut current = 0i32;
    let mut most = 0i32;
    for (_, step) in edges {
        current += step;
        most = most.max(current);
    }
    most as usize
}

/// `ttft=200ms,tpot=50ms,latency=2s` (a bare number is milliseconds).
pub fn parse_slo(text: &str) -> Result<Slo, String> {
    let mut slo = Slo::default();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').ok_or_else(|| format!("expected NAME=TIME, got {part:?}"))?;
        let value = value.trim();
        let ms =
            parse_millis(value).ok_or_else(|| format!("{key}: expected a time such as 200ms or 2s, got {value:?}"))?;
        match key.trim() {
            "ttft" => slo.ttft_ms = Some(ms),
            "tpot" => slo.tpot_ms = Some(ms),
            "latency" | "e2e" => slo.latency_ms = Some(ms),
            other => return Err(format!("unknown objective {other:?} (ttft, tpot or latency)")),
        }
    }
    Ok(slo)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perf::outcome::Failure;

    fn streamed(sent: f64, first: f64, gap: f64, chunks: usize, tokens: Option<u64>) -> RequestOutcome {
        let content_at_s: Vec<f64> = (0..chunks).map(|k| sent + first + gap * k as f64).collect();
        RequestOutcome {
            scheduled_s: sent,
            sent_s: sent,
            end_s: *content_at_s.last().unwrap(),
            chunks: chunks as u32 + 1,
            prompt_tokens: tokens.map(|_| 10),
            completion_tokens: tokens,
            content_at_s,
            ..Default::default()
        }
    }

    #[test]
    fn figures_of_scripted_requests() {
        // Two requests: first chunk after 100 ms, then 19 more 10 ms apart; one failure.
        let outcomes = vec![
            streamed(0.0, 0.1, 0.01, 20, Some(20)),
            streamed(0.5, 0.1, 0.01, 20, Some(20)),
            RequestOutcome { sent_s: 0.2, end_s: 0.25, failure: Some(Failure::Http(500)), ..Default::default() },
        ];
        let m = summarize(&outcomes, &[], None, &Slo { ttft_ms: Some(150.0), ..Default::default() });
        assert_eq!(m.requests.total, 3);
        assert_eq!(m.requests.succeeded, 2);
        assert_eq!(m.requests.failures.get("http_500"), Some(&1));
        let ttft = m.ttft_ms.unwrap();
        assert!((ttft.mean - 100.0).abs() < 1e-9 && (ttft.p(99) - 100.0).abs() < 1e-9);
        // Latency 100 + 19 × 10 = 290 ms; TPOT = (290 − 100) / 19 = 10 ms.
        assert!((m.latency_ms.unwrap().mean - 290.0).abs() < 1e-9);
        assert!((m.tpot_ms.unwrap().mean - 10.0).abs() < 1e-9);
        let itl = m.itl_ms.unwrap();
        assert_eq!(itl.count, 38);
        assert!((itl.p(50) - 10.0).abs() < 1e-9);
        // First send 0.0, last end 0.79.
        assert!((m.time_taken_s - 0.79).abs() < 1e-9);
        assert!((m.output_throughput - 40.0 / 0.79).abs() < 1e-9);
        assert!((m.total_throughput - 60.0 / 0.79).abs() < 1e-9);
        assert!((m.request_throughput - 2.0 / 0.79).abs() < 1e-9);
        assert!((m.goodput.unwrap() - 2.0 / 0.79).abs() < 1e-9);
        assert_eq!(m.tokens_from, TokensFrom::Usage);
        assert_eq!(m.max_in_flight, 2);
        assert!((m.chunks_per_request - 21.0).abs() < 1e-9);
    }

    #[test]
    fn goodput_counts_only_requests_within_every_objective() {
        let outcomes = vec![streamed(0.0, 0.1, 0.01, 5, Some(5)), streamed(0.0, 0.3, 0.01, 5, Some(5))];
        let m = summarize(&outcomes, &[], None, &Slo { ttft_ms: Some(200.0), ..Default::default() });
        assert!((m.goodput.unwrap() - 1.0 / m.time_taken_s).abs() < 1e-9);
        assert!(summarize(&outcomes, &[], None, &Slo::default()).goodput.is_none());
    }

    #[test]
    fn tokens_fall_back_to_chunks_and_say_so() {
        let outcomes = vec![streamed(0.0, 0.1, 0.01, 7, None)];
        let m = summarize(&outcomes, &[Some(12)], None, &Slo::default());
        assert_eq!(m.tokens_from, TokensFrom::Chunks);
        assert_eq!(m.output_tokens.unwrap().mean, 7.0);
        assert_eq!(m.input_tokens.unwrap().mean, 12.0);
    }

    #[test]
    fn a_tokenizer_counts_answers_without_usage() {
        let mut outcome = streamed(0.0, 0.1, 0.01, 3, None);
        outcome.text = "one two three four".into();
        let words = |text: &str| text.split_whitespace().count() as u64;
        let m = summarize(&[outcome], &[], Some(&words), &Slo::default());
        assert_eq!(m.tokens_from, TokensFrom::Tokenizer);
        assert_eq!(m.output_tokens.unwrap().mean, 4.0);
    }

    #[test]
    fn percentiles_are_numpy_linear() {
        // numpy.percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [10, 66, 99]) == [1.9, 6.94, 9.91]
        let d = Distribution::of(&[10.0, 9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0]).unwrap();
        assert!((d.p(10) - 1.9).abs() < 1e-12);
        assert!((d.p(66) - 6.94).abs() < 1e-12);
        assert!((d.p(99) - 9.91).abs() < 1e-12);
        assert_eq!(d.mean, 5.5);
        assert!(Distribution::of(&[]).is_none());
    }

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
