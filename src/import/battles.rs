//! `jury import battles` and `POST /api/battles/import`: verdict files (FastChat battles,
//! MT-Bench judgments, llmuses reviews) bound to stored questions and answers and stored as
//! human votes or as a judge's battles. Importing the same file again adds nothing.

use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::data::verdicts::{VerdictRecord, parse_verdicts};
use crate::input::{BadInput, Problem, Problems};
use crate::rating::Outcome;
use crate::store::{ImportCatalog, ImportedBattle, Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// People's votes (each record one vote)
    Human,
    /// A judge's verdicts (named by --judge, or by each record's `judge`)
    Judge,
}

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub source: Source,
    /// The judge the verdicts are from (judge source); else each record's `judge`.
    pub judge: Option<String>,
    /// Bind question ids within this question set only (needed when ids repeat across sets).
    pub question_set: Option<String>,
}

/// A record that could not be bound, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unmatched {
    pub file: String,
    /// `line N` or `record N`.
    pub place: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportSummary {
    pub records: usize,
    pub imported: usize,
    /// Imported before, or (judge source) the judge already decided those two answers.
    pub already_imported: usize,
    pub unmatched: usize,
    /// Records whose verdict is `unknown`.
    pub unknown_verdicts: usize,
    /// MT-Bench's second-turn verdicts: jury stores first-turn answers only.
    pub later_turns: usize,
    /// llmuses single-answer score records, which are not battles.
    pub single_scores: usize,
    /// The first unmatched records (all of them are counted in `unmatched`).
    pub unmatched_records: Vec<Unmatched>,
}

/// Unmatched records listed at most.
const LISTED: usize = 50;
/// Battles stored per transaction.
const BATCH: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    BadInput(#[from] BadInput),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn winner_text(o: Outcome) -> &'static str {
    match o {
        Outcome::ModelA => "model_a",
        Outcome::ModelB => "model_b",
        Outcome::Tie => "tie",
        Outcome::TieBothBad => "tie (bothbad)",
    }
}

/// Why `record` cannot be bound, or the stored ids it is about:
/// (question, answer A, answer B, model A, model B). A question id found in several question
/// sets is bound to the one where both models answered it, when exactly one is.
fn bind(catalog: &ImportCatalog, r: &VerdictRecord, set_named: bool) -> Result<(i64, i64, i64, i64, i64), String> {
    let questions = catalog.questions.get(&r.question_id).map(Vec::as_slice).unwrap_or_default();
    if questions.is_empty() {
        let scope = if set_named { "in that question set" } else { "in the database" };
        return Err(format!("no question {} {scope}", r.question_id));
    }
    let model = |name: &str| catalog.models.get(name).copied().ok_or_else(|| format!("no model named {name}"));
    let (model_a, model_b) = (model(&r.model_a)?, model(&r.model_b)?);
    let answers = |question: i64| {
        Some((catalog.answers.get(&(question, model_a)).copied()?, catalog.answers.get(&(question, model_b)).copied()?))
    };
    let answered: Vec<(i64, (i64, i64))> =
        questions.iter().filter_map(|&(q, _)| answers(q).map(|pair| (q, pair))).collect();
    match answered.as_slice() {
        [(question, (answer_a, answer_b))] => Ok((*question, *answer_a, *answer_b, model_a, model_b)),
        [] => {
            let missing = if questions.iter().any(|&(q, _)| catalog.answers.contains_key(&(q, model_a))) {
                &r.model_b
            } else {
                &r.model_a
            };
            Err(format!("{missing} has no stored answer to question {}", r.question_id))
        }
        several => Err(format!(
            "question {} is in {} question sets answered by both models: name one with --question-set",
            r.question_id,
            several.len()
        )),
    }
}

/// Reads every file (all must be valid before anything is stored), binds each verdict and
/// stores the bound ones. `files` are (label, text).
pub async fn import_battles(
    store: &Store,
    files: &[(String, String)],
    options: &ImportOptions,
) -> Result<ImportSummary, ImportError> {
    let mut problems = Problems::default();
    let mut parsed = Vec::new();
    let mut summary = ImportSummary::default();
    for (label, text) in files {
        match parse_verdicts(text, Path::new(label)) {
            Ok(file) => {
                summary.single_scores += file.single_scores;
                // A record is known by its file's content and its place there: the same file
                // imported again adds nothing, another file's records are all new.
                let digest = hex::encode(Sha256::digest(text.as_bytes()));
                parsed.push((label, file.records, digest));
            }
            Err(bad) => problems.extend(bad),
        }
    }
    if options.source == Source::Judge && options.judge.is_none() {
        // Each record must then say which judge it is from.
        for (label, records, _) in &parsed {
            if let Some(r) = records.iter().find(|r| r.rater.is_none()) {
                problems.push(
                    Problem::new(format!(
                        "{}: judge verdicts need a judge: pass --judge NAME (this record names none)",
                        r.place
                    ))
                    .in_file(label.as_str()),
                );
            }
        }
    }
    problems.into_result()?;
    let set = match &options.question_set {
        Some(name) => Some(store.question_set_named(name).await?.ok_or_else(|| {
            BadInput::one(Problem::new(format!("there is no question set named {name}")).at_key("--question-set"))
        })?),
        None => None,
    };
    let catalog = store.import_catalog(set).await?;
    let mut ready = Vec::new();
    for (label, records, file_digest) in parsed {
        for r in records {
            summary.records += 1;
            if r.turn != 1 {
                summary.later_turns += 1;
                continue;
            }
            let Some(winner) = r.winner else {
                summary.unknown_verdicts += 1;
                continue;
            };
            let (question, answer_a, answer_b, model_a, model_b) = match bind(&catalog, &r, set.is_some()) {
                Ok(ids) => ids,
                Err(reason) => {
                    summary.unmatched += 1;
                    if summary.unmatched_records.len() < LISTED {
                        summary.unmatched_records.push(Unmatched {
                            file: label.clone(),
                            place: r.place.clone(),
                            reason,
                        });
                    }
                    continue;
                }
            };
            let (source, judge_model) = match options.source {
                Source::Human => ("human", None),
                Source::Judge => ("judge", options.judge.clone().or(r.rater.clone())),
            };
            let import_key =
                hex::encode(Sha256::digest(serde_json::json!([source, judge_model, file_digest, r.place]).to_string()));
            ready.push(ImportedBattle {
                question_id: question,
                answer_a_id: answer_a,
                answer_b_id: answer_b,
                model_a_id: model_a,
                model_b_id: model_b,
                winner: winner_text(winner),
                source,
                judge_model,
                voter: format!("imported:{}", r.rater.as_deref().unwrap_or("-")),
                import_key,
            });
        }
    }
    for batch in ready.chunks(BATCH) {
        for stored in store.insert_imported_battles(batch).await? {
            if stored {
                summary.imported += 1;
            } else {
                summary.already_imported += 1;
            }
        }
    }
    Ok(summary)
}
