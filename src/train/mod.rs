//! Training, evaluation and prediction.

pub(crate) mod arrays;
pub(crate) mod batches;
mod evaluate;
mod fit;
pub(crate) mod masked;
mod options;
mod stream;
pub(crate) mod tracker;

pub use arrays::Arrays;
pub use options::FitOptions;
pub use stream::{DataStream, IntoStreamBatch, StreamBatch};
