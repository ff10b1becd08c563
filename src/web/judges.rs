//! The judges a web run may use. They come from the server's own configuration (`--judges
//! FILE`), never from the request: a request that could name any URL and any environment
//! variable could send the server's secrets anywhere.
//!
//! ```yaml
//! judges:
//!   - name: gpt-4o                          # what the runs form offers
//!     model: gpt-4o                         # the model the endpoint serves
//!     api_base: https://api.openai.com/v1   # default: OPENAI_BASE_URL, else OpenAI
//!     api_key_env: OPENAI_API_KEY           # the variable holding its key (the default)
//! ```

use std::path::Path;

use serde::Deserialize;

use crate::config::{DEFAULT_API_KEY_ENV, OPENAI_DEFAULT_BASE};
use crate::input::{BadInput, Problem, Problems};

/// The built-in choices besides the configured judges.
pub const DRY_RUN_JUDGE: &str = "dry-run";
pub const LOCAL_JUDGE: &str = "local";

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowedJudge {
    pub name: String,
    pub model: String,
    #[serde(default)]
    pub api_base: Option<String>,
    #[serde(default = "default_key_env")]
    pub api_key_env: String,
}

fn default_key_env() -> String {
    DEFAULT_API_KEY_ENV.to_string()
}

impl AllowedJudge {
    /// The endpoint, resolved as the arena resolves a judge's `api_base`.
    pub fn api_base(&self) -> String {
        self.api_base
            .clone()
            .or_else(|| std::env::var("OPENAI_BASE_URL").ok().filter(|v| !v.trim().is_empty()))
            .unwrap_or_else(|| OPENAI_DEFAULT_BASE.to_string())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JudgesFile {
    judges: Vec<AllowedJudge>,
}

/// Reads and checks a judges file: every problem with its line and key path.
pub fn load_judges(file: &Path) -> Result<Vec<AllowedJudge>, BadInput> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Problem::new(format!("cannot read the judges file: {e}")).in_file(file))?;
    let parsed: JudgesFile =
        serde_path_to_error::deserialize(serde_yaml::Deserializer::from_str(&text)).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            let line = inner.location().map(|l| l.line());
            let mut message = inner.to_string();
            if let Some(cut) = message.find(" at line ") {
                message.truncate(cut);
            }
            Problem::new(message).in_file(file).at_line(line).at_key(if key == "." { String::new() } else { key })
        })?;
    let mut problems = Problems::default();
    let mut names: Vec<&str> = Vec::new();
    for (i, judge) in parsed.judges.iter().enumerate() {
        let at = |field: &str| format!("judges[{i}].{field}");
        let name = judge.name.trim();
        if name.is_empty() {
            problems.push(Problem::new("a judge needs a name").in_file(file).at_key(at("name")));
        } else if name == DRY_RUN_JUDGE || name == LOCAL_JUDGE {
            problems.push(
                Problem::new(format!("{name} is a built-in choice; give this judge another name"))
                    .in_file(file)
                    .at_key(at("name")),
            );
        } else if names.contains(&name) {
            problems.push(Problem::new(format!("a second judge named {name}")).in_file(file).at_key(at("name")));
        }
        names.push(name);
        if judge.model.trim().is_empty() {
            problems.push(Problem::new("name the model the endpoint serves").in_file(file).at_key(at("model")));
        }
        if let Some(base) = &judge.api_base
            && !(base.starts_with("http://") || base.starts_with("https://"))
        {
            problems.push(
                Problem::new(format!("expected an http:// or https:// URL, got {base:?}"))
                    .in_file(file)
                    .at_key(at("api_base")),
            );
        }
    }
    problems.into_result()?;
    Ok(parsed.judges)
}
