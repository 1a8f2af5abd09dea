//! Exchanging models with other frameworks.

#[cfg(feature = "keras")]
pub mod keras;
