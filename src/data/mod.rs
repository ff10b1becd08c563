//! The files users bring and jury writes: questions, answers, references and reviews,
//! in llmuses/FastChat shapes.

pub mod answers;
pub mod battles;
pub mod ids;
pub mod jsonl;
pub mod questions;
pub mod reviews;
pub mod verdicts;

pub use answers::{AnswerRecord, LoadedAnswer, References, parse_answers, read_answers, read_references};
pub use ids::QuestionId;
pub use questions::{Question, parse_questions, read_questions};
pub use reviews::{PairReview, ReviewRecord, SingleReview, SwapReview, Win, read_reviews};
