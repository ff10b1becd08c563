//! The two questions beyond a fixed load, as pure decisions: where a sweep's rates go and when
//! the server is saturated (`--sweep`), and the highest load that meets service-level
//! objectives (`--sla`), found by doubling and then bisection.

use serde::Serialize;

use super::metrics::{Distribution, RunMetrics};

/// One objective: a percentile of a per-request time at most so many milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Objective {
    pub percentile: u32,
    /// `ttft`, `tpot`, `itl` or `latency`.
    pub metric: String,
    pub limit_ms: f64,
}

impl Objective {
    /// `p99_ttft<=200ms,p50_tpot<=50ms,p95_latency<=2s` (a bare number is milliseconds).
    pub fn parse_list(text: &str) -> Result<Vec<Objective>, String> {
        let objectives: Vec<Objective> =
            text.split(',').map(str::trim).filter(|p| !p.is_empty()).map(Objective::parse).collect::<Result<_, _>>()?;
        if objectives.is_empty() {
            return Err("expected objectives such as p99_ttft<=200ms,p99_tpot<=50ms".into());
        }
        Ok(objectives)
    }

    fn parse(text: &str) -> Result<Objective, String> {
        let (name, limit) = text.split_once("<=").ok_or_else(|| format!("expected pNN_METRIC<=TIME, got {text:?}"))?;
        let (percentile, metric) =
            name.trim().split_once('_').ok_or_else(|| format!("expected pNN_METRIC such as p99_ttft, got {name:?}"))?;
        let percentile: u32 = percentile
            .strip_prefix('p')
            .and_then(|p| p.parse().ok())
            .filter(|p| super::metrics::PERCENTILES.contains(p))
            .ok_or_else(|| format!("{name}: the percentile must be one of p10 p25 p50 p66 p75 p80 p90 p95 p98 p99"))?;
        if !matches!(metric, "ttft" | "tpot" | "itl" | "latency") {
            return Err(format!("{name}: the metric must be ttft, tpot, itl or latency"));
        }
        let limit = limit.trim();
        let limit_ms = super::metrics::parse_millis(limit)
            .ok_or_else(|| format!("{name}: expected a time such as 200ms or 2s, got {limit:?}"))?;
        Ok(Objective { percentile, metric: metric.to_string(), limit_ms })
    }

    /// The run's value for this objective, in milliseconds (`None`: nothing measured).
    pub fn value(&self, m: &RunMetrics) -> Option<f64> {
        let d: &Option<Distribution> = match self.metric.as_str() {
            "ttft" => &m.ttft_ms,
            "tpot" => &m.tpot_ms,
            "itl" => &m.itl_ms,
            _ => &m.latency_ms,
        };
        d.as_ref().map(|d| d.p(self.percentile))
    }

    /// Met: measured, within the limit, and no request failed.
    pub fn met(&self, m: &RunMetrics) -> bool {
        m.requests.failed == 0 && self.value(m).is_some_and(|v| v <= self.limit_ms)
    }

    pub fn label(&self) -> String {
        format!("p{}_{}<={}ms", self.percentile, self.metric, self.limit_ms)
    }
}

/// `n` rates spaced evenly strictly between the synchronous rate and the peak.
pub fn sweep_rates(synchronous: f64, peak: f64, n: usize) -> Vec<f64> {
    let (low, high) = (synchronous.min(peak), synchronous.max(peak));
    (1..=n).map(|k| low + (high - low) * k as f64 / (n + 1) as f64).collect()
}

/// The server is saturated when, from one sweep point to the next, the median time to first
/// token and the most requests in flight both grew by half or more: requests queue up.
pub fn saturated(previous: &RunMetrics, current: &RunMetrics) -> bool {
    let ttft = |m: &RunMetrics| m.ttft_ms.as_ref().map(|d| d.p(50));
    match (ttft(previous), ttft(current)) {
        (Some(before), Some(now)) => {
            now >= 1.5 * before && current.max_in_flight as f64 >= 1.5 * previous.max_in_flight.max(1) as f64
        }
        _ => false,
    }
}

/// The search for the highest load meeting the objectives: loads double from the start until
/// one fails, then the gap between the last that met and the first that failed is halved until
/// it is one worker (integer loads) or 5% (rates).
#[derive(Debug, Clone, PartialEq)]
pub struct Bisection {
    integer: bool,
    max: f64,
    met: Option<f64>,
    failed: Option<f64>,
    next: Option<f64>,
}

