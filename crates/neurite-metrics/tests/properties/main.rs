//! Property tests and published worked examples for neurite-metrics.
//!
//! Every metric is compared with a plainly written reference in
//! `reference.rs` on random inputs, streaming accumulators are checked
//! against whole-set values over random batch splits, and boundary cases
//! are pinned to their documented values.

mod boundary;
mod classification;
mod published;
mod ranking;
mod reference;
mod regression;
mod streaming;
#[cfg(feature = "plot")]
mod svg;
mod util;
