//! Routing end to end: which streams go through the processed sink, moves at runtime, Layer A
//! on real streams, churn. Each scenario runs against a real `headroomd` and against
//! headroomd's engine run in this process with a real bus (`support::backend`).

mod churn;
mod layer_a;
mod moves;
mod runtime_move;
mod two_apps;
