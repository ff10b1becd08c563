//! Log-likelihood scoring with a local model: the log-probability a model gives a continuation
//! after a context, read from the engine's raw logits (mistral.rs has no prompt log-probabilities,
//! and the ones it reports for generated tokens are wrong in 0.8.1).
//!
//! The scoring model is an engine of its own: raw-logit requests may not share a batch with
//! normal ones. Unlike the chat engines it keeps the keys and values of its last passes (the
//! engine's prefix cache, bounded): a pass that begins as a kept one computes, and returns the
//! logits of, only the positions after the shared prefix; the rows before come from the
//! earlier pass.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use either::Either;
use image::DynamicImage;
use indexmap::IndexMap;
use mistralrs::core::RequestMessage;
use mistralrs::{
    Constraint, CustomLogitsProcessor, MessageContent, Model, RequestLike, SamplingParams, Tool, ToolChoice,
    WebSearchOptions,
};
use tokio::sync::Mutex;

use super::LlmError;

pub use super::LogLikelihood;

/// Passes whose keys and values the engine keeps for the next ones (about 24 MB each for the
/// demo model): enough for the choices of one question, and the next question's shared
/// few-shot examples.
const KEPT_PASSES: usize = 2;

/// Contexts from this many tokens on are computed once by `prime` before their choices' passes.
const PRIMED_CONTEXT: usize = 8;

/// The longest window a rolling log-likelihood sends at once (models with longer contexts are
/// scored in windows of this many tokens, each conditioned on the token before it).
const ROLLING_WINDOW: usize = 4096;

pub struct LocalScorer {
    model: Model,
    path: PathBuf,
    /// The model's context length, when it says.
    max_len: Option<usize>,
    /// What the weights run as (the file's types, or a transcoded copy).
    weights: super::transcode::Weights,
    /// One raw request at a time: the engine must never batch them.
    turn: Mutex<()>,
    passes: std::sync::atomic::AtomicU64,
    /// Whether the engine keeps passes for the next ones (see the module's comment).
    reuse: bool,
}

impl LocalScorer {
    pub async fn load(path: &Path) -> Result<Arc<Self>, LlmError> {
        Self::load_with(path, true).await
    }

    /// The model with every pass computed from its first token (nothing kept between passes):
    /// the reference that reused passes are checked against, and the speed before them.
    pub async fn load_without_reuse(path: &Path) -> Result<Arc<Self>, LlmError> {
        Self::load_with(path, false).await
    }

    async fn load_with(path: &Path, reuse: bool) -> Result<Arc<Self>, LlmError> {
        let (builder, weights) = super::local::gguf_builder(path, 1).await?;
        let model = builder
            .with_prefix_cache_n(reuse.then_some(KEPT_PASSES))
            .build()
            .await
            .map_err(|e| LlmError::Local(format!("cannot load {} for scoring: {e:#}", path.display())))?;
        let max_len = model.max_sequence_length().ok().flatten();
        Ok(Arc::new(LocalScorer {
            model,
            path: path.to_path_buf(),
            max_len,
            weights,
            reuse,
            turn: Mutex::new(()),
            passes: Default::default(),
        }))
    }

    /// What runs, in a line: "FILE: Q4_1 → Q8_0 (transcoded at load), 2 threads, 1 sequence at a time".
    pub fn describe(&self) -> String {
        super::local::describe_engine(&self.path, &self.weights, 1)
    }

    /// The model's tokens for `text`, without special tokens (as lm-evaluation-harness encodes).
    pub async fn tokenize(&self, text: &str) -> Result<Vec<u32>, LlmError> {
        self.model
            .tokenize(Either::Right(text.to_string()), None, false, false, None)
            .await
            .map_err(|e| LlmError::Local(format!("{}: cannot tokenize: {e}", self.path.display())))
    }

    /// The log-likelihood of `continuation` after `context` (token ids; `context` must not be
    /// empty: its last token's logits predict the continuation's first). One forward pass over
    /// both.
    pub async fn loglikelihood(&self, context: &[u32], continuation: &[u32]) -> Result<LogLikelihood, LlmError> {
        let mut scored = self.loglikelihoods(context, std::slice::from_ref(&continuation.to_vec())).await?;
        Ok(scored.remove(0))
    }

