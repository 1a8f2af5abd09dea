//! Exchanging models with other frameworks.

#[cfg(feature = "keras")]
pub mod keras;
#[cfg(feature = "onnx")]
pub mod onnx;
pub mod pytorch;
