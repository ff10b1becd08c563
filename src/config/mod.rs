//! Configs users write: llmuses/EvalScope arena YAML, validated with file, line and key path.

mod arena;
mod eval_task;
mod lines;
mod raw;

use std::path::Path;

pub use crate::spec::{DEFAULT_API_KEY_ENV, LocalModelError, ModelSpec, OPENAI_DEFAULT_BASE, resolve_local_model};
pub use arena::{
    Aggregation, ArenaConfig, Candidate, Judge, Metric, PanelJudge, ParserKind, PositionBias, Rating, ReviewMode,
    Reviews,
};
pub use eval_task::{EvalTask, load_eval_task};
pub use lines::LineIndex;

use crate::input::{BadInput, Problem, Problems};

/// Reads and validates an arena config. Unknown keys become warnings; everything else that
/// is wrong is reported at once, each with its line and key path.
pub fn load_arena_config(file: &Path) -> Result<ArenaConfig, BadInput> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Problem::new(format!("cannot read the config file: {e}")).in_file(file))?;
    let file = normalize(&std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf()));
    let base_dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    parse_arena_config(&text, &file, &base_dir)
}

/// Parses config text whose relative paths resolve against `base_dir`.
pub fn parse_arena_config(text: &str, file: &Path, base_dir: &Path) -> Result<ArenaConfig, BadInput> {
    if text.trim().is_empty() {
        return Err(Problem::new("the config file is empty").in_file(file).into());
    }
    let lines = LineIndex::build(text);
    let mut unknown_keys: Vec<String> = Vec::new();
    let raw: raw::RawArenaConfig = {
        let deserializer = serde_yaml::Deserializer::from_str(text);
        let mut record_unknown = |path: serde_ignored::Path<'_>| unknown_keys.push(ignored_key_path(&path));
        let ignored = serde_ignored::Deserializer::new(deserializer, &mut record_unknown);
        serde_path_to_error::deserialize(ignored).map_err(|e| yaml_problem(e, file, &lines))?
    };

    let mut validator =
        arena::Validator { file, base_dir, lines: &lines, problems: Problems::default(), warnings: Vec::new() };
    let mut config_warnings = Vec::new();
    for key in unknown_keys {
        let place = match lines.line_of(&key) {
            Some(line) => format!("{}:{line}", file.display()),
            None => file.display().to_string(),
        };
        config_warnings.push(format!("{place}: {key}: unknown key, ignored"));
    }
    validator.warnings.append(&mut config_warnings);
    validator.validate(raw)
}

/// Removes `.` and `..` from a path without touching the file system, so paths print as
/// users expect (`/repo/outputs/x`, not `/repo/registry/config/../../outputs/x`).
pub fn normalize(path: &Path) -> std::path::PathBuf {
    use std::path::Component;
    let mut out = std::path::PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                let popped = matches!(out.components().next_back(), Some(Component::Normal(_))) && out.pop();
                if !popped {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// `a.b[2].c`, in the same notation as the line index (serde_ignored marks `Option`s with `?`).
pub(crate) fn ignored_key_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", ignored_key_path(parent)),
        Path::Map { parent, key } => {
            let parent = ignored_key_path(parent);
            if parent.is_empty() { key.clone() } else { format!("{parent}.{key}") }
        }
        Path::Some { parent } | Path::NewtypeStruct { parent } | Path::NewtypeVariant { parent } => {
            ignored_key_path(parent)
        }
    }
}

/// A deserialization error located by line and key path.
pub(crate) fn yaml_problem(
    error: serde_path_to_error::Error<serde_yaml::Error>,
    file: &Path,
    lines: &LineIndex,
) -> Problem {
    let key_path = error.path().to_string();
    let inner = error.into_inner();
    // Errors raised by our own deserializers carry no location: find the key instead.
    let line = inner.location().map(|l| l.line()).or_else(|| lines.line_of(&key_path));
    let mut message = inner.to_string();
    // serde_yaml appends its own location and path; we print ours in front instead.
    if let Some(cut) = message.find(" at line ") {
        message.truncate(cut);
    }
    if let Some(rest) = message.strip_prefix(&format!("{key_path}: ")) {
        message = rest.to_string();
    }
    let key_path = if key_path == "." { String::new() } else { key_path };
    Problem::new(message).in_file(file).at_line(line).at_key(key_path)
}