    /// The log-likelihoods of several continuations after one context, each position computed
    /// once: a request whose tokens (context and continuation but its last token) begin
    /// another's is read from the other's logits, as lm-eval's logits cache does (choices of one
    /// token each, MMLU's " A".." D", cost one pass for all), and the engine keeps each pass's
    /// keys and values, so the next choice's pass computes only what follows the tokens it
    /// shares with an earlier one (ARC's choices compute the question once).
    pub async fn loglikelihoods(
        &self,
        context: &[u32],
        continuations: &[Vec<u32>],
    ) -> Result<Vec<LogLikelihood>, LlmError> {
        let mut requests = Vec::with_capacity(continuations.len());
        for continuation in continuations {
            requests.push(self.request_tokens(context, continuation)?);
        }
        // Rows before the shortest context's last token score nothing: they are never read.
        let first_row = requests.iter().map(|r| r.context_len - 1).min().unwrap_or(0);
        // Longest first: each request is served by the first one it begins.
        let mut order: Vec<usize> = (0..requests.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(requests[i].tokens.len()));
        if self.reuse && first_row >= PRIMED_CONTEXT {
            let shortest =
                requests.iter().find(|r| r.context_len - 1 == first_row).expect("the minimum is one of them");
            self.prime(&shortest.tokens[..first_row]).await?;
        }
        let mut passes: Vec<Pass> = Vec::new();
        let mut normalizers = Normalizers::default();
        let mut scored = vec![None; requests.len()];
        for i in order {
            let request = &requests[i];
            let wanted = request.context_len - 1..request.tokens.len();
            if wanted.clone().any(|p| row_at(&passes, &request.tokens, p).is_none()) {
                passes.push(self.forward(&request.tokens, first_row).await?);
            }
            // The engine may have reused a longer prefix than this call's passes cover (the
            // same context scored just before): a pass that ends at the last missing row
            // computes them all, since a kept pass (this request's own) holds its tokens whole
            // and the engine recomputes a prompt it holds whole from the first token.
            if let Some(last) = wanted.clone().rev().find(|&p| row_at(&passes, &request.tokens, p).is_none()) {
                passes.push(self.forward(&request.tokens[..=last], first_row).await?);
            }
            let rows = wanted
                .map(|p| row_at(&passes, &request.tokens, p).ok_or_else(|| missing_row(p)))
                .collect::<Result<Vec<_>, _>>()?;
            scored[i] = Some(score_rows(&rows, request.continuation, &mut normalizers)?);
        }
        self.passes.fetch_add(passes.len() as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(scored.into_iter().map(|s| s.expect("every request is scored")).collect())
    }

    /// The file it scores with.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Forward passes run since the model was loaded.
    pub fn forward_passes(&self) -> u64 {
        self.passes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// What is sent to score `continuation` after `context`: the context (its last tokens when
    /// the whole is longer than the model's context, as lm-eval keeps them) and the
    /// continuation but its last token, which predicts nothing that is scored.
    fn request_tokens<'a>(&self, context: &[u32], continuation: &'a [u32]) -> Result<ScoreRequest<'a>, LlmError> {
        if context.is_empty() || continuation.is_empty() {
            return Err(LlmError::Local("scoring needs a context and a continuation of at least one token".into()));
        }
        let keep = self.max_len.map_or(usize::MAX, |m| (m + 1).saturating_sub(continuation.len()));
        if keep == 0 {
            return Err(LlmError::Local(format!(
                "the continuation alone is longer than the model's context ({:?} tokens)",
                self.max_len
            )));
        }
        let context = &context[context.len().saturating_sub(keep)..];
        let mut tokens = context.to_vec();
        tokens.extend_from_slice(&continuation[..continuation.len() - 1]);
        Ok(ScoreRequest { tokens, context_len: context.len(), continuation })
    }

    /// Has the engine compute and keep the keys and values of `tokens`, for the passes that
    /// follow, without the logits of every position that a raw pass computes (the output layer,
    /// 49,152 × 576 for the demo model, is a fifth of a position's work): a generation of one
    /// token computes the logits of the last position only, and the engine keeps what it ran.
    async fn prime(&self, tokens: &[u32]) -> Result<(), LlmError> {
        let mut params = super::local::greedy_sampling();
        params.max_len = Some(1);
        self.complete(tokens.to_vec(), params, "scoring").await.map(drop)
    }

