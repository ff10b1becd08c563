//! The load-test pages' charts: coordinates for inline SVG, drawn by the templates (so every
//! label goes through their escaping).

/// Bars of a histogram and a cumulative curve, in a 560 × 160 box.
pub struct Histogram {
    pub title: String,
    /// (x, y, width, height) of each bar.
    pub bars: Vec<(f64, f64, f64, f64)>,
    /// The cumulative share as an SVG polyline.
    pub cdf: String,
    pub low: String,
    pub high: String,
    pub count: usize,
}

const CHART_WIDTH: f64 = 560.0;
const CHART_HEIGHT: f64 = 160.0;
const BINS: usize = 30;

pub fn histogram(title: &str, values_ms: &[f64]) -> Option<Histogram> {
    if values_ms.is_empty() {
        return None;
    }
    let mut sorted = values_ms.to_vec();
    sorted.sort_by(f64::total_cmp);
    let (low, high) = (sorted[0], sorted[sorted.len() - 1]);
    let span = (high - low).max(1e-9);
    let mut counts = [0usize; BINS];
    for v in &sorted {
        counts[(((v - low) / span) * BINS as f64).min(BINS as f64 - 1.0) as usize] += 1;
    }
    let most = *counts.iter().max().unwrap_or(&1) as f64;
    let width = CHART_WIDTH / BINS as f64;
    let bars = counts
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let h = CHART_HEIGHT * c as f64 / most;
            (i as f64 * width, CHART_HEIGHT - h, (width - 1.0).max(1.0), h)
        })
        .collect();
    let n = sorted.len() as f64;
    let cdf = sorted
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{:.1},{:.1}", (v - low) / span * CHART_WIDTH, CHART_HEIGHT * (1.0 - (i + 1) as f64 / n)))
        .collect::<Vec<_>>()
        .join(" ");
    Some(Histogram {
        title: title.to_string(),
        bars,
        cdf,
        low: format!("{low:.1} ms"),
        high: format!("{high:.1} ms"),
        count: sorted.len(),
    })
}

/// Dots of (x, y) in a 560 × 160 box, with the axes' extremes as labels.
pub struct Scatter {
    pub title: String,
    pub dots: Vec<(f64, f64)>,
    /// A line through the dots in order, when they are a series (an SVG polyline's points).
    pub line: Option<String>,
    pub x_low: String,
    pub x_high: String,
    pub y_high: String,
}

pub fn scatter(title: &str, points: &[(f64, f64)], x_unit: &str, y_unit: &str, joined: bool) -> Option<Scatter> {
    if points.is_empty() {
        return None;
    }
    let x_low = points.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let x_high = points.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    let y_high = points.iter().map(|p| p.1).fold(0.0, f64::max).max(1e-9);
    let x_span = (x_high - x_low).max(1e-9);
    let dots: Vec<(f64, f64)> = points
        .iter()
        .map(|(x, y)| ((x - x_low) / x_span * CHART_WIDTH, CHART_HEIGHT - y / y_high * CHART_HEIGHT))
        .collect();
    let line = joined.then(|| dots.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect::<Vec<_>>().join(" "));
    Some(Scatter {
        title: title.to_string(),
        dots,
        line,
        x_low: format!("{x_low:.2} {x_unit}"),
        x_high: format!("{x_high:.2} {x_unit}"),
        y_high: format!("{y_high:.1} {y_unit}"),
    })
}

/// Cumulative curves of several samples on one time axis, in a 560 × 160 box: which run
/// answered sooner, at every percentile.
pub struct Cdfs {
    pub title: String,
    /// (label, colour, SVG polyline points) of each sample.
    pub lines: Vec<(String, &'static str, String)>,
    pub low: String,
    pub high: String,
}

const COLOURS: [&str; 2] = ["#1f4e8c", "#c0392b"];

pub fn cdfs(title: &str, samples: &[(String, Vec<f64>)]) -> Option<Cdfs> {
    let all = samples.iter().flat_map(|(_, v)| v.iter().copied());
    let low = all.clone().fold(f64::INFINITY, f64::min);
    let high = all.fold(f64::NEG_INFINITY, f64::max);
    if !low.is_finite() {
        return None;
    }
    let span = (high - low).max(1e-9);
    let lines = samples
        .iter()
        .zip(COLOURS.iter().cycle())
        .filter(|((_, v), _)| !v.is_empty())
        .map(|((label, values), colour)| {
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            let n = sorted.len() as f64;
            let points = sorted
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    format!("{:.1},{:.1}", (v - low) / span * CHART_WIDTH, CHART_HEIGHT * (1.0 - (i + 1) as f64 / n))
                })
                .collect::<Vec<_>>()
                .join(" ");
            (label.clone(), *colour, points)
        })
        .collect();
    Some(Cdfs { title: title.to_string(), lines, low: format!("{low:.1} ms"), high: format!("{high:.1} ms") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdfs_share_one_axis() {
        let chart = cdfs("TTFT", &[("a".into(), vec![10.0, 20.0]), ("b".into(), vec![30.0])]).unwrap();
        assert_eq!(chart.low, "10.0 ms");
        assert_eq!(chart.high, "30.0 ms");
        // a's fastest request sits at the left edge, b's only one at the right, reaching 100%.
        assert!(chart.lines[0].2.starts_with("0.0,80.0"));
        assert_eq!(chart.lines[1].2, "560.0,0.0");
        assert!(cdfs("none", &[("a".into(), vec![])]).is_none());
    }
}
