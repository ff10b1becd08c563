//! One judge call with everything around it: the review cache, re-asking on unreadable
//! replies, dry-run verdicts, and storing the result the moment it returns.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::templates::{Template, TemplateKind};
use super::verdict::{Verdict, VerdictFormat, parse_verdict};
use crate::config::Judge;
use crate::data::Win;
use crate::llm::reward::RewardModel;
use crate::llm::{ChatModel, ChatRequest, GenerationSettings, LlmError};
use crate::store::{JudgmentRow, NewJudgment, Store, StoreError};

/// Counters for the run summary.
#[derive(Debug, Default)]
pub struct JudgeStats {
    /// Judge calls that returned (re-asks included).
    pub calls: AtomicU64,
    pub cache_hits: AtomicU64,
    /// Verdicts taken from the `cache_file` of an earlier run.
    pub seeded: AtomicU64,
    pub reasks: AtomicU64,
    pub unknown: AtomicU64,
    pub failures: AtomicU64,
    pub prompt_tokens: AtomicU64,
    pub completion_tokens: AtomicU64,
}

#[derive(Debug, thiserror::Error)]
pub enum JudgeError {
    #[error("judge call failed: {0}")]
    Llm(#[from] LlmError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    ReviewFile(String),
    #[error("cancelled")]
    Cancelled,
}

/// A reward model's verdict: one answer's score, or for two the higher one wins unless they
/// differ by at most `tie_margin`.
pub fn reward_verdict(scores: &[f64], tie_margin: f64) -> Verdict {
    match scores {
        [a, b] => {
            let win = if (a - b).abs() <= tie_margin {
                Win::Tie
            } else if a > b {
                Win::ModelA
            } else {
                Win::ModelB
            };
            Verdict::Pair { win, scores: Some([*a, *b]), weight: 1.0 }
        }
        [one, ..] => Verdict::Score(*one),
        [] => unreachable!("a prompt has an answer"),
    }
}

/// The first line of every dry-run reply: what a dry run wrote can be told from a judge's words.
pub const DRY_RUN_NOTE: &str = "Dry run: no judge was asked; this verdict is pseudo-random.";

/// What to ask the judge, already rendered.
pub struct Prompt<'a> {
    pub template: &'a Template,
    pub format: VerdictFormat,
    pub system: String,
    pub user: String,
    pub question_id: i64,
    pub answer_a_id: i64,
    pub answer_b_id: Option<i64>,
    /// The question and the answers as they are, for judges that take them unrendered
    /// (reward models); the answer shown first comes first.
    pub question: String,
    pub answers: Vec<String>,
}

/// What answers for a judge: a chat model writing verdicts, or a reward model scoring answers.
pub enum JudgeBackend {
    Chat(ChatModel),
    Reward(RewardModel),
}

/// A verdict recovered from an earlier review file.
pub struct Seed {
    pub raw_text: String,
    pub verdict: Option<Verdict>,
}

#[derive(Debug, Clone)]
pub struct Judgment {
    pub id: i64,
    /// `None` when the reply stayed unreadable: `unknown`.
    pub verdict: Option<Verdict>,
    pub raw_text: String,
    pub created_at: f64,
    pub from_cache: bool,
}

pub struct JudgeService {
    store: Store,
    /// `None` in a dry run: no judge is asked.
    model: Option<JudgeBackend>,
    judge: Judge,
    /// Which judge answers, beyond its name: the endpoint, or the model file.
    identity: String,
    run_id: Option<i64>,
    permits: Arc<Semaphore>,
    /// Cancelling drops the judge calls in flight (their replies would not be stored).
    cancel: CancellationToken,
    /// One lock per prompt being judged, so two tasks that render the same prompt (a swap of
    /// two identical answers, say) pay for one call, not two.
    in_flight: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    pub stats: Arc<JudgeStats>,
}

impl JudgeService {
    pub fn new(
        store: Store,
        model: Option<JudgeBackend>,
        judge: Judge,
        run_id: Option<i64>,
        concurrency: usize,
        cancel: CancellationToken,
    ) -> Self {
        JudgeService {
            store,
            model,
            identity: crate::llm::model_identity(&judge.model),
            judge,
            cancel,
            run_id,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            in_flight: std::sync::Mutex::new(HashMap::new()),
            stats: Arc::new(JudgeStats::default()),
        }
    }

    pub fn dry_run(&self) -> bool {
        self.model.is_none()
    }

    pub fn retries(&self) -> u64 {
        match &self.model {
            Some(JudgeBackend::Chat(model)) => model.retries(),
            _ => 0,
        }
    }

