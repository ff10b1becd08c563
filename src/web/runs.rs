//! Rounds started from the web: the request becomes a work folder (the questions, the
//! answers already stored, and an arena config) that the job worker runs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Value, json};

use super::error::WebError;
use super::judges::{DRY_RUN_JUDGE, LOCAL_JUDGE};
use super::state::AppState;
use crate::config::ModelSpec;
use crate::jobs::RUN_CONFIG_FILE;

/// A round: which questions, which candidates, how they are judged.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RunRequest {
    pub question_set: i64,
    /// Candidates: shipped local models (by name) or models whose answers are stored.
    #[serde(default)]
    pub candidates: Vec<String>,
    #[serde(default = "pairwise")]
    pub mode: String,
    #[serde(default)]
    pub position_bias: Option<String>,
    /// The candidate everyone is compared with (pairwise_baseline).
    #[serde(default)]
    pub baseline: Option<String>,
    /// `dry-run` (no judge), `local` (the demo model) or the name of a judge in the server's
    /// configuration (`--judges`).
    #[serde(default = "dry")]
    pub judge: String,
    /// Refused: a request never names an endpoint or a key variable (see `web::judges`).
    #[serde(default)]
    pub judge_model: Option<String>,
    #[serde(default)]
    pub judge_api_base: Option<String>,
    #[serde(default)]
    pub judge_api_key_env: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
}

fn pairwise() -> String {
    "pairwise".into()
}

fn dry() -> String {
    "dry-run".into()
}

impl RunRequest {
    /// From an HTML form's fields, where each ticked candidate is its own `candidates` field.
    pub fn from_form(fields: Vec<(String, String)>) -> RunRequest {
        let mut r = RunRequest { mode: pairwise(), judge: dry(), ..RunRequest::default() };
        let opt = |v: String| (!v.trim().is_empty()).then(|| v.trim().to_string());
        for (k, v) in fields {
            match k.as_str() {
                "question_set" => r.question_set = v.trim().parse().unwrap_or(0),
                "candidates" => r.candidates.push(v),
                "mode" => r.mode = v,
                "position_bias" => r.position_bias = opt(v),
                "baseline" => r.baseline = opt(v),
                "judge" => r.judge = v,
                "judge_model" => r.judge_model = opt(v),
                "judge_api_base" => r.judge_api_base = opt(v),
                "judge_api_key_env" => r.judge_api_key_env = opt(v),
                "title" => r.title = opt(v),
                _ => {}
            }
        }
        r
    }
}

