//! Leaderboards for the pages and the API, computed by the rating engine and cached: a page
//! view serves the cached ratings; when battles change, the next view refits them (once, however
//! many requests ask at the same time). A board that refits quickly is waited for, so a voter
//! sees their vote counted; a slow one (many battles) is served as it was while it refits.
//!
//! The database's revision counters say when something changed; they are read at most every
//! [`CHECK_EVERY`], together with the few facts every leaderboard page shows besides the board.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

use super::error::WebError;
use super::pages::is_on;
use crate::rating::judges::{JudgeReports, judge_reports};
use crate::rating::scores::ScoreRow;
use crate::rating::style::{StyleControlled, StyleSet, style_controlled};
use crate::rating::{
    Leaderboard, Method, Outcome, RatingOptions, RowBuilder, ScoredAnswer, bradley_terry, mean_scores,
};
use crate::store::{BattleScope, QuestionSetSummary, Revisions, Store};

/// What a leaderboard is computed over.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BoardKey {
    pub scope: BattleScope,
    pub baseline: Option<String>,
    /// Also fit the style-controlled board.
    pub style_control: bool,
    /// Also measure the judges (judge boards, `/judges`): other boards do not pay for it.
    pub judges: bool,
}

#[derive(Debug, Clone)]
pub struct BoardView {
    pub board: Leaderboard,
    pub scores: Vec<ScoreRow>,
    /// How far each judge of the scope can be trusted (over every source, whatever the board's).
    pub judges: JudgeReports,
    /// When the key asks for it.
    pub style: Option<StyleControlled>,
    /// Unix seconds.
    pub computed_at: f64,
}

/// The battles' revision a board was computed at.
type Version = i64;

/// A computation of one board, shared by every request waiting for it.
type Refresh = Shared<BoxFuture<'static, Result<(), String>>>;

#[derive(Default)]
struct Entry {
    /// The newest board computed, with the battles' version it was computed at.
    latest: Option<(Version, Arc<BoardView>)>,
    refresh: Option<Refresh>,
    /// How long the last fit took.
    fit_time: Duration,
    /// When a request last asked for it.
    used: Option<Instant>,
}

/// Boards kept at most; the least recently asked for goes first.
const MAX_BOARDS: usize = 64;

/// How often the database is asked whether anything changed.
const CHECK_EVERY: Duration = Duration::from_millis(250);

/// A board whose last fit took at most this long is refitted while the request waits; a slower
/// one is served as it was while it refits, so pages stay fast under a stream of new battles.
const QUICK_FIT: Duration = Duration::from_millis(50);

/// The longest a request waits for a quick refit before it is served the previous ratings.
const FRESH_WAIT: Duration = Duration::from_secs(2);

/// What every leaderboard page shows besides the board itself.
#[derive(Debug)]
pub struct SiteFacts {
    pub revisions: Revisions,
    pub votes: i64,
    /// Every question category (the filter menus).
    pub categories: Vec<String>,
    pub question_sets: Vec<QuestionSetSummary>,
    /// Every model's name.
    pub models: Vec<String>,
}

impl SiteFacts {
    pub fn check_question_set(&self, id: i64) -> Result<(), WebError> {
        match self.question_sets.iter().any(|s| s.id == id) {
            true => Ok(()),
            false => Err(WebError::BadRequest(format!("there is no question set {id}"))),
        }
    }

    /// Refuses filters that name nothing there is: a typo gets a clear answer rather than an
    /// empty board, and the boards cached stay within what exists.
    fn check(&self, key: &BoardKey) -> Result<(), WebError> {
        if let Some(id) = key.scope.question_set {
            self.check_question_set(id)?;
        }
        if let Some(c) = &key.scope.category
            && !self.categories.contains(c)
        {
            return Err(WebError::BadRequest(format!("no question has the category \"{c}\"")));
        }
        if let Some(b) = &key.baseline
            && !self.models.contains(b)
        {
            return Err(WebError::BadRequest(format!("there is no model \"{b}\" to use as the baseline")));
        }
        Ok(())
    }
}

#[derive(Clone, Default)]
pub struct BoardCache {
    entries: Arc<Mutex<HashMap<BoardKey, Entry>>>,
    facts: Arc<Mutex<Checked>>,
}

/// The facts last read, and when (`None`: read them again at the next request).
#[derive(Default)]
struct Checked {
    facts: Option<Arc<SiteFacts>>,
    at: Option<Instant>,
}

