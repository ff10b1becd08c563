//! Battles as plain data: models interned to indices so that large battle sets stay compact.

use super::names::Names;

/// Who won a battle. `unknown` verdicts never become battles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    ModelA,
    ModelB,
    Tie,
    /// A tie where both answers were bad (Chatbot Arena's "tie (bothbad)").
    TieBothBad,
}

impl Outcome {
    /// A stored or FastChat `winner`: `model_a`, `model_b`, `tie` or `tie (bothbad)`; anything
    /// else (`unknown`) is no outcome.
    pub fn from_winner(winner: &str) -> Option<Outcome> {
        Some(match winner {
            "model_a" => Outcome::ModelA,
            "model_b" => Outcome::ModelB,
            "tie" => Outcome::Tie,
            "tie (bothbad)" => Outcome::TieBothBad,
            _ => return None,
        })
    }

    /// Model A's score: 1 for a win, 0 for a loss, 0.5 for either kind of tie.
    pub fn score_a(self) -> f64 {
        match self {
            Outcome::ModelA => 1.0,
            Outcome::ModelB => 0.0,
            Outcome::Tie | Outcome::TieBothBad => 0.5,
        }
    }

    pub fn is_tie(self) -> bool {
        matches!(self, Outcome::Tie | Outcome::TieBothBad)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Battle {
    pub a: u32,
    pub b: u32,
    pub outcome: Outcome,
    pub weight: f64,
}

/// Battles among named models, in the order they happened.
#[derive(Debug, Clone, Default)]
pub struct BattleSet {
    models: Names,
    battles: Vec<Battle>,
}

impl BattleSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// The index of `name`, adding it if new.
    pub fn model(&mut self, name: &str) -> u32 {
        self.models.id(name)
    }

    pub fn push(&mut self, model_a: &str, model_b: &str, outcome: Outcome, weight: f64) {
        let a = self.model(model_a);
        let b = self.model(model_b);
        self.battles.push(Battle { a, b, outcome, weight });
    }

    /// Adds a battle between models already added with [`BattleSet::model`].
    pub fn push_indexed(&mut self, a: u32, b: u32, outcome: Outcome, weight: f64) {
        self.battles.push(Battle { a, b, outcome, weight });
    }

    pub fn models(&self) -> &[String] {
        self.models.as_slice()
    }

    pub fn index_of(&self, name: &str) -> Option<u32> {
        self.models.get(name)
    }

    pub fn battles(&self) -> &[Battle] {
        &self.battles
    }

    pub fn len(&self) -> usize {
        self.battles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.battles.is_empty()
    }
}