impl Bisection {
    pub fn new(start: f64, integer: bool, max: f64) -> Bisection {
        Bisection { integer, max, met: None, failed: None, next: Some(start) }
    }

    /// The load to try next; `None` when the search is over.
    pub fn next(&self) -> Option<f64> {
        self.next
    }

    /// The highest load that met every objective.
    pub fn best(&self) -> Option<f64> {
        self.met
    }

    pub fn record(&mut self, load: f64, met: bool) {
        if met {
            self.met = Some(self.met.map_or(load, |m| m.max(load)));
        } else {
            self.failed = Some(self.failed.map_or(load, |f| f.min(load)));
        }
        self.next = match (self.met, self.failed) {
            (Some(m), None) if m >= self.max => None,
            (Some(m), None) => Some(self.round((m * 2.0).min(self.max))),
            // The start failed: for rates, try lower; a single worker is the least load.
            (None, Some(f)) if !self.integer && f > 1e-3 => Some(f / 2.0),
            (None, Some(_)) => None,
            (Some(m), Some(f)) => {
                let done = if self.integer { f - m <= 1.0 } else { (f - m) / m <= 0.05 };
                if done { None } else { Some(self.round((m + f) / 2.0)) }
            }
            (None, None) => None,
        };
    }

    fn round(&self, x: f64) -> f64 {
        if self.integer { x.floor().max(1.0) } else { x }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objectives_parse() {
        let list = Objective::parse_list("p99_ttft<=200ms, p50_tpot<=0.05s,p95_latency<=2s").unwrap();
        assert_eq!(list[0], Objective { percentile: 99, metric: "ttft".into(), limit_ms: 200.0 });
        assert_eq!(list[1].limit_ms, 50.0);
        assert_eq!(list[2].limit_ms, 2000.0);
        for bad in ["", "p99_ttft", "p97_ttft<=1ms", "p99_speed<=1ms", "ttft<=1ms", "p99_ttft<=soon"] {
            assert!(Objective::parse_list(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sweep_rates_sit_between_the_ends() {
        assert_eq!(sweep_rates(2.0, 10.0, 3), vec![4.0, 6.0, 8.0]);
        assert!(sweep_rates(5.0, 5.0, 2).iter().all(|&r| r == 5.0));
    }

    #[test]
    fn saturation_needs_both_queueing_signs() {
        use crate::perf::metrics::{Slo, summarize};
        use crate::perf::outcome::RequestOutcome;
        // `n` requests sent at once, each with its first content after `ttft` seconds.
        let point = |n: usize, ttft: f64| {
            let outcomes: Vec<RequestOutcome> = (0..n)
                .map(|_| RequestOutcome {
                    content_at_s: vec![ttft],
                    end_s: ttft,
                    completion_tokens: Some(1),
                    ..Default::default()
                })
                .collect();
            summarize(&outcomes, &[], None, &Slo::default())
        };
        assert!(saturated(&point(2, 0.1), &point(4, 0.2)));
        assert!(!saturated(&point(2, 0.1), &point(4, 0.12)), "TTFT steady");
        assert!(!saturated(&point(2, 0.1), &point(2, 0.3)), "in flight steady");
    }

    #[test]
    fn bisection_finds_the_last_worker_count_that_meets() {
        // Objectives met up to 6 workers.
        let mut search = Bisection::new(1.0, true, 4096.0);
        let mut tried = Vec::new();
        while let Some(load) = search.next() {
            tried.push(load);
            search.record(load, load <= 6.0);
        }
        assert_eq!(search.best(), Some(6.0));
        assert_eq!(tried, vec![1.0, 2.0, 4.0, 8.0, 6.0, 7.0]);
        // Nothing meets: no best.
        let mut none = Bisection::new(1.0, true, 4096.0);
        none.record(1.0, false);
        assert_eq!((none.next(), none.best()), (None, None));
    }

    #[test]
    fn bisection_on_rates_stops_within_five_percent() {
        let mut search = Bisection::new(10.0, false, 1e6);
        let mut steps = 0;
        while let Some(load) = search.next() {
            search.record(load, load <= 37.0);
            steps += 1;
            assert!(steps < 30);
        }
        let best = search.best().unwrap();
        assert!((37.0 / 1.05..=37.0).contains(&best), "{best}");
    }
}
