//! jury: evaluate large language models. Arena runs judged by a model, ratings with honest
//! uncertainty, rule-based benchmarks, and a web server for leaderboards, battles and human voting.

pub mod arena;
pub mod cli;
pub mod config;
pub mod data;
pub mod eval;
pub mod import;
pub mod input;
pub mod jobs;
pub mod llm;
pub mod perf;
pub mod rating;
pub mod spec;
pub mod store;
pub mod web;
