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

    /// A share (shown as a percentage), unlike perplexities and bits per byte.
    pub fn is_fraction(&self) -> bool {
        is_fraction(self.metric)
    }
}

/// Whether a metric is a share between 0 and 1 (shown as a percentage).
pub fn is_fraction(metric: &str) -> bool {
    !matches!(metric, "word_perplexity" | "byte_perplexity" | "bits_per_byte")
}

/// One task's figures; the first metric is its headline (groups and targets use it).
#[derive(Debug, Clone, Serialize)]
pub struct TaskResult {
    pub name: String,
    /// The groups it reports into, innermost first.
    pub groups: Vec<String>,
    pub dataset: &'static str,
    pub output_type: &'static str,
    /// `loglikelihood` or `generation` (a multiple-choice task on a server that gives no prompt
    /// log-probabilities: the choice its answer names).
    pub scored_by: &'static str,
    pub target_delimiter: &'static str,
    pub shots: usize,
    /// Documents scored, and in the task before `--limit`.
    pub n: usize,
    pub original: usize,
    pub metrics: Vec<MetricValue>,
    /// How it was scored, where the report must say (HumanEval's sandbox).
    pub note: Option<String>,
    #[serde(skip)]
    pub samples: Vec<Value>,
    /// Each tagged document's tag and headline score, for the breakdown by tag (MATH's levels).
    #[serde(skip)]
    pub tagged: Vec<(String, f64)>,
}

impl TaskResult {
    pub fn new(
        task: &PlannedTask,
        metrics: Vec<MetricValue>,
        samples: Vec<Value>,
        tagged: Vec<(String, f64)>,
    ) -> TaskResult {
        let (output_type, scored_by, target_delimiter) = match &task.task {
            super::datasets::LoadedTask::Choice(_) => ("multiple_choice", "loglikelihood", " "),
            super::datasets::LoadedTask::Generate(t) => ("generate_until", "generation", t.target_delimiter),
            super::datasets::LoadedTask::Rolling(_) => ("loglikelihood_rolling", "loglikelihood", ""),
        };
        TaskResult {
            name: task.task.name().to_string(),
            groups: task.task.groups().to_vec(),
            dataset: task.dataset.name(),
            output_type,
            scored_by,
            target_delimiter,
            shots: task.shots,
            n: samples.len(),
            original: task.original,
            metrics,
            note: None,
            samples,
            tagged,
        }
    }

    pub fn headline(&self) -> Option<&MetricValue> {
        self.metrics.first()
    }
}

/// A group's figures on its members' headline metric: the mean over all their documents (tasks
/// weighted by size), its standard error, and the plain mean of the tasks ("Avg" beside
/// "WeightedAvg").
#[derive(Debug, Clone, Serialize)]
pub struct GroupResult {
    pub name: String,
    /// `METRIC,FILTER`, as in the members.
    pub metric: String,
    pub tasks: usize,
    pub n: usize,
    pub value: f64,
    pub stderr: Option<f64>,
    pub macro_value: f64,
}

impl GroupResult {
    /// A group of whole tasks, as lm-eval aggregates them (`weight_by_size`, pooled stderr).
    fn of_tasks(name: &str, members: &[&TaskResult]) -> Option<GroupResult> {
        let metric = members.first()?.headline()?.label();
        let headline = |t: &TaskResult| t.metrics.iter().find(|m| m.label() == metric).cloned();
        let sizes: Vec<usize> = members.iter().map(|t| t.n).collect();
        let values: Vec<f64> = members.iter().map(|t| headline(t).map_or(0.0, |m| m.value)).collect();
        // As lm-eval: a task without a standard error (one document) leaves the group without one.
        let stderrs: Option<Vec<f64>> = members.iter().map(|t| headline(t).and_then(|m| m.stderr)).collect();
        Some(GroupResult {
            name: name.to_string(),
            tasks: members.len(),
            n: sizes.iter().sum(),
            value: weighted_mean(&values, &sizes).unwrap_or(0.0),
            stderr: stderrs.and_then(|s| pooled_stderr(&s, &sizes)),
            macro_value: mean(&values).unwrap_or(0.0),
            metric,
        })
    }

