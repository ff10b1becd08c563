//! Retries for OpenAI-compatible calls: 429, 5xx, 408, timeouts and refused connections are
//! retried with exponential backoff and jitter, honouring the server's `Retry-After`.
//!
//! The policy plugs into async-openai's tower middleware. Responses are read whole inside the
//! retried service, so a body that stalls is retried like any other timeout.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use rand::Rng;
use reqwest::Response;

/// Counters shared by every request of one client.
#[derive(Debug, Default)]
pub struct RetryStats {
    pub retries: AtomicU64,
    pub rate_limited: AtomicU64,
    pub server_errors: AtomicU64,
    pub timeouts: AtomicU64,
}

impl RetryStats {
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Clone)]
pub struct Backoff {
    pub max_retries: u32,
    pub base: Duration,
    pub max_delay: Duration,
    /// The longest `Retry-After` we agree to wait.
    pub max_retry_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            max_retries: 6,
            base: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl Backoff {
    /// Exponential delay for retry number `attempt` (0-based) with "equal jitter": half fixed,
    /// half random, so concurrent clients spread out but never retry instantly.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = self.base.saturating_mul(2u32.saturating_pow(attempt.min(16)));
        let capped = exp.min(self.max_delay);
        let half = capped / 2;
        let jitter = rand::rng().random_range(0..=half.as_millis() as u64);
        half + Duration::from_millis(jitter)
    }
}

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    backoff: Backoff,
    attempts: u32,
    stats: Arc<RetryStats>,
}

impl RetryPolicy {
    pub fn new(backoff: Backoff, stats: Arc<RetryStats>) -> Self {
        RetryPolicy { backoff, attempts: 0, stats }
    }
}

/// Why a result is worth another try, if it is.
fn retry_reason(result: &Result<Response, OpenAIError>, stats: &RetryStats) -> bool {
    match result {
        Ok(response) => {
            let status = response.status().as_u16();
            if status == 429 {
                stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                true
            } else if status >= 500 || status == 408 {
                stats.server_errors.fetch_add(1, Ordering::Relaxed);
                true
            } else {
                false
            }
        }
        Err(OpenAIError::Reqwest(e)) => {
            if e.is_timeout() {
                stats.timeouts.fetch_add(1, Ordering::Relaxed);
            }
            e.is_timeout() || e.is_connect() || e.is_request() || e.is_body()
        }
        Err(_) => false,
    }
}

/// `Retry-After` as seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs >= 0.0 && secs.is_finite()).then(|| Duration::from_secs_f64(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(std::time::SystemTime::now()).unwrap_or_default())
}

impl tower::retry::Policy<HttpRequestFactory, Response, OpenAIError> for RetryPolicy {
    type Future = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

    fn retry(
        &mut self,
        _req: &mut HttpRequestFactory,
        result: &mut Result<Response, OpenAIError>,
    ) -> Option<Self::Future> {
        if self.attempts >= self.backoff.max_retries || !retry_reason(result, &self.stats) {
            return None;
        }
        let retry_after = result
            .as_ref()
            .ok()
            .and_then(|r| r.headers().get(reqwest::header::RETRY_AFTER))
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after)
            .map(|d| d.min(self.backoff.max_retry_after));
        let delay = retry_after.unwrap_or_else(|| self.backoff.delay(self.attempts));
        self.attempts += 1;
        self.stats.retries.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(attempt = self.attempts, ?delay, "retrying request");
        Some(Box::pin(tokio::time::sleep(delay)))
    }

    fn clone_request(&mut self, req: &HttpRequestFactory) -> Option<HttpRequestFactory> {
        Some(req.clone())
    }
}

/// Executes a request and reads its whole body, so that a stalled body fails (and is
/// retried) inside the retry layer rather than after it.
#[derive(Clone)]
pub struct BufferedReqwest {
    client: reqwest::Client,
}

impl BufferedReqwest {
    pub fn new(client: reqwest::Client) -> Self {
        BufferedReqwest { client }
    }
}

impl tower::Service<HttpRequestFactory> for BufferedReqwest {
    type Response = Response;
    type Error = OpenAIError;
    type Future = Pin<Box<dyn Future<Output = Result<Response, OpenAIError>> + Send + 'static>>;

    fn poll_ready(&mut self, _cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), OpenAIError>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, factory: HttpRequestFactory) -> Self::Future {
        let client = self.client.clone();
        Box::pin(async move {
            let request = factory.build().await?;
            let response = client.execute(request).await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await?;
            let mut rebuilt = http::Response::new(body);
            *rebuilt.status_mut() = status;
            *rebuilt.headers_mut() = headers;
            Ok(Response::from(rebuilt))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let backoff =
            Backoff { base: Duration::from_millis(100), max_delay: Duration::from_secs(1), ..Backoff::default() };
        for attempt in 0..10 {
            let d = backoff.delay(attempt);
            let full = (Duration::from_millis(100) * 2u32.pow(attempt)).min(Duration::from_secs(1));
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?} not in [{:?}, {full:?}]", full / 2);
        }
    }
}
