//! Token-by-token answers from a local model, for the OpenAI-compatible `/v1` endpoint.
//!
//! Every request is streamed inside, also when its client wants the whole answer at once: the
//! engine cancels a streamed sequence as soon as its receiver is gone, so a client that
//! disconnects frees the model at the next token instead of holding it to the end.

use std::sync::Arc;

use either::Either;
use indexmap::IndexMap;
use mistralrs::core::RequestMessage;
use tokio::sync::mpsc;

use super::{LocalChat, sampling_params};
use crate::llm::{GenerationSettings, LlmError};

/// What the model is asked: chat messages (role, text), through its chat template, or a raw
/// text to continue.
#[derive(Debug, Clone, PartialEq)]
pub enum LocalPrompt {
    Chat(Vec<(String, String)>),
    Text(String),
}

/// One step of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    Text(String),
    /// The answer is complete.
    End {
        finish_reason: String,
        prompt_tokens: u64,
        completion_tokens: u64,
    },
    Failed(String),
}

impl LocalChat {
    /// Starts answering `prompt` once the model has a place for it (it is batched with the other
    /// requests in flight); the answer arrives on the returned channel. Dropping the receiver
    /// cancels the generation.
    pub fn stream(self: &Arc<Self>, prompt: LocalPrompt, settings: &GenerationSettings) -> mpsc::Receiver<StreamEvent> {
        let (out, events) = mpsc::channel(64);
        let model = self.clone();
        let params = sampling_params(settings);
        tokio::spawn(async move {
            let Ok(_place) = model.slots.acquire().await else { return };
            if out.is_closed() {
                return;
            }
            if let Err(e) = model.forward(prompt, params, &out).await {
                let _ = out.send(StreamEvent::Failed(e.to_string())).await;
            }
        });
        events
    }

    async fn forward(
        &self,
        prompt: LocalPrompt,
        params: mistralrs::SamplingParams,
        out: &mpsc::Sender<StreamEvent>,
    ) -> Result<(), LlmError> {
        let fail = |e: String| LlmError::Local(format!("{}: {e}", self.path.display()));
        // Completion chunks carry no usage: the prompt is counted here, the answer by its chunks
        // (one per generated token).
        let text_prompt_tokens = match &prompt {
            LocalPrompt::Text(text) => Some(
                self.model
                    .tokenize(Either::Right(text.clone()), None, true, false, None)
                    .await
                    .map_err(|e| fail(e.to_string()))?
                    .len() as u64,
            ),
            LocalPrompt::Chat(_) => None,
        };
        let mut steps = 0u64;
        let message = match prompt {
            LocalPrompt::Chat(messages) => RequestMessage::Chat {
                messages: messages
                    .into_iter()
                    .map(|(role, content)| {
                        IndexMap::from([
                            ("role".to_string(), Either::Left(role)),
                            ("content".to_string(), Either::Left(content)),
                        ])
                    })
                    .collect(),
                enable_thinking: None,
                reasoning_effort: None,
            },
            LocalPrompt::Text(text) => RequestMessage::Completion { text, echo_prompt: false, best_of: None },
        };
        let (tx, mut rx) = mpsc::channel(64);
        let mut request = mistralrs::NormalRequest::new_simple(message, params, tx, 0, None, None);
        request.is_streaming = true;
        let sender = self.model.inner().get_sender(None).map_err(|e| fail(e.to_string()))?;
        sender.send(mistralrs::Request::Normal(Box::new(request))).await.map_err(|e| fail(e.to_string()))?;
        while let Some(response) = rx.recv().await {
            let (text, finish, usage) = match response {
                mistralrs::Response::Chunk(chunk) => {
                    let choice = chunk.choices.into_iter().next();
                    let text = choice.as_ref().and_then(|c| c.delta.content.clone()).unwrap_or_default();
                    (text, choice.and_then(|c| c.finish_reason), chunk.usage)
                }
                mistralrs::Response::CompletionChunk(chunk) => {
                    let choice = chunk.choices.into_iter().next();
                    let text = choice.as_ref().map(|c| c.text.clone()).unwrap_or_default();
                    (text, choice.and_then(|c| c.finish_reason), None)
                }
                mistralrs::Response::ModelError(e, _) | mistralrs::Response::CompletionModelError(e, _) => {
                    return Err(fail(e));
                }
                mistralrs::Response::InternalError(e) | mistralrs::Response::ValidationError(e) => {
                    return Err(fail(e.to_string()));
                }
                _ => return Err(fail("an unexpected reply from the engine".into())),
            };
            steps += 1;
            if !text.is_empty() && out.send(StreamEvent::Text(text)).await.is_err() {
                // The client is gone: dropping `rx` cancels the sequence at its next token.
                return Ok(());
            }
            if let Some(finish_reason) = finish {
                let (prompt_tokens, completion_tokens) = usage.map_or((text_prompt_tokens.unwrap_or(0), steps), |u| {
                    (u.prompt_tokens as u64, u.completion_tokens as u64)
                });
                let _ = out.send(StreamEvent::End { finish_reason, prompt_tokens, completion_tokens }).await;
                return Ok(());
            }
        }
        Err(fail("the engine stopped before the answer was complete".into()))
    }
}