impl BoardCache {
    /// The leaderboard for `key` as of the current battles, computing it if needed (once, however
    /// many requests ask); the previous one while a slow board refits, or if a quick one takes
    /// longer than [`FRESH_WAIT`].
    pub async fn get(&self, store: &Store, key: &BoardKey) -> Result<Arc<BoardView>, WebError> {
        if let Some(judge) = &key.scope.judge {
            // Only judges there are get a board of their own (and a place in the cache): the
            // board without the filter lists them.
            let all = BoardKey {
                scope: BattleScope { judge: None, ..key.scope.clone() },
                baseline: None,
                style_control: false,
                judges: true,
            };
            let view = Box::pin(self.get(store, &all)).await?;
            if !view.judges.judges.iter().any(|r| &r.judge == judge) {
                return Err(WebError::BadRequest(format!("no judge named \"{judge}\" decided battles here")));
            }
        }
        let deadline = tokio::time::Instant::now() + FRESH_WAIT;
        loop {
            let facts = self.facts_where(store, |f| f.check(key)).await?;
            let version = facts.revisions.battles;
            let (refresh, stale) = {
                let mut entries = self.entries.lock().expect("not poisoned");
                if entries.len() >= MAX_BOARDS && !entries.contains_key(key) {
                    evict_least_used(&mut entries);
                }
                let entry = entries.entry(key.clone()).or_default();
                entry.used = Some(Instant::now());
                if let Some((v, view)) = &entry.latest
                    && *v == version
                {
                    return Ok(view.clone());
                }
                let refresh = entry.refresh.get_or_insert_with(|| self.start_refresh(store, key, version)).clone();
                let stale = entry.latest.as_ref().map(|(_, view)| view.clone());
                if entry.fit_time > QUICK_FIT
                    && let Some(stale) = stale
                {
                    return Ok(stale);
                }
                (refresh, stale)
            };
            let Some(stale) = stale else {
                // Nothing to show yet: wait for the first fit however long it takes.
                refresh.await.map_err(WebError::Internal)?;
                continue;
            };
            match tokio::time::timeout_at(deadline, refresh).await {
                // Finished: fresh now, unless battles changed meanwhile (then go round again).
                Ok(Ok(())) => continue,
                Ok(Err(_)) | Err(_) => return Ok(stale),
            }
        }
    }

    /// Fits the board in a task of its own, so it completes even if every waiter goes away.
    fn start_refresh(&self, store: &Store, key: &BoardKey, version: Version) -> Refresh {
        let (cache, store, key) = (self.clone(), store.clone(), key.clone());
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let result = compute(&store, &key).await;
            let mut entries = cache.entries.lock().expect("not poisoned");
            let entry = entries.entry(key).or_default();
            entry.refresh = None;
            entry.fit_time = started.elapsed();
            match result {
                Ok(view) => {
                    if entry.latest.as_ref().is_none_or(|(v, _)| *v <= version) {
                        entry.latest = Some((version, Arc::new(view)));
                    }
                    Ok(())
                }
                Err(e) => {
                    tracing::error!("cannot compute a leaderboard: {e}");
                    Err(e.to_string())
                }
            }
        });
        async move { task.await.unwrap_or_else(|e| Err(format!("rating task: {e}"))) }.boxed().shared()
    }

    /// The revisions and page facts, read from the database at most every [`CHECK_EVERY`];
    /// categories and question sets only when the catalog changed.
    pub async fn facts(&self, store: &Store) -> Result<Arc<SiteFacts>, WebError> {
        let previous = {
            let checked = self.facts.lock().expect("not poisoned");
            if let (Some(facts), Some(at)) = (&checked.facts, checked.at)
                && at.elapsed() < CHECK_EVERY
            {
                return Ok(facts.clone());
            }
            checked.facts.clone()
        };
        let revisions = store.revisions().await?;
        let facts = match previous {
            Some(facts) if facts.revisions == revisions => facts,
            Some(facts) if facts.revisions.catalog == revisions.catalog => Arc::new(SiteFacts {
                revisions,
                votes: store.count_votes().await?,
                categories: facts.categories.clone(),
                question_sets: facts.question_sets.clone(),
                models: facts.models.clone(),
            }),
            _ => Arc::new(SiteFacts {
                revisions,
                votes: store.count_votes().await?,
                categories: store.question_categories().await?,
                question_sets: store.list_question_sets().await?,
                models: store.model_names().await?,
            }),
        };
        *self.facts.lock().expect("not poisoned") = Checked { facts: Some(facts.clone()), at: Some(Instant::now()) };
        Ok(facts)
    }

    /// The facts, provided `check` accepts them; if it does not, they are read afresh before
    /// its answer counts (what it looks for may have been written a moment ago).
    pub async fn facts_where(
        &self,
        store: &Store,
        check: impl Fn(&SiteFacts) -> Result<(), WebError>,
    ) -> Result<Arc<SiteFacts>, WebError> {
        let facts = self.facts(store).await?;
        if check(&facts).is_ok() {
            return Ok(facts);
        }
        self.invalidate();
        let facts = self.facts(store).await?;
        check(&facts)?;
        Ok(facts)
    }

    /// Check the database again at the next request, so it sees this process's own change.
    pub fn invalidate(&self) {
        self.facts.lock().expect("not poisoned").at = None;
    }
}

