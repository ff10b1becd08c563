//! What one request of a load test did, in seconds from the start of the run.

use serde::Serialize;

/// Why a request failed; the report groups failures by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// The server answered with this HTTP status.
    Http(u16),
    /// No answer (or no next chunk) within the read timeout.
    Timeout,
    /// The connection could not be made or broke.
    Connection,
    /// A stream that ended without `[DONE]`.
    StreamCut,
    /// An answer or a stream event that carries an error, or that is not an answer at all.
    ErrorInBody,
}

impl Failure {
    /// The name used in reports: `http_500`, `timeout`, `connection`, `stream_cut`, `error_in_body`.
    pub fn reason(&self) -> String {
        match self {
            Failure::Http(status) => format!("http_{status}"),
            Failure::Timeout => "timeout".into(),
            Failure::Connection => "connection".into(),
            Failure::StreamCut => "stream_cut".into(),
            Failure::ErrorInBody => "error_in_body".into(),
        }
    }
}

/// One request's timings and token counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RequestOutcome {
    /// When the schedule said to send it (open loop), else when a worker was free to.
    pub scheduled_s: f64,
    /// When it was sent.
    pub sent_s: f64,
    /// When each chunk with content arrived (one entry for a non-streamed answer).
    pub content_at_s: Vec<f64>,
    /// When the answer was complete (or the request failed).
    pub end_s: f64,
    /// Stream events received, content or not (`[DONE]` aside).
    pub chunks: u32,
    /// Token counts from the server's `usage`, when it sent them.
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    /// The generated text (for counting tokens when the server sends no usage).
    #[serde(skip)]
    pub text: String,
    pub failure: Option<Failure>,
    /// A short excerpt of what went wrong, for the log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl RequestOutcome {
    pub fn succeeded(&self) -> bool {
        self.failure.is_none()
    }

    /// Send to end.
    pub fn latency(&self) -> f64 {
        self.end_s - self.sent_s
    }

    /// Time to the first chunk with content.
    pub fn ttft(&self) -> Option<f64> {
        self.content_at_s.first().map(|t| t - self.sent_s)
    }

    /// How late the request left against its schedule.
    pub fn lateness(&self) -> f64 {
        (self.sent_s - self.scheduled_s).max(0.0)
    }
}