    /// One forward pass over `tokens`: the logits of the positions the engine computed (those
    /// after the longest prefix it kept from an earlier pass), from `first_row` on.
    async fn forward(&self, tokens: &[u32], first_row: usize) -> Result<Pass, LlmError> {
        let _turn = self.turn.lock().await;
        let (chunks, _) = self
            .model
            .send_raw_chat_request(TokenPrompt { tokens: Some(tokens.to_vec()) })
            .await
            .map_err(|e| LlmError::Local(format!("{}: scoring failed: {e}", self.path.display())))?;
        let positions = logit_positions(&chunks);
        if positions == 0 || positions > tokens.len() {
            return Err(LlmError::Local(format!(
                "the engine returned logits for {positions} positions, {} were sent",
                tokens.len()
            )));
        }
        let computed_from = tokens.len() - positions;
        let start = computed_from.max(first_row.min(tokens.len() - 1));
        let rows = logit_rows(&chunks, start - computed_from)
            .map_err(|e| LlmError::Local(format!("unexpected logits: {e}")))?;
        Ok(Pass { tokens: tokens.to_vec(), start, rows })
    }
}

/// The logits a forward pass returned: `rows[i]` is the row of position `start + i` of `tokens`
/// (it predicts the token after it).
struct Pass {
    tokens: Vec<u32>,
    start: usize,
    rows: Vec<Vec<f32>>,
}

/// The row of `position` for a sequence beginning with `tokens[..=position]`, from any pass
/// over the same tokens up to there (a causal model's row depends on nothing after it).
fn row_at<'a>(passes: &'a [Pass], tokens: &[u32], position: usize) -> Option<&'a [f32]> {
    passes.iter().find_map(|pass| {
        let row = pass.rows.get(position.checked_sub(pass.start)?)?;
        (pass.tokens.get(..=position)? == tokens.get(..=position)?).then_some(row.as_slice())
    })
}

fn missing_row(position: usize) -> LlmError {
    LlmError::Local(format!("the engine returned no logits for position {position}"))
}

/// One continuation to score: the tokens to send and where the continuation starts.
struct ScoreRequest<'a> {
    tokens: Vec<u32>,
    context_len: usize,
    continuation: &'a [u32],
}

/// The continuation's log-likelihood from the rows that predict its tokens, one per token.
fn score_rows(rows: &[&[f32]], continuation: &[u32], normalizers: &mut Normalizers) -> Result<LogLikelihood, LlmError> {
    if rows.len() != continuation.len() {
        return Err(LlmError::Local("the pass is shorter than the continuation".into()));
    }
    let mut logprob = 0.0;
    let mut greedy = true;
    for (row, &token) in rows.iter().zip(continuation) {
        let value = *row
            .get(token as usize)
            .ok_or_else(|| LlmError::Local(format!("token {token} is outside the vocabulary")))?;
        let (max, log_sum) = normalizers.of(row)?;
        logprob += f64::from(value) - max - log_sum;
        greedy &= f64::from(value) >= max;
    }
    Ok(LogLikelihood { logprob, greedy, tokens: continuation.len() })
}

/// Each row's softmax normaliser, computed once: the choices of a question often read the same
/// row (MMLU's " A".." D" all read the context's last one). Rows are told apart by address,
/// which holds while the passes they are borrowed from are alive (one `loglikelihoods` call).
#[derive(Default)]
struct Normalizers(Vec<(usize, (f64, f64))>);

impl Normalizers {
    fn of(&mut self, row: &[f32]) -> Result<(f64, f64), LlmError> {
        let address = row.as_ptr() as usize;
        if let Some((_, normalizer)) = self.0.iter().find(|(at, _)| *at == address) {
            return Ok(*normalizer);
        }
        let normalizer =
            softmax_normalizer(row).map_err(|e| LlmError::Local(format!("cannot normalise the logits: {e}")))?;
        self.0.push((address, normalizer));
        Ok(normalizer)
    }
}

