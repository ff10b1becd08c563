//! JSON POSTs to model servers outside the OpenAI client: 429, 5xx, timeouts and refused
//! connections are retried with doubling waits; other answers fail at once.

use std::time::Duration;

use super::LlmError;

const ATTEMPTS: u32 = 4;

/// POSTs `body` to `url` (with `key` as a bearer token) and reads the JSON reply.
pub async fn post_json(
    http: &reqwest::Client,
    url: &str,
    key: Option<&str>,
    body: &serde_json::Value,
) -> Result<serde_json::Value, LlmError> {
    let mut wait = Duration::from_millis(500);
    for attempt in 1..=ATTEMPTS {
        let mut request = http.post(url).json(body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        let retryable = match request.send().await {
            Ok(r) if r.status().is_success() => {
                return r
                    .json::<serde_json::Value>()
                    .await
                    .map_err(|e| LlmError::BadResponse(format!("{url}: unreadable reply: {e}")));
            }
            Ok(r) => {
                let status = r.status().as_u16();
                let message = r.text().await.unwrap_or_default();
                let error = LlmError::Http { endpoint: url.to_string(), status, message };
                if status == 429 || status >= 500 { error } else { return Err(error) }
            }
            Err(e) if e.is_timeout() => LlmError::Timeout(url.to_string()),
            Err(e) => LlmError::Connect(url.to_string(), e.to_string()),
        };
        if attempt == ATTEMPTS {
            return Err(retryable);
        }
        tokio::time::sleep(wait).await;
        wait *= 2;
    }
    unreachable!("the last attempt returns")
}