/// Checks the request, writes the work folder and queues the run; returns its id.
pub async fn start(state: &AppState, request: &RunRequest) -> Result<i64, WebError> {
    let bad = |m: String| Err(WebError::BadRequest(m));
    let store = &state.store;
    let Some(set) = store.question_set(request.question_set).await? else {
        return bad(format!("no question set {}", request.question_set));
    };
    let stored: BTreeSet<String> = store.models_with_answers(set.id).await?.into_iter().collect();
    let mut candidates: Vec<String> = Vec::new();
    for c in &request.candidates {
        if !candidates.contains(c) {
            candidates.push(c.clone());
        }
    }
    if let Some(b) = &request.baseline
        && !candidates.contains(b)
    {
        candidates.push(b.clone());
    }
    for c in &candidates {
        if state.registry.candidate(c).is_none() && !stored.contains(c) {
            return bad(format!("{c} is neither a shipped model nor a model with answers to {}", set.name));
        }
    }
    let mode = request.mode.as_str();
    match mode {
        "pairwise" if candidates.len() < 2 => return bad("a pairwise round needs at least two candidates".into()),
        "pairwise_baseline" if request.baseline.is_none() => {
            return bad("a baseline round needs a baseline candidate".into());
        }
        "pairwise_baseline" if candidates.len() < 2 => return bad("choose candidates besides the baseline".into()),
        "single" if candidates.is_empty() => return bad("choose at least one candidate".into()),
        "pairwise" | "pairwise_baseline" | "single" => {}
        other => return bad(format!("unknown mode {other}: use pairwise, pairwise_baseline or single")),
    }
    let bias = match request.position_bias.as_deref() {
        None | Some("none") | Some("") => Value::Null,
        Some(b @ ("swap_position" | "randomize_order")) => json!(b),
        Some(other) => return bad(format!("unknown position bias strategy {other}")),
    };
    if request.judge_model.is_some() || request.judge_api_base.is_some() || request.judge_api_key_env.is_some() {
        return bad(format!(
            "a run does not name the judge's model, endpoint or key variable: they come from the server's \
             configuration (jury serve --judges FILE); choose a judge by name: {}",
            judge_names(state).join(", ")
        ));
    }
    let dry_run = request.judge == DRY_RUN_JUDGE;
    let mut judge_args = json!({"mode": mode, "position_bias_mitigation": bias});
    match request.judge.as_str() {
        DRY_RUN_JUDGE => judge_args["model"] = json!("dry-run"),
        LOCAL_JUDGE => {
            let demo = state.registry.candidates.iter().find_map(|c| match &c.model {
                ModelSpec::Local { path } => Some(path.clone()),
                _ => None,
            });
            let Some(path) = demo else { return bad("no local model is shipped to judge with".into()) };
            judge_args["model_id_or_path"] = json!(path);
            judge_args["max_tokens"] = json!(256);
        }
        name => {
            let Some(judge) = state.judges.iter().find(|j| j.name == name) else {
                return bad(format!("unknown judge {name}: choose one of {}", judge_names(state).join(", ")));
            };
            // Stored and shown under the name the server gives it: two judges may serve one model.
            judge_args["name"] = json!(judge.name);
            judge_args["model"] = json!(judge.model);
            judge_args["api_base"] = json!(judge.api_base());
            judge_args["api_key_env"] = json!(judge.api_key_env);
        }
    }

    let dir = work_dir(&state.data_dir);
    let io = |e: std::io::Error| WebError::Internal(format!("cannot write the run folder {}: {e}", dir.display()));
    std::fs::create_dir_all(dir.join("answers")).map_err(io)?;
    let questions: String = store
        .questions_of(set.id)
        .await?
        .into_iter()
        .map(|q| {
            let turns: Vec<String> = serde_json::from_str(&q.turns).unwrap_or_default();
            let mut line = json!({"question_id": external_id(&q.external_id), "turns": turns, "category": q.category});
            if let Some(r) = q.reference_answer {
                line["reference"] = json!(r);
            }
            line.to_string() + "\n"
        })
        .collect();
    std::fs::write(dir.join("questions.jsonl"), questions).map_err(io)?;

    let mut answers_gen = serde_json::Map::new();
    let mut targets = Vec::new();
    for name in &candidates {
        let file = format!("answers/{}.jsonl", file_name(name));
        if let Some(c) = state.registry.candidate(name) {
            let mut entry = json!({"output_file": file, "generation_config": c.generation});
            match &c.model {
                ModelSpec::Local { path } => entry["model_id_or_path"] = json!(path),
                ModelSpec::Remote { api_base, api_key_env, model } => {
                    entry["api_base"] = json!(api_base);
                    entry["api_key_env"] = json!(api_key_env);
                    entry["model"] = json!(model);
                }
            }
            if let Some(p) = &c.system_prompt {
                entry["system_prompt"] = json!(p);
            }
            answers_gen.insert(name.clone(), entry);
        } else {
            let lines: String = store
                .answers_for_export(set.id, name)
                .await?
                .into_iter()
                .map(|a| {
                    json!({"question_id": external_id(&a.question_id), "text": a.question, "category": a.category,
                           "model_id": name, "metadata": {}, "answer": a.answer})
                    .to_string()
                        + "\n"
                })
                .collect();
            std::fs::write(dir.join(&file), lines).map_err(io)?;
        }
        if request.baseline.as_deref() != Some(name.as_str()) || mode != "pairwise_baseline" {
            targets.push(file);
        }
    }
    let mut reviews = json!({
        "reviewer": {"args": judge_args},
        "target_answers": targets,
        "review_file": "reviews/review.jsonl",
    });
    let mut rating = json!({
        "metrics": if mode == "single" { json!(["score"]) } else { json!(["bt", "pairwise"]) },
        "report_file": "reports/rating.csv",
    });
    if mode == "pairwise_baseline" {
        let baseline = request.baseline.clone().unwrap_or_default();
        reviews["baseline_file"] = json!(format!("answers/{}.jsonl", file_name(&baseline)));
        rating["baseline_model"] = json!(baseline);
    }
    let config = json!({
        "question_file": "questions.jsonl",
        "question_set_id": set.id,
        "answers_gen": answers_gen,
        "reviews_gen": reviews,
        "rating_gen": rating,
    });
    let yaml = serde_yaml::to_string(&config).map_err(|e| WebError::Internal(e.to_string()))?;
    std::fs::write(dir.join(RUN_CONFIG_FILE), &yaml).map_err(io)?;
    // Fail now, not in the worker, if the generated config does not hold together.
    crate::config::load_arena_config(&dir.join(RUN_CONFIG_FILE)).map_err(WebError::Rejected)?;

    let title = request.title.clone().unwrap_or_else(|| {
        format!("{} · {} · {}", set.name, mode, if dry_run { "dry run" } else { request.judge.as_str() })
    });
    let id = store.enqueue_run("arena", &title, &yaml, dry_run, &dir.display().to_string()).await?;
    state.jobs.notify();
    Ok(id)
}

/// The run, if it may be resumed (`resume`) or dismissed: only one whose process is gone (a
/// live run is cancelled instead), and only an arena run is resumed here.
pub async fn interrupted_run(state: &AppState, id: i64, resume: bool) -> Result<crate::store::RunRow, WebError> {
    let run = state.store.run(id).await?.ok_or(WebError::NotFound)?;
    if !run.interrupted() {
        return Err(WebError::Conflict(format!("run {id} is {}, not interrupted", run.status)));
    }
    if resume && !run.resumable() {
        return Err(WebError::Conflict(format!(
            "run {id} is an {}: run its command again (what it stored is reused)",
            run.kind
        )));
    }
    Ok(run)
}

/// What a run may choose as its judge.
pub fn judge_names(state: &AppState) -> Vec<String> {
    let mut names = vec![DRY_RUN_JUDGE.to_string(), LOCAL_JUDGE.to_string()];
    names.extend(state.judges.iter().map(|j| j.name.clone()));
    names
}

/// Question ids go back out as they came in: numbers as numbers, `"007"` as `"007"`.
fn external_id(id: &str) -> Value {
    crate::data::QuestionId::from_key(id).raw().clone()
}

/// A model name as a safe file name.
fn file_name(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' }).collect()
}

fn work_dir(data_dir: &Path) -> PathBuf {
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    data_dir.join("runs").join(format!("{stamp}-{}", super::security::new_session_id()))
}
