//! A panel of judges (`reviews_gen.reviewers`): each judge reviews the answers on its own — its
//! verdicts stored under its own name, its review cache and review file its own — then the
//! panel's verdict on each battle is aggregated from theirs and written as the run's review
//! file, which the ratings read. The per-judge boards stay in the database (`jury rate --db
//! --judge NAME`, `/?judge=NAME`).

pub mod aggregate;

use serde::{Deserialize, Serialize};

use super::reviews::{ReviewSummary, run_reviews};
use super::{ArenaError, ArenaOptions};
use crate::config::{ArenaConfig, ReviewMode};
use crate::data::jsonl::write_jsonl;
use crate::data::read_reviews;
use crate::input::{BadInput, Problem};
use crate::llm::ModelPool;
use crate::store::Store;

/// One judge's part of a panel run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PanelMember {
    pub judge: String,
    pub reviews: ReviewSummary,
}

/// Every judge reviews in turn, then their verdicts are combined. Returns the panel's totals
/// (its review file the aggregated one) and each judge's own summary.
pub async fn run_panel(
    config: &ArenaConfig,
    store: &Store,
    pool: &ModelPool,
    questions: Option<(&[crate::data::Question], i64)>,
    run_id: Option<i64>,
    options: &ArenaOptions,
) -> Result<(ReviewSummary, Vec<PanelMember>), ArenaError> {
    let reviews = &config.reviews;
    let mut members = Vec::new();
    let mut total = ReviewSummary::default();
    for member in &reviews.panel {
        let mut one = config.clone();
        one.reviews.judge = member.judge.clone();
        one.reviews.prompt_file = member.prompt_file.clone();
        one.reviews.review_file = Some(member.review_file.clone());
        one.reviews.panel = Vec::new();
        // A cache file's verdicts are taken whichever judge wrote them: never for a panel.
        one.reviews.cache_file = None;
        let summary = run_reviews(&one, store, pool, questions, run_id, options).await?;
        total.add(&summary);
        members.push(PanelMember { judge: member.judge.name.clone(), reviews: summary });
    }
    let mut judged = Vec::new();
    for member in &reviews.panel {
        let records = read_reviews(&member.review_file)?.into_iter().map(|l| l.value).collect();
        judged.push((member.judge.name.clone(), records));
    }
    let combined = if reviews.judge.mode == ReviewMode::Single {
        aggregate::aggregate_scores(&judged, &reviews.aggregation)
    } else {
        aggregate::aggregate_pairs(&judged, &reviews.aggregation)
    };
    let file = reviews
        .review_file
        .clone()
        .ok_or_else(|| BadInput::one(Problem::new("reviews_gen.review_file is missing").in_file(&config.file)))?;
    write_jsonl(&file, &combined).map_err(|e| ArenaError::Failed(format!("cannot write {}: {e}", file.display())))?;
    total.reviews_written = combined.len() as u64;
    total.review_file = Some(file.clone());
    Ok((total, members))
}
