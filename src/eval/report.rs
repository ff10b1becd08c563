//! Results in lm-evaluation-harness's shape (`results.json`: results, groups, configs,
//! n-samples, versions) and its per-document samples (`samples_<task>.jsonl`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};

use super::metrics::{mean, mean_stderr, pooled_stderr, weighted_mean};
use super::runner::PlannedTask;

/// One metric of a task after one filter (`acc` after `none`, `exact_match` after
/// `strict-match`), named in results.json as `METRIC,FILTER`.
#[derive(Debug, Clone, Serialize)]
pub struct MetricValue {
    pub metric: &'static str,
    pub filter: &'static str,
    pub value: f64,
    pub stderr: Option<f64>,
}

impl MetricValue {
    /// The mean of per-document values and its standard error.
    pub fn of(metric: &'static str, filter: &'static str, per_doc: &[f64]) -> MetricValue {
        MetricValue { metric, filter, value: mean(per_doc).unwrap_or(0.0), stderr: mean_stderr(per_doc) }
    }

    pub fn label(&self) -> String {
        format!("{},{}", self.metric, self.filter)
    }
}

/// One task's figures; the first metric is its headline (groups and targets use it).
#[derive(Debug, Clone, Serialize)]
pub struct TaskResult {
    pub name: String,
    pub group: Option<String>,
    pub dataset: &'static str,
    pub output_type: &'static str,
    pub target_delimiter: &'static str,
    pub shots: usize,
    /// Documents scored, and in the task before `--limit`.
    pub n: usize,
    pub original: usize,
    pub metrics: Vec<MetricValue>,
    #[serde(skip)]
    pub samples: Vec<Value>,
}

impl TaskResult {
    pub fn new(task: &PlannedTask, metrics: Vec<MetricValue>, samples: Vec<Value>) -> TaskResult {
        let (group, output_type, target_delimiter) = match &task.task {
            super::datasets::LoadedTask::Choice(t) => (t.group.clone(), "multiple_choice", " "),
            super::datasets::LoadedTask::Generate(t) => (None, "generate_until", t.target_delimiter),
        };
        TaskResult {
            name: task.task.name().to_string(),
            group,
            dataset: task.dataset.name(),
            output_type,
            target_delimiter,
            shots: task.shots,
            n: samples.len(),
            original: task.original,
            metrics,
            samples,
        }
    }

    pub fn headline(&self) -> Option<&MetricValue> {
        self.metrics.first()
    }
}

/// A group's figures over its tasks' headline metric: the mean weighted by size, the pooled
/// standard error, and the plain mean of the tasks (the "Avg" beside "WeightedAvg").
#[derive(Debug, Clone, Serialize)]
pub struct GroupResult {
    pub name: String,
    pub tasks: usize,
    pub n: usize,
    pub acc: f64,
    pub acc_stderr: Option<f64>,
    pub macro_acc: f64,
}

fn group(name: &str, members: &[&TaskResult]) -> GroupResult {
    let sizes: Vec<usize> = members.iter().map(|t| t.n).collect();
    let accs: Vec<f64> = members.iter().map(|t| t.headline().map_or(0.0, |m| m.value)).collect();
    // As lm-eval: a task without a standard error (one document) leaves the group without one.
    let stderrs: Option<Vec<f64>> = members.iter().map(|t| t.headline().and_then(|m| m.stderr)).collect();
    GroupResult {
        name: name.to_string(),
        tasks: members.len(),
        n: sizes.iter().sum(),
        acc: weighted_mean(&accs, &sizes).unwrap_or(0.0),
        acc_stderr: stderrs.and_then(|s| pooled_stderr(&s, &sizes)),
        macro_acc: mean(&accs).unwrap_or(0.0),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub model: String,
    pub model_identity: String,
    pub tasks: Vec<TaskResult>,
    pub groups: Vec<GroupResult>,
}

impl EvalReport {
    pub fn new(model: String, model_identity: String, tasks: Vec<TaskResult>) -> EvalReport {
        let mut by_group: BTreeMap<String, Vec<&TaskResult>> = BTreeMap::new();
        for t in &tasks {
            if let Some(g) = &t.group {
                by_group.entry(g.clone()).or_default().push(t);
                // Every subgroup also belongs to its dataset's group (mmlu_stem → mmlu).
                by_group.entry(t.dataset.to_string()).or_default().push(t);
            }
        }
        let groups = by_group.iter().map(|(name, members)| group(name, members)).collect();
        EvalReport { model, model_identity, tasks, groups }
    }

    /// A task's or group's headline score.
    pub fn score(&self, name: &str) -> Option<f64> {
        let task = self.tasks.iter().find(|t| t.name == name).and_then(|t| t.headline()).map(|m| m.value);
        task.or_else(|| self.groups.iter().find(|g| g.name == name).map(|g| g.acc))
    }

    /// `results.json`, in lm-evaluation-harness's layout and names.
    pub fn lm_eval_json(&self) -> Value {
        let mut results = serde_json::Map::new();
        let mut configs = serde_json::Map::new();
        let mut n_samples = serde_json::Map::new();
        let mut versions = serde_json::Map::new();
        for t in &self.tasks {
            let mut r = json!({"alias": t.name});
            for m in &t.metrics {
                r[m.label()] = json!(m.value);
                r[format!("{}_stderr,{}", m.metric, m.filter)] = json!(m.stderr);
            }
            results.insert(t.name.clone(), r);
            let mut metric_names: Vec<&str> = t.metrics.iter().map(|m| m.metric).collect();
            metric_names.dedup();
            configs.insert(
                t.name.clone(),
                json!({"task": t.name, "group": t.group, "num_fewshot": t.shots, "output_type": t.output_type,
                       "target_delimiter": t.target_delimiter, "fewshot_delimiter": "\n\n", "metric_list": metric_names}),
            );
            n_samples.insert(t.name.clone(), json!({"original": t.original, "effective": t.n}));
            // The lm-eval task versions these prompts and metrics are.
            let version = match t.dataset {
                "gsm8k" => 3.0,
                "truthfulqa" | "bbh" => 2.0,
                _ => 1.0,
            };
            versions.insert(t.name.clone(), json!(version));
        }
        let mut groups = serde_json::Map::new();
        for g in &self.groups {
            let r = json!({"alias": g.name, "acc,none": g.acc, "acc_stderr,none": g.acc_stderr});
            results.insert(g.name.clone(), r.clone());
            groups.insert(g.name.clone(), r);
        }
        json!({
            "results": results,
            "groups": groups,
            "configs": configs,
            "n-samples": n_samples,
            "versions": versions,
            "model": self.model,
            "model_identity": self.model_identity,
        })
    }

    /// Writes `results.json` and a `samples_<task>.jsonl` per task into `dir`.
    pub fn write(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir)?;
        let mut files = Vec::new();
        let results = dir.join("results.json");
        std::fs::write(&results, serde_json::to_string_pretty(&self.lm_eval_json()).unwrap_or_default())?;
        files.push(results);
        for t in &self.tasks {
            let path = dir.join(format!("samples_{}.jsonl", t.name));
            crate::data::jsonl::write_jsonl(&path, &t.samples)?;
            files.push(path);
        }
        Ok(files)
    }
}
