//! Judge prompt templates in llmuses' JSONL format (`name, type, system_prompt,
//! prompt_template, description, category, output_format, defaults`), which FastChat's
//! judge_prompts.jsonl also follows. Templates use Python `str.format` placeholders.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::data::jsonl::{Line, parse_jsonl};
use crate::input::{BadInput, Problem, Problems};

/// jury's own judge prompts, used when a config names no `prompt_file`.
pub const BUILTIN_TEMPLATES: &str = include_str!("../../registry/data/prompts/jury_judge_prompts.jsonl");
pub const BUILTIN_TEMPLATES_PATH: &str = "registry/data/prompts/jury_judge_prompts.jsonl";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateKind {
    Pairwise,
    Single,
}

impl TemplateKind {
    fn allowed_placeholders(self) -> &'static [&'static str] {
        match self {
            TemplateKind::Pairwise => &["question", "answer_a", "answer_b", "ref_answer_1"],
            TemplateKind::Single => &["question", "answer", "ref_answer_1"],
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Categories {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, Deserialize)]
struct RawTemplate {
    name: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    system_prompt: Option<String>,
    prompt_template: String,
    #[serde(default)]
    category: Option<Categories>,
    #[serde(default)]
    output_format: Option<String>,
    #[serde(default)]
    defaults: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub name: String,
    pub kind: TemplateKind,
    pub system_prompt: String,
    pub prompt_template: String,
    pub categories: Vec<String>,
    pub output_format: Option<String>,
    pub defaults: HashMap<String, String>,
    placeholders: BTreeSet<String>,
    /// Whether every placeholder is one jury can fill for this kind of template; FastChat's
    /// multi-turn templates (`{question_1}`…) are not.
    usable: bool,
    pub line: usize,
}

impl Template {
    pub fn needs_reference(&self) -> bool {
        self.placeholders.contains("ref_answer_1") && !self.defaults.contains_key("ref_answer_1")
    }

    fn matches_category(&self, category: &str) -> bool {
        self.categories.iter().any(|c| c == category)
    }

    /// Fills the template: `values` are the question, answers and reference.
    pub fn render(&self, values: &HashMap<&str, &str>) -> Result<String, String> {
        let mut all: HashMap<&str, &str> = self.defaults.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        all.extend(values.iter().map(|(k, v)| (*k, *v)));
        format_python(&self.prompt_template, &all)
    }
}

#[derive(Debug, Clone)]
pub struct Templates {
    pub source: PathBuf,
    list: Vec<Template>,
}

impl Templates {
    pub fn builtin() -> Templates {
        Templates::parse(BUILTIN_TEMPLATES, Path::new(BUILTIN_TEMPLATES_PATH))
            .expect("the built-in judge templates are valid")
    }

    pub fn load(file: &Path) -> Result<Templates, BadInput> {
        let text =
            std::fs::read_to_string(file).map_err(|e| Problem::new(format!("cannot read: {e}")).in_file(file))?;
        Templates::parse(&text, file)
    }

    pub fn parse(text: &str, file: &Path) -> Result<Templates, BadInput> {
        let lines: Vec<Line<RawTemplate>> = parse_jsonl(text, file)?;
        let mut problems = Problems::default();
        let mut list = Vec::new();
        for Line { line, value } in lines {
            let kind = match value.kind.as_deref().unwrap_or("pairwise") {
                "pairwise" | "pairwise_baseline" => TemplateKind::Pairwise,
                "single" => TemplateKind::Single,
                other => {
                    problems.push(
                        Problem::new(format!("expected type pairwise or single, got \"{other}\""))
                            .in_file(file)
                            .at_line(Some(line))
                            .at_key("type"),
                    );
                    continue;
                }
            };
            let placeholders = match placeholders(&value.prompt_template) {
                Ok(p) => p,
                Err(e) => {
                    problems.push(Problem::new(e).in_file(file).at_line(Some(line)).at_key("prompt_template"));
                    continue;
                }
            };
            let defaults: HashMap<String, String> = value
                .defaults
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
                .collect();
            let usable = placeholders
                .iter()
                .all(|p| kind.allowed_placeholders().contains(&p.as_str()) || defaults.contains_key(p));
            let categories = match value.category {
                None => vec![],
                Some(Categories::One(c)) => vec![c],
                Some(Categories::Many(cs)) => cs,
            };
            list.push(Template {
                name: value.name,
                kind,
                system_prompt: value.system_prompt.unwrap_or_default(),
                prompt_template: value.prompt_template,
                categories,
                output_format: value.output_format,
                defaults,
                placeholders,
                usable,
                line,
            });
        }
        problems.into_result()?;
        if list.is_empty() {
            return Err(Problem::new("holds no templates").in_file(file).into());
        }
        Ok(Templates { source: file.to_path_buf(), list })
    }

    /// The template for a question: the first of the right kind whose category matches,
    /// else the first of the right kind. A template that needs a reference answer is
    /// skipped when the question has none, and templates with placeholders jury cannot
    /// fill (such as multi-turn ones) are never chosen.
    pub fn select(&self, kind: TemplateKind, category: &str, has_reference: bool) -> Option<&Template> {
        let candidates =
            || self.list.iter().filter(move |t| t.kind == kind && t.usable && (has_reference || !t.needs_reference()));
        candidates().find(|t| t.matches_category(category)).or_else(|| candidates().next())
    }
}

/// The placeholder names in a Python format string (`{name}`; `{{` and `}}` are literal braces).
pub fn placeholders(template: &str) -> Result<BTreeSet<String>, String> {
    let mut names = BTreeSet::new();
    walk_format(template, |piece| {
        if let Piece::Field(name) = piece {
            names.insert(name.to_string());
        }
    })?;
    Ok(names)
}

/// Python `str.format` with named fields only.
pub fn format_python(template: &str, values: &HashMap<&str, &str>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() + 256);
    let mut missing = None;
    walk_format(template, |piece| match piece {
        Piece::Text(t) => out.push_str(t),
        Piece::Field(name) => match values.get(name) {
            Some(v) => out.push_str(v),
            None => {
                missing.get_or_insert_with(|| name.to_string());
            }
        },
    })?;
    match missing {
        Some(name) => Err(format!("no value for placeholder {{{name}}}")),
        None => Ok(out),
    }
}

