//! Training, evaluation and prediction.

pub(crate) mod batches;
mod evaluate;
mod fit;
mod options;

pub use options::FitOptions;
