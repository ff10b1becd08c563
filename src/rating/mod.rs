//! Pure rating math on plain data, no I/O: online Elo, Bradley–Terry with bootstrap
//! intervals, win rates and matrices, baseline and length-controlled win rates, mean scores,
//! and how far judges can be trusted (position consistency, length preference, agreement).

pub mod agreement;
pub mod battles;
pub mod bootstrap;
pub mod bt;
pub mod elo;
pub mod judges;
pub mod leaderboard;
pub mod length;
pub mod names;
pub mod percentile;
pub mod proportion;
pub mod records;
pub mod rows;
pub mod safety;
pub mod scores;
pub mod style;

pub use battles::{Battle, BattleSet, Outcome};
pub use elo::{EloParams, online_elo};
pub use leaderboard::{Leaderboard, Method, ModelRating, RatingOptions, bradley_terry, elo};
pub use records::{Record, records};
pub use rows::{RowBuilder, Rows};
pub use scores::{ScoreRow, ScoredAnswer, mean_scores};
