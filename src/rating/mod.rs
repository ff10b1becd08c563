//! Pure rating math on plain data, no I/O: online Elo, win/loss/tie records, mean scores.

pub mod battles;
pub mod elo;
pub mod records;
pub mod scores;

pub use battles::{Battle, BattleSet, Outcome};
pub use elo::{EloParams, online_elo};
pub use records::{Record, records};
pub use scores::{ScoreRow, ScoredAnswer, mean_scores};
