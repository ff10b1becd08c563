//! Bringing verdicts made elsewhere into a database: human judgments (MT-Bench's, a team's own
//! votes) and judge verdicts from files, each bound to the stored question and answers it is
//! about. Nothing is guessed: a record that names a question, model or answer the database does
//! not hold is counted and listed, never matched loosely.

pub mod battles;

pub use battles::{ImportOptions, ImportSummary, Source, Unmatched, import_battles};