impl LocalScorer {
    /// The log-likelihood of a whole text, as lm-eval's `loglikelihood_rolling`: disjoint windows
    /// of the model's context length, the first conditioned on the BOS token where the tokenizer
    /// adds one (else the first token is context only, and not counted), each later window on
    /// the token before it.
    pub async fn rolling_loglikelihood(&self, text: &str) -> Result<LogLikelihood, LlmError> {
        let plain = self.tokenize(text).await?;
        let special = self
            .model
            .tokenize(Either::Right(text.to_string()), None, true, false, None)
            .await
            .map_err(|e| LlmError::Local(format!("{}: cannot tokenize: {e}", self.path.display())))?;
        let bos = (special.len() == plain.len() + 1 && special[1..] == plain[..]).then(|| special[0]);
        let (mut context, scored) = match (bos, plain.split_first()) {
            (Some(bos), _) => (vec![bos], &plain[..]),
            (None, Some((first, rest))) => (vec![*first], rest),
            (None, None) => (Vec::new(), &plain[..]),
        };
        let window = self.max_len.unwrap_or(ROLLING_WINDOW).clamp(1, ROLLING_WINDOW);
        let mut total = LogLikelihood { logprob: 0.0, greedy: true, tokens: 0 };
        for block in scored.chunks(window) {
            let ll = self.loglikelihood(&context, block).await?;
            total.logprob += ll.logprob;
            total.greedy &= ll.greedy;
            total.tokens += ll.tokens;
            context = vec![*block.last().expect("chunks are not empty")];
        }
        Ok(total)
    }

    /// Text after `prompt` (raw text, no chat template, tokenized without special tokens as for
    /// scoring), greedy or sampled, cut at the first of `until`.
    pub async fn generate(
        &self,
        prompt: &str,
        until: &[String],
        max_tokens: usize,
        sampling: Option<super::Sampling>,
    ) -> Result<String, LlmError> {
        let mut tokens = self.tokenize(prompt).await?;
        // Room for the answer within the model's context: the prompt keeps its last tokens.
        if let Some(max) = self.max_len {
            let keep = max.saturating_sub(max_tokens).max(1);
            tokens.drain(..tokens.len().saturating_sub(keep));
        }
        let mut params = match sampling {
            None => super::local::greedy_sampling(),
            Some(s) => {
                SamplingParams { temperature: Some(s.temperature), top_p: Some(s.top_p), ..SamplingParams::neutral() }
            }
        };
        params.max_len = Some(max_tokens);
        if !until.is_empty() {
            params.stop_toks = Some(mistralrs::StopTokens::Seqs(until.to_vec()));
        }
        let text = self.complete(tokens, params, "generation").await?;
        Ok(super::completions_scoring::cut_at_stop(&text, until))
    }

    /// The engine's completion of `tokens` (raw, no chat template) under `params`, in turn with
    /// the scoring passes; `what` names the work in errors ("generation failed: …").
    async fn complete(&self, tokens: Vec<u32>, params: SamplingParams, what: &str) -> Result<String, LlmError> {
        let (tx, mut rx) = tokio::sync::mpsc::channel(1);
        let request = mistralrs::Request::Normal(Box::new(mistralrs::NormalRequest::new_simple(
            RequestMessage::CompletionTokens(tokens),
            params,
            tx,
            0,
            None,
            None,
        )));
        let fail = |e: String| LlmError::Local(format!("{}: {what} failed: {e}", self.path.display()));
        let _turn = self.turn.lock().await;
        let sender = self.model.inner().get_sender(None).map_err(|e| fail(e.to_string()))?;
        sender.send(request).await.map_err(|e| fail(e.to_string()))?;
        let text = match rx.recv().await.ok_or_else(|| fail("the engine closed the channel".into()))? {
            mistralrs::Response::CompletionDone(r) => r.choices.into_iter().next().map(|c| c.text),
            mistralrs::Response::Done(r) => r.choices.into_iter().next().and_then(|c| c.message.content),
            mistralrs::Response::CompletionModelError(e, _) | mistralrs::Response::ModelError(e, _) => {
                return Err(fail(e));
            }
            mistralrs::Response::InternalError(e) | mistralrs::Response::ValidationError(e) => {
                return Err(fail(e.to_string()));
            }
            _ => return Err(fail("an unexpected reply".into())),
        };
        Ok(text.unwrap_or_default())
    }
}

