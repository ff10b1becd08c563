//! `/perf/compare?id=A&id=B`: two load tests side by side, load by load — each figure of both,
//! the change from A to B (marked better or worse), and both runs' cumulative curves of time to
//! first token and latency on one axis.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::Value;

use super::charts::{Cdfs, cdfs};
use super::{PerfItem, item, load_label, summary_of};
use crate::perf::report::number;
use crate::store::PerfRequestRow;
use crate::web::error::{PageError, WebError};
use crate::web::pages::{Nav, nav, page};
use crate::web::state::AppState;

/// Which way is better for a figure.
#[derive(Clone, Copy)]
enum Better {
    Higher,
    Lower,
}

/// (label, JSON path within a point, decimals, which way is better)
const FIGURES: &[(&str, &[&str], usize, Better)] = &[
    ("Request throughput (req/s)", &["request_throughput"], 3, Better::Higher),
    ("Output token throughput (tok/s)", &["output_throughput"], 2, Better::Higher),
    ("Goodput (req/s)", &["goodput"], 3, Better::Higher),
    ("Failed requests", &["requests", "failed"], 0, Better::Lower),
    ("TTFT mean (ms)", &["ttft_ms", "mean"], 2, Better::Lower),
    ("TTFT p50 (ms)", &["ttft_ms", "p50"], 2, Better::Lower),
    ("TTFT p90 (ms)", &["ttft_ms", "p90"], 2, Better::Lower),
    ("TTFT p99 (ms)", &["ttft_ms", "p99"], 2, Better::Lower),
    ("TPOT p50 (ms)", &["tpot_ms", "p50"], 2, Better::Lower),
    ("TPOT p99 (ms)", &["tpot_ms", "p99"], 2, Better::Lower),
    ("ITL p50 (ms)", &["itl_ms", "p50"], 2, Better::Lower),
    ("ITL p99 (ms)", &["itl_ms", "p99"], 2, Better::Lower),
    ("Latency p50 (ms)", &["latency_ms", "p50"], 2, Better::Lower),
    ("Latency p99 (ms)", &["latency_ms", "p99"], 2, Better::Lower),
    ("Output tokens per request (mean)", &["output_tokens", "mean"], 1, Better::Higher),
];

pub struct FigureRow {
    pub name: &'static str,
    pub a: String,
    pub b: String,
    /// "+12.5%" from A to B, or "-" when either is missing or A is zero.
    pub change: String,
    /// "better", "worse" or "" (no change or nothing to compare).
    pub verdict: &'static str,
}

fn at<'v>(point: &'v Value, path: &[&str]) -> &'v Value {
    path.iter().fold(point, |v, key| &v[*key])
}

fn figure_rows(a: &Value, b: &Value) -> Vec<FigureRow> {
    FIGURES
        .iter()
        .map(|(name, path, decimals, better)| {
            let (va, vb) = (at(a, path), at(b, path));
            let (change, verdict) = match (va.as_f64(), vb.as_f64()) {
                (Some(x), Some(y)) if x != 0.0 => {
                    let change = (y - x) / x.abs() * 100.0;
                    let improved = match better {
                        Better::Higher => y > x,
                        Better::Lower => y < x,
                    };
                    // A change that rounds to 0.0% is no change.
                    let verdict = if change.abs() < 0.05 {
                        ""
                    } else if improved {
                        "better"
                    } else {
                        "worse"
                    };
                    (format!("{change:+.1}%"), verdict)
                }
                _ => ("-".to_string(), ""),
            };
            FigureRow { name, a: number(va, *decimals), b: number(vb, *decimals), change, verdict }
        })
        .collect()
}

pub struct PairView {
    pub label_a: String,
    pub label_b: String,
    pub rows: Vec<FigureRow>,
    pub charts: Vec<Cdfs>,
}

/// Each point of A with the point of B at the same load; when no load is in both (a closed
/// loop against an open one, say), the points in the order they ran.
fn pairs(a: &[Value], b: &[Value]) -> Vec<(usize, usize)> {
    let same_load: Vec<(usize, usize)> = (0..a.len())
        .filter_map(|i| b.iter().position(|p| load_label(p) == load_label(&a[i])).map(|j| (i, j)))
        .collect();
    if same_load.is_empty() { (0..a.len().min(b.len())).map(|i| (i, i)).collect() } else { same_load }
}

fn times(requests: &[PerfRequestRow]) -> (Vec<f64>, Vec<f64>) {
    let ok = requests.iter().filter(|r| r.failure.is_none());
    let ttft = ok.clone().filter_map(|r| r.first_content_s.map(|f| (f - r.sent_s) * 1000.0)).collect();
    let latency = ok.map(|r| (r.end_s - r.sent_s) * 1000.0).collect();
    (ttft, latency)
}

