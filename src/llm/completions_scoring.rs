//! Log-likelihood scoring through an OpenAI-compatible `/v1/completions` endpoint that echoes
//! the prompt with its log-probabilities (`echo: true, logprobs: 1`, as vLLM and the legacy
//! OpenAI API do). The server's own tokens are used: the continuation is the tokens from the
//! one that reaches past the end of the context to the end of the prompt.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use super::{LlmError, LogLikelihood};

pub struct RemoteScorer {
    http: reqwest::Client,
    url: String,
    key: Option<String>,
    model: String,
}

#[derive(Deserialize)]
struct Completion {
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    logprobs: Option<Logprobs>,
}

#[derive(Deserialize)]
struct Logprobs {
    tokens: Vec<String>,
    token_logprobs: Vec<Option<f64>>,
    #[serde(default)]
    top_logprobs: Option<Vec<Option<std::collections::HashMap<String, f64>>>>,
    text_offset: Vec<usize>,
}

impl RemoteScorer {
    pub fn new(api_base: &str, key: Option<String>, model: &str, timeout: Duration) -> Result<Self, LlmError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| LlmError::Setup(format!("cannot build the HTTP client: {e}")))?;
        Ok(RemoteScorer {
            http,
            url: format!("{}/completions", api_base.trim_end_matches('/')),
            key,
            model: model.to_string(),
        })
    }

    pub async fn loglikelihood(&self, context: &str, continuation: &str) -> Result<LogLikelihood, LlmError> {
        let prompt = format!("{context}{continuation}");
        let logprobs = self.echo(&prompt).await?;
        continuation_loglikelihood(&logprobs, context.chars().count(), prompt.chars().count())
            .ok_or_else(|| self.unsupported("the echoed prompt's tokens do not cover the continuation"))
    }

    /// The log-likelihood of a whole text: the echoed prompt's tokens after its first (which has
    /// nothing to be conditioned on), summed; the text must fit the server's context.
    pub async fn rolling_loglikelihood(&self, text: &str) -> Result<LogLikelihood, LlmError> {
        let logprobs = self.echo(text).await?;
        // The last token is the one generated after the prompt.
        let prompt_tokens = logprobs.token_logprobs.len().saturating_sub(1);
        let scored: Vec<f64> = logprobs.token_logprobs[..prompt_tokens].iter().skip(1).flatten().copied().collect();
        Ok(LogLikelihood { logprob: scored.iter().sum(), greedy: false, tokens: scored.len() })
    }

    /// Text after `prompt` (no chat template), greedy or sampled, cut at the first of `until`.
    pub async fn generate(
        &self,
        prompt: &str,
        until: &[String],
        max_tokens: usize,
        sampling: Option<super::Sampling>,
    ) -> Result<String, LlmError> {
        // OpenAI allows at most four stop sequences; the rest are cut here.
        let mut body = json!({"model": self.model, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0,
                              "stop": until.iter().take(4).collect::<Vec<_>>()});
        if let Some(s) = sampling {
            body["temperature"] = json!(s.temperature);
            body["top_p"] = json!(s.top_p);
            body["seed"] = json!(s.seed);
        }
        let reply: serde_json::Value = self.post_value(&body).await?;
        let text = reply["choices"][0]["text"]
            .as_str()
            .ok_or_else(|| LlmError::BadResponse(format!("{}: the reply has no choices[0].text", self.url)))?;
        Ok(cut_at_stop(text, until))
    }

    /// The prompt echoed with its tokens' log-probabilities (and one generated token after it).
    async fn echo(&self, prompt: &str) -> Result<Logprobs, LlmError> {
        let body = json!({"model": self.model, "prompt": prompt, "max_tokens": 1, "temperature": 0,
                          "echo": true, "logprobs": 1});
        let completion = self.post(&body).await?;
        completion
            .choices
            .into_iter()
            .next()
            .and_then(|c| c.logprobs)
            .ok_or_else(|| self.unsupported("the reply has no logprobs"))
    }

    fn unsupported(&self, why: &str) -> LlmError {
        LlmError::NoPromptLogprobs(format!(
            "{} cannot score by log-likelihood ({why}): it must echo the prompt with log-probabilities \
             (`echo: true, logprobs: 1` on /v1/completions, as vLLM does)",
            self.url
        ))
    }

    async fn post(&self, body: &serde_json::Value) -> Result<Completion, LlmError> {
        let value = self.post_value(body).await?;
        serde_json::from_value(value).map_err(|e| LlmError::BadResponse(format!("{}: unreadable reply: {e}", self.url)))
    }

    async fn post_value(&self, body: &serde_json::Value) -> Result<serde_json::Value, LlmError> {
        super::http::post_json(&self.http, &self.url, self.key.as_deref(), body).await
    }
}

