//! A panel of judges (`reviews_gen.reviewers`): each judge reviews the answers on its own — its
//! verdicts stored under its own name, its review cache and review file its own — then the
//! panel's verdict on each battle is aggregated from theirs and written as the run's review
//! file, which the ratings read. The per-judge boards stay in the database (`jury rate --db
//! --judge NAME`, `/?judge=NAME`).

pub mod aggregate;
pub mod peer;

use serde::{Deserialize, Serialize};

use super::part::Part;
use super::reviews::{ReviewSummary, run_reviews};
use super::{ArenaError, ArenaOptions};
use crate::config::{Aggregation, ArenaConfig, ReviewMode};
use crate::data::jsonl::write_jsonl;
use crate::data::{ReviewRecord, read_reviews};
use crate::input::{BadInput, Problem};
use crate::llm::ModelPool;
use crate::store::Store;

/// One judge's part of a panel run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PanelMember {
    pub judge: String,
    pub reviews: ReviewSummary,
}

/// What a panel run gives: the totals (its review file the aggregated one), each judge's own
/// summary, and in peer mode the judges' Peer Rank weights.
pub struct PanelOutcome {
    pub totals: ReviewSummary,
    pub members: Vec<PanelMember>,
    pub peer_rank: Option<peer::PeerRank>,
}

/// The run's config as the panel's `j`-th judge reviews it alone.
pub fn member_config(config: &ArenaConfig, j: usize) -> ArenaConfig {
    let reviews = &config.reviews;
    let member = &reviews.panel[j];
    let mut one = config.clone();
    one.reviews.judge = member.judge.clone();
    one.reviews.prompt_file = member.prompt_file.clone();
    one.reviews.review_file = Some(member.review_file.clone());
    one.reviews.panel = Vec::new();
    if reviews.aggregation == Aggregation::PeerRank && !reviews.self_judging {
        one.reviews.exclude_model = member.as_candidate.clone();
    }
    // A cache file's verdicts are taken whichever judge wrote them: never for a panel.
    one.reviews.cache_file = None;
    one
}

/// Every judge reviews in turn, then their verdicts are combined.
pub async fn run_panel(
    config: &ArenaConfig,
    store: &Store,
    pool: &ModelPool,
    questions: Option<(&[crate::data::Question], i64)>,
    run_id: Option<i64>,
    options: &ArenaOptions,
) -> Result<PanelOutcome, ArenaError> {
    let reviews = &config.reviews;
    let mut members = Vec::new();
    let mut total = ReviewSummary::default();
    // A worker doing a unit reviews one judge's share; the run's own pass combines them.
    if let Some(Part::Reviews { judge: Some(j), .. }) = &options.part {
        if *j >= reviews.panel.len() {
            return Err(ArenaError::Failed(format!("the run's panel has no judge {j}: its config changed")));
        }
        let summary = run_reviews(&member_config(config, *j), store, pool, questions, run_id, options).await?;
        let judge = reviews.panel[*j].judge.name.clone();
        return Ok(PanelOutcome {
            totals: summary.clone(),
            members: vec![PanelMember { judge, reviews: summary }],
            peer_rank: None,
        });
    }
    for (j, member) in reviews.panel.iter().enumerate() {
        let one = member_config(config, j);
        let summary = run_reviews(&one, store, pool, questions, run_id, options).await?;
        total.add(&summary);
        members.push(PanelMember { judge: member.judge.name.clone(), reviews: summary });
    }
    let mut judged = Vec::new();
    for member in &reviews.panel {
        let records: Vec<ReviewRecord> = read_reviews(&member.review_file)?.into_iter().map(|l| l.value).collect();
        judged.push((member.judge.name.clone(), records));
    }
    let mut peer_rank = None;
    let aggregation = match &reviews.aggregation {
        Aggregation::PeerRank => {
            // Judges are known by the candidate they are.
            let as_models: Vec<(String, Vec<_>)> = reviews
                .panel
                .iter()
                .zip(&judged)
                .map(|(m, (name, records))| (m.as_candidate.clone().unwrap_or(name.clone()), records.clone()))
                .collect();
            let rank = peer::peer_rank(&as_models);
            let weights = reviews
                .panel
                .iter()
                .map(|m| {
                    let model = m.as_candidate.as_ref().unwrap_or(&m.judge.name);
                    (m.judge.name.clone(), rank.weights.get(model).copied().unwrap_or(0.0))
                })
                .collect();
            peer_rank = Some(rank);
            Aggregation::Weighted(weights)
        }
        other => other.clone(),
    };
    let combined = if reviews.judge.mode == ReviewMode::Single {
        aggregate::aggregate_scores(&judged, &aggregation)
    } else {
        aggregate::aggregate_pairs(&judged, &aggregation)
    };
    let file = reviews
        .review_file
        .clone()
        .ok_or_else(|| BadInput::one(Problem::new("reviews_gen.review_file is missing").in_file(&config.file)))?;
    write_jsonl(&file, &combined).map_err(|e| ArenaError::Failed(format!("cannot write {}: {e}", file.display())))?;
    total.reviews_written = combined.len() as u64;
    total.review_file = Some(file.clone());
    Ok(PanelOutcome { totals: total, members, peer_rank })
}
