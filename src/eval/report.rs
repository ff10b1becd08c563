//! Results in lm-evaluation-harness's shape (`results.json`: results, groups, configs,
//! n-samples, versions) and its per-document samples (`samples_<task>.jsonl`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};

use super::metrics::{mean, mean_stderr, pooled_stderr, weighted_mean};
use super::runner::{PlannedTask, ScoredDoc};

/// One task's figures.
#[derive(Debug, Clone, Serialize)]
pub struct TaskResult {
    pub name: String,
    pub group: Option<String>,
    pub dataset: &'static str,
    pub shots: usize,
    /// Documents scored, and in the task before `--limit`.
    pub n: usize,
    pub original: usize,
    pub acc: f64,
    pub acc_stderr: Option<f64>,
    pub acc_norm: Option<f64>,
    pub acc_norm_stderr: Option<f64>,
    #[serde(skip)]
    pub samples: Vec<Value>,
}

impl TaskResult {
    pub fn from_scored(task: &PlannedTask, scored: &[ScoredDoc]) -> TaskResult {
        let acc: Vec<f64> = scored.iter().map(|s| s.acc).collect();
        let norm: Vec<f64> = scored.iter().filter_map(|s| s.acc_norm).collect();
        TaskResult {
            name: task.data.name.clone(),
            group: task.data.group.clone(),
            dataset: task.dataset.name(),
            shots: task.shots,
            n: scored.len(),
            original: task.original,
            acc: mean(&acc).unwrap_or(0.0),
            acc_stderr: mean_stderr(&acc),
            acc_norm: task.data.acc_norm.then(|| mean(&norm).unwrap_or(0.0)),
            acc_norm_stderr: if task.data.acc_norm { mean_stderr(&norm) } else { None },
            samples: scored.iter().map(|s| s.sample.clone()).collect(),
        }
    }
}

/// A group's figures over its tasks: the mean weighted by size, the pooled standard error,
/// and the plain mean of the tasks (the "Avg" beside "WeightedAvg").
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
    let accs: Vec<f64> = members.iter().map(|t| t.acc).collect();
    // As lm-eval: a task without a standard error (one document) leaves the group without one.
    let stderrs: Option<Vec<f64>> = members.iter().map(|t| t.acc_stderr).collect();
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

    /// A task's or group's headline score (`acc`).
    pub fn score(&self, name: &str) -> Option<f64> {
        let task = self.tasks.iter().find(|t| t.name == name).map(|t| t.acc);
        task.or_else(|| self.groups.iter().find(|g| g.name == name).map(|g| g.acc))
    }

    /// `results.json`, in lm-evaluation-harness's layout and names.
    pub fn lm_eval_json(&self) -> Value {
        let mut results = serde_json::Map::new();
        let mut configs = serde_json::Map::new();
        let mut n_samples = serde_json::Map::new();
        let mut versions = serde_json::Map::new();
        for t in &self.tasks {
            let mut r = json!({"alias": t.name, "acc,none": t.acc, "acc_stderr,none": t.acc_stderr});
            if let Some(norm) = t.acc_norm {
                r["acc_norm,none"] = json!(norm);
                r["acc_norm_stderr,none"] = json!(t.acc_norm_stderr);
            }
            results.insert(t.name.clone(), r);
            let metrics = if t.acc_norm.is_some() { json!(["acc", "acc_norm"]) } else { json!(["acc"]) };
            configs.insert(
                t.name.clone(),
                json!({"task": t.name, "group": t.group, "num_fewshot": t.shots, "output_type": "multiple_choice",
                       "target_delimiter": " ", "fewshot_delimiter": "\n\n", "metric_list": metrics}),
            );
            n_samples.insert(t.name.clone(), json!({"original": t.original, "effective": t.n}));
            versions.insert(t.name.clone(), json!(1.0));
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
