//! What every request handler shares.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::error::WebError;
use super::leaderboard::BoardCache;
use super::registry::Registry;
use super::security::{AdminGate, Secrets};
use super::voting::VotePairs;
use crate::jobs::Jobs;
use crate::store::Store;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub secrets: Secrets,
    pub admin: AdminGate,
    pub boards: BoardCache,
    pub vote_pairs: VotePairs,
    pub votes: VoteLimiter,
    pub jobs: Jobs,
    pub registry: Arc<Registry>,
    pub data_dir: PathBuf,
    pub max_upload_bytes: usize,
}

/// Votes per client per minute; 0 turns the limit off.
#[derive(Clone)]
pub struct VoteLimiter {
    limiter: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
}

impl VoteLimiter {
    pub fn per_minute(votes: u32) -> VoteLimiter {
        VoteLimiter {
            limiter: NonZeroU32::new(votes).map(|n| Arc::new(RateLimiter::keyed(Quota::per_minute(n).allow_burst(n)))),
        }
    }

    /// Ok, or how many seconds to wait.
    pub fn check(&self, client: IpAddr) -> Result<(), WebError> {
        let Some(limiter) = &self.limiter else { return Ok(()) };
        limiter.check_key(&client).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            WebError::TooManyRequests(wait.as_secs().max(1))
        })
    }
}