#[derive(Template)]
#[template(path = "perf_compare.html")]
struct ComparePage {
    nav: Nav,
    a: PerfItem,
    b: PerfItem,
    pairs: Vec<PairView>,
}

/// The two ids of `?id=A&id=B` (or `?a=A&b=B`).
fn two_ids(fields: &[(String, String)]) -> Result<(i64, i64), WebError> {
    let ids: Vec<i64> = fields
        .iter()
        .filter(|(k, _)| matches!(k.as_str(), "id" | "a" | "b"))
        .map(|(_, v)| v.trim().parse().map_err(|_| WebError::BadRequest(format!("not a load test id: {v:?}"))))
        .collect::<Result<_, _>>()?;
    match ids[..] {
        [a, b] => Ok((a, b)),
        _ => Err(WebError::BadRequest(format!("choose two load tests to compare (got {})", ids.len()))),
    }
}

pub async fn show(
    State(state): State<AppState>,
    Query(fields): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let (nav, cookie) = nav(&state, &headers, "perf");
    let (id_a, id_b) = two_ids(&fields)?;
    let run_a = state.store.run_of_kind(id_a, "perf").await?.ok_or(WebError::NotFound)?;
    let run_b = state.store.run_of_kind(id_b, "perf").await?.ok_or(WebError::NotFound)?;
    let (sa, sb) = (summary_of(&run_a), summary_of(&run_b));
    let points_a = sa["runs"].as_array().cloned().unwrap_or_default();
    let points_b = sb["runs"].as_array().cloned().unwrap_or_default();
    let mut views = Vec::new();
    for (i, j) in pairs(&points_a, &points_b) {
        let (ttft_a, latency_a) = times(&state.store.perf_requests(id_a, i as i64).await?);
        let (ttft_b, latency_b) = times(&state.store.perf_requests(id_b, j as i64).await?);
        let (name_a, name_b) = (format!("#{id_a}"), format!("#{id_b}"));
        let charts = [
            cdfs("Time to first token", &[(name_a.clone(), ttft_a), (name_b.clone(), ttft_b)]),
            cdfs("Latency", &[(name_a, latency_a), (name_b, latency_b)]),
        ]
        .into_iter()
        .flatten()
        .collect();
        views.push(PairView {
            label_a: load_label(&points_a[i]),
            label_b: load_label(&points_b[j]),
            rows: figure_rows(&points_a[i], &points_b[j]),
            charts,
        });
    }
    page(ComparePage { nav, a: item(run_a), b: item(run_b), pairs: views }, cookie)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn changes_are_marked_by_which_way_is_better() {
        let a = json!({"request_throughput": 10.0, "ttft_ms": {"p50": 100.0}, "requests": {"failed": 0}});
        let b = json!({"request_throughput": 12.5, "ttft_ms": {"p50": 150.0}, "requests": {"failed": 2}});
        let rows = figure_rows(&a, &b);
        let row = |name: &str| rows.iter().find(|r| r.name == name).unwrap();
        assert_eq!(
            (row("Request throughput (req/s)").change.as_str(), row("Request throughput (req/s)").verdict),
            ("+25.0%", "better")
        );
        assert_eq!((row("TTFT p50 (ms)").change.as_str(), row("TTFT p50 (ms)").verdict), ("+50.0%", "worse"));
        // From zero failures a change has no percentage.
        assert_eq!(row("Failed requests").change, "-");
        assert_eq!(row("TPOT p50 (ms)").a, "-");
    }

    #[test]
    fn points_pair_by_load_then_by_place() {
        let a = vec![json!({"parallel": 1}), json!({"parallel": 4}), json!({"parallel": 8})];
        let b = vec![json!({"parallel": 4}), json!({"parallel": 1})];
        assert_eq!(pairs(&a, &b), vec![(0, 1), (1, 0)]);
        let rates = vec![json!({"rate": 2.0}), json!({"rate": 3.0}), json!({"rate": 4.0})];
        assert_eq!(pairs(&rates, &b), vec![(0, 0), (1, 1)]);
    }

    #[test]
    fn two_ids_are_needed() {
        let q = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
        assert_eq!(two_ids(&q(&[("id", "3"), ("id", "5")])).unwrap(), (3, 5));
        assert_eq!(two_ids(&q(&[("a", "3"), ("b", "5")])).unwrap(), (3, 5));
        assert!(two_ids(&q(&[("id", "3")])).is_err());
        assert!(two_ids(&q(&[("id", "x"), ("id", "2")])).is_err());
        assert!(two_ids(&[]).is_err());
    }
}
