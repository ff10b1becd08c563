//! Leaderboards for the pages and the API, computed by the rating engine and cached: a page
//! view serves the cached ratings; when battles change, the stale ratings keep being served
//! while fresh ones are computed in the background.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::error::WebError;
use crate::rating::scores::ScoreRow;
use crate::rating::{
    Leaderboard, Method, Outcome, RatingOptions, RowBuilder, ScoredAnswer, bradley_terry, mean_scores,
};
use crate::store::{BattleScope, Store};

/// What a leaderboard is computed over.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BoardKey {
    pub scope: BattleScope,
    pub baseline: Option<String>,
}

#[derive(Debug, Clone)]
pub struct BoardView {
    pub board: Leaderboard,
    pub scores: Vec<ScoreRow>,
    /// Unix seconds.
    pub computed_at: f64,
}

type Version = (i64, i64, i64);

struct Entry {
    version: Version,
    view: Arc<BoardView>,
    refreshing: bool,
}

/// How often the database is asked whether battles changed.
const CHECK_EVERY: Duration = Duration::from_millis(250);

#[derive(Clone, Default)]
pub struct BoardCache {
    entries: Arc<Mutex<HashMap<BoardKey, Entry>>>,
    last_check: Arc<Mutex<Option<(Instant, Version)>>>,
}

impl BoardCache {
    /// The leaderboard for `key`: cached, or computed now if it never was.
    pub async fn get(&self, store: &Store, key: &BoardKey) -> Result<Arc<BoardView>, WebError> {
        let version = self.version(store).await?;
        let stale = {
            let mut entries = self.entries.lock().expect("not poisoned");
            match entries.get_mut(key) {
                Some(e) if e.version == version => return Ok(e.view.clone()),
                Some(e) => {
                    let start_refresh = !e.refreshing;
                    e.refreshing = true;
                    Some((e.view.clone(), start_refresh))
                }
                None => None,
            }
        };
        match stale {
            Some((view, start_refresh)) => {
                if start_refresh {
                    let (cache, store, key) = (self.clone(), store.clone(), key.clone());
                    tokio::spawn(async move {
                        let result = compute(&store, &key).await;
                        let mut entries = cache.entries.lock().expect("not poisoned");
                        match result {
                            Ok(view) => {
                                entries.insert(key, Entry { version, view: Arc::new(view), refreshing: false });
                            }
                            Err(e) => {
                                tracing::error!("cannot refresh a leaderboard: {e}");
                                if let Some(entry) = entries.get_mut(&key) {
                                    entry.refreshing = false;
                                }
                            }
                        }
                    });
                }
                Ok(view)
            }
            None => {
                let view = Arc::new(compute(store, key).await?);
                self.entries
                    .lock()
                    .expect("not poisoned")
                    .insert(key.clone(), Entry { version, view: view.clone(), refreshing: false });
                Ok(view)
            }
        }
    }

    /// The battles' version, read from the database at most every [`CHECK_EVERY`].
    async fn version(&self, store: &Store) -> Result<Version, WebError> {
        if let Some((at, v)) = *self.last_check.lock().expect("not poisoned") {
            if at.elapsed() < CHECK_EVERY {
                return Ok(v);
            }
        }
        let v = store.battles_version().await?;
        *self.last_check.lock().expect("not poisoned") = Some((Instant::now(), v));
        Ok(v)
    }

    /// Forget the version just read, so the next request sees this process's own change.
    pub fn invalidate(&self) {
        *self.last_check.lock().expect("not poisoned") = None;
    }
}

fn outcome(winner: &str) -> Option<Outcome> {
    Some(match winner {
        "model_a" => Outcome::ModelA,
        "model_b" => Outcome::ModelB,
        "tie" => Outcome::Tie,
        "tie (bothbad)" => Outcome::TieBothBad,
        _ => return None,
    })
}

/// Bradley–Terry with 100 bootstrap rounds over the grouped battles, plus single scores.
async fn compute(store: &Store, key: &BoardKey) -> Result<BoardView, WebError> {
    let groups = store.battle_groups(&key.scope).await?;
    let singles = store.single_scores(&key.scope).await?;
    let key = key.clone();
    let view = tokio::task::spawn_blocking(move || {
        let mut rows = RowBuilder::default();
        let mut unknown = 0i64;
        for g in &groups {
            match outcome(&g.winner) {
                Some(o) => {
                    let (a, b) = (rows.model(&g.model_a), rows.model(&g.model_b));
                    rows.push_indexed(a, b, o, g.weight, g.count as u64);
                }
                None => unknown += g.count,
            }
        }
        let options = RatingOptions { method: Method::Bt, baseline: key.baseline.clone(), ..RatingOptions::default() };
        let mut board = bradley_terry(&rows.finish(), &options);
        if unknown > 0 {
            board.warnings.push(format!("{unknown} battles with an unknown verdict are left out"));
        }
        let scores = mean_scores(
            singles.iter().map(|(m, c, s)| ScoredAnswer { model: m, category: c, score: *s }),
            options.bootstrap,
            options.seed,
        );
        let computed_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        BoardView { board, scores, computed_at }
    })
    .await
    .map_err(|e| WebError::Internal(format!("rating task: {e}")))?;
    Ok(view)
}

/// The leaderboard's filters, as query parameters (shared by the page and the API).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct BoardQuery {
    /// `judge`, `human` or `all` (the default).
    pub source: Option<String>,
    pub category: Option<String>,
    pub question_set: Option<String>,
    pub baseline: Option<String>,
    /// `1` to rate dry-run battles instead of real ones.
    pub dry_run: Option<String>,
}

fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_ref().map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

impl BoardQuery {
    pub fn key(&self) -> Result<BoardKey, WebError> {
        let source = match non_empty(&self.source).as_deref() {
            None | Some("all") => None,
            Some(s @ ("judge" | "human")) => Some(s.to_string()),
            Some(other) => {
                return Err(WebError::BadRequest(format!("source must be judge, human or all, not {other}")));
            }
        };
        let question_set = match non_empty(&self.question_set) {
            None => None,
            Some(s) => Some(
                s.parse::<i64>()
                    .map_err(|_| WebError::BadRequest(format!("question_set must be a number, not {s}")))?,
            ),
        };
        Ok(BoardKey {
            scope: BattleScope {
                source,
                category: non_empty(&self.category),
                question_set,
                dry_run: matches!(self.dry_run.as_deref(), Some("1" | "true" | "on")),
            },
            baseline: non_empty(&self.baseline),
        })
    }
}
