//! The recurrent layers `SimpleRNN`, `LSTM` and `GRU`.
//!
//! Dependencies point one way: the cells (`simple_rnn.rs`, `lstm.rs`,
//! `gru.rs`) use the shared parts (`config.rs`, `base.rs`, `activation.rs`,
//! `layout.rs`, `layer_macro.rs`) and the chunked driver (`driver.rs`, whose
//! [`driver::ChunkedCell`] trait they implement); none of those names a
//! cell. A layer hands its fused op to [`base::RnnBase::forward`]. The
//! per-step product `h·U` is [`neurite_tensor::small_gemm`].
//!
//! Every recurrent layer runs as **one graph node**: the input projection of
//! all timesteps is one GEMM `[T*B, F] x [F, G]`, each step adds one GEMM
//! `[B, U] x [U, G]` for the recurrence, and the hand-written backward
//! through time collects the per-step gate gradients `dZ` so that the weight
//! gradients are again two big GEMMs (`X^T dZ`, `H_prev^T dZ`) after the loop.
//! Inside the kernels everything is time-major (`row = t * batch + b`), so a
//! timestep is a contiguous `[B, G]` block.

mod activation;
pub(crate) mod base;
pub(crate) mod config;
pub(crate) mod driver;
mod gru;
mod layer_macro;
mod layout;
mod lstm;
mod simple_rnn;
pub(crate) mod step_loop;
pub(crate) mod step_mask;

pub use config::{RecurrentConfig, RecurrentOptions};
pub use gru::{fused_gru, GRU};
pub use lstm::{fused_lstm, LSTM};
pub use simple_rnn::{fused_simple_rnn, SimpleRNN};