/// The text up to the first stop sequence (a server may return it, or more than four were given).
pub fn cut_at_stop(text: &str, until: &[String]) -> String {
    let end = until.iter().filter(|s| !s.is_empty()).filter_map(|s| text.find(s.as_str())).min().unwrap_or(text.len());
    text[..end].to_string()
}

/// Sums the log-probabilities of the prompt tokens that reach past `context_chars` (and start
/// before `prompt_chars`: the generated token is not part of the prompt). Offsets are anchored
/// at the end: the generated token starts where the prompt ends, whatever the server counted
/// before the prompt (vLLM counts the text of a BOS token, `<s>`, as part of the echo).
fn continuation_loglikelihood(lp: &Logprobs, context_chars: usize, prompt_chars: usize) -> Option<LogLikelihood> {
    let generated = *lp.text_offset.last()?;
    let shift = generated.checked_sub(prompt_chars)?;
    let mut logprob = 0.0;
    let mut greedy = true;
    let mut tokens = 0;
    for (i, token) in lp.tokens.iter().enumerate() {
        let start = lp.text_offset.get(i)?.checked_sub(shift).unwrap_or(0);
        let end = start + token.chars().count();
        if start >= prompt_chars || end <= context_chars {
            continue;
        }
        logprob += (*lp.token_logprobs.get(i)?)?;
        tokens += 1;
        match lp.top_logprobs.as_ref().and_then(|t| t.get(i).cloned().flatten()) {
            Some(top) => {
                let best = top.iter().max_by(|a, b| a.1.total_cmp(b.1)).map(|(t, _)| t.as_str());
                greedy &= best == Some(token.as_str());
            }
            // Without the alternatives, greediness is unknown: not claimed.
            None => greedy = false,
        }
    }
    (tokens > 0).then_some(LogLikelihood { logprob, greedy, tokens })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_continuation_is_the_tokens_past_the_context() {
        // "Answer: yes" + generated "!" : tokens "Answer", ":", " yes", "!"
        let lp = Logprobs {
            tokens: vec!["Answer".into(), ":".into(), " yes".into(), "!".into()],
            token_logprobs: vec![None, Some(-1.0), Some(-0.5), Some(-3.0)],
            top_logprobs: Some(vec![None, None, Some([(" yes".to_string(), -0.5)].into()), None]),
            text_offset: vec![0, 6, 7, 11],
        };
        let ll = continuation_loglikelihood(&lp, 7, 11).unwrap();
        assert_eq!((ll.logprob, ll.greedy, ll.tokens), (-0.5, true, 1));
        // A server that counts a BOS token's text ("<s>") before the prompt: offsets shifted by 3.
        let shifted = Logprobs {
            tokens: vec!["<s>".into(), "Answer".into(), ":".into(), " yes".into(), "!".into()],
            token_logprobs: vec![None, None, Some(-1.0), Some(-0.5), Some(-3.0)],
            top_logprobs: None,
            text_offset: vec![0, 3, 9, 10, 14],
        };
        let ll = continuation_loglikelihood(&shifted, 7, 11).unwrap();
        assert_eq!((ll.logprob, ll.tokens, ll.greedy), (-0.5, 1, false));
        // A token straddling the boundary belongs to the continuation.
        let ll = continuation_loglikelihood(&lp, 9, 11).unwrap();
        assert_eq!(ll.tokens, 1);
        assert!(continuation_loglikelihood(&lp, 11, 11).is_none());
    }
}
