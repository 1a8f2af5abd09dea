//! Training, evaluation and prediction from streams of batches ([`DataStream`]) instead of
//! arrays: data larger than memory, loaders with augmentation, user generators.

mod cursor;
mod evaluate;
mod fit;
mod options;
mod source;

pub use source::{DataStream, IntoStreamBatch, StreamBatch};
