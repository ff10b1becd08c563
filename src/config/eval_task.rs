//! EvalScope's task config (`run_task`'s dict, as YAML or JSON), read as it is: the keys jury
//! uses, the ones it accepts with a note, and warnings for the rest, each with its line.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{LineIndex, yaml_problem};
use crate::input::{BadInput, Problem, Problems};

/// A task config's settings, before the command line's flags are laid over them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct EvalTask {
    pub model: Option<String>,
    #[serde(deserialize_with = "one_or_many")]
    pub datasets: Vec<String>,
    pub dataset_args: Option<serde_json::Value>,
    pub dataset_dir: Option<String>,
    pub dataset_hub: Option<String>,
    pub limit: Option<usize>,
    pub work_dir: Option<String>,
    pub outputs: Option<String>,
    pub use_cache: Option<serde_yaml::Value>,
    pub mem_cache: Option<bool>,
    pub eval_type: Option<String>,
    pub api_url: Option<String>,
    pub api_key: Option<String>,
    pub generation_config: Option<serde_json::Value>,
    pub template_type: Option<String>,
    pub model_args: Option<serde_json::Value>,
    pub seed: Option<u64>,
    pub stage: Option<String>,
    pub eval_backend: Option<String>,
    /// Relative paths in the file resolve against its folder.
    #[serde(skip)]
    pub base_dir: PathBuf,
    #[serde(skip)]
    pub warnings: Vec<String>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

impl EvalTask {
    /// A path from the file, resolved against its folder.
    pub fn path(&self, value: &str) -> PathBuf {
        self.base_dir.join(value)
    }
}

pub fn load_eval_task(file: &Path) -> Result<EvalTask, BadInput> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Problem::new(format!("cannot read the task config: {e}")).in_file(file))?;
    let lines = LineIndex::build(&text);
    let mut unknown: Vec<String> = Vec::new();
    let mut task: EvalTask = {
        // JSON is YAML too.
        let deserializer = serde_yaml::Deserializer::from_str(&text);
        let mut record = |path: serde_ignored::Path<'_>| unknown.push(super::ignored_key_path(&path));
        let ignored = serde_ignored::Deserializer::new(deserializer, &mut record);
        serde_path_to_error::deserialize(ignored).map_err(|e| yaml_problem(e, file, &lines))?
    };
    task.base_dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let place = |key: &str| match lines.line_of(key) {
        Some(line) => format!("{}:{line}: {key}", file.display()),
        None => format!("{}: {key}", file.display()),
    };
    for key in unknown {
        task.warnings.push(format!("{}: unknown key, ignored", place(&key)));
    }
    let mut problems = Problems::default();
    let problem =
        |key: &str, message: String| Problem::new(message).in_file(file).at_line(lines.line_of(key)).at_key(key);
    if let Some(hub) = &task.dataset_hub
        && !hub.eq_ignore_ascii_case("local")
    {
        problems.push(problem(
            "dataset_hub",
            format!("{hub}: jury downloads nothing; use Local and point dataset_dir (or dataset_args.<name>.local_path) at the files"),
        ));
    }
    if task.eval_type.as_deref().is_some_and(|t| t == "service") && task.api_url.is_none() {
        problems.push(problem("eval_type", "eval_type service needs api_url: the server's base URL".into()));
    }
    for (key, note) in [
        (task.template_type.is_some(), "template_type: ignored: the GGUF file carries its chat template"),
        (task.model_args.is_some(), "model_args: ignored: the GGUF file fixes the weights and their precision"),
        (
            task.generation_config.is_some(),
            "generation_config: not used: each dataset generates as lm-eval does (greedy, its stop sequences and length)",
        ),
        (
            task.seed.is_some(),
            "seed: not needed: scoring and greedy generation are deterministic, and few-shot examples are drawn with lm-eval's seed",
        ),
        (task.mem_cache.is_some(), "mem_cache: ignored: every request is cached in the database anyway"),
        (task.stage.is_some(), "stage: ignored: an eval always runs to its report"),
        (
            task.eval_backend.as_deref().is_some_and(|b| !b.eq_ignore_ascii_case("native")),
            "eval_backend: ignored: jury is the backend",
        ),
    ] {
        if key {
            let name = note.split(':').next().unwrap_or_default();
            task.warnings.push(format!("{}{}", place(name), &note[name.len()..]));
        }
    }
    problems.into_result()?;
    Ok(task)
}