enum Piece<'a> {
    Text(&'a str),
    Field(&'a str),
}

fn walk_format<'a>(template: &'a str, mut visit: impl FnMut(Piece<'a>)) -> Result<(), String> {
    let bytes = template.as_bytes();
    let mut i = 0;
    let mut text_start = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' if bytes.get(i + 1) == Some(&b'{') => {
                visit(Piece::Text(&template[text_start..i + 1]));
                i += 2;
                text_start = i;
            }
            b'}' if bytes.get(i + 1) == Some(&b'}') => {
                visit(Piece::Text(&template[text_start..i + 1]));
                i += 2;
                text_start = i;
            }
            b'{' => {
                visit(Piece::Text(&template[text_start..i]));
                let end = template[i + 1..]
                    .find('}')
                    .map(|e| i + 1 + e)
                    .ok_or_else(|| format!("unclosed '{{' at character {i} (write {{{{ for a literal brace)"))?;
                let name = &template[i + 1..end];
                let valid = !name.is_empty()
                    && name.chars().all(|c| c.is_alphanumeric() || c == '_')
                    && !name.chars().next().is_some_and(|c| c.is_ascii_digit());
                if !valid {
                    return Err(format!(
                        "unsupported placeholder {{{name}}}: use named fields such as {{question}} (write {{{{ for a literal brace)"
                    ));
                }
                visit(Piece::Field(name));
                i = end + 1;
                text_start = i;
            }
            b'}' => return Err(format!("single '}}' at character {i} (write }}}} for a literal brace)")),
            _ => i += 1,
        }
    }
    visit(Piece::Text(&template[text_start..]));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_format_semantics() {
        let values = HashMap::from([("question", "Q?"), ("answer", "A!")]);
        assert_eq!(format_python("[{question}] {{literal}} {answer}", &values).unwrap(), "[Q?] {literal} A!");
        assert!(format_python("{nope}", &values).unwrap_err().contains("nope"));
        assert!(format_python("{0}", &values).is_err());
        assert!(format_python("a } b", &values).is_err());
        assert!(format_python("a { b", &values).is_err());
    }

    #[test]
    fn builtin_templates_load() {
        let t = Templates::builtin();
        assert!(t.select(TemplateKind::Pairwise, "writing", false).is_some());
        assert!(t.select(TemplateKind::Single, "writing", false).is_some());
        let math = t.select(TemplateKind::Pairwise, "math", true).unwrap();
        assert!(math.needs_reference());
        let math_no_ref = t.select(TemplateKind::Pairwise, "math", false).unwrap();
        assert!(!math_no_ref.needs_reference());
    }
}