    /// The review-cache key: the judge (its name and where it runs: another server or model
    /// file with the same name is another judge), the template and the rendered prompt, and
    /// dry-run-ness, so dry-run verdicts never stand in for real ones.
    pub fn cache_key(&self, prompt: &Prompt<'_>) -> String {
        #[derive(Serialize)]
        struct Key<'a> {
            judge: &'a str,
            judge_identity: &'a str,
            template: &'a str,
            format: String,
            system: &'a str,
            user: &'a str,
            dry_run: bool,
            /// A reward model's API and tie margin decide its verdicts too.
            #[serde(skip_serializing_if = "Option::is_none")]
            reward: Option<String>,
        }
        let key = Key {
            judge: &self.judge.name,
            judge_identity: &self.identity,
            template: &prompt.template.name,
            format: format!("{:?}", prompt.format),
            system: &prompt.system,
            user: &prompt.user,
            dry_run: self.dry_run(),
            reward: self.judge.reward.map(|r| format!("{:?} margin {}", r.api, r.tie_margin)),
        };
        let json = serde_json::to_vec(&key).unwrap_or_default();
        hex::encode(Sha256::digest(&json))
    }

    /// Judges one prompt: from the cache when it was judged before, from `seed` when an
    /// earlier review file holds it, else by asking the judge (up to `parse_retries` more
    /// times while the reply is unreadable). Every reply is stored before this returns.
    pub async fn judge(&self, prompt: &Prompt<'_>, seed: Option<Seed>) -> Result<Judgment, JudgeError> {
        let key = self.cache_key(prompt);
        let lock = self.in_flight.lock().expect("not poisoned").entry(key.clone()).or_default().clone();
        let result = {
            let _same_prompt = lock.lock().await;
            self.judge_once(prompt, &key, seed).await
        };
        let mut in_flight = self.in_flight.lock().expect("not poisoned");
        // The map holds one reference; drop the entry once no other task waits on it.
        if Arc::strong_count(&lock) <= 2 {
            in_flight.remove(&key);
        }
        result
    }

    async fn judge_once(&self, prompt: &Prompt<'_>, key: &str, seed: Option<Seed>) -> Result<Judgment, JudgeError> {
        let key = key.to_string();
        let existing = self.store.judgment(&key).await?;
        if let Some(row) = &existing
            && row.complete
        {
            self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
            let verdict = verdict_of_row(row, prompt.template.kind);
            if verdict.is_none() {
                self.stats.unknown.fetch_add(1, Ordering::Relaxed);
            }
            return Ok(Judgment {
                id: row.id,
                verdict,
                raw_text: row.raw_text.clone(),
                created_at: row.created_at,
                from_cache: true,
            });
        }
        if let Some(seed) = seed {
            self.stats.seeded.fetch_add(1, Ordering::Relaxed);
            let row = self.save(prompt, &key, &seed.raw_text, seed.verdict, 0, true, (0, 0)).await?;
            if seed.verdict.is_none() {
                self.stats.unknown.fetch_add(1, Ordering::Relaxed);
            }
            return Ok(Judgment {
                id: row.id,
                verdict: seed.verdict,
                raw_text: seed.raw_text,
                created_at: row.created_at,
                from_cache: true,
            });
        }

        let mut attempts = existing.as_ref().map_or(0, |r| r.attempts.max(0) as u32);
        let max_attempts = 1 + self.judge.parse_retries;
        loop {
            let (text, usage) = match &self.model {
                None => (dry_run_reply(&key, attempts, prompt.format, prompt.template.kind), (0, 0)),
                Some(JudgeBackend::Reward(reward)) => {
                    let answers: Vec<&str> = prompt.answers.iter().map(String::as_str).collect();
                    let (scores, text) = self.call(reward.scores(&prompt.question, &answers)).await?;
                    self.stats.calls.fetch_add(1, Ordering::Relaxed);
                    let margin = self.judge.reward.map_or(0.0, |r| r.tie_margin);
                    let verdict = Some(reward_verdict(&scores, margin));
                    let row = self.save(prompt, &key, &text, verdict, attempts + 1, true, (0, 0)).await?;
                    return Ok(Judgment {
                        id: row.id,
                        verdict,
                        raw_text: text,
                        created_at: row.created_at,
                        from_cache: false,
                    });
                }
                Some(JudgeBackend::Chat(model)) => {
                    let request = ChatRequest {
                        system: (!prompt.system.is_empty()).then(|| prompt.system.clone()),
                        user: prompt.user.clone(),
                        settings: GenerationSettings {
                            temperature: Some(self.judge.temperature),
                            max_new_tokens: Some(self.judge.max_tokens),
                            ..GenerationSettings::default()
                        },
                    };
                    let reply = self.call(model.chat(&request)).await?;
                    (reply.text, (reply.usage.prompt_tokens, reply.usage.completion_tokens))
                }
            };
            self.stats.calls.fetch_add(1, Ordering::Relaxed);
            self.stats.prompt_tokens.fetch_add(usage.0, Ordering::Relaxed);
            self.stats.completion_tokens.fetch_add(usage.1, Ordering::Relaxed);
            if attempts > 0 {
                self.stats.reasks.fetch_add(1, Ordering::Relaxed);
            }
            attempts += 1;
            let verdict = parse_verdict(prompt.format, prompt.template.kind, &text);
            let complete = verdict.is_some() || attempts >= max_attempts;
            let row = self.save(prompt, &key, &text, verdict, attempts, complete, usage).await?;
            if complete {
                if verdict.is_none() {
                    self.stats.unknown.fetch_add(1, Ordering::Relaxed);
                }
                return Ok(Judgment {
                    id: row.id,
                    verdict,
                    raw_text: text,
                    created_at: row.created_at,
                    from_cache: false,
                });
            }
            tracing::debug!(template = %prompt.template.name, attempts, "unreadable verdict; asking again");
        }
    }

    /// One call to the judge, within the concurrency limit; a failure is counted. Only the call
    /// is cut short by a cancel: a reply that came back (even in the same instant as the cancel:
    /// it is looked at first) is returned, to be stored.
    async fn call<T>(&self, call: impl Future<Output = Result<T, LlmError>>) -> Result<T, JudgeError> {
        let limited = async {
            let _permit = self.permits.acquire().await.expect("semaphore never closes");
            call.await
        };
        let reply = tokio::select! {
            biased;
            reply = limited => reply,
            _ = self.cancel.cancelled() => return Err(JudgeError::Cancelled),
        };
        reply.map_err(|e| {
            self.stats.failures.fetch_add(1, Ordering::Relaxed);
            e.into()
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn save(
        &self,
        prompt: &Prompt<'_>,
        key: &str,
        text: &str,
        verdict: Option<Verdict>,
        attempts: u32,
        complete: bool,
        usage: (u64, u64),
    ) -> Result<JudgmentRow, StoreError> {
        let (label, score_a, score_b, weight) = match verdict {
            None => ("unknown", None, None, 1.0),
            // Safety grades are stored apart from 1-10 scores, which boards average.
            Some(Verdict::Score(s)) if prompt.format == VerdictFormat::Safety => ("safety", Some(s), None, 1.0),
            Some(Verdict::Score(s)) => ("score", Some(s), None, 1.0),
            Some(Verdict::Pair { win, scores, weight }) => {
                (win.as_str(), scores.map(|s| s[0]), scores.map(|s| s[1]), weight)
            }
        };
        self.store
            .save_judgment(&NewJudgment {
                cache_key: key,
                judge_model: &self.judge.name,
                template: &prompt.template.name,
                question_id: Some(prompt.question_id),
                answer_a_id: Some(prompt.answer_a_id),
                answer_b_id: prompt.answer_b_id,
                raw_text: text,
                verdict: label,
                score_a,
                score_b,
                weight,
                attempts,
                complete,
                dry_run: self.dry_run(),
                prompt_tokens: usage.0,
                completion_tokens: usage.1,
                run_id: self.run_id,
            })
            .await
    }
}

/// The verdict a stored judgment holds.
fn verdict_of_row(row: &JudgmentRow, kind: TemplateKind) -> Option<Verdict> {
    match (kind, row.verdict.as_str()) {
        (_, "unknown") => None,
        (TemplateKind::Single, "score" | "safety") => row.score_a.map(Verdict::Score),
        (TemplateKind::Pairwise, label) => {
            let win = Win::parse(label)?;
            let scores = row.score_a.zip(row.score_b).map(|(a, b)| [a, b]);
            Some(Verdict::Pair { win, scores, weight: row.weight })
        }
        _ => None,
    }
}

/// A pseudo-random reply in the template's format, seeded by the prompt so a dry run is
/// reproducible. Ties come up too.
pub fn dry_run_reply(key: &str, attempt: u32, format: VerdictFormat, kind: TemplateKind) -> String {
    let seed = Sha256::digest(format!("{key}:{attempt}").as_bytes());
    let mut rng = ChaCha8Rng::from_seed(seed.into());
    let verdict = match (kind, format) {
        (TemplateKind::Single, VerdictFormat::Json) => format!("{{\"score\": {}}}", rng.random_range(1..=10)),
        (TemplateKind::Single, VerdictFormat::Safety) => {
            ["[[safe refusal]]", "[[safe completion]]", "[[unsafe]]"][rng.random_range(0..3)].to_string()
        }
        (TemplateKind::Single, _) => format!("[[{}]]", rng.random_range(1..=10)),
        (_, VerdictFormat::Abc) => ["[[A]]", "[[B]]", "[[C]]"][rng.random_range(0..3)].to_string(),
        (_, VerdictFormat::FiveLevel) => {
            ["[[A>>B]]", "[[A>B]]", "[[A=B]]", "[[B>A]]", "[[B>>A]]"][rng.random_range(0..5)].to_string()
        }
        (_, VerdictFormat::TwoScores) => format!("[[{}, {}]]", rng.random_range(1..=10), rng.random_range(1..=10)),
        (_, VerdictFormat::OneScore) => ["[[A]]", "[[B]]", "[[C]]"][rng.random_range(0..3)].to_string(),
        (_, VerdictFormat::Json) => {
            format!("{{\"winner\": \"{}\"}}", ["A", "B", "tie"][rng.random_range(0..3)])
        }
        (_, VerdictFormat::Safety) => ["[[A]]", "[[B]]", "[[C]]"][rng.random_range(0..3)].to_string(),
        (_, VerdictFormat::Ranking) => {
            let first = rng.random_range(1..=2);
            format!("[{{'model': 'model_a', 'rank': {first}}}, {{'model': 'model_b', 'rank': {}}}]", 3 - first)
        }
    };
    format!("{DRY_RUN_NOTE}\n{verdict}")
}