/// How many positions the chunks hold logits for.
fn logit_positions(chunks: &[mistralrs::Tensor]) -> usize {
    chunks
        .iter()
        .map(|chunk| match chunk.rank() {
            1 => 1,
            rank => chunk.dims()[..rank - 1].iter().product(),
        })
        .sum()
}

/// The logits as one row of f32 per position, whatever shape the chunks come in, without the
/// first `skip` positions (a long prompt's rows are large: 49,152 floats each for the demo model).
fn logit_rows(chunks: &[mistralrs::Tensor], mut skip: usize) -> mistralrs::Result<Vec<Vec<f32>>> {
    let mut rows = Vec::new();
    for chunk in chunks {
        let chunk = match chunk.rank() {
            1 => chunk.unsqueeze(0)?,
            2 => chunk.clone(),
            _ => chunk.flatten_to(chunk.rank() - 2)?,
        };
        let positions = chunk.dim(0)?;
        if skip >= positions {
            skip -= positions;
            continue;
        }
        let kept = chunk.narrow(0, skip, positions - skip)?.to_dtype(mistralrs::DType::F32)?;
        skip = 0;
        rows.extend(kept.to_vec2::<f32>()?);
    }
    Ok(rows)
}

/// A row's maximum and `ln Σ exp(x − max)`, in f64: `log softmax(row)[i]` is `row[i] − max −
/// log_sum`. Computed by the tensor library (built optimised even where this crate is not: a
/// plain loop over a 49,152-token vocabulary in a debug build took as long as the engine's pass).
fn softmax_normalizer(row: &[f32]) -> mistralrs::Result<(f64, f64)> {
    let logits =
        mistralrs::Tensor::from_slice(row, row.len(), &mistralrs::Device::Cpu)?.to_dtype(mistralrs::DType::F64)?;
    let max = logits.max(0)?.to_scalar::<f64>()?;
    let sum = logits.affine(1.0, -max)?.exp()?.sum_all()?.to_scalar::<f64>()?;
    Ok((max, sum.ln()))
}

/// A prompt given as token ids, generating nothing: the engine returns the logits of every position.
struct TokenPrompt {
    tokens: Option<Vec<u32>>,
}

impl RequestLike for TokenPrompt {
    fn messages_ref(&self) -> &[IndexMap<String, MessageContent>] {
        &[]
    }
    fn images_ref(&self) -> &[DynamicImage] {
        &[]
    }
    fn take_messages(&mut self) -> RequestMessage {
        RequestMessage::CompletionTokens(self.tokens.take().unwrap_or_default())
    }
    fn take_logits_processors(&mut self) -> Option<Vec<Arc<dyn CustomLogitsProcessor>>> {
        None
    }
    fn take_adapters(&mut self) -> Option<Vec<String>> {
        None
    }
    fn return_logprobs(&self) -> bool {
        false
    }
    fn enable_search(&self) -> Option<bool> {
        None
    }
    fn take_constraint(&mut self) -> Constraint {
        Constraint::None
    }
    fn take_tools(&mut self) -> Option<(Vec<Tool>, ToolChoice)> {
        None
    }
    fn take_sampling_params(&mut self) -> SamplingParams {
        let mut params = super::local::greedy_sampling();
        params.max_len = Some(0);
        params
    }
    fn take_web_search_options(&mut self) -> Option<WebSearchOptions> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::{Normalizers, score_rows};

    #[test]
    fn log_softmax_matches_the_definition() {
        let row = [1.0f32, 2.0, 3.0];
        let z: f64 = row.iter().map(|&x| f64::from(x).exp()).sum();
        let mut normalizers = Normalizers::default();
        let scored = score_rows(&[&row], &[1], &mut normalizers).unwrap();
        assert!((scored.logprob - (2.0f64.exp() / z).ln()).abs() < 1e-12);
        assert!(!scored.greedy);
        assert!(score_rows(&[&row], &[2], &mut normalizers).unwrap().greedy);
        assert!(score_rows(&[&row], &[3], &mut normalizers).is_err());
        // Two tokens, each from its row: the sum of their log-probabilities.
        let both = score_rows(&[&row, &row], &[1, 2], &mut normalizers).unwrap();
        assert!((both.logprob - ((2.0f64.exp() / z).ln() + (3.0f64.exp() / z).ln())).abs() < 1e-12);
    }
}
