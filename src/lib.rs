//! jury: evaluate large language models. Arena runs judged by a model, ratings with honest
//! uncertainty, rule-based benchmarks and serving performance tests.

pub mod arena;
pub mod cli;
pub mod config;
pub mod data;
pub mod input;
pub mod jobs;
pub mod llm;
pub mod rating;
pub mod store;
pub mod web;