    /// The documents of some tasks that share a tag (MATH's `Level 3` across its subjects).
    fn of_docs(name: String, metric: String, tasks: usize, per_doc: &[f64]) -> GroupResult {
        let value = mean(per_doc).unwrap_or(0.0);
        GroupResult { name, metric, tasks, n: per_doc.len(), value, stderr: mean_stderr(per_doc), macro_value: value }
    }

    /// The metric's name and filter, for results.json's keys.
    fn metric_keys(&self) -> (String, String) {
        let (metric, filter) = self.metric.split_once(',').unwrap_or((&self.metric, "none"));
        (self.metric.clone(), format!("{metric}_stderr,{filter}"))
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
        let mut by_group: BTreeMap<&str, Vec<&TaskResult>> = BTreeMap::new();
        for t in &tasks {
            for g in &t.groups {
                by_group.entry(g).or_default().push(t);
            }
        }
        let mut groups: Vec<GroupResult> =
            by_group.iter().filter_map(|(name, members)| GroupResult::of_tasks(name, members)).collect();
        groups.extend(tag_groups(&tasks));
        EvalReport { model, model_identity, tasks, groups }
    }

    /// A task's or group's headline score.
    pub fn score(&self, name: &str) -> Option<f64> {
        let task = self.tasks.iter().find(|t| t.name == name).and_then(|t| t.headline()).map(|m| m.value);
        task.or_else(|| self.groups.iter().find(|g| g.name == name).map(|g| g.value))
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
                json!({"task": t.name, "group": t.groups.first(), "num_fewshot": t.shots, "output_type": t.output_type, "scored_by": t.scored_by, "note": t.note,
                       "target_delimiter": t.target_delimiter, "fewshot_delimiter": "\n\n", "metric_list": metric_names}),
            );
            n_samples.insert(t.name.clone(), json!({"original": t.original, "effective": t.n}));
            // The lm-eval task versions these prompts and metrics are.
            let version = match t.dataset {
                "gsm8k" => 3.0,
                "truthfulqa" | "bbh" | "race" | "triviaqa" | "wikitext" => 2.0,
                _ => 1.0,
            };
            versions.insert(t.name.clone(), json!(version));
        }
        let mut groups = serde_json::Map::new();
        for g in &self.groups {
            let (value_key, stderr_key) = g.metric_keys();
            let r = json!({"alias": g.name, value_key: g.value, stderr_key: g.stderr});
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

/// A tag group's member tasks and per-document scores.
type TagMembers<'a> = (Vec<&'a str>, Vec<f64>);

/// Per-tag groups, named after the tasks' outer group (or the task) and the tag: MATH's levels
/// across its subjects as `minerva_math_level_3`.
fn tag_groups(tasks: &[TaskResult]) -> Vec<GroupResult> {
    let mut by_tag: BTreeMap<(String, String), TagMembers<'_>> = BTreeMap::new();
    for t in tasks.iter().filter(|t| !t.tagged.is_empty()) {
        let Some(metric) = t.headline().map(MetricValue::label) else { continue };
        let base = t.groups.last().unwrap_or(&t.name);
        for (tag, value) in &t.tagged {
            let slug = tag
                .to_lowercase()
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join("_");
            let entry = by_tag.entry((format!("{base}_{slug}"), metric.clone())).or_default();
            if !entry.0.contains(&t.name.as_str()) {
                entry.0.push(&t.name);
            }
            entry.1.push(*value);
        }
    }
    by_tag
        .into_iter()
        .map(|((name, metric), (members, values))| GroupResult::of_docs(name, metric, members.len(), &values))
        .collect()
}
