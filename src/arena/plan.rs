//! Which comparisons a review stage makes: every pair of models, every model against the
//! baseline, or every answer on its own, on the questions the models share.

use std::collections::HashMap;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::config::{PositionBias, ReviewMode};
use crate::data::QuestionId;

/// A question as the judge sees it.
#[derive(Debug, Clone)]
pub struct QuestionInfo {
    pub id: QuestionId,
    pub db_id: i64,
    pub text: String,
    pub category: String,
    pub language: String,
    pub reference: Option<String>,
}

/// One model's answer to one question, stored in the database.
#[derive(Debug, Clone)]
pub struct AnswerInfo {
    pub model: String,
    pub model_db_id: i64,
    pub db_id: i64,
    pub text: String,
}

/// In which order(s) a pair is shown to the judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// `a` first.
    AsIs,
    /// `b` first (randomize_order's coin came up heads).
    Flipped,
    /// Both orders (swap_position).
    Both,
}

#[derive(Debug, Clone)]
pub enum Task {
    Pair { question: Arc<QuestionInfo>, a: Arc<AnswerInfo>, b: Arc<AnswerInfo>, order: Order },
    Single { question: Arc<QuestionInfo>, answer: Arc<AnswerInfo> },
}

/// Answers grouped by model, with the order in which models and questions first appeared.
#[derive(Debug, Default)]
pub struct AnswerBook {
    pub models: Vec<String>,
    pub questions: Vec<QuestionId>,
    pub answers: HashMap<(String, QuestionId), Arc<AnswerInfo>>,
    pub question_info: HashMap<QuestionId, Arc<QuestionInfo>>,
}

impl AnswerBook {
    pub fn add_model(&mut self, model: &str) {
        if !self.models.iter().any(|m| m == model) {
            self.models.push(model.to_string());
        }
    }

    pub fn add(&mut self, question: Arc<QuestionInfo>, answer: Arc<AnswerInfo>) {
        self.add_model(&answer.model);
        if !self.question_info.contains_key(&question.id) {
            self.questions.push(question.id.clone());
            self.question_info.insert(question.id.clone(), question.clone());
        }
        self.answers.insert((answer.model.clone(), question.id.clone()), answer);
    }

    fn answer(&self, model: &str, q: &QuestionId) -> Option<&Arc<AnswerInfo>> {
        self.answers.get(&(model.to_string(), q.clone()))
    }
}

/// Plans the comparisons. Pairs come in model order, questions in file order.
pub fn plan(book: &AnswerBook, mode: ReviewMode, bias: PositionBias, seed: u64, baseline: Option<&str>) -> Vec<Task> {
    let mut tasks = Vec::new();
    let questions = || book.questions.iter().filter_map(|q| book.question_info.get(q));
    match mode {
        ReviewMode::Single => {
            for model in &book.models {
                for q in questions() {
                    if let Some(answer) = book.answer(model, &q.id) {
                        tasks.push(Task::Single { question: q.clone(), answer: answer.clone() });
                    }
                }
            }
        }
        ReviewMode::Pairwise | ReviewMode::PairwiseBaseline => {
            let pairs: Vec<(&String, &String)> = match (mode, baseline) {
                (ReviewMode::PairwiseBaseline, Some(base)) => book
                    .models
                    .iter()
                    .filter(|m| m.as_str() != base)
                    .filter_map(|m| book.models.iter().find(|b| b.as_str() == base).map(|b| (m, b)))
                    .collect(),
                _ => {
                    let mut pairs = Vec::new();
                    for (i, a) in book.models.iter().enumerate() {
                        for b in &book.models[i + 1..] {
                            pairs.push((a, b));
                        }
                    }
                    pairs
                }
            };
            for (model_a, model_b) in pairs {
                for q in questions() {
                    let (Some(a), Some(b)) = (book.answer(model_a, &q.id), book.answer(model_b, &q.id)) else {
                        continue;
                    };
                    let order = match bias {
                        PositionBias::None => Order::AsIs,
                        PositionBias::SwapPosition => Order::Both,
                        PositionBias::RandomizeOrder => {
                            if coin(seed, &q.id, model_a, model_b) {
                                Order::Flipped
                            } else {
                                Order::AsIs
                            }
                        }
                    };
                    tasks.push(Task::Pair { question: q.clone(), a: a.clone(), b: b.clone(), order });
                }
            }
        }
    }
    tasks
}

/// A fair coin per (seed, question, pair): the same config flips the same way every run.
pub fn coin(seed: u64, question: &QuestionId, model_a: &str, model_b: &str) -> bool {
    let digest = Sha256::digest(format!("{seed}\u{0}{question}\u{0}{model_a}\u{0}{model_b}").as_bytes());
    digest[0] & 1 == 1
}
