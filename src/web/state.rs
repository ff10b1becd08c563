//! What every request handler shares.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::error::WebError;
use super::hosts::HostCheck;
use super::judges::AllowedJudge;
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
    pub limits: Limits,
    pub proxy: ProxySettings,
    pub jobs: Jobs,
    pub registry: Arc<Registry>,
    /// The judges a web run may choose, with their endpoints and key variables.
    pub judges: Arc<Vec<AllowedJudge>>,
    pub demo_model: DemoModelStatus,
    pub data_dir: PathBuf,
    /// Where evals started from the pages read their benchmark files.
    pub dataset_dir: PathBuf,
    pub max_upload_bytes: usize,
    /// The local models of the OpenAI-compatible `/v1`.
    pub served: Arc<super::openai::served::ServedModels>,
    pub hosts: HostCheck,
}

/// How the server sits behind a reverse proxy.
#[derive(Clone, Debug, Default)]
pub struct ProxySettings {
    /// The header the trusted proxy puts the client's address in (`X-Forwarded-For`).
    pub client_ip_header: Option<String>,
    /// Cookies always `Secure` (the site is served over HTTPS).
    pub secure_cookies: bool,
}

impl ProxySettings {
    /// Whether cookies set in answer to this request must be `Secure`: always when told so,
    /// and when a trusted proxy says the request came over HTTPS.
    pub fn secure(&self, headers: &axum::http::HeaderMap) -> bool {
        self.secure_cookies
            || (self.client_ip_header.is_some()
                && headers
                    .get("x-forwarded-proto")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("https")))
    }
}

/// Per-client limits.
#[derive(Clone)]
pub struct Limits {
    pub votes: ClientLimiter,
    /// Battles shown on the vote page (each is stored until voted on or swept).
    pub shown: ClientLimiter,
    pub logins: ClientLimiter,
}

/// Sign-in attempts per client per minute.
pub const LOGINS_PER_MINUTE: u32 = 10;

impl Limits {
    pub fn new(votes_per_minute: u32) -> Limits {
        Limits {
            votes: ClientLimiter::per_minute(votes_per_minute, "votes"),
            // A voter reads a battle, maybe skips a few, then votes.
            shown: ClientLimiter::per_minute(votes_per_minute.saturating_mul(4), "battles shown"),
            logins: ClientLimiter::per_minute(LOGINS_PER_MINUTE, "sign-in attempts"),
        }
    }

    /// Forgets clients whose limits are back to full, so the tables do not grow without end.
    pub fn prune(&self) {
        for limiter in [&self.votes, &self.shown, &self.logins] {
            limiter.prune();
        }
    }
}

/// Requests of one kind per client per minute; 0 turns the limit off.
#[derive(Clone)]
pub struct ClientLimiter {
    limiter: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
    what: &'static str,
}

impl ClientLimiter {
    pub fn per_minute(n: u32, what: &'static str) -> ClientLimiter {
        ClientLimiter {
            limiter: NonZeroU32::new(n).map(|n| Arc::new(RateLimiter::keyed(Quota::per_minute(n).allow_burst(n)))),
            what,
        }
    }

    /// Ok, or how many seconds to wait.
    pub fn check(&self, client: IpAddr) -> Result<(), WebError> {
        let Some(limiter) = &self.limiter else { return Ok(()) };
        limiter.check_key(&client_key(client)).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            WebError::TooManyRequests(self.what, wait.as_secs().max(1))
        })
    }

    fn prune(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// Clients currently tracked.
    pub fn tracked(&self) -> usize {
        self.limiter.as_ref().map_or(0, |l| l.len())
    }
}

/// The key a client is limited under: its IPv4 address, or its IPv6 /64 (one machine is
/// usually given a whole /64, so its other addresses are the same client).
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            IpAddr::from([s[0], s[1], s[2], s[3], 0, 0, 0, 0])
        }
        IpAddr::V6(v6) => IpAddr::V4(v6.to_ipv4_mapped().expect("checked")),
        v4 => v4,
    }
}

/// Where the demo model stands, for the runs page: a failed fetch is shown there, not only
/// in the server's log.
#[derive(Clone, Default)]
pub struct DemoModelStatus(Arc<Mutex<Option<String>>>);

impl DemoModelStatus {
    pub fn set(&self, message: Option<String>) {
        *self.0.lock().expect("not poisoned") = message;
    }

    /// A message to show, while fetching or after a failure.
    pub fn get(&self) -> Option<String> {
        self.0.lock().expect("not poisoned").clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_whose_limit_is_full_again_are_forgotten() {
        // 1,000 a second: a client is back to a full allowance a millisecond after a request.
        let limiter = ClientLimiter::per_minute(60_000, "requests");
        for i in 0..50u8 {
            limiter.check(IpAddr::from([10, 0, 0, i])).unwrap();
        }
        assert_eq!(limiter.tracked(), 50);
        std::thread::sleep(std::time::Duration::from_millis(20));
        limiter.prune();
        assert_eq!(limiter.tracked(), 0);
    }

    #[test]
    fn limits_refuse_with_the_wait_in_seconds() {
        let limiter = ClientLimiter::per_minute(2, "votes");
        let client = IpAddr::from([10, 0, 0, 1]);
        assert!(limiter.check(client).is_ok() && limiter.check(client).is_ok());
        match limiter.check(client) {
            Err(WebError::TooManyRequests("votes", wait)) => assert!((1..=30).contains(&wait), "{wait}"),
            other => panic!("{other:?}"),
        }
        assert!(limiter.check(IpAddr::from([10, 0, 0, 2])).is_ok(), "another client has its own allowance");
        assert!(ClientLimiter::per_minute(0, "none").check(client).is_ok());
    }

    #[test]
    fn an_ipv6_client_is_its_64() {
        let limiter = ClientLimiter::per_minute(1, "votes");
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::7".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(limiter.check(a).is_ok());
        assert!(limiter.check(b).is_err(), "another address of the same /64");
        assert!(limiter.check(other).is_ok());
        assert_eq!(client_key("::ffff:10.0.0.1".parse().unwrap()), IpAddr::from([10, 0, 0, 1]));
    }
}