/// Drops the board asked for least recently, unless it is being computed.
fn evict_least_used(entries: &mut HashMap<BoardKey, Entry>) {
    let oldest =
        entries.iter().filter(|(_, e)| e.refresh.is_none()).min_by_key(|(_, e)| e.used).map(|(k, _)| k.clone());
    if let Some(key) = oldest {
        entries.remove(&key);
    }
}

/// Bradley–Terry with 100 bootstrap rounds over the grouped battles, plus single scores.
async fn compute(store: &Store, key: &BoardKey) -> Result<BoardView, WebError> {
    let groups = store.battle_groups(&key.scope).await?;
    let singles = store.single_scores(&key.scope).await?;
    let judged = match key.judges {
        true => store.judged_battles(&BattleScope { source: None, judge: None, ..key.scope.clone() }).await?,
        false => Vec::new(),
    };
    let styled = match key.style_control {
        true => Some(store.style_battles(&key.scope).await?),
        false => None,
    };
    let key = key.clone();
    let view = tokio::task::spawn_blocking(move || {
        let mut rows = RowBuilder::default();
        let mut unknown = 0i64;
        for g in &groups {
            match Outcome::from_winner(&g.winner) {
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
        let style = styled.map(|styled| {
            let set = StyleSet::from_answers(styled.iter().filter_map(|b| b.answer_battle()));
            style_controlled(&set.battles, set.models.as_slice(), options.bootstrap, options.seed)
        });
        BoardView { board, scores, judges: judge_reports(&judged), style, computed_at }
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
    /// One judge's battles (the judge board of that judge).
    pub judge: Option<String>,
    /// `1` to show the style-controlled board too.
    pub style_control: Option<String>,
}

fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_ref().map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

impl BoardQuery {
    pub fn key(&self) -> Result<BoardKey, WebError> {
        let judge = non_empty(&self.judge);
        let source = match non_empty(&self.source).as_deref() {
            _ if judge.is_some() => Some("judge".to_string()),
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
        // Judge boards show how far their judges can be trusted.
        let judges = source.as_deref() == Some("judge");
        Ok(BoardKey {
            scope: BattleScope {
                source,
                category: non_empty(&self.category),
                question_set,
                judge,
                dry_run: is_on(&self.dry_run),
            },
            baseline: non_empty(&self.baseline),
            style_control: is_on(&self.style_control),
            judges,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(category: &str) -> BoardKey {
        BoardKey {
            scope: BattleScope { category: Some(category.into()), ..BattleScope::default() },
            baseline: None,
            style_control: false,
            judges: false,
        }
    }

    #[test]
    fn the_board_asked_for_least_recently_goes_first_unless_it_is_being_computed() {
        let now = Instant::now();
        let mut entries = HashMap::new();
        let computing: Refresh = async { Ok(()) }.boxed().shared();
        entries.insert(key("oldest"), Entry { used: Some(now), refresh: Some(computing), ..Entry::default() });
        entries.insert(key("older"), Entry { used: Some(now + Duration::from_secs(1)), ..Entry::default() });
        entries.insert(key("newer"), Entry { used: Some(now + Duration::from_secs(2)), ..Entry::default() });
        evict_least_used(&mut entries);
        assert!(!entries.contains_key(&key("older")));
        assert!(entries.contains_key(&key("oldest")) && entries.contains_key(&key("newer")));
    }
}
