//! Human voting: which battle a voter sees next, and recording the vote.
//!
//! The next battle is between the pair of models with the fewest votes so far (among pairs
//! that answered a common question; ties broken at random), on a random question both
//! answered, with random sides. The pairs are read once per catalog revision; the vote counts
//! are read with them and then kept current in memory as this server records votes.
//!
//! A battle is stored when it is shown, so that its vote can be checked against it; those never
//! voted on are swept away after a day.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use rand::seq::IndexedRandom;

use super::error::WebError;
use super::state::AppState;
use crate::store::{AnsweredPair, Store, VoteBattle, VoteOutcome};

#[derive(Clone, Default)]
pub struct VotePairs {
    inner: Arc<Mutex<Pairs>>,
    /// One reader of the pairs at a time: the first voters after a change would otherwise all
    /// read the same hundred thousand answers at once.
    loading: Arc<tokio::sync::Mutex<()>>,
    /// When unvoted battles were last swept away.
    swept: Arc<Mutex<Option<Instant>>>,
}

/// How long a shown battle waits for its vote.
const UNVOTED_KEPT: Duration = Duration::from_secs(24 * 3600);
const SWEEP_EVERY: Duration = Duration::from_secs(3600);

#[derive(Default)]
struct Pairs {
    /// The catalog revision `answered` and `votes` were read at.
    catalog: Option<i64>,
    /// Per question set (`None`: all sets).
    answered: HashMap<Option<i64>, Arc<Vec<AnsweredPair>>>,
    votes: HashMap<(i64, i64), i64>,
}

impl VotePairs {
    /// Chooses the next pair and question and opens the battle; `None` when no two models
    /// answered a common question.
    async fn next(
        &self,
        store: &Store,
        catalog: i64,
        question_set: Option<i64>,
    ) -> Result<Option<VoteBattle>, WebError> {
        let answered = self.answered(store, catalog, question_set).await?;
        let (pair, flip, pick) = {
            let pairs = self.inner.lock().expect("not poisoned");
            let votes = |p: &AnsweredPair| pairs.votes.get(&(p.model_a, p.model_b)).copied().unwrap_or(0);
            let Some(fewest) = answered.iter().map(votes).min() else { return Ok(None) };
            let candidates: Vec<&AnsweredPair> = answered.iter().filter(|p| votes(p) == fewest).collect();
            let mut rng = rand::rng();
            let Some(pair) = candidates.choose(&mut rng) else { return Ok(None) };
            (**pair, rng.random_bool(0.5), rng.random_range(0..pair.shared))
        };
        Ok(store.open_vote_battle(pair.model_a, pair.model_b, question_set, pick, flip).await?)
    }

    /// The pairs that answered common questions of `question_set`, as of `catalog`.
    async fn answered(
        &self,
        store: &Store,
        catalog: i64,
        question_set: Option<i64>,
    ) -> Result<Arc<Vec<AnsweredPair>>, WebError> {
        let cached = || {
            let pairs = self.inner.lock().expect("not poisoned");
            let answered = pairs.answered.get(&question_set).filter(|_| pairs.catalog == Some(catalog)).cloned();
            (answered, pairs.catalog != Some(catalog))
        };
        if let (Some(answered), _) = cached() {
            return Ok(answered);
        }
        let _loading = self.loading.lock().await;
        let (answered, stale) = cached();
        if let Some(answered) = answered {
            return Ok(answered);
        }
        let votes = if stale { Some(store.votes_per_pair().await?) } else { None };
        let answered = Arc::new(store.answered_pairs(question_set).await?);
        let mut pairs = self.inner.lock().expect("not poisoned");
        if let Some(votes) = votes {
            pairs.catalog = Some(catalog);
            pairs.answered.clear();
            pairs.votes = votes.into_iter().map(|(a, b, n)| ((a, b), n)).collect();
        }
        pairs.answered.insert(question_set, answered.clone());
        Ok(answered)
    }

    /// Deletes old unvoted battles, in the background, at most every [`SWEEP_EVERY`].
    fn sweep(&self, store: &Store) {
        {
            let mut swept = self.swept.lock().expect("not poisoned");
            if swept.is_some_and(|at| at.elapsed() < SWEEP_EVERY) {
                return;
            }
            *swept = Some(Instant::now());
        }
        let store = store.clone();
        tokio::spawn(async move {
            match store.delete_unvoted_battles(UNVOTED_KEPT).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(battles = n, "deleted battles shown a day ago and never voted on"),
                Err(e) => tracing::warn!("cannot delete unvoted battles: {e}"),
            }
        });
    }

    fn record(&self, pair: (i64, i64)) {
        *self.inner.lock().expect("not poisoned").votes.entry(pair).or_default() += 1;
    }
}

/// The next anonymous battle to vote on, within the client's limit of battles shown (each
/// is stored until it is voted on or swept away).
/// With `calibration`, a battle a judge already decided (the fewest human votes first).
pub async fn next_battle(
    state: &AppState,
    question_set: Option<i64>,
    calibration: bool,
    client: IpAddr,
) -> Result<Option<VoteBattle>, WebError> {
    state.limits.shown.check(client)?;
    let facts =
        state.boards.facts_where(&state.store, |f| question_set.map_or(Ok(()), |id| f.check_question_set(id))).await?;
    state.vote_pairs.sweep(&state.store);
    if calibration {
        let flip = rand::rng().random_bool(0.5);
        return Ok(state.store.open_calibration_battle(question_set, flip).await?);
    }
    state.vote_pairs.next(&state.store, facts.revisions.catalog, question_set).await
}

/// The four choices a voter has, as stored.
pub fn check_winner(winner: &str) -> Result<(), WebError> {
    match winner {
        "model_a" | "model_b" | "tie" | "tie (bothbad)" => Ok(()),
        other => {
            Err(WebError::BadRequest(format!("winner must be model_a, model_b, tie or tie (bothbad), not {other}")))
        }
    }
}

/// Records a client's vote on a battle, within the client's rate limit: the two models' names
/// (now revealed), or why not.
pub async fn cast(
    state: &AppState,
    battle_id: i64,
    winner: &str,
    client: IpAddr,
) -> Result<(String, String), WebError> {
    check_winner(winner)?;
    state.limits.votes.check(client)?;
    let voter = state.secrets.voter_key(&client.to_string());
    match state.store.cast_vote(battle_id, winner, &voter).await? {
        VoteOutcome::Recorded { model_a, model_b, pair } => {
            state.vote_pairs.record(pair);
            state.boards.invalidate();
            Ok((model_a, model_b))
        }
        VoteOutcome::AlreadyVoted => Err(WebError::Conflict("this battle already has a vote".into())),
        VoteOutcome::NotFound => Err(WebError::NotFound),
    }
}
