//! `jury rate` on 1,000,000 battles among 100 models (a FastChat battle JSON file of ~130 MB):
//! Bradley–Terry with 100 bootstrap rounds and online Elo, the whole process including parsing,
//! against a Python reference of Chatbot Arena's current method run on the same file.
//!
//!     cargo bench --bench rate_1m
//!
//! The reference needs numpy, scipy and pandas; point JURY_BENCH_PYTHON at a Python that has
//! them (it is skipped otherwise). Peak memory comes from GNU time (/usr/bin/time).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

const BATTLES: usize = 1_000_000;
const MODELS: usize = 100;
const RUNS: usize = 5;

/// Writes the battle file once (seeded, so every run rates the same battles).
fn battle_file() -> PathBuf {
    let dir = std::env::temp_dir().join("jury-bench");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("battles_1m.json");
    if path.exists() {
        return path;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    let normal = Normal::new(0.0, 0.6).unwrap();
    let strength: Vec<f64> = (0..MODELS).map(|_| normal.sample(&mut rng)).collect();
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    out.write_all(b"[").unwrap();
    for t in 0..BATTLES {
        let a = rng.random_range(0..MODELS);
        let b = (a + rng.random_range(1..MODELS)) % MODELS;
        let p = 1.0 / (1.0 + 10f64.powf(strength[b] - strength[a]));
        let r: f64 = rng.random();
        let winner = if r < 0.10 {
            "tie"
        } else if r < 0.13 {
            "tie (bothbad)"
        } else if rng.random::<f64>() < p {
            "model_a"
        } else {
            "model_b"
        };
        if t > 0 {
            out.write_all(b",\n").unwrap();
        }
        write!(
            out,
            "{{\"model_a\": \"model-{a:03}\", \"model_b\": \"model-{b:03}\", \"winner\": \"{winner}\", \"tstamp\": {:.2}, \"anony\": true, \"language\": \"English\"}}",
            1.7e9 + t as f64 * 0.37
        )
        .unwrap();
    }
    out.write_all(b"]\n").unwrap();
    out.flush().unwrap();
    path
}

/// Wall-clock seconds and peak memory (KiB, when GNU time is there) of one run.
fn measure(program: &str, args: &[&str]) -> (f64, Option<u64>) {
    let gnu_time = Path::new("/usr/bin/time").exists();
    let mut cmd = if gnu_time {
        let mut c = Command::new("/usr/bin/time");
        c.args(["-f", "%M", program]);
        c
    } else {
        Command::new(program)
    };
    let started = Instant::now();
    let out = cmd.args(args).output().expect("run");
    let seconds = started.elapsed().as_secs_f64();
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let peak = gnu_time
        .then(|| String::from_utf8_lossy(&out.stderr).lines().last().and_then(|l| l.trim().parse().ok()))
        .flatten();
    (seconds, peak)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn bench(name: &str, file: &str, extra: &[&str]) -> f64 {
    let jury = env!("CARGO_BIN_EXE_jury");
    let mut args = vec!["rate", file, "--json"];
    args.extend_from_slice(extra);
    measure(jury, &args); // warm the page cache
    let runs: Vec<(f64, Option<u64>)> = (0..RUNS).map(|_| measure(jury, &args)).collect();
    let seconds = median(runs.iter().map(|r| r.0).collect());
    let peak = runs.iter().filter_map(|r| r.1).max();
    let all: Vec<String> = runs.iter().map(|r| format!("{:.3}", r.0)).collect();
    println!(
        "{{\"bench\":\"rate_1m\",\"case\":\"{name}\",\"median_seconds\":{seconds:.3},\"runs\":[{}],\"peak_kib\":{}}}",
        all.join(","),
        peak.map_or("null".into(), |p| p.to_string())
    );
    seconds
}

fn main() {
    let file = battle_file();
    let size = std::fs::metadata(&file).unwrap().len();
    println!(
        "{{\"bench\":\"rate_1m\",\"file\":\"{}\",\"bytes\":{size},\"battles\":{BATTLES},\"models\":{MODELS}}}",
        file.display()
    );
    let file = file.to_str().unwrap();
    let bt = bench("bt, 100 bootstrap rounds", file, &[]);
    bench("elo, no bootstrap", file, &["--method", "elo", "--bootstrap", "0"]);
    bench("elo, 100 bootstrap rounds", file, &["--method", "elo"]);

    let python = std::env::var("JURY_BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_deps =
        Command::new(&python).args(["-c", "import numpy, scipy, pandas"]).output().is_ok_and(|o| o.status.success());
    if !has_deps {
        println!(
            "{{\"bench\":\"rate_1m\",\"case\":\"python reference\",\"skipped\":\"{python} lacks numpy, scipy or pandas\"}}"
        );
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/reference/arena_bt.py");
    let (seconds, peak) = measure(&python, &[script, file, "100"]);
    println!(
        "{{\"bench\":\"rate_1m\",\"case\":\"python reference (Chatbot Arena method), 100 bootstrap rounds\",\"seconds\":{seconds:.3},\"peak_kib\":{},\"jury_speedup\":{:.1}}}",
        peak.map_or("null".into(), |p| p.to_string()),
        seconds / bt
    );
}
