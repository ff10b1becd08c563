//! `jury eval`: rule-based benchmarks. Each dataset family has a file of its own under
//! `datasets/` (loading its official layout, its prompt, its gold answer); `metrics` is pure
//! arithmetic on plain data; `runner` asks the model (through the request cache in the
//! database) and `report` writes lm-evaluation-harness-shaped results.

pub mod datasets;
pub mod extract;
pub mod job;
pub mod metrics;
pub mod overlap;
pub mod report;
pub mod runner;
pub mod sampling;
pub mod sandbox;

pub use datasets::{Dataset, McqDoc, TaskData};
pub use report::{EvalReport, GroupResult, TaskResult};
pub use runner::{DatasetPlan, EvalError, EvalOptions, EvalPart, EvalSummary, PlannedTask, plan_tasks, run_eval};
